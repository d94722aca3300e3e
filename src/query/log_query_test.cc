#include "query/log_query.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <algorithm>
#include <map>
#include <random>

#include "common/test_util.h"
#include "storage/segment_store.h"

namespace lode {
namespace {

const char* const kWords[] = {"alpha", "beta", "gamma", "delta", "timeout", "error", "ok", "db"};
const char* const kServices[] = {"api", "db", "web", "auth"};

class LogQueryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentStore::Options opts;
    opts.dir = dir_.path();
    opts.background = false;
    opts.segment.rows_per_block = 100;
    opts.parallel_count_rows = 0;  // exercise the two-thread count
    auto s = SegmentStore::Open(opts);
    ASSERT_TRUE(s.ok());
    store_ = std::move(*s);
    std::mt19937_64 rng(7);
    for (int b = 0; b < 40; ++b) {
      RecordBatch batch;
      batch.tenant = b % 10 == 9 ? "other" : "default";
      for (int i = 0; i < 250; ++i) {
        Record r;
        r.tenant = batch.tenant;
        r.timestamp_ns = static_cast<int64_t>(rng() % 100000);  // out of order on purpose
        r.level = static_cast<Level>(rng() % kLevelCount);
        r.service = kServices[rng() % 4];
        r.instance = "i" + std::to_string(rng() % 3);
        for (int w = 0; w < 4; ++w) {
          if (w) r.message += ' ';
          r.message += kWords[rng() % 8];
        }
        r.message += " n=" + std::to_string(rng() % 1000);
        batch.records.push_back(r);
        all_.push_back(r);
      }
      RecordBatch* p = &batch;
      ASSERT_TRUE(store_->Write(std::span<RecordBatch* const>(&p, 1)).ok());
      // Most data in segments (several, so merges and pruning matter), the
      // newest in the head.
      if (b % 8 == 7) {
        ASSERT_TRUE(store_->Flush().ok());
      }
    }
  }

  // The answer by brute force: every record checked against every condition.
  std::vector<const Record*> Expected(const FilterSpec& f) {
    std::vector<const Record*> out;
    RE2 re(f.regex.empty() ? "." : f.regex);
    for (const Record& r : all_) {
      if (r.tenant != f.tenant || r.timestamp_ns < f.start_ns || r.timestamp_ns >= f.end_ns) continue;
      if (!f.levels.empty() && std::find(f.levels.begin(), f.levels.end(), r.level) == f.levels.end()) continue;
      if (!f.services.empty() && std::find(f.services.begin(), f.services.end(), r.service) == f.services.end()) continue;
      if (!f.instances.empty() && std::find(f.instances.begin(), f.instances.end(), r.instance) == f.instances.end()) continue;
      if (!f.contains.empty() && r.message.find(f.contains) == std::string::npos) continue;
      if (!f.regex.empty() && !RE2::PartialMatch(r.message, re)) continue;
      out.push_back(&r);
    }
    return out;
  }

  FilterSpec RandomFilter(std::mt19937_64& rng) {
    FilterSpec f;
    if (rng() % 2) f.start_ns = static_cast<int64_t>(rng() % 50000);
    if (rng() % 2) f.end_ns = f.start_ns == INT64_MIN ? 60000 : f.start_ns + static_cast<int64_t>(rng() % 50000) + 1;
    if (rng() % 2) f.levels = {static_cast<Level>(rng() % kLevelCount), static_cast<Level>(rng() % kLevelCount)};
    if (rng() % 2) f.services = {kServices[rng() % 4]};
    if (rng() % 4 == 0) f.instances = {"i" + std::to_string(rng() % 3)};
    if (rng() % 2) f.contains = kWords[rng() % 8];
    if (rng() % 3 == 0) f.regex = "n=[0-9]*7$";
    if (rng() % 10 == 0) f.tenant = "other";
    return f;
  }

  TempDir dir_;
  std::unique_ptr<SegmentStore> store_;
  std::vector<Record> all_;
};

