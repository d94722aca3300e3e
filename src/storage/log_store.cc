#include "storage/log_store.h"

#include <algorithm>

namespace lode {

bool ScanSpec::Matches(const Record& r) const {
  if (r.timestamp_ns < start_ns || r.timestamp_ns >= end_ns) return false;
  if ((level_mask & (1u << static_cast<unsigned>(r.level))) == 0) return false;
  if (r.tenant != tenant) return false;
  if (!services.empty() &&
      std::find(services.begin(), services.end(), r.service) == services.end()) {
    return false;
  }
  if (!instances.empty() &&
      std::find(instances.begin(), instances.end(), r.instance) == instances.end()) {
    return false;
  }
  if (!sources.empty() && std::find(sources.begin(), sources.end(), r.source) == sources.end()) {
    return false;
  }
  if (!pattern_ids.empty() &&
      !std::binary_search(pattern_ids.begin(), pattern_ids.end(), r.pattern_id)) {
    return false;
  }
  for (const auto& sub : required_substrings) {
    if (std::string_view(r.message).find(sub) == std::string_view::npos) return false;
  }
  for (const auto& group : required_any) {
    bool any = false;
    for (const auto& sub : group) {
      any = any || std::string_view(r.message).find(sub) != std::string_view::npos;
    }
    if (!any && !group.empty()) return false;
  }
  return true;
}

int64_t FloorToStep(int64_t ts, int64_t step) {
  int64_t q = ts / step;
  if (ts % step != 0 && ts < 0) --q;
  return q * step;
}

Status ScanCancelled() {
  return Status::Cancelled("scan cancelled");
}

int64_t CountSpec::Bucket(int64_t ts) const {
  return FloorToStep(ts - align_ns, step_ns) + align_ns;
}

void AddToCount(const Record& r, const CountSpec& count, CountKey* key, CountResult* out) {
  ++out->matched;
  if (count.by_level) key->level = static_cast<int>(r.level);
  if (count.by_service) key->service = r.service;
  if (count.step_ns > 0) key->bucket = count.Bucket(r.timestamp_ns);
  ++out->counts[*key];
}

Status LogStore::Count(const ScanSpec& spec, const CountSpec& count, CountResult* out) const {
  CountKey key;
  return Scan(spec, [&](const Record& r) {
    ++out->scanned;
    AddToCount(r, count, &key, out);
    return true;
  });
}

Status LogStore::LabelValues(const ScanSpec& spec, std::string_view name,
                             std::set<std::string>* out) const {
  if (name != "service" && name != "instance" && name != "source" && name != "level") {
    return Status::OK();
  }
  return Scan(spec, [&](const Record& r) {
    if (name == "service") {
      if (!r.service.empty()) out->insert(r.service);
    } else if (name == "instance") {
      if (!r.instance.empty()) out->insert(r.instance);
    } else if (name == "source") {
      if (!r.source.empty()) out->insert(r.source);
    } else {
      out->emplace(LevelName(r.level));
    }
    return true;
  });
}

}  // namespace lode
