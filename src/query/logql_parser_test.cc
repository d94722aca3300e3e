// Tests of the LogQL parser: valid queries round-trip through ToString, a
// subset against their expected canonical text; invalid queries give the
// expected error with line and column; operator precedence.
#include "query/logql_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lode {
namespace {

// Parses `q` and returns its canonical text, or "ERROR: <message>".
std::string Canon(std::string_view q) {
  auto r = ParseLogql(q);
  if (!r.ok()) return "ERROR: " + std::string(r.status().message());
  return ToString(*r);
}

struct ValidCase {
  const char* query;
  const char* canonical;  // nullptr: only the round trip is checked
};

// Mostly from the Grafana Loki documentation (LogQL log and metric queries).
const ValidCase kValid[] = {
    // Stream selectors.
    {R"({app="foo"})", R"({app="foo"})"},
    {R"({})", R"({})"},
    {R"({ app = "mysql" , name =~ "mysql-.+" ,})", R"({app="mysql", name=~"mysql-.+"})"},
    {R"({app!="foo", env!~"dev|test"})", nullptr},
    {R"({job="mysql"} |= "error")", nullptr},
    {"{name=~`mysql-\\d+`}", R"({name=~"mysql-\\d+"})"},
    // Line filters.
    {R"({app="foo"} |= "error" != "timeout")", R"({app="foo"} |= "error" != "timeout")"},
    {R"(|= "error")", R"({} |= "error")"},
    {R"(!~ "debug|trace")", nullptr},
    {R"({job="mysql"} |= "error" or "warn" != "timeout" or "canceled")",
     R"({job="mysql"} |= "error" or "warn" != "timeout" or "canceled")"},
    {R"({instance=~"kafka-[23]",name="kafka"} != "kafka.server:type=ReplicaManager")", nullptr},
    {R"({name="cassandra"} |~ `error=\w+` |= "x")", R"({name="cassandra"} |~ "error=\\w+" |= "x")"},
    {R"({job="x"} |> "<_> level=error <_>" !> "<_> path=/health <_>")", nullptr},
    {R"({a="b"} |= "tab\there" |= "quote\"d" |= "uni\u00e9")",
     "{a=\"b\"} |= \"tab\\there\" |= \"quote\\\"d\" |= \"uni\xc3\xa9\""},
    // Parsers.
    {R"({app="a"} | json)", R"({app="a"} | json)"},
    {R"({app="a"} | json first_server="servers[0]", ua="request.headers[\"User-Agent\"]")",
     nullptr},
    {R"({app="a"} | logfmt)", nullptr},
    {R"({app="a"} | logfmt host, fwd_ip="fwd")", R"({app="a"} | logfmt host, fwd_ip="fwd")"},
    // Loki's logfmt flags, printed --strict first.
    {R"({app="a"} | logfmt --strict)", R"({app="a"} | logfmt --strict)"},
    {R"({app="a"} | logfmt --keep-empty | x="")", R"({app="a"} | logfmt --keep-empty | x="")"},
    {R"({app="a"} | logfmt --keep-empty --strict host, fwd_ip="fwd")",
     R"({app="a"} | logfmt --strict --keep-empty host, fwd_ip="fwd")"},
    {R"({app="a"} | logfmt --strict --strict)", R"({app="a"} | logfmt --strict)"},
    {"{app=\"a\"}\n  | logfmt\n    --strict", R"({app="a"} | logfmt --strict)"},
    {R"(sum by (x) (count_over_time({app="a"} | logfmt --strict | __error__="" [1m])))", nullptr},
    {R"x({job="nginx"} | regexp "(?P<method>\\w+) (?P<path>[\\w|/]+)")x", nullptr},
    {R"({} | pattern "<ip> - - <_> \"<method> <path> <_>\" <status>")",
     R"({} | pattern "<ip> - - <_> \"<method> <path> <_>\" <status>")"},
    {"{job=\"x\"} | pattern `<_> <status> <_>`", R"({job="x"} | pattern "<_> <status> <_>")"},
    // Label filters.
    {R"({app="a"} | json | latency_ms > 500 and status=~"5..")",
     R"({app="a"} | json | latency_ms > 500 and status=~"5..")"},
    {R"({app="a"} | logfmt | duration > 10s or bytes >= 1KB)",
     R"({app="a"} | logfmt | duration > 10s or bytes >= 1KB)"},
    {R"({job="x"} | logfmt | duration >= 20ms or size == 20kb and method!~"2..")", nullptr},
    {R"({job="x"} | logfmt | (duration >= 20ms or method="GET") and size <= 20KB)",
     R"({job="x"} | logfmt | (duration >= 20ms or method="GET") and size <= 20KB)"},
    {R"({job="x"} | logfmt | level="error", status = 500)",
     R"({job="x"} | logfmt | level="error" and status == 500)"},
    {R"({job="x"} | json | took >= 1m30s | retries != 0 | ratio < -0.5)",
     R"({job="x"} | json | took >= 1m30s | retries != 0 | ratio < -0.5)"},
    {R"({job="x"} | logfmt | size > 1.5MiB | size <= 2GB)", nullptr},
    {R"({job="x"} | pattern_id = "p-42")", R"({job="x"} | pattern_id="p-42")"},
    {R"({job="x"} | json | pattern_id != "p-1" | __error__="")", nullptr},
    {R"({job="x"} | logfmt | a="1" and (b="2" or (c="3" and d="4")))", nullptr},
    // Formatting and label manipulation.
    {R"({app="a"} | line_format "{{.msg}}" | label_format lvl=level)",
     R"({app="a"} | line_format "{{.msg}}" | label_format lvl=level)"},
    {R"({app="a"} | label_format foo=bar, msg="{{.status}} {{.query}}")", nullptr},
    {R"({app="a"} | drop level, instance="x" | keep service)",
     R"({app="a"} | drop level, instance="x" | keep service)"},
    {R"({app="a"} | json | drop __error__, __error_details__ | keep level, method=~"GET|POST")",
     nullptr},
    {"{app=\"a\"} | line_format `{{ .level | ToUpper }} {{.msg}}`", nullptr},
    // Unwrap.
    {R"({app="a"} | logfmt | unwrap duration(response_latency))", nullptr},
    {R"({app="a"} | logfmt | unwrap bytes(body_size) | __error__="")", nullptr},
    // Range aggregations.
    {R"(count_over_time({job="mysql"}[5m]))", R"(count_over_time({job="mysql"} [5m]))"},
    {R"(rate({job="x"} |= "err" [5m]))", nullptr},
    {R"(rate({job="x"}[5m] |= "err"))", R"(rate({job="x"} |= "err" [5m]))"},
    {R"(bytes_over_time({job="x"}[1h]))", nullptr},
    {R"(bytes_rate({job="x"}[30s]))", nullptr},
    {R"(absent_over_time({job="x"}[1h]))", nullptr},
    {R"(count_over_time({job="mysql"}[5m] offset 1h))",
     R"(count_over_time({job="mysql"} [5m] offset 1h))"},
    {R"(count_over_time(|= "err" [90s]))", R"(count_over_time({} |= "err" [1m30s]))"},
    {R"(sum_over_time({app="a"} | logfmt | unwrap bytes [1m]))", nullptr},
    {R"(avg_over_time({app="a"} | json | unwrap latency [1m]) by (host))", nullptr},
    {R"(max_over_time({app="a"} | logfmt | unwrap duration(d) | __error__="" [1m]) by (host))",
     nullptr},
    {R"(min_over_time({app="a"} | json | unwrap x [1m]))", nullptr},
    {R"(stddev_over_time({app="a"} | json | unwrap x [1m]) without (pod))", nullptr},
    {R"(stdvar_over_time({app="a"} | json | unwrap x [1m]))", nullptr},
    {R"(first_over_time({app="a"} | json | unwrap x [1m]))", nullptr},
    {R"(last_over_time({app="a"} | json | unwrap x [1m]))", nullptr},
    {R"(quantile_over_time(0.99, {app="a"} | json | unwrap latency_ms [5m]) by (service))",
     R"(quantile_over_time(0.99, {app="a"} | json | unwrap latency_ms [5m]) by (service))"},
    {R"(rate({app="a"} | logfmt | unwrap bytes_processed [1m]))", nullptr},
    // Vector aggregations.
    {R"(sum by (service) (rate({job="x"} |= "err" [5m])))",
     R"(sum by (service) (rate({job="x"} |= "err" [5m])))"},
    {R"(sum(rate({job="x"}[5m])) by (service, host))",
     R"(sum by (service, host) (rate({job="x"} [5m])))"},
    {R"(topk(3, sum by (service) (count_over_time({}[1h]))))",
     R"(topk(3, sum by (service) (count_over_time({} [1h]))))"},
    {R"(bottomk by (region) (10, avg(rate({a="b"}[1m]))))", nullptr},
    {R"(avg without (pod) (rate({a="b"}[1m])))", nullptr},
    {R"(count(count_over_time({a="b"}[1m])))", nullptr},
    {R"(min(rate({a="b"}[1m])))", nullptr},
    {R"(max by () (rate({a="b"}[1m])))", nullptr},
    {R"(stddev(rate({a="b"}[1m])))", nullptr},
    {R"(stdvar(rate({a="b"}[1m])))", nullptr},
    {R"(sum by (host) (rate({job="mysql"} |= "error" != "timeout" | json | duration > 10s [1m])))",
     nullptr},
    // Binary operators.
    {R"(sum(rate({a="b"}[1m])) / sum(rate({a="b"}[1m])) > bool 0.1)",
     R"(sum(rate({a="b"} [1m])) / sum(rate({a="b"} [1m])) > bool 0.1)"},
    {R"(sum(rate({app="foo", level="error"}[1m])) / sum(rate({app="foo"}[1m])))", nullptr},
    {R"(sum(rate({app="foo"}[1m])) * 100)", nullptr},
    {R"(count_over_time({a="b"}[1m]) > 10)", nullptr},
    {R"(rate({a="b"}[1m]) or rate({c="d"}[1m]))", nullptr},
    {R"(rate({a="b"}[1m]) and rate({c="d"}[1m]) unless rate({e="f"}[1m]))", nullptr},
    {R"((1 + 2) * 3)", R"((1 + 2) * 3)"},
    {R"(2 ^ 3 ^ 2)", R"(2 ^ 3 ^ 2)"},
    {R"((2 ^ 3) ^ 2)", R"((2 ^ 3) ^ 2)"},
    {R"(1 - (2 - 3))", R"(1 - (2 - 3))"},
    {R"(((1)))", "1"},
    {R"(-1 + +2.5 * 1e3 % 7)", R"(-1 + 2.5 * 1000 % 7)"},
    {"# a comment\nsum(\n  rate({a=\"b\"}[1m])  # trailing\n)", R"(sum(rate({a="b"} [1m])))"},
};

