// Engine behaviour the language tests (tests/query/cases) and the brute-force
// check (logql_bruteforce_test.cc) do not reach: the count fast path and the
// sharded scans must agree with the general path, and limits, timeouts and
// cancellation stop a query with a clear error.
#include "query/logql_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <numeric>
#include <random>

#include "common/test_util.h"
#include "query/logql_parser.h"
#include "storage/memory_store.h"
#include "storage/segment_store.h"

namespace lode::logql {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kBase = 1'700'000'000 * kSec;  // 2023-11-14T22:13:20Z

std::vector<Record> MakeRecords(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const char* services[] = {"api", "checkout", "auth", ""};
  const char* words[] = {"timeout", "refused", "ok", "slow", "retry"};
  std::vector<Record> out;
  for (size_t i = 0; i < n; ++i) {
    Record r;
    r.tenant = "default";
    // Two hours; every 50th record exactly on a minute boundary.
    r.timestamp_ns = i % 50 == 0 ? kBase + static_cast<int64_t>(rng() % 120) * 60 * kSec
                                 : kBase + static_cast<int64_t>(rng() % (7200 * kSec));
    r.level = static_cast<Level>(rng() % kLevelCount);
    r.service = services[rng() % 4];
    r.instance = "i-" + std::to_string(rng() % 3);
    r.source = rng() % 2 ? "http" : "k8s";
    r.message = "method=GET status=" + std::to_string(200 + 100 * (rng() % 4)) +
                " latency_ms=" + std::to_string(rng() % 2000) + " " + words[rng() % 5];
    out.push_back(std::move(r));
  }
  return out;
}

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SegmentStore::Options o;
    o.dir = dir_.path();
    o.background = false;
    auto store = SegmentStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    // Several segments and an in-memory head.
    std::vector<Record> all = MakeRecords(6000, 7);
    for (size_t part = 0; part < 4; ++part) {
      RecordBatch b;
      b.tenant = "default";
      b.records.assign(all.begin() + static_cast<ptrdiff_t>(part * 1500),
                       all.begin() + static_cast<ptrdiff_t>((part + 1) * 1500));
      RecordBatch* batches[] = {&b};
      ASSERT_TRUE(store_->Write(batches).ok());
      if (part < 3) {
        ASSERT_TRUE(store_->Flush().ok());
      }
    }
    memory_ = std::make_unique<MemoryStore>(MakeRecords(6000, 7));
  }

  static QueryParams Range(int64_t step = 60 * kSec) {
    QueryParams p;
    p.start_ns = kBase;
    p.end_ns = kBase + 7200 * kSec;
    p.step_ns = step;
    p.limit = 50;
    return p;
  }

  static std::string Dump(const QueryResult& r) {
    std::string out;
    for (const auto& s : r.matrix) {
      out += LabelsToString(s.labels) + ":";
      for (const auto& p : s.points) {
        out += " " + std::to_string((p.t_ns - kBase) / kSec) + "=" + FormatSampleValue(p.value);
      }
      out += "\n";
    }
    for (const auto& s : r.vector) {
      out += LabelsToString(s.labels) + " " + FormatSampleValue(s.value) + "\n";
    }
    for (const auto& s : r.streams) {
      out += LabelsToString(s.labels) + ":";
      for (const auto& e : s.entries) out += " " + std::to_string(e.timestamp_ns) + "|" + e.line;
      out += "\n";
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<SegmentStore> store_;
  std::unique_ptr<MemoryStore> memory_;
};

TEST_F(EngineTest, CountFastPathAgreesWithTheGeneralPath) {
  Engine engine(store_.get());
  const std::pair<const char*, const char*> pairs[] = {
      // fast path                                   general path (a no-op label filter)
      {"sum by (level) (count_over_time({}[5m]))",
       "sum by (level) (count_over_time({} | __error__=\"\" [5m]))"},
      {"sum by (service) (rate({level=~\"warn|error\"} |= \"timeout\" [90s]))",
       "sum by (service) (rate({level=~\"warn|error\"} |= \"timeout\" | __error__=\"\" [90s]))"},
      {"sum(count_over_time({service=\"api\", instance!=\"i-1\"}[1m]))",
       "sum(count_over_time({service=\"api\", instance!=\"i-1\"} | __error__=\"\" [1m]))"},
      {"sum by (level, service) (count_over_time({source=\"k8s\"}[7m]))",
       "sum by (level, service) (count_over_time({source=\"k8s\"} | __error__=\"\" [7m]))"},
  };
  for (int64_t step : {int64_t{60} * kSec, int64_t{45} * kSec, int64_t{0}}) {
    for (const auto& [fast, general] : pairs) {
      QueryParams p = Range(step);
      auto a = engine.Run(fast, p);
      auto b = engine.Run(general, p);
      ASSERT_TRUE(a.ok()) << fast << ": " << a.status().ToString();
      ASSERT_TRUE(b.ok()) << general << ": " << b.status().ToString();
      EXPECT_TRUE(a->stats.count_fast_path) << fast;
      EXPECT_FALSE(b->stats.count_fast_path) << general;
      EXPECT_EQ(Dump(*a), Dump(*b)) << fast << " step " << step;
      EXPECT_FALSE(Dump(*a).empty()) << fast;
    }
  }
}

TEST_F(EngineTest, ShardedScansAgreeWithOneScanAndWithAnotherStore) {
  QueryLimits sharded;
  sharded.parallelism = 3;
  sharded.parallel_min_records = 0;
  QueryLimits single;
  single.parallelism = 1;
  Engine a(store_.get(), sharded), b(store_.get(), single), c(memory_.get(), sharded);
  const char* queries[] = {
      "{service=\"api\"} |= \"timeout\"",
      "{} | logfmt | status >= 400 | line_format \"{{.status}} {{.latency_ms}}\"",
      "sum by (status) (count_over_time({} | logfmt | status >= 300 [10m]))",
      "quantile_over_time(0.9, {service=\"checkout\"} | logfmt | unwrap latency_ms [15m]) by "
      "(level)",
      "max_over_time({} | logfmt | unwrap latency_ms [5m]) by (service)",
      "topk(2, sum by (instance) (bytes_rate({} |~ \"slow|retry\" [10m])))",
      "count_over_time({level=\"error\"} [30m])",
  };
  for (const char* q : queries) {
    for (Direction d : {Direction::kBackward, Direction::kForward}) {
      QueryParams p = Range(5 * 60 * kSec);
      p.direction = d;
      auto ra = a.Run(q, p), rb = b.Run(q, p), rc = c.Run(q, p);
      ASSERT_TRUE(ra.ok()) << q << ": " << ra.status().ToString();
      ASSERT_TRUE(rb.ok() && rc.ok()) << q;
      // Log lines with equal timestamps may come in any order: compare the
      // timestamps of the kept lines and the label sets.
      if (ra->type == ResultType::kStreams) {
        auto shape = [](const QueryResult& r) {
          std::multiset<int64_t> ts;
          std::set<Labels> labels;
          for (const auto& s : r.streams) {
            labels.insert(s.labels);
            for (const auto& e : s.entries) ts.insert(e.timestamp_ns);
          }
          return std::make_pair(ts, labels.size());
        };
        EXPECT_EQ(shape(*ra).first, shape(*rb).first) << q;
        EXPECT_EQ(shape(*ra).first, shape(*rc).first) << q;
        EXPECT_EQ(ra->stats.lines, rb->stats.lines) << q;
      } else {
        EXPECT_EQ(Dump(*ra), Dump(*rb)) << q;
        EXPECT_EQ(Dump(*ra), Dump(*rc)) << q;
      }
    }
  }
}

TEST_F(EngineTest, ParserHintsDoNotChangeResults) {
  Engine engine(store_.get());
  // `sum by` lets logfmt extract only status and latency_ms; the inner
  // series without a grouping extract everything. Both must count the same.
  auto hinted = engine.Run(
      "sum by (status) (count_over_time({} | logfmt | latency_ms > 1000 [10m]))", Range());
  auto full = engine.Run(
      "sum by (status) (count_over_time({} | logfmt | latency_ms > 1000 | keep status, latency_ms "
      "[10m]))",
      Range());
  ASSERT_TRUE(hinted.ok() && full.ok());
  EXPECT_EQ(Dump(*hinted), Dump(*full));
  EXPECT_FALSE(Dump(*hinted).empty());
}

TEST_F(EngineTest, SeriesLimitNamesTheLimit) {
  QueryLimits limits;
  limits.max_series = 3;
  Engine engine(store_.get(), limits);
  auto r = engine.Run("count_over_time({}[10m])", Range());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(r.status().message().find("maximum number of series (3)"), std::string::npos)
      << r.status().message();
  EXPECT_TRUE(engine.Run("sum(count_over_time({}[10m]))", Range()).ok());
}

TEST_F(EngineTest, TooManyStepsAsksForALargerStep) {
  Engine engine(store_.get());
  auto r = engine.Run("sum(rate({}[1m]))", Range(kSec / 2));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("increase the step"), std::string::npos);
}

