#include "storage/segment.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <set>

#include "common/coding.h"
#include "common/crc32c.h"
#include "common/fault_injection_env.h"
#include "common/test_util.h"
#include "gen/fleet.h"
#include "parse/json_record.h"

namespace lode {
namespace {

constexpr int64_t kBase = 1731596464123456789;  // 2024-11-14T15:01:04.123456789Z

// --- Helpers ---------------------------------------------------------------------------------

std::string Str(std::initializer_list<char> bytes) {
  return std::string(bytes.begin(), bytes.end());
}

// Random records exercising everything the format must keep: empty strings, NUL bytes, UTF-8,
// many attributes, equal, negative and extreme timestamps, several services.
class RecordMaker {
 public:
  explicit RecordMaker(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng_); }

  std::string RandomBytes(size_t max_len) {
    static const std::string kPieces[] = {"a",    "B",         "z",    " ", "-", "0", "9", "é",
                                          "日本", Str({'\0'}), "\xff", "Q", "x", "_", "\n"};
    std::string s;
    const size_t len = Below(max_len + 1);
    for (size_t i = 0; i < len; ++i) s += kPieces[Below(std::size(kPieces))];
    return s;
  }

  std::string Message() {
    static const char* kWords[] = {"GET",   "/api/users", "timeout",   "Connection", "refused",
                                   "user",  "login",      "failed",    "ERROR",      "db",
                                   "query", "took",       "ms",        "retry",      "OK",
                                   "cache", "miss",       "Zebracorn", "héllo",      "日本語"};
    switch (Below(10)) {
      case 0: return "";
      case 1: return RandomBytes(12);
      default: {
        std::string m;
        const size_t words = 1 + Below(8);
        for (size_t i = 0; i < words; ++i) {
          if (i > 0) m += ' ';
          m += kWords[Below(std::size(kWords))];
          if (Below(3) == 0) m += std::to_string(Below(100000));
        }
        return m;
      }
    }
  }

  Record Make(const std::string& tenant, const std::vector<std::string>& services,
              const std::vector<std::string>& instances) {
    Record r;
    r.tenant = tenant;
    switch (Below(20)) {
      case 0: r.timestamp_ns = INT64_MIN; break;
      case 1: r.timestamp_ns = INT64_MAX; break;
      case 2: r.timestamp_ns = -static_cast<int64_t>(Below(1000000)); break;
      case 3: r.timestamp_ns = kBase; break;  // many equal timestamps
      default:
        r.timestamp_ns = kBase + static_cast<int64_t>(Below(3600)) * 1000000000LL +
                         static_cast<int64_t>(Below(4)) * 1000;
    }
    switch (Below(4)) {
      case 0: r.observed_ns = r.timestamp_ns; break;
      case 1: r.observed_ns = INT64_MIN + static_cast<int64_t>(Below(10)); break;
      default: r.observed_ns = kBase + static_cast<int64_t>(Below(1000000000));
    }
    r.level = static_cast<Level>(Below(kLevelCount));
    r.flags = Below(5) == 0 ? static_cast<uint8_t>(Below(256)) : 0;
    r.service = services[Below(services.size())];
    r.instance = instances[Below(instances.size())];
    static const char* kSources[] = {"http", "k8s", "", "docker"};
    r.source = kSources[Below(std::size(kSources))];
    r.message = Message();
    const size_t attrs = Below(4) == 0 ? Below(30) : Below(3);
    for (size_t i = 0; i < attrs; ++i) {
      static const char* kKeys[] = {"status", "latency_ms", "", "k8s.pod", "trace_id", "a.b.c"};
      r.attributes.push_back(
          {Below(10) == 0 ? RandomBytes(5) : kKeys[Below(std::size(kKeys))], RandomBytes(20)});
    }
    return r;
  }

 private:
  std::mt19937_64 rng_;
};

// The order a segment holds rows in: by service, then time, then input order.
std::vector<Record> SegmentOrder(std::vector<Record> records) {
  std::stable_sort(records.begin(), records.end(), [](const Record& a, const Record& b) {
    if (a.service != b.service) return a.service < b.service;
    return a.timestamp_ns < b.timestamp_ns;
  });
  return records;
}

std::vector<Record> ReadAll(const Segment& seg, uint32_t columns) {
  std::vector<Record> all;
  std::vector<Record> block;
  for (uint32_t b = 0; b < seg.blocks().size(); ++b) {
    Status s = seg.ReadBlock(b, columns, &block);
    EXPECT_TRUE(s.ok()) << s.ToString();
    all.insert(all.end(), block.begin(), block.end());
  }
  return all;
}

// What ReadBlock with `columns` must produce from a full record.
Record Project(const Record& r, uint32_t columns) {
  Record p;
  p.timestamp_ns = r.timestamp_ns;
  p.level = r.level;
  p.tenant = r.tenant;
  p.service = r.service;
  if (columns & kColObserved) p.observed_ns = r.observed_ns;
  if (columns & kColFlags) p.flags = r.flags;
  if (columns & kColInstance) p.instance = r.instance;
  if (columns & kColSource) p.source = r.source;
  if (columns & kColMessage) p.message = r.message;
  if (columns & kColAttributes) p.attributes = r.attributes;
  if (columns & kColPattern) p.pattern_id = r.pattern_id;
  return p;
}

std::shared_ptr<const Segment> WriteAndOpen(const std::string& path, const SegmentMeta& meta,
                                            const std::vector<Record>& records,
                                            const SegmentWriteOptions& options = {}) {
  Status s = WriteSegment(Env::Default(), path, meta, records, options);
  EXPECT_TRUE(s.ok()) << s.ToString();
  auto seg = Segment::Open(Env::Default(), path);
  EXPECT_TRUE(seg.ok()) << seg.status().ToString();
  return seg.ok() ? *seg : nullptr;
}

std::vector<std::string> ListDir(const std::string& dir) {
  auto names = Env::Default()->ListDir(dir);
  EXPECT_TRUE(names.ok());
  std::vector<std::string> v = names.ok() ? *names : std::vector<std::string>{};
  std::sort(v.begin(), v.end());
  return v;
}

// An Env that serves one path from memory, so the corruption tests can try thousands of
// variants of a file without touching the disk.
class MemFileEnv final : public EnvWrapper {
 public:
  MemFileEnv() : EnvWrapper(Env::Default()) {}
  std::string data;
  static constexpr const char* kPath = "/mem/segment";

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    if (path != kPath) return base()->NewRandomAccessFile(path);
    return std::unique_ptr<RandomAccessFile>(std::make_unique<File>(data));
  }
  bool FileExists(const std::string& path) override {
    return path == kPath || base()->FileExists(path);
  }

