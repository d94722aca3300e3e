// How a Record is written in API responses.
//
//   {"timestamp":"2024-11-14T15:01:04Z","timestamp_ns":"1731596464000000000",
//    "observed":"...","level":"info","service":"...","instance":"...",
//    "source":"http","message":"...","attributes":{"k":"v"},
//    "flags":["timestamp_missing"]}
//
// timestamp_ns is a string because JavaScript numbers lose nanoseconds.
// "flags" appears only when a flag is set.
#pragma once

#include "common/json_writer.h"
#include "common/record.h"

namespace lode {

void WriteRecordJson(const Record& r, JsonWriter* w);

}  // namespace lode
