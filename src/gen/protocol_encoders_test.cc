#include "gen/protocol_encoders.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <tuple>

#include "common/test_util.h"
#include "ingest/loki_push.h"
#include "ingest/otlp.h"
#include "parse/json_record.h"
#include "parse/message_level.h"
#include "parse/syslog.h"
#include "parse/timestamp.h"

namespace lode {
namespace {

constexpr int64_t kT0 = 1731542400'000000000;  // 2024-11-14T00:00:00Z

GenRecord Rec(int64_t ts, Level level, std::string service, std::string instance,
              std::string message) {
  GenRecord r;
  r.timestamp_ns = ts;
  r.level = level;
  r.service = std::move(service);
  r.instance = std::move(instance);
  r.message = std::move(message);
  return r;
}

// A few lines of two services, with the awkward bytes: quotes, a backslash, a newline, UTF-8.
std::vector<GenRecord> Sample() {
  return {
      Rec(kT0 + 123456789, Level::kInfo, "checkout", "checkout-7d9f8b6c5-x2x9k", "GET /cart 200"),
      Rec(kT0 + 1'000000001, Level::kError, "payments", "10.0.0.7",
          "charge \"42\" failed\n\tat C:\\pay"),
      Rec(kT0 + 2'000000000, Level::kInfo, "checkout", "checkout-7d9f8b6c5-x2x9k", "café crème"),
  };
}

// The records of the fleet itself: every shape of service and instance it makes.
std::vector<GenRecord> FleetSample(int n) {
  FleetOptions fo;
  fo.seed = 7;
  fo.services = 24;
  FleetGenerator gen(fo);
  std::vector<GenRecord> out;
  std::string scratch;
  for (int i = 0; i < n; ++i) {
    scratch.clear();
    out.push_back(GenRecord::From(gen.Next(kT0 + int64_t{i} * 1'234567, &scratch)));
  }
  return out;
}

TEST(ProtocolEncoderTest, ProtocolNames) {
  for (std::string_view name :
       {"http", "loki", "loki-proto", "otlp", "es", "syslog-udp", "syslog-tcp", "files"}) {
    auto p = ParseGenProtocol(name);
    ASSERT_TRUE(p.ok()) << name;
    EXPECT_EQ(GenProtocolName(*p), name);
  }
  auto bad = ParseGenProtocol("kafka");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("syslog-tcp"), std::string_view::npos);
  EXPECT_TRUE(IsHttpProtocol(GenProtocol::kEs));
  EXPECT_FALSE(IsHttpProtocol(GenProtocol::kSyslogTcp));
}

TEST(ProtocolEncoderTest, FormatRfc3339Fixed) {
  EXPECT_EQ(FormatRfc3339Fixed(kT0 + 10'000000, 3), "2024-11-14T00:00:00.010Z");
  EXPECT_EQ(FormatRfc3339Fixed(kT0 + 123456789, 6), "2024-11-14T00:00:00.123456Z");
  EXPECT_EQ(FormatRfc3339Fixed(kT0 + 999999999, 0), "2024-11-14T00:00:00Z");
  EXPECT_EQ(FormatRfc3339Fixed(kT0, 9), "2024-11-14T00:00:00.000000000Z");
  EXPECT_EQ(FormatRfc3339Fixed(-1, 3), "1969-12-31T23:59:59.999Z");
}

TEST(ProtocolEncoderTest, LokiPushJsonExactBytes) {
  std::string body;
  EncodeLokiPushJson(Sample(), &body);
  EXPECT_EQ(
      body,
      R"({"streams":[)"
      R"({"stream":{"instance":"checkout-7d9f8b6c5-x2x9k","level":"info","service":"checkout"},)"
      R"("values":[["1731542400123456789","GET /cart 200"],["1731542402000000000","café crème"]]},)"
      R"({"stream":{"instance":"10.0.0.7","level":"error","service":"payments"},)"
      R"("values":[["1731542401000000001","charge \"42\" failed\n\tat C:\\pay"]]}]})");
}

TEST(ProtocolEncoderTest, LokiPushProtoDecodesBack) {
  std::string body;
  EncodeLokiPushProto(Sample(), &body);
  std::string raw;
  ASSERT_TRUE(SnappyUncompress(body, 1 << 20, &raw).ok());
  std::vector<PushStream> streams;
  ASSERT_TRUE(DecodePushRequest(raw, &streams).ok());
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].labels_text,
            R"({instance="checkout-7d9f8b6c5-x2x9k", level="info", service="checkout"})");
  EXPECT_EQ(streams[0].labels, (LabelPairs{{"instance", "checkout-7d9f8b6c5-x2x9k"},
                                           {"level", "info"},
                                           {"service", "checkout"}}));
  ASSERT_EQ(streams[0].entries.size(), 2u);
  EXPECT_EQ(streams[0].entries[0].timestamp_ns, kT0 + 123456789);
  EXPECT_EQ(streams[0].entries[0].line, "GET /cart 200");
  EXPECT_EQ(streams[0].entries[1].line, "café crème");
  ASSERT_EQ(streams[1].entries.size(), 1u);
  EXPECT_EQ(streams[1].entries[0].timestamp_ns, kT0 + 1'000000001);
  EXPECT_EQ(streams[1].entries[0].line, "charge \"42\" failed\n\tat C:\\pay");

  // The exact protobuf of one entry: stream{labels, entry{timestamp{seconds, nanos}, line}}.
  body.clear();
  EncodeLokiPushProto(std::vector<GenRecord>{Rec(kT0 + 5, Level::kWarn, "s", "i", "x")}, &body);
  ASSERT_TRUE(SnappyUncompress(body, 1 << 20, &raw).ok());
  const std::string labels = R"({instance="i", level="warn", service="s"})";
  std::string want_ts = "\x08";  // seconds, varint
  for (uint64_t v = kT0 / 1'000000000; v != 0; v >>= 7) {
    want_ts.push_back(static_cast<char>((v & 0x7f) | (v >= 0x80 ? 0x80 : 0)));
  }
  want_ts += std::string("\x10\x05", 2);  // nanos = 5
  const std::string entry =
      "\x0a" + std::string(1, static_cast<char>(want_ts.size())) + want_ts + "\x12\x01x";
  const std::string stream = "\x0a" + std::string(1, static_cast<char>(labels.size())) + labels +
                             "\x12" + std::string(1, static_cast<char>(entry.size())) + entry;
  EXPECT_EQ(raw, "\x0a" + std::string(1, static_cast<char>(stream.size())) + stream);
}

TEST(ProtocolEncoderTest, OtlpJsonExactBytesAndLodeReadsTheTruth) {
  const auto records = Sample();
  std::string body;
  EncodeOtlpLogsJson(records, &body);
  EXPECT_EQ(
      body,
      R"({"resourceLogs":[)"
      R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"checkout"}},)"
      R"({"key":"service.instance.id","value":{"stringValue":"checkout-7d9f8b6c5-x2x9k"}}]},)"
      R"("scopeLogs":[{"scope":{"name":"lode-gen"},"logRecords":[)"
      R"({"timeUnixNano":"1731542400123456789","severityNumber":9,"severityText":"INFO",)"
      R"("body":{"stringValue":"GET /cart 200"}},)"
      R"({"timeUnixNano":"1731542402000000000","severityNumber":9,"severityText":"INFO",)"
      R"("body":{"stringValue":"café crème"}}]}]},)"
      R"({"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"payments"}},)"
      R"({"key":"service.instance.id","value":{"stringValue":"10.0.0.7"}}]},)"
      R"("scopeLogs":[{"scope":{"name":"lode-gen"},"logRecords":[)"
      R"({"timeUnixNano":"1731542401000000001","severityNumber":17,"severityText":"ERROR",)"
      R"("body":{"stringValue":"charge \"42\" failed\n\tat C:\\pay"}}]}]}]})");

  // Lode's own OTLP reader gives back what TruthFor promises, for every line of the fleet.
  const auto fleet = FleetSample(500);
  body.clear();
  EncodeOtlpLogsJson(fleet, &body);
  RecordBatch batch;
  OtlpOutcome outcome;
  ASSERT_TRUE(ParseOtlpLogsJson(body, 1, &batch, &outcome).ok());
  EXPECT_EQ(outcome.rejected, 0u);
  ASSERT_EQ(batch.records.size(), fleet.size());
  std::multiset<std::tuple<int64_t, Level, std::string, std::string, std::string>> got, want;
  for (const Record& r : batch.records) {
    got.emplace(r.timestamp_ns, r.level, r.service, r.instance, r.source + "|" + r.message);
  }
  for (const GenRecord& r : fleet) {
    const GenTruth t = TruthFor(GenProtocol::kOtlp, r);
    want.emplace(t.timestamp_ns, t.level, t.service, t.instance,
                 std::string(t.source) + "|" + r.message);
  }
  EXPECT_EQ(got, want);
}