 private:
  class File final : public RandomAccessFile {
   public:
    explicit File(std::string d) : d_(std::move(d)) {}
    Status Read(uint64_t offset, size_t n, std::string* out) const override {
      if (offset > d_.size() || n > d_.size() - offset) return Status::Corruption("short read");
      out->assign(d_, static_cast<size_t>(offset), n);
      return Status::OK();
    }
    uint64_t Size() const override { return d_.size(); }

   private:
    std::string d_;
  };
};

using FaultyEnv = FaultInjectionEnv;

SegmentMeta Meta(const std::string& tenant = "acme") {
  SegmentMeta meta;
  meta.id = 42;
  meta.tenant = tenant;
  meta.max_wal_seq = 123456789;
  meta.replaces = {7, 9, 40};
  meta.created_ns = 1764000000LL * 1000000000LL;
  return meta;
}

std::vector<Record> RandomRecords(uint64_t seed, size_t n, const std::string& tenant = "acme") {
  RecordMaker maker(seed);
  const std::vector<std::string> services = {"api", "", "checkout", "a-very-long-service-name-x",
                                             Str({'n', '\0', 'l'})};
  const std::vector<std::string> instances = {"pod-1", "pod-2", "", "10.0.0.1:80", "héllo"};
  std::vector<Record> records;
  for (size_t i = 0; i < n; ++i) records.push_back(maker.Make(tenant, services, instances));
  // Pattern ids from a generator of their own, so the other fields stay what they were before
  // records had them: mostly a few small ids, some 0 (none), some large.
  std::mt19937_64 rng(seed * 7919 + 1);
  for (Record& r : records) {
    switch (std::uniform_int_distribution<int>(0, 9)(rng)) {
      case 0: r.pattern_id = 0; break;
      case 1: r.pattern_id = UINT32_MAX; break;
      case 2: r.pattern_id = static_cast<uint32_t>(rng()); break;
      default: r.pattern_id = std::uniform_int_distribution<uint32_t>(1, 12)(rng);
    }
  }
  return records;
}

// `records` as a version 1 segment reads them back: without pattern ids.
std::vector<Record> WithoutPatternIds(std::vector<Record> records) {
  for (Record& r : records) r.pattern_id = 0;
  return records;
}

// --- Round trip --------------------------------------------------------------------------------

TEST(SegmentTest, RoundTripRandomRecords) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(1, 1500);
  // One service with more than rows_per_block rows at one timestamp, to test the stable order.
  for (int i = 0; i < 200; ++i) {
    Record r;
    r.tenant = "acme";
    r.service = "bulk";
    r.timestamp_ns = kBase;
    r.message = "bulk " + std::to_string(i);
    records.push_back(r);
  }
  SegmentWriteOptions options;
  options.rows_per_block = 64;
  const std::string path = dir.path() + "/seg";
  auto seg = WriteAndOpen(path, Meta(), records, options);
  ASSERT_NE(seg, nullptr);

  const std::vector<Record> expected = SegmentOrder(records);
  const std::vector<Record> got = ReadAll(*seg, kColAll);
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], expected[i]) << "row " << i;

  // Block invariants.
  uint64_t rows = 0;
  std::vector<Record> block;
  for (uint32_t b = 0; b < seg->blocks().size(); ++b) {
    const BlockInfo& info = seg->blocks()[b];
    ASSERT_TRUE(seg->ReadBlock(b, 0, &block).ok());
    EXPECT_LE(info.rows, 64u);
    EXPECT_EQ(info.rows, block.size());
    std::array<uint32_t, kLevelCount> counts{};
    for (const Record& r : block) {
      EXPECT_EQ(r.service, seg->services()[info.service_id]);
      EXPECT_GE(r.timestamp_ns, info.min_ts);
      EXPECT_LE(r.timestamp_ns, info.max_ts);
      ++counts[static_cast<size_t>(r.level)];
    }
    EXPECT_EQ(counts, info.level_counts);
    if (b > 0) {
      EXPECT_EQ(info.offset, seg->blocks()[b - 1].offset + seg->blocks()[b - 1].size);
    }
    rows += info.rows;
  }
  EXPECT_EQ(rows, records.size());
  EXPECT_EQ(seg->services().size(), 6u);
  EXPECT_TRUE(seg->VerifyAll().ok());
  EXPECT_EQ(seg->file_bytes(), std::filesystem::file_size(path));
}

TEST(SegmentTest, MetaRoundTrip) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(2, 50, "tenant-é");
  SegmentMeta meta = Meta("tenant-é");
  meta.min_ts = 1;  // ignored: computed from the records
  meta.max_ts = 2;
  meta.rows = 3;
  meta.max_pattern_id = 5;
  for (size_t i = 0; i < records.size(); ++i) records[i].pattern_id = static_cast<uint32_t>(i * 3);
  auto seg = WriteAndOpen(dir.path() + "/seg", meta, records);
  ASSERT_NE(seg, nullptr);
  SegmentMeta want = meta;
  want.rows = records.size();
  want.min_ts = INT64_MAX;
  want.max_ts = INT64_MIN;
  for (const Record& r : records) {
    want.min_ts = std::min(want.min_ts, r.timestamp_ns);
    want.max_ts = std::max(want.max_ts, r.timestamp_ns);
  }
  want.max_pattern_id = 49 * 3;
  EXPECT_EQ(seg->meta(), want);
  EXPECT_TRUE(seg->VerifyAll().ok());
  EXPECT_EQ(seg->path(), dir.path() + "/seg");

  SegmentMeta empty;
  empty.tenant = "";
  std::vector<Record> one(1);
  one[0].tenant = "";
  seg = WriteAndOpen(dir.path() + "/seg2", empty, one);
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->meta().rows, 1u);
  EXPECT_EQ(seg->meta().max_pattern_id, 0u);
  EXPECT_TRUE(seg->meta().replaces.empty());
  EXPECT_EQ(ReadAll(*seg, kColAll), one);
}

