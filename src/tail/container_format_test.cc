#include "tail/container_format.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parse/timestamp.h"

namespace lode {
namespace {

constexpr int64_t kSec = 1'000'000'000;

int64_t At(std::string_view rfc3339) {
  Result<int64_t> ns = ParseTimestamp(rfc3339, 0);
  EXPECT_TRUE(ns.ok()) << ns.status().ToString();
  return ns.ok() ? *ns : 0;
}

// A line with simdjson::SIMDJSON_PADDING readable bytes after its end, as
// ParseDockerLine requires.
class Padded {
 public:
  explicit Padded(std::string_view line) : buf_(line), size_(line.size()) {
    buf_.append(simdjson::SIMDJSON_PADDING, '\0');
  }
  std::string_view view() const { return std::string_view(buf_.data(), size_); }

 private:
  std::string buf_;
  size_t size_;
};

Status Docker(std::string_view line, std::string* scratch, ContainerLine* out) {
  static simdjson::dom::parser parser;
  Padded p(line);
  return ParseDockerLine(p.view(), &parser, scratch, out);
}

// ---------------------------------------------------------------- CRI

TEST(CriLineTest, FullLine) {
  const std::string line =
      "2020-08-19T21:06:24.337499838Z stderr F hdfsExists: invokeMethod((Lorg/apache/hadoop/fs/"
      "Path;)Z) error:";
  ContainerLine cl;
  Status s = ParseCriLine(line, &cl);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cl.timestamp_ns, 1597871184 * kSec + 337499838);
  EXPECT_EQ(cl.stream, "stderr");
  EXPECT_FALSE(cl.partial);
  EXPECT_EQ(cl.content, "hdfsExists: invokeMethod((Lorg/apache/hadoop/fs/Path;)Z) error:");
  // `content` points into the line.
  EXPECT_GE(cl.content.data(), line.data());
  EXPECT_LE(cl.content.data() + cl.content.size(), line.data() + line.size());
}

TEST(CriLineTest, PartialTagAndStdout) {
  ContainerLine cl;
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout P first half ", &cl).ok());
  EXPECT_EQ(cl.timestamp_ns, At("2024-01-02T03:04:05Z"));
  EXPECT_EQ(cl.stream, "stdout");
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.content, "first half ");  // trailing space kept
}

TEST(CriLineTest, TagsMayCarryMoreAfterColon) {
  ContainerLine cl;
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout F:x msg", &cl).ok());
  EXPECT_FALSE(cl.partial);
  EXPECT_EQ(cl.content, "msg");
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout P:a:b msg", &cl).ok());
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.content, "msg");
}

TEST(CriLineTest, ContentKeepsLeadingWhitespaceAndTabs) {
  ContainerLine cl;
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stderr F \tat Foo.bar(Foo.java:1)", &cl).ok());
  EXPECT_EQ(cl.content, "\tat Foo.bar(Foo.java:1)");
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stderr F   indented  ", &cl).ok());
  EXPECT_EQ(cl.content, "  indented  ");
}

TEST(CriLineTest, EmptyMessage) {
  ContainerLine cl;
  cl.content = "stale";
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout F", &cl).ok());
  EXPECT_EQ(cl.content, "");
  EXPECT_FALSE(cl.partial);
  cl.content = "stale";
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout F ", &cl).ok());
  EXPECT_EQ(cl.content, "");
  ASSERT_TRUE(ParseCriLine("2024-01-02T03:04:05Z stdout P", &cl).ok());
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.content, "");
}

TEST(CriLineTest, VariableLengthFraction) {
  ContainerLine cl;
  ASSERT_TRUE(ParseCriLine("2020-08-19T21:06:24.33754077Z stderr F x", &cl).ok());
  EXPECT_EQ(cl.timestamp_ns, 1597871184 * kSec + 337540770);
  ASSERT_TRUE(ParseCriLine("2020-08-19T21:06:24+02:00 stderr F x", &cl).ok());
  EXPECT_EQ(cl.timestamp_ns, (1597871184 - 7200) * kSec);
}

