// Tests of the LogQL pipeline-stage primitives: label name sanitizing, the
// json/logfmt/regexp/pattern extractors, the unwrap conversions and the
// line_format/label_format template language. Expected values follow Grafana
// Loki (and Go's text/template, fmt, time and regexp packages it relies on).
#include "query/logql_stages.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace lode::logql {
namespace {

// `name="value"` pairs joined by ", ", in order.
std::string Show(const ExtractedLabels& labels) {
  std::string out;
  for (const auto& [name, value] : labels) {
    if (!out.empty()) out += ", ";
    out += name + "=\"" + value + "\"";
  }
  return out;
}

constexpr const char* kNoMatch = "<no match>";

TEST(LogqlStagesSanitize, Table) {
  struct Case {
    const char* in;
    const char* want;
  } cases[] = {
      {"a.b-c", "a_b_c"},
      {"1abc", "_1abc"},
      {"", ""},
      {"abc_DEF9", "abc_DEF9"},
      {"\xC3\xA9", "_"},
      {"  a  ", "a"},
      {"a b", "a_b"},
      {"\xFF", "_"},
      {"_x", "_x"},
      {"9", "_9"},
      {"a\xE2\x82\xAC", "a_"},
      {"   ", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.in);
    EXPECT_EQ(SanitizeLabelName(c.in), c.want);
  }
}

// ---------------------------------------------------------------------------
// | json

std::string JsonAll(std::string_view line) {
  auto x = JsonExtractor::Make({});
  EXPECT_TRUE(x.ok());
  ExtractedLabels out;
  if (!x->Extract(line, &out)) {
    EXPECT_TRUE(out.empty());
    return kNoMatch;
  }
  return Show(out);
}

TEST(LogqlStagesJson, AllFields) {
  struct Case {
    const char* line;
    const char* want;
  } cases[] = {
      {R"({"a":"b","n":1.50,"t":true,"f":false,"z":null})",
       R"(a="b", n="1.50", t="true", f="false", z="")"},
      {R"({"a":{"b":1,"c":{"d":"x"}}})", R"(a_b="1", a_c_d="x")"},
      {R"({"a":[1,2,{"b":3}],"c":"d","e":[]})", R"(c="d")"},
      {R"({"a.b-c":"v","1st":"x","é":"y"})", R"(a_b_c="v", _1st="x", _="y")"},
      {R"({"a":{"1":2}})", R"(a_1="2")"},
      {R"({"msg":"say \"hi\" \\ \/ \u00e9 \ud83d\ude00"})",
       "msg=\"say \"hi\" \\ / \xC3\xA9 \xF0\x9F\x98\x80\""},
      {R"({"esc":"a\nb\tc"})", "esc=\"a\nb\tc\""},
      {R"({"a":"\ud800x"})", "a=\"\xEF\xBF\xBDx\""},  // lone surrogate
      {R"({"ключ":"значение"})", "____=\"значение\""},
      {R"({"a":1,"a":2})", R"(a="2")"},
      {R"({"a_b":1,"a":{"b":2}})", R"(a_b="2")"},
      {"  { \"a\" : 1 ,\n \"b\" :\t\"x\" }  ", R"(a="1", b="x")"},
      {R"({})", ""},
      {R"({"n":-0.5e+10,"m":0,"k":1E3})", R"(n="-0.5e+10", m="0", k="1E3")"},
      {R"({"":1,"x":{"":{"y":2}}})", R"(x__y="2")"},
      {R"({"e":{},"raw":"tab	inside"})", "raw=\"tab\tinside\""},
      // Not a JSON object.
      {"not json", kNoMatch},
      {"[1,2]", kNoMatch},
      {R"("str")", kNoMatch},
      {"", kNoMatch},
      {R"({"a":1)", kNoMatch},
      {R"({"a":01})", kNoMatch},
      {R"({"a":1}x)", kNoMatch},
      {R"({"a":tru})", kNoMatch},
      {R"({"a":"x})", kNoMatch},
      {R"({a:1})", kNoMatch},
      {R"({"a":1,})", kNoMatch},
      {R"({"a":"\x"})", kNoMatch},
      {R"({"a":[1,}])", kNoMatch},
      {R"({"a":-})", kNoMatch},
      {R"({"a":1.})", kNoMatch},
      {R"({"a":"\u12"})", kNoMatch},
      {R"({"a":1}{"b":2})", kNoMatch},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(JsonAll(c.line), c.want);
  }
}

TEST(LogqlStagesJson, Depth) {
  std::string deep;
  for (int i = 0; i < 100; ++i) deep += "{\"a\":";
  deep += "1";
  for (int i = 0; i < 100; ++i) deep += "}";
  EXPECT_EQ(JsonAll(deep).substr(0, 8), "a_a_a_a_");
  std::string too_deep = "{\"a\":" + std::string(5000, '[') + std::string(5000, ']') + "}";
  EXPECT_EQ(JsonAll(too_deep), kNoMatch);
}

TEST(LogqlStagesJson, KeepsEarlierEntriesAndAppendsNothingOnFailure) {
  auto x = JsonExtractor::Make({});
  ASSERT_TRUE(x.ok());
  ExtractedLabels out = {{"a", "old"}};
  EXPECT_TRUE(x->Extract(R"({"a":1})", &out));
  EXPECT_EQ(Show(out), R"(a="old", a="1")");  // only this call's pairs are merged
  EXPECT_FALSE(x->Extract(R"({"b":1,"c":)", &out));
  EXPECT_EQ(Show(out), R"(a="old", a="1")");
}

TEST(LogqlStagesJson, Params) {
  auto x = JsonExtractor::Make({
      {"a", "x.y"},
      {"b", "z[0]"},
      {"c", ""},
      {"d", R"(["key with space"])"},
      {"e", "obj"},
      {"f", "arr"},
      {"g", "missing.path"},
      {"h", R"(["x"].y)"},
      {"i", "z[5]"},
      {"j", "nul"},
      {"k", "arr[1].a"},
      {"l", R"(obj["k"][1])"},
      {"m", "c.deeper"},
      {"n", R"(["q\"uote"])"},
      {"o", "dup"},
  });
  ASSERT_TRUE(x.ok()) << x.status().ToString();
  ExtractedLabels out;
  ASSERT_TRUE(x->Extract(R"({"x":{"y":"xy"},"z":["first",2],"c":3,"key with space":true,)"
                         R"("obj":{"k": [1, 2]},"arr":[1, {"a":null}],"nul":null,)"
                         R"("q\"uote":"q","dup":1,"dup":2})",
                         &out));
  EXPECT_EQ(Show(out), R"(a="xy", b="first", c="3", d="true", e="{"k": [1, 2]}", )"
                       R"(f="[1, {"a":null}]", h="xy", j="", k="", l="2", n="q", o="1")");
  out.clear();
  EXPECT_FALSE(x->Extract(R"({"x":{"y":"xy"})", &out));  // invalid JSON, even past the paths
  EXPECT_FALSE(x->Extract(R"(["x"])", &out));
  EXPECT_TRUE(out.empty());
}

