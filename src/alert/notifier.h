// Notifiers: how alert notifications (notification.h) leave Lode.
//
// A Notifier delivers one batch of notifications to one destination and says
// whether it worked; it never retries by itself. Four are built in:
//
//   console       one human-readable line per notification on stderr
//   file          JSON Lines appended to a file
//   webhook       one HTTP POST per batch, shaped like an Alertmanager webhook
//   alertmanager  Alertmanager API v2: POST <base>/api/v2/alerts
//
// NotifierDispatcher owns the notifiers and gives each one a bounded queue, a
// worker thread and the retry policy (exponential backoff with jitter, give-up
// after a number of attempts or an age), so the alert engine hands over a
// batch without waiting and a slow or dead destination delays nobody else.
//
//   std::vector<std::unique_ptr<Notifier>> notifiers;
//   NotifierConfig config;
//   config.type = "webhook";
//   config.url = "http://hooks:8080/alerts";
//   LODE_ASSIGN_OR_RETURN(auto webhook, MakeNotifier(config));
//   notifiers.push_back(std::move(webhook));
//   NotifierDispatcher dispatcher(std::move(notifiers), NotifierDispatcher::Options{});
//   dispatcher.Submit(std::move(batch));  // never blocks
//
// The JSON object written for one notification (the file line, and each
// element of a webhook's "alerts") is
//
//   {"status":"firing","rule":"ErrorBurst","labels":{"alertname":"ErrorBurst",...},
//    "annotations":{"summary":"..."},"value":57,"startsAt":"2026-11-30T10:00:01Z",
//    "endsAt":"0001-01-01T00:00:00Z","generatorURL":"http://...","sample":"",
//    "fingerprint":"9f3c..."}
//
// Times are RFC 3339 UTC. An unknown time (a firing alert's endsAt, or a
// starts_at_ns of 0) is written "0001-01-01T00:00:00Z", Go's zero time, as
// Alertmanager does, so receivers written for Alertmanager parse it. "labels"
// always holds "alertname": the rule's name is added when the notification's
// labels lack it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "alert/notification.h"
#include "common/clock.h"
#include "common/env.h"
#include "common/status.h"

namespace lode {

class HttpClient;

// One destination for notifications.
//
// Send blocks until the batch is delivered or has failed, and must not retry
// by itself: the dispatcher owns retries. Its Status tells the dispatcher
// what to do: OK is delivered; InvalidArgument or TooLarge mean the
// destination refused this batch for good (HTTP 4xx) and it is not retried;
// any other code is retried later.
// Thread safety: Send is called from one thread at a time (the dispatcher's
// worker for this notifier); name() may be called from any thread.
class Notifier {
 public:
  virtual ~Notifier() = default;
  // A short name for logs and metrics, e.g. "webhook:http://hooks:8080/alerts".
  // Valid as long as the notifier.
  virtual std::string_view name() const = 0;
  // Delivers `batch` (never empty when called by the dispatcher).
  virtual Status Send(const std::vector<Notification>& batch) = 0;
  // Whether `refresh` notifications (a firing alert sent again to keep it
  // alive) are for this notifier; the dispatcher gives it none otherwise.
  virtual bool WantsRefresh() const { return false; }
};

// Writes one line per notification, for people watching a terminal:
//
//   2026-11-30T10:00:01Z FIRING ErrorBurst {service="checkout", severity="page"} value=57:
//   checkout logged 57 errors in 1m
//
// (on one line). The time is when the alert started (firing) or ended
// (resolved); the labels are those of the notification but "alertname" when it
// only repeats the rule's name; the text after ':' is the "summary" annotation,
// or "description" when there is no summary, and is left out when neither is
// set. A pattern alert's sample line follows as ` sample="..."`, cut to 200
// bytes (at a UTF-8 boundary, marked by "..."). Label values and the sample are
// quoted with \" and \\ escaped; control characters anywhere become escapes so
// one notification is always one line.
class ConsoleNotifier final : public Notifier {
 public:
  // Writes to stderr.
  ConsoleNotifier();
  // Writes to `out`. REQUIRES: out outlives the notifier; nothing else writes
  // to it concurrently from another thread without the stdio lock.
  explicit ConsoleNotifier(std::FILE* out);

  std::string_view name() const override { return "console"; }
  // Writes the whole batch with one fwrite and flushes. IOError on a failed write.
  Status Send(const std::vector<Notification>& batch) override;

