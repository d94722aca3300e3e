#include "gen/fleet.h"

#include <gtest/gtest.h>
#include <simdjson.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace lode {
namespace {

constexpr int64_t kStart = 1731596464123456789;  // 2024-11-14T15:01:04.123456789Z, a Thursday
constexpr int64_t kSecond = 1000000000;
constexpr int64_t kMilli = 1000000;

// Event times that advance by a varying, sub-ms-irregular step.
int64_t Step(int i) {
  return 1 + static_cast<int64_t>((static_cast<uint64_t>(i) * 2654435761u) % 3000000);
}

// ---------------------------------------------------------------------------------------------
// A tiny timestamp parser for the shapes the generator writes (independent of src/parse).

int64_t DaysFromCivil(int64_t y, int64_t m, int64_t d) {
  y -= m <= 2 ? 1 : 0;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

int Weekday(int64_t days) {
  return static_cast<int>(((days + 4) % 7 + 7) % 7);
}

constexpr std::string_view kWeekdayNames[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
constexpr std::string_view kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Reads exactly n digits at s[*pos].
std::optional<int64_t> Digits(std::string_view s, size_t* pos, size_t n) {
  if (*pos + n > s.size()) return std::nullopt;
  int64_t v = 0;
  for (size_t i = 0; i < n; ++i) {
    const char c = s[*pos + i];
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  *pos += n;
  return v;
}

bool Expect(std::string_view s, size_t* pos, std::string_view text) {
  if (s.substr(*pos, text.size()) != text) return false;
  *pos += text.size();
  return true;
}

std::optional<int> NameIndex(std::string_view s, size_t* pos, const std::string_view* names,
                             int n) {
  for (int i = 0; i < n; ++i) {
    if (Expect(s, pos, names[i])) return i;
  }
  return std::nullopt;
}

// "+hhmm" / "-hhmm" (colon = false) or "+hh:mm" (colon = true), in seconds east of UTC.
std::optional<int64_t> Offset(std::string_view s, size_t* pos, bool colon) {
  if (*pos >= s.size() || (s[*pos] != '+' && s[*pos] != '-')) return std::nullopt;
  const int64_t sign = s[*pos] == '-' ? -1 : 1;
  ++*pos;
  const auto h = Digits(s, pos, 2);
  if (!h || (colon && !Expect(s, pos, ":"))) return std::nullopt;
  const auto m = Digits(s, pos, 2);
  if (!m || *h > 14 || *m > 59) return std::nullopt;
  return sign * (*h * 3600 + *m * 60);
}

int64_t ToNanos(int64_t y, int64_t mo, int64_t d, int64_t h, int64_t mi, int64_t sec,
                int64_t offset_seconds) {
  return ((DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec) - offset_seconds) * kSecond;
}

// RFC 3339: "YYYY-MM-DDTHH:MM:SS[.f{1,9}](Z|±hh:mm)".
std::optional<int64_t> ParseRfc3339(std::string_view s) {
  size_t p = 0;
  const auto y = Digits(s, &p, 4);
  if (!y || !Expect(s, &p, "-")) return std::nullopt;
  const auto mo = Digits(s, &p, 2);
  if (!mo || !Expect(s, &p, "-")) return std::nullopt;
  const auto d = Digits(s, &p, 2);
  if (!d || !Expect(s, &p, "T")) return std::nullopt;
  const auto h = Digits(s, &p, 2);
  if (!h || !Expect(s, &p, ":")) return std::nullopt;
  const auto mi = Digits(s, &p, 2);
  if (!mi || !Expect(s, &p, ":")) return std::nullopt;
  const auto sec = Digits(s, &p, 2);
  if (!sec) return std::nullopt;
  int64_t frac = 0;
  if (Expect(s, &p, ".")) {
    int digits = 0;
    while (p < s.size() && std::isdigit(static_cast<unsigned char>(s[p]))) {
      frac = frac * 10 + (s[p++] - '0');
      ++digits;
    }
    if (digits < 1 || digits > 9) return std::nullopt;
    for (; digits < 9; ++digits) frac *= 10;
  }
  int64_t offset = 0;
  if (!Expect(s, &p, "Z")) {
    const auto o = Offset(s, &p, /*colon=*/true);
    if (!o) return std::nullopt;
    offset = *o;
  }
  if (p != s.size() || *mo < 1 || *mo > 12 || *d < 1 || *d > 31 || *h > 23 || *mi > 59 ||
      *sec > 59) {
    return std::nullopt;
  }
  return ToNanos(*y, *mo, *d, *h, *mi, *sec, offset) + frac;
}

// JavaScript Date.toString(), optionally prefixed by "Date ":
// "Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)". Checks the weekday.
std::optional<int64_t> ParseJsDate(std::string_view s) {
  size_t p = 0;
  Expect(s, &p, "Date ");
  const auto wd = NameIndex(s, &p, kWeekdayNames, 7);
  if (!wd || !Expect(s, &p, " ")) return std::nullopt;
  const auto mo = NameIndex(s, &p, kMonthNames, 12);
  if (!mo || !Expect(s, &p, " ")) return std::nullopt;
  const auto d = Digits(s, &p, 2);
  if (!d || !Expect(s, &p, " ")) return std::nullopt;
  const auto y = Digits(s, &p, 4);
  if (!y || !Expect(s, &p, " ")) return std::nullopt;
  const auto h = Digits(s, &p, 2);
  if (!h || !Expect(s, &p, ":")) return std::nullopt;
  const auto mi = Digits(s, &p, 2);
  if (!mi || !Expect(s, &p, ":")) return std::nullopt;
  const auto sec = Digits(s, &p, 2);
  if (!sec || !Expect(s, &p, " GMT")) return std::nullopt;
  const auto offset = Offset(s, &p, /*colon=*/false);
  if (!offset || !Expect(s, &p, " (") || s.size() < p + 2 || s.back() != ')') return std::nullopt;
  if (s.substr(p, s.size() - p - 1).find_first_of("()") != std::string_view::npos) {
    return std::nullopt;
  }
  if (Weekday(DaysFromCivil(*y, *mo + 1, *d)) != *wd) return std::nullopt;
  return ToNanos(*y, *mo + 1, *d, *h, *mi, *sec, *offset);
}

// RFC 2822: "Thu, 14 Nov 2024 17:01:04 +0200". Checks the weekday.
std::optional<int64_t> ParseRfc2822(std::string_view s) {
  size_t p = 0;
  const auto wd = NameIndex(s, &p, kWeekdayNames, 7);
  if (!wd || !Expect(s, &p, ", ")) return std::nullopt;
  const auto d = Digits(s, &p, 2);
  if (!d || !Expect(s, &p, " ")) return std::nullopt;
  const auto mo = NameIndex(s, &p, kMonthNames, 12);
  if (!mo || !Expect(s, &p, " ")) return std::nullopt;
  const auto y = Digits(s, &p, 4);
  if (!y || !Expect(s, &p, " ")) return std::nullopt;
  const auto h = Digits(s, &p, 2);
  if (!h || !Expect(s, &p, ":")) return std::nullopt;
  const auto mi = Digits(s, &p, 2);
  if (!mi || !Expect(s, &p, ":")) return std::nullopt;
  const auto sec = Digits(s, &p, 2);
  if (!sec || !Expect(s, &p, " ")) return std::nullopt;
  const auto offset = Offset(s, &p, /*colon=*/false);
  if (!offset || p != s.size()) return std::nullopt;
  if (Weekday(DaysFromCivil(*y, *mo + 1, *d)) != *wd) return std::nullopt;
  return ToNanos(*y, *mo + 1, *d, *h, *mi, *sec, *offset);
}

// "[-]digits" as epoch ms.
std::optional<int64_t> ParseEpochMs(std::string_view s) {
  size_t p = 0;
  const bool negative = Expect(s, &p, "-");
  const size_t n = s.size() - p;
  if (n == 0 || n > 15) return std::nullopt;
  const auto v = Digits(s, &p, n);
  if (!v) return std::nullopt;
  return (negative ? -*v : *v) * kMilli;
}

// "[-]digits.ddd" as epoch seconds (exact, no floating point).
std::optional<int64_t> ParseEpochSeconds(std::string_view s) {
  size_t p = 0;
  const bool negative = Expect(s, &p, "-");
  const size_t dot = s.find('.', p);
  if (dot == std::string_view::npos || dot == p || s.size() - dot != 4) return std::nullopt;
  const auto secs = Digits(s, &p, dot - p);
  p = dot + 1;
  const auto ms = Digits(s, &p, 3);
  if (!secs || !ms) return std::nullopt;
  const int64_t total_ms = *secs * 1000 + *ms;
  return (negative ? -total_ms : total_ms) * kMilli;
}

// The raw JSON text of the number following `"key":` in a line.
std::string_view RawNumber(std::string_view line, std::string_view key) {
  const std::string pattern = "\"" + std::string(key) + "\":";
  size_t p = line.find(pattern);
  if (p == std::string_view::npos) return {};
  p += pattern.size();
  while (p < line.size() && line[p] == ' ') ++p;
  const size_t end = line.find_first_not_of("-0123456789.", p);
  return line.substr(p, end - p);
}

// ---------------------------------------------------------------------------------------------
// Reading generated lines back.

std::optional<Level> HttpLevel(simdjson::dom::element e) {
  static const std::map<std::string, Level, std::less<>> level_spellings = {
      {"debug", Level::kDebug},  {"info", Level::kInfo},    {"warn", Level::kWarn},
      {"error", Level::kError},  {"fatal", Level::kFatal},  {"DEBUG", Level::kDebug},
      {"INFO", Level::kInfo},    {"WARNING", Level::kWarn}, {"ERROR", Level::kError},
      {"FATAL", Level::kFatal},  {"Debug", Level::kDebug},  {"Information", Level::kInfo},
      {"Warning", Level::kWarn}, {"Error", Level::kError},  {"Critical", Level::kFatal},
      {"D", Level::kDebug},      {"I", Level::kInfo},       {"W", Level::kWarn},
      {"E", Level::kError},      {"F", Level::kFatal},      {"DBG", Level::kDebug},
      {"INF", Level::kInfo},     {"WRN", Level::kWarn},     {"ERR", Level::kError},
      {"FTL", Level::kFatal},    {"warning", Level::kWarn}, {"err", Level::kError},
      {"crit", Level::kFatal},
  };
  std::string_view text;
  if (e.get_string().get(text) == simdjson::SUCCESS) {
    const auto it = level_spellings.find(text);
    if (it == level_spellings.end()) return std::nullopt;
    return it->second;
  }
  int64_t n = 0;
  if (e.get_int64().get(n) != simdjson::SUCCESS) return std::nullopt;
  switch (n) {
    case 20: return Level::kDebug;
    case 30: return Level::kInfo;
    case 40: return Level::kWarn;
    case 50: return Level::kError;
    case 60: return Level::kFatal;
    default: return std::nullopt;
  }
}

std::optional<Level> UpperLevel(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return LevelFromName(lower);
}

// Whether `text` matches template `tmpl`, each <*> standing for one or more characters.
bool MatchesTemplate(std::string_view text, std::string_view tmpl) {
  const size_t star = tmpl.find("<*>");
  if (star == std::string_view::npos) return text == tmpl;
  if (text.substr(0, star) != tmpl.substr(0, star)) return false;
  text.remove_prefix(star);
  tmpl.remove_prefix(star + 3);
  const size_t next_star = tmpl.find("<*>");
  const std::string_view next_literal = tmpl.substr(0, next_star);
  for (size_t i = 1; i <= text.size(); ++i) {
    if (!next_literal.empty()) {
      i = text.find(next_literal, i);
      if (i == std::string_view::npos) return false;
    }
    if (MatchesTemplate(text.substr(i), tmpl)) return true;
  }
  return false;
}

enum HttpShape { kJsPrefixed, kJs, kRfc3339, kEpochSeconds, kEpochMsString, kRfc2822, kShapes };

// What a check of one line found out, for cross-line assertions.
struct Checked {
  std::string style;  // how the service spells things (must be the same for all its lines)
  int shape = -1;     // http timestamp shape
  std::optional<int64_t> json_latency;
};

// Parses one generated line and checks it against its ground truth; returns what it saw.
Checked CheckLine(simdjson::dom::parser& parser, const std::string& line,
                  const GeneratedLine& truth, int64_t input_ns) {
  Checked checked;
  SCOPED_TRACE(line);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  simdjson::dom::element doc;
  const auto error = parser.parse(line).get(doc);
  EXPECT_EQ(error, simdjson::SUCCESS) << simdjson::error_message(error);
  if (error != simdjson::SUCCESS) return checked;

  std::string_view message;
  std::optional<int64_t> parsed_ns;
  int64_t precision = 1;
  std::optional<Level> level;
  const auto str = [&](const char* pointer) {
    std::string_view v;
    EXPECT_EQ(doc.at_pointer(pointer).get_string().get(v), simdjson::SUCCESS) << pointer;
    return v;
  };

  if (truth.source == "k8s") {
    EXPECT_EQ(str("/kubernetes/labels/app"), truth.service);
    EXPECT_EQ(str("/kubernetes/container_name"), truth.service);
    EXPECT_EQ(str("/kubernetes/pod_name"), truth.instance);
    EXPECT_EQ(truth.instance.substr(0, truth.service.size() + 1), std::string(truth.service) + "-");
    EXPECT_FALSE(str("/kubernetes/host").empty());
    const std::string_view time = str("/time");
    EXPECT_EQ(time.size(), 30u);
    parsed_ns = ParseRfc3339(time);
    level = LevelFromName(str("/level"));
    message = str("/log");
    const std::string_view stream = str("/stream");
    EXPECT_TRUE(stream == "stdout" || stream == "stderr");
    checked.style = "k8s";
  } else if (truth.source == "docker") {
    EXPECT_EQ(str("/service"), truth.service);
    EXPECT_EQ(str("/container_name"), truth.instance);
    EXPECT_EQ(str("/container_id").size(), 64u);
    const std::string_view time = str("/time");
    parsed_ns = ParseRfc3339(time);
    EXPECT_EQ(time.find('.') == std::string_view::npos || time[time.size() - 2] != '0', true)
        << "RFC3339Nano trims trailing zeros";
    message = str("/log");
    const size_t space = message.find(' ');
    EXPECT_NE(space, std::string_view::npos);
    level = UpperLevel(message.substr(0, space));
    EXPECT_EQ(message.back(), '\n');
    message = message.substr(space + 1, message.size() - space - 2);
    checked.style = "docker";
  } else if (truth.source == "cloudwatch") {
    const std::string_view group = str("/logGroup");
    EXPECT_EQ(group.substr(group.rfind('/') + 1), truth.service);
    EXPECT_TRUE(group.starts_with("/aws/lambda/") || group.starts_with("/ecs/")) << group;
    EXPECT_EQ(str("/logStream"), truth.instance);
    int64_t ms = 0;
    EXPECT_EQ(doc.at_pointer("/timestamp").get_int64().get(ms), simdjson::SUCCESS);
    parsed_ns = ms * kMilli;
    precision = kMilli;
    level = UpperLevel(str("/level"));
    message = str("/message");
    checked.style = "cloudwatch";
  } else if (truth.source == "http") {
    EXPECT_EQ(str("/source/type"), "http");
    EXPECT_EQ(str("/source/entity"), truth.service);
    EXPECT_EQ(str("/source/entityInstance"), truth.instance);
    // Exactly one of the alternatives of each field.
    const auto find_key = [&](std::initializer_list<const char*> keys) -> std::string {
      std::string found;
      for (const char* key : keys) {
        simdjson::dom::element e;
        if (doc[key].get(e) == simdjson::SUCCESS) {
          EXPECT_TRUE(found.empty()) << "both " << found << " and " << key;
          found = key;
        }
      }
      EXPECT_FALSE(found.empty());
      return found;
    };
    const std::string level_key = find_key({"level", "severity", "lvl"});
    const std::string msg_key = find_key({"message", "msg"});
    const std::string ts_key = find_key({"timestamp", "ts", "@timestamp"});
    if (level_key.empty() || msg_key.empty() || ts_key.empty()) return checked;
    level = HttpLevel(doc[level_key].value_unsafe());
    EXPECT_EQ(doc[msg_key].get_string().get(message), simdjson::SUCCESS);
    const simdjson::dom::element ts = doc[ts_key].value_unsafe();
    std::string_view ts_text;
    if (ts.is_number()) {
      checked.shape = kEpochSeconds;
      parsed_ns = ParseEpochSeconds(RawNumber(line, ts_key));
      precision = kMilli;
    } else {
      EXPECT_EQ(ts.get_string().get(ts_text), simdjson::SUCCESS);
      if (ts_text.starts_with("Date ")) {
        checked.shape = kJsPrefixed;
        parsed_ns = ParseJsDate(ts_text);
        precision = kSecond;
      } else if (ts_text.find(" GMT") != std::string_view::npos) {
        checked.shape = kJs;
        parsed_ns = ParseJsDate(ts_text);
        precision = kSecond;
      } else if (ts_text.size() > 3 && ts_text[3] == ',') {
        checked.shape = kRfc2822;
        parsed_ns = ParseRfc2822(ts_text);
        precision = kSecond;
      } else if (ts_text.find('T') != std::string_view::npos) {
        checked.shape = kRfc3339;
        parsed_ns = ParseRfc3339(ts_text);
        precision = kMilli;
      } else {
        checked.shape = kEpochMsString;
        parsed_ns = ParseEpochMs(ts_text);
        precision = kMilli;
      }
    }
    std::string_view level_text;
    const bool numeric_level = doc[level_key].get_string().get(level_text) != simdjson::SUCCESS;
    checked.style = level_key + "/" + msg_key + "/" + ts_key + "/" + std::to_string(checked.shape) +
                    (numeric_level ? "/pino" : "") +
                    (line.find("\": ") != std::string::npos ? "/spaced" : "");
  } else {
    ADD_FAILURE() << "unknown source " << truth.source;
    return checked;
  }

  // Level.
  EXPECT_TRUE(level.has_value());
  if (level) {
    EXPECT_EQ(*level, truth.level);
  }
  // Time: the text encodes the ground truth exactly, which is the input truncated.
  EXPECT_TRUE(parsed_ns.has_value());
  if (parsed_ns) {
    EXPECT_EQ(*parsed_ns, truth.timestamp_ns);
  }
  EXPECT_LE(truth.timestamp_ns, input_ns);
  EXPECT_LT(input_ns - truth.timestamp_ns, precision);
  EXPECT_EQ(truth.timestamp_ns % precision, 0);
  // Message and template.
  EXPECT_TRUE(MatchesTemplate(message, FleetGenerator::TemplateText(truth.template_id)))
      << "template " << truth.template_id << ": "
      << FleetGenerator::TemplateText(truth.template_id);
  // Numeric access-log fields.
  simdjson::dom::element latency;
  if (doc["latency_ms"].get(latency) == simdjson::SUCCESS) {
    EXPECT_LT(truth.template_id, 4);
    int64_t v = 0;
    EXPECT_EQ(latency.get_int64().get(v), simdjson::SUCCESS);
    checked.json_latency = v;
    int64_t status = 0;
    EXPECT_EQ(doc["status"].get_int64().get(status), simdjson::SUCCESS);
    EXPECT_NE(message.find(std::to_string(status)), std::string_view::npos);
    const size_t logfmt = message.find("latency_ms=");
    if (logfmt != std::string_view::npos) {
      EXPECT_TRUE(message.substr(logfmt).starts_with("latency_ms=" + std::to_string(v) + " "));
    }
  }
  return checked;
}

// Generates n lines and checks each; returns the services seen per style and the http shapes.
void GenerateAndCheck(const FleetOptions& options, int n, int64_t start, std::set<int>* shapes,
                      std::set<std::string>* sources) {
  FleetGenerator gen(options);
  simdjson::dom::parser parser;
  std::map<std::string, std::string> style_of_service;
  std::map<std::string, std::string> source_of_service;
  std::string line;
  int64_t t = start;
  for (int i = 0; i < n; ++i) {
    line.clear();
    const GeneratedLine truth = gen.Next(t, &line);
    const Checked checked = CheckLine(parser, line, truth, t);
    if (::testing::Test::HasFailure()) return;
    const std::string service(truth.service);
    // Each service writes in one consistent way.
    auto [style, inserted] = style_of_service.emplace(service, checked.style);
    EXPECT_EQ(style->second, checked.style) << service;
    auto [source, ins] = source_of_service.emplace(service, truth.source);
    EXPECT_EQ(source->second, truth.source) << service;
    if (checked.shape >= 0 && shapes != nullptr) shapes->insert(checked.shape);
    if (sources != nullptr) sources->insert(std::string(truth.source));
    t += Step(i);
  }
}

// ---------------------------------------------------------------------------------------------

TEST(FleetTest, TemplatesAreWellFormed) {
  const int count = FleetGenerator::TemplateCount();
  EXPECT_GE(count, 40);
  EXPECT_LE(count, 60);
  const int needle = FleetGenerator::NeedleTemplateId();
  ASSERT_GE(needle, 0);
  ASSERT_LT(needle, count);
  std::set<std::string_view> texts;
  for (int id = 0; id < count; ++id) {
    const std::string_view text = FleetGenerator::TemplateText(id);
    EXPECT_FALSE(text.empty()) << id;
    EXPECT_EQ(text.find_first_of("{}"), std::string_view::npos) << text;
    EXPECT_EQ(text.find(kNeedleWord) != std::string_view::npos, id == needle) << text;
    EXPECT_TRUE(texts.insert(text).second) << "duplicate " << text;
  }
  EXPECT_TRUE(FleetGenerator::TemplateText(-1).empty());
  EXPECT_TRUE(FleetGenerator::TemplateText(count).empty());
}

TEST(FleetTest, DeterministicForASeed) {
  // Ground truth flattened to text, since its string_views die with the generator.
  const auto run = [](uint64_t seed, std::string* truths) {
    FleetOptions options;
    options.seed = seed;
    FleetGenerator gen(options);
    std::string out;
    int64_t t = kStart;
    for (int i = 0; i < 10000; ++i) {
      const GeneratedLine truth = gen.Next(t, &out);
      out.push_back('\n');
      if (truths != nullptr) {
        *truths += std::to_string(truth.timestamp_ns) + " " + std::string(LevelName(truth.level)) +
                   " " + std::string(truth.service) + " " + std::string(truth.instance) + " " +
                   std::string(truth.source) + " " + std::to_string(truth.template_id) + "\n";
      }
      t += Step(i);
    }
    return out;
  };
  std::string a_truth;
  std::string b_truth;
  const std::string a = run(7, &a_truth);
  const std::string b = run(7, &b_truth);
  EXPECT_EQ(a, b);
  EXPECT_EQ(a_truth, b_truth);
  EXPECT_NE(a, run(8, nullptr));
  EXPECT_NE(run(1, nullptr), run(2, nullptr));
}

TEST(FleetTest, NextAppends) {
  FleetGenerator gen(FleetOptions{});
  std::string out = "prefix";
  gen.Next(kStart, &out);
  EXPECT_TRUE(out.starts_with("prefix{")) << out;
  EXPECT_EQ(out.back(), '}');
}

TEST(FleetTest, LinesAreValidJsonMatchingTheirGroundTruth) {
  std::set<int> shapes;
  std::set<std::string> sources;
  GenerateAndCheck(FleetOptions{}, 60000, kStart, &shapes, &sources);
  EXPECT_EQ(sources, (std::set<std::string>{"k8s", "docker", "cloudwatch", "http"}));
  EXPECT_EQ(shapes.size(), static_cast<size_t>(kShapes)) << "every http timestamp shape";
}

// GeneratedLine::message is the message field as a parser reads it (JSON-unescaped); Docker's
// `log` keeps its level word and loses only the trailing newline.
TEST(FleetTest, MessageIsTheRawMessageText) {
  FleetGenerator gen(FleetOptions{});
  simdjson::dom::parser parser;
  std::string line;
  std::set<std::string> sources;
  for (int i = 0; i < 60000; ++i) {
    line.clear();
    const GeneratedLine truth = gen.Next(kStart + i * kMilli, &line);
    SCOPED_TRACE(line);
    simdjson::dom::element doc;
    ASSERT_EQ(parser.parse(line).get(doc), simdjson::SUCCESS);
    std::string_view expected;
    const auto field = [&](const char* key) {
      std::string_view v;
      if (doc[key].get_string().get(v) == simdjson::SUCCESS) expected = v;
    };
    if (truth.source == "k8s" || truth.source == "docker") {
      field("log");
    } else if (truth.source == "cloudwatch") {
      field("message");
    } else {
      field("message");
      field("msg");
    }
    if (truth.source == "docker") {
      ASSERT_TRUE(expected.ends_with('\n'));
      expected.remove_suffix(1);
      const std::string level(LevelName(truth.level));
      std::string upper(level.size(), ' ');
      std::transform(level.begin(), level.end(), upper.begin(),
                     [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
      EXPECT_TRUE(truth.message.starts_with(upper + " ")) << truth.message;
    }
    ASSERT_FALSE(expected.empty());
    ASSERT_EQ(truth.message, expected);
    EXPECT_FALSE(truth.message.ends_with('\n'));
    sources.insert(std::string(truth.source));
  }
  EXPECT_EQ(sources, (std::set<std::string>{"k8s", "docker", "cloudwatch", "http"}));
}

TEST(FleetTest, OtherSeedsAndFleetSizes) {
  for (const uint64_t seed : {2u, 3u, 12345u}) {
    FleetOptions options;
    options.seed = seed;
    options.services = 30;
    options.instances_per_service = 5;
    GenerateAndCheck(options, 20000, kStart, nullptr, nullptr);
  }
  FleetOptions tiny;
  tiny.services = 1;
  tiny.instances_per_service = 0;
  GenerateAndCheck(tiny, 2000, kStart, nullptr, nullptr);
}

TEST(FleetTest, TimestampsBeforeTheEpochAndAroundItRoundTrip) {
  // 1967, then the last and first seconds around 1970-01-01.
  GenerateAndCheck(FleetOptions{}, 5000, -86400LL * 365 * 3 * kSecond - 123456789, nullptr,
                   nullptr);
  GenerateAndCheck(FleetOptions{}, 5000, -5 * kSecond - 1, nullptr, nullptr);
  GenerateAndCheck(FleetOptions{}, 5000, 2524607999LL * kSecond, nullptr, nullptr);  // 2049-12-31
}

TEST(FleetTest, ServiceNamesAndInstances) {
  FleetOptions options;
  options.services = 40;
  options.instances_per_service = 4;
  FleetGenerator gen(options);
  const auto& names = gen.service_names();
  ASSERT_EQ(names.size(), 40u);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  const std::vector<std::string> defaults = FleetGenerator(FleetOptions{}).service_names();
  ASSERT_EQ(defaults.size(), 12u);
  for (const char* name : {"checkout", "payments", "auth", "code-scanner-service"}) {
    EXPECT_NE(std::find(defaults.begin(), defaults.end(), name), defaults.end()) << name;
  }
  std::map<std::string_view, std::set<std::string_view>> instances;
  std::string out;
  for (int i = 0; i < 50000; ++i) {
    const GeneratedLine truth = gen.Next(kStart + i, &out);
    instances[truth.service].insert(truth.instance);
  }
  EXPECT_EQ(instances.size(), 40u);
  for (const auto& [service, set] : instances) EXPECT_EQ(set.size(), 4u) << service;
}

// Finds the first line of `service` (or of `source`) written at `ts`.
std::string LineOf(FleetGenerator& gen, int64_t ts, std::string_view service,
                   std::string_view source, GeneratedLine* truth) {
  for (int i = 0; i < 100000; ++i) {
    std::string out;
    *truth = gen.Next(ts, &out);
    if (truth->service == service || truth->source == source) return out;
  }
  ADD_FAILURE() << "no line from " << service << source;
  return {};
}

std::string StringField(const std::string& line, const char* pointer) {
  simdjson::dom::parser parser;
  std::string_view v;
  EXPECT_EQ(parser.parse(line).at_pointer(pointer).get_string().get(v), simdjson::SUCCESS) << line;
  return std::string(v);
}

TEST(FleetTest, ExactTimestampTexts) {
  FleetGenerator gen(FleetOptions{});
  GeneratedLine truth;
  // The DESIGN.md shape.
  std::string line = LineOf(gen, kStart, "code-scanner-service", "", &truth);
  EXPECT_EQ(StringField(line, "/timestamp"),
            "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)");
  EXPECT_EQ(truth.timestamp_ns, kStart / kSecond * kSecond);
  EXPECT_TRUE(line.starts_with("{\"message\": \"")) << line;
  EXPECT_NE(line.find("\"source\": {\"type\": \"http\", \"entity\": \"code-scanner-service\", "
                      "\"entityInstance\": \""),
            std::string::npos)
      << line;
  // Kubernetes: always 9 digits.
  line = LineOf(gen, kStart, "", "k8s", &truth);
  EXPECT_EQ(StringField(line, "/time"), "2024-11-14T15:01:04.123456789Z");
  EXPECT_EQ(truth.timestamp_ns, kStart);
  line = LineOf(gen, 1731596464 * kSecond, "", "k8s", &truth);
  EXPECT_EQ(StringField(line, "/time"), "2024-11-14T15:01:04.000000000Z");
  // Docker: RFC3339Nano trims.
  line = LineOf(gen, 1731596464100000000, "", "docker", &truth);
  EXPECT_EQ(StringField(line, "/time"), "2024-11-14T15:01:04.1Z");
  line = LineOf(gen, 1731596464 * kSecond, "", "docker", &truth);
  EXPECT_EQ(StringField(line, "/time"), "2024-11-14T15:01:04Z");
  // CloudWatch: epoch ms; Lambda streams carry the date of the first event.
  line = LineOf(gen, kStart, "", "cloudwatch", &truth);
  EXPECT_NE(line.find("{\"timestamp\":1731596464123,"), std::string::npos) << line;
  EXPECT_EQ(truth.timestamp_ns, 1731596464123000000);
  FleetGenerator fresh(FleetOptions{});
  line = LineOf(fresh, kStart, "payments", "", &truth);
  const std::string stream = StringField(line, "/logStream");
  if (StringField(line, "/logGroup").starts_with("/aws/lambda/")) {
    EXPECT_TRUE(stream.starts_with("2024/11/14/[$LATEST]")) << stream;
    EXPECT_EQ(stream.size(), 20u + 32u) << stream;
  }
}

TEST(FleetTest, LevelDistribution) {
  const auto fractions = [](double burst_rate) {
    FleetOptions options;
    options.error_burst_rate = burst_rate;
    FleetGenerator gen(options);
    std::array<int, kLevelCount> counts{};
    std::string out;
    constexpr int kLines = 100000;
    for (int i = 0; i < kLines; ++i) {
      out.clear();
      ++counts[static_cast<size_t>(gen.Next(kStart + i * kMilli, &out).level)];
    }
    std::array<double, kLevelCount> f{};
    for (size_t l = 0; l < f.size(); ++l) f[l] = static_cast<double>(counts[l]) / kLines;
    return f;
  };
  const auto at = [](const std::array<double, kLevelCount>& f, Level level) {
    return f[static_cast<size_t>(level)];
  };
  const auto plain = fractions(0.0);
  EXPECT_EQ(at(plain, Level::kUnknown), 0.0);
  EXPECT_EQ(at(plain, Level::kTrace), 0.0);
  EXPECT_NEAR(at(plain, Level::kDebug), 0.055, 0.01);
  EXPECT_NEAR(at(plain, Level::kInfo), 0.76, 0.02);
  EXPECT_NEAR(at(plain, Level::kWarn), 0.12, 0.01);
  EXPECT_NEAR(at(plain, Level::kError), 0.06, 0.01);
  EXPECT_NEAR(at(plain, Level::kFatal), 0.005, 0.003);

  const auto bursty = fractions(FleetOptions{}.error_burst_rate);
  EXPECT_NEAR(at(bursty, Level::kDebug), 0.05, 0.02);
  EXPECT_GT(at(bursty, Level::kInfo), 0.55);
  EXPECT_LT(at(bursty, Level::kInfo), 0.80);
  EXPECT_NEAR(at(bursty, Level::kWarn), 0.11, 0.03);
  EXPECT_GT(at(bursty, Level::kError), 0.05);
  EXPECT_LT(at(bursty, Level::kError), 0.25);
  EXPECT_GT(at(bursty, Level::kFatal), 0.001);
  EXPECT_LT(at(bursty, Level::kFatal), 0.015);
}

// The largest number of errors in any 100 consecutive lines of one service.
int MaxErrorRun(double burst_rate) {
  FleetOptions options;
  options.error_burst_rate = burst_rate;
  FleetGenerator gen(options);
  std::map<std::string_view, std::vector<bool>> errors;
  std::string out;
  for (int i = 0; i < 100000; ++i) {
    out.clear();
    const GeneratedLine truth = gen.Next(kStart + i * kMilli, &out);
    errors[truth.service].push_back(truth.level == Level::kError);
  }
  int best = 0;
  for (const auto& [service, flags] : errors) {
    int window = 0;
    for (size_t i = 0; i < flags.size(); ++i) {
      window += flags[i] ? 1 : 0;
      if (i >= 100) window -= flags[i - 100] ? 1 : 0;
      best = std::max(best, window);
    }
  }
  return best;
}

TEST(FleetTest, ErrorBurstsMakeOneServiceMostlyErrors) {
  EXPECT_LT(MaxErrorRun(0.0), 30);
  EXPECT_GT(MaxErrorRun(0.01), 70);
}

TEST(FleetTest, AllTemplatesAppearAndTheNeedleIsRare) {
  FleetGenerator gen(FleetOptions{});
  std::vector<int> counts(static_cast<size_t>(FleetGenerator::TemplateCount()));
  int needle_lines = 0;
  int json_latency_lines = 0;
  int slow_lines = 0;
  std::string out;
  constexpr int kLines = 1000000;
  for (int i = 0; i < kLines; ++i) {
    out.clear();
    const GeneratedLine truth = gen.Next(kStart + i * kMilli, &out);
    ++counts[static_cast<size_t>(truth.template_id)];
    if (out.find(kNeedleWord) != std::string::npos) ++needle_lines;
    const size_t latency = out.find("\"latency_ms\":");
    if (latency != std::string::npos) {
      ++json_latency_lines;
      if (std::atoi(out.c_str() + latency + 13) > 500) ++slow_lines;
    }
  }
  const int needle = FleetGenerator::NeedleTemplateId();
  for (int id = 0; id < FleetGenerator::TemplateCount(); ++id) {
    if (id == needle) continue;
    EXPECT_GT(counts[static_cast<size_t>(id)], 0) << FleetGenerator::TemplateText(id);
  }
  EXPECT_EQ(needle_lines, counts[static_cast<size_t>(needle)]);
  EXPECT_LE(needle_lines, 10);
  // Enough for `| json | latency_ms > 500` to find something, not everything.
  EXPECT_GT(json_latency_lines, kLines / 20);
  EXPECT_GT(slow_lines, json_latency_lines / 20);
  EXPECT_LT(slow_lines, json_latency_lines / 2);
}

}  // namespace
}  // namespace lode
