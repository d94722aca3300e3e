#include "server/loki_api.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>
#include <charconv>
#include <cmath>

#include "common/json_writer.h"
#include "ingest/content_decoding.h"
#include "ingest/loki_push.h"
#include "lode/version.h"
#include "parse/duration.h"
#include "parse/level.h"
#include "parse/message_level.h"
#include "parse/timestamp.h"
#include "query/logql_parser.h"
#include "server/api.h"
#include "server/query_params.h"
#include "storage/memory_store.h"

namespace lode {

namespace asio = boost::asio;
namespace beast = boost::beast;

namespace {

constexpr int64_t kSecond = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr std::string_view kCategorizeLabels = "categorize-labels";

// Loki answers errors as plain text.
HttpResponse TextError(const HttpRequest& req, const Status& st) {
  HttpResponse res(HttpStatusFor(st.code()), req.version());
  res.set(http::field::server, "lode");
  res.set(http::field::content_type, "text/plain; charset=utf-8");
  if (st.code() == StatusCode::kResourceExhausted || st.code() == StatusCode::kUnavailable) {
    res.set(http::field::retry_after, "1");
  }
  res.keep_alive(req.keep_alive());
  res.body() = st.message();
  res.body() += '\n';
  res.prepare_payload();
  return res;
}

HttpResponse Success(const HttpRequest& req, std::string data_json) {
  std::string body;
  body.reserve(data_json.size() + 32);
  body += R"({"status":"success","data":)";
  body += data_json;
  body += '}';
  return JsonResponse(req, http::status::ok, std::move(body));
}

// Query parameters from the target and, for a form POST, the body.
QueryParams RequestParams(const HttpRequest& req) {
  QueryParams p = QueryParams::FromTarget(req.target());
  if (req.method() == http::verb::post &&
      req[http::field::content_type].starts_with("application/x-www-form-urlencoded")) {
    std::string merged(req.target());
    merged += merged.find('?') == std::string::npos ? '?' : '&';
    merged += req.body();
    return QueryParams::FromTarget(merged);
  }
  return p;
}

void WriteLabels(JsonWriter& w, const logql::Labels& labels) {
  w.BeginObject();
  for (const auto& [k, v] : labels) w.Key(k).String(v);
  w.EndObject();
}

// Prometheus-style sample time: Unix seconds as a JSON number, millisecond precision.
void WriteSampleTime(JsonWriter& w, int64_t t_ns) {
  const int64_t ms = t_ns / 1'000'000;
  std::string s = fmt::format("{}.{:03d}", ms / 1000, static_cast<int>(std::llabs(ms % 1000)));
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  w.Raw(s);
}

void WriteStats(JsonWriter& w, const logql::QueryStatistics& st, size_t returned) {
  const double secs = st.took_ms / 1000.0;
  const double per_s = secs > 0 ? 1.0 / secs : 0;
  w.Key("stats").BeginObject();
  w.Key("summary")
      .BeginObject()
      .Key("bytesProcessedPerSecond")
      .Uint(static_cast<uint64_t>(static_cast<double>(st.bytes_read + st.head_bytes) * per_s))
      .Key("linesProcessedPerSecond")
      .Uint(static_cast<uint64_t>(static_cast<double>(st.rows) * per_s))
      .Key("totalBytesProcessed")
      .Uint(st.bytes_read + st.head_bytes)
      .Key("totalLinesProcessed")
      .Uint(st.rows)
      .Key("execTime")
      .Double(secs)
      .Key("queueTime")
      .Double(0)
      .Key("totalEntriesReturned")
      .Uint(returned)
      .EndObject();
  w.Key("lode")
      .BeginObject()
      .Key("segments")
      .Uint(st.segments)
      .Key("blocks")
      .Uint(st.blocks)
      .Key("bytesRead")
      .Uint(st.bytes_read)
      .Key("rows")
      .Uint(st.rows)
      .Key("headRows")
      .Uint(st.head_rows)
      .Key("linesMatched")
      .Uint(st.lines)
      .Key("series")
      .Uint(st.series)
      .Key("countFastPath")
      .Bool(st.count_fast_path)
      .Key("tookMs")
      .Double(st.took_ms)
      .EndObject();
  w.EndObject();
}

// `categorized`: values carry a third element with the entry's structured
// metadata and parsed labels when it has any (Loki's categorize-labels).
void WriteStreams(JsonWriter& w, const std::vector<logql::Stream>& streams,
                  bool categorized = false) {
  w.BeginArray();
  for (const auto& s : streams) {
    w.BeginObject().Key("stream");
    WriteLabels(w, s.labels);
    w.Key("values").BeginArray();
    for (const auto& e : s.entries) {
      w.BeginArray().String(std::to_string(e.timestamp_ns)).String(e.line);
      if (categorized && (!e.metadata.empty() || !e.parsed.empty())) {
        w.BeginObject();
        if (!e.metadata.empty()) {
          w.Key("structuredMetadata");
          WriteLabels(w, e.metadata);
        }
        if (!e.parsed.empty()) {
          w.Key("parsed");
          WriteLabels(w, e.parsed);
        }
        w.EndObject();
      }
      w.EndArray();
    }
    w.EndArray().EndObject();
  }
  w.EndArray();
}

Result<size_t> LimitParam(const QueryParams& p, const LokiApiOptions& o) {
  auto v = p.Get("limit");
  if (!v || v->empty()) return o.default_limit;
  size_t n = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || ptr != v->data() + v->size()) {
    return Status::InvalidArgument("invalid limit \"" + std::string(*v) + "\": not a whole number");
  }
  if (n > o.max_limit) {
    return Status::InvalidArgument(
        fmt::format("max entries limit per query exceeded, limit > max_entries_limit ({} > {})", n,
                    o.max_limit));
  }
  return n;
}

Result<Direction> DirectionParam(const QueryParams& p) {
  auto v = p.Get("direction");
  if (!v || v->empty() || *v == "backward" || *v == "BACKWARD") return Direction::kBackward;
  if (*v == "forward" || *v == "FORWARD") return Direction::kForward;
  return Status::InvalidArgument("invalid direction \"" + std::string(*v) +
                                 "\": want forward or backward");
}

// start/end/since as Loki reads them: end defaults to now, start to end - since
// (since defaults to `lookback`: 1h for queries, 6h for the label endpoints).
Status RangeParams(const QueryParams& p, int64_t now_ns, int64_t* start, int64_t* end,
                   int64_t lookback = kHour) {
  *end = now_ns;
  if (auto v = p.Get("end"); v && !v->empty()) {
    LODE_ASSIGN_OR_RETURN(*end, ParseLokiTime("end", *v));
  }
  int64_t since = lookback;
  if (auto v = p.Get("since"); v && !v->empty()) {
    LODE_ASSIGN_OR_RETURN(since, ParseDuration(*v));
  }
  *start = *end - since;
  if (auto v = p.Get("start"); v && !v->empty()) {
    LODE_ASSIGN_OR_RETURN(*start, ParseLokiTime("start", *v));
  }
  if (*end < *start) {
    return Status::InvalidArgument("end timestamp must not be before start time");
  }
  return Status::OK();
}

Result<LogQuery> ParseSelector(std::string_view text) {
  LODE_ASSIGN_OR_RETURN(LogqlExpr expr, ParseLogql(text));
  auto* q = std::get_if<LogQuery>(&expr);
  if (q == nullptr) {
    return Status::InvalidArgument("expected a stream selector, got a metric query: " +
                                   std::string(text));
  }
  return std::move(*q);
}

// The optional `query` of the label, index stats and patterns endpoints.
Result<std::optional<LogQuery>> OptionalSelector(const QueryParams& p) {
  auto q = p.Get("query");
  if (!q || q->empty()) return std::optional<LogQuery>();
  LODE_ASSIGN_OR_RETURN(LogQuery selector, ParseSelector(*q));
  return std::optional<LogQuery>(std::move(selector));
}

std::string StringArrayJson(const std::vector<std::string>& values) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const auto& v : values) w.String(v);
  w.EndArray();
  return out;
}

