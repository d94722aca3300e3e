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
  return true;
}

}  // namespace lode