// A clock that moves one second every time it is read.
class RacingClock final : public Clock {
 public:
  int64_t NowNanos() const override { return now_.fetch_add(kSec); }

 private:
  mutable std::atomic<int64_t> now_{0};
};

TEST_F(EngineTest, TimeoutStopsTheScan) {
  RacingClock clock;
  QueryLimits limits;
  limits.timeout_ns = 2 * kSec;
  limits.parallelism = 1;
  Engine engine(store_.get(), limits, &clock);
  auto r = engine.Run("{} |~ \"t.*o\"", Range());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("timed out after 2s"), std::string::npos)
      << r.status().message();
}

TEST_F(EngineTest, CancelledQueryStops) {
  std::atomic<bool> cancel{true};
  Engine engine(store_.get());
  for (const char* q : {"{} |= \"timeout\"", "sum by (level) (count_over_time({}[5m]))",
                        "sum(count_over_time({} | logfmt | status > 300 [5m]))"}) {
    QueryParams p = Range();
    p.cancel = &cancel;
    auto r = engine.Run(q, p);
    ASSERT_FALSE(r.ok()) << q;
    EXPECT_EQ(r.status().code(), StatusCode::kCancelled) << q << ": " << r.status().ToString();
  }
}

TEST_F(EngineTest, StatsReportWhatWasRead) {
  Engine engine(store_.get());
  auto r = engine.Run("{service=\"api\"} |= \"timeout\"", Range());
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->stats.segments, 0u);
  EXPECT_GT(r->stats.blocks, 0u);
  EXPECT_GT(r->stats.bytes_read, 0u);
  EXPECT_GT(r->stats.rows, 0u);
  EXPECT_GT(r->stats.head_rows, 0u);
  EXPECT_GT(r->stats.lines, 0u);
}

