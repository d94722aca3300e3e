#include "server/server_config.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

#include "parse/duration.h"
#include "tail/file_input_config.h"

namespace lode {

namespace {

std::string Where(const std::string& path, const YAML::Node& node) {
  return path + ":" + std::to_string(node.Mark().line + 1);
}

using Setter = std::function<Status(const YAML::Node&)>;

Status ApplySection(const std::string& path, const YAML::Node& node, const std::string& prefix,
                    const std::map<std::string, Setter>& setters,
                    const std::map<std::string, std::map<std::string, Setter>>* sections) {
  if (!node.IsMap()) {
    return Status::InvalidArgument(Where(path, node) + ": " +
                                   (prefix.empty() ? "the file" : "\"" + prefix + "\"") +
                                   " must be a mapping of keys to values");
  }
  for (const auto& kv : node) {
    std::string key = kv.first.as<std::string>();
    std::string full = prefix.empty() ? key : prefix + "." + key;
    if (sections) {
      auto sec = sections->find(key);
      if (sec != sections->end()) {
        LODE_RETURN_IF_ERROR(ApplySection(path, kv.second, full, sec->second, nullptr));
        continue;
      }
    }
    auto it = setters.find(key);
    if (it == setters.end()) {
      return Status::InvalidArgument(Where(path, kv.first) + ": unknown key \"" + full + "\"");
    }
    Status s = it->second(kv.second);
    if (!s.ok()) {
      return Status::InvalidArgument(Where(path, kv.second) + ": \"" + full +
                                     "\": " + std::string(s.message()));
    }
  }
  return Status::OK();
}

Setter String(std::string* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a string");
    *out = n.as<std::string>();
    return Status::OK();
  };
}

Setter Int(int* out) {
  return [out](const YAML::Node& n) -> Status {
    std::string s = n.IsScalar() ? n.as<std::string>() : "";
    int v = 0;
    auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0) {
      return Status::InvalidArgument("expected a non-negative integer, got \"" + s + "\"");
    }
    *out = v;
    return Status::OK();
  };
}

Setter Bytes(uint64_t* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a size such as 64MiB");
    LODE_ASSIGN_OR_RETURN(*out, ParseByteSize(n.as<std::string>()));
    return Status::OK();
  };
}

Setter Bool(bool* out) {
  return [out](const YAML::Node& n) -> Status {
    std::string s = n.IsScalar() ? n.as<std::string>() : "";
    if (s != "true" && s != "false") {
      return Status::InvalidArgument("expected true or false, got \"" + s + "\"");
    }
    *out = s == "true";
    return Status::OK();
  };
}

Setter Duration(int64_t* out) {
  return [out](const YAML::Node& n) -> Status {
    if (!n.IsScalar()) return Status::InvalidArgument("expected a duration such as 5ms");
    LODE_ASSIGN_OR_RETURN(*out, ParseDuration(n.as<std::string>()));
    return Status::OK();
  };
}

}  // namespace

