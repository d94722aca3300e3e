#include "tail/line_assembler.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parse/timestamp.h"

namespace lode {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kNow = 1'700'000'000 * kSec;

int64_t At(std::string_view rfc3339) {
  Result<int64_t> ns = ParseTimestamp(rfc3339, 0);
  EXPECT_TRUE(ns.ok()) << ns.status().ToString();
  return ns.ok() ? *ns : 0;
}

// Feeds `line` with the padding Feed requires after it.
void Feed(LineAssembler* a, std::string_view line, int64_t now, std::vector<AssembledEntry>* out) {
  std::string buf(line);
  buf.append(simdjson::SIMDJSON_PADDING, '\0');
  a->Feed(std::string_view(buf.data(), line.size()), now, out);
}

std::vector<AssembledEntry> FeedAll(LineAssembler* a, const std::vector<std::string>& lines,
                                    int64_t now = kNow) {
  std::vector<AssembledEntry> out;
  for (const auto& l : lines) Feed(a, l, now, &out);
  return out;
}

std::vector<std::string> Texts(const std::vector<AssembledEntry>& entries) {
  std::vector<std::string> t;
  for (const auto& e : entries) t.push_back(e.text);
  return t;
}

std::string Cri(std::string_view time, std::string_view stream, std::string_view tag,
                std::string_view text) {
  return std::string(time) + " " + std::string(stream) + " " + std::string(tag) + " " +
         std::string(text);
}

std::string DockerJson(std::string_view log, std::string_view stream = "stdout",
                       std::string_view time = "2024-01-02T03:04:05Z") {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("log").String(log);
  w.Key("stream").String(stream);
  w.Key("time").String(time);
  w.EndObject();
  return out;
}

std::string Save(const LineAssembler& a) {
  std::string s;
  JsonWriter w(&s);
  a.SaveState(&w);
  return s;
}

Status Restore(LineAssembler* a, std::string_view json, int64_t now = kNow) {
  simdjson::dom::parser p;
  simdjson::dom::element e;
  simdjson::padded_string text(json);
  if (auto err = p.parse(text).get(e)) {
    return Status::Corruption(std::string("test: bad JSON ") + simdjson::error_message(err));
  }
  return a->RestoreState(e, now);
}

std::vector<AssembledEntry> OfStream(const std::vector<AssembledEntry>& entries,
                                     std::string_view stream) {
  std::vector<AssembledEntry> r;
  for (const auto& e : entries) {
    if (e.stream == stream) r.push_back(e);
  }
  return r;
}

bool SameEntry(const AssembledEntry& a, const AssembledEntry& b) {
  return a.timestamp_ns == b.timestamp_ns && a.stream == b.stream && a.text == b.text &&
         a.parse_error == b.parse_error;
}

// ---------------------------------------------------------------- formats

TEST(LineAssemblerFormatTest, NamesRoundTrip) {
  for (FileFormat f :
       {FileFormat::kAuto, FileFormat::kPlain, FileFormat::kCri, FileFormat::kDocker}) {
    auto r = ParseFileFormat(FileFormatName(f));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, f);
  }
  EXPECT_EQ(FileFormatName(FileFormat::kCri), "cri");
  auto bad = ParseFileFormat("json");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message(), "unknown file format \"json\" (auto, plain, cri, docker)");
  EXPECT_FALSE(ParseFileFormat("CRI").ok());
  EXPECT_FALSE(ParseFileFormat("").ok());
}

TEST(LineAssemblerAutoTest, FirstLineDecidesCri) {
  LineAssembler a(AssemblerOptions{});
  EXPECT_EQ(a.format(), FileFormat::kAuto);
  auto out = FeedAll(&a, {Cri("2024-01-02T03:04:05Z", "stdout", "F", "hello")});
  EXPECT_EQ(a.format(), FileFormat::kCri);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "hello");
  EXPECT_EQ(out[0].stream, "stdout");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_EQ(out[0].parse_error, "");
}

