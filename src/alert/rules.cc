#include "alert/rules.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "parse/duration.h"
#include "query/logql_engine.h"

namespace lode {

std::string_view RuleTypeName(RuleType t) {
  switch (t) {
    case RuleType::kThreshold: return "threshold";
    case RuleType::kPattern: return "pattern";
    case RuleType::kAbsence: return "absence";
    case RuleType::kNewPattern: return "new_pattern";
  }
  return "threshold";
}

std::string_view CompareOpName(CompareOp op) {
  switch (op) {
    case CompareOp::kGt: return ">";
    case CompareOp::kGe: return ">=";
    case CompareOp::kLt: return "<";
    case CompareOp::kLe: return "<=";
  }
  return ">";
}

namespace {

Status ParseCondition(std::string text, CompareOp* op, double* value) {
  size_t i = 0;
  while (i < text.size() && text[i] == ' ') ++i;
  std::string_view rest(text);
  rest.remove_prefix(i);
  if (rest.starts_with(">=")) {
    *op = CompareOp::kGe;
    rest.remove_prefix(2);
  } else if (rest.starts_with("<=")) {
    *op = CompareOp::kLe;
    rest.remove_prefix(2);
  } else if (rest.starts_with(">")) {
    *op = CompareOp::kGt;
    rest.remove_prefix(1);
  } else if (rest.starts_with("<")) {
    *op = CompareOp::kLt;
    rest.remove_prefix(1);
  } else {
    return Status::InvalidArgument("expected >, >=, < or <= and a number, got \"" + text + "\"");
  }
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  auto r = std::from_chars(rest.data(), rest.data() + rest.size(), *value);
  if (rest.empty() || r.ec != std::errc() || r.ptr != rest.data() + rest.size()) {
    return Status::InvalidArgument("expected a number after the operator, got \"" + text + "\"");
  }
  return Status::OK();
}

Status StringMap(const YAML::Node& n, std::map<std::string, std::string>* out) {
  if (!n.IsMap()) return Status::InvalidArgument("expected a mapping of names to strings");
  for (const auto& kv : n) {
    if (!kv.second.IsScalar()) {
      return Status::InvalidArgument("\"" + kv.first.as<std::string>() + "\": expected a string");
    }
    (*out)[kv.first.as<std::string>()] = kv.second.as<std::string>();
  }
  return Status::OK();
}

Status Scalar(const YAML::Node& n, std::string* out) {
  if (!n.IsScalar()) return Status::InvalidArgument("expected a single value");
  *out = n.as<std::string>();
  return Status::OK();
}

Status Duration(const YAML::Node& n, int64_t* out) {
  std::string text;
  LODE_RETURN_IF_ERROR(Scalar(n, &text));
  LODE_ASSIGN_OR_RETURN(*out, ParseDuration(text));
  return Status::OK();
}

Status ParseRule(const YAML::Node& node, AlertRule* r) {
  std::set<std::string> seen;
  for (const auto& kv : node) {
    const std::string key = kv.first.as<std::string>();
    const YAML::Node& v = kv.second;
    Status s;
    std::string text;
    if (key == "name") {
      s = Scalar(v, &r->name);
    } else if (key == "type") {
      s = Scalar(v, &text);
      if (s.ok()) {
        bool found = false;
        for (RuleType t : {RuleType::kThreshold, RuleType::kPattern, RuleType::kAbsence,
                           RuleType::kNewPattern}) {
          if (text == RuleTypeName(t)) {
            r->type = t;
            found = true;
          }
        }
        if (!found) {
          s = Status::InvalidArgument("unknown type \"" + text +
                                      "\" (threshold, pattern, absence, new_pattern)");
        }
      }
    } else if (key == "tenant") {
      s = Scalar(v, &r->tenant);
    } else if (key == "query") {
      s = Scalar(v, &r->query);
      if (s.ok()) s = logql::RecordMatcher::Make(r->query).status();
    } else if (key == "by") {
      if (v.IsScalar()) {
        r->by.push_back(v.as<std::string>());
      } else if (v.IsSequence()) {
        for (const auto& item : v) {
          if (!item.IsScalar()) {
            s = Status::InvalidArgument("expected a list of label names");
            break;
          }
          r->by.push_back(item.as<std::string>());
        }
      } else {
        s = Status::InvalidArgument("expected a list of label names");
      }
    } else if (key == "window") {
      s = Duration(v, &r->window_ns);
      if (s.ok() && r->window_ns <= 0) s = Status::InvalidArgument("must be positive");
    } else if (key == "condition") {
      s = Scalar(v, &text);
      if (s.ok()) s = ParseCondition(text, &r->op, &r->threshold);
    } else if (key == "rate") {
      s = Scalar(v, &text);
      if (s.ok() && text != "true" && text != "false") {
        s = Status::InvalidArgument("expected true or false");
      }
      r->rate = text == "true";
    } else if (key == "for") {
      s = Duration(v, &r->for_ns);
    } else if (key == "resolve_after") {
      s = Duration(v, &r->resolve_after_ns);
      if (s.ok() && r->resolve_after_ns <= 0) s = Status::InvalidArgument("must be positive");
    } else if (key == "labels") {
      s = StringMap(v, &r->labels);
    } else if (key == "annotations") {
      s = StringMap(v, &r->annotations);
    } else {
      s = Status::InvalidArgument(
          "unknown key (name, type, tenant, query, by, window, condition, rate, for, "
          "resolve_after, labels, annotations)");
    }
    if (!s.ok()) {
      return Status::InvalidArgument("line " + std::to_string(kv.first.Mark().line + 1) + ": " +
                                     key + ": " + std::string(s.message()));
    }
    seen.insert(key);
  }
  if (r->name.empty()) return Status::InvalidArgument("name: missing");
  if (r->query.empty()) return Status::InvalidArgument("query: missing");
  if (r->type == RuleType::kThreshold && !seen.count("condition")) {
    return Status::InvalidArgument("condition: missing (e.g. \"> 50\")");
  }
  if (r->type == RuleType::kAbsence && r->for_ns <= 0) {
    return Status::InvalidArgument("for: missing (how long a group must be silent)");
  }
  return Status::OK();
}

}  // namespace

Result<std::vector<AlertRule>> ParseRules(const std::string& yaml, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  std::vector<AlertRule> rules;
  if (root.IsNull()) return rules;
  if (!root.IsMap() || !root["rules"] || !root["rules"].IsSequence()) {
    return Status::InvalidArgument(source + ": expected a mapping with a \"rules\" list");
  }
  for (const auto& kv : root) {
    if (kv.first.as<std::string>() != "rules") {
      return Status::InvalidArgument(source + ":" + std::to_string(kv.first.Mark().line + 1) +
                                     ": unknown key \"" + kv.first.as<std::string>() +
                                     "\" (rules)");
    }
  }
  std::set<std::string> names;
  try {
    for (const auto& item : root["rules"]) {
      AlertRule r;
      r.line = item.Mark().line + 1;
      Status s = item.IsMap() ? ParseRule(item, &r)
                              : Status::InvalidArgument("a rule must be a mapping (name: ...)");
      if (s.ok() && !names.insert(r.tenant + "/" + r.name).second) {
        s = Status::InvalidArgument("name: another rule of tenant \"" + r.tenant +
                                    "\" has this name");
      }
      if (!s.ok()) {
        std::string what = r.name.empty() ? "a rule" : "rule \"" + r.name + "\"";
        return Status::InvalidArgument(source + ":" + std::to_string(r.line) + ": " + what + ": " +
                                       std::string(s.message()));
      }
      rules.push_back(std::move(r));
    }
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(source + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  return rules;
}

Result<std::vector<AlertRule>> LoadRulesFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IOError("cannot read rules file " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ParseRules(ss.str(), path);
}

}  // namespace lode
