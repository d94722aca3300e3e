#include "gen/protocol_encoders.h"

#include <simdjson.h>
#include <snappy.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <unordered_map>

#include "common/json_writer.h"
#include "ingest/protobuf_wire.h"
#include "parse/level.h"
#include "parse/message_level.h"
#include "parse/timestamp.h"

namespace lode {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;

constexpr int64_t FloorDiv(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

// `ns` truncated (toward the past) to a multiple of `unit_ns`.
int64_t Truncate(int64_t ns, int64_t unit_ns) {
  return FloorDiv(ns, unit_ns) * unit_ns;
}

constexpr std::array<std::pair<std::string_view, GenProtocol>, 8> kProtocols = {{
    {"http", GenProtocol::kHttp},
    {"loki", GenProtocol::kLoki},
    {"loki-proto", GenProtocol::kLokiProto},
    {"otlp", GenProtocol::kOtlp},
    {"es", GenProtocol::kEs},
    {"syslog-udp", GenProtocol::kSyslogUdp},
    {"syslog-tcp", GenProtocol::kSyslogTcp},
    {"files", GenProtocol::kFiles},
}};

// RFC 5424 limits on HOSTNAME and APP-NAME.
constexpr size_t kSyslogHostMax = 255;
constexpr size_t kSyslogAppMax = 48;
constexpr int kSyslogFacilityLocal0 = 16;
// RFC 5424 severity "notice", for lines of unknown level.
constexpr int kSyslogNotice = 5;

// The upper-case level word of container logs and OTLP's severityText; "" for kUnknown.
std::string_view UpperLevelWord(Level level) {
  switch (level) {
    case Level::kTrace: return "TRACE";
    case Level::kDebug: return "DEBUG";
    case Level::kInfo: return "INFO";
    case Level::kWarn: return "WARN";
    case Level::kError: return "ERROR";
    case Level::kFatal: return "FATAL";
    default: return "";
  }
}

// OTLP SeverityNumber: the first number of each range; 0 (unspecified) for kUnknown.
int OtlpSeverityNumber(Level level) {
  switch (level) {
    case Level::kTrace: return 1;
    case Level::kDebug: return 5;
    case Level::kInfo: return 9;
    case Level::kWarn: return 13;
    case Level::kError: return 17;
    case Level::kFatal: return 21;
    default: return 0;
  }
}

// What Lode makes of a line that is sent without a level: the level word in its message.
Level SentLevel(const GenRecord& r) {
  return r.level == Level::kUnknown ? LevelFromMessage(r.message) : r.level;
}

// Groups `records` by `key`, keeping the order of first appearance and, within a group, the
// input order.
template <typename KeyFn>
std::vector<std::vector<const GenRecord*>> GroupBy(std::span<const GenRecord> records, KeyFn key) {
  std::vector<std::vector<const GenRecord*>> groups;
  std::unordered_map<std::string, size_t> index;
  for (const GenRecord& r : records) {
    auto [it, added] = index.try_emplace(key(r), groups.size());
    if (added) groups.emplace_back();
    groups[it->second].push_back(&r);
  }
  return groups;
}

std::string StreamKey(const GenRecord& r) {
  std::string key = r.instance;
  key.push_back('\0');
  key.append(LevelName(r.level));
  key.push_back('\0');
  key.append(r.service);
  return key;
}

std::string ResourceKey(const GenRecord& r) {
  std::string key = r.service;
  key.push_back('\0');
  key.append(r.instance);
  return key;
}

// A Prometheus label value, quoted: \ " and newline escaped.
void AppendLabelValue(std::string_view v, std::string* out) {
  out->push_back('"');
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else {
      out->push_back(c);
    }
  }
  out->push_back('"');
}

// The Loki label set of a stream, in Prometheus order (sorted by name), empty values left out.
std::vector<std::pair<std::string_view, std::string_view>> StreamLabels(const GenRecord& r) {
  std::vector<std::pair<std::string_view, std::string_view>> labels;
  if (!r.instance.empty()) labels.emplace_back("instance", r.instance);
  if (r.level != Level::kUnknown) labels.emplace_back("level", LevelName(r.level));
  if (!r.service.empty()) labels.emplace_back("service", r.service);
  return labels;
}

// ---- Deterministic names ----

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a over the seed (little-endian), a tag and the given strings ('\0'-separated): the same
// on every platform.
uint64_t NameHash(uint64_t seed, std::string_view tag, std::string_view a, std::string_view b) {
  uint64_t h = 0xcbf29ce484222325ULL;
  auto mix = [&h](unsigned char c) {
    h ^= c;
    h *= 0x100000001b3ULL;
  };
  for (int i = 0; i < 8; ++i) mix(static_cast<unsigned char>(seed >> (8 * i)));
  for (std::string_view s : {tag, a, b}) {
    for (char c : s) mix(static_cast<unsigned char>(c));
    mix(0);
  }
  return h;
}

void AppendFromAlphabet(uint64_t* state, size_t n, std::string* out) {
  for (size_t i = 0; i < n; ++i) {
    out->push_back(kK8sNameAlphabet[SplitMix64(state) % kK8sNameAlphabet.size()]);
  }
}

constexpr std::array<std::string_view, 3> kNamespaces = {"prod", "staging", "payments"};

// "YYYYMMDD-HHMMSS" of `ns` in UTC (kubelet's rotated log suffix).
std::string RotationStamp(int64_t ns) {
  const std::string t = FormatRfc3339(Truncate(ns, kNanosPerSecond));  // YYYY-MM-DDTHH:MM:SSZ
  std::string out;
  for (char c : t.substr(0, 19)) {
    if (c >= '0' && c <= '9') out.push_back(c);
    if (out.size() == 8 && c == 'T') out.push_back('-');
  }
  return out;
}

constexpr std::string_view kLogName = "0.log";
constexpr std::string_view kRotatedPrefix = "0.log.";

// For a rotated file name "0.log.YYYYMMDD-HHMMSS[.N]": its stamp and N (0 without); false for
// other names.
bool ParseRotatedName(std::string_view name, std::string_view* stamp, uint64_t* counter) {
  if (!name.starts_with(kRotatedPrefix)) return false;
  std::string_view rest = name.substr(kRotatedPrefix.size());
  if (rest.size() < 15) return false;
  for (size_t i = 0; i < 15; ++i) {
    const bool ok = i == 8 ? rest[i] == '-' : rest[i] >= '0' && rest[i] <= '9';
    if (!ok) return false;
  }
  *stamp = rest.substr(0, 15);
  *counter = 0;
  rest.remove_prefix(15);
  if (rest.empty()) return true;
  if (rest[0] != '.' || rest.size() == 1) return false;
  auto [ptr, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), *counter);
  return ec == std::errc() && ptr == rest.data() + rest.size();
}

}  // namespace