TEST(LogqlParserTest, ValidQueriesRoundTrip) {
  EXPECT_GE(std::size(kValid), 60u);
  for (const ValidCase& c : kValid) {
    SCOPED_TRACE(c.query);
    auto r = ParseLogql(c.query);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    std::string canon = ToString(*r);
    if (c.canonical != nullptr) {
      EXPECT_EQ(canon, c.canonical);
    }
    EXPECT_EQ(Canon(canon), canon);
  }
}

struct InvalidCase {
  const char* query;
  const char* error;  // the full message
};

const InvalidCase kInvalid[] = {
    {"", "parse error at line 1, col 1: expected expression, got end of query"},
    {R"({app="foo")", R"(parse error at line 1, col 11: expected "}" or ",", got end of query)"},
    {R"({app="foo" |= "x")", R"(parse error at line 1, col 12: expected "}" or ",", got "|=")"},
    {R"({app})", R"(parse error at line 1, col 5: expected "=", "!=", "=~" or "!~", got "}")"},
    {R"({app=foo})", R"(parse error at line 1, col 6: expected string, got identifier "foo")"},
    {R"({="x"})", R"(parse error at line 1, col 2: expected label name, got "=")"},
    {R"({app="foo)", "parse error at line 1, col 6: unterminated string"},
    {"{app=`foo}", "parse error at line 1, col 6: unterminated string"},
    {"{app=\"a\nb\"}", "parse error at line 1, col 6: unterminated string"},
    {R"({app="a\qb"})", R"(parse error at line 1, col 8: invalid escape "\q" in string)"},
    {R"({app="\u12"})", "parse error at line 1, col 7: invalid escape in string"},
    {R"(count_over({app="a"}[5m]))",
     R"(parse error at line 1, col 1: unknown function "count_over")"},
    {R"(foo)", R"(parse error at line 1, col 1: expected expression, got identifier "foo")"},
    {R"({app="a"} |= error)",
     R"(parse error at line 1, col 14: expected string, got identifier "error")"},
    {R"({app="a"} | )",
     "parse error at line 1, col 13: expected pipeline stage or label filter, got end of query"},
    {R"({app="a"} | json | x >)",
     "parse error at line 1, col 23: expected string, number, duration or bytes, got end of query"},
    {R"({app="a"} | json | x =~ 5)",
     "parse error at line 1, col 25: expected string, got number 5"},
    {R"({app="a"} | json | x > "5")",
     R"(parse error at line 1, col 24: expected number, duration or bytes, got string "5")"},
    {R"({app="a"} | json | x)",
     "parse error at line 1, col 21: expected label filter operator, got end of query"},
    {R"x({app="a"} | json | (x > 1)x",
     R"x(parse error at line 1, col 26: expected ")", got end of query)x"},
    {R"({app="a"} | regexp)", "parse error at line 1, col 19: expected string, got end of query"},
    {R"({app="a"} | unwrap)",
     "parse error at line 1, col 19: expected label name, got end of query"},
    {R"({app="a"} | unwrap seconds(x))",
     R"(parse error at line 1, col 20: unknown unwrap conversion "seconds")"},
    {R"({app="a"} | label_format a)",
     R"(parse error at line 1, col 27: expected "=", got end of query)"},
    {R"({app="a"} | label_format a=5)",
     "parse error at line 1, col 28: expected label name or string, got number 5"},
    {R"({app="a"} | drop a,)",
     "parse error at line 1, col 20: expected label name, got end of query"},
    {R"x(rate({app="a"}))x", R"x(parse error at line 1, col 15: expected "[", got ")")x"},
    {R"(rate({app="a"}[5]))", "parse error at line 1, col 16: expected duration, got number 5"},
    {R"x(rate({app="a"}[5m))x", R"x(parse error at line 1, col 18: expected "]", got ")")x"},
    {R"x(rate({app="a"}[5m])x",
     R"x(parse error at line 1, col 19: expected ")", got end of query)x"},
    {R"(rate(sum))",
     R"(parse error at line 1, col 6: expected "{" or a line filter, got identifier "sum")"},
    {R"(sum_over_time({app="a"}[5m]))",
     "parse error at line 1, col 1: invalid aggregation sum_over_time without | unwrap"},
    {R"(count_over_time({app="a"} | unwrap x [5m]))",
     "parse error at line 1, col 1: invalid aggregation count_over_time with | unwrap"},
    {R"(count_over_time({app="a"}[5m]) by (x))",
     "parse error at line 1, col 32: grouping not allowed for count_over_time without | unwrap"},
    {R"(quantile_over_time({app="a"} | unwrap x [5m]))",
     R"(parse error at line 1, col 20: expected number, got "{")"},
    {R"(topk({app="a"}))", R"(parse error at line 1, col 6: expected number, got "{")"},
    {R"(topk(1.5, rate({a="b"}[1m])))",
     "parse error at line 1, col 6: expected a positive integer, got number 1.5"},
    {R"(sum by (a) (rate({a="b"}[1m])) by (b))",
     R"(parse error at line 1, col 32: expected a single grouping, got identifier "by")"},
    {R"x(sum by (a (rate({a="b"}[1m])))x",
     R"x(parse error at line 1, col 11: expected ")" or ",", got "(")x"},
    {R"(sum(rate({a="b"}[1m])) +)",
     "parse error at line 1, col 25: expected expression, got end of query"},
    {R"(1 + bool 2)",
     R"(parse error at line 1, col 5: expected expression, got identifier "bool")"},
    {R"({a="b"} + 1)", R"(parse error at line 1, col 9: expected end of query, got "+")"},
    {R"x(sum(rate({a="b"}[1m])) ))x",
     R"x(parse error at line 1, col 24: expected end of query, got ")")x"},
    {"sum(\n  rate({a=\"b\"}[1m]\n)",
     R"x(parse error at line 3, col 2: expected ")", got end of query)x"},
    {"{a=\"b\"}\n  | json\n  | x > 1z",
     R"(parse error at line 3, col 9: invalid number, duration or bytes "1z")"},
    {R"({a="b"} @ 5)", R"(parse error at line 1, col 9: unexpected character "@")"},
    {R"({app="a"} | logfmt --foo)",
     R"(parse error at line 1, col 20: unknown logfmt flag "--foo" (expected --strict or --keep-empty))"},
    {R"({app="a"} | logfmt - -strict)",
     R"(parse error at line 1, col 20: unknown logfmt flag "-" (expected --strict or --keep-empty))"},
    {R"({app="a"} | logfmt --keep-empty--strict)",
     R"(parse error at line 1, col 20: unknown logfmt flag "--keep-empty--strict" (expected --strict or --keep-empty))"},
    {"{app=\"a\"}\n| logfmt --strict --Keep-Empty",
     R"(parse error at line 2, col 19: unknown logfmt flag "--Keep-Empty" (expected --strict or --keep-empty))"},
    {R"({app="a"} | logfmt host --strict)",
     R"(parse error at line 1, col 25: logfmt flags go right after "logfmt", before its parameters)"},
    {R"({app="a"} | json --strict)",
     R"(parse error at line 1, col 18: unknown json flag "--strict" (json takes no flags))"},
    {"{a=\"\xc3\xa9\"} ?", R"(parse error at line 1, col 9: unexpected character "?")"},
};