TEST(LogqlStagesJson, BadPaths) {
  struct Case {
    const char* expr;
    const char* want;  // a substring of the message
  } cases[] = {
      {"a..b",
       "expected a field name (letters, digits, '_'; other keys need [\"key\"]) at offset 2"},
      {"a[", "expected a quoted key or an array index after '[' at offset 2"},
      {"a[x]", "at offset 2"},
      {R"(a["x")", "expected ']' at offset 5"},
      {R"(a["x)", "unterminated string at offset 2"},
      {"a[1.5]", "an array index must be an integer at offset 3"},
      {".a", "expected a field name"},
      {"a b", "unexpected 'b' at offset 2"},
      {"a.", "expected a field name"},
      {"a[99999999999]", "array index too large"},
      {"a-b", "unexpected '-' at offset 1"},
      {"0", "expected a field name"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.expr);
    auto x = JsonExtractor::Make({{"l", c.expr}});
    ASSERT_FALSE(x.ok());
    EXPECT_EQ(x.status().code(), StatusCode::kInvalidArgument);
    std::string msg(x.status().message());
    EXPECT_NE(msg.find(std::string("\"") + c.expr + "\""), std::string::npos) << msg;
    EXPECT_NE(msg.find(c.want), std::string::npos) << msg;
  }
  EXPECT_FALSE(JsonExtractor::Make({{"bad-label", ""}}).ok());
  EXPECT_FALSE(JsonExtractor::Make({{"", "a"}}).ok());
}

// ---------------------------------------------------------------------------
// | logfmt

// The labels of `line`; a --strict failure appends " ! <details>".
std::string Logfmt(std::string_view line, const std::vector<ExtractParam>& params = {},
                   LogfmtOptions options = {}) {
  auto x = LogfmtExtractor::Make(params, options);
  EXPECT_TRUE(x.ok());
  ExtractedLabels out = {{"pre", "existing"}};
  std::string error;
  const bool ok = x->Extract(line, &out, &error);
  EXPECT_EQ(Show({out.front()}), R"(pre="existing")");
  out.erase(out.begin());
  if (!ok) {
    EXPECT_TRUE(options.strict) << "only --strict fails";
    return Show(out) + " ! " + error;
  }
  return Show(out);
}

constexpr LogfmtOptions kStrict{.strict = true, .keep_empty = false};
constexpr LogfmtOptions kKeepEmpty{.strict = false, .keep_empty = true};

TEST(LogqlStagesLogfmt, Table) {
  struct Case {
    const char* line;
    const char* want;
  } cases[] = {
      {R"(level=info msg="hello world" dur=1.5s)",
       R"(level="info", msg="hello world", dur="1.5s")"},
      {R"(msg="say \"hi\" \\ \n \t \/ \u00e9 \'")", "msg=\"say \"hi\" \\ \n \t / \xC3\xA9 '\""},
      {R"(msg="say \"hi\"" code=1)", R"(msg="say "hi"", code="1")"},
      {R"(a="\ud83d\ude00")", "a=\"\xF0\x9F\x98\x80\""},
      {"a=\"x\\n\ty\"", "a=\"x\n\ty\""},  // a raw tab beside an escape stays
      {"a=1 a=2 b=3 a=4", R"(a="4", b="3")"},
      {"a.b-c=1 1x=2", R"(a_b_c="1", _1x="2")"},
      {"a=1\tb=2\n c=3\001d=4", R"(a="1", b="2", c="3", d="4")"},
      {"a=значение", "a=\"значение\""},
      {R"(a="x"b=1)", R"(a="x", b="1")"},
      {"", ""},
      {"   ", ""},
      {"path=/a/b?c ip=10.0.0.1:80", R"(path="/a/b?c", ip="10.0.0.1:80")"},
      {"ключ=1", R"(____="1")"},
      // Keys without a value are skipped (--keep-empty keeps them).
      {"a b= c", ""},
      {"INFO GET /x", ""},
      {"level=info badkey msg=ok", R"(level="info", msg="ok")"},
      {"a= b=2", R"(b="2")"},
      {"a=1 b", R"(a="1")"},
      {R"(a="" b="  ")", R"(b="  ")"},
      {"a=1 a=", R"(a="1")"},
      // A value with invalid UTF-8 or U+FFFD counts as empty.
      {"a=\xFF b=2", R"(b="2")"},
      {"a=\"\xEF\xBF\xBD\" b=2", R"(b="2")"},
      {R"(a="\ud800" b=2)", R"(b="2")"},
      {R"(a="\ufffd" b=2)", R"(b="2")"},
      // Malformed pairs are skipped, up to the next separator.
      {"msg=hello=world", ""},
      {"msg=hello=world code=1", R"(code="1")"},
      {R"(msg="unterminated)", ""},
      {R"(a=1 msg="unterminated b=2)", R"(a="1")"},
      {"=value b=1", R"(b="1")"},
      {"a=1 =2 c=3", R"(a="1", c="3")"},
      {R"(a"b=1 c=2)", R"(c="2")"},
      {R"(a=b"c d=1)", R"(d="1")"},
      {R"(a="bad \x escape" b=1)", R"(b="1")"},
      {R"(a="x\u00" b=1)", R"(b="1")"},
      {"k\xFF=1 b=2", R"(b="2")"},
      {"k\xFF b=2", R"(b="2")"},
      {"k\xEF\xBF\xBD=1 b=2", R"(b="2")"},
      {R"(user said "hi")", ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(Logfmt(c.line), c.want);
  }
}

TEST(LogqlStagesLogfmt, KeepEmpty) {
  struct Case {
    const char* line;
    const char* want;
  } cases[] = {
      {"INFO GET /x", R"(INFO="", GET="", _x="")"},
      {"a b= c=3", R"(a="", b="", c="3")"},
      {R"(a="" b)", R"(a="", b="")"},
      {"a=1 a=", R"(a="")"},
      {"a= a=1", R"(a="1")"},
      {"a=\xFF", R"(a="")"},
      {"msg=hello=world x", R"(x="")"},  // still malformed
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(Logfmt(c.line, {}, kKeepEmpty), c.want);
  }
}

