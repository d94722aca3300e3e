#include "parse/syslog.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parse/timestamp.h"

namespace lode {
namespace {

int64_t At(std::string_view rfc3339) {
  Result<int64_t> ns = ParseTimestamp(rfc3339, 0);
  EXPECT_TRUE(ns.ok()) << ns.status().ToString();
  return ns.ok() ? *ns : 0;
}

// The default arrival time: 2024-11-20T12:00:00Z.
constexpr int64_t kNow = 1732104000LL * 1'000'000'000;

using Attrs = std::vector<std::pair<std::string, std::string>>;

// One row: `input` must parse to these fields. `timestamp` is RFC 3339 as FormatRfc3339 writes
// it, or empty for "the arrival time". `attrs` are the attributes after syslog.facility and
// syslog.severity, in order.
struct Case {
  std::string_view input;
  std::string_view received = {};  // RFC 3339; empty for kNow
  std::string_view timestamp = {};
  uint8_t flags = 0;
  std::string_view facility = {};
  std::string_view severity = {};
  Level level = Level::kUnknown;
  std::string_view instance = {};
  std::string_view service = {};
  std::string_view message = {};
  Attrs attrs = {};
};

void CheckRows(const std::vector<Case>& rows) {
  for (const Case& row : rows) {
    SCOPED_TRACE(std::string("input: ") + std::string(row.input));
    const int64_t received = row.received.empty() ? kNow : At(row.received);
    Record r;
    r.tenant = "acme";
    Status st = ParseSyslog(row.input, received, &r);
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_EQ(FormatRfc3339(r.timestamp_ns),
              row.timestamp.empty() ? FormatRfc3339(received) : std::string(row.timestamp));
    EXPECT_EQ(r.observed_ns, received);
    EXPECT_EQ(r.flags, row.flags);
    EXPECT_EQ(r.level, row.level);
    EXPECT_EQ(r.instance, row.instance);
    EXPECT_EQ(r.service, row.service);
    EXPECT_EQ(r.message, row.message);
    EXPECT_EQ(r.source, "syslog");
    EXPECT_EQ(r.tenant, "acme");
    Attrs got;
    for (const Attribute& a : r.attributes) got.emplace_back(a.key, a.value);
    Attrs want = {{"syslog.facility", std::string(row.facility)},
                  {"syslog.severity", std::string(row.severity)}};
    want.insert(want.end(), row.attrs.begin(), row.attrs.end());
    EXPECT_EQ(got, want);
  }
}

TEST(SyslogTest, Rfc5424Examples) {
  // The examples of RFC 5424 section 6.5 ("BOM" there stands for the bytes EF BB BF).
  CheckRows({
      {.input = "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - "
                "\xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
       .timestamp = "2003-10-11T22:14:15.003Z",
       .facility = "auth",
       .severity = "crit",
       .level = Level::kFatal,
       .instance = "mymachine.example.com",
       .service = "su",
       .message = "'su root' failed for lonvick on /dev/pts/8",
       .attrs = {{"syslog.msgid", "ID47"}}},
      {.input = "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time "
                "to make the do-nuts.",
       .timestamp = "2003-08-24T12:14:15.000003Z",
       .facility = "local4",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "192.0.2.1",
       .service = "myproc",
       .message = "%% It's time to make the do-nuts.",
       .attrs = {{"syslog.procid", "8710"}}},
      {.input = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"] "
                "\xEF\xBB\xBF"
                "An application event log entry...",
       .timestamp = "2003-10-11T22:14:15.003Z",
       .facility = "local4",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "mymachine.example.com",
       .service = "evntslog",
       .message = "An application event log entry...",
       .attrs = {{"syslog.msgid", "ID47"},
                 {"exampleSDID@32473.iut", "3"},
                 {"exampleSDID@32473.eventSource", "Application"},
                 {"exampleSDID@32473.eventID", "1011"}}},
      // Two SD elements and no MSG.
      {.input = "<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 "
                "[exampleSDID@32473 iut=\"3\" eventSource=\"Application\" eventID=\"1011\"]"
                "[examplePriority@32473 class=\"high\"]",
       .timestamp = "2003-10-11T22:14:15.003Z",
       .facility = "local4",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "mymachine.example.com",
       .service = "evntslog",
       .message = "",
       .attrs = {{"syslog.msgid", "ID47"},
                 {"exampleSDID@32473.iut", "3"},
                 {"exampleSDID@32473.eventSource", "Application"},
                 {"exampleSDID@32473.eventID", "1011"},
                 {"examplePriority@32473.class", "high"}}},
  });
}

TEST(SyslogTest, Rfc5424StructuredData) {
  CheckRows({
      // Escapes: \" \\ \] are unescaped; a backslash before anything else stays.
      {.input = R"(<14>1 2024-11-14T15:01:04Z h app - - [x@1 a="q\"uote" b="back\\slash" )"
                R"(c="br\]acket" d="lit\n" e="" f="[]=" g="end\\"] msg)",
       .timestamp = "2024-11-14T15:01:04Z",
       .facility = "user",
       .severity = "info",
       .level = Level::kInfo,
       .instance = "h",
       .service = "app",
       .message = "msg",
       .attrs = {{"x@1.a", "q\"uote"},
                 {"x@1.b", "back\\slash"},
                 {"x@1.c", "br]acket"},
                 {"x@1.d", "lit\\n"},
                 {"x@1.e", ""},
                 {"x@1.f", "[]="},
                 {"x@1.g", "end\\"}}},
      // An element without parameters is kept as "<SD-ID>" = ""; repeated params repeat.
      {.input = R"(<14>1 2024-11-14T15:01:04Z h app - - [origin][meta a="1" a="2"] msg)",
       .timestamp = "2024-11-14T15:01:04Z",
       .facility = "user",
       .severity = "info",
       .level = Level::kInfo,
       .instance = "h",
       .service = "app",
       .message = "msg",
       .attrs = {{"origin", ""}, {"meta.a", "1"}, {"meta.a", "2"}}},
      // Brackets and quotes in MSG are just text.
      {.input = R"(<14>1 2024-11-14T15:01:04Z h app - - - [not sd] "quoted")",
       .timestamp = "2024-11-14T15:01:04Z",
       .facility = "user",
       .severity = "info",
       .level = Level::kInfo,
       .instance = "h",
       .service = "app",
       .message = R"([not sd] "quoted")"},
  });
}

