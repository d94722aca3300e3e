#include "parse/message_level.h"

#include "parse/level.h"

namespace lode {

namespace {

bool IsUpper(char c) { return c >= 'A' && c <= 'Z'; }
bool IsWordChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

Level UpperWordLevel(std::string_view w) {
  if (w == "TRACE") return Level::kTrace;
  if (w == "DEBUG") return Level::kDebug;
  if (w == "INFO") return Level::kInfo;
  if (w == "WARN" || w == "WARNING") return Level::kWarn;
  if (w == "ERROR") return Level::kError;
  if (w == "FATAL" || w == "CRITICAL" || w == "PANIC") return Level::kFatal;
  return Level::kUnknown;
}

}  // namespace

Level LevelFromMessage(std::string_view message) {
  std::string_view head = message.substr(0, 80);
  size_t i = 0;
  while (i < head.size()) {
    if (!IsWordChar(head[i])) {
      ++i;
      continue;
    }
    size_t start = i;
    while (i < head.size() && IsWordChar(head[i])) ++i;
    std::string_view word = head.substr(start, i - start);
    if (word == "level" && i < head.size() && head[i] == '=') {
      size_t v = i + 1;
      if (v < head.size() && head[v] == '"') ++v;
      size_t e = v;
      while (e < head.size() && IsWordChar(head[e])) ++e;
      Level l = ParseLevel(head.substr(v, e - v));
      if (l != Level::kUnknown) return l;
      continue;
    }
    if (word.size() >= 4 && IsUpper(word[0])) {
      Level l = UpperWordLevel(word);
      if (l != Level::kUnknown) return l;
    }
  }
  return Level::kUnknown;
}

}  // namespace lode
