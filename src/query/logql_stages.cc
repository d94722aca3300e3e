#include "query/logql_stages.h"

#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <limits>
#include <optional>

namespace lode::logql {

namespace {

// ---------------------------------------------------------------------------
// Characters and UTF-8.

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsIdentStart(char c) { return IsAlpha(c) || c == '_'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}
// Go's template "space": what {{- and -}} trim, and what separates operands.
bool IsTemplateSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
char AsciiLower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }
char AsciiUpper(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c; }

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

std::string_view TrimAsciiSpace(std::string_view s) {
  while (!s.empty() && IsAsciiSpace(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsAsciiSpace(s.back())) s.remove_suffix(1);
  return s;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes the UTF-8 sequence at s[i]: its length, or 0 when the bytes there
// are not valid UTF-8 (overlong, surrogate, truncated...).
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

// Bytes of the character at s[i]: a UTF-8 sequence, or one invalid byte
// (which Go reads as one U+FFFD).
size_t CharLen(std::string_view s, size_t i) {
  uint32_t cp = 0;
  size_t n = DecodeUtf8(s, i, &cp);
  return n == 0 ? 1 : n;
}

size_t CountChars(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); i += CharLen(s, i)) ++n;
  return n;
}

// Byte offset of the character numbered `k` (clamped to the end).
size_t CharOffset(std::string_view s, size_t k) {
  size_t i = 0;
  for (; i < s.size() && k > 0; --k) i += CharLen(s, i);
  return i;
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
        case '"': case '\\': case '/': c = e; break;
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
        default:
          return false;
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

// Reads the quoted value starting at line[*pos] == '"' (go-logfmt: a value
// with escapes is unquoted as a JSON string, plus \').
bool ReadLogfmtQuoted(std::string_view line, size_t* pos, std::string* out) {
  size_t start = *pos + 1;
  size_t i = start;
  bool has_escape = false;
  while (i < line.size() && line[i] != '"') {
    if (line[i] == '\\') {
      has_escape = true;
      ++i;
    }
    ++i;
  }
  if (i >= line.size()) return false;  // unterminated
  *pos = i + 1;
  std::string_view body = line.substr(start, i - start);
  if (!has_escape) {
    out->assign(body);
    return true;
  }
  // Re-read as a JSON string; \' is the one escape JSON lacks.
  std::string json = "\"";
  for (size_t k = 0; k < body.size(); ++k) {
    if (body[k] == '\\' && k + 1 < body.size() && body[k + 1] == '\'') {
      json.push_back('\'');
      ++k;
    } else {
      json.push_back(body[k]);
      if (body[k] == '\\' && k + 1 < body.size()) json.push_back(body[++k]);
    }
  }
  json.push_back('"');
  JsonReader r(json);
  return r.ReadString(out) && r.AtEnd();
}

// ---------------------------------------------------------------------------
// Regular expressions.

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

}  // namespace

// ---------------------------------------------------------------------------

std::string SanitizeLabelName(std::string_view name) {
  std::string out;
  AppendSanitized(&out, name);
  return out;
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

Result<LogfmtExtractor> LogfmtExtractor::Make(const std::vector<ExtractParam>& params) {
  LogfmtExtractor x;
  for (const ExtractParam& p : params) {
    if (!IsValidIdent(p.label)) return InvalidLabelName(p.label);
    x.wanted_.push_back({p.label, p.expression.empty() ? p.label : p.expression});
  }
  return x;
}

bool LogfmtExtractor::Extract(std::string_view line, ExtractedLabels* out) const {
  const size_t first = out->size();
  auto fail = [&] {
    out->resize(first);
    return false;
  };
  auto is_sep = [&](size_t p) { return static_cast<unsigned char>(line[p]) <= ' '; };
  std::string value;
  size_t pos = 0;
  while (true) {
    while (pos < line.size() && is_sep(pos)) ++pos;
    if (pos >= line.size()) break;
    size_t start = pos;
    bool multibyte = false;
    while (pos < line.size() && !is_sep(pos) && line[pos] != '=') {
      if (line[pos] == '"') return fail();
      if (static_cast<unsigned char>(line[pos]) >= 0x80) multibyte = true;
      ++pos;
    }
    std::string_view key = line.substr(start, pos - start);
    if (key.empty()) return fail();  // `=value`
    if (multibyte) {
      for (size_t i = 0; i < key.size(); i += CharLen(key, i)) {
        uint32_t cp = 0;
        if (DecodeUtf8(key, i, &cp) == 0) return fail();
      }
    }
    value.clear();
    if (pos < line.size() && line[pos] == '=') {
      ++pos;
      if (pos < line.size() && line[pos] == '"') {
        if (!ReadLogfmtQuoted(line, &pos, &value)) return fail();
      } else {
        size_t vstart = pos;
        while (pos < line.size() && !is_sep(pos)) {
          if (line[pos] == '=' || line[pos] == '"') return fail();
          ++pos;
        }
        value.assign(line.substr(vstart, pos - vstart));
      }
    }
    std::string name = SanitizeLabelName(key);
    if (wanted_.empty()) {
      SetLabel(out, first, name, value);
      continue;
    }
    for (const Wanted& w : wanted_) {
      if (w.key == key || w.key == name) SetLabel(out, first, w.label, value);
    }
  }
  return true;
}

Result<RegexpExtractor> RegexpExtractor::Make(std::string_view regex) {
  std::string error;
  auto re = CompileRegex(regex, &error);
  if (re == nullptr) {
    return Status::InvalidArgument(fmt::format("invalid regexp \"{}\": {}", regex, error));
  }
  RegexpExtractor x;
  for (const auto& [index, name] : re->CapturingGroupNames()) {
    x.groups_.emplace_back(index, SanitizeLabelName(name));
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

bool PatternMatcher::Match(std::string_view line) const { return Run(line, nullptr); }

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
      {"", 1},         {"b", 1},
      {"k", 1e3},      {"kb", 1e3},     {"ki", 1024.0},       {"kib", 1024.0},
      {"m", 1e6},      {"mb", 1e6},     {"mi", 1048576.0},    {"mib", 1048576.0},
      {"g", 1e9},      {"gb", 1e9},     {"gi", 1073741824.0}, {"gib", 1073741824.0},
      {"t", 1e12},     {"tb", 1e12},    {"ti", 1099511627776.0}, {"tib", 1099511627776.0},
      {"p", 1e15},     {"pb", 1e15},    {"pi", 1125899906842624.0}, {"pib", 1125899906842624.0},
      {"e", 1e18},     {"eb", 1e18},    {"ei", 1152921504606846976.0},
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
    if (unit == "ns") mult = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs") mult = 1000;
    else if (unit == "ms") mult = 1000000;
    else if (unit == "s") mult = 1000000000;
    else if (unit == "m") mult = 60000000000;
    else if (unit == "h") mult = 3600000000000;
    else return bad(fmt::format("unknown unit \"{}\"", unit));
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

// ---------------------------------------------------------------------------
// Templates.
//
// A template is parsed once into a tree (text, actions, if/else) whose
// pipelines are lists of commands; a command is a function and its argument
// operands, or a single operand. Rendering walks the tree with the line's
// labels. Go's text/template rules are kept where users can see them:
// operands are separated by spaces, a piped value is the last argument,
// `and`/`or` return one of their operands and do not evaluate past the
// deciding one, {{- and -}} trim " \t\r\n".

namespace {

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

// Go's type names, for printf's "%!d(string=x)" and the like.
std::string_view TypeName(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString: return "string";
    case Value::Kind::kInt: return "int";
    case Value::Kind::kFloat: return "float64";
    case Value::Kind::kBool: return "bool";
    case Value::Kind::kTime: return "time.Time";
  }
  return "?";
}

std::string FormatFloat(double f) {
  if (std::isnan(f)) return "NaN";
  if (std::isinf(f)) return f > 0 ? "+Inf" : "-Inf";
  if (f == std::trunc(f) && std::fabs(f) < 1e21) return fmt::format("{:.0f}", f);
  return fmt::format("{}", f);  // shortest form that reads back the same
}

// ---- Time formatting (UTC) with Go layouts ----

struct CivilTime {
  int64_t year = 0;
  int month = 0;  // 1..12
  int day = 0;
  int hour = 0;
  int minute = 0;
  int second = 0;
  int64_t nanos = 0;
  int yday = 0;  // 1..366
  int wday = 0;  // 0 = Sunday
};

CivilTime ToCivil(int64_t ns) {
  using std::chrono::days;
  using std::chrono::sys_days;
  int64_t secs = ns / 1000000000;
  int64_t nanos = ns % 1000000000;
  if (nanos < 0) nanos += 1000000000, --secs;
  int64_t day_count = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) sod += 86400, --day_count;
  sys_days sd{days{day_count}};
  std::chrono::year_month_day ymd{sd};
  CivilTime t;
  t.year = static_cast<int>(ymd.year());
  t.month = static_cast<int>(static_cast<unsigned>(ymd.month()));
  t.day = static_cast<int>(static_cast<unsigned>(ymd.day()));
  t.hour = static_cast<int>(sod / 3600);
  t.minute = static_cast<int>(sod / 60 % 60);
  t.second = static_cast<int>(sod % 60);
  t.nanos = nanos;
  t.yday = static_cast<int>((sd - sys_days{ymd.year() / std::chrono::January / 1}).count()) + 1;
  t.wday = static_cast<int>(std::chrono::weekday{sd}.c_encoding());
  return t;
}

constexpr std::string_view kMonthNames[] = {"January", "February", "March",     "April",
                                            "May",     "June",     "July",      "August",
                                            "September", "October", "November", "December"};
constexpr std::string_view kDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};

// Formats `ns` in UTC by a Go reference-time layout ("2006-01-02T15:04:05Z07:00").
std::string FormatGoTime(int64_t ns, std::string_view layout) {
  const CivilTime t = ToCivil(ns);
  std::string out;
  auto num = [&](int64_t v, int width, char fill) {
    std::string digits = std::to_string(v);
    if (digits.size() < static_cast<size_t>(width)) {
      out.append(static_cast<size_t>(width) - digits.size(), fill);
    }
    out += digits;
  };
  const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  size_t i = 0;
  while (i < layout.size()) {
    std::string_view rest = layout.substr(i);
    auto take = [&](std::string_view token) {
      if (rest.substr(0, token.size()) != token) return false;
      i += token.size();
      return true;
    };
    switch (layout[i]) {
      case 'J':
        if (take("January")) { out += kMonthNames[t.month - 1]; continue; }
        if (take("Jan")) { out += kMonthNames[t.month - 1].substr(0, 3); continue; }
        break;
      case 'M':
        if (take("Monday")) { out += kDayNames[t.wday]; continue; }
        if (take("Mon")) { out += kDayNames[t.wday].substr(0, 3); continue; }
        if (take("MST")) { out += "UTC"; continue; }
        break;
      case '0':
        if (take("01")) { num(t.month, 2, '0'); continue; }
        if (take("02")) { num(t.day, 2, '0'); continue; }
        if (take("03")) { num(hour12, 2, '0'); continue; }
        if (take("04")) { num(t.minute, 2, '0'); continue; }
        if (take("05")) { num(t.second, 2, '0'); continue; }
        if (take("06")) { num(((t.year % 100) + 100) % 100, 2, '0'); continue; }
        if (take("002")) { num(t.yday, 3, '0'); continue; }
        break;
      case '1':
        if (take("15")) { num(t.hour, 2, '0'); continue; }
        take("1");
        num(t.month, 0, '0');
        continue;
      case '2':
        if (take("2006")) { num(t.year, 4, '0'); continue; }
        take("2");
        num(t.day, 0, '0');
        continue;
      case '_':
        if (rest.substr(0, 5) == "_2006") break;  // a literal '_', then the year
        if (take("_2")) { num(t.day, 2, ' '); continue; }
        if (take("__2")) { num(t.yday, 3, ' '); continue; }
        break;
      case '3': take("3"); num(hour12, 0, '0'); continue;
      case '4': take("4"); num(t.minute, 0, '0'); continue;
      case '5': take("5"); num(t.second, 0, '0'); continue;
      case 'P':
        if (take("PM")) { out += t.hour >= 12 ? "PM" : "AM"; continue; }
        break;
      case 'p':
        if (take("pm")) { out += t.hour >= 12 ? "pm" : "am"; continue; }
        break;
      case '-':
        if (take("-070000")) { out += "+000000"; continue; }
        if (take("-07:00:00")) { out += "+00:00:00"; continue; }
        if (take("-0700")) { out += "+0000"; continue; }
        if (take("-07:00")) { out += "+00:00"; continue; }
        if (take("-07")) { out += "+00"; continue; }
        break;
      case 'Z':
        if (take("Z070000") || take("Z07:00:00") || take("Z0700") || take("Z07:00") ||
            take("Z07")) {
          out += 'Z';
          continue;
        }
        break;
      case '.':
      case ',': {
        // ".000" gives fixed digits, ".999" drops trailing zeros (and the
        // separator when nothing is left); only when no digit follows the run.
        if (rest.size() < 2 || (rest[1] != '0' && rest[1] != '9')) break;
        size_t j = 1;
        while (j < rest.size() && rest[j] == rest[1]) ++j;
        if (j < rest.size() && IsDigit(rest[j])) break;
        size_t n = std::min<size_t>(j - 1, 9);
        std::string digits = fmt::format("{:09d}", t.nanos).substr(0, n);
        if (rest[1] == '9') {
          while (!digits.empty() && digits.back() == '0') digits.pop_back();
        }
        if (!digits.empty()) {
          out.push_back(rest[0]);
          out += digits;
        }
        i += j;
        continue;
      }
      default:
        break;
    }
    out.push_back(layout[i++]);
  }
  return out;
}

constexpr std::string_view kRfc3339Nano = "2006-01-02T15:04:05.999999999Z07:00";

std::string Render(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString: return v.s;
    case Value::Kind::kInt: return std::to_string(v.i);
    case Value::Kind::kFloat: return FormatFloat(v.f);
    case Value::Kind::kBool: return v.i != 0 ? "true" : "false";
    case Value::Kind::kTime: return FormatGoTime(v.i, kRfc3339Nano);
  }
  return "";
}

// Moves the text out of a string value; renders any other.
std::string TakeText(Value& v) {
  return v.kind == Value::Kind::kString ? std::move(v.s) : Render(v);
}

// Go's truth: non-empty, non-zero, true; a time is always true.
bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString: return !v.s.empty();
    case Value::Kind::kFloat: return v.f != 0;
    default: return v.i != 0;
  }
}

