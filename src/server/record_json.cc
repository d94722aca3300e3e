#include "server/record_json.h"

#include <string>

#include "parse/timestamp.h"

namespace lode {

void WriteRecordJson(const Record& r, JsonWriter* w, std::string_view pattern) {
  std::string ts;
  w->BeginObject();
  FormatRfc3339(r.timestamp_ns, &ts);
  w->Key("timestamp").String(ts);
  w->Key("timestamp_ns").String(std::to_string(r.timestamp_ns));
  ts.clear();
  FormatRfc3339(r.observed_ns, &ts);
  w->Key("observed").String(ts);
  w->Key("level").String(LevelName(r.level));
  w->Key("service").String(r.service);
  w->Key("instance").String(r.instance);
  w->Key("source").String(r.source);
  w->Key("message").String(r.message);
  w->Key("attributes").BeginObject();
  for (const auto& a : r.attributes) w->Key(a.key).String(a.value);
  w->EndObject();
  if (r.flags != 0) {
    w->Key("flags").BeginArray();
    if (r.flags & kFlagTimestampMissing) w->String("timestamp_missing");
    if (r.flags & kFlagTimestampInvalid) w->String("timestamp_invalid");
    w->EndArray();
  }
  if (r.pattern_id != 0) w->Key("pattern_id").String(std::to_string(r.pattern_id));
  if (!pattern.empty()) w->Key("pattern").String(pattern);
  w->EndObject();
}

}  // namespace lode
