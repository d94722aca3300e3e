#include "alert/engine.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <set>

#include "common/env.h"
#include "common/json_writer.h"
#include "query/logql_engine.h"

namespace lode {

namespace {

constexpr int64_t kBucketsPerWindow = 60;

std::string Hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t Fnv1a(std::string_view s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// The stable id of one group of one rule (also across restarts).
std::string GroupFingerprint(const AlertRule& rule, const std::vector<std::string>& values) {
  std::string key = rule.tenant + "\n" + rule.name;
  for (const auto& v : values) key += "\n" + v;
  return Hex64(Fnv1a(key));
}

bool Compare(CompareOp op, double v, double threshold) {
  switch (op) {
    case CompareOp::kGt: return v > threshold;
    case CompareOp::kGe: return v >= threshold;
    case CompareOp::kLt: return v < threshold;
    case CompareOp::kLe: return v <= threshold;
  }
  return false;
}

std::string FormatValue(double v) {
  if (std::floor(v) == v && std::fabs(v) < 1e15) return std::to_string(static_cast<int64_t>(v));
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.3g", v);
  return buf;
}

// A rule's definition, to tell an unchanged rule on reload.
std::string Definition(const AlertRule& r) {
  std::string d = std::string(RuleTypeName(r.type)) + "\n" + r.tenant + "\n" + r.query + "\n";
  for (const auto& b : r.by) d += b + ",";
  d += "\n" + std::to_string(r.window_ns) + " " + std::string(CompareOpName(r.op)) + " " +
       std::to_string(r.threshold) + " " + (r.rate ? "rate" : "count") + " " +
       std::to_string(r.for_ns) + " " + std::to_string(r.resolve_after_ns) + "\n";
  for (const auto& [k, v] : r.labels) d += k + "=" + v + "\n";
  for (const auto& [k, v] : r.annotations) d += k + ":" + v + "\n";
  return d;
}

}  // namespace

std::string_view AlertStateName(AlertState s) {
  switch (s) {
    case AlertState::kInactive: return "inactive";
    case AlertState::kPending: return "pending";
    case AlertState::kFiring: return "firing";
  }
  return "inactive";
}

std::string ExpandAlertTemplate(std::string_view text,
                                const std::map<std::string, std::string>& labels, double value) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find("{{", i);
    if (open == std::string_view::npos) break;
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) break;
    out.append(text.substr(i, open - i));
    std::string_view expr = text.substr(open + 2, close - open - 2);
    while (!expr.empty() && expr.front() == ' ') expr.remove_prefix(1);
    while (!expr.empty() && expr.back() == ' ') expr.remove_suffix(1);
    if (expr == "$value") {
      out += FormatValue(value);
    } else if (expr == "$labels") {
      out += "{";
      bool first = true;
      for (const auto& [k, v] : labels) {
        if (!first) out += ", ";
        first = false;
        out += k + "=\"" + v + "\"";
      }
      out += "}";
    } else if (expr.starts_with("$labels.")) {
      auto it = labels.find(std::string(expr.substr(8)));
      if (it != labels.end()) out += it->second;
    } else {
      out.append(text.substr(open, close + 2 - open));  // unknown: left as written
    }
    i = close + 2;
  }
  out.append(text.substr(std::min(i, text.size())));
  return out;
}

struct AlertEngine::Group {
  std::vector<std::string> values;      // of the rule's `by` labels
  std::map<int64_t, uint64_t> buckets;  // threshold: bucket index → matches
  int64_t last_match_ns = 0;            // arrival time of the last match
  std::string sample;
  AlertState state = AlertState::kInactive;
  int64_t since_ns = 0;         // pending or firing since
  int64_t last_sent_ns = 0;     // firing: last notification
  int64_t last_refresh_ns = 0;  // firing: last notification or refresh
  double value = 0;
  bool restored = false;  // firing state read back from state_path
  std::string fingerprint;
};

struct AlertEngine::RuleState {
  AlertRule rule;
  std::string definition;
  logql::RecordMatcher matcher;
  int64_t bucket_ns = 0;
  std::map<std::vector<std::string>, Group> groups;
  std::set<uint32_t> seen_new_patterns;  // new_pattern: templates already alerted on
  uint64_t matched = 0, late = 0, dropped_groups = 0;
};

Result<std::unique_ptr<AlertEngine>> AlertEngine::Create(std::vector<AlertRule> rules,
                                                         const Options& options, Sink sink) {
  std::unique_ptr<AlertEngine> e(new AlertEngine(options, std::move(sink)));
  LODE_RETURN_IF_ERROR(e->Compile(std::move(rules), &e->rules_));
  e->started_ns_ = options.clock->NowNanos();
  e->LoadStates();
  return e;
}