TEST(LineAssemblerAutoTest, FirstLineDecidesDocker) {
  LineAssembler a(AssemblerOptions{});
  auto out = FeedAll(&a, {DockerJson("hello\n", "stderr")});
  EXPECT_EQ(a.format(), FileFormat::kDocker);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "hello");
  EXPECT_EQ(out[0].stream, "stderr");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
}

TEST(LineAssemblerAutoTest, DockerWithOtherKeyOrder) {
  LineAssembler a(AssemblerOptions{});
  auto out = FeedAll(&a, {R"({"stream":"stdout","log":"x\n","time":"2024-01-02T03:04:05Z"})"});
  EXPECT_EQ(a.format(), FileFormat::kDocker);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "x");
}

TEST(LineAssemblerAutoTest, JsonApplicationLogIsPlain) {
  LineAssembler a(AssemblerOptions{});
  const std::string line = R"({"level":"info","msg":"started"})";
  auto out = FeedAll(&a, {line});
  EXPECT_EQ(a.format(), FileFormat::kPlain);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, line);
  EXPECT_EQ(out[0].stream, "");
  EXPECT_EQ(out[0].timestamp_ns, 0);
  EXPECT_EQ(out[0].parse_error, "");
}

TEST(LineAssemblerAutoTest, PlainStaysPlainAfterFirstLine) {
  LineAssembler a(AssemblerOptions{});
  const std::string cri = Cri("2024-01-02T03:04:05Z", "stdout", "F", "x");
  auto out = FeedAll(&a, {"plain first", cri, "", "crlf\r"});
  EXPECT_EQ(a.format(), FileFormat::kPlain);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].text, "plain first");
  EXPECT_EQ(out[1].text, cri);  // not decoded: the first line decided
  EXPECT_EQ(out[2].text, "");
  EXPECT_EQ(out[3].text, "crlf");
  for (const auto& e : out) {
    EXPECT_EQ(e.timestamp_ns, 0);
    EXPECT_EQ(e.parse_error, "");
  }
}

TEST(LineAssemblerAutoTest, BrokenDockerFirstLineStillDecidesDocker) {
  LineAssembler a(AssemblerOptions{});
  auto out = FeedAll(&a, {R"({"log":"cut off)", DockerJson("ok\n")});
  EXPECT_EQ(a.format(), FileFormat::kDocker);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, R"({"log":"cut off)");
  EXPECT_NE(out[0].parse_error, "");
  EXPECT_EQ(out[1].text, "ok");
  EXPECT_EQ(out[1].parse_error, "");
}

// ---------------------------------------------------------------- decode errors

TEST(LineAssemblerCriTest, BadLineKeptAsPlainTextWithError) {
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  LineAssembler a(o);
  auto out = FeedAll(&a, {"not cri at all", Cri("2024-01-02T03:04:05Z", "stdout", "F", "good"),
                          "2024-01-02T03:04:05Z stdout Q x"});
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(out[0].text, "not cri at all");
  EXPECT_EQ(out[0].stream, "");
  EXPECT_EQ(out[0].timestamp_ns, 0);
  EXPECT_EQ(out[0].parse_error, "bad time \"not\"");
  EXPECT_EQ(out[1].text, "good");
  EXPECT_EQ(out[1].parse_error, "");
  EXPECT_EQ(out[2].text, "2024-01-02T03:04:05Z stdout Q x");
  EXPECT_EQ(out[2].parse_error, "not a CRI line: tag \"Q\"");
}

TEST(LineAssemblerDockerTest, BadLineKeptAsPlainTextWithError) {
  AssemblerOptions o;
  o.format = FileFormat::kDocker;
  LineAssembler a(o);
  auto out = FeedAll(&a, {"this is not json", R"({"log":"x\n"})"});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "this is not json");
  EXPECT_TRUE(out[0].parse_error.starts_with("not a Docker json-file line: "))
      << out[0].parse_error;
  EXPECT_EQ(out[1].parse_error, "not a Docker json-file line: no \"time\" string");
}

