#include "tail/file_tailer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "common/test_util.h"
#include "parse/timestamp.h"

namespace lode {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kStart = 1'700'000'000 * kSec;
constexpr size_t kMany = 1 << 20;

int64_t At(std::string_view rfc3339) {
  Result<int64_t> ns = ParseTimestamp(rfc3339, 0);
  EXPECT_TRUE(ns.ok()) << ns.status().ToString();
  return ns.ok() ? *ns : 0;
}

// Plain POSIX writes, as a logging process does them.
void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    ASSERT_GT(n, 0) << strerror(errno);
    data.remove_prefix(static_cast<size_t>(n));
  }
}

void Append(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  WriteAll(fd, data);
  close(fd);
}

// Replaces the content of `path` in place (same inode).
void Overwrite(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  WriteAll(fd, data);
  close(fd);
}

uint64_t InodeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_ino);
}

std::string HostName() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return host;
}

std::vector<std::string> Messages(const std::vector<Record>& records) {
  std::vector<std::string> m;
  for (const auto& r : records) m.push_back(r.message);
  return m;
}

// Messages grouped by the file they came from (the "filename" attribute).
std::map<std::string, std::vector<std::string>> ByFile(const std::vector<Record>& records) {
  std::map<std::string, std::vector<std::string>> m;
  for (const auto& r : records)
    m[std::string(r.Attr("filename").value_or(""))].push_back(r.message);
  return m;
}

std::vector<std::string> Lines(std::string_view prefix, int from, int to) {
  std::vector<std::string> v;
  for (int i = from; i < to; ++i) v.push_back(std::string(prefix) + std::to_string(i));
  return v;
}

std::string Joined(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l + "\n";
  return s;
}

std::vector<std::string> Concat(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class FileTailerTest : public ::testing::Test {
 protected:
  std::string Path(std::string_view name) const { return dir_.path() + "/" + std::string(name); }

  // One input over `glob`; every poll scans (scan_interval 0).
  TailerOptions Options(const std::string& glob) {
    TailerOptions o;
    FileInput in;
    in.paths = {glob};
    o.inputs.push_back(in);
    o.clock = &clock_;
    o.scan_interval_ns = 0;
    o.rotate_grace_ns = 5 * kSec;
    return o;
  }

  std::unique_ptr<FileTailer> Make(const TailerOptions& o, std::string_view checkpoint = {}) {
    auto t = FileTailer::Create(o, checkpoint);
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? std::move(*t) : nullptr;
  }

  std::vector<Record> Poll(FileTailer* t, size_t max_records = kMany, size_t max_bytes = kMany) {
    std::vector<Record> out;
    size_t n = t->Poll(&out, max_records, max_bytes);
    EXPECT_EQ(n, out.size());
    return out;
  }

  // Polls until a poll gives nothing, without moving the clock.
  std::vector<Record> PollUntilEmpty(FileTailer* t) {
    std::vector<Record> all;
    for (int i = 0; i < 1000; ++i) {
      auto r = Poll(t);
      if (r.empty()) break;
      all.insert(all.end(), r.begin(), r.end());
    }
    return all;
  }

  // Everything left: polls, then moves the clock past every timeout and polls again.
  std::vector<Record> Drain(FileTailer* t) {
    auto all = PollUntilEmpty(t);
    clock_.Advance(3600 * kSec);
    auto rest = PollUntilEmpty(t);
    all.insert(all.end(), rest.begin(), rest.end());
    return all;
  }

  TempDir dir_;
  ManualClock clock_{kStart};
};

// ---------------------------------------------------------------- basics

TEST_F(FileTailerTest, PlainFileRecords) {
  const std::string path = Path("checkout.log");
  Append(path, "first line\nERROR db down\r\n\n");
  auto t = Make(Options(Path("*.log")));
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(Messages(recs), (std::vector<std::string>{"first line", "ERROR db down", ""}));
  const Record& r = recs[1];
  EXPECT_EQ(r.service, "checkout");
  EXPECT_EQ(r.instance, HostName());
  EXPECT_EQ(r.source, "file");
  EXPECT_EQ(r.tenant, "");
  EXPECT_EQ(r.timestamp_ns, kStart);
  EXPECT_EQ(r.observed_ns, kStart);
  EXPECT_TRUE(r.flags & kFlagTimestampMissing);
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.attributes, (std::vector<Attribute>{{"filename", path}}));
  EXPECT_FALSE(r.Attr("stream").has_value());

  TailerStats s = t->stats();
  EXPECT_EQ(s.files, 1u);
  EXPECT_EQ(s.entries, 3u);
  EXPECT_EQ(s.bytes_read, 27u);
  EXPECT_EQ(s.parse_errors, 0u);
  EXPECT_TRUE(Poll(t.get()).empty());

  // Appended lines follow.
  Append(path, "more\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"more"}));
}

TEST_F(FileTailerTest, ServiceFromFileName) {
  struct Case {
    std::string_view file;
    std::string_view service;
  };
  const Case cases[] = {
      {"nginx-access.log", "nginx-access"},
      {"app.log.1", "app"},
      {"syslog", "syslog"},
      {"worker.out", "worker"},
      {"a.b.c", "a"},
  };
  for (const Case& c : cases) Append(Path(c.file), "x\n");
  auto t = Make(Options(Path("*")));
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), std::size(cases));
  std::map<std::string, std::string> service;
  for (const auto& r : recs) service[std::string(*r.Attr("filename"))] = r.service;
  for (const Case& c : cases) EXPECT_EQ(service[Path(c.file)], c.service) << c.file;
}

TEST_F(FileTailerTest, FixedServiceInstanceAndLabels) {
  Append(Path("app.log"), "x\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].service = "svc";
  o.inputs[0].instance = "inst";
  o.inputs[0].labels = {{"env", "prod"}, {"team", "core"}};
  auto t = Make(o);
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].service, "svc");
  EXPECT_EQ(recs[0].instance, "inst");
  EXPECT_EQ(
      recs[0].attributes,
      (std::vector<Attribute>{{"filename", Path("app.log")}, {"env", "prod"}, {"team", "core"}}));
}

