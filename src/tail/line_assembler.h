// LineAssembler: the lines of one log file → whole log entries.
//
// Three steps, in order, each per output stream (stdout and stderr of a
// container interleave in one file):
//   1. decode: plain text, CRI or Docker json-file (container_format.h); with
//      kAuto the file's first line decides;
//   2. partial lines: CRI "P" pieces and Docker pieces without "\n" are joined
//      until the piece that ends the line;
//   3. multi-line: with a `start` pattern, a line that does not match it
//      continues the entry before it (stack traces), up to max_lines/max_bytes.
// An entry waiting for more (a partial line, or a multi-line entry that a next
// start line has not closed yet) is given out by Flush once it has waited
// flush_after, so the last stack trace of a quiet file is not held forever.
//
// What is held is part of the assembler's state, which SaveState/RestoreState
// carry across restarts: a checkpoint is (read offset, state), so resuming
// gives exactly the entries not yet given out, neither fewer nor more.
#pragma once

#include <re2/re2.h>
#include <simdjson.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_writer.h"
#include "common/status.h"

namespace lode {

enum class FileFormat : uint8_t { kAuto, kPlain, kCri, kDocker };

std::string_view FileFormatName(FileFormat f);
// "auto", "plain", "cri", "docker"; InvalidArgument otherwise.
Result<FileFormat> ParseFileFormat(std::string_view name);

struct AssemblerOptions {
  FileFormat format = FileFormat::kAuto;
  const RE2* multiline_start = nullptr;  // null: every line is an entry
  int max_lines = 500;                   // a longer multi-line entry is cut here
  size_t max_bytes = 256 << 10;          // and an entry (joined pieces too) at this size
  int64_t flush_after_ns = 1'000'000'000;
};

// One log entry.
struct AssembledEntry {
  int64_t timestamp_ns = 0;  // 0: the format has none (plain text)
  std::string stream;        // "stdout", "stderr"; empty for plain text
  std::string text;
  std::string parse_error;  // set when a line did not decode and is kept as plain text
};

class LineAssembler {
 public:
  explicit LineAssembler(const AssemblerOptions& options);

  // Takes one line (without its "\n"); entries it completes are appended to
  // *out. REQUIRES: simdjson::SIMDJSON_PADDING readable bytes after the line.
  void Feed(std::string_view line, int64_t now_ns, std::vector<AssembledEntry>* out);
  // Gives out held entries that have waited flush_after (all of them when
  // `all`, e.g. at the end of a rotated-away file).
  void Flush(int64_t now_ns, bool all, std::vector<AssembledEntry>* out);
  bool HasPending() const;

  FileFormat format() const { return format_; }

  // The held entries and the decided format, as a JSON object.
  void SaveState(JsonWriter* w) const;
  Status RestoreState(simdjson::dom::element state, int64_t now_ns);

 private:
  struct Stream {
    std::string name;
    // Step 2: pieces of a line so far.
    bool in_partial = false;
    int64_t partial_ts = 0;
    std::string partial;
    bool partial_cut = false;  // pieces of this line were already given out (max_bytes)
    // Step 3: the multi-line entry so far.
    bool in_entry = false;
    int64_t entry_ts = 0;
    int entry_lines = 0;
    std::string entry;
    int64_t last_ns = 0;  // when the stream last took a line (for flush_after)
  };

  Stream& StreamFor(std::string_view name);
  // Step 3 for one whole line.
  void TakeLine(Stream& s, int64_t ts, std::string_view text, std::string_view error,
                std::vector<AssembledEntry>* out);
  void Emit(Stream& s, std::vector<AssembledEntry>* out);

  AssemblerOptions options_;
  FileFormat format_;
  std::vector<Stream> streams_;  // one per stream name seen (at most 3)
  simdjson::dom::parser parser_;
  std::string scratch_;
};

}  // namespace lode