TEST(SegmentTest, SingleRecordAndSingleService) {
  TempDir dir;
  Record r;
  r.tenant = "acme";
  r.timestamp_ns = -5;
  r.observed_ns = INT64_MAX;
  r.level = Level::kFatal;
  r.flags = kFlagTimestampInvalid;
  r.service = "only";
  r.message = "x";
  r.attributes = {{"original_timestamp", "yesterday"}, {"k", ""}, {"k", "dup"}};
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), {r});
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->blocks().size(), 1u);
  EXPECT_EQ(ReadAll(*seg, kColAll), std::vector<Record>{r});

  // 10,000 rows of one service at 4096 per block: 3 blocks.
  std::vector<Record> many(10000, r);
  for (size_t i = 0; i < many.size(); ++i) {
    many[i].timestamp_ns = kBase + static_cast<int64_t>(i % 977) * 1000000;
    many[i].message = "m" + std::to_string(i);
  }
  seg = WriteAndOpen(dir.path() + "/seg2", Meta(), many);
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->blocks().size(), 3u);
  EXPECT_EQ(seg->blocks()[0].rows, 4096u);
  EXPECT_EQ(ReadAll(*seg, kColAll), SegmentOrder(many));
}

TEST(SegmentTest, ColumnSubsetsFillExactlyThoseColumns) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(3, 400);
  SegmentWriteOptions options;
  options.rows_per_block = 50;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  const std::vector<Record> expected = SegmentOrder(records);
  std::vector<Record> block;
  for (uint32_t columns = 0; columns <= kColAll; ++columns) {
    SCOPED_TRACE(columns);
    size_t row = 0;
    for (uint32_t b = 0; b < seg->blocks().size(); ++b) {
      // Reuse `block` from a previous (possibly fuller) read: leftovers must be cleared.
      ASSERT_TRUE(seg->ReadBlock(b, columns, &block).ok());
      for (const Record& r : block) ASSERT_EQ(r, Project(expected[row++], columns));
    }
    ASSERT_EQ(row, expected.size());
    ASSERT_TRUE(seg->ReadBlock(0, kColAll, &block).ok());
  }
  EXPECT_EQ(seg->ReadBlock(static_cast<uint32_t>(seg->blocks().size()), kColAll, &block).code(),
            StatusCode::kInvalidArgument);
}

// --- Queries -------------------------------------------------------------------------------------

TEST(SegmentTest, CandidateBlocksAndScanMatchBruteForce) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(4, 2500);
  SegmentWriteOptions options;
  options.rows_per_block = 40;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  const std::vector<Record> sorted = SegmentOrder(records);
  // Which block each sorted row is in.
  std::vector<uint32_t> block_of;
  for (uint32_t b = 0; b < seg->blocks().size(); ++b) {
    block_of.insert(block_of.end(), seg->blocks()[b].rows, b);
  }
  ASSERT_EQ(block_of.size(), sorted.size());

  std::mt19937_64 rng(99);
  auto below = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  const std::vector<std::string> services = {
      "api", "", "checkout", "a-very-long-service-name-x", Str({'n', '\0', 'l'}), "nope"};
  const std::vector<std::string> instances = {"pod-1", "pod-2", "", "10.0.0.1:80", "héllo", "zz"};
  size_t total_matches = 0;
  size_t pruned = 0;
  for (int iter = 0; iter < 300; ++iter) {
    ScanSpec spec;
    spec.tenant = below(20) == 0 ? "other" : "acme";
    if (below(2) == 0) {
      const Record& a = sorted[below(sorted.size())];
      const Record& b = sorted[below(sorted.size())];
      spec.start_ns = std::min(a.timestamp_ns, b.timestamp_ns);
      spec.end_ns = std::max(a.timestamp_ns, b.timestamp_ns);
      if (spec.end_ns < INT64_MAX) spec.end_ns += static_cast<int64_t>(below(2));
    }
    if (below(3) == 0) spec.level_mask = static_cast<uint32_t>(below(128));
    for (size_t i = below(4) == 0 ? 1 + below(2) : 0; i > 0; --i) {
      spec.services.push_back(services[below(services.size())]);
    }
    for (size_t i = below(4) == 0 ? 1 + below(2) : 0; i > 0; --i) {
      spec.instances.push_back(instances[below(instances.size())]);
    }
    if (below(4) == 0) {
      for (size_t i = 1 + below(3); i > 0; --i) {
        spec.pattern_ids.push_back(below(4) == 0 ? sorted[below(sorted.size())].pattern_id
                                                 : static_cast<uint32_t>(below(14)));
      }
      std::sort(spec.pattern_ids.begin(), spec.pattern_ids.end());
      spec.pattern_ids.erase(std::unique(spec.pattern_ids.begin(), spec.pattern_ids.end()),
                             spec.pattern_ids.end());
    }
    for (size_t i = below(2) == 0 ? 1 + below(2) : 0; i > 0; --i) {
      switch (below(5)) {
        case 0: spec.required_substrings.push_back("absent-needle"); break;
        default: {
          const std::string& m = sorted[below(sorted.size())].message;
          if (m.empty()) {
            spec.required_substrings.push_back("");
            break;
          }
          const size_t at = below(m.size());
          std::string sub = m.substr(at, 1 + below(8));
          if (below(4) == 0) {
            for (char& c : sub) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
          }
          spec.required_substrings.push_back(sub);
        }
      }
    }

    // Groups of alternatives: at least one string of each group.
    for (size_t g = below(3) == 0 ? 1 + below(2) : 0; g > 0; --g) {
      std::vector<std::string> group;
      for (size_t k = 1 + below(3); k > 0; --k) {
        const std::string& m = sorted[below(sorted.size())].message;
        if (below(4) == 0 || m.empty()) {
          group.push_back(below(2) == 0 ? "absent-needle" : "ab");
        } else {
          group.push_back(m.substr(below(m.size()), 1 + below(8)));
        }
      }
      spec.required_any.push_back(std::move(group));
    }

    std::vector<Record> want;
    std::set<uint32_t> want_blocks;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (spec.Matches(sorted[i])) {
        want.push_back(sorted[i]);
        want_blocks.insert(block_of[i]);
      }
    }
    const std::vector<uint32_t> cands = seg->CandidateBlocks(spec);
    ASSERT_TRUE(std::is_sorted(cands.begin(), cands.end()));
    ASSERT_EQ(std::adjacent_find(cands.begin(), cands.end()), cands.end());
    for (uint32_t b : want_blocks) {
      ASSERT_TRUE(std::binary_search(cands.begin(), cands.end(), b)) << "iteration " << iter;
    }
    // Scan fills the asked-for columns plus those its filters need.
    const uint32_t columns = below(2) == 0 ? kColAll : static_cast<uint32_t>(below(kColAll + 1));
    uint32_t filled = columns;
    if (!spec.instances.empty()) filled |= kColInstance;
    if (!spec.pattern_ids.empty()) filled |= kColPattern;
    if (!spec.required_substrings.empty() || !spec.required_any.empty()) filled |= kColMessage;
    for (Record& r : want) r = Project(r, filled);
    std::vector<Record> got;
    ASSERT_TRUE(seg->Scan(
                       spec,
                       [&](const Record& r) {
                         got.push_back(r);
                         return true;
                       },
                       columns)
                    .ok());
    ASSERT_EQ(got, want) << "iteration " << iter;
    total_matches += want.size();
    pruned += seg->blocks().size() - cands.size();
  }
  EXPECT_GT(total_matches, 1000u);
  EXPECT_GT(pruned, 1000u);
}

