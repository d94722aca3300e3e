// ServerConfig: every setting of `lode serve`, from defaults, a YAML file
// (--config) and flags, in that order of precedence (flags win).
//
// The file mirrors this struct:
//
//   data_dir: ./data
//   log_level: info            # trace, debug, info, warn, error
//   http:
//     listen: 127.0.0.1:8080
//     io_threads: 0            # 0: one per core
//     worker_threads: 0        # query workers; 0: one per core
//     max_body_bytes: 64MiB    # larger requests get 413
//     max_decoded_bytes: 256MiB
//     max_line_bytes: 1MiB
//     web_dir: ""              # serve the web UI from this directory (UI work)
//                              # instead of the copy built into the binary
//   ingest:
//     queue_budget_bytes: 256MiB  # above this, ingest answers 429
//   wal:
//     file_bytes: 64MiB        # WAL rotation size
//     group_delay: 0ms         # wait this long to share one fsync among requests
//   storage:
//     flush_bytes: 64MiB       # flush the in-memory head into a segment at this size
//     flush_age: 1m            # ... or when its oldest record has waited this long
//     retention: 0             # delete data older than this (e.g. 30d); 0 keeps it
//     retention_bytes: 0       # delete the oldest segments above this total; 0: no cap
//     archive_after: 0         # move segments older than this to archive_dir; 0: never
//     archive_dir: ""          # default <data_dir>/archive
//     recompress_after: 5m     # rewrite flushed segments smaller (zstd 9) when this old
//   syslog:
//     udp: ""                  # HOST:PORT to receive syslog over UDP; "" = off
//     tcp: ""                  # HOST:PORT for TCP (LF or octet-counted framing)
//     tenant: default          # the tenant syslog records are stored under
//     max_message_bytes: 64KiB
//   files:                     # tail log files (docs/FILES.md)
//     inputs: []               # see tail/file_input_config.h; [] = off
//     positions: ""            # read positions; default <data_dir>/file_positions.json
//     tenant: default
//     poll_interval: 250ms
//   alerting:                  # docs/ALERTING.md
//     rules: ""                # rules file (--rules); "" = no alerting
//     notifiers: []            # - {type: console} | {type: file, path: P} |
//                              #   {type: webhook, url: U} | {type: alertmanager, url: U}
//                              # none given: console
//     repeat_interval: 4h      # a firing alert is notified again this often
//     out_of_order: 1m         # how late a record may arrive and still count
//     external_url: ""         # base of generatorURL; default http://<http.listen>
//   patterns:
//     enabled: true            # mine message templates at ingest (docs/PATTERNS.md)
//     warmup: 1h               # templates first seen later than this after a
//                              # service's first line are "new"
//   query:
//     timeout: 2m              # a query running longer stops with an error
//     max_series: 500          # series in a metric query's answer
//     max_entries: 5000        # largest `limit` of log lines a query may ask for
//
// Unknown keys are an error naming the key and its line.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "alert/notifier.h"
#include "common/status.h"
#include "tail/file_tailer.h"

namespace lode {

struct ServerConfig {
  std::string data_dir = "./data";
  std::string log_level = "info";
  std::string http_listen = "127.0.0.1:8080";
  int io_threads = 0;
  int worker_threads = 0;
  uint64_t max_body_bytes = 64ull << 20;
  uint64_t max_decoded_bytes = 256ull << 20;
  uint64_t max_line_bytes = 1ull << 20;
  std::string web_dir;  // empty: the embedded web UI
  uint64_t queue_budget_bytes = 256ull << 20;
  uint64_t wal_file_bytes = 64ull << 20;
  int64_t wal_group_delay_ns = 0;
  uint64_t flush_bytes = 64ull << 20;
  int64_t flush_age_ns = 60'000'000'000;
  int64_t retention_ns = 0;
  uint64_t retention_bytes = 0;
  int64_t archive_after_ns = 0;
  std::string archive_dir;
  int64_t recompress_after_ns = 300'000'000'000;
  std::string syslog_udp;
  std::string syslog_tcp;
  std::string syslog_tenant = "default";
  uint64_t syslog_max_message_bytes = 64ull << 10;
  std::vector<FileInput> file_inputs;
  std::string files_positions;  // empty: <data_dir>/file_positions.json
  std::string files_tenant = "default";
  int64_t files_poll_interval_ns = 250'000'000;
  std::string rules_file;
  std::vector<NotifierConfig> notifiers;
  int64_t alert_repeat_interval_ns = 4 * 3'600'000'000'000;
  int64_t alert_out_of_order_ns = 60'000'000'000;
  std::string alert_external_url;
  bool patterns_enabled = true;
  int64_t patterns_warmup_ns = 3'600'000'000'000;
  int64_t query_timeout_ns = 120'000'000'000;
  int query_max_series = 500;
  int query_max_entries = 5000;
};

// Reads `path` over the values already in *config. InvalidArgument naming the
// file, line and key for unknown keys and bad values; IOError if unreadable.
Status LoadConfigFile(const std::string& path, ServerConfig* config);

// Parses "64MiB", "1.5GB", "4096", "10k" (k/M/G/T = 1000^n, Ki/Mi/Gi/Ti = 1024^n, optional B).
Result<uint64_t> ParseByteSize(std::string_view text);

// Splits "host:port" ("[::1]:8080" for IPv6). InvalidArgument when malformed.
Status SplitHostPort(std::string_view text, std::string* host, uint16_t* port);

}  // namespace lode
