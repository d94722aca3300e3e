#include "bus/in_process_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "common/test_util.h"
#include "storage/segment_store.h"

namespace lode {
namespace {

Record Make(std::string tenant, int64_t ts, Level level, std::string service, std::string msg) {
  Record r;
  r.tenant = std::move(tenant);
  r.timestamp_ns = ts;
  r.observed_ns = ts + 1;
  r.level = level;
  r.service = std::move(service);
  r.instance = "i-1";
  r.source = "http";
  r.message = std::move(msg);
  r.attributes = {{"k", "v"}};
  return r;
}

TEST(InProcessBusTest, PublishedBatchesAreStoredAndAcknowledged) {
  TempDir dir;
  SegmentStore::Options opts;
  opts.dir = dir.path();
  opts.background = false;
  auto store = SegmentStore::Open(opts);
  ASSERT_TRUE(store.ok());
  InProcessBus bus(store->get(), InProcessBus::Options{});
  std::atomic<int> acked{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        RecordBatch b{"default", {Make("default", t * 1000 + i, Level::kInfo, "s", "m")}};
        Status s = bus.Publish(std::move(b), [&](const Status& st) {
          EXPECT_TRUE(st.ok());
          ++acked;
        });
        ASSERT_TRUE(s.ok());
      }
    });
  }
  for (auto& th : threads) th.join();
  bus.Stop();
  EXPECT_EQ(acked.load(), 200);
  EXPECT_EQ((*store)->Stats().records, 200u);
  EXPECT_EQ(bus.Stats().queued_bytes, 0u);
  EXPECT_EQ(bus.Publish(RecordBatch{}, nullptr).code(), StatusCode::kUnavailable);
}

// A store that blocks until released, to fill the queue.
class GateStore final : public LogStore {
 public:
  Status Write(std::span<RecordBatch* const>) override {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
    return Status::OK();
  }
  Status Scan(const ScanSpec&, const RecordVisitor&) const override { return Status::OK(); }
  StoreStats Stats() const override { return {}; }
  void Open() {
    std::lock_guard lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(InProcessBusTest, FullQueuePushesBack) {
  GateStore store;
  InProcessBus::Options opts;
  opts.budget_bytes = 4096;
  InProcessBus bus(&store, opts);
  int pushed_back = 0;
  for (int i = 0; i < 100; ++i) {
    RecordBatch b{"default", {Make("default", i, Level::kInfo, "s", std::string(500, 'x'))}};
    Status s = bus.Publish(std::move(b), [](const Status&) {});
    if (s.code() == StatusCode::kResourceExhausted) ++pushed_back;
  }
  EXPECT_GT(pushed_back, 80);
  EXPECT_EQ(bus.Stats().rejected_batches, static_cast<uint64_t>(pushed_back));
  store.Open();
  bus.Stop();
  EXPECT_EQ(bus.Stats().queued_bytes, 0u);
}

}  // namespace
}  // namespace lode
