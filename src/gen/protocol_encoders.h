// The simulated fleet in the wire formats of the protocols Lode ingests (`lode gen --protocol`),
// and the ground truth a correct Lode parse yields for each: pure functions from generated lines
// to bytes, plus K8sLogWriter, which lays the fleet out as Kubernetes container log files.
//
// What each protocol carries (service, instance and level always travel in the protocol's own
// fields, the message as the line's raw text):
//
//   loki        Loki push JSON for POST /loki/api/v1/push: one stream per (instance, level,
//               service) label set, in order of first appearance, entries in input order,
//               timestamps as ns strings (exact):
//               {"streams":[{"stream":{"instance":"i","level":"info","service":"s"},
//                            "values":[["1731542400000000000","line"],...]},...]}
//   loki-proto  The same as the protobuf PushRequest, snappy-compressed (Promtail's body); the
//               label string is {instance="i", level="info", service="s"} (exact ns).
//   otlp        OTLP/HTTP JSON for POST /v1/logs: one resourceLogs per (service, instance) with
//               resource attributes service.name and service.instance.id, one scopeLogs
//               (scope "lode-gen"), logRecords with timeUnixNano (a string, exact),
//               severityNumber (1 trace, 5 debug, 9 info, 13 warn, 17 error, 21 fatal),
//               severityText (TRACE ... FATAL) and body.stringValue.
//   es          Elasticsearch bulk for POST /_bulk: {"create":{"_index":"<index>"}} then an
//               ECS document {"@timestamp":"<RFC 3339, ms>","message":..,"log":{"level":..},
//               "service":{"name":..},"host":{"name":..}} per line (timestamp truncated to ms).
//   syslog-*    RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME - - - MSG, facility local0 (16),
//               severity from the level (trace and debug 7, info 6, warn 4, error 3, fatal 2),
//               TIMESTAMP RFC 3339 UTC with 6 fraction digits (truncated to µs), HOSTNAME the
//               instance and APP-NAME the service made printable ASCII without spaces ('_'
//               for other bytes; at most 255 and 48 bytes; "-" when empty). TCP frames each
//               message with octet counting (RFC 6587 3.4.1, "LEN SP MSG").
//   files       Kubernetes container log files as kubelet lays them out (K8sLogWriter below).
//
// The level of a line with Level::kUnknown is not sent (no label, severity, field or level
// word) so Lode reads it from the message; syslog, which must send a severity, sends notice (5).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/clock.h"
#include "common/env.h"
#include "common/record.h"
#include "common/status.h"
#include "gen/fleet.h"

namespace lode {

// The ways `lode gen` can deliver the fleet.
enum class GenProtocol : uint8_t {
  kHttp,       // the fleet's own JSON lines as NDJSON to POST /api/v1/logs
  kLoki,       // Loki push JSON
  kLokiProto,  // Loki push protobuf + snappy
  kOtlp,       // OTLP/HTTP JSON
  kEs,         // Elasticsearch bulk
  kSyslogUdp,  // RFC 5424, one message per datagram
  kSyslogTcp,  // RFC 5424, octet-counted frames
  kFiles,      // Kubernetes container log files (CRI format)
};

// "http", "loki", "loki-proto", "otlp", "es", "syslog-udp", "syslog-tcp", "files".
std::string_view GenProtocolName(GenProtocol protocol);
// The inverse of GenProtocolName; InvalidArgument listing the names otherwise.
Result<GenProtocol> ParseGenProtocol(std::string_view name);
// True for the protocols sent as HTTP requests (they take a tenant and a URL path).
bool IsHttpProtocol(GenProtocol protocol);

// One generated line, owning its text (GeneratedLine's message lives only until the next line).
struct GenRecord {
  int64_t timestamp_ns = 0;
  Level level = Level::kInfo;
  std::string service;
  std::string instance;
  std::string message;