// Each malformed line gives InvalidArgument whose message names the part.
TEST(CriLineTest, ErrorsNameThePart) {
  struct Case {
    std::string_view line;
    std::string_view message;
  };
  const std::string long_time(60, '9');
  const std::string long_line = "x" + long_time + " stdout F m";
  const Case cases[] = {
      {"", "not a CRI line: no time field"},
      {"garbage", "not a CRI line: no time field"},
      {"notatime stdout F x", "bad time \"notatime\""},
      {"2024-13-45T00:00:00Z stdout F x", "bad time \"2024-13-45T00:00:00Z\""},
      {"2024-01-02T03:04:05Z", "not a CRI line: no time field"},
      {"2024-01-02T03:04:05Z stdout", "not a CRI line: no stream field"},
      {"2024-01-02T03:04:05Z stdlog F x", "not a CRI line: stream \"stdlog\""},
      {"2024-01-02T03:04:05Z STDOUT F x", "not a CRI line: stream \"STDOUT\""},
      {"2024-01-02T03:04:05Z stdout X x", "not a CRI line: tag \"X\""},
      {"2024-01-02T03:04:05Z stdout FF x", "not a CRI line: tag \"FF\""},
      {"2024-01-02T03:04:05Z stdout f x", "not a CRI line: tag \"f\""},
      {"2024-01-02T03:04:05Z stdout  x", "not a CRI line: tag \"\""},
      {"2024-01-02T03:04:05Z stdout", "not a CRI line: no stream field"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.line));
    ContainerLine cl;
    Status s = ParseCriLine(c.line, &cl);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.message(), c.message);
  }
  // A long bad field is quoted only in part.
  ContainerLine cl;
  Status s = ParseCriLine(long_line, &cl);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "bad time \"" + long_line.substr(0, 40) + "\"");
  s = ParseCriLine("2024-01-02T03:04:05Z " + std::string(50, 'o') + " F x", &cl);
  EXPECT_EQ(s.message(), "not a CRI line: stream \"" + std::string(20, 'o') + "\"");
  s = ParseCriLine("2024-01-02T03:04:05Z stdout " + std::string(50, 'T') + " x", &cl);
  EXPECT_EQ(s.message(), "not a CRI line: tag \"" + std::string(20, 'T') + "\"");
}

TEST(CriLineTest, DockerLineIsNotCri) {
  ContainerLine cl;
  EXPECT_FALSE(
      ParseCriLine(R"({"log":"x\n","stream":"stdout","time":"2016-03-02T22:58:51Z"})", &cl).ok());
}

TEST(CriLineTest, SharedSampleFileParses) {
  const std::string path = std::string(LODE_SHARED_DATA_DIR) + "/formats/cri.log";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "sample " << path << " not present";
  std::string line;
  int n = 0;
  int64_t prev = 0;
  while (std::getline(in, line)) {
    SCOPED_TRACE(line);
    ContainerLine cl;
    Status s = ParseCriLine(line, &cl);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(cl.stream, "stderr");
    EXPECT_FALSE(cl.partial);
    EXPECT_FALSE(cl.content.empty());
    EXPECT_GE(cl.timestamp_ns, prev);  // the sample is in time order
    EXPECT_GE(cl.timestamp_ns, At("2020-08-19T21:06:24Z"));
    EXPECT_LT(cl.timestamp_ns, At("2020-08-19T21:06:25Z"));
    prev = cl.timestamp_ns;
    ++n;
  }
  EXPECT_EQ(n, 19);
}

// ---------------------------------------------------------------- Docker

TEST(DockerLineTest, FullLine) {
  std::string scratch;
  ContainerLine cl;
  Status s = Docker(
      R"({"log":"Fetching main repository github.com/elastic/beats...\n","stream":"stdout","time":"2016-03-02T22:58:51.338462311Z"})",
      &scratch, &cl);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(cl.timestamp_ns, 1456959531 * kSec + 338462311);
  EXPECT_EQ(cl.stream, "stdout");
  EXPECT_FALSE(cl.partial);
  EXPECT_EQ(cl.content, "Fetching main repository github.com/elastic/beats...");
  // Both views point into *scratch.
  EXPECT_GE(cl.content.data(), scratch.data());
  EXPECT_LE(cl.content.data() + cl.content.size(), scratch.data() + scratch.size());
  EXPECT_GE(cl.stream.data(), scratch.data());
  EXPECT_LE(cl.stream.data() + cl.stream.size(), scratch.data() + scratch.size());
}