TEST(SyslogTest, Rfc5424NilValuesAndEdges) {
  CheckRows({
      // Every field nil: the arrival time stands in for the timestamp.
      {.input = "<13>1 - - - - - -",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo},
      {.input = "<13>1 - - - - - - ",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo},
      // Only the first space after SD separates; the rest is the message. One trailing line
      // end goes.
      {.input = "<13>1 - - - - - -   indented\r\n",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "  indented"},
      {.input = "<13>1 - - - - - - two lines\nhere\n",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "two lines\nhere"},
      // A BOM is stripped only at the start of MSG.
      {.input = "<13>1 - - - - - - \xEF\xBB\xBF\xEF\xBB\xBFx",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "\xEF\xBB\xBFx"},
      // A timestamp that does not parse: arrival time, flagged, original kept.
      {.input = "<13>1 2003-13-11T22:14:15Z h a - - - x",
       .flags = kFlagTimestampInvalid,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "h",
       .service = "a",
       .message = "x",
       .attrs = {{"original_timestamp", "2003-13-11T22:14:15Z"}}},
      // No offset: UTC. PRI 0 and leading zeros are accepted.
      {.input = "<0>1 2024-11-14T15:01:04 h a - - - x",
       .timestamp = "2024-11-14T15:01:04Z",
       .facility = "kern",
       .severity = "emerg",
       .level = Level::kFatal,
       .instance = "h",
       .service = "a",
       .message = "x"},
      {.input = "<007>1 - - - - - - x",
       .flags = kFlagTimestampMissing,
       .facility = "kern",
       .severity = "debug",
       .level = Level::kDebug,
       .message = "x"},
  });
}

