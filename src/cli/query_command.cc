// `lode query`: a LogQL client of the Loki API (/loki/api/v1/query_range and
// /query), printing a table (levels in colour on a terminal), raw lines,
// series, or the server's JSON. Plain text and the filter flags are turned
// into LogQL, so `lode query timeout --level error` still works.
#include <re2/re2.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "parse/duration.h"
#include "parse/timestamp.h"
#include "query/logql_parser.h"
#include "server/loki_api.h"

namespace lode {

namespace {

struct QueryFlags {
  std::string text;  // positional: LogQL, or a substring to find
  std::string url = "http://127.0.0.1:8080";
  std::vector<std::string> levels;
  std::vector<std::string> services;
  std::vector<std::string> instances;
  std::string regex;
  std::string since;
  std::string from;
  std::string to;
  size_t limit = 100;
  bool forward = false;
  std::string output = "table";
  std::string count_by;  // aggregate instead of listing
  std::string step;
  std::string tenant;
  bool instant = false;
  bool patterns = false;  // list the message templates instead of lines
  bool only_new = false;  // --patterns: only templates new after the warm-up
  int timeout_s = 300;
};

void AddParam(std::string* target, std::string_view name, std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  target->push_back(target->find('?') == std::string::npos ? '?' : '&');
  target->append(name);
  target->push_back('=');
  for (unsigned char c : value) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~' || c == ':') {
      target->push_back(static_cast<char>(c));
    } else {
      target->push_back('%');
      target->push_back(kHex[c >> 4]);
      target->push_back(kHex[c & 15]);
    }
  }
}

const char* LevelColour(std::string_view level) {
  if (level == "fatal") return "\x1b[1;35m";
  if (level == "error") return "\x1b[31m";
  if (level == "warn") return "\x1b[33m";
  if (level == "info") return "\x1b[32m";
  if (level == "debug") return "\x1b[34m";
  return "\x1b[2m";
}

// Field `key` of `e` as a string (empty when absent).
std::string_view Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}

// Field `key` of `e` as an unsigned number (0 when absent).
uint64_t U64(simdjson::dom::element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get_uint64().get(v) != simdjson::SUCCESS) return 0;
  return v;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// Quotes `s` as a LogQL string literal.
std::string Quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// The LogQL the flags describe: the positional query when it is LogQL, else a
// search for its text; --level/--service/--instance/--regex add to it.
Result<std::string> BuildQuery(const QueryFlags& f, bool* is_metric) {
  *is_metric = false;
  std::string query = f.text;
  bool logql = false;
  if (!query.empty()) {
    auto parsed = ParseLogql(query);
    if (parsed.ok()) {
      logql = true;
      *is_metric = std::holds_alternative<MetricExpr>(*parsed);
    } else {
      // Text that looks like it was meant as LogQL gets the parser's error.
      const char c = query.front();
      if (c == '{' || c == '|' || query.find('(') != std::string::npos) return parsed.status();
    }
  }
  const bool filters = !f.levels.empty() || !f.services.empty() || !f.instances.empty() ||
                       !f.regex.empty() || !f.count_by.empty();
  if (logql && filters) {
    return Status::InvalidArgument(
        "give either a LogQL query or the filter flags (--level, --service, --instance, "
        "--regex, --count-by), not both");
  }
  if (logql) return query;
  std::string selector;
  auto add = [&](std::string_view label, const std::vector<std::string>& values) {
    if (values.empty()) return;
    if (!selector.empty()) selector += ", ";
    selector += std::string(label);
    if (values.size() == 1) {
      selector += "=" + Quote(values[0]);
      return;
    }
    std::string alt;
    for (const auto& v : values) alt += (alt.empty() ? "" : "|") + RE2::QuoteMeta(v);
    selector += "=~" + Quote(alt);
  };
  for (const auto& l : f.levels) {
    if (!LevelFromName(l)) {
      return Status::InvalidArgument("--level: unknown level \"" + l +
                                     "\" (trace, debug, info, warn, error, fatal, unknown)");
    }
  }
  add("level", f.levels);
  add("service", f.services);
  add("instance", f.instances);
  std::string out = "{" + selector + "}";
  if (!query.empty()) out += " |= " + Quote(query);
  if (!f.regex.empty()) out += " |~ " + Quote(f.regex);
  if (!f.count_by.empty()) {
    for (std::string_view by :
         {std::string_view("level"), std::string_view("service"), std::string_view("level,service"),
          std::string_view("service,level")}) {
      if (f.count_by == by) {
        *is_metric = true;
        // The range is filled in by the caller (the step, or the whole span).
        return "sum by (" + f.count_by + ") (count_over_time(" + out + " [$RANGE]))";
      }
    }
    return Status::InvalidArgument("--count-by: want level, service or level,service");
  }
  return out;
}

