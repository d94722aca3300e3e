#include "query/logql_parser.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "parse/duration.h"
#include "query/logql_stages_internal.h"

namespace lode {

namespace {

// ---------------------------------------------------------------- lexer

enum class Tok {
  kEof,
  kIdent,
  kString,
  kNumber,
  kDuration,
  kBytes,
  kLBrace,
  kRBrace,
  kLParen,
  kRParen,
  kLBracket,
  kRBracket,
  kComma,
  kEq,
  kEqEq,
  kNeq,
  kRe,
  kNre,
  kPipeEq,
  kPipeRe,
  kPipeGt,
  kNotGt,
  kPipe,
  kGt,
  kGte,
  kLt,
  kLte,
  kPlus,
  kMinus,
  kStar,
  kSlash,
  kPercent,
  kCaret,
};

// One lexed token. `value` is the decoded string for kString, the source
// text otherwise; `raw` is always the source text (for error messages).
struct Token {
  Tok kind = Tok::kEof;
  std::string value;
  std::string raw;
  double number = 0;  // kNumber: the value; kDuration: ns; kBytes: bytes
  int line = 1;
  int col = 1;
};

Status ErrorAt(int line, int col, std::string_view detail) {
  return Status::InvalidArgument("parse error at line " + std::to_string(line) + ", col " +
                                 std::to_string(col) + ": " + std::string(detail));
}

bool IsIdentStart(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsIdentChar(char c) {
  return IsIdentStart(c) || IsDigit(c);
}

using logql::internal::AppendUtf8;

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Bytes units as accepted by Loki (humanize.ParseBytes), lower-cased.
std::optional<double> BytesMultiplier(std::string unit) {
  for (char& c : unit) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  struct Unit {
    const char* name;
    double mult;
  };
  static constexpr Unit kUnits[] = {
      {"b", 1},
      {"kb", 1e3},
      {"kib", 1024.0},
      {"mb", 1e6},
      {"mib", 1048576.0},
      {"gb", 1e9},
      {"gib", 1073741824.0},
      {"tb", 1e12},
      {"tib", 1099511627776.0},
      {"pb", 1e15},
      {"pib", 1125899906842624.0},
      {"eb", 1e18},
      {"eib", 1152921504606846976.0},
  };
  for (const auto& u : kUnits) {
    if (unit == u.name) return u.mult;
  }
  return std::nullopt;
}

class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}

  Result<std::vector<Token>> Run() {
    std::vector<Token> out;
    while (true) {
      SkipSpaceAndComments();
      Token t;
      t.line = line_;
      t.col = col_;
      if (pos_ >= in_.size()) {
        t.kind = Tok::kEof;
        out.push_back(std::move(t));
        return out;
      }
      size_t start = pos_;
      char c = in_[pos_];
      char n = pos_ + 1 < in_.size() ? in_[pos_ + 1] : '\0';
      if (c == '"' || c == '`') {
        LODE_RETURN_IF_ERROR(LexString(&t));
      } else if (IsDigit(c) || (c == '.' && IsDigit(n))) {
        LODE_RETURN_IF_ERROR(LexNumber(&t));
      } else if (IsIdentStart(c)) {
        while (pos_ < in_.size() && IsIdentChar(in_[pos_])) Advance();
        t.kind = Tok::kIdent;
      } else {
        auto two = [&](char second, Tok kind) {
          if (n == second) {
            t.kind = kind;
            Advance();
            Advance();
            return true;
          }
          return false;
        };
        auto one = [&](Tok kind) {
          t.kind = kind;
          Advance();
        };
        switch (c) {
          case '{': one(Tok::kLBrace); break;
          case '}': one(Tok::kRBrace); break;
          case '(': one(Tok::kLParen); break;
          case ')': one(Tok::kRParen); break;
          case '[': one(Tok::kLBracket); break;
          case ']': one(Tok::kRBracket); break;
          case ',': one(Tok::kComma); break;
          case '+': one(Tok::kPlus); break;
          case '-': one(Tok::kMinus); break;
          case '*': one(Tok::kStar); break;
          case '/': one(Tok::kSlash); break;
          case '%': one(Tok::kPercent); break;
          case '^': one(Tok::kCaret); break;
          case '=':
            if (!two('=', Tok::kEqEq) && !two('~', Tok::kRe)) one(Tok::kEq);
            break;
          case '!':
            if (!two('=', Tok::kNeq) && !two('~', Tok::kNre) && !two('>', Tok::kNotGt)) {
              return ErrorAt(t.line, t.col, "unexpected character \"!\"");
            }
            break;
          case '|':
            if (!two('=', Tok::kPipeEq) && !two('~', Tok::kPipeRe) && !two('>', Tok::kPipeGt)) {
              one(Tok::kPipe);
            }
            break;
          case '>':
            if (!two('=', Tok::kGte)) one(Tok::kGt);
            break;
          case '<':
            if (!two('=', Tok::kLte)) one(Tok::kLt);
            break;
          default: {
            // Report the whole UTF-8 character.
            size_t len = 1;
            while (start + len < in_.size() &&
                   (static_cast<unsigned char>(in_[start + len]) & 0xC0) == 0x80) {
              ++len;
            }
            return ErrorAt(t.line, t.col,
                           "unexpected character \"" + std::string(in_.substr(start, len)) + "\"");
          }
        }
      }
      t.raw = std::string(in_.substr(start, pos_ - start));
      if (t.kind != Tok::kString) t.value = t.raw;
      out.push_back(std::move(t));
    }
  }

 private:
  // Moves one byte on. Columns count characters: only bytes that start a
  // UTF-8 character (not continuation bytes) move the column.
  void Advance() {
    char c = in_[pos_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) {
      ++col_;
    }
  }

  void SkipSpaceAndComments() {
    while (pos_ < in_.size()) {
      char c = in_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        Advance();
      } else if (c == '#') {
        while (pos_ < in_.size() && in_[pos_] != '\n') Advance();
      } else {
        break;
      }
    }
  }

