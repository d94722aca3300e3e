// `lode agent`: tails log files and ships them to a Lode server (agent/agent.h).
#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "agent/agent.h"
#include "cli/commands.h"
#include "cli/http_client.h"
#include "parse/duration.h"
#include "server/server_config.h"
#include "tail/file_input_config.h"

namespace lode {

namespace {

struct AgentFlags {
  std::string config_file;
  std::string url;
  std::string tenant;
  std::string state_dir = "./lode-agent";
  std::vector<std::string> paths;
  std::vector<std::string> exclude;
  std::string format = "auto";
  std::string service;
  std::string instance;
  std::vector<std::string> labels;
  std::string multiline_start;
  std::string start_at = "beginning";
  size_t batch_records = 5000;
  std::string batch_bytes = "1MiB";
  std::string spool_max = "1GiB";
  std::string poll_interval = "250ms";
  std::string log_level = "info";
};

int Fail(const std::string& what) {
  std::cerr << "lode agent: " << what << "\n";
  return 2;
}

int RunAgent(const AgentFlags& f) {
  AgentOptions o;
  std::string url = f.url;
  std::string tenant = f.tenant;
  std::string state_dir = f.state_dir;
  if (!f.config_file.empty()) {
    // url, tenant, state_dir and inputs; flags win over the file.
    try {
      YAML::Node root = YAML::LoadFile(f.config_file);
      for (const auto& kv : root) {
        std::string key = kv.first.as<std::string>();
        std::string where = f.config_file + ":" + std::to_string(kv.first.Mark().line + 1);
        if (key == "url") {
          if (url.empty()) url = kv.second.as<std::string>();
        } else if (key == "tenant") {
          if (tenant.empty()) tenant = kv.second.as<std::string>();
        } else if (key == "state_dir") {
          if (f.state_dir == "./lode-agent") state_dir = kv.second.as<std::string>();
        } else if (key == "inputs") {
          Status s = ParseFileInputs(kv.second, &o.tailer.inputs);
          if (!s.ok()) return Fail(where + ": inputs: " + std::string(s.message()));
        } else {
          return Fail(where + ": unknown key \"" + key + "\" (url, tenant, state_dir, inputs)");
        }
      }
    } catch (const YAML::Exception& e) {
      return Fail(f.config_file + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
    }
  }
  if (!f.paths.empty()) {
    FileInput in;
    in.paths = f.paths;
    in.exclude = f.exclude;
    auto fmt = ParseFileFormat(f.format);
    if (!fmt.ok()) return Fail("--format: " + std::string(fmt.status().message()));
    in.format = *fmt;
    in.service = f.service;
    in.instance = f.instance;
    in.multiline_start = f.multiline_start;
    in.start_at_end = f.start_at == "end";
    for (const auto& l : f.labels) {
      size_t eq = l.find('=');
      if (eq == std::string::npos || eq == 0)
        return Fail("--label: expected NAME=VALUE, got \"" + l + "\"");
      in.labels.push_back({l.substr(0, eq), l.substr(eq + 1)});
    }
    o.tailer.inputs.push_back(std::move(in));
  }
  if (o.tailer.inputs.empty())
    return Fail("nothing to tail: give --path GLOB or a --config with inputs");
  if (url.empty()) return Fail("--url is required (e.g. http://127.0.0.1:8080)");
  auto u = HttpUrl::Parse(url);
  if (!u.ok()) return Fail("--url: " + std::string(u.status().message()));
  o.host = u->host;
  o.port = u->port;
  if (u->target != "/") o.target = u->target;
  o.tenant = tenant;
  o.state_dir = state_dir;
  o.batch_records = std::max<size_t>(1, f.batch_records);
  auto bb = ParseByteSize(f.batch_bytes);
  if (!bb.ok()) return Fail("--batch-bytes: " + std::string(bb.status().message()));
  o.batch_bytes = *bb;
  auto sm = ParseByteSize(f.spool_max);
  if (!sm.ok()) return Fail("--spool-max: " + std::string(sm.status().message()));
  o.spool_max_bytes = *sm;
  auto pi = ParseDuration(f.poll_interval);
  if (!pi.ok()) return Fail("--poll-interval: " + std::string(pi.status().message()));
  o.poll_interval_ns = *pi;

  auto level = spdlog::level::from_str(f.log_level);
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  o.on_fatal = [] { kill(getpid(), SIGTERM); };  // wakes sigwait below
  auto agent = Agent::Start(o);
  if (!agent.ok()) {
    spdlog::error("lode agent: {}", agent.status().message());
    return 1;
  }
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("lode agent: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*agent)->Stop();
  const AgentStats& st = (*agent)->stats();
  spdlog::info("lode agent: stopped; {} records sent, {} refused by the server, {} retries",
               st.records_sent.load(), st.records_rejected.load(), st.retries.load());
  return (*agent)->failed() ? 1 : 0;
}

}  // namespace

void AddAgentCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<AgentFlags>();
  CLI::App* cmd = app.add_subcommand(
      "agent", "Tail log files (Kubernetes, Docker, plain) and ship them to a Lode server.");
  cmd->add_option("--url", f->url, "The server, e.g. http://127.0.0.1:8080 (path /api/v1/logs)");
  cmd->add_option("--config", f->config_file,
                  "YAML file with url, tenant, state_dir and inputs (docs/FILES.md)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--path", f->paths,
                  "Glob of files to tail (repeatable), e.g. "
                  "'/var/log/pods/*/*/*.log'");
  cmd->add_option("--exclude", f->exclude, "Glob of paths to skip (repeatable)");
  cmd->add_option("--format", f->format, "auto, cri, docker or plain")->capture_default_str();
  cmd->add_option("--service", f->service,
                  "Service of every record (default: the pod's owner, else the file name)");
  cmd->add_option("--instance", f->instance, "Instance (default: the pod, else the host name)");
  cmd->add_option("--label", f->labels, "NAME=VALUE attribute added to every record (repeatable)");
  cmd->add_option("--multiline-start", f->multiline_start,
                  "RE2 pattern of a line that starts an entry; other lines continue it "
                  "(e.g. '^\\S' or '^\\d{4}-')");
  cmd->add_option("--start-at", f->start_at,
                  "Files found at the first start without a saved position: read from the "
                  "beginning or the end")
      ->check(CLI::IsMember({"beginning", "end"}))
      ->capture_default_str();
  cmd->add_option("--tenant", f->tenant, "X-Scope-OrgID to send");
  cmd->add_option("--state-dir", f->state_dir, "Positions, agent id and the on-disk spool")
      ->capture_default_str();
  cmd->add_option("--batch-records", f->batch_records, "Records per request")
      ->capture_default_str();
  cmd->add_option("--batch-bytes", f->batch_bytes, "Bytes per request (about)")
      ->capture_default_str();
  cmd->add_option("--spool-max", f->spool_max,
                  "On-disk buffer while the server is unreachable; reading pauses above it")
      ->capture_default_str();
  cmd->add_option("--poll-interval", f->poll_interval, "How often files are checked")
      ->capture_default_str();
  cmd->add_option("--log-level", f->log_level, "trace, debug, info, warn, error")
      ->capture_default_str();
  cmd->callback([f, exit_code] { *exit_code = RunAgent(*f); });
}

}  // namespace lode
