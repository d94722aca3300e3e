// Timestamp parsing and formatting: turns the many timestamp spellings found in log records
// into nanoseconds since the Unix epoch (UTC), and formats them back as RFC 3339.
//
// These functions run once per log record on the ingest hot path, so they are hand-written
// over std::string_view: no allocation on success, no locale, no regex, no sscanf, no time
// zone database. All date math is proleptic Gregorian in UTC.
//
// Accepted shapes (after trimming whitespace, one pair of surrounding double quotes and one
// pair of surrounding square brackets):
//   RFC 3339 / ISO 8601  2024-11-14T17:01:04Z, 2024-11-14t17:01:04.123+02:00, +0200, +02, z,
//                        2024-11-14 17:01:04,123 (log4j, Python logging), 2024-11-14 (midnight),
//                        20241114T170104Z (basic), 2024/11/14 17:01:04 (Go log)
//   Epoch numbers        1731596464, 1731596464.123, -1.5, 1731596464123 (ms), ... (as
//                        EpochToNanos)
//   JavaScript           Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time), with or
//                        without a "Date " prefix or the (name); GMT-0500, GMT+05:30;
//                        Thu, 14 Nov 2024 15:01:04 GMT (toUTCString)
//   RFC 2822 / RFC 1123  Thu, 14 Nov 2024 17:01:04 +0200, 4 Nov 24 17:01 EST (UT, UTC, GMT, Z,
//                        EST EDT CST CDT MST MDT PST PDT; 2-digit years 00-49 20xx, 50-99 19xx)
//   Syslog RFC 3164      Nov 14 17:01:04, Nov  4 07:01:04.123, Nov 14 2024 17:01:04
//   Common Log Format    14/Nov/2024:17:01:04 +0200, [14/Nov/2024:17:01:04 +0200]
//   Others               Thu Nov 14 17:01:04 2024 (asctime), Thu Nov 14 17:01:04 UTC 2024
//                        (date), 14-Nov-2024 17:01:04 (Tomcat), Nov 14, 2024 5:01:04 PM
//                        (java.util.logging), 2024-11-14 17:01:04.1 +0000 UTC (Go time.String),
//                        081109 203615 (HDFS yyMMdd HHmmss)
// Month and weekday names may be abbreviated to 3 or more letters ("Sept", "Thurs").
// Leap seconds: a second of 60 is accepted in any minute and read as 59 (the fraction is kept),
// so 23:59:60.5 sorts after 23:59:59.4 and stays on the same day. 24:00:00 is the next midnight.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace lode {

// Parses a timestamp in any supported shape (see the top of this file) into ns since the Unix
// epoch, UTC. `now_ns` is used only to infer a missing year (syslog "Nov 14 17:01:04"): the year
// chosen is the latest one that puts the time no more than one day after `now_ns`, so a December
// line read in January lands in the previous year. Texts without a zone or offset are UTC.
// Month and weekday names are case-insensitive; a weekday is skipped, not checked against the
// date. Fractions longer than 9 digits are truncated. Pure digit strings are always epoch numbers.
// On failure returns InvalidArgument whose message names the problem and quotes the text
// (truncated to 64 bytes), e.g. `invalid month in timestamp "2024-13-01"`.
// Thread-safe; allocation-free on success.
Result<int64_t> ParseTimestamp(std::string_view text, int64_t now_ns);

// Converts an epoch number to ns, deciding its unit by magnitude: |v| < 1e11 is seconds,
// < 1e14 milliseconds, < 1e17 microseconds, otherwise nanoseconds. The double is read as its
// shortest decimal spelling (so 1731596464.123 gives ...464123000000 exactly, not the binary
// approximation); digits below 1 ns are truncated toward zero. Non-finite values and results
// outside int64 give InvalidArgument. Thread-safe; allocation-free on success.
Result<int64_t> EpochToNanos(double value);
// Same rule with exact integer arithmetic.
Result<int64_t> EpochToNanos(int64_t value);

// Appends `ns` (ns since the epoch) to *out as RFC 3339 UTC with "Z", with the fraction trimmed
// of trailing zeros and omitted when zero: "2024-11-14T15:01:04Z", "2024-11-14T15:01:04.5Z",
// "1969-12-31T23:59:59.999999999Z". Every int64 value is valid. Thread-safe.
void FormatRfc3339(int64_t ns, std::string* out);
// Same, returned as a new string.
std::string FormatRfc3339(int64_t ns);

}  // namespace lode
