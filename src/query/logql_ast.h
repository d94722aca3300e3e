// The LogQL abstract syntax tree: what ParseLogql (query/logql_parser.h) produces.
//
// A LogqlExpr is either a LogQuery (a stream selector and a pipeline of stages,
// selecting log lines) or a MetricExpr tree (range aggregations over log
// queries, vector aggregations, binary operators and number literals). The tree
// only describes the query; nothing here executes it. Nodes own their children
// (unique_ptr), so the tree is movable, not copyable. Parentheses are not kept:
// ToString() re-inserts them from operator precedence.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace lode {

// Label matcher / string comparison: = != =~ !~.
enum class MatchOp { kEq, kNeq, kRe, kNre };

// Stream selector term: `label op "value"`.
struct LabelMatcher {
  std::string name;
  MatchOp op = MatchOp::kEq;
  std::string value;
};

// Line filter operators: |= != |~ !~ and the pattern filters |> !>.
enum class LineFilterOp { kContains, kNotContains, kMatch, kNotMatch, kPattern, kNotPattern };

// `|= "a" or "b"`: matches when any value (or, for negations, none) matches.
struct LineFilterStage {
  LineFilterOp op = LineFilterOp::kContains;
  std::vector<std::string> values;  // at least one; more than one means `or`
};

// One `label="expression"` parameter of | json or | logfmt; expression empty = bare `label`.
struct ExtractParam {
  std::string label;
  std::string expression;
};

// `| json` or `| json a="x.y", b` — extracts labels from JSON lines.
struct JsonStage {
  std::vector<ExtractParam> params;
};

// `| logfmt` or `| logfmt a="x", b` — extracts labels from logfmt lines.
// Flags (Loki's) come right after `logfmt`: `| logfmt --strict --keep-empty a="x"`.
struct LogfmtStage {
  std::vector<ExtractParam> params;
  bool strict = false;      // --strict: stop at a malformed pair and mark the line
  bool keep_empty = false;  // --keep-empty: keep keys without a value, as ""
};

// `| regexp "re"` — named capture groups become labels.
struct RegexpStage {
  std::string regex;
};

// `| pattern "<ip> - <_>"` — named captures become labels.
struct PatternStage {
  std::string pattern;
};

// Numeric comparison operators of label filters and metric binary operators.
enum class CmpOp { kEq, kNeq, kGt, kGte, kLt, kLte };

// What a numeric label filter literal was written as.
enum class LiteralKind { kNumber, kDuration, kBytes };

// `label op "string"` with op = != =~ !~.
struct StringLabelFilter {
  std::string label;
  MatchOp op = MatchOp::kEq;
  std::string value;
};

// `label op 500` / `op 250ms` / `op 10KB`; value is the number, nanoseconds or bytes.
struct NumericLabelFilter {
  std::string label;
  CmpOp op = CmpOp::kEq;
  LiteralKind kind = LiteralKind::kNumber;
  double value = 0;
  std::string text;  // the literal in canonical form (bytes keep their spelling)
};

struct LabelFilterExpr;
using LabelFilterExprPtr = std::unique_ptr<LabelFilterExpr>;

// `lhs and rhs` (also written `lhs, rhs`) or `lhs or rhs`.
struct LabelFilterBinary {
  bool is_or = false;
  LabelFilterExprPtr lhs;
  LabelFilterExprPtr rhs;
};

// A label filter expression tree (`and` binds tighter than `or`).
struct LabelFilterExpr {
  std::variant<StringLabelFilter, NumericLabelFilter, LabelFilterBinary> node;
};

// `| <label filter expression>`; Lode's `| pattern_id = "…"` is one of these.
struct LabelFilterStage {
  LabelFilterExprPtr expr;
};

// `| line_format "template"` — rewrites the line.
struct LineFormatStage {
  std::string tmpl;
};