// Exactly what util-linux logger 2.38.1 writes: `logger --no-act --stderr -n 127.0.0.1 -d ...`
// for the network forms (its --stderr copy adds the "\n"), and to a local datagram socket
// (`logger -u SOCKET -t myapp ...`, as to /dev/log), which has no HOSTNAME.
TEST(SyslogTest, UtilLinuxLogger) {
  const std::string_view sent = "2026-11-30T08:22:03Z";
  CheckRows({
      // --rfc5424 -t myapp -p local3.warning "hello world"
      {.input = "<156>1 2026-11-30T08:21:28.923148+00:00 vm myapp - - [timeQuality "
                "tzKnown=\"1\" isSynced=\"0\"] hello world\n",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28.923148Z",
       .facility = "local3",
       .severity = "warning",
       .level = Level::kWarn,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"timeQuality.tzKnown", "1"}, {"timeQuality.isSynced", "0"}}},
      // --rfc5424 -t myapp -i
      {.input = "<13>1 2026-11-30T08:21:28.943230+00:00 vm myapp 8438 - [timeQuality "
                "tzKnown=\"1\" isSynced=\"0\"] hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28.94323Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"syslog.procid", "8438"},
                 {"timeQuality.tzKnown", "1"},
                 {"timeQuality.isSynced", "0"}}},
      // --rfc5424=notime,nohost -t myapp
      {.input = "<13>1 - - myapp - - - hello world",
       .received = sent,
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .service = "myapp",
       .message = "hello world"},
      // --rfc5424=notq -t myapp
      {.input = "<13>1 2026-11-30T08:21:28.987081+00:00 vm myapp - - - hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28.987081Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world"},
      // --rfc5424 --sd-id zoo@123 --sd-param 'tiger="hungry"' --sd-param 'zebra="run \"fast\""'
      // --msgid MID -t myapp
      {.input = R"(<13>1 2026-11-30T08:21:28.974885+00:00 vm myapp - MID [timeQuality )"
                R"(tzKnown="1" isSynced="0"][zoo@123 tiger="hungry" zebra="run \"fast\""] )"
                R"(hello world)",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28.974885Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"syslog.msgid", "MID"},
                 {"timeQuality.tzKnown", "1"},
                 {"timeQuality.isSynced", "0"},
                 {"zoo@123.tiger", "hungry"},
                 {"zoo@123.zebra", "run \"fast\""}}},
      // --rfc3164 -t myapp
      {.input = "<13>Nov 30 08:21:28 vm myapp: hello world\n",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world"},
      // --rfc3164 -t myapp -i -p auth.err
      {.input = "<35>Nov 30 08:21:28 vm myapp[8441]: hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:21:28Z",
       .facility = "auth",
       .severity = "err",
       .level = Level::kError,
       .instance = "vm",
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"syslog.procid", "8441"}}},
      // -u SOCKET -t myapp (the local form: no HOSTNAME)
      {.input = "<13>Nov 30 08:22:02 myapp: hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:22:02Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .service = "myapp",
       .message = "hello world"},
      // -u SOCKET -t myapp -i
      {.input = "<13>Nov 30 08:22:02 myapp[8674]: hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:22:02Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"syslog.procid", "8674"}}},
      // -u SOCKET -t myapp -p local3.warning --id=42
      {.input = "<156>Nov 30 08:22:02 myapp[42]: hello world",
       .received = sent,
       .timestamp = "2026-11-30T08:22:02Z",
       .facility = "local3",
       .severity = "warning",
       .level = Level::kWarn,
       .service = "myapp",
       .message = "hello world",
       .attrs = {{"syslog.procid", "42"}}},
  });
}