TEST_F(FileTailerTest, ExcludeCompressedDirectoriesAndScanInterval) {
  Append(Path("a.log"), "a\n");
  Append(Path("b.log"), "b\n");
  Append(Path("c.log.gz"), "gz\n");
  std::filesystem::create_directory(Path("d.log"));
  TailerOptions o = Options(Path("*.log*"));
  o.inputs[0].exclude = {"*/b.log"};
  o.scan_interval_ns = 10 * kSec;
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"a"}));
  EXPECT_EQ(t->stats().files, 1u);
  // A new file is found at the next scan, not before.
  Append(Path("e.log"), "e\n");
  EXPECT_TRUE(Poll(t.get()).empty());
  clock_.Advance(10 * kSec);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"e"}));
  EXPECT_EQ(t->stats().files, 2u);
}

TEST_F(FileTailerTest, SameFileUnderTwoGlobsIsReadOnce) {
  Append(Path("a.log"), "a\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].paths.push_back(Path("a.*"));
  FileInput second;
  second.paths = {Path("a.log")};
  o.inputs.push_back(second);
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"a"}));
  EXPECT_EQ(t->stats().files, 1u);
}

TEST_F(FileTailerTest, StartAtEnd) {
  Append(Path("old.log"), "old 1\nold 2\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].start_at_end = true;
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  Append(Path("old.log"), "old 3\n");
  // Files that appear later are read from their start.
  Append(Path("new.log"), "new 1\n");
  auto by_file = ByFile(Poll(t.get()));
  EXPECT_EQ(by_file[Path("old.log")], (std::vector<std::string>{"old 3"}));
  EXPECT_EQ(by_file[Path("new.log")], (std::vector<std::string>{"new 1"}));

  // With a checkpoint, start_at_end skips nothing that the checkpoint did not cover.
  const std::string cp = t->Checkpoint();
  t.reset();
  Append(Path("old.log"), "old 4\n");
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"old 4"}));
}

// ---------------------------------------------------------------- errors

TEST_F(FileTailerTest, CreateErrorsNameTheInput) {
  TailerOptions o = Options(Path("*.log"));
  FileInput none;
  o.inputs.push_back(none);
  auto t = FileTailer::Create(o, "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.status().message(), "files input 2: no paths");

  o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^(unclosed";
  t = FileTailer::Create(o, "");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(
      t.status().message().starts_with("files input 1: multiline start pattern \"^(unclosed\": "))
      << t.status().message();
  EXPECT_GT(t.status().message().size(),
            std::string_view("files input 1: multiline start pattern \"^(unclosed\": ").size());
}

TEST_F(FileTailerTest, CreateRejectsDamagedCheckpoint) {
  TailerOptions o = Options(Path("*.log"));
  for (std::string_view cp : {"not json", "{}", R"({"files":{}})", "[]"}) {
    auto t = FileTailer::Create(o, cp);
    ASSERT_FALSE(t.ok()) << cp;
    EXPECT_EQ(t.status().code(), StatusCode::kCorruption);
    EXPECT_EQ(t.status().message(), "file positions: not a checkpoint (no \"files\" array)");
  }
  auto t = FileTailer::Create(o, R"({"files":[{"path":"/x","dev":1,"ino":2,"offset":3}]})");
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(t.status().message(),
            "file positions: an entry lacks path, dev, ino, offset, fp or state");
}

TEST_F(FileTailerTest, EmptyCheckpointListIsFine) {
  Append(Path("a.log"), "a\n");
  auto t = Make(Options(Path("*.log")), R"({"version":1,"files":[]})");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"a"}));
}

// ---------------------------------------------------------------- lines

TEST_F(FileTailerTest, UnterminatedLineIsHeldUntilComplete) {
  const std::string path = Path("app.log");
  Append(path, "one\ntw");
  auto t = Make(Options(Path("*.log")));
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"one"}));
  clock_.Advance(3600 * kSec);  // however long it waits
  EXPECT_TRUE(Poll(t.get()).empty());
  EXPECT_EQ(t->stats().bytes_read, 4u);

  // A checkpoint taken now resumes at the start of the unfinished line.
  const std::string cp = t->Checkpoint();
  Append(path, "o\nthree");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"two"}));
  auto t2 = Make(Options(Path("*.log")), cp);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"two"}));
  Append(path, "\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"three"}));
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"three"}));
}

TEST_F(FileTailerTest, LongLinesAreCutNotLost) {
  const std::string path = Path("app.log");
  TailerOptions o = Options(Path("*.log"));
  o.max_line_bytes = 8;
  Append(path, "0123456789abcdefghij\n12345678\nshort\n");
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())),
            (std::vector<std::string>{"01234567", "89abcdef", "ghij", "12345678", "short"}));
  // An unterminated line is given out in pieces once it is too long; the
  // rest waits for its end.
  Append(path, "ABCDEFGHIJKLMNOPQRS");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"ABCDEFGH", "IJKLMNOP"}));
  Append(path, "TU\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"QRSTU"}));
  EXPECT_EQ(t->stats().bytes_read, 21u + 9u + 6u + 22u);
}

// A line of exactly max_line_bytes whose "\n" arrives later is one record: the
// tailer waits for the newline instead of cutting there.
TEST_F(FileTailerTest, LineOfExactlyMaxLineBytesWrittenInTwoStepsIsOneRecord) {
  const std::string path = Path("app.log");
  TailerOptions o = Options(Path("*.log"));
  o.max_line_bytes = 8;
  Append(path, "abcdefgh");
  auto t = Make(o);
  auto recs = Poll(t.get());
  Append(path, "\n");
  auto more = Poll(t.get());
  recs.insert(recs.end(), more.begin(), more.end());
  EXPECT_EQ(Messages(recs), (std::vector<std::string>{"abcdefgh"}));
}

TEST_F(FileTailerTest, LineOfExactlyMaxLineBytesWrittenAtOnceIsOneRecord) {
  TailerOptions o = Options(Path("*.log"));
  o.max_line_bytes = 8;
  Append(Path("app.log"), "abcdefgh\nabcdefghi\n");
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"abcdefgh", "abcdefgh", "i"}));
}

