#include "parse/json_record.h"

#include <array>
#include <charconv>
#include <cstring>
#include <unordered_map>

#include "parse/level.h"
#include "parse/message_level.h"
#include "parse/timestamp.h"

namespace lode {

namespace {

enum class Role : uint8_t { kTimestamp, kMessage, kLevel, kService, kInstance, kSource, kCount };
constexpr size_t kRoleCount = static_cast<size_t>(Role::kCount);

struct RoleMatch {
  Role role;
  uint8_t priority;  // lower wins when a record has several candidates
};

// A field name can serve two roles (container_name: the service when nothing
// better names it, and the instance).
struct RoleMatches {
  std::array<RoleMatch, 2> matches;
  uint8_t count = 0;
};

// Flattened, lower-cased field names for each role, best first. The order
// encodes which name wins when a record carries several, e.g. an explicit
// "service" beats the Kubernetes app label, which beats the container name.
struct RoleNames {
  Role role;
  std::initializer_list<std::string_view> names;
};

const std::unordered_map<std::string_view, RoleMatches>& FieldRoles() {
  static const auto* table = [] {
    const RoleNames kRoles[] = {
        {Role::kTimestamp,
         {"timestamp", "@timestamp", "ts", "time", "datetime", "date", "eventtime", "event_time",
          "timestamp_ms", "timemillis", "time_local", "_time", "logtime", "log_time", "asctime",
          "t", "event.created"}},
        {Role::kMessage,
         {"message", "msg", "log", "text", "body", "@message", "content", "short_message",
          "full_message", "_msg", "event", "log.message", "logmessage"}},
        {Role::kLevel,
         {"level", "severity", "lvl", "loglevel", "log_level", "log.level", "levelname",
          "level_name", "severity_text", "severitytext", "sev", "@level", "priority"}},
        {Role::kService,
         {"source.entity", "service", "service.name", "service_name", "servicename", "app",
          "app_name", "appname", "application", "kubernetes.labels.app",
          "kubernetes.labels.app.kubernetes.io/name", "kubernetes.labels.k8s-app",
          "kubernetes.container_name", "container_name", "loggroup", "syslog.appname",
          "program", "ident", "job", "component"}},
        {Role::kInstance,
         {"source.entityinstance", "instance", "kubernetes.pod_name", "kubernetes.pod.name",
          "pod", "pod_name", "host", "hostname", "host.name", "host.hostname", "container_name",
          "container_id",
          "logstream", "kubernetes.host", "node", "ip"}},
        {Role::kSource, {"source.type", "source_type", "sourcetype", "log.source"}},
    };
    auto* m = new std::unordered_map<std::string_view, RoleMatches>();
    for (const auto& r : kRoles) {
      uint8_t prio = 0;
      for (std::string_view name : r.names) {
        RoleMatches& rm = (*m)[name];
        rm.matches[rm.count++] = RoleMatch{r.role, prio++};
      }
    }
    return m;
  }();
  return *table;
}

// The best field seen so far for one role.
struct Candidate {
  int priority = 256;
  size_t attr_index = 0;  // index into Record::attributes
  simdjson::dom::element value;
};

bool LowerInto(std::string_view key, char* buf, size_t cap, size_t* len) {
  if (key.size() > cap) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    buf[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  *len = key.size();
  return true;
}

void AppendNumber(simdjson::dom::element e, std::string* out) {
  char buf[40];
  std::to_chars_result r{};
  switch (e.type()) {
    case simdjson::dom::element_type::INT64:
      r = std::to_chars(buf, buf + sizeof(buf), e.get_int64().value_unsafe());
      break;
    case simdjson::dom::element_type::UINT64:
      r = std::to_chars(buf, buf + sizeof(buf), e.get_uint64().value_unsafe());
      break;
    default:
      r = std::to_chars(buf, buf + sizeof(buf), e.get_double().value_unsafe());
      break;
  }
  out->append(buf, r.ptr);
}

bool IsNumber(simdjson::dom::element e) {
  auto t = e.type();
  return t == simdjson::dom::element_type::INT64 || t == simdjson::dom::element_type::UINT64 ||
         t == simdjson::dom::element_type::DOUBLE;
}

// Walks an object, appending every leaf as an attribute and noting role candidates.
class Flattener {
 public:
  Flattener(Record* out, std::string* path, std::array<Candidate, kRoleCount>* cands)
      : out_(out), path_(path), cands_(cands) {}

  void Walk(simdjson::dom::object obj) {
    for (auto field : obj) {
      size_t mark = path_->size();
      if (!path_->empty()) path_->push_back('.');
      path_->append(field.key.data(), field.key.size());
      Leaf(field.value);
      path_->resize(mark);
    }
  }

 private:
  void Leaf(simdjson::dom::element v) {
    using T = simdjson::dom::element_type;
    std::string value;
    switch (v.type()) {
      case T::OBJECT:
        Walk(v.get_object().value_unsafe());
        return;
      case T::NULL_VALUE:
        return;
      case T::STRING: {
        std::string_view s = v.get_string().value_unsafe();
        value.assign(s.data(), s.size());
        break;
      }
      case T::BOOL:
        value = v.get_bool().value_unsafe() ? "true" : "false";
        break;
      case T::ARRAY:
        value = simdjson::minify(v);
        break;
      default:
        AppendNumber(v, &value);
        break;
    }
    size_t index = out_->attributes.size();
    out_->attributes.push_back(Attribute{*path_, std::move(value)});

    char lower[64];
    size_t len = 0;
    if (!LowerInto(*path_, lower, sizeof(lower), &len)) return;
    const auto& roles = FieldRoles();
    auto it = roles.find(std::string_view(lower, len));
    if (it == roles.end()) return;
    // A role takes a scalar; containers stay attributes.
    if (v.type() == T::ARRAY) return;
    for (uint8_t i = 0; i < it->second.count; ++i) {
      const RoleMatch& m = it->second.matches[i];
      Candidate& c = (*cands_)[static_cast<size_t>(m.role)];
      if (m.priority < c.priority) {
        c.priority = m.priority;
        c.attr_index = index;
        c.value = v;
      }
    }
  }

  Record* out_;
  std::string* path_;
  std::array<Candidate, kRoleCount>* cands_;
};

std::string_view LastPathComponent(std::string_view s) {
  while (!s.empty() && s.back() == '/') s.remove_suffix(1);
  size_t slash = s.rfind('/');
  return slash == std::string_view::npos ? s : s.substr(slash + 1);
}

bool HasKeyPrefix(const Record& r, std::string_view prefix) {
  for (const auto& a : r.attributes) {
    if (a.key.starts_with(prefix)) return true;
  }
  return false;
}

}  // namespace

Status JsonRecordParser::ParseObject(std::string_view json, const ParseContext& ctx,
                                     Record* out) {
  simdjson::dom::element root;
  auto err = parser_.parse(json.data(), json.size(), /*realloc_if_needed=*/false).get(root);
  if (err) {
    return Status::InvalidArgument(std::string("invalid JSON: ") + simdjson::error_message(err));
  }
  if (root.type() != simdjson::dom::element_type::OBJECT) {
    return Status::InvalidArgument("expected a JSON object");
  }
  return FromElement(root, json, ctx, out);
}

Status JsonRecordParser::FromElement(simdjson::dom::element object, std::string_view raw,
                                     const ParseContext& ctx, Record* out) {
  if (object.type() != simdjson::dom::element_type::OBJECT) {
    return Status::InvalidArgument("expected a JSON object");
  }
  out->timestamp_ns = ctx.observed_ns;
  out->observed_ns = ctx.observed_ns;
  out->level = Level::kUnknown;
  out->flags = 0;
  out->tenant.assign(ctx.tenant);
  out->service.clear();
  out->instance.clear();
  out->source.clear();
  out->message.clear();
  out->attributes.clear();

  std::array<Candidate, kRoleCount> cands{};
  path_.clear();
  Flattener(out, &path_, &cands).Walk(object.get_object().value_unsafe());

  auto& attrs = out->attributes;
  std::array<bool, kRoleCount> found{};
  for (size_t i = 0; i < kRoleCount; ++i) found[i] = cands[i].priority < 256;
  auto cand = [&](Role r) -> Candidate& { return cands[static_cast<size_t>(r)]; };
  auto has = [&](Role r) { return found[static_cast<size_t>(r)]; };
  // Indexes of attributes consumed by a role, removed at the end.
  std::array<size_t, kRoleCount> consumed{};
  size_t n_consumed = 0;
  std::vector<Attribute> extra;  // attributes the pipeline adds (originals)

  if (has(Role::kMessage)) {
    Candidate& c = cand(Role::kMessage);
    std::string& m = attrs[c.attr_index].value;
    if (!m.empty() && m.back() == '\n') m.pop_back();
    if (!m.empty() && m.back() == '\r') m.pop_back();
    out->message = std::move(m);
    consumed[n_consumed++] = c.attr_index;
  } else if (!raw.empty()) {
    out->message.assign(raw);
  } else {
    out->message = simdjson::minify(object);
  }

  if (has(Role::kTimestamp)) {
    Candidate& c = cand(Role::kTimestamp);
    Result<int64_t> ts = Status::InvalidArgument("timestamp is not a string or number");
    if (c.value.type() == simdjson::dom::element_type::STRING) {
      ts = ParseTimestamp(c.value.get_string().value_unsafe(), ctx.observed_ns);
    } else if (c.value.type() == simdjson::dom::element_type::INT64) {
      ts = EpochToNanos(c.value.get_int64().value_unsafe());
    } else if (IsNumber(c.value)) {
      ts = EpochToNanos(c.value.get_double().value_unsafe());
    }
    if (ts.ok()) {
      out->timestamp_ns = *ts;
    } else {
      out->flags |= kFlagTimestampInvalid;
      extra.push_back(Attribute{std::string(kAttrOriginalTimestamp), attrs[c.attr_index].value});
    }
    consumed[n_consumed++] = c.attr_index;
  } else {
    out->flags |= kFlagTimestampMissing;
  }

  if (has(Role::kLevel)) {
    Candidate& c = cand(Role::kLevel);
    const std::string& text = attrs[c.attr_index].value;
    if (c.value.type() == simdjson::dom::element_type::INT64) {
      out->level = LevelFromNumber(c.value.get_int64().value_unsafe());
    } else {
      out->level = ParseLevel(text);
    }
    if (!IsCanonicalSpelling(text, out->level)) {
      extra.push_back(Attribute{std::string(kAttrOriginalLevel), text});
    }
    consumed[n_consumed++] = c.attr_index;
  } else {
    out->level = LevelFromMessage(out->message);
  }

  if (has(Role::kService)) {
    Candidate& c = cand(Role::kService);
    const Attribute& a = attrs[c.attr_index];
    bool is_log_group = a.key.size() == 8 && (a.key == "logGroup" || a.key == "loggroup");
    out->service = is_log_group ? std::string(LastPathComponent(a.value)) : a.value;
    // The raw log group path stays an attribute: it is more than the service.
    if (!is_log_group) consumed[n_consumed++] = c.attr_index;
  }
  if (has(Role::kInstance)) {
    Candidate& c = cand(Role::kInstance);
    out->instance = attrs[c.attr_index].value;
    consumed[n_consumed++] = c.attr_index;
  }
  if (has(Role::kSource)) {
    Candidate& c = cand(Role::kSource);
    out->source = attrs[c.attr_index].value;
    consumed[n_consumed++] = c.attr_index;
  } else if (HasKeyPrefix(*out, "kubernetes.")) {
    out->source = "k8s";
  } else if (out->Attr("logGroup") || out->Attr("logStream")) {
    out->source = "cloudwatch";
  } else if (out->Attr("container_name") || out->Attr("container_id")) {
    out->source = "docker";
  } else {
    out->source.assign(ctx.default_source);
  }

  if (n_consumed > 0) {
    size_t w = 0;
    for (size_t r = 0; r < attrs.size(); ++r) {
      bool drop = false;
      for (size_t k = 0; k < n_consumed; ++k) drop |= consumed[k] == r;
      if (!drop) {
        if (w != r) attrs[w] = std::move(attrs[r]);
        ++w;
      }
    }
    attrs.resize(w);
  }
  for (auto& a : extra) attrs.push_back(std::move(a));
  return Status::OK();
}

}  // namespace lode
