#include "server/api.h"

#include <fmt/format.h>
#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <chrono>
#include <unordered_map>

#include "common/crc32c.h"
#include "common/json_writer.h"
#include "ingest/cloudwatch.h"
#include "ingest/content_decoding.h"
#include "ingest/otlp.h"
#include "ingest/protobuf_wire.h"
#include "parse/duration.h"
#include "parse/json_record.h"
#include "parse/timestamp.h"
#include "query/log_query.h"
#include "server/query_params.h"
#include "server/record_json.h"
#include "server/web_ui.h"

namespace lode {

namespace asio = boost::asio;

namespace {

// Each I/O thread parses with its own parser (simdjson buffers are reused).
JsonRecordParser& ThreadParser() {
  thread_local JsonRecordParser parser;
  return parser;
}

Status BadParam(std::string_view name, std::string_view why) {
  return Status::InvalidArgument("parameter \"" + std::string(name) + "\": " + std::string(why));
}

Status CheckUnknown(const QueryParams& params, std::initializer_list<std::string_view> known) {
  auto unknown = params.Unknown(known);
  if (unknown.empty()) return Status::OK();
  std::string list;
  for (auto k : known) {
    if (!list.empty()) list += ", ";
    list += k;
  }
  return Status::InvalidArgument("unknown parameter \"" + std::string(unknown.front()) +
                                 "\" (known: " + list + ")");
}

Result<int64_t> TimeParam(const QueryParams& params, std::string_view name, int64_t dflt,
                          int64_t now_ns) {
  auto v = params.Get(name);
  if (!v || v->empty()) return dflt;
  auto ts = ParseTimestamp(*v, now_ns);
  if (!ts.ok())
    return BadParam(name, "expected RFC 3339 or an epoch number, got \"" + std::string(*v) + "\"");
  return *ts;
}

// Parses the filter parameters shared by /logs and /aggregate.
Result<FilterSpec> FilterFromParams(const HttpRequest& req, const QueryParams& params,
                                    int64_t now_ns) {
  FilterSpec spec;
  LODE_ASSIGN_OR_RETURN(spec.tenant, TenantOf(req));
  LODE_ASSIGN_OR_RETURN(spec.start_ns, TimeParam(params, "start", INT64_MIN, now_ns));
  LODE_ASSIGN_OR_RETURN(int64_t end, TimeParam(params, "end", INT64_MAX, now_ns));
  // "end" is inclusive for people (end=15:02:00 includes a 15:02:00 record).
  spec.end_ns = end == INT64_MAX ? end : end + 1;
  if (spec.start_ns >= spec.end_ns) return BadParam("start", "must be before end");
  for (auto v : params.GetAll("level")) {
    // Accept comma-separated lists too: level=warn,error.
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view one = v.substr(0, comma);
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      auto l = LevelFromName(one);
      if (!l) {
        return BadParam("level", "unknown level \"" + std::string(one) +
                                     "\" (one of trace, debug, info, warn, error, fatal, unknown)");
      }
      spec.levels.push_back(*l);
    }
  }
  for (auto v : params.GetAll("service")) spec.services.emplace_back(v);
  for (auto v : params.GetAll("instance")) spec.instances.emplace_back(v);
  if (auto v = params.Get("contains")) spec.contains = *v;
  if (auto v = params.Get("regex")) spec.regex = *v;
  if (auto v = params.Get("archive")) {
    if (*v != "true" && *v != "false") return BadParam("archive", "must be true or false");
    spec.include_archive = *v == "true";
  }
  return spec;
}

Result<size_t> SizeParam(const QueryParams& params, std::string_view name, size_t dflt,
                         size_t max) {
  auto v = params.Get(name);
  if (!v) return dflt;
  size_t n = 0;
  auto r = std::from_chars(v->data(), v->data() + v->size(), n);
  if (r.ec != std::errc() || r.ptr != v->data() + v->size()) {
    return BadParam(name, "expected a non-negative integer, got \"" + std::string(*v) + "\"");
  }
  if (n > max) return BadParam(name, "must be at most " + std::to_string(max));
  return n;
}

void WriteStats(const QueryStats& st, size_t returned, JsonWriter* w) {
  w->Key("stats").BeginObject();
  w->Key("scanned").Uint(st.scanned);
  w->Key("matched").Uint(st.matched);
  w->Key("returned").Uint(returned);
  w->Key("took_ms").Double(st.took_ms);
  w->EndObject();
}

void AppendMetricText(std::string* out, std::string_view name, std::string_view help,
                      std::string_view type, std::string_view labels, std::string_view value) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
  out->append(name);
  if (!labels.empty()) out->append("{").append(labels).append("}");
  out->append(" ").append(value).append("\n");
}
void AppendMetric(std::string* out, std::string_view name, std::string_view help,
                  std::string_view type, std::string_view labels, uint64_t value) {
  AppendMetricText(out, name, help, type, labels, std::to_string(value));
}
void AppendMetric(std::string* out, std::string_view name, std::string_view help,
                  std::string_view type, std::string_view labels, double value) {
  AppendMetricText(out, name, help, type, labels, fmt::format("{}", value));
}

