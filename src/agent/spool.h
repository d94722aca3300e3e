// Spool: `lode agent`'s on-disk queue of batches the server has not yet
// acknowledged. Each batch is one file, <dir>/<seq>.batch, written to a
// temporary name, synced and renamed, so a batch is either wholly there or
// not at all. Its first line is a JSON header with the tailer checkpoint
// *after* the batch; the NDJSON body follows.
//
// The checkpoint travels with the batch so that restarts are exact: the
// agent resumes tailing from the newest spooled batch's checkpoint (the lines
// of every spooled batch are already on disk here), and the positions file
// holds the sequence number and checkpoint of the last acknowledged batch.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace lode {

class Spool {
 public:
  struct Batch {
    uint64_t seq = 0;
    uint64_t records = 0;
    std::string checkpoint;
    std::string body;
    std::string key;  // the request's Idempotency-Key ("" when none was given)
  };

  // Opens (creating) `dir` and lists what it holds; leftover temporary files
  // of an interrupted write are removed.
  static Result<std::unique_ptr<Spool>> Open(const std::string& dir);

  // Writes a batch durably; it gets the next sequence number, and (when
  // key_prefix is not empty) the key key_prefix + seq, kept with it so a
  // resend after a restart repeats the same key.
  Result<uint64_t> Push(std::string_view body, uint64_t records, std::string_view checkpoint,
                        std::string_view key_prefix = {});
  // The oldest batch, or nullopt when the spool is empty. A batch file that
  // does not parse is moved to rejected/ (and logged) on the way.
  Result<std::optional<Batch>> Front();
  // Removes batch `seq` (acknowledged).
  Status Pop(uint64_t seq);
  // Moves batch `seq` to <dir>/rejected/ (the server refused it for good).
  Status Reject(uint64_t seq);
  // The checkpoint of the newest batch; empty when the spool is empty. A
  // damaged newest batch is moved to rejected/ (and logged) first.
  Result<std::string> NewestCheckpoint();

  uint64_t bytes() const { return bytes_; }
  size_t batches() const { return seqs_.size(); }
  uint64_t next_seq() const { return next_seq_; }
  // Sequence numbers continue from here (e.g. after the positions file's).
  void SetNextSeq(uint64_t seq) { next_seq_ = std::max(next_seq_, seq); }

 private:
  explicit Spool(std::string dir) : dir_(std::move(dir)) {}
  std::string PathOf(uint64_t seq) const;
  Result<Batch> Read(uint64_t seq) const;
  // The oldest (or newest) batch that reads, moving damaged ones to rejected/.
  Result<std::optional<Batch>> FirstReadable(bool newest);

  std::string dir_;
  std::vector<std::pair<uint64_t, uint64_t>> seqs_;  // (seq, file bytes), oldest first
  uint64_t bytes_ = 0;
  uint64_t next_seq_ = 1;
};

}  // namespace lode