TEST(SegmentTest, TextIndexPrunesAndIsCaseInsensitive) {
  TempDir dir;
  std::vector<Record> records;
  for (int i = 0; i < 1000; ++i) {
    Record r;
    r.tenant = "acme";
    r.service = "svc";
    r.timestamp_ns = kBase + i;
    r.message = "request " + std::to_string(i) + " done";
    if (i == 555) r.message = "the ZebraCorn appeared";
    records.push_back(r);
  }
  SegmentWriteOptions options;
  options.rows_per_block = 100;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->blocks().size(), 10u);
  ScanSpec spec;
  spec.tenant = "acme";
  for (const char* needle : {"ZebraCorn", "zebracorn", "ZEBRACORN", "ebraC"}) {
    spec.required_substrings = {needle};
    EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{5}) << needle;
  }
  size_t visited = 0;
  spec.required_substrings = {"ZebraCorn"};
  ASSERT_TRUE(seg->Scan(spec,
                        [&](const Record& r) {
                          EXPECT_EQ(r.message, "the ZebraCorn appeared");
                          ++visited;
                          return true;
                        })
                  .ok());
  EXPECT_EQ(visited, 1u);
  spec.required_substrings = {"zebracorn"};  // the index matches, the case-sensitive filter not
  visited = 0;
  ASSERT_TRUE(seg->Scan(spec, [&](const Record&) { return ++visited, true; }).ok());
  EXPECT_EQ(visited, 0u);
  spec.required_substrings = {"unicorn"};
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  spec.required_substrings = {"Ze"};  // too short to prune
  EXPECT_EQ(seg->CandidateBlocks(spec).size(), 10u);
  spec.required_substrings = {"request 12"};  // blocks 0 and 1 ("request 12", "request 120..129")
  EXPECT_EQ(seg->CandidateBlocks(spec), (std::vector<uint32_t>{0, 1}));
  // Time, service, instance and level pruning.
  spec.required_substrings.clear();
  spec.start_ns = kBase + 250;
  spec.end_ns = kBase + 300;
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{2});
  spec.services = {"nope"};
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  spec.services = {"nope", "svc"};
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{2});
  spec.instances = {"x"};
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  spec.instances = {""};
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{2});
  spec.level_mask = 1u << static_cast<int>(Level::kError);
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  spec.level_mask = 1u << static_cast<int>(Level::kUnknown);
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{2});
  spec.tenant = "other";
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());

  // Scan stops when the visitor says so.
  ScanSpec all;
  all.tenant = "acme";
  visited = 0;
  ASSERT_TRUE(seg->Scan(all, [&](const Record&) { return ++visited < 150; }).ok());
  EXPECT_EQ(visited, 150u);
}

TEST(SegmentTest, LabelPostings) {
  TempDir dir;
  std::vector<Record> records;
  for (int i = 0; i < 600; ++i) {
    Record r;
    r.tenant = "acme";
    r.service = "svc";
    r.timestamp_ns = kBase + i;
    r.instance = i < 300 ? "early" : "late";
    r.source = "http";
    records.push_back(r);
  }
  SegmentWriteOptions options;
  options.rows_per_block = 100;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  ScanSpec spec;
  spec.tenant = "acme";
  spec.instances = {"late"};
  EXPECT_EQ(seg->CandidateBlocks(spec), (std::vector<uint32_t>{3, 4, 5}));
  spec.instances = {"early", "late"};
  EXPECT_EQ(seg->CandidateBlocks(spec).size(), 6u);
  size_t n = 0;
  spec.instances = {"early"};
  ASSERT_TRUE(seg->Scan(
                     spec,
                     [&](const Record& r) {
                       EXPECT_EQ(r.instance, "early");
                       return ++n, true;
                     },
                     0)
                  .ok());
  EXPECT_EQ(n, 300u);
}

TEST(SegmentTest, DenseAndSparsePostings) {
  // 100 blocks of 10 rows. "evenblock" is in every even block (a posting stored as a bitmap),
  // "rareword" in 3 blocks (a list), "common" everywhere ("all blocks"); the same for instances.
  TempDir dir;
  std::vector<Record> records;
  for (int b = 0; b < 100; ++b) {
    for (int i = 0; i < 10; ++i) {
      Record r;
      r.tenant = "acme";
      r.service = "svc";
      r.timestamp_ns = kBase + b * 10 + i;
      r.message = "common text";
      if (b % 2 == 0 && i == 3) r.message += " evenblock";
      if ((b == 7 || b == 50 || b == 99) && i == 9) r.message += " rareword";
      r.instance = b % 2 == 0 ? "even" : (b == 33 ? "rare" : "odd");
      records.push_back(r);
    }
  }
  SegmentWriteOptions options;
  options.rows_per_block = 10;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  ASSERT_EQ(seg->blocks().size(), 100u);
  std::vector<uint32_t> even;
  for (uint32_t b = 0; b < 100; b += 2) even.push_back(b);
  ScanSpec spec;
  spec.tenant = "acme";
  spec.required_substrings = {"EvenBlock"};
  EXPECT_EQ(seg->CandidateBlocks(spec), even);
  spec.required_substrings = {"rareword"};
  EXPECT_EQ(seg->CandidateBlocks(spec), (std::vector<uint32_t>{7, 50, 99}));
  spec.required_substrings = {"rareword", "evenblock"};
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{50});
  spec.required_substrings = {"common"};
  EXPECT_EQ(seg->CandidateBlocks(spec).size(), 100u);
  spec.required_substrings.clear();
  spec.instances = {"even"};
  EXPECT_EQ(seg->CandidateBlocks(spec), even);
  spec.instances = {"rare", "nope"};
  EXPECT_EQ(seg->CandidateBlocks(spec), std::vector<uint32_t>{33});
  spec.required_substrings = {"rareword"};
  spec.instances = {"odd"};
  EXPECT_EQ(seg->CandidateBlocks(spec), (std::vector<uint32_t>{7, 99}));
  size_t n = 0;
  ASSERT_TRUE(seg->Scan(spec, [&](const Record&) { return ++n, true; }).ok());
  EXPECT_EQ(n, 2u);
}