TEST(SyslogTest, Rfc3164) {
  CheckRows({
      // RFC 3164 section 5.4.
      {.input = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8",
       .received = "2003-10-11T22:14:16Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "auth",
       .severity = "crit",
       .level = Level::kFatal,
       .instance = "mymachine",
       .service = "su",
       .message = "'su root' failed for lonvick on /dev/pts/8"},
      // Space-padded day, [pid].
      {.input = "<86>Nov  4 07:01:04 web-1 sshd[1234]: Accepted publickey for root",
       .timestamp = "2024-11-04T07:01:04Z",
       .facility = "authpriv",
       .severity = "info",
       .level = Level::kInfo,
       .instance = "web-1",
       .service = "sshd",
       .message = "Accepted publickey for root",
       .attrs = {{"syslog.procid", "1234"}}},
      // Unpadded day, an explicit year and a fraction (some network devices).
      {.input = "<187>Nov 4 2023 07:01:04.250 sw1 lldp: port up",
       .timestamp = "2023-11-04T07:01:04.25Z",
       .facility = "local7",
       .severity = "err",
       .level = Level::kError,
       .instance = "sw1",
       .service = "lldp",
       .message = "port up"},
      // rsyslog forwarding templates put RFC 3339 where the BSD timestamp goes.
      {.input = "<30>2024-11-14T15:01:04.123+02:00 host tag: msg",
       .timestamp = "2024-11-14T13:01:04.123Z",
       .facility = "daemon",
       .severity = "info",
       .level = Level::kInfo,
       .instance = "host",
       .service = "tag",
       .message = "msg"},
      // No tag: the rest is the message.
      {.input = "<13>Oct 11 22:14:15 mymachine some text: here",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "mymachine",
       .message = "some text: here"},
      // ':' must be followed by a space or the end to close a tag.
      {.input = "<13>Oct 11 22:14:15 host http://example.com/ is down",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "host",
       .message = "http://example.com/ is down"},
      {.input = "<13>Oct 11 22:14:15 host app:",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "host",
       .service = "app",
       .message = ""},
      {.input = "<13>Oct 11 22:14:15 host app[12: x",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "host",
       .message = "app[12: x"},
      // Empty [] gives no procid.
      {.input = "<13>Oct 11 22:14:15 host app[]: x",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "host",
       .service = "app",
       .message = "x"},
      // A single token after the timestamp is the message, not a host.
      {.input = "<13>Oct 11 22:14:15 rebooting",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "rebooting"},
      {.input = "<13>Oct 11 22:14:15",
       .received = "2003-10-12T00:00:00Z",
       .timestamp = "2003-10-11T22:14:15Z",
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo},
      // A timestamp-shaped date that does not exist: arrival time, flagged, original kept.
      {.input = "<13>Feb 30 10:00:00 host app: x",
       .flags = kFlagTimestampInvalid,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .instance = "host",
       .service = "app",
       .message = "x",
       .attrs = {{"original_timestamp", "Feb 30 10:00:00"}}},
  });
}

TEST(SyslogTest, Rfc3164WithoutTimestamp) {
  CheckRows({
      // No HOSTNAME either: the rest is TAG: MSG, or only MSG.
      {.input = "<13>myapp: hello",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .service = "myapp",
       .message = "hello"},
      {.input = "<13>myapp[7]: hello",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .service = "myapp",
       .message = "hello",
       .attrs = {{"syslog.procid", "7"}}},
      {.input = "<13>just some text",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "just some text"},
      {.input = "<13>",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo},
      // Not a VERSION: "0" first, 4 digits, or no space after.
      {.input = "<13>01 x",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "01 x"},
      {.input = "<13>2024 was a year",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "2024 was a year"},
      {.input = "<13>1x",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "1x"},
      // Not a month.
      {.input = "<13>Now 11 22:14:15 x",
       .flags = kFlagTimestampMissing,
       .facility = "user",
       .severity = "notice",
       .level = Level::kInfo,
       .message = "Now 11 22:14:15 x"},
  });
}

