#include "server/alert_api.h"

#include <spdlog/spdlog.h>

#include "common/json_writer.h"
#include "parse/timestamp.h"

namespace lode {

namespace asio = boost::asio;

AlertApi::AlertApi(HttpServer* server, AlertEngine* engine, const NotifierDispatcher* dispatcher,
                   std::string rules_path)
    : server_(server),
      engine_(engine),
      dispatcher_(dispatcher),
      rules_path_(std::move(rules_path)) {}

void AlertApi::Register() {
  server_->Route(http::verb::get, "/api/v1/rules", [this](HttpRequest& r) { return Rules(r); });
  server_->Route(http::verb::get, "/api/v1/alerts", [this](HttpRequest& r) { return Alerts(r); });
  server_->Route(http::verb::post, "/api/v1/rules/reload",
                 [this](HttpRequest& r) { return ReloadHandler(r); });
}

Status AlertApi::Reload() {
  if (engine_ == nullptr) {
    return Status::InvalidArgument("no rules file was given (--rules or alerting.rules)");
  }
  auto rules = LoadRulesFile(rules_path_);
  if (!rules.ok()) {
    spdlog::error("alerts: reload refused, the old rules stay: {}", rules.status().message());
    return rules.status();
  }
  const size_t n = rules->size();
  LODE_RETURN_IF_ERROR(engine_->Reload(std::move(*rules)));
  spdlog::info("alerts: {} rule(s) loaded from {}", n, rules_path_);
  return Status::OK();
}

namespace {

void WriteMap(JsonWriter& w, std::string_view key, const std::map<std::string, std::string>& m) {
  w.Key(key).BeginObject();
  for (const auto& [k, v] : m) w.Key(k).String(v);
  w.EndObject();
}

}  // namespace

asio::awaitable<HttpResponse> AlertApi::Rules(HttpRequest& req) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("enabled").Bool(engine_ != nullptr).Key("rules").BeginArray();
  for (const RuleView& v : engine_ ? engine_->Rules() : std::vector<RuleView>{}) {
    const AlertRule& r = v.rule;
    w.BeginObject();
    w.Key("name").String(r.name);
    w.Key("type").String(RuleTypeName(r.type));
    w.Key("tenant").String(r.tenant);
    w.Key("query").String(r.query);
    w.Key("by").BeginArray();
    for (const auto& b : r.by) w.String(b);
    w.EndArray();
    if (r.type == RuleType::kThreshold) {
      w.Key("window_seconds").Double(static_cast<double>(r.window_ns) / 1e9);
      w.Key("condition")
          .String(std::string(CompareOpName(r.op)) + " " + logql::FormatSampleValue(r.threshold));
      w.Key("rate").Bool(r.rate);
    }
    w.Key("for_seconds").Double(static_cast<double>(r.for_ns) / 1e9);
    WriteMap(w, "labels", r.labels);
    WriteMap(w, "annotations", r.annotations);
    w.Key("groups").Uint(v.groups);
    w.Key("pending").Uint(v.pending);
    w.Key("firing").Uint(v.firing);
    w.Key("matched").Uint(v.matched);
    w.Key("late").Uint(v.late);
    w.EndObject();
  }
  w.EndArray().EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(out));
}

asio::awaitable<HttpResponse> AlertApi::Alerts(HttpRequest& req) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("enabled").Bool(engine_ != nullptr).Key("alerts").BeginArray();
  for (const AlertView& a : engine_ ? engine_->Alerts() : std::vector<AlertView>{}) {
    w.BeginObject();
    w.Key("rule").String(a.rule);
    w.Key("tenant").String(a.tenant);
    w.Key("state").String(AlertStateName(a.state));
    WriteMap(w, "labels", a.labels);
    WriteMap(w, "annotations", a.annotations);
    w.Key("value").Double(a.value);
    w.Key("activeAt").String(FormatRfc3339(a.active_since_ns));
    if (!a.sample.empty()) w.Key("sample").String(a.sample);
    w.EndObject();
  }
  w.EndArray().EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(out));
}

asio::awaitable<HttpResponse> AlertApi::ReloadHandler(HttpRequest& req) {
  Status s = co_await server_->RunBlocking([this] { return Reload(); });
  if (!s.ok()) co_return ErrorResponse(req, s);
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("status").String("success").Key("rules").Uint(engine_->Rules().size());
  w.EndObject();
  co_return JsonResponse(req, http::status::ok, std::move(out));
}

void AlertApi::AppendMetrics(std::string* out) const {
  if (engine_ == nullptr) return;
  size_t firing = 0, pending = 0;
  uint64_t matched = 0, late = 0;
  for (const RuleView& v : engine_->Rules()) {
    firing += v.firing;
    pending += v.pending;
    matched += v.matched;
    late += v.late;
  }
  *out += "# HELP lode_alerts Alert groups by state.\n# TYPE lode_alerts gauge\n";
  *out += "lode_alerts{state=\"firing\"} " + std::to_string(firing) + "\n";
  *out += "lode_alerts{state=\"pending\"} " + std::to_string(pending) + "\n";
  *out +=
      "# HELP lode_alert_rule_matches_total Records that matched an alert rule.\n"
      "# TYPE lode_alert_rule_matches_total counter\n"
      "lode_alert_rule_matches_total " +
      std::to_string(matched) + "\n";
  *out +=
      "# HELP lode_alert_rule_late_records_total Matches too old for their rule's window.\n"
      "# TYPE lode_alert_rule_late_records_total counter\n"
      "lode_alert_rule_late_records_total " +
      std::to_string(late) + "\n";
  if (dispatcher_ == nullptr) return;
  auto stats = dispatcher_->Stats();
  auto family = [&](std::string_view name, std::string_view help, uint64_t NotifierStats::*f) {
    out->append("# HELP ").append(name).append(" ").append(help).append("\n");
    out->append("# TYPE ").append(name).append(" counter\n");
    for (const auto& s : stats) {
      out->append(name).append("{notifier=\"").append(s.name).append("\"} ");
      out->append(std::to_string(s.*f)).append("\n");
    }
  };
  family("lode_notifications_sent_total", "Notifications delivered.", &NotifierStats::sent);
  family("lode_notification_failed_attempts_total", "Failed deliveries (each retry counts).",
         &NotifierStats::failed_attempts);
  family("lode_notifications_dropped_total", "Notifications dropped (queue full, or stopping).",
         &NotifierStats::dropped);
  family("lode_notifications_given_up_total", "Notifications given up after retries.",
         &NotifierStats::given_up);
}

}  // namespace lode
