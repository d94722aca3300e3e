#include "storage/segment_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>

#include "common/test_util.h"

namespace lode {
namespace {

namespace fs = std::filesystem;
constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kDay = 86400 * kSec;
constexpr int64_t kT0 = 1731542400 * kSec;  // 2024-11-14T00:00:00Z

Record Make(const std::string& tenant, int64_t ts, int i) {
  Record r;
  r.tenant = tenant;
  r.timestamp_ns = ts;
  r.observed_ns = ts + 5;
  r.level = static_cast<Level>(i % kLevelCount);
  r.service = "svc" + std::to_string(i % 3);
  r.instance = "pod-" + std::to_string(i % 5);
  r.source = "http";
  r.message = "request " + std::to_string(i) + (i % 7 == 0 ? " timeout talking to db" : " ok");
  r.attributes = {{"i", std::to_string(i)}};
  return r;
}

class SegmentStoreTest : public ::testing::Test {
 protected:
  SegmentStoreTest() : clock_(kT0 + 10 * kDay) {}

  SegmentStore::Options Opts() {
    SegmentStore::Options o;
    o.dir = dir_.path();
    o.clock = &clock_;
    o.background = false;
    o.segment.rows_per_block = 64;
    return o;
  }
  void Open() {
    store_.reset();
    auto s = SegmentStore::Open(Opts());
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  void OpenWith(const SegmentStore::Options& o) {
    store_.reset();
    auto s = SegmentStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(*s);
  }
  // Writes n records with timestamps from `ts`, one second apart.
  void Put(const std::string& tenant, int64_t ts, int n, int first_id = 0) {
    RecordBatch b;
    b.tenant = tenant;
    for (int i = 0; i < n; ++i) {
      b.records.push_back(Make(tenant, ts + i * kSec, first_id + i));
      all_.push_back(b.records.back());
    }
    RecordBatch* p = &b;
    ASSERT_TRUE(store_->Write(std::span<RecordBatch* const>(&p, 1)).ok());
  }
  std::vector<Record> ScanAll(ScanSpec spec = {}) {
    std::vector<Record> out;
    EXPECT_TRUE(store_
                    ->Scan(spec,
                           [&](const Record& r) {
                             out.push_back(r);
                             return true;
                           })
                    .ok());
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
      return std::tie(a.timestamp_ns, a.message) < std::tie(b.timestamp_ns, b.message);
    });
    return out;
  }
  std::vector<Record> Expected(const std::string& tenant = "default") {
    std::vector<Record> out;
    for (const auto& r : all_) {
      if (r.tenant == tenant) out.push_back(r);
    }
    std::sort(out.begin(), out.end(), [](const Record& a, const Record& b) {
      return std::tie(a.timestamp_ns, a.message) < std::tie(b.timestamp_ns, b.message);
    });
    return out;
  }
  std::vector<std::string> Files(const std::string& sub) {
    std::vector<std::string> out;
    fs::path p = fs::path(dir_.path()) / sub;
    if (!fs::exists(p)) return out;
    for (const auto& e : fs::recursive_directory_iterator(p)) {
      if (e.is_regular_file()) out.push_back(e.path().string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<SegmentStore> store_;
  std::vector<Record> all_;
};

TEST_F(SegmentStoreTest, HeadFlushAndReopenServeTheSameRecords) {
  Open();
  Put("default", kT0, 300);
  Put("other", kT0, 10);
  EXPECT_EQ(ScanAll(), Expected());
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_EQ(Files("segments").size(), 2u) << "one segment per tenant";
  EXPECT_EQ(store_->Stats().memory_bytes, 0u);
  EXPECT_EQ(ScanAll(), Expected());
  Put("default", kT0 - kDay, 50, 1000);  // late, out of order
  EXPECT_EQ(ScanAll(), Expected());
  Open();
  EXPECT_EQ(ScanAll(), Expected()) << "after reopen (segments + WAL tail)";
  ScanSpec other;
  other.tenant = "other";
  EXPECT_EQ(ScanAll(other), Expected("other"));
  EXPECT_EQ(store_->Stats().records, 360u);
}

TEST_F(SegmentStoreTest, FlushIsDueBySizeOrAge) {
  auto o = Opts();
  o.flush_bytes = 1 << 20;
  o.flush_age_ns = 60 * kSec;
  OpenWith(o);
  clock_.Set(kT0 + 10 * kSec);  // records are observed at kT0 + 5 ns .. kT0 + 9 s
  Put("default", kT0, 10);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_TRUE(Files("segments").empty()) << "neither big nor old yet";
  clock_.Set(kT0 + 61 * kSec);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(Files("segments").size(), 1u);
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, WalIsTrimmedAfterFlush) {
  auto o = Opts();
  o.wal_file_bytes = 4096;  // many small WAL files
  OpenWith(o);
  for (int i = 0; i < 20; ++i) Put("default", kT0 + i * 1000 * kSec, 50, i * 50);
  size_t before = Files("wal").size();
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_LT(Files("wal").size(), before);
  Open();
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, MergesSmallSegments) {
  Open();
  for (int i = 0; i < 6; ++i) {
    Put("default", kT0 + i * 100 * kSec, 40, i * 40);
    ASSERT_TRUE(store_->Flush().ok());
  }
  EXPECT_EQ(Files("segments").size(), 6u);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(Files("segments").size(), 1u);
  EXPECT_EQ(store_->counters().merges.load(), 1u);
  EXPECT_EQ(ScanAll(), Expected());
  Open();
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, FlushedSegmentsAreRecompressedWhenOld) {
  auto o = Opts();
  o.recompress_after_ns = 300 * kSec;
  OpenWith(o);
  Put("default", kT0, 300);
  ASSERT_TRUE(store_->Flush().ok());
  auto before = Files("segments");
  ASSERT_EQ(before.size(), 1u);
  auto size_before = fs::file_size(before[0]);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(Files("segments"), before) << "too young to rewrite";
  clock_.Advance(301 * kSec);
  ASSERT_TRUE(store_->Maintain().ok());
  auto after = Files("segments");
  ASSERT_EQ(after.size(), 1u);
  EXPECT_NE(after, before);
  EXPECT_LE(fs::file_size(after[0]), size_before);
  EXPECT_EQ(ScanAll(), Expected());
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(Files("segments"), after) << "rewritten once";
  Open();
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, InterruptedMergeKeepsTheMergedSegmentOnly) {
  Open();
  for (int i = 0; i < 4; ++i) {
    Put("default", kT0 + i * 100 * kSec, 30, i * 30);
    ASSERT_TRUE(store_->Flush().ok());
  }
  auto inputs = Files("segments");
  fs::path saved = fs::path(dir_.path()) / "saved";
  fs::create_directory(saved);
  for (const auto& f : inputs) fs::copy_file(f, saved / fs::path(f).filename());
  ASSERT_TRUE(store_->Maintain().ok());
  store_.reset();
  // As if the process died after the merged segment was renamed into place
  // but before its inputs were deleted.
  for (const auto& f : inputs) fs::copy_file(saved / fs::path(f).filename(), f);
  Open();
  EXPECT_EQ(ScanAll(), Expected()) << "no duplicates";
  EXPECT_EQ(Files("segments").size(), 1u);
}

TEST_F(SegmentStoreTest, InterruptedFlushIsRedoneFromTheWal) {
  Open();
  Put("default", kT0, 100);
  ASSERT_TRUE(store_->Flush().ok());
  Put("default", kT0 + 1000 * kSec, 100, 100);
  // Keep the on-disk state before the second flush: FLUSHED and the WAL.
  fs::path root(dir_.path());
  fs::path saved = root / "saved";
  fs::create_directory(saved);
  fs::copy(root / "wal", saved / "wal", fs::copy_options::recursive);
  fs::copy_file(root / "FLUSHED", saved / "FLUSHED");
  ASSERT_TRUE(store_->Flush().ok());
  store_.reset();
  // As if the process died after the second flush renamed its segment into
  // place but before it updated FLUSHED and trimmed the WAL.
  fs::remove_all(root / "wal");
  fs::copy(saved / "wal", root / "wal", fs::copy_options::recursive);
  fs::copy_file(saved / "FLUSHED", root / "FLUSHED", fs::copy_options::overwrite_existing);
  Open();
  EXPECT_EQ(ScanAll(), Expected()) << "no duplicates, nothing lost";
  ASSERT_TRUE(store_->Flush().ok());
  Open();
  EXPECT_EQ(ScanAll(), Expected());
  // Leftover temporary files are removed at open.
  std::ofstream(fs::path(dir_.path()) / "segments" / "default" / "00000000000000000099.seg.tmp.1")
      << "partial";
  Open();
  for (const auto& f : Files("segments")) EXPECT_EQ(f.find(".tmp"), std::string::npos) << f;
}

TEST_F(SegmentStoreTest, RetentionByAgeAndSize) {
  auto o = Opts();
  o.retention_ns = 7 * kDay;
  OpenWith(o);
  Put("default", kT0, 20);  // day 0
  ASSERT_TRUE(store_->Flush().ok());
  Put("default", kT0 + 5 * kDay, 20, 100);  // day 5
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Set(kT0 + 6 * kDay);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(ScanAll().size(), 40u);
  clock_.Set(kT0 + 8 * kDay);  // day 0 is past 7 days, day 5 is not
  ASSERT_TRUE(store_->Maintain().ok());
  auto got = ScanAll();
  ASSERT_EQ(got.size(), 20u);
  EXPECT_GE(got.front().timestamp_ns, kT0 + 5 * kDay);
  EXPECT_EQ(store_->counters().deleted_by_retention.load(), 1u);

  auto sized = Opts();
  sized.retention_bytes = 1;  // keeps nothing
  sized.merge_min_inputs = 100;
  OpenWith(sized);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_TRUE(ScanAll().empty());
  EXPECT_TRUE(Files("segments").size() == 0u);
}

TEST_F(SegmentStoreTest, ArchiveIsQueryableOnRequestAndRestorable) {
  auto o = Opts();
  o.archive_after_ns = 3 * kDay;
  o.merge_min_inputs = 100;
  OpenWith(o);
  Put("default", kT0, 20);
  ASSERT_TRUE(store_->Flush().ok());
  Put("default", kT0 + 5 * kDay, 20, 100);
  ASSERT_TRUE(store_->Flush().ok());
  clock_.Set(kT0 + 6 * kDay);
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_EQ(Files("archive").size(), 1u);
  EXPECT_EQ(ScanAll().size(), 20u) << "archived data is not searched by default";
  ScanSpec with_archive;
  with_archive.include_archive = true;
  EXPECT_EQ(ScanAll(with_archive), Expected());
  Open();  // the archive is found again at open
  EXPECT_EQ(ScanAll(with_archive), Expected());
  auto n = store_->RestoreArchived("default", kT0, kT0 + kDay);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1u);
  EXPECT_TRUE(Files("archive").empty());
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, CorruptSegmentIsQuarantinedAndTheRestServes) {
  auto o = Opts();
  o.merge_min_inputs = 100;
  OpenWith(o);
  Put("default", kT0, 200);
  ASSERT_TRUE(store_->Flush().ok());
  Put("default", kT0 + kDay, 200, 1000);
  ASSERT_TRUE(store_->Flush().ok());
  auto segs = Files("segments");
  ASSERT_EQ(segs.size(), 2u);
  {
    // Flip one byte in the middle of the first segment's data blocks.
    std::fstream f(segs[0], std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x40);
    f.seekp(100);
    f.write(&c, 1);
  }
  auto got = ScanAll();
  EXPECT_EQ(got.size(), 200u) << "the intact segment still serves";
  EXPECT_EQ(store_->counters().quarantined.load(), 1u);
  EXPECT_EQ(Files("quarantine").size(), 1u);
  Open();
  EXPECT_EQ(ScanAll().size(), 200u);

  // A damaged footer is caught at open.
  auto left = Files("segments");
  ASSERT_EQ(left.size(), 1u);
  auto size = fs::file_size(left[0]);
  fs::resize_file(left[0], size - 3);
  Open();
  EXPECT_EQ(ScanAll().size(), 0u);
  EXPECT_EQ(Files("quarantine").size(), 2u);
}

TEST_F(SegmentStoreTest, ConcurrentScansDuringWritesFlushesAndMerges) {
  auto o = Opts();
  o.merge_min_inputs = 2;
  OpenWith(o);
  std::atomic<bool> done{false};
  std::atomic<int> bad{0};
  std::thread reader([&] {
    while (!done) {
      // Every scan sees whole batches: a multiple of 25 records.
      size_t n = 0;
      Status s = store_->Scan(ScanSpec{}, [&](const Record&) {
        ++n;
        return true;
      });
      if (!s.ok() || n % 25 != 0) ++bad;
    }
  });
  for (int i = 0; i < 40; ++i) {
    Put("default", kT0 + i * 100 * kSec, 25, i * 25);
    if (i % 5 == 4) {
      ASSERT_TRUE(store_->Flush().ok());
    }
    if (i % 10 == 9) {
      ASSERT_TRUE(store_->Maintain().ok());
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0);
  EXPECT_EQ(ScanAll(), Expected());
}

TEST_F(SegmentStoreTest, SecondOpenOfTheSameDirectoryIsRefused) {
  Open();
  auto second = SegmentStore::Open(Opts());
  EXPECT_FALSE(second.ok());
}

// Pattern ids are assigned at Write, saved with flushes, and the same after
// a restart (from PATTERNS and the WAL replayed past it), a merge, or a
// damaged PATTERNS file (fresh ids then start above the stored ones).
class SegmentStorePatternsTest : public SegmentStoreTest {
 protected:
  void OpenWithPatterns() {
    index_ = std::make_unique<PatternIndex>();  // as after a restart: empty
    auto o = Opts();
    o.patterns = index_.get();
    o.merge_min_inputs = 2;
    OpenWith(o);
  }
  void PutMessages(int64_t ts, const std::vector<std::string>& messages) {
    RecordBatch b;
    b.tenant = "default";
    for (size_t i = 0; i < messages.size(); ++i) {
      Record r = Make("default", ts + static_cast<int64_t>(i) * kSec, static_cast<int>(i));
      r.service = "api";
      r.message = messages[i];
      b.records.push_back(std::move(r));
    }
    // The control sees the same batches in the same order, never restarted.
    RecordBatch copy = b;
    control_.Assign(&copy);
    RecordBatch* p = &b;
    ASSERT_TRUE(store_->Write(std::span<RecordBatch* const>(&p, 1)).ok());
  }
  // message -> the pattern ids its records carry.
  std::map<std::string, std::set<uint32_t>> IdsByMessage() {
    std::map<std::string, std::set<uint32_t>> out;
    for (const Record& r : ScanAll()) out[r.message].insert(r.pattern_id);
    return out;
  }

  std::unique_ptr<PatternIndex> index_;
  PatternIndex control_;
};

TEST_F(SegmentStorePatternsTest, IdsAreStableAcrossFlushRestartAndMerge) {
  OpenWithPatterns();
  PutMessages(kT0, {"user 1 logged in", "disk 3 is full", "user 2 logged in"});
  ASSERT_TRUE(store_->Flush().ok());
  EXPECT_TRUE(fs::exists(fs::path(dir_.path()) / "PATTERNS"));
  PutMessages(kT0 + 10 * kSec, {"user 7 logged in", "cache warmed in 5 ms"});  // WAL only
  const auto before = IdsByMessage();
  EXPECT_EQ(before.at("user 1 logged in"), (std::set<uint32_t>{1}));
  EXPECT_EQ(before.at("user 7 logged in"), (std::set<uint32_t>{1}));
  EXPECT_EQ(before.at("disk 3 is full"), (std::set<uint32_t>{2}));
  EXPECT_EQ(before.at("cache warmed in 5 ms"), (std::set<uint32_t>{3}));

  OpenWithPatterns();  // restart: PATTERNS covers the flush, the WAL the rest
  EXPECT_EQ(IdsByMessage(), before);
  EXPECT_EQ(index_->size("default"), 3u);
  PutMessages(kT0 + 20 * kSec, {"cache warmed in 9 ms", "payment 5 declined"});
  auto after = IdsByMessage();
  EXPECT_EQ(after.at("cache warmed in 9 ms"), (std::set<uint32_t>{3}));
  EXPECT_EQ(after.at("payment 5 declined"), (std::set<uint32_t>{4}));
  ASSERT_EQ(index_->Lookup("default", 4)->text, "payment <*> declined");
  // Exactly what an index that never restarted hands out.
  for (uint32_t id = 1; id <= 4; ++id) {
    EXPECT_EQ(index_->Lookup("default", id)->text, control_.Lookup("default", id)->text);
  }

  // Merging rewrites segments; the ids go along.
  ASSERT_TRUE(store_->Flush().ok());
  ASSERT_TRUE(store_->Maintain().ok());
  EXPECT_GE(store_->counters().merges.load(), 1u);
  EXPECT_EQ(IdsByMessage(), after);

  // A scan for some pattern ids sees only those records.
  ScanSpec only;
  only.pattern_ids = {3};
  for (const Record& r : ScanAll(only)) EXPECT_EQ(r.pattern_id, 3u) << r.message;
  EXPECT_EQ(ScanAll(only).size(), 2u);
}

TEST_F(SegmentStorePatternsTest, DamagedPatternFileIsQuarantinedAndIdsAreNotReused) {
  OpenWithPatterns();
  PutMessages(kT0, {"user 1 logged in", "disk 3 is full"});
  ASSERT_TRUE(store_->Flush().ok());
  const std::string path = (fs::path(dir_.path()) / "PATTERNS").string();
  {
    std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(8);
    f.put('\x7f');
  }
  OpenWithPatterns();
  EXPECT_EQ(store_->counters().quarantined.load(), 1u);
  EXPECT_FALSE(fs::exists(path));
  // Stored records keep their ids; new templates get ids above them.
  PutMessages(kT0 + 10 * kSec, {"payment 5 declined"});
  const auto ids = IdsByMessage();
  EXPECT_EQ(ids.at("user 1 logged in"), (std::set<uint32_t>{1}));
  EXPECT_EQ(ids.at("disk 3 is full"), (std::set<uint32_t>{2}));
  EXPECT_EQ(ids.at("payment 5 declined"), (std::set<uint32_t>{3}));
}
TEST_F(SegmentStorePatternsTest, MiningOffForAWhileDoesNotReuseIds) {
  OpenWithPatterns();
  PutMessages(kT0, {"user 1 logged in"});
  ASSERT_TRUE(store_->Flush().ok());
  PutMessages(kT0 + 10 * kSec, {"disk 3 is full"});  // id 2, in the WAL only
  Open();                                            // mining off: ids kept as they are
  ASSERT_TRUE(store_->Flush().ok());                 // moves id 2 into a segment
  EXPECT_FALSE(fs::exists(fs::path(dir_.path()) / "PATTERNS")) << "no longer covers the data";
  OpenWithPatterns();
  PutMessages(kT0 + 20 * kSec, {"payment 5 declined"});
  const auto ids = IdsByMessage();
  EXPECT_EQ(ids.at("user 1 logged in"), (std::set<uint32_t>{1}));
  EXPECT_EQ(ids.at("disk 3 is full"), (std::set<uint32_t>{2}));
  EXPECT_EQ(ids.at("payment 5 declined"), (std::set<uint32_t>{3}));
}

}  // namespace
}  // namespace lode
