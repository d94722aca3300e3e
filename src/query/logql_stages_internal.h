// Internals shared by the files that implement query/logql_stages.h:
// logql_stages.cc (extractors and conversions), logql_template.cc (template
// parsing and rendering) and logql_template_functions.cc (template values and
// functions). Not an API: nothing else should include this header.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "query/logql_stages.h"

namespace re2 {
class RE2;
}  // namespace re2

namespace lode::logql::internal {

// ---- Characters (ASCII) and UTF-8 ----

inline bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
inline bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
inline bool IsIdentStart(char c) {
  return IsAlpha(c) || c == '_';
}
inline bool IsIdentChar(char c) {
  return IsIdentStart(c) || IsDigit(c);
}
inline bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
inline char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
inline char AsciiUpper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}
inline int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
inline std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

// Decodes the UTF-8 sequence at s[i] into *cp: its length, or 0 when the
// bytes there are not valid UTF-8 (overlong, surrogate, truncated...).
// REQUIRES: i < s.size()
size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp);

// Bytes of the character at s[i]: a UTF-8 sequence, or one invalid byte
// (which Go reads as one U+FFFD). REQUIRES: i < s.size()
size_t CharLen(std::string_view s, size_t i);

// Appends code point `cp` (at most 0x10FFFF) as UTF-8.
void AppendUtf8(uint32_t cp, std::string* out);

// ---- Regular expressions ----

// Compiles an RE2 pattern, also accepting Go's (?<name>re) groups. Returns
// null and sets *error (RE2's message) when it does not compile.
std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, std::string* error);

// ---- Template values and functions ----

// A template value. Labels are strings; literals and arithmetic give numbers.
struct Value {
  enum class Kind : uint8_t { kString, kInt, kFloat, kBool, kTime };
  Kind kind = Kind::kString;
  std::string s;
  int64_t i = 0;  // kInt; kBool (0/1); kTime (ns since the epoch)
  double f = 0;   // kFloat

  static Value Str(std::string v) {
    Value x;
    x.s = std::move(v);
    return x;
  }
  static Value Int(int64_t v) { return Of(Kind::kInt, v); }
  static Value Bool(bool v) { return Of(Kind::kBool, v ? 1 : 0); }
  static Value Time(int64_t ns) { return Of(Kind::kTime, ns); }
  static Value Float(double v) {
    Value x;
    x.kind = Kind::kFloat;
    x.f = v;
    return x;
  }

 private:
  static Value Of(Kind k, int64_t v) {
    Value x;
    x.kind = k;
    x.i = v;
    return x;
  }
};

// The text a value renders as: a float without ".0" when integral, a time
// as RFC 3339 in UTC with the fraction's trailing zeros trimmed.
std::string Render(const Value& v);

// Go's truth: non-empty, non-zero, true; a time is always true.
bool Truth(const Value& v);

// Go's strconv.Quote.
std::string GoQuote(std::string_view s);

// What a template function sees besides its arguments.
struct CallContext {
  const TemplateInput& in;
  const re2::RE2* regex;  // the precompiled first argument, or null
};

using Args = std::vector<Value>;
// A function's implementation. It may move its arguments out of `args`.
using FuncImpl = Result<Value> (*)(Args& args, const CallContext& ctx);

struct FuncSpec {
  std::string_view name;
  int min_args;
  int max_args;   // -1: any number
  FuncImpl impl;  // null for `and` and `or`, which the evaluator runs lazily
};

// The template function called `name`, or null.
const FuncSpec* FindFunction(std::string_view name);

// Whether the function's first argument is a regex, worth compiling once
// when it is a constant.
bool TakesRegex(std::string_view name);

}  // namespace lode::logql::internal
