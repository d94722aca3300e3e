// The values and functions of LogQL templates (query/logql_stages.h): how
// values render, convert and compare, Go's fmt.Sprintf and time layouts, and
// the function table Loki offers (Go's strings functions, Sprig's, Loki's).
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <optional>

#include "query/logql_stages_internal.h"

namespace lode::logql::internal {

namespace {

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

constexpr std::string_view kMonthNames[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
constexpr std::string_view kDayNames[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};

// Formats `ns` in UTC by a Go reference-time layout ("2006-01-02T15:04:05Z07:00").
std::string FormatGoTime(int64_t ns, std::string_view layout) {
  const CivilTime t = ToCivil(ns);
  auto pad = [](int64_t v, size_t width, char fill) {
    std::string s = std::to_string(v);
    if (s.size() < width) s.insert(0, width - s.size(), fill);
    return s;
  };
  const int hour12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  const std::string month(kMonthNames[t.month - 1]);
  const std::string day(kDayNames[t.wday]);
  // Go's layout elements, a longer one before any it starts with. The zone
  // is always UTC.
  const std::pair<std::string_view, std::string> kElements[] = {
      {"January", month},
      {"Jan", month.substr(0, 3)},
      {"Monday", day},
      {"Mon", day.substr(0, 3)},
      {"MST", "UTC"},
      {"2006", pad(t.year, 4, '0')},
      {"002", pad(t.yday, 3, '0')},
      {"01", pad(t.month, 2, '0')},
      {"02", pad(t.day, 2, '0')},
      {"03", pad(hour12, 2, '0')},
      {"04", pad(t.minute, 2, '0')},
      {"05", pad(t.second, 2, '0')},
      {"06", pad((t.year % 100 + 100) % 100, 2, '0')},
      {"15", pad(t.hour, 2, '0')},
      {"__2", pad(t.yday, 3, ' ')},
      {"_2", pad(t.day, 2, ' ')},
      {"1", std::to_string(t.month)},
      {"2", std::to_string(t.day)},
      {"3", std::to_string(hour12)},
      {"4", std::to_string(t.minute)},
      {"5", std::to_string(t.second)},
      {"PM", t.hour >= 12 ? "PM" : "AM"},
      {"pm", t.hour >= 12 ? "pm" : "am"},
      {"-070000", "+000000"},
      {"-07:00:00", "+00:00:00"},
      {"-0700", "+0000"},
      {"-07:00", "+00:00"},
      {"-07", "+00"},
      {"Z070000", "Z"},
      {"Z07:00:00", "Z"},
      {"Z0700", "Z"},
      {"Z07:00", "Z"},
      {"Z07", "Z"},
  };
  std::string out;
  size_t i = 0;
  while (i < layout.size()) {
    std::string_view rest = layout.substr(i);
    if (rest.starts_with("_2006")) {  // a literal '_', then the year
      out += '_';
      ++i;
      continue;
    }
    // ".000" gives fixed digits of the second, ".999" drops trailing zeros
    // (and the separator when nothing is left); only when no digit follows.
    if ((rest[0] == '.' || rest[0] == ',') && rest.size() > 1 &&
        (rest[1] == '0' || rest[1] == '9')) {
      size_t j = 1;
      while (j < rest.size() && rest[j] == rest[1]) ++j;
      if (j == rest.size() || !IsDigit(rest[j])) {
        std::string digits = fmt::format("{:09d}", t.nanos).substr(0, std::min<size_t>(j - 1, 9));
        if (rest[1] == '9') {
          while (!digits.empty() && digits.back() == '0') digits.pop_back();
        }
        if (!digits.empty()) out += rest[0] + digits;
        i += j;
        continue;
      }
    }
    const auto* element = std::find_if(std::begin(kElements), std::end(kElements),
                                       [&](const auto& e) { return rest.starts_with(e.first); });
    if (element != std::end(kElements)) {
      out += element->second;
      i += element->first.size();
    } else {
      out += layout[i++];
    }
  }
  return out;
}

constexpr std::string_view kRfc3339Nano = "2006-01-02T15:04:05.999999999Z07:00";

// Moves the text out of a string value; renders any other.
std::string TakeText(Value& v) {
  return v.kind == Value::Kind::kString ? std::move(v.s) : Render(v);
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
  *digits =
      static_cast<int>(std::count_if(s.begin(), s.begin() + static_cast<ptrdiff_t>(e), IsDigit));
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
      if (c == '-')
        fl.minus = true;
      else if (c == '+')
        fl.plus = true;
      else if (c == '#')
        fl.sharp = true;
      else if (c == ' ')
        fl.space = true;
      else if (c == '0')
        fl.zero = true;
      else
        break;
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
  return Status::InvalidArgument(
      fmt::format("{} result would exceed {} bytes", what, kMaxGeneratedBytes));
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
    int v[4];
    int pad = 0;
    for (size_t k = 0; k < 4; ++k) {
      if (i + k >= clean.size()) return bad(i);  // a quantum cut short
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
        return Status::InvalidArgument(fmt::format("invalid URL escape \"{}\"",
                                                   s.substr(i, std::min<size_t>(3, s.size() - i))));
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
    if (group >= 0 && static_cast<size_t>(group) < m.size() &&
        m[static_cast<size_t>(group)].data()) {
      const re2::StringPiece& g = m[static_cast<size_t>(group)];
      out->append(g.data(), g.size());
    }
  }
}

// The regex of a regexReplaceAll/count call: precompiled, or compiled now.
Result<std::shared_ptr<const re2::RE2>> CallRegex(const CallContext& ctx, const Value& arg) {
  // The template owns a precompiled regex: hand out a non-owning pointer.
  if (ctx.regex != nullptr)
    return std::shared_ptr<const re2::RE2>(std::shared_ptr<void>(), ctx.regex);
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

Result<Value> TimeArg(const Value& v) {
  if (v.kind == Value::Kind::kTime) return v;
  return Status::InvalidArgument(
      fmt::format("needs a time such as __timestamp__, got {} \"{}\"", TypeName(v), Render(v)));
}

// Integer arithmetic wraps on overflow as Go's does (and without UB).
int64_t Wrap(uint64_t v) {
  return static_cast<int64_t>(v);
}
uint64_t U(int64_t v) {
  return static_cast<uint64_t>(v);
}

#define LODE_INT(var, value) LODE_ASSIGN_OR_RETURN(int64_t var, ToInt(value))
#define LODE_FLOAT(var, value) LODE_ASSIGN_OR_RETURN(double var, ToFloat(value))

const std::vector<FuncSpec>& Functions() {
  static const std::vector<FuncSpec> kFunctions = {
      {"__line__", 0, 0,
       [](Args&, const CallContext& c) -> Result<Value> {
         return Value::Str(std::string(c.in.line));
       }},
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
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(Title(Render(a[0])));
       }},
      {"trunc", 2, 2,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_INT(n, a[0]);
         std::string s = TakeText(a[1]);
         int64_t len = static_cast<int64_t>(CountChars(s));
         if (n < 0 && len + n > 0) {
           return Value::Str(s.substr(CharOffset(s, static_cast<size_t>(len + n))));
         }
         if (n >= 0 && len > n) {
           return Value::Str(s.substr(0, CharOffset(s, static_cast<size_t>(n))));
         }
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
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(UrlEncode(Render(a[0])));
       }},
      {"urldecode", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(std::string s, UrlDecode(Render(a[0])));
         return Value::Str(std::move(s));
       }},
      {"b64enc", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Str(Base64Encode(Render(a[0])));
       }},
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
           bool strings = a[k].kind == Value::Kind::kString ||
                          (k > 0 && a[k - 1].kind == Value::Kind::kString);
           if (k > 0 && !strings) {
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
         auto abs_int = [](int64_t v) { return Wrap(v < 0 ? 0 - U(v) : U(v)); };
         if (a[0].kind == Value::Kind::kInt) return Value::Int(abs_int(a[0].i));
         if (a[0].kind == Value::Kind::kString) {
           auto n = ParseNumber(a[0].s, true);
           if (n && n->kind == Value::Kind::kInt) return Value::Int(abs_int(n->i));
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
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0]));
         int64_t s = t.i / 1000000000 - (t.i % 1000000000 < 0 ? 1 : 0);
         return Value::Str(std::to_string(s));
       }},
      {"unixEpochMillis", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0]));
         int64_t ms = t.i / 1000000 - (t.i % 1000000 < 0 ? 1 : 0);
         return Value::Str(std::to_string(ms));
       }},
      {"unixEpochNanos", 1, 1,
       [](Args& a, const CallContext&) -> Result<Value> {
         LODE_ASSIGN_OR_RETURN(Value t, TimeArg(a[0]));
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
           return TimeArg(t).status();
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
       [](Args& a, const CallContext&) -> Result<Value> {
         return Value::Bool(Compare(a[0], a[1]) != 0);
       }},
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

// Go's strings functions (Loki's older names) take the subject first; they
// are Sprig's with the two arguments swapped.
constexpr std::pair<std::string_view, std::string_view> kSwapped[] = {
    {"Trim", "trimAll"},          {"TrimLeft", "trimLeft"},     {"TrimRight", "trimRight"},
    {"TrimPrefix", "trimPrefix"}, {"TrimSuffix", "trimSuffix"},
};

FuncImpl SprigImpl(std::string_view name) {
  for (const FuncSpec& f : Functions()) {
    if (f.name == name) return f.impl;
  }
  return nullptr;
}

template <size_t I>
Result<Value> Swapped(Args& a, const CallContext& c) {
  static const FuncImpl impl = SprigImpl(kSwapped[I].second);
  std::swap(a[0], a[1]);
  return impl(a, c);
}

const std::vector<FuncSpec>& GoStringsFunctions() {
  static const std::vector<FuncSpec> kAliases = {
      {kSwapped[0].first, 2, 2, Swapped<0>}, {kSwapped[1].first, 2, 2, Swapped<1>},
      {kSwapped[2].first, 2, 2, Swapped<2>}, {kSwapped[3].first, 2, 2, Swapped<3>},
      {kSwapped[4].first, 2, 2, Swapped<4>}, {"TrimSpace", 1, 1, SprigImpl("trimSpace")},
  };
  return kAliases;
}

#undef LODE_INT
#undef LODE_FLOAT

}  // namespace

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

// Go's truth: non-empty, non-zero, true; a time is always true.
bool Truth(const Value& v) {
  switch (v.kind) {
    case Value::Kind::kString: return !v.s.empty();
    case Value::Kind::kFloat: return v.f != 0;
    default: return v.i != 0;
  }
}

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

const FuncSpec* FindFunction(std::string_view name) {
  for (const auto* table : {&Functions(), &GoStringsFunctions()}) {
    for (const FuncSpec& f : *table) {
      if (f.name == name) return &f;
    }
  }
  return nullptr;
}

bool TakesRegex(std::string_view name) {
  return name == "regexReplaceAll" || name == "regexReplaceAllLiteral" || name == "count";
}

}  // namespace lode::logql::internal