// A string as a number: an integer when it is one ("12", "-3"), else a
// float ("1.5", "1e3", "Inf"). Nothing for other text.
std::optional<Value> ParseNumber(std::string_view s, bool allow_special) {
  int64_t i = 0;
  std::string_view digits = s.substr(!s.empty() && s[0] == '+' ? 1 : 0);
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), i);
  if (!digits.empty() && (digits.size() == s.size() || digits[0] != '-') && r.ec == std::errc() &&
      r.ptr == digits.data() + digits.size()) {
    return Value::Int(i);
  }
  auto f = ParseSampleValue(s);
  if (!f.ok() || (!allow_special && !std::isfinite(*f))) return std::nullopt;
  return Value::Float(*f);
}

Result<int64_t> ToInt(const Value& v) {
  Value n = v;
  if (v.kind == Value::Kind::kString) {
    if (v.s.empty()) return int64_t{0};  // an absent label counts as 0
    auto parsed = ParseNumber(v.s, false);
    if (!parsed) return Status::InvalidArgument(fmt::format("\"{}\" is not a number", v.s));
    n = *parsed;
  }
  switch (n.kind) {
    case Value::Kind::kInt:
    case Value::Kind::kBool: return n.i;
    case Value::Kind::kFloat:
      if (!(std::fabs(n.f) < 9.2e18)) {
        return Status::InvalidArgument(fmt::format("{} does not fit an integer", FormatFloat(n.f)));
      }
      return static_cast<int64_t>(n.f);  // truncates, as Go's conversion
    default: return Status::InvalidArgument("expected a number, got a time");
  }
}

Result<double> ToFloat(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kInt:
    case Value::Kind::kBool: return static_cast<double>(v.i);
    case Value::Kind::kFloat: return v.f;
    case Value::Kind::kTime: return Status::InvalidArgument("expected a number, got a time");
    case Value::Kind::kString: break;
  }
  if (v.s.empty()) return 0.0;
  auto f = ParseSampleValue(v.s);
  if (!f.ok()) return Status::InvalidArgument(fmt::format("\"{}\" is not a number", v.s));
  return *f;
}

// Orders two values: as numbers when both are (integers exactly), else as
// strings. Nothing when unordered (NaN).
std::optional<int> Compare(const Value& a, const Value& b) {
  auto as_number = [](const Value& v) -> std::optional<Value> {
    if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kFloat) return v;
    if (v.kind == Value::Kind::kString) return ParseNumber(v.s, false);
    return std::nullopt;
  };
  auto x = as_number(a);
  auto y = as_number(b);
  if (x && y) {
    if (x->kind == Value::Kind::kInt && y->kind == Value::Kind::kInt) {
      return x->i < y->i ? -1 : x->i > y->i ? 1 : 0;
    }
    double p = x->kind == Value::Kind::kInt ? static_cast<double>(x->i) : x->f;
    double q = y->kind == Value::Kind::kInt ? static_cast<double>(y->i) : y->f;
    if (std::isnan(p) || std::isnan(q)) return std::nullopt;
    return p < q ? -1 : p > q ? 1 : 0;
  }
  int c = Render(a).compare(Render(b));
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

// ---- Decimal arithmetic for addf/subf/mulf ----
//
// Sprig computes these in decimal (0.1 + 0.2 = 0.3). The exact decimal
// result ends at the last digit of the operands (the lowest for a sum, the
// sum of the positions for a product); rounding the float result there gives
// it back whenever it has at most 15 significant digits.

// Digits and exponent of v's shortest decimal form d.ddd × 10^exp.
void DecimalShape(double v, int* digits, int* exp) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v, std::chars_format::scientific);
  std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  size_t e = s.find('e');
  *digits = static_cast<int>(std::count_if(s.begin(), s.begin() + static_cast<ptrdiff_t>(e), IsDigit));
  std::string_view ex = s.substr(e + 1);
  if (!ex.empty() && ex[0] == '+') ex.remove_prefix(1);
  std::from_chars(ex.data(), ex.data() + ex.size(), *exp);
}

// The power of ten of v's last significant digit; INT_MAX for 0 and non-finite.
int LastDigit(double v) {
  if (v == 0 || !std::isfinite(v)) return INT_MAX;
  int digits = 0;
  int exp = 0;
  DecimalShape(v, &digits, &exp);
  return exp - (digits - 1);
}

double RoundDecimal(double r, int last) {
  if (!std::isfinite(r) || r == 0 || last >= 0 || last < -300) return r;
  int digits = 0;
  int exp = 0;
  DecimalShape(r, &digits, &exp);
  if (exp - last + 1 > 15) return r;
  std::string s = fmt::format("{:.{}f}", r, -last);
  double v = r;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// ---- printf ----

std::string GoQuote(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0;
    size_t n = DecodeUtf8(s, i, &cp);
    if (n == 0) {
      out += fmt::format("\\x{:02x}", static_cast<unsigned char>(s[i]));
      ++i;
      continue;
    }
    switch (cp) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\v': out += "\\v"; break;
      default:
        if (cp < 0x20 || cp == 0x7F) {
          out += fmt::format("\\x{:02x}", cp);
        } else if (cp >= 0x80 && cp < 0xA0) {
          out += fmt::format("\\u{:04x}", cp);
        } else {
          out.append(s.substr(i, n));
        }
    }
    i += n;
  }
  out += '"';
  return out;
}

// Go's %g without a precision: the shortest digits, in exponent form when
// the exponent is < -4 or >= 6 (so 123456 but 1e+06).
std::string GoShortestG(double f) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  std::string sci(buf, static_cast<size_t>(r.ptr - buf));
  int digits = 0;
  int exp = 0;
  DecimalShape(f, &digits, &exp);
  if (exp < -4 || exp >= 6) return sci;
  r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::fixed);
  return std::string(buf, static_cast<size_t>(r.ptr - buf));
}

struct FormatFlags {
  bool minus = false;
  bool plus = false;
  bool sharp = false;
  bool space = false;
  bool zero = false;
  int width = -1;
  int precision = -1;
};

