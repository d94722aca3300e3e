#include "storage/log_store.h"

#include <algorithm>

namespace lode {

bool ScanSpec::Matches(const Record& r) const {
  if (r.timestamp_ns < start_ns || r.timestamp_ns >= end_ns) return false;
  if ((level_mask & (1u << static_cast<unsigned>(r.level))) == 0) return false;
  if (r.tenant != tenant) return false;
  if (!services.empty() && std::find(services.begin(), services.end(), r.service) == services.end()) {
    return false;
  }
  if (!instances.empty() &&
      std::find(instances.begin(), instances.end(), r.instance) == instances.end()) {
    return false;
  }
  for (const auto& sub : required_substrings) {
    if (std::string_view(r.message).find(sub) == std::string_view::npos) return false;
  }
  return true;
}

int64_t FloorToStep(int64_t ts, int64_t step) {
  int64_t q = ts / step;
  if (ts % step != 0 && ts < 0) --q;
  return q * step;
}

void AddToCount(const Record& r, const CountSpec& count, CountKey* key, CountResult* out) {
  ++out->matched;
  if (count.by_level) key->level = static_cast<int>(r.level);
  if (count.by_service) key->service = r.service;
  if (count.step_ns > 0) key->bucket = FloorToStep(r.timestamp_ns, count.step_ns);
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

}  // namespace lode