// Prints a query_range/query answer: log lines as a table (levels coloured on
// a terminal) or raw; metric results as series and values.
int PrintAnswer(const std::string& body, const QueryFlags& f) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  std::string_view type;
  simdjson::dom::array result;
  if (parser.parse(body).get(doc) || doc["data"]["resultType"].get_string().get(type) ||
      doc["data"]["result"].get_array().get(result)) {
    std::cerr << "lode query: unexpected answer: " << body.substr(0, 200) << "\n";
    return 1;
  }
  const bool colour = f.output == "table" && isatty(STDOUT_FILENO) != 0;
  auto labels_text = [](simdjson::dom::object labels) {
    std::string s = "{";
    for (auto [k, v] : labels) {
      std::string_view sv;
      if (v.get_string().get(sv)) continue;
      if (s.size() > 1) s += ", ";
      s += std::string(k) + "=" + Quote(sv);
    }
    return s + "}";
  };
  if (type == "streams") {
    struct Line {
      int64_t ts;
      std::string_view level, service, line;
    };
    std::vector<Line> lines;
    for (simdjson::dom::element stream : result) {
      std::string_view level = Str(stream["stream"], "level");
      std::string_view service = Str(stream["stream"], "service");
      simdjson::dom::array values;
      if (stream["values"].get_array().get(values)) continue;
      for (simdjson::dom::element v : values) {
        std::string_view ts, line;
        if (v.at(0).get_string().get(ts) || v.at(1).get_string().get(line)) continue;
        lines.push_back(Line{std::stoll(std::string(ts)), level, service, line});
      }
    }
    std::stable_sort(lines.begin(), lines.end(), [&](const Line& a, const Line& b) {
      return f.forward ? a.ts < b.ts : a.ts > b.ts;
    });
    for (const Line& l : lines) {
      if (f.output == "raw") {
        std::cout << l.line << "\n";
        continue;
      }
      const std::string ts = FormatRfc3339(l.ts);
      const std::string lvl = Upper(l.level);
      if (colour) {
        std::printf("\x1b[2m%-30s\x1b[0m %s%-7s\x1b[0m \x1b[36m%-22.*s\x1b[0m %.*s\n", ts.c_str(),
                    LevelColour(l.level), lvl.c_str(), static_cast<int>(l.service.size()),
                    l.service.data(), static_cast<int>(l.line.size()), l.line.data());
      } else {
        std::printf("%-30s %-7s %-22.*s %.*s\n", ts.c_str(), lvl.c_str(),
                    static_cast<int>(l.service.size()), l.service.data(),
                    static_cast<int>(l.line.size()), l.line.data());
      }
    }
    if (f.output == "table") std::fprintf(stderr, "%zu lines\n", lines.size());
  } else if (type == "matrix") {
    for (simdjson::dom::element series : result) {
      simdjson::dom::object metric;
      if (series["metric"].get_object().get(metric)) continue;
      std::printf("%s\n", labels_text(metric).c_str());
      simdjson::dom::array values;
      if (series["values"].get_array().get(values)) continue;
      for (simdjson::dom::element v : values) {
        double t = 0;
        std::string_view value;
        if (v.at(0).get_double().get(t) || v.at(1).get_string().get(value)) continue;
        std::printf("  %-30s %.*s\n",
                    FormatRfc3339(static_cast<int64_t>(std::llround(t * 1e3)) * 1'000'000).c_str(),
                    static_cast<int>(value.size()), value.data());
      }
    }
  } else if (type == "vector") {
    for (simdjson::dom::element sample : result) {
      simdjson::dom::object metric;
      std::string_view value;
      if (sample["metric"].get_object().get(metric) ||
          sample["value"].at(1).get_string().get(value)) {
        continue;
      }
      std::printf("%-60s %.*s\n", labels_text(metric).c_str(), static_cast<int>(value.size()),
                  value.data());
    }
  } else {
    std::string_view value;
    if (!doc["data"]["result"].at(1).get_string().get(value)) {
      std::printf("%.*s\n", static_cast<int>(value.size()), value.data());
    }
  }
  if (f.output == "table") {
    double exec = 0;
    if (!doc["data"]["stats"]["summary"]["execTime"].get_double().get(exec)) {
      std::fprintf(stderr, "%.1f ms\n", exec * 1e3);
    }
  }
  return 0;
}