TEST(ProtocolEncoderTest, EsBulkExactBytesAndLodeReadsTheTruth) {
  std::string body;
  EncodeEsBulk(std::vector<GenRecord>{Sample()[1]}, &body);
  EXPECT_EQ(
      body,
      "{\"create\":{\"_index\":\"logs-gen\"}}\n"
      R"({"@timestamp":"2024-11-14T00:00:01.000Z","message":"charge \"42\" failed\n\tat C:\\pay",)"
      R"("log":{"level":"error"},"service":{"name":"payments"},"host":{"name":"10.0.0.7"}})"
      "\n");

  // Each document, through the parser the bulk handler uses, gives TruthFor's answer.
  const auto fleet = FleetSample(500);
  body.clear();
  EncodeEsBulk(fleet, &body);
  std::istringstream lines(body);
  std::string action, doc;
  JsonRecordParser parser;
  ParseContext ctx;
  ctx.default_source = "elasticsearch";
  for (const GenRecord& r : fleet) {
    ASSERT_TRUE(std::getline(lines, action));
    ASSERT_EQ(action, R"({"create":{"_index":"logs-gen"}})");
    ASSERT_TRUE(std::getline(lines, doc));
    const size_t size = doc.size();
    doc.append(JsonRecordParser::kPadding, '\0');
    Record rec;
    ASSERT_TRUE(parser.ParseObject(std::string_view(doc.data(), size), ctx, &rec).ok());
    const GenTruth t = TruthFor(GenProtocol::kEs, r);
    EXPECT_EQ(rec.timestamp_ns, t.timestamp_ns);
    EXPECT_EQ(rec.timestamp_ns % 1'000000, 0);
    EXPECT_EQ(rec.level, t.level);
    EXPECT_EQ(rec.service, t.service);
    EXPECT_EQ(rec.instance, t.instance);
    EXPECT_EQ(rec.source, t.source);
    EXPECT_EQ(rec.message, r.message);
  }
  EXPECT_FALSE(std::getline(lines, action));
}