// --- Pattern ids ---------------------------------------------------------------------------------

// The records of `records` that match `spec`, projected to `columns`.
std::vector<Record> Matching(const std::vector<Record>& records, const ScanSpec& spec,
                             uint32_t columns = kColAll) {
  std::vector<Record> out;
  for (const Record& r : records) {
    if (spec.Matches(r)) out.push_back(Project(r, columns));
  }
  return out;
}

// The records `seg` holds that match `spec`, through Scan.
std::vector<Record> ScanAll(const Segment& seg, const ScanSpec& spec, uint32_t columns = kColAll) {
  std::vector<Record> got;
  Status s = seg.Scan(
      spec,
      [&](const Record& r) {
        got.push_back(r);
        return true;
      },
      columns);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return got;
}

TEST(SegmentTest, PatternIdsRoundTrip) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(11, 700);
  SegmentWriteOptions options;
  options.rows_per_block = 32;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  const std::vector<Record> expected = SegmentOrder(records);
  uint32_t max_id = 0;
  std::set<uint32_t> distinct;
  for (const Record& r : records) {
    max_id = std::max(max_id, r.pattern_id);
    distinct.insert(r.pattern_id);
  }
  ASSERT_GT(distinct.size(), 10u);
  ASSERT_EQ(max_id, UINT32_MAX);
  EXPECT_EQ(seg->meta().max_pattern_id, max_id);
  EXPECT_EQ(ReadAll(*seg, kColAll), expected);
  for (uint32_t columns :
       {uint32_t{kColPattern}, kColAll & ~kColPattern, uint32_t{kColPattern | kColMessage}}) {
    SCOPED_TRACE(columns);
    const std::vector<Record> got = ReadAll(*seg, columns);
    ASSERT_EQ(got.size(), expected.size());
    for (size_t i = 0; i < got.size(); ++i) ASSERT_EQ(got[i], Project(expected[i], columns)) << i;
  }
  ScanSpec spec;
  spec.tenant = "acme";
  // end_ns (INT64_MAX) is exclusive: rows at INT64_MAX are not scanned.
  EXPECT_EQ(ScanAll(*seg, spec), Matching(expected, spec));
  EXPECT_EQ(ScanAll(*seg, spec, kColPattern), Matching(expected, spec, kColPattern));
  spec.pattern_ids = {0, 3, 12, UINT32_MAX};
  EXPECT_EQ(ScanAll(*seg, spec, 0), Matching(expected, spec, kColPattern));
  EXPECT_GT(Matching(expected, spec).size(), 50u);
  EXPECT_TRUE(seg->VerifyAll().ok());
}

TEST(SegmentTest, ConstantPatternColumnIsOneValue) {
  // Blocks whose rows share one pattern id store the column as that id's varint: a version 2
  // block is then exactly that many bytes larger than the same block in version 1.
  TempDir dir;
  std::vector<Record> records;
  for (int i = 0; i < 1000; ++i) {
    Record r;
    r.tenant = "acme";
    r.service = i < 500 ? "a" : "b";
    r.timestamp_ns = kBase + i;
    r.message = "row " + std::to_string(i);
    r.pattern_id = i < 500 ? 300 : (i < 800 ? 0 : UINT32_MAX);
    records.push_back(r);
  }
  SegmentWriteOptions options;
  options.rows_per_block = 100;
  auto v2 = WriteAndOpen(dir.path() + "/v2", Meta(), records, options);
  options.format_version = 1;
  auto v1 = WriteAndOpen(dir.path() + "/v1", Meta(), records, options);
  ASSERT_NE(v2, nullptr);
  ASSERT_NE(v1, nullptr);
  ASSERT_EQ(v2->blocks().size(), 10u);
  ASSERT_EQ(v1->blocks().size(), 10u);
  for (uint32_t b = 0; b < 10; ++b) {
    const uint32_t id = records[b * 100].pattern_id;
    EXPECT_EQ(v2->blocks()[b].size, v1->blocks()[b].size + VarintLength(id)) << b;
  }
  EXPECT_EQ(ReadAll(*v2, kColAll), records);
  EXPECT_EQ(ReadAll(*v1, kColAll), WithoutPatternIds(records));
  EXPECT_EQ(v2->meta().max_pattern_id, UINT32_MAX);
  EXPECT_TRUE(v2->VerifyAll().ok());
  ScanSpec spec;
  spec.tenant = "acme";
  spec.pattern_ids = {0, 300};
  EXPECT_EQ(ScanAll(*v2, spec, 0).size(), 800u);
  spec.pattern_ids = {UINT32_MAX};
  EXPECT_EQ(ScanAll(*v2, spec, 0).size(), 200u);
}

TEST(SegmentTest, ScanFiltersByPatternIds) {
  TempDir dir;
  std::vector<Record> records;
  for (int i = 0; i < 1000; ++i) {
    Record r;
    r.tenant = "acme";
    r.service = "svc";
    r.timestamp_ns = kBase + i;
    r.level = i % 7 == 0 ? Level::kError : Level::kInfo;
    r.message = "row " + std::to_string(i);
    r.pattern_id = i >= 600 && i < 700 ? 9 : static_cast<uint32_t>(i % 5);  // block 6: all 9
    records.push_back(r);
  }
  SegmentWriteOptions options;
  options.rows_per_block = 100;
  auto seg = WriteAndOpen(dir.path() + "/seg", Meta(), records, options);
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(seg->meta().max_pattern_id, 9u);

  auto check = [&](const ScanSpec& spec, uint32_t columns, size_t want_count) {
    std::vector<Record> want;
    for (const Record& r : records) {
      if (spec.Matches(r)) want.push_back(Project(r, columns | kColPattern));
    }
    EXPECT_EQ(want.size(), want_count);
    const std::vector<Record> got = ScanAll(*seg, spec, columns);
    EXPECT_EQ(got, want);
    for (const Record& r : got) {
      EXPECT_TRUE(
          spec.pattern_ids.empty() ||
          std::binary_search(spec.pattern_ids.begin(), spec.pattern_ids.end(), r.pattern_id));
    }
  };
  ScanSpec spec;
  spec.tenant = "acme";
  spec.pattern_ids = {2};
  check(spec, kColAll, 180);
  check(spec, 0, 180);  // the filter fills pattern_id even when not asked for
  spec.pattern_ids = {1, 9};
  check(spec, kColMessage, 280);
  spec.pattern_ids = {9};
  check(spec, 0, 100);
  spec.pattern_ids = {0};
  spec.level_mask = 1u << static_cast<int>(Level::kError);
  spec.required_substrings = {"row 1"};
  check(spec, kColAll, 3);  // rows 105, 140 and 175
  spec.level_mask = ~0u;
  spec.required_substrings.clear();
  spec.pattern_ids = {5, 6};  // at most max_pattern_id, in no row
  EXPECT_EQ(seg->CandidateBlocks(spec).size(), 10u);
  check(spec, kColAll, 0);
  spec.pattern_ids = {10, 11};  // all above max_pattern_id: nothing is read
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  check(spec, kColAll, 0);
  spec.pattern_ids.clear();
  check(spec, kColAll, 1000);
}