// A line longer than read_chunk_bytes (but within max_line_bytes) is read whole:
// a chunk is always big enough for one line of max_line_bytes and its "\n".
TEST_F(FileTailerTest, LineLongerThanReadChunkIsRead) {
  TailerOptions o = Options(Path("*.log"));
  o.read_chunk_bytes = 16;
  o.max_line_bytes = 64;
  const std::string line(40, 'x');
  Append(Path("app.log"), line + "\nnext\n");
  auto t = Make(o);
  auto recs = Drain(t.get());
  EXPECT_EQ(Messages(recs), (std::vector<std::string>{line, "next"}));
}

TEST_F(FileTailerTest, SmallReadChunksJoinLinesAcrossChunks) {
  TailerOptions o = Options(Path("*.log"));
  o.read_chunk_bytes = 16;
  o.max_line_bytes = 16;
  const auto lines = Lines("line number ", 0, 20);  // 13-14 bytes each
  Append(Path("app.log"), Joined(lines));
  auto t = Make(o);
  EXPECT_EQ(Messages(PollUntilEmpty(t.get())), lines);
}

TEST_F(FileTailerTest, MultilineTimeoutGivesOutTheLastEntry) {
  const std::string path = Path("app.log");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  o.inputs[0].multiline_timeout_ns = 2 * kSec;
  Append(path, "Exception: boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)\n");
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  clock_.Advance(2 * kSec - 1);
  EXPECT_TRUE(Poll(t.get()).empty());
  clock_.Advance(1);
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "Exception: boom\n\tat a.b(C.java:1)\n\tat d.e(F.java:2)");
  // A line that arrives later is an entry of its own.
  Append(path, "\tat late\nnext\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"\tat late"}));
  clock_.Advance(2 * kSec);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"next"}));
}

// ---------------------------------------------------------------- containers

TEST_F(FileTailerTest, KubernetesPodLogPath) {
  const std::string pod_dir = Path("var/log/pods/shop_checkout-7d9c8f6b5d-x2x7k_uid-42/app");
  std::filesystem::create_directories(pod_dir);
  const std::string path = pod_dir + "/0.log";
  Append(path,
         "2024-01-02T03:04:05.5Z stdout F GET / 200\n"
         "2024-01-02T03:04:06Z stderr P WARN slow \n"
         "2024-01-02T03:04:07Z stderr F query\n");
  auto t = Make(Options(Path("var/log/pods/*/*/*.log")));
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 2u);
  const Record& r = recs[0];
  EXPECT_EQ(r.message, "GET / 200");
  EXPECT_EQ(r.service, "checkout");
  EXPECT_EQ(r.instance, "checkout-7d9c8f6b5d-x2x7k");
  EXPECT_EQ(r.source, "k8s");
  EXPECT_EQ(r.timestamp_ns, At("2024-01-02T03:04:05.5Z"));
  EXPECT_EQ(r.observed_ns, kStart);
  EXPECT_EQ(r.flags, 0);
  EXPECT_EQ(r.attributes, (std::vector<Attribute>{{"namespace", "shop"},
                                                  {"pod", "checkout-7d9c8f6b5d-x2x7k"},
                                                  {"container", "app"},
                                                  {"pod_uid", "uid-42"},
                                                  {"filename", path},
                                                  {"stream", "stdout"}}));
  EXPECT_EQ(recs[1].message, "WARN slow query");
  EXPECT_EQ(recs[1].Attr("stream"), "stderr");
  EXPECT_EQ(recs[1].timestamp_ns, At("2024-01-02T03:04:06Z"));
  EXPECT_EQ(recs[1].level, Level::kWarn);
}

TEST_F(FileTailerTest, KubernetesContainersPathAndFixedService) {
  std::filesystem::create_directories(Path("containers"));
  const std::string id(64, 'c');
  const std::string path = Path("containers/web-0_prod_nginx-" + id + ".log");
  Append(path, R"({"log":"hello\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})"
               "\n");
  TailerOptions o = Options(Path("containers/*.log"));
  o.inputs[0].service = "frontend";
  auto t = Make(o);
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "hello");
  EXPECT_EQ(recs[0].service, "frontend");  // fixed wins over the owner "web"
  EXPECT_EQ(recs[0].instance, "web-0");
  EXPECT_EQ(recs[0].source, "k8s");
  EXPECT_EQ(recs[0].attributes, (std::vector<Attribute>{{"namespace", "prod"},
                                                        {"pod", "web-0"},
                                                        {"container", "nginx"},
                                                        {"container_id", id},
                                                        {"filename", path},
                                                        {"stream", "stdout"}}));
}

TEST_F(FileTailerTest, DockerFileWithBrokenLine) {
  const std::string path = Path("abc-json.log");
  Append(path, R"({"log":"one\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})"
               "\n"
               "not json at all\n"
               R"({"log":"two ","stream":"stderr","time":"2024-01-02T03:04:06Z"})"
               "\n"
               R"({"log":"halves\n","stream":"stderr","time":"2024-01-02T03:04:07Z"})"
               "\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].format = FileFormat::kDocker;
  auto t = Make(o);
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].message, "one");
  EXPECT_EQ(recs[0].source, "docker");
  EXPECT_EQ(recs[0].service, "abc-json");
  EXPECT_EQ(recs[0].timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_FALSE(recs[0].Attr("parse_error").has_value());
  EXPECT_EQ(recs[1].message, "not json at all");
  EXPECT_TRUE(recs[1].flags & kFlagTimestampMissing);
  EXPECT_EQ(recs[1].timestamp_ns, kStart);
  ASSERT_TRUE(recs[1].Attr("parse_error").has_value());
  EXPECT_TRUE(recs[1].Attr("parse_error")->starts_with("not a Docker json-file line: "))
      << *recs[1].Attr("parse_error");
  EXPECT_FALSE(recs[1].Attr("stream").has_value());
  EXPECT_EQ(recs[2].message, "two halves");
  EXPECT_EQ(recs[2].Attr("stream"), "stderr");
  EXPECT_EQ(t->stats().parse_errors, 1u);
}