TEST(ProtocolEncoderTest, SyslogExactBytes) {
  std::string msg;
  EncodeSyslog5424(Sample()[1], kSyslogTcpMaxBytes, &msg);
  EXPECT_EQ(msg,
            "<131>1 2024-11-14T00:00:01.000000Z 10.0.0.7 payments - - - "
            "charge \"42\" failed\n\tat C:\\pay");
  std::string framed;
  AppendOctetCounted("<134>1 x", &framed);
  AppendOctetCounted("ab", &framed);
  EXPECT_EQ(framed, "8 <134>1 x2 ab");

  // Severities: fatal 2 crit, error 3, warn 4, info 6, debug 7; facility local0 (16).
  const std::pair<Level, std::string_view> kPri[] = {
      {Level::kFatal, "<130>"}, {Level::kError, "<131>"}, {Level::kWarn, "<132>"},
      {Level::kInfo, "<134>"},  {Level::kDebug, "<135>"}, {Level::kTrace, "<135>"}};
  for (const auto& [level, pri] : kPri) {
    msg.clear();
    EncodeSyslog5424(Rec(kT0, level, "a", "h", ""), 100, &msg);
    EXPECT_EQ(msg, std::string(pri) + "1 2024-11-14T00:00:00.000000Z h a - - -");
  }
  // Header fields: printable ASCII without spaces, nil when empty, at most 255 / 48 bytes.
  EXPECT_EQ(SyslogHeaderField("my host\tü", 255), "my_host___");
  EXPECT_EQ(SyslogHeaderField("", 48), "-");
  EXPECT_EQ(SyslogHeaderField(std::string(300, 'h'), 255), std::string(255, 'h'));
  msg.clear();
  EncodeSyslog5424(Rec(kT0, Level::kInfo, std::string(60, 's'), "", "m"), 1000, &msg);
  EXPECT_EQ(msg, "<134>1 2024-11-14T00:00:00.000000Z - " + std::string(48, 's') + " - - - m");
}