TEST(LogqlParserTest, InvalidQueriesReportPosition) {
  EXPECT_GE(std::size(kInvalid), 30u);
  for (const InvalidCase& c : kInvalid) {
    SCOPED_TRACE(c.query);
    auto r = ParseLogql(c.query);
    ASSERT_FALSE(r.ok()) << ToString(*r);
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), c.error);
  }
}

// Shape of a metric tree with every binary node parenthesized.
std::string Shape(const MetricExpr& e) {
  if (const auto* b = std::get_if<BinaryExpr>(&e.node)) {
    MetricExpr tmp;  // print the operator alone via a 0 op 0 node
    BinaryExpr op_only;
    op_only.op = b->op;
    op_only.return_bool = b->return_bool;
    op_only.lhs = std::make_unique<MetricExpr>(MetricExpr{NumberLiteral{0}});
    op_only.rhs = std::make_unique<MetricExpr>(MetricExpr{NumberLiteral{0}});
    tmp.node = std::move(op_only);
    std::string op = ToString(tmp);
    op = op.substr(2, op.size() - 4);  // "0 + 0" -> "+"
    return "(" + Shape(*b->lhs) + " " + op + " " + Shape(*b->rhs) + ")";
  }
  return ToString(e);
}

std::string ParseShape(std::string_view q) {
  auto r = ParseLogql(q);
  if (!r.ok()) return "ERROR: " + std::string(r.status().message());
  const auto* m = std::get_if<MetricExpr>(&*r);
  if (m == nullptr) return "log query";
  return Shape(*m);
}