TEST_F(FileTailerTest, SharedCriSample) {
  const std::string sample = std::string(LODE_SHARED_DATA_DIR) + "/formats/cri.log";
  std::ifstream in(sample);
  if (!in) GTEST_SKIP() << "sample " << sample << " not present";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Append(Path("app.log"), text);
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  auto t = Make(o);
  auto recs = Drain(t.get());
  // Two entries: the hdfsExists line, and the RemoteException with its stack trace.
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_TRUE(recs[0].message.starts_with("hdfsExists: invokeMethod(")) << recs[0].message;
  EXPECT_TRUE(recs[1].message.starts_with("org.apache.hadoop.ipc.RemoteException"))
      << recs[1].message;
  EXPECT_EQ(std::count(recs[1].message.begin(), recs[1].message.end(), '\n'), 17);
  EXPECT_NE(recs[1].message.find("\n\tat java.lang.reflect.Method.invoke(Method.java:498)\n"),
            std::string::npos);
  for (const auto& r : recs) {
    EXPECT_EQ(r.Attr("stream"), "stderr");
    EXPECT_EQ(r.flags, 0);
    EXPECT_FALSE(r.Attr("parse_error").has_value());
    EXPECT_GE(r.timestamp_ns, At("2020-08-19T21:06:24Z"));
  }
}

TEST_F(FileTailerTest, SharedDockerSample) {
  const std::string sample = std::string(LODE_SHARED_DATA_DIR) + "/formats/docker-json.log";
  std::ifstream in(sample);
  if (!in) GTEST_SKIP() << "sample " << sample << " not present";
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t lines = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  Append(Path("c-json.log"), text);
  auto t = Make(Options(Path("*.log")));  // auto: the first line says Docker
  auto recs = Drain(t.get());
  // Line 46 is a piece without "\n": it and line 47 are one record.
  ASSERT_EQ(recs.size(), lines - 1);
  EXPECT_EQ(recs[0].message, "Fetching main repository github.com/elastic/beats...");
  EXPECT_EQ(recs[0].source, "docker");
  size_t errors = 0, joined = 0;
  for (const auto& r : recs) {
    joined += r.message.starts_with("hello from uat pod{\"stringified-json\":");
    if (r.Attr("parse_error").has_value()) {
      ++errors;
      EXPECT_TRUE(r.message.starts_with("\"log\":\"cp packetbeat.yml")) << r.message;
    } else {
      EXPECT_TRUE(r.Attr("stream").has_value());
      EXPECT_EQ(r.flags, 0);
    }
  }
  EXPECT_EQ(errors, 1u);  // line 7 of the fixture lacks its "{"
  EXPECT_EQ(joined, 1u);
  EXPECT_EQ(t->stats().parse_errors, 1u);
}

// ---------------------------------------------------------------- checkpoints

// One file's content and how to read it.
struct ExactnessCase {
  std::string name;
  std::string content;
  FileFormat format = FileFormat::kAuto;
  std::string multiline_start;
  bool partial_held = false;  // some checkpoint is taken while a partial line is held
};

// gtest prints the case by its name, not its bytes.
void PrintTo(const ExactnessCase& c, std::ostream* os) {
  *os << c.name;
}

class FileTailerCheckpointTest : public FileTailerTest,
                                 public ::testing::WithParamInterface<ExactnessCase> {};

// A checkpoint taken after any number of records, given to a new tailer,
// yields exactly the records not yet given out.
TEST_P(FileTailerCheckpointTest, ResumeAfterEveryRecordIsExact) {
  const ExactnessCase& c = GetParam();
  Append(Path("app.log"), c.content);
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].format = c.format;
  o.inputs[0].multiline_start = c.multiline_start;
  o.inputs[0].multiline_timeout_ns = 10 * kSec;

  const int64_t t0 = clock_.NowNanos();
  auto whole = Make(o);
  const auto expected = Messages(Drain(whole.get()));
  ASSERT_GE(expected.size(), 3u);

  bool saw_partial = false, saw_entry = false;
  for (size_t k = 0; k < expected.size(); ++k) {
    SCOPED_TRACE("checkpoint after " + std::to_string(k) + " records");
    clock_.Set(t0);
    auto first = Make(o);
    std::vector<std::string> got;
    while (got.size() < k) {
      auto r = Poll(first.get(), 1);
      if (r.empty()) {
        // The rest is held: it comes out once multiline_timeout has passed.
        clock_.Advance(10 * kSec);
        r = Poll(first.get(), 1);
      }
      ASSERT_FALSE(r.empty());
      for (auto& m : Messages(r)) got.push_back(m);
    }
    const std::string cp = first->Checkpoint();
    saw_partial |= cp.find("\"partial\"") != std::string::npos;
    saw_entry |= cp.find("\"entry\"") != std::string::npos;
    first.reset();
    auto second = Make(o, cp);
    ASSERT_NE(second, nullptr) << cp;
    for (auto& m : Messages(Drain(second.get()))) got.push_back(m);
    EXPECT_EQ(got, expected) << "checkpoint " << cp;
  }
  if (!c.multiline_start.empty()) {
    EXPECT_TRUE(saw_entry) << "no multi-line entry was held";
  }
  if (c.partial_held) {
    EXPECT_TRUE(saw_partial) << "no partial line was held";
  }
}