// A sparkline of `counts` in at most `width` cells (each the sum of its span).
std::string Sparkline(const std::vector<uint64_t>& counts, size_t width) {
  static constexpr const char* kBars[] = {" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  if (counts.empty()) return "";
  const size_t cells = std::min(width, counts.size());
  std::vector<uint64_t> sums(cells, 0);
  for (size_t i = 0; i < counts.size(); ++i) sums[i * cells / counts.size()] += counts[i];
  const uint64_t top = *std::max_element(sums.begin(), sums.end());
  std::string out;
  for (uint64_t v : sums) {
    const size_t level = top == 0 || v == 0 ? 0 : 1 + static_cast<size_t>(v * 7 / top);
    out += kBars[level];
  }
  out.append(width - cells, ' ');  // printf pads by bytes, not by cells
  return out;
}

// Prints an /api/v1/patterns answer: biggest templates first, with their
// count, id, service, volume over the range, and whether they are new.
int PrintPatterns(const std::string& body, const QueryFlags& f) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array patterns;
  if (parser.parse(body).get(doc) || doc["data"]["patterns"].get_array().get(patterns)) {
    std::cerr << "lode query: unexpected answer: " << body.substr(0, 200) << "\n";
    return 1;
  }
  const bool colour = f.output == "table" && isatty(STDOUT_FILENO) != 0;
  if (f.output == "table") {
    std::printf("%10s %-6s %-3s %-16s %-20s %s\n", "COUNT", "ID", "NEW", "SERVICE", "VOLUME",
                "PATTERN");
  }
  for (simdjson::dom::element p : patterns) {
    const uint64_t count = U64(p, "count");
    bool is_new = false;
    if (p["new"].get_bool().get(is_new) != simdjson::SUCCESS) is_new = false;
    const std::string_view text = Str(p, "pattern");
    if (f.output == "raw") {
      std::printf("%.*s\n", static_cast<int>(text.size()), text.data());
      continue;
    }
    std::vector<uint64_t> volume;
    simdjson::dom::array va;
    if (!p["volume"].get_array().get(va)) {
      for (simdjson::dom::element v : va) {
        uint64_t n = 0;
        if (v.get_uint64().get(n) != simdjson::SUCCESS) n = 0;
        volume.push_back(n);
      }
    }
    const std::string_view id = Str(p, "id"), service = Str(p, "service");
    std::printf("%10llu %-6.*s %s%-3s%s %-16.*s %s %.*s\n", static_cast<unsigned long long>(count),
                static_cast<int>(id.size()), id.data(), colour && is_new ? "\x1b[1;33m" : "",
                is_new ? "new" : "", colour && is_new ? "\x1b[0m" : "",
                static_cast<int>(service.size()), service.data(), Sparkline(volume, 20).c_str(),
                static_cast<int>(text.size()), text.data());
  }
  if (f.output == "table") {
    const simdjson::dom::element data = doc["data"];
    const uint64_t lines = U64(data, "lines"), unpatterned = U64(data, "unpatterned"),
                   total = U64(data, "total_patterns");
    std::fprintf(stderr, "%zu of %llu patterns, over %llu lines", patterns.size(),
                 static_cast<unsigned long long>(total), static_cast<unsigned long long>(lines));
    if (unpatterned > 0) {
      std::fprintf(stderr, " (%llu without a pattern)",
                   static_cast<unsigned long long>(unpatterned));
    }
    std::fprintf(stderr, "\n");
  }
  return 0;
}

