// Template (query/logql_stages.h): parsing and rendering of the Go
// text/template subset used by line_format and label_format.
//
// A template is parsed once into a tree (text, actions, if/else) whose
// pipelines are lists of commands; a command is a function and its argument
// operands, or a single operand. Rendering walks the tree with the line's
// labels. Go's text/template rules are kept where users can see them:
// operands are separated by spaces, a piped value is the last argument,
// `and`/`or` return one of their operands and do not evaluate past the
// deciding one, {{- and -}} trim " \t\r\n".
#include <fmt/format.h>
#include <re2/re2.h>

#include <algorithm>
#include <charconv>

#include "query/logql_stages.h"
#include "query/logql_stages_internal.h"

namespace lode::logql {

namespace {

using internal::AppendUtf8;
using internal::Args;
using internal::CallContext;
using internal::CharLen;
using internal::CompileRegex;
using internal::DecodeUtf8;
using internal::FindFunction;
using internal::FuncSpec;
using internal::GoQuote;
using internal::HexValue;
using internal::IsDigit;
using internal::IsIdentChar;
using internal::IsIdentStart;
using internal::Render;
using internal::TakesRegex;
using internal::Truth;
using internal::Value;

// Go's template "space": what {{- and -}} trim, and what separates operands.
bool IsTemplateSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// ---- The parsed template ----

struct Pipeline;

struct Operand {
  enum class Kind : uint8_t { kField, kConst, kFunc, kParen };
  Kind kind = Kind::kConst;
  size_t pos = 0;
  std::string name;                // kField: the label
  Value constant;                  // kConst
  const FuncSpec* func = nullptr;  // kFunc
  std::vector<Pipeline> sub;       // kParen: one pipeline
};

struct Command {
  size_t pos = 0;
  std::vector<Operand> operands;          // a function and its arguments, or one operand
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
        if (end == std::string_view::npos) {
          return TemplateError(p, "unterminated raw quoted string");
        }
        tok.value = Value::Str(std::string(t_.substr(p + 1, end - p - 1)));
        p = end + 1;
      } else if (c == '\'') {
        LODE_RETURN_IF_ERROR(LexChar(&p, &tok));
      } else if (c == '(' || c == ')' || c == '|') {
        tok.kind = c == '('   ? Token::Kind::kLParen
                   : c == ')' ? Token::Kind::kRParen
                              : Token::Kind::kPipe;
        ++p;
      } else if (c == '.' && IsIdentStart(next)) {
        size_t start = ++p;
        while (p < t_.size() && IsIdentChar(t_[p])) ++p;
        tok.kind = Token::Kind::kField;
        tok.text.assign(t_.substr(start, p - start));
        if (p + 1 < t_.size() && t_[p] == '.' && IsIdentStart(t_[p + 1])) {
          return TemplateError(p,
                               "nested field access (.a.b) is not supported: labels are strings");
        }
      } else if (IsDigit(c) ||
                 ((c == '+' || c == '-' || c == '.') && (IsDigit(next) || next == '.'))) {
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
      if (*p >= t_.size() || t_[*p] == '\n') {
        return TemplateError(start, "unterminated quoted string");
      }
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
      return c == '_' || (base == 16 ? HexValue(c) >= 0
                                     : c >= '0' && c < static_cast<char>('0' + std::min(base, 10)));
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
    if (r.ec != std::errc() || u > (neg ? uint64_t{1} << 63 : uint64_t{INT64_MAX})) {
      return TemplateError(start, fmt::format("integer overflow: {}", raw));  // as Go
    }
    tok->value = Value::Int(static_cast<int64_t>(neg ? 0 - u : u));
    return Status::OK();
  }

  std::string_view t_;
};

// ---- Parsing ----

// Bounds on nesting, so that parsing and rendering cannot exhaust the stack.
constexpr int kMaxParenDepth = 100;
constexpr int kMaxIfDepth = 100;

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
    return s == "if" || s == "else" || s == "end" || s == "range" || s == "with" || s == "define" ||
           s == "template" || s == "block" || s == "break" || s == "continue";
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
    if (++if_depth_ > kMaxIfDepth) return TemplateError(if_item.pos, "{{if}} nested too deeply");
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
      if (stop == Stop::kEof) {
        return TemplateError(if_item.pos, "{{if}} without a matching {{end}}");
      }
      if (stop == Stop::kEnd) {
        --if_depth_;
        return CheckBare(*at);
      }
      // {{else}} or {{else if ...}}
      if (at->tokens.size() > 1) {
        const Token& t = at->tokens[1];
        if (t.kind != Token::Kind::kIdent || t.text != "if") {
          return TemplateError(t.pos,
                               "unexpected operand after {{else}} (expected {{else if ...}})");
        }
        cond_item = at;
        cond_start = 2;
        continue;
      }
      LODE_RETURN_IF_ERROR(ParseList(&node->else_body, &stop, &at));
      if (stop == Stop::kEof) {
        return TemplateError(if_item.pos, "{{if}} without a matching {{end}}");
      }
      if (stop == Stop::kElse) {
        return TemplateError(at->pos, "expected {{end}}, found a second {{else}}");
      }
      --if_depth_;
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
    if (i < item.tokens.size()) {
      return TemplateError(item.tokens[i].pos, "unexpected right parenthesis");
    }
    return Status::OK();
  }

  Status ParsePipeline(const Item& item, size_t* i, int depth, Pipeline* out) {
    const std::vector<Token>& toks = item.tokens;
    if (depth > kMaxParenDepth) {
      return TemplateError(toks[*i - 1].pos, "parentheses nested too deeply");
    }
    while (true) {
      Command cmd;
      // An empty command is reported where it should have been.
      cmd.pos = *i < toks.size() ? toks[*i].pos : *i > 0 ? toks[*i - 1].pos : item.pos;
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
        if (IsKeyword(t.text)) {
          return TemplateError(t.pos, fmt::format("unexpected keyword \"{}\"", t.text));
        }
        op->kind = Operand::Kind::kFunc;
        op->func = FindFunction(t.text);
        if (op->func == nullptr) {
          return TemplateError(t.pos, fmt::format("function \"{}\" not defined", t.text));
        }
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
      default: return TemplateError(t.pos, "unexpected token");
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
                                                   "(a piped value needs a function)",
                                                   stage + 1));
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
    if (TakesRegex(f.name) && cmd->operands.size() > 1 &&
        cmd->operands[1].kind == Operand::Kind::kConst &&
        cmd->operands[1].constant.kind == Value::Kind::kString) {
      std::string error;
      cmd->regex = CompileRegex(cmd->operands[1].constant.s, &error);
      if (cmd->regex == nullptr) {
        return TemplateError(cmd->operands[1].pos, fmt::format("invalid regexp \"{}\": {}",
                                                               cmd->operands[1].constant.s, error));
      }
    }
    return Status::OK();
  }

  std::vector<Item> items_;
  size_t next_ = 0;
  int if_depth_ = 0;
  std::vector<std::string>* referenced_;
};

// ---- Evaluation ----

class Evaluator {
 public:
  explicit Evaluator(const TemplateInput& in) : in_(in) {}

  Status RenderList(const std::vector<Node>& nodes, std::string* out) {
    for (const Node& node : nodes) {
      switch (node.kind) {
        case Node::Kind::kText: *out += node.text; break;
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