// Labels of a pushed stream → the record's indexed fields; the rest become attributes.
void ApplyPushLabels(const LabelPairs& labels, Record* r) {
  for (const auto& [k, v] : labels) {
    if (k == "service" || k == "service_name" ||
        ((k == "app" || k == "job" || k == "application" || k == "container") &&
         r->service.empty())) {
      if (k == "service" || k == "service_name" || r->service.empty()) {
        r->service = v;
        if (k == "service" || k == "service_name") continue;
      }
    } else if (k == "instance" || ((k == "host" || k == "hostname" || k == "pod" || k == "node") &&
                                   r->instance.empty())) {
      r->instance = v;
      if (k == "instance") continue;
    } else if (k == "level" || k == "detected_level" || k == "severity" || k == "lvl") {
      Level l = ParseLevel(v);
      if (l != Level::kUnknown) {
        r->level = l;
        continue;
      }
    } else if (k == "source") {
      r->source = v;
      continue;
    }
    r->attributes.push_back(Attribute{k, v});
  }
}

Result<int64_t> PushTimestamp(simdjson::dom::element e) {
  if (e.is_string()) {
    std::string_view s = e.get_string().value_unsafe();
    int64_t ns = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), ns);
    if (ec == std::errc() && ptr == s.data() + s.size()) return ns;
    return Status::InvalidArgument("timestamp \"" + std::string(s) +
                                   "\" is not a Unix epoch in nanoseconds");
  }
  if (e.is_int64()) return e.get_int64().value_unsafe();
  if (e.is_uint64()) return static_cast<int64_t>(e.get_uint64().value_unsafe());
  return Status::InvalidArgument("timestamp must be a string of Unix epoch nanoseconds");
}

}  // namespace

