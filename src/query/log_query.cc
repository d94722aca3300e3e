#include "query/log_query.h"

#include <algorithm>
#include <chrono>
#include <queue>
#include <tuple>
#include <unordered_map>

namespace lode {

namespace {

double MillisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

int64_t FloorDiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
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
  f.contains_ = spec.contains;
  if (!spec.regex.empty()) {
    RE2::Options opts;
    opts.set_log_errors(false);
    auto re = std::make_shared<re2::RE2>(spec.regex, opts);
    if (!re->ok()) {
      return Status::InvalidArgument("invalid regex \"" + spec.regex + "\": " + re->error());
    }
    f.regex_ = std::move(re);
  }
  return f;
}

bool LogFilter::Matches(const Record& r) const {
  if (!contains_.empty() && std::string_view(r.message).find(contains_) == std::string_view::npos) {
    return false;
  }
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

  // Group key: (level or 0xFF, service or "").
  struct KeyHash {
    size_t operator()(const std::pair<int, std::string>& k) const {
      return std::hash<std::string>()(k.second) * 31 + static_cast<size_t>(k.first);
    }
  };
  std::unordered_map<std::pair<int, std::string>, AggregateGroup, KeyHash> groups;
  AggregateResult result;
  std::pair<int, std::string> key;
  Status s = store.Scan(filter.scan(), [&](const Record& r) {
    ++result.stats.scanned;
    if (!filter.Matches(r)) return true;
    ++result.stats.matched;
    key.first = spec.by_level ? static_cast<int>(r.level) : -1;
    if (spec.by_service) key.second = r.service;
    auto [it, inserted] = groups.try_emplace(key);
    AggregateGroup& g = it->second;
    if (inserted) {
      if (spec.by_level) g.level = r.level;
      if (spec.by_service) g.service = r.service;
    }
    ++g.count;
    if (spec.step_ns > 0) ++g.buckets[FloorDiv(r.timestamp_ns, spec.step_ns) * spec.step_ns];
    return true;
  });
  LODE_RETURN_IF_ERROR(s);
  for (auto& [k, g] : groups) result.groups.push_back(std::move(g));
  std::sort(result.groups.begin(), result.groups.end(), [](const auto& a, const auto& b) {
    if (a.count != b.count) return a.count > b.count;
    return std::tie(a.level, a.service) < std::tie(b.level, b.service);
  });
  result.stats.took_ms = MillisSince(t0);
  return result;
}

}  // namespace lode
