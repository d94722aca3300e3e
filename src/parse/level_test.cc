#include "parse/level.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

namespace lode {
namespace {

struct Case {
  std::string_view input;
  Level want;
};

void CheckRows(const Case* rows, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    SCOPED_TRACE(std::string("input: \"") + std::string(rows[i].input) + "\"");
    EXPECT_EQ(LevelName(ParseLevel(rows[i].input)), LevelName(rows[i].want));
  }
}

template <size_t N>
void CheckRows(const Case (&rows)[N]) {
  CheckRows(rows, N);
}

TEST(ParseLevelTest, EveryAlias) {
  const Case rows[] = {
      {"trace", Level::kTrace},    {"trc", Level::kTrace},        {"trac", Level::kTrace},
      {"verbose", Level::kTrace},  {"vrb", Level::kTrace},        {"finest", Level::kTrace},
      {"t", Level::kTrace},        {"v", Level::kTrace},          {"debug", Level::kDebug},
      {"dbg", Level::kDebug},      {"debu", Level::kDebug},       {"fine", Level::kDebug},
      {"finer", Level::kDebug},    {"d", Level::kDebug},          {"info", Level::kInfo},
      {"inf", Level::kInfo},       {"information", Level::kInfo}, {"informational", Level::kInfo},
      {"notice", Level::kInfo},    {"i", Level::kInfo},           {"warn", Level::kWarn},
      {"warning", Level::kWarn},   {"wrn", Level::kWarn},         {"w", Level::kWarn},
      {"error", Level::kError},    {"err", Level::kError},        {"erro", Level::kError},
      {"eror", Level::kError},     {"severe", Level::kError},     {"e", Level::kError},
      {"fatal", Level::kFatal},    {"fata", Level::kFatal},       {"ftl", Level::kFatal},
      {"critical", Level::kFatal}, {"crit", Level::kFatal},       {"alert", Level::kFatal},
      {"emerg", Level::kFatal},    {"emergency", Level::kFatal},  {"panic", Level::kFatal},
      {"pani", Level::kFatal},     {"f", Level::kFatal},          {"c", Level::kFatal},
  };
  CheckRows(rows);
}

TEST(ParseLevelTest, CaseAndWhitespace) {
  const Case rows[] = {
      {"INFO", Level::kInfo},      {"Info", Level::kInfo},       {"iNfO", Level::kInfo},
      {"WARNING", Level::kWarn},   {"Warn", Level::kWarn},       {"ERROR", Level::kError},
      {"Err", Level::kError},      {"SEVERE", Level::kError},    {"FATAL", Level::kFatal},
      {"CRITICAL", Level::kFatal}, {"Emergency", Level::kFatal}, {"DEBUG", Level::kDebug},
      {"FINER", Level::kDebug},    {"TRACE", Level::kTrace},     {"FINEST", Level::kTrace},
      {"Verbose", Level::kTrace},  {"NOTICE", Level::kInfo},     {"INFORMATIONAL", Level::kInfo},
      {"T", Level::kTrace},        {"D", Level::kDebug},         {"I", Level::kInfo},
      {"W", Level::kWarn},         {"E", Level::kError},         {"F", Level::kFatal},
      {"C", Level::kFatal},        {"V", Level::kTrace},         {" info", Level::kInfo},
      {"info ", Level::kInfo},     {"\tWARN\r\n", Level::kWarn}, {"   error   ", Level::kError},
      {" 3 ", Level::kError},
  };
  CheckRows(rows);
}

TEST(ParseLevelTest, Numbers) {
  const Case rows[] = {
      // syslog severities
      {"0", Level::kFatal},
      {"1", Level::kFatal},
      {"2", Level::kFatal},
      {"3", Level::kError},
      {"4", Level::kWarn},
      {"5", Level::kInfo},
      {"6", Level::kInfo},
      {"7", Level::kDebug},
      {"8", Level::kUnknown},
      {"9", Level::kUnknown},
      // pino / bunyan
      {"10", Level::kTrace},
      {"20", Level::kDebug},
      {"30", Level::kInfo},
      {"40", Level::kWarn},
      {"50", Level::kError},
      {"60", Level::kFatal},
      {"35", Level::kInfo},
      {"69", Level::kFatal},
      {"70", Level::kUnknown},
      {"100", Level::kUnknown},
      {"999999999", Level::kUnknown},
      {"9999999999999999999999", Level::kUnknown},
      {"-1", Level::kUnknown},
      {"+3", Level::kUnknown},
      {"3.0", Level::kUnknown},
      {"3a", Level::kUnknown},
  };
  CheckRows(rows);
}

TEST(ParseLevelTest, GarbageIsUnknown) {
  const Case rows[] = {
      {"", Level::kUnknown},
      {"   ", Level::kUnknown},
      {"ok", Level::kUnknown},
      {"fail", Level::kUnknown},
      {"failure", Level::kUnknown},
      {"unknown", Level::kUnknown},
      {"infos", Level::kUnknown},
      {"inform", Level::kUnknown},
      {"warnings", Level::kUnknown},
      {"errors", Level::kUnknown},
      {"x", Level::kUnknown},
      {"a", Level::kUnknown},
      {"in fo", Level::kUnknown},
      {"[info]", Level::kUnknown},
      {"info:", Level::kUnknown},
      {"informationally", Level::kUnknown},
      {"informationalx", Level::kUnknown},
      {std::string_view("info\0", 5), Level::kUnknown},
      {"\xc3\xa9rror", Level::kUnknown},
      {"\xc4\xb0NFO", Level::kUnknown},
  };
  CheckRows(rows);
}

TEST(LevelFromNumberTest, Values) {
  struct Row {
    int64_t n;
    Level want;
  };
  const Row rows[] = {
      {0, Level::kFatal},
      {1, Level::kFatal},
      {2, Level::kFatal},
      {3, Level::kError},
      {4, Level::kWarn},
      {5, Level::kInfo},
      {6, Level::kInfo},
      {7, Level::kDebug},
      {8, Level::kUnknown},
      {9, Level::kUnknown},
      {10, Level::kTrace},
      {19, Level::kTrace},
      {20, Level::kDebug},
      {29, Level::kDebug},
      {30, Level::kInfo},
      {35, Level::kInfo},
      {40, Level::kWarn},
      {49, Level::kWarn},
      {50, Level::kError},
      {59, Level::kError},
      {60, Level::kFatal},
      {69, Level::kFatal},
      {70, Level::kUnknown},
      {1000, Level::kUnknown},
      {-1, Level::kUnknown},
      {-10, Level::kUnknown},
      {-30, Level::kUnknown},
      {std::numeric_limits<int64_t>::max(), Level::kUnknown},
      {std::numeric_limits<int64_t>::min(), Level::kUnknown},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::to_string(row.n));
    EXPECT_EQ(LevelName(LevelFromNumber(row.n)), LevelName(row.want));
  }
}

