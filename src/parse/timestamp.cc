#include "parse/timestamp.h"

#include <array>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>

namespace lode {

namespace {

constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerMinute = 60;
constexpr int64_t kSecondsPerHour = 3'600;
constexpr int64_t kSecondsPerDay = 86'400;
constexpr int64_t kNanosPerDay = kSecondsPerDay * kNanosPerSecond;
constexpr int kMaxOffsetSeconds = 18 * 3600;
constexpr size_t kMaxQuotedBytes = 64;
constexpr int kMaxFractionDigits = 9;
// How far back year inference looks: far enough to reach a leap year for "Feb 29".
constexpr int kMaxYearsBack = 8;

// What went wrong, kept as a small enum on the hot path; the Status is built only on failure.
enum class Error : uint8_t {
  kNone,
  kEmpty,
  kUnrecognized,
  kMonth,
  kDay,
  kHour,
  kMinute,
  kSecond,
  kOffset,
  kZone,
  kRange,
};

// The pieces of a civil date-time as read from the text, before validation.
struct Fields {
  int64_t year = 1970;
  int month = 1;
  int day = 1;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int nanos = 0;
  int offset_seconds = 0;  // local time minus UTC
  bool has_year = false;
  bool has_zone = false;
  int am_pm = 0;  // 0 none, 1 AM, 2 PM
};

constexpr bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
constexpr bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
constexpr char ToLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c;
}

// True when `word` equals `lower` ignoring ASCII case; `lower` must be lower case.
constexpr bool EqualsIgnoreCase(std::string_view word, std::string_view lower) {
  if (word.size() != lower.size()) return false;
  for (size_t i = 0; i < word.size(); ++i) {
    if (ToLower(word[i]) != lower[i]) return false;
  }
  return true;
}

// True when `word` has at least 3 letters and is a case-insensitive prefix of `lower`.
constexpr bool IsAbbreviationOf(std::string_view word, std::string_view lower) {
  return word.size() >= 3 && word.size() <= lower.size() &&
         EqualsIgnoreCase(word, lower.substr(0, word.size()));
}

// Month and weekday names, looked up by their first three letters folded to lower case and
// packed into an integer, then checked in full when longer: one integer compare per candidate.
struct Name {
  std::string_view full;  // lower case
  int month;              // 1..12, or 0 for a weekday
};
constexpr std::array<Name, 19> kNames = {{
    {"january", 1},   {"february", 2},  {"march", 3},    {"april", 4},     {"may", 5},
    {"june", 6},      {"july", 7},      {"august", 8},   {"september", 9}, {"october", 10},
    {"november", 11}, {"december", 12}, {"monday", 0},   {"tuesday", 0},   {"wednesday", 0},
    {"thursday", 0},  {"friday", 0},    {"saturday", 0}, {"sunday", 0},
}};

// The first three characters of `word` folded to lower case and packed; 0 when shorter.
constexpr uint32_t NameKey(std::string_view word) {
  if (word.size() < 3) return 0;
  return static_cast<uint32_t>(static_cast<unsigned char>(ToLower(word[0]))) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(ToLower(word[1]))) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(ToLower(word[2])));
}

constexpr std::array<uint32_t, kNames.size()> kNameKeys = [] {
  std::array<uint32_t, kNames.size()> keys{};
  for (size_t i = 0; i < kNames.size(); ++i) keys[i] = NameKey(kNames[i].full);
  return keys;
}();

// The entry whose name `word` abbreviates to 3+ letters ("Nov", "Sept", "November", "Thurs"),
// or nullptr.
const Name* FindName(std::string_view word) {
  const uint32_t key = NameKey(word);
  if (key == 0) return nullptr;
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (kNameKeys[i] == key) {
      const Name& name = kNames[i];
      return word.size() == 3 || IsAbbreviationOf(word, name.full) ? &name : nullptr;
    }
  }
  return nullptr;
}

// 1..12 for a month name or its abbreviation; 0 otherwise.
int MonthFromName(std::string_view word) {
  const Name* name = FindName(word);
  return name != nullptr ? name->month : 0;
}

// Offset from UTC of a zone name accepted by RFC 2822 (UT, GMT, the US zones) plus UTC and Z.
bool ZoneOffsetByName(std::string_view word, int* offset_seconds) {
  struct Zone {
    std::string_view name;
    int hours;
  };
  static constexpr std::array<Zone, 12> kZones = {{{"z", 0},
                                                   {"ut", 0},
                                                   {"utc", 0},
                                                   {"gmt", 0},
                                                   {"est", -5},
                                                   {"edt", -4},
                                                   {"cst", -6},
                                                   {"cdt", -5},
                                                   {"mst", -7},
                                                   {"mdt", -6},
                                                   {"pst", -8},
                                                   {"pdt", -7}}};
  for (const Zone& z : kZones) {
    if (EqualsIgnoreCase(word, z.name)) {
      *offset_seconds = z.hours * 3600;
      return true;
    }
  }
  return false;
}