// A {fmt} spec equivalent to Go's flags. Go right-aligns everything by
// default; {fmt} left-aligns strings, so strings get an explicit '>'.
std::string FmtSpec(const FormatFlags& fl, bool numeric, char type, bool with_precision) {
  std::string spec = "{:";
  if (fl.minus) {
    spec += '<';
  } else if (!numeric) {
    spec += '>';
  }
  if (numeric && fl.plus) spec += '+';
  if (numeric && !fl.plus && fl.space) spec += ' ';
  if (numeric && fl.sharp) spec += '#';
  if (numeric && fl.zero && !fl.minus) spec += '0';
  if (fl.width >= 0) spec += std::to_string(fl.width);
  if (with_precision && fl.precision >= 0) spec += "." + std::to_string(fl.precision);
  if (type != 0) spec += type;
  spec += '}';
  return spec;
}

std::string PadText(const FormatFlags& fl, std::string_view text, bool truncate) {
  return fmt::format(fmt::runtime(FmtSpec(fl, false, 0, truncate)), text);
}

// One verb of printf with one argument.
std::string FormatVerb(char verb, const FormatFlags& fl, const Value& v) {
  auto bad = [&] { return fmt::format("%!{}({}={})", verb, TypeName(v), Render(v)); };
  // Integers: ints, integral floats and strings that parse as integers.
  auto as_int = [&]() -> std::optional<int64_t> {
    if (v.kind == Value::Kind::kInt) return v.i;
    if (v.kind == Value::Kind::kFloat && v.f == std::trunc(v.f) && std::fabs(v.f) < 9.2e18) {
      return static_cast<int64_t>(v.f);
    }
    if (v.kind == Value::Kind::kString) {
      auto n = ParseNumber(v.s, false);
      if (n && n->kind == Value::Kind::kInt) return n->i;
    }
    return std::nullopt;
  };
  switch (verb) {
    case 'v':
    case 's': return PadText(fl, Render(v), verb == 's');
    case 'q': return PadText(fl, GoQuote(Render(v)), false);
    case 't':
      if (v.kind != Value::Kind::kBool) return bad();
      return PadText(fl, Render(v), false);
    case 'c': {
      auto i = as_int();
      if (!i || *i < 0 || *i > 0x10FFFF) return bad();
      std::string ch;
      AppendUtf8(static_cast<uint32_t>(*i), &ch);
      return PadText(fl, ch, false);
    }
    case 'd':
    case 'b':
    case 'o':
    case 'x':
    case 'X': {
      if ((verb == 'x' || verb == 'X') && v.kind == Value::Kind::kString) {
        // As Go: the bytes of a string in hex, even when it holds a number.
        std::string hex;
        for (char c : v.s) {
          auto byte = static_cast<unsigned char>(c);
          hex += verb == 'x' ? fmt::format("{:02x}", byte) : fmt::format("{:02X}", byte);
        }
        return PadText(fl, hex, false);
      }
      auto i = as_int();
      if (!i) return bad();
      return fmt::format(fmt::runtime(FmtSpec(fl, true, verb, false)), *i);
    }
    case 'e':
    case 'E':
    case 'f':
    case 'F':
    case 'g':
    case 'G': {
      double f = 0;
      if (v.kind == Value::Kind::kInt || v.kind == Value::Kind::kFloat) {
        f = v.kind == Value::Kind::kInt ? static_cast<double>(v.i) : v.f;
      } else if (v.kind == Value::Kind::kString) {
        auto n = ParseNumber(v.s, true);
        if (!n) return bad();
        f = n->kind == Value::Kind::kInt ? static_cast<double>(n->i) : n->f;
      } else {
        return bad();
      }
      if (!std::isfinite(f)) return PadText(fl, FormatFloat(f), false);
      if ((verb == 'g' || verb == 'G') && fl.precision < 0) {
        std::string g = GoShortestG(f);
        if (verb == 'G') std::transform(g.begin(), g.end(), g.begin(), AsciiUpper);
        if (fl.plus && f >= 0) g = "+" + g;
        return fmt::format(fmt::runtime(FmtSpec(fl, false, 0, false)), g);
      }
      return fmt::format(fmt::runtime(FmtSpec(fl, true, verb == 'F' ? 'f' : verb, true)), f);
    }
    default: return bad();
  }
}

// Go's fmt.Sprintf for the common verbs: %v %s %d %f %e %g %q %x %X %o %b
// %c %t %%, with flags "-+# 0", width and precision. Mismatches render as Go
// does ("%!d(string=abc)", "%!s(MISSING)", "%!(EXTRA int=3)"), except that a
// string holding a number is accepted where a number is expected: label
// values are strings.
std::string GoSprintf(std::string_view format, const std::vector<Value>& args, size_t argi) {
  std::string out;
  size_t i = 0;
  while (i < format.size()) {
    size_t pct = format.find('%', i);
    if (pct == std::string_view::npos) {
      out.append(format.substr(i));
      break;
    }
    out.append(format.substr(i, pct - i));
    i = pct + 1;
    FormatFlags fl;
    for (; i < format.size(); ++i) {
      char c = format[i];
      if (c == '-') fl.minus = true;
      else if (c == '+') fl.plus = true;
      else if (c == '#') fl.sharp = true;
      else if (c == ' ') fl.space = true;
      else if (c == '0') fl.zero = true;
      else break;
    }
    auto number = [&](int* n) {
      size_t start = i;
      while (i < format.size() && IsDigit(format[i])) ++i;
      if (i == start) return true;
      if (i - start > 6) return false;  // Go refuses widths over 1e6
      std::from_chars(format.data() + start, format.data() + i, *n);
      return true;
    };
    if (!number(&fl.width)) {
      out += "%!(BADWIDTH)";
      continue;
    }
    if (i < format.size() && format[i] == '.') {
      ++i;
      fl.precision = 0;
      if (!number(&fl.precision)) {
        out += "%!(BADPREC)";
        continue;
      }
    }
    if (i >= format.size()) {
      out += "%!(NOVERB)";
      break;
    }
    size_t verb_len = CharLen(format, i);
    std::string_view verb = format.substr(i, verb_len);
    i += verb_len;
    if (verb == "%") {
      out += '%';
      continue;
    }
    if (argi >= args.size()) {
      out += fmt::format("%!{}(MISSING)", verb);
      continue;
    }
    const Value& v = args[argi++];
    if (verb_len != 1) {
      out += fmt::format("%!{}({}={})", verb, TypeName(v), Render(v));
      continue;
    }
    out += FormatVerb(verb[0], fl, v);
  }
  if (argi < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = argi; k < args.size(); ++k) {
      if (k > argi) out += ", ";
      out += fmt::format("{}={}", TypeName(args[k]), Render(args[k]));
    }
    out += ')';
  }
  return out;
}

// ---- String helpers with Go's semantics ----

// strings.Replace: n < 0 replaces all; an empty `from` matches before every
// character and at the end.
std::string ReplaceN(std::string_view s, std::string_view from, std::string_view to, int64_t n) {
  std::string out;
  if (from.empty()) {
    size_t i = 0;
    for (int64_t done = 0; n < 0 || done < n; ++done) {
      out.append(to);
      if (i >= s.size()) return out;
      size_t len = CharLen(s, i);
      out.append(s.substr(i, len));
      i += len;
    }
    out.append(s.substr(i));
    return out;
  }
  size_t i = 0;
  for (int64_t done = 0; n < 0 || done < n; ++done) {
    size_t at = s.find(from, i);
    if (at == std::string_view::npos) break;
    out.append(s.substr(i, at - i));
    out.append(to);
    i = at + from.size();
  }
  out.append(s.substr(i));
  return out;
}

bool InCutset(std::string_view cutset, std::string_view ch) {
  return cutset.find(ch) != std::string_view::npos;
}

std::string_view TrimLeftSet(std::string_view s, std::string_view cutset) {
  while (!s.empty()) {
    size_t n = CharLen(s, 0);
    if (!InCutset(cutset, s.substr(0, n))) break;
    s.remove_prefix(n);
  }
  return s;
}

std::string_view TrimRightSet(std::string_view s, std::string_view cutset) {
  while (!s.empty()) {
    // Step back to the start of the last character.
    size_t j = s.size() - 1;
    while (j > 0 && s.size() - j < 4 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
    if (CharLen(s, j) != s.size() - j) j = s.size() - 1;
    if (!InCutset(cutset, s.substr(j))) break;
    s.remove_suffix(s.size() - j);
  }
  return s;
}

std::string_view TrimSet(std::string_view s, std::string_view cutset) {
  return TrimRightSet(TrimLeftSet(s, cutset), cutset);
}

// strings.Title: upper-cases the first letter of every word (ASCII letters).
std::string Title(std::string_view s) {
  std::string out(s);
  bool at_start = true;
  for (size_t i = 0; i < out.size();) {
    size_t n = CharLen(out, i);
    char c = out[i];
    if (at_start && n == 1) out[i] = AsciiUpper(c);
    // Go: ASCII letters, digits and '_' continue a word, other ASCII
    // separates; other characters are treated as letters.
    at_start = n == 1 && !IsIdentChar(c);
    i += n;
  }
  return out;
}

// A repeat or indent whose result would be larger is an error, not an
// out-of-memory.
constexpr size_t kMaxGeneratedBytes = size_t{16} << 20;

Status TooLarge(std::string_view what) {
  return Status::InvalidArgument(fmt::format("{} result would exceed {} bytes", what,
                                             kMaxGeneratedBytes));
}

std::string Base64Encode(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (size_t i = 0; i < in.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(in[i])) << 16;
    if (i + 1 < in.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(in[i + 1])) << 8;
    if (i + 2 < in.size()) v |= static_cast<unsigned char>(in[i + 2]);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back(i + 2 < in.size() ? kAlphabet[v & 63] : '=');
  }
  return out;
}