TEST(LogqlParserTest, OperatorPrecedence) {
  EXPECT_EQ(ParseShape("1 + 2 * 3"), "(1 + (2 * 3))");
  EXPECT_EQ(ParseShape("1 * 2 + 3"), "((1 * 2) + 3)");
  EXPECT_EQ(ParseShape("1 - 2 - 3"), "((1 - 2) - 3)");
  EXPECT_EQ(ParseShape("1 / 2 / 3"), "((1 / 2) / 3)");
  EXPECT_EQ(ParseShape("1 / 2 * 3 % 4"), "(((1 / 2) * 3) % 4)");
  EXPECT_EQ(ParseShape("2 ^ 3 ^ 2"), "(2 ^ (3 ^ 2))");
  EXPECT_EQ(ParseShape("2 * 3 ^ 2"), "(2 * (3 ^ 2))");
  EXPECT_EQ(ParseShape("-2 ^ 2"), "(-2 ^ 2)");
  EXPECT_EQ(ParseShape("1 + 2 > 3 - 1"), "((1 + 2) > (3 - 1))");
  EXPECT_EQ(ParseShape("1 > 2 == 0"), "((1 > 2) == 0)");
  EXPECT_EQ(ParseShape("1 + 2 > bool 3 * 4"), "((1 + 2) > bool (3 * 4))");
  EXPECT_EQ(ParseShape("1 > 2 and 3 < 4 or 5 unless 6"),
            "(((1 > 2) and (3 < 4)) or (5 unless 6))");
  EXPECT_EQ(ParseShape("(1 + 2) * 3"), "((1 + 2) * 3)");
  EXPECT_EQ(ParseShape("1 - (2 - 3)"), "(1 - (2 - 3))");
  EXPECT_EQ(ParseShape(R"(sum(rate({a="b"}[1m])) / sum(rate({a="b"}[1m])) > bool 0.1)"),
            R"(((sum(rate({a="b"} [1m])) / sum(rate({a="b"} [1m]))) > bool 0.1))");
  EXPECT_EQ(ParseShape(R"({a="b"})"), "log query");
}