TEST(DockerLineTest, PieceWithoutNewlineIsPartial) {
  std::string scratch;
  ContainerLine cl;
  ASSERT_TRUE(Docker(R"({"log":"first piece ","stream":"stderr","time":"2024-01-02T03:04:05Z"})",
                     &scratch, &cl)
                  .ok());
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.stream, "stderr");
  EXPECT_EQ(cl.content, "first piece ");
  // A partial piece that ends in \r keeps it: the \n may follow in the next piece.
  ASSERT_TRUE(
      Docker(R"({"log":"x\r","stream":"stderr","time":"2024-01-02T03:04:05Z"})", &scratch, &cl)
          .ok());
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.content, "x\r");
}

TEST(DockerLineTest, CrLfIsRemoved) {
  std::string scratch;
  ContainerLine cl;
  ASSERT_TRUE(Docker(R"({"log":"windows\r\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})",
                     &scratch, &cl)
                  .ok());
  EXPECT_FALSE(cl.partial);
  EXPECT_EQ(cl.content, "windows");
}

TEST(DockerLineTest, OnlyNewlineIsAnEmptyLine) {
  std::string scratch;
  ContainerLine cl;
  ASSERT_TRUE(
      Docker(R"({"log":"\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})", &scratch, &cl)
          .ok());
  EXPECT_FALSE(cl.partial);
  EXPECT_EQ(cl.content, "");
  ASSERT_TRUE(
      Docker(R"({"log":"","stream":"stdout","time":"2024-01-02T03:04:05Z"})", &scratch, &cl).ok());
  EXPECT_TRUE(cl.partial);
  EXPECT_EQ(cl.content, "");
}

TEST(DockerLineTest, EscapesAreDecoded) {
  std::string scratch;
  ContainerLine cl;
  ASSERT_TRUE(
      Docker(
          R"({"log":"{\"message_id\": 20, \"word\": \"caf\u00e9\"}\ttab \\ back\n","stream":"stdout","time":"2018-02-22T17:12:29.05712785Z"})",
          &scratch, &cl)
          .ok());
  EXPECT_EQ(cl.content, "{\"message_id\": 20, \"word\": \"caf\xc3\xa9\"}\ttab \\ back");
  EXPECT_EQ(cl.timestamp_ns, At("2018-02-22T17:12:29.05712785Z"));
}

TEST(DockerLineTest, KeyOrderDoesNotMatterAndStreamDefaultsToStdout) {
  std::string scratch;
  ContainerLine cl;
  ASSERT_TRUE(
      Docker(R"({"time":"2024-01-02T03:04:05Z","stream":"stderr","log":"x\n","attrs":{"a":"b"}})",
             &scratch, &cl)
          .ok());
  EXPECT_EQ(cl.stream, "stderr");
  EXPECT_EQ(cl.content, "x");
  ASSERT_TRUE(Docker(R"({"log":"y\n","time":"2024-01-02T03:04:05Z"})", &scratch, &cl).ok());
  EXPECT_EQ(cl.stream, "stdout");
  EXPECT_EQ(cl.content, "y");
  // A stream that is not a string is also taken as stdout.
  ASSERT_TRUE(
      Docker(R"({"log":"z\n","stream":7,"time":"2024-01-02T03:04:05Z"})", &scratch, &cl).ok());
  EXPECT_EQ(cl.stream, "stdout");
}

TEST(DockerLineTest, ParserIsReusable) {
  simdjson::dom::parser parser;
  std::string scratch1, scratch2;
  ContainerLine a, b;
  Padded l1(R"({"log":"one\n","stream":"stdout","time":"2024-01-02T03:04:05Z"})");
  Padded l2(R"({"log":"two two\n","stream":"stderr","time":"2024-01-02T03:04:06Z"})");
  ASSERT_TRUE(ParseDockerLine(l1.view(), &parser, &scratch1, &a).ok());
  ASSERT_TRUE(ParseDockerLine(l2.view(), &parser, &scratch2, &b).ok());
  // The first result does not depend on the parser's buffers.
  EXPECT_EQ(a.content, "one");
  EXPECT_EQ(a.stream, "stdout");
  EXPECT_EQ(b.content, "two two");
  EXPECT_EQ(b.stream, "stderr");
  EXPECT_EQ(b.timestamp_ns - a.timestamp_ns, kSec);
}