// The request body with its Content-Encoding undone (*scratch holds it then).
Result<std::string_view> DecodedBody(const HttpRequest& req, uint64_t max_decoded,
                                     std::string* scratch) {
  auto enc = req[http::field::content_encoding];
  if (enc.empty() || enc == "identity") return std::string_view(req.body());
  LODE_RETURN_IF_ERROR(DecodeContent(enc, req.body(), max_decoded, scratch));
  return std::string_view(*scratch);
}

}  // namespace

Result<std::string> TenantOf(const HttpRequest& req) {
  auto it = req.find("X-Scope-OrgID");
  if (it == req.end()) return std::string(kDefaultTenant);
  std::string_view t = it->value();
  // "." and ".." would name directories, not tenants.
  bool ok = !t.empty() && t.size() <= 64 && t != "." && t != "..";
  for (char c : t) {
    ok &= (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.';
  }
  if (!ok) {
    return Status::InvalidArgument(
        "header X-Scope-OrgID: tenant must be 1-64 characters of "
        "A-Z a-z 0-9 _ . - (and not . or ..)");
  }
  return std::string(t);
}

LodeApi::LodeApi(HttpServer* server, Bus* bus, const LogStore* store, SegmentStore* segments,
                 const ApiOptions& options)
    : server_(server), bus_(bus), store_(store), segments_(segments), options_(options) {}

void LodeApi::Register() {
  server_->Route(http::verb::post, "/api/v1/logs", [this](HttpRequest& r) { return Ingest(r); });
  server_->Route(http::verb::post, "/api/v1/cloudwatch",
                 [this](HttpRequest& r) { return CloudWatch(r); });
  server_->Route(http::verb::post, "/api/v1/firehose",
                 [this](HttpRequest& r) { return Firehose(r); });
  server_->Route(http::verb::post, "/v1/logs", [this](HttpRequest& r) { return Otlp(r); });
  server_->Route(http::verb::get, "/api/v1/logs", [this](HttpRequest& r) { return QueryLogs(r); });
  server_->Route(http::verb::get, "/api/v1/aggregate",
                 [this](HttpRequest& r) { return Aggregate(r); });
  server_->Route(http::verb::get, "/metrics", [this](HttpRequest& r) { return Metrics(r); });
  if (segments_ != nullptr) {
    server_->Route(http::verb::post, "/api/v1/archive/restore",
                   [this](HttpRequest& r) { return Restore(r); });
    server_->Route(http::verb::post, "/api/v1/admin/flush",
                   [this](HttpRequest& r) { return Flush(r); });
  }
  auto ok = [](HttpRequest& r) -> asio::awaitable<HttpResponse> {
    co_return JsonResponse(r, http::status::ok, "{\"status\":\"ok\"}");
  };
  server_->Route(http::verb::get, "/healthz", ok);
  server_->Route(http::verb::get, "/readyz", ok);
  // The root answers as an Elasticsearch 8 node does (shippers such as
  // Filebeat and the official clients check it before a bulk), and lists
  // Lode's own endpoints; a browser (Accept: text/html) gets the web UI.
  auto root = [page = options_.page](HttpRequest& r) -> asio::awaitable<HttpResponse> {
    if (page && WebUi::WantsPage(r)) co_return co_await page(r);
    HttpResponse res = JsonResponse(
        r, http::status::ok,
        "{\"name\":\"lode\",\"cluster_name\":\"lode\",\"cluster_uuid\":\"lode\","
        "\"version\":{\"number\":\"8.11.0\",\"build_flavor\":\"default\","
        "\"lucene_version\":\"9.8.0\",\"minimum_wire_compatibility_version\":\"7.17.0\","
        "\"minimum_index_compatibility_version\":\"7.0.0\"},"
        "\"tagline\":\"You Know, for Search\","
        "\"endpoints\":[\"POST /api/v1/logs\",\"GET /api/v1/logs\",\"GET /api/v1/aggregate\","
        "\"POST /_bulk\",\"POST /v1/logs\",\"GET /metrics\",\"GET /healthz\",\"GET /readyz\"]}");
    res.set("X-Elastic-Product", "Elasticsearch");
    if (page) res.set(http::field::vary, "Accept");  // browsers get the web UI here
    co_return res;
  };
  server_->Route(http::verb::get, "/", root);
  server_->Route(http::verb::head, "/", root);
  for (auto verb : {http::verb::post, http::verb::put}) {
    server_->Route(verb, "/_bulk", [this](HttpRequest& r) { return EsBulk(r); });
    server_->RouteSuffix(verb, "/_bulk", [this](HttpRequest& r) { return EsBulk(r); });
  }
}

// A request with an Idempotency-Key runs once per tenant and key: repeats get
// the first successful answer (marked Idempotent-Replayed) without storing
// anything, and a repeat while the first still runs gets 409 (retry later).
asio::awaitable<HttpResponse> LodeApi::Ingest(HttpRequest& req) {
  std::string_view key_header = req["Idempotency-Key"];
  if (key_header.empty()) co_return co_await IngestBody(req);
  if (key_header.size() > 256) {
    co_return ErrorResponse(
        req, Status::InvalidArgument("header Idempotency-Key: longer than 256 characters"));
  }
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return ErrorResponse(req, tenant.status());
  std::string key = *tenant + '\n' + std::string(key_header);
  IdempotencyCache::Outcome first = idempotency_.Begin(key, crc32c::Value(req.body()));
  if (first.state == IdempotencyCache::State::kMismatch) {
    co_return JsonResponse(
        req, http::status::unprocessable_entity,
        R"({"error":"this Idempotency-Key was used for a different request body","code":"INVALID_ARGUMENT"})");
  }
  if (first.state == IdempotencyCache::State::kDone) {
    ++http_.replayed;
    HttpResponse res =
        JsonResponse(req, static_cast<http::status>(first.status), std::move(first.body));
    res.set("Idempotent-Replayed", "true");
    co_return res;
  }
  if (first.state == IdempotencyCache::State::kInProgress) {
    HttpResponse res = JsonResponse(
        req, http::status::conflict,
        R"({"error":"a request with this Idempotency-Key is still running; retry later","code":"CONFLICT"})");
    res.set(http::field::retry_after, "1");
    co_return res;
  }
  // Whatever happens below, the key is released unless the answer was kept.
  struct Release {
    IdempotencyCache* cache;
    const std::string& key;
    bool kept = false;
    ~Release() {
      if (!kept) cache->Abandon(key);
    }
  } release{&idempotency_, key};
  HttpResponse res = co_await IngestBody(req);
  if (res.result() == http::status::ok) {
    idempotency_.Finish(key, static_cast<int>(res.result_int()), res.body());
    release.kept = true;
  }
  co_return res;
}

asio::awaitable<HttpResponse> LodeApi::IngestBody(HttpRequest& req) {
  ++http_.requests;
  http_.bytes += req.body().size();
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return ErrorResponse(req, tenant.status());

  // The body, decoded, with the padding simdjson reads past the end.
  std::string decoded;
  std::string* body = &req.body();
  auto enc = req[http::field::content_encoding];
  if (!enc.empty() && enc != "identity") {
    Status s = DecodeContent(enc, req.body(), options_.max_decoded_bytes, &decoded);
    if (!s.ok()) co_return ErrorResponse(req, s);
    body = &decoded;
  }
  size_t body_size = body->size();
  body->reserve(body_size + JsonRecordParser::kPadding);

  std::string_view content_type = req[http::field::content_type];
  BodyFormat format =
      content_type.starts_with("text/plain") ? BodyFormat::kText : BodyFormat::kAuto;
  ParseContext ctx;
  ctx.observed_ns = options_.clock->NowNanos();
  ctx.tenant = *tenant;
  BodyOutcome outcome;
  Status s = ParseLogBody(std::string_view(body->data(), body_size), format, ctx,
                          options_.body_limits, &ThreadParser(), &outcome);
  if (!s.ok()) co_return ErrorResponse(req, s);

  size_t accepted = outcome.batch.records.size();
  if (accepted > 0) {
    Status ps = co_await PublishCounted(bus_, std::move(outcome.batch), &http_);
    if (!ps.ok()) co_return ErrorResponse(req, ps);
  }
  http_.rejected += outcome.rejected;

  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("accepted").Uint(accepted);
  w.Key("rejected").Uint(outcome.rejected);
  if (outcome.rejected > 0) {
    w.Key("errors").BeginArray();
    for (const auto& r : outcome.rejections) {
      w.BeginObject();
      w.Key(outcome.items_are_array_elements ? "item" : "line").Uint(r.line);
      w.Key("error").String(r.reason);
      w.EndObject();
    }
    w.EndArray();
    if (outcome.rejected > outcome.rejections.size()) {
      w.Key("errors_truncated").Bool(true);
    }
  }
  w.EndObject();
  auto status =
      (accepted == 0 && outcome.rejected > 0) ? http::status::bad_request : http::status::ok;
  co_return JsonResponse(req, status, std::move(out));
}

asio::awaitable<HttpResponse> LodeApi::CloudWatch(HttpRequest& req) {
  ++cloudwatch_.requests;
  cloudwatch_.bytes += req.body().size();
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return ErrorResponse(req, tenant.status());
  std::string decoded;
  auto body = DecodedBody(req, options_.max_decoded_bytes, &decoded);
  if (!body.ok()) co_return ErrorResponse(req, body.status());
  RecordBatch batch;
  batch.tenant = *tenant;
  CloudWatchOutcome outcome;
  Status s = ParseCloudWatchPayload(*body, options_.clock->NowNanos(), options_.max_decoded_bytes,
                                    &batch, &outcome);
  if (!s.ok()) {
    ++cloudwatch_.rejected;
    co_return ErrorResponse(req, s);
  }
  cloudwatch_.rejected += outcome.rejected;
  const size_t accepted = batch.records.size();
  if (accepted > 0) {
    Status ps = co_await PublishCounted(bus_, std::move(batch), &cloudwatch_);
    if (!ps.ok()) co_return ErrorResponse(req, ps);
  }
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("accepted").Uint(accepted).Key("rejected").Uint(outcome.rejected);
  if (!outcome.errors.empty()) {
    w.Key("errors").BeginArray();
    for (const auto& e : outcome.errors) w.String(e);
    w.EndArray();
  }
  w.EndObject();
  co_return JsonResponse(
      req, accepted == 0 && outcome.rejected > 0 ? http::status::bad_request : http::status::ok,
      std::move(out));
}

// Firehose's HTTP endpoint protocol: {"requestId", "timestamp", "records":
// [{"data": base64}]} in, {"requestId", "timestamp"} (and "errorMessage"
// when not 200) out. Firehose retries a whole request that is not answered
// 200, so records that can never be read (bad base64, not a payload) are
// logged, counted and skipped with a 200; only a failure to store the good
// ones (a full queue) is answered with an error, to be retried.
asio::awaitable<HttpResponse> LodeApi::Firehose(HttpRequest& req) {
  ++cloudwatch_.requests;
  cloudwatch_.bytes += req.body().size();
  const int64_t now = options_.clock->NowNanos();
  std::string request_id(req["X-Amz-Firehose-Request-Id"]);
  auto answer = [&](http::status status, std::string_view error) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject().Key("requestId").String(request_id).Key("timestamp").Int(now / 1'000'000);
    if (!error.empty()) w.Key("errorMessage").String(error);
    w.EndObject();
    return JsonResponse(req, status, std::move(out));
  };
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return answer(http::status::bad_request, tenant.status().message());
  std::string decoded;
  auto body = DecodedBody(req, options_.max_decoded_bytes, &decoded);
  if (!body.ok()) co_return answer(HttpStatusFor(body.status().code()), body.status().message());
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  simdjson::dom::array records;
  if (parser.parse(body->data(), body->size()).get(root) ||
      root["records"].get_array().get(records)) {
    co_return answer(http::status::bad_request,
                     "not a Firehose delivery: want JSON with a \"records\" array");
  }
  if (std::string_view id; request_id.empty() && !root["requestId"].get_string().get(id)) {
    request_id = std::string(id);
  }
  RecordBatch batch;
  batch.tenant = *tenant;
  size_t i = 0, bad = 0;
  for (simdjson::dom::element record : records) {
    const size_t index = i++;
    std::string_view data;
    Status st;
    if (record["data"].get_string().get(data)) {
      st = Status::InvalidArgument("no \"data\" string");
    } else if (auto raw = DecodeBase64(data); !raw.ok()) {
      st = raw.status();
    } else {
      CloudWatchOutcome outcome;
      st = ParseCloudWatchPayload(*raw, now, options_.max_decoded_bytes, &batch, &outcome);
      cloudwatch_.rejected += outcome.rejected;
    }
    if (!st.ok()) {
      ++bad;
      ++cloudwatch_.rejected;
      if (bad <= 3) {
        spdlog::warn("firehose {}: records[{}] skipped: {}", request_id, index, st.message());
      }
    }
  }
  const size_t accepted = batch.records.size();
  if (accepted > 0) {
    Status ps = co_await PublishCounted(bus_, std::move(batch), &cloudwatch_);
    if (!ps.ok()) co_return answer(HttpStatusFor(ps.code()), ps.message());
  }
  co_return answer(http::status::ok, "");
}