TEST_F(EngineTest, LabelApis) {
  Engine engine(store_.get());
  QueryParams p = Range();
  auto names = engine.LabelNames(nullptr, p);
  ASSERT_TRUE(names.ok());
  EXPECT_EQ(*names, (std::vector<std::string>{"instance", "level", "service", "source"}));
  auto services = engine.LabelValues("service_name", nullptr, p);
  ASSERT_TRUE(services.ok());
  EXPECT_EQ(*services, (std::vector<std::string>{"api", "auth", "checkout"}));
  std::vector<LogQuery> selectors(1);
  selectors[0].matchers.push_back(LabelMatcher{"service", MatchOp::kEq, "api"});
  selectors[0].matchers.push_back(LabelMatcher{"source", MatchOp::kEq, "k8s"});
  auto series = engine.Series(selectors, p);
  ASSERT_TRUE(series.ok());
  EXPECT_EQ(series->size(), 3u * kLevelCount);  // instances x levels
  auto stats = engine.Stats(selectors[0], p);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->streams, series->size());
  auto count = engine.Run("sum(count_over_time({service=\"api\", source=\"k8s\"}[2h]))", [] {
    QueryParams q = Range(0);
    q.end_ns = kBase + 7200 * kSec - 1;
    return q;
  }());
  ASSERT_TRUE(count.ok());
  ASSERT_EQ(count->vector.size(), 1u);
  EXPECT_EQ(static_cast<double>(stats->entries), count->vector[0].value);
}

