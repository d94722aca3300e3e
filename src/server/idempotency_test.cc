#include "server/idempotency.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace lode {
namespace {

using State = IdempotencyCache::State;

constexpr int64_t kSec = 1'000'000'000;

class IdempotencyCacheTest : public ::testing::Test {
 protected:
  IdempotencyCache::Options Opts(size_t max_keys = 100, int64_t ttl_ns = 60 * kSec) {
    IdempotencyCache::Options o;
    o.max_keys = max_keys;
    o.ttl_ns = ttl_ns;
    o.clock = &clock_;
    return o;
  }

  ManualClock clock_{1'700'000'000 * kSec};
};

TEST_F(IdempotencyCacheTest, NewThenInProgressThenDone) {
  IdempotencyCache c(Opts());
  auto o = c.Begin("k");
  EXPECT_EQ(o.state, State::kNew);
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.body, "");
  // A second request with the key while the first runs.
  EXPECT_EQ(c.Begin("k").state, State::kInProgress);
  c.Finish("k", 200, "{\"accepted\":3}");
  o = c.Begin("k");
  EXPECT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 200);
  EXPECT_EQ(o.body, "{\"accepted\":3}");
  // And again: the answer stays.
  o = c.Begin("k");
  EXPECT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 200);
}

TEST_F(IdempotencyCacheTest, KeysAreIndependent) {
  IdempotencyCache c(Opts());
  EXPECT_EQ(c.Begin("a").state, State::kNew);
  EXPECT_EQ(c.Begin("b").state, State::kNew);
  c.Finish("a", 204, "");
  EXPECT_EQ(c.Begin("a").state, State::kDone);
  EXPECT_EQ(c.Begin("b").state, State::kInProgress);
  EXPECT_EQ(c.Begin("").state, State::kNew);
}

TEST_F(IdempotencyCacheTest, AbandonLetsTheRetryRun) {
  IdempotencyCache c(Opts());
  EXPECT_EQ(c.Begin("k").state, State::kNew);
  c.Abandon("k");
  EXPECT_EQ(c.Begin("k").state, State::kNew);
  c.Finish("k", 200, "ok");
  // A finished answer is not forgotten by a stray Abandon.
  c.Abandon("k");
  auto o = c.Begin("k");
  EXPECT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.body, "ok");
  // Abandoning an unknown key does nothing.
  c.Abandon("unknown");
  EXPECT_EQ(c.Begin("unknown").state, State::kNew);
}

TEST_F(IdempotencyCacheTest, AnswersLiveTtlFromFinish) {
  IdempotencyCache c(Opts(100, 60 * kSec));
  EXPECT_EQ(c.Begin("k").state, State::kNew);
  clock_.Advance(30 * kSec);  // the request took a while; the TTL starts at Finish
  c.Finish("k", 200, "ok");
  clock_.Advance(60 * kSec);
  EXPECT_EQ(c.Begin("k").state, State::kDone);  // exactly ttl old: still there
  clock_.Advance(1);
  EXPECT_EQ(c.Begin("k").state, State::kNew);  // expired: the caller now holds it
  EXPECT_EQ(c.Begin("k").state, State::kInProgress);
}

TEST_F(IdempotencyCacheTest, ExpiryIsOldestFirst) {
  IdempotencyCache c(Opts(100, 10 * kSec));
  c.Begin("a");
  c.Finish("a", 200, "a");
  clock_.Advance(5 * kSec);
  c.Begin("b");
  c.Finish("b", 200, "b");
  clock_.Advance(5 * kSec + 1);
  EXPECT_EQ(c.Begin("a").state, State::kNew);
  EXPECT_EQ(c.Begin("b").state, State::kDone);
  clock_.Advance(5 * kSec);
  EXPECT_EQ(c.Begin("b").state, State::kNew);
}

