#include "parse/level.h"

#include <array>
#include <cassert>

namespace lode {

namespace {

struct Alias {
  std::string_view name;  // lower case
  Level level;
};

// Every accepted spelling, lower case.
constexpr std::array<Alias, 42> kAliases = {{
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
}};

// Longest alias; longer texts cannot match.
constexpr size_t kMaxAliasLength = 13;  // "informational"

// A spelling of up to 15 bytes folded to ASCII lower case and packed into two words, the length
// in the top byte: comparing two keys is two integer compares (a string_view == called memcmp).
struct Key {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const Key&) const = default;
};

// REQUIRES text.size() <= kMaxAliasLength.
constexpr Key MakeKey(std::string_view text) {
  Key key;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const uint64_t byte = static_cast<unsigned char>(c);
    if (i < 8) {
      key.lo |= byte << (8 * i);
    } else {
      key.hi |= byte << (8 * (i - 8));
    }
  }
  key.hi |= static_cast<uint64_t>(text.size()) << 56;
  return key;
}

struct Entry {
  Key key;
  Level level;
};

// The aliases as keys, ordered by length, so that a lookup scans only those of its length
// (at most 10).
constexpr std::array<Entry, kAliases.size()> kEntries = [] {
  std::array<Entry, kAliases.size()> entries{};
  size_t next = 0;
  for (size_t n = 0; n <= kMaxAliasLength; ++n) {
    for (const Alias& alias : kAliases) {
      if (alias.name.size() == n) entries[next++] = {MakeKey(alias.name), alias.level};
    }
  }
  return entries;
}();

// kEntries[kLengthStart[n] .. kLengthStart[n + 1]) are the aliases of length n.
constexpr std::array<uint8_t, kMaxAliasLength + 2> kLengthStart = [] {
  std::array<uint8_t, kMaxAliasLength + 2> start{};
  for (size_t n = 0; n < start.size(); ++n) {
    for (const Alias& alias : kAliases) {
      if (alias.name.size() < n) ++start[n];
    }
  }
  return start;
}();
// More digits than this is not a level number (and could overflow).
constexpr size_t kMaxNumberDigits = 9;

constexpr bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

Level ParseLevel(std::string_view text) {
  while (!text.empty() && IsSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsSpace(text.back())) text.remove_suffix(1);
  if (text.empty() || text.size() > kMaxAliasLength) return Level::kUnknown;

  if (text[0] >= '0' && text[0] <= '9') {
    if (text.size() > kMaxNumberDigits) return Level::kUnknown;
    int64_t n = 0;
    for (const char c : text) {
      if (c < '0' || c > '9') return Level::kUnknown;
      n = n * 10 + (c - '0');
    }
    return LevelFromNumber(n);
  }

  const Key key = MakeKey(text);
  for (size_t i = kLengthStart[text.size()]; i < kLengthStart[text.size() + 1]; ++i) {
    if (kEntries[i].key == key) return kEntries[i].level;
  }
  return Level::kUnknown;
}

Level LevelFromNumber(int64_t n) {
  if (n >= 0 && n <= 7) return LevelFromSyslogSeverity(static_cast<int>(n));
  switch (n / 10) {
    case 1: return Level::kTrace;
    case 2: return Level::kDebug;
    case 3: return Level::kInfo;
    case 4: return Level::kWarn;
    case 5: return Level::kError;
    case 6: return Level::kFatal;
    default: return Level::kUnknown;
  }
}

Level LevelFromSyslogSeverity(int severity) {
  assert(severity >= 0 && severity <= 7);
  switch (severity) {
    case 0:
    case 1:
    case 2: return Level::kFatal;
    case 3: return Level::kError;
    case 4: return Level::kWarn;
    case 5:
    case 6: return Level::kInfo;
    case 7: return Level::kDebug;
    default: return Level::kUnknown;
  }
}

bool IsCanonicalSpelling(std::string_view text, Level level) {
  return text == LevelName(level);
}

}  // namespace lode