Result<int64_t> ParseLokiTime(std::string_view name, std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid " + std::string(name) + " \"" + std::string(text) +
                                   "\": want RFC 3339 or a Unix epoch (seconds or nanoseconds)");
  };
  if (text.empty()) return bad();
  bool digits = true, dot = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '.' && !dot) {
      dot = true;
    } else if (!(c >= '0' && c <= '9') && !(i == 0 && c == '-')) {
      digits = false;
    }
  }
  if (digits && dot) {
    double secs = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
    if (ec != std::errc() || ptr != text.data() + text.size()) return bad();
    return static_cast<int64_t>(std::llround(secs * 1e9));
  }
  if (digits) {
    int64_t v = 0;
    auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || ptr != text.data() + text.size()) return bad();
    const size_t len = text.size() - (text[0] == '-' ? 1 : 0);
    return len <= 10 ? v * kSecond : v;
  }
  Result<int64_t> t = ParseTimestamp(text, 0);
  if (!t.ok()) return bad();
  return *t;
}

Result<int64_t> ParseLokiStep(std::string_view name, std::string_view text) {
  double secs = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), secs);
  int64_t ns = 0;
  if (ec == std::errc() && ptr == text.data() + text.size()) {
    ns = static_cast<int64_t>(std::llround(secs * 1e9));
  } else {
    Result<int64_t> d = ParseDuration(text);
    if (!d.ok()) {
      return Status::InvalidArgument("invalid " + std::string(name) + " \"" + std::string(text) +
                                     "\": want a duration (\"15s\") or seconds (\"15\")");
    }
    ns = *d;
  }
  if (ns <= 0) {
    return Status::InvalidArgument(
        "zero or negative query resolution step widths are not "
        "accepted. Try a positive integer");
  }
  return ns;
}

int64_t DefaultLokiStep(int64_t start_ns, int64_t end_ns) {
  const double secs = static_cast<double>(end_ns - start_ns) / 1e9;
  return std::max<int64_t>(static_cast<int64_t>(std::floor(secs / 250)), 1) * kSecond;
}

std::string QueryResultJson(const logql::QueryResult& result, bool categorized) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  if (categorized && result.type == logql::ResultType::kStreams) {
    w.Key("encodingFlags").BeginArray().String(kCategorizeLabels).EndArray();
  }
  w.Key("resultType").String(logql::ResultTypeName(result.type)).Key("result");
  size_t returned = 0;
  switch (result.type) {
    case logql::ResultType::kStreams:
      WriteStreams(w, result.streams, categorized);
      for (const auto& s : result.streams) returned += s.entries.size();
      break;
    case logql::ResultType::kMatrix:
      w.BeginArray();
      for (const auto& s : result.matrix) {
        w.BeginObject().Key("metric");
        WriteLabels(w, s.labels);
        w.Key("values").BeginArray();
        for (const auto& p : s.points) {
          w.BeginArray();
          WriteSampleTime(w, p.t_ns);
          w.String(logql::FormatSampleValue(p.value)).EndArray();
        }
        w.EndArray().EndObject();
        returned += s.points.size();
      }
      w.EndArray();
      break;
    case logql::ResultType::kVector:
      w.BeginArray();
      for (const auto& s : result.vector) {
        w.BeginObject().Key("metric");
        WriteLabels(w, s.labels);
        w.Key("value").BeginArray();
        WriteSampleTime(w, s.t_ns);
        w.String(logql::FormatSampleValue(s.value)).EndArray().EndObject();
      }
      w.EndArray();
      returned = result.vector.size();
      break;
    case logql::ResultType::kScalar:
      w.BeginArray();
      WriteSampleTime(w, result.scalar.t_ns);
      w.String(logql::FormatSampleValue(result.scalar.value)).EndArray();
      returned = 1;
      break;
  }
  WriteStats(w, result.stats, returned);
  w.EndObject();
  return out;
}

LokiApi::LokiApi(HttpServer* server, Bus* bus, const LogStore* store, TailHub* tail,
                 const logql::Engine* engine, const LokiApiOptions& options)
    : server_(server), bus_(bus), store_(store), tail_(tail), engine_(engine), options_(options) {}