TEST(SegmentTest, Version1FilesReadWithPatternIdZero) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(12, 600);
  SegmentWriteOptions options;
  options.rows_per_block = 50;
  options.format_version = 1;
  const std::string path = dir.path() + "/seg";
  SegmentMeta meta = Meta();
  meta.max_pattern_id = 77;  // ignored, and not stored in version 1
  auto seg = WriteAndOpen(path, meta, records, options);
  ASSERT_NE(seg, nullptr);
  std::string file;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &file).ok());
  EXPECT_EQ(DecodeFixed32(file.data() + file.size() - 16), 1u);  // footer format version
  EXPECT_EQ(seg->meta().max_pattern_id, 0u);
  EXPECT_EQ(seg->meta().id, meta.id);
  EXPECT_EQ(seg->meta().replaces, meta.replaces);
  EXPECT_EQ(seg->meta().created_ns, meta.created_ns);
  EXPECT_TRUE(seg->VerifyAll().ok());

  const std::vector<Record> expected = WithoutPatternIds(SegmentOrder(records));
  EXPECT_EQ(ReadAll(*seg, kColAll), expected);
  std::vector<Record> block;
  for (uint32_t columns :
       {0u, uint32_t{kColPattern}, kColAll & ~kColPattern, uint32_t{kColPattern | kColInstance}}) {
    SCOPED_TRACE(columns);
    size_t row = 0;
    for (uint32_t b = 0; b < seg->blocks().size(); ++b) {
      ASSERT_TRUE(seg->ReadBlock(b, columns, &block).ok());
      for (const Record& r : block) ASSERT_EQ(r, Project(expected[row++], columns));
    }
    ASSERT_EQ(row, expected.size());
  }

  ScanSpec spec;
  spec.tenant = "acme";
  const std::vector<Record> all = Matching(expected, spec);  // all but rows at INT64_MAX
  EXPECT_EQ(ScanAll(*seg, spec), all);
  spec.pattern_ids = {0};
  EXPECT_EQ(ScanAll(*seg, spec), all);
  spec.pattern_ids = {0, 3};
  spec.services = {"api"};
  size_t want = 0;
  for (const Record& r : expected) want += spec.Matches(r);
  EXPECT_GT(want, 0u);
  EXPECT_EQ(ScanAll(*seg, spec, 0).size(), want);
  spec.services.clear();
  spec.pattern_ids = {3};
  EXPECT_TRUE(seg->CandidateBlocks(spec).empty());
  EXPECT_TRUE(ScanAll(*seg, spec).empty());

  // The same records in version 2 keep their ids and are otherwise equal.
  options.format_version = kSegmentFormatVersion;
  auto v2 = WriteAndOpen(dir.path() + "/seg2", meta, records, options);
  ASSERT_NE(v2, nullptr);
  EXPECT_EQ(ReadAll(*v2, kColAll), SegmentOrder(records));
  EXPECT_EQ(ReadAll(*v2, kColAll & ~kColPattern), ReadAll(*seg, kColAll & ~kColPattern));
}

// --- Corruption ----------------------------------------------------------------------------------

// Opens the in-memory file and reads everything; returns the first error.
Status OpenAndVerify(MemFileEnv* env) {
  auto seg = Segment::Open(env, MemFileEnv::kPath);
  if (!seg.ok()) return seg.status();
  return (*seg)->VerifyAll();
}

// Recomputes the footer's checksum after a test changed footer bytes 0-175.
void FixFooterCrc(std::string* file) {
  const size_t footer = file->size() - 188;
  EncodeFixed32(file->data() + footer + 176,
                crc32c::Mask(crc32c::Value(std::string_view(*file).substr(footer, 176))));
}

class SegmentCorruptionTest : public ::testing::Test {
 protected:
  void SetUp() override { Build(kSegmentFormatVersion); }

  // Makes good_ a small segment of format `version`.
  void Build(uint32_t version) {
    std::vector<Record> records = RandomRecords(5, 30);
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].message.resize(std::min<size_t>(records[i].message.size(), 20));
      records[i].attributes.resize(std::min<size_t>(records[i].attributes.size(), 2));
    }
    SegmentWriteOptions options;
    options.rows_per_block = 8;
    options.format_version = version;
    const std::string path = dir_.path() + "/seg";
    ASSERT_TRUE(WriteSegment(Env::Default(), path, Meta(), records, options).ok());
    ASSERT_TRUE(Env::Default()->ReadFile(path, &good_).ok());
    ASSERT_EQ(DecodeFixed32(good_.data() + good_.size() - 16), version);
    env_.data = good_;
    ASSERT_TRUE(OpenAndVerify(&env_).ok());
  }

  void ExpectEveryFlippedByteDetected();

  TempDir dir_;
  MemFileEnv env_;
  std::string good_;
};

TEST_F(SegmentCorruptionTest, EveryFlippedByteIsDetected) {
  ExpectEveryFlippedByteDetected();
}

TEST_F(SegmentCorruptionTest, EveryFlippedByteIsDetectedInVersion1) {
  Build(1);
  ExpectEveryFlippedByteDetected();
}

