// The simulated fleet behind `lode gen`: a set of services, each running a few instances, spread
// over four kinds of origin that each write JSON log lines in the shape that origin really
// produces. Every generated line comes with its ground truth (event time, level, service,
// instance, source, message template), which tests and benchmarks check parsers, pattern mining
// and queries against.
//
// The four origins, and where a correct parser finds each ground-truth field:
//
// source "k8s": a Fluent Bit / Vector Kubernetes record,
//     {"time":"2024-11-14T15:01:04.123456789Z","stream":"stdout","log":"<message>","level":"info",
//      "kubernetes":{"namespace_name":"prod","pod_name":"checkout-7d9f8b6c5-x2x9k",
//      "container_name":"checkout","host":"ip-10-0-17-42.ec2.internal",
//      "labels":{"app":"checkout","pod-template-hash":"7d9f8b6c5"}}}
//   time: RFC 3339 in UTC, always 9 fraction digits (ns precision).
//   level: lower case (debug, info, warn, error, fatal).
//   service = kubernetes.labels.app, instance = kubernetes.pod_name.
//
// source "docker": a json-file / Fluentd Docker record,
//     {"log":"INFO <message>\n","stream":"stdout","time":"2024-11-14T15:01:04.1234567Z",
//      "attrs":{"tag":"acme/billing:1.4.2/billing-1"},"container_name":"billing-1",
//      "container_id":"<64 hex>","service":"billing"}
//   time: Go's RFC3339Nano in UTC: trailing zeros of the fraction trimmed, no fraction at all on
//   a whole second (ns precision).
//   level: the first word of `log`, one of DEBUG, INFO, WARN, ERROR, FATAL; the message follows
//   after one space, and `log` ends in "\n".
//   service = service, instance = container_name.
//
// source "cloudwatch": a CloudWatch Logs event as forwarded by a subscription,
//     {"timestamp":1731596464123,"message":"...","logGroup":"/aws/lambda/payments",
//      "logStream":"2024/11/14/[$LATEST]<32 hex>","level":"ERROR"}
//   timestamp: epoch ms as a JSON number (ms precision).
//   level: upper case (DEBUG, INFO, WARN, ERROR, FATAL).
//   service = the last path component of logGroup (/aws/lambda/<s> or /ecs/<s>),
//   instance = logStream (Lambda streams carry the UTC date of the generator's first event).
//
// source "http": apps posting over HTTP, in the DESIGN.md shape,
//     {"message": "...", "level": "info",
//      "timestamp": "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)",
//      "source": {"type": "http", "entity": "code-scanner-service",
//      "entityInstance": "123.141.2.1"}}
//   service = source.entity, instance = source.entityInstance.
//   Per service (consistently for all its lines) the field names are one of message|msg,
//   level|severity|lvl and timestamp|ts|@timestamp; the order of the fields and the spacing after
//   ':' and ',' vary too. Timestamp shapes, per service, with their precision:
//     "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)"   s
//     "Thu Nov 14 2024 17:01:04 GMT-0330 (Newfoundland Standard Time)"  s
//     "2024-11-14T17:01:04.123+02:00"                                    ms
//     1731596464.123   (a JSON number: epoch seconds, 3 fraction digits) ms
//     "1731596464123"  (a string: epoch ms)                              ms
//     "Thu, 14 Nov 2024 17:01:04 +0200"  (RFC 2822)                      s
//   The local time written is the event time plus the zone's offset, so a correct parser gets
//   back the instant. Level spellings, per service, in the order debug, info, warn, error, fatal:
//     debug info warn error fatal                (canonical)
//     DEBUG INFO WARNING ERROR FATAL
//     Debug Information Warning Error Critical   (.NET; Critical = fatal)
//     D I W E F                                  (glog-style letters)
//     DBG INF WRN ERR FTL                        (Serilog / zerolog short forms)
//     debug info warning err crit                (syslog keywords; crit = fatal)
//     20 30 40 50 60                             (pino numbers, as JSON numbers)
//
// Some services also write the access-log figures as numeric top-level fields "status" and
// "latency_ms" (k8s, cloudwatch and http origins); others put `status=<n> latency_ms=<n>` in the
// message (logfmt), so `| json | latency_ms > 500` has something to find either way.
//
// Levels: roughly 5.5% debug, 76% info, 12% warn, 6% error, 0.5% fatal, plus error bursts: with
// probability FleetOptions::error_burst_rate per line (checked while no burst is running) a burst
// starts on a uniformly chosen service, which then writes ~85% errors for its next 200-2000
// lines. With the default rate that brings errors to ~11% overall.
//
// The needle: the word kNeedleWord ("zebracorn") appears only in template NeedleTemplateId(),
// which is emitted with probability 1e-6 per line (deterministically for a seed), for
// needle-in-a-haystack search benchmarks.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"