void LokiApi::Register() {
  for (auto verb : {http::verb::get, http::verb::post}) {
    server_->RouteCancellable(
        verb, "/loki/api/v1/query",
        [this](HttpRequest& r, const RequestContext& c) { return Query(r, c, false); });
    server_->RouteCancellable(
        verb, "/loki/api/v1/query_range",
        [this](HttpRequest& r, const RequestContext& c) { return Query(r, c, true); });
    server_->RouteCancellable(
        verb, "/loki/api/v1/series",
        [this](HttpRequest& r, const RequestContext& c) { return Series(r, c); });
  }
  server_->Route(http::verb::get, "/loki/api/v1/labels",
                 [this](HttpRequest& r) { return Labels(r); });
  server_->RoutePrefix(http::verb::get, "/loki/api/v1/label/",
                       [this](HttpRequest& r) { return LabelValues(r); });
  for (auto verb : {http::verb::get, http::verb::post}) {
    server_->RouteCancellable(
        verb, "/loki/api/v1/index/stats",
        [this](HttpRequest& r, const RequestContext& c) { return IndexStats(r, c); });
  }
  server_->Route(http::verb::post, "/loki/api/v1/push", [this](HttpRequest& r) { return Push(r); });
  server_->RouteCancellable(
      http::verb::get, "/loki/api/v1/patterns",
      [this](HttpRequest& r, const RequestContext& c) { return Patterns(r, c, true); });
  server_->RouteCancellable(
      http::verb::get, "/api/v1/patterns",
      [this](HttpRequest& r, const RequestContext& c) { return Patterns(r, c, false); });
  server_->RouteWebSocket("/loki/api/v1/tail",
                          [this](HttpRequest& r, WebSocket& ws) { return Tail(r, ws); });
  auto ready = [](HttpRequest& r) -> asio::awaitable<HttpResponse> {
    HttpResponse res(http::status::ok, r.version());
    res.set(http::field::content_type, "text/plain");
    res.keep_alive(r.keep_alive());
    res.body() = "ready\n";
    res.prepare_payload();
    co_return res;
  };
  server_->Route(http::verb::get, "/ready", ready);
  server_->Route(http::verb::get, "/loki/api/v1/status/buildinfo",
                 [](HttpRequest& r) -> asio::awaitable<HttpResponse> {
                   std::string body;
                   JsonWriter w(&body);
                   w.BeginObject()
                       .Key("version")
                       .String(kVersion)
                       .Key("revision")
                       .String("")
                       .Key("branch")
                       .String("")
                       .Key("buildUser")
                       .String("")
                       .Key("buildDate")
                       .String("")
                       .Key("goVersion")
                       .String("")
                       .EndObject();
                   co_return JsonResponse(r, http::status::ok, std::move(body));
                 });
}

Result<logql::QueryParams> LokiApi::MetadataParams(const HttpRequest& req, const QueryParams& p,
                                                   const RequestContext& ctx,
                                                   int64_t lookback_ns) const {
  logql::QueryParams qp;
  LODE_ASSIGN_OR_RETURN(qp.tenant, TenantOf(req));
  qp.cancel = ctx.cancelled.get();
  LODE_RETURN_IF_ERROR(
      RangeParams(p, options_.clock->NowNanos(), &qp.start_ns, &qp.end_ns, lookback_ns));
  return qp;
}

asio::awaitable<HttpResponse> LokiApi::Query(HttpRequest& req, const RequestContext& ctx,
                                             bool range) {
  const QueryParams p = RequestParams(req);
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return TextError(req, tenant.status());
  auto q = p.Get("query");
  if (!q || q->empty())
    co_return TextError(req, Status::InvalidArgument("missing query parameter \"query\""));
  auto expr = ParseLogql(*q);
  if (!expr.ok()) co_return TextError(req, expr.status());

  logql::QueryParams qp;
  qp.tenant = *tenant;
  qp.cancel = ctx.cancelled.get();
  auto limit = LimitParam(p, options_);
  if (!limit.ok()) co_return TextError(req, limit.status());
  qp.limit = *limit;
  auto dir = DirectionParam(p);
  if (!dir.ok()) co_return TextError(req, dir.status());
  qp.direction = *dir;
  const int64_t now = options_.clock->NowNanos();
  const bool metric = std::holds_alternative<MetricExpr>(*expr);
  // Grafana asks for entries with their metadata split out (the web UI too).
  qp.categorize_labels = !metric && req["X-Loki-Response-Encoding-Flags"].find(kCategorizeLabels) !=
                                        std::string_view::npos;
  if (range) {
    Status st = RangeParams(p, now, &qp.start_ns, &qp.end_ns);
    if (!st.ok()) co_return TextError(req, st);
    if (metric) {
      qp.step_ns = DefaultLokiStep(qp.start_ns, qp.end_ns);
      if (auto s = p.Get("step"); s && !s->empty()) {
        auto step = ParseLokiStep("step", *s);
        if (!step.ok()) co_return TextError(req, step.status());
        qp.step_ns = *step;
      }
    }
  } else {
    int64_t t = now;
    if (auto v = p.Get("time"); v && !v->empty()) {
      auto parsed = ParseLokiTime("time", *v);
      if (!parsed.ok()) co_return TextError(req, parsed.status());
      t = *parsed;
    }
    // An instant log query looks back an hour (Loki's default query range).
    qp.end_ns = metric ? t : t + 1;
    qp.start_ns = metric ? t : t - kHour;
  }
  auto result =
      co_await server_->RunBlocking([this, &expr, &qp] { return engine_->Run(*expr, qp); });
  if (!result.ok()) co_return TextError(req, result.status());
  co_return Success(req, QueryResultJson(*result, qp.categorize_labels));
}

