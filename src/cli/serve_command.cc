// `lode serve`: runs the server until SIGINT or SIGTERM.
#include <malloc.h>
#include <signal.h>
#include <spdlog/spdlog.h>

#include <iostream>

#include "cli/commands.h"
#include "server/lode_server.h"
#include "server/server_config.h"

namespace lode {

namespace {

struct ServeFlags {
  std::string config_file;
  std::string data_dir;
  std::string http;
  std::string log_level;
  std::string max_body;
  std::string queue_budget;
  std::string syslog_udp;
  std::string syslog_tcp;
  std::vector<std::string> files;
  std::string rules;
  std::string web_dir;
};

int RunServe(const ServeFlags& f) {
  ServerConfig config;
  if (!f.config_file.empty()) {
    Status s = LoadConfigFile(f.config_file, &config);
    if (!s.ok()) {
      std::cerr << "lode serve: " << s.message() << "\n";
      return 2;
    }
  }
  if (!f.data_dir.empty()) config.data_dir = f.data_dir;
  if (!f.http.empty()) config.http_listen = f.http;
  if (!f.syslog_udp.empty()) config.syslog_udp = f.syslog_udp;
  if (!f.syslog_tcp.empty()) config.syslog_tcp = f.syslog_tcp;
  if (!f.files.empty()) {
    FileInput in;  // defaults: format auto, service and instance from the path
    in.paths = f.files;
    config.file_inputs.push_back(std::move(in));
  }
  if (!f.rules.empty()) config.rules_file = f.rules;
  if (!f.web_dir.empty()) config.web_dir = f.web_dir;
  if (!f.log_level.empty()) config.log_level = f.log_level;
  if (!f.max_body.empty()) {
    auto v = ParseByteSize(f.max_body);
    if (!v.ok()) {
      std::cerr << "lode serve: --max-body: " << v.status().message() << "\n";
      return 2;
    }
    config.max_body_bytes = *v;
  }
  if (!f.queue_budget.empty()) {
    auto v = ParseByteSize(f.queue_budget);
    if (!v.ok()) {
      std::cerr << "lode serve: --queue-budget: " << v.status().message() << "\n";
      return 2;
    }
    config.queue_budget_bytes = *v;
  }
  auto level = spdlog::level::from_str(config.log_level);
  if (level == spdlog::level::off && config.log_level != "off") {
    std::cerr << "lode serve: unknown log level \"" << config.log_level
              << "\" (trace, debug, info, warn, error, off)\n";
    return 2;
  }
  spdlog::set_level(level);
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v", spdlog::pattern_time_type::utc);

  // Request bodies and batches are 0.1-64 MiB and come and go constantly.
  // glibc would mmap/munmap each one (above 128 KiB), so every request would
  // fault in and zero fresh pages; keep them in the heap instead, and keep
  // freed memory for reuse rather than trimming it back to the system.
  mallopt(M_MMAP_THRESHOLD, 256 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);

  // Signals are taken synchronously by this thread; every other thread
  // inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto server = LodeServer::Start(config);
  if (!server.ok()) {
    spdlog::error("lode serve: {}", server.status().message());
    return 1;
  }
  int sig = 0;
  // SIGHUP reloads the alert rules (an invalid file keeps the old ones).
  while (sigwait(&signals, &sig) == 0 && sig == SIGHUP) {
    Status s = (*server)->ReloadRules();
    if (!s.ok()) spdlog::error("lode: SIGHUP: {}", s.message());
  }
  spdlog::info("lode: {} received, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*server)->Stop();
  spdlog::info("lode: stopped");
  return 0;
}

}  // namespace

void AddServeCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Run the Lode server (HTTP ingest and query).");
  cmd->add_option("--config", flags->config_file, "YAML config file (flags override it)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--data", flags->data_dir, "Data directory (default ./data)");
  cmd->add_option("--http", flags->http, "HTTP listen address HOST:PORT (default 127.0.0.1:8080)");
  cmd->add_option("--syslog-udp", flags->syslog_udp, "Receive syslog over UDP on HOST:PORT");
  cmd->add_option("--syslog-tcp", flags->syslog_tcp,
                  "Receive syslog over TCP on HOST:PORT (LF or octet-counted framing)");
  cmd->add_option("--files", flags->files,
                  "Tail files matching this glob (repeatable), e.g. '/var/log/pods/*/*/*.log'; "
                  "the config's files: section gives more control (docs/FILES.md)");
  cmd->add_option("--rules", flags->rules,
                  "Alert rules file (docs/ALERTING.md); SIGHUP or POST /api/v1/rules/reload "
                  "reads it again")
      ->check(CLI::ExistingFile);
  cmd->add_option("--web-dir", flags->web_dir,
                  "Serve the web UI from this directory (a `node web/build.mjs --outdir` "
                  "output) instead of the copy built in; for working on the UI")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--log-level", flags->log_level,
                  "trace, debug, info, warn, error (default info)");
  cmd->add_option("--max-body", flags->max_body, "Largest request body, e.g. 64MiB");
  cmd->add_option("--queue-budget", flags->queue_budget,
                  "Bytes of accepted, not yet stored records above which ingest answers 429");
  cmd->callback([flags, exit_code] { *exit_code = RunServe(*flags); });
}

}  // namespace lode