// ---- Protocols ----

std::string_view GenProtocolName(GenProtocol protocol) {
  for (const auto& [name, p] : kProtocols) {
    if (p == protocol) return name;
  }
  return "?";
}

Result<GenProtocol> ParseGenProtocol(std::string_view name) {
  std::string names;
  for (const auto& [n, p] : kProtocols) {
    if (n == name) return p;
    names += names.empty() ? "" : ", ";
    names += n;
  }
  return Status::InvalidArgument("unknown protocol \"" + std::string(name) + "\" (one of " + names +
                                 ")");
}

bool IsHttpProtocol(GenProtocol protocol) {
  return protocol == GenProtocol::kHttp || protocol == GenProtocol::kLoki ||
         protocol == GenProtocol::kLokiProto || protocol == GenProtocol::kOtlp ||
         protocol == GenProtocol::kEs;
}

GenRecord GenRecord::From(const GeneratedLine& line) {
  GenRecord r;
  r.timestamp_ns = line.timestamp_ns;
  r.level = line.level;
  r.service.assign(line.service);
  r.instance.assign(line.instance);
  r.message.assign(line.message);
  return r;
}

GenTruth TruthFor(GenProtocol protocol, const GenRecord& record) {
  GenTruth t;
  t.timestamp_ns = record.timestamp_ns;
  t.level = SentLevel(record);
  t.service = record.service;
  t.instance = record.instance;
  switch (protocol) {
    case GenProtocol::kLoki:
    case GenProtocol::kLokiProto: t.source = "loki"; break;
    case GenProtocol::kOtlp: t.source = "otlp"; break;
    case GenProtocol::kEs:
      t.timestamp_ns = Truncate(record.timestamp_ns, 1'000'000);
      if (t.service.empty()) t.service = kGenEsIndex;
      t.source = "elasticsearch";
      break;
    case GenProtocol::kSyslogUdp:
    case GenProtocol::kSyslogTcp: {
      t.timestamp_ns = Truncate(record.timestamp_ns, 1'000);
      t.level = LevelFromSyslogSeverity(SyslogSeverityFor(record.level));
      t.service = SyslogHeaderField(record.service, kSyslogAppMax);
      t.instance = SyslogHeaderField(record.instance, kSyslogHostMax);
      if (t.service == "-") t.service.clear();
      if (t.instance == "-") t.instance.clear();
      t.source = "syslog";
      break;
    }
    case GenProtocol::kHttp:
    case GenProtocol::kFiles: t.source = "?"; break;  // not this function's (see the header)
  }
  return t;
}

// ---- Encoders ----

void EncodeLokiPushJson(std::span<const GenRecord> records, std::string* out) {
  JsonWriter w(out);
  w.BeginObject().Key("streams").BeginArray();
  for (const auto& stream : GroupBy(records, StreamKey)) {
    w.BeginObject().Key("stream").BeginObject();
    for (const auto& [name, value] : StreamLabels(*stream.front())) w.Key(name).String(value);
    w.EndObject().Key("values").BeginArray();
    for (const GenRecord* r : stream) {
      w.BeginArray().String(std::to_string(r->timestamp_ns)).String(r->message).EndArray();
    }
    w.EndArray().EndObject();
  }
  w.EndArray().EndObject();
}

void EncodeLokiPushProto(std::span<const GenRecord> records, std::string* out) {
  using protowire::PutBytesField;
  using protowire::PutVarintField;
  std::string request, stream, entry, timestamp, labels;
  for (const auto& group : GroupBy(records, StreamKey)) {
    labels = "{";
    for (const auto& [name, value] : StreamLabels(*group.front())) {
      if (labels.size() > 1) labels += ", ";
      labels.append(name);
      labels.push_back('=');
      AppendLabelValue(value, &labels);
    }
    labels.push_back('}');
    stream.clear();
    PutBytesField(&stream, 1, labels);
    for (const GenRecord* r : group) {
      const int64_t seconds = FloorDiv(r->timestamp_ns, kNanosPerSecond);
      timestamp.clear();
      PutVarintField(&timestamp, 1, static_cast<uint64_t>(seconds));
      PutVarintField(&timestamp, 2,
                     static_cast<uint64_t>(r->timestamp_ns - seconds * kNanosPerSecond));
      entry.clear();
      PutBytesField(&entry, 1, timestamp);
      PutBytesField(&entry, 2, r->message);
      PutBytesField(&stream, 2, entry);
    }
    PutBytesField(&request, 1, stream);
  }
  std::string compressed;
  snappy::Compress(request.data(), request.size(), &compressed);
  out->append(compressed);
}

void EncodeOtlpLogsJson(std::span<const GenRecord> records, std::string* out) {
  JsonWriter w(out);
  auto attribute = [&w](std::string_view key, std::string_view value) {
    w.BeginObject()
        .Key("key")
        .String(key)
        .Key("value")
        .BeginObject()
        .Key("stringValue")
        .String(value);
    w.EndObject().EndObject();
  };
  w.BeginObject().Key("resourceLogs").BeginArray();
  for (const auto& group : GroupBy(records, ResourceKey)) {
    const GenRecord& first = *group.front();
    w.BeginObject().Key("resource").BeginObject().Key("attributes").BeginArray();
    if (!first.service.empty()) attribute("service.name", first.service);
    if (!first.instance.empty()) attribute("service.instance.id", first.instance);
    w.EndArray().EndObject();
    w.Key("scopeLogs").BeginArray().BeginObject();
    w.Key("scope").BeginObject().Key("name").String("lode-gen").EndObject();
    w.Key("logRecords").BeginArray();
    for (const GenRecord* r : group) {
      w.BeginObject().Key("timeUnixNano").String(std::to_string(r->timestamp_ns));
      if (r->level != Level::kUnknown) {
        w.Key("severityNumber").Int(OtlpSeverityNumber(r->level));
        w.Key("severityText").String(UpperLevelWord(r->level));
      }
      w.Key("body").BeginObject().Key("stringValue").String(r->message).EndObject();
      w.EndObject();
    }
    w.EndArray().EndObject().EndArray().EndObject();
  }
  w.EndArray().EndObject();
}

void EncodeEsBulk(std::span<const GenRecord> records, std::string* out) {
  for (const GenRecord& r : records) {
    out->append(R"({"create":{"_index":")");
    out->append(kGenEsIndex);
    out->append("\"}}\n");
    JsonWriter w(out);
    w.BeginObject().Key("@timestamp").String(FormatRfc3339Fixed(r.timestamp_ns, 3));
    w.Key("message").String(r.message);
    if (r.level != Level::kUnknown) {
      w.Key("log").BeginObject().Key("level").String(LevelName(r.level)).EndObject();
    }
    if (!r.service.empty())
      w.Key("service").BeginObject().Key("name").String(r.service).EndObject();
    if (!r.instance.empty()) w.Key("host").BeginObject().Key("name").String(r.instance).EndObject();
    w.EndObject();
    out->push_back('\n');
  }
}

int SyslogSeverityFor(Level level) {
  switch (level) {
    case Level::kTrace:
    case Level::kDebug: return 7;
    case Level::kInfo: return 6;
    case Level::kWarn: return 4;
    case Level::kError: return 3;
    case Level::kFatal: return 2;
    default: return kSyslogNotice;
  }
}

std::string SyslogHeaderField(std::string_view text, size_t max_bytes) {
  std::string out(text.substr(0, max_bytes));
  for (char& c : out) {
    if (c < '!' || c > '~') c = '_';
  }
  if (out.empty()) out = "-";
  return out;
}

void EncodeSyslog5424(const GenRecord& record, size_t max_bytes, std::string* out) {
  const size_t start = out->size();
  out->push_back('<');
  out->append(std::to_string(kSyslogFacilityLocal0 * 8 + SyslogSeverityFor(record.level)));
  out->append(">1 ");
  out->append(FormatRfc3339Fixed(record.timestamp_ns, 6));
  out->push_back(' ');
  out->append(SyslogHeaderField(record.instance, kSyslogHostMax));
  out->push_back(' ');
  out->append(SyslogHeaderField(record.service, kSyslogAppMax));
  out->append(" - - -");  // PROCID, MSGID, STRUCTURED-DATA
  if (record.message.empty()) return;
  const size_t header = out->size() - start + 1;
  if (header >= max_bytes) return;
  size_t n = std::min(record.message.size(), max_bytes - header);
  if (n < record.message.size()) {
    // Do not cut a UTF-8 sequence: back up to the start of the character at the cut.
    while (n > 0 && (static_cast<unsigned char>(record.message[n]) & 0xC0) == 0x80) --n;
  }
  out->push_back(' ');
  out->append(record.message, 0, n);
}

void AppendOctetCounted(std::string_view msg, std::string* out) {
  out->append(std::to_string(msg.size()));
  out->push_back(' ');
  out->append(msg);
}

std::string FormatRfc3339Fixed(int64_t ns, int digits) {
  digits = std::clamp(digits, 0, 9);
  const int64_t seconds = FloorDiv(ns, kNanosPerSecond);
  int64_t fraction = ns - seconds * kNanosPerSecond;
  std::string out = FormatRfc3339(seconds * kNanosPerSecond);  // no fraction: "...SSZ"
  out.pop_back();
  if (digits > 0) {
    for (int i = digits; i < 9; ++i) fraction /= 10;
    char buf[9];
    for (int i = digits - 1; i >= 0; --i) {
      buf[i] = static_cast<char>('0' + fraction % 10);
      fraction /= 10;
    }
    out.push_back('.');
    out.append(buf, static_cast<size_t>(digits));
  }
  out.push_back('Z');
  return out;
}

Result<uint64_t> RejectedByAnswer(GenProtocol protocol, int http_status, std::string_view body) {
  auto failed = [&] {
    std::string_view shown = body.substr(0, 500);
    while (!shown.empty() && (shown.back() == '\n' || shown.back() == '\r')) shown.remove_suffix(1);
    return Status::InvalidArgument("server answered " + std::to_string(http_status) + ": " +
                                   std::string(shown));
  };
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  switch (protocol) {
    case GenProtocol::kHttp: {
      // {"accepted":N,"rejected":M,...}
      if (http_status != 200) return failed();
      uint64_t rejected = 0;
      if (!parser.parse(body.data(), body.size()).get(root)) {
        if (root["rejected"].get_uint64().get(rejected)) rejected = 0;
      }
      return rejected;
    }
    case GenProtocol::kLoki:
    case GenProtocol::kLokiProto: {
      if (http_status >= 200 && http_status < 300) return uint64_t{0};
      // A 400 "N entries rejected (the others were stored): ..." is a partial success.
      uint64_t n = 0;
      auto [ptr, ec] = std::from_chars(body.data(), body.data() + body.size(), n);
      if (http_status == 400 && ec == std::errc() &&
          std::string_view(ptr, static_cast<size_t>(body.data() + body.size() - ptr))
              .starts_with(" entries rejected")) {
        return n;
      }
      return failed();
    }
    case GenProtocol::kOtlp: {
      // {} or {"partialSuccess":{"rejectedLogRecords":"N","errorMessage":...}}
      if (http_status != 200) return failed();
      if (parser.parse(body.data(), body.size()).get(root)) return uint64_t{0};
      simdjson::dom::element n;
      if (root["partialSuccess"]["rejectedLogRecords"].get(n)) return uint64_t{0};
      std::string_view text;
      uint64_t rejected = 0;
      if (!n.get_string().get(text)) {
        std::from_chars(text.data(), text.data() + text.size(), rejected);
      } else if (n.get_uint64().get(rejected)) {
        rejected = 0;
      }
      return rejected;
    }
    case GenProtocol::kEs: {
      // {"took":..,"errors":bool,"items":[{"create":{..,"status":201}},...]}
      if (http_status != 200) return failed();
      if (parser.parse(body.data(), body.size()).get(root)) {
        return Status::InvalidArgument("bulk answer is not JSON: " +
                                       std::string(body.substr(0, 200)));
      }
      bool errors = false;
      if (root["errors"].get_bool().get(errors) || !errors) return uint64_t{0};
      simdjson::dom::array items;
      if (root["items"].get_array().get(items)) return uint64_t{0};
      uint64_t rejected = 0;
      for (simdjson::dom::element item : items) {
        simdjson::dom::object obj;
        if (item.get_object().get(obj) || obj.size() == 0) continue;
        uint64_t status = 0;
        if (!(*obj.begin()).value["status"].get_uint64().get(status) && status >= 300) ++rejected;
      }
      return rejected;
    }
    default:
      return Status::InvalidArgument("protocol " + std::string(GenProtocolName(protocol)) +
                                     " has no HTTP answer");
  }
}

// ---- Kubernetes container log files ----

std::string K8sPod::Directory() const {
  return namespace_name + "_" + pod_name + "_" + uid + "/" + container;
}

std::string SanitizeDnsLabel(std::string_view name) {
  std::string out;
  for (char c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (ok) {
      out.push_back(c);
    } else if (!out.empty() && out.back() != '-') {
      out.push_back('-');
    }
    if (out.size() >= 40) break;
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  if (out.empty()) out = "app";
  return out;
}

K8sPod K8sPodFor(uint64_t seed, std::string_view service, std::string_view instance) {
  K8sPod pod;
  pod.container = SanitizeDnsLabel(service);
  uint64_t deployment = NameHash(seed, "deployment", service, "");
  pod.namespace_name = kNamespaces[SplitMix64(&deployment) % kNamespaces.size()];
  const size_t hash_len = 9 + SplitMix64(&deployment) % 2;
  pod.pod_name = pod.container + "-";
  AppendFromAlphabet(&deployment, hash_len, &pod.pod_name);
  pod.pod_name.push_back('-');
  uint64_t replica = NameHash(seed, "pod", service, instance);
  AppendFromAlphabet(&replica, 5, &pod.pod_name);
  // 8-4-4-4-12 hex digits, version 4, variant 10xx.
  static constexpr std::string_view kHex = "0123456789abcdef";
  const uint64_t halves[2] = {SplitMix64(&replica), SplitMix64(&replica)};
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) pod.uid.push_back('-');
    int digit = static_cast<int>((halves[i / 16] >> (4 * (i % 16))) & 15);
    if (i == 12) digit = 4;
    if (i == 16) digit = 8 | (digit & 3);
    pod.uid.push_back(kHex[static_cast<size_t>(digit)]);
  }
  return pod;
}