// ---------------------------------------------------------------- partial lines

TEST(LineAssemblerCriTest, PartialPiecesJoinPerStream) {
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "P", "out-1 "), kNow, &out);
  Feed(&a, Cri("2024-01-02T03:04:06Z", "stderr", "P", "err-1 "), kNow, &out);
  Feed(&a, Cri("2024-01-02T03:04:07Z", "stdout", "P", "out-2 "), kNow, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_TRUE(a.HasPending());
  Feed(&a, Cri("2024-01-02T03:04:08Z", "stderr", "F", "err-2"), kNow, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "err-1 err-2");
  EXPECT_EQ(out[0].stream, "stderr");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:06Z"));  // the first piece's time
  Feed(&a, Cri("2024-01-02T03:04:09Z", "stdout", "F", "out-3"), kNow, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "out-1 out-2 out-3");
  EXPECT_EQ(out[1].stream, "stdout");
  EXPECT_EQ(out[1].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_FALSE(a.HasPending());
}

TEST(LineAssemblerCriTest, EmptyLines) {
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  LineAssembler a(o);
  // An empty whole line, and an empty line in pieces, are each one empty entry.
  auto out = FeedAll(&a, {"2024-01-02T03:04:05Z stdout F", "2024-01-02T03:04:05Z stdout P ",
                          "2024-01-02T03:04:05Z stdout F "});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "");
  EXPECT_EQ(out[1].text, "");
  // A partial line followed by an empty final piece is the partial text.
  out = FeedAll(
      &a, {Cri("2024-01-02T03:04:05Z", "stdout", "P", "abc"), "2024-01-02T03:04:05Z stdout F"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "abc");
}

TEST(LineAssemblerCriTest, NeverEndingLineIsGivenOutInMaxBytesPieces) {
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.max_bytes = 10;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "P", "0123456"), kNow, &out);
  EXPECT_TRUE(out.empty());
  Feed(&a, Cri("2024-01-02T03:04:06Z", "stdout", "P", "789abcdefghijklmnopqrstu"), kNow, &out);
  ASSERT_EQ(Texts(out), (std::vector<std::string>{"0123456789", "abcdefghij", "klmnopqrst"}));
  for (const auto& e : out) EXPECT_EQ(e.timestamp_ns, At("2024-01-02T03:04:05Z"));
  Feed(&a, Cri("2024-01-02T03:04:07Z", "stdout", "F", "vw"), kNow, &out);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[3].text, "uvw");
  EXPECT_FALSE(a.HasPending());
}

// Pieces that add up to exactly max_bytes, then the final empty piece Docker
// writes (`{"log":"\n"}`): one entry, no extra empty one.
TEST(LineAssemblerDockerTest, LineOfExactlyMaxBytesGivesNoExtraEmptyEntry) {
  AssemblerOptions o;
  o.format = FileFormat::kDocker;
  o.max_bytes = 10;
  LineAssembler a(o);
  auto out = FeedAll(&a, {DockerJson("01234"), DockerJson("56789"), DockerJson("\n")});
  EXPECT_EQ(Texts(out), (std::vector<std::string>{"0123456789"}));
  o.format = FileFormat::kCri;
  LineAssembler c(o);
  out = FeedAll(&c, {Cri("2024-01-02T03:04:05Z", "stdout", "P", "0123456789"),
                     "2024-01-02T03:04:05Z stdout F"});
  EXPECT_EQ(Texts(out), (std::vector<std::string>{"0123456789"}));
}

