#include "ingest/otlp.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cstring>

#include "common/json_writer.h"
#include "ingest/protobuf_wire.h"
#include "parse/level.h"
#include "parse/message_level.h"

namespace lode {

namespace {

using protowire::Field;
using protowire::NextField;

Level FromSeverityNumber(uint64_t n) {
  if (n >= 1 && n <= 4) return Level::kTrace;
  if (n >= 5 && n <= 8) return Level::kDebug;
  if (n >= 9 && n <= 12) return Level::kInfo;
  if (n >= 13 && n <= 16) return Level::kWarn;
  if (n >= 17 && n <= 20) return Level::kError;
  if (n >= 21 && n <= 24) return Level::kFatal;
  return Level::kUnknown;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 15]);
  }
  return out;
}

// What the resource says about every record under it.
struct ResourceInfo {
  std::string service, instance;
  std::vector<Attribute> attributes;
  void Add(std::string key, std::string value) {
    if (key == "service.name") {
      service = std::move(value);
      return;
    }
    if (key == "service.instance.id" ||
        (instance.empty() && (key == "host.name" || key == "k8s.pod.name"))) {
      instance = value;
    }
    attributes.push_back({std::move(key), std::move(value)});
  }
};

// A record under construction, whatever the encoding.
struct Pending {
  int64_t time = 0, observed = 0;
  uint64_t severity_number = 0;
  std::string severity_text;
  bool has_body = false;
  std::string body;
  std::vector<Attribute> attributes;
  std::string trace_id, span_id;
};

void Finish(const ResourceInfo& res, std::string_view scope, Pending&& p, int64_t received_ns,
            RecordBatch* batch) {
  Record r;
  r.tenant = batch->tenant;
  r.observed_ns = received_ns;
  r.timestamp_ns = p.time != 0 ? p.time : p.observed != 0 ? p.observed : received_ns;
  if (p.time == 0 && p.observed == 0) r.flags |= kFlagTimestampMissing;
  r.service = res.service;
  r.instance = res.instance;
  r.source = "otlp";
  r.message = std::move(p.body);
  r.level = FromSeverityNumber(p.severity_number);
  if (r.level == Level::kUnknown && !p.severity_text.empty()) r.level = ParseLevel(p.severity_text);
  if (r.level == Level::kUnknown) r.level = LevelFromMessage(r.message);
  r.attributes = res.attributes;
  for (auto& a : p.attributes) r.attributes.push_back(std::move(a));
  if (!p.trace_id.empty()) r.attributes.push_back({"trace_id", std::move(p.trace_id)});
  if (!p.span_id.empty()) r.attributes.push_back({"span_id", std::move(p.span_id)});
  if (!scope.empty()) r.attributes.push_back({"otel.scope.name", std::string(scope)});
  batch->records.push_back(std::move(r));
}

// ---- protobuf ----

bool RenderAnyValue(std::string_view any, JsonWriter* w, std::string* plain, bool top);

bool RenderKvList(std::string_view list, JsonWriter* w) {
  w->BeginObject();
  Field f;
  while (!list.empty()) {
    if (!NextField(&list, &f)) return false;
    if (f.number != 1 || f.wire != 2) continue;
    std::string_view kv = f.bytes, key, value;
    Field g;
    while (!kv.empty()) {
      if (!NextField(&kv, &g)) return false;
      if (g.number == 1 && g.wire == 2) key = g.bytes;
      if (g.number == 2 && g.wire == 2) value = g.bytes;
    }
    w->Key(key);
    std::string unused;
    if (!RenderAnyValue(value, w, &unused, false)) return false;
  }
  w->EndObject();
  return true;
}

// Renders an AnyValue: at the top, a string value is *plain as is; anything
// else, and nested values, go through the JSON writer.
bool RenderAnyValue(std::string_view any, JsonWriter* w, std::string* plain, bool top) {
  Field f;
  bool wrote = false;
  while (!any.empty()) {
    if (!NextField(&any, &f)) return false;
    wrote = true;
    switch (f.number) {
      case 1:
        if (top) {
          plain->assign(f.bytes);
          return any.empty();
        }
        w->String(f.bytes);
        break;
      case 2: w->Bool(f.varint != 0); break;
      case 3: w->Int(static_cast<int64_t>(f.varint)); break;
      case 4: {
        w->Double(std::bit_cast<double>(f.varint));
        break;
      }
      case 5: {
        w->BeginArray();
        std::string_view vals = f.bytes;
        Field g;
        while (!vals.empty()) {
          if (!NextField(&vals, &g)) return false;
          std::string unused;
          if (g.number == 1 && g.wire == 2 && !RenderAnyValue(g.bytes, w, &unused, false)) {
            return false;
          }
        }
        w->EndArray();
        break;
      }
      case 6:
        if (!RenderKvList(f.bytes, w)) return false;
        break;
      case 7: w->String(Hex(f.bytes)); break;
      default: wrote = false; break;
    }
  }
  if (!wrote) w->Null();
  return true;
}