void AppendCriLine(int64_t timestamp_ns, bool to_stderr, bool partial, std::string_view content,
                   std::string* out) {
  FormatRfc3339(timestamp_ns, out);
  out->append(to_stderr ? " stderr " : " stdout ");
  out->append(partial ? "P " : "F ");
  out->append(content);
  out->push_back('\n');
}

std::string CriContent(const GenRecord& record) {
  std::string out;
  const std::string_view word = UpperLevelWord(record.level);
  const std::string_view msg = record.message;
  if (!word.empty() &&
      !(msg.starts_with(word) && msg.size() > word.size() && msg[word.size()] == ' ')) {
    out.append(word);
    out.push_back(' ');
  }
  for (char c : msg) {
    if (c == '\n') {
      out.append("\\n");
    } else if (c == '\r') {
      out.append("\\r");
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// One container's log directory and its open 0.log.
struct K8sLogWriter::Container {
  std::string dir;                     // absolute
  std::unique_ptr<WritableFile> file;  // <dir>/0.log
  std::vector<std::string> rotated;    // names of the rotated files, oldest first
  std::string pending;                 // the current batch's lines
};

K8sLogWriter::K8sLogWriter(Options options) : options_(std::move(options)) {
  uint64_t state = options_.seed ^ 0x6b38736c6f677321ULL;  // "k8slogs!"
  rng_ = SplitMix64(&state);
}

K8sLogWriter::~K8sLogWriter() {
  for (auto& [dir, c] : containers_) {
    if (c->file) (void)c->file->Close();
  }
}

uint64_t K8sLogWriter::Rand() {
  return SplitMix64(&rng_);
}

const K8sPod& K8sLogWriter::Pod(std::string_view service, std::string_view instance) {
  std::string key(service);
  key.push_back('\0');
  key.append(instance);
  auto it = pods_.find(key);
  if (it == pods_.end()) {
    it = pods_.emplace(std::move(key), K8sPodFor(options_.seed, service, instance)).first;
  }
  return it->second;
}

GenTruth K8sLogWriter::Truth(const GenRecord& record) {
  const K8sPod& pod = Pod(record.service, record.instance);
  GenTruth t;
  t.timestamp_ns = record.timestamp_ns;
  t.level = record.level == Level::kUnknown ? LevelFromMessage(CriContent(record)) : record.level;
  t.service = pod.container;
  t.instance = pod.pod_name;
  t.source = "k8s";
  return t;
}

std::vector<std::string> K8sLogWriter::RotatedFiles(const std::vector<std::string>& names) {
  struct Entry {
    std::string_view stamp;
    uint64_t counter;
    const std::string* name;
  };
  std::vector<Entry> entries;
  for (const std::string& name : names) {
    Entry e{{}, 0, &name};
    if (ParseRotatedName(name, &e.stamp, &e.counter)) entries.push_back(e);
  }
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    return a.stamp != b.stamp ? a.stamp < b.stamp : a.counter < b.counter;
  });
  std::vector<std::string> out;
  out.reserve(entries.size());
  for (const Entry& e : entries) out.push_back(*e.name);
  return out;
}

Result<K8sLogWriter::Container*> K8sLogWriter::Open(const K8sPod& pod) {
  std::string key = pod.Directory();
  auto it = containers_.find(key);
  if (it != containers_.end()) return it->second.get();
  auto c = std::make_unique<Container>();
  c->dir = JoinPath(options_.root, key);
  LODE_RETURN_IF_ERROR(options_.env->CreateDirs(c->dir));
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> names, options_.env->ListDir(c->dir));
  c->rotated = RotatedFiles(names);
  LODE_ASSIGN_OR_RETURN(c->file, options_.env->NewAppendableFile(JoinPath(c->dir, kLogName)));
  Container* raw = c.get();
  containers_.emplace(std::move(key), std::move(c));
  return raw;
}