// The year of an RFC 3164 timestamp: the latest that puts it at most one day after arrival.
TEST(SyslogTest, Rfc3164YearInference) {
  struct Row {
    std::string_view received;
    std::string_view stamp;
    std::string_view want;
  };
  const Row rows[] = {
      // A December message read just after new year belongs to the year that ended.
      {"2025-01-01T00:00:10Z", "Dec 31 23:59:00", "2024-12-31T23:59:00Z"},
      // A sender slightly ahead across new year: within a day in the future is this new year.
      {"2024-12-31T23:59:59Z", "Jan  1 00:00:05", "2025-01-01T00:00:05Z"},
      {"2025-01-01T00:00:10Z", "Jan  1 00:00:05", "2025-01-01T00:00:05Z"},
      {"2024-06-15T12:00:00Z", "Jun 16 12:00:00", "2024-06-16T12:00:00Z"},  // exactly a day
      {"2024-06-15T12:00:00Z", "Jun 16 12:00:01", "2023-06-16T12:00:01Z"},  // more: last year
      {"2025-03-01T00:00:00Z", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"},  // last leap year
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(row.received) + " / " + std::string(row.stamp));
    Record r;
    const std::string input = "<13>" + std::string(row.stamp) + " host app: x";
    ASSERT_TRUE(ParseSyslog(input, At(row.received), &r).ok());
    EXPECT_EQ(FormatRfc3339(r.timestamp_ns), row.want);
    EXPECT_EQ(r.flags, 0);
    EXPECT_EQ(r.instance, "host");
  }
}

TEST(SyslogTest, FacilitySeverityLevel) {
  const std::string_view facilities[] = {
      "kern",   "user",   "mail",     "daemon", "auth",   "syslog",   "lpr",     "news",
      "uucp",   "cron",   "authpriv", "ftp",    "ntp",    "security", "console", "solaris-cron",
      "local0", "local1", "local2",   "local3", "local4", "local5",   "local6",  "local7",
  };
  const std::string_view severities[] = {"emerg",   "alert",  "crit", "err",
                                         "warning", "notice", "info", "debug"};
  const Level levels[] = {Level::kFatal, Level::kFatal, Level::kFatal, Level::kError,
                          Level::kWarn,  Level::kInfo,  Level::kInfo,  Level::kDebug};
  for (int pri = 0; pri <= 191; ++pri) {
    SCOPED_TRACE("PRI " + std::to_string(pri));
    for (const std::string& prefix :
         {"<" + std::to_string(pri) + ">1 - - - - - - x", "<" + std::to_string(pri) + ">x"}) {
      Record r;
      ASSERT_TRUE(ParseSyslog(prefix, kNow, &r).ok());
      ASSERT_GE(r.attributes.size(), 2u);
      EXPECT_EQ(r.attributes[0].key, "syslog.facility");
      EXPECT_EQ(r.attributes[0].value, facilities[pri / 8]);
      EXPECT_EQ(r.attributes[1].key, "syslog.severity");
      EXPECT_EQ(r.attributes[1].value, severities[pri % 8]);
      EXPECT_EQ(r.level, levels[pri % 8]);
    }
    EXPECT_EQ(SyslogFacilityName(pri / 8), facilities[pri / 8]);
    EXPECT_EQ(SyslogSeverityName(pri % 8), severities[pri % 8]);
  }
  EXPECT_EQ(SyslogFacilityName(24), "");
  EXPECT_EQ(SyslogFacilityName(-1), "");
  EXPECT_EQ(SyslogSeverityName(8), "");
}