TEST(LevelFromSyslogSeverityTest, Values) {
  const Level want[8] = {Level::kFatal, Level::kFatal, Level::kFatal, Level::kError,
                         Level::kWarn,  Level::kInfo,  Level::kInfo,  Level::kDebug};
  for (int severity = 0; severity < 8; ++severity) {
    SCOPED_TRACE(severity);
    EXPECT_EQ(LevelName(LevelFromSyslogSeverity(severity)), LevelName(want[severity]));
  }
}

TEST(IsCanonicalSpellingTest, Values) {
  struct Row {
    std::string_view text;
    Level level;
    bool want;
  };
  const Row rows[] = {
      {"trace", Level::kTrace, true},     {"debug", Level::kDebug, true},
      {"info", Level::kInfo, true},       {"warn", Level::kWarn, true},
      {"error", Level::kError, true},     {"fatal", Level::kFatal, true},
      {"unknown", Level::kUnknown, true}, {"INFO", Level::kInfo, false},
      {"Info", Level::kInfo, false},      {"information", Level::kInfo, false},
      {"warning", Level::kWarn, false},   {"err", Level::kError, false},
      {" info", Level::kInfo, false},     {"info", Level::kWarn, false},
      {"", Level::kUnknown, false},       {"30", Level::kInfo, false},
  };
  for (const Row& row : rows) {
    SCOPED_TRACE(std::string(row.text) + " / " + std::string(LevelName(row.level)));
    EXPECT_EQ(IsCanonicalSpelling(row.text, row.level), row.want);
  }
}

// Every canonical name parses back to its level and is canonical for it.
TEST(IsCanonicalSpellingTest, AgreesWithParseLevel) {
  for (int i = 1; i < kLevelCount; ++i) {
    const auto level = static_cast<Level>(i);
    SCOPED_TRACE(std::string(LevelName(level)));
    EXPECT_EQ(ParseLevel(LevelName(level)), level);
    EXPECT_TRUE(IsCanonicalSpelling(LevelName(level), level));
  }
}

}  // namespace
}  // namespace lode