// OTLP/HTTP: answers in the request's encoding. Success is 200 with an
// ExportLogsServiceResponse (empty, or with partial_success naming what was
// rejected); errors carry a google.rpc.Status (code 3 INVALID_ARGUMENT, 8
// RESOURCE_EXHAUSTED, 14 UNAVAILABLE), with Retry-After when retrying helps.
asio::awaitable<HttpResponse> LodeApi::Otlp(HttpRequest& req) {
  ++otlp_.requests;
  otlp_.bytes += req.body().size();
  const bool proto = req[http::field::content_type].starts_with("application/x-protobuf");
  auto respond = [&](http::status status, std::string body) {
    HttpResponse res(status, req.version());
    res.set(http::field::server, "lode");
    res.set(http::field::content_type, proto ? "application/x-protobuf" : "application/json");
    if (status == http::status::too_many_requests || status == http::status::service_unavailable) {
      res.set(http::field::retry_after, "1");
    }
    res.keep_alive(req.keep_alive());
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
  };
  auto error = [&](const Status& st) {
    const int code = st.code() == StatusCode::kResourceExhausted ? 8
                     : st.code() == StatusCode::kUnavailable     ? 14
                                                                 : 3;
    std::string body;
    if (proto) {
      protowire::PutVarintField(&body, 1, static_cast<uint64_t>(code));
      protowire::PutBytesField(&body, 2, st.message());
    } else {
      JsonWriter w(&body);
      w.BeginObject().Key("code").Int(code).Key("message").String(st.message()).EndObject();
    }
    return respond(HttpStatusFor(st.code()), std::move(body));
  };
  const std::string_view type = req[http::field::content_type];
  if (!proto && !type.starts_with("application/json")) {
    co_return error(Status::InvalidArgument(
        "OTLP/HTTP takes application/x-protobuf or application/json, not \"" + std::string(type) +
        "\""));
  }
  auto tenant = TenantOf(req);
  if (!tenant.ok()) co_return error(tenant.status());
  std::string decoded;
  auto body = DecodedBody(req, options_.max_decoded_bytes, &decoded);
  if (!body.ok()) co_return error(body.status());
  RecordBatch batch;
  batch.tenant = *tenant;
  OtlpOutcome outcome;
  const int64_t now = options_.clock->NowNanos();
  Status st = proto ? ParseOtlpLogsProto(*body, now, &batch, &outcome)
                    : ParseOtlpLogsJson(*body, now, &batch, &outcome);
  if (!st.ok()) {
    ++otlp_.rejected;
    co_return error(st);
  }
  otlp_.rejected += outcome.rejected;
  const size_t accepted = batch.records.size();
  if (accepted > 0) {
    Status ps = co_await PublishCounted(bus_, std::move(batch), &otlp_);
    if (!ps.ok()) co_return error(ps);
  }
  std::string answer;
  std::string reasons;
  for (const auto& e : outcome.errors) reasons += (reasons.empty() ? "" : "; ") + e;
  if (proto) {
    if (outcome.rejected > 0) {
      std::string partial;
      protowire::PutVarintField(&partial, 1, outcome.rejected);
      protowire::PutBytesField(&partial, 2, reasons);
      protowire::PutBytesField(&answer, 1, partial);
    }
  } else {
    JsonWriter w(&answer);
    w.BeginObject();
    if (outcome.rejected > 0) {
      w.Key("partialSuccess")
          .BeginObject()
          .Key("rejectedLogRecords")
          .String(std::to_string(outcome.rejected))
          .Key("errorMessage")
          .String(reasons)
          .EndObject();
    }
    w.EndObject();
  }
  co_return respond(http::status::ok, std::move(answer));
}