  Status LexString(Token* t) {
    char quote = in_[pos_];
    Advance();
    t->kind = Tok::kString;
    std::string& v = t->value;
    if (quote == '`') {
      while (pos_ < in_.size() && in_[pos_] != '`') {
        v.push_back(in_[pos_]);
        Advance();
      }
      if (pos_ >= in_.size()) return ErrorAt(t->line, t->col, "unterminated string");
      Advance();
      return Status::OK();
    }
    while (true) {
      if (pos_ >= in_.size() || in_[pos_] == '\n') {
        return ErrorAt(t->line, t->col, "unterminated string");
      }
      char c = in_[pos_];
      if (c == '"') {
        Advance();
        return Status::OK();
      }
      if (c != '\\') {
        v.push_back(c);
        Advance();
        continue;
      }
      int esc_line = line_, esc_col = col_;
      Advance();
      if (pos_ >= in_.size()) return ErrorAt(t->line, t->col, "unterminated string");
      char e = in_[pos_];
      Advance();
      switch (e) {
        case 'a': v.push_back('\a'); break;
        case 'b': v.push_back('\b'); break;
        case 'f': v.push_back('\f'); break;
        case 'n': v.push_back('\n'); break;
        case 'r': v.push_back('\r'); break;
        case 't': v.push_back('\t'); break;
        case 'v': v.push_back('\v'); break;
        case '\\': v.push_back('\\'); break;
        case '"': v.push_back('"'); break;
        case 'x':
        case 'u':
        case 'U': {
          int digits = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          uint32_t cp = 0;
          for (int i = 0; i < digits; ++i) {
            int h = pos_ < in_.size() ? HexValue(in_[pos_]) : -1;
            if (h < 0) return ErrorAt(esc_line, esc_col, "invalid escape in string");
            cp = cp * 16 + static_cast<uint32_t>(h);
            Advance();
          }
          if (e == 'x') {
            v.push_back(static_cast<char>(cp));
          } else {
            if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
              return ErrorAt(esc_line, esc_col, "invalid escape in string");
            }
            AppendUtf8(cp, &v);
          }
          break;
        }
        default:
          return ErrorAt(esc_line, esc_col,
                         "invalid escape \"\\" + std::string(1, e) + "\" in string");
      }
    }
  }

  // A number (500, 0.5, 1e3), a duration (250ms, 1h30m) or bytes (10KB).
  Status LexNumber(Token* t) {
    size_t start = pos_;
    while (pos_ < in_.size() && (IsDigit(in_[pos_]) || in_[pos_] == '.')) Advance();
    // Exponent: e, optional sign, digits.
    if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
      size_t p = pos_ + 1;
      if (p < in_.size() && (in_[p] == '+' || in_[p] == '-')) ++p;
      if (p < in_.size() && IsDigit(in_[p])) {
        while (pos_ < p) Advance();
        while (pos_ < in_.size() && IsDigit(in_[pos_])) Advance();
      }
    }
    size_t num_end = pos_;
    while (pos_ < in_.size() && (IsIdentChar(in_[pos_]) || in_[pos_] == '.' ||
                                 in_[pos_] == '\xC2' || in_[pos_] == '\xB5')) {
      Advance();
    }
    std::string_view text = in_.substr(start, pos_ - start);
    std::string_view num = in_.substr(start, num_end - start);
    double v = 0;
    auto r = std::from_chars(num.data(), num.data() + num.size(), v);
    bool num_ok = r.ec == std::errc() && r.ptr == num.data() + num.size() && std::isfinite(v);
    if (num_end == pos_) {
      if (!num_ok) return ErrorAt(t->line, t->col, "invalid number \"" + std::string(text) + "\"");
      t->kind = Tok::kNumber;
      t->number = v;
      return Status::OK();
    }
    if (auto d = ParseDuration(text); d.ok()) {
      t->kind = Tok::kDuration;
      t->number = static_cast<double>(*d);
      return Status::OK();
    }
    if (num_ok) {
      if (auto m = BytesMultiplier(std::string(in_.substr(num_end, pos_ - num_end)))) {
        t->kind = Tok::kBytes;
        t->number = v * *m;
        return Status::OK();
      }
    }
    return ErrorAt(t->line, t->col,
                   "invalid number, duration or bytes \"" + std::string(text) + "\"");
  }

  std::string_view in_;
  size_t pos_ = 0;
  int line_ = 1;
  int col_ = 1;
};

// ---------------------------------------------------------------- names

struct RangeOpInfo {
  const char* name;
  RangeOp op;
  bool unwrapped;  // takes an unwrapped sample value
};
constexpr RangeOpInfo kRangeOps[] = {
    {"count_over_time", RangeOp::kCountOverTime, false},
    {"rate", RangeOp::kRate, false},
    {"bytes_over_time", RangeOp::kBytesOverTime, false},
    {"bytes_rate", RangeOp::kBytesRate, false},
    {"absent_over_time", RangeOp::kAbsentOverTime, false},
    {"sum_over_time", RangeOp::kSumOverTime, true},
    {"avg_over_time", RangeOp::kAvgOverTime, true},
    {"min_over_time", RangeOp::kMinOverTime, true},
    {"max_over_time", RangeOp::kMaxOverTime, true},
    {"stddev_over_time", RangeOp::kStddevOverTime, true},
    {"stdvar_over_time", RangeOp::kStdvarOverTime, true},
    {"quantile_over_time", RangeOp::kQuantileOverTime, true},
    {"first_over_time", RangeOp::kFirstOverTime, true},
    {"last_over_time", RangeOp::kLastOverTime, true},
};

const RangeOpInfo* FindRangeOp(std::string_view name) {
  for (const auto& r : kRangeOps) {
    if (name == r.name) return &r;
  }
  return nullptr;
}
const RangeOpInfo& RangeOpInfoOf(RangeOp op) {
  for (const auto& r : kRangeOps) {
    if (r.op == op) return r;
  }
  return kRangeOps[0];
}