TEST(ProtocolEncoderTest, SyslogUdpCutsLongMessagesAtACharacterBoundary) {
  std::string text;
  while (text.size() < 3 * kSyslogUdpMaxBytes) text += "é";  // 2 bytes each
  std::string msg;
  EncodeSyslog5424(Rec(kT0, Level::kWarn, "svc", "host", "x" + text), kSyslogUdpMaxBytes, &msg);
  EXPECT_LE(msg.size(), kSyslogUdpMaxBytes);
  EXPECT_GE(msg.size(), kSyslogUdpMaxBytes - 1);
  EXPECT_NE(static_cast<unsigned char>(msg.back()), 0xC3);  // never the first byte of "é" alone
  Record r;
  ASSERT_TRUE(ParseSyslog(msg, 1, &r).ok());
  EXPECT_EQ(r.service, "svc");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_TRUE(r.message.starts_with("xé"));
  EXPECT_EQ((r.message.size() - 1) % 2, 0u);
}

TEST(ProtocolEncoderTest, SyslogLodeReadsTheTruth) {
  auto fleet = FleetSample(500);
  fleet.push_back(Rec(kT0 + 987654321, Level::kTrace, "odd service", "host name", "m"));
  fleet.push_back(Rec(kT0, Level::kFatal, "", "", ""));
  for (const GenRecord& r : fleet) {
    std::string msg;
    EncodeSyslog5424(r, kSyslogTcpMaxBytes, &msg);
    Record rec;
    ASSERT_TRUE(ParseSyslog(msg, 1, &rec).ok()) << msg;
    const GenTruth t = TruthFor(GenProtocol::kSyslogTcp, r);
    EXPECT_EQ(rec.timestamp_ns, t.timestamp_ns) << msg;
    EXPECT_EQ(rec.timestamp_ns % 1000, 0);
    EXPECT_EQ(rec.level, t.level) << msg;
    EXPECT_EQ(rec.service, t.service) << msg;
    EXPECT_EQ(rec.instance, t.instance) << msg;
    EXPECT_EQ(rec.source, t.source);
    EXPECT_EQ(rec.message, r.message);
  }
  const GenTruth odd = TruthFor(GenProtocol::kSyslogUdp, fleet[500]);
  EXPECT_EQ(odd.service, "odd_service");
  EXPECT_EQ(odd.instance, "host_name");
  EXPECT_EQ(odd.level, Level::kDebug);  // severity 7
  EXPECT_EQ(odd.timestamp_ns, kT0 + 987654000);
}

TEST(ProtocolEncoderTest, TruthOfTheOtherProtocols) {
  const GenRecord r = Rec(kT0 + 123456789, Level::kWarn, "", "h", "WARN x");
  GenTruth t = TruthFor(GenProtocol::kLoki, r);
  EXPECT_EQ(t.timestamp_ns, r.timestamp_ns);
  EXPECT_EQ(t.source, "loki");
  t = TruthFor(GenProtocol::kEs, r);
  EXPECT_EQ(t.timestamp_ns, kT0 + 123000000);
  EXPECT_EQ(t.service, "logs-gen");  // the index names a service-less document's service
  // A line of unknown level is sent without one: Lode reads the message's level word.
  t = TruthFor(GenProtocol::kOtlp, Rec(kT0, Level::kUnknown, "s", "i", "ERROR boom"));
  EXPECT_EQ(t.level, Level::kError);
}