TEST(DockerLineTest, ErrorsNameWhatIsWrong) {
  struct Case {
    std::string_view line;
    std::string_view message_prefix;
  };
  const Case cases[] = {
      {"plain text", "not a Docker json-file line: "},
      {R"("log":"cp packetbeat.yml /build/packetbeat-linux.yml\n","stream":"stdout","time":"2016-03-02T22:59:04.647847045Z"})",
       "not a Docker json-file line: "},
      {R"({"log":"x\n","time":)", "not a Docker json-file line: "},
      {"[1,2,3]", "not a Docker json-file line: not a JSON object"},
      {R"("just a string")", "not a Docker json-file line: not a JSON object"},
      {R"({"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
       "not a Docker json-file line: no \"log\" string"},
      {R"({"log":5,"stream":"stdout","time":"2024-01-02T03:04:05Z"})",
       "not a Docker json-file line: no \"log\" string"},
      {R"({"log":"x\n","stream":"stdout"})", "not a Docker json-file line: no \"time\" string"},
      {R"({"log":"x\n","stream":"stdout","time":1700000000})",
       "not a Docker json-file line: no \"time\" string"},
      {R"({"log":"x\n","stream":"stdout","time":"yesterday"})", "bad time \"yesterday\""},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(std::string(c.line));
    std::string scratch;
    ContainerLine cl;
    Status s = Docker(c.line, &scratch, &cl);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(s.message().starts_with(c.message_prefix)) << s.message();
    if (c.message_prefix.ends_with(": ")) {
      // What simdjson found wrong follows.
      EXPECT_GT(s.message().size(), c.message_prefix.size()) << s.message();
    } else {
      EXPECT_EQ(s.message(), c.message_prefix);
    }
  }
}

TEST(DockerLineTest, SharedSampleFileParses) {
  const std::string path = std::string(LODE_SHARED_DATA_DIR) + "/formats/docker-json.log";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "sample " << path << " not present";
  std::string line;
  int n = 0, bad = 0;
  std::string scratch;
  while (std::getline(in, line)) {
    SCOPED_TRACE(line);
    ++n;
    ContainerLine cl;
    Status s = Docker(line, &scratch, &cl);
    if (n == 7) {
      // Line 7 of the fixture is corrupted upstream (its "{" is missing).
      EXPECT_FALSE(s.ok());
      ++bad;
      continue;
    }
    if (!s.ok()) {
      ++bad;
      ADD_FAILURE() << s.ToString();
      continue;
    }
    EXPECT_TRUE(cl.stream == "stdout" || cl.stream == "stderr") << cl.stream;
    EXPECT_GT(cl.timestamp_ns, At("2016-01-01T00:00:00Z"));
    EXPECT_FALSE(cl.content.ends_with('\n'));
    if (n == 46) {
      // The one piece of a longer line in the fixture: no "\n" at its end.
      EXPECT_TRUE(cl.partial);
      EXPECT_EQ(cl.content, "hello from uat pod");
    } else {
      EXPECT_FALSE(cl.partial);
    }
  }
  EXPECT_EQ(n, 55);
  EXPECT_EQ(bad, 1);
}

// ---------------------------------------------------------------- paths

constexpr std::string_view kUid = "0b5d4c1e-1234-4a5b-9c8d-abcdef012345";
const std::string kId(64, 'a');

TEST(PodLogPathTest, VarLogPods) {
  auto p = ParsePodLogPath("/var/log/pods/default_nginx-7d9c8f6b5d-x2x7k_" + std::string(kUid) +
                           "/nginx/0.log");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->namespace_name, "default");
  EXPECT_EQ(p->pod, "nginx-7d9c8f6b5d-x2x7k");
  EXPECT_EQ(p->pod_uid, kUid);
  EXPECT_EQ(p->container, "nginx");
  EXPECT_EQ(p->container_id, "");
}

TEST(PodLogPathTest, VarLogPodsRotatedAndRestarted) {
  for (std::string_view file : {"3.log", "12.log", "0.log.20240101-120000", "0.log.1"}) {
    SCOPED_TRACE(std::string(file));
    auto p =
        ParsePodLogPath("/var/log/pods/kube-system_coredns-abc_u-1/coredns/" + std::string(file));
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(p->namespace_name, "kube-system");
    EXPECT_EQ(p->pod, "coredns-abc");
    EXPECT_EQ(p->pod_uid, "u-1");
    EXPECT_EQ(p->container, "coredns");
  }
}

TEST(PodLogPathTest, AnyPrefix) {
  auto p = ParsePodLogPath("/tmp/x/y/ns_pod_uid/ctr/0.log");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->namespace_name, "ns");
  EXPECT_EQ(p->pod, "pod");
  EXPECT_EQ(p->pod_uid, "uid");
  EXPECT_EQ(p->container, "ctr");
  p = ParsePodLogPath("ns_pod_uid/ctr/0.log");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pod, "pod");
}