AlertEngine::AlertEngine(const Options& options, Sink sink)
    : options_(options), sink_(std::move(sink)) {}

AlertEngine::~AlertEngine() {
  Stop();
}

Status AlertEngine::Compile(std::vector<AlertRule> rules,
                            std::vector<std::unique_ptr<RuleState>>* out) {
  for (auto& r : rules) {
    auto rs = std::make_unique<RuleState>();
    auto m = logql::RecordMatcher::Make(r.query);
    if (!m.ok()) {
      return Status::InvalidArgument("rule \"" + r.name +
                                     "\": query: " + std::string(m.status().message()));
    }
    rs->matcher = std::move(*m);
    rs->bucket_ns = std::max<int64_t>(1, r.window_ns / kBucketsPerWindow);
    rs->definition = Definition(r);
    rs->rule = std::move(r);
    out->push_back(std::move(rs));
  }
  return Status::OK();
}

void AlertEngine::Start() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    while (!stop_) {
      cv_.wait_for(lock, std::chrono::nanoseconds(options_.eval_interval_ns),
                   [this] { return stop_ || urgent_; });
      if (stop_) break;
      urgent_ = false;
      lock.unlock();
      Evaluate();
      lock.lock();
    }
  });
}

void AlertEngine::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AlertEngine::Observe(std::span<RecordBatch* const> batches) {
  const int64_t now = options_.clock->NowNanos();
  std::vector<std::string> values;
  bool urgent = false;
  std::lock_guard lock(mu_);
  for (auto& rsp : rules_) {
    RuleState& rs = *rsp;
    const AlertRule& rule = rs.rule;
    for (const RecordBatch* b : batches) {
      if (b->tenant != rule.tenant) continue;
      for (const Record& r : b->records) {
        values.clear();  // Match fills it only for rules with `by`
        if (!rs.matcher.Match(r, rule.by, &values)) continue;
        ++rs.matched;
        if (rule.type == RuleType::kNewPattern) {
          if (options_.patterns == nullptr || r.pattern_id == 0 ||
              !options_.patterns->IsNew(r.tenant, r.pattern_id) ||
              !rs.seen_new_patterns.insert(r.pattern_id).second) {
            continue;
          }
          values.push_back(std::to_string(r.pattern_id));  // one alert per template
        }
        auto it = rs.groups.find(values);
        if (it == rs.groups.end()) {
          if (rs.groups.size() >= options_.max_groups_per_rule) {
            ++rs.dropped_groups;
            continue;
          }
          it = rs.groups.emplace(values, Group{}).first;
          it->second.values = values;
          it->second.fingerprint = GroupFingerprint(rule, values);
        }
        Group& g = it->second;
        g.last_match_ns = now;
        if (rule.type == RuleType::kThreshold) {
          int64_t ts = std::min(r.timestamp_ns, now);
          if (ts < now - rule.window_ns - options_.out_of_order_ns) {
            ++rs.late;
            continue;
          }
          ++g.buckets[ts / rs.bucket_ns];
        } else if (rule.type == RuleType::kPattern || rule.type == RuleType::kNewPattern) {
          g.sample = r.message.substr(0, 4096);
          urgent = true;
        }
      }
    }
  }
  if (urgent) {
    urgent_ = true;
    cv_.notify_all();
  }
}

Notification AlertEngine::MakeNotification(const RuleState& rs, const Group& g, bool firing,
                                           int64_t now) const {
  const AlertRule& rule = rs.rule;
  Notification n;
  n.state = firing ? Notification::State::kFiring : Notification::State::kResolved;
  n.rule = rule.name;
  n.labels["alertname"] = rule.name;
  if (rule.tenant != kDefaultTenant) n.labels["tenant"] = rule.tenant;
  for (const auto& [k, v] : rule.labels) n.labels[k] = v;
  for (size_t i = 0; i < rule.by.size() && i < g.values.size(); ++i) {
    n.labels[rule.by[i]] = g.values[i];
  }
  if (rule.type == RuleType::kNewPattern && !g.values.empty()) {
    n.labels["pattern_id"] = g.values.back();
  }
  for (const auto& [k, v] : rule.annotations) {
    n.annotations[k] = ExpandAlertTemplate(v, n.labels, g.value);
  }
  n.value = g.value;
  n.starts_at_ns = g.since_ns;
  n.ends_at_ns = firing ? 0 : now;
  n.sample = g.sample;
  n.fingerprint = g.fingerprint;
  std::string q;
  for (unsigned char c : rule.query) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      q.push_back(static_cast<char>(c));
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      q += buf;
    }
  }
  n.generator_url = options_.external_url + "/loki/api/v1/query_range?query=" + q;
  return n;
}