constexpr bool IsLeapYear(int64_t y) {
  return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

// At namespace scope: a table local to the function was copied to the stack on every call.
constexpr std::array<int, 12> kDaysInMonth = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

// REQUIRES 1 <= month <= 12.
constexpr int DaysInMonth(int64_t year, int month) {
  return month == 2 && IsLeapYear(year) ? 29 : kDaysInMonth[static_cast<size_t>(month - 1)];
}

// Both date functions below shift the calendar by this many 400-year eras so that all their
// arithmetic is on non-negative numbers: unsigned, branch-free, divisions by constants only.
// (With the signed floor-division form GCC merged the divisors and emitted real idiv.)
constexpr int64_t kShiftEras = 5000;  // 2,000,000 years
constexpr int64_t kDaysPerEra = 146097;
constexpr int64_t kDaysFromMarch0ToEpoch = 719468;  // 0000-03-01 to 1970-01-01

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
// REQUIRES 1 <= m <= 12, 1 <= d <= 31, year > -2,000,000.
constexpr int64_t DaysFromCivil(int64_t y, int m, int d) {
  const auto yy = static_cast<uint64_t>(y - (m <= 2 ? 1 : 0) + kShiftEras * 400);
  const uint64_t era = yy / 400;
  const uint64_t yoe = yy - era * 400;                                     // [0, 399]
  const auto mp = static_cast<uint64_t>(m > 2 ? m - 3 : m + 9);            // March = 0
  const uint64_t doy = (153 * mp + 2) / 5 + static_cast<uint64_t>(d) - 1;  // [0, 365]
  const uint64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;              // [0, 146096]
  return static_cast<int64_t>(era * kDaysPerEra + doe) - kDaysFromMarch0ToEpoch -
         kShiftEras * kDaysPerEra;
}

// Inverse of DaysFromCivil (H. Hinnant's civil_from_days). REQUIRES |z| < 700,000,000.
constexpr void CivilFromDays(int64_t z, int64_t* year, int* month, int* day) {
  const auto zz = static_cast<uint64_t>(z + kDaysFromMarch0ToEpoch + kShiftEras * kDaysPerEra);
  const uint64_t era = zz / kDaysPerEra;
  const uint64_t doe = zz - era * kDaysPerEra;                                 // [0, 146096]
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;  // [0, 399]
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                // [0, 365]
  const uint64_t mp = (5 * doy + 2) / 153;                                     // [0, 11]
  *day = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  *month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  *year = static_cast<int64_t>(yoe + era * 400) - kShiftEras * 400 + (*month <= 2 ? 1 : 0);
}

static_assert(DaysFromCivil(1970, 1, 1) == 0);
static_assert(DaysFromCivil(2000, 3, 1) == 11017);
static_assert(DaysFromCivil(1969, 12, 31) == -1);
static_assert(DaysFromCivil(1677, 9, 21) == -106752);
static_assert(DaysFromCivil(0, 3, 1) == -kDaysFromMarch0ToEpoch);

// Floor division and the matching non-negative remainder, for b > 0.
constexpr int64_t FloorDiv(int64_t a, int64_t b, int64_t* rem) {
  int64_t q = a / b;
  int64_t r = a % b;
  if (r < 0) {
    --q;
    r += b;
  }
  *rem = r;
  return q;
}

// *out = a * b + c without overflow, for b > 0; false on overflow.
constexpr bool MulAdd(int64_t a, int64_t b, int64_t c, int64_t* out) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  if (a > kMax / b || a < kMin / b) return false;
  const int64_t p = a * b;
  if ((c > 0 && p > kMax - c) || (c < 0 && p < kMin - c)) return false;
  *out = p + c;
  return true;
}

