#include "pattern/miner.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/test_util.h"

namespace lode {
namespace {

TEST(PatternMinerTest, MasksValuesAndKeepsKeys) {
  using V = std::vector<std::string>;
  const auto masked = [](std::string_view m) { return PatternMiner::MaskedTokens(m); };
  // Numbers, durations, ids, addresses and ports.
  EXPECT_EQ(masked("took 250ms for blk_-123 from 10.0.0.1:22"),
            (V{"took", "<*>", "for", "<*>", "from", "<*>"}));
  EXPECT_EQ(masked("retry in 1.5s after 3 attempts (limit 10)"),
            (V{"retry", "in", "<*>", "after", "<*>", "attempts", "(limit", "<*>"}));
  EXPECT_EQ(masked("peer fe80::1%eth0 port 443"), (V{"peer", "<*>", "port", "<*>"}));
  // Hex, with or without digits, and UUIDs.
  EXPECT_EQ(masked("  id 0x1f2e  uuid 3f2c9a1e-aaaa-4bbb-8ccc-0123456789ab tx deadbeefcafe "),
            (V{"id", "<*>", "uuid", "<*>", "tx", "<*>"}));
  // Paths and URLs, with or without digits.
  EXPECT_EQ(masked("open /var/log/syslog failed; see https://example.com/help or ./run"),
            (V{"open", "<*>", "failed;", "see", "<*>", "or", "<*>"}));
  // Quoted strings, over one token or several.
  EXPECT_EQ(masked("user 'bob' said \"hello there world\" twice"),
            (V{"user", "<*>", "said", "<*>", "<*>", "<*>", "twice"}));
  // Dates.
  EXPECT_EQ(masked("since Mon Jul 4 12:00:01"), (V{"since", "<*>", "<*>", "<*>", "<*>"}));
  // key=value keeps the key; a word with a short version number is a word.
  EXPECT_EQ(
      masked("status=500 latency_ms=12 path=/api user=bob via ssh2 over IPv4"),
      (V{"status=<*>", "latency_ms=<*>", "path=<*>", "user=bob", "via", "ssh2", "over", "IPv4"}));
  // Plain words stay, however long or hex-like they are not.
  EXPECT_EQ(masked("accepted connection and/or session"),
            (V{"accepted", "connection", "and/or", "session"}));
  EXPECT_EQ(masked(""), V{});
}

TEST(PatternMinerTest, GroupsMessagesOfOneTemplateAndKeepsTheId) {
  PatternMiner m;
  const uint32_t a = m.Add("Accepted password for root from 1.2.3.4 port 22 ssh2");
  const uint32_t b = m.Add("Accepted password for admin from 5.6.7.8 port 4022 ssh2");
  const uint32_t c = m.Add("Connection closed by 1.2.3.4 [preauth]");
  const uint32_t d = m.Add("Accepted password for guest from 9.9.9.9 port 1 ssh2");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, d);
  EXPECT_NE(a, c);
  EXPECT_EQ(m.Template(a), "Accepted password for <*> from <*> port <*> ssh2");
  EXPECT_EQ(m.Template(c), "Connection closed by <*> [preauth]");
  EXPECT_EQ(m.size(), 2u);
}

TEST(PatternMinerTest, DifferentConstantsStayApart) {
  PatternMiner m;
  const uint32_t open = m.Add("proxy.example.com:5070 open through proxy p.example.com:5070 HTTPS");
  const uint32_t close = m.Add("proxy.example.com:5070 close, 403 bytes sent, 426 bytes received");
  const uint32_t failed = m.Add("proxy.example.com:5070 error : Could not connect to proxy");
  EXPECT_NE(open, close);
  EXPECT_NE(open, failed);
  // "... HTTPS" and "... SOCKS5" share 3 of 4 constants: below the threshold.
  const uint32_t socks = m.Add("host.example.com:80 open through proxy p.example.com:5070 SOCKS5");
  EXPECT_NE(open, socks);
}

TEST(PatternMinerTest, ValuesSpanningVaryingTokensAlign) {
  PatternMiner m;
  // The same message with optional notes beside its values.
  const uint32_t a =
      m.Add("h:1 close, 403 bytes (1.08 KB) sent, 426 bytes (2.1 KB) received, lifetime <1 sec");
  const uint32_t b = m.Add("h:2 close, 403 bytes sent, 426 bytes received, lifetime 00:02");
  const uint32_t c =
      m.Add("h:3 close, 403 bytes (1.08 KB) sent, 426 bytes received, lifetime 00:02");
  EXPECT_EQ(m.Canonical(a), m.Canonical(b));  // joined once c fitted both
  EXPECT_EQ(m.Canonical(c), m.Canonical(a));
  // The joined template's text fits every member: one <*> where they differ
  // in tokens.
  EXPECT_EQ(m.Template(b), "<*> close, <*> bytes <*> sent, <*> bytes <*> received, lifetime <*>");
  EXPECT_EQ(m.Template(a), m.Template(b));
  // A different word away from any value is a different message.
  const uint32_t d = m.Add("Failed password for root from 1.2.3.4 port 22 ssh2");
  const uint32_t e = m.Add("Failed password for invalid user bob from 1.2.3.4 port 22 ssh2");
  EXPECT_NE(m.Canonical(d), m.Canonical(e));
  // Labels around values are not notes: HDFS's two "Received block" lines differ.
  const uint32_t f = m.Add("Received block blk_1 of size 67108864 from /10.250.10.6");
  const uint32_t g = m.Add("Received block blk_2 src: /10.0.0.1:5 dest: /10.0.0.2:6 of size 91178");
  EXPECT_NE(m.Canonical(f), m.Canonical(g));
}

TEST(PatternMinerTest, DictionarySurvivesARestart) {
  const std::vector<std::string> before = {
      "Accepted password for root from 1.2.3.4 port 22 ssh2",
      "h:1 close, 403 bytes (1.08 KB) sent, 426 bytes (2.1 KB) received, lifetime <1 sec",
      "h:2 close, 403 bytes sent, 426 bytes received, lifetime 00:02",
      "h:3 close, 403 bytes (1.08 KB) sent, 426 bytes received, lifetime 00:02",
      "Connection closed by 1.2.3.4 [preauth]"};
  const std::vector<std::string> after = {
      "Connection closed by 9.9.9.9 [preauth]",
      "Accepted password for bob from 5.6.7.8 port 1 ssh2",
      "h:9 close, 1 bytes sent, 2 bytes (3 KB) received, lifetime 00:01", "a brand new message"};
  PatternMiner original;
  for (const auto& m : before) original.Add(m);
  TempDir dir;
  const std::string path = dir.path() + "/patterns";
  ASSERT_TRUE(original.Save(Env::Default(), path).ok());
  auto restored = PatternMiner::Load(Env::Default(), path, PatternMiner::Options{});
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  EXPECT_EQ(restored->size(), original.size());
  for (const auto& m : after) {
    EXPECT_EQ(restored->Canonical(restored->Add(m)), original.Canonical(original.Add(m))) << m;
  }
  for (uint32_t id = 0; id < original.size(); ++id) {
    EXPECT_EQ(restored->Template(id), original.Template(id));
    EXPECT_EQ(restored->Canonical(id), original.Canonical(id));
  }
  // Damage is detected, not silently read.
  std::string bytes = original.Encode();
  bytes[bytes.size() / 2] ^= 0x20;
  auto damaged = PatternMiner::Decode(bytes, PatternMiner::Options{});
  ASSERT_FALSE(damaged.ok());
  EXPECT_EQ(damaged.status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(PatternMiner::Decode("LPAT", PatternMiner::Options{}).ok());
}

TEST(PatternMinerTest, MemoNeverChangesAnAnswer) {
  // "payment nyhtor ~X>u~x}" was crafted (by inverting the memo's hash) to
  // collide with the masked tokens of the second line, whose answer the memo
  // keeps. It must still get what a miner without that memo gives it: a
  // template of its own. (Ids after a restart depend on this: the memo is
  // not saved.)
  PatternMiner live;
  live.Add("conn from 10.0.0.1 closed", 1);
  live.Add("conn from 10.0.0.2 ms closed", 2);
  const std::string saved = live.Encode();
  const std::string crafted = "payment nyhtor ~X>u~x}";
  auto restored = PatternMiner::Decode(saved, PatternMiner::Options{});
  ASSERT_TRUE(restored.ok());
  const uint32_t a = live.Add(crafted, 3), b = restored->Add(crafted, 3);
  EXPECT_EQ(a, b);
  EXPECT_EQ(live.Template(a), crafted);
  EXPECT_EQ(live.Add("disk full on sda", 4), restored->Add("disk full on sda", 4));
}

TEST(PatternMinerTest, FullDictionarySendsTheRestToOneCatchAll) {
  PatternMiner::Options o;
  o.max_templates = 3;
  PatternMiner m(o);
  const uint32_t a = m.Add("user 1 logged in");
  m.Add("disk 3 is full");
  m.Add("cache warmed in 5 ms");
  const uint32_t rest = m.Add("something else entirely");
  EXPECT_EQ(rest, 3u);
  EXPECT_EQ(m.Template(rest), "<*>");
  EXPECT_EQ(m.Add("and yet another thing"), rest);
  EXPECT_EQ(m.Add("user 2 logged in"), a);  // known templates still match
  EXPECT_EQ(m.size(), 4u);
  auto restored = PatternMiner::Decode(m.Encode(), o);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->Add("a third stranger"), rest);
  EXPECT_EQ(restored->Add("user 9 logged in"), a);
  EXPECT_EQ(restored->size(), 4u);
}

TEST(PatternMinerTest, NewAfterTheWarmUp) {
  constexpr int64_t kMin = 60'000'000'000;
  PatternMiner::Options o;
  o.warmup_ns = 10 * kMin;
  PatternMiner m(o);
  const uint32_t a = m.Add("cache warmed in 12 ms", 0);
  m.Add("cache warmed in 15 ms", 30 * kMin);
  const uint32_t b = m.Add("disk 3 is failing", 11 * kMin);
  const uint32_t c = m.Add("user 7 logged in", 9 * kMin);
  EXPECT_FALSE(m.IsNew(a));
  EXPECT_TRUE(m.IsNew(b));
  EXPECT_FALSE(m.IsNew(c));
  EXPECT_EQ(m.FirstSeen(a), 0);
  EXPECT_EQ(m.LastSeen(a), 30 * kMin);
  // Times survive a save and load.
  auto restored = PatternMiner::Decode(m.Encode(), o);
  ASSERT_TRUE(restored.ok());
  EXPECT_TRUE(restored->IsNew(b));
  EXPECT_EQ(restored->LastSeen(a), 30 * kMin);
}

TEST(PatternMinerTest, LongMessagesDoNotAlign) {
  // Alignment is quadratic in tokens, so it is skipped for long messages.
  std::string a, b;
  for (int i = 0; i < 20000; ++i) a += "word ";
  b = a + "extra";
  PatternMiner m;
  const uint32_t x = m.Add(a);
  const uint32_t y = m.Add(b);
  EXPECT_NE(x, y);
  EXPECT_EQ(m.Add(a), x);
}

TEST(PatternMinerTest, DatesAreValues) {
  PatternMiner m;
  const uint32_t a = m.Add("connection from 1.2.3.4 () at Sun Jul 17 15:04:14 2005");
  const uint32_t b =
      m.Add("connection from 5.6.7.8 (h-5-6-7-8.example) at Mon Jun 20 01:02:03 2005");
  EXPECT_EQ(a, b);
  EXPECT_EQ(m.Template(a), "connection from <*> <*> at <*> <*> <*> <*> <*>");
}

// ---------------------------------------------------------------------------
// Grouping accuracy on the LogHub 2k samples (loghub2 ground truth), as the
// LogHub benchmark scores it: a line is right when the set of lines sharing
// its mined template equals the set sharing its true template. The figures
// are printed; the test only guards against a broken miner.

std::vector<std::string> SplitCsvRow(const std::string& line) {
  std::vector<std::string> out;
  std::string cur;
  bool quoted = false;
  for (size_t i = 0; i < line.size(); ++i) {
    char c = line[i];
    if (quoted) {
      if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
        cur.push_back('"');
        ++i;
      } else if (c == '"') {
        quoted = false;
      } else {
        cur.push_back(c);
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  out.push_back(std::move(cur));
  return out;
}

double GroupingAccuracy(const std::vector<uint32_t>& mined, const std::vector<std::string>& truth) {
  std::map<uint32_t, std::set<size_t>> by_mined;
  std::map<std::string, std::set<size_t>> by_truth;
  for (size_t i = 0; i < mined.size(); ++i) {
    by_mined[mined[i]].insert(i);
    by_truth[truth[i]].insert(i);
  }
  size_t right = 0;
  for (size_t i = 0; i < mined.size(); ++i) {
    if (by_mined[mined[i]] == by_truth[truth[i]]) ++right;
  }
  return static_cast<double>(right) / static_cast<double>(mined.size());
}

TEST(PatternMinerLogHubTest, GroupingAccuracy) {
  const std::filesystem::path root = std::filesystem::path(LODE_SHARED_DATA_DIR) / "loghub";
  if (!std::filesystem::exists(root)) {
    GTEST_SKIP() << "no " << root << ": the LogHub samples live in ../shared/data";
  }
  // Drain's published grouping accuracy on Loghub-2k (corrected ground truth).
  const std::vector<std::pair<std::string, double>> systems = {
      {"HDFS", 0.998},  {"Apache", 1.000}, {"OpenSSH", 0.789},   {"Zookeeper", 0.967},
      {"Spark", 0.922}, {"Linux", 0.690},  {"Proxifier", 0.526}, {"HealthApp", 0.780}};
  const std::map<std::string, double> floors = {
      {"HDFS", 0.999},  {"Apache", 0.999}, {"OpenSSH", 0.939},   {"Zookeeper", 0.988},
      {"Spark", 0.924}, {"Linux", 0.691},  {"Proxifier", 0.999}, {"HealthApp", 0.997}};
  double sum = 0;
  for (const auto& [system, drain] : systems) {
    std::ifstream in(root / system / "loghub2" / (system + "_2k.log_structured_corrected.csv"));
    ASSERT_TRUE(in) << system;
    std::string line;
    std::getline(in, line);
    const std::vector<std::string> header = SplitCsvRow(line);
    const auto col = [&](std::string_view name) {
      return static_cast<size_t>(std::find(header.begin(), header.end(), name) - header.begin());
    };
    const size_t content = col("Content"), event = col("EventTemplate");
    PatternMiner miner;
    std::vector<uint32_t> mined;
    std::vector<std::string> truth;
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      const std::vector<std::string> row = SplitCsvRow(line);
      ASSERT_GT(row.size(), std::max(content, event)) << system << ": " << line;
      mined.push_back(miner.Add(row[content]));
      truth.push_back(row[event]);
    }
    for (uint32_t& id : mined) id = miner.Canonical(id);  // as queries will read them
    const double ga = GroupingAccuracy(mined, truth);
    if (const char* debug = std::getenv("LODE_PATTERN_DEBUG");
        debug != nullptr && system == debug) {
      // Which true templates were split, and which mined ones merged several.
      std::map<std::string, std::map<uint32_t, size_t>> split;
      std::map<uint32_t, std::map<std::string, size_t>> merged;
      for (size_t i = 0; i < mined.size(); ++i) {
        ++split[truth[i]][mined[i]];
        ++merged[mined[i]][truth[i]];
      }
      for (const auto& [t, ids] : split) {
        if (ids.size() < 2) continue;
        std::printf("SPLIT %s\n", t.c_str());
        for (const auto& [id, n] : ids) std::printf("   %zu x %s\n", n, miner.Template(id).c_str());
      }
      for (const auto& [id, ts] : merged) {
        if (ts.size() < 2) continue;
        std::printf("MERGED %s\n", miner.Template(id).c_str());
        for (const auto& [t, n] : ts) std::printf("   %zu x %s\n", n, t.c_str());
      }
    }
    sum += ga;
    std::printf("[ patterns ] %-10s GA %.4f (Drain %.3f) %s, %zu templates\n", system.c_str(), ga,
                drain,
                ga > drain    ? "above Drain"
                : ga == drain ? "as Drain"
                              : "below Drain",
                miner.size());
    // A ratchet, not a goal: the accuracy this miner reached when the
    // threshold was chosen (issue 5's goal is above Drain everywhere).
    EXPECT_GE(ga, floors.at(system)) << system;
  }
  std::printf("[ patterns ] mean GA %.3f (Drain %.3f)\n", sum / static_cast<double>(systems.size()),
              (0.998 + 1.0 + 0.789 + 0.967 + 0.922 + 0.690 + 0.526 + 0.780) / 8);
}

}  // namespace
}  // namespace lode
