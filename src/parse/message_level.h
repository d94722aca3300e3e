// LevelFromMessage: finds the level written inside a message when the record
// has no level field (plain container output such as "2024-11-14 ERROR db down"
// or "level=warn msg=...").
#pragma once

#include <string_view>

#include "common/record.h"

namespace lode {

// Looks at the first 80 bytes of `message` for an upper-case level word
// (TRACE, DEBUG, INFO, WARN, WARNING, ERROR, FATAL, CRITICAL, PANIC, alone or
// in brackets) or a logfmt `level=<word>` pair; kUnknown when there is none.
// Lower-case words are ignored on purpose: "error" in prose is not a level.
// Allocation-free, thread-safe.
Level LevelFromMessage(std::string_view message);

}  // namespace lode
