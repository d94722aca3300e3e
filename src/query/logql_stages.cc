#include "query/logql_stages.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "query/logql_stages_internal.h"

namespace lode::logql {

namespace internal {

size_t DecodeUtf8(std::string_view s, size_t i, uint32_t* cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t n = 0;
  uint32_t v = 0;
  uint32_t min = 0;
  if ((c & 0xE0) == 0xC0) {
    n = 2, v = c & 0x1Fu, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3, v = c & 0x0Fu, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4, v = c & 0x07u, min = 0x10000;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (byte(i + k) & 0x3Fu);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return n;
}

size_t CharLen(std::string_view s, size_t i) {
  uint32_t cp = 0;
  size_t n = DecodeUtf8(s, i, &cp);
  return n == 0 ? 1 : n;
}

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

namespace {

// RE2 knows (?P<name>re) but not the (?<name>re) that Go accepts since 1.22:
// rewrites the latter, leaving escapes and character classes alone.
std::string RewriteNamedGroups(std::string_view re) {
  std::string out;
  out.reserve(re.size() + 4);
  bool in_class = false;
  for (size_t i = 0; i < re.size(); ++i) {
    char c = re[i];
    if (c == '\\' && i + 1 < re.size()) {
      out.push_back(c);
      out.push_back(re[++i]);
      continue;
    }
    if (in_class) {
      if (c == '[' && i + 1 < re.size() && re[i + 1] == ':') {
        size_t end = re.find(":]", i + 2);
        if (end != std::string_view::npos) {
          out.append(re.substr(i, end + 2 - i));
          i = end + 1;
          continue;
        }
      }
      if (c == ']') in_class = false;
      out.push_back(c);
      continue;
    }
    if (c == '[') {
      in_class = true;
      out.push_back(c);
      // A ']' first in the class is a member, not its end.
      if (i + 1 < re.size() && re[i + 1] == '^') out.push_back(re[++i]);
      if (i + 1 < re.size() && re[i + 1] == ']') out.push_back(re[++i]);
      continue;
    }
    if (c == '(' && re.substr(i, 3) == "(?<" && i + 3 < re.size() && IsIdentStart(re[i + 3])) {
      out += "(?P<";
      i += 2;
      continue;
    }
    out.push_back(c);
  }
  return out;
}

}  // namespace

std::shared_ptr<const re2::RE2> CompileRegex(std::string_view pattern, std::string* error) {
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(RewriteNamedGroups(pattern), opts);
  if (!re->ok()) {
    *error = re->error();
    return nullptr;
  }
  return re;
}

}  // namespace internal

namespace {

using internal::AppendUtf8;
using internal::AsciiLower;
using internal::CharLen;
using internal::CompileRegex;
using internal::DecodeUtf8;
using internal::HexValue;
using internal::IsAsciiSpace;
using internal::IsDigit;
using internal::IsIdentChar;
using internal::IsIdentStart;
using internal::TrimAsciiSpace;

bool IsValidIdent(std::string_view s) {
  if (s.empty() || !IsIdentStart(s[0])) return false;
  return std::all_of(s.begin(), s.end(), IsIdentChar);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (AsciiLower(a[i]) != AsciiLower(b[i])) return false;
  }
  return true;
}

// Loki's appendSanitized: trims `key`, maps each character outside
// [A-Za-z0-9_] to '_', and starts the name with '_' when `to` is empty and
// the key starts with a digit. Nested JSON keys are built by appending '_'
// and the next key, which gets no digit prefix of its own.
void AppendSanitized(std::string* to, std::string_view key) {
  key = TrimAsciiSpace(key);
  if (key.empty()) return;
  if (to->empty() && IsDigit(key[0])) to->push_back('_');
  for (size_t i = 0; i < key.size();) {
    char c = key[i];
    if (IsIdentChar(c)) {
      to->push_back(c);
      ++i;
    } else {
      to->push_back('_');
      i += CharLen(key, i);
    }
  }
}

// Appends (name, value), or replaces the value of the pair of that name
// appended since index `first`: the later value wins, as Loki's Set.
void SetLabel(ExtractedLabels* out, size_t first, std::string_view name, std::string value) {
  for (size_t i = first; i < out->size(); ++i) {
    if ((*out)[i].first == name) {
      (*out)[i].second = std::move(value);
      return;
    }
  }
  out->emplace_back(std::string(name), std::move(value));
}

Status InvalidLabelName(std::string_view name) {
  return Status::InvalidArgument(fmt::format("invalid extracted label name \"{}\"", name));
}

// ---------------------------------------------------------------------------
// JSON.

// Deeper documents are rejected rather than risking the stack.
constexpr int kMaxJsonDepth = 512;

// A validating reader over one JSON text (RFC 8259, except that raw control
// characters inside strings are accepted, as Loki's parsers do). Numbers are
// kept as written, which is what Loki's labels hold.
class JsonReader {
 public:
  explicit JsonReader(std::string_view s) : s_(s) {}

