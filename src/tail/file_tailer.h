// FileTailer: follows log files named by globs and turns what is appended to
// them into Records, the way a node's log shipper does (issue 6).
//
// - Files are found by glob on every scan and followed by identity (device,
//   inode), not by name: a file renamed away by rotation is read to its end
//   (until it has not grown for rotate_grace) while the new file under the old
//   name is read from its start. A file that shrinks under its read offset
//   was truncated in place (copytruncate) and is read again from 0.
// - Kubernetes paths (/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log and
//   /var/log/containers/...) give namespace, pod, container and service (the
//   pod's owner); the CRI and Docker json-file formats are decoded, partial
//   lines joined, and multi-line entries (stack traces) joined by a start
//   pattern (line_assembler.h).
// - Checkpoint() is the whole read state after the records given out so far:
//   per file its identity, offset, a fingerprint of its first bytes (to tell a
//   reused inode from the same file) and what its assembler holds. A caller
//   saves it once those records are stored; starting again from it gives
//   exactly the records not yet given out: none lost, none repeated. Files
//   rotated while nothing was running are found again by inode in their
//   directory and finished.
//
// Not thread-safe: one thread polls.
#pragma once

#include <re2/re2.h>

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/record.h"
#include "common/status.h"
#include "tail/line_assembler.h"

namespace lode {

// One set of files and how to read them (the `files.inputs` items of the
// config, or `lode agent` flags).
struct FileInput {
  std::vector<std::string> paths;    // globs
  std::vector<std::string> exclude;  // globs matched against the whole path
  FileFormat format = FileFormat::kAuto;
  std::string service;            // fixed; default: the pod's owner, else the file's name
  std::string instance;           // fixed; default: the pod, else this host's name
  std::vector<Attribute> labels;  // added to every record
  std::string multiline_start;    // RE2; empty: no multi-line joining
  int multiline_max_lines = 500;
  int64_t multiline_timeout_ns = 1'000'000'000;
  bool start_at_end =
      false;  // files seen at the first scan without a checkpoint: skip what they hold
};

struct TailerOptions {
  std::vector<FileInput> inputs;
  size_t max_line_bytes = 256 << 10;         // longer lines (and entries) are cut into pieces
  size_t read_chunk_bytes = 1 << 20;         // per file per read
  int64_t rotate_grace_ns = 5'000'000'000;   // a renamed-away file is read until idle this long
  int64_t scan_interval_ns = 1'000'000'000;  // globs are expanded again this often
  Clock* clock = Clock::Real();
};

struct TailerStats {
  uint64_t files = 0;         // files followed now
  uint64_t bytes_read = 0;    // bytes consumed (complete lines)
  uint64_t entries = 0;       // records given out
  uint64_t parse_errors = 0;  // lines kept as plain text because they did not decode
  uint64_t rotations = 0;     // files renamed or deleted away
  uint64_t truncations = 0;   // files truncated in place
};

class FileTailer {
 public:
  // Compiles the inputs' patterns and reads `checkpoint` (empty: none).
  // InvalidArgument naming the input and pattern, or Corruption for a
  // checkpoint that does not parse.
  static Result<std::unique_ptr<FileTailer>> Create(const TailerOptions& options,
                                                    std::string_view checkpoint);
  ~FileTailer();

  // Scans when due, reads what is new and appends records to *out until it
  // holds max_records or max_bytes (about; entries are not split). Records
  // have no tenant. Returns the number appended.
  size_t Poll(std::vector<Record>* out, size_t max_records, size_t max_bytes);

  // The read state after every record given out so far (JSON).
  std::string Checkpoint() const;

  TailerStats stats() const;

 private:
  struct Tracked;
  struct Saved;
  explicit FileTailer(const TailerOptions& options);

  void Scan(int64_t now_ns);
  // Starts following `path` (identity dev/ino) at `offset` with saved state.
  // False when it cannot be opened, or is no longer that file.
  bool Follow(const std::string& path, size_t input, uint64_t dev, uint64_t ino, const Saved* saved,
              bool at_end, int64_t now_ns);
  // Reads from one file; false when the file is finished and can be dropped.
  bool ReadFile(Tracked& t, int64_t now_ns, std::vector<Record>* out, size_t max_records,
                size_t max_bytes, size_t* out_bytes);
  void Emit(Tracked& t, std::vector<AssembledEntry>& entries, int64_t now_ns,
            std::vector<Record>* out, size_t* out_bytes);

  TailerOptions options_;
  std::vector<std::unique_ptr<RE2>> multiline_;  // per input; null entries: none
  std::string hostname_;
  std::vector<std::unique_ptr<Tracked>> files_;
  std::map<std::pair<uint64_t, uint64_t>, std::unique_ptr<Saved>> saved_;  // from the checkpoint
  bool first_scan_done_ = false;
  int64_t last_scan_ns_ = 0;
  size_t next_file_ = 0;  // round-robin start
  TailerStats stats_;
  std::string buf_;                     // read buffer
  std::set<std::string> warned_paths_;  // skipped paths already logged
};

}  // namespace lode
