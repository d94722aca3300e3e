// Alert rules: what `lode serve --rules FILE` reads (docs/ALERTING.md).
//
//   rules:
//     - name: ErrorBurst
//       type: threshold             # threshold | pattern | absence | new_pattern
//       query: '{level="error"}'    # a LogQL log query: selector and pipeline
//       by: [service]               # one alert per value (labels after the pipeline)
//       window: 1m                  # sliding window the count is taken over
//       condition: "> 50"           # >, >=, <, <= and a number
//       rate: false                 # compare the per-second rate instead of the count
//       for: 30s                    # how long the condition must hold before firing
//       labels: {severity: page}
//       annotations:
//         summary: '{{ $labels.service }} logged {{ $value }} errors in 1m'
//     - name: CardDeclined
//       type: pattern               # every matching line fires at once, with the line
//       query: '{service="billing"} |= "card declined"'
//       resolve_after: 5m           # resolved when no line matched for this long
//     - name: ServiceSilent
//       type: absence               # a group that logged before and stopped
//       query: '{}'
//       by: [service]
//       for: 2m
//     - name: NewErrorTemplate
//       type: new_pattern           # a message template first seen after warm-up
//       query: '{level="error"}'
//
// Every key is checked: unknown keys, bad durations, a query that does not
// parse, are errors naming the file, line and key.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "common/status.h"

namespace lode {

enum class RuleType { kThreshold, kPattern, kAbsence, kNewPattern };
enum class CompareOp { kGt, kGe, kLt, kLe };

std::string_view RuleTypeName(RuleType t);
std::string_view CompareOpName(CompareOp op);

struct AlertRule {
  std::string name;
  RuleType type = RuleType::kThreshold;
  std::string tenant = "default";
  std::string query;
  std::vector<std::string> by;
  int64_t window_ns = 60'000'000'000;
  CompareOp op = CompareOp::kGt;
  double threshold = 0;
  bool rate = false;
  int64_t for_ns = 0;
  int64_t resolve_after_ns = 300'000'000'000;  // pattern and new_pattern rules
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  int line = 0;  // in the rules file
};

// Reads and checks a rules file (every query compiled). InvalidArgument
// "<file>:<line>: rule \"<name>\": <key>: <why>" on the first problem.
Result<std::vector<AlertRule>> LoadRulesFile(const std::string& path);
// The same from YAML text; `source` names it in errors.
Result<std::vector<AlertRule>> ParseRules(const std::string& yaml, const std::string& source);

}  // namespace lode
