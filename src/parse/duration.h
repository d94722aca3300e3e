// Durations as people and Prometheus/Loki write them: "500ms", "30s", "1m",
// "1h30m", "7d", "1w"; a plain number is seconds ("90", "0.5").
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lode {

// Parses `text` into nanoseconds. Units: ns, us (or µs), ms, s, m, h, d, w;
// several may follow each other ("1h30m"). InvalidArgument naming the text
// when it is empty, negative, has an unknown unit or overflows.
Result<int64_t> ParseDuration(std::string_view text);

// Formats ns as the shortest exact duration string ("1h30m", "250ms", "0s").
std::string FormatDuration(int64_t ns);

}  // namespace lode