TEST_F(IdempotencyCacheTest, RefinishRenewsTheTtl) {
  IdempotencyCache c(Opts(100, 10 * kSec));
  c.Begin("k");
  c.Finish("k", 200, "first");
  clock_.Advance(8 * kSec);
  c.Finish("k", 201, "second");
  clock_.Advance(8 * kSec);  // 16 s after the first Finish, 8 s after the second
  auto o = c.Begin("k");
  EXPECT_EQ(o.state, State::kDone);
  EXPECT_EQ(o.status, 201);
  EXPECT_EQ(o.body, "second");
  clock_.Advance(2 * kSec + 1);
  EXPECT_EQ(c.Begin("k").state, State::kNew);
}

TEST_F(IdempotencyCacheTest, MaxKeysEvictsOldestFirst) {
  IdempotencyCache c(Opts(2, 3600 * kSec));
  for (const char* k : {"a", "b", "c"}) {
    EXPECT_EQ(c.Begin(k).state, State::kNew);
    c.Finish(k, 200, k);
    clock_.Advance(1);
  }
  EXPECT_EQ(c.Begin("b").state, State::kDone);
  EXPECT_EQ(c.Begin("c").state, State::kDone);
  EXPECT_EQ(c.Begin("a").state, State::kNew);
}

TEST_F(IdempotencyCacheTest, InProgressKeysAreNotEvicted) {
  IdempotencyCache c(Opts(1, 10 * kSec));
  EXPECT_EQ(c.Begin("running").state, State::kNew);
  c.Begin("x");
  c.Finish("x", 200, "");
  c.Begin("y");
  c.Finish("y", 200, "");
  clock_.Advance(3600 * kSec);
  EXPECT_EQ(c.Begin("running").state, State::kInProgress);
  c.Finish("running", 200, "done");
  EXPECT_EQ(c.Begin("running").state, State::kDone);
}

TEST_F(IdempotencyCacheTest, ManyKeys) {
  IdempotencyCache c(Opts(1000, 3600 * kSec));
  for (int i = 0; i < 5000; ++i) {
    const std::string k = "key-" + std::to_string(i);
    ASSERT_EQ(c.Begin(k).state, State::kNew);
    c.Finish(k, 200, k);
    clock_.Advance(1);
  }
  for (int i = 0; i < 4000; ++i) {
    ASSERT_EQ(c.Begin("key-" + std::to_string(i)).state, State::kNew) << i;
  }
  // The 4000 Begin calls above claimed keys but finished none: the 1000
  // newest answers are still there.
  for (int i = 4000; i < 5000; ++i) {
    auto o = c.Begin("key-" + std::to_string(i));
    ASSERT_EQ(o.state, State::kDone) << i;
    EXPECT_EQ(o.body, "key-" + std::to_string(i));
  }
}

TEST_F(IdempotencyCacheTest, ConcurrentBeginClaimsOnce) {
  IdempotencyCache c(Opts());
  for (int round = 0; round < 20; ++round) {
    const std::string key = "k" + std::to_string(round);
    std::atomic<int> claimed{0}, waiting{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 8; ++i) {
      threads.emplace_back([&] {
        auto o = c.Begin(key);
        if (o.state == State::kNew) {
          ++claimed;
        } else {
          ++waiting;
        }
      });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(claimed.load(), 1);
    EXPECT_EQ(waiting.load(), 7);
    c.Finish(key, 200, "");
  }
}

TEST(IdempotencyCacheDefaultsTest, DefaultOptions) {
  IdempotencyCache::Options o;
  EXPECT_EQ(o.max_keys, 100000u);
  EXPECT_EQ(o.ttl_ns, 3600 * kSec);
  EXPECT_EQ(o.clock, Clock::Real());
  IdempotencyCache c(o);
  EXPECT_EQ(c.Begin("k").state, State::kNew);
  c.Finish("k", 200, "x");
  EXPECT_EQ(c.Begin("k").state, State::kDone);
}

}  // namespace
}  // namespace lode