  // The line for `n`, without the trailing newline.
  static std::string FormatLine(const Notification& n);

 private:
  std::FILE* const out_;
};

// Appends one JSON object (see the top of this file) per notification and line
// to a file opened with O_APPEND, so lines from several writers never
// interleave. The file is opened (and created) for each batch, so a rotated
// file is followed and a missing directory is a failure that is retried, not a
// dead notifier. Each batch is written with one Append and closed, so it is in
// the OS's page cache when Send returns; it is not fsynced.
class FileNotifier final : public Notifier {
 public:
  // REQUIRES: env outlives the notifier.
  explicit FileNotifier(std::string path, Env* env = Env::Default());

  std::string_view name() const override { return name_; }
  Status Send(const std::vector<Notification>& batch) override;

  // The lines written for `batch`, each ending in '\n'.
  static std::string EncodeLines(const std::vector<Notification>& batch);

 private:
  const std::string path_;
  const std::string name_;
  Env* const env_;
};

// POSTs each batch as one JSON document shaped like an Alertmanager webhook:
//
//   {"version":"1","status":"firing","alerts":[{...}, ...]}
//
// where each alert is the object described at the top of this file and
// carries its own status; the top-level status is the first alert's.
// The connection is kept alive between batches. Any 2xx is success; other
// answers and connection failures are errors naming the URL, the HTTP status
// and the first 200 bytes of the answer's body. A 4xx other than 408 and 429
// is InvalidArgument (the receiver refuses the batch: not retried); any other
// status is Unavailable and a connection failure IOError (both retried).
class WebhookNotifier final : public Notifier {
 public:
  // `url` is "http://host:port/path" (HttpUrl::Parse); https is not supported.
  // An unparsable URL makes every Send fail with the parse error; use
  // MakeNotifier to have it checked up front. `timeout_ns` bounds connecting,
  // sending and reading the answer (rounded up to whole seconds).
  WebhookNotifier(std::string url, int64_t timeout_ns);
  ~WebhookNotifier() override;

  std::string_view name() const override { return name_; }
  Status Send(const std::vector<Notification>& batch) override;

  // The request body for `batch`. REQUIRES: !batch.empty().
  static std::string EncodeBody(const std::vector<Notification>& batch);

 private:
  const std::string url_;
  const std::string name_;
  Status url_status_;  // why url_ is unusable, or OK
  std::string target_;
  std::unique_ptr<HttpClient> client_;  // null when url_ is unusable
};

// Posts to Alertmanager's API v2 (`POST <base_url>/api/v2/alerts`) a JSON
// array of postableAlerts:
//
//   [{"labels":{"alertname":"ErrorBurst",...},"annotations":{...},
//     "startsAt":"2026-11-30T10:00:01Z","endsAt":"2026-11-30T10:05:00Z",
//     "generatorURL":"http://..."}]
//
// "endsAt" is sent for resolved alerts only; for a firing one Alertmanager
// assumes it ends after its resolve_timeout, so the alert engine must repeat
// firing alerts more often than that. "startsAt" is left out when unknown (0).
// A pattern alert's sample line is added as the "sample" annotation unless the
// rule set one. Success is HTTP 200; errors are classified as for
// WebhookNotifier.
class AlertmanagerNotifier final : public Notifier {
 public:
  // `base_url` is Alertmanager's root, e.g. "http://alertmanager:9093", or a
  // prefix it is served under ("http://host/alertmanager"). Same URL and
  // timeout rules as WebhookNotifier.
  AlertmanagerNotifier(std::string base_url, int64_t timeout_ns);
  ~AlertmanagerNotifier() override;

  std::string_view name() const override { return name_; }
  Status Send(const std::vector<Notification>& batch) override;
  // Alertmanager forgets an alert resolve_timeout (5m) after its last post.
  bool WantsRefresh() const override { return true; }

  // The request body for `batch`.
  static std::string EncodeBody(const std::vector<Notification>& batch);