// Elasticsearch's bulk API: NDJSON of action lines ({"index": {...}} or
// {"create": {...}}, each followed by its document) as Filebeat, Logstash,
// Fluent Bit's es output and the official clients send it. Documents go
// through the same normalizer as /api/v1/logs; one without a service takes
// its index's name. The answer is Elasticsearch's: per item a status (201,
// or 400 with an error naming the problem), `errors` when any failed. Delete
// and update actions are answered 400 (logs are append-only here).
asio::awaitable<HttpResponse> LodeApi::EsBulk(HttpRequest& req) {
  const auto t0 = std::chrono::steady_clock::now();
  ++elasticsearch_.requests;
  elasticsearch_.bytes += req.body().size();
  auto es_error = [&](http::status status, std::string_view type, std::string_view reason) {
    std::string out;
    JsonWriter w(&out);
    w.BeginObject()
        .Key("error")
        .BeginObject()
        .Key("type")
        .String(type)
        .Key("reason")
        .String(reason)
        .EndObject()
        .Key("status")
        .Int(static_cast<int>(status))
        .EndObject();
    HttpResponse res = JsonResponse(req, status, std::move(out));
    res.set("X-Elastic-Product", "Elasticsearch");
    if (status == http::status::too_many_requests) res.set(http::field::retry_after, "1");
    return res;
  };
  // The target: /_bulk or /<index>/_bulk (a query string is ignored).
  std::string_view target = req.target();
  target = target.substr(0, target.find('?'));
  std::string default_index;
  if (target != "/_bulk") {
    if (!target.ends_with("/_bulk") || target.size() <= 7) {
      co_return es_error(http::status::not_found, "illegal_argument_exception",
                         "no handler for " + std::string(target) +
                             " (Lode takes POST /_bulk and "
                             "/<index>/_bulk)");
    }
    default_index = std::string(target.substr(1, target.size() - 7));
  }
  auto tenant = TenantOf(req);
  if (!tenant.ok()) {
    co_return es_error(http::status::bad_request, "illegal_argument_exception",
                       tenant.status().message());
  }
  std::string decoded;
  auto body = DecodedBody(req, options_.max_decoded_bytes, &decoded);
  if (!body.ok()) {
    co_return es_error(HttpStatusFor(body.status().code()), "parse_exception",
                       body.status().message());
  }
  struct Item {
    std::string action, index, id;
    int status = 201;
    std::string error_type, reason;
  };
  std::vector<Item> items;
  RecordBatch batch;
  batch.tenant = *tenant;
  ParseContext ctx;
  ctx.observed_ns = options_.clock->NowNanos();
  ctx.tenant = *tenant;
  ctx.default_source = "elasticsearch";
  simdjson::dom::parser parser;
  std::string padded;
  std::string_view rest = *body;
  size_t line_no = 0;
  auto next_line = [&](std::string_view* line) {
    while (!rest.empty()) {
      const size_t nl = rest.find('\n');
      *line = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
      ++line_no;
      while (!line->empty() && (line->back() == '\r' || line->back() == ' '))
        line->remove_suffix(1);
      if (!line->empty()) return true;
    }
    return false;
  };
  std::string_view line;
  while (next_line(&line)) {
    Item item;
    simdjson::dom::element action;
    simdjson::dom::object obj;
    if (parser.parse(line.data(), line.size()).get(action) || action.get_object().get(obj) ||
        obj.size() != 1) {
      co_return es_error(
          http::status::bad_request, "illegal_argument_exception",
          fmt::format("line {}: expected an action such as {{\"index\":{{}}}}", line_no));
    }
    auto [verb, meta] = *obj.begin();
    item.action = std::string(verb);
    std::string_view sv;
    item.index = !meta["_index"].get_string().get(sv) ? std::string(sv) : default_index;
    if (!meta["_id"].get_string().get(sv)) item.id = std::string(sv);
    const bool has_source = item.action != "delete";
    std::string_view doc;
    if (has_source && !next_line(&doc)) {
      co_return es_error(
          http::status::bad_request, "illegal_argument_exception",
          fmt::format("line {}: the {} action has no document after it", line_no, item.action));
    }
    if (item.id.empty()) item.id = fmt::format("lode-{:x}-{:x}", ctx.observed_ns, es_sequence_++);
    if (item.action != "index" && item.action != "create") {
      item.status = 400;
      item.error_type = "illegal_argument_exception";
      item.reason = "action [" + item.action + "] is not supported: logs are append-only";
    } else if (item.index.empty()) {
      item.status = 400;
      item.error_type = "action_request_validation_exception";
      item.reason = "index is missing";
    } else {
      padded.assign(doc);
      padded.append(JsonRecordParser::kPadding, '\0');
      Record r;
      Status st = ThreadParser().ParseObject(std::string_view(padded.data(), doc.size()), ctx, &r);
      if (!st.ok()) {
        item.status = 400;
        item.error_type = "document_parsing_exception";
        item.reason = fmt::format("line {}: {}", line_no, st.message());
      } else {
        if (r.service.empty()) r.service = item.index;
        r.attributes.push_back({"es.index", item.index});
        batch.records.push_back(std::move(r));
      }
    }
    items.push_back(std::move(item));
  }
  const size_t accepted = batch.records.size();
  size_t failed = 0;
  for (const auto& it : items) failed += it.status >= 300;
  elasticsearch_.rejected += failed;
  if (accepted > 0) {
    Status ps = co_await PublishCounted(bus_, std::move(batch), &elasticsearch_);
    if (!ps.ok()) {
      const bool full = ps.code() == StatusCode::kResourceExhausted;
      co_return es_error(full ? http::status::too_many_requests : HttpStatusFor(ps.code()),
                         full ? "es_rejected_execution_exception" : "exception", ps.message());
    }
  }
  std::string out;
  JsonWriter w(&out);
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  w.BeginObject().Key("took").Int(took).Key("errors").Bool(failed > 0).Key("items").BeginArray();
  for (const auto& it : items) {
    w.BeginObject().Key(it.action).BeginObject();
    w.Key("_index").String(it.index).Key("_id").String(it.id);
    if (it.status < 300) {
      w.Key("_version").Int(1).Key("result").String("created");
      w.Key("_shards")
          .BeginObject()
          .Key("total")
          .Int(1)
          .Key("successful")
          .Int(1)
          .Key("failed")
          .Int(0)
          .EndObject();
      w.Key("_seq_no").Uint(es_sequence_++).Key("_primary_term").Int(1);
      w.Key("status").Int(it.status);
    } else {
      w.Key("status").Int(it.status);
      w.Key("error")
          .BeginObject()
          .Key("type")
          .String(it.error_type)
          .Key("reason")
          .String(it.reason)
          .EndObject();
    }
    w.EndObject().EndObject();
  }
  w.EndArray().EndObject();
  HttpResponse res = JsonResponse(req, http::status::ok, std::move(out));
  res.set("X-Elastic-Product", "Elasticsearch");
  co_return res;
}