TEST(ProtocolEncoderTest, RejectedByAnswer) {
  using P = GenProtocol;
  EXPECT_EQ(*RejectedByAnswer(P::kHttp, 200, R"({"accepted":3,"rejected":2,"errors":[]})"), 2u);
  EXPECT_FALSE(RejectedByAnswer(P::kHttp, 400, R"({"accepted":0,"rejected":2})").ok());
  EXPECT_EQ(*RejectedByAnswer(P::kLoki, 204, ""), 0u);
  EXPECT_EQ(*RejectedByAnswer(P::kLokiProto, 400,
                              "3 entries rejected (the others were stored):\nstream 0 ..."),
            3u);
  EXPECT_FALSE(RejectedByAnswer(P::kLoki, 400, "push body needs a \"streams\" array").ok());
  EXPECT_EQ(*RejectedByAnswer(P::kOtlp, 200, "{}"), 0u);
  EXPECT_EQ(
      *RejectedByAnswer(P::kOtlp, 200,
                        R"({"partialSuccess":{"rejectedLogRecords":"4","errorMessage":"bad"}})"),
      4u);
  EXPECT_EQ(*RejectedByAnswer(P::kEs, 200, R"({"took":1,"errors":false,"items":[]})"), 0u);
  EXPECT_EQ(*RejectedByAnswer(P::kEs, 200,
                              R"({"took":1,"errors":true,"items":[{"create":{"status":201}},)"
                              R"({"create":{"status":400,"error":{}}},{"index":{"status":429}}]})"),
            2u);
  auto failed = RejectedByAnswer(P::kEs, 413, "too large\n");
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().message(), "server answered 413: too large");
}

// ---- Kubernetes container log files ----

TEST(GenK8sFilesTest, PodNamesMatchKubernetesAndStripToTheService) {
  const RE2 pod_re(
      "([a-z0-9-]+)-([bcdfghjklmnpqrstvwxz2456789]{9,10})-([bcdfghjklmnpqrstvwxz2456789]{5})");
  const RE2 uid_re("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}");
  std::set<std::string> pods;
  std::set<std::string> namespaces;
  for (std::string_view service : {"checkout", "code-scanner-service", "Api_Gateway.v2", "--"}) {
    std::string hash;
    for (int i = 0; i < 5; ++i) {
      const std::string instance = "instance-" + std::to_string(i);
      const K8sPod pod = K8sPodFor(42, service, instance);
      std::string deployment_part, hash_part;
      ASSERT_TRUE(RE2::FullMatch(pod.pod_name, pod_re, &deployment_part, &hash_part))
          << pod.pod_name;
      EXPECT_EQ(deployment_part, pod.container);
      EXPECT_EQ(pod.container, SanitizeDnsLabel(service));
      // Stripping the last two '-'-separated parts gives the Deployment: the container.
      std::string deployment = pod.pod_name.substr(0, pod.pod_name.rfind('-'));
      deployment = deployment.substr(0, deployment.rfind('-'));
      EXPECT_EQ(deployment, pod.container);
      if (hash.empty()) hash = hash_part;
      EXPECT_EQ(hash_part, hash) << "one pod-template-hash per service";
      EXPECT_TRUE(RE2::FullMatch(pod.uid, uid_re)) << pod.uid;
      EXPECT_TRUE(pod.namespace_name == "prod" || pod.namespace_name == "staging" ||
                  pod.namespace_name == "payments");
      EXPECT_EQ(pod.Directory(),
                pod.namespace_name + "_" + pod.pod_name + "_" + pod.uid + "/" + pod.container);
      pods.insert(pod.pod_name);
      namespaces.insert(pod.namespace_name);
      // Deterministic for the seed, different for another.
      EXPECT_EQ(K8sPodFor(42, service, instance).uid, pod.uid);
      EXPECT_NE(K8sPodFor(43, service, instance).pod_name, pod.pod_name);
    }
  }
  EXPECT_EQ(pods.size(), 20u);
  EXPECT_EQ(SanitizeDnsLabel("checkout"), "checkout");
  EXPECT_EQ(SanitizeDnsLabel("Api_Gateway.v2"), "api-gateway-v2");
  EXPECT_EQ(SanitizeDnsLabel("--"), "app");
  EXPECT_EQ(SanitizeDnsLabel(std::string(80, 'a')), std::string(40, 'a'));
}