struct VectorOpInfo {
  const char* name;
  VectorOp op;
};
constexpr VectorOpInfo kVectorOps[] = {
    {"sum", VectorOp::kSum},       {"avg", VectorOp::kAvg},     {"min", VectorOp::kMin},
    {"max", VectorOp::kMax},       {"count", VectorOp::kCount}, {"stddev", VectorOp::kStddev},
    {"stdvar", VectorOp::kStdvar}, {"topk", VectorOp::kTopk},   {"bottomk", VectorOp::kBottomk},
};

std::optional<VectorOp> FindVectorOp(std::string_view name) {
  for (const auto& v : kVectorOps) {
    if (name == v.name) return v.op;
  }
  return std::nullopt;
}
const char* VectorOpName(VectorOp op) {
  for (const auto& v : kVectorOps) {
    if (v.op == op) return v.name;
  }
  return "?";
}

const char* MatchOpText(MatchOp op) {
  switch (op) {
    case MatchOp::kEq: return "=";
    case MatchOp::kNeq: return "!=";
    case MatchOp::kRe: return "=~";
    case MatchOp::kNre: return "!~";
  }
  return "?";
}

const char* CmpOpText(CmpOp op) {
  switch (op) {
    case CmpOp::kEq: return "==";
    case CmpOp::kNeq: return "!=";
    case CmpOp::kGt: return ">";
    case CmpOp::kGte: return ">=";
    case CmpOp::kLt: return "<";
    case CmpOp::kLte: return "<=";
  }
  return "?";
}

const char* LineFilterOpText(LineFilterOp op) {
  switch (op) {
    case LineFilterOp::kContains: return "|=";
    case LineFilterOp::kNotContains: return "!=";
    case LineFilterOp::kMatch: return "|~";
    case LineFilterOp::kNotMatch: return "!~";
    case LineFilterOp::kPattern: return "|>";
    case LineFilterOp::kNotPattern: return "!>";
  }
  return "?";
}

struct BinaryOpInfo {
  BinaryOp op;
  const char* text;
  int precedence;  // higher binds tighter
  bool comparison;
};
constexpr BinaryOpInfo kBinaryOps[] = {
    {BinaryOp::kOr, "or", 1, false},         {BinaryOp::kAnd, "and", 2, false},
    {BinaryOp::kUnless, "unless", 2, false}, {BinaryOp::kEq, "==", 3, true},
    {BinaryOp::kNeq, "!=", 3, true},         {BinaryOp::kGt, ">", 3, true},
    {BinaryOp::kGte, ">=", 3, true},         {BinaryOp::kLt, "<", 3, true},
    {BinaryOp::kLte, "<=", 3, true},         {BinaryOp::kAdd, "+", 4, false},
    {BinaryOp::kSub, "-", 4, false},         {BinaryOp::kMul, "*", 5, false},
    {BinaryOp::kDiv, "/", 5, false},         {BinaryOp::kMod, "%", 5, false},
    {BinaryOp::kPow, "^", 6, false},
};
constexpr int kPowPrecedence = 6;

const BinaryOpInfo& BinaryInfo(BinaryOp op) {
  for (const auto& b : kBinaryOps) {
    if (b.op == op) return b;
  }
  return kBinaryOps[0];
}

std::string Describe(const Token& t) {
  switch (t.kind) {
    case Tok::kEof: return "end of query";
    case Tok::kIdent: return "identifier \"" + t.raw + "\"";
    case Tok::kString: return "string " + t.raw;
    case Tok::kNumber: return "number " + t.raw;
    case Tok::kDuration: return "duration " + t.raw;
    case Tok::kBytes: return "bytes " + t.raw;
    default: return "\"" + t.raw + "\"";
  }
}

bool IsLineFilterStart(Tok k) {
  return k == Tok::kPipeEq || k == Tok::kNeq || k == Tok::kPipeRe || k == Tok::kNre ||
         k == Tok::kPipeGt || k == Tok::kNotGt;
}

bool IsFilterOperator(Tok k) {
  return k == Tok::kEq || k == Tok::kEqEq || k == Tok::kNeq || k == Tok::kRe || k == Tok::kNre ||
         k == Tok::kGt || k == Tok::kGte || k == Tok::kLt || k == Tok::kLte;
}

std::string FormatNumber(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, r.ptr);
}