TEST(SyslogTest, Errors) {
  struct Row {
    std::string_view input;
    std::string_view error;  // the whole message
  };
  const Row rows[] = {
      {"", "syslog: missing <PRI> at byte 0"},
      {"\n", "syslog: missing <PRI> at byte 0"},
      {"Oct 11 22:14:15 host su: x", "syslog: missing <PRI> at byte 0"},
      {" <13>x", "syslog: missing <PRI> at byte 0"},
      {"<", "syslog: expected PRI digits after '<' at byte 1"},
      {"<>x", "syslog: expected PRI digits after '<' at byte 1"},
      {"<-1>x", "syslog: expected PRI digits after '<' at byte 1"},
      {"<13", "syslog: expected '>' after PRI at byte 3"},
      {"<1a>x", "syslog: expected '>' after PRI at byte 2"},
      {"<1234>x", "syslog: PRI longer than 3 digits at byte 1"},
      {"<200>x", "syslog: PRI 200 out of range 0-191"},
      {"<192>1 - - - - - -", "syslog: PRI 192 out of range 0-191"},
      {"<999>x", "syslog: PRI 999 out of range 0-191"},
      // RFC 5424 header.
      {"<13>1 ", "syslog: missing TIMESTAMP at byte 6"},
      {"<13>1  - - - - -", "syslog: missing TIMESTAMP at byte 6"},
      {"<13>1 -", "syslog: missing HOSTNAME at byte 7"},
      {"<13>1 -  a - - -", "syslog: missing HOSTNAME at byte 8"},
      {"<13>1 - host", "syslog: missing APP-NAME at byte 12"},
      {"<13>1 - h a", "syslog: missing PROCID at byte 11"},
      {"<13>1 - h a p", "syslog: missing MSGID at byte 13"},
      {"<13>1 - h a p m", "syslog: missing STRUCTURED-DATA at byte 15"},
      {"<13>1 - h a p m\r\n", "syslog: missing STRUCTURED-DATA at byte 15"},
      {"<13>1 - h a p m x", "syslog: expected STRUCTURED-DATA ('-' or '[') at byte 16"},
      {"<13>1 - h a p m -x", "syslog: expected ' ' after STRUCTURED-DATA at byte 17"},
      // Structured data.
      {R"(<13>1 - - - - - [id a="1")", "syslog: unterminated SD element at byte 16"},
      {R"(<13>1 - - - - - [id)", "syslog: unterminated SD element at byte 16"},
      {R"(<13>1 - - - - - [)", "syslog: unterminated SD element at byte 16"},
      {R"(<13>1 - - - - - [id a="1"][x)", "syslog: unterminated SD element at byte 26"},
      {R"(<13>1 - - - - - [id a="1] msg)", "syslog: unterminated SD-PARAM value at byte 22"},
      {R"(<13>1 - - - - - [id a="x\"])", "syslog: unterminated SD-PARAM value at byte 22"},
      {R"(<13>1 - - - - - [id a=1])", "syslog: expected '\"' to open SD-PARAM value at byte 22"},
      {R"(<13>1 - - - - - [id a])", "syslog: expected '=' after SD-PARAM name at byte 21"},
      {R"(<13>1 - - - - - [ a="1"])", "syslog: missing SD-ID at byte 17"},
      {R"(<13>1 - - - - - [id  a="1"])", "syslog: missing SD-PARAM name at byte 20"},
      {R"(<13>1 - - - - - [id a="1" ])", "syslog: missing SD-PARAM name at byte 26"},
      {R"(<13>1 - - - - - [id a="1"x])", "syslog: expected ' ' or ']' in SD element at byte 25"},
      {R"(<13>1 - - - - - [id a="1"]x)", "syslog: expected ' ' after STRUCTURED-DATA at byte 26"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string("input: ") + std::string(row.input));
    Record r;
    Status st = ParseSyslog(row.input, kNow, &r);
    ASSERT_FALSE(st.ok());
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(st.message(), row.error);
  }
}

// Parses `bytes` from an exactly-sized heap buffer (so that a sanitizer build catches any read
// past the end) and checks the outcome is OK or InvalidArgument.
void ParseAnything(std::string_view bytes) {
  auto buf = std::make_unique<char[]>(bytes.size() + 1);  // never empty: a valid pointer
  std::copy(bytes.begin(), bytes.end(), buf.get());
  const std::string_view input(buf.get(), bytes.size());
  Record r;
  Status st = ParseSyslog(input, kNow, &r);
  if (st.ok()) {
    EXPECT_EQ(r.source, "syslog");
    EXPECT_EQ(r.observed_ns, kNow);
    ASSERT_GE(r.attributes.size(), 2u);
    EXPECT_EQ(r.attributes[0].key, "syslog.facility");
    EXPECT_LE(r.message.size(), bytes.size());
  } else {
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
    EXPECT_TRUE(st.message().starts_with("syslog: ")) << st.ToString();
  }
}

