// LokiApi: the Grafana Loki HTTP API over Lode's LogQL engine, so Grafana's
// Loki data source, logcli and Loki clients work against Lode unchanged.
//
//   GET|POST /loki/api/v1/query          instant query (vector, scalar, or streams)
//   GET|POST /loki/api/v1/query_range    range query (matrix or streams)
//   GET      /loki/api/v1/labels         indexed label names
//   GET      /loki/api/v1/label/<name>/values
//   GET|POST /loki/api/v1/series         label sets of the matching streams
//   GET      /loki/api/v1/index/stats    streams, chunks, bytes, entries
//   GET      /loki/api/v1/tail           live tail over a WebSocket
//   POST     /loki/api/v1/push           JSON (gzip ok) or snappy protobuf push
//   GET      /loki/api/v1/patterns       templates and their volume (Loki's shape)
//   GET      /api/v1/patterns            the same, Lode's richer answer: ids,
//                                        counts, first/last seen, new, sample
//   GET      /ready, /loki/api/v1/status/buildinfo
//
// Response shapes follow Loki's documentation; errors are plain text with
// the HTTP status Loki uses (400 for a bad query, 504 on timeout, 429 for a
// full ingest queue). X-Scope-OrgID selects the tenant.
#pragma once

#include <cstdint>
#include <string>

#include "bus/bus.h"
#include "common/clock.h"
#include "ingest/source_counters.h"
#include "query/logql_engine.h"
#include "query/tail.h"
#include "server/http_server.h"
#include "server/query_params.h"

namespace lode {

struct LokiApiOptions {
  size_t max_limit = 5000;  // log lines per query (Loki's max_entries_limit_per_query)
  size_t default_limit = 100;
  int64_t tail_interval_ns = 250'000'000;  // how often a tail pushes what arrived
  size_t tail_max_pending = 100000;        // per tail; beyond it lines are dropped (reported)
  uint64_t max_decoded_bytes = 256ull << 20;
  Clock* clock = Clock::Real();
};

class LokiApi {
 public:
  // REQUIRES: every pointer outlives the API.
  LokiApi(HttpServer* server, Bus* bus, const LogStore* store, TailHub* tail,
          const logql::Engine* engine, const LokiApiOptions& options);

  // Adds the routes. REQUIRES: before server->Start().
  void Register();

  // Counters of /loki/api/v1/push, for /metrics (source "loki").
  const SourceCounters& push_counters() const { return push_; }

 private:
  boost::asio::awaitable<HttpResponse> Query(HttpRequest& req, const RequestContext& ctx,
                                             bool range);
  boost::asio::awaitable<HttpResponse> Labels(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> LabelValues(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Series(HttpRequest& req, const RequestContext& ctx);
  boost::asio::awaitable<HttpResponse> IndexStats(HttpRequest& req, const RequestContext& ctx);
  boost::asio::awaitable<HttpResponse> Push(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Patterns(HttpRequest& req, const RequestContext& ctx,
                                                bool loki_shape);
  boost::asio::awaitable<void> Tail(HttpRequest& req, WebSocket& ws);
  // Tenant, time range (start/end/since, `lookback_ns` back by default) and
  // cancellation of the metadata endpoints.
  Result<logql::QueryParams> MetadataParams(const HttpRequest& req, const QueryParams& p,
                                            const RequestContext& ctx, int64_t lookback_ns) const;

  HttpServer* server_;
  Bus* bus_;
  const LogStore* store_;
  TailHub* tail_;
  const logql::Engine* engine_;
  LokiApiOptions options_;
  SourceCounters push_;
};

// Loki's time parameter forms: RFC 3339 (with or without fraction), Unix
// seconds with a fraction ("1700000000.5"), Unix seconds (<= 10 digits) or
// nanoseconds (more digits). InvalidArgument naming `name` otherwise.
Result<int64_t> ParseLokiTime(std::string_view name, std::string_view text);
// A step or interval: a duration ("15s", "1m30s") or seconds ("15", "0.5").
Result<int64_t> ParseLokiStep(std::string_view name, std::string_view text);
// Loki's default step for a range: (end - start) / 250, at least 1s, whole seconds.
int64_t DefaultLokiStep(int64_t start_ns, int64_t end_ns);

// The JSON `data` value of a query answer ({"resultType":..., "result":..., "stats":...}).
// `categorized`: the result was run with categorize_labels; stream values then
// carry {"structuredMetadata","parsed"} as a third element, as Loki writes
// them for `X-Loki-Response-Encoding-Flags: categorize-labels`.
std::string QueryResultJson(const logql::QueryResult& result, bool categorized = false);

}  // namespace lode