// ---------------------------------------------------------------- parser

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  Result<LogqlExpr> ParseTop() {
    const Token& first = Peek();
    if (first.kind == Tok::kLBrace || IsLineFilterStart(first.kind)) {
      LogQuery q;
      LODE_RETURN_IF_ERROR(ParseLogQueryInto(&q));
      LODE_RETURN_IF_ERROR(ExpectEof());
      return LogqlExpr(std::move(q));
    }
    LODE_ASSIGN_OR_RETURN(MetricExprPtr m, ParseBinary(0));
    LODE_RETURN_IF_ERROR(ExpectEof());
    return LogqlExpr(std::move(*m));
  }

 private:
  const Token& Peek(size_t k = 0) const {
    size_t i = pos_ + k;
    return i < toks_.size() ? toks_[i] : toks_.back();
  }
  const Token& Next() {
    const Token& t = Peek();
    if (pos_ < toks_.size() - 1) ++pos_;
    return t;
  }
  bool PeekIdent(std::string_view word, size_t k = 0) const {
    return Peek(k).kind == Tok::kIdent && Peek(k).value == word;
  }
  static Status Expected(const Token& t, std::string_view what) {
    return ErrorAt(t.line, t.col, "expected " + std::string(what) + ", got " + Describe(t));
  }
  Status Expect(Tok kind, std::string_view what) {
    if (Peek().kind != kind) return Expected(Peek(), what);
    Next();
    return Status::OK();
  }
  Status ExpectEof() { return Expect(Tok::kEof, "end of query"); }

  Result<std::string> ExpectString() {
    if (Peek().kind != Tok::kString) return Expected(Peek(), "string");
    return Next().value;
  }
  Result<std::string> ExpectIdent(std::string_view what) {
    if (Peek().kind != Tok::kIdent) return Expected(Peek(), what);
    return Next().value;
  }

  static std::optional<MatchOp> AsMatchOp(Tok k) {
    switch (k) {
      case Tok::kEq: return MatchOp::kEq;
      case Tok::kNeq: return MatchOp::kNeq;
      case Tok::kRe: return MatchOp::kRe;
      case Tok::kNre: return MatchOp::kNre;
      default: return std::nullopt;
    }
  }

  // ---- log queries

  // [selector] pipeline; the selector may be omitted when a line filter starts.
  Status ParseLogQueryInto(LogQuery* q) {
    if (Peek().kind == Tok::kLBrace) {
      LODE_RETURN_IF_ERROR(ParseSelector(q));
    } else if (!IsLineFilterStart(Peek().kind)) {
      return Expected(Peek(), "\"{\" or a line filter");
    }
    return ParsePipeline(q);
  }

  Status ParseSelector(LogQuery* q) {
    Next();  // {
    if (Peek().kind == Tok::kRBrace) {
      Next();
      return Status::OK();
    }
    while (true) {
      if (Peek().kind != Tok::kIdent) return Expected(Peek(), "label name");
      LabelMatcher m;
      m.name = Next().value;
      auto op = AsMatchOp(Peek().kind);
      if (!op) return Expected(Peek(), "\"=\", \"!=\", \"=~\" or \"!~\"");
      Next();
      m.op = *op;
      LODE_ASSIGN_OR_RETURN(m.value, ExpectString());
      q->matchers.push_back(std::move(m));
      if (Peek().kind == Tok::kRBrace) {
        Next();
        return Status::OK();
      }
      if (Peek().kind != Tok::kComma) return Expected(Peek(), "\"}\" or \",\"");
      Next();
      if (Peek().kind == Tok::kRBrace) {  // trailing comma
        Next();
        return Status::OK();
      }
    }
  }

  Status ParsePipeline(LogQuery* q) {
    while (true) {
      Tok k = Peek().kind;
      if (IsLineFilterStart(k)) {
        LODE_RETURN_IF_ERROR(ParseLineFilter(q));
      } else if (k == Tok::kPipe) {
        Next();
        LODE_RETURN_IF_ERROR(ParseStage(q));
      } else {
        return Status::OK();
      }
    }
  }

  Status ParseLineFilter(LogQuery* q) {
    LineFilterStage f;
    switch (Next().kind) {
      case Tok::kPipeEq: f.op = LineFilterOp::kContains; break;
      case Tok::kNeq: f.op = LineFilterOp::kNotContains; break;
      case Tok::kPipeRe: f.op = LineFilterOp::kMatch; break;
      case Tok::kNre: f.op = LineFilterOp::kNotMatch; break;
      case Tok::kPipeGt: f.op = LineFilterOp::kPattern; break;
      default: f.op = LineFilterOp::kNotPattern; break;
    }
    LODE_ASSIGN_OR_RETURN(std::string first, ExpectString());
    f.values.push_back(std::move(first));
    while (PeekIdent("or") && Peek(1).kind == Tok::kString) {
      Next();
      f.values.push_back(Next().value);
    }
    q->stages.emplace_back(std::move(f));
    return Status::OK();
  }

  // The flags right after `json` or `logfmt`, as in Loki: `--strict` and
  // `--keep-empty`, for logfmt only. The lexer has no flag token: a flag is
  // the run of `-` and word tokens written with nothing between them, so
  // `--keep-empty` is `-` `-` `keep` `-` `empty`.
  Status ParseParserFlags(bool json, LogfmtStage* logfmt) {
    while (Peek().kind == Tok::kMinus) {
      const Token& first = Peek();
      std::string flag;
      size_t n = 0;
      for (const Token* t = &first; t->kind == Tok::kMinus || t->kind == Tok::kIdent;
           t = &Peek(n)) {
        if (n > 0) {
          const Token& prev = Peek(n - 1);
          if (t->line != prev.line || t->col != prev.col + static_cast<int>(prev.raw.size())) {
            break;
          }
        }
        flag += t->raw;
        ++n;
      }
      if (!json && flag == "--strict") {
        logfmt->strict = true;
      } else if (!json && flag == "--keep-empty") {
        logfmt->keep_empty = true;
      } else {
        return ErrorAt(
            first.line, first.col,
            json ? "unknown json flag \"" + flag + "\" (json takes no flags)"
                 : "unknown logfmt flag \"" + flag + "\" (expected --strict or --keep-empty)");
      }
      for (size_t k = 0; k < n; ++k) Next();
    }
    return Status::OK();
  }

  // After `|`.
  Status ParseStage(LogQuery* q) {
    const Token& t = Peek();
    bool keyword = t.kind == Tok::kIdent && !IsFilterOperator(Peek(1).kind);
    if (keyword && (t.value == "json" || t.value == "logfmt")) {
      bool json = t.value == "json";
      Next();
      LogfmtStage logfmt;
      LODE_RETURN_IF_ERROR(ParseParserFlags(json, &logfmt));
      std::vector<ExtractParam> params;
      if (Peek().kind == Tok::kIdent) {
        while (true) {
          ExtractParam p;
          LODE_ASSIGN_OR_RETURN(p.label, ExpectIdent("label name"));
          if (Peek().kind == Tok::kEq) {
            Next();
            LODE_ASSIGN_OR_RETURN(p.expression, ExpectString());
          }
          params.push_back(std::move(p));
          if (Peek().kind != Tok::kComma) break;
          Next();
        }
        if (!json && Peek().kind == Tok::kMinus && Peek(1).kind == Tok::kMinus) {
          return ErrorAt(Peek().line, Peek().col,
                         "logfmt flags go right after \"logfmt\", before its parameters");
        }
      }
      if (json) {
        q->stages.emplace_back(JsonStage{std::move(params)});
      } else {
        logfmt.params = std::move(params);
        q->stages.emplace_back(std::move(logfmt));
      }
      return Status::OK();
    }
    if (keyword && t.value == "regexp") {
      Next();
      LODE_ASSIGN_OR_RETURN(std::string re, ExpectString());
      q->stages.emplace_back(RegexpStage{std::move(re)});
      return Status::OK();
    }
    if (keyword && t.value == "pattern") {
      Next();
      LODE_ASSIGN_OR_RETURN(std::string p, ExpectString());
      q->stages.emplace_back(PatternStage{std::move(p)});
      return Status::OK();
    }
    if (keyword && t.value == "line_format") {
      Next();
      LODE_ASSIGN_OR_RETURN(std::string tmpl, ExpectString());
      q->stages.emplace_back(LineFormatStage{std::move(tmpl)});
      return Status::OK();
    }
    if (keyword && t.value == "label_format") {
      Next();
      LabelFormatStage s;
      while (true) {
        LabelFormatItem item;
        LODE_ASSIGN_OR_RETURN(item.dst, ExpectIdent("label name"));
        LODE_RETURN_IF_ERROR(Expect(Tok::kEq, "\"=\""));
        if (Peek().kind == Tok::kIdent) {
          item.rename = true;
          item.value = Next().value;
        } else if (Peek().kind == Tok::kString) {
          item.value = Next().value;
        } else {
          return Expected(Peek(), "label name or string");
        }
        s.items.push_back(std::move(item));
        if (Peek().kind != Tok::kComma) break;
        Next();
      }
      q->stages.emplace_back(std::move(s));
      return Status::OK();
    }
    if (keyword && (t.value == "drop" || t.value == "keep")) {
      bool drop = t.value == "drop";
      Next();
      std::vector<LabelSelectItem> items;
      while (true) {
        LabelSelectItem item;
        LODE_ASSIGN_OR_RETURN(item.label, ExpectIdent("label name"));
        if (auto op = AsMatchOp(Peek().kind)) {
          Next();
          item.op = *op;
          LODE_ASSIGN_OR_RETURN(item.value, ExpectString());
        }
        items.push_back(std::move(item));
        if (Peek().kind != Tok::kComma) break;
        Next();
      }
      if (drop) {
        q->stages.emplace_back(DropStage{std::move(items)});
      } else {
        q->stages.emplace_back(KeepStage{std::move(items)});
      }
      return Status::OK();
    }
    if (keyword && t.value == "unwrap") {
      Next();
      UnwrapStage u;
      LODE_ASSIGN_OR_RETURN(u.label, ExpectIdent("label name"));
      if (Peek().kind == Tok::kLParen) {
        if (u.label == "duration") {
          u.conversion = UnwrapConversion::kDuration;
        } else if (u.label == "duration_seconds") {
          u.conversion = UnwrapConversion::kDurationSeconds;
        } else if (u.label == "bytes") {
          u.conversion = UnwrapConversion::kBytes;
        } else {
          return ErrorAt(toks_[pos_ - 1].line, toks_[pos_ - 1].col,
                         "unknown unwrap conversion \"" + u.label + "\"");
        }
        Next();
        LODE_ASSIGN_OR_RETURN(u.label, ExpectIdent("label name"));
        LODE_RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
      }
      q->stages.emplace_back(std::move(u));
      return Status::OK();
    }
    if (t.kind == Tok::kIdent || t.kind == Tok::kLParen) {
      LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr e, ParseLabelOr());
      q->stages.emplace_back(LabelFilterStage{std::move(e)});
      return Status::OK();
    }
    return Expected(t, "pipeline stage or label filter");
  }

  Result<LabelFilterExprPtr> ParseLabelOr() {
    LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr lhs, ParseLabelAnd());
    while (PeekIdent("or") && (Peek(1).kind == Tok::kIdent || Peek(1).kind == Tok::kLParen)) {
      Next();
      LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr rhs, ParseLabelAnd());
      lhs = MakeLabelBinary(true, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  Result<LabelFilterExprPtr> ParseLabelAnd() {
    LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr lhs, ParseLabelPrimary());
    while (PeekIdent("and") || Peek().kind == Tok::kComma) {
      Next();
      LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr rhs, ParseLabelPrimary());
      lhs = MakeLabelBinary(false, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  static LabelFilterExprPtr MakeLabelBinary(bool is_or, LabelFilterExprPtr lhs,
                                            LabelFilterExprPtr rhs) {
    auto e = std::make_unique<LabelFilterExpr>();
    e->node = LabelFilterBinary{is_or, std::move(lhs), std::move(rhs)};
    return e;
  }

  Result<LabelFilterExprPtr> ParseLabelPrimary() {
    if (Peek().kind == Tok::kLParen) {
      Next();
      LODE_ASSIGN_OR_RETURN(LabelFilterExprPtr e, ParseLabelOr());
      LODE_RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
      return e;
    }
    if (Peek().kind != Tok::kIdent) return Expected(Peek(), "label name or \"(\"");
    std::string label = Next().value;
    const Token& op_tok = Peek();
    if (!IsFilterOperator(op_tok.kind)) return Expected(op_tok, "label filter operator");
    Tok op = Next().kind;
    auto e = std::make_unique<LabelFilterExpr>();
    const Token& v = Peek();
    if (v.kind == Tok::kString) {
      auto mop = AsMatchOp(op);
      if (!mop) return Expected(v, "number, duration or bytes");
      e->node = StringLabelFilter{std::move(label), *mop, Next().value};
      return e;
    }
    bool negative = false;
    if (v.kind == Tok::kMinus && Peek(1).kind == Tok::kNumber) {
      negative = true;
      Next();
    }
    const Token& lit = Peek();
    if (lit.kind != Tok::kNumber && lit.kind != Tok::kDuration && lit.kind != Tok::kBytes) {
      return Expected(lit, "string, number, duration or bytes");
    }
    NumericLabelFilter f;
    f.label = std::move(label);
    switch (op) {
      case Tok::kEq:
      case Tok::kEqEq: f.op = CmpOp::kEq; break;
      case Tok::kNeq: f.op = CmpOp::kNeq; break;
      case Tok::kGt: f.op = CmpOp::kGt; break;
      case Tok::kGte: f.op = CmpOp::kGte; break;
      case Tok::kLt: f.op = CmpOp::kLt; break;
      case Tok::kLte: f.op = CmpOp::kLte; break;
      default: return Expected(lit, "string");  // =~ / !~ need a string
    }
    f.value = negative ? -lit.number : lit.number;
    switch (lit.kind) {
      case Tok::kNumber:
        f.kind = LiteralKind::kNumber;
        f.text = FormatNumber(f.value);
        break;
      case Tok::kDuration:
        f.kind = LiteralKind::kDuration;
        f.text = FormatDuration(static_cast<int64_t>(lit.number));
        break;
      default:
        f.kind = LiteralKind::kBytes;
        f.text = lit.raw;
        break;
    }
    Next();
    e->node = std::move(f);
    return e;
  }

  // ---- metric expressions

  std::optional<BinaryOpInfo> PeekBinaryOp() const {
    const Token& t = Peek();
    auto find = [](BinaryOp op) { return std::optional<BinaryOpInfo>(BinaryInfo(op)); };
    switch (t.kind) {
      case Tok::kPlus: return find(BinaryOp::kAdd);
      case Tok::kMinus: return find(BinaryOp::kSub);
      case Tok::kStar: return find(BinaryOp::kMul);
      case Tok::kSlash: return find(BinaryOp::kDiv);
      case Tok::kPercent: return find(BinaryOp::kMod);
      case Tok::kCaret: return find(BinaryOp::kPow);
      case Tok::kEqEq: return find(BinaryOp::kEq);
      case Tok::kNeq: return find(BinaryOp::kNeq);
      case Tok::kGt: return find(BinaryOp::kGt);
      case Tok::kGte: return find(BinaryOp::kGte);
      case Tok::kLt: return find(BinaryOp::kLt);
      case Tok::kLte: return find(BinaryOp::kLte);
      case Tok::kIdent:
        if (t.value == "and") return find(BinaryOp::kAnd);
        if (t.value == "or") return find(BinaryOp::kOr);
        if (t.value == "unless") return find(BinaryOp::kUnless);
        return std::nullopt;
      default: return std::nullopt;
    }
  }

  // Precedence climbing: operators binding at least as tight as min_prec.
  Result<MetricExprPtr> ParseBinary(int min_prec) {
    LODE_ASSIGN_OR_RETURN(MetricExprPtr lhs, ParsePrimary());
    while (true) {
      auto info = PeekBinaryOp();
      if (!info || info->precedence < min_prec) return lhs;
      Next();
      BinaryExpr b;
      b.op = info->op;
      if (info->comparison && PeekIdent("bool")) {
        Next();
        b.return_bool = true;
      }
      int next_min = info->op == BinaryOp::kPow ? info->precedence : info->precedence + 1;
      LODE_ASSIGN_OR_RETURN(b.rhs, ParseBinary(next_min));
      b.lhs = std::move(lhs);
      lhs = std::make_unique<MetricExpr>();
      lhs->node = std::move(b);
    }
  }

  Result<MetricExprPtr> ParsePrimary() {
    const Token& t = Peek();
    if (t.kind == Tok::kLParen) {
      Next();
      LODE_ASSIGN_OR_RETURN(MetricExprPtr e, ParseBinary(0));
      LODE_RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
      return e;
    }
    if (t.kind == Tok::kNumber ||
        ((t.kind == Tok::kMinus || t.kind == Tok::kPlus) && Peek(1).kind == Tok::kNumber)) {
      double sign = 1;
      if (t.kind != Tok::kNumber) sign = Next().kind == Tok::kMinus ? -1 : 1;
      auto e = std::make_unique<MetricExpr>();
      e->node = NumberLiteral{sign * Next().number};
      return e;
    }
    if (t.kind == Tok::kIdent) {
      if (const RangeOpInfo* r = FindRangeOp(t.value)) return ParseRangeAggregation(*r);
      if (auto v = FindVectorOp(t.value)) return ParseVectorAggregation(*v);
      if (Peek(1).kind == Tok::kLParen) {
        return ErrorAt(t.line, t.col, "unknown function \"" + t.value + "\"");
      }
    }
    return Expected(t, "expression");
  }

  Result<Grouping> ParseGrouping() {
    Grouping g;
    g.without = Next().value == "without";
    LODE_RETURN_IF_ERROR(Expect(Tok::kLParen, "\"(\""));
    if (Peek().kind == Tok::kRParen) {
      Next();
      return g;
    }
    while (true) {
      LODE_ASSIGN_OR_RETURN(std::string l, ExpectIdent("label name"));
      g.labels.push_back(std::move(l));
      if (Peek().kind == Tok::kRParen) {
        Next();
        return g;
      }
      if (Peek().kind != Tok::kComma) return Expected(Peek(), "\")\" or \",\"");
      Next();
    }
  }

  bool PeekGrouping() const { return PeekIdent("by") || PeekIdent("without"); }

  Result<double> ExpectNumber() {
    double sign = 1;
    if ((Peek().kind == Tok::kMinus || Peek().kind == Tok::kPlus) && Peek(1).kind == Tok::kNumber) {
      sign = Next().kind == Tok::kMinus ? -1 : 1;
    }
    if (Peek().kind != Tok::kNumber) return Expected(Peek(), "number");
    return sign * Next().number;
  }

  Result<int64_t> ExpectDuration() {
    if (Peek().kind != Tok::kDuration) return Expected(Peek(), "duration");
    return static_cast<int64_t>(Next().number);
  }

  Result<MetricExprPtr> ParseRangeAggregation(const RangeOpInfo& info) {
    const Token name = Next();
    RangeAggregation r;
    r.op = info.op;
    LODE_RETURN_IF_ERROR(Expect(Tok::kLParen, "\"(\""));
    if (info.op == RangeOp::kQuantileOverTime) {
      LODE_ASSIGN_OR_RETURN(double phi, ExpectNumber());
      r.param = phi;
      LODE_RETURN_IF_ERROR(Expect(Tok::kComma, "\",\""));
    }
    if (Peek().kind == Tok::kLBrace) {
      LODE_RETURN_IF_ERROR(ParseSelector(&r.query));
    } else if (!IsLineFilterStart(Peek().kind)) {
      return Expected(Peek(), "\"{\" or a line filter");
    }
    bool have_range = false;
    if (Peek().kind == Tok::kLBracket) {  // {a="b"}[5m] | json
      LODE_RETURN_IF_ERROR(ParseRange(&r));
      have_range = true;
    }
    LODE_RETURN_IF_ERROR(ParsePipeline(&r.query));
    if (!have_range) {
      if (Peek().kind != Tok::kLBracket) return Expected(Peek(), "\"[\"");
      LODE_RETURN_IF_ERROR(ParseRange(&r));
    }
    LODE_RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
    bool has_unwrap = false;
    for (const auto& s : r.query.stages) {
      if (std::holds_alternative<UnwrapStage>(s)) has_unwrap = true;
    }
    if (info.unwrapped && !has_unwrap) {
      return ErrorAt(name.line, name.col,
                     "invalid aggregation " + name.value + " without | unwrap");
    }
    if (!info.unwrapped && has_unwrap && info.op != RangeOp::kRate) {
      return ErrorAt(name.line, name.col, "invalid aggregation " + name.value + " with | unwrap");
    }
    if (PeekGrouping()) {
      if (!has_unwrap) {
        return ErrorAt(Peek().line, Peek().col,
                       "grouping not allowed for " + name.value + " without | unwrap");
      }
      LODE_ASSIGN_OR_RETURN(r.grouping, ParseGrouping());
    }
    auto e = std::make_unique<MetricExpr>();
    e->node = std::move(r);
    return e;
  }

  Status ParseRange(RangeAggregation* r) {
    Next();  // [
    LODE_ASSIGN_OR_RETURN(r->range_ns, ExpectDuration());
    if (r->range_ns <= 0)
      return ErrorAt(toks_[pos_ - 1].line, toks_[pos_ - 1].col, "range must be positive");
    LODE_RETURN_IF_ERROR(Expect(Tok::kRBracket, "\"]\""));
    if (PeekIdent("offset")) {
      Next();
      LODE_ASSIGN_OR_RETURN(r->offset_ns, ExpectDuration());
    }
    return Status::OK();
  }

  Result<MetricExprPtr> ParseVectorAggregation(VectorOp op) {
    Next();
    VectorAggregation v;
    v.op = op;
    if (PeekGrouping()) {
      LODE_ASSIGN_OR_RETURN(v.grouping, ParseGrouping());
    }
    LODE_RETURN_IF_ERROR(Expect(Tok::kLParen, "\"(\""));
    if (op == VectorOp::kTopk || op == VectorOp::kBottomk) {
      const Token k_tok = Peek();
      LODE_ASSIGN_OR_RETURN(double k, ExpectNumber());
      if (k < 1 || k > 1e15 || std::floor(k) != k) {
        return ErrorAt(k_tok.line, k_tok.col,
                       "expected a positive integer, got " + Describe(k_tok));
      }
      v.param = static_cast<int64_t>(k);
      LODE_RETURN_IF_ERROR(Expect(Tok::kComma, "\",\""));
    }
    LODE_ASSIGN_OR_RETURN(v.inner, ParseBinary(0));
    LODE_RETURN_IF_ERROR(Expect(Tok::kRParen, "\")\""));
    if (PeekGrouping()) {
      if (v.grouping) return Expected(Peek(), "a single grouping");
      LODE_ASSIGN_OR_RETURN(v.grouping, ParseGrouping());
    }
    auto e = std::make_unique<MetricExpr>();
    e->node = std::move(v);
    return e;
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------- printer

std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\x";
          out.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
          out.push_back(kHex[static_cast<unsigned char>(c) & 0xF]);
        } else {
          out.push_back(c);
        }
    }
  }
  out += '"';
  return out;
}