namespace lode::logql {
namespace {

TEST(EngineCategorizeTest, SplitsStreamLabelsMetadataAndParsed) {
  std::vector<Record> records;
  for (int i = 0; i < 3; ++i) {
    Record r;
    r.tenant = "default";
    r.timestamp_ns = kBase + i * kSec;
    r.service = "checkout";
    r.instance = "pod-" + std::to_string(i % 2);
    r.level = Level::kError;
    r.message = "status=" + std::to_string(500 + i) + " took=5ms";
    r.attributes = {{"k8s.namespace", "prod"}, {"trace_id", "t" + std::to_string(i)}};
    r.pattern_id = 7;
    records.push_back(std::move(r));
  }
  MemoryStore store(std::move(records));
  Engine engine(&store);
  QueryParams p;
  p.start_ns = kBase;
  p.end_ns = kBase + 10 * kSec;
  p.categorize_labels = true;
  auto r = engine.Run("{service=\"checkout\"} | logfmt | status >= 501", p);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Streams split by the indexed labels only, not by the parsed status.
  ASSERT_EQ(r->streams.size(), 2u);
  EXPECT_EQ(LabelsToString(r->streams[0].labels),
            "{instance=\"pod-0\", level=\"error\", service=\"checkout\"}");
  ASSERT_EQ(r->streams[0].entries.size(), 1u);
  const Entry& e = r->streams[0].entries[0];
  EXPECT_EQ(e.line, "status=502 took=5ms");
  EXPECT_EQ(LabelsToString(e.metadata),
            "{k8s_namespace=\"prod\", pattern_id=\"7\", trace_id=\"t2\"}");
  EXPECT_EQ(LabelsToString(e.parsed), "{status=\"502\", took=\"5ms\"}");

  // Without the flag: parsed labels are stream labels, no metadata.
  p.categorize_labels = false;
  auto plain = engine.Run("{service=\"checkout\"} | logfmt | status >= 501", p);
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  ASSERT_EQ(plain->streams.size(), 2u);
  EXPECT_TRUE(plain->streams[0].entries[0].metadata.empty());
  EXPECT_NE(LabelsToString(plain->streams[0].labels).find("status=\"502\""), std::string::npos);
}

// Records of service "svc" with these messages, one a second from kBase.
std::vector<Record> SvcRecords(const std::vector<const char*>& lines,
                               Level level = Level::kUnknown) {
  std::vector<Record> records;
  for (size_t i = 0; i < lines.size(); ++i) {
    Record r;
    r.tenant = "default";
    r.timestamp_ns = kBase + static_cast<int64_t>(i) * kSec;
    r.service = "svc";
    r.level = level;
    r.message = lines[i];
    records.push_back(std::move(r));
  }
  return records;
}

// An instant vector as text, a line per sample.
std::string VectorText(const QueryResult& r) {
  std::string out;
  for (const auto& s : r.vector) {
    out += LabelsToString(s.labels) + " " + FormatSampleValue(s.value) + "\n";
  }
  return out;
}

TEST(EngineHintsTest, SanitizedKeysAreFoundWithAndWithoutHints) {
  MemoryStore store(
      SvcRecords({"k8s.ns=prod 1x=a latency_ms=7", "k8s.ns=dev 1x=b", "k8s.ns=prod 1x=a",
                  "héllo wörld k8s.ns=prod", "no pairs here: just (text)"}));
  Engine engine(&store);
  QueryParams p;
  p.start_ns = p.end_ns = kBase + 3600 * kSec;
  // Hinted: sum by lets logfmt extract only k8s_ns and _1x. Unhinted: keep
  // turns the hints off.
  auto hinted = engine.Run("sum by (k8s_ns, _1x) (count_over_time({} | logfmt [2h]))", p);
  auto full = engine.Run(
      "sum by (k8s_ns, _1x) (count_over_time({} | logfmt | keep k8s_ns, _1x, __error__ [2h]))", p);
  ASSERT_TRUE(hinted.ok()) << hinted.status().ToString();
  ASSERT_TRUE(full.ok()) << full.status().ToString();
  EXPECT_EQ(VectorText(*hinted), VectorText(*full));
  EXPECT_EQ(VectorText(*hinted),
            "{} 1\n"
            "{_1x=\"a\", k8s_ns=\"prod\"} 2\n"
            "{_1x=\"b\", k8s_ns=\"dev\"} 1\n"
            "{k8s_ns=\"prod\"} 1\n");
}

// `| logfmt` skips malformed pairs and keys without a value; --strict marks
// the line at the first malformed pair, --keep-empty keeps empty keys as "".
// Hints (`sum by`) change neither.
TEST(EngineHintsTest, LogfmtFlagsWithAndWithoutHints) {
  const std::vector<const char*> lines = {"INFO method=GET status=200",
                                          "method=POST status= path=/x",
                                          "method=GET bad=a=b status=500", "method=PUT msg=\"open"};
  MemoryStore store(SvcRecords(lines, Level::kInfo));
  Engine engine(&store);
  QueryParams p;
  p.start_ns = p.end_ns = kBase + 3600 * kSec;
  auto vector = [&](const std::string& q) {
    auto r = engine.Run(q, p);
    return r.ok() ? VectorText(*r) : "error: " + std::string(r.status().message());
  };
  // Hinted, then with the hints off (keep).
  for (const char* tail : {"", " | keep method, status"}) {
    SCOPED_TRACE(tail);
    EXPECT_EQ(vector(std::string("sum by (method, status) (count_over_time({} | logfmt") + tail +
                     " [2h]))"),
              "{method=\"GET\", status=\"200\"} 1\n"
              "{method=\"GET\", status=\"500\"} 1\n"
              "{method=\"POST\"} 1\n"
              "{method=\"PUT\"} 1\n");
    EXPECT_EQ(vector(std::string("sum by (method) (count_over_time({} | logfmt --strict") + tail +
                     " | __error__=\"\" [2h]))"),
              "{method=\"GET\"} 1\n"
              "{method=\"POST\"} 1\n");
    EXPECT_NE(vector(std::string("sum by (method) (count_over_time({} | logfmt --strict") + tail +
                     " [2h]))")
                  .find("error: pipeline error: 'LogfmtParserErr'"),
              std::string::npos);
  }

  // The labels of each line of a log query.
  p.start_ns = kBase;
  p.end_ns = kBase + 10 * kSec;
  p.direction = Direction::kForward;
  auto lines_labels = [&](const std::string& q) {
    auto r = engine.Run(q, p);
    if (!r.ok()) return "error: " + std::string(r.status().message());
    std::map<std::string, std::string> by_line;
    for (const auto& s : r->streams) {
      for (const auto& e : s.entries) by_line[e.line] = LabelsToString(s.labels);
    }
    std::string out;
    for (const char* line : lines) out += by_line[line] + "\n";
    return out;
  };
  EXPECT_EQ(lines_labels("{} | logfmt"),
            "{level=\"info\", method=\"GET\", service=\"svc\", status=\"200\"}\n"
            "{level=\"info\", method=\"POST\", path=\"/x\", service=\"svc\"}\n"
            "{level=\"info\", method=\"GET\", service=\"svc\", status=\"500\"}\n"
            "{level=\"info\", method=\"PUT\", service=\"svc\"}\n");
  EXPECT_EQ(lines_labels("{} | logfmt --keep-empty"),
            "{INFO=\"\", level=\"info\", method=\"GET\", service=\"svc\", status=\"200\"}\n"
            "{level=\"info\", method=\"POST\", path=\"/x\", service=\"svc\", status=\"\"}\n"
            "{level=\"info\", method=\"GET\", service=\"svc\", status=\"500\"}\n"
            "{level=\"info\", method=\"PUT\", service=\"svc\"}\n");
  EXPECT_EQ(lines_labels("{} | logfmt --strict"),
            "{level=\"info\", method=\"GET\", service=\"svc\", status=\"200\"}\n"
            "{level=\"info\", method=\"POST\", path=\"/x\", service=\"svc\"}\n"
            "{__error__=\"LogfmtParserErr\", __error_details__=\"logfmt syntax error at pos 17 : "
            "unexpected '='\", level=\"info\", method=\"GET\", service=\"svc\"}\n"
            "{__error__=\"LogfmtParserErr\", __error_details__=\"logfmt syntax error at pos 21 : "
            "unterminated quoted value\", level=\"info\", method=\"PUT\", service=\"svc\"}\n");
  // A listed key without a value is extracted as "".
  EXPECT_EQ(lines_labels("{} | logfmt status, INFO"),
            "{INFO=\"\", level=\"info\", service=\"svc\", status=\"200\"}\n"
            "{level=\"info\", service=\"svc\", status=\"\"}\n"
            "{level=\"info\", service=\"svc\", status=\"500\"}\n"
            "{level=\"info\", service=\"svc\"}\n");
}

}  // namespace
}  // namespace lode::logql