TEST(PodLogPathTest, VarLogContainers) {
  auto p =
      ParsePodLogPath("/var/log/containers/nginx-7d9c8f6b5d-x2x7k_default_nginx-" + kId + ".log");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->namespace_name, "default");
  EXPECT_EQ(p->pod, "nginx-7d9c8f6b5d-x2x7k");
  EXPECT_EQ(p->pod_uid, "");
  EXPECT_EQ(p->container, "nginx");
  EXPECT_EQ(p->container_id, kId);

  const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  p = ParsePodLogPath("/var/log/containers/web-0_prod_istio-proxy-" + hex + ".log");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->pod, "web-0");
  EXPECT_EQ(p->namespace_name, "prod");
  EXPECT_EQ(p->container, "istio-proxy");
  EXPECT_EQ(p->container_id, hex);
}

TEST(PodLogPathTest, NotKubernetes) {
  const std::vector<std::string> paths = {
      "",
      "0.log",
      "/var/log/syslog",
      "/var/log/nginx/access.log",
      "/var/log/app/1.log",
      "/var/log/app.log.1",
      // /var/log/pods shapes with a part missing or extra
      "/var/log/pods/ns_pod/ctr/0.log",
      "/var/log/pods/ns_pod_uid_x/ctr/0.log",
      "/var/log/pods/_pod_uid/ctr/0.log",
      "/var/log/pods/ns__uid/ctr/0.log",
      "/var/log/pods/ns_pod_/ctr/0.log",
      "/var/log/pods/ns_pod_uid/ctr/app.log",
      "/var/log/pods/ns_pod_uid/ctr/x0.log",
      // /var/log/containers shapes with a part missing or a bad id
      "/var/log/containers/foo.log",
      "/var/log/containers/pod_ns_ctr.log",
      "/var/log/containers/pod_ns_ctr-" + std::string(63, 'a') + ".log",
      "/var/log/containers/pod_ns_ctr-" + std::string(65, 'a') + ".log",
      "/var/log/containers/pod_ns_ctr-" + std::string(64, 'A') + ".log",
      "/var/log/containers/pod_ns_ctr-" + std::string(64, 'g') + ".log",
      "/var/log/containers/_ns_ctr-" + kId + ".log",
      "/var/log/containers/pod__ctr-" + kId + ".log",
      "/var/log/containers/pod_ns_-" + kId + ".log",
      "/var/log/containers/pod_ns_x_ctr-" + kId + ".log",
      "/var/log/containers/pod_ns_ctr-" + kId + ".log.1",
  };
  for (const auto& path : paths) {
    EXPECT_FALSE(ParsePodLogPath(path).has_value()) << path;
  }
}

TEST(PodOwnerNameTest, ControllerNames) {
  struct Case {
    std::string_view pod;
    std::string_view owner;
  };
  const Case cases[] = {
      // Deployment: <name>-<pod-template-hash>-<5>
      {"nginx-7d9c8f6b5d-x2x7k", "nginx"},
      {"my-api-server-5c7b9d8f4-q2w4z", "my-api-server"},
      {"coredns-565d847f94-bxlfs", "coredns"},
      // older numeric pod-template-hash
      {"nginx-3837372172-x2x7k", "nginx"},
      // DaemonSet or Job: <name>-<5>
      {"fluentd-x2x7k", "fluentd"},
      {"kube-proxy-x2x7k", "kube-proxy"},
      {"node-exporter-b8m9r", "node-exporter"},
      // CronJob: <name>-<minutes since epoch>-<5>
      {"backup-28390105-x2x7k", "backup"},
      // StatefulSet: <name>-<ordinal>
      {"web-0", "web"},
      {"kafka-broker-12", "kafka-broker"},
      {"db-12345", "db"},
      // As they are
      {"standalone", "standalone"},
      {"my-pod", "my-pod"},
      {"db-123456", "db-123456"},
      {"app-abcde", "app-abcde"},  // vowels: not a generated suffix
      {"app-x2x7", "app-x2x7"},
      {"-x2x7k", "-x2x7k"},
      {"", ""},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PodOwnerName(c.pod), c.owner) << c.pod;
  }
}

}  // namespace
}  // namespace lode
