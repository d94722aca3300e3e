// LodeServer: one single-node Lode, assembled: store (mining patterns, feeding
// live tail) ← bus ← APIs ← HTTP.
#pragma once

#include <memory>

#include "alert/engine.h"
#include "alert/notifier.h"
#include "bus/in_process_bus.h"
#include "ingest/syslog_server.h"
#include "query/logql_engine.h"
#include "query/tail.h"
#include "server/alert_api.h"
#include "server/api.h"
#include "server/http_server.h"
#include "server/loki_api.h"
#include "server/server_config.h"
#include "server/web_ui.h"
#include "storage/segment_store.h"
#include "tail/file_source.h"

namespace lode {

class LodeServer {
 public:
  // Opens the store (replaying its WAL), starts the bus and the HTTP server.
  // Errors name what failed (e.g. the address that could not be bound).
  static Result<std::unique_ptr<LodeServer>> Start(const ServerConfig& config);
  ~LodeServer();

  // Stops taking requests, stores everything already accepted, closes the
  // store. Idempotent.
  void Stop();

  uint16_t http_port() const { return http_->port(); }
  // Reads the rules file again (SIGHUP). FailedPrecondition without --rules;
  // an invalid file leaves the old rules active.
  Status ReloadRules();
  // 0 when not listening.
  uint16_t syslog_udp_port() const { return syslog_ ? syslog_->udp_port() : 0; }
  uint16_t syslog_tcp_port() const { return syslog_ ? syslog_->tcp_port() : 0; }

 private:
  LodeServer() = default;

  std::unique_ptr<PatternIndex> patterns_;         // null when mining is off
  std::unique_ptr<NotifierDispatcher> notifiers_;  // null without rules
  std::unique_ptr<AlertEngine> alerts_;            // null without rules
  std::unique_ptr<AlertApi> alert_api_;
  std::unique_ptr<WebUi> web_ui_;
  TailHub tail_hub_;
  std::unique_ptr<SegmentStore> store_;
  std::unique_ptr<logql::Engine> engine_;
  std::unique_ptr<InProcessBus> bus_;
  std::unique_ptr<SyslogServer> syslog_;  // null when syslog is off
  std::unique_ptr<FileSource> files_;     // null when no files are tailed
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<LodeApi> api_;
  std::unique_ptr<LokiApi> loki_;
};

}  // namespace lode