TEST(LogqlStagesLogfmt, Strict) {
  struct Case {
    const char* line;
    const char* want;
  } cases[] = {
      {"a=1 b=2", R"(a="1", b="2")"},
      // Keys without a value are not errors.
      {"level=info badkey msg=ok", R"(level="info", msg="ok")"},
      // The pairs before the error stay; the position is Loki's (1-based).
      {"a=1 msg=hello=world c=2", R"(a="1" ! logfmt syntax error at pos 14 : unexpected '=')"},
      {R"(msg="unterminated)", R"( ! logfmt syntax error at pos 18 : unterminated quoted value)"},
      {"=v", R"( ! logfmt syntax error at pos 1 : unexpected '=')"},
      {R"(a"b=1)", R"( ! logfmt syntax error at pos 2 : unexpected '"')"},
      {R"(a=b"c)", R"( ! logfmt syntax error at pos 4 : unexpected '"')"},
      {R"(a="x\qy" b=1)", R"( ! logfmt syntax error at pos 9 : invalid quoted value)"},
      {"k\xFF=1", R"( ! logfmt syntax error at pos 3 : invalid key)"},
      {"ok=1 k\xFF", R"(ok="1" ! logfmt syntax error at pos 8 : invalid key)"},
      {R"(user said "hi")", R"( ! logfmt syntax error at pos 11 : unexpected '"')"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.line);
    EXPECT_EQ(Logfmt(c.line, {}, kStrict), c.want);
  }
  EXPECT_EQ(Logfmt("INFO a=1 b=x=y c=2", {}, {.strict = true, .keep_empty = true}),
            R"(INFO="", a="1" ! logfmt syntax error at pos 13 : unexpected '=')");
}

TEST(LogqlStagesLogfmt, Params) {
  std::vector<ExtractParam> params = {{"lvl", "level"}, {"msg", ""}, {"ab", "a.b"}, {"cd", "c_d"}};
  EXPECT_EQ(Logfmt(R"(level=warn msg="x y" other=1 a.b=2 c.d=3 msg=z)", params),
            R"(lvl="warn", msg="z", ab="2", cd="3")");
  EXPECT_EQ(Logfmt("other=1", params), "");
  EXPECT_EQ(Logfmt("level=warn a=\"open", params), R"(lvl="warn")");
  EXPECT_EQ(Logfmt("level=warn a=\"open", params, kStrict),
            R"(lvl="warn" ! logfmt syntax error at pos 19 : unterminated quoted value)");
  EXPECT_FALSE(LogfmtExtractor::Make({{"9x", ""}}).ok());
}

// A listed key that is in the line without a value gets "" without
// --keep-empty; one that is not in the line gets no label.
TEST(LogqlStagesLogfmt, ParamsKeepListedEmptyKeys) {
  const std::vector<ExtractParam> params = {{"host", ""}, {"fwd", "x-forwarded"}};
  EXPECT_EQ(Logfmt("INFO host x-forwarded=1.2.3.4", params), R"(host="", fwd="1.2.3.4")");
  EXPECT_EQ(Logfmt("host= other", params), R"(host="")");
  EXPECT_EQ(Logfmt("other=1", params), "");
  // An empty occurrence does not replace a value, except with --keep-empty.
  EXPECT_EQ(Logfmt("host=a host", params), R"(host="a")");
  EXPECT_EQ(Logfmt("host host=a", params), R"(host="a")");
  EXPECT_EQ(Logfmt("host=a host", params, kKeepEmpty), R"(host="")");
  EXPECT_EQ(Logfmt("host=\xFF", params), R"(host="")");
}

// Hinted extraction gives the labels plain `| logfmt` gives, limited to the
// hinted names, and fails on the same lines.
TEST(LogqlStagesLogfmt, Hinted) {
  const std::vector<std::string> names = {"a", "c", "k_x"};
  const char* lines[] = {"a=1 b=2 c d=", "c=3 a= k.x=9", "a=1 b=x=y c=2",
                         "b=\"open a=1", "k-x k.x=2 a",  "",
                         "a=1 a= a"};
  for (LogfmtOptions options :
       {LogfmtOptions{}, kStrict, kKeepEmpty, LogfmtOptions{.strict = true, .keep_empty = true}}) {
    auto plain = LogfmtExtractor::Make({}, options);
    ASSERT_TRUE(plain.ok());
    const LogfmtExtractor hinted = LogfmtExtractor::MakeHinted(names, options);
    const LogfmtExtractor none = LogfmtExtractor::MakeHinted({}, options);
    for (const char* line : lines) {
      SCOPED_TRACE(std::string(line) + (options.strict ? " strict" : "") +
                   (options.keep_empty ? " keep-empty" : ""));
      ExtractedLabels all, some, nothing;
      std::string e1, e2, e3;
      const bool ok = plain->Extract(line, &all, &e1);
      EXPECT_EQ(hinted.Extract(line, &some, &e2), ok);
      EXPECT_EQ(none.Extract(line, &nothing, &e3), ok);
      EXPECT_EQ(e2, e1);
      EXPECT_EQ(e3, e1);
      EXPECT_TRUE(nothing.empty());
      std::erase_if(all, [&](const auto& kv) {
        return std::find(names.begin(), names.end(), kv.first) == names.end();
      });
      EXPECT_EQ(Show(some), Show(all));
    }
  }
}

// ---------------------------------------------------------------------------
// | regexp

std::string Regexp(std::string_view re, std::string_view line) {
  auto x = RegexpExtractor::Make(re);
  if (!x.ok()) return "ERROR: " + std::string(x.status().message());
  ExtractedLabels out;
  if (!x->Extract(line, &out)) {
    EXPECT_TRUE(out.empty());
    return kNoMatch;
  }
  return Show(out);
}

TEST(LogqlStagesRegexp, Table) {
  struct Case {
    const char* re;
    const char* line;
    const char* want;
  } cases[] = {
      {R"((?P<method>\w+) (?P<path>\S+))", "GET /api 200", R"(method="GET", path="/api")"},
      {R"((?<ip>[\d.]+))", "from 10.0.0.1 ok", R"(ip="10.0.0.1")"},
      {R"((?P<method>\w+) (?P<path>\S+))", "xx!! GET /a", R"(method="GET", path="/a")"},
      {"(?P<a>a)?(?P<b>b)", "b", R"(b="b")"},
      {"(?P<a>x*)y", "y", R"(a="")"},
      {"(?P<a>x*)y", "", kNoMatch},
      {"(?P<a>x+)", "yyy", kNoMatch},
      {"(?P<1a>x)", "x", R"(_1a="x")"},
      {R"([(?<a>](?P<b>\d))", "(7", R"(b="7")"},  // "(?<" inside a class is not a group
      {R"(\(?<a>x(?P<b>y))", "<a>xy", R"(b="y")"},
      {"(?i)(?P<lvl>error)", "ERROR: x", R"(lvl="ERROR")"},
      {"(?P<a>.*)", "", R"(a="")"},
      {R"((\w+))", "x", "ERROR: regexp \"(\\w+)\" has no named capture group"},
      {R"([(?<a>])", "x", "ERROR: regexp \"[(?<a>]\" has no named capture group"},
      {"(?P<a>", "x", "ERROR: invalid regexp \"(?P<a>\": missing ): (?P<a>"},
      {"(?P<a>x)(?P<a>y)", "x",
       "ERROR: regexp \"(?P<a>x)(?P<a>y)\": duplicate capture group name \"a\""},
      {"(?P<_1a>x)(?P<1a>y)", "x",
       "ERROR: regexp \"(?P<_1a>x)(?P<1a>y)\": duplicate capture group name \"_1a\""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.re);
    std::string got = Regexp(c.re, c.line);
    if (std::string_view(c.want).starts_with("ERROR:")) {
      EXPECT_EQ(got.substr(0, std::string_view(c.want).size()), c.want);
    } else {
      EXPECT_EQ(got, c.want);
    }
  }
}

// ---------------------------------------------------------------------------
// | pattern, |> and !>

std::string Pattern(std::string_view pattern, std::string_view line) {
  auto m = PatternMatcher::Make(pattern, true);
  if (!m.ok()) return "ERROR: " + std::string(m.status().message());
  ExtractedLabels out = {{"pre", "x"}};
  bool matched = m->Extract(line, &out);
  EXPECT_EQ(matched, m->Match(line));
  if (!matched) {
    EXPECT_EQ(out.size(), 1u);
    return kNoMatch;
  }
  out.erase(out.begin());
  return Show(out);
}

TEST(LogqlStagesPattern, Extract) {
  struct Case {
    const char* pattern;
    const char* line;
    const char* want;
  } cases[] = {
      {R"(<ip> - <_> [<ts>] "<method> <path> <_>" <status>)",
       R"(127.0.0.1 - - [10/Oct/2000:13:55:36] "GET /a.gif HTTP/1.0" 200 2326)",
       R"(ip="127.0.0.1", ts="10/Oct/2000:13:55:36", method="GET", path="/a.gif", status="200 2326")"},
      {"level=<level> ", "level=info msg=x", R"(level="info")"},
      {"level=<level> ", "xlevel=info msg", kNoMatch},
      {"<a> end", "x end rest", R"(a="x")"},
      {"<a> end", "x en", kNoMatch},
      {"<a>,<b>", "1,2,3", R"(a="1", b="2,3")"},
      {"<a>:<b>", ":x", R"(a="", b="x")"},
      {"<a>", "", R"(a="")"},
      {"<a>", "whole line", R"(a="whole line")"},
      {"a < b <x>", "a < b 5", R"(x="5")"},
      {"<_> user=<user> <_>", "ts user=bob id=1", R"(user="bob")"},
      {"[<lvl>]", "[warn] x", R"(lvl="warn")"},
      {"[<lvl>]", "x [warn]", kNoMatch},
      {"<<tag>>", "<b>", R"(tag="b")"},
      {"<a> <>", "x <>", R"(a="x")"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    EXPECT_EQ(Pattern(c.pattern, c.line), c.want);
  }
}

TEST(LogqlStagesPattern, MatchWithoutNames) {
  auto m = PatternMatcher::Make("<_> error <_>", false);
  ASSERT_TRUE(m.ok()) << m.status().ToString();
  EXPECT_TRUE(m->Match("an error here"));
  EXPECT_TRUE(m->Match(" error "));
  EXPECT_FALSE(m->Match("no errors"));
  ExtractedLabels out;
  EXPECT_TRUE(m->Extract("an error here", &out));
  EXPECT_TRUE(out.empty());
  auto literal = PatternMatcher::Make("GET ", false);
  ASSERT_TRUE(literal.ok());
  EXPECT_TRUE(literal->Match("GET /x"));
  EXPECT_FALSE(literal->Match("POST /x"));
}

TEST(LogqlStagesPattern, Errors) {
  struct Case {
    const char* pattern;
    bool require_named;
    const char* want;
  } cases[] = {
      {"<a><b>", true, "consecutive captures <a><b> are not allowed at offset 3"},
      {"x <_><a>", false, "consecutive captures <_><a> are not allowed at offset 5"},
      {"<1a> x", true, "capture name \"1a\" is not a valid identifier at offset 0"},
      {"x <a-b>", true, "capture name \"a-b\" is not a valid identifier at offset 2"},
      {"no captures", true, "at least one named capture"},
      {"<_> only", true, "at least one named capture"},
      {"", false, "the pattern is empty"},
      {"<a> and <a>", true, "duplicate capture name \"a\" at offset 8"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    auto m = PatternMatcher::Make(c.pattern, c.require_named);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(m.status().message().find(c.want), std::string_view::npos) << m.status().message();
  }
  EXPECT_TRUE(PatternMatcher::Make("no captures", false).ok());
}

// ---------------------------------------------------------------------------
// unwrap conversions

TEST(LogqlStagesBytes, Table) {
  struct Case {
    const char* text;
    double want;
  } cases[] = {
      {"10", 10},          {"10B", 10},
      {"1.5KB", 1500},     {"2KiB", 2048},
      {"3MB", 3e6},        {"1GiB", 1073741824},
      {"4TB", 4e12},       {"10 kb", 10000},
      {"1kib", 1024},      {"5k", 5000},
      {"1,000", 1000},     {"1.5B", 1},
      {"2 MiB ", 2097152}, {"0", 0},
      {"1PB", 1e15},       {"1EiB", 1152921504606846976.0},
      {".5KB", 500},       {"7mi", 7340032},
      {"1b", 1},           {"2  GB", 2e9},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseBytes(c.text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_DOUBLE_EQ(*r, c.want);
  }
  for (const char* bad : {"", "KB", "-1KB", "10XB", " 10", "1.2.3", "abc", "1e3", "99999EB"}) {
    SCOPED_TRACE(bad);
    auto r = ParseBytes(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string_view::npos);
  }
}

TEST(LogqlStagesDuration, Table) {
  struct Case {
    const char* text;
    double want;
  } cases[] = {
      {"1h2m3.5s", 3723.5},
      {"250ms", 0.25},
      {"1.5s", 1.5},
      {"300us", 0.0003},
      {"300\xC2\xB5s", 0.0003},
      {"300\xCE\xBCs", 0.0003},
      {"-2s", -2},
      {"0", 0},
      {"+5m", 300},
      {"1ns", 1e-9},
      {".5s", 0.5},
      {"1.s", 1},
      {"2h45m", 9900},
      {"0s", 0},
      {"-0", 0},
      {"1.5h", 5400},
      {"1m1m", 120},
      {"2562047h", 2562047.0 * 3600},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseGoDurationSeconds(c.text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_DOUBLE_EQ(*r, c.want);
  }
  for (const char* bad : {"", "1", "1x", "s", ".s", "1d", "-", "1.2.3s", "9999999999h", " 1s",
                          "1s ", "1S", "3000000h"}) {
    SCOPED_TRACE(bad);
    auto r = ParseGoDurationSeconds(bad);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.status().message().find(std::string("\"") + bad + "\""), std::string_view::npos);
  }
}

TEST(LogqlStagesSampleValue, Table) {
  struct Case {
    const char* text;
    double want;
  } cases[] = {
      {"1", 1},           {"-1.5", -1.5},
      {"+2", 2},          {"1e3", 1000},
      {"1.5E-2", 0.015},  {".5", 0.5},
      {"5.", 5},          {"0", 0},
      {"-0.0", 0},        {"123456789012", 123456789012},
      {"+Inf", INFINITY}, {"-inf", -INFINITY},
      {"inf", INFINITY},  {"Infinity", INFINITY},
      {"+INF", INFINITY},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto r = ParseSampleValue(c.text);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_DOUBLE_EQ(*r, c.want);
  }
  for (const char* nan : {"NaN", "nan", "NAN"}) {
    auto r = ParseSampleValue(nan);
    ASSERT_TRUE(r.ok()) << nan;
    EXPECT_TRUE(std::isnan(*r));
  }
  for (const char* bad : {" 1", "1 ", "", "abc", "1e", "0x10", "--1", "+NaN", "1_000", "1e400", "+",
                          ".", "nan(1)", "1,5"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseSampleValue(bad).ok());
  }
}

// ---------------------------------------------------------------------------
// Templates

constexpr int64_t kTs = 1731596464123000000;  // 2024-11-14T15:01:04.123Z, a Thursday

const std::map<std::string, std::string, std::less<>>& DefaultLabels() {
  static const std::map<std::string, std::string, std::less<>> kLabels = {
      {"a", "x"}, {"s", "  hi  "}, {"n", "10"}, {"p", "/api/users"}, {"f", "2.5"},
      {"e", ""},  {"abc", "abc"},  {"re", "("}, {"nine", "9"},       {"ts", "1731596464"},
  };
  return kLabels;
}

// Renders `text` with DefaultLabels(), line "the line" and kTs; errors come
// back as "PARSE: <message>" or "RENDER: <message>".
std::string RenderText(std::string_view text) {
  auto t = Template::Make(text);
  if (!t.ok()) return "PARSE: " + std::string(t.status().message());
  TemplateInput in;
  in.label = [](std::string_view name) -> const std::string* {
    auto it = DefaultLabels().find(name);
    return it == DefaultLabels().end() ? nullptr : &it->second;
  };
  in.line = "the line";
  in.timestamp_ns = kTs;
  auto r = t->Render(in);
  if (!r.ok()) return "RENDER: " + std::string(r.status().message());
  return *r;
}

struct TemplateCase {
  const char* text;
  const char* want;
};

void RunCases(const std::vector<TemplateCase>& cases) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    EXPECT_EQ(RenderText(c.text), c.want);
  }
}

TEST(LogqlStagesTemplate, Basics) {
  RunCases({
      {"plain text", "plain text"},
      {"", ""},
      {"}} stray close braces stay text {", "}} stray close braces stay text {"},
      {"{{ .a }}", "x"},
      {"{{.a}}-{{ .missing }}-", "x--"},
      {R"({{ "str\t\"q\"\x41\u00e9\101" }})",
       "str\t\"q\"A\xC3\xA9"
       "A"},
      {"{{ `raw \\n \"q\"` }}", "raw \\n \"q\""},
      {"{{ \"}}\" }}", "}}"},
      {"{{ 42 }}|{{ 1.5 }}|{{ 3.0 }}|{{ -7 }}|{{ 0x1F }}|{{ 1e3 }}", "42|1.5|3|-7|31|1000"},
      {"{{ -9223372036854775808 }}|{{ 9223372036854775807 }}",
       "-9223372036854775808|9223372036854775807"},
      {"{{ 'a' }}|{{ '\\n' }}|{{ 1_000 }}|{{ 017 }}|{{ 0b101 }}|{{ 0o17 }}|{{ +5 }}",
       "97|10|1000|15|5|15|5"},
      {"{{ 1e21 }}|{{ 0.000001 }}|{{ 1.5e-7 }}|{{ 0.25 }}", "1e+21|1e-06|1.5e-07|0.25"},
      {"{{ true }}|{{ false }}", "true|false"},
      {"{{ .a | ToUpper }}", "X"},
      {R"({{ .p | trimPrefix "/api" | upper }})", "/USERS"},
      {R"({{ "world" | printf "hello %s" }})", "hello world"},
      {R"({{ .a | printf "%s-%s" "first" }})", "first-x"},
      {R"({{ printf "%s-%d" .a 3 }})", "x-3"},
      {"{{ ToUpper (trim .s) }}", "HI"},
      {R"({{ printf "%d" (add (mul 2 3) 1) }})", "7"},
      {"{{ (.a) }}|{{ (upper .a) | lower }}", "x|x"},
      {"{{ __line__ }}|{{ __line__ | upper }}", "the line|THE LINE"},
      {"{{ __timestamp__ }}", "2024-11-14T15:01:04.123Z"},
      {"{{ printf \"%s\" __line__ }}", "the line"},
      {"{{/* a comment */}}x{{- /* trimmed */ -}}  y", "xy"},
      {"a {{\n.a\n}} b", "a x b"},
  });
}