void SegmentCorruptionTest::ExpectEveryFlippedByteDetected() {
  size_t at_open = 0;
  size_t at_read = 0;
  for (size_t i = 0; i < good_.size(); ++i) {
    for (uint8_t mask : {uint8_t{0x01}, uint8_t{0x80}, uint8_t{0xFF}}) {
      env_.data = good_;
      env_.data[i] = static_cast<char>(env_.data[i] ^ mask);
      auto seg = Segment::Open(&env_, MemFileEnv::kPath);
      Status s = seg.ok() ? (*seg)->VerifyAll() : seg.status();
      ASSERT_EQ(s.code(), StatusCode::kCorruption) << "byte " << i << " of " << good_.size();
      ASSERT_NE(s.message().find(MemFileEnv::kPath), std::string_view::npos) << s.ToString();
      (seg.ok() ? at_read : at_open)++;
    }
  }
  // Both paths are exercised: blocks are checked when read, the rest at Open.
  EXPECT_GT(at_open, 100u);
  EXPECT_GT(at_read, 100u);
  std::cout << "segment of " << good_.size() << " bytes: " << at_open << " flips caught by Open, "
            << at_read << " by reading blocks\n";
}

// A file must never be read as another version than the one it was written in: each version's
// layout fails the other's checks.
TEST_F(SegmentCorruptionTest, RelabelledVersionIsCorruption) {
  for (uint32_t version : {1u, 2u}) {
    Build(version);
    env_.data = good_;
    EncodeFixed32(env_.data.data() + env_.data.size() - 16, 3 - version);
    FixFooterCrc(&env_.data);
    Status s = OpenAndVerify(&env_);
    EXPECT_EQ(s.code(), StatusCode::kCorruption) << "version " << version << ": " << s.ToString();
  }
}

TEST_F(SegmentCorruptionTest, EveryTruncationIsDetected) {
  for (size_t len = 0; len < good_.size(); ++len) {
    env_.data = good_.substr(0, len);
    Status s = OpenAndVerify(&env_);
    ASSERT_EQ(s.code(), StatusCode::kCorruption) << "length " << len;
  }
  env_.data = good_ + "x";  // extended
  EXPECT_EQ(OpenAndVerify(&env_).code(), StatusCode::kCorruption);
}

TEST_F(SegmentCorruptionTest, FlippedBlockByteFailsOnlyReadsOfThatColumn) {
  // The last byte of a block belongs to its last column: pattern in version 2, attributes in 1.
  for (uint32_t version : {2u, 1u}) {
    SCOPED_TRACE(version);
    Build(version);
    const uint32_t column = version == 2 ? kColPattern : kColAttributes;
    const char* name = version == 2 ? "pattern column" : "attributes column";
    auto seg = Segment::Open(&env_, MemFileEnv::kPath);
    ASSERT_TRUE(seg.ok());
    const BlockInfo& info = (*seg)->blocks()[1];
    env_.data[info.offset + info.size - 1] ^= 0x10;
    seg = Segment::Open(&env_, MemFileEnv::kPath);
    ASSERT_TRUE(seg.ok());
    std::vector<Record> out;
    EXPECT_TRUE((*seg)->ReadBlock(1, kColAll & ~column, &out).ok());
    EXPECT_TRUE((*seg)->ReadBlock(0, kColAll, &out).ok());
    Status s = (*seg)->ReadBlock(1, column, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.message().find("block 1"), std::string_view::npos) << s.ToString();
    EXPECT_NE(s.message().find(name), std::string_view::npos) << s.ToString();
    EXPECT_EQ((*seg)->VerifyAll().code(), StatusCode::kCorruption);
    ScanSpec spec;
    spec.tenant = "acme";
    auto all = [](const Record&) { return true; };
    EXPECT_EQ((*seg)->Scan(spec, all).code(), StatusCode::kCorruption);
    EXPECT_TRUE((*seg)->Scan(spec, all, kColAll & ~column).ok());
    if (version == 2) {
      // A pattern filter reads the pattern column even when the visitor does not want it.
      spec.pattern_ids = {1, 2, 3};
      EXPECT_EQ((*seg)->Scan(spec, all, 0).code(), StatusCode::kCorruption);
    }
  }
}

TEST_F(SegmentCorruptionTest, NewerVersionIsRefused) {
  for (uint32_t version : {0u, 3u, 1000u}) {
    env_.data = good_;
    EncodeFixed32(env_.data.data() + env_.data.size() - 16, version);
    auto seg = Segment::Open(&env_, MemFileEnv::kPath);
    ASSERT_FALSE(seg.ok());
    EXPECT_EQ(seg.status().code(), StatusCode::kCorruption);
    EXPECT_NE(seg.status().message().find("unsupported segment format version " +
                                          std::to_string(version) +
                                          " (this reader knows versions 1 to 2)"),
              std::string_view::npos)
        << seg.status().ToString();
  }
}

// max_pattern_id cannot be checked at Open (that would mean reading every block); VerifyAll
// checks it.
TEST_F(SegmentCorruptionTest, WrongMaxPatternIdIsFoundByVerifyAll) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(8, 40);
  for (size_t i = 0; i < records.size(); ++i) records[i].pattern_id = static_cast<uint32_t>(i);
  const std::string path = dir.path() + "/seg";
  ASSERT_TRUE(WriteSegment(Env::Default(), path, Meta(), records).ok());
  ASSERT_TRUE(Env::Default()->ReadFile(path, &env_.data).ok());
  // The meta section is raw and last; its last byte is max_pattern_id (39, one varint byte).
  const size_t footer = env_.data.size() - 188;
  ASSERT_EQ(env_.data[footer - 1], 39);
  env_.data[footer - 1] = 38;
  const uint64_t meta_offset = DecodeFixed64(env_.data.data() + footer + 4 * 32);
  const std::string_view meta_bytes =
      std::string_view(env_.data).substr(meta_offset, footer - meta_offset);
  EncodeFixed32(env_.data.data() + footer + 4 * 32 + 24, crc32c::Mask(crc32c::Value(meta_bytes)));
  FixFooterCrc(&env_.data);
  auto seg = Segment::Open(&env_, MemFileEnv::kPath);
  ASSERT_TRUE(seg.ok()) << seg.status().ToString();
  EXPECT_EQ((*seg)->meta().max_pattern_id, 38u);
  Status s = (*seg)->VerifyAll();
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("meta: max_pattern_id 38 differs"), std::string_view::npos)
      << s.ToString();
}