TEST(LineAssemblerDockerTest, PartialPiecesJoinPerStream) {
  AssemblerOptions o;
  o.format = FileFormat::kDocker;
  LineAssembler a(o);
  auto out = FeedAll(&a, {DockerJson("a1 ", "stdout", "2024-01-02T03:04:05Z"),
                          DockerJson("b1 ", "stderr", "2024-01-02T03:04:06Z"),
                          DockerJson("a2\n", "stdout", "2024-01-02T03:04:07Z"),
                          DockerJson("b2\r\n", "stderr", "2024-01-02T03:04:08Z")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "a1 a2");
  EXPECT_EQ(out[0].stream, "stdout");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_EQ(out[1].text, "b1 b2");
  EXPECT_EQ(out[1].stream, "stderr");
  EXPECT_EQ(out[1].timestamp_ns, At("2024-01-02T03:04:06Z"));
}

TEST(LineAssemblerDockerTest, LongLineSplitAt16KiB) {
  AssemblerOptions o;
  o.format = FileFormat::kDocker;
  LineAssembler a(o);
  const std::string big(16 << 10, 'x');
  auto out = FeedAll(&a, {DockerJson(big), DockerJson(big), DockerJson("end\n")});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, big + big + "end");
}

// ---------------------------------------------------------------- multi-line

TEST(LineAssemblerMultilineTest, StackTraceJoined) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  for (std::string_view l :
       {"Exception in thread main", "\tat a.b(C.java:1)", "\tat d.e(F.java:2)", "next entry"}) {
    Feed(&a, l, kNow, &out);
  }
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "Exception in thread main\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)");
  EXPECT_TRUE(a.HasPending());
  a.Flush(kNow, true, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "next entry");
  EXPECT_FALSE(a.HasPending());
}

TEST(LineAssemblerMultilineTest, LeadingContinuationStartsAnEntry) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  LineAssembler a(o);
  auto out = FeedAll(&a, {"  orphan", "  more", "Start"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "  orphan\n  more");
}

TEST(LineAssemblerMultilineTest, MaxLinesCutsTheEntry) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  o.max_lines = 3;
  LineAssembler a(o);
  auto out = FeedAll(&a, {"S", " 1", " 2", " 3", " 4", " 5", " 6", " 7"});
  a.Flush(kNow, true, &out);
  EXPECT_EQ(Texts(out), (std::vector<std::string>{"S\n 1\n 2", " 3\n 4\n 5", " 6\n 7"}));
}

TEST(LineAssemblerMultilineTest, MaxBytesCutsTheEntry) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  o.max_bytes = 10;
  LineAssembler a(o);
  // "S\n 1\n 2\n 3" is 10 bytes, the limit; adding "\n 44" would make 14.
  auto out = FeedAll(&a, {"S", " 1", " 2", " 3", " 44"});
  a.Flush(kNow, true, &out);
  EXPECT_EQ(Texts(out), (std::vector<std::string>{"S\n 1\n 2\n 3", " 44"}));
}

TEST(LineAssemblerMultilineTest, CriStreamsJoinSeparately) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.multiline_start = &start;
  LineAssembler a(o);
  auto out = FeedAll(&a, {Cri("2024-01-02T03:04:05Z", "stderr", "F", "Traceback:"),
                          Cri("2024-01-02T03:04:06Z", "stdout", "F", "GET / 200"),
                          Cri("2024-01-02T03:04:07Z", "stderr", "F", "  File x.py"),
                          Cri("2024-01-02T03:04:08Z", "stdout", "F", "GET /a 200"),
                          Cri("2024-01-02T03:04:09Z", "stderr", "P", "  Val"),
                          Cri("2024-01-02T03:04:10Z", "stderr", "F", "ueError"),
                          Cri("2024-01-02T03:04:11Z", "stderr", "F", "next")});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "GET / 200");
  EXPECT_EQ(out[0].stream, "stdout");
  EXPECT_EQ(out[1].text, "Traceback:\n  File x.py\n  ValueError");
  EXPECT_EQ(out[1].stream, "stderr");
  EXPECT_EQ(out[1].timestamp_ns, At("2024-01-02T03:04:05Z"));
}

TEST(LineAssemblerMultilineTest, BadLineClosesHeldPlainEntry) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kDocker;
  o.multiline_start = &start;
  LineAssembler a(o);
  auto out = FeedAll(&a, {DockerJson("Start\n"), "garbage", "  more garbage"});
  // The decode errors go to the plain stream; each is an entry of its own.
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "garbage");
  EXPECT_NE(out[0].parse_error, "");
  EXPECT_EQ(out[1].text, "  more garbage");
  EXPECT_TRUE(a.HasPending());  // "Start" on stdout
}