// Patterns: the pattern_id label, its pushdown into the scan, and Patterns().
class EnginePatternsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PatternIndex::Options po;
    po.miner.warmup_ns = 3600 * kSec;
    index_ = std::make_unique<PatternIndex>(po);
    SegmentStore::Options o;
    o.dir = dir_.path();
    o.background = false;
    o.patterns = index_.get();
    auto store = SegmentStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    // Two hours; "disk" appears only in the second (after the warm-up).
    std::mt19937_64 rng(3);
    for (int part = 0; part < 3; ++part) {
      RecordBatch b;
      b.tenant = "default";
      for (int i = 0; i < 400; ++i) {
        Record r;
        r.tenant = "default";
        r.timestamp_ns = kBase + (part * 400 + i) * 6 * kSec;
        r.level = Level::kInfo;
        const int kind = static_cast<int>(rng() % 10);
        if (kind < 6) {
          r.service = "api";
          r.message = "GET /items/" + std::to_string(rng() % 100) + " took " +
                      std::to_string(rng() % 900) + "ms";
        } else if (kind < 9 || r.timestamp_ns < kBase + 3600 * kSec) {
          r.service = "auth";
          r.message = "user " + std::to_string(rng() % 50) + " logged in";
        } else {
          r.service = "auth";
          r.message = "disk " + std::to_string(rng() % 4) + " is full";
        }
        expected_[r.message.substr(0, 4)]++;
        b.records.push_back(std::move(r));
      }
      RecordBatch* batches[] = {&b};
      ASSERT_TRUE(store_->Write(batches).ok());
      if (part < 2) {
        ASSERT_TRUE(store_->Flush().ok());
      }
    }
    engine_ = std::make_unique<Engine>(store_.get(), QueryLimits{}, Clock::Real(), index_.get());
  }

  static QueryParams Range() {
    QueryParams p;
    p.start_ns = kBase;
    p.end_ns = kBase + 7200 * kSec;
    p.step_ns = 600 * kSec;
    p.limit = 5000;
    return p;
  }
  size_t Lines(std::string_view query) {
    auto r = engine_->Run(query, Range());
    EXPECT_TRUE(r.ok()) << query << ": " << r.status().ToString();
    size_t n = 0;
    if (r.ok()) {
      for (const auto& s : r->streams) n += s.entries.size();
    }
    return n;
  }

  TempDir dir_;
  std::unique_ptr<PatternIndex> index_;
  std::unique_ptr<SegmentStore> store_;
  std::unique_ptr<Engine> engine_;
  std::map<std::string, uint64_t> expected_;  // by the message's first 4 bytes
};