TEST_F(LogQueryTest, LogsEqualBruteForceOnRandomQueries) {
  std::mt19937_64 rng(99);
  for (int q = 0; q < 200; ++q) {
    FilterSpec f = RandomFilter(rng);
    size_t limit = rng() % 3 == 0 ? 1000000 : rng() % 50;
    Direction dir = rng() % 2 ? Direction::kForward : Direction::kBackward;
    auto got = QueryLogs(*store_, f, limit, dir);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    auto want = Expected(f);
    std::sort(want.begin(), want.end(), [&](const Record* a, const Record* b) {
      return dir == Direction::kForward ? a->timestamp_ns < b->timestamp_ns
                                        : a->timestamp_ns > b->timestamp_ns;
    });
    EXPECT_EQ(got->stats.matched, want.size()) << "query " << q;
    ASSERT_EQ(got->records.size(), std::min(limit, want.size())) << "query " << q;
    // Same timestamps in the same order; records with equal timestamps may
    // come in any order, so compare each run of equal timestamps as a set
    // (the last run may be cut by the limit: a subset then).
    for (size_t i = 0; i < got->records.size();) {
      int64_t ts = got->records[i].timestamp_ns;
      size_t j = i;
      while (j < got->records.size() && got->records[j].timestamp_ns == ts) ++j;
      std::vector<const Record*> run;
      for (size_t k = i; k < want.size() && want[k]->timestamp_ns == ts; ++k) run.push_back(want[k]);
      ASSERT_GE(run.size(), j - i) << "query " << q << " row " << i;
      for (size_t k = i; k < j; ++k) {
        bool found = std::any_of(run.begin(), run.end(),
                                 [&](const Record* r) { return *r == got->records[k]; });
        ASSERT_TRUE(found) << "query " << q << " row " << k;
      }
      i = j;
    }
  }
}

TEST_F(LogQueryTest, AggregatesEqualBruteForceOnRandomQueries) {
  std::mt19937_64 rng(5);
  for (int q = 0; q < 100; ++q) {
    AggregateSpec spec;
    spec.filter = RandomFilter(rng);
    spec.by_level = rng() % 2;
    spec.by_service = rng() % 2;
    if (rng() % 2) {
      spec.filter.start_ns = 0;
      spec.filter.end_ns = 100000;
      spec.step_ns = 1000 + static_cast<int64_t>(rng() % 10000);
    }
    auto got = QueryAggregate(*store_, spec);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    std::map<std::pair<int, std::string>, std::map<int64_t, uint64_t>> want_buckets;
    std::map<std::pair<int, std::string>, uint64_t> want;
    for (const Record* r : Expected(spec.filter)) {
      std::pair<int, std::string> key{spec.by_level ? static_cast<int>(r->level) : -1,
                                      spec.by_service ? r->service : ""};
      ++want[key];
      if (spec.step_ns) ++want_buckets[key][r->timestamp_ns / spec.step_ns * spec.step_ns];
    }
    std::map<std::pair<int, std::string>, uint64_t> have;
    for (const auto& g : got->groups) {
      std::pair<int, std::string> key{g.level ? static_cast<int>(*g.level) : -1,
                                      g.service.value_or("")};
      have[key] = g.count;
      if (spec.step_ns) {
        EXPECT_EQ(g.buckets, want_buckets[key]) << "query " << q;
      }
    }
    EXPECT_EQ(have, want) << "query " << q;
    for (size_t i = 1; i < got->groups.size(); ++i) {
      EXPECT_GE(got->groups[i - 1].count, got->groups[i].count) << "largest first";
    }
  }
}

TEST_F(LogQueryTest, BadRequestsAreRefused) {
  FilterSpec f;
  f.regex = "(unclosed";
  auto r = QueryLogs(*store_, f, 10, Direction::kBackward);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("regex"), std::string_view::npos);
  AggregateSpec a;
  a.step_ns = 1;
  a.filter.start_ns = 0;
  a.filter.end_ns = 1000000;
  EXPECT_EQ(QueryAggregate(*store_, a).status().code(), StatusCode::kInvalidArgument);
  a.filter.start_ns = INT64_MIN;
  a.step_ns = 1000;
  EXPECT_EQ(QueryAggregate(*store_, a).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lode
