#include "query/log_query.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <tuple>
#include <unordered_map>

#include "query/regex_literals.h"

namespace lode {

namespace {

double MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Result<LogFilter> LogFilter::Make(const FilterSpec& spec) {
  LogFilter f;
  f.scan_.tenant = spec.tenant;
  f.scan_.start_ns = spec.start_ns;
  f.scan_.end_ns = spec.end_ns;
  if (!spec.levels.empty()) {
    f.scan_.level_mask = 0;
    for (Level l : spec.levels) f.scan_.level_mask |= 1u << static_cast<unsigned>(l);
  }
  f.scan_.services = spec.services;
  f.scan_.instances = spec.instances;
  // The store prefilters with its text index and checks the substring itself.
  if (!spec.contains.empty()) f.scan_.required_substrings.push_back(spec.contains);
  f.scan_.include_archive = spec.include_archive;
  if (!spec.regex.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<re2::RE2>(spec.regex, opts);
    if (!re->ok()) {
      return Status::InvalidArgument("invalid regex \"" + spec.regex + "\": " + re->error());
    }
    f.regex_ = std::move(re);
    // Literals every match contains let the store skip blocks by index.
    for (auto& lit : RequiredLiterals(spec.regex)) f.scan_.required_substrings.push_back(lit);
  }
  return f;
}

bool LogFilter::Matches(const Record& r) const {
  if (regex_ && !RE2::PartialMatch(r.message, *regex_)) return false;
  return true;
}

Result<LogsResult> QueryLogs(const LogStore& store, const FilterSpec& spec, size_t limit,
                             Direction direction) {
  auto t0 = std::chrono::steady_clock::now();
  LODE_ASSIGN_OR_RETURN(LogFilter filter, LogFilter::Make(spec));
  LogsResult result;

  // Keep the best `limit` records in a heap whose top is the worst kept one.
  // Key: (timestamp, arrival index); "better" = newer for kBackward.
  using Key = std::pair<int64_t, uint64_t>;
  struct Entry {
    Key key;
    Record record;
  };
  bool backward = direction == Direction::kBackward;
  auto worse_on_top = [backward](const Entry& a, const Entry& b) {
    return backward ? a.key > b.key : a.key < b.key;
  };
  std::vector<Entry> heap;
  uint64_t arrival = 0;
  Status s = store.Scan(filter.scan(), [&](const Record& r) {
    ++result.stats.scanned;
    uint64_t seq = arrival++;
    if (!filter.Matches(r)) return true;
    ++result.stats.matched;
    Key key{r.timestamp_ns, seq};
    if (limit == 0) return true;  // count only
    if (heap.size() < limit) {
      heap.push_back(Entry{key, r});
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    } else if (backward ? key > heap.front().key : key < heap.front().key) {
      std::pop_heap(heap.begin(), heap.end(), worse_on_top);
      heap.back() = Entry{key, r};
      std::push_heap(heap.begin(), heap.end(), worse_on_top);
    }
    return true;
  });
  LODE_RETURN_IF_ERROR(s);
  std::sort_heap(heap.begin(), heap.end(), worse_on_top);
  result.records.reserve(heap.size());
  for (auto& e : heap) result.records.push_back(std::move(e.record));
  result.stats.took_ms = MillisSince(t0);
  return result;
}

Result<AggregateResult> QueryAggregate(const LogStore& store, const AggregateSpec& spec) {
  auto t0 = std::chrono::steady_clock::now();
  if (spec.step_ns < 0) return Status::InvalidArgument("step must be positive");
  const FilterSpec& fs = spec.filter;
  if (spec.step_ns > 0) {
    if (fs.start_ns == INT64_MIN || fs.end_ns == INT64_MAX) {
      return Status::InvalidArgument("step needs both start and end");
    }
    int64_t buckets = (fs.end_ns - fs.start_ns) / spec.step_ns + 1;
    if (buckets > spec.max_buckets) {
      return Status::InvalidArgument("step too small: " + std::to_string(buckets) +
                                     " buckets, the limit is " + std::to_string(spec.max_buckets));
    }
  }
  LODE_ASSIGN_OR_RETURN(LogFilter filter, LogFilter::Make(fs));

  CountSpec cs;
  cs.by_level = spec.by_level;
  cs.by_service = spec.by_service;
  cs.step_ns = spec.step_ns;
  CountResult counts;
  if (!filter.has_row_conditions()) {
    // The store can answer from its block statistics.
    LODE_RETURN_IF_ERROR(store.Count(filter.scan(), cs, &counts));
  } else {
    CountKey key;
    LODE_RETURN_IF_ERROR(store.Scan(filter.scan(), [&](const Record& r) {
      ++counts.scanned;
      if (filter.Matches(r)) AddToCount(r, cs, &key, &counts);
      return true;
    }));
  }
  AggregateResult result;
  result.stats.scanned = counts.scanned;
  result.stats.matched = counts.matched;
  // counts is ordered by (level, service, bucket): one group per run.
  for (const auto& [key, n] : counts.counts) {
    std::optional<Level> level;
    std::optional<std::string> service;
    if (spec.by_level) level = static_cast<Level>(key.level);
    if (spec.by_service) service = key.service;
    if (result.groups.empty() || result.groups.back().level != level ||
        result.groups.back().service != service) {
      result.groups.push_back(AggregateGroup{level, service, 0, {}});
    }
    AggregateGroup& g = result.groups.back();
    g.count += n;
    if (spec.step_ns > 0) g.buckets[key.bucket] += n;
  }
  std::sort(result.groups.begin(), result.groups.end(), [](const auto& a, const auto& b) {
    if (a.count != b.count) return a.count > b.count;
    return std::tie(a.level, a.service) < std::tie(b.level, b.service);
  });
  result.stats.took_ms = MillisSince(t0);
  return result;
}

}  // namespace lode
