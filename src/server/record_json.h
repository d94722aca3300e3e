// How a Record is written in API responses.
//
//   {"timestamp":"2024-11-14T15:01:04Z","timestamp_ns":"1731596464000000000",
//    "observed":"...","level":"info","service":"...","instance":"...",
//    "source":"http","message":"...","attributes":{"k":"v"},
//    "flags":["timestamp_missing"],"pattern_id":"17","pattern":"GET <*> took <*>"}
//
// timestamp_ns is a string because JavaScript numbers lose nanoseconds.
// "flags" appears only when a flag is set; "pattern_id" only when the record
// has one, "pattern" (its template) only when the caller knows it.
#pragma once

#include <string_view>

#include "common/json_writer.h"
#include "common/record.h"

namespace lode {

void WriteRecordJson(const Record& r, JsonWriter* w, std::string_view pattern = {});

}  // namespace lode