Status K8sLogWriter::Rotate(Container* c) {
  LODE_RETURN_IF_ERROR(c->file->Close());
  c->file.reset();
  const std::string stamp = RotationStamp(options_.clock->NowNanos());
  std::string name = std::string(kRotatedPrefix) + stamp;
  for (int n = 1; options_.env->FileExists(JoinPath(c->dir, name)); ++n) {
    name = std::string(kRotatedPrefix) + stamp + "." + std::to_string(n);
  }
  LODE_RETURN_IF_ERROR(
      options_.env->RenameFile(JoinPath(c->dir, kLogName), JoinPath(c->dir, name)));
  c->rotated.push_back(std::move(name));
  const size_t keep = static_cast<size_t>(std::max(0, options_.rotate_keep));
  while (c->rotated.size() > keep) {
    LODE_RETURN_IF_ERROR(options_.env->RemoveFile(JoinPath(c->dir, c->rotated.front())));
    c->rotated.erase(c->rotated.begin());
  }
  LODE_ASSIGN_OR_RETURN(c->file, options_.env->NewAppendableFile(JoinPath(c->dir, kLogName)));
  return Status::OK();
}

Status K8sLogWriter::Write(std::span<const GenRecord> records) {
  const double rate = std::clamp(options_.partial_rate, 0.0, 1.0);
  const uint64_t split_below =
      rate >= 1.0 ? UINT64_MAX : static_cast<uint64_t>(rate * 18446744073709551616.0);
  std::vector<Container*> touched;
  Status st;
  for (const GenRecord& r : records) {
    auto c = Open(Pod(r.service, r.instance));
    if (!c.ok()) {
      st = c.status();
      break;
    }
    Container* container = *c;
    if (container->pending.empty()) touched.push_back(container);
    const std::string content = CriContent(r);
    const bool to_stderr = r.level == Level::kError || r.level == Level::kFatal;
    // One draw per line, more only for a split one: the choices depend on the lines alone.
    size_t parts = 1;
    if (Rand() < split_below) parts = std::min<size_t>(2 + Rand() % 2, content.size());
    std::vector<size_t> cuts;
    for (size_t i = 1; i < parts; ++i) cuts.push_back(1 + Rand() % (content.size() - 1));
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    size_t from = 0;
    for (size_t cut : cuts) {
      AppendCriLine(r.timestamp_ns, to_stderr, /*partial=*/true,
                    std::string_view(content).substr(from, cut - from), &container->pending);
      from = cut;
    }
    AppendCriLine(r.timestamp_ns, to_stderr, /*partial=*/false,
                  std::string_view(content).substr(from), &container->pending);
  }
  for (Container* c : touched) {
    if (st.ok() && !c->file) {  // a failed rotation left it closed
      auto file = options_.env->NewAppendableFile(JoinPath(c->dir, kLogName));
      if (file.ok()) {
        c->file = std::move(*file);
      } else {
        st = file.status();
      }
    }
    if (st.ok()) {
      st = c->file->Append(c->pending);
      if (st.ok() && options_.rotate_bytes > 0 && c->file->Size() > options_.rotate_bytes) {
        st = Rotate(c);
      }
    }
    c->pending.clear();
  }
  return st;
}

}  // namespace lode