// Go's base64.StdEncoding.DecodeString: padding required, \r and \n ignored.
Result<std::string> Base64Decode(std::string_view in) {
  auto value = [](char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string clean;
  std::vector<size_t> offsets;  // of each kept character, for the error message
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '\r' || in[i] == '\n') continue;
    clean.push_back(in[i]);
    offsets.push_back(i);
  }
  auto bad = [&](size_t k) {
    return Status::InvalidArgument(fmt::format("illegal base64 data at input byte {}",
                                               k < offsets.size() ? offsets[k] : in.size()));
  };
  std::string out;
  for (size_t i = 0; i < clean.size(); i += 4) {
    if (i + 4 > clean.size()) return bad(clean.size());
    int v[4];
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = clean[i + k];
      if (c == '=' && k >= 2) {
        ++pad;
        v[k] = 0;
        continue;
      }
      if (pad > 0) return bad(i + k);
      v[k] = value(c);
      if (v[k] < 0) return bad(i + k);
    }
    if (pad > 0 && i + 4 != clean.size()) return bad(i + 4);
    if (pad == 1 && clean[i + 2] == '=') return bad(i + 2);
    uint32_t bits = (static_cast<uint32_t>(v[0]) << 18) | (static_cast<uint32_t>(v[1]) << 12) |
                    (static_cast<uint32_t>(v[2]) << 6) | static_cast<uint32_t>(v[3]);
    out.push_back(static_cast<char>((bits >> 16) & 0xFF));
    if (pad < 2) out.push_back(static_cast<char>((bits >> 8) & 0xFF));
    if (pad < 1) out.push_back(static_cast<char>(bits & 0xFF));
  }
  return out;
}

// url.QueryEscape.
std::string UrlEncode(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (IsAlpha(c) || IsDigit(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    }
  }
  return out;
}