void PrintLabelFilter(const LabelFilterExpr& e, std::string* out);

// Prints `child` of an `and`/`or` node, parenthesized when needed.
void PrintLabelChild(const LabelFilterExpr& child, bool parent_or, bool right, std::string* out) {
  bool paren = false;
  if (const auto* b = std::get_if<LabelFilterBinary>(&child.node)) {
    // `or` under `and` needs parens; a same-kind right child does too (left assoc).
    paren = (b->is_or && !parent_or) || (right && b->is_or == parent_or);
  }
  if (paren) *out += '(';
  PrintLabelFilter(child, out);
  if (paren) *out += ')';
}

void PrintLabelFilter(const LabelFilterExpr& e, std::string* out) {
  if (const auto* s = std::get_if<StringLabelFilter>(&e.node)) {
    *out += s->label + MatchOpText(s->op) + Quote(s->value);
  } else if (const auto* n = std::get_if<NumericLabelFilter>(&e.node)) {
    *out += n->label + " " + CmpOpText(n->op) + " " + n->text;
  } else {
    const auto& b = std::get<LabelFilterBinary>(e.node);
    PrintLabelChild(*b.lhs, b.is_or, false, out);
    *out += b.is_or ? " or " : " and ";
    PrintLabelChild(*b.rhs, b.is_or, true, out);
  }
}

