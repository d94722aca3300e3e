// ParseLogBody: one ingest request body → a batch of normalized records plus
// the lines that were rejected and why.
//
// Accepted shapes (kAuto decides from the first non-blank byte):
//   - one JSON object (possibly pretty-printed over several lines),
//   - a JSON array of objects,
//   - NDJSON: one object per line (blank lines ignored, CRLF accepted),
//   - plain text (kText): each line is a message.
// A bad line or array item is rejected on its own; the others are kept.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/record.h"
#include "common/status.h"
#include "parse/json_record.h"

namespace lode {

enum class BodyFormat {
  kAuto,    // JSON object, array or NDJSON, by content
  kText,    // one message per line
};

struct BodyLimits {
  size_t max_line_bytes = 1 << 20;   // a longer line fails the whole request with TooLarge
  size_t max_reported_errors = 100;  // rejections beyond this are counted, not listed
};

// One rejected line (NDJSON, text) or item (array); numbers are 1-based.
struct Rejection {
  size_t line = 0;
  std::string reason;
};

struct BodyOutcome {
  RecordBatch batch;
  size_t rejected = 0;                // every rejected line or item
  std::vector<Rejection> rejections;  // the first BodyLimits::max_reported_errors of them
  bool items_are_array_elements = false;  // Rejection::line numbers array items, not lines
};

// Parses `body` into *out (appending to out->batch.records).
// Returns TooLarge when a line exceeds limits.max_line_bytes (nothing is kept
// then: the client should split the line or raise the limit) and
// InvalidArgument when the body as a whole cannot be read (e.g. a JSON array
// that is not valid JSON). Per-line problems are rejections, not errors.
// REQUIRES: JsonRecordParser::kPadding readable bytes after body's end.
Status ParseLogBody(std::string_view body, BodyFormat format, const ParseContext& ctx,
                    const BodyLimits& limits, JsonRecordParser* parser, BodyOutcome* out);

}  // namespace lode
