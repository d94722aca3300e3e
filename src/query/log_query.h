// The first query engine: filtered log listing and counting over a LogStore.
//
// QueryLogs answers GET /api/v1/logs (the newest or oldest `limit` matching
// records); QueryAggregate answers GET /api/v1/aggregate (counts grouped by
// level and/or service, optionally per time bucket). LogQL (query/logql)
// builds on the same filter.
#pragma once

#include <re2/re2.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "storage/log_store.h"

namespace lode {

// What a request selects. Empty lists and strings mean "any".
struct FilterSpec {
  std::string tenant{kDefaultTenant};
  int64_t start_ns = INT64_MIN;  // inclusive
  int64_t end_ns = INT64_MAX;    // exclusive
  std::vector<Level> levels;
  std::vector<std::string> services;
  std::vector<std::string> instances;
  std::string contains;  // case-sensitive substring of the message
  std::string regex;     // RE2 syntax, unanchored, matched against the message
  bool include_archive = false;  // also search archived segments
};

// A FilterSpec made ready to run: the regex compiled. Immutable, thread-safe.
class LogFilter {
 public:
  // InvalidArgument when the regex does not compile (message names the error).
  static Result<LogFilter> Make(const FilterSpec& spec);

  // The conditions the store does not check itself (the regex). Records a
  // scan of scan() visits already satisfy everything else, `contains` included.
  bool Matches(const Record& r) const;
  // True when Matches() checks anything (so records must be looked at).
  bool has_row_conditions() const { return regex_ != nullptr; }
  const ScanSpec& scan() const { return scan_; }

 private:
  ScanSpec scan_;
  std::shared_ptr<const re2::RE2> regex_;
};

enum class Direction { kBackward, kForward };  // newest first / oldest first

struct QueryStats {
  uint64_t scanned = 0;  // records the store offered
  uint64_t matched = 0;  // records that matched every condition
  double took_ms = 0;
};

struct LogsResult {
  std::vector<Record> records;  // sorted by time in the requested direction
  QueryStats stats;
};

// Returns at most `limit` matching records, the newest (kBackward) or oldest
// (kForward) first. Records with equal timestamps come in no particular order.
Result<LogsResult> QueryLogs(const LogStore& store, const FilterSpec& spec, size_t limit,
                             Direction direction);

struct AggregateSpec {
  FilterSpec filter;
  bool by_level = false;
  bool by_service = false;
  int64_t step_ns = 0;  // 0: one total per group; else counts per bucket of this width
  // Refuse queries that would produce more buckets per group than this.
  int64_t max_buckets = 11000;
};

struct AggregateGroup {
  std::optional<Level> level;          // set when grouped by level
  std::optional<std::string> service;  // set when grouped by service
  uint64_t count = 0;
  // Bucket start (ns, aligned to multiples of step since the epoch) → count;
  // only non-empty buckets. Empty when step_ns == 0.
  std::map<int64_t, uint64_t> buckets;
};

struct AggregateResult {
  std::vector<AggregateGroup> groups;  // largest count first
  QueryStats stats;
};

// InvalidArgument when step_ns < 0 or the bucket count would exceed max_buckets.
Result<AggregateResult> QueryAggregate(const LogStore& store, const AggregateSpec& spec);

}  // namespace lode