TEST(LogqlParserTest, LabelFilterPrecedence) {
  // `and` (and `,`) binds tighter than `or`; parentheses group.
  auto r = ParseLogql(R"({a="b"} | x > 1 or y > 2 and z > 3)");
  ASSERT_TRUE(r.ok());
  const auto& q = std::get<LogQuery>(*r);
  ASSERT_EQ(q.stages.size(), 1u);
  const auto& f = std::get<LabelFilterStage>(q.stages[0]);
  const auto& top = std::get<LabelFilterBinary>(f.expr->node);
  EXPECT_TRUE(top.is_or);
  EXPECT_TRUE(std::holds_alternative<NumericLabelFilter>(top.lhs->node));
  EXPECT_FALSE(std::get<LabelFilterBinary>(top.rhs->node).is_or);
  EXPECT_EQ(Canon(R"({a="b"} | (x > 1 or y > 2) and z > 3)"),
            R"({a="b"} | (x > 1 or y > 2) and z > 3)");
  EXPECT_EQ(Canon(R"({a="b"} | x > 1 and (y > 2 and z > 3))"),
            R"({a="b"} | x > 1 and (y > 2 and z > 3))");
  EXPECT_EQ(Canon(R"({a="b"} | (x > 1 and y > 2) or z > 3)"),
            R"({a="b"} | x > 1 and y > 2 or z > 3)");
}