 private:
  const std::string base_url_;
  const std::string name_;
  Status url_status_;                   // why base_url_ is unusable, or OK
  std::string target_;                  // <base path>/api/v2/alerts
  std::unique_ptr<HttpClient> client_;  // null when base_url_ is unusable
};

// What MakeNotifier builds.
struct NotifierConfig {
  std::string type;                     // console | file | webhook | alertmanager
  std::string path;                     // file: the file to append to
  std::string url;                      // webhook: the URL to POST to; alertmanager: its base URL
  int64_t timeout_ns = 10'000'000'000;  // webhook, alertmanager: per request
};

// Builds the notifier `config` describes. InvalidArgument naming the problem
// for an unknown type, a missing or unparsable url, a missing path, a field
// the type does not use, or a timeout that is not positive.
Result<std::unique_ptr<Notifier>> MakeNotifier(const NotifierConfig& config);

// Counters of one notifier, for /metrics. All counts are notifications, but
// failed_attempts, which counts Send calls that failed.
struct NotifierStats {
  std::string name;
  uint64_t sent = 0;             // delivered
  uint64_t failed_attempts = 0;  // failed Send calls (each retry counts)
  uint64_t dropped = 0;          // discarded untried: queue overflow, or left at Stop()
  uint64_t given_up = 0;         // tried and abandoned: attempts, age, refusal, or Stop()
  uint64_t queued = 0;           // waiting now (not counting a batch being sent)
};

// Runs notifiers, each on its own thread with its own bounded queue.
//
// Submit copies the batch into every notifier's queue and returns at once.
// Each worker takes up to max_batch notifications from the front of its
// queue, in order, and sends them as one batch until it is delivered or given
// up; only then does it take the next, so a resolution never overtakes its
// firing notification. After a failed Send the worker waits
// initial_backoff_ns, doubling per failure up to max_backoff_ns, each wait
// shortened by a random fraction of up to `jitter`. It gives a batch up after
// max_attempts failed Sends, when a Send fails and the oldest notification of
// the batch is older than max_age_ns (by options.clock), or at once when the
// notifier refuses it for good (InvalidArgument or TooLarge); each give-up is
// logged and counted. A queue over max_queue drops its oldest notifications,
// counted and logged (at the 1st, 2nd, 4th, 8th, ... drop).
//
// Thread safety: Submit, Stats and Stop may be called from any thread but a
// worker's (a notifier's Send or on_backoff), where Stop would wait for itself.
class NotifierDispatcher {
 public:
  struct Options {
    size_t max_queue = 10000;                  // per notifier, in notifications
    size_t max_batch = 1000;                   // notifications per Send
    int max_attempts = 10;                     // Sends per batch before giving up
    int64_t max_age_ns = 3600'000'000'000;     // give up a batch older than this
    int64_t initial_backoff_ns = 500'000'000;  // wait after the first failure
    int64_t max_backoff_ns = 30'000'000'000;   // the longest wait
    double jitter = 0.2;                       // each wait is cut by up to this fraction (0..1)
    Clock* clock = Clock::Real();              // ages of notifications; must outlive us
    // Called on the worker thread before each backoff wait with the notifier's
    // name, the number of failed attempts so far and the wait; for tests.
    std::function<void(std::string_view name, int attempt, int64_t delay_ns)> on_backoff;
  };

  // Starts one worker per notifier. REQUIRES: no notifier is null;
  // max_queue, max_batch and max_attempts are at least 1.
  NotifierDispatcher(std::vector<std::unique_ptr<Notifier>> notifiers, Options options);
  // Stops the workers (Stop()).
  ~NotifierDispatcher();

  NotifierDispatcher(const NotifierDispatcher&) = delete;
  NotifierDispatcher& operator=(const NotifierDispatcher&) = delete;

  // Queues `batch` for every notifier. Never blocks on a notifier. After
  // Stop(), the notifications are counted as dropped.
  void Submit(std::vector<Notification> batch);

  // The counters of every notifier, in the order they were given.
  std::vector<NotifierStats> Stats() const;

  // Stops every worker: a Send in progress finishes (it is bounded by the
  // notifier's timeout), a backoff wait is cut short and its batch given up,
  // and whatever is still queued is dropped. Idempotent; returns when all
  // workers have exited.
  void Stop();

 private:
  struct Worker;  // one notifier, its queue, counters and thread

  void Run(Worker* w);
  // Sends `batch` until it is delivered, given up, or the worker stops.
  void Deliver(Worker* w, std::vector<Notification>& batch, int64_t oldest_ns);
  // The wait after `failures` failed attempts, jittered.
  int64_t BackoffNanos(Worker* w, int failures);

  const Options options_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::mutex stop_mu_;
  bool stopped_ = false;  // GUARDED_BY(stop_mu_)
};

}  // namespace lode
