// MemoryStore: the first LogStore. Every write goes to the WAL (durable on
// return), and every record is kept in memory in chunks, one per written
// batch, each with its time range so scans skip chunks outside the query.
// On open the WAL is replayed to rebuild memory.
//
// Memory grows with the data: this store is for the foundation and for tests;
// the segment engine bounds memory by flushing to disk.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <vector>

#include "common/env.h"
#include "storage/log_store.h"
#include "storage/wal.h"

namespace lode {

class MemoryStore final : public LogStore {
 public:
  struct Options {
    std::string dir;                      // data directory; the WAL lives in dir/wal
    Env* env = Env::Default();
    uint64_t wal_file_bytes = 64 << 20;   // WAL rotation size
  };

  // Opens (creating if needed) the store in options.dir and replays its WAL.
  static Result<std::unique_ptr<MemoryStore>> Open(const Options& options);

  Status Write(std::span<RecordBatch* const> batches) override;
  Status Scan(const ScanSpec& spec, const RecordVisitor& visit) const override;
  uint64_t CountCandidates(const ScanSpec& spec) const override;
  StoreStats Stats() const override;

 private:
  // An immutable run of records of one tenant, shared with running scans.
  struct Chunk {
    std::string tenant;
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    std::vector<Record> records;
    size_t bytes = 0;
  };
  using ChunkList = std::vector<std::shared_ptr<const Chunk>>;

  MemoryStore() = default;
  static std::shared_ptr<const Chunk> MakeChunk(RecordBatch batch);
  // A copy of the chunk list: scans run on it without holding the lock.
  ChunkList Snapshot() const;

  std::unique_ptr<Wal> wal_;  // used only by the writer thread
  mutable std::shared_mutex mu_;
  ChunkList chunks_;          // GUARDED_BY(mu_)
  uint64_t records_ = 0;      // GUARDED_BY(mu_)
  uint64_t memory_bytes_ = 0; // GUARDED_BY(mu_)
  std::atomic<uint64_t> wal_bytes_{0};
};

}  // namespace lode
