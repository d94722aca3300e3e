// LogStore: the storage interface every source writes to (through the bus)
// and every query reads from. The implementation is SegmentStore
// (storage/segment_store.h); cluster mode will add remote stores behind it.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/record.h"
#include "common/status.h"

namespace lode {

// What a scan read, added to by stores (atomically: counts may run on
// several threads). For query statistics.
struct ScanStats {
  std::atomic<uint64_t> segments{0};    // segments whose blocks were consulted
  std::atomic<uint64_t> blocks{0};      // blocks decoded
  std::atomic<uint64_t> bytes_read{0};  // compressed bytes of those blocks
  std::atomic<uint64_t> rows{0};        // rows examined one by one
  std::atomic<uint64_t> head_rows{0};   // of which rows held in memory
  std::atomic<uint64_t> head_bytes{0};  // approximate bytes of those in-memory rows
};

// Column hints for ScanSpec::columns: what a visitor reads besides the
// timestamp, level, service and tenant. Stores may fill more.
enum ScanColumns : uint32_t {
  kScanObserved = 1u << 0,
  kScanInstance = 1u << 1,
  kScanSource = 1u << 2,
  kScanFlags = 1u << 3,
  kScanMessage = 1u << 4,
  kScanAttributes = 1u << 5,
  kScanPattern = 1u << 6,
  kScanAll = 0x7F,
};

// What a scan selects. A store may use any of these to skip data; every
// record it visits satisfies all of them.
struct ScanSpec {
  std::string tenant{kDefaultTenant};
  int64_t start_ns = INT64_MIN;        // inclusive
  int64_t end_ns = INT64_MAX;          // exclusive
  uint32_t level_mask = ~0u;           // bit (1 << Level) set = level wanted
  std::vector<std::string> services;   // empty = any
  std::vector<std::string> instances;  // empty = any
  std::vector<std::string> sources;    // empty = any
  // Record::pattern_id values wanted, sorted ascending; empty = any.
  std::vector<uint32_t> pattern_ids;
  // Byte strings the message must contain (case-sensitive), e.g. a `contains`
  // filter or the literals every match of a regex has. Stores use them with
  // their text indexes to skip blocks that cannot match.
  std::vector<std::string> required_substrings;
  // Groups of byte strings of which the message must contain at least one
  // each (`|= "a" or "b"`, the branches of `timeout|refused`); indexes may skip
  // blocks lacking every string of a group.
  std::vector<std::vector<std::string>> required_any;
  // Also read archived (cold) data.
  bool include_archive = false;
  // The record fields the visitor reads (ScanColumns); the others may be left
  // empty, which saves decompressing them.
  uint32_t columns = kScanAll;
  // When set, the store adds what it read.
  ScanStats* stats = nullptr;
  // When set and it becomes true, the scan stops soon (between blocks) and
  // returns Cancelled.
  const std::atomic<bool>* cancel = nullptr;
  // Visit only part `shard` of `shards` disjoint parts of the data, so that
  // `shards` scans running in parallel together visit each record once.
  // Every store must honour it.
  uint32_t shard = 0;
  uint32_t shards = 1;

  bool Matches(const Record& r) const;
  // ... and likewise once `clock` reads past `deadline_ns` (when clock is set).
  const Clock* clock = nullptr;
  int64_t deadline_ns = INT64_MAX;

  bool cancelled() const {
    return (cancel != nullptr && cancel->load(std::memory_order_relaxed)) ||
           (clock != nullptr && clock->NowNanos() > deadline_ns);
  }
};

// What a store returns when ScanSpec::cancel stopped it.
Status ScanCancelled();

struct StoreStats {
  uint64_t records = 0;  // live records (head and segments)
  uint64_t wal_bytes = 0;
  uint64_t memory_bytes = 0;  // records held in memory (the head)
  uint64_t segments = 0;
  uint64_t segment_bytes = 0;
  uint64_t archived_segments = 0;
  uint64_t archived_bytes = 0;
};

// Called for each visited record; returns false to stop the scan.
using RecordVisitor = std::function<bool(const Record&)>;

// How LogStore::Count groups.
struct CountSpec {
  bool by_level = false;
  bool by_service = false;
  int64_t step_ns = 0;  // > 0: also per time bucket [align + k*step, align + (k+1)*step)
  int64_t align_ns = 0;

  // The start of the bucket holding `ts`. REQUIRES: step_ns > 0.
  int64_t Bucket(int64_t ts) const;
};

// One group of a count: fields not grouped by stay at their defaults.
struct CountKey {
  int level = -1;       // static_cast<int>(Level) when grouped by level
  std::string service;  // when grouped by service
  int64_t bucket = 0;   // bucket start (CountSpec::Bucket) when step_ns > 0
  auto operator<=>(const CountKey&) const = default;
};

struct CountResult {
  std::map<CountKey, uint64_t> counts;
  uint64_t scanned = 0;  // records examined one by one (not those counted from block statistics)
  uint64_t matched = 0;  // records counted
};

// The start of the step-wide bucket holding `ts` (floor, also for negative ts).
int64_t FloorToStep(int64_t ts, int64_t step);

// Adds one matching record to *out, grouped per `count`. `key` is scratch
// reused between calls (it keeps its string's capacity).
void AddToCount(const Record& r, const CountSpec& count, CountKey* key, CountResult* out);

class LogStore {
 public:
  virtual ~LogStore() = default;

  // Stores the batches. On OK every record is durable and visible to scans;
  // on error none of them may be assumed stored. The batches' contents may
  // be moved from. Called from one thread at a
  // time (the bus consumer); safe to run concurrently with Scan.
  virtual Status Write(std::span<RecordBatch* const> batches) = 0;

  // Visits every stored record that matches `spec`, in no particular order,
  // until `visit` returns false. Sees a consistent snapshot: records written
  // after the scan began may or may not be visited, never half of a batch.
  // Thread-safe.
  virtual Status Scan(const ScanSpec& spec, const RecordVisitor& visit) const = 0;

  // Counts the records a Scan of `spec` would visit, grouped per `count`.
  // The default scans; stores override it to answer from block statistics.
  // Thread-safe.
  virtual Status Count(const ScanSpec& spec, const CountSpec& count, CountResult* out) const;

  // The values label `name` ("service", "instance", "source" or "level") has
  // in records a Scan of `spec` could visit, added to *out. Stores may answer
  // from metadata and include values of records just outside the spec's time
  // range (as Loki does per chunk). The default scans. Thread-safe.
  virtual Status LabelValues(const ScanSpec& spec, std::string_view name,
                             std::set<std::string>* out) const;

  virtual StoreStats Stats() const = 0;
};

}  // namespace lode