  static GenRecord From(const GeneratedLine& line);
};

// What a correct Lode parse yields for a line: one row of `lode gen --truth`.
struct GenTruth {
  int64_t timestamp_ns = 0;
  Level level = Level::kUnknown;
  std::string service;
  std::string instance;
  std::string_view source;  // Record::source as Lode sets it; a static string
};

// The ground truth of `record` sent with `protocol`: its timestamp truncated to the protocol's
// precision, its level as Lode maps the protocol's severity back, service and instance as the
// protocol carries them. REQUIRES: protocol is neither kHttp (the fleet's JSON has its own truth,
// GeneratedLine) nor kFiles (K8sLogWriter::Truth).
GenTruth TruthFor(GenProtocol protocol, const GenRecord& record);

// ---- Encoders. Each appends to *out. ----

// Loki push JSON (the whole request body).
void EncodeLokiPushJson(std::span<const GenRecord> records, std::string* out);
// Loki push protobuf, snappy-compressed (the whole request body).
void EncodeLokiPushProto(std::span<const GenRecord> records, std::string* out);
// OTLP/HTTP JSON ExportLogsServiceRequest (the whole request body).
void EncodeOtlpLogsJson(std::span<const GenRecord> records, std::string* out);
// The index of the bulk requests; Lode makes it the service of a document that names none.
inline constexpr std::string_view kGenEsIndex = "logs-gen";
// Elasticsearch bulk NDJSON (the whole request body, ending in "\n"), `create` actions into
// kGenEsIndex.
void EncodeEsBulk(std::span<const GenRecord> records, std::string* out);

// Longest syslog message sent in one UDP datagram, and over TCP (Lode's default
// syslog.max_message_bytes: a longer TCP frame would close the connection).
inline constexpr size_t kSyslogUdpMaxBytes = 8 << 10;
inline constexpr size_t kSyslogTcpMaxBytes = 64 << 10;

// The RFC 5424 severity sent for a level.
int SyslogSeverityFor(Level level);
// `text` as an RFC 5424 header field: bytes outside '!'..'~' become '_', at most `max_bytes`
// bytes, "-" (the nil value) when empty.
std::string SyslogHeaderField(std::string_view text, size_t max_bytes);
// One RFC 5424 message, without framing, of at most `max_bytes` bytes: MSG is cut (at a UTF-8
// character boundary) to fit.
void EncodeSyslog5424(const GenRecord& record, size_t max_bytes, std::string* out);
// RFC 6587 octet-counting frame: "<length of msg> <msg>".
void AppendOctetCounted(std::string_view msg, std::string* out);

// RFC 3339 UTC with exactly `digits` (0-9) fraction digits, truncated (not rounded):
// FormatRfc3339Fixed(t, 3) = "2024-11-14T00:00:00.010Z".
std::string FormatRfc3339Fixed(int64_t ns, int digits);

// How many lines the server refused, read from its answer to a request of `protocol`
// (an HTTP one) that carried `sent` lines: the "rejected" count of /api/v1/logs, Loki's
// "N entries rejected" (a 400 that stored the others), OTLP's partialSuccess, the failed items
// of a bulk answer with "errors": true. An error when the answer says the request failed as a
// whole (the caller retries 429 and 503 before asking).
Result<uint64_t> RejectedByAnswer(GenProtocol protocol, int http_status, std::string_view body);

// ---- Kubernetes container log files ----

// Where a (service, instance) of the fleet runs as a pod.
struct K8sPod {
  std::string namespace_name;  // one of a few per fleet, chosen per service
  std::string pod_name;        // <deployment>-<pod-template-hash>-<suffix>
  std::string uid;             // UUID v4 shape
  std::string container;       // = deployment = the sanitized service name