// url.QueryUnescape.
Result<std::string> UrlDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out.push_back(' ');
    } else if (s[i] == '%') {
      if (i + 2 >= s.size() || HexValue(s[i + 1]) < 0 || HexValue(s[i + 2]) < 0) {
        return Status::InvalidArgument(
            fmt::format("invalid URL escape \"{}\"", s.substr(i, std::min<size_t>(3, s.size() - i))));
      }
      out.push_back(static_cast<char>(HexValue(s[i + 1]) * 16 + HexValue(s[i + 2])));
      i += 2;
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// Visits the matches of `re` in `s` as Go's FindAll/ReplaceAll do: an empty
// match right after the previous match is skipped. `visit` gets the groups.
template <typename Visit>
void ForEachMatch(const re2::RE2& re, std::string_view s, Visit visit) {
  static constexpr char kEmpty[] = "";
  re2::StringPiece text(s.data() != nullptr ? s.data() : kEmpty, s.size());
  const int ngroups = re.NumberOfCapturingGroups() + 1;
  std::vector<re2::StringPiece> m(static_cast<size_t>(ngroups));
  size_t pos = 0;
  size_t prev_end = std::string_view::npos;
  while (pos <= s.size()) {
    if (!re.Match(text, pos, s.size(), RE2::UNANCHORED, m.data(), ngroups)) break;
    size_t start = static_cast<size_t>(m[0].data() - text.data());
    size_t end = start + m[0].size();
    bool accept = !(end == start && start == prev_end);
    if (end == start) {
      pos = start < s.size() ? start + CharLen(s, start) : s.size() + 1;
    } else {
      pos = end;
    }
    prev_end = end;
    if (accept) visit(m, text.data());
  }
}

// Expands a Go replacement template ($1, ${1}, $name, ${name}, $$).
void ExpandGoTemplate(std::string_view tmpl, const re2::RE2& re,
                      const std::vector<re2::StringPiece>& m, std::string* out) {
  for (size_t i = 0; i < tmpl.size();) {
    size_t dollar = tmpl.find('$', i);
    if (dollar == std::string_view::npos) {
      out->append(tmpl.substr(i));
      return;
    }
    out->append(tmpl.substr(i, dollar - i));
    i = dollar + 1;
    if (i < tmpl.size() && tmpl[i] == '$') {
      out->push_back('$');
      ++i;
      continue;
    }
    bool brace = i < tmpl.size() && tmpl[i] == '{';
    size_t j = brace ? i + 1 : i;
    size_t name_start = j;
    while (j < tmpl.size() && IsIdentChar(tmpl[j])) ++j;
    std::string_view name = tmpl.substr(name_start, j - name_start);
    if (name.empty() || (brace && (j >= tmpl.size() || tmpl[j] != '}'))) {
      out->push_back('$');  // malformed: a literal '$'
      continue;
    }
    i = brace ? j + 1 : j;
    int group = -1;
    if (std::all_of(name.begin(), name.end(), IsDigit)) {
      if (name.size() <= 8) std::from_chars(name.data(), name.data() + name.size(), group);
    } else {
      auto it = re.NamedCapturingGroups().find(std::string(name));
      if (it != re.NamedCapturingGroups().end()) group = it->second;
    }
    if (group >= 0 && static_cast<size_t>(group) < m.size() && m[static_cast<size_t>(group)].data()) {
      const re2::StringPiece& g = m[static_cast<size_t>(group)];
      out->append(g.data(), g.size());
    }
  }
}

// ---- The parsed template ----

struct FuncSpec;
struct Pipeline;

struct Operand {
  enum class Kind : uint8_t { kField, kConst, kFunc, kParen };
  Kind kind = Kind::kConst;
  size_t pos = 0;
  std::string name;               // kField: the label
  Value constant;                 // kConst
  const FuncSpec* func = nullptr;  // kFunc
  std::vector<Pipeline> sub;      // kParen: one pipeline
};

struct Command {
  size_t pos = 0;
  std::vector<Operand> operands;  // a function and its arguments, or one operand
  std::shared_ptr<const re2::RE2> regex;  // a constant regex argument, compiled once
};

struct Pipeline {
  std::vector<Command> commands;
};

struct Node;

struct Branch {
  Pipeline condition;
  std::vector<Node> body;
};

struct Node {
  enum class Kind : uint8_t { kText, kAction, kIf };
  Kind kind = Kind::kText;
  std::string text;
  Pipeline pipeline;
  std::vector<Branch> branches;  // kIf: the if and each else-if
  std::vector<Node> else_body;
};

struct CallContext {
  const TemplateInput& in;
  const re2::RE2* regex;  // precompiled first argument, or null
};

using Args = std::vector<Value>;
using FuncImpl = Result<Value> (*)(Args& a, const CallContext& ctx);

struct FuncSpec {
  std::string_view name;
  int min_args;
  int max_args;   // -1: any number
  FuncImpl impl;  // null for and/or, which are evaluated lazily
};

// The regex of a regexReplaceAll/count call: precompiled, or compiled now.
Result<std::shared_ptr<const re2::RE2>> CallRegex(const CallContext& ctx, const Value& arg) {
  // The template owns a precompiled regex: hand out a non-owning pointer.
  if (ctx.regex != nullptr) return std::shared_ptr<const re2::RE2>(std::shared_ptr<void>(), ctx.regex);
  std::string error;
  auto re = CompileRegex(Render(arg), &error);
  if (re == nullptr) {
    return Status::InvalidArgument(fmt::format("invalid regexp \"{}\": {}", Render(arg), error));
  }
  return re;
}

Result<Value> RegexReplace(Args& a, const CallContext& ctx, bool literal) {
  LODE_ASSIGN_OR_RETURN(auto re, CallRegex(ctx, a[0]));
  std::string src = TakeText(a[1]);
  std::string repl = TakeText(a[2]);
  std::string out;
  size_t last = 0;
  ForEachMatch(*re, src, [&](const std::vector<re2::StringPiece>& m, const char* base) {
    size_t start = static_cast<size_t>(m[0].data() - base);
    out.append(src, last, start - last);
    if (literal) {
      out += repl;
    } else {
      ExpandGoTemplate(repl, *re, m, &out);
    }
    last = start + m[0].size();
  });
  out.append(src, last, std::string::npos);
  return Value::Str(std::move(out));
}

Result<Value> TimeArg(const Value& v, std::string_view fn) {
  if (v.kind == Value::Kind::kTime) return v;
  return Status::InvalidArgument(
      fmt::format("{} needs a time such as __timestamp__, got {} \"{}\"", fn, TypeName(v), Render(v)));
}

// Integer arithmetic wraps on overflow as Go's does (and without UB).
int64_t Wrap(uint64_t v) { return static_cast<int64_t>(v); }
uint64_t U(int64_t v) { return static_cast<uint64_t>(v); }

#define LODE_INT(var, value) LODE_ASSIGN_OR_RETURN(int64_t var, ToInt(value))
#define LODE_FLOAT(var, value) LODE_ASSIGN_OR_RETURN(double var, ToFloat(value))

const std::vector<FuncSpec>& Functions() {
  static const std::vector<FuncSpec> kFunctions = {
      {"__line__", 0, 0,
       [](Args&, const CallContext& c) -> Result<Value> { return Value::Str(std::string(c.in.line)); }},
      {"__timestamp__", 0, 0,
       [](Args&, const CallContext& c) -> Result<Value> { return Value::Time(c.in.timestamp_ns); }},
      // Strings. Sprig's functions take the subject last, so it can be piped.
      {"lower", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::transform(s.begin(), s.end(), s.begin(), AsciiLower);
         return Value::Str(std::move(s));
       }},
      {"upper", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::transform(s.begin(), s.end(), s.begin(), AsciiUpper);
         return Value::Str(std::move(s));
       }},
      {"title", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> { return Value::Str(Title(Render(a[0]))); }},
      {"trunc", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         std::string s = TakeText(a[1]);
         int64_t len = static_cast<int64_t>(CountChars(s));
         if (n < 0 && len + n > 0) return Value::Str(s.substr(CharOffset(s, static_cast<size_t>(len + n))));
         if (n >= 0 && len > n) return Value::Str(s.substr(0, CharOffset(s, static_cast<size_t>(n))));
         return Value::Str(std::move(s));
       }},
      {"substr", 3, 3,
       [](Args& a, const CallContext&) -> Result<Value> {
         // Loki's clamping version, by characters.
         LODE_INT(start, a[0]);
         LODE_INT(end, a[1]);
         std::string s = TakeText(a[2]);
         int64_t len = static_cast<int64_t>(CountChars(s));
         end = std::min(end, len);
         start = std::min(start, len);
         if (start < 0) start = 0;
         else if (end < 0) end = len;
         if (end < 0 || start > end) return Value::Str("");
         size_t from = CharOffset(s, static_cast<size_t>(start));
         size_t to = CharOffset(s, static_cast<size_t>(end));
         return Value::Str(s.substr(from, to - from));
       }},
      {"replace", 3, 3,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(ReplaceN(Render(a[2]), Render(a[0]), Render(a[1]), -1));
       }},
      {"Replace", 4, 4,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[3]);
         return Value::Str(ReplaceN(Render(a[0]), Render(a[1]), Render(a[2]), n));
       }},
      {"trim", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimAsciiSpace(Render(a[0]))));
       }},
      {"trimAll", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimSet(Render(a[1]), Render(a[0]))));
       }},
      {"trimLeft", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimLeftSet(Render(a[1]), Render(a[0]))));
       }},
      {"trimRight", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimRightSet(Render(a[1]), Render(a[0]))));
       }},
      {"trimPrefix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[1]);
         std::string p = Render(a[0]);
         return Value::Str(s.starts_with(p) ? s.substr(p.size()) : s);
       }},
      {"trimSuffix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[1]);
         std::string p = Render(a[0]);
         return Value::Str(s.ends_with(p) ? s.substr(0, s.size() - p.size()) : s);
       }},
      {"trimSpace", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimAsciiSpace(Render(a[0]))));
       }},
      // Go's strings functions, subject first (Loki's older names).
      {"ToLower", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::transform(s.begin(), s.end(), s.begin(), AsciiLower);
         return Value::Str(std::move(s));
       }},
      {"ToUpper", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::transform(s.begin(), s.end(), s.begin(), AsciiUpper);
         return Value::Str(std::move(s));
       }},
      {"Trim", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimSet(Render(a[0]), Render(a[1]))));
       }},
      {"TrimLeft", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimLeftSet(Render(a[0]), Render(a[1]))));
       }},
      {"TrimRight", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimRightSet(Render(a[0]), Render(a[1]))));
       }},
      {"TrimPrefix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::string p = Render(a[1]);
         return Value::Str(s.starts_with(p) ? s.substr(p.size()) : s);
       }},
      {"TrimSuffix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string s = TakeText(a[0]);
         std::string p = Render(a[1]);
         return Value::Str(s.ends_with(p) ? s.substr(0, s.size() - p.size()) : s);
       }},
      {"TrimSpace", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(std::string(TrimAsciiSpace(Render(a[0]))));
       }},
      {"indent", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         if (n < 0) return Status::InvalidArgument("negative indent");
         std::string s = TakeText(a[1]);
         if (static_cast<uint64_t>(n) * (1 + std::count(s.begin(), s.end(), '\n')) + s.size() >
             kMaxGeneratedBytes) {
           return TooLarge("indent");
         }
         std::string pad(static_cast<size_t>(n), ' ');
         return Value::Str(pad + ReplaceN(s, "\n", "\n" + pad, -1));
       }},
      {"nindent", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         if (n < 0) return Status::InvalidArgument("negative indent");
         std::string s = TakeText(a[1]);
         if (static_cast<uint64_t>(n) * (1 + std::count(s.begin(), s.end(), '\n')) + s.size() >
             kMaxGeneratedBytes) {
           return TooLarge("nindent");
         }
         std::string pad(static_cast<size_t>(n), ' ');
         return Value::Str("\n" + pad + ReplaceN(s, "\n", "\n" + pad, -1));
       }},
      {"repeat", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         if (n < 0) return Status::InvalidArgument("negative repeat count");
         std::string s = TakeText(a[1]);
         if (!s.empty() && static_cast<uint64_t>(n) > kMaxGeneratedBytes / s.size()) {
           return TooLarge("repeat");
         }
         std::string out;
         out.reserve(s.size() * static_cast<size_t>(n));
         for (int64_t k = 0; k < n; ++k) out += s;
         return Value::Str(std::move(out));
       }},
      {"contains", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Bool(Render(a[1]).find(Render(a[0])) != std::string::npos);
       }},
      {"hasPrefix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Bool(Render(a[1]).starts_with(Render(a[0])));
       }},
      {"hasSuffix", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Bool(Render(a[1]).ends_with(Render(a[0])));
       }},
      {"alignLeft", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         std::string s = TakeText(a[1]);
         int64_t len = static_cast<int64_t>(CountChars(s));
         if (n < 0 || n == len) return Value::Str(std::move(s));
         if (n > len) {
           if (n - len > static_cast<int64_t>(kMaxGeneratedBytes)) return TooLarge("alignLeft");
           return Value::Str(s + std::string(static_cast<size_t>(n - len), ' '));
         }
         return Value::Str(s.substr(0, CharOffset(s, static_cast<size_t>(n))));
       }},
      {"alignRight", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         std::string s = TakeText(a[1]);
         int64_t len = static_cast<int64_t>(CountChars(s));
         if (n < 0 || n == len) return Value::Str(std::move(s));
         if (n > len) {
           if (n - len > static_cast<int64_t>(kMaxGeneratedBytes)) return TooLarge("alignRight");
           return Value::Str(std::string(static_cast<size_t>(n - len), ' ') + s);
         }
         return Value::Str(s.substr(CharOffset(s, static_cast<size_t>(len - n))));
       }},
      {"default", 1, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         // Sprig's empty(): "", 0, false; a time is never empty.
         bool given = a.size() == 2 && (Truth(a[1]) || a[1].kind == Value::Kind::kTime);
         return std::move(given ? a[1] : a[0]);
       }},
      {"len", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         if (a[0].kind != Value::Kind::kString) {
           return Status::InvalidArgument(fmt::format("len of type {}", TypeName(a[0])));
         }
         return Value::Int(static_cast<int64_t>(a[0].s.size()));
       }},
      {"count", 2, 2,
       [](Args& a, const CallContext& c) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(auto re, CallRegex(c, a[0]));
         std::string s = TakeText(a[1]);
         int64_t n = 0;
         ForEachMatch(*re, s, [&](const std::vector<re2::StringPiece>&, const char*) { ++n; });
         return Value::Int(n);
       }},
      {"regexReplaceAll", 3, 3,
       [](Args& a, const CallContext& c) -> Result<Value> { return RegexReplace(a, c, false); }},
      {"regexReplaceAllLiteral", 3, 3,
       [](Args& a, const CallContext& c) -> Result<Value> { return RegexReplace(a, c, true); }},
      {"urlencode", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> { return Value::Str(UrlEncode(Render(a[0]))); }},
      {"urldecode", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(std::string s, UrlDecode(Render(a[0])));
         return Value::Str(std::move(s));
       }},
      {"b64enc", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> { return Value::Str(Base64Encode(Render(a[0]))); }},
      {"b64dec", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(std::string s, Base64Decode(Render(a[0])));
         return Value::Str(std::move(s));
       }},
      {"printf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(GoSprintf(Render(a[0]), a, 1));
       }},
      {"print", 0, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         // fmt.Sprint: a space between operands when neither is a string.
         std::string out;
         for (size_t k = 0; k < a.size(); ++k) {
           if (k > 0 && a[k].kind != Value::Kind::kString && a[k - 1].kind != Value::Kind::kString) {
             out += ' ';
           }
           out += Render(a[k]);
         }
         return Value::Str(std::move(out));
       }},
      {"println", 0, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         std::string out;
         for (size_t k = 0; k < a.size(); ++k) out += (k > 0 ? " " : "") + Render(a[k]);
         return Value::Str(out + "\n");
       }},
      // Conversions and arithmetic. Sprig's int functions truncate floats.
      {"int", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(v, a[0]);
         return Value::Int(v);
       }},
      {"float64", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(v, a[0]);
         return Value::Float(v);
       }},
      {"add", 0, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         uint64_t sum = 0;
         for (const Value& v : a) {
           LODE_INT(x, v);
           sum += U(x);
         }
         return Value::Int(Wrap(sum));
       }},
      {"sub", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(x, a[0]);
         LODE_INT(y, a[1]);
         return Value::Int(Wrap(U(x) - U(y)));
       }},
      {"mul", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         uint64_t product = 1;
         for (const Value& v : a) {
           LODE_INT(x, v);
           product *= U(x);
         }
         return Value::Int(Wrap(product));
       }},
      {"div", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(x, a[0]);
         LODE_INT(y, a[1]);
         if (y == 0) return Status::InvalidArgument("integer divide by zero");
         if (y == -1) return Value::Int(Wrap(0 - U(x)));
         return Value::Int(x / y);
       }},
      {"mod", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(x, a[0]);
         LODE_INT(y, a[1]);
         if (y == 0) return Status::InvalidArgument("integer divide by zero");
         if (y == -1) return Value::Int(0);
         return Value::Int(x % y);
       }},
      {"max", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(best, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_INT(x, a[k]);
           best = std::max(best, x);
         }
         return Value::Int(best);
       }},
      {"min", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(best, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_INT(x, a[k]);
           best = std::min(best, x);
         }
         return Value::Int(best);
       }},
      {"addf", 0, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         double sum = 0;
         int last = INT_MAX;
         for (const Value& v : a) {
           LODE_FLOAT(x, v);
           last = std::min(last, LastDigit(x));
           sum = RoundDecimal(sum + x, last);
         }
         return Value::Float(sum);
       }},
      {"subf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(acc, a[0]);
         int last = LastDigit(acc);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_FLOAT(x, a[k]);
           last = std::min(last, LastDigit(x));
           acc = RoundDecimal(acc - x, last);
         }
         return Value::Float(acc);
       }},
      {"mulf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(acc, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_FLOAT(x, a[k]);
           int la = LastDigit(acc);
           int lb = LastDigit(x);
           double product = acc * x;
           acc = la == INT_MAX || lb == INT_MAX ? product : RoundDecimal(product, la + lb);
         }
         return Value::Float(acc);
       }},
      {"divf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(acc, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_FLOAT(x, a[k]);
           if (x == 0) return Status::InvalidArgument("division by zero");
           acc /= x;
         }
         return Value::Float(acc);
       }},
      {"maxf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(best, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_FLOAT(x, a[k]);
           best = std::fmax(best, x);
         }
         return Value::Float(best);
       }},
      {"minf", 1, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(best, a[0]);
         for (size_t k = 1; k < a.size(); ++k) {
           LODE_FLOAT(x, a[k]);
           best = std::fmin(best, x);
         }
         return Value::Float(best);
       }},
      {"ceil", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(x, a[0]);
         return Value::Float(std::ceil(x));
       }},
      {"floor", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_FLOAT(x, a[0]);
         return Value::Float(std::floor(x));
       }},
      {"round", 2, 3,
       [](Args& a, const CallContext&) -> Result<Value> {
         // Sprig's round: away from zero at .5 for positive numbers; for
         // negative ones its fraction test floors (round -2.4 0 = -3).
         LODE_FLOAT(x, a[0]);
         LODE_INT(places, a[1]);
         double round_on = 0.5;
         if (a.size() > 2) {
           LODE_FLOAT(r, a[2]);
           round_on = r;
         }
         double pow = std::pow(10.0, static_cast<double>(places));
         double digit = pow * x;
         double whole = 0;
         double frac = std::modf(digit, &whole);
         return Value::Float((frac >= round_on ? std::ceil(digit) : std::floor(digit)) / pow);
       }},
      {"abs", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         if (a[0].kind == Value::Kind::kInt) return Value::Int(Wrap(a[0].i < 0 ? 0 - U(a[0].i) : U(a[0].i)));
         if (a[0].kind == Value::Kind::kString) {
           auto n = ParseNumber(a[0].s, true);
           if (n && n->kind == Value::Kind::kInt) return Value::Int(Wrap(n->i < 0 ? 0 - U(n->i) : U(n->i)));
         }
         LODE_FLOAT(x, a[0]);
         return Value::Float(std::fabs(x));
       }},
      {"bytes", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(double v, ParseBytes(Render(a[0])));
         return Value::Float(v);
       }},
      {"duration", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(double v, ParseGoDurationSeconds(Render(a[0])));
         return Value::Float(v);
       }},
      {"duration_seconds", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(double v, ParseGoDurationSeconds(Render(a[0])));
         return Value::Float(v);
       }},
      // Time.
      {"unixEpoch", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0], "unixEpoch"));
         int64_t s = t.i / 1000000000 - (t.i % 1000000000 < 0 ? 1 : 0);
         return Value::Str(std::to_string(s));
       }},
      {"unixEpochMillis", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0], "unixEpochMillis"));
         int64_t ms = t.i / 1000000 - (t.i % 1000000 < 0 ? 1 : 0);
         return Value::Str(std::to_string(ms));
       }},
      {"unixEpochNanos", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0], "unixEpochNanos"));
         return Value::Str(std::to_string(t.i));
       }},
      {"unixToTime", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         // Loki: the unit follows from the number of digits.
         std::string s = Render(a[0]);
         int64_t v = 0;
         auto r = std::from_chars(s.data(), s.data() + s.size(), v);
         bool ok = r.ec == std::errc() && r.ptr == s.data() + s.size();
         int64_t mult = s.size() == 5 ? 86400000000000 : s.size() == 10 ? 1000000000
                        : s.size() == 13 ? 1000000 : s.size() == 16 ? 1000 : s.size() == 19 ? 1 : 0;
         if (!ok || mult == 0 || v > INT64_MAX / mult || v < -(INT64_MAX / mult)) {
           return Status::InvalidArgument(fmt::format("unable to parse time \"{}\"", s));
         }
         return Value::Time(v * mult);
       }},
      {"date", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         // A time, or (as Sprig) a number of seconds since the epoch.
         const Value& t = a[1];
         int64_t ns = 0;
         if (t.kind == Value::Kind::kTime) {
           ns = t.i;
         } else if (t.kind == Value::Kind::kInt || t.kind == Value::Kind::kFloat) {
           LODE_INT(secs, t);
           if (secs > INT64_MAX / 1000000000 || secs < -(INT64_MAX / 1000000000)) {
             return Status::InvalidArgument("time out of range");
           }
           ns = secs * 1000000000;
         } else {
           return TimeArg(t, "date").status();
         }
         return Value::Str(FormatGoTime(ns, Render(a[0])));
       }},
      // Comparisons and logic.
      {"eq", 2, -1,
       [](Args& a, const CallContext&) -> Result<Value> {
         for (size_t k = 1; k < a.size(); ++k) {
           if (Compare(a[0], a[k]) == 0) return Value::Bool(true);
         }
         return Value::Bool(false);
       }},
      {"ne", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> { return Value::Bool(Compare(a[0], a[1]) != 0); }},
      {"lt", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         auto c = Compare(a[0], a[1]);
         return Value::Bool(c && *c < 0);
       }},
      {"le", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         auto c = Compare(a[0], a[1]);
         return Value::Bool(c && *c <= 0);
       }},
      {"gt", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         auto c = Compare(a[0], a[1]);
         return Value::Bool(c && *c > 0);
       }},
      {"ge", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         auto c = Compare(a[0], a[1]);
         return Value::Bool(c && *c >= 0);
       }},
      {"not", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> { return Value::Bool(!Truth(a[0])); }},
      {"and", 1, -1, nullptr},
      {"or", 1, -1, nullptr},
  };
  return kFunctions;
}