void PrintParams(const std::vector<ExtractParam>& params, std::string* out) {
  for (size_t i = 0; i < params.size(); ++i) {
    *out += i == 0 ? " " : ", ";
    *out += params[i].label;
    if (!params[i].expression.empty()) *out += "=" + Quote(params[i].expression);
  }
}

void PrintSelectItems(const std::vector<LabelSelectItem>& items, std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    *out += i == 0 ? " " : ", ";
    *out += items[i].label;
    if (items[i].op) *out += MatchOpText(*items[i].op) + Quote(items[i].value);
  }
}

struct StagePrinter {
  std::string* out;
  void operator()(const LineFilterStage& f) const {
    *out += " ";
    *out += LineFilterOpText(f.op);
    for (size_t i = 0; i < f.values.size(); ++i) {
      *out += i == 0 ? " " : " or ";
      *out += Quote(f.values[i]);
    }
  }
  void operator()(const JsonStage& s) const {
    *out += " | json";
    PrintParams(s.params, out);
  }
  void operator()(const LogfmtStage& s) const {
    *out += " | logfmt";
    if (s.strict) *out += " --strict";
    if (s.keep_empty) *out += " --keep-empty";
    PrintParams(s.params, out);
  }
  void operator()(const RegexpStage& s) const { *out += " | regexp " + Quote(s.regex); }
  void operator()(const PatternStage& s) const { *out += " | pattern " + Quote(s.pattern); }
  void operator()(const LabelFilterStage& s) const {
    *out += " | ";
    PrintLabelFilter(*s.expr, out);
  }
  void operator()(const LineFormatStage& s) const { *out += " | line_format " + Quote(s.tmpl); }
  void operator()(const LabelFormatStage& s) const {
    *out += " | label_format";
    for (size_t i = 0; i < s.items.size(); ++i) {
      *out += i == 0 ? " " : ", ";
      const LabelFormatItem& item = s.items[i];
      *out += item.dst + "=" + (item.rename ? item.value : Quote(item.value));
    }
  }
  void operator()(const DropStage& s) const {
    *out += " | drop";
    PrintSelectItems(s.items, out);
  }
  void operator()(const KeepStage& s) const {
    *out += " | keep";
    PrintSelectItems(s.items, out);
  }
  void operator()(const UnwrapStage& s) const {
    *out += " | unwrap ";
    switch (s.conversion) {
      case UnwrapConversion::kNone: *out += s.label; break;
      case UnwrapConversion::kDuration: *out += "duration(" + s.label + ")"; break;
      case UnwrapConversion::kDurationSeconds: *out += "duration_seconds(" + s.label + ")"; break;
      case UnwrapConversion::kBytes: *out += "bytes(" + s.label + ")"; break;
    }
  }
};