void AlertEngine::EvaluateRule(RuleState& rs, int64_t now, std::vector<Notification>* out,
                               bool* changed) {
  const AlertRule& rule = rs.rule;
  for (auto it = rs.groups.begin(); it != rs.groups.end();) {
    Group& g = it->second;
    bool cond = false;
    bool may_resolve = true;
    switch (rule.type) {
      case RuleType::kThreshold: {
        const int64_t first = (now - rule.window_ns) / rs.bucket_ns + 1;
        const int64_t oldest = (now - rule.window_ns - options_.out_of_order_ns) / rs.bucket_ns;
        uint64_t count = 0;
        for (auto b = g.buckets.begin(); b != g.buckets.end();) {
          if (b->first < oldest) {
            b = g.buckets.erase(b);
            continue;
          }
          if (b->first >= first) count += b->second;
          ++b;
        }
        g.value = rule.rate
                      ? static_cast<double>(count) / (static_cast<double>(rule.window_ns) / 1e9)
                      : static_cast<double>(count);
        cond = Compare(rule.op, g.value, rule.threshold);
        may_resolve = !g.restored || now - started_ns_ >= rule.window_ns;
        break;
      }
      case RuleType::kPattern:
      case RuleType::kNewPattern:
        cond = g.last_match_ns != 0 && now - g.last_match_ns < rule.resolve_after_ns;
        g.value = cond ? 1 : 0;
        break;
      case RuleType::kAbsence:
        g.value = static_cast<double>(now - g.last_match_ns) / 1e9;
        cond = now - g.last_match_ns >= rule.for_ns;
        may_resolve = !g.restored || g.last_match_ns > started_ns_;
        break;
    }
    if (cond) {
      if (g.state == AlertState::kInactive) {
        g.state = AlertState::kPending;
        g.since_ns = now;
      }
      // Absence: `for` is the silence itself; pattern rules fire at once.
      const int64_t wait = rule.type == RuleType::kThreshold ? rule.for_ns : 0;
      if (g.state == AlertState::kPending && now - g.since_ns >= wait) {
        g.state = AlertState::kFiring;
        g.since_ns = now;
        g.last_sent_ns = g.last_refresh_ns = now;
        out->push_back(MakeNotification(rs, g, true, now));
        *changed = true;
      } else if (g.state == AlertState::kFiring &&
                 now - g.last_sent_ns >= options_.repeat_interval_ns) {
        g.last_sent_ns = g.last_refresh_ns = now;
        out->push_back(MakeNotification(rs, g, true, now));
        *changed = true;
      }
    } else if (may_resolve) {
      if (g.state == AlertState::kFiring) {
        out->push_back(MakeNotification(rs, g, false, now));
        *changed = true;
      }
      g.state = AlertState::kInactive;
      g.restored = false;
    }
    if (g.state == AlertState::kFiring && now - g.last_refresh_ns >= options_.refresh_interval_ns) {
      g.last_refresh_ns = now;
      out->push_back(MakeNotification(rs, g, true, now));
      out->back().refresh = true;
    }
    // Forget idle groups (absence rules remember theirs: silence is the point).
    bool idle =
        g.state == AlertState::kInactive && rule.type != RuleType::kAbsence &&
        (rule.type == RuleType::kThreshold ? g.buckets.empty()
                                           : now - g.last_match_ns >= rule.resolve_after_ns);
    it = idle ? rs.groups.erase(it) : std::next(it);
  }
}

void AlertEngine::Evaluate() {
  std::vector<Notification> out;
  {
    std::lock_guard lock(mu_);
    const int64_t now = options_.clock->NowNanos();
    bool changed = false;
    for (auto& rs : rules_) EvaluateRule(*rs, now, &out, &changed);
    if (changed) SaveStates();
  }
  if (!out.empty() && sink_) sink_(std::move(out));
}

Status AlertEngine::Reload(std::vector<AlertRule> rules) {
  std::vector<std::unique_ptr<RuleState>> fresh;
  LODE_RETURN_IF_ERROR(Compile(std::move(rules), &fresh));
  std::vector<Notification> out;
  {
    std::lock_guard lock(mu_);
    const int64_t now = options_.clock->NowNanos();
    for (auto& f : fresh) {
      for (auto& old : rules_) {
        if (old && old->rule.name == f->rule.name && old->definition == f->definition) {
          f = std::move(old);  // unchanged: keeps counts and states
          break;
        }
      }
    }
    for (auto& old : rules_) {
      if (!old) continue;
      for (auto& [key, g] : old->groups) {
        if (g.state == AlertState::kFiring) out.push_back(MakeNotification(*old, g, false, now));
      }
    }
    rules_ = std::move(fresh);
    SaveStates();
  }
  if (!out.empty() && sink_) sink_(std::move(out));
  return Status::OK();
}