TEST(GenK8sFilesTest, CriLinesAndContent) {
  std::string out;
  AppendCriLine(kT0 + 10'000000, false, false, "INFO hello", &out);
  AppendCriLine(kT0 + 123456789, true, true, "ERROR part", &out);
  AppendCriLine(kT0, false, false, "", &out);
  EXPECT_EQ(out,
            "2024-11-14T00:00:00.01Z stdout F INFO hello\n"
            "2024-11-14T00:00:00.123456789Z stderr P ERROR part\n"
            "2024-11-14T00:00:00Z stdout F \n");

  EXPECT_EQ(CriContent(Rec(kT0, Level::kWarn, "s", "i", "disk 91% full")), "WARN disk 91% full");
  // The fleet's Docker lines already start with the level word.
  EXPECT_EQ(CriContent(Rec(kT0, Level::kInfo, "s", "i", "INFO started")), "INFO started");
  EXPECT_EQ(CriContent(Rec(kT0, Level::kError, "s", "i", "a\nb\r\n")), "ERROR a\\nb\\r\\n");
  EXPECT_EQ(CriContent(Rec(kT0, Level::kUnknown, "s", "i", "plain")), "plain");
  // Lode reads each level back from the content, even when the message has another level word.
  for (Level level :
       {Level::kTrace, Level::kDebug, Level::kInfo, Level::kWarn, Level::kError, Level::kFatal}) {
    EXPECT_EQ(LevelFromMessage(CriContent(Rec(kT0, level, "s", "i", "x ERROR level=info"))), level);
  }
}

// Reads a whole file.
std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct CriRecord {
  std::string timestamp, stream, tag, content;
};

// Splits a CRI log into records; fails the test on a malformed line or a partial last line.
std::vector<CriRecord> ParseCri(const std::string& text) {
  std::vector<CriRecord> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t nl = text.find('\n', pos);
    EXPECT_NE(nl, std::string::npos) << "a partial line at the end";
    if (nl == std::string::npos) break;
    const std::string line = text.substr(pos, nl - pos);
    pos = nl + 1;
    const size_t a = line.find(' ');
    const size_t b = line.find(' ', a + 1);
    const size_t c = line.find(' ', b + 1);
    EXPECT_NE(c, std::string::npos) << line;
    if (c == std::string::npos) continue;
    out.push_back({line.substr(0, a), line.substr(a + 1, b - a - 1), line.substr(b + 1, c - b - 1),
                   line.substr(c + 1)});
  }
  return out;
}

TEST(GenK8sFilesTest, PartialRecordsReassembleToTheLine) {
  TempDir dir;
  K8sLogWriter::Options options;
  options.root = dir.path();
  options.seed = 3;
  options.partial_rate = 1.0;  // split every line
  options.rotate_bytes = 0;
  K8sLogWriter writer(options);
  const auto fleet = FleetSample(300);
  ASSERT_TRUE(writer.Write(std::span(fleet).first(150)).ok());
  ASSERT_TRUE(writer.Write(std::span(fleet).subspan(150)).ok());

  // Per container, the expected lines in order.
  std::map<std::string, std::vector<const GenRecord*>> want;
  for (const GenRecord& r : fleet) {
    want[writer.Pod(r.service, r.instance).Directory()].push_back(&r);
  }
  size_t lines = 0, partials = 0;
  for (const auto& [container, records] : want) {
    const auto cri = ParseCri(Slurp(dir.path() + "/" + container + "/0.log"));
    size_t next = 0;
    std::string joined;
    for (size_t i = 0; i < cri.size(); ++i) {
      ASSERT_TRUE(cri[i].tag == "P" || cri[i].tag == "F");
      joined += cri[i].content;
      if (cri[i].tag == "P") {
        ++partials;
        // The parts of a line share its timestamp and stream.
        ASSERT_LT(i + 1, cri.size());
        EXPECT_EQ(cri[i + 1].timestamp, cri[i].timestamp);
        EXPECT_EQ(cri[i + 1].stream, cri[i].stream);
        continue;
      }
      ASSERT_LT(next, records.size());
      const GenRecord& r = *records[next++];
      EXPECT_EQ(joined, CriContent(r));
      EXPECT_EQ(cri[i].timestamp, FormatRfc3339(r.timestamp_ns));
      EXPECT_EQ(cri[i].stream,
                r.level == Level::kError || r.level == Level::kFatal ? "stderr" : "stdout");
      joined.clear();
      ++lines;
    }
    EXPECT_EQ(next, records.size());
  }
  EXPECT_EQ(lines, fleet.size());
  EXPECT_GE(partials, fleet.size());  // 2-3 records per line
  EXPECT_LE(partials, 2 * fleet.size());

  // With the default rate, about 2% of the lines are split.
  TempDir dir2;
  options.root = dir2.path();
  options.partial_rate = 0.02;
  K8sLogWriter sparse(options);
  const auto many = FleetSample(5000);
  ASSERT_TRUE(sparse.Write(many).ok());
  size_t split = 0, total = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir2.path())) {
    if (!entry.is_regular_file()) continue;
    for (const CriRecord& c : ParseCri(Slurp(entry.path().string()))) {
      total += c.tag == "F";
      split += c.tag == "P";
    }
  }
  EXPECT_EQ(total, many.size());
  EXPECT_GT(split, 30u);
  EXPECT_LT(split, 300u);
}