Status LoadConfigFile(const std::string& path, ServerConfig* c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return Status::IOError("cannot read config file " + path);
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return Status::OK();  // an empty file changes nothing
  std::map<std::string, Setter> top = {
      {"data_dir", String(&c->data_dir)},
      {"log_level", String(&c->log_level)},
  };
  std::map<std::string, std::map<std::string, Setter>> sections = {
      {"http",
       {{"listen", String(&c->http_listen)},
        {"io_threads", Int(&c->io_threads)},
        {"worker_threads", Int(&c->worker_threads)},
        {"max_body_bytes", Bytes(&c->max_body_bytes)},
        {"max_decoded_bytes", Bytes(&c->max_decoded_bytes)},
        {"max_line_bytes", Bytes(&c->max_line_bytes)},
        {"web_dir", String(&c->web_dir)}}},
      {"ingest", {{"queue_budget_bytes", Bytes(&c->queue_budget_bytes)}}},
      {"wal",
       {{"file_bytes", Bytes(&c->wal_file_bytes)},
        {"group_delay", Duration(&c->wal_group_delay_ns)}}},
      {"storage",
       {{"flush_bytes", Bytes(&c->flush_bytes)},
        {"flush_age", Duration(&c->flush_age_ns)},
        {"retention", Duration(&c->retention_ns)},
        {"retention_bytes", Bytes(&c->retention_bytes)},
        {"archive_after", Duration(&c->archive_after_ns)},
        {"archive_dir", String(&c->archive_dir)},
        {"recompress_after", Duration(&c->recompress_after_ns)}}},
      {"syslog",
       {{"udp", String(&c->syslog_udp)},
        {"tcp", String(&c->syslog_tcp)},
        {"tenant", String(&c->syslog_tenant)},
        {"max_message_bytes", Bytes(&c->syslog_max_message_bytes)}}},
      {"files",
       {{"inputs",
         [c](const YAML::Node& n) {
           c->file_inputs.clear();
           return ParseFileInputs(n, &c->file_inputs);
         }},
        {"positions", String(&c->files_positions)},
        {"tenant", String(&c->files_tenant)},
        {"poll_interval", Duration(&c->files_poll_interval_ns)}}},
      {"alerting",
       {{"rules", String(&c->rules_file)},
        {"notifiers",
         [c](const YAML::Node& n) -> Status {
           if (!n.IsSequence()) return Status::InvalidArgument("expected a list of notifiers");
           c->notifiers.clear();
           size_t i = 0;
           for (const auto& item : n) {
             ++i;
             if (!item.IsMap()) {
               return Status::InvalidArgument("notifier " + std::to_string(i) +
                                              ": expected a mapping (type: ...)");
             }
             NotifierConfig nc;
             for (const auto& kv : item) {
               const std::string key = kv.first.as<std::string>();
               const std::string value = kv.second.IsScalar() ? kv.second.as<std::string>() : "";
               if (key == "type") {
                 nc.type = value;
               } else if (key == "path") {
                 nc.path = value;
               } else if (key == "url") {
                 nc.url = value;
               } else if (key == "timeout") {
                 auto d = ParseDuration(value);
                 if (!d.ok()) {
                   return Status::InvalidArgument("notifier " + std::to_string(i) + ": timeout: " +
                                                  std::string(d.status().message()));
                 }
                 nc.timeout_ns = *d;
               } else {
                 return Status::InvalidArgument("notifier " + std::to_string(i) +
                                                ": unknown key \"" + key +
                                                "\" (type, path, url, timeout)");
               }
             }
             auto made = MakeNotifier(nc);  // checked now, built at start
             if (!made.ok()) {
               return Status::InvalidArgument("notifier " + std::to_string(i) + ": " +
                                              std::string(made.status().message()));
             }
             c->notifiers.push_back(std::move(nc));
           }
           return Status::OK();
         }},
        {"repeat_interval", Duration(&c->alert_repeat_interval_ns)},
        {"out_of_order", Duration(&c->alert_out_of_order_ns)},
        {"external_url", String(&c->alert_external_url)}}},
      {"patterns",
       {{"enabled", Bool(&c->patterns_enabled)}, {"warmup", Duration(&c->patterns_warmup_ns)}}},
      {"query",
       {{"timeout", Duration(&c->query_timeout_ns)},
        {"max_series", Int(&c->query_max_series)},
        {"max_entries", Int(&c->query_max_entries)}}},
  };
  try {
    return ApplySection(path, root, "", top, &sections);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument(path + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

Result<uint64_t> ParseByteSize(std::string_view text) {
  auto bad = [&] {
    return Status::InvalidArgument("invalid size \"" + std::string(text) +
                                   "\" (examples: 4096, 64KiB, 10MB, 1GiB)");
  };
  double v = 0;
  auto r = std::from_chars(text.data(), text.data() + text.size(), v);
  if (r.ec != std::errc() || v < 0) return bad();
  std::string_view unit = text.substr(static_cast<size_t>(r.ptr - text.data()));
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.ends_with("B") || unit.ends_with("b")) unit.remove_suffix(1);
  double mult = 1;
  if (unit.empty())
    mult = 1;
  else if (unit == "k" || unit == "K")
    mult = 1e3;
  else if (unit == "M")
    mult = 1e6;
  else if (unit == "G")
    mult = 1e9;
  else if (unit == "T")
    mult = 1e12;
  else if (unit == "Ki")
    mult = 1024.0;
  else if (unit == "Mi")
    mult = 1024.0 * 1024;
  else if (unit == "Gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "Ti")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else
    return bad();
  double bytes = v * mult;
  if (bytes > 1.8e19) return bad();
  return static_cast<uint64_t>(std::llround(bytes));
}

Status SplitHostPort(std::string_view text, std::string* host, uint16_t* port) {
  auto bad = [&](std::string_view why) {
    return Status::InvalidArgument("invalid address \"" + std::string(text) +
                                   "\": " + std::string(why) + " (expected HOST:PORT)");
  };
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return bad("no port");
  std::string_view h = text.substr(0, colon);
  std::string_view p = text.substr(colon + 1);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  if (h.empty()) return bad("no host");
  unsigned v = 0;
  auto r = std::from_chars(p.data(), p.data() + p.size(), v);
  if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || v > 65535) {
    return bad("port must be 0-65535");
  }
  host->assign(h);
  *port = static_cast<uint16_t>(v);
  return Status::OK();
}

}  // namespace lode
