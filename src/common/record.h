// The log record: what every source produces and every later stage consumes.
//
// A Record owns its strings. Records travel in batches (RecordBatch) from the
// pipeline through the bus to storage; a batch belongs to one tenant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lode {

// Normalized severity. The numeric order is the severity order (kUnknown is
// below everything), so `level >= Level::kWarn` means "warn or worse".
enum class Level : uint8_t {
  kUnknown = 0,
  kTrace = 1,
  kDebug = 2,
  kInfo = 3,
  kWarn = 4,
  kError = 5,
  kFatal = 6,
};
inline constexpr int kLevelCount = 7;

// Canonical lower-case name: "unknown", "trace", "debug", "info", "warn", "error", "fatal".
std::string_view LevelName(Level level);
// The level whose canonical name is `name` exactly; nullopt otherwise.
std::optional<Level> LevelFromName(std::string_view name);

// Bits of Record::flags.
enum RecordFlags : uint8_t {
  // The record had no timestamp: timestamp_ns is the observed time.
  kFlagTimestampMissing = 1u << 0,
  // The record's timestamp could not be parsed: timestamp_ns is the observed
  // time and the original text is kept in attribute kAttrOriginalTimestamp.
  kFlagTimestampInvalid = 1u << 1,
};

// Attribute names that the pipeline itself writes.
inline constexpr std::string_view kAttrOriginalTimestamp = "original_timestamp";
inline constexpr std::string_view kAttrOriginalLevel = "original_level";

// A free attribute: string key (nested JSON flattened with dots) and value.
struct Attribute {
  std::string key;
  std::string value;
  bool operator==(const Attribute&) const = default;
};

struct Record {
  int64_t timestamp_ns = 0;  // event time, ns since the Unix epoch, UTC
  int64_t observed_ns = 0;   // when Lode received it
  Level level = Level::kUnknown;
  uint8_t flags = 0;     // RecordFlags
  std::string tenant;    // from X-Scope-OrgID; "default" when absent
  std::string service;   // e.g. "checkout"; empty when unknown
  std::string instance;  // host, pod or address; empty when unknown
  std::string source;    // source type: http, syslog, file, k8s, docker, otlp, ...
  std::string message;
  std::vector<Attribute> attributes;
  // The message's template (pattern/pattern_index.h): a tenant-wide id given
  // at ingest; 0 when none was given (mining off, or data written before it).
  uint32_t pattern_id = 0;

  // Value of attribute `key`, or nullopt.
  std::optional<std::string_view> Attr(std::string_view key) const;
  // Approximate memory footprint, for budgets.
  size_t ApproxBytes() const;

  bool operator==(const Record&) const = default;
};

// Records of one tenant on their way to storage.
struct RecordBatch {
  std::string tenant;
  std::vector<Record> records;
  size_t ApproxBytes() const;
};

inline constexpr std::string_view kDefaultTenant = "default";

}  // namespace lode
