#include "pattern/pattern_index.h"

#include <gtest/gtest.h>

namespace lode {
namespace {

RecordBatch Batch(const std::string& tenant,
                  const std::vector<std::pair<std::string, std::string>>& service_messages,
                  int64_t t0 = 0) {
  RecordBatch b;
  b.tenant = tenant;
  int64_t t = t0;
  for (const auto& [service, message] : service_messages) {
    Record r;
    r.tenant = tenant;
    r.service = service;
    r.message = message;
    r.timestamp_ns = t++;
    b.records.push_back(std::move(r));
  }
  return b;
}

std::vector<uint32_t> Ids(const RecordBatch& b) {
  std::vector<uint32_t> ids;
  for (const auto& r : b.records) ids.push_back(r.pattern_id);
  return ids;
}

TEST(PatternIndexTest, IdsAreTenantWideAndDense) {
  PatternIndex index;
  RecordBatch b = Batch("t1", {{"api", "GET /users took 12 ms"},
                               {"db", "GET /users took 12 ms"},  // another service's miner
                               {"api", "GET /users took 99 ms"},
                               {"api", "cache miss for key 42"}});
  EXPECT_EQ(index.Assign(&b), 4u);
  EXPECT_EQ(Ids(b), (std::vector<uint32_t>{1, 2, 1, 3}));
  EXPECT_EQ(index.size("t1"), 3u);
  // Another tenant counts from 1 on its own.
  RecordBatch other = Batch("t2", {{"api", "cache miss for key 7"}});
  index.Assign(&other);
  EXPECT_EQ(Ids(other), (std::vector<uint32_t>{1}));

  auto info = index.Lookup("t1", 3);
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->id, 3u);
  EXPECT_EQ(info->service, "api");
  EXPECT_EQ(info->text, "cache miss for key <*>");
  EXPECT_EQ(info->first_seen_ns, 3);
  EXPECT_FALSE(index.Lookup("t1", 4).has_value());
  EXPECT_FALSE(index.Lookup("t1", 0).has_value());
  EXPECT_FALSE(index.Lookup("nobody", 1).has_value());
}

TEST(PatternIndexTest, JoinedTemplatesReadAsTheOldestId) {
  PatternIndex index;
  RecordBatch b = Batch(
      "t", {{"proxy",
             "h:1 close, 403 bytes (1.08 KB) sent, 426 bytes (2.1 KB) received, "
             "lifetime <1 sec"},
            {"proxy", "h:2 close, 403 bytes sent, 426 bytes received, lifetime 00:02"},
            {"proxy", "h:3 close, 403 bytes (1.08 KB) sent, 426 bytes received, lifetime 00:02"}});
  index.Assign(&b);
  const auto ids = Ids(b);
  ASSERT_NE(ids[0], ids[1]);  // two templates at first ...
  const auto snap = index.TakeSnapshot("t");
  EXPECT_EQ(snap.Canonical(ids[1]), ids[0]);  // ... joined by the third line
  EXPECT_EQ(snap.Canonical(ids[2]), ids[0]);
  EXPECT_EQ(snap.Members(ids[0]), (std::vector<uint32_t>{ids[0], ids[1]}));
  EXPECT_EQ(index.Lookup("t", ids[1])->id, ids[0]);
  EXPECT_EQ(snap.Canonical(0), 0u);
  EXPECT_EQ(snap.Canonical(999), 999u);  // unknown ids read as themselves
}

TEST(PatternIndexTest, RestoredIndexHandsOutTheSameIds) {
  PatternIndex original;
  RecordBatch first = Batch(
      "t", {{"a", "user 1 logged in"}, {"b", "disk 1 is 91% full"}, {"a", "user 2 logged out"}});
  original.Assign(&first);
  const std::string bytes = original.Encode(/*covered_seq=*/17);

  PatternIndex restored;
  uint64_t seq = 0;
  ASSERT_TRUE(restored.Decode(bytes, &seq).ok());
  EXPECT_EQ(seq, 17u);
  // The same next batch gets the same ids from both: what WAL replay relies on.
  const std::vector<std::pair<std::string, std::string>> next = {{"a", "user 9 logged in"},
                                                                 {"c", "a new service says hello"},
                                                                 {"b", "disk 2 is 5% full"},
                                                                 {"a", "payment 77 declined"}};
  RecordBatch x = Batch("t", next, 100), y = Batch("t", next, 100);
  original.Assign(&x);
  EXPECT_EQ(restored.Assign(&y), 4u);
  EXPECT_EQ(Ids(x), Ids(y));
  EXPECT_EQ(Ids(x), (std::vector<uint32_t>{1, 4, 2, 5}));
  for (uint32_t id = 1; id <= 5; ++id) {
    EXPECT_EQ(restored.Lookup("t", id)->text, original.Lookup("t", id)->text) << id;
  }
  // Assigning a batch that already carries its ids changes nothing.
  EXPECT_EQ(restored.Assign(&y), 0u);
}

TEST(PatternIndexTest, DamageIsDetected) {
  PatternIndex index;
  RecordBatch b = Batch("t", {{"a", "user 1 logged in"}});
  index.Assign(&b);
  std::string bytes = index.Encode(3);
  for (size_t at : {size_t{0}, size_t{5}, bytes.size() / 2, bytes.size() - 1}) {
    std::string damaged = bytes;
    damaged[at] ^= 0x04;
    PatternIndex other;
    uint64_t seq = 0;
    Status s = other.Decode(damaged, &seq);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << at;
    EXPECT_NE(s.message().find("pattern index"), std::string::npos) << s.ToString();
    EXPECT_EQ(other.size("t"), 0u);
  }
  PatternIndex other;
  uint64_t seq = 0;
  EXPECT_EQ(other.Decode(bytes.substr(0, 6), &seq).code(), StatusCode::kCorruption);
}

TEST(PatternIndexTest, ReservedIdsDoNotCollideWithStoredOnes) {
  PatternIndex index;
  index.ReserveIds("t", 40);
  RecordBatch b = Batch("t", {{"a", "user 1 logged in"}, {"a", "payment declined"}});
  index.Assign(&b);
  EXPECT_EQ(Ids(b), (std::vector<uint32_t>{40, 41}));
  const auto snap = index.TakeSnapshot("t");
  EXPECT_EQ(snap.Canonical(7), 7u);
  EXPECT_EQ(snap.Canonical(41), 41u);
  PatternIndex restored;
  uint64_t seq = 0;
  ASSERT_TRUE(restored.Decode(index.Encode(1), &seq).ok());
  EXPECT_EQ(restored.Lookup("t", 41)->text, "payment declined");
}

}  // namespace
}  // namespace lode
