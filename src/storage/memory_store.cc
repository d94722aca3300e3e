#include "storage/memory_store.h"

#include <algorithm>

namespace lode {

Status MemoryStore::Write(std::span<RecordBatch* const> batches) {
  std::lock_guard lock(mu_);
  for (RecordBatch* b : batches) {
    for (Record& r : b->records) {
      if (r.tenant.empty()) r.tenant = b->tenant;
      records_.push_back(std::move(r));
    }
  }
  return Status::OK();
}

Status MemoryStore::Scan(const ScanSpec& spec, const RecordVisitor& visit) const {
  std::lock_guard lock(mu_);
  const size_t shards = std::max<uint32_t>(spec.shards, 1);
  for (size_t i = spec.shard; i < records_.size(); i += shards) {
    const Record& r = records_[i];
    if (spec.cancelled()) return ScanCancelled();
    if (spec.stats != nullptr) {
      spec.stats->rows.fetch_add(1, std::memory_order_relaxed);
      spec.stats->head_rows.fetch_add(1, std::memory_order_relaxed);
      spec.stats->head_bytes.fetch_add(r.ApproxBytes(), std::memory_order_relaxed);
    }
    if (spec.Matches(r) && !visit(r)) break;
  }
  return Status::OK();
}

StoreStats MemoryStore::Stats() const {
  std::lock_guard lock(mu_);
  StoreStats st;
  st.records = records_.size();
  for (const Record& r : records_) st.memory_bytes += r.ApproxBytes();
  return st;
}

}  // namespace lode