// ---------------------------------------------------------------- flush_after

TEST(LineAssemblerFlushTest, HeldEntryGivenOutAfterFlushAfter) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  o.flush_after_ns = 2 * kSec;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, "Start", kNow, &out);
  Feed(&a, " cont", kNow + kSec, &out);
  a.Flush(kNow + 2 * kSec, false, &out);  // 1 s since the last line
  EXPECT_TRUE(out.empty());
  a.Flush(kNow + 3 * kSec - 1, false, &out);
  EXPECT_TRUE(out.empty());
  a.Flush(kNow + 3 * kSec, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "Start\n cont");
  EXPECT_FALSE(a.HasPending());
  a.Flush(kNow + 100 * kSec, false, &out);
  EXPECT_EQ(out.size(), 1u);
}

TEST(LineAssemblerFlushTest, PartialLineGivenOutAfterFlushAfter) {
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.flush_after_ns = kSec;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "P", "half"), kNow, &out);
  a.Flush(kNow + kSec / 2, false, &out);
  EXPECT_TRUE(out.empty());
  a.Flush(kNow + kSec, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "half");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_FALSE(a.HasPending());
  // The rest of the line, should it come, is a line of its own.
  Feed(&a, Cri("2024-01-02T03:04:09Z", "stdout", "F", "rest"), kNow + 2 * kSec, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "rest");
}

TEST(LineAssemblerFlushTest, PartialWithMultilineFlushedWhole) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.multiline_start = &start;
  o.flush_after_ns = kSec;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "F", "Start"), kNow, &out);
  Feed(&a, Cri("2024-01-02T03:04:06Z", "stdout", "P", " cont"), kNow, &out);
  a.Flush(kNow + kSec, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "Start\n cont");
  EXPECT_FALSE(a.HasPending());
}

TEST(LineAssemblerFlushTest, EachStreamWaitsFromItsOwnLastLine) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.multiline_start = &start;
  o.flush_after_ns = 10 * kSec;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "F", "out"), kNow, &out);
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stderr", "F", "err"), kNow + 5 * kSec, &out);
  a.Flush(kNow + 10 * kSec, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "out");
  EXPECT_TRUE(a.HasPending());
  a.Flush(kNow + 15 * kSec, false, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].text, "err");
}

TEST(LineAssemblerFlushTest, AllIgnoresTheWait) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kCri;
  o.multiline_start = &start;
  o.flush_after_ns = 3600 * kSec;
  LineAssembler a(o);
  std::vector<AssembledEntry> out;
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stdout", "F", "out"), kNow, &out);
  Feed(&a, Cri("2024-01-02T03:04:05Z", "stderr", "P", "err"), kNow, &out);
  a.Flush(kNow, false, &out);
  EXPECT_TRUE(out.empty());
  a.Flush(kNow, true, &out);
  EXPECT_EQ(out.size(), 2u);
  EXPECT_FALSE(a.HasPending());
}

// ---------------------------------------------------------------- state

TEST(LineAssemblerStateTest, EmptyStateHasFormat) {
  LineAssembler a(AssemblerOptions{});
  EXPECT_EQ(Save(a), R"({"format":"auto","streams":[]})");
  FeedAll(&a, {"plain"});
  EXPECT_EQ(Save(a), R"({"format":"plain","streams":[]})");
}