asio::awaitable<HttpResponse> LodeApi::QueryLogs(HttpRequest& req) {
  auto params = QueryParams::FromTarget(req.target());
  Status known = CheckUnknown(params, {"start", "end", "level", "service", "instance", "contains",
                                       "regex", "archive", "limit", "direction"});
  if (!known.ok()) co_return ErrorResponse(req, known);
  auto spec = FilterFromParams(req, params, options_.clock->NowNanos());
  if (!spec.ok()) co_return ErrorResponse(req, spec.status());
  auto limit = SizeParam(params, "limit", options_.default_limit, options_.max_limit);
  if (!limit.ok()) co_return ErrorResponse(req, limit.status());
  Direction direction = Direction::kBackward;
  if (auto d = params.Get("direction")) {
    if (*d == "forward") {
      direction = Direction::kForward;
    } else if (*d != "backward") {
      co_return ErrorResponse(req, BadParam("direction", "must be \"forward\" or \"backward\""));
    }
  }
  auto result = co_await server_->RunBlocking(
      [&] { return lode::QueryLogs(*store_, *spec, *limit, direction); });
  if (!result.ok()) co_return ErrorResponse(req, result.status());

  std::string out;
  out.reserve(256 * result->records.size() + 128);
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("records").BeginArray();
  // Pattern ids read as their joined template's, with its text.
  PatternIndex::Snapshot snap;
  std::unordered_map<uint32_t, std::string> texts;
  if (options_.patterns != nullptr) snap = options_.patterns->TakeSnapshot(spec->tenant);
  for (auto& r : result->records) {
    std::string_view text;
    if (options_.patterns != nullptr && r.pattern_id != 0) {
      r.pattern_id = snap.Canonical(r.pattern_id);
      auto [it, fresh] = texts.try_emplace(r.pattern_id);
      if (fresh) {
        if (auto info = options_.patterns->Lookup(spec->tenant, r.pattern_id)) {
          it->second = std::move(info->text);
        }
      }
      text = it->second;
    }
    WriteRecordJson(r, &w, text);
  }
  w.EndArray();
  WriteStats(result->stats, result->records.size(), &w);
  w.EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(out));
}