TEST(LogqlStagesTemplate, WhitespaceTrim) {
  RunCases({
      {"a  {{- .a -}}  b", "axb"},
      {"a {{- .a }} b", "ax b"},
      {"{{ .a -}}\n\n  b", "xb"},
      {"a \t\r\n{{- .a }}", "ax"},
      {"a\n{{- /* comment */ -}}\nb", "ab"},
      {"{{-3}}", "-3"},  // "{{-" without a space is a negative number
      {"{{ 3 }}-}}", "3-}}"},
      {"x {{- if .a }} yes {{- end }} .", "x yes ."},
      {"[ {{- \" a \" -}} ]", "[ a ]"},
  });
}

TEST(LogqlStagesTemplate, IfElse) {
  RunCases({
      {"{{ if .a }}yes{{ end }}", "yes"},
      {"{{ if .missing }}yes{{ end }}", ""},
      {"{{ if .e }}yes{{ else }}no{{ end }}", "no"},
      {R"({{ if eq .a "a" }}A{{ else if eq .a "x" }}X{{ else }}C{{ end }})", "X"},
      {R"({{ if eq .a "a" }}A{{ else if eq .a "b" }}B{{ else }}C{{ end }})", "C"},
      {R"({{ if eq .a "a" }}A{{ else if eq .a "b" }}B{{ end }}.)", "."},
      {R"({{ if .a }}{{ if .e }}1{{ else }}2{{ end }}{{ else }}3{{ end }})", "2"},
      {"{{ if 0 }}t{{ else }}f{{ end }}", "f"},
      {"{{ if 1.5 }}t{{ else }}f{{ end }}", "t"},
      {"{{ if 0.0 }}t{{ else }}f{{ end }}", "f"},
      {R"({{ if "" }}t{{ else }}f{{ end }})", "f"},
      {R"({{ if "0" }}t{{ else }}f{{ end }})", "t"},  // a non-empty string is true
      {"{{ if false }}t{{ else }}f{{ end }}", "f"},
      {"{{ if __timestamp__ }}t{{ end }}", "t"},
      {R"({{ if and .a (gt .n 5) }}big {{ .n }}{{ end }})", "big 10"},
      {R"({{ if or .e .missing }}t{{ else }}f{{ end }})", "f"},
      {R"({{ if not .e }}empty{{ end }})", "empty"},
      {"{{ if .a | eq \"x\" }}piped{{ end }}", "piped"},
  });
}