TEST(GenK8sFilesTest, TruthNamesThePodAndTheDeployment) {
  TempDir dir;
  K8sLogWriter::Options options;
  options.root = dir.path();
  options.seed = 9;
  K8sLogWriter writer(options);
  const GenRecord r = Rec(kT0 + 7, Level::kFatal, "Billing_API", "billing-1", "out of memory");
  const GenTruth t = writer.Truth(r);
  const K8sPod& pod = writer.Pod(r.service, r.instance);
  EXPECT_EQ(t.service, "billing-api");
  EXPECT_EQ(t.instance, pod.pod_name);
  EXPECT_EQ(t.source, "k8s");
  EXPECT_EQ(t.level, Level::kFatal);
  EXPECT_EQ(t.timestamp_ns, kT0 + 7);
  EXPECT_EQ(pod.pod_name, K8sPodFor(9, r.service, r.instance).pod_name);
}

TEST(GenK8sFilesTest, RotationRenamesAndKeepsN) {
  TempDir dir;
  ManualClock clock(kT0 + 15 * 3600'000000000LL + 61'000000000LL);  // 2024-11-14T15:01:01Z
  K8sLogWriter::Options options;
  options.root = dir.path();
  options.seed = 5;
  options.rotate_bytes = 1000;
  options.rotate_keep = 3;
  options.partial_rate = 0;
  options.clock = &clock;
  K8sLogWriter writer(options);
  const std::string line(150, 'x');
  std::vector<GenRecord> batch;
  for (int i = 0; i < 4; ++i) batch.push_back(Rec(kT0 + i, Level::kInfo, "svc", "a", line));
  const std::string container = dir.path() + "/" + writer.Pod("svc", "a").Directory();
  std::string all_written;

  // Two rotations within the same second get a counter suffix; then the oldest go.
  for (int round = 0; round < 8; ++round) {
    if (round == 2) clock.Advance(1'000000000);
    ASSERT_TRUE(writer.Write(batch).ok());
  }
  std::vector<std::string> names;
  for (const auto& e : std::filesystem::directory_iterator(container)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  // Each write of 4 lines (~840 bytes) leaves 0.log under 1000 bytes; every second one rotates.
  EXPECT_EQ(names,
            (std::vector<std::string>{"0.log", "0.log.20241114-150102", "0.log.20241114-150102.1",
                                      "0.log.20241114-150102.2"}));
  EXPECT_EQ(Slurp(container + "/0.log"), "");
  for (const std::string& name : names) {
    if (name == "0.log") continue;
    const auto cri = ParseCri(Slurp(container + "/" + name));
    EXPECT_EQ(cri.size(), 8u) << name;
  }

  // A writer that finds rotated files (of an earlier run) keeps counting them.
  K8sLogWriter again(options);
  ASSERT_TRUE(again.Write(batch).ok());
  ASSERT_TRUE(again.Write(batch).ok());
  names.clear();
  for (const auto& e : std::filesystem::directory_iterator(container)) {
    names.push_back(e.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names,
            (std::vector<std::string>{"0.log", "0.log.20241114-150102.1", "0.log.20241114-150102.2",
                                      "0.log.20241114-150102.3"}));
}

TEST(GenK8sFilesTest, RotatedFilesOldestFirst) {
  EXPECT_EQ(
      K8sLogWriter::RotatedFiles({"0.log", "0.log.20241114-150102.10", "0.log.20241114-150102",
                                  "0.log.20241114-150102.2", "0.log.20231231-235959", "0.log.tmp",
                                  "0.log.20241114-150102.gz", "other"}),
      (std::vector<std::string>{"0.log.20231231-235959", "0.log.20241114-150102",
                                "0.log.20241114-150102.2", "0.log.20241114-150102.10"}));
}

}  // namespace
}  // namespace lode