void PrintLogQuery(const LogQuery& q, std::string* out) {
  *out += "{";
  for (size_t i = 0; i < q.matchers.size(); ++i) {
    if (i > 0) *out += ", ";
    *out += q.matchers[i].name + MatchOpText(q.matchers[i].op) + Quote(q.matchers[i].value);
  }
  *out += "}";
  for (const auto& s : q.stages) std::visit(StagePrinter{out}, s);
}

void PrintGrouping(const Grouping& g, std::string* out) {
  *out += g.without ? "without (" : "by (";
  for (size_t i = 0; i < g.labels.size(); ++i) {
    if (i > 0) *out += ", ";
    *out += g.labels[i];
  }
  *out += ")";
}

void PrintMetric(const MetricExpr& e, std::string* out);

// Precedence of a node as an operand: binary nodes have their operator's,
// everything else binds tightest.
int NodePrecedence(const MetricExpr& e) {
  if (const auto* b = std::get_if<BinaryExpr>(&e.node)) return BinaryInfo(b->op).precedence;
  return 100;
}

void PrintMetric(const MetricExpr& e, std::string* out) {
  if (const auto* r = std::get_if<RangeAggregation>(&e.node)) {
    *out += RangeOpInfoOf(r->op).name;
    *out += "(";
    if (r->param) *out += FormatNumber(*r->param) + ", ";
    PrintLogQuery(r->query, out);
    *out += " [" + FormatDuration(r->range_ns) + "]";
    if (r->offset_ns != 0) *out += " offset " + FormatDuration(r->offset_ns);
    *out += ")";
    if (r->grouping) {
      *out += " ";
      PrintGrouping(*r->grouping, out);
    }
  } else if (const auto* v = std::get_if<VectorAggregation>(&e.node)) {
    *out += VectorOpName(v->op);
    if (v->grouping) {
      *out += " ";
      PrintGrouping(*v->grouping, out);
      *out += " ";
    }
    *out += "(";
    if (v->param) *out += std::to_string(*v->param) + ", ";
    PrintMetric(*v->inner, out);
    *out += ")";
  } else if (const auto* b = std::get_if<BinaryExpr>(&e.node)) {
    const BinaryOpInfo& info = BinaryInfo(b->op);
    bool right_assoc = info.precedence == kPowPrecedence;
    int lp = NodePrecedence(*b->lhs);
    int rp = NodePrecedence(*b->rhs);
    bool lparen = lp < info.precedence || (right_assoc && lp == info.precedence);
    bool rparen = rp < info.precedence || (!right_assoc && rp == info.precedence);
    if (lparen) *out += "(";
    PrintMetric(*b->lhs, out);
    if (lparen) *out += ")";
    *out += " ";
    *out += info.text;
    if (b->return_bool) *out += " bool";
    *out += " ";
    if (rparen) *out += "(";
    PrintMetric(*b->rhs, out);
    if (rparen) *out += ")";
  } else {
    *out += FormatNumber(std::get<NumberLiteral>(e.node).value);
  }
}

}  // namespace

Result<LogqlExpr> ParseLogql(std::string_view query) {
  LODE_ASSIGN_OR_RETURN(std::vector<Token> tokens, Lexer(query).Run());
  return Parser(std::move(tokens)).ParseTop();
}

std::string ToString(const LogQuery& query) {
  std::string out;
  PrintLogQuery(query, &out);
  return out;
}

std::string ToString(const MetricExpr& expr) {
  std::string out;
  PrintMetric(expr, &out);
  return out;
}

std::string ToString(const LogqlExpr& expr) {
  if (const auto* q = std::get_if<LogQuery>(&expr)) return ToString(*q);
  return ToString(std::get<MetricExpr>(expr));
}

}  // namespace lode