TEST(LogqlStagesTemplate, ComparisonAndLogic) {
  RunCases({
      {R"({{ eq .n "10.0" }})", "true"},
      {R"({{ lt .n .nine }})", "false"},  // numeric: 10 < 9 is false ("10" < "9" as strings)
      {R"({{ lt "abc" "abd" }})", "true"},
      {R"({{ lt "b" "10" }})", "false"},  // not both numbers: string order
      {"{{ gt 3 2.5 }}|{{ ge 2 2 }}|{{ le 3 2 }}|{{ lt 2 3 }}", "true|true|false|true"},
      {R"({{ ne "a" "b" }}|{{ ne 1 1.0 }}|{{ eq "1e1" 10 }})", "true|false|true"},
      {R"({{ eq .a "q" "r" "x" }}|{{ eq .a "q" "r" }})", "true|false"},
      {R"({{ eq .missing "" }}|{{ eq true true }})", "true|true"},
      {"{{ and 1 0 }}|{{ and 1 \"x\" }}|{{ and 1 2 3 }}", "0|x|3"},
      {R"({{ or "" "fallback" }}|{{ or "first" .missing }}|{{ or 0 "" }})", "fallback|first|"},
      {R"({{ not "" }}|{{ not 1 }}|{{ not false }})", "true|false|true"},
      {"{{ or 1 (div 1 0) }}|{{ and 0 (div 1 0) }}", "1|0"},  // no evaluation past the decision
      {"{{ .e | or \"piped\" }}", "piped"},
  });
}

