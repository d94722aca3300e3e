// JsonRecordParser: turns one JSON log object into a normalized Record.
//
// Real shippers name the same things differently. The parser flattens the
// object (nested keys joined with '.'), then picks, by a fixed priority list
// per role, the field that holds the timestamp, message, level, service,
// instance and source type (see kFieldRoles in json_record.cc and the README's
// "Field names" table). Fields used for a role leave the attributes; every
// other field is kept as a string attribute. Nothing is dropped: an
// unparseable timestamp is replaced by the observed time with the original
// kept in attribute "original_timestamp" and the record flagged; a level
// spelled differently from its canonical name is kept in "original_level".
//
// One parser per thread (it owns simdjson's reusable buffers).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "common/record.h"
#include "common/status.h"

namespace lode {

// What the parser needs to know about where a record came from.
struct ParseContext {
  int64_t observed_ns = 0;         // ingest time; also the fallback timestamp
  std::string_view tenant = kDefaultTenant;
  std::string_view default_source = "http";  // source type when the record names none
};

class JsonRecordParser {
 public:
  // Bytes that must be readable (any content) after a view given to ParseObject.
  static constexpr size_t kPadding = simdjson::SIMDJSON_PADDING;

  // Parses `json`, which must hold exactly one JSON object, into *out
  // (overwritten). Returns InvalidArgument naming the problem when the text
  // is not valid JSON or not an object; *out is then unspecified.
  // REQUIRES: kPadding readable bytes follow json.data() + json.size().
  Status ParseObject(std::string_view json, const ParseContext& ctx, Record* out);

  // Normalizes an already parsed object element (e.g. one element of a JSON
  // array). `raw` is its text, used as the message when none is found; when
  // empty, the element is re-serialized for that.
  Status FromElement(simdjson::dom::element object, std::string_view raw, const ParseContext& ctx,
                     Record* out);

  // The parser, for callers that parse containers themselves.
  simdjson::dom::parser& dom_parser() { return parser_; }

 private:
  simdjson::dom::parser parser_;
  std::string path_;     // scratch: the flattened key being built
  std::string scratch_;  // scratch: number formatting
};

}  // namespace lode
