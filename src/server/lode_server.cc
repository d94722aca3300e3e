#include "server/lode_server.h"

#include <spdlog/spdlog.h>

namespace lode {

Result<std::unique_ptr<LodeServer>> LodeServer::Start(const ServerConfig& config) {
  std::unique_ptr<LodeServer> s(new LodeServer());

  HttpServer::Options ho;
  LODE_RETURN_IF_ERROR(SplitHostPort(config.http_listen, &ho.host, &ho.port));
  ho.io_threads = config.io_threads;
  ho.worker_threads = config.worker_threads;
  ho.max_body_bytes = config.max_body_bytes;

  SegmentStore::Options so;
  so.dir = config.data_dir;
  so.wal_file_bytes = config.wal_file_bytes;
  so.flush_bytes = config.flush_bytes;
  so.flush_age_ns = config.flush_age_ns;
  so.retention_ns = config.retention_ns;
  so.retention_bytes = config.retention_bytes;
  so.archive_after_ns = config.archive_after_ns;
  so.archive_dir = config.archive_dir;
  so.recompress_after_ns = config.recompress_after_ns;
  if (config.patterns_enabled) {
    PatternIndex::Options po;
    po.miner.warmup_ns = config.patterns_warmup_ns;
    s->patterns_ = std::make_unique<PatternIndex>(po);
    so.patterns = s->patterns_.get();
  }
  if (!config.rules_file.empty()) {
    LODE_ASSIGN_OR_RETURN(auto rules, LoadRulesFile(config.rules_file));
    std::vector<std::unique_ptr<Notifier>> notifiers;
    std::vector<NotifierConfig> configs = config.notifiers;
    if (configs.empty())
      configs.push_back(NotifierConfig{.type = "console", .path = "", .url = ""});
    for (const auto& nc : configs) {
      LODE_ASSIGN_OR_RETURN(auto n, MakeNotifier(nc));
      notifiers.push_back(std::move(n));
    }
    s->notifiers_ =
        std::make_unique<NotifierDispatcher>(std::move(notifiers), NotifierDispatcher::Options{});
    AlertEngine::Options ao;
    ao.repeat_interval_ns = config.alert_repeat_interval_ns;
    ao.out_of_order_ns = config.alert_out_of_order_ns;
    ao.state_path = config.data_dir + "/alerts.json";
    ao.external_url = config.alert_external_url.empty() ? "http://" + config.http_listen
                                                        : config.alert_external_url;
    ao.patterns = s->patterns_.get();
    const size_t n = rules.size();
    LODE_ASSIGN_OR_RETURN(
        s->alerts_, AlertEngine::Create(std::move(rules), ao,
                                        [d = s->notifiers_.get()](std::vector<Notification> b) {
                                          d->Submit(std::move(b));
                                        }));
    spdlog::info("lode: {} alert rule(s) from {}, {} notifier(s)", n, config.rules_file,
                 configs.size());
  }
  so.on_durable = [hub = &s->tail_hub_,
                   alerts = s->alerts_.get()](std::span<RecordBatch* const> batches) {
    if (hub->active()) hub->Publish(batches);
    if (alerts != nullptr) alerts->Observe(batches);
  };
  LODE_ASSIGN_OR_RETURN(s->store_, SegmentStore::Open(so));

  InProcessBus::Options bo;
  bo.budget_bytes = config.queue_budget_bytes;
  bo.group_delay_us = config.wal_group_delay_ns / 1000;
  s->bus_ = std::make_unique<InProcessBus>(s->store_.get(), bo);
  logql::QueryLimits limits;
  limits.timeout_ns = config.query_timeout_ns;
  limits.max_series = static_cast<size_t>(std::max(1, config.query_max_series));
  s->engine_ =
      std::make_unique<logql::Engine>(s->store_.get(), limits, Clock::Real(), s->patterns_.get());

  if (!config.syslog_udp.empty() || !config.syslog_tcp.empty()) {
    SyslogServer::Options sy;
    if (!config.syslog_udp.empty()) {
      LODE_RETURN_IF_ERROR(
          SplitHostPort(config.syslog_udp, &sy.udp_host, &sy.udp_port).WithContext("syslog udp"));
    }
    if (!config.syslog_tcp.empty()) {
      LODE_RETURN_IF_ERROR(
          SplitHostPort(config.syslog_tcp, &sy.tcp_host, &sy.tcp_port).WithContext("syslog tcp"));
    }
    sy.tenant = config.syslog_tenant;
    sy.max_message_bytes = config.syslog_max_message_bytes;
    LODE_ASSIGN_OR_RETURN(s->syslog_, SyslogServer::Start(sy, s->bus_.get()));
    spdlog::info(
        "lode: syslog on{}{}",
        sy.udp_host.empty() ? ""
                            : " udp " + sy.udp_host + ":" + std::to_string(s->syslog_->udp_port()),
        sy.tcp_host.empty() ? ""
                            : " tcp " + sy.tcp_host + ":" + std::to_string(s->syslog_->tcp_port()));
  }

  if (!config.file_inputs.empty()) {
    FileSource::Options fo;
    fo.tailer.inputs = config.file_inputs;
    fo.tailer.max_line_bytes = std::max<uint64_t>(config.max_line_bytes, 1024);
    fo.positions_path = config.files_positions.empty() ? config.data_dir + "/file_positions.json"
                                                       : config.files_positions;
    fo.tenant = config.files_tenant;
    fo.poll_interval_ns = config.files_poll_interval_ns;
    LODE_ASSIGN_OR_RETURN(s->files_, FileSource::Start(fo, s->bus_.get()));
    spdlog::info("lode: tailing files of {} input(s), positions in {}", config.file_inputs.size(),
                 fo.positions_path);
  }

  s->http_ = std::make_unique<HttpServer>(ho);
  ApiOptions ao;
  ao.body_limits.max_line_bytes = config.max_line_bytes;
  ao.max_decoded_bytes = config.max_decoded_bytes;
  ao.patterns = s->patterns_.get();
  if (s->syslog_) {
    ao.extra_sources = {{"syslog_udp", &s->syslog_->udp_counters()},
                        {"syslog_tcp", &s->syslog_->tcp_counters()}};
  }
  if (s->files_) ao.extra_sources.emplace_back("file", &s->files_->counters());
  s->web_ui_ = std::make_unique<WebUi>(s->http_.get(), EmbeddedWebAssets(), config.web_dir);
  s->web_ui_->Register();
  ao.page = [ui = s->web_ui_.get()](HttpRequest& r) { return ui->Serve(r, "index.html"); };
  ao.extra_metrics = [self = s.get()](std::string* out) {
    if (self->alert_api_) self->alert_api_->AppendMetrics(out);
  };
  LokiApiOptions lo;
  lo.max_limit = static_cast<size_t>(std::max(1, config.query_max_entries));
  lo.max_decoded_bytes = config.max_decoded_bytes;
  s->loki_ = std::make_unique<LokiApi>(s->http_.get(), s->bus_.get(), s->store_.get(),
                                       &s->tail_hub_, s->engine_.get(), lo);
  ao.extra_sources.emplace_back("loki", &s->loki_->push_counters());
  s->api_ = std::make_unique<LodeApi>(s->http_.get(), s->bus_.get(), s->store_.get(),
                                      s->store_.get(), ao);
  s->api_->Register();
  s->loki_->Register();
  s->alert_api_ = std::make_unique<AlertApi>(s->http_.get(), s->alerts_.get(), s->notifiers_.get(),
                                             config.rules_file);
  s->alert_api_->Register();
  if (s->alerts_) s->alerts_->Start();
  LODE_RETURN_IF_ERROR(s->http_->Start());
  spdlog::info("lode: serving http on {}:{} (web UI: http://{}:{}/{}), data in {}", ho.host,
               s->http_->port(), ho.host, s->http_->port(),
               config.web_dir.empty() ? "" : " from " + config.web_dir, config.data_dir);
  return s;
}

Status LodeServer::ReloadRules() {
  return alert_api_->Reload();
}

LodeServer::~LodeServer() {
  Stop();
}

void LodeServer::Stop() {
  // Order matters: no new requests, then store what was accepted, then close.
  if (http_) http_->Stop();
  if (syslog_) syslog_->Stop();
  if (files_) files_->Stop();
  if (bus_) bus_->Stop();
  http_.reset();  // first: destroys suspended handlers, which use the APIs
  api_.reset();
  loki_.reset();
  alert_api_.reset();
  web_ui_.reset();
  bus_.reset();
  files_.reset();
  syslog_.reset();  // after the bus: its last callbacks post to the syslog I/O context
  engine_.reset();
  store_.reset();  // no more on_durable calls after this
  if (alerts_) alerts_->Stop();
  alerts_.reset();
  if (notifiers_) notifiers_->Stop();  // an in-flight Send finishes (bounded by its timeout)
  notifiers_.reset();
  patterns_.reset();
}

}  // namespace lode
