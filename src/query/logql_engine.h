// The LogQL engine: plans a parsed query (query/logql_ast.h) against a
// LogStore and evaluates it.
//
// Planning turns the stream selector and the leading line filters into a
// ScanSpec, so the store prunes segments by time, blocks by service, level,
// instance, source and its trigram index, and decodes only the columns the
// query reads. Every record the store offers then runs through the compiled
// pipeline (filters, parsers, formatters); what survives is a log line
// (log queries) or a sample (metric queries).
//
// Results are built from partials that merge, so that a query can fan out
// over several stores and add up what they return:
//   - log lines: each store's newest (or oldest) `limit` lines, merged by time;
//   - range aggregations: per series, additive buckets (counts and sums add)
//     or raw samples (which concatenate; min, max, quantiles and the like are
//     computed after the merge, exactly);
//   - vector aggregations and binary operators run on the merged range vectors.
// Counting queries over the indexed labels alone are answered by
// LogStore::Count, from per-block statistics.
//
// See docs/QUERY.md for the language as implemented and how it differs from Loki.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "pattern/pattern_index.h"
#include "query/log_query.h"
#include "query/logql_ast.h"
#include "storage/log_store.h"

namespace lode::logql {

// A label set, sorted by name, names unique.
using Labels = std::vector<std::pair<std::string, std::string>>;

// `{a="x", b="y"}` with Go/Prometheus string escaping.
std::string LabelsToString(const Labels& labels);

struct Entry {
  int64_t timestamp_ns = 0;
  std::string line;
  // With QueryParams::categorize_labels only: the record's attributes and
  // pattern_id (Loki's structured metadata, names sanitized as the language
  // reads them) and the labels the pipeline added (parsers, formatters).
  Labels metadata;
  Labels parsed;
};

struct Stream {
  Labels labels;
  std::vector<Entry> entries;  // in the query's direction
};

struct Point {
  int64_t t_ns = 0;
  double value = 0;
};

struct Series {
  Labels labels;
  std::vector<Point> points;  // ascending time
};

struct Sample {
  Labels labels;
  int64_t t_ns = 0;
  double value = 0;
};

enum class ResultType { kStreams, kMatrix, kVector, kScalar };
std::string_view ResultTypeName(ResultType type);  // "streams", "matrix", ...

struct QueryStatistics {
  uint64_t segments = 0;         // segments whose blocks were read
  uint64_t blocks = 0;           // blocks decoded
  uint64_t bytes_read = 0;       // compressed bytes of those blocks
  uint64_t rows = 0;             // rows examined one by one
  uint64_t head_rows = 0;        // of which held in memory
  uint64_t head_bytes = 0;       // approximate bytes of those
  uint64_t lines = 0;            // lines that passed the pipeline
  uint64_t series = 0;           // series in the result
  bool count_fast_path = false;  // answered by LogStore::Count
  double took_ms = 0;
};

struct QueryResult {
  ResultType type = ResultType::kStreams;
  std::vector<Stream> streams;  // kStreams: sorted by labels
  std::vector<Series> matrix;   // kMatrix: sorted by labels
  std::vector<Sample> vector;   // kVector: sorted by labels (topk/bottomk: by rank)
  Point scalar;                 // kScalar
  QueryStatistics stats;
};

struct QueryLimits {
  size_t max_series = 500;           // series in a metric result (Loki's max_query_series)
  size_t max_inner_series = 100000;  // series inside the evaluation (memory bound)
  size_t max_points = 11000;         // evaluation steps of a range query
  int64_t timeout_ns = 120'000'000'000;
  // Scans of stores holding at least parallel_min_records records are split
  // into this many shards scanned on as many threads, their partial results
  // merged.
  size_t parallelism = 2;
  uint64_t parallel_min_records = 200'000;
};

struct QueryParams {
  std::string tenant{kDefaultTenant};
  // Log queries select lines with start_ns <= t < end_ns. Metric queries are
  // evaluated at start_ns, start_ns + step_ns, ... <= end_ns; an instant query
  // (step_ns == 0) once, at end_ns.
  int64_t start_ns = 0;
  int64_t end_ns = 0;
  int64_t step_ns = 0;
  size_t limit = 100;  // log lines returned
  Direction direction = Direction::kBackward;
  bool include_archive = false;
  // Log queries: split each line's labels as Loki's `categorize-labels`
  // encoding does: streams keyed by the indexed labels only, the rest in
  // Entry::metadata and Entry::parsed.
  bool categorize_labels = false;
  // Set to true from another thread to stop the query (a client went away);
  // it then fails with Cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

class Engine {
 public:
  // REQUIRES: store, clock and patterns outlive the engine. `patterns` (may
  // be null) resolves the pattern_id label and answers Patterns().
  explicit Engine(const LogStore* store, QueryLimits limits = {}, Clock* clock = Clock::Real(),
                  const PatternIndex* patterns = nullptr);

