// Live tailing: records reach subscribers as soon as the store has them.
//
// The store hands every durable batch (with its pattern ids) to the TailHub
// (SegmentStore::Options::on_durable), which queues copies for the
// subscribers of their tenant (copies are made only while someone tails).
// A subscriber (the /loki/api/v1/tail WebSocket) drains its queue now and
// then and runs the LogQL query over what it got (a MemoryStore), so a tail
// supports every selector and pipeline a query does.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "storage/log_store.h"

namespace lode {

class TailHub {
 public:
  struct Subscription {
    std::string tenant;
    size_t max_pending = 0;
    std::mutex mu;
    std::vector<Record> pending;
    uint64_t dropped = 0;  // records not queued because the queue was full

    // Takes what has arrived; *dropped gets (and resets) the drop count.
    std::vector<Record> Take(uint64_t* dropped_out);
  };

  std::shared_ptr<Subscription> Subscribe(std::string tenant, size_t max_pending = 100000);
  void Unsubscribe(const std::shared_ptr<Subscription>& sub);
  bool active() const { return subscribers_.load(std::memory_order_relaxed) > 0; }

  // Queues copies of the records for the subscribers of their tenant.
  void Publish(std::span<RecordBatch* const> batches);

 private:
  std::mutex mu_;
  std::vector<std::shared_ptr<Subscription>> subs_;
  std::atomic<size_t> subscribers_{0};
};

}  // namespace lode