namespace lode {

// The rare word: it occurs in about one generated line in a million and in no other line.
inline constexpr std::string_view kNeedleWord = "zebracorn";

// Shape of the simulated fleet.
struct FleetOptions {
  uint64_t seed = 1;
  int services = 12;              // distinct services (values < 1 mean 1)
  int instances_per_service = 3;  // pods / containers / hosts per service (values < 1 mean 1)
  // Per line, the probability that an error burst starts on some service.
  double error_burst_rate = 0.002;
};

// What the generator put in one line (the ground truth tests and benchmarks check against).
struct GeneratedLine {
  int64_t timestamp_ns;  // event time encoded in the line (truncated to the shape's precision)
  Level level;
  std::string_view service;   // canonical service name a correct parser derives from the line
  std::string_view instance;  // instance a correct parser derives
  std::string_view source;    // "http", "k8s", "docker", "cloudwatch"
  int template_id;            // index of the message template used (for pattern-mining accuracy)
  // The raw message text, as a correct parser yields it for the record: the message/msg/log field
  // value as written (unescaped), and for Docker lines the whole `log` value (level word included)
  // minus its trailing "\n". Valid until the next Next() call.
  std::string_view message;
};

// Produces log lines from the simulated fleet. Deterministic for a seed: the same options and the
// same sequence of Next() calls give byte-identical output on every platform. Not thread-safe; use
// one per thread (with different seeds for different output).
class FleetGenerator {
 public:
  explicit FleetGenerator(const FleetOptions& options);

  // Appends one JSON object (no trailing newline) describing an event at `timestamp_ns` to *out
  // and returns its ground truth. The string_views in the result stay valid for the generator's
  // lifetime, except `message`, which is valid until the next Next() call.
  GeneratedLine Next(int64_t timestamp_ns, std::string* out);

  // Number of distinct message templates the generator can emit (including the needle).
  static int TemplateCount();
  // Text of template `template_id` with <*> for each variable; empty when out of range.
  static std::string_view TemplateText(int template_id);
  // The template that carries kNeedleWord.
  static int NeedleTemplateId();

  // Service names, in the order services were created; GeneratedLine::service points into these.
  const std::vector<std::string>& service_names() const { return service_names_; }

 private:
  struct Instance {
    std::string name;  // the ground-truth instance
    std::string host;  // k8s: node name
    std::string id;    // docker: container id
  };
  struct Service {
    uint8_t origin = 0;        // index into the origin table of fleet.cc
    bool json_fields = false;  // access templates also write "status" and "latency_ms" fields
    bool spaced = false;       // http: ": " and ", " separators
    bool ts_first = false;     // http: timestamp field before message
    uint8_t ts_shape = 0;      // http: timestamp shape
    uint8_t level_style = 0;   // http: level spelling
    uint8_t level_key = 0;     // http: level|severity|lvl
    uint8_t msg_key = 0;       // http: message|msg
    uint8_t ts_key = 0;        // http: timestamp|ts|@timestamp
    uint8_t zone = 0;          // http: time zone for local-time shapes
    bool lambda = false;       // cloudwatch: Lambda stream names start with a date
    std::string group;         // cloudwatch: log group; k8s: pod-template-hash; docker: image
    std::array<std::vector<uint16_t>, kLevelCount> templates_by_level;  // weighted choices
    std::vector<Instance> instances;
  };
  struct LineVars;  // per-line values shared by a message's variables (fleet.cc)

  // Next xoshiro256** output.
  uint64_t Rand();
  // Uniform in [0, n), for n <= 2^32.
  uint32_t Below(uint64_t n);
  // Appends a random value of template variable kind `var` (an enum of fleet.cc).
  void AppendVar(int var, const LineVars& line, std::string* out);
  // Writes the UTC date of the first event into the Lambda log stream names.
  void DateLambdaStreams(int64_t timestamp_ns);

  std::array<uint64_t, 4> rng_{};
  std::vector<std::string> service_names_;
  std::vector<Service> services_;
  std::vector<uint64_t> cumulative_;  // service pick thresholds on a 2^32 scale
  uint64_t burst_threshold_ = 0;      // error_burst_rate on a 2^64 scale
  uint32_t burst_service_ = 0;
  uint32_t burst_remaining_ = 0;
  bool dated_ = false;  // Lambda stream dates filled in
  std::string msg_;     // scratch: the raw message of the current line
};

}  // namespace lode