TEST(SyslogTest, FuzzTruncatedAndMutated) {
  const std::string_view seeds[] = {
      "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root'",
      R"(<165>1 2003-10-11T22:14:15.003Z host evntslog 12 ID47 [exampleSDID@32473 iut="3" )"
      R"(eventSource="Appl\"ic\\ati\]on"][examplePriority@32473 class="high"][x] msg)",
      "<13>1 - - - - - -",
      "<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
      "<86>Nov  4 07:01:04 web-1 sshd[1234]: Accepted publickey",
      "<187>Nov 4 2023 07:01:04.250 sw1 lldp: port up\r\n",
      "<30>2024-11-14T15:01:04.123+02:00 host tag: msg",
      "<13>myapp[7]: hello",
  };
  std::mt19937 rng(20241114);
  using std::literals::string_view_literals::operator""sv;
  const std::string_view alphabet = "<>[]\"\\= :-.0123456789TZ+JanNovOct1 \n\r\xEF\xBB\xBF\x00x"sv;
  auto pick = [&](size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); };
  size_t cases = 0;
  // Every prefix of every seed.
  for (std::string_view seed : seeds) {
    for (size_t len = 0; len <= seed.size(); ++len) {
      ParseAnything(seed.substr(0, len));
      ++cases;
    }
  }
  // Random edits of the seeds, then a random truncation.
  for (int i = 0; i < 5000; ++i) {
    std::string s(seeds[pick(std::size(seeds))]);
    const size_t edits = 1 + pick(4);
    for (size_t e = 0; e < edits && !s.empty(); ++e) {
      const size_t at = pick(s.size());
      const char c = alphabet[pick(alphabet.size())];
      switch (pick(4)) {
        case 0: s[at] = c; break;
        case 1: s.insert(s.begin() + static_cast<std::ptrdiff_t>(at), c); break;
        case 2: s.erase(at, 1); break;
        default: s[at] = static_cast<char>(pick(256)); break;
      }
    }
    if (pick(3) == 0 && !s.empty()) s.resize(pick(s.size() + 1));
    ParseAnything(s);
    ++cases;
  }
  // Pure noise behind a valid PRI, and pure noise.
  for (int i = 0; i < 2000; ++i) {
    std::string s = i % 2 == 0 ? "<" + std::to_string(pick(192)) + ">" : "";
    if (i % 4 == 0) s += "1 ";
    const size_t len = pick(40);
    for (size_t k = 0; k < len; ++k) {
      s.push_back(i % 3 == 0 ? static_cast<char>(pick(256)) : alphabet[pick(alphabet.size())]);
    }
    ParseAnything(s);
    ++cases;
  }
  EXPECT_GT(cases, 7000u);
}

// Real /var/log/syslog lines (../shared/data/formats/syslog-rfc3164.log; the
// file format drops <PRI>, which a sender adds): every one parses, with the
// host as instance and the program as service.
TEST(SyslogRealLinesTest, SharedSampleParses) {
  const std::filesystem::path path =
      std::filesystem::path(LODE_SHARED_DATA_DIR) / "formats" / "syslog-rfc3164.log";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "no " << path << ": the format samples live in ../shared/data";
  std::string line;
  size_t n = 0;
  const int64_t received = 1'743'080'000'000'000'000;  // 2025-03-27, the sample's day
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++n;
    // "Mar 27 13:06:56 ip-10-77-20-248 sshd[1291]: Server listening ..."
    std::istringstream tokens(line);
    std::string mon, day, time, host, tag;
    tokens >> mon >> day >> time >> host >> tag;
    const std::string program = tag.substr(0, tag.find_first_of("[:"));
    Record r;
    Status st = ParseSyslog("<13>" + line, received, &r);
    ASSERT_TRUE(st.ok()) << line << ": " << st.ToString();
    EXPECT_EQ(r.instance, host) << line;
    EXPECT_EQ(r.service, program) << line;
    EXPECT_FALSE(r.message.empty()) << line;
    EXPECT_EQ(r.flags & kFlagTimestampMissing, 0) << line;
  }
  EXPECT_GE(n, 100u);
}

}  // namespace
}  // namespace lode
