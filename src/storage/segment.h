// Segment: an immutable, columnar, compressed, indexed file of one tenant's
// records. Format: docs/formats/segment.md.
//
// Rows are sorted by (service, timestamp) and cut into blocks that hold one
// service each (at most SegmentWriteOptions::rows_per_block rows), so a
// service filter or a per-service histogram touches only that service's
// blocks. Each block's columns are compressed separately (a query reads and
// decompresses only the columns it needs) and the block directory carries per
// block: time range, row count, service, per-level counts, and checksums.
// The text index maps each trigram of the lower-cased messages to the blocks
// containing it, so a substring or regex literal prefilter reads only blocks
// that can match; label postings do the same for instance and source.
//
// Thread-safety: a Segment is immutable after Open and safe to share
// (shared_ptr<const Segment>) between concurrent queries.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/record.h"
#include "common/status.h"
#include "storage/log_store.h"

namespace lode {

// What the store knows about a segment; stored inside the file.
struct SegmentMeta {
  uint64_t id = 0;  // unique within the data directory, increasing
  std::string tenant;
  int64_t min_ts = 0;  // of the rows (ns)
  int64_t max_ts = 0;
  uint64_t rows = 0;
  uint64_t max_wal_seq = 0;        // highest WAL sequence number whose records are all in
                                   // this segment or older ones; 0 when none
  std::vector<uint64_t> replaces;  // ids of the segments this one was merged from
  int64_t created_ns = 0;          // wall-clock time of writing
  // Largest Record::pattern_id of the rows, 0 when none has one (and in
  // format version 1 files, which store no pattern ids).
  uint32_t max_pattern_id = 0;
  bool operator==(const SegmentMeta&) const = default;
};

// The segment format version WriteSegment writes, and the oldest one Open
// reads (docs/formats/segment.md, "Versioning").
inline constexpr uint32_t kSegmentFormatVersion = 2;
inline constexpr uint32_t kMinSegmentFormatVersion = 1;

struct SegmentWriteOptions {
  uint32_t rows_per_block = 4096;
  int zstd_level = 9;  // for messages and attributes; other columns use level 3
  // For tests of reading old files: kMinSegmentFormatVersion ...
  // kSegmentFormatVersion. Version 1 has no pattern column: every record's
  // pattern_id is dropped (it reads back as 0).
  uint32_t format_version = kSegmentFormatVersion;
};

// Columns a reader may ask for. Timestamp, level and service are always read.
enum ColumnBits : uint32_t {
  kColObserved = kScanObserved,
  kColInstance = kScanInstance,
  kColSource = kScanSource,
  kColFlags = kScanFlags,
  kColMessage = kScanMessage,
  kColAttributes = kScanAttributes,
  kColPattern = kScanPattern,
  kColAll = kScanAll,
};

// One block, as the directory describes it (read at Open, no decompression).
struct BlockInfo {
  uint64_t offset = 0;  // of the block's first byte in the file
  uint32_t size = 0;    // bytes
  uint32_t rows = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  uint32_t service_id = 0;                           // index into Segment::services()
  std::array<uint32_t, kLevelCount> level_counts{};  // rows per Level
};

// Writes `records` (all of meta.tenant, any order) as a segment at `path`,
// atomically: a temporary file next to it, fsync, rename, fsync of the
// directory, so a crash leaves either no file or the whole file. meta.min_ts,
// max_ts, rows and max_pattern_id are computed from the records (the caller's
// values are ignored). REQUIRES: !records.empty(); every record's tenant == meta.tenant.
Status WriteSegment(Env* env, const std::string& path, const SegmentMeta& meta,
                    std::span<const Record> records, const SegmentWriteOptions& options = {});
// The same for records held elsewhere (e.g. the head's chunks), without copies.
// REQUIRES: the pointed-to records outlive the call.
Status WriteSegment(Env* env, const std::string& path, const SegmentMeta& meta,
                    std::span<const Record* const> records,
                    const SegmentWriteOptions& options = {});

class Segment {
 public:
  // Opens the segment at `path`: reads and checks (CRC32C) the footer, the
  // block directory, dictionaries, the text and label indexes, and the meta.
  // Blocks are checked when read. Corruption names the file and the part.
  static Result<std::shared_ptr<const Segment>> Open(Env* env, const std::string& path);

  const SegmentMeta& meta() const { return meta_; }
  const std::string& path() const { return path_; }
  uint64_t file_bytes() const { return file_bytes_; }
  const std::vector<BlockInfo>& blocks() const { return blocks_; }
  // Distinct services; BlockInfo::service_id indexes this.
  const std::vector<std::string>& services() const { return services_; }
  // Distinct instances and sources (dictionary order).
  const std::vector<std::string>& instances() const { return instances_; }
  const std::vector<std::string>& sources() const { return sources_; }

  // The blocks that may hold a record matching `spec`: time range overlap,
  // service (block service), level (level counts), instance and source (label
  // postings), required substrings (trigram index; a substring shorter than 3
  // bytes, or one with upper-case letters, is matched through its lower-cased
  // trigrams); none when every wanted pattern id is above meta().max_pattern_id.
  // Never misses a block that has a match; may return extra ones.
  // Ascending block order.
  std::vector<uint32_t> CandidateBlocks(const ScanSpec& spec) const;

  // Decodes block `b` into *out (replaced), filling the columns in `columns`
  // (timestamp_ns, level, service and tenant always). kColPattern of a
  // version 1 segment fills pattern_id 0. Corruption when the
  // block's checksum fails, naming the file and block.
  Status ReadBlock(uint32_t b, uint32_t columns, std::vector<Record>* out) const;

  // Decodes only the timestamp and level columns of block `b` (one level
  // byte per row, a Level value), for counting without building records.
  Status ReadTimesAndLevels(uint32_t b, std::vector<int64_t>* ts, std::string* levels) const;

  // Every record matching `spec` (ScanSpec::Matches), block by block in
  // block order, until visit returns false. Decodes `columns` plus what the
  // spec's conditions need (kColPattern for spec.pattern_ids); adds to spec.stats; returns
  // ScanCancelled() when spec.cancel is set.
  Status Scan(const ScanSpec& spec, const RecordVisitor& visit, uint32_t columns = kColAll) const;

  // Reads and checks every block (for scrubbing and tests), and that
  // meta().max_pattern_id is the largest pattern id in them.
  Status VerifyAll() const;

  ~Segment();

 private:
  Segment() = default;
  struct Index;  // text and label indexes, defined in segment.cc

  std::string path_;
  uint64_t file_bytes_ = 0;
  SegmentMeta meta_;
  std::vector<BlockInfo> blocks_;
  std::vector<std::string> services_;
  std::vector<std::string> instances_;
  std::vector<std::string> sources_;
  std::vector<std::string> attr_keys_;
  std::unique_ptr<Index> index_;
  std::unique_ptr<RandomAccessFile> file_;
};

}  // namespace lode