TEST(SegmentTest, OpenOfNonSegmentEmptyAndMissingFiles) {
  TempDir dir;
  const std::string text = dir.path() + "/text";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(text, std::string(1000, 'x') + "\n").ok());
  auto seg = Segment::Open(Env::Default(), text);
  ASSERT_FALSE(seg.ok());
  EXPECT_EQ(seg.status().code(), StatusCode::kCorruption);
  EXPECT_NE(seg.status().message().find("not a segment"), std::string_view::npos)
      << seg.status().ToString();
  EXPECT_NE(seg.status().message().find(text), std::string_view::npos);

  const std::string empty = dir.path() + "/empty";
  ASSERT_TRUE(Env::Default()->WriteFileAtomic(empty, "").ok());
  seg = Segment::Open(Env::Default(), empty);
  ASSERT_FALSE(seg.ok());
  EXPECT_EQ(seg.status().code(), StatusCode::kCorruption);
  EXPECT_NE(seg.status().message().find("too short"), std::string_view::npos)
      << seg.status().ToString();

  seg = Segment::Open(Env::Default(), dir.path() + "/missing");
  ASSERT_FALSE(seg.ok());
  EXPECT_EQ(seg.status().code(), StatusCode::kNotFound);
  EXPECT_NE(seg.status().message().find("missing"), std::string_view::npos);
}

// --- Writing -----------------------------------------------------------------------------------

TEST(SegmentTest, WriteLeavesNoTemporaryFile) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(6, 100);
  ASSERT_TRUE(WriteSegment(Env::Default(), dir.path() + "/seg", Meta(), records).ok());
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"seg"});

  FaultyEnv env;
  env.SetFailSync(true);
  Status s = WriteSegment(&env, dir.path() + "/seg2", Meta(), records);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_NE(s.message().find("seg2"), std::string_view::npos) << s.ToString();
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"seg"});

  env.SetFailSync(false);
  env.SetAppendBudget(env.appended() + 300);
  s = WriteSegment(&env, dir.path() + "/seg3", Meta(), records);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"seg"});

  env.SetAppendBudget(UINT64_MAX);
  env.SetFailSyncDir(true);
  s = WriteSegment(&env, dir.path() + "/seg4", Meta(), records);
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_EQ(ListDir(dir.path()), std::vector<std::string>{"seg"});

  env.SetFailSyncDir(false);
  ASSERT_TRUE(WriteSegment(&env, dir.path() + "/seg5", Meta(), records).ok());
  EXPECT_EQ(ListDir(dir.path()), (std::vector<std::string>{"seg", "seg5"}));
}

TEST(SegmentTest, WriteRejectsBadInput) {
  TempDir dir;
  std::vector<Record> records = RandomRecords(7, 10);
  EXPECT_EQ(
      WriteSegment(Env::Default(), dir.path() + "/a", Meta(), std::span<const Record>()).code(),
      StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteSegment(Env::Default(), dir.path() + "/a", Meta("other"), records).code(),
            StatusCode::kInvalidArgument);
  records[3].level = static_cast<Level>(9);
  EXPECT_EQ(WriteSegment(Env::Default(), dir.path() + "/a", Meta(), records).code(),
            StatusCode::kInvalidArgument);
  records[3].level = Level::kInfo;
  SegmentWriteOptions options;
  options.rows_per_block = 0;
  EXPECT_EQ(WriteSegment(Env::Default(), dir.path() + "/a", Meta(), records, options).code(),
            StatusCode::kInvalidArgument);
  options.rows_per_block = 10;
  for (uint32_t version : {0u, 3u}) {
    options.format_version = version;
    Status s = WriteSegment(Env::Default(), dir.path() + "/a", Meta(), records, options);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(s.message().find("format version " + std::to_string(version)), std::string_view::npos)
        << s.ToString();
  }
  EXPECT_TRUE(ListDir(dir.path()).empty());
}

// --- Realistic data ------------------------------------------------------------------------------

// Records as the pipeline makes them from the simulated fleet.
std::vector<Record> FleetRecords(size_t n, std::string* ndjson) {
  FleetGenerator gen(FleetOptions{});
  JsonRecordParser parser;
  std::vector<Record> records(n);
  std::string line;
  int64_t ts = kBase;
  for (size_t i = 0; i < n; ++i) {
    line.clear();
    ts += 1 + static_cast<int64_t>((i * 2654435761u) % 200000);
    gen.Next(ts, &line);
    if (ndjson) *ndjson += line + "\n";
    const size_t size = line.size();
    line.append(JsonRecordParser::kPadding, ' ');
    ParseContext ctx;
    ctx.observed_ns = kBase + static_cast<int64_t>(i / 1000) * 1000000000LL;
    ctx.tenant = "acme";
    Status s = parser.ParseObject(std::string_view(line.data(), size), ctx, &records[i]);
    EXPECT_TRUE(s.ok()) << s.ToString();
  }
  return records;
}

// Stored size of section `i` (0 directory ... 4 meta), from the footer (docs/formats/segment.md).
uint64_t SectionBytes(const std::string& file, int i) {
  const size_t footer = file.size() - 188;
  return DecodeFixed64(file.data() + footer + static_cast<size_t>(i) * 32 + 8);
}

TEST(SegmentTest, FleetRecordsRoundTripAndIndexSize) {
  TempDir dir;
  std::string ndjson;
  std::vector<Record> records = FleetRecords(20000, &ndjson);
  const std::string path = dir.path() + "/seg";
  auto seg = WriteAndOpen(path, Meta(), records);
  ASSERT_NE(seg, nullptr);
  EXPECT_EQ(ReadAll(*seg, kColAll), SegmentOrder(records));
  std::string file;
  ASSERT_TRUE(Env::Default()->ReadFile(path, &file).ok());
  const double index = static_cast<double>(SectionBytes(file, 2) + SectionBytes(file, 3));
  std::cout << "fleet: " << records.size() << " records, " << seg->blocks().size()
            << " blocks, segment " << file.size() << " bytes ("
            << static_cast<double>(file.size()) / static_cast<double>(records.size())
            << " B/record; NDJSON " << ndjson.size() / records.size()
            << " B/record); text+label index " << 100.0 * index / static_cast<double>(file.size())
            << "% of the segment\n";
  EXPECT_LT(index, 0.25 * static_cast<double>(file.size()));

  // Needle: only the blocks holding it are candidates.
  ScanSpec spec;
  spec.tenant = "acme";
  spec.required_substrings = {"Connection refused"};
  size_t matches = 0;
  ASSERT_TRUE(seg->Scan(spec, [&](const Record&) { return ++matches, true; }).ok());
  size_t want = 0;
  for (const Record& r : records) want += spec.Matches(r);
  EXPECT_EQ(matches, want);
}

}  // namespace
}  // namespace lode