TEST_F(EnginePatternsTest, PatternsAreCountedBiggestFirstWithVolumeAndSample) {
  LogQuery all;
  auto r = engine_->Patterns(all, Range());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->patterns.size(), 3u);
  EXPECT_EQ(r->total_patterns, 3u);
  EXPECT_EQ(r->lines, 1200u);
  EXPECT_EQ(r->unpatterned, 0u);
  const char* order[] = {"GET <*> took <*>", "user <*> logged in", "disk <*> is full"};
  const char* prefix[] = {"GET ", "user", "disk"};
  for (size_t i = 0; i < 3; ++i) {
    const auto& p = r->patterns[i];
    EXPECT_EQ(p.text, order[i]);
    EXPECT_EQ(p.count, expected_[prefix[i]]) << p.text;
    EXPECT_EQ(p.volume.size(), 12u);
    EXPECT_EQ(std::accumulate(p.volume.begin(), p.volume.end(), uint64_t{0}), p.count);
    EXPECT_TRUE(p.sample.starts_with(prefix[i])) << p.sample;
    EXPECT_EQ(p.sample_ns, p.last_in_range_ns);
    EXPECT_EQ(p.is_new, i == 2) << p.text;
    EXPECT_EQ(p.service, i == 0 ? "api" : "auth");
    EXPECT_LE(p.first_seen_ns, p.first_in_range_ns);
  }
  EXPECT_EQ(r->patterns[2].volume[0], 0u) << "disk appears in the second hour only";

  // Only the new one; a limit; a selector and a line filter narrow the lines.
  auto fresh = engine_->Patterns(all, Range(), /*only_new=*/true);
  ASSERT_TRUE(fresh.ok());
  ASSERT_EQ(fresh->patterns.size(), 1u);
  EXPECT_EQ(fresh->patterns[0].text, "disk <*> is full");
  QueryParams one = Range();
  one.limit = 1;
  auto top = engine_->Patterns(all, one);
  ASSERT_TRUE(top.ok());
  ASSERT_EQ(top->patterns.size(), 1u);
  EXPECT_EQ(top->total_patterns, 3u);
  auto q = ParseLogql(R"({service="auth"} |= "logged")");
  ASSERT_TRUE(q.ok());
  auto auth = engine_->Patterns(std::get<LogQuery>(*q), Range());
  ASSERT_TRUE(auth.ok());
  ASSERT_EQ(auth->patterns.size(), 1u);
  EXPECT_EQ(auth->patterns[0].count, expected_["user"]);

  // Bad requests.
  QueryParams no_step = Range();
  no_step.step_ns = 0;
  EXPECT_EQ(engine_->Patterns(all, no_step).status().code(), StatusCode::kInvalidArgument);
  Engine without(store_.get());
  EXPECT_EQ(without.Patterns(all, Range()).status().code(), StatusCode::kUnavailable);
}