#undef LODE_INT
#undef LODE_FLOAT

const FuncSpec* FindFunction(std::string_view name) {
  for (const FuncSpec& f : Functions()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool IsRegexFunction(std::string_view name) {
  return name == "regexReplaceAll" || name == "regexReplaceAllLiteral" || name == "count";
}

Status TemplateError(size_t pos, std::string_view why) {
  return Status::InvalidArgument(fmt::format("template error at offset {}: {}", pos, why));
}

// ---- Lexing ----

struct Token {
  enum class Kind : uint8_t { kField, kIdent, kConst, kLParen, kRParen, kPipe };
  Kind kind = Kind::kConst;
  size_t pos = 0;
  bool space_before = false;
  std::string text;  // kField: the label; kIdent: the name
  Value value;       // kConst
};

// Template text split into text and actions.
struct Item {
  bool is_action = false;
  size_t pos = 0;  // of the text, or of the action's "{{"
  std::string text;
  std::vector<Token> tokens;
};

class TemplateLexer {
 public:
  explicit TemplateLexer(std::string_view t) : t_(t) {}

  Result<std::vector<Item>> Run() {
    std::vector<Item> items;
    size_t pos = 0;
    bool trim_next = false;  // the previous action ended with -}}
    while (pos <= t_.size()) {
      size_t open = t_.find("{{", pos);
      size_t text_end = open == std::string_view::npos ? t_.size() : open;
      std::string_view text = t_.substr(pos, text_end - pos);
      size_t text_pos = pos;
      if (trim_next) {
        while (!text.empty() && IsTemplateSpace(text.front())) text.remove_prefix(1), ++text_pos;
      }
      size_t p = text_end + 2;
      bool trim_before = open != std::string_view::npos && p + 1 < t_.size() && t_[p] == '-' &&
                         IsTemplateSpace(t_[p + 1]);
      if (trim_before) {
        while (!text.empty() && IsTemplateSpace(text.back())) text.remove_suffix(1);
        p += 2;
      }
      if (!text.empty()) items.push_back(Item{false, text_pos, std::string(text), {}});
      if (open == std::string_view::npos) break;
      if (t_.substr(p, 2) == "/*") {
        size_t end = t_.find("*/", p + 2);
        if (end == std::string_view::npos) return TemplateError(open, "unclosed comment");
        p = end + 2;
        if (p + 4 <= t_.size() && IsTemplateSpace(t_[p]) && t_.substr(p + 1, 3) == "-}}") {
          trim_next = true;
          pos = p + 4;
        } else if (t_.substr(p, 2) == "}}") {
          trim_next = false;
          pos = p + 2;
        } else {
          return TemplateError(p, "comment ends before closing delimiter");
        }
        continue;
      }
      Item item;
      item.is_action = true;
      item.pos = open;
      LODE_RETURN_IF_ERROR(LexAction(&p, &item, &trim_next));
      items.push_back(std::move(item));
      pos = p;
    }
    return items;
  }

 private:
  // Lexes tokens from *pos up to and past the closing "}}".
  Status LexAction(size_t* pos, Item* item, bool* trim_after) {
    bool space = false;
    size_t& p = *pos;
    while (true) {
      if (p >= t_.size()) return TemplateError(item->pos, "unclosed action");
      char c = t_[p];
      if (IsTemplateSpace(c) && t_.substr(p + 1, 3) == "-}}") {
        *trim_after = true;
        p += 4;
        return Status::OK();
      }
      if (t_.substr(p, 2) == "}}") {
        *trim_after = false;
        p += 2;
        return Status::OK();
      }
      if (IsTemplateSpace(c)) {
        space = true;
        ++p;
        continue;
      }
      Token tok;
      tok.pos = p;
      tok.space_before = space;
      space = false;
      char next = p + 1 < t_.size() ? t_[p + 1] : '\0';
      if (c == '"') {
        LODE_RETURN_IF_ERROR(LexQuoted(&p, &tok));
      } else if (c == '`') {
        size_t end = t_.find('`', p + 1);
        if (end == std::string_view::npos) return TemplateError(p, "unterminated raw quoted string");
        tok.value = Value::Str(std::string(t_.substr(p + 1, end - p - 1)));
        p = end + 1;
      } else if (c == '\'') {
        LODE_RETURN_IF_ERROR(LexChar(&p, &tok));
      } else if (c == '(' || c == ')' || c == '|') {
        tok.kind = c == '(' ? Token::Kind::kLParen : c == ')' ? Token::Kind::kRParen : Token::Kind::kPipe;
        ++p;
      } else if (c == '.' && IsIdentStart(next)) {
        size_t start = ++p;
        while (p < t_.size() && IsIdentChar(t_[p])) ++p;
        tok.kind = Token::Kind::kField;
        tok.text.assign(t_.substr(start, p - start));
        if (p + 1 < t_.size() && t_[p] == '.' && IsIdentStart(t_[p + 1])) {
          return TemplateError(p, "nested field access (.a.b) is not supported: labels are strings");
        }
      } else if (IsDigit(c) || ((c == '+' || c == '-' || c == '.') && (IsDigit(next) || next == '.'))) {
        LODE_RETURN_IF_ERROR(LexNumber(&p, &tok));
      } else if (c == '.') {
        return TemplateError(p, "{{.}} (dot) is not supported: name a label, as in {{.label}}");
      } else if (IsIdentStart(c)) {
        size_t start = p;
        while (p < t_.size() && IsIdentChar(t_[p])) ++p;
        tok.kind = Token::Kind::kIdent;
        tok.text.assign(t_.substr(start, p - start));
      } else if (c == '$') {
        return TemplateError(p, "variables ($x) are not supported");
      } else {
        return TemplateError(p, fmt::format("unexpected {} in action", GoQuote(std::string(1, c))));
      }
      item->tokens.push_back(std::move(tok));
    }
  }

  // Decodes the Go escape after a backslash at t_[*p - 1]: a byte (\x, octal)
  // or a code point. `quote` is the one quote character that may be escaped.
  Status DecodeEscape(size_t* p, char quote, std::string* out) {
    size_t start = *p - 1;
    if (*p >= t_.size()) return TemplateError(start, "unterminated escape");
    char e = t_[(*p)++];
    auto hex = [&](size_t n, uint32_t* v) {
      if (*p + n > t_.size()) return false;
      *v = 0;
      for (size_t k = 0; k < n; ++k) {
        int h = HexValue(t_[*p + k]);
        if (h < 0) return false;
        *v = *v * 16 + static_cast<uint32_t>(h);
      }
      *p += n;
      return true;
    };
    uint32_t v = 0;
    switch (e) {
      case 'a': out->push_back('\a'); return Status::OK();
      case 'b': out->push_back('\b'); return Status::OK();
      case 'f': out->push_back('\f'); return Status::OK();
      case 'n': out->push_back('\n'); return Status::OK();
      case 'r': out->push_back('\r'); return Status::OK();
      case 't': out->push_back('\t'); return Status::OK();
      case 'v': out->push_back('\v'); return Status::OK();
      case '\\': out->push_back('\\'); return Status::OK();
      case 'x':
        if (!hex(2, &v)) break;
        out->push_back(static_cast<char>(v));
        return Status::OK();
      case 'u':
      case 'U':
        if (!hex(e == 'u' ? 4 : 8, &v) || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) break;
        AppendUtf8(v, out);
        return Status::OK();
      default:
        if (e == quote) {
          out->push_back(e);
          return Status::OK();
        }
        if (e >= '0' && e <= '7' && *p + 2 <= t_.size() && t_[*p] >= '0' && t_[*p] <= '7' &&
            t_[*p + 1] >= '0' && t_[*p + 1] <= '7') {
          v = static_cast<uint32_t>((e - '0') * 64 + (t_[*p] - '0') * 8 + (t_[*p + 1] - '0'));
          if (v > 255) break;
          *p += 2;
          out->push_back(static_cast<char>(v));
          return Status::OK();
        }
        break;
    }
    return TemplateError(start, "invalid escape sequence");
  }

  Status LexQuoted(size_t* p, Token* tok) {
    size_t start = (*p)++;
    std::string s;
    while (true) {
      if (*p >= t_.size() || t_[*p] == '\n') return TemplateError(start, "unterminated quoted string");
      char c = t_[(*p)++];
      if (c == '"') break;
      if (c == '\\') {
        LODE_RETURN_IF_ERROR(DecodeEscape(p, '"', &s));
      } else {
        s.push_back(c);
      }
    }
    tok->value = Value::Str(std::move(s));
    return Status::OK();
  }

  // 'x', '\n', '\'': a character constant is its code point (an int), as in Go.
  Status LexChar(size_t* p, Token* tok) {
    size_t start = (*p)++;
    std::string s;
    if (*p < t_.size() && t_[*p] == '\\') {
      ++*p;
      LODE_RETURN_IF_ERROR(DecodeEscape(p, '\'', &s));
    } else if (*p < t_.size() && t_[*p] != '\'' && t_[*p] != '\n') {
      size_t n = CharLen(t_, *p);
      s.assign(t_.substr(*p, n));
      *p += n;
    }
    if (s.empty() || *p >= t_.size() || t_[*p] != '\'') {
      return TemplateError(start, "malformed character constant");
    }
    ++*p;
    uint32_t cp = static_cast<unsigned char>(s[0]);
    if (s.size() > 1 && DecodeUtf8(s, 0, &cp) != s.size()) {
      return TemplateError(start, "malformed character constant");
    }
    tok->value = Value::Int(cp);
    return Status::OK();
  }

  // Go's number syntax: sign, 0x/0o/0b integers, '_' separators, decimals
  // and exponents. Integers are ints; with '.' or an exponent, floats.
  Status LexNumber(size_t* p, Token* tok) {
    size_t start = *p;
    size_t i = *p;
    if (t_[i] == '+' || t_[i] == '-') ++i;
    int base = 10;
    if (t_.substr(i, 2) == "0x" || t_.substr(i, 2) == "0X") base = 16;
    if (t_.substr(i, 2) == "0o" || t_.substr(i, 2) == "0O") base = 8;
    if (t_.substr(i, 2) == "0b" || t_.substr(i, 2) == "0B") base = 2;
    if (base != 10) i += 2;
    bool is_float = false;
    auto digit_ok = [&](char c) {
      return c == '_' || (base == 16 ? HexValue(c) >= 0 : c >= '0' && c < static_cast<char>('0' + std::min(base, 10)));
    };
    while (i < t_.size() && digit_ok(t_[i])) ++i;
    if (base == 10) {
      if (i < t_.size() && t_[i] == '.') {
        is_float = true;
        ++i;
        while (i < t_.size() && (IsDigit(t_[i]) || t_[i] == '_')) ++i;
      }
      if (i < t_.size() && (t_[i] == 'e' || t_[i] == 'E')) {
        is_float = true;
        ++i;
        if (i < t_.size() && (t_[i] == '+' || t_[i] == '-')) ++i;
        while (i < t_.size() && (IsDigit(t_[i]) || t_[i] == '_')) ++i;
      }
    }
    *p = i;
    std::string_view raw = t_.substr(start, i - start);
    auto bad = [&] { return TemplateError(start, fmt::format("bad number syntax: {}", raw)); };
    if (i < t_.size() && (IsIdentChar(t_[i]) || t_[i] == '.')) {
      while (*p < t_.size() && (IsIdentChar(t_[*p]) || t_[*p] == '.')) ++*p;
      raw = t_.substr(start, *p - start);
      return bad();
    }
    std::string clean;
    for (char c : raw) {
      if (c != '_') clean.push_back(c);
    }
    bool neg = !clean.empty() && clean[0] == '-';
    if (!clean.empty() && (clean[0] == '-' || clean[0] == '+')) clean.erase(0, 1);
    if (is_float) {
      auto f = ParseSampleValue(clean);
      if (!f.ok()) return bad();
      tok->value = Value::Float(neg ? -*f : *f);
      return Status::OK();
    }
    std::string_view digits = clean;
    if (base != 10) {
      digits.remove_prefix(2);
    } else if (digits.size() > 1 && digits[0] == '0') {
      base = 8;  // Go reads a leading 0 as octal
    }
    uint64_t u = 0;
    auto r = std::from_chars(digits.data(), digits.data() + digits.size(), u, base);
    if (digits.empty() || r.ptr != digits.data() + digits.size()) return bad();
    if (r.ec == std::errc() && u <= (neg ? uint64_t{1} << 63 : uint64_t{INT64_MAX})) {
      tok->value = Value::Int(neg ? Wrap(0 - u) : static_cast<int64_t>(u));
      return Status::OK();
    }
    if (base != 10 && base != 8) return bad();
    auto f = ParseSampleValue(clean);  // too large for an int: a float, as Go
    if (!f.ok()) return bad();
    tok->value = Value::Float(neg ? -*f : *f);
    return Status::OK();
  }

  std::string_view t_;
};

// ---- Parsing ----

constexpr int kMaxParenDepth = 100;

class TemplateParser {
 public:
  TemplateParser(std::vector<Item> items, std::vector<std::string>* referenced)
      : items_(std::move(items)), referenced_(referenced) {}

  Status ParseRoot(std::vector<Node>* root) {
    Stop stop = Stop::kEof;
    const Item* at = nullptr;
    LODE_RETURN_IF_ERROR(ParseList(root, &stop, &at));
    if (stop == Stop::kElse) return TemplateError(at->pos, "unexpected {{else}} without {{if}}");
    if (stop == Stop::kEnd) return TemplateError(at->pos, "unexpected {{end}} without {{if}}");
    return Status::OK();
  }

 private:
  enum class Stop { kEof, kElse, kEnd };

  static bool IsKeyword(std::string_view s) {
    return s == "if" || s == "else" || s == "end" || s == "range" || s == "with" ||
           s == "define" || s == "template" || s == "block" || s == "break" || s == "continue";
  }

  // Parses nodes up to the end or to an {{else}}/{{end}} (left in *at).
  Status ParseList(std::vector<Node>* out, Stop* stop, const Item** at) {
    while (next_ < items_.size()) {
      const Item& item = items_[next_++];
      if (!item.is_action) {
        Node node;
        node.text = item.text;
        out->push_back(std::move(node));
        continue;
      }
      if (item.tokens.empty()) return TemplateError(item.pos, "missing value for command");
      const Token& head = item.tokens[0];
      if (head.kind == Token::Kind::kIdent && IsKeyword(head.text)) {
        if (head.text == "else" || head.text == "end") {
          *stop = head.text == "else" ? Stop::kElse : Stop::kEnd;
          *at = &item;
          return Status::OK();
        }
        if (head.text != "if") {
          return TemplateError(head.pos, fmt::format("{{{{{}}}}} is not supported", head.text));
        }
        Node node;
        LODE_RETURN_IF_ERROR(ParseIf(item, &node));
        out->push_back(std::move(node));
        continue;
      }
      Node node;
      node.kind = Node::Kind::kAction;
      LODE_RETURN_IF_ERROR(ParseWholePipeline(item, 0, &node.pipeline));
      out->push_back(std::move(node));
    }
    *stop = Stop::kEof;
    return Status::OK();
  }

  // {{if p}} ... {{else if q}} ... {{else}} ... {{end}}
  Status ParseIf(const Item& if_item, Node* node) {
    node->kind = Node::Kind::kIf;
    const Item* cond_item = &if_item;
    size_t cond_start = 1;
    while (true) {
      Branch branch;
      if (cond_item->tokens.size() <= cond_start) {
        return TemplateError(cond_item->pos, "missing condition in {{if}}");
      }
      LODE_RETURN_IF_ERROR(ParseWholePipeline(*cond_item, cond_start, &branch.condition));
      Stop stop = Stop::kEof;
      const Item* at = nullptr;
      LODE_RETURN_IF_ERROR(ParseList(&branch.body, &stop, &at));
      node->branches.push_back(std::move(branch));
      if (stop == Stop::kEof) return TemplateError(if_item.pos, "{{if}} without a matching {{end}}");
      if (stop == Stop::kEnd) return CheckBare(*at);
      // {{else}} or {{else if ...}}
      if (at->tokens.size() > 1) {
        const Token& t = at->tokens[1];
        if (t.kind != Token::Kind::kIdent || t.text != "if") {
          return TemplateError(t.pos, "unexpected operand after {{else}} (expected {{else if ...}})");
        }
        cond_item = at;
        cond_start = 2;
        continue;
      }
      LODE_RETURN_IF_ERROR(ParseList(&node->else_body, &stop, &at));
      if (stop == Stop::kEof) return TemplateError(if_item.pos, "{{if}} without a matching {{end}}");
      if (stop == Stop::kElse) return TemplateError(at->pos, "expected {{end}}, found a second {{else}}");
      return CheckBare(*at);
    }
  }

  static Status CheckBare(const Item& end_item) {
    if (end_item.tokens.size() > 1) {
      return TemplateError(end_item.tokens[1].pos, "unexpected operand in {{end}}");
    }
    return Status::OK();
  }

  Status ParseWholePipeline(const Item& item, size_t start, Pipeline* out) {
    size_t i = start;
    LODE_RETURN_IF_ERROR(ParsePipeline(item, &i, 0, out));
    if (i < item.tokens.size()) return TemplateError(item.tokens[i].pos, "unexpected right parenthesis");
    return Status::OK();
  }

  Status ParsePipeline(const Item& item, size_t* i, int depth, Pipeline* out) {
    const std::vector<Token>& toks = item.tokens;
    if (depth > kMaxParenDepth) return TemplateError(toks[*i - 1].pos, "parentheses nested too deeply");
    while (true) {
      Command cmd;
      cmd.pos = *i < toks.size() ? toks[*i].pos : item.pos;
      while (*i < toks.size() && toks[*i].kind != Token::Kind::kPipe &&
             toks[*i].kind != Token::Kind::kRParen) {
        const Token& t = toks[*i];
        if (!cmd.operands.empty() && !t.space_before) {
          return TemplateError(t.pos, "missing space between operands");
        }
        Operand op;
        LODE_RETURN_IF_ERROR(ParseOperand(item, i, depth, cmd.operands.empty(), &op));
        cmd.operands.push_back(std::move(op));
      }
      if (cmd.operands.empty()) return TemplateError(cmd.pos, "missing value for command");
      LODE_RETURN_IF_ERROR(CheckCommand(out->commands.size(), &cmd));
      out->commands.push_back(std::move(cmd));
      if (*i < toks.size() && toks[*i].kind == Token::Kind::kPipe) {
        ++*i;
        continue;
      }
      return Status::OK();
    }
  }

  Status ParseOperand(const Item& item, size_t* i, int depth, bool is_head, Operand* op) {
    const Token& t = item.tokens[*i];
    op->pos = t.pos;
    switch (t.kind) {
      case Token::Kind::kField:
        op->kind = Operand::Kind::kField;
        op->name = t.text;
        if (std::find(referenced_->begin(), referenced_->end(), t.text) == referenced_->end()) {
          referenced_->push_back(t.text);
        }
        ++*i;
        return Status::OK();
      case Token::Kind::kConst:
        op->constant = t.value;
        ++*i;
        return Status::OK();
      case Token::Kind::kIdent: {
        ++*i;
        if (t.text == "true" || t.text == "false") {
          op->constant = Value::Bool(t.text == "true");
          return Status::OK();
        }
        if (t.text == "nil") return TemplateError(t.pos, "nil is not a command");
        if (IsKeyword(t.text)) return TemplateError(t.pos, fmt::format("unexpected keyword \"{}\"", t.text));
        op->kind = Operand::Kind::kFunc;
        op->func = FindFunction(t.text);
        if (op->func == nullptr) return TemplateError(t.pos, fmt::format("function \"{}\" not defined", t.text));
        // A function as an argument is called without arguments, as in Go.
        if (!is_head && op->func->min_args > 0) {
          return TemplateError(t.pos, fmt::format("wrong number of arguments for {}: want {} got 0",
                                                  t.text, op->func->min_args));
        }
        return Status::OK();
      }
      case Token::Kind::kLParen: {
        ++*i;
        Pipeline sub;
        LODE_RETURN_IF_ERROR(ParsePipeline(item, i, depth + 1, &sub));
        if (*i >= item.tokens.size() || item.tokens[*i].kind != Token::Kind::kRParen) {
          return TemplateError(t.pos, "unclosed left parenthesis");
        }
        ++*i;
        op->kind = Operand::Kind::kParen;
        op->sub.push_back(std::move(sub));
        return Status::OK();
      }
      default:
        return TemplateError(t.pos, "unexpected token");
    }
  }

  // Arity and shape of a command; precompiles constant regex arguments.
  static Status CheckCommand(size_t stage, Command* cmd) {
    const Operand& head = cmd->operands[0];
    if (head.kind != Operand::Kind::kFunc) {
      if (cmd->operands.size() > 1) {
        return TemplateError(cmd->operands[1].pos, "can't give an argument to a non-function");
      }
      if (stage > 0) {
        return TemplateError(head.pos, fmt::format("pipeline stage {} is not a function call "
                                                   "(a piped value needs a function)", stage + 1));
      }
      return Status::OK();
    }
    const FuncSpec& f = *head.func;
    int nargs = static_cast<int>(cmd->operands.size()) - 1 + (stage > 0 ? 1 : 0);
    if (nargs < f.min_args || (f.max_args >= 0 && nargs > f.max_args)) {
      std::string want = f.min_args == f.max_args ? std::to_string(f.min_args)
                         : f.max_args < 0         ? fmt::format("at least {}", f.min_args)
                                                  : fmt::format("{} to {}", f.min_args, f.max_args);
      return TemplateError(head.pos, fmt::format("wrong number of arguments for {}: want {} got {}",
                                                 f.name, want, nargs));
    }
    if (IsRegexFunction(f.name) && cmd->operands.size() > 1 &&
        cmd->operands[1].kind == Operand::Kind::kConst &&
        cmd->operands[1].constant.kind == Value::Kind::kString) {
      std::string error;
      cmd->regex = CompileRegex(cmd->operands[1].constant.s, &error);
      if (cmd->regex == nullptr) {
        return TemplateError(cmd->operands[1].pos,
                             fmt::format("invalid regexp \"{}\": {}", cmd->operands[1].constant.s, error));
      }
    }
    return Status::OK();
  }

  std::vector<Item> items_;
  size_t next_ = 0;
  std::vector<std::string>* referenced_;
};

// ---- Evaluation ----

class Evaluator {
 public:
  explicit Evaluator(const TemplateInput& in) : in_(in) {}

  Status RenderList(const std::vector<Node>& nodes, std::string* out) {
    for (const Node& node : nodes) {
      switch (node.kind) {
        case Node::Kind::kText:
          *out += node.text;
          break;
        case Node::Kind::kAction: {
          LODE_ASSIGN_OR_RETURN(Value v, EvalPipeline(node.pipeline));
          if (v.kind == Value::Kind::kString) {
            *out += v.s;
          } else {
            *out += Render(v);
          }
          break;
        }
        case Node::Kind::kIf: {
          const std::vector<Node>* body = &node.else_body;
          for (const Branch& b : node.branches) {
            LODE_ASSIGN_OR_RETURN(Value cond, EvalPipeline(b.condition));
            if (Truth(cond)) {
              body = &b.body;
              break;
            }
          }
          LODE_RETURN_IF_ERROR(RenderList(*body, out));
          break;
        }
      }
    }
    return Status::OK();
  }

 private:
  Result<Value> EvalPipeline(const Pipeline& p) {
    Value piped;
    for (size_t k = 0; k < p.commands.size(); ++k) {
      LODE_ASSIGN_OR_RETURN(piped, EvalCommand(p.commands[k], k > 0 ? &piped : nullptr));
    }
    return piped;
  }

  Result<Value> EvalCommand(const Command& cmd, Value* piped) {
    const Operand& head = cmd.operands[0];
    if (head.kind != Operand::Kind::kFunc) return EvalOperand(head);
    const FuncSpec& f = *head.func;
    if (f.impl == nullptr) {
      // and/or: the first operand that decides, else the last; the rest is
      // not evaluated.
      const bool is_and = f.name == "and";
      Value last;
      for (size_t k = 1; k < cmd.operands.size(); ++k) {
        LODE_ASSIGN_OR_RETURN(last, EvalOperand(cmd.operands[k]));
        if (Truth(last) != is_and) return last;
      }
      if (piped != nullptr) return std::move(*piped);
      return last;
    }
    Args args;
    args.reserve(cmd.operands.size());
    for (size_t k = 1; k < cmd.operands.size(); ++k) {
      LODE_ASSIGN_OR_RETURN(Value v, EvalOperand(cmd.operands[k]));
      args.push_back(std::move(v));
    }
    if (piped != nullptr) args.push_back(std::move(*piped));
    return Call(head, args, cmd.regex.get());
  }

  Result<Value> Call(const Operand& head, Args& args, const re2::RE2* regex) {
    Result<Value> r = head.func->impl(args, CallContext{in_, regex});
    if (!r.ok()) {
      return TemplateError(head.pos, fmt::format("{}: {}", head.func->name, r.status().message()));
    }
    return r;
  }

  Result<Value> EvalOperand(const Operand& op) {
    switch (op.kind) {
      case Operand::Kind::kField: {
        const std::string* v = in_.label ? in_.label(op.name) : nullptr;
        return Value::Str(v != nullptr ? *v : std::string());
      }
      case Operand::Kind::kConst: return op.constant;
      case Operand::Kind::kFunc: {
        Args none;
        return Call(op, none, nullptr);
      }
      case Operand::Kind::kParen: return EvalPipeline(op.sub[0]);
    }
    return Value();
  }

  const TemplateInput& in_;
};

}  // namespace

struct Template::Program {
  std::vector<Node> root;
  std::vector<std::string> referenced;
};

Result<Template> Template::Make(std::string_view text) {
  LODE_ASSIGN_OR_RETURN(std::vector<Item> items, TemplateLexer(text).Run());
  auto program = std::make_shared<Program>();
  TemplateParser parser(std::move(items), &program->referenced);
  LODE_RETURN_IF_ERROR(parser.ParseRoot(&program->root));
  return Template(std::move(program));
}

Result<std::string> Template::Render(const TemplateInput& in) const {
  std::string out;
  if (program_ == nullptr) return out;
  LODE_RETURN_IF_ERROR(Evaluator(in).RenderList(program_->root, &out));
  return out;
}

const std::vector<std::string>& Template::referenced_labels() const {
  static const std::vector<std::string> kNone;
  return program_ != nullptr ? program_->referenced : kNone;
}

}  // namespace lode::logql