int RunQuery(const QueryFlags& f) {
  if (f.output != "table" && f.output != "json" && f.output != "raw") {
    std::cerr << "lode query: --output must be table, json or raw\n";
    return 2;
  }
  auto url = HttpUrl::Parse(f.url);
  if (!url.ok()) {
    std::cerr << "lode query: --url: " << url.status().message() << "\n";
    return 2;
  }
  bool metric = false;
  auto built = BuildQuery(f, &metric);
  if (!built.ok()) {
    std::cerr << "lode query: " << built.status().message() << "\n";
    return 2;
  }
  std::string query = *built;
  if (f.patterns && metric) {
    std::cerr << "lode query: --patterns takes a log query (a selector and filters), not a "
                 "metric query\n";
    return 2;
  }
  if (f.only_new && !f.patterns) {
    std::cerr << "lode query: --new goes with --patterns\n";
    return 2;
  }
  const int64_t now = Clock::Real()->NowNanos();
  int64_t end = now, start = now - 3600LL * 1'000'000'000;
  if (!f.since.empty()) {
    auto d = ParseDuration(f.since);
    if (!d.ok()) {
      std::cerr << "lode query: --since: " << d.status().message() << "\n";
      return 2;
    }
    start = end - *d;
  }
  auto time_flag = [&](const std::string& flag, const std::string& value, int64_t* out) {
    if (value.empty()) return true;
    auto t = ParseLokiTime(flag, value);
    if (!t.ok()) {
      std::cerr << "lode query: " << t.status().message() << "\n";
      return false;
    }
    *out = *t;
    return true;
  };
  if (!time_flag("--to", f.to, &end) || !time_flag("--from", f.from, &start)) return 2;
  if (f.from.empty() && f.since.empty() && !f.to.empty()) start = end - 3600LL * 1'000'000'000;

  std::string target = f.patterns  ? "/api/v1/patterns"
                       : f.instant ? "/loki/api/v1/query"
                                   : "/loki/api/v1/query_range";
  if (!f.count_by.empty()) {
    // --count-by: one count over the whole span, or per --step.
    std::string range =
        f.step.empty() ? FormatDuration(std::max<int64_t>(end - start, 1'000'000'000)) : f.step;
    query.replace(query.find("$RANGE"), 6, range);
    if (f.step.empty()) target = "/loki/api/v1/query";
  }
  AddParam(&target, "query", query);
  if (f.patterns) {
    AddParam(&target, "start", std::to_string(start));
    AddParam(&target, "end", std::to_string(end));
    if (!f.step.empty()) AddParam(&target, "step", f.step);
    if (f.only_new) AddParam(&target, "new", "true");
  } else if (target.starts_with("/loki/api/v1/query_range")) {
    AddParam(&target, "start", std::to_string(start));
    AddParam(&target, "end", std::to_string(end));
    if (!f.step.empty()) AddParam(&target, "step", f.step);
  } else {
    AddParam(&target, "time", std::to_string(end));
  }
  AddParam(&target, "limit", std::to_string(f.limit));
  if (f.forward && !f.patterns) AddParam(&target, "direction", "forward");
  std::vector<std::pair<std::string, std::string>> headers;
  if (!f.tenant.empty()) headers.emplace_back("X-Scope-OrgID", f.tenant);
  HttpClient client(url->host, url->port, f.timeout_s);
  auto res = client.Request(boost::beast::http::verb::get, target, "", headers);
  if (!res.ok()) {
    std::cerr << "lode query: " << res.status().message() << "\n";
    return 1;
  }
  if (res->status != 200) {
    std::string body = res->body;
    while (!body.empty() && body.back() == '\n') body.pop_back();
    std::cerr << "lode query: HTTP " << res->status << ": " << body << "\n";
    return 1;
  }
  if (f.output == "json") {
    std::cout << res->body << "\n";
    return 0;
  }
  return f.patterns ? PrintPatterns(res->body, f) : PrintAnswer(res->body, f);
}

}  // namespace

void AddQueryCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* cmd =
      app.add_subcommand("query",
                         "Query a Lode server with LogQL (or plain text).\n"
                         "  lode query '{service=\"checkout\"} |= \"timeout\"'\n"
                         "  lode query 'sum by (level) (rate({}[5m]))' --since 6h --step 5m\n"
                         "  lode query 'connection refused' --level error --since 15m\n"
                         "  lode query --patterns '{service=\"checkout\"}' --since 24h");
  cmd->add_option("query", f->text,
                  "LogQL query, or text the line must contain (then the filter flags apply)");
  cmd->add_option("--url", f->url, "Server address")->capture_default_str();
  cmd->add_option("--since", f->since, "Only the last DURATION, e.g. 15m, 2h (default 1h)");
  cmd->add_option("--from", f->from, "Start time (RFC 3339, Unix seconds or nanoseconds)");
  cmd->add_option("--to", f->to, "End time (default now)");
  cmd->add_option("--limit", f->limit, "Most log lines to show")->capture_default_str();
  cmd->add_flag("--forward", f->forward, "Oldest first (default newest first)");
  cmd->add_option("--step", f->step,
                  "Metric queries: evaluation step, e.g. 1m (default: range/250)");
  cmd->add_flag("--instant", f->instant, "Metric queries: evaluate once, at --to");
  cmd->add_option("--output,-o", f->output, "table, json or raw")->capture_default_str();
  cmd->add_option("--tenant", f->tenant, "X-Scope-OrgID to send");
  cmd->add_option("--timeout", f->timeout_s, "Seconds to wait for the answer")
      ->capture_default_str();
  cmd->add_option("--level,-l", f->levels, "Without LogQL: level (repeatable)");
  cmd->add_option("--service,-s", f->services, "Without LogQL: service (repeatable)");
  cmd->add_option("--instance", f->instances, "Without LogQL: instance (repeatable)");
  cmd->add_option("--regex,-e", f->regex, "Without LogQL: RE2 regex the line must match");
  cmd->add_option("--count-by", f->count_by,
                  "Without LogQL: count by level, service or level,service");
  cmd->add_flag("--patterns,-p", f->patterns,
                "List the message templates of the matching lines, biggest first "
                "(--limit of them; --step sets the volume's resolution)");
  cmd->add_flag("--new", f->only_new, "With --patterns: only templates new after the warm-up");
  cmd->callback([f, exit_code] { *exit_code = RunQuery(*f); });
}

}  // namespace lode