TEST(LineAssemblerStateTest, RestoreGivesHeldEntriesBack) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.multiline_start = &start;
  LineAssembler a(o);
  FeedAll(&a, {Cri("2024-01-02T03:04:05Z", "stdout", "F", "Start \"quoted\""),
               Cri("2024-01-02T03:04:06Z", "stdout", "F", "\tcont"),
               Cri("2024-01-02T03:04:07Z", "stderr", "P", "half\\")});
  const std::string state = Save(a);

  LineAssembler b(o);  // kAuto: the state carries the decided format
  Status s = Restore(&b, state);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(b.format(), FileFormat::kCri);
  EXPECT_TRUE(b.HasPending());
  EXPECT_EQ(Save(b), state);
  auto out = FeedAll(&b, {Cri("2024-01-02T03:04:08Z", "stderr", "F", "-done"),
                          Cri("2024-01-02T03:04:09Z", "stdout", "F", "\tmore")});
  ASSERT_EQ(out.size(), 0u);
  b.Flush(kNow, true, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].text, "Start \"quoted\"\n\tcont\n\tmore");
  EXPECT_EQ(out[0].stream, "stdout");
  EXPECT_EQ(out[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_EQ(out[1].text, "half\\-done");
  EXPECT_EQ(out[1].stream, "stderr");
  EXPECT_EQ(out[1].timestamp_ns, At("2024-01-02T03:04:07Z"));
}

TEST(LineAssemblerStateTest, RestoredEntryCountsTowardsMaxLines) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  o.max_lines = 3;
  LineAssembler a(o);
  FeedAll(&a, {"S", " 1"});
  LineAssembler b(o);
  ASSERT_TRUE(Restore(&b, Save(a)).ok());
  auto out = FeedAll(&b, {" 2", " 3"});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "S\n 1\n 2");
}

TEST(LineAssemblerStateTest, RestoredEntryWaitsFlushAfterFromRestore) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  o.flush_after_ns = kSec;
  LineAssembler a(o);
  FeedAll(&a, {"S"}, kNow);
  LineAssembler b(o);
  ASSERT_TRUE(Restore(&b, Save(a), kNow + 100 * kSec).ok());
  std::vector<AssembledEntry> out;
  b.Flush(kNow + 100 * kSec, false, &out);
  EXPECT_TRUE(out.empty());
  b.Flush(kNow + 101 * kSec, false, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].text, "S");
}

// Whatever line the state is saved after, the entries before it plus those of
// an assembler restored from it are exactly those of one that ran through.
TEST(LineAssemblerStateTest, SaveRestoreAtEveryLineIsExact) {
  RE2 start("^\\S");
  struct Input {
    FileFormat format;
    bool multiline;
    std::vector<std::string> lines;
  };
  const std::vector<Input> inputs = {
      {FileFormat::kCri,
       true,
       {Cri("2024-01-02T03:04:01Z", "stdout", "F", "A"),
        Cri("2024-01-02T03:04:02Z", "stderr", "P", "B1 "),
        Cri("2024-01-02T03:04:03Z", "stdout", "F", " a2"),
        Cri("2024-01-02T03:04:04Z", "stderr", "P", "B2 "),
        Cri("2024-01-02T03:04:05Z", "stderr", "F", "B3"), "broken line",
        Cri("2024-01-02T03:04:06Z", "stdout", "P", " a3"),
        Cri("2024-01-02T03:04:07Z", "stdout", "F", "..."),
        Cri("2024-01-02T03:04:08Z", "stderr", "F", " b4"),
        Cri("2024-01-02T03:04:09Z", "stdout", "F", "C"),
        Cri("2024-01-02T03:04:10Z", "stdout", "F", "D")}},
      {FileFormat::kAuto,
       false,
       {DockerJson("x1 ", "stdout", "2024-01-02T03:04:01Z"),
        DockerJson("y1\n", "stderr", "2024-01-02T03:04:02Z"),
        DockerJson("x2 ", "stdout", "2024-01-02T03:04:03Z"),
        DockerJson("x3\n", "stdout", "2024-01-02T03:04:04Z"), "{not json",
        DockerJson("\"q\" \\ \xc3\xa9\n", "stdout", "2024-01-02T03:04:05Z")}},
      {FileFormat::kAuto, true, {"E1", "  at 1", "  at 2", "E2", "E3", "  at 3"}},
  };
  for (const Input& in : inputs) {
    AssemblerOptions o;
    o.format = in.format;
    o.multiline_start = in.multiline ? &start : nullptr;
    LineAssembler whole(o);
    auto expected = FeedAll(&whole, in.lines);
    whole.Flush(kNow, true, &expected);
    for (size_t cut = 0; cut <= in.lines.size(); ++cut) {
      SCOPED_TRACE("format " + std::string(FileFormatName(in.format)) + ", cut after line " +
                   std::to_string(cut));
      LineAssembler first(o);
      std::vector<std::string> head(in.lines.begin(), in.lines.begin() + cut);
      std::vector<std::string> tail(in.lines.begin() + cut, in.lines.end());
      auto got = FeedAll(&first, head);
      const std::string state = Save(first);
      LineAssembler second(o);
      Status s = Restore(&second, state);
      ASSERT_TRUE(s.ok()) << s.ToString() << " state " << state;
      auto rest = FeedAll(&second, tail);
      second.Flush(kNow, true, &rest);
      got.insert(got.end(), rest.begin(), rest.end());
      ASSERT_EQ(got.size(), expected.size()) << "state " << state;
      // Streams are independent: the order within each stream is what counts
      // (the final Flush gives the streams out in the order they were seen).
      for (std::string_view stream : {"", "stdout", "stderr"}) {
        auto g = OfStream(got, stream);
        auto e = OfStream(expected, stream);
        ASSERT_EQ(g.size(), e.size()) << "stream \"" << stream << "\", state " << state;
        for (size_t i = 0; i < g.size(); ++i) {
          EXPECT_TRUE(SameEntry(g[i], e[i]))
              << "stream \"" << stream << "\" entry " << i << ": got \"" << g[i].text
              << "\", expected \"" << e[i].text << "\"";
        }
      }
    }
  }
}