  // Parses and runs `query`. Errors: InvalidArgument (syntax, with position;
  // or a query the engine cannot run, named), ResourceExhausted (a limit),
  // DeadlineExceeded (timeout), Cancelled.
  Result<QueryResult> Run(std::string_view query, const QueryParams& params) const;
  Result<QueryResult> Run(const LogqlExpr& expr, const QueryParams& params) const;

  // The distinct label sets of the streams `selector` matches in
  // [start_ns, end_ns) (Loki's /series); an empty selector list means all.
  Result<std::vector<Labels>> Series(const std::vector<LogQuery>& selectors,
                                     const QueryParams& params) const;

  // Values of indexed label `name` (service_name reads as service) in
  // [start_ns, end_ns), of the streams `selector` (may be null) matches. Empty
  // for other names. Sorted.
  Result<std::vector<std::string>> LabelValues(std::string_view name, const LogQuery* selector,
                                               const QueryParams& params) const;
  // The indexed label names that have values in [start_ns, end_ns). Sorted.
  Result<std::vector<std::string>> LabelNames(const LogQuery* selector,
                                              const QueryParams& params) const;

  // Loki's /index/stats: streams, blocks ("chunks"), bytes of lines and lines
  // the selector matches in [start_ns, end_ns).
  struct IndexStats {
    uint64_t streams = 0;
    uint64_t chunks = 0;
    uint64_t bytes = 0;
    uint64_t entries = 0;
  };
  Result<IndexStats> Stats(const LogQuery& selector, const QueryParams& params) const;

  // The message templates of the lines the log query `query` selects in
  // [start_ns, end_ns) (its pipeline applies), biggest first: at most
  // params.limit of them, each with its volume per params.step_ns from
  // start_ns. Lines without a pattern id (stored before mining, or mining
  // off) are only counted. Needs the pattern index; InvalidArgument when
  // step_ns <= 0 or gives more than max_points buckets.
  struct PatternStats {
    uint32_t id = 0;            // canonical
    std::string service;        // whose template it is
    std::string text;           // with <*> for variables; empty if the index lacks it
    uint64_t count = 0;         // lines in the range
    int64_t first_seen_ns = 0;  // ever (the index's record)
    int64_t last_seen_ns = 0;
    bool is_new = false;            // first seen after its service's warm-up
    int64_t first_in_range_ns = 0;  // of the lines counted
    int64_t last_in_range_ns = 0;
    std::string sample;  // the newest line counted, after the pipeline
    int64_t sample_ns = 0;
    std::vector<uint64_t> volume;  // lines per step
  };
  struct PatternsResult {
    std::vector<PatternStats> patterns;
    uint64_t lines = 0;         // lines that passed the pipeline
    uint64_t unpatterned = 0;   // of which without a pattern id
    size_t total_patterns = 0;  // distinct patterns before the limit
    QueryStatistics stats;
  };
  // `only_new`: only templates first seen after their service's warm-up.
  Result<PatternsResult> Patterns(const LogQuery& query, const QueryParams& params,
                                  bool only_new = false) const;

  const QueryLimits& limits() const { return limits_; }
  const PatternIndex* patterns() const { return patterns_; }

 private:
  const LogStore* store_;
  QueryLimits limits_;
  Clock* clock_;
  const PatternIndex* patterns_;
};

// The label that reads a line's pattern (template) id, e.g. `| pattern_id = "17"`:
// like structured metadata, visible to filters and `by (...)`, not a stream label.
inline constexpr std::string_view kPatternIdLabel = "pattern_id";

// Label names of the indexed stream labels, in output order.
inline constexpr std::string_view kStreamLabelNames[] = {"instance", "level", "service", "source"};

// Formats a sample value as Prometheus does ("1", "0.25", "NaN", "+Inf").
std::string FormatSampleValue(double v);

// Runs single records through a LogQL log query (stream selector and
// pipeline), for streaming uses such as alert rules: the same semantics as a
// query over stored data, one record at a time, nothing read from the store.
// Not thread-safe (it keeps scratch buffers); copies share the compiled query.
class RecordMatcher {
 public:
  // InvalidArgument for a syntax error (with position) or a metric query.
  static Result<RecordMatcher> Make(std::string_view log_query);

  RecordMatcher() = default;
  RecordMatcher(const RecordMatcher& o) : impl_(o.impl_) {}
  RecordMatcher& operator=(const RecordMatcher& o) {
    impl_ = o.impl_;
    scratch_.reset();
    return *this;
  }
  RecordMatcher(RecordMatcher&&) = default;
  RecordMatcher& operator=(RecordMatcher&&) = default;

  // True when `r` passes the selector and every stage. Then, when `names`
  // is not empty, *values gets the value of each label named (after the
  // pipeline: extracted labels, attributes, stream labels; "" when absent).
  bool Match(const Record& r, const std::vector<std::string>& names,
             std::vector<std::string>* values);

 private:
  struct Impl;
  std::shared_ptr<const Impl> impl_;
  std::shared_ptr<void> scratch_;  // per copy (not shared by the copy constructor)
};

}  // namespace lode::logql
