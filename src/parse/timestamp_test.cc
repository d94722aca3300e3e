#include "parse/timestamp.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace lode {
namespace {

// 2024-11-20T12:00:00Z: the reference "now" for texts without a year, unless a row says otherwise.
constexpr int64_t kNow = 1732104000LL * 1'000'000'000;

// One row: `input` must parse to `want` (RFC 3339 as FormatRfc3339 writes it), or, when `error`
// is set, fail with InvalidArgument whose message contains `error`.
struct Case {
  std::string_view input;
  std::string_view want;
  std::string_view error = {};
};

void CheckRows(const Case* rows, size_t count, int64_t now_ns = kNow) {
  for (size_t i = 0; i < count; ++i) {
    const Case& row = rows[i];
    SCOPED_TRACE(std::string("input: ") + std::string(row.input));
    Result<int64_t> got = ParseTimestamp(row.input, now_ns);
    if (!row.error.empty()) {
      ASSERT_FALSE(got.ok()) << "parsed as " << FormatRfc3339(*got);
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(got.status().message().find(row.error), std::string_view::npos)
          << got.status().ToString();
    } else {
      ASSERT_TRUE(got.ok()) << got.status().ToString();
      EXPECT_EQ(FormatRfc3339(*got), row.want);
    }
  }
}

template <size_t N>
void CheckRows(const Case (&rows)[N], int64_t now_ns = kNow) {
  CheckRows(rows, N, now_ns);
}

TEST(ParseTimestampTest, Rfc3339AndIso8601) {
  const Case rows[] = {
      {"2024-11-14T17:01:04Z", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04z", "2024-11-14T17:01:04Z"},
      {"2024-11-14t17:01:04Z", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04.5Z", "2024-11-14T17:01:04.5Z"},
      {"2024-11-14T17:01:04.12Z", "2024-11-14T17:01:04.12Z"},
      {"2024-11-14T17:01:04.123Z", "2024-11-14T17:01:04.123Z"},
      {"2024-11-14T17:01:04.123456Z", "2024-11-14T17:01:04.123456Z"},
      {"2024-11-14T17:01:04.123456789Z", "2024-11-14T17:01:04.123456789Z"},
      {"2024-11-14T17:01:04.1234567891234Z", "2024-11-14T17:01:04.123456789Z"},  // truncated
      {"2024-11-14T17:01:04.000Z", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04+02:00", "2024-11-14T15:01:04Z"},
      {"2024-11-14T17:01:04+0200", "2024-11-14T15:01:04Z"},
      {"2024-11-14T17:01:04+02", "2024-11-14T15:01:04Z"},
      {"2024-11-14T17:01:04-05:30", "2024-11-14T22:31:04Z"},
      {"2024-11-14T17:01:04+00:00", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04-00:00", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04+18:00", "2024-11-13T23:01:04Z"},
      {"2024-11-14T01:00:00+02:00", "2024-11-13T23:00:00Z"},  // offset crosses midnight
      {"2024-11-14T17:01:04.123456+0000", "2024-11-14T17:01:04.123456Z"},
      {"2024-11-14 17:01:04.123", "2024-11-14T17:01:04.123Z"},
      {"2024-11-14 17:01:04,123", "2024-11-14T17:01:04.123Z"},  // log4j, Python logging
      {"2024-11-14 17:01:04", "2024-11-14T17:01:04Z"},
      {"2024-11-14T17:01:04", "2024-11-14T17:01:04Z"},  // no zone: UTC
      {"2024-11-14T17:01", "2024-11-14T17:01:00Z"},
      {"2024-11-14 17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"2024-11-14 17:01:04 UTC", "2024-11-14T17:01:04Z"},
      {"2024-11-14 17:01:04.123456789 +0200 EET", "2024-11-14T15:01:04.123456789Z"},  // Go
      {"2024-11-14", "2024-11-14T00:00:00Z"},
      {"20241114T170104Z", "2024-11-14T17:01:04Z"},
      {"20241114T170104.25+0200", "2024-11-14T15:01:04.25Z"},
      {"20241114T1701Z", "2024-11-14T17:01:00Z"},
      {"20241114T170104", "2024-11-14T17:01:04Z"},
      {"2024-02-29T12:00:00Z", "2024-02-29T12:00:00Z"},  // leap year
      {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},  // divisible by 400
      {"2024-12-31T24:00:00Z", "2025-01-01T00:00:00Z"},  // 24:00 is the next midnight
      {"2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"},  // leap second read as :59
      {"2016-12-31T23:59:60.5Z", "2016-12-31T23:59:59.5Z"},
      {"1970-01-01T00:00:00Z", "1970-01-01T00:00:00Z"},
      {"1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59.999Z"},
      {"1900-01-01T00:00:00Z", "1900-01-01T00:00:00Z"},
      {"2262-04-11T23:47:16.854775807Z", "2262-04-11T23:47:16.854775807Z"},  // int64 max
      {"1677-09-21T00:12:43.145224192Z", "1677-09-21T00:12:43.145224192Z"},  // int64 min
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, EpochStrings) {
  const Case rows[] = {
      {"1731596464", "2024-11-14T15:01:04Z"},
      {"1731596464.123", "2024-11-14T15:01:04.123Z"},
      {"1731596464.123456789", "2024-11-14T15:01:04.123456789Z"},
      {"1731596464.1234567891", "2024-11-14T15:01:04.123456789Z"},
      {"1731596464123", "2024-11-14T15:01:04.123Z"},
      {"1731596464123.456", "2024-11-14T15:01:04.123456Z"},
      {"1731596464123456", "2024-11-14T15:01:04.123456Z"},
      {"1731596464123456.7", "2024-11-14T15:01:04.1234567Z"},
      {"1731596464123456789", "2024-11-14T15:01:04.123456789Z"},
      {"0", "1970-01-01T00:00:00Z"},
      {"000", "1970-01-01T00:00:00Z"},
      {"0.5", "1970-01-01T00:00:00.5Z"},
      {"-0", "1970-01-01T00:00:00Z"},
      {"00000000001731596464", "2024-11-14T15:01:04Z"},  // leading zeros do not count
      {"-1", "1969-12-31T23:59:59Z"},
      {"-1.5", "1969-12-31T23:59:58.5Z"},
      {"+1.5", "1970-01-01T00:00:01.5Z"},
      {"99999999999", "", "out of range"},       // still seconds (< 1e11): past 2262
      {"100000000000", "1973-03-03T09:46:40Z"},  // 1e11: the first millisecond value
      {"9223372036", "2262-04-11T23:47:16Z"},    // largest whole second in range
      {"9223372036854775807", "2262-04-11T23:47:16.854775807Z"},
      {"-9223372036854775808", "1677-09-21T00:12:43.145224192Z"},
      {"9223372036854775808", "", "out of range"},
      {"99999999999999999999999", "", "out of range"},
      {"9300000000", "", "out of range"},  // seconds past 2262
      {"1731596464.", "", "unrecognized"},
      {"1731596464.x", "", "unrecognized"},
      {"1731596464x", "", "unrecognized"},
      {"-", "", "unrecognized"},
      {"1.2.3", "", "unrecognized"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, JavaScript) {
  const Case rows[] = {
      // The DESIGN example, with and without the "Date " prefix.
      {"Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)", "2024-11-14T15:01:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)", "2024-11-14T15:01:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT+0200", "2024-11-14T15:01:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT-0500 (Eastern Standard Time)", "2024-11-14T22:01:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT+05:30", "2024-11-14T11:31:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT+0530 (India Standard Time)", "2024-11-14T11:31:04Z"},
      {"Thu Nov 14 2024 17:01:04 GMT", "2024-11-14T17:01:04Z"},
      {"Thu Nov 14 2024 17:01:04 UTC+2", "2024-11-14T15:01:04Z"},
      {"Sun Mar 31 2024 03:30:00 GMT+0300 (Israel Daylight Time)", "2024-03-31T00:30:00Z"},
      {"date thu nov 14 2024 17:01:04 gmt+0200 (x)", "2024-11-14T15:01:04Z"},
      // Date.toUTCString()
      {"Thu, 14 Nov 2024 15:01:04 GMT", "2024-11-14T15:01:04Z"},
      {"Date Thu, 14 Nov 2024 15:01:04 GMT", "2024-11-14T15:01:04Z"},
      // Broken ones.
      {"Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time", "", "unrecognized"},
      {"Date", "", "unrecognized"},
      {"Date Foo Nov 14 2024 17:01:04", "", "unrecognized"},
      {"Thu Nov 14 2024 17:01:04 GMT+2500", "", "invalid zone offset"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, Rfc2822) {
  const Case rows[] = {
      {"Thu, 14 Nov 2024 17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"14 Nov 2024 17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"Thu, 4 Nov 2024 17:01:04 +0000", "2024-11-04T17:01:04Z"},  // single-digit day
      {"Thu, 14 Nov 2024 17:01 -0000", "2024-11-14T17:01:00Z"},    // seconds are optional
      {"Thu, 14 Nov 24 17:01:04 +0200", "2024-11-14T15:01:04Z"},   // 2-digit year 00-49 -> 20xx
      {"Fri, 14 Nov 97 17:01:04 +0000", "1997-11-14T17:01:04Z"},   // 50-99 -> 19xx
      {"Fri, 14 Nov 104 17:01:04 +0000", "2004-11-14T17:01:04Z"},  // 3 digits -> +1900
      {"Thu, 14 Nov 2024 17:01:04 UT", "2024-11-14T17:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 UTC", "2024-11-14T17:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 GMT", "2024-11-14T17:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 Z", "2024-11-14T17:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 EST", "2024-11-14T22:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 EDT", "2024-11-14T21:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 CST", "2024-11-14T23:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 CDT", "2024-11-14T22:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 MST", "2024-11-15T00:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 MDT", "2024-11-14T23:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 PST", "2024-11-15T01:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 PDT", "2024-11-15T00:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 +0200 (IST)", "2024-11-14T15:01:04Z"},  // comment
      {"Thursday, 14 November 2024 17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"Thu,14 Nov 2024 17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"Thu, 14 Nov 2024 17:01:04 CET", "", "unknown time zone"},
      {"Thu, 14 Nov 2024 17:01:04 +02:60", "", "invalid zone offset"},
      {"Thu, 14 Nov 2024 17:01:04 +1900", "", "invalid zone offset"},
      {"Thu, 14 Nov 2024 17:01:04 +0200 +0300", "", "unrecognized"},
      {"Thu, 31 Nov 2024 17:01:04 +0200", "", "invalid day"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, Syslog) {
  const Case rows[] = {
      {"Nov 14 17:01:04", "2024-11-14T17:01:04Z"},
      {"Nov  4 07:01:04", "2024-11-04T07:01:04Z"},  // two spaces before a 1-digit day
      {"Nov 4 07:01:04", "2024-11-04T07:01:04Z"},
      {"Nov 14 17:01:04.123", "2024-11-14T17:01:04.123Z"},
      {"Nov 14 17:01:04.123456", "2024-11-14T17:01:04.123456Z"},
      {"Nov 14 2024 17:01:04", "2024-11-14T17:01:04Z"},
      {"Nov 14 2023 17:01:04", "2023-11-14T17:01:04Z"},  // an explicit year is kept
      {"Nov 21 11:00:00", "2024-11-21T11:00:00Z"},       // within a day after now: this year
      {"Nov 22 12:00:00", "2023-11-22T12:00:00Z"},       // two days ahead: last year
      {"Dec 31 23:59:59", "2023-12-31T23:59:59Z"},
      {"Jan  1 00:00:00", "2024-01-01T00:00:00Z"},
      {"November 14 17:01:04", "2024-11-14T17:01:04Z"},
      {"Nov 31 10:00:00", "", "invalid day"},
      {"Nov 14 25:00:00", "", "invalid hour"},
      {"Nov 14 17:61:04", "", "invalid minute"},
      {"Nov 14 17:01:61", "", "invalid second"},
      {"Nov 14 17:01:04 host sshd[1]: x", "", "unknown time zone"},
      {"Nov 14", "", "unrecognized"},
      {"Nov 14 17", "", "unrecognized"},
      {"Nov 14 17:1:04", "", "unrecognized"},
      {"Nov 14 17:01:04.", "", "unrecognized"},
      {"Nov 0 17:01:04", "", "invalid day"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, YearInference) {
  struct Row {
    std::string_view now;
    std::string_view input;
    std::string_view want;
  };
  const Row rows[] = {
      // A December line read just after new year belongs to the year that ended.
      {"2025-01-01T00:10:00Z", "Dec 31 23:59:00", "2024-12-31T23:59:00Z"},
      {"2025-01-01T00:10:00Z", "Jan  1 00:09:00", "2025-01-01T00:09:00Z"},
      // Up to a day in the future is tolerated (clock skew, time zones).
      {"2024-12-31T23:50:00Z", "Jan  1 00:05:00", "2025-01-01T00:05:00Z"},
      {"2024-12-31T23:50:00Z", "Jan  1 23:49:59", "2025-01-01T23:49:59Z"},
      {"2024-12-31T23:50:00Z", "Jan  2 00:00:00", "2024-01-02T00:00:00Z"},
      {"2024-06-15T12:00:00Z", "Jun 15 12:00:00", "2024-06-15T12:00:00Z"},
      {"2024-06-15T12:00:00Z", "Jun 16 12:00:00", "2024-06-16T12:00:00Z"},  // exactly one day
      {"2024-06-15T12:00:00Z", "Jun 16 12:00:01", "2023-06-16T12:00:01Z"},
      // Feb 29 goes back to the last leap year.
      {"2025-03-01T00:00:00Z", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"},
      {"2027-06-01T00:00:00Z", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"},
      {"2024-02-28T12:00:00Z", "Feb 29 10:00:00", "2024-02-29T10:00:00Z"},
      {"1970-01-01T00:00:00Z", "Dec 31 23:00:00", "1969-12-31T23:00:00Z"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(row.now) + " / " + std::string(row.input));
    Result<int64_t> now = ParseTimestamp(row.now, 0);
    ASSERT_TRUE(now.ok()) << now.status().ToString();
    Result<int64_t> got = ParseTimestamp(row.input, *now);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_EQ(FormatRfc3339(*got), row.want);
  }
}

TEST(ParseTimestampTest, CommonLogFormat) {
  const Case rows[] = {
      {"14/Nov/2024:17:01:04 +0200", "2024-11-14T15:01:04Z"},
      {"[14/Nov/2024:17:01:04 +0200]", "2024-11-14T15:01:04Z"},
      {"[14/Nov/2024:17:01:04 -0700]", "2024-11-15T00:01:04Z"},
      {"04/Nov/2024:07:01:04 +0000", "2024-11-04T07:01:04Z"},
      {"14/Nov/2024:17:01:04.123 +0000", "2024-11-14T17:01:04.123Z"},
      {"14/Nov/2024:17:01:04", "2024-11-14T17:01:04Z"},
      {"14/Nov-2024:17:01:04 +0200", "", "unrecognized"},
      {"14/Foo/2024:17:01:04 +0200", "", "unrecognized"},
      {"[14/Nov/2024:17:01:04 +0200", "", "unrecognized"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, OtherCommonFormats) {
  const Case rows[] = {
      {"2024/11/14 17:01:04", "2024-11-14T17:01:04Z"},  // Go log
      {"2024/11/14 17:01:04.123456", "2024-11-14T17:01:04.123456Z"},
      {"Thu Nov 14 17:01:04 2024", "2024-11-14T17:01:04Z"},  // asctime
      {"Thu Nov  4 17:01:04 2024", "2024-11-04T17:01:04Z"},
      {"Thu Nov 14 17:01:04 UTC 2024", "2024-11-14T17:01:04Z"},  // date(1)
      {"Thu Nov 14 17:01:04 EST 2024", "2024-11-14T22:01:04Z"},
      {"14-Nov-2024 17:01:04", "2024-11-14T17:01:04Z"},  // Tomcat
      {"14-Nov-2024 17:01:04.123", "2024-11-14T17:01:04.123Z"},
      {"14-Nov-2024", "2024-11-14T00:00:00Z"},
      {"14 Nov 2024", "2024-11-14T00:00:00Z"},
      {"Nov 14 2024", "2024-11-14T00:00:00Z"},
      {"Nov 14, 2024", "2024-11-14T00:00:00Z"},
      {"Nov 14 2024x", "", "unrecognized"},
      {"Nov 14, 2024 5:01:04 PM", "2024-11-14T17:01:04Z"},  // java.util.logging
      {"Nov 14, 2024 12:01:04 AM", "2024-11-14T00:01:04Z"},
      {"Nov 14, 2024 12:01:04 PM", "2024-11-14T12:01:04Z"},
      {"Nov 14 2024 5:01:04 pm UTC", "2024-11-14T17:01:04Z"},
      {"081109 203615", "2008-11-09T20:36:15Z"},  // HDFS
      {"Nov 14, 2024 13:01:04 PM", "", "invalid hour"},
      {"Nov 14, 2024 0:01:04 AM", "", "invalid hour"},
      {"Nov 14, 2024 5:01:04 UTC PM", "", "unrecognized"},
      {"Nov 14, 2024 5:01-04 PM", "", "unrecognized"},  // AM/PM after a zone
      {"Nov 14, 2024 5:01:04 PM PM", "", "unrecognized"},
      {"2024-11-14 05:01:04 PM", "", "unrecognized"},  // no AM/PM in ISO shapes
      {"Thu Nov 14 17:01:04 2024 2025", "", "unrecognized"},
      {"081109 2036", "", "unrecognized"},
      {"081309 203615", "", "invalid month"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, CaseAndNames) {
  const Case rows[] = {
      {"THU NOV 14 2024 17:01:04 GMT+0200", "2024-11-14T15:01:04Z"},
      {"thu, 14 nov 2024 17:01:04 gmt", "2024-11-14T17:01:04Z"},
      {"14-nOv-2024 17:01:04", "2024-11-14T17:01:04Z"},
      {"Wednesday Nov 13 2024 17:01:04", "2024-11-13T17:01:04Z"},
      {"Tues, 12 Nov 2024 17:01:04 +0000", "2024-11-12T17:01:04Z"},
      {"Mon Nov 14 2024 17:01:04", "2024-11-14T17:01:04Z"},  // the weekday is not checked
      {"Sept 14 2024 17:01:04", "2024-09-14T17:01:04Z"},
      {"September 14 2024 17:01:04", "2024-09-14T17:01:04Z"},
      {"Jan 1 2024 00:00:00", "2024-01-01T00:00:00Z"},
      {"Feb 1 2024 00:00:00", "2024-02-01T00:00:00Z"},
      {"Mar 1 2024 00:00:00", "2024-03-01T00:00:00Z"},
      {"Apr 1 2024 00:00:00", "2024-04-01T00:00:00Z"},
      {"May 1 2024 00:00:00", "2024-05-01T00:00:00Z"},
      {"Jun 1 2024 00:00:00", "2024-06-01T00:00:00Z"},
      {"Jul 1 2024 00:00:00", "2024-07-01T00:00:00Z"},
      {"Aug 1 2024 00:00:00", "2024-08-01T00:00:00Z"},
      {"Sep 1 2024 00:00:00", "2024-09-01T00:00:00Z"},
      {"Oct 1 2024 00:00:00", "2024-10-01T00:00:00Z"},
      {"Nov 1 2024 00:00:00", "2024-11-01T00:00:00Z"},
      {"Dec 1 2024 00:00:00", "2024-12-01T00:00:00Z"},
      {"Ja 1 2024 00:00:00", "", "unrecognized"},
      {"Novembre 1 2024 00:00:00", "", "unrecognized"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, TrimsWhitespaceQuotesAndBrackets) {
  const Case rows[] = {
      {"  2024-11-14T17:01:04Z\n", "2024-11-14T17:01:04Z"},
      {"\"2024-11-14T17:01:04Z\"", "2024-11-14T17:01:04Z"},
      {" \" 2024-11-14T17:01:04Z \" ", "2024-11-14T17:01:04Z"},
      {"\"1731596464\"", "2024-11-14T15:01:04Z"},
      {"\t[14/Nov/2024:17:01:04 +0200]\r\n", "2024-11-14T15:01:04Z"},
      {"\"2024-11-14T17:01:04Z", "", "unrecognized"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, BadInputs) {
  const Case rows[] = {
      {"", "", "empty timestamp"},
      {"   ", "", "empty timestamp"},
      {"\"\"", "", "empty timestamp"},
      {"foo", "", "unrecognized timestamp \"foo\""},
      {"2024-13-01", "", "invalid month"},
      {"2024-00-01", "", "invalid month"},
      {"2024-13-01T00:00:00Z", "", "invalid month in timestamp \"2024-13-01T00:00:00Z\""},
      {"2024-02-30", "", "invalid day"},
      {"2023-02-29", "", "invalid day"},  // not a leap year
      {"1900-02-29", "", "invalid day"},  // divisible by 100, not 400
      {"2024-04-31", "", "invalid day"},
      {"2024-11-00", "", "invalid day"},
      {"25:00:00", "", "unrecognized"},
      {"2024-11-14T25:00:00Z", "", "invalid hour"},
      {"2024-11-14T24:00:01Z", "", "invalid hour"},
      {"2024-11-14T17:60:00Z", "", "invalid minute"},
      {"2024-11-14T17:01:61Z", "", "invalid second"},
      {"2024-11-14T17:01:04+19:00", "", "invalid zone offset"},
      {"2024-11-14T17:01:04+1", "", "unrecognized"},
      {"2024-11-14T17:01:04+020", "", "unrecognized"},
      {"2024-11-14T17:01:04 XYZ", "", "unknown time zone"},
      {"2024-11-14T", "", "unrecognized"},
      {"2024-11-14T17:01:04ZZ", "", "unknown time zone"},
      {"2024-11-14T17:01:04Z 2024", "", "unrecognized"},
      {"2024-11-14T17:01:04Z (x)", "", "unrecognized"},
      {"2024-1-14", "", "unrecognized"},
      {"2024-11-14X17:01:04", "", "unrecognized"},
      {"2024-11/14", "", "unrecognized"},
      {"2024-11-14T17:01:04.Z", "", "unrecognized"},
      {"20241114", "1970-08-23T06:31:54Z"},  // digits alone are an epoch number
      {"20241114T17", "", "unrecognized"},
      {"Nov 31 10:00:00", "", "invalid day"},
      {"12:00:00", "", "unrecognized"},
      {"(x)", "", "unrecognized"},
      {"Thu", "", "unrecognized"},
      {"Thu Nov", "", "unrecognized"},
      {"1 2 3", "", "unrecognized"},
      {"3000-01-01T00:00:00Z", "", "out of range"},
      {"1600-01-01T00:00:00Z", "", "out of range"},
      {"2262-04-11T23:47:16.854775808Z", "", "out of range"},
  };
  CheckRows(rows);
}

TEST(ParseTimestampTest, ErrorMessages) {
  struct Row {
    std::string_view input;
    std::string_view message;
  };
  const Row rows[] = {
      {"foo", "unrecognized timestamp \"foo\""},
      {"", "empty timestamp"},
      {"2024-13-01T00:00:00Z", "invalid month in timestamp \"2024-13-01T00:00:00Z\""},
      {"Nov 31 10:00:00", "invalid day in timestamp \"Nov 31 10:00:00\""},
      {"a\"b\\c\x01", "unrecognized timestamp \"a\\\"b\\\\c\\x01\""},
      {std::string_view("x\0y", 3), "unrecognized timestamp \"x\\x00y\""},
      {"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghij",
       "unrecognized timestamp "
       "\"abcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcdefghijabcd...\""},
      // The cut backs off to a UTF-8 boundary: U+00E9 (2 bytes) straddles byte 64.
      {"012345678901234567890123456789012345678901234567890123456789012\xc3\xa9xyz",
       "unrecognized timestamp "
       "\"012345678901234567890123456789012345678901234567890123456789012...\""},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string("input: ") + std::string(row.input));
    Result<int64_t> got = ParseTimestamp(row.input, kNow);
    ASSERT_FALSE(got.ok());
    EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got.status().message(), row.message);
  }
}

TEST(EpochToNanosTest, Integers) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  struct Row {
    int64_t value;
    int64_t want;
    bool ok;
  };
  const Row rows[] = {
      {0, 0, true},
      {1, 1'000'000'000, true},
      {-1, -1'000'000'000, true},
      {1731596464, 1731596464'000'000'000, true},
      {99'999'999'999, 0, false},  // seconds, but past year 2262
      {9'223'372'036, 9'223'372'036'000'000'000, true},
      {9'223'372'037, 0, false},
      {100'000'000'000, 100'000'000'000'000'000, true},  // 1e11: milliseconds
      {1731596464123, 1731596464123'000'000, true},
      {-1731596464123, -1731596464123'000'000, true},
      {9'223'372'036'854, 9'223'372'036'854'000'000, true},  // last millisecond in range
      {99'999'999'999'999, 0, false},
      {100'000'000'000'000, 100'000'000'000'000'000, true},  // 1e14: microseconds
      {1731596464123456, 1731596464123456'000, true},
      {9'223'372'036'854'775, 9'223'372'036'854'775'000, true},  // last microsecond in range
      {100'000'000'000'000'000 - 1, 0, false},
      {100'000'000'000'000'000, 100'000'000'000'000'000, true},  // 1e17: nanoseconds
      {1731596464123456789, 1731596464123456789, true},
      {kMax, kMax, true},
      {kMin, kMin, true},
      {-100'000'000'000'000'000, -100'000'000'000'000'000, true},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::to_string(row.value));
    Result<int64_t> got = EpochToNanos(row.value);
    ASSERT_EQ(got.ok(), row.ok) << got.status().ToString();
    if (row.ok) {
      EXPECT_EQ(*got, row.want);
    } else {
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
      EXPECT_NE(got.status().message().find("out of range"), std::string_view::npos);
    }
  }
}

TEST(EpochToNanosTest, Doubles) {
  struct Row {
    double value;
    int64_t want;
    bool ok;
  };
  const Row rows[] = {
      {0.0, 0, true},
      {-0.0, 0, true},
      {1e-12, 0, true},
      {1.5, 1'500'000'000, true},
      {-1.5, -1'500'000'000, true},
      {1731596464.0, 1731596464'000'000'000, true},
      {1731596464.123, 1731596464'123'000'000, true},  // exact, not the binary approximation
      {1731596464.5, 1731596464'500'000'000, true},
      {1731596464123.0, 1731596464123'000'000, true},
      {1731596464123.5, 1731596464123'500'000, true},
      {1731596464123456.0, 1731596464123456'000, true},
      {1.7315964641234568e18, 1731596464123456768, true},  // nearest double to the ns value
      {1e18, 1'000'000'000'000'000'000, true},
      {9.3e18, 0, false},
      {1e300, 0, false},
      {-1e300, 0, false},
      {1e10, 0, false},  // seconds past 2262
      {std::numeric_limits<double>::infinity(), 0, false},
      {-std::numeric_limits<double>::infinity(), 0, false},
      {std::numeric_limits<double>::quiet_NaN(), 0, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(testing::Message() << row.value);
    Result<int64_t> got = EpochToNanos(row.value);
    ASSERT_EQ(got.ok(), row.ok) << got.status().ToString();
    if (row.ok) {
      EXPECT_EQ(*got, row.want);
    } else {
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(FormatRfc3339Test, Values) {
  struct Row {
    int64_t ns;
    std::string_view want;
  };
  const Row rows[] = {
      {0, "1970-01-01T00:00:00Z"},
      {1, "1970-01-01T00:00:00.000000001Z"},
      {-1, "1969-12-31T23:59:59.999999999Z"},
      {-1'500'000'000, "1969-12-31T23:59:58.5Z"},
      {-86'400'000'000'000, "1969-12-31T00:00:00Z"},
      {1731596464'000'000'000, "2024-11-14T15:01:04Z"},
      {1731596464'500'000'000, "2024-11-14T15:01:04.5Z"},
      {1731596464'120'000'000, "2024-11-14T15:01:04.12Z"},
      {1731596464'123456789, "2024-11-14T15:01:04.123456789Z"},
      {1709208000'000'000'000, "2024-02-29T12:00:00Z"},
      {951782400'000'000'000, "2000-02-29T00:00:00Z"},
      {-2208988800'000'000'000, "1900-01-01T00:00:00Z"},
      {std::numeric_limits<int64_t>::max(), "2262-04-11T23:47:16.854775807Z"},
      {std::numeric_limits<int64_t>::min(), "1677-09-21T00:12:43.145224192Z"},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::to_string(row.ns));
    EXPECT_EQ(FormatRfc3339(row.ns), row.want);
  }
  std::string out = "ts=";
  FormatRfc3339(0, &out);
  EXPECT_EQ(out, "ts=1970-01-01T00:00:00Z");  // appends
}

TEST(FormatRfc3339Test, RoundTripFromText) {
  const std::string_view rows[] = {
      "2024-11-14T15:01:04Z",           "2024-11-14T15:01:04.5Z",
      "2024-11-14T15:01:04.123456789Z", "2024-02-29T00:00:00Z",
      "1969-12-31T23:59:59.999999999Z", "1970-01-01T00:00:00.000000001Z",
      "1900-03-01T00:00:00Z",           "2100-02-28T23:59:59Z",
      "1677-09-21T00:12:43.145224192Z", "2262-04-11T23:47:16.854775807Z",
  };
  for (std::string_view text : rows) {
    SCOPED_TRACE(text);
    Result<int64_t> ns = ParseTimestamp(text, kNow);
    ASSERT_TRUE(ns.ok()) << ns.status().ToString();
    EXPECT_EQ(FormatRfc3339(*ns), text);
  }
}

TEST(FormatRfc3339Test, RoundTripFromNanos) {
  // A deterministic spread over the whole int64 range, plus values near day and year edges.
  uint64_t state = 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 20000; ++i) {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    int64_t ns = static_cast<int64_t>(state);
    if (i % 4 == 1) ns /= 1'000'000'000;                                     // closer to the epoch
    if (i % 4 == 2) ns = ns / 1'000'000'000 * 1'000'000'000;                 // whole seconds
    if (i % 4 == 3) ns = (ns % 100'000) * 86'400'000'000'000 + (i % 3 - 1);  // around midnights
    const std::string text = FormatRfc3339(ns);
    Result<int64_t> back = ParseTimestamp(text, kNow);
    ASSERT_TRUE(back.ok()) << text << ": " << back.status().ToString();
    ASSERT_EQ(*back, ns) << text;
  }
}

}  // namespace
}  // namespace lode
