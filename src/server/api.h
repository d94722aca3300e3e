// LodeApi: the HTTP endpoints of the single-node server.
//
//   POST /api/v1/logs       ingest JSON object / array / NDJSON / text
//                           (Idempotency-Key: a repeated request is answered, not stored again)
//   POST /api/v1/cloudwatch a CloudWatch Logs subscription payload (JSON or gzip)
//   POST /api/v1/firehose   Firehose HTTP endpoint delivery of such payloads
//   POST /v1/logs           OTLP/HTTP logs, protobuf or JSON
//   POST /_bulk, /<index>/_bulk  Elasticsearch bulk (index, create); GET / answers
//                           as an Elasticsearch 8 node does, for clients that check
//   GET  /api/v1/logs       list matching records
//   GET  /api/v1/aggregate  counts by level and/or service, optionally per step
//   POST /api/v1/archive/restore  move archived segments back to the live set
//   POST /api/v1/admin/flush      write the in-memory head into segments now
//   GET  /healthz, /readyz  probes
//   GET  /metrics           Prometheus text format
//
// The API owns its counters; it borrows the bus and the store.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "bus/bus.h"
#include "bus/publish_and_wait.h"
#include "common/clock.h"
#include "ingest/source_counters.h"
#include "pattern/pattern_index.h"
#include "pipeline/log_body.h"
#include "server/http_server.h"
#include "server/idempotency.h"
#include "storage/log_store.h"
#include "storage/segment_store.h"

namespace lode {

struct ApiOptions {
  BodyLimits body_limits;
  uint64_t max_decoded_bytes = 256ull << 20;  // after Content-Encoding
  size_t default_limit = 100;                 // records per /api/v1/logs answer
  size_t max_limit = 100000;
  Clock* clock = Clock::Real();
  // Resolves pattern ids in answers (may be null: ids are then shown as stored).
  const PatternIndex* patterns = nullptr;
  // Other sources' counters for /metrics (e.g. {"syslog_udp", ...}); not owned.
  std::vector<std::pair<std::string, const SourceCounters*>> extra_sources;
  // Appends more Prometheus text to /metrics (e.g. alerting); may be empty.
  std::function<void(std::string*)> extra_metrics;
  // Answers "/" for a browser (Accept: text/html) with the web UI's page;
  // everyone else gets the Elasticsearch root. May be empty.
  HttpHandler page;
};

class LodeApi {
 public:
  // REQUIRES: server, bus and store outlive the API. `segments` is the same
  // store when it is a SegmentStore (for the archive and admin endpoints and
  // storage metrics), else null.
  LodeApi(HttpServer* server, Bus* bus, const LogStore* store, SegmentStore* segments,
          const ApiOptions& options);

  // Adds the routes to the server. REQUIRES: before server->Start().
  void Register();

 private:
  boost::asio::awaitable<HttpResponse> Ingest(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> IngestBody(HttpRequest& req);
  // CloudWatch Logs subscription payloads: one posted by a forwarder
  // (Lambda), or a Firehose HTTP endpoint delivery of many.
  boost::asio::awaitable<HttpResponse> CloudWatch(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Firehose(HttpRequest& req);
  // OTLP/HTTP logs: protobuf or JSON ExportLogsServiceRequest.
  boost::asio::awaitable<HttpResponse> Otlp(HttpRequest& req);
  // Elasticsearch's bulk API (index and create actions).
  boost::asio::awaitable<HttpResponse> EsBulk(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> QueryLogs(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Aggregate(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Metrics(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Restore(HttpRequest& req);
  boost::asio::awaitable<HttpResponse> Flush(HttpRequest& req);

  HttpServer* server_;
  Bus* bus_;
  const LogStore* store_;
  SegmentStore* segments_;
  ApiOptions options_;
  SourceCounters http_;
  IdempotencyCache idempotency_{IdempotencyCache::Options{}};
  SourceCounters cloudwatch_;
  SourceCounters otlp_;
  SourceCounters elasticsearch_;
  std::atomic<uint64_t> es_sequence_{0};  // _seq_no and generated _id of bulk items
};

// Reads the tenant from X-Scope-OrgID ("default" when absent). InvalidArgument
// unless it is 1-64 characters of [A-Za-z0-9_.-].
Result<std::string> TenantOf(const HttpRequest& req);

}  // namespace lode