// An AnyValue as an attribute value or a message: strings as they are,
// everything else as JSON.
bool AnyValueText(std::string_view any, std::string* out) {
  std::string json;
  JsonWriter w(&json);
  std::string plain;
  out->clear();
  // A lone string_value is plain text.
  std::string_view probe = any;
  Field f;
  if (NextField(&probe, &f) && f.number == 1 && f.wire == 2 && probe.empty()) {
    out->assign(f.bytes);
    return true;
  }
  if (!RenderAnyValue(any, &w, &plain, false)) return false;
  *out = std::move(json);
  return true;
}

bool KeyValue(std::string_view kv, std::string* key, std::string* value) {
  Field f;
  std::string_view v;
  while (!kv.empty()) {
    if (!NextField(&kv, &f)) return false;
    if (f.number == 1 && f.wire == 2) key->assign(f.bytes);
    if (f.number == 2 && f.wire == 2) v = f.bytes;
  }
  return AnyValueText(v, value);
}

Status Bad(std::string_view what, std::string_view all, std::string_view rest) {
  return Status::InvalidArgument(
      fmt::format("OTLP protobuf: {} at byte {}", what, all.size() - rest.size()));
}

}  // namespace

Status ParseOtlpLogsProto(std::string_view proto, int64_t received_ns, RecordBatch* batch,
                          OtlpOutcome* outcome) {
  std::string_view in = proto;
  Field f;
  while (!in.empty()) {
    if (!NextField(&in, &f)) return Bad("malformed field", proto, in);
    if (f.number != 1 || f.wire != 2) continue;
    ResourceInfo res;
    std::vector<std::string_view> scopes;
    std::string_view rl = f.bytes;
    Field g;
    while (!rl.empty()) {
      if (!NextField(&rl, &g)) return Bad("malformed ResourceLogs", proto, in);
      if (g.number == 1 && g.wire == 2) {
        std::string_view r = g.bytes;
        Field h;
        while (!r.empty()) {
          if (!NextField(&r, &h)) return Bad("malformed Resource", proto, in);
          if (h.number != 1 || h.wire != 2) continue;
          std::string key, value;
          if (!KeyValue(h.bytes, &key, &value)) return Bad("malformed attribute", proto, in);
          res.Add(std::move(key), std::move(value));
        }
      } else if (g.number == 2 && g.wire == 2) {
        scopes.push_back(g.bytes);  // after the resource, which may come later
      }
    }
    for (std::string_view sl : scopes) {
      std::string scope_name;
      std::vector<std::string_view> records;
      Field h;
      while (!sl.empty()) {
        if (!NextField(&sl, &h)) return Bad("malformed ScopeLogs", proto, in);
        if (h.number == 1 && h.wire == 2) {
          std::string_view sc = h.bytes;
          Field k;
          while (!sc.empty()) {
            if (!NextField(&sc, &k)) return Bad("malformed scope", proto, in);
            if (k.number == 1 && k.wire == 2) scope_name.assign(k.bytes);
          }
        } else if (h.number == 2 && h.wire == 2) {
          records.push_back(h.bytes);
        }
      }
      for (std::string_view lr : records) {
        Pending p;
        bool ok = true;
        Field k;
        while (ok && !lr.empty()) {
          if (!NextField(&lr, &k)) {
            ok = false;
            break;
          }
          switch (k.number) {
            case 1: p.time = static_cast<int64_t>(k.varint); break;
            case 11: p.observed = static_cast<int64_t>(k.varint); break;
            case 2: p.severity_number = k.varint; break;
            case 3: p.severity_text.assign(k.bytes); break;
            case 5: ok = AnyValueText(k.bytes, &p.body); break;
            case 6: {
              std::string key, value;
              ok = KeyValue(k.bytes, &key, &value);
              p.attributes.push_back({std::move(key), std::move(value)});
              break;
            }
            case 9: p.trace_id = Hex(k.bytes); break;
            case 10: p.span_id = Hex(k.bytes); break;
            default: break;
          }
        }
        if (!ok) {
          ++outcome->rejected;
          if (outcome->errors.size() < 20) {
            outcome->errors.push_back("a log record is malformed (protobuf)");
          }
          continue;
        }
        Finish(res, scope_name, std::move(p), received_ns, batch);
      }
    }
  }
  return Status::OK();
}

// ---- JSON ----

