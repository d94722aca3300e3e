// AlertApi: the alerting endpoints (issue 7).
//
//   GET  /api/v1/rules          the loaded rules, with their groups and counts
//   GET  /api/v1/alerts         pending and firing alerts
//   POST /api/v1/rules/reload   read the rules file again; an invalid file is
//                               refused (400, naming file, line and reason)
//                               and the old rules stay
#pragma once

#include <string>

#include "alert/engine.h"
#include "alert/notifier.h"
#include "server/http_server.h"

namespace lode {

class AlertApi {
 public:
  // REQUIRES: server, engine and dispatcher outlive the API. Without rules
  // (engine and dispatcher null) the lists are empty, with "enabled": false,
  // and a reload is refused.
  AlertApi(HttpServer* server, AlertEngine* engine, const NotifierDispatcher* dispatcher,
           std::string rules_path);

  void Register();
  // Reads the rules file and replaces the engine's rules (also on SIGHUP).
  Status Reload();
  // Prometheus text for /metrics: alert states and notifier counters.
  void AppendMetrics(std::string* out) const;

 private:
  boost::asio::awaitable<HttpResponse> Rules(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Alerts(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> ReloadHandler(HttpRequest& req);

  HttpServer* server_;
  AlertEngine* engine_;
  const NotifierDispatcher* dispatcher_;
  std::string rules_path_;
};

}  // namespace lode
