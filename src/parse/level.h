// Level parsing: maps the many spellings and numbers that loggers use for severity onto the
// normalized Level of common/record.h. Runs once per log record on the ingest hot path, so it is
// allocation-free and locale-independent. The canonical names themselves (LevelName,
// LevelFromName) live in common/record.h.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/record.h"

namespace lode {

// Maps a level spelling to a Level; case-insensitive (ASCII), surrounding whitespace ignored.
//   kTrace  trace, trc, trac, verbose, vrb, finest, T, V
//   kDebug  debug, dbg, debu, fine, finer, D
//   kInfo   info, inf, information, informational, notice, I
//   kWarn   warn, warning, wrn, W
//   kError  error, err, erro, eror, severe, E
//   kFatal  fatal, fata, ftl, critical, crit, alert, emerg, emergency, panic, pani, F, C
// ("trac", "debu", "erro", "fata", "pani" are logrus's 4-letter text forms; "vrb", "inf", "ftl"
// Serilog's; T D I W E F C V the single letters of glog, klog and Android logcat.)
// A string of 1 to 9 decimal digits is read as a number, as LevelFromNumber.
// Outcome words such as "ok", "fail" or "failure" are not severities: they map to kUnknown, as
// does anything else. Thread-safe; allocation-free.
Level ParseLevel(std::string_view text);

// Maps a numeric level: syslog severities 0..7 (as LevelFromSyslogSeverity) and pino / bunyan
// levels 10 trace, 20 debug, 30 info, 40 warn, 50 error, 60 fatal, where values between the
// decades round down (35 -> info, 69 -> fatal). 8, 9, negatives and 70 or more -> kUnknown.
// Thread-safe.
Level LevelFromNumber(int64_t n);

// Syslog severity -> Level: 0 emerg, 1 alert, 2 crit -> kFatal; 3 err -> kError; 4 warning ->
// kWarn; 5 notice, 6 info -> kInfo; 7 debug -> kDebug. REQUIRES 0 <= severity <= 7 (kUnknown
// otherwise). Thread-safe.
Level LevelFromSyslogSeverity(int severity);

// True when `text` is exactly the canonical name of `level` (LevelName: "info" for kInfo, so
// "INFO" or "information" are not): the pipeline keeps the original spelling as an attribute
// when this is false. Thread-safe.
bool IsCanonicalSpelling(std::string_view text, Level level);

}  // namespace lode