std::vector<RuleView> AlertEngine::Rules() const {
  std::lock_guard lock(mu_);
  std::vector<RuleView> out;
  for (const auto& rs : rules_) {
    RuleView v;
    v.rule = rs->rule;
    v.groups = rs->groups.size();
    for (const auto& [k, g] : rs->groups) {
      v.firing += g.state == AlertState::kFiring;
      v.pending += g.state == AlertState::kPending;
    }
    v.matched = rs->matched;
    v.late = rs->late;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<AlertView> AlertEngine::Alerts() const {
  std::lock_guard lock(mu_);
  std::vector<AlertView> out;
  const int64_t now = options_.clock->NowNanos();
  for (const auto& rs : rules_) {
    for (const auto& [k, g] : rs->groups) {
      if (g.state == AlertState::kInactive) continue;
      Notification n = MakeNotification(*rs, g, true, now);
      AlertView v;
      v.rule = rs->rule.name;
      v.tenant = rs->rule.tenant;
      v.labels = std::move(n.labels);
      v.annotations = std::move(n.annotations);
      v.state = g.state;
      v.value = g.value;
      v.active_since_ns = g.since_ns;
      v.sample = g.sample;
      out.push_back(std::move(v));
    }
  }
  return out;
}

void AlertEngine::SaveStates() {
  if (options_.state_path.empty()) return;
  std::string text;
  JsonWriter w(&text);
  w.BeginObject().Key("version").Int(1).Key("firing").BeginArray();
  for (const auto& rs : rules_) {
    for (const auto& [k, g] : rs->groups) {
      if (g.state != AlertState::kFiring) continue;
      w.BeginObject();
      w.Key("tenant").String(rs->rule.tenant);
      w.Key("rule").String(rs->rule.name);
      w.Key("values").BeginArray();
      for (const auto& v : g.values) w.String(v);
      w.EndArray();
      w.Key("since_ns").Int(g.since_ns);
      w.Key("last_sent_ns").Int(g.last_sent_ns);
      w.Key("sample").String(g.sample);
      w.EndObject();
    }
  }
  w.EndArray().EndObject();
  Status s = Env::Default()->WriteFileAtomic(options_.state_path, text);
  if (!s.ok()) spdlog::error("alerts: saving {}: {}", options_.state_path, s.message());
}

void AlertEngine::LoadStates() {
  if (options_.state_path.empty() || !Env::Default()->FileExists(options_.state_path)) return;
  std::string text;
  if (!Env::Default()->ReadFile(options_.state_path, &text).ok()) return;
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array firing;
  if (parser.parse(simdjson::padded_string(text)).get(doc) ||
      doc["firing"].get_array().get(firing)) {
    spdlog::error("alerts: {} does not parse; alert states start empty", options_.state_path);
    return;
  }
  const int64_t now = options_.clock->NowNanos();
  size_t restored = 0;
  for (simdjson::dom::element a : firing) {
    std::string_view tenant, rule, sample;
    int64_t since = 0, sent = 0;
    simdjson::dom::array values;
    if (a["tenant"].get_string().get(tenant) || a["rule"].get_string().get(rule) ||
        a["values"].get_array().get(values) || a["since_ns"].get_int64().get(since) ||
        a["last_sent_ns"].get_int64().get(sent)) {
      continue;
    }
    if (a["sample"].get_string().get(sample)) sample = {};
    for (auto& rs : rules_) {
      if (rs->rule.tenant != tenant || rs->rule.name != rule) continue;
      std::vector<std::string> vals;
      for (simdjson::dom::element v : values) {
        std::string_view sv;
        if (!v.get_string().get(sv)) vals.emplace_back(sv);
      }
      Group& g = rs->groups[vals];
      g.values = vals;
      g.fingerprint = GroupFingerprint(rs->rule, vals);
      g.state = AlertState::kFiring;
      g.since_ns = since;
      g.last_sent_ns = sent;
      g.sample = sample;
      g.restored = true;
      // Pattern alerts last resolve_after from now; absence ones from their silence.
      g.last_match_ns = rs->rule.type == RuleType::kAbsence ? since - rs->rule.for_ns : now;
      if (rs->rule.type == RuleType::kNewPattern && !vals.empty()) {
        rs->seen_new_patterns.insert(
            static_cast<uint32_t>(std::strtoul(vals.back().c_str(), nullptr, 10)));
      }
      ++restored;
    }
  }
  if (restored > 0)
    spdlog::info("alerts: {} firing alert(s) restored from {}", restored, options_.state_path);
}

}  // namespace lode
