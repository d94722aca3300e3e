#include "query/tail.h"

#include <algorithm>

namespace lode {

std::vector<Record> TailHub::Subscription::Take(uint64_t* dropped_out) {
  std::lock_guard lock(mu);
  std::vector<Record> out;
  out.swap(pending);
  *dropped_out = dropped;
  dropped = 0;
  return out;
}

std::shared_ptr<TailHub::Subscription> TailHub::Subscribe(std::string tenant, size_t max_pending) {
  auto sub = std::make_shared<Subscription>();
  sub->tenant = std::move(tenant);
  sub->max_pending = max_pending;
  std::lock_guard lock(mu_);
  subs_.push_back(sub);
  subscribers_.store(subs_.size());
  return sub;
}

void TailHub::Unsubscribe(const std::shared_ptr<Subscription>& sub) {
  std::lock_guard lock(mu_);
  subs_.erase(std::remove(subs_.begin(), subs_.end(), sub), subs_.end());
  subscribers_.store(subs_.size());
}

void TailHub::Publish(std::span<RecordBatch* const> batches) {
  std::lock_guard lock(mu_);
  for (const auto& sub : subs_) {
    std::lock_guard sub_lock(sub->mu);
    for (const RecordBatch* bp : batches) {
      const RecordBatch& b = *bp;
      if (b.tenant != sub->tenant) continue;
      for (const Record& r : b.records) {
        if (sub->pending.size() >= sub->max_pending) {
          ++sub->dropped;
          continue;
        }
        sub->pending.push_back(r);
        if (sub->pending.back().tenant.empty()) sub->pending.back().tenant = b.tenant;
      }
    }
  }
}

}  // namespace lode