TEST(LineAssemblerStateTest, RestoreErrorsNameWhatIsMissing) {
  struct Case {
    std::string_view state;
    StatusCode code;
    std::string_view message;
  };
  const Case cases[] = {
      {R"({})", StatusCode::kCorruption, "assembler state: no format"},
      {R"({"format":1,"streams":[]})", StatusCode::kCorruption, "assembler state: no format"},
      {R"({"format":"xml","streams":[]})", StatusCode::kInvalidArgument,
       "unknown file format \"xml\" (auto, plain, cri, docker)"},
      {R"({"format":"cri"})", StatusCode::kCorruption, "assembler state: no streams"},
      {R"({"format":"cri","streams":{}})", StatusCode::kCorruption, "assembler state: no streams"},
      {R"({"format":"cri","streams":[{"partial":"x","partial_ts":1}]})", StatusCode::kCorruption,
       "assembler state: stream name"},
      {R"({"format":"cri","streams":[{"name":"stdout","partial":"x"}]})", StatusCode::kCorruption,
       "assembler state: partial_ts"},
      {R"({"format":"cri","streams":[{"name":"stdout","entry":"x","entry_ts":1}]})",
       StatusCode::kCorruption, "assembler state: entry_ts/entry_lines"},
      {R"({"format":"cri","streams":[{"name":"stdout","entry":"x","entry_lines":1}]})",
       StatusCode::kCorruption, "assembler state: entry_ts/entry_lines"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.state));
    LineAssembler a(AssemblerOptions{});
    Status s = Restore(&a, c.state);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), c.code);
    EXPECT_EQ(s.message(), c.message);
  }
}

TEST(LineAssemblerStateTest, RestoreReplacesWhatWasHeld) {
  RE2 start("^\\S");
  AssemblerOptions o;
  o.format = FileFormat::kPlain;
  o.multiline_start = &start;
  LineAssembler a(o);
  FeedAll(&a, {"old entry"});
  ASSERT_TRUE(Restore(&a, R"({"format":"plain","streams":[]})").ok());
  EXPECT_FALSE(a.HasPending());
  std::vector<AssembledEntry> out;
  a.Flush(kNow, true, &out);
  EXPECT_TRUE(out.empty());
}

}  // namespace
}  // namespace lode