INSTANTIATE_TEST_SUITE_P(
    Formats, FileTailerCheckpointTest,
    ::testing::Values(
        ExactnessCase{"plain", Joined(Lines("line ", 0, 8))},
        ExactnessCase{"plain_multiline",
                      "E1\n  at 1\n  at 2\nE2\nE3\n  at 3\n  at 4\n  at 5\nE4\nE5\n  at 6\n",
                      FileFormat::kPlain, "^\\S"},
        ExactnessCase{"cri_partial",
                      "2024-01-02T03:04:01Z stdout F one\n"
                      "2024-01-02T03:04:02Z stdout P two-a \n"
                      "2024-01-02T03:04:03Z stderr P err-a \n"
                      "2024-01-02T03:04:04Z stdout P two-b \n"
                      "2024-01-02T03:04:05Z stdout F two-c\n"
                      "2024-01-02T03:04:06Z stderr F err-b\n"
                      "2024-01-02T03:04:07Z stdout F three\n"
                      "2024-01-02T03:04:08Z stdout F four\n",
                      FileFormat::kCri, "", true},
        ExactnessCase{"cri_partial_multiline",
                      "2024-01-02T03:04:01Z stderr F Exception: x\n"
                      "2024-01-02T03:04:02Z stderr P \tat a.b(\n"
                      "2024-01-02T03:04:03Z stdout F GET /\n"
                      "2024-01-02T03:04:04Z stdout F GET /x\n"
                      "2024-01-02T03:04:05Z stderr F C.java:1)\n"
                      "2024-01-02T03:04:06Z stderr F \tat d.e(F.java:2)\n"
                      "2024-01-02T03:04:07Z stdout F GET /a\n"
                      "2024-01-02T03:04:08Z stderr F Next\n"
                      "2024-01-02T03:04:09Z stderr P \tat tail-a\n"
                      "2024-01-02T03:04:10Z stdout F GET /b\n"
                      "2024-01-02T03:04:11Z stderr F -b\n"
                      "2024-01-02T03:04:12Z stdout F GET /c\n",
                      FileFormat::kAuto, "^\\S", true},
        ExactnessCase{"docker_partial",
                      R"({"log":"a1 ","stream":"stdout","time":"2024-01-02T03:04:01Z"})"
                      "\n"
                      R"({"log":"b\n","stream":"stderr","time":"2024-01-02T03:04:02Z"})"
                      "\n"
                      R"({"log":"a2\n","stream":"stdout","time":"2024-01-02T03:04:03Z"})"
                      "\n"
                      "garbage\n"
                      R"({"log":"c \"q\"\n","stream":"stdout","time":"2024-01-02T03:04:04Z"})"
                      "\n",
                      FileFormat::kAuto, "", true}),
    [](const ::testing::TestParamInfo<ExactnessCase>& p) { return p.param.name; });

TEST_F(FileTailerTest, CriPartialHeldAcrossRestartIsJoinedWithItsEnd) {
  const std::string path = Path("app.log");
  Append(path,
         "2024-01-02T03:04:01Z stdout F one\n"
         "2024-01-02T03:04:02Z stdout P first half, \n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"one"}));
  const std::string cp = t->Checkpoint();
  EXPECT_NE(cp.find("\"partial\""), std::string::npos) << cp;  // the held piece is in it
  t.reset();
  Append(path, "2024-01-02T03:04:03Z stdout F second half\n");
  auto t2 = Make(o, cp);
  auto recs = Poll(t2.get());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "first half, second half");
  EXPECT_EQ(recs[0].timestamp_ns, At("2024-01-02T03:04:02Z"));
}

TEST_F(FileTailerTest, MultilineEntryHeldAcrossRestartIsContinued) {
  const std::string path = Path("app.log");
  Append(path, "Start\n  one\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  o.inputs[0].multiline_timeout_ns = 10 * kSec;
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  const std::string cp = t->Checkpoint();
  t.reset();
  Append(path, "  two\nNext\n");
  clock_.Advance(60 * kSec);  // the restart took a while: the entry waits again from now
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"Start\n  one\n  two"}));
  clock_.Advance(10 * kSec);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"Next"}));
}

TEST_F(FileTailerTest, CheckpointShape) {
  const std::string path = Path("app.log");
  Append(path, "abc\n");
  auto t = Make(Options(Path("*.log")));
  ASSERT_EQ(Poll(t.get()).size(), 1u);
  const std::string cp = t->Checkpoint();
  simdjson::dom::parser p;
  simdjson::padded_string text(cp);
  simdjson::dom::element doc;
  ASSERT_FALSE(p.parse(text).get(doc)) << cp;
  EXPECT_EQ(doc["version"].get_int64().value_unsafe(), 1);
  simdjson::dom::array files;
  ASSERT_FALSE(doc["files"].get_array().get(files));
  ASSERT_EQ(files.size(), 1u);
  simdjson::dom::element f = files.at(0).value_unsafe();
  EXPECT_EQ(f["path"].get_string().value_unsafe(), path);
  EXPECT_EQ(f["ino"].get_uint64().value_unsafe(), InodeOf(path));
  EXPECT_EQ(f["offset"].get_uint64().value_unsafe(), 4u);
  EXPECT_EQ(f["fp_len"].get_uint64().value_unsafe(), 4u);
  EXPECT_EQ(f["state"]["format"].get_string().value_unsafe(), "plain");
}

