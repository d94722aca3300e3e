// SegmentStore: the storage engine. Records go to the WAL (durable on
// return), then to an in-memory head; the head is flushed into immutable
// columnar segments (storage/segment.h) by size or age, after which the WAL
// is trimmed. In the background, small segments are merged, and retention
// deletes (or archives) segments by age and by total size.
//
// Layout of the data directory:
//   wal/                      the write-ahead log (docs/formats/wal.md)
//   segments/<tenant>/<id>.seg live segments (docs/formats/segment.md)
//   archive/<tenant>/<id>.seg  archived segments (the cold tier; may be another
//                              file system, e.g. a mounted bucket)
//   quarantine/               segments that failed a checksum, kept for inspection
//   FLUSHED                   the WAL sequence number covered by complete flushes
//   PATTERNS                  the pattern index (Options::patterns) as of some WAL
//                             sequence number >= FLUSHED
//
// Crash safety: a segment is written under a temporary name, fsynced and
// renamed; FLUSHED is rewritten atomically only after every segment of a
// flush is durable, and the WAL is trimmed only after that. On open,
// temporary files are removed, segments newer than FLUSHED (an interrupted
// flush) are deleted and their records replayed from the WAL, and segments
// superseded by a merged one (an interrupted merge) are deleted.
//
// Patterns: when Options::patterns is set, Write assigns every record its
// pattern id under the WAL lock, so ids follow WAL order, and every flush
// saves the index (with the WAL sequence number it covers) before FLUSHED.
// Recovery loads it and re-assigns the WAL entries past that number, which
// yields the same ids (PatternIndex is deterministic). A damaged index is
// quarantined and a fresh one hands out ids above every stored one.
//
// Thread-safety: Write is called by one thread at a time (the bus); Scan,
// Stats and the maintenance calls are thread-safe and run concurrently with
// Write. Queries see a consistent set: a flush or merge replaces what it
// covers in one step.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "pattern/pattern_index.h"
#include "storage/log_store.h"
#include "storage/segment.h"
#include "storage/wal.h"

namespace lode {

class SegmentStore final : public LogStore {
 public:
  struct Options {
    std::string dir;  // data directory (created if missing)
    Env* env = Env::Default();
    Clock* clock = Clock::Real();
    uint64_t wal_file_bytes = 64ull << 20;
    uint64_t flush_bytes = 32ull << 20;     // flush the head when it holds this much
    int64_t flush_age_ns = 60'000'000'000;  // ... or when its oldest record is this old
    // Write waits (so the bus queue fills and ingest pushes back) while the
    // head holds more than this, i.e. while flushing falls behind ingest.
    uint64_t max_head_bytes = 96ull << 20;
    // Segments written by a flush favour speed (zstd level 3); merges rewrite
    // them smaller (segment.zstd_level).
    int flush_zstd_level = 3;
    // Segments a flush wrote are rewritten at segment.zstd_level once they are
    // this old (so bursts of ingest do not pay for it at once); < 0: never.
    int64_t recompress_after_ns = 300'000'000'000;
    SegmentWriteOptions segment;
    // Merging: a tenant's segments smaller than merge_small_rows are merged,
    // oldest first, once there are at least merge_min_inputs of them, into
    // segments of at most merge_max_rows rows. A merge holds its rows in
    // memory (~0.6 KB each), so merge_max_rows bounds its memory.
    uint64_t merge_small_rows = 100'000;
    size_t merge_min_inputs = 4;
    uint64_t merge_max_rows = 150'000;
    // Retention (0 = off): delete segments whose newest record is older than
    // retention_ns, and the oldest segments while the total exceeds
    // retention_bytes. Archiving (0 = off): move segments whose newest record is
    // older than archive_after_ns to archive_dir instead of keeping them live.
    int64_t retention_ns = 0;
    uint64_t retention_bytes = 0;
    int64_t archive_after_ns = 0;
    std::string archive_dir;  // default <dir>/archive
    // Counts over more segment rows than this split the segments between two
    // threads.
    uint64_t parallel_count_rows = 200'000;
    // Run flushing, merging and retention on a background thread. Tests turn
    // this off and call Flush()/Maintain() themselves.
    bool background = true;
    int64_t maintenance_interval_ns = 1'000'000'000;
    // Assigns pattern ids at ingest and is saved with the data (see above).
    // Not owned; null = records keep the ids they come with.
    PatternIndex* patterns = nullptr;
    // Called by Write with the batches once they are durable (and carry their
    // pattern ids), before the store takes their records: live tail and
    // streaming alerts hang here. Runs on the writing thread.
    std::function<void(std::span<RecordBatch* const>)> on_durable;
  };

  static Result<std::unique_ptr<SegmentStore>> Open(const Options& options);
  ~SegmentStore() override;

