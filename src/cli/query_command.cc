// `lode query`: a client for the query API, printing a table (levels in
// colour on a terminal), raw messages, or the server's JSON.
#include <simdjson.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "parse/duration.h"
#include "server/query_params.h"

namespace lode {

namespace {

struct QueryFlags {
  std::string text;  // positional: substring to find
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

// Field `key` of `e` as a string (empty when absent) or number (0 when absent).
std::string_view Str(simdjson::dom::element e, const char* key) {
  std::string_view v;
  if (e[key].get_string().get(v) != simdjson::SUCCESS) return {};
  return v;
}
uint64_t Uint(simdjson::dom::element e, const char* key) {
  uint64_t v = 0;
  if (e[key].get_uint64().get(v) != simdjson::SUCCESS) return 0;
  return v;
}

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

int PrintRecords(const std::string& body, const std::string& output) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(body).get(doc)) {
    std::cerr << "lode query: the server sent invalid JSON\n";
    return 1;
  }
  const bool colour = output == "table" && isatty(STDOUT_FILENO) != 0;
  simdjson::dom::array records;
  if (doc["records"].get_array().get(records)) {
    std::cerr << "lode query: unexpected answer: " << body.substr(0, 200) << "\n";
    return 1;
  }
  for (simdjson::dom::element r : records) {
    std::string_view ts = Str(r, "timestamp"), level = Str(r, "level");
    std::string_view service = Str(r, "service"), message = Str(r, "message");
    if (output == "raw") {
      std::cout << message << "\n";
      continue;
    }
    std::string lvl = Upper(level);
    if (colour) {
      std::printf("\x1b[2m%-30.*s\x1b[0m %s%-7s\x1b[0m \x1b[36m%-22.*s\x1b[0m %.*s\n",
                  static_cast<int>(ts.size()), ts.data(), LevelColour(level), lvl.c_str(),
                  static_cast<int>(service.size()), service.data(),
                  static_cast<int>(message.size()), message.data());
    } else {
      std::printf("%-30.*s %-7s %-22.*s %.*s\n", static_cast<int>(ts.size()), ts.data(),
                  lvl.c_str(), static_cast<int>(service.size()), service.data(),
                  static_cast<int>(message.size()), message.data());
    }
  }
  simdjson::dom::element stats;
  double took = 0;
  uint64_t matched = 0, scanned = 0;
  if (doc["stats"].get(stats) == simdjson::SUCCESS) {
    matched = Uint(stats, "matched");
    scanned = Uint(stats, "scanned");
    if (stats["took_ms"].get_double().get(took) != simdjson::SUCCESS) took = 0;
  }
  if (output == "table") {
    std::fprintf(stderr, "%zu shown, %llu matched, %llu scanned, %.1f ms\n", records.size(),
                 static_cast<unsigned long long>(matched), static_cast<unsigned long long>(scanned),
                 took);
  }
  return 0;
}

int PrintGroups(const std::string& body) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  simdjson::dom::array groups;
  if (parser.parse(body).get(doc) || doc["groups"].get_array().get(groups)) {
    std::cerr << "lode query: unexpected answer: " << body.substr(0, 200) << "\n";
    return 1;
  }
  for (simdjson::dom::element g : groups) {
    std::string_view level = Str(g, "level"), service = Str(g, "service");
    uint64_t count = Uint(g, "count");
    std::string label;
    if (!level.empty()) label += Upper(level);
    if (!service.empty()) label += (label.empty() ? "" : " ") + std::string(service);
    std::printf("%-40s %12llu\n", label.c_str(), static_cast<unsigned long long>(count));
    simdjson::dom::array buckets;
    if (!g["buckets"].get_array().get(buckets)) {
      for (simdjson::dom::element b : buckets) {
        std::string_view start = Str(b, "start");
        uint64_t n = Uint(b, "count");
        std::printf("  %-38.*s %12llu\n", static_cast<int>(start.size()), start.data(),
                    static_cast<unsigned long long>(n));
      }
    }
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
  bool aggregate = !f.count_by.empty();
  std::string target = aggregate ? "/api/v1/aggregate" : "/api/v1/logs";
  if (!f.text.empty()) AddParam(&target, "contains", f.text);
  for (const auto& l : f.levels) AddParam(&target, "level", l);
  for (const auto& s : f.services) AddParam(&target, "service", s);
  for (const auto& i : f.instances) AddParam(&target, "instance", i);
  if (!f.regex.empty()) AddParam(&target, "regex", f.regex);
  if (!f.since.empty()) {
    auto d = ParseDuration(f.since);
    if (!d.ok()) {
      std::cerr << "lode query: --since: " << d.status().message() << "\n";
      return 2;
    }
    int64_t now = Clock::Real()->NowNanos();
    AddParam(&target, "start", std::to_string(now - *d));
    AddParam(&target, "end", std::to_string(now));
  }
  if (!f.from.empty()) AddParam(&target, "start", f.from);
  if (!f.to.empty()) AddParam(&target, "end", f.to);
  if (aggregate) {
    AddParam(&target, "by", f.count_by);
    if (!f.step.empty()) AddParam(&target, "step", f.step);
  } else {
    AddParam(&target, "limit", std::to_string(f.limit));
    if (f.forward) AddParam(&target, "direction", "forward");
  }
  std::vector<std::pair<std::string, std::string>> headers;
  if (!f.tenant.empty()) headers.emplace_back("X-Scope-OrgID", f.tenant);
  HttpClient client(url->host, url->port);
  auto res = client.Request(boost::beast::http::verb::get, target, "", headers);
  if (!res.ok()) {
    std::cerr << "lode query: " << res.status().message() << "\n";
    return 1;
  }
  if (res->status != 200) {
    std::cerr << "lode query: HTTP " << res->status << ": " << res->body << "\n";
    return 1;
  }
  if (f.output == "json") {
    std::cout << res->body << "\n";
    return 0;
  }
  return aggregate ? PrintGroups(res->body) : PrintRecords(res->body, f.output);
}

}  // namespace

void AddQueryCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<QueryFlags>();
  CLI::App* cmd = app.add_subcommand("query", "Search a Lode server's logs.");
  cmd->add_option("text", f->text, "Text the message must contain");
  cmd->add_option("--url", f->url, "Server address")->capture_default_str();
  cmd->add_option("--level,-l", f->levels, "Level (repeatable): trace debug info warn error fatal");
  cmd->add_option("--service,-s", f->services, "Service (repeatable)");
  cmd->add_option("--instance", f->instances, "Instance (repeatable)");
  cmd->add_option("--regex,-e", f->regex, "RE2 regular expression the message must match");
  cmd->add_option("--since", f->since, "Only the last DURATION, e.g. 15m, 2h");
  cmd->add_option("--from", f->from, "Start time (RFC 3339 or epoch)");
  cmd->add_option("--to", f->to, "End time (RFC 3339 or epoch)");
  cmd->add_option("--limit", f->limit, "Most records to show")->capture_default_str();
  cmd->add_flag("--forward", f->forward, "Oldest first (default newest first)");
  cmd->add_option("--output,-o", f->output, "table, json or raw")->capture_default_str();
  cmd->add_option("--count-by", f->count_by, "Count instead of listing: level, service or level,service");
  cmd->add_option("--step", f->step, "With --count-by: count per time bucket, e.g. 1m");
  cmd->add_option("--tenant", f->tenant, "X-Scope-OrgID to send");
  cmd->callback([f, exit_code] { *exit_code = RunQuery(*f); });
}

}  // namespace lode
