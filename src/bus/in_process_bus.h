// InProcessBus: the single-node Bus. A bounded queue of batches and one writer
// thread that moves everything queued into the store with one Write call (and
// so one WAL fsync): concurrent requests share a sync (group commit).
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "bus/bus.h"
#include "storage/log_store.h"

namespace lode {

class InProcessBus final : public Bus {
 public:
  struct Options {
    uint64_t budget_bytes = 256ull << 20;  // queued bytes above which Publish pushes back
    // How long the writer waits to gather more batches before a Write (and
    // its fsync). 0 syncs as soon as anything is queued.
    int64_t group_delay_us = 0;
    size_t max_group_batches = 1024;  // at most this many batches per Write
  };

  // REQUIRES: store outlives the bus.
  InProcessBus(LogStore* store, const Options& options);
  ~InProcessBus() override;

  Status Publish(RecordBatch&& batch, DoneFn done) override;
  void Stop() override;
  BusStats Stats() const override;

 private:
  struct Item {
    RecordBatch batch;
    DoneFn done;
    uint64_t bytes;
  };
  void Run();

  LogStore* const store_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;   // GUARDED_BY(mu_)
  BusStats stats_;          // GUARDED_BY(mu_)
  std::thread writer_;
};

}  // namespace lode
