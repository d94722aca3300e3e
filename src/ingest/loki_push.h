// Loki's protobuf push (issue 6, item 3): what Promtail, Grafana Alloy and the
// npm Loki clients send to /loki/api/v1/push with Content-Type
// application/x-protobuf: a snappy block (not framed) of a `PushRequest`
// (logproto/push.proto; field numbers below), whose stream labels are a
// Prometheus label string such as {app="checkout", level="error"}.
//
//   PushRequest      { repeated StreamAdapter streams = 1; }
//   StreamAdapter    { string labels = 1; repeated EntryAdapter entries = 2; uint64 hash = 3; }
//   EntryAdapter     { Timestamp timestamp = 1; string line = 2;
//                      repeated LabelPairAdapter structuredMetadata = 3; }
//   LabelPairAdapter { string name = 1; string value = 2; }
//   Timestamp        { int64 seconds = 1; int32 nanos = 2; }
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/status.h"

namespace lode {

using LabelPairs = std::vector<std::pair<std::string, std::string>>;

struct PushEntry {
  int64_t timestamp_ns = 0;
  std::string line;
  LabelPairs metadata;  // structured metadata
};

struct PushStream {
  std::string labels_text;  // as sent, for error messages
  LabelPairs labels;
  std::vector<PushEntry> entries;
};

// Undoes snappy's block format. InvalidArgument when corrupt, TooLarge when
// the output would exceed `max_out` bytes.
Status SnappyUncompress(std::string_view in, size_t max_out, std::string* out);

// Decodes a PushRequest (after snappy). InvalidArgument naming the stream,
// entry and byte offset of anything malformed (truncated, wrong wire type,
// bad labels). Unknown fields are skipped, as protobuf requires.
Status DecodePushRequest(std::string_view proto, std::vector<PushStream>* streams);

// Parses a Prometheus label string: `{a="x", b="y"}` (escapes \" \\ \n), `{}`
// or empty. InvalidArgument naming the offset otherwise.
Status ParsePrometheusLabels(std::string_view text, LabelPairs* out);

}  // namespace lode