asio::awaitable<HttpResponse> LodeApi::Aggregate(HttpRequest& req) {
  auto params = QueryParams::FromTarget(req.target());
  Status known = CheckUnknown(params, {"start", "end", "level", "service", "instance", "contains",
                                       "regex", "archive", "by", "step"});
  if (!known.ok()) co_return ErrorResponse(req, known);
  AggregateSpec spec;
  auto filter = FilterFromParams(req, params, options_.clock->NowNanos());
  if (!filter.ok()) co_return ErrorResponse(req, filter.status());
  spec.filter = std::move(*filter);
  for (auto v : params.GetAll("by")) {
    while (!v.empty()) {
      size_t comma = v.find(',');
      std::string_view one = v.substr(0, comma);
      v = comma == std::string_view::npos ? std::string_view() : v.substr(comma + 1);
      if (one == "level") {
        spec.by_level = true;
      } else if (one == "service") {
        spec.by_service = true;
      } else {
        co_return ErrorResponse(req,
                                BadParam("by", "can group by \"level\" and/or \"service\", not \"" +
                                                   std::string(one) + "\""));
      }
    }
  }
  if (auto step = params.Get("step")) {
    auto d = ParseDuration(*step);
    if (!d.ok() || *d <= 0) {
      co_return ErrorResponse(
          req, BadParam("step", d.ok() ? "must be positive" : std::string(d.status().message())));
    }
    spec.step_ns = *d;
  }
  auto result = co_await server_->RunBlocking([&] { return lode::QueryAggregate(*store_, spec); });
  if (!result.ok()) co_return ErrorResponse(req, result.status());

  std::string out;
  JsonWriter w(&out);
  std::string ts;
  uint64_t total = 0;
  w.BeginObject();
  w.Key("groups").BeginArray();
  for (const auto& g : result->groups) {
    total += g.count;
    w.BeginObject();
    if (g.level) w.Key("level").String(LevelName(*g.level));
    if (g.service) w.Key("service").String(*g.service);
    w.Key("count").Uint(g.count);
    if (spec.step_ns > 0) {
      w.Key("buckets").BeginArray();
      for (const auto& [start, count] : g.buckets) {
        ts.clear();
        FormatRfc3339(start, &ts);
        w.BeginObject().Key("start").String(ts).Key("count").Uint(count).EndObject();
      }
      w.EndArray();
    }
    w.EndObject();
  }
  w.EndArray();
  w.Key("total").Uint(total);
  WriteStats(result->stats, result->groups.size(), &w);
  w.EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(out));
}