asio::awaitable<HttpResponse> LokiApi::Labels(HttpRequest& req) {
  const QueryParams p = RequestParams(req);
  auto qp = MetadataParams(req, p, RequestContext{}, 6 * kHour);
  if (!qp.ok()) co_return TextError(req, qp.status());
  auto selector = OptionalSelector(p);
  if (!selector.ok()) co_return TextError(req, selector.status());
  auto names = co_await server_->RunBlocking([this, &selector, &qp] {
    return engine_->LabelNames(*selector ? &**selector : nullptr, *qp);
  });
  if (!names.ok()) co_return TextError(req, names.status());
  co_return Success(req, StringArrayJson(*names));
}

asio::awaitable<HttpResponse> LokiApi::LabelValues(HttpRequest& req) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  constexpr std::string_view kPrefix = "/loki/api/v1/label/";
  constexpr std::string_view kSuffix = "/values";
  if (!path.ends_with(kSuffix) || path.size() <= kPrefix.size() + kSuffix.size()) {
    co_return TextError(req, Status::NotFound("no such endpoint: " + std::string(path)));
  }
  const std::string name = QueryParams::Decode(
      path.substr(kPrefix.size(), path.size() - kPrefix.size() - kSuffix.size()));
  const QueryParams p = RequestParams(req);
  auto qp = MetadataParams(req, p, RequestContext{}, 6 * kHour);
  if (!qp.ok()) co_return TextError(req, qp.status());
  auto selector = OptionalSelector(p);
  if (!selector.ok()) co_return TextError(req, selector.status());
  auto values = co_await server_->RunBlocking([this, &name, &selector, &qp] {
    return engine_->LabelValues(name, *selector ? &**selector : nullptr, *qp);
  });
  if (!values.ok()) co_return TextError(req, values.status());
  co_return Success(req, StringArrayJson(*values));
}

asio::awaitable<HttpResponse> LokiApi::Series(HttpRequest& req, const RequestContext& ctx) {
  const QueryParams p = RequestParams(req);
  auto qp = MetadataParams(req, p, ctx, kHour);
  if (!qp.ok()) co_return TextError(req, qp.status());
  std::vector<LogQuery> selectors;
  for (std::string_view m : p.GetAll("match[]")) {
    auto s = ParseSelector(m);
    if (!s.ok()) co_return TextError(req, s.status());
    selectors.push_back(std::move(*s));
  }
  for (std::string_view m : p.GetAll("match")) {
    auto s = ParseSelector(m);
    if (!s.ok()) co_return TextError(req, s.status());
    selectors.push_back(std::move(*s));
  }
  auto series = co_await server_->RunBlocking(
      [this, &selectors, &qp] { return engine_->Series(selectors, *qp); });
  if (!series.ok()) co_return TextError(req, series.status());
  std::string data;
  JsonWriter w(&data);
  w.BeginArray();
  for (const auto& labels : *series) WriteLabels(w, labels);
  w.EndArray();
  co_return Success(req, std::move(data));
}

asio::awaitable<HttpResponse> LokiApi::IndexStats(HttpRequest& req, const RequestContext& ctx) {
  const QueryParams p = RequestParams(req);
  auto qp = MetadataParams(req, p, ctx, kHour);
  if (!qp.ok()) co_return TextError(req, qp.status());
  auto given = OptionalSelector(p);
  if (!given.ok()) co_return TextError(req, given.status());
  const LogQuery selector = std::move(*given).value_or(LogQuery{});
  auto stats = co_await server_->RunBlocking(
      [this, &selector, &qp] { return engine_->Stats(selector, *qp); });
  if (!stats.ok()) co_return TextError(req, stats.status());
  std::string body;
  JsonWriter w(&body);
  w.BeginObject()
      .Key("streams")
      .Uint(stats->streams)
      .Key("chunks")
      .Uint(stats->chunks)
      .Key("bytes")
      .Uint(stats->bytes)
      .Key("entries")
      .Uint(stats->entries)
      .EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(body));
}

