#include "query/regex_literals.h"

#include <algorithm>

namespace lode {

namespace {

bool IsMeta(char c) {
  switch (c) {
    case '.':
    case '[':
    case ']':
    case '(':
    case ')':
    case '{':
    case '}':
    case '*':
    case '+':
    case '?':
    case '^':
    case '$':
    case '|':
    case '\\': return true;
    default: return false;
  }
}

// Characters a backslash makes literal (RE2 escapes of punctuation).
bool IsEscapedLiteral(char c) {
  return IsMeta(c) || c == '-' || c == '/' || c == '"' || c == '\'' || c == ' ' || c == '#' ||
         c == '=' || c == ':' || c == ',' || c == '<' || c == '>' || c == '@' || c == '%' ||
         c == '&' || c == '~' || c == '!' || c == ';' || c == '_';
}

}  // namespace

std::vector<std::string> RequiredLiterals(std::string_view p, size_t min_len) {
  std::vector<std::string> out;
  // Alternation anywhere (even inside a group) could make any part optional
  // in ways a simple scan cannot follow; flags could change case.
  if (p.find('|') != std::string_view::npos || p.find("(?") != std::string_view::npos) return out;

  std::string run;
  auto flush = [&] {
    if (run.size() >= min_len) out.push_back(run);
    run.clear();
  };
  int depth = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    // What follows decides whether the last literal was required.
    auto quantified_optional = [&](size_t next) {
      if (next >= p.size()) return false;
      char q = p[next];
      if (q == '*' || q == '?') return true;
      if (q == '{') return next + 1 < p.size() && p[next + 1] == '0';
      return false;
    };
    if (c == '(') {
      ++depth;
      flush();
      continue;
    }
    if (c == ')') {
      if (depth > 0) --depth;
      continue;
    }
    if (depth > 0) continue;  // group contents: not claimed
    if (c == '{') {
      // A repetition count: skip it whole.
      flush();
      size_t close = p.find('}', i);
      if (close == std::string_view::npos) break;
      i = close;
      continue;
    }
    if (c == '[') {
      // Skip the class, honouring "[]...]" and escapes.
      flush();
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
      i = j;
      continue;
    }
    char literal = 0;
    size_t next = i + 1;
    if (c == '\\') {
      if (i + 1 >= p.size()) break;
      char e = p[i + 1];
      next = i + 2;
      if (IsEscapedLiteral(e)) {
        literal = e;
      } else {
        // \d \w \s \b \pN \x41 ...: a class or an assertion, not a literal.
        if (e == 'p' || e == 'P') {
          if (next < p.size() && p[next] == '{') {
            while (next < p.size() && p[next] != '}') ++next;
            ++next;
          } else {
            ++next;
          }
        } else if (e == 'x') {
          flush();
          i = next - 1;
          continue;
        }
        flush();
        i = next - 1;
        continue;
      }
    } else if (IsMeta(c)) {
      flush();
      continue;
    } else {
      literal = c;
    }
    if (quantified_optional(next)) {
      flush();  // the run so far is required; this character is not
      i = next - 1;
      continue;
    }
    run.push_back(literal);
    // A `+` or `{n,}` repeats the last character: the run cannot continue
    // past it as one contiguous literal.
    if (next < p.size() && (p[next] == '+' || p[next] == '{')) flush();
    i = next - 1;
  }
  flush();
  return out;
}

std::vector<std::string> AlternativeLiterals(std::string_view p, size_t min_len) {
  // Split on the top-level `|`, outside groups and classes.
  std::vector<std::string_view> branches;
  int depth = 0;
  size_t start = 0;
  bool wrapped = !p.empty() && p.front() == '(' && !p.starts_with("(?");
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (c == '[') {
      size_t j = i + 1;
      if (j < p.size() && p[j] == '^') ++j;
      if (j < p.size() && p[j] == ']') ++j;
      while (j < p.size() && p[j] != ']') j += p[j] == '\\' ? 2 : 1;
      i = j;
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
      // The first group closes before the end: the pattern is not one group.
      if (depth == 0 && i + 1 != p.size()) wrapped = false;
    } else if (c == '|' && depth == 0) {
      branches.push_back(p.substr(start, i - start));
      start = i + 1;
    }
  }
  if (branches.empty()) {
    // `(a|b)` as the whole pattern: look inside the group.
    if (wrapped && p.size() >= 2 && p.back() == ')') {
      return AlternativeLiterals(p.substr(1, p.size() - 2), min_len);
    }
    return {};
  }
  branches.push_back(p.substr(start));
  std::vector<std::string> out;
  for (std::string_view b : branches) {
    std::vector<std::string> lits = RequiredLiterals(b, min_len);
    if (lits.empty()) return {};  // this branch can match without a known literal
    out.push_back(*std::max_element(lits.begin(), lits.end(), [](const auto& x, const auto& y) {
      return x.size() < y.size();
    }));
  }
  return out;
}

}  // namespace lode