asio::awaitable<HttpResponse> LodeApi::Metrics(HttpRequest& req) {
  std::string out;
  // One family per counter, one sample per source.
  std::vector<std::pair<std::string, const SourceCounters*>> sources = {
      {"http", &http_},
      {"cloudwatch", &cloudwatch_},
      {"otlp", &otlp_},
      {"elasticsearch", &elasticsearch_}};
  for (const auto& [name, counters] : options_.extra_sources) sources.emplace_back(name, counters);
  auto family = [&](std::string_view name, std::string_view help,
                    std::atomic<uint64_t> SourceCounters::*field) {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" counter\n");
    for (const auto& [source, counters] : sources) {
      out.append(name).append("{source=\"").append(source).append("\"} ");
      out.append(std::to_string((counters->*field).load())).append("\n");
    }
  };
  family("lode_ingest_requests_total", "Ingest requests (HTTP), datagrams (UDP) or reads (TCP).",
         &SourceCounters::requests);
  family("lode_ingest_received_bytes_total", "Bytes received.", &SourceCounters::bytes);
  family("lode_ingest_accepted_records_total", "Records stored.", &SourceCounters::accepted);
  family("lode_ingest_rejected_records_total",
         "Records rejected as malformed (HTTP clients are told which; syslog logs them).",
         &SourceCounters::rejected);
  family("lode_ingest_pushed_back_requests_total",
         "Times the ingest queue was full: HTTP answered 429, TCP reads paused, UDP dropped.",
         &SourceCounters::pushed_back);
  family("lode_ingest_failed_requests_total", "Batches that could not be stored.",
         &SourceCounters::failed);
  family("lode_ingest_dropped_records_total",
         "Records lost because the queue was full (UDP only: it cannot push back).",
         &SourceCounters::dropped);
  family("lode_ingest_replayed_requests_total",
         "Repeated requests (same Idempotency-Key) answered without storing again.",
         &SourceCounters::replayed);
  BusStats bus = bus_->Stats();
  AppendMetric(&out, "lode_bus_queued_bytes", "Bytes accepted and not yet stored.", "gauge", "",
               bus.queued_bytes);
  AppendMetric(&out, "lode_bus_budget_bytes", "Queue budget above which ingest pushes back.",
               "gauge", "", bus.budget_bytes);
  StoreStats st = store_->Stats();
  AppendMetric(&out, "lode_store_records", "Records in the store.", "gauge", "", st.records);
  AppendMetric(&out, "lode_store_wal_bytes", "Bytes in WAL files.", "gauge", "", st.wal_bytes);
  AppendMetric(&out, "lode_store_memory_bytes", "Approximate bytes of records held in memory.",
               "gauge", "", st.memory_bytes);
  AppendMetric(&out, "lode_store_segments", "Live segments.", "gauge", "", st.segments);
  AppendMetric(&out, "lode_store_segment_bytes", "Bytes in live segments.", "gauge", "",
               st.segment_bytes);
  AppendMetric(&out, "lode_store_archived_segments", "Segments in the archive.", "gauge", "",
               st.archived_segments);
  AppendMetric(&out, "lode_store_archived_bytes", "Bytes in the archive.", "gauge", "",
               st.archived_bytes);
  if (segments_ != nullptr) {
    const auto& c = segments_->counters();
    AppendMetric(&out, "lode_store_flushes_total", "Head flushes into segments.", "counter", "",
                 c.flushes.load());
    AppendMetric(&out, "lode_store_merges_total", "Segment merges.", "counter", "",
                 c.merges.load());
    AppendMetric(&out, "lode_store_retention_deleted_segments_total",
                 "Segments deleted by retention.", "counter", "", c.deleted_by_retention.load());
    AppendMetric(&out, "lode_store_archived_segments_total", "Segments moved to the archive.",
                 "counter", "", c.archived.load());
    AppendMetric(&out, "lode_store_restored_segments_total", "Segments restored from the archive.",
                 "counter", "", c.restored.load());
    AppendMetric(&out, "lode_store_quarantined_segments_total",
                 "Segments that failed a checksum and were quarantined.", "counter", "",
                 c.quarantined.load());
    AppendMetric(&out, "lode_store_maintenance_errors_total",
                 "Failed background flush/merge/retention rounds.", "counter", "",
                 c.maintenance_errors.load());
    AppendMetric(&out, "lode_pattern_mining_seconds_total",
                 "CPU time spent giving records their pattern ids at ingest.", "counter", "",
                 static_cast<double>(c.pattern_mining_ns.load()) / 1e9);
  }
  AppendMetric(&out, "lode_http_connections_total", "HTTP connections accepted.", "counter", "",
               server_->connections_accepted());
  if (options_.extra_metrics) options_.extra_metrics(&out);
  HttpResponse res(http::status::ok, req.version());
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(out);
  res.prepare_payload();
  co_return res;
}

asio::awaitable<HttpResponse> LodeApi::Restore(HttpRequest& req) {
  auto params = QueryParams::FromTarget(req.target());
  Status known = CheckUnknown(params, {"start", "end"});
  if (!known.ok()) co_return ErrorResponse(req, known);
  auto spec = FilterFromParams(req, params, options_.clock->NowNanos());
  if (!spec.ok()) co_return ErrorResponse(req, spec.status());
  auto n = co_await server_->RunBlocking(
      [&] { return segments_->RestoreArchived(spec->tenant, spec->start_ns, spec->end_ns); });
  if (!n.ok()) co_return ErrorResponse(req, n.status());
  co_return JsonResponse(req, http::status::ok, "{\"restored\":" + std::to_string(*n) + "}");
}

asio::awaitable<HttpResponse> LodeApi::Flush(HttpRequest& req) {
  Status s = co_await server_->RunBlocking([&] { return segments_->Flush(); });
  if (!s.ok()) co_return ErrorResponse(req, s);
  co_return JsonResponse(req, http::status::ok, "{\"flushed\":true}");
}

}  // namespace lode