// query (a log query; default every line), start/end/since (default the last
// hour), step (default (end - start) / 250, at least 1s), limit (templates,
// default 100), new=true (only templates first seen after the warm-up).
asio::awaitable<HttpResponse> LokiApi::Patterns(HttpRequest& req, const RequestContext& ctx,
                                                bool loki_shape) {
  const QueryParams p = RequestParams(req);
  auto qp = MetadataParams(req, p, ctx, kHour);
  if (!qp.ok()) co_return TextError(req, qp.status());
  auto given = OptionalSelector(p);
  if (!given.ok()) co_return TextError(req, given.status());
  const LogQuery query = std::move(*given).value_or(LogQuery{});
  qp->step_ns = DefaultLokiStep(qp->start_ns, qp->end_ns);
  if (auto s = p.Get("step"); s && !s->empty()) {
    auto step = ParseLokiStep("step", *s);
    if (!step.ok()) co_return TextError(req, step.status());
    qp->step_ns = *step;
  }
  auto limit = LimitParam(p, options_);
  if (!limit.ok()) co_return TextError(req, limit.status());
  qp->limit = *limit;
  bool only_new = false;
  if (auto v = p.Get("new"); v && !v->empty()) {
    if (*v != "true" && *v != "false") {
      co_return TextError(req, Status::InvalidArgument("invalid new \"" + std::string(*v) +
                                                       "\": want true or false"));
    }
    only_new = *v == "true";
  }
  auto result = co_await server_->RunBlocking(
      [this, &query, &qp, only_new] { return engine_->Patterns(query, *qp, only_new); });
  if (!result.ok()) co_return TextError(req, result.status());

  std::string body;
  JsonWriter w(&body);
  auto bucket_time = [&](size_t k) { return qp->start_ns + static_cast<int64_t>(k) * qp->step_ns; };
  if (loki_shape) {
    // Loki: [{"pattern": "<_> ...", "samples": [[unix seconds, count], ...]}],
    // samples only where the count is not zero.
    w.BeginArray();
    for (const auto& pat : result->patterns) {
      std::string text = pat.text;
      for (size_t at = text.find("<*>"); at != std::string::npos; at = text.find("<*>", at + 3)) {
        text.replace(at, 3, "<_>");
      }
      w.BeginObject().Key("pattern").String(text).Key("samples").BeginArray();
      for (size_t k = 0; k < pat.volume.size(); ++k) {
        if (pat.volume[k] == 0) continue;
        w.BeginArray().Int(bucket_time(k) / kSecond).Uint(pat.volume[k]).EndArray();
      }
      w.EndArray().EndObject();
    }
    w.EndArray();
    co_return Success(req, std::move(body));
  }
  auto time = [&](std::string_view key, int64_t ns) {
    w.Key(key).String(FormatRfc3339(ns));
    w.Key(std::string(key) + "_ns").String(std::to_string(ns));
  };
  w.BeginObject();
  w.Key("start_ns").String(std::to_string(qp->start_ns));
  w.Key("end_ns").String(std::to_string(qp->end_ns));
  w.Key("step_ns").String(std::to_string(qp->step_ns));
  w.Key("lines").Uint(result->lines);
  w.Key("unpatterned").Uint(result->unpatterned);
  w.Key("total_patterns").Uint(result->total_patterns);
  w.Key("patterns").BeginArray();
  for (const auto& pat : result->patterns) {
    w.BeginObject();
    w.Key("id").String(std::to_string(pat.id));
    w.Key("service").String(pat.service);
    w.Key("pattern").String(pat.text);
    w.Key("count").Uint(pat.count);
    time("first_seen", pat.first_seen_ns);
    time("last_seen", pat.last_seen_ns);
    w.Key("new").Bool(pat.is_new);
    time("first_in_range", pat.first_in_range_ns);
    time("last_in_range", pat.last_in_range_ns);
    w.Key("sample").String(pat.sample);
    w.Key("sample_ns").String(std::to_string(pat.sample_ns));
    w.Key("volume").BeginArray();
    for (uint64_t n : pat.volume) w.Uint(n);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  {
    logql::QueryStatistics st = result->stats;
    WriteStats(w, st, result->patterns.size());
  }
  w.EndObject();
  co_return Success(req, std::move(body));
}

asio::awaitable<HttpResponse> LokiApi::Push(HttpRequest& req) {
  ++push_.requests;
  push_.bytes += req.body().size();
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return TextError(req, tenant.status());
  RecordBatch batch;
  batch.tenant = *tenant;
  std::vector<std::string> errors;
  size_t rejected = 0;
  const int64_t now = options_.clock->NowNanos();
  auto reject = [&](std::string what) {
    ++rejected;
    if (errors.size() < 20) errors.push_back(std::move(what));
  };
  // One entry of a stream, whichever the encoding.
  auto add = [&](const LabelPairs& labels, int64_t ts, std::string_view line,
                 const LabelPairs& metadata) {
    Record r;
    r.timestamp_ns = ts;
    r.observed_ns = now;
    r.tenant = *tenant;
    r.source = "loki";
    r.message = std::string(line);
    ApplyPushLabels(labels, &r);
    if (r.level == Level::kUnknown) r.level = LevelFromMessage(r.message);
    for (const auto& [k, v] : metadata) r.attributes.push_back(Attribute{k, v});
    batch.records.push_back(std::move(r));
  };

  std::string_view content_type = req[http::field::content_type];
  if (content_type.starts_with("application/x-protobuf")) {
    // Snappy-compressed protobuf: what Promtail, Alloy and most clients send.
    std::string raw;
    Status st = SnappyUncompress(req.body(), options_.max_decoded_bytes, &raw);
    std::vector<PushStream> streams;
    if (st.ok()) st = DecodePushRequest(raw, &streams);
    if (!st.ok()) co_return TextError(req, st);
    for (size_t si = 0; si < streams.size(); ++si) {
      for (const PushEntry& e : streams[si].entries)
        add(streams[si].labels, e.timestamp_ns, e.line, e.metadata);
    }
  } else {
    std::string decoded;
    std::string* body = &req.body();
    auto enc = req[http::field::content_encoding];
    if (!enc.empty() && enc != "identity") {
      Status s = DecodeContent(enc, req.body(), options_.max_decoded_bytes, &decoded);
      if (!s.ok()) co_return TextError(req, s);
      body = &decoded;
    }
    simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (auto err = parser.parse(*body).get(root); err) {
      co_return TextError(req,
                          Status::InvalidArgument(std::string("push body is not valid JSON: ") +
                                                  simdjson::error_message(err)));
    }
    simdjson::dom::array streams;
    if (root.at_key("streams").get_array().get(streams)) {
      co_return TextError(req, Status::InvalidArgument("push body needs a \"streams\" array"));
    }
    size_t si = 0;
    for (simdjson::dom::element stream : streams) {
      const size_t stream_index = si++;
      LabelPairs labels;
      simdjson::dom::object labels_obj;
      if (!stream.at_key("stream").get_object().get(labels_obj)) {
        for (auto [k, v] : labels_obj) {
          std::string_view sv;
          if (v.get_string().get(sv)) {
            reject(fmt::format("stream {}: label \"{}\" is not a string", stream_index, k));
            continue;
          }
          labels.emplace_back(std::string(k), std::string(sv));
        }
      }
      simdjson::dom::array values;
      if (stream.at_key("values").get_array().get(values)) {
        reject(fmt::format("stream {}: missing \"values\" array", stream_index));
        continue;
      }
      size_t vi = 0;
      for (simdjson::dom::element value : values) {
        const size_t value_index = vi++;
        simdjson::dom::array entry;
        if (value.get_array().get(entry) || entry.size() < 2) {
          reject(fmt::format("stream {} value {}: want [\"<unix ns>\", \"<line>\"]", stream_index,
                             value_index));
          continue;
        }
        auto ts = PushTimestamp(entry.at(0).value_unsafe());
        if (!ts.ok()) {
          reject(fmt::format("stream {} value {}: {}", stream_index, value_index,
                             ts.status().message()));
          continue;
        }
        std::string_view line;
        if (entry.at(1).get_string().get(line)) {
          reject(fmt::format("stream {} value {}: the line must be a string", stream_index,
                             value_index));
          continue;
        }
        LabelPairs metadata;
        if (entry.size() >= 3) {
          simdjson::dom::object meta;
          if (!entry.at(2).get_object().get(meta)) {
            for (auto [k, v] : meta) {
              std::string_view sv;
              if (!v.get_string().get(sv)) metadata.emplace_back(std::string(k), std::string(sv));
            }
          }
        }
        add(labels, *ts, line, metadata);
      }
    }
  }
  push_.rejected += rejected;
  if (!batch.records.empty()) {
    Status ps = co_await PublishCounted(bus_, std::move(batch), &push_);
    if (!ps.ok()) co_return TextError(req, ps);
  }
  if (rejected > 0) {
    std::string msg = fmt::format("{} entries rejected (the others were stored):", rejected);
    for (const auto& e : errors) msg += "\n" + e;
    co_return TextError(req, Status::InvalidArgument(msg));
  }
  HttpResponse res(http::status::no_content, req.version());
  res.set(http::field::server, "lode");
  res.keep_alive(req.keep_alive());
  res.prepare_payload();
  co_return res;
}

asio::awaitable<void> LokiApi::Tail(HttpRequest& req, WebSocket& ws) {
  using namespace asio::experimental::awaitable_operators;
  const QueryParams p = RequestParams(req);
  auto close_with = [&](const Status& st) -> asio::awaitable<void> {
    boost::system::error_code ec;
    beast::websocket::close_reason reason(beast::websocket::close_code::policy_error);
    const std::string_view msg = st.message();
    reason.reason.assign(msg.data(), std::min<size_t>(msg.size(), 120));  // at most 123 bytes
    co_await ws.async_close(reason, asio::redirect_error(asio::use_awaitable, ec));
  };
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return co_await close_with(tenant.status());
  auto q = p.Get("query");
  if (!q || q->empty()) {
    co_return co_await close_with(Status::InvalidArgument("missing query parameter \"query\""));
  }
  auto expr = ParseLogql(*q);
  if (!expr.ok()) co_return co_await close_with(expr.status());
  if (!std::holds_alternative<LogQuery>(*expr)) {
    co_return co_await close_with(
        Status::InvalidArgument("tail needs a log query, not a metric query"));
  }
  auto limit = LimitParam(p, options_);
  if (!limit.ok()) co_return co_await close_with(limit.status());
  // Browsers cannot set headers on a WebSocket: the flag may come as a parameter.
  const bool categorize =
      req["X-Loki-Response-Encoding-Flags"].find(kCategorizeLabels) != std::string_view::npos ||
      p.Get("categorize_labels") == "true";
  const int64_t now = options_.clock->NowNanos();
  int64_t start = now - kHour;
  if (auto v = p.Get("start"); v && !v->empty()) {
    auto t = ParseLokiTime("start", *v);
    if (!t.ok()) co_return co_await close_with(t.status());
    start = *t;
  }

  // Subscribe before reading the backlog, so nothing falls between the two;
  // lines seen in both are sent once (the backlog ends at `now`).
  auto sub = tail_->Subscribe(*tenant, options_.tail_max_pending);
  struct Unsub {
    TailHub* hub;
    std::shared_ptr<TailHub::Subscription> sub;
    ~Unsub() { hub->Unsubscribe(sub); }
  } unsub{tail_, sub};

  ws.text(true);
  auto send = [&](const logql::QueryResult& r, uint64_t dropped) -> asio::awaitable<bool> {
    if (r.streams.empty() && dropped == 0) co_return true;
    std::string msg;
    JsonWriter w(&msg);
    w.BeginObject().Key("streams");
    WriteStreams(w, r.streams, categorize);
    w.Key("dropped_entries");
    if (dropped == 0) {
      w.Null();
    } else {
      // Loki lists each dropped entry; we only know how many were dropped.
      w.BeginArray();
      for (uint64_t i = 0; i < std::min<uint64_t>(dropped, 100); ++i) {
        w.BeginObject()
            .Key("labels")
            .BeginObject()
            .EndObject()
            .Key("timestamp")
            .String(std::to_string(options_.clock->NowNanos()))
            .EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
    boost::system::error_code ec;
    co_await ws.async_write(asio::buffer(msg), asio::redirect_error(asio::use_awaitable, ec));
    co_return !ec;
  };

  logql::QueryParams backlog;
  backlog.tenant = *tenant;
  backlog.start_ns = start;
  backlog.end_ns = now;
  backlog.limit = *limit;
  backlog.direction = Direction::kBackward;
  backlog.categorize_labels = categorize;
  auto first = co_await server_->RunBlocking([&] { return engine_->Run(*expr, backlog); });
  if (!first.ok()) co_return co_await close_with(first.status());
  // Oldest first, as a tail shows them.
  for (auto& s : first->streams) std::reverse(s.entries.begin(), s.entries.end());
  if (!co_await send(*first, 0)) co_return;

  bool closed = false;
  auto reader = [&]() -> asio::awaitable<void> {
    beast::flat_buffer buf;
    boost::system::error_code ec;
    for (;;) {
      co_await ws.async_read(buf, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) break;
      buf.consume(buf.size());
    }
    closed = true;
  };
  auto writer = [&]() -> asio::awaitable<void> {
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!closed) {
      timer.expires_after(std::chrono::nanoseconds(options_.tail_interval_ns));
      boost::system::error_code ec;
      co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (ec || closed) co_return;
      uint64_t dropped = 0;
      std::vector<Record> fresh = sub->Take(&dropped);
      if (fresh.empty() && dropped == 0) continue;
      // Lines stamped before `now` were in the backlog already.
      std::erase_if(fresh, [&](const Record& r) { return r.observed_ns < now; });
      MemoryStore batch(std::move(fresh));
      logql::Engine local(&batch, engine_->limits(), options_.clock, engine_->patterns());
      logql::QueryParams qp;
      qp.tenant = *tenant;
      qp.start_ns = INT64_MIN / 2;
      qp.end_ns = INT64_MAX / 2;
      qp.limit = options_.tail_max_pending;
      qp.direction = Direction::kForward;
      qp.categorize_labels = categorize;
      auto r = local.Run(*expr, qp);
      if (!r.ok()) {
        co_await close_with(r.status());
        co_return;
      }
      if (!co_await send(*r, dropped)) co_return;
    }
  };
  co_await (reader() || writer());
}

}  // namespace lode