  std::string_view text() const { return s_; }
  size_t pos() const { return pos_; }
  void set_pos(size_t p) { pos_ = p; }
  bool AtEnd() const { return pos_ >= s_.size(); }
  char Peek() const { return pos_ < s_.size() ? s_[pos_] : '\0'; }
  bool Consume(char c) {
    if (pos_ >= s_.size() || s_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  // Reads a string, decoding escapes into *out (when not null). A lone
  // surrogate escape decodes as U+FFFD.
  bool ReadString(std::string* out) {
    if (!Consume('"')) return false;
    if (out != nullptr) out->clear();
    while (pos_ < s_.size()) {
      size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '"' && s_[pos_] != '\\') ++pos_;
      if (out != nullptr) out->append(s_.substr(start, pos_ - start));
      if (pos_ >= s_.size()) return false;
      if (s_[pos_++] == '"') return true;
      if (pos_ >= s_.size()) return false;
      char e = s_[pos_++];
      char c = 0;
      switch (e) {
        case '"':
        case '\\':
        case '/': c = e; break;
        case 'b': c = '\b'; break;
        case 'f': c = '\f'; break;
        case 'n': c = '\n'; break;
        case 'r': c = '\r'; break;
        case 't': c = '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!ReadHex4(&cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            size_t save = pos_;
            uint32_t lo = 0;
            if (Consume('\\') && Consume('u') && ReadHex4(&lo) && lo >= 0xDC00 && lo <= 0xDFFF) {
              cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else {
              pos_ = save;
              cp = 0xFFFD;
            }
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            cp = 0xFFFD;
          }
          if (out != nullptr) AppendUtf8(cp, out);
          continue;
        }
        default: return false;
      }
      if (out != nullptr) out->push_back(c);
    }
    return false;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
  bool SkipNumber() {
    size_t p = pos_;
    auto digits = [&] {
      size_t start = p;
      while (p < s_.size() && IsDigit(s_[p])) ++p;
      return p > start;
    };
    if (p < s_.size() && s_[p] == '-') ++p;
    if (p < s_.size() && s_[p] == '0') {
      ++p;
    } else if (!digits()) {
      return false;
    }
    if (p < s_.size() && s_[p] == '.') {
      ++p;
      if (!digits()) return false;
    }
    if (p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
      ++p;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (!digits()) return false;
    }
    pos_ = p;
    return true;
  }

  bool SkipLiteral(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  // Validates and skips one value of any type.
  bool SkipValue(int depth) {
    if (depth > kMaxJsonDepth) return false;
    switch (Peek()) {
      case '{':
        ++pos_;
        SkipSpace();
        if (Consume('}')) return true;
        while (true) {
          if (!ReadString(nullptr)) return false;
          SkipSpace();
          if (!Consume(':')) return false;
          SkipSpace();
          if (!SkipValue(depth + 1)) return false;
          SkipSpace();
          if (!Consume(',')) return Consume('}');
          SkipSpace();
        }
      case '[':
        ++pos_;
        SkipSpace();
        if (Consume(']')) return true;
        while (true) {
          if (!SkipValue(depth + 1)) return false;
          SkipSpace();
          if (!Consume(',')) return Consume(']');
          SkipSpace();
        }
      case '"': return ReadString(nullptr);
      case 't': return SkipLiteral("true");
      case 'f': return SkipLiteral("false");
      case 'n': return SkipLiteral("null");
      default: return SkipNumber();
    }
  }

  // Reads a scalar as a label value: strings decoded, numbers as written,
  // booleans as "true"/"false", null as "".
  bool ReadScalar(std::string* out) {
    char c = Peek();
    if (c == '"') return ReadString(out);
    size_t start = pos_;
    bool ok = c == 't'   ? SkipLiteral("true")
              : c == 'f' ? SkipLiteral("false")
              : c == 'n' ? SkipLiteral("null")
                         : SkipNumber();
    if (!ok) return false;
    if (c == 'n') {
      out->clear();
    } else {
      out->assign(s_.substr(start, pos_ - start));
    }
    return true;
  }

 private:
  bool ReadHex4(uint32_t* cp) {
    if (pos_ + 4 > s_.size()) return false;
    uint32_t v = 0;
    for (int k = 0; k < 4; ++k) {
      int h = HexValue(s_[pos_ + static_cast<size_t>(k)]);
      if (h < 0) return false;
      v = v * 16 + static_cast<uint32_t>(h);
    }
    pos_ += 4;
    *cp = v;
    return true;
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// Flattens the object at r's position into `out`: scalars become labels
// named by their keys joined with '_' under `prefix`; arrays are skipped.
bool FlattenObject(JsonReader* r, std::string* prefix, int depth, ExtractedLabels* out,
                   size_t first) {
  if (depth > kMaxJsonDepth || !r->Consume('{')) return false;
  r->SkipSpace();
  if (r->Consume('}')) return true;
  std::string key;
  std::string value;
  while (true) {
    if (!r->ReadString(&key)) return false;
    r->SkipSpace();
    if (!r->Consume(':')) return false;
    r->SkipSpace();
    char c = r->Peek();
    if (c == '{') {
      size_t len = prefix->size();
      if (!prefix->empty()) prefix->push_back('_');
      AppendSanitized(prefix, key);
      bool ok = FlattenObject(r, prefix, depth + 1, out, first);
      prefix->resize(len);
      if (!ok) return false;
    } else if (c == '[') {
      if (!r->SkipValue(depth + 1)) return false;
    } else {
      if (!r->ReadScalar(&value)) return false;
      std::string name = *prefix;
      if (!name.empty()) name.push_back('_');
      AppendSanitized(&name, key);
      if (!name.empty()) SetLabel(out, first, name, std::move(value));
    }
    r->SkipSpace();
    if (!r->Consume(',')) return r->Consume('}');
    r->SkipSpace();
  }
}

// Parses a Loki JSON path (`a.b`, `a[0]`, `a["k"]`, `["k"].b`) into steps.
// Step is JsonExtractor's private PathStep, deduced so it need not be named.
template <typename Step>
Status ParseJsonPath(std::string_view expr, std::vector<Step>* steps) {
  auto bad = [&](size_t at, std::string_view why) {
    return Status::InvalidArgument(
        fmt::format("invalid JSON path \"{}\": {} at offset {}", expr, why, at));
  };
  size_t i = 0;
  auto skip_space = [&] {
    while (i < expr.size() && (expr[i] == ' ' || expr[i] == '\t' || expr[i] == '\n')) ++i;
  };
  skip_space();
  if (i >= expr.size()) return bad(i, "empty path");
  for (bool first = true;; first = false) {
    skip_space();
    if (i >= expr.size()) break;
    Step step;
    if (expr[i] == '[') {
      ++i;
      skip_space();
      if (i < expr.size() && expr[i] == '"') {
        size_t quote = i++;
        while (true) {
          if (i >= expr.size()) return bad(quote, "unterminated string");
          char c = expr[i++];
          if (c == '"') break;
          if (c == '\\' && i < expr.size() && (expr[i] == '"' || expr[i] == '\\')) c = expr[i++];
          step.key.push_back(c);
        }
      } else if (i < expr.size() && IsDigit(expr[i])) {
        size_t start = i;
        while (i < expr.size() && IsDigit(expr[i])) ++i;
        if (i - start > 9) return bad(start, "array index too large");
        if (i < expr.size() && expr[i] == '.') return bad(i, "an array index must be an integer");
        step.is_index = true;
        std::from_chars(expr.data() + start, expr.data() + i, step.index);
      } else {
        return bad(i, "expected a quoted key or an array index after '['");
      }
      skip_space();
      if (i >= expr.size() || expr[i] != ']') return bad(i, "expected ']'");
      ++i;
    } else {
      if (!first) {
        if (expr[i] != '.') return bad(i, fmt::format("unexpected '{}'", expr[i]));
        ++i;
        skip_space();
      }
      if (i >= expr.size() || !IsIdentStart(expr[i])) {
        return bad(i, "expected a field name (letters, digits, '_'; other keys need [\"key\"])");
      }
      size_t start = i;
      while (i < expr.size() && IsIdentChar(expr[i])) ++i;
      step.key.assign(expr.substr(start, i - start));
    }
    steps->push_back(std::move(step));
  }
  return Status::OK();
}

// Moves r from the value it is at to the value `steps` lead to. The text
// has been validated; false when the path does not exist.
template <typename Step>
bool FindJsonPath(JsonReader* r, const std::vector<Step>& steps) {
  std::string key;
  for (const Step& step : steps) {
    if (!r->Consume(step.is_index ? '[' : '{')) return false;
    r->SkipSpace();
    if (r->Peek() == (step.is_index ? ']' : '}')) return false;
    for (size_t i = 0;; ++i) {
      if (step.is_index) {
        if (i == step.index) break;
      } else {
        if (!r->ReadString(&key)) return false;
        r->SkipSpace();
        r->Consume(':');
        r->SkipSpace();
        if (key == step.key) break;  // the first of duplicate keys
      }
      if (!r->SkipValue(0)) return false;
      r->SkipSpace();
      if (!r->Consume(',')) return false;
      r->SkipSpace();
    }
  }
  return true;
}

// ---------------------------------------------------------------------------
// logfmt.

// Whether s holds invalid UTF-8 or U+FFFD: Go's
// bytes.ContainsRune(s, utf8.RuneError), which Loki asks of logfmt keys and
// values.
bool HasRuneError(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    uint32_t cp = 0;
    const size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0 || cp == 0xFFFD) return true;
    i += n;
  }
  return false;
}

// The 4 hex digits of a \uXXXX at s[i] ('\\'), or -1.
int32_t LogfmtU4(std::string_view s, size_t i) {
  if (i + 6 > s.size() || s[i] != '\\' || s[i + 1] != 'u') return -1;
  int32_t v = 0;
  for (size_t k = i + 2; k < i + 6; ++k) {
    const int h = HexValue(s[k]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

// Unquotes the body of a quoted logfmt value that has escapes (Loki's
// unquoteBytes: JSON's escapes plus \'; raw bytes, control characters
// included, are copied). False on an unknown or incomplete escape.
bool UnquoteLogfmt(std::string_view body, std::string* out) {
  out->clear();
  for (size_t i = 0; i < body.size();) {
    const char c = body[i];
    if (c != '\\') {
      out->push_back(c);
      ++i;
      continue;
    }
    if (i + 1 >= body.size()) return false;
    const char e = body[i + 1];
    switch (e) {
      case '"':
      case '\\':
      case '/':
      case '\'': out->push_back(e); break;
      case 'b': out->push_back('\b'); break;
      case 'f': out->push_back('\f'); break;
      case 'n': out->push_back('\n'); break;
      case 'r': out->push_back('\r'); break;
      case 't': out->push_back('\t'); break;
      case 'u': {
        int32_t r = LogfmtU4(body, i);
        if (r < 0) return false;
        i += 6;
        if (r >= 0xD800 && r <= 0xDFFF) {
          const int32_t r2 = LogfmtU4(body, i);
          if (r <= 0xDBFF && r2 >= 0xDC00 && r2 <= 0xDFFF) {
            AppendUtf8(0x10000 + ((static_cast<uint32_t>(r) - 0xD800) << 10) +
                           (static_cast<uint32_t>(r2) - 0xDC00),
                       out);
            i += 6;
            continue;
          }
          r = 0xFFFD;  // a lone surrogate
        }
        AppendUtf8(static_cast<uint32_t>(r), out);
        continue;
      }
      default: return false;
    }
    i += 2;
  }
  return true;
}

enum class LogfmtScan { kEnd, kPair, kMalformed };

// Reads the next pair of `line` from *pos, as Loki's logfmt decoder does
// (LogfmtExtractor's comment has the rules). kPair: *key and *value (which
// may point into *scratch) are set; *value is empty for a key without one.
// kMalformed: *pos is past the bad pair and, when `error` is not null, it
// gets Loki's message. kEnd: nothing but separators was left.
LogfmtScan ScanLogfmt(std::string_view line, size_t* pos, std::string_view* key,
                      std::string_view* value, std::string* scratch, std::string* error) {
  const auto sep = [&](size_t p) { return static_cast<unsigned char>(line[p]) <= ' '; };
  size_t p = *pos;
  // Loki's message names the 1-based byte where the decoder stopped.
  const auto fail = [&](size_t at, std::string_view what) {
    if (error != nullptr) *error = fmt::format("logfmt syntax error at pos {} : {}", at + 1, what);
    return LogfmtScan::kMalformed;
  };
  // Skips what is left of a bad key or value, up to the next separator.
  const auto skip = [&](size_t at, std::string_view what) {
    *pos = at;
    while (*pos < line.size() && !sep(*pos)) ++*pos;
    return fail(at, what);
  };
  while (p < line.size() && sep(p)) ++p;
  if (p >= line.size()) {
    *pos = p;
    return LogfmtScan::kEnd;
  }
  const size_t start = p;
  bool multibyte = false;
  while (p < line.size() && !sep(p) && line[p] != '=' && line[p] != '"') {
    if (static_cast<unsigned char>(line[p]) >= 0x80) multibyte = true;
    ++p;
  }
  *key = line.substr(start, p - start);
  *value = {};
  const bool bad_key = multibyte && HasRuneError(*key);
  if (p >= line.size() || sep(p)) {  // a key alone
    *pos = p;
    return bad_key ? fail(p, "invalid key") : LogfmtScan::kPair;
  }
  if (line[p] == '"') return skip(p, "unexpected '\"'");
  // line[p] == '='
  if (key->empty()) return skip(p, "unexpected '='");
  if (bad_key) return skip(p, "invalid key");
  ++p;
  if (p >= line.size() || sep(p)) {  // `key=`
    *pos = p;
    return LogfmtScan::kPair;
  }
  if (line[p] != '"') {
    const size_t vstart = p;
    while (p < line.size() && !sep(p)) {
      if (line[p] == '=') return skip(p, "unexpected '='");
      if (line[p] == '"') return skip(p, "unexpected '\"'");
      ++p;
    }
    *value = line.substr(vstart, p - vstart);
    *pos = p;
    return LogfmtScan::kPair;
  }
  const size_t body = p + 1;
  bool escaped = false;
  for (p = body; p < line.size() && line[p] != '"'; ++p) {
    if (line[p] == '\\') {
      escaped = true;
      ++p;
    }
  }
  if (p >= line.size()) {
    *pos = line.size();
    return fail(line.size(), "unterminated quoted value");
  }
  *pos = p + 1;
  *value = line.substr(body, p - body);
  if (escaped) {
    if (!UnquoteLogfmt(*value, scratch)) return fail(*pos, "invalid quoted value");
    *value = *scratch;
  }
  return LogfmtScan::kPair;
}

}  // namespace

// ---------------------------------------------------------------------------

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  AppendSanitized(&out, name);
  return out;
}

bool SanitizesTo(std::string_view key, std::string_view name) {
  key = TrimAsciiSpace(key);
  if (key.empty()) return name.empty();
  size_t j = 0;
  if (IsDigit(key[0])) {
    if (name.empty() || name[0] != '_') return false;
    j = 1;
  }
  for (size_t i = 0; i < key.size(); ++j) {
    if (j >= name.size()) return false;
    const char c = key[i];
    if (IsIdentChar(c)) {
      if (name[j] != c) return false;
      ++i;
    } else {
      if (name[j] != '_') return false;
      i += CharLen(key, i);
    }
  }
  return j == name.size();
}

Result<JsonExtractor> JsonExtractor::Make(const std::vector<ExtractParam>& params) {
  JsonExtractor x;
  for (const ExtractParam& p : params) {
    if (!IsValidIdent(p.label)) return InvalidLabelName(p.label);
    Path path;
    path.label = p.label;
    LODE_RETURN_IF_ERROR(ParseJsonPath(p.expression.empty() ? p.label : p.expression, &path.steps));
    x.paths_.push_back(std::move(path));
  }
  return x;
}

bool JsonExtractor::Extract(std::string_view line, ExtractedLabels* out) const {
  const size_t first = out->size();
  JsonReader r(line);
  r.SkipSpace();
  if (r.Peek() != '{') return false;
  if (paths_.empty()) {
    std::string prefix;
    bool ok = FlattenObject(&r, &prefix, 0, out, first);
    r.SkipSpace();
    if (!ok || !r.AtEnd()) {
      out->resize(first);
      return false;
    }
    return true;
  }
  // Validate the whole line once; the lookups then only navigate.
  const size_t root = r.pos();
  if (!r.SkipValue(0)) return false;
  r.SkipSpace();
  if (!r.AtEnd()) return false;
  std::string value;
  for (const Path& path : paths_) {
    r.set_pos(root);
    if (!FindJsonPath(&r, path.steps)) continue;
    char c = r.Peek();
    if (c == '{' || c == '[') {
      size_t start = r.pos();
      if (!r.SkipValue(0)) continue;
      value.assign(line.substr(start, r.pos() - start));
    } else if (!r.ReadScalar(&value)) {
      continue;
    }
    SetLabel(out, first, path.label, std::move(value));
  }
  return true;
}

Result<LogfmtExtractor> LogfmtExtractor::Make(const std::vector<ExtractParam>& params,
                                              LogfmtOptions options) {
  LogfmtExtractor x;
  x.options_ = options;
  for (const ExtractParam& p : params) {
    if (!IsValidIdent(p.label)) return InvalidLabelName(p.label);
    x.wanted_.push_back({p.label, p.expression.empty() ? p.label : p.expression});
  }
  return x;
}

LogfmtExtractor LogfmtExtractor::MakeHinted(const std::vector<std::string>& names,
                                            LogfmtOptions options) {
  LogfmtExtractor x;
  x.options_ = options;
  x.hinted_ = true;
  for (const std::string& name : names) {
    if (std::none_of(x.wanted_.begin(), x.wanted_.end(),
                     [&](const Wanted& w) { return w.label == name; })) {
      x.wanted_.push_back({name, name});
    }
  }
  return x;
}

bool LogfmtExtractor::Extract(std::string_view line, ExtractedLabels* out,
                              std::string* error) const {
  const size_t first = out->size();
  // Hinted to nothing: no label to find, and only --strict has errors to find.
  if (hinted_ && wanted_.empty() && !options_.strict) return true;
  // Only --strict reports errors; the message is only built then.
  std::string* const scan_error = options_.strict ? error : nullptr;
  const bool listed = !wanted_.empty() && !hinted_;  // explicit params
  size_t pos = 0;
  std::string_view key;
  std::string_view value;
  while (true) {
    const LogfmtScan scan = ScanLogfmt(line, &pos, &key, &value, &value_, scan_error);
    if (scan == LogfmtScan::kEnd) return true;
    if (scan == LogfmtScan::kMalformed) {
      if (options_.strict) return false;
      continue;
    }
    if (!value.empty() && HasRuneError(value)) value = {};
    // Without --keep-empty an empty value is skipped, except for a listed
    // key, which gets "" unless it already has a value.
    const bool empty_kept = !value.empty() || options_.keep_empty;
    if (!empty_kept && !listed) continue;
    const auto set = [&](std::string_view name) {
      if (!empty_kept) {
        for (size_t i = first; i < out->size(); ++i) {
          if ((*out)[i].first == name) return;
        }
      }
      SetLabel(out, first, name, std::string(value));
    };
    if (wanted_.empty() && !hinted_) {
      // Every key; the label name is only built when the key is not one.
      bool clean = !IsDigit(key[0]);
      for (size_t i = 0; i < key.size() && clean; ++i) clean = IsIdentChar(key[i]);
      if (clean) {
        set(key);
      } else {
        name_.clear();
        AppendSanitized(&name_, key);
        if (!name_.empty()) set(name_);
      }
      continue;
    }
    // A wanted key matches the key as written or as a label name.
    for (const Wanted& w : wanted_) {
      if (w.key == key || SanitizesTo(key, w.key)) set(w.label);
    }
  }
}

Result<RegexpExtractor> RegexpExtractor::Make(std::string_view regex) {
  std::string error;
  auto re = CompileRegex(regex, &error);
  if (re == nullptr) {
    return Status::InvalidArgument(fmt::format("invalid regexp \"{}\": {}", regex, error));
  }
  RegexpExtractor x;
  for (const auto& [index, name] : re->CapturingGroupNames()) {
    std::string label = SanitizeLabelName(name);
    for (const auto& group : x.groups_) {
      if (group.second == label) {
        return Status::InvalidArgument(
            fmt::format("regexp \"{}\": duplicate capture group name \"{}\"", regex, label));
      }
    }
    x.groups_.emplace_back(index, std::move(label));
    x.num_groups_ = std::max(x.num_groups_, index);
  }
  if (x.groups_.empty()) {
    return Status::InvalidArgument(fmt::format(
        "regexp \"{}\" has no named capture group: at least one (?P<name>...) is required", regex));
  }
  x.re_ = std::move(re);
  return x;
}

bool RegexpExtractor::Extract(std::string_view line, ExtractedLabels* out) const {
  if (re_ == nullptr) return false;
  // A null data pointer would make every group look as if it did not
  // participate (RE2 reports those as null).
  static constexpr char kEmpty[] = "";
  re2::StringPiece text(line.data() != nullptr ? line.data() : kEmpty, line.size());
  std::vector<re2::StringPiece> m(static_cast<size_t>(num_groups_) + 1);
  if (!re_->Match(text, 0, text.size(), RE2::UNANCHORED, m.data(), num_groups_ + 1)) return false;
  const size_t first = out->size();
  for (const auto& [index, name] : groups_) {
    const re2::StringPiece& g = m[static_cast<size_t>(index)];
    if (g.data() != nullptr) SetLabel(out, first, name, std::string(g.data(), g.size()));
  }
  return true;
}

Result<PatternMatcher> PatternMatcher::Make(std::string_view pattern, bool require_named) {
  auto bad = [&](size_t at, std::string_view why) {
    return Status::InvalidArgument(
        fmt::format("invalid pattern \"{}\": {} at offset {}", pattern, why, at));
  };
  if (pattern.empty()) return Status::InvalidArgument("invalid pattern \"\": the pattern is empty");
  PatternMatcher m;
  std::vector<std::string_view> names;
  for (size_t i = 0; i < pattern.size();) {
    if (pattern[i] == '<') {
      // `<x>` with no space or '<' inside is meant as a capture; anything
      // else (`a < b`, `<<`) is literal text.
      size_t j = i + 1;
      while (j < pattern.size() && pattern[j] != '>' && pattern[j] != '<' &&
             !IsAsciiSpace(pattern[j])) {
        ++j;
      }
      if (j < pattern.size() && pattern[j] == '>' && j > i + 1) {
        std::string_view name = pattern.substr(i + 1, j - i - 1);
        if (!IsValidIdent(name)) {
          return bad(i, fmt::format("capture name \"{}\" is not a valid identifier", name));
        }
        if (!m.parts_.empty() && m.parts_.back().capture) {
          return bad(i, fmt::format("consecutive captures <{}><{}> are not allowed",
                                    m.parts_.back().text, name));
        }
        if (name != "_") {
          if (std::find(names.begin(), names.end(), name) != names.end()) {
            return bad(i, fmt::format("duplicate capture name \"{}\"", name));
          }
          names.push_back(name);
        }
        m.parts_.push_back({true, std::string(name)});
        i = j + 1;
        continue;
      }
    }
    if (m.parts_.empty() || m.parts_.back().capture) m.parts_.push_back({false, ""});
    m.parts_.back().text.push_back(pattern[i++]);
  }
  if (require_named && names.empty()) {
    return Status::InvalidArgument(fmt::format(
        "invalid pattern \"{}\": at least one named capture (<name>) is required", pattern));
  }
  return m;
}

bool PatternMatcher::Match(std::string_view line) const {
  return Run(line, nullptr);
}

bool PatternMatcher::Extract(std::string_view line, ExtractedLabels* out) const {
  return Run(line, out);
}

bool PatternMatcher::Run(std::string_view line, ExtractedLabels* out) const {
  if (parts_.empty()) return false;
  const size_t first = out != nullptr ? out->size() : 0;
  size_t k = 0;
  if (!parts_[0].capture) {
    if (line.substr(0, parts_[0].text.size()) != parts_[0].text) return false;
    line.remove_prefix(parts_[0].text.size());
    k = 1;
  }
  // From here parts alternate: capture, literal, capture, ...
  for (; k < parts_.size(); k += 2) {
    const std::string& name = parts_[k].text;
    if (k + 1 == parts_.size()) {
      if (out != nullptr && name != "_") out->emplace_back(name, std::string(line));
      return true;
    }
    const std::string& literal = parts_[k + 1].text;
    size_t at = line.find(literal);
    if (at == std::string_view::npos) {
      if (out != nullptr) out->resize(first);
      return false;
    }
    if (out != nullptr && name != "_") out->emplace_back(name, std::string(line.substr(0, at)));
    line.remove_prefix(at + literal.size());
  }
  return true;
}

Result<double> ParseBytes(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid bytes value \"{}\": {}", text, why));
  };
  size_t i = 0;
  std::string number;
  while (i < text.size() && (IsDigit(text[i]) || text[i] == '.' || text[i] == ',')) {
    if (text[i] != ',') number.push_back(text[i]);
    ++i;
  }
  double v = 0;
  auto r = std::from_chars(number.data(), number.data() + number.size(), v);
  if (number.empty() || r.ec != std::errc() || r.ptr != number.data() + number.size()) {
    return bad("expected a number");
  }
  std::string unit(TrimAsciiSpace(text.substr(i)));
  for (char& c : unit) c = AsciiLower(c);
  // go-humanize's table: the "b" of a unit is optional.
  static constexpr std::pair<std::string_view, double> kUnits[] = {
      {"", 1},
      {"b", 1},
      {"k", 1e3},
      {"kb", 1e3},
      {"ki", 1024.0},
      {"kib", 1024.0},
      {"m", 1e6},
      {"mb", 1e6},
      {"mi", 1048576.0},
      {"mib", 1048576.0},
      {"g", 1e9},
      {"gb", 1e9},
      {"gi", 1073741824.0},
      {"gib", 1073741824.0},
      {"t", 1e12},
      {"tb", 1e12},
      {"ti", 1099511627776.0},
      {"tib", 1099511627776.0},
      {"p", 1e15},
      {"pb", 1e15},
      {"pi", 1125899906842624.0},
      {"pib", 1125899906842624.0},
      {"e", 1e18},
      {"eb", 1e18},
      {"ei", 1152921504606846976.0},
      {"eib", 1152921504606846976.0},
  };
  for (const auto& [name, mult] : kUnits) {
    if (unit != name) continue;
    double bytes = v * mult;
    if (!(bytes < 18446744073709551616.0)) return bad("too large");
    return std::trunc(bytes);  // humanize returns a uint64
  }
  return bad(fmt::format("unknown unit \"{}\"", unit));
}

Result<double> ParseGoDurationSeconds(std::string_view text) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument(fmt::format("invalid duration \"{}\": {}", text, why));
  };
  // Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+ in uint64
  // nanoseconds, at most 2^63.
  constexpr uint64_t kMax = uint64_t{1} << 63;
  std::string_view s = text;
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0.0;
  if (s.empty()) return bad("empty");
  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s[0] == '.' || IsDigit(s[0]))) return bad("expected a number");
    uint64_t v = 0;
    size_t i = 0;
    for (; i < s.size() && IsDigit(s[i]); ++i) {
      if (v > kMax / 10) return bad("out of range");
      v = v * 10 + static_cast<uint64_t>(s[i] - '0');
      if (v > kMax) return bad("out of range");
    }
    bool pre = i > 0;
    s.remove_prefix(i);
    uint64_t frac = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s[0] == '.') {
      s.remove_prefix(1);
      size_t j = 0;
      bool overflow = false;
      for (; j < s.size() && IsDigit(s[j]); ++j) {
        if (overflow) continue;  // digits past what fits are dropped, as Go does
        if (frac > (kMax - 1) / 10) {
          overflow = true;
          continue;
        }
        frac = frac * 10 + static_cast<uint64_t>(s[j] - '0');
        scale *= 10;
      }
      post = j > 0;
      s.remove_prefix(j);
    }
    if (!pre && !post) return bad("expected a number");
    size_t u = 0;
    while (u < s.size() && s[u] != '.' && !IsDigit(s[u])) ++u;
    if (u == 0) return bad("missing unit (ns, us, ms, s, m, h)");
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    uint64_t mult = 0;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      mult = 1000;
    else if (unit == "ms")
      mult = 1000000;
    else if (unit == "s")
      mult = 1000000000;
    else if (unit == "m")
      mult = 60000000000;
    else if (unit == "h")
      mult = 3600000000000;
    else
      return bad(fmt::format("unknown unit \"{}\"", unit));
    if (v > kMax / mult) return bad("out of range");
    v *= mult;
    if (frac > 0) {
      v += static_cast<uint64_t>(static_cast<double>(frac) * (static_cast<double>(mult) / scale));
      if (v > kMax) return bad("out of range");
    }
    total += v;
    if (total > kMax) return bad("out of range");
  }
  if (!neg && total > kMax - 1) return bad("out of range");
  int64_t ns = total == kMax ? std::numeric_limits<int64_t>::min()
                             : (neg ? -static_cast<int64_t>(total) : static_cast<int64_t>(total));
  // As Go's Duration.Seconds(): whole seconds and the rest, each exact.
  return static_cast<double>(ns / 1000000000) + static_cast<double>(ns % 1000000000) / 1e9;
}

Result<double> ParseSampleValue(std::string_view text) {
  auto bad = [&] { return Status::InvalidArgument(fmt::format("invalid number \"{}\"", text)); };
  std::string_view s = text;
  bool neg = false;
  bool sign = false;
  if (!s.empty() && (s[0] == '+' || s[0] == '-')) {
    neg = s[0] == '-';
    sign = true;
    s.remove_prefix(1);
  }
  if (EqualsIgnoreCase(s, "inf") || EqualsIgnoreCase(s, "infinity")) {
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (!sign && EqualsIgnoreCase(s, "nan")) return std::numeric_limits<double>::quiet_NaN();
  // from_chars would also take "inf", "nan(...)" and hex without the "0x":
  // only let it see what starts like a decimal number.
  if (s.empty() || !(IsDigit(s[0]) || s[0] == '.')) return bad();
  double v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return bad();
  return neg ? -v : v;
}

}  // namespace lode::logql