  Status Write(std::span<RecordBatch* const> batches) override;
  Status Scan(const ScanSpec& spec, const RecordVisitor& visit) const override;
  // Answers from block statistics (per-block level counts, service, time
  // range) for blocks wholly inside the range and bucket; decodes only the
  // timestamp and level columns of the others.
  Status Count(const ScanSpec& spec, const CountSpec& count, CountResult* out) const override;
  // From segment dictionaries and block statistics where the spec allows.
  Status LabelValues(const ScanSpec& spec, std::string_view name,
                     std::set<std::string>* out) const override;
  StoreStats Stats() const override;

  // Writes the whole head into segments now (no-op when empty).
  Status Flush();
  // Background work until none is left: flush if due, merges, archiving,
  // retention.
  Status Maintain();
  // Moves archived segments of `tenant` overlapping [start_ns, end_ns) back to
  // the live set. Returns how many were restored.
  Result<size_t> RestoreArchived(const std::string& tenant, int64_t start_ns, int64_t end_ns);

  // Counters for /metrics.
  struct Counters {
    std::atomic<uint64_t> flushes{0};
    std::atomic<uint64_t> merges{0};
    std::atomic<uint64_t> deleted_by_retention{0};
    std::atomic<uint64_t> archived{0};
    std::atomic<uint64_t> restored{0};
    std::atomic<uint64_t> quarantined{0};
    std::atomic<uint64_t> maintenance_errors{0};
    std::atomic<uint64_t> pattern_mining_ns{0};  // CPU time Write spent assigning pattern ids
  };
  const Counters& counters() const { return counters_; }

 private:
  struct Chunk {
    std::string tenant;
    int64_t min_ts = INT64_MAX;
    int64_t max_ts = INT64_MIN;
    int64_t min_observed = INT64_MAX;
    uint64_t wal_seq = 0;
    size_t bytes = 0;
    std::vector<Record> records;
  };
  using ChunkPtr = std::shared_ptr<const Chunk>;
  using SegmentPtr = std::shared_ptr<const Segment>;

  // What a scan sees; immutable once published.
  struct View {
    std::vector<ChunkPtr> head;      // newest writes
    std::vector<ChunkPtr> flushing;  // being written into segments
    std::vector<SegmentPtr> segments;
    std::vector<SegmentPtr> archived;
  };

  explicit SegmentStore(const Options& options);
  Status Recover();
  // Loads PATTERNS into options_.patterns; *covered_seq gets the WAL sequence
  // number it covers (0 when it was missing, damaged, or older than
  // `flushed_seq`: then ids start above every id `segments` hold).
  Status LoadPatterns(const std::vector<SegmentPtr>& segments, uint64_t flushed_seq,
                      uint64_t* covered_seq);
  std::shared_ptr<const View> Snapshot() const;
  void Publish(std::shared_ptr<const View> view);  // REQUIRES: view_mu_ held
  std::string SegmentPath(const std::string& tenant, uint64_t id) const;
  std::string ArchivePath(const std::string& tenant, uint64_t id) const;
  bool FlushDue() const;
  Status MergeTenant(const std::string& tenant, bool* merged);
  // Count() over some segments (quarantining any that fail a check).
  Status CountSegments(const std::vector<SegmentPtr>& segments, const ScanSpec& spec,
                       const CountSpec& count, CountResult* out) const;
  // One step of Maintain: a flush if due, at most one merge per tenant,
  // retention. *more says whether merges may remain.
  Status MaintainStep(bool* more);
  Status ApplyRetention();
  // Removes a segment that failed a checksum from the live set and moves its
  // file to quarantine/. Safe to call from a scan.
  void Quarantine(const SegmentPtr& seg, const Status& why) const;
  Status MoveFile(const std::string& from, const std::string& to);
  void BackgroundLoop();

  const Options options_;
  Env* const env_;
  std::unique_ptr<Wal> wal_;  // GUARDED_BY(wal_mu_)
  std::mutex wal_mu_;
  std::mutex maintenance_mu_;  // one flush/merge/retention at a time

  // Publishers (Write, flush, merge, retention, quarantine) hold view_mu_
  // while they derive the next View from the current one; ptr_mu_ only
  // guards the pointer, so readers never wait for a publisher's work.
  mutable std::mutex view_mu_;
  mutable std::mutex ptr_mu_;
  std::shared_ptr<const View> view_;  // GUARDED_BY(ptr_mu_)
  std::atomic<uint64_t> next_segment_id_{1};
  std::atomic<uint64_t> head_bytes_{0};
  std::atomic<uint64_t> last_wal_seq_{0};
  std::atomic<uint64_t> wal_bytes_{0};
  mutable Counters counters_;

  std::mutex bg_mu_;
  std::condition_variable bg_cv_;
  std::condition_variable head_cv_;  // notified when a flush empties the head
  bool stopping_ = false;            // GUARDED_BY(bg_mu_)
  std::thread background_;
};

}  // namespace lode
