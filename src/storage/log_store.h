// LogStore: the storage interface every source writes to (through the bus)
// and every query reads from. The first implementation (MemoryStore) keeps a
// WAL on disk and all records in memory; the segment engine replaces it
// without changes above this interface.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"

namespace lode {

// What a scan selects. A store may use any of these to skip data; every
// record it visits satisfies all of them.
struct ScanSpec {
  std::string tenant{kDefaultTenant};
  int64_t start_ns = INT64_MIN;  // inclusive
  int64_t end_ns = INT64_MAX;    // exclusive
  uint32_t level_mask = ~0u;     // bit (1 << Level) set = level wanted
  std::vector<std::string> services;   // empty = any
  std::vector<std::string> instances;  // empty = any

  bool Matches(const Record& r) const;
};

struct StoreStats {
  uint64_t records = 0;
  uint64_t wal_bytes = 0;
  uint64_t memory_bytes = 0;
};

// Called for each visited record; returns false to stop the scan.
using RecordVisitor = std::function<bool(const Record&)>;

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

  // Number of records a Scan of `spec` could visit before filtering, for stats.
  virtual uint64_t CountCandidates(const ScanSpec& spec) const = 0;

  virtual StoreStats Stats() const = 0;
};

}  // namespace lode