TEST(LogqlParserTest, AstDetails) {
  auto r = ParseLogql(
      R"(quantile_over_time(0.99, {app="a", env!~"dev"} |= "x" or "y" | json | )"
      R"(took > 250ms and size >= 10KB | unwrap duration(took) [5m] offset 1h) by (svc))");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& m = std::get<MetricExpr>(*r);
  const auto& ra = std::get<RangeAggregation>(m.node);
  EXPECT_EQ(ra.op, RangeOp::kQuantileOverTime);
  EXPECT_DOUBLE_EQ(*ra.param, 0.99);
  EXPECT_EQ(ra.range_ns, 300'000'000'000);
  EXPECT_EQ(ra.offset_ns, 3'600'000'000'000);
  ASSERT_TRUE(ra.grouping.has_value());
  EXPECT_FALSE(ra.grouping->without);
  EXPECT_EQ(ra.grouping->labels, std::vector<std::string>{"svc"});
  ASSERT_EQ(ra.query.matchers.size(), 2u);
  EXPECT_EQ(ra.query.matchers[1].op, MatchOp::kNre);
  ASSERT_EQ(ra.query.stages.size(), 4u);
  const auto& lf = std::get<LineFilterStage>(ra.query.stages[0]);
  EXPECT_EQ(lf.values, (std::vector<std::string>{"x", "y"}));
  const auto& filt = std::get<LabelFilterStage>(ra.query.stages[2]);
  const auto& both = std::get<LabelFilterBinary>(filt.expr->node);
  const auto& took = std::get<NumericLabelFilter>(both.lhs->node);
  EXPECT_EQ(took.kind, LiteralKind::kDuration);
  EXPECT_DOUBLE_EQ(took.value, 250e6);
  const auto& size = std::get<NumericLabelFilter>(both.rhs->node);
  EXPECT_EQ(size.kind, LiteralKind::kBytes);
  EXPECT_DOUBLE_EQ(size.value, 10000);
  const auto& unwrap = std::get<UnwrapStage>(ra.query.stages[3]);
  EXPECT_EQ(unwrap.label, "took");
  EXPECT_EQ(unwrap.conversion, UnwrapConversion::kDuration);

  auto t = ParseLogql(R"(topk by (a) (5, rate({x="y"}[1m])))");
  ASSERT_TRUE(t.ok());
  const auto& va = std::get<VectorAggregation>(std::get<MetricExpr>(*t).node);
  EXPECT_EQ(va.op, VectorOp::kTopk);
  EXPECT_EQ(*va.param, 5);
  EXPECT_EQ(va.grouping->labels, std::vector<std::string>{"a"});
}

TEST(LogqlParserTest, StringEscapes) {
  auto r = ParseLogql(R"({a="q\"b\\s\n\t\u00e9\U0001F600"} |= `raw\n`)");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  const auto& q = std::get<LogQuery>(*r);
  EXPECT_EQ(q.matchers[0].value, "q\"b\\s\n\t\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_EQ(std::get<LineFilterStage>(q.stages[0]).values[0], "raw\\n");
  EXPECT_EQ(Canon(ToString(*r)), ToString(*r));
}

}  // namespace
}  // namespace lode
