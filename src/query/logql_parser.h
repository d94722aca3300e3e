// The LogQL parser: query text → LogqlExpr (query/logql_ast.h). No execution.
//
// Grammar follows Grafana Loki 2.9 (stream selectors, line filters with `or`,
// json/logfmt/regexp/pattern parsers, logfmt's --strict and --keep-empty,
// label filters, line_format, label_format, drop, keep, unwrap, range and
// vector aggregations, binary operators with Prometheus precedence). Lode
// differs from Loki in two ways: an empty selector `{}` is valid, and a query
// may start with a line filter (`|= "error"`), both meaning all streams.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "query/logql_ast.h"

namespace lode {

// Parses one LogQL query. On a syntax error returns InvalidArgument with the
// message `parse error at line L, col C: expected X, got Y` (or another detail
// such as `unknown function "f"` / `unterminated string`), where L and C
// (1-based; C counts characters) point at the offending token.
Result<LogqlExpr> ParseLogql(std::string_view query);

// The canonical text of a parsed query: single spaces, double-quoted strings,
// canonical durations, parentheses only where precedence needs them. Parsing
// the result gives back an equal tree.
std::string ToString(const LogqlExpr& expr);
std::string ToString(const LogQuery& query);
std::string ToString(const MetricExpr& expr);

}  // namespace lode