TEST_F(FileTailerTest, CheckpointBeforeFirstPollKeepsSavedPositions) {
  Append(Path("app.log"), "a\nb\n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  ASSERT_EQ(Poll(t.get(), 1).size(), 1u);
  const std::string cp = t->Checkpoint();
  auto t2 = Make(o, cp);
  EXPECT_EQ(t2->Checkpoint(), cp);
  auto t3 = Make(o, t2->Checkpoint());
  EXPECT_EQ(Messages(Poll(t3.get())), (std::vector<std::string>{"b"}));
}

TEST_F(FileTailerTest, CheckpointOfVanishedFileIsDroppedAfterFirstScan) {
  Append(Path("app.log"), "a\n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  ASSERT_EQ(Poll(t.get()).size(), 1u);
  const std::string cp = t->Checkpoint();
  ASSERT_EQ(unlink(Path("app.log").c_str()), 0);
  auto t2 = Make(o, cp);
  EXPECT_TRUE(Poll(t2.get()).empty());
  EXPECT_EQ(t2->Checkpoint(), R"({"version":1,"files":[]})");
}

// ---------------------------------------------------------------- poll limits

TEST_F(FileTailerTest, MaxRecordsLeavesTheRestForTheNextPoll) {
  const auto lines = Lines("l", 0, 5);
  Append(Path("app.log"), Joined(lines));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  std::vector<std::string> got;
  for (size_t expect : {2u, 2u, 1u, 0u}) {
    auto r = Poll(t.get(), 2);
    EXPECT_EQ(r.size(), expect);
    for (auto& m : Messages(r)) got.push_back(m);
    // The checkpoint matches what was given out.
    auto resumed = Make(o, t->Checkpoint());
    EXPECT_EQ(Concat(got, Messages(PollUntilEmpty(resumed.get()))), lines);
  }
  EXPECT_EQ(got, lines);
}

TEST_F(FileTailerTest, MaxRecordsCountsWhatOutAlreadyHolds) {
  Append(Path("app.log"), "a\nb\nc\n");
  auto t = Make(Options(Path("*.log")));
  std::vector<Record> out(2);
  EXPECT_EQ(t->Poll(&out, 3, kMany), 1u);
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(out[2].message, "a");
}

TEST_F(FileTailerTest, MaxBytesLimitsAPoll) {
  const auto lines = Lines("l", 0, 4);
  Append(Path("app.log"), Joined(lines));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  std::vector<std::string> got;
  for (int i = 0; i < 4; ++i) {
    auto r = Poll(t.get(), kMany, 1);  // the first record is over the budget
    ASSERT_EQ(r.size(), 1u);
    got.push_back(r[0].message);
    auto resumed = Make(o, t->Checkpoint());
    EXPECT_EQ(Concat(got, Messages(PollUntilEmpty(resumed.get()))), lines);
  }
  EXPECT_TRUE(Poll(t.get(), kMany, 1).empty());
}

TEST_F(FileTailerTest, SeveralFilesShareThePollLimits) {
  const auto a = Lines("a", 0, 5);
  const auto b = Lines("b", 0, 5);
  Append(Path("a.log"), Joined(a));
  Append(Path("b.log"), Joined(b));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  std::vector<Record> all;
  for (int i = 0; i < 20; ++i) {
    auto r = Poll(t.get(), 3);
    EXPECT_LE(r.size(), 3u);
    all.insert(all.end(), r.begin(), r.end());
    // Resuming from any point gives the rest of both files.
    auto resumed = Make(o, t->Checkpoint());
    auto rest = PollUntilEmpty(resumed.get());
    std::vector<Record> sum = all;
    sum.insert(sum.end(), rest.begin(), rest.end());
    auto by_file = ByFile(sum);
    EXPECT_EQ(by_file[Path("a.log")], a);
    EXPECT_EQ(by_file[Path("b.log")], b);
  }
  auto by_file = ByFile(all);
  EXPECT_EQ(by_file[Path("a.log")], a);
  EXPECT_EQ(by_file[Path("b.log")], b);
}

TEST_F(FileTailerTest, FilesTakeTurns) {
  Append(Path("a.log"), Joined(Lines("a", 0, 10)));
  Append(Path("b.log"), Joined(Lines("b", 0, 10)));
  auto t = Make(Options(Path("*.log")));
  // Polls of 5: neither file waits for the other to be finished.
  auto first = ByFile(Poll(t.get(), 5));
  auto second = ByFile(Poll(t.get(), 5));
  EXPECT_EQ(first.size() + second.size(), 2u);
  EXPECT_NE(first.begin()->first, second.begin()->first);
}

// ---------------------------------------------------------------- rotation

TEST_F(FileTailerTest, RenameRotationWhileRunning) {
  const std::string path = Path("app.log");
  const std::string rotated = Path("app.log.1");
  Append(path, Joined(Lines("old ", 0, 3)));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), Lines("old ", 0, 3));

  // Written before the rename but not read yet, then after it to the old
  // file (the writer has not reopened yet), and to the new file.
  Append(path, Joined(Lines("old ", 3, 5)));
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  Append(rotated, Joined(Lines("old ", 5, 6)));
  Append(path, Joined(Lines("new ", 0, 2)));

  auto by_file = ByFile(Poll(t.get()));
  // The old file keeps the name it was followed under.
  EXPECT_EQ(by_file[path], Concat(Lines("old ", 3, 6), Lines("new ", 0, 2)));
  EXPECT_EQ(by_file.size(), 1u);
  EXPECT_EQ(t->stats().rotations, 1u);
  EXPECT_EQ(t->stats().files, 2u);

  // The writer is still at it: the old file is read until idle for rotate_grace.
  clock_.Advance(4 * kSec);
  Append(rotated, "old 6\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"old 6"}));
  clock_.Advance(5 * kSec);
  EXPECT_TRUE(Poll(t.get()).empty());
  EXPECT_EQ(t->stats().files, 1u);
  // Only the new file is in the checkpoint now.
  const std::string cp = t->Checkpoint();
  EXPECT_NE(cp.find("\"ino\":" + std::to_string(InodeOf(path))), std::string::npos) << cp;
  EXPECT_EQ(cp.find("\"ino\":" + std::to_string(InodeOf(rotated))), std::string::npos) << cp;
  Append(path, "new 2\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"new 2"}));
}

TEST_F(FileTailerTest, RotatedFileUnterminatedLastLineIsGivenOutWhenFinished) {
  const std::string path = Path("app.log");
  const std::string rotated = Path("app.log.1");
  Append(path, "a\nno newline");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"a"}));
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  EXPECT_TRUE(Poll(t.get()).empty());
  clock_.Advance(5 * kSec);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"no newline"}));
  // That was growth too: the file leaves once idle for rotate_grace again.
  EXPECT_EQ(t->stats().files, 1u);
  clock_.Advance(5 * kSec);
  EXPECT_TRUE(Poll(t.get()).empty());
  EXPECT_EQ(t->stats().files, 0u);
}

TEST_F(FileTailerTest, RotatedFileHeldEntryIsGivenOutWhenFinished) {
  const std::string path = Path("app.log");
  Append(path, "Start\n  cont\n");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  o.inputs[0].multiline_timeout_ns = 3600 * kSec;
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  ASSERT_EQ(unlink(path.c_str()), 0);  // deleted: the open file is still read to its end
  EXPECT_TRUE(Poll(t.get()).empty());
  EXPECT_EQ(t->stats().rotations, 1u);
  clock_.Advance(5 * kSec);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"Start\n  cont"}));
  EXPECT_EQ(t->stats().files, 0u);
}

TEST_F(FileTailerTest, RenameWithinTheGlobKeepsReading) {
  const std::string a = Path("a.log");
  const std::string b = Path("b.log");
  Append(a, "1\n");
  auto t = Make(Options(Path("*.log")));
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"1"}));
  ASSERT_EQ(rename(a.c_str(), b.c_str()), 0);
  Append(b, "2\n");
  auto recs = Poll(t.get());
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].message, "2");
  EXPECT_EQ(recs[0].Attr("filename"), b);
  EXPECT_EQ(t->stats().rotations, 0u);
  clock_.Advance(60 * kSec);
  Append(b, "3\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"3"}));
}