// One `label_format` item: `dst=src` (rename) or `dst="template"`.
struct LabelFormatItem {
  std::string dst;
  std::string value;  // the source label when rename, else the template
  bool rename = false;
};

// `| label_format a=b, c="tmpl"`.
struct LabelFormatStage {
  std::vector<LabelFormatItem> items;
};

// One drop/keep item: a bare label or `label op "value"`.
struct LabelSelectItem {
  std::string label;
  std::optional<MatchOp> op;  // set when the item has a matcher
  std::string value;
};

// `| drop a, b="v"` — removes labels.
struct DropStage {
  std::vector<LabelSelectItem> items;
};

// `| keep a, b` — keeps only these labels.
struct KeepStage {
  std::vector<LabelSelectItem> items;
};

// How an unwrapped label is converted to a sample value.
enum class UnwrapConversion { kNone, kDuration, kDurationSeconds, kBytes };

// `| unwrap label`, `| unwrap duration(label)`, `| unwrap bytes(label)`.
struct UnwrapStage {
  std::string label;
  UnwrapConversion conversion = UnwrapConversion::kNone;
};

// One pipeline stage.
using PipelineStage =
    std::variant<LineFilterStage, JsonStage, LogfmtStage, RegexpStage, PatternStage,
                 LabelFilterStage, LineFormatStage, LabelFormatStage, DropStage, KeepStage,
                 UnwrapStage>;

// A log query: stream selector (empty = all streams) and pipeline, in order.
struct LogQuery {
  std::vector<LabelMatcher> matchers;
  std::vector<PipelineStage> stages;
};

// Range aggregation functions (`op(... [range])`).
enum class RangeOp {
  kCountOverTime,
  kRate,
  kBytesOverTime,
  kBytesRate,
  kAbsentOverTime,
  kSumOverTime,
  kAvgOverTime,
  kMinOverTime,
  kMaxOverTime,
  kStddevOverTime,
  kStdvarOverTime,
  kQuantileOverTime,
  kFirstOverTime,
  kLastOverTime,
};

// Vector aggregation operators.
enum class VectorOp { kSum, kAvg, kMin, kMax, kCount, kStddev, kStdvar, kTopk, kBottomk };

// Binary operators of metric expressions.
enum class BinaryOp {
  kAdd, kSub, kMul, kDiv, kMod, kPow,
  kEq, kNeq, kGt, kGte, kLt, kLte,
  kAnd, kOr, kUnless,
};

// `by (a, b)` or `without (a)`.
struct Grouping {
  bool without = false;
  std::vector<std::string> labels;
};

struct MetricExpr;
using MetricExprPtr = std::unique_ptr<MetricExpr>;

// `op([param,] query [range] [offset d]) [grouping]`.
struct RangeAggregation {
  RangeOp op = RangeOp::kCountOverTime;
  std::optional<double> param;  // φ of quantile_over_time
  LogQuery query;
  int64_t range_ns = 0;
  int64_t offset_ns = 0;  // 0 = no offset
  std::optional<Grouping> grouping;  // only for unwrapped ops
};

// `op [grouping] ([k,] inner)`.
struct VectorAggregation {
  VectorOp op = VectorOp::kSum;
  std::optional<Grouping> grouping;
  std::optional<int64_t> param;  // k of topk/bottomk
  MetricExprPtr inner;
};

// `lhs op [bool] rhs`.
struct BinaryExpr {
  BinaryOp op = BinaryOp::kAdd;
  bool return_bool = false;  // comparisons only
  MetricExprPtr lhs;
  MetricExprPtr rhs;
};

// A scalar number literal such as 0.1 or -2.
struct NumberLiteral {
  double value = 0;
};

// A node of a metric expression tree.
struct MetricExpr {
  std::variant<RangeAggregation, VectorAggregation, BinaryExpr, NumberLiteral> node;
};

// A whole parsed query: a log query or a metric expression.
using LogqlExpr = std::variant<LogQuery, MetricExpr>;

}  // namespace lode