TEST(LogqlStagesTemplate, StringFunctions) {
  RunCases({
      {R"({{ ToLower "ABC" }}|{{ ToUpper "abc" }}|{{ lower "AbC" }}|{{ upper "aBc" }})",
       "abc|ABC|abc|ABC"},
      {R"({{ title "hello wor-ld o'neil snake_case" }})", "Hello Wor-Ld O'Neil Snake_case"},
      {R"({{ trunc 3 "abcdef" }}|{{ trunc -2 "abcdef" }}|{{ trunc 10 "abc" }}|{{ trunc 2 "héllo" }})",
       "abc|ef|abc|hé"},
      {R"({{ trunc -10 "abc" }}|{{ trunc 0 "abc" }})", "abc|"},
      {R"({{ substr 1 3 "abcdef" }}|{{ substr -1 2 "abcdef" }}|{{ substr 2 -1 "abcdef" }})",
       "bc|ab|cdef"},
      {R"({{ substr 4 2 "abcdef" }}|{{ substr 2 100 "abcdef" }}|{{ substr 1 2 "héllo" }})",
       "|cdef|é"},
      {R"({{ replace "a" "b" "banana" }}|{{ replace "" "-" "ab" }}|{{ .a | replace "x" "y" }})",
       "bbnbnb|-a-b-|y"},
      {R"({{ Replace "aaa" "a" "b" 2 }}|{{ Replace "aaa" "a" "b" -1 }})", "bba|bbb"},
      {"[{{ trim .s }}]|[{{ trimSpace .s }}]|[{{ TrimSpace .s }}]", "[hi]|[hi]|[hi]"},
      {R"({{ trimAll "x" "xxhixx" }}|{{ trimLeft "x" "xxhixx" }}|{{ trimRight "x" "xxhixx" }})",
       "hi|hixx|xxhi"},
      {R"({{ trimAll "xy" "yxhiyx" }}|{{ trimAll "é" "éhié" }})", "hi|hi"},
      {R"({{ trimPrefix "x" "xxhi" }}|{{ trimSuffix "i" "hi" }}|{{ trimPrefix "z" "hi" }})",
       "xhi|h|hi"},
      {R"({{ Trim "xhix" "x" }}|{{ TrimLeft "xxhi" "x" }}|{{ TrimRight "hixx" "x" }})", "hi|hi|hi"},
      {R"({{ TrimPrefix "xxhi" "x" }}|{{ TrimSuffix "hixx" "x" }})", "xhi|hix"},
      {R"([{{ indent 2 "a\nb" }}]|[{{ nindent 2 "a" }}])", "[  a\n  b]|[\n  a]"},
      {R"({{ repeat 3 "ab" }}|{{ repeat 0 "ab" }})", "ababab|"},
      {R"({{ contains "ell" "hello" }}|{{ contains "z" "hello" }})", "true|false"},
      {R"({{ hasPrefix "he" "hello" }}|{{ hasSuffix "lo" "hello" }}|{{ hasPrefix "lo" "hello" }})",
       "true|true|false"},
      {R"({{ default "d" .e }}|{{ default "d" .a }}|{{ .e | default "d" }}|{{ default "d" 0 }})",
       "d|x|d|d"},
      {R"({{ default "d" }}|{{ default "d" false }}|{{ default "d" 1 }})", "d|d|1"},
      {R"({{ len "héllo" }}|{{ len .e }})", "6|0"},
      {R"([{{ alignLeft 5 "ab" }}]|{{ alignLeft 1 "ab" }}|[{{ alignRight 5 "ab" }}]|{{ alignRight 1 "ab" }})",
       "[ab   ]|a|[   ab]|b"},
      {R"({{ urlencode "a b&c=d/é~" }}|{{ urldecode "a+b%26c%3Dd%2F%C3%A9" }})",
       "a+b%26c%3Dd%2F%C3%A9~|a b&c=d/é"},
      {R"({{ b64enc "hello" }}|{{ b64enc "ab" }}|{{ b64enc "" }}|{{ b64dec "aGVsbG8=" }}|{{ b64dec "YWI=" }})",
       "aGVsbG8=|YWI=||hello|ab"},
      {R"({{ print "a" 1 2 "b" }}|{{ println "a" 1 }})", "a1 2b|a 1\n"},
  });
}

TEST(LogqlStagesTemplate, Regex) {
  RunCases({
      {R"x({{ regexReplaceAll "(a+)" "baaac" "<$1>" }})x", "b<aaa>c"},
      {R"x({{ regexReplaceAll "(a+)" "baaac" "${1}x" }})x", "baaaxc"},
      {R"x({{ regexReplaceAll "(a+)" "baaac" "$1x" }})x", "bc"},  // $1x names group "1x"
      {R"x({{ regexReplaceAll "(?P<n>a+)" "baaac" "[$n]" }}|{{ regexReplaceAll "(?<n>a+)" "xa" "${n}!" }})x",
       "b[aaa]c|xa!"},
      {R"x({{ regexReplaceAll "a" "banana" "$$" }}|{{ regexReplaceAll "a" "ab" "$" }})x",
       "b$n$n$|$b"},
      {R"x({{ regexReplaceAll "a*" "baaac" "-" }})x", "-b-c-"},
      {R"x({{ regexReplaceAll "^" "ab" "-" }}|{{ regexReplaceAll "$" "ab" "-" }})x", "-ab|ab-"},
      {R"x({{ regexReplaceAll "(\\w+)@(\\w+)" .mail "$2 at $1" }})x", ""},
      {R"x({{ regexReplaceAll "(a)|(b)" "ab" "[$1$2]" }})x", "[a][b]"},
      {R"x({{ regexReplaceAllLiteral "a" "banana" "$1" }})x", "b$1n$1n$1"},
      {R"x({{ __line__ | regexReplaceAll "\\s+" "" }})x", ""},  // piped value is the replacement
      {R"x({{ regexReplaceAll "l+" __line__ "L" }})x", "the Line"},
      {R"x({{ count "a" "banana" }}|{{ count "a*" "baaac" }}|{{ count "z" "abc" }}|{{ "banana" | count "an" }})x",
       "3|3|0|2"},
      {R"x({{ regexReplaceAll .abc "xabcx" "-" }})x", "x-x"},  // a regex from a label
  });
}

TEST(LogqlStagesTemplate, Numbers) {
  RunCases({
      {"{{ int \"3.7\" }}|{{ int \"42\" }}|{{ int .e }}|{{ int 2.9 }}|{{ int -2.9 }}",
       "3|42|0|2|-2"},
      {"{{ float64 \"2.5\" }}|{{ float64 3 }}|{{ float64 .f }}", "2.5|3|2.5"},
      {"{{ add 1 2 3 }}|{{ add \"2\" 3 }}|{{ add }}|{{ add .n 1.9 }}", "6|5|0|11"},
      {"{{ sub 5 7 }}|{{ mul 2 3 4 }}|{{ div 7 2 }}|{{ div -7 2 }}", "-2|24|3|-3"},
      {"{{ mod 7 3 }}|{{ mod -7 3 }}|{{ add 9223372036854775807 1 }}", "1|-1|-9223372036854775808"},
      {"{{ addf 0.1 0.2 }}|{{ addf 1.5 2 }}|{{ subf 1 0.9 }}|{{ mulf 1.1 3 }}", "0.3|3.5|0.1|3.3"},
      {"{{ addf 1 2 3.5 }}|{{ subf 10 1 2 }}|{{ mulf 2 2.5 3 }}|{{ divf 100 4 5 }}", "6.5|7|15|5"},
      {"{{ divf 1 3 }}|{{ divf 10 4 }}|{{ mulf .f 2 }}", "0.3333333333333333|2.5|5"},
      {"{{ ceil 1.2 }}|{{ floor 1.8 }}|{{ ceil -1.2 }}|{{ floor \"2.5\" }}", "2|1|-1|2"},
      {"{{ round 2.5 0 }}|{{ round 1.2345 2 }}|{{ round -2.5 0 }}|{{ round 1.26 1 0.7 }}",
       "3|1.23|-3|1.2"},
      {"{{ max 1 5 3 }}|{{ min 4 2 8 }}|{{ maxf 1.5 2.5 }}|{{ minf 1.5 2.5 }}|{{ max .n 3 }}",
       "5|2|2.5|1.5|10"},
      {"{{ abs -3 }}|{{ abs -2.5 }}|{{ abs \"-4\" }}|{{ abs 0 }}", "3|2.5|4|0"},
      {"{{ bytes \"1KiB\" }}|{{ duration \"1m30s\" }}|{{ duration_seconds \"250ms\" }}",
       "1024|90|0.25"},
      {"{{ add (int .f) 1 }}|{{ div (mul .n 3) 4 }}", "3|7"},
  });
}

TEST(LogqlStagesTemplate, Time) {
  RunCases({
      {"{{ __timestamp__ | unixEpoch }}", "1731596464"},
      {"{{ __timestamp__ | unixEpochMillis }}|{{ unixEpochNanos __timestamp__ }}",
       "1731596464123|1731596464123000000"},
      {R"({{ date "2006-01-02T15:04:05Z07:00" __timestamp__ }})", "2024-11-14T15:01:04Z"},
      {R"({{ __timestamp__ | date "Mon Jan _2 15:04:05 MST 2006" }})",
       "Thu Nov 14 15:01:04 UTC 2024"},
      {R"({{ date "15:04:05.000|.000000|.999999999|,000" __timestamp__ }})",
       "15:01:04.123|.123000|.123|,123"},
      {R"({{ date "3:04PM 03 pm" __timestamp__ }})", "3:01PM 03 pm"},
      {R"({{ date "Monday, January 2 06/01/02 002 __2 _2006" __timestamp__ }})",
       "Thursday, November 14 24/11/14 319 319 _2024"},
      {R"({{ date "2006-01-02 15:04:05.999999999 -0700 -07:00 Z0700 .99" __timestamp__ }})",
       "2024-11-14 15:01:04.123 +0000 +00:00 Z .12"},
      {R"({{ date "2006-01-02" 86400 }}|{{ date "2006.000" 0 }})", "1970-01-02|1970.000"},
      {R"({{ unixToTime .ts | unixEpoch }}|{{ unixToTime "1731596464123" | unixEpochMillis }})",
       "1731596464|1731596464123"},
      {R"({{ unixToTime "19999" | date "2006-01-02" }})", "2024-10-03"},
      {R"({{ printf "%v" __timestamp__ }})", "2024-11-14T15:01:04.123Z"},
  });
}

TEST(LogqlStagesTemplate, Printf) {
  RunCases({
      {R"({{ printf "%s|%d|%v" "x" 3 1.5 }})", "x|3|1.5"},
      {R"({{ printf "%5s|%-5s|" "x" "x" }})", "    x|x    |"},
      {R"({{ printf "%05d|%x|%X|%o|%b|%#x" 42 255 255 8 5 255 }})", "00042|ff|FF|10|101|0xff"},
      {R"({{ printf "%x|%X" "hi" "hi" }})", "6869|6869"},
      {R"({{ printf "%q" "a\"b\n" }})", R"("a\"b\n")"},
      {R"({{ printf "%.2f|%f|%6.2f|%-7.1f|" 3.14159 1 3.14159 2.26 }})",
       "3.14|1.000000|  3.14|2.3    |"},
      {R"({{ printf "%e|%g|%g|%g|%.3g" 1234.5678 1e6 123456.0 0.0001 1234.5678 }})",
       "1.234568e+03|1e+06|123456|0.0001|1.23e+03"},
      {R"({{ printf "100%%" }}|{{ printf "%+d|% d|%+.1f" 5 5 2.0 }})", "100%|+5| 5|+2.0"},
      {R"({{ printf "%d" "abc" }}|{{ printf "%d" }}|{{ printf "%s" "a" "b" 3 }})",
       "%!d(string=abc)|%!d(MISSING)|a%!(EXTRA string=b, int=3)"},
      {R"({{ printf "%d|%.1f|%s" .n .f .n }})", "10|2.5|10"},  // number strings accepted
      {R"({{ printf "%t|%c|%z|%d" true 65 1 1.5 }})", "true|A|%!z(int=1)|%!d(float64=1.5)"},
      {R"({{ printf "%.3s|%5.1s|" "abcdef" "xyz" }})", "abc|    x|"},
      {R"({{ printf "%v|%s|%d" true 2.0 3.0 }})", "true|2|3"},
      {R"({{ printf "%f|%v" (mulf 2.5 4) (float64 "+Inf") }})", "10.000000|+Inf"},
      {R"({{ printf "trailing %" }})", "trailing %!(NOVERB)"},
  });
}