TEST_F(FileTailerTest, CheckpointDuringRotationResumesBothFiles) {
  const std::string path = Path("app.log");
  const std::string rotated = Path("app.log.1");
  Append(path, Joined(Lines("old ", 0, 4)));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  ASSERT_EQ(Poll(t.get(), 2).size(), 2u);
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  Append(path, Joined(Lines("new ", 0, 3)));
  // One poll: the scan sees the rotation; one more record of the old file.
  ASSERT_EQ(Messages(Poll(t.get(), 1)), (std::vector<std::string>{"old 2"}));
  const std::string cp = t->Checkpoint();
  t.reset();
  auto t2 = Make(o, cp);
  auto by_file = ByFile(Drain(t2.get()));
  EXPECT_EQ(by_file[rotated], (std::vector<std::string>{"old 3"}));
  EXPECT_EQ(by_file[path], Lines("new ", 0, 3));
  EXPECT_EQ(t2->stats().files, 1u);
}

TEST_F(FileTailerTest, RenameRotationWhileDown) {
  const std::string path = Path("app.log");
  const std::string rotated = Path("app.log.1");
  Append(path, Joined(Lines("old ", 0, 3)));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), Lines("old ", 0, 3));
  const std::string cp = t->Checkpoint();
  t.reset();

  Append(path, Joined(Lines("old ", 3, 5)));
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  Append(rotated, Joined(Lines("old ", 5, 6)));
  Append(path, Joined(Lines("new ", 0, 2)));

  auto t2 = Make(o, cp);
  auto by_file = ByFile(Poll(t2.get()));
  EXPECT_EQ(by_file[rotated], Lines("old ", 3, 6));  // found by inode, finished
  EXPECT_EQ(by_file[path], Lines("new ", 0, 2));     // read from 0
  EXPECT_EQ(t2->stats().files, 2u);
  clock_.Advance(5 * kSec);
  EXPECT_TRUE(Poll(t2.get()).empty());
  EXPECT_EQ(t2->stats().files, 1u);
}

TEST_F(FileTailerTest, RenameRotationWhileDownWithHeldState) {
  const std::string pod_dir = Path("logs/ns_web-0_uid/c");
  std::filesystem::create_directories(pod_dir);
  const std::string path = pod_dir + "/0.log";
  const std::string rotated = pod_dir + "/0.log.20240102-030405";
  Append(path,
         "2024-01-02T03:04:01Z stdout F one\n"
         "2024-01-02T03:04:02Z stdout P two-a \n");
  TailerOptions o = Options(Path("logs/*/*/*.log"));
  auto t = Make(o);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"one"}));
  const std::string cp = t->Checkpoint();
  t.reset();

  Append(path, "2024-01-02T03:04:03Z stdout F two-b\n");
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  Append(path, "2024-01-02T03:04:04Z stdout F three\n");

  auto t2 = Make(o, cp);
  auto recs = Drain(t2.get());
  auto by_file = ByFile(recs);
  EXPECT_EQ(by_file[rotated], (std::vector<std::string>{"two-a two-b"}));
  EXPECT_EQ(by_file[path], (std::vector<std::string>{"three"}));
  for (const auto& r : recs) {
    EXPECT_EQ(r.source, "k8s");
    EXPECT_EQ(r.service, "web");
    EXPECT_EQ(r.Attr("pod"), "web-0");
  }
}

// Kubernetes' /var/log/containers/<pod>_<ns>_<container>-<id>.log are
// symlinks to /var/log/pods/.../<n>.log; followed through the link, the
// file is the same.
TEST_F(FileTailerTest, ContainersSymlinkIsFollowedAndRotatedWhileRunning) {
  const std::string pod_dir = Path("pods/prod_web-0_uid/nginx");
  std::filesystem::create_directories(pod_dir);
  std::filesystem::create_directories(Path("containers"));
  const std::string real = pod_dir + "/0.log";
  const std::string link = Path("containers/web-0_prod_nginx-" + std::string(64, 'e') + ".log");
  Append(real, "2024-01-02T03:04:01Z stdout F one\n");
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  TailerOptions o = Options(Path("containers/*.log"));
  auto t = Make(o);
  auto recs = Poll(t.get());
  ASSERT_EQ(Messages(recs), (std::vector<std::string>{"one"}));
  EXPECT_EQ(recs[0].Attr("filename"), link);
  EXPECT_EQ(recs[0].Attr("container_id"), std::string(64, 'e'));
  // kubelet rotates the real file; the link now names the new one.
  Append(real, "2024-01-02T03:04:02Z stdout F two\n");
  ASSERT_EQ(rename(real.c_str(), (real + ".20240102-030402").c_str()), 0);
  Append(real, "2024-01-02T03:04:03Z stdout F three\n");
  EXPECT_EQ(Messages(Drain(t.get())), (std::vector<std::string>{"two", "three"}));
}

// A /var/log/containers symlink whose file was rotated while nothing ran: the
// rotated file is found beside the real file (the pod's directory), via the
// checkpoint's real_path, and finished.
TEST_F(FileTailerTest, ContainersSymlinkRotatedWhileDownIsFinished) {
  const std::string pod_dir = Path("pods/prod_web-0_uid/nginx");
  std::filesystem::create_directories(pod_dir);
  std::filesystem::create_directories(Path("containers"));
  const std::string real = pod_dir + "/0.log";
  const std::string link = Path("containers/web-0_prod_nginx-" + std::string(64, 'e') + ".log");
  Append(real, "2024-01-02T03:04:01Z stdout F one\n");
  ASSERT_EQ(symlink(real.c_str(), link.c_str()), 0);
  TailerOptions o = Options(Path("containers/*.log"));
  auto t = Make(o);
  ASSERT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"one"}));
  const std::string cp = t->Checkpoint();
  t.reset();
  Append(real, "2024-01-02T03:04:02Z stdout F two\n");
  ASSERT_EQ(rename(real.c_str(), (real + ".20240102-030402").c_str()), 0);
  Append(real, "2024-01-02T03:04:03Z stdout F three\n");
  auto t2 = Make(o, cp);
  auto recs = Messages(Drain(t2.get()));
  std::sort(recs.begin(), recs.end());
  EXPECT_EQ(recs, (std::vector<std::string>{"three", "two"}));
}