namespace {

void RenderJsonAny(simdjson::dom::element v, JsonWriter* w);

// OTLP JSON's AnyValue: {"stringValue": ...} and so on.
void RenderJsonAny(simdjson::dom::element v, JsonWriter* w) {
  simdjson::dom::object o;
  if (v.get_object().get(o)) {
    w->Null();
    return;
  }
  for (auto [key, val] : o) {
    std::string_view s;
    if (key == "stringValue" && !val.get_string().get(s)) {
      w->String(s);
    } else if (key == "boolValue") {
      bool b = false;
      w->Bool(!val.get_bool().get(b) && b);
    } else if (key == "intValue") {
      int64_t i = 0;
      if (!val.get_string().get(s)) {
        std::from_chars(s.data(), s.data() + s.size(), i);
      } else if (val.get_int64().get(i)) {
        i = 0;
      }
      w->Int(i);
    } else if (key == "doubleValue") {
      double d = 0;
      if (val.get_double().get(d)) d = 0;
      w->Double(d);
    } else if (key == "bytesValue" && !val.get_string().get(s)) {
      w->String(s);  // base64, as sent
    } else if (key == "arrayValue") {
      w->BeginArray();
      simdjson::dom::array a;
      if (!val["values"].get_array().get(a)) {
        for (auto e : a) RenderJsonAny(e, w);
      }
      w->EndArray();
    } else if (key == "kvlistValue") {
      w->BeginObject();
      simdjson::dom::array a;
      if (!val["values"].get_array().get(a)) {
        for (auto kv : a) {
          std::string_view k;
          if (kv["key"].get_string().get(k)) continue;
          w->Key(k);
          RenderJsonAny(kv["value"].value_unsafe(), w);
        }
      }
      w->EndObject();
    } else {
      continue;
    }
    return;
  }
  w->Null();
}

std::string JsonAnyText(simdjson::dom::element v) {
  std::string_view s;
  if (!v["stringValue"].get_string().get(s)) return std::string(s);
  std::string out;
  JsonWriter w(&out);
  RenderJsonAny(v, &w);
  return out;
}

int64_t JsonNanos(simdjson::dom::element rec, const char* key) {
  std::string_view s;
  int64_t v = 0;
  if (!rec[key].get_string().get(s)) {
    std::from_chars(s.data(), s.data() + s.size(), v);
  } else if (rec[key].get_int64().get(v)) {
    v = 0;
  }
  return v;
}

}  // namespace

Status ParseOtlpLogsJson(std::string_view json, int64_t received_ns, RecordBatch* batch,
                         OtlpOutcome* outcome) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (auto err = parser.parse(json.data(), json.size()).get(root); err) {
    return Status::InvalidArgument(std::string("OTLP JSON: not valid JSON: ") +
                                   simdjson::error_message(err));
  }
  simdjson::dom::array resource_logs;
  if (root["resourceLogs"].get_array().get(resource_logs)) {
    return Status::InvalidArgument("OTLP JSON: no \"resourceLogs\" array");
  }
  size_t ri = 0;
  for (simdjson::dom::element rl : resource_logs) {
    const size_t r_index = ri++;
    ResourceInfo res;
    simdjson::dom::array attrs;
    if (!rl["resource"]["attributes"].get_array().get(attrs)) {
      for (auto kv : attrs) {
        std::string_view k;
        if (kv["key"].get_string().get(k)) continue;
        res.Add(std::string(k), JsonAnyText(kv["value"].value_unsafe()));
      }
    }
    simdjson::dom::array scopes;
    if (rl["scopeLogs"].get_array().get(scopes)) continue;
    size_t si = 0;
    for (simdjson::dom::element sl : scopes) {
      const size_t s_index = si++;
      std::string_view scope_name;
      if (sl["scope"]["name"].get_string().get(scope_name)) scope_name = {};
      simdjson::dom::array records;
      if (sl["logRecords"].get_array().get(records)) continue;
      size_t li = 0;
      for (simdjson::dom::element rec : records) {
        const size_t l_index = li++;
        simdjson::dom::object obj;
        if (rec.get_object().get(obj)) {
          ++outcome->rejected;
          if (outcome->errors.size() < 20) {
            outcome->errors.push_back(
                fmt::format("resourceLogs[{}].scopeLogs[{}].logRecords[{}]: not an object", r_index,
                            s_index, l_index));
          }
          continue;
        }
        Pending p;
        p.time = JsonNanos(rec, "timeUnixNano");
        p.observed = JsonNanos(rec, "observedTimeUnixNano");
        uint64_t sev = 0;
        if (!rec["severityNumber"].get_uint64().get(sev)) p.severity_number = sev;
        std::string_view text;
        if (!rec["severityText"].get_string().get(text)) p.severity_text = std::string(text);
        simdjson::dom::element body;
        if (!rec["body"].get(body)) p.body = JsonAnyText(body);
        simdjson::dom::array ra;
        if (!rec["attributes"].get_array().get(ra)) {
          for (auto kv : ra) {
            std::string_view k;
            if (kv["key"].get_string().get(k)) continue;
            p.attributes.push_back({std::string(k), JsonAnyText(kv["value"].value_unsafe())});
          }
        }
        std::string_view id;
        if (!rec["traceId"].get_string().get(id)) p.trace_id = std::string(id);
        if (!rec["spanId"].get_string().get(id)) p.span_id = std::string(id);
        Finish(res, scope_name, std::move(p), received_ns, batch);
      }
    }
  }
  return Status::OK();
}

}  // namespace lode