TEST(LogqlStagesTemplate, ReferencedLabels) {
  auto t = Template::Make(
      R"({{ .a }} {{ if .b }}{{ .a | upper }}{{ else }}{{ printf "%s" (lower .c) }}{{ end }}{{ __line__ }})");
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ(t->referenced_labels(), (std::vector<std::string>{"a", "b", "c"}));
  auto none = Template::Make("text {{ __line__ }}");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->referenced_labels().empty());
}

TEST(LogqlStagesTemplate, ParseErrors) {
  struct Case {
    const char* text;
    const char* want;  // the whole message
  } cases[] = {
      {"{{ .a ", "template error at offset 0: unclosed action"},
      {"x {{ foo }}", "template error at offset 5: function \"foo\" not defined"},
      {"{{ end }}", "template error at offset 0: unexpected {{end}} without {{if}}"},
      {"ab{{ else }}", "template error at offset 2: unexpected {{else}} without {{if}}"},
      {"{{ if .a }}x", "template error at offset 0: {{if}} without a matching {{end}}"},
      {"{{ if .a }}x{{ else }}y", "template error at offset 0: {{if}} without a matching {{end}}"},
      {"{{ if .a }}x{{ else }}y{{ else }}z{{ end }}",
       "template error at offset 23: expected {{end}}, found a second {{else}}"},
      {"{{ if }}x{{ end }}", "template error at offset 0: missing condition in {{if}}"},
      {"{{ }}", "template error at offset 0: missing value for command"},
      {"{{ .a | }}", "template error at offset 6: missing value for command"},
      {"{{ | .a }}", "template error at offset 3: missing value for command"},
      {"{{ \"unterminated }}", "template error at offset 3: unterminated quoted string"},
      {"{{ `raw }}", "template error at offset 3: unterminated raw quoted string"},
      {"{{ ToUpper }}",
       "template error at offset 3: wrong number of arguments for ToUpper: want 1 got 0"},
      {"{{ printf }}",
       "template error at offset 3: wrong number of arguments for printf: want at least 1 got 0"},
      {"{{ .a | trunc 1 2 }}",
       "template error at offset 8: wrong number of arguments for trunc: want 2 got 3"},
      {"{{ round 1 }}",
       "template error at offset 3: wrong number of arguments for round: want 2 to 3 got 1"},
      {"{{ .a .b }}", "template error at offset 6: can't give an argument to a non-function"},
      {"{{ .a | .b }}",
       "template error at offset 8: pipeline stage 2 is not a function call (a piped value needs a "
       "function)"},
      {"{{ printf \"%s\".a }}", "template error at offset 14: missing space between operands"},
      {"{{ upper(.a) }}", "template error at offset 8: missing space between operands"},
      {"{{ (upper .a }}", "template error at offset 3: unclosed left parenthesis"},
      {"{{ upper .a) }}", "template error at offset 11: unexpected right parenthesis"},
      {"{{ $x := 1 }}", "template error at offset 3: variables ($x) are not supported"},
      {"{{ range .a }}{{ end }}", "template error at offset 3: {{range}} is not supported"},
      {"{{ with .a }}{{ end }}", "template error at offset 3: {{with}} is not supported"},
      {"{{ .a.b }}",
       "template error at offset 5: nested field access (.a.b) is not supported: labels are "
       "strings"},
      {"{{ . }}",
       "template error at offset 3: {{.}} (dot) is not supported: name a label, as in {{.label}}"},
      {"{{ 12ab }}", "template error at offset 3: bad number syntax: 12ab"},
      {"{{ 99999999999999999999 }}",
       "template error at offset 3: integer overflow: 99999999999999999999"},
      {"{{ -9223372036854775809 }}",
       "template error at offset 3: integer overflow: -9223372036854775809"},
      {"{{ 0x }}", "template error at offset 3: bad number syntax: 0x"},
      {"{{ regexReplaceAll \"(\" .a \"x\" }}",
       "template error at offset 19: invalid regexp \"(\": missing ): ("},
      {"{{ \"\\q\" }}", "template error at offset 4: invalid escape sequence"},
      {"{{ 'ab' }}", "template error at offset 3: malformed character constant"},
      {"{{ nil }}", "template error at offset 3: nil is not a command"},
      {"{{/* unclosed ", "template error at offset 0: unclosed comment"},
      {"{{/* c */ x}}", "template error at offset 9: comment ends before closing delimiter"},
      {"{{ if .a }}{{ end .b }}", "template error at offset 18: unexpected operand in {{end}}"},
      {"{{ if .a }}{{ else .b }}{{ end }}",
       "template error at offset 19: unexpected operand after {{else}} (expected {{else if ...}})"},
      {"{{ upper lower }}",
       "template error at offset 9: wrong number of arguments for lower: want 1 got 0"},
      {"{{ if else }}{{ end }}", "template error at offset 6: unexpected keyword \"else\""},
      {"{{ .a = 1 }}", "template error at offset 6: unexpected \"=\" in action"},
      {"{{ - }}", "template error at offset 3: unexpected \"-\" in action"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto t = Template::Make(c.text);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(t.status().message(), c.want);
  }
}

TEST(LogqlStagesTemplate, NestingLimits) {
  std::string ifs;
  for (int i = 0; i < 50; ++i) ifs += "{{ if 1 }}";
  ifs += "deep";
  for (int i = 0; i < 50; ++i) ifs += "{{ end }}";
  EXPECT_EQ(RenderText(ifs), "deep");
  std::string too_many;
  for (int i = 0; i < 1000; ++i) too_many += "{{ if 1 }}";
  EXPECT_EQ(RenderText(too_many), "PARSE: template error at offset 1000: {{if}} nested too deeply");
  std::string parens = "{{ " + std::string(1000, '(') + "1" + std::string(1000, ')') + " }}";
  EXPECT_EQ(RenderText(parens),
            "PARSE: template error at offset 103: parentheses nested too deeply");
  EXPECT_EQ(RenderText("{{ " + std::string(50, '(') + "1" + std::string(50, ')') + " }}"), "1");
}

TEST(LogqlStagesTemplate, RenderErrors) {
  RunCases({
      {"ok {{ add .abc 1 }}", "RENDER: template error at offset 6: add: \"abc\" is not a number"},
      {"{{ div 1 0 }}", "RENDER: template error at offset 3: div: integer divide by zero"},
      {"{{ mod 1 0 }}|{{ divf 1 0 }}",
       "RENDER: template error at offset 3: mod: integer divide by zero"},
      {"{{ divf 1 0 }}", "RENDER: template error at offset 3: divf: division by zero"},
      {"{{ unixEpoch .a }}",
       "RENDER: template error at offset 3: unixEpoch: needs a time such as __timestamp__, got "
       "string \"x\""},
      {"{{ b64dec \"!!\" }}",
       "RENDER: template error at offset 3: b64dec: illegal base64 data at input byte 0"},
      {"{{ b64dec \"aGVsbG8\" }}",
       "RENDER: template error at offset 3: b64dec: illegal base64 data at input byte 4"},
      {"{{ urldecode \"%zz\" }}",
       "RENDER: template error at offset 3: urldecode: invalid URL escape \"%zz\""},
      {"{{ regexReplaceAll .re .a \"x\" }}",
       "RENDER: template error at offset 3: regexReplaceAll: invalid regexp \"(\": missing ): ("},
      {"{{ repeat 100000000 \"abc\" }}",
       "RENDER: template error at offset 3: repeat: repeat result would exceed 16777216 bytes"},
      {"{{ repeat -1 \"abc\" }}",
       "RENDER: template error at offset 3: repeat: negative repeat count"},
      {"{{ len 3 }}", "RENDER: template error at offset 3: len: len of type int"},
      {"{{ if gt (float64 .a) 1 }}x{{ end }}",
       "RENDER: template error at offset 10: float64: \"x\" is not a number"},
      {"{{ unixToTime \"123\" }}",
       "RENDER: template error at offset 3: unixToTime: unable to parse time \"123\""},
      {"{{ int 1e300 }}",
       "RENDER: template error at offset 3: int: 1e+300 does not fit an integer"},
  });
}

TEST(LogqlStagesTemplate, CopiesShareAndRenderConcurrently) {
  auto made = Template::Make(R"({{ .a | upper }}-{{ regexReplaceAll "[0-9]" __line__ "#" }})");
  ASSERT_TRUE(made.ok());
  Template copy = *made;
  std::vector<std::thread> threads;
  std::vector<std::string> results(8);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&, i] {
      std::string value = "v" + std::to_string(i);
      TemplateInput in;
      in.label = [&](std::string_view) { return &value; };
      std::string line = "line " + std::to_string(i * 11);
      in.line = line;
      for (int k = 0; k < 200; ++k) {
        auto r = (i % 2 == 0 ? copy : *made).Render(in);
        results[i] = r.ok() ? *r : r.status().ToString();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(results[0], "V0-line #");
  EXPECT_EQ(results[3], "V3-line ##");
  // A template without a label function renders absent labels as "".
  auto r = copy.Render(TemplateInput{});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, "-");
}

// Random input never crashes (run it under ASan) and failures append nothing.
TEST(LogqlStagesRandom, NoCrashes) {
  std::mt19937 rng(7);
  const std::string alphabet = "{}[]\"\\:,.<>_-=|()$%`' \t\nabcxyz0123456789eE+\xC3\xA9\xFF";
  auto random_text = [&](size_t max_len) {
    std::string s(rng() % max_len, ' ');
    for (char& c : s) c = alphabet[rng() % alphabet.size()];
    return s;
  };
  auto json = JsonExtractor::Make({});
  auto json_paths = JsonExtractor::Make({{"a", "a.b"}, {"c", "c[1]"}});
  auto logfmt = LogfmtExtractor::Make({});
  auto logfmt_strict = LogfmtExtractor::Make({}, {.strict = true, .keep_empty = false});
  ASSERT_TRUE(json.ok() && json_paths.ok() && logfmt.ok() && logfmt_strict.ok());
  const std::vector<std::string> seeds = {R"({"a":{"b":[1,"x"]},"c":[0,{"d":null}]})",
                                          R"(a=1 b="x y" c)",
                                          "{{ if .a }}{{ .b | upper }}{{ end }}"};
  TemplateInput in;
  std::string value = "v";
  in.label = [&](std::string_view) { return &value; };
  for (int iter = 0; iter < 20000; ++iter) {
    std::string text = random_text(40);
    if (iter % 3 == 0) {
      // Mutate a valid input instead: more of the parsers' paths get exercised.
      text = seeds[rng() % seeds.size()];
      for (int k = 0; k < 3; ++k) text[rng() % text.size()] = alphabet[rng() % alphabet.size()];
    }
    for (const auto* x : {&*json, &*json_paths}) {
      ExtractedLabels out = {{"keep", "me"}};
      bool ok = x->Extract(text, &out);
      ASSERT_TRUE(ok || out.size() == 1u) << text;
    }
    ExtractedLabels out = {{"keep", "me"}};
    ASSERT_TRUE(logfmt->Extract(text, &out)) << text;  // only --strict fails
    ExtractedLabels strict_out = {{"keep", "me"}};
    std::string error;
    if (!logfmt_strict->Extract(text, &strict_out, &error)) {
      ASSERT_TRUE(error.starts_with("logfmt syntax error at pos ")) << text;
    } else {
      ASSERT_EQ(Show(strict_out), Show(out)) << text;  // no malformed pair: the same labels
    }
    std::set<std::string> names;  // every name once
    for (const auto& kv : strict_out) ASSERT_TRUE(names.insert(kv.first).second) << text;
    if (auto p = PatternMatcher::Make(text, false); p.ok()) {
      std::string line = random_text(30);
      ExtractedLabels pout;
      bool matched = p->Extract(line, &pout);
      ASSERT_EQ(matched, p->Match(line)) << text << " / " << line;
      ASSERT_TRUE(matched || pout.empty());
    }
    if (auto t = Template::Make(text); t.ok()) {
      in.line = text;
      (void)t->Render(in);
    }
    (void)ParseBytes(text);
    (void)ParseGoDurationSeconds(text);
    (void)ParseSampleValue(text);
  }
}

}  // namespace
}  // namespace lode::logql