TEST_F(FileTailerTest, RotatedFileUnderTheGlobResumesFromCheckpoint) {
  const std::string path = Path("app.log");
  const std::string rotated = Path("app.log.1");
  Append(path, "a\nb\n");
  TailerOptions o = Options(Path("app.log*"));
  auto t = Make(o);
  ASSERT_EQ(Poll(t.get()).size(), 2u);
  const std::string cp = t->Checkpoint();
  t.reset();
  Append(path, "c\n");
  ASSERT_EQ(rename(path.c_str(), rotated.c_str()), 0);
  Append(path, "new\n");
  auto t2 = Make(o, cp);
  auto by_file = ByFile(Drain(t2.get()));
  EXPECT_EQ(by_file[rotated], (std::vector<std::string>{"c"}));
  EXPECT_EQ(by_file[path], (std::vector<std::string>{"new"}));
}

TEST_F(FileTailerTest, CopyTruncate) {
  const std::string path = Path("app.log");
  Append(path, Joined(Lines("before ", 0, 3)));
  auto t = Make(Options(Path("*.log")));
  EXPECT_EQ(Messages(Poll(t.get())), Lines("before ", 0, 3));
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  Append(path, "after 0\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"after 0"}));
  EXPECT_EQ(t->stats().truncations, 1u);
  EXPECT_EQ(t->stats().rotations, 0u);
  Append(path, "after 1\n");
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"after 1"}));
}

TEST_F(FileTailerTest, CopyTruncateGivesOutWhatWasHeld) {
  const std::string path = Path("app.log");
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  o.inputs[0].multiline_timeout_ns = 3600 * kSec;
  Append(path, "Start\n  cont 1\n  cont 2\n");
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  Append(path, "  new\nNext\n");
  // The held entry is complete; the new first line does not continue it.
  EXPECT_EQ(Messages(Poll(t.get())),
            (std::vector<std::string>{"Start\n  cont 1\n  cont 2", "  new"}));
}

TEST_F(FileTailerTest, CopyTruncateWhileDown) {
  const std::string path = Path("app.log");
  Append(path, Joined(Lines("before ", 0, 3)));
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Poll(t.get()).size(), 3u);
  const std::string cp = t->Checkpoint();
  t.reset();
  ASSERT_EQ(truncate(path.c_str(), 0), 0);
  Append(path, "after\n");
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"after"}));
}

TEST_F(FileTailerTest, SameInodeDifferentContentIsReadFromStart) {
  const std::string path = Path("app.log");
  Append(path, "first file 0\nfirst file 1\n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Poll(t.get()).size(), 2u);
  const std::string cp = t->Checkpoint();
  t.reset();
  // Another file now has this inode: longer than the saved offset, so only
  // its first bytes tell it from the one the checkpoint was for.
  const auto lines = Lines("second file, much longer ", 0, 4);
  Overwrite(path, Joined(lines));
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), lines);
}

TEST_F(FileTailerTest, DeletedAndRecreatedFileIsReadFromStart) {
  const std::string path = Path("app.log");
  Append(path, "first file 0\nfirst file 1\n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Poll(t.get()).size(), 2u);
  const std::string cp = t->Checkpoint();
  t.reset();
  ASSERT_EQ(unlink(path.c_str()), 0);
  // Whether or not the file system gives the inode again, the new file is new.
  const auto lines = Lines("replacement ", 0, 4);
  Append(path, Joined(lines));
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), lines);
}

TEST_F(FileTailerTest, CheckpointForReusedInodeIsNotTakenForTheFile) {
  // The checkpoint names this very inode, but its fingerprint is another file's.
  const std::string path = Path("app.log");
  Append(path, "line 0\nline 1\nline 2\n");
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  const std::string cp =
      R"({"version":1,"files":[{"path":")" + path + R"(","dev":)" + std::to_string(st.st_dev) +
      R"(,"ino":)" + std::to_string(st.st_ino) +
      R"(,"offset":7,"fp_len":7,"fp":12345,"state":{"format":"plain","streams":[]}})" + "]}";
  auto t = Make(Options(Path("*.log")), cp);
  EXPECT_EQ(Messages(Poll(t.get())), (std::vector<std::string>{"line 0", "line 1", "line 2"}));
}

TEST_F(FileTailerTest, FileShorterThanCheckpointOffsetIsReadFromStart) {
  const std::string path = Path("app.log");
  Append(path, "a long first line\nanother\n");
  TailerOptions o = Options(Path("*.log"));
  auto t = Make(o);
  EXPECT_EQ(Poll(t.get()).size(), 2u);
  const std::string cp = t->Checkpoint();
  t.reset();
  Overwrite(path, "a long\n");
  auto t2 = Make(o, cp);
  EXPECT_EQ(Messages(Poll(t2.get())), (std::vector<std::string>{"a long"}));
}

// Log lines are not always valid UTF-8. Held text is kept in the checkpoint
// as base64, so the checkpoint stays JSON; the entry given out has each
// invalid byte replaced by U+FFFD (records travel and answer as JSON).
TEST_F(FileTailerTest, CheckpointWithHeldNonUtf8TextCanBeRestored) {
  const std::string path = Path("app.log");
  Append(path, "caf\xe9 failed\n  at x\n");  // Latin-1
  TailerOptions o = Options(Path("*.log"));
  o.inputs[0].multiline_start = "^\\S";
  auto t = Make(o);
  EXPECT_TRUE(Poll(t.get()).empty());
  const std::string cp = t->Checkpoint();
  auto t2 = FileTailer::Create(o, cp);
  ASSERT_TRUE(t2.ok()) << t2.status().ToString();
  EXPECT_EQ(Messages(Drain(t2->get())),
            (std::vector<std::string>{"caf\xEF\xBF\xBD failed\n  at x"}));
}

TEST_F(FileTailerTest, NonUtf8LinesAreKept) {
  Append(Path("app.log"), "caf\xe9\n\xff\xfe\n");
  auto t = Make(Options(Path("*.log")));
  EXPECT_EQ(Messages(Poll(t.get())),
            (std::vector<std::string>{"caf\xEF\xBF\xBD", "\xEF\xBF\xBD\xEF\xBF\xBD"}));
  // With nothing held, the checkpoint is fine.
  auto t2 = FileTailer::Create(Options(Path("*.log")), t->Checkpoint());
  EXPECT_TRUE(t2.ok()) << t2.status().ToString();
}

}  // namespace
}  // namespace lode