// A read position over the trimmed text.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  std::string_view Rest() const { return s_.substr(pos_); }
  void Advance() { ++pos_; }

  bool Consume(char c) {
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Skips blanks; returns how many.
  size_t SkipSpaces() {
    const size_t start = pos_;
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
    return pos_ - start;
  }

  // Number of consecutive digits at the position.
  size_t DigitRun() const {
    size_t n = 0;
    while (pos_ + n < s_.size() && IsDigit(s_[pos_ + n])) ++n;
    return n;
  }

  // Reads exactly `n` digits (more may follow).
  bool Fixed(size_t n, int* value) {
    if (pos_ + n > s_.size()) return false;
    int v = 0;
    for (size_t i = 0; i < n; ++i) {
      const char c = s_[pos_ + i];
      if (!IsDigit(c)) return false;
      v = v * 10 + (c - '0');
    }
    pos_ += n;
    *value = v;
    return true;
  }

  // Reads a run of between `min` and `max` digits (max <= 9) that is not followed by a digit.
  bool Number(size_t min, size_t max, int* value, size_t* count = nullptr) {
    const size_t n = DigitRun();
    if (n < min || n > max) return false;
    if (count != nullptr) *count = n;
    return Fixed(n, value);
  }

  // Reads one or more digits of a fraction, keeping the first 9 as nanoseconds.
  bool Fraction(int* nanos) {
    const size_t n = DigitRun();
    if (n == 0) return false;
    int v = 0;
    for (size_t i = 0; i < static_cast<size_t>(kMaxFractionDigits); ++i) {
      v = v * 10 + (i < n ? s_[pos_ + i] - '0' : 0);
    }
    pos_ += n;
    *nanos = v;
    return true;
  }

  // Reads a run of ASCII letters (possibly empty).
  std::string_view Alpha() {
    const size_t start = pos_;
    while (pos_ < s_.size() && IsAlpha(s_[pos_])) ++pos_;
    return s_.substr(start, pos_ - start);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// H[H]:MM[:SS[(.|,)fraction]]
Error ParseTime(Cursor& c, Fields* f) {
  if (!c.Number(1, 2, &f->hour) || !c.Consume(':') || !c.Number(2, 2, &f->minute)) {
    return Error::kUnrecognized;
  }
  if (!c.Consume(':')) return Error::kNone;
  if (!c.Number(2, 2, &f->second)) return Error::kUnrecognized;
  if (c.Consume('.') || c.Consume(',')) {
    if (!c.Fraction(&f->nanos)) return Error::kUnrecognized;
  }
  return Error::kNone;
}

// A numeric offset at the sign: +HH, +HHMM, +HH:MM (and +H, +H:MM when `short_hour`, as in
// "GMT+5:30").
Error ParseOffset(Cursor& c, bool short_hour, int* offset_seconds) {
  const bool negative = c.Peek() == '-';
  c.Advance();
  int hours = 0;
  int minutes = 0;
  const size_t n = c.DigitRun();
  if (n == 4) {
    if (!c.Fixed(2, &hours) || !c.Fixed(2, &minutes)) return Error::kUnrecognized;
  } else if (n == 2 || (n == 1 && short_hour)) {
    if (!c.Fixed(n, &hours)) return Error::kUnrecognized;
    if (c.Consume(':') && !c.Number(2, 2, &minutes)) return Error::kUnrecognized;
  } else {
    return Error::kUnrecognized;
  }
  const int total = hours * 3600 + minutes * 60;
  if (minutes > 59 || total > kMaxOffsetSeconds) return Error::kOffset;
  *offset_seconds = negative ? -total : total;
  return Error::kNone;
}

// What may follow the time of day besides a zone, in any order, separated by blanks: a bit set.
// (A plain integer rather than a struct of bools: the struct, built in registers and passed as one
// word, cost a store-forwarding stall that was a third of the RFC 3339 parse time.)
using TailRules = unsigned;
constexpr TailRules kTailZoneOnly = 0;
constexpr TailRules kTailYear = 1u << 0;     // a 4-digit year, when the date had none (asctime)
constexpr TailRules kTailAmPm = 1u << 1;     // AM / PM
constexpr TailRules kTailComment = 1u << 2;  // a final "(...)" (JavaScript zone name, RFC 2822)

// Parses what follows the time: a zone (Z, +hh:mm, GMT+hhmm, UTC, EST, ...), and what `rules`
// allow. A zone abbreviation after a numeric offset is ignored ("+0200 CEST", Go's time.String).
Error ParseTail(Cursor& c, Fields* f, TailRules rules) {
  bool first = true;
  bool numeric_zone = false;
  bool abbreviation_skipped = false;
  for (;;) {
    const size_t spaces = c.SkipSpaces();
    if (c.AtEnd()) return Error::kNone;
    if (!first && spaces == 0) return Error::kUnrecognized;
    first = false;
    const char ch = c.Peek();
    if (ch == '(' && (rules & kTailComment) != 0) {
      // The comment runs to the end of the text.
      return c.Rest().back() == ')' ? Error::kNone : Error::kUnrecognized;
    }
    if (IsDigit(ch)) {
      int year = 0;
      if ((rules & kTailYear) == 0 || f->has_year || !c.Number(4, 4, &year)) {
        return Error::kUnrecognized;
      }
      f->year = year;
      f->has_year = true;
      continue;
    }
    if (ch == '+' || ch == '-') {
      if (f->has_zone) return Error::kUnrecognized;
      const Error e = ParseOffset(c, /*short_hour=*/false, &f->offset_seconds);
      if (e != Error::kNone) return e;
      f->has_zone = true;
      numeric_zone = true;
      continue;
    }
    if (!IsAlpha(ch)) return Error::kUnrecognized;
    const std::string_view word = c.Alpha();
    const bool am = EqualsIgnoreCase(word, "am");
    if (am || EqualsIgnoreCase(word, "pm")) {
      if ((rules & kTailAmPm) == 0 || f->am_pm != 0 || f->has_zone) return Error::kUnrecognized;
      f->am_pm = am ? 1 : 2;
      continue;
    }
    if (f->has_zone) {
      if (numeric_zone && !abbreviation_skipped && word.size() <= 5) {
        abbreviation_skipped = true;
        continue;
      }
      return Error::kUnrecognized;
    }
    int offset = 0;
    if (!ZoneOffsetByName(word, &offset)) return Error::kZone;
    if (offset == 0 && word.size() >= 2 && (c.Peek() == '+' || c.Peek() == '-')) {
      // GMT+0200, UTC-05:00, GMT+5:30
      const Error e = ParseOffset(c, /*short_hour=*/true, &offset);
      if (e != Error::kNone) return e;
    }
    f->offset_seconds = offset;
    f->has_zone = true;
  }
}

// ISO 8601 extended (and Go's slashed) date, optionally followed by a time:
// YYYY-MM-DD[(T|t|blanks)time[zone]], YYYY/MM/DD ...
Error ParseIsoExtended(Cursor& c, Fields* f) {
  int year = 0;
  if (!c.Fixed(4, &year)) return Error::kUnrecognized;
  const char sep = c.Peek();
  c.Advance();
  if (!c.Fixed(2, &f->month) || !c.Consume(sep) || !c.Number(2, 2, &f->day)) {
    return Error::kUnrecognized;
  }
  f->year = year;
  f->has_year = true;
  if (c.AtEnd()) return Error::kNone;
  if (!c.Consume('T') && !c.Consume('t') && c.SkipSpaces() == 0) return Error::kUnrecognized;
  const Error e = ParseTime(c, f);
  if (e != Error::kNone) return e;
  return ParseTail(c, f, kTailZoneOnly);
}

// ISO 8601 basic: YYYYMMDDTHHMM[SS[.fraction]][zone]
Error ParseIsoBasic(Cursor& c, Fields* f) {
  int year = 0;
  if (!c.Fixed(4, &year) || !c.Fixed(2, &f->month) || !c.Fixed(2, &f->day)) {
    return Error::kUnrecognized;
  }
  f->year = year;
  f->has_year = true;
  if (!c.Consume('T') && !c.Consume('t')) return Error::kUnrecognized;
  if (!c.Fixed(2, &f->hour) || !c.Fixed(2, &f->minute)) return Error::kUnrecognized;
  if (IsDigit(c.Peek())) {
    if (!c.Fixed(2, &f->second)) return Error::kUnrecognized;
    if (c.Consume('.') || c.Consume(',')) {
      if (!c.Fraction(&f->nanos)) return Error::kUnrecognized;
    }
  }
  if (IsDigit(c.Peek())) return Error::kUnrecognized;
  return ParseTail(c, f, kTailZoneOnly);
}

// HDFS: yyMMdd HHmmss (exactly 13 characters, checked by the caller).
Error ParseHdfs(Cursor& c, Fields* f) {
  int yy = 0;
  if (!c.Fixed(2, &yy) || !c.Fixed(2, &f->month) || !c.Fixed(2, &f->day) || !c.Consume(' ') ||
      !c.Fixed(2, &f->hour) || !c.Fixed(2, &f->minute) || !c.Fixed(2, &f->second) || !c.AtEnd()) {
    return Error::kUnrecognized;
  }
  f->year = yy < 50 ? 2000 + yy : 1900 + yy;
  f->has_year = true;
  return Error::kNone;
}

// Day first, month by name: "14 Nov 2024 17:01:04 +0200" (RFC 2822), "14/Nov/2024:17:01:04 +0200"
// (CLF), "14-Nov-2024 17:01:04" (Tomcat). A date alone is midnight. Years of 2 or 3 digits follow
// RFC 2822: 00-49 -> 20xx, 50-99 -> 19xx, 3 digits -> +1900.
Error ParseDayFirst(Cursor& c, Fields* f) {
  if (!c.Number(1, 2, &f->day)) return Error::kUnrecognized;
  const char sep = c.Peek();
  if (sep == '-' || sep == '/') {
    c.Advance();
  } else if (c.SkipSpaces() == 0) {
    return Error::kUnrecognized;
  }
  f->month = MonthFromName(c.Alpha());
  if (f->month == 0) return Error::kUnrecognized;
  if (sep == '-' || sep == '/') {
    if (!c.Consume(sep)) return Error::kUnrecognized;
  } else if (c.SkipSpaces() == 0) {
    return Error::kUnrecognized;
  }
  int year = 0;
  size_t digits = 0;
  if (!c.Number(2, 4, &year, &digits)) return Error::kUnrecognized;
  if (digits == 2) {
    year += year < 50 ? 2000 : 1900;
  } else if (digits == 3) {
    year += 1900;
  }
  f->year = year;
  f->has_year = true;
  if (c.AtEnd()) return Error::kNone;
  if (!c.Consume(':') && c.SkipSpaces() == 0) return Error::kUnrecognized;
  const Error e = ParseTime(c, f);
  if (e != Error::kNone) return e;
  return ParseTail(c, f, kTailAmPm | kTailComment);
}

// Month first, after the month name: "Nov 14 17:01:04" (syslog), "Nov 14 2024 17:01:04 GMT+0200"
// (JavaScript), "Nov 14 17:01:04 2024" (asctime), "Nov 14 17:01:04 UTC 2024" (date),
// "Nov 14, 2024 5:01:04 PM" (java.util.logging), "Nov 14 2024" (midnight).
Error ParseMonthFirst(Cursor& c, Fields* f) {
  if (c.SkipSpaces() == 0 || !c.Number(1, 2, &f->day)) return Error::kUnrecognized;
  const bool comma = c.Consume(',');
  if (c.SkipSpaces() == 0 && !comma) return Error::kUnrecognized;
  if (c.DigitRun() == 4) {
    int year = 0;
    if (!c.Fixed(4, &year)) return Error::kUnrecognized;
    f->year = year;
    f->has_year = true;
    if (c.AtEnd()) return Error::kNone;  // a date alone is midnight
    if (c.SkipSpaces() == 0) return Error::kUnrecognized;
  }
  const Error e = ParseTime(c, f);
  if (e != Error::kNone) return e;
  return ParseTail(c, f, kTailYear | kTailAmPm | kTailComment);
}

// Texts that start with a letter: an optional "Date " prefix, an optional weekday (and comma),
// then month first or day first.
Error ParseTextual(Cursor& c, Fields* f) {
  std::string_view word = c.Alpha();
  if (EqualsIgnoreCase(word, "date")) {
    if (c.SkipSpaces() == 0) return Error::kUnrecognized;
    word = c.Alpha();
  }
  const Name* name = FindName(word);
  if (name != nullptr && name->month == 0) {  // a weekday
    const bool comma = c.Consume(',');
    if (c.SkipSpaces() == 0 && !comma) return Error::kUnrecognized;
    if (IsDigit(c.Peek())) return ParseDayFirst(c, f);
    name = FindName(c.Alpha());
  }
  if (name == nullptr || name->month == 0) return Error::kUnrecognized;
  f->month = name->month;
  return ParseMonthFirst(c, f);
}

// Magnitude rule shared by the epoch parsers: `magnitude` is the integer part, `frac_nanos` the
// first 9 fraction digits as an integer (0 for integers).
Error ScaleEpoch(bool negative, uint64_t magnitude, int64_t frac_nanos, int64_t* out) {
  // The absolute value of the result, computed unsigned against the int64 limit of its sign.
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  const uint64_t limit = negative ? kMax + 1 : kMax;
  const auto frac = static_cast<uint64_t>(frac_nanos);
  uint64_t total = 0;
  if (magnitude < 100'000'000'000ULL) {  // seconds
    if (magnitude > (limit - frac) / 1'000'000'000) return Error::kRange;
    total = magnitude * 1'000'000'000 + frac;
  } else if (magnitude < 100'000'000'000'000ULL) {  // milliseconds
    if (magnitude > (limit - frac / 1'000) / 1'000'000) return Error::kRange;
    total = magnitude * 1'000'000 + frac / 1'000;
  } else if (magnitude < 100'000'000'000'000'000ULL) {  // microseconds
    if (magnitude > (limit - frac / 1'000'000) / 1'000) return Error::kRange;
    total = magnitude * 1'000 + frac / 1'000'000;
  } else {  // nanoseconds
    if (magnitude > limit) return Error::kRange;
    total = magnitude;
  }
  *out = !negative    ? static_cast<int64_t>(total)
         : total == 0 ? 0
                      : -static_cast<int64_t>(total - 1) - 1;
  return Error::kNone;
}

// [+-]digits[.digits], the whole text.
Error ParseEpochText(std::string_view s, int64_t* out) {
  Cursor c(s);
  const bool negative = c.Peek() == '-';
  if (c.Peek() == '-' || c.Peek() == '+') c.Advance();
  if (!IsDigit(c.Peek())) return Error::kUnrecognized;
  while (c.Peek() == '0') c.Advance();  // leading zeros
  const size_t n = c.DigitRun();
  // 19 digits cannot overflow uint64; more are out of range.
  constexpr size_t kMaxDigits = 19;
  uint64_t magnitude = 0;
  for (size_t i = 0; i < n; ++i) {
    if (i < kMaxDigits) magnitude = magnitude * 10 + static_cast<uint64_t>(c.Peek() - '0');
    c.Advance();
  }
  int frac_nanos = 0;
  if (c.Consume('.') && !c.Fraction(&frac_nanos)) return Error::kUnrecognized;
  if (!c.AtEnd()) return Error::kUnrecognized;
  if (n > kMaxDigits) return Error::kRange;
  return ScaleEpoch(negative, magnitude, frac_nanos, out);
}

// *out = seconds * 1e9 + nanos (0 <= nanos < 1e9); false when that is outside int64.
bool SecondsToNanos(int64_t seconds, int64_t nanos, int64_t* out) {
  if (seconds < 0 && nanos > 0) {
    // Borrow a second so that the product stays in range down to the int64 minimum.
    ++seconds;
    nanos -= kNanosPerSecond;
  }
  return MulAdd(seconds, kNanosPerSecond, nanos, out);
}

// Turns validated fields with `year` into ns since the epoch.
Error FieldsToNanos(const Fields& f, int64_t year, int64_t* out) {
  const int64_t days = DaysFromCivil(year, f.month, f.day);
  const int second = f.second == 60 ? 59 : f.second;  // leap second: see the header
  const int64_t seconds = days * kSecondsPerDay + f.hour * kSecondsPerHour +
                          f.minute * kSecondsPerMinute + second - f.offset_seconds;
  return SecondsToNanos(seconds, f.nanos, out) ? Error::kNone : Error::kRange;
}

// Checks the ranges of everything but the day against the month length of a known year.
Error ValidateTimeOfDay(Fields* f) {
  if (f->am_pm != 0) {
    if (f->hour < 1 || f->hour > 12) return Error::kHour;
    f->hour = f->hour % 12 + (f->am_pm == 2 ? 12 : 0);
  }
  if (f->hour > 24 || (f->hour == 24 && (f->minute != 0 || f->second != 0 || f->nanos != 0))) {
    return Error::kHour;
  }
  if (f->minute > 59) return Error::kMinute;
  if (f->second > 60) return Error::kSecond;
  return Error::kNone;
}

// Validates `f` and computes the instant, inferring the year from `now_ns` when absent.
Error Resolve(Fields* f, int64_t now_ns, int64_t* out) {
  if (f->month < 1 || f->month > 12) return Error::kMonth;
  // Feb 29 is checked against the actual year below.
  if (f->day < 1 || f->day > DaysInMonth(2000, f->month)) return Error::kDay;
  const Error e = ValidateTimeOfDay(f);
  if (e != Error::kNone) return e;
  if (f->has_year) {
    if (f->day > DaysInMonth(f->year, f->month)) return Error::kDay;
    return FieldsToNanos(*f, f->year, out);
  }
  // The latest year that puts the time no more than a day after now. A local time in year Y is
  // at least Y-01-01T00:00 - 18h in UTC, so no year after that of the day after `limit` can
  // qualify: start there (usually the year of now: one candidate suffices) and go back.
  const int64_t limit =
      now_ns > std::numeric_limits<int64_t>::max() - kNanosPerDay ? now_ns : now_ns + kNanosPerDay;
  int64_t rem = 0;
  const int64_t last_days = FloorDiv(limit, kNanosPerDay, &rem) + 1;
  int64_t last_year = 0;
  int last_month = 0;
  int last_day = 0;
  CivilFromDays(last_days, &last_year, &last_month, &last_day);
  for (int64_t year = last_year; year >= last_year - kMaxYearsBack - 1; --year) {
    if (f->day > DaysInMonth(year, f->month)) continue;
    int64_t t = 0;
    if (FieldsToNanos(*f, year, &t) != Error::kNone) continue;
    if (t <= limit) {
      *out = t;
      return Error::kNone;
    }
  }
  return Error::kRange;
}

// Two digits at p[0], p[1] as 0..99, or -1 when either is not a digit.
int TwoDigits(const char* p) {
  const unsigned a = static_cast<unsigned>(static_cast<unsigned char>(p[0])) - '0';
  const unsigned b = static_cast<unsigned>(static_cast<unsigned char>(p[1])) - '0';
  return a <= 9 && b <= 9 ? static_cast<int>(a * 10 + b) : -1;
}

// The common case, straight-line: YYYY-MM-DD(T|t| )HH:MM:SS[(.|,)fraction][Z|z|+-HH:MM|+-HHMM]
// with every field in its ordinary range. Returns false for anything else, which then takes the
// general path (which accepts a superset with the same results, and reports the errors).
// The general path costs about three times as much on this shape.
bool ParseRfc3339Fast(std::string_view s, int64_t* out) {
  if (s.size() < 19 || s[4] != '-' || s[7] != '-' || s[13] != ':' || s[16] != ':' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ')) {
    return false;
  }
  const char* p = s.data();
  const int century = TwoDigits(p);
  const int year_of_century = TwoDigits(p + 2);
  const int month = TwoDigits(p + 5);
  const int day = TwoDigits(p + 8);
  const int hour = TwoDigits(p + 11);
  const int minute = TwoDigits(p + 14);
  const int second = TwoDigits(p + 17);
  if ((century | year_of_century | month | day | hour | minute | second) < 0) return false;
  const int64_t year = century * 100 + year_of_century;
  if (month < 1 || month > 12 || day < 1 || day > DaysInMonth(year, month) || hour > 23 ||
      minute > 59 || second > 59) {
    return false;
  }
  size_t i = 19;
  int64_t nanos = 0;
  if (i < s.size() && (s[i] == '.' || s[i] == ',')) {
    const size_t start = ++i;
    while (i < s.size() && IsDigit(s[i])) {
      if (i - start < static_cast<size_t>(kMaxFractionDigits)) nanos = nanos * 10 + (s[i] - '0');
      ++i;
    }
    if (i == start) return false;
    for (size_t n = i - start; n < static_cast<size_t>(kMaxFractionDigits); ++n) nanos *= 10;
  }
  int offset = 0;
  if (i < s.size()) {
    const char zone = s[i];
    const size_t rest = s.size() - i;
    if ((zone == 'Z' || zone == 'z') && rest == 1) {
      // UTC
    } else if (zone == '+' || zone == '-') {
      int hours = -1;
      int minutes = -1;
      if (rest == 6 && s[i + 3] == ':') {
        hours = TwoDigits(p + i + 1);
        minutes = TwoDigits(p + i + 4);
      } else if (rest == 5) {
        hours = TwoDigits(p + i + 1);
        minutes = TwoDigits(p + i + 3);
      }
      if (hours < 0 || minutes < 0 || minutes > 59) return false;
      offset = hours * 3600 + minutes * 60;
      if (offset > kMaxOffsetSeconds) return false;
      if (zone == '-') offset = -offset;
    } else {
      return false;
    }
  }
  const int64_t seconds = DaysFromCivil(year, month, day) * kSecondsPerDay +
                          hour * kSecondsPerHour + minute * kSecondsPerMinute + second - offset;
  return SecondsToNanos(seconds, nanos, out);
}

Error Parse(std::string_view s, int64_t now_ns, int64_t* out) {
  if (s.empty()) return Error::kEmpty;
  Cursor c(s);
  Fields f;
  Error e = Error::kUnrecognized;
  const char first = s[0];
  if (IsDigit(first)) {
    const size_t n = c.DigitRun();
    if (n == s.size()) return ParseEpochText(s, out);
    const char next = s[n];
    if (n == 4 && (next == '-' || next == '/')) {
      e = ParseIsoExtended(c, &f);
    } else if (n == 8 && (next == 'T' || next == 't')) {
      e = ParseIsoBasic(c, &f);
    } else if (n <= 2 && (next == ' ' || next == '-' || next == '/')) {
      e = ParseDayFirst(c, &f);
    } else if (n == 6 && s.size() == 13 && next == ' ') {
      e = ParseHdfs(c, &f);
    } else if (next == '.') {
      return ParseEpochText(s, out);
    }
  } else if (first == '+' || first == '-') {
    return ParseEpochText(s, out);
  } else if (IsAlpha(first)) {
    e = ParseTextual(c, &f);
  }
  if (e != Error::kNone) return e;
  return Resolve(&f, now_ns, out);
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Removes one pair of `open`...`close` around `s`, and the blanks inside it.
std::string_view Unwrap(std::string_view s, char open, char close) {
  if (s.size() >= 2 && s.front() == open && s.back() == close)
    return Trim(s.substr(1, s.size() - 2));
  return s;
}

// Appends `text` in double quotes, escaped, cut to kMaxQuotedBytes on a UTF-8 boundary.
void AppendQuoted(std::string_view text, std::string* out) {
  bool truncated = false;
  if (text.size() > kMaxQuotedBytes) {
    size_t cut = kMaxQuotedBytes;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut);
    truncated = true;
  }
  constexpr std::string_view kHex = "0123456789abcdef";
  out->push_back('"');
  for (const char ch : text) {
    const auto u = static_cast<unsigned char>(ch);
    if (ch == '"' || ch == '\\') {
      out->push_back('\\');
      out->push_back(ch);
    } else if (u < 0x20 || u == 0x7f) {
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(ch);
    }
  }
  if (truncated) out->append("...");
  out->push_back('"');
}

Status MakeError(Error e, std::string_view text) {
  std::string_view what = "unrecognized timestamp ";
  switch (e) {
    case Error::kNone:
    case Error::kUnrecognized: break;
    case Error::kEmpty: return Status::InvalidArgument("empty timestamp");
    case Error::kMonth: what = "invalid month in timestamp "; break;
    case Error::kDay: what = "invalid day in timestamp "; break;
    case Error::kHour: what = "invalid hour in timestamp "; break;
    case Error::kMinute: what = "invalid minute in timestamp "; break;
    case Error::kSecond: what = "invalid second in timestamp "; break;
    case Error::kOffset: what = "invalid zone offset in timestamp "; break;
    case Error::kZone: what = "unknown time zone in timestamp "; break;
    case Error::kRange: what = "out of range timestamp "; break;
  }
  std::string msg(what);
  AppendQuoted(text, &msg);
  return Status::InvalidArgument(std::move(msg));
}

// Writes the low `width` decimal digits of `v` (>= 0), zero-padded, at `start`.
void PutDigits(int64_t v, int width, char* start) {
  for (int i = width - 1; i >= 0; --i) {
    start[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
}

}  // namespace

Result<int64_t> ParseTimestamp(std::string_view text, int64_t now_ns) {
  std::string_view s = Trim(text);
  s = Unwrap(s, '"', '"');
  s = Unwrap(s, '[', ']');
  int64_t ns = 0;
  if (ParseRfc3339Fast(s, &ns)) return ns;
  const Error e = Parse(s, now_ns, &ns);
  if (e != Error::kNone) return MakeError(e, text);
  return ns;
}

Result<int64_t> EpochToNanos(int64_t value) {
  const uint64_t magnitude =
      value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  int64_t ns = 0;
  if (ScaleEpoch(value < 0, magnitude, 0, &ns) != Error::kNone) {
    return Status::InvalidArgument("epoch value " + std::to_string(value) + " out of range");
  }
  return ns;
}

Result<int64_t> EpochToNanos(double value) {
  if (!std::isfinite(value)) return Status::InvalidArgument("non-finite epoch value");
  // Below a nanosecond in any unit; also keeps the fixed spelling short.
  if (std::fabs(value) < 1e-9) return int64_t{0};
  int64_t ns = 0;
  Error e = Error::kRange;
  if (std::fabs(value) < 1e19) {
    // The shortest decimal spelling that reads back as `value`: what the producer wrote.
    std::array<char, 64> buf;
    const auto [end, ec] =
        std::to_chars(buf.data(), buf.data() + buf.size(), value, std::chars_format::fixed);
    if (ec == std::errc()) {
      e = ParseEpochText(std::string_view(buf.data(), static_cast<size_t>(end - buf.data())), &ns);
    }
  }
  if (e != Error::kNone) {
    std::array<char, 32> buf;
    const auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), value);
    std::string msg = "epoch value ";
    if (ec == std::errc()) msg.append(buf.data(), end);
    msg += " out of range";
    return Status::InvalidArgument(std::move(msg));
  }
  return ns;
}

void FormatRfc3339(int64_t ns, std::string* out) {
  int64_t nanos = 0;
  const int64_t seconds = FloorDiv(ns, kNanosPerSecond, &nanos);
  int64_t second_of_day = 0;
  const int64_t days = FloorDiv(seconds, kSecondsPerDay, &second_of_day);
  int64_t year = 0;
  int month = 0;
  int day = 0;
  CivilFromDays(days, &year, &month, &day);  // int64 ns spans years 1677..2262
  // "YYYY-MM-DDTHH:MM:SS.fffffffffZ"
  std::array<char, 32> buf;
  char* p = buf.data();
  PutDigits(year, 4, p);
  p[4] = '-';
  PutDigits(month, 2, p + 5);
  p[7] = '-';
  PutDigits(day, 2, p + 8);
  p[10] = 'T';
  PutDigits(second_of_day / 3600, 2, p + 11);
  p[13] = ':';
  PutDigits(second_of_day / 60 % 60, 2, p + 14);
  p[16] = ':';
  PutDigits(second_of_day % 60, 2, p + 17);
  size_t len = 19;
  if (nanos != 0) {
    p[len] = '.';
    PutDigits(nanos, 9, p + len + 1);
    len += 10;
    while (p[len - 1] == '0') --len;
  }
  p[len++] = 'Z';
  out->append(p, len);
}

std::string FormatRfc3339(int64_t ns) {
  std::string s;
  FormatRfc3339(ns, &s);
  return s;
}

}  // namespace lode