  // "<namespace>_<pod>_<uid>/<container>", the directory of its log files under the log root.
  std::string Directory() const;
};

// Kubernetes' alphabet for generated names (no vowels, no confusable characters).
inline constexpr std::string_view kK8sNameAlphabet = "bcdfghjklmnpqrstvwxz2456789";

// `name` as a DNS-1123 label usable as a Deployment name: lower case, bytes outside [a-z0-9-]
// become '-', no leading or trailing '-', at most 40 bytes (so the pod name stays a valid
// label); "app" when nothing is left.
std::string SanitizeDnsLabel(std::string_view name);

// The pod of `instance` of `service`, a pure function of the three: the namespace and the
// 9-10 character pod-template hash depend on (seed, service), the 5 character suffix and the
// uid on (seed, service, instance). Stripping the last two '-'-separated parts of pod_name gives
// container (the service's Deployment).
K8sPod K8sPodFor(uint64_t seed, std::string_view service, std::string_view instance);

// One CRI log line, as containerd and CRI-O write it:
// "<RFC3339Nano UTC> <stdout|stderr> <P|F> <content>\n". REQUIRES: content has no '\n'.
void AppendCriLine(int64_t timestamp_ns, bool to_stderr, bool partial, std::string_view content,
                   std::string* out);

// The content a line gets in a container log: "<LEVEL> <message>" (LEVEL one of TRACE, DEBUG,
// INFO, WARN, ERROR, FATAL, the upper-case words Lode's LevelFromMessage reads), unless the
// message already starts with that word and a space (the fleet's Docker lines do), or the level
// is unknown. A container writes one line per '\n', and Lode would store a multi-line message as
// several records, so '\n' and '\r' are written as the two characters "\n" and "\r": one
// generated line stays one record.
std::string CriContent(const GenRecord& record);

// Writes the fleet as Kubernetes container log files under a root directory, the way kubelet
// lays them out (what a node agent such as Fluent Bit or Lode's tailer reads):
//
//   <root>/<namespace>_<pod>_<uid>/<container>/0.log           the file being written
//   <root>/<namespace>_<pod>_<uid>/<container>/0.log.<YYYYMMDD-HHMMSS>[.<n>]   rotated ones
//
// Each line is a CRI record (AppendCriLine) of CriContent(record); error and fatal lines go to
// stderr, the others to stdout. With probability `partial_rate` a line is split at random byte
// positions into 2-3 records, all but the last marked P (partial), as runtimes do with long
// lines; the parts share the timestamp and stream. The choice is deterministic for the seed.
//
// Write() appends a batch with one write(2) per container file, whole lines only, so a tailer
// never sees a line cut at a batch end. After a write, a 0.log larger than `rotate_bytes` is
// renamed to 0.log.<UTC now, YYYYMMDD-HHMMSS> (".1", ".2", ... appended when that exists) and a
// new 0.log started; only the newest `rotate_keep` rotated files of a container are kept.
// Existing files are appended to (a rerun with the same seed writes into the same pods).
//
// Not thread-safe.
class K8sLogWriter {
 public:
  struct Options {
    std::string root;                  // the log root, e.g. /var/log/pods
    uint64_t seed = 1;                 // names the pods and drives the partial splits
    uint64_t rotate_bytes = 10 << 20;  // 0: never rotate
    int rotate_keep = 5;               // rotated files kept per container
    double partial_rate = 0.02;        // probability that a line is split into P..F records
    Env* env = Env::Default();         // REQUIRES: outlives the writer
    Clock* clock = Clock::Real();      // names rotated files; REQUIRES: outlives the writer
  };

  explicit K8sLogWriter(Options options);
  ~K8sLogWriter();
  K8sLogWriter(const K8sLogWriter&) = delete;
  K8sLogWriter& operator=(const K8sLogWriter&) = delete;

  // Appends `records`, in order, to their containers' logs (see the class comment). An IOError
  // leaves the lines of containers not yet written unwritten.
  Status Write(std::span<const GenRecord> records);

  // The ground truth of `record` written here: service = the Deployment (pod.container),
  // instance = the pod name, source "k8s", the exact timestamp and level.
  GenTruth Truth(const GenRecord& record);

  // The pod of (service, instance), remembered after the first call.
  const K8sPod& Pod(std::string_view service, std::string_view instance);

  // Of the file names of a container's log directory, the rotated files
  // (0.log.YYYYMMDD-HHMMSS[.N]), oldest first.
  static std::vector<std::string> RotatedFiles(const std::vector<std::string>& names);

 private:
  struct Container;

  Result<Container*> Open(const K8sPod& pod);
  Status Rotate(Container* c);
  uint64_t Rand();

  Options options_;
  std::map<std::string, K8sPod> pods_;                            // key: service '\0' instance
  std::map<std::string, std::unique_ptr<Container>> containers_;  // key: K8sPod::Directory()
  uint64_t rng_;
};

}  // namespace lode