TEST_F(EnginePatternsTest, PatternIdLabelFiltersAndGroups) {
  LogQuery all;
  auto r = engine_->Patterns(all, Range());
  ASSERT_TRUE(r.ok());
  for (const auto& p : r->patterns) {
    const std::string id = std::to_string(p.id);
    // Pushed down into the scan, and not (after label_format, the filter
    // runs line by line): the same lines.
    EXPECT_EQ(Lines("{} | pattern_id = \"" + id + "\""), p.count) << p.text;
    EXPECT_EQ(Lines("{} | label_format x=\"y\" | pattern_id = \"" + id + "\""), p.count);
    EXPECT_EQ(Lines("{} | pattern_id != \"" + id + "\""), 1200 - p.count);
  }
  EXPECT_EQ(Lines(R"({} | pattern_id = "999")"), 0u);
  EXPECT_EQ(Lines(R"({} | pattern_id = "")"), 0u);

  QueryParams instant = Range();
  instant.step_ns = 0;
  instant.end_ns -= 1;  // the window (end - 2h, end] then holds the first line too
  auto counts = engine_->Run("sum by (pattern_id) (count_over_time({}[2h]))", instant);
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  ASSERT_EQ(counts->vector.size(), 3u);
  for (const auto& p : r->patterns) {
    bool found = false;
    for (const auto& s : counts->vector) {
      if (s.labels == Labels{{"pattern_id", std::to_string(p.id)}}) {
        EXPECT_EQ(s.value, static_cast<double>(p.count));
        found = true;
      }
    }
    EXPECT_TRUE(found) << p.id;
  }
}
TEST(EnginePatternIdTest, IsReservedNotAnAttribute) {
  // A record without a pattern id but with an attribute named pattern_id:
  // the label is absent whichever way it is filtered (so the pushed-down
  // equality and a regex agree).
  Record r;
  r.tenant = "default";
  r.timestamp_ns = kBase;
  r.message = "hello";
  r.attributes = {{"pattern_id", "17"}, {"pattern.id", "17"}};
  Record with = r;
  with.pattern_id = 17;
  MemoryStore store({r, with});
  Engine engine(&store);
  QueryParams p;
  p.start_ns = kBase;
  p.end_ns = kBase + kSec;
  for (const char* q : {R"({} | pattern_id = "17")", R"({} | pattern_id =~ "17")",
                        R"({} | pattern_id = "17" or pattern_id = "18")"}) {
    auto res = engine.Run(q, p);
    ASSERT_TRUE(res.ok()) << res.status().ToString();
    size_t n = 0;
    for (const auto& s : res->streams) n += s.entries.size();
    EXPECT_EQ(n, 1u) << q;
  }
}

}  // namespace
}  // namespace lode::logql
