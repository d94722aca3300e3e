// Syslog parsing: turns one syslog message, RFC 5424 or RFC 3164 (BSD), into a normalized Record.
// docs/SYSLOG.md is the reference for the rules; in short:
//
//   <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD [SP MSG]  (5424)
//   <PRI>[TIMESTAMP SP [HOSTNAME SP]][TAG[\[PID\]]: ]MSG                                  (3164)
//
// The format is chosen by what follows <PRI>: 1 to 3 digits (the first not 0) and a space make
// RFC 5424, anything else is RFC 3164. The input is one message without transport framing
// (no RFC 6587 octet count; a trailing "\n" or "\r\n" is removed from the message).
//
// Record fields:
//   timestamp_ns  the message's TIMESTAMP; received_ns with kFlagTimestampMissing when it has
//                 none, or with kFlagTimestampInvalid and attribute kAttrOriginalTimestamp when
//                 it has one that does not parse (e.g. "Feb 30 10:00:00")
//   observed_ns   received_ns
//   level         from the severity (PRI % 8) as LevelFromSyslogSeverity
//   service       APP-NAME (5424) or TAG (3164); empty when absent or "-"
//   instance      HOSTNAME; empty when absent or "-"
//   source        "syslog"
//   message       MSG, a leading UTF-8 BOM removed (5424)
//   attributes    syslog.facility, syslog.severity (names), syslog.procid, syslog.msgid, then
//                 one "<SD-ID>.<PARAM>" per structured-data parameter, in message order
//   tenant        left untouched
#pragma once

#include <cstdint>
#include <string_view>

#include "common/record.h"
#include "common/status.h"

namespace lode {

// Parses one syslog message: RFC 5424, or RFC 3164 (BSD) — detected from what follows <PRI>.
// `received_ns` is when it arrived (observed time, and the reference for RFC 3164's
// missing year). Fills *out: timestamp_ns, observed_ns = received_ns, level, service,
// instance, source = "syslog", message, attributes (tenant left untouched).
// InvalidArgument naming what is wrong and where (byte offset) for input that is not syslog,
// e.g. "syslog: missing <PRI> at byte 0"; *out is then unspecified (but for the tenant).
// Any byte sequence is safe to pass. Thread-safe.
Status ParseSyslog(std::string_view msg, int64_t received_ns, Record* out);

// Name of a syslog facility code 0..23 ("kern", "user", ..., "local7"); "" for other values.
std::string_view SyslogFacilityName(int facility);
// Name of a syslog severity 0..7 ("emerg", "alert", "crit", "err", "warning", "notice",
// "info", "debug"); "" for other values.
std::string_view SyslogSeverityName(int severity);

}  // namespace lode
