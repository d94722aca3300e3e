#include "alert/notifier.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <boost/beast/http/verb.hpp>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <climits>
#include <cmath>
#include <condition_variable>
#include <deque>
#include <random>
#include <thread>
#include <utility>

#include "cli/http_client.h"
#include "common/json_writer.h"
#include "parse/timestamp.h"

namespace lode {

namespace {

// Go's zero time: what Alertmanager writes for a time it does not know.
constexpr std::string_view kZeroTime = "0001-01-01T00:00:00Z";
constexpr size_t kMaxSampleBytes = 200;     // of a sample line on the console
constexpr size_t kMaxErrorBodyBytes = 200;  // of an HTTP answer quoted in an error

bool IsFiring(const Notification& n) {
  return n.state == Notification::State::kFiring;
}

std::string FormatTime(int64_t ns) {
  return ns == 0 ? std::string(kZeroTime) : FormatRfc3339(ns);
}

// `s` cut to at most `max` bytes without splitting a UTF-8 sequence; *cut
// tells whether anything was cut.
std::string_view TruncateUtf8(std::string_view s, size_t max, bool* cut) {
  *cut = s.size() > max;
  if (!*cut) return s;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
  return s.substr(0, n);
}

// Appends `s` so that it stays on one line: control characters become escapes,
// and with `quoted` also '"' and '\'.
void AppendOneLine(std::string_view s, bool quoted, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (quoted && (c == '"' || c == '\\')) {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 0xf]);
    } else {
      out->push_back(c);
    }
  }
}

// The shortest spelling that reads back as `v` ("57", "0.25"); Prometheus'
// spellings for the non-finite values.
void AppendValue(double v, std::string* out) {
  if (std::isnan(v)) {
    out->append("NaN");
  } else if (std::isinf(v)) {
    out->append(v > 0 ? "+Inf" : "-Inf");
  } else {
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof(buf), v);
    out->append(buf, r.ptr);
  }
}

void WriteStringMap(const std::map<std::string, std::string>& m, JsonWriter& w) {
  w.BeginObject();
  for (const auto& [k, v] : m) w.Key(k).String(v);
  w.EndObject();
}

// The labels with "alertname" added when they lack it.
void WriteLabels(const Notification& n, JsonWriter& w) {
  if (n.labels.contains("alertname")) {
    WriteStringMap(n.labels, w);
    return;
  }
  std::map<std::string, std::string> labels = n.labels;
  labels.emplace("alertname", n.rule);
  WriteStringMap(labels, w);
}

// The object of the file notifier and the webhook (see notifier.h).
void WriteAlertObject(const Notification& n, JsonWriter& w) {
  w.BeginObject();
  w.Key("status").String(IsFiring(n) ? "firing" : "resolved");
  w.Key("rule").String(n.rule);
  w.Key("labels");
  WriteLabels(n, w);
  w.Key("annotations");
  WriteStringMap(n.annotations, w);
  w.Key("value").Double(n.value);
  w.Key("startsAt").String(FormatTime(n.starts_at_ns));
  w.Key("endsAt").String(FormatTime(n.ends_at_ns));
  w.Key("generatorURL").String(n.generator_url);
  w.Key("sample").String(n.sample);
  w.Key("fingerprint").String(n.fingerprint);
  w.EndObject();
}

// HttpClient counts its timeout in whole seconds.
int TimeoutSeconds(int64_t timeout_ns) {
  if (timeout_ns <= 0) return 1;
  int64_t s = timeout_ns / 1'000'000'000 + (timeout_ns % 1'000'000'000 != 0 ? 1 : 0);
  return static_cast<int>(std::min<int64_t>(s, INT_MAX));
}

// POSTs `body` as JSON and classifies the answer (see WebhookNotifier).
Status PostJson(HttpClient* client, std::string_view url, const std::string& target,
                const std::string& body, bool only_200) {
  auto r = client->Request(boost::beast::http::verb::post, target, body,
                           {{"Content-Type", "application/json"}, {"User-Agent", "lode-alert"}});
  if (!r.ok())
    return Status::IOError("POST " + std::string(url) + ": " + std::string(r.status().message()));
  const int code = r->status;
  if (only_200 ? code == 200 : code / 100 == 2) return Status::OK();
  bool cut = false;
  std::string msg = "POST " + std::string(url) + ": HTTP " + std::to_string(code);
  std::string_view shown = TruncateUtf8(r->body, kMaxErrorBodyBytes, &cut);
  if (!shown.empty()) {
    msg += ": ";
    AppendOneLine(shown, /*quoted=*/false, &msg);
    if (cut) msg += "...";
  }
  const bool refused = code / 100 == 4 && code != 408 && code != 429;
  return refused ? Status::InvalidArgument(std::move(msg)) : Status::Unavailable(std::move(msg));
}

}  // namespace

// ---------------------------------------------------------------- console

ConsoleNotifier::ConsoleNotifier() : out_(stderr) {}

ConsoleNotifier::ConsoleNotifier(std::FILE* out) : out_(out) {}

std::string ConsoleNotifier::FormatLine(const Notification& n) {
  std::string line;
  const bool firing = IsFiring(n);
  const int64_t at = firing || n.ends_at_ns == 0 ? n.starts_at_ns : n.ends_at_ns;
  line += FormatTime(at);
  line += firing ? " FIRING " : " RESOLVED ";
  AppendOneLine(n.rule, /*quoted=*/false, &line);
  bool first = true;
  for (const auto& [k, v] : n.labels) {
    if (k == "alertname" && v == n.rule) continue;
    line += first ? " {" : ", ";
    first = false;
    AppendOneLine(k, /*quoted=*/false, &line);
    line += "=\"";
    AppendOneLine(v, /*quoted=*/true, &line);
    line += '"';
  }
  if (!first) line += '}';
  line += " value=";
  AppendValue(n.value, &line);
  auto summary = n.annotations.find("summary");
  if (summary == n.annotations.end()) summary = n.annotations.find("description");
  if (summary != n.annotations.end() && !summary->second.empty()) {
    line += ": ";
    AppendOneLine(summary->second, /*quoted=*/false, &line);
  }
  if (!n.sample.empty()) {
    bool cut = false;
    line += " sample=\"";
    AppendOneLine(TruncateUtf8(n.sample, kMaxSampleBytes, &cut), /*quoted=*/true, &line);
    if (cut) line += "...";
    line += '"';
  }
  return line;
}

Status ConsoleNotifier::Send(const std::vector<Notification>& batch) {
  std::string text;
  for (const Notification& n : batch) {
    text += FormatLine(n);
    text += '\n';
  }
  if (std::fwrite(text.data(), 1, text.size(), out_) != text.size() || std::fflush(out_) != 0) {
    return Status::FromErrno("console notifier: write", errno);
  }
  return Status::OK();
}

// ---------------------------------------------------------------- file

FileNotifier::FileNotifier(std::string path, Env* env)
    : path_(std::move(path)), name_("file:" + path_), env_(env) {}

std::string FileNotifier::EncodeLines(const std::vector<Notification>& batch) {
  std::string out;
  for (const Notification& n : batch) {
    JsonWriter w(&out);
    WriteAlertObject(n, w);
    out += '\n';
  }
  return out;
}

Status FileNotifier::Send(const std::vector<Notification>& batch) {
  const std::string lines = EncodeLines(batch);
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env_->NewAppendableFile(path_));
  LODE_RETURN_IF_ERROR(file->Append(lines));
  return file->Close();
}

// ---------------------------------------------------------------- webhook

WebhookNotifier::WebhookNotifier(std::string url, int64_t timeout_ns)
    : url_(std::move(url)), name_("webhook:" + url_) {
  auto u = HttpUrl::Parse(url_);
  if (!u.ok()) {
    url_status_ = u.status().WithContext("webhook notifier");
    return;
  }
  target_ = u->target;
  client_ = std::make_unique<HttpClient>(u->host, u->port, TimeoutSeconds(timeout_ns));
}

WebhookNotifier::~WebhookNotifier() = default;

std::string WebhookNotifier::EncodeBody(const std::vector<Notification>& batch) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("version").String("1");
  w.Key("status").String(batch.empty() || IsFiring(batch.front()) ? "firing" : "resolved");
  w.Key("alerts").BeginArray();
  for (const Notification& n : batch) WriteAlertObject(n, w);
  w.EndArray();
  w.EndObject();
  return out;
}

Status WebhookNotifier::Send(const std::vector<Notification>& batch) {
  if (!client_) return url_status_;
  if (batch.empty()) return Status::OK();
  return PostJson(client_.get(), url_, target_, EncodeBody(batch), /*only_200=*/false);
}

// ---------------------------------------------------------------- alertmanager

AlertmanagerNotifier::AlertmanagerNotifier(std::string base_url, int64_t timeout_ns)
    : base_url_(std::move(base_url)), name_("alertmanager:" + base_url_) {
  auto u = HttpUrl::Parse(base_url_);
  if (!u.ok()) {
    url_status_ = u.status().WithContext("alertmanager notifier");
    return;
  }
  // <base path>/api/v2/alerts, keeping a query string where it belongs.
  std::string_view target = u->target;
  std::string_view query;
  if (size_t q = target.find('?'); q != std::string_view::npos) {
    query = target.substr(q);
    target = target.substr(0, q);
  }
  while (target.ends_with('/')) target.remove_suffix(1);
  target_ = std::string(target) + "/api/v2/alerts" + std::string(query);
  client_ = std::make_unique<HttpClient>(u->host, u->port, TimeoutSeconds(timeout_ns));
}

AlertmanagerNotifier::~AlertmanagerNotifier() = default;

std::string AlertmanagerNotifier::EncodeBody(const std::vector<Notification>& batch) {
  std::string out;
  JsonWriter w(&out);
  w.BeginArray();
  for (const Notification& n : batch) {
    w.BeginObject();
    w.Key("labels");
    WriteLabels(n, w);
    w.Key("annotations");
    if (n.sample.empty() || n.annotations.contains("sample")) {
      WriteStringMap(n.annotations, w);
    } else {
      std::map<std::string, std::string> annotations = n.annotations;
      annotations.emplace("sample", n.sample);
      WriteStringMap(annotations, w);
    }
    if (n.starts_at_ns != 0) w.Key("startsAt").String(FormatRfc3339(n.starts_at_ns));
    if (!IsFiring(n)) {
      // A resolution without a time (an engine bug) still has to resolve:
      // an alert without endsAt would fire again.
      int64_t ends = n.ends_at_ns != 0 ? n.ends_at_ns : Clock::Real()->NowNanos();
      w.Key("endsAt").String(FormatRfc3339(ends));
    }
    if (!n.generator_url.empty()) w.Key("generatorURL").String(n.generator_url);
    w.EndObject();
  }
  w.EndArray();
  return out;
}

Status AlertmanagerNotifier::Send(const std::vector<Notification>& batch) {
  if (!client_) return url_status_;
  if (batch.empty()) return Status::OK();
  return PostJson(client_.get(), base_url_, target_, EncodeBody(batch), /*only_200=*/true);
}

// ---------------------------------------------------------------- factory

Result<std::unique_ptr<Notifier>> MakeNotifier(const NotifierConfig& config) {
  const std::string& type = config.type;
  auto unused = [&](std::string_view field) {
    return Status::InvalidArgument("notifier " + type + ": " + std::string(field) +
                                   " is not used by this type");
  };
  auto required = [&](std::string_view field) {
    return Status::InvalidArgument("notifier " + type + ": " + std::string(field) + " is required");
  };
  if (type == "console") {
    if (!config.path.empty()) return unused("path");
    if (!config.url.empty()) return unused("url");
    return std::unique_ptr<Notifier>(std::make_unique<ConsoleNotifier>());
  }
  if (type == "file") {
    if (config.path.empty()) return required("path");
    if (!config.url.empty()) return unused("url");
    return std::unique_ptr<Notifier>(std::make_unique<FileNotifier>(config.path));
  }
  if (type == "webhook" || type == "alertmanager") {
    if (config.url.empty()) return required("url");
    if (!config.path.empty()) return unused("path");
    if (config.timeout_ns <= 0) {
      return Status::InvalidArgument("notifier " + type + ": timeout must be positive");
    }
    auto u = HttpUrl::Parse(config.url);
    if (!u.ok()) {
      return Status::InvalidArgument("notifier " + type + ": " + std::string(u.status().message()));
    }
    if (type == "webhook") {
      return std::unique_ptr<Notifier>(
          std::make_unique<WebhookNotifier>(config.url, config.timeout_ns));
    }
    return std::unique_ptr<Notifier>(
        std::make_unique<AlertmanagerNotifier>(config.url, config.timeout_ns));
  }
  return Status::InvalidArgument("unknown notifier type \"" + type +
                                 "\" (expected console, file, webhook or alertmanager)");
}

// ---------------------------------------------------------------- dispatcher

struct NotifierDispatcher::Worker {
  struct Queued {
    Notification notification;
    int64_t enqueued_ns;
  };

  std::unique_ptr<Notifier> notifier;
  std::string name;
  std::mutex mu;
  std::condition_variable cv;  // Submit (queue grew) and Stop (stopping)
  std::deque<Queued> queue;    // GUARDED_BY(mu)
  bool stopping = false;       // GUARDED_BY(mu)
  std::atomic<uint64_t> sent{0};
  std::atomic<uint64_t> failed_attempts{0};
  std::atomic<uint64_t> dropped{0};
  std::atomic<uint64_t> given_up{0};
  std::atomic<uint64_t> queued{0};
  std::mt19937_64 rng;  // the worker thread's only
  std::thread thread;
};

NotifierDispatcher::NotifierDispatcher(std::vector<std::unique_ptr<Notifier>> notifiers,
                                       Options options)
    : options_(std::move(options)) {
  std::random_device seed;
  for (auto& n : notifiers) {
    auto w = std::make_unique<Worker>();
    w->name = std::string(n->name());
    w->notifier = std::move(n);
    w->rng.seed((static_cast<uint64_t>(seed()) << 32) ^ seed());
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { Run(raw); });
  }
}

NotifierDispatcher::~NotifierDispatcher() {
  Stop();
}

void NotifierDispatcher::Submit(std::vector<Notification> batch) {
  if (batch.empty()) return;
  const int64_t now = options_.clock->NowNanos();
  for (size_t i = 0; i < workers_.size(); ++i) {
    Worker* w = workers_[i].get();
    const bool last = i + 1 == workers_.size();
    uint64_t overflow = 0;
    {
      std::lock_guard<std::mutex> lock(w->mu);
      if (w->stopping) {
        w->dropped.fetch_add(batch.size());
        continue;
      }
      const bool wants_refresh = w->notifier->WantsRefresh();
      for (Notification& n : batch) {
        if (n.refresh && !wants_refresh) continue;
        if (last) {
          w->queue.push_back({std::move(n), now});
        } else {
          w->queue.push_back({n, now});
        }
      }
      while (w->queue.size() > options_.max_queue) {
        w->queue.pop_front();
        ++overflow;
      }
      w->queued.store(w->queue.size());
    }
    w->cv.notify_all();
    if (overflow > 0) {
      const uint64_t before = w->dropped.fetch_add(overflow);
      // Log at the 1st, 2nd, 4th, 8th, ... drop: visible, but not a flood.
      if (std::bit_floor(before + overflow) > before) {
        spdlog::warn("notifier {}: queue over {} notifications; dropped the oldest ({} so far)",
                     w->name, options_.max_queue, before + overflow);
      }
    }
  }
}

std::vector<NotifierStats> NotifierDispatcher::Stats() const {
  std::vector<NotifierStats> out;
  out.reserve(workers_.size());
  for (const auto& w : workers_) {
    NotifierStats s;
    s.name = w->name;
    s.sent = w->sent.load();
    s.failed_attempts = w->failed_attempts.load();
    s.dropped = w->dropped.load();
    s.given_up = w->given_up.load();
    s.queued = w->queued.load();
    out.push_back(std::move(s));
  }
  return out;
}

void NotifierDispatcher::Stop() {
  // Held throughout, so a second caller returns only once the workers are gone.
  std::lock_guard<std::mutex> stop_lock(stop_mu_);
  if (stopped_) return;
  for (auto& w : workers_) {
    {
      std::lock_guard<std::mutex> lock(w->mu);
      w->stopping = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  stopped_ = true;
}

void NotifierDispatcher::Run(Worker* w) {
  for (;;) {
    std::vector<Notification> batch;
    int64_t oldest_ns = 0;
    {
      std::unique_lock<std::mutex> lock(w->mu);
      w->cv.wait(lock, [w] { return w->stopping || !w->queue.empty(); });
      if (w->stopping) break;
      const size_t n = std::min(w->queue.size(), options_.max_batch);
      oldest_ns = w->queue.front().enqueued_ns;
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(w->queue.front().notification));
        w->queue.pop_front();
      }
      w->queued.store(w->queue.size());
    }
    Deliver(w, batch, oldest_ns);
  }
  size_t left = 0;
  {
    std::lock_guard<std::mutex> lock(w->mu);
    left = w->queue.size();
    w->queue.clear();
    w->queued.store(0);
  }
  if (left > 0) {
    w->dropped.fetch_add(left);
    spdlog::warn("notifier {}: stopped with {} notification(s) queued; dropped", w->name, left);
  }
}

void NotifierDispatcher::Deliver(Worker* w, std::vector<Notification>& batch, int64_t oldest_ns) {
  for (int attempt = 1;; ++attempt) {
    Status s = w->notifier->Send(batch);
    if (s.ok()) {
      w->sent.fetch_add(batch.size());
      if (attempt > 1) {
        spdlog::info("notifier {}: delivered {} notification(s) at attempt {}", w->name,
                     batch.size(), attempt);
      }
      return;
    }
    w->failed_attempts.fetch_add(1);
    const int64_t age_ns = options_.clock->NowNanos() - oldest_ns;
    std::string_view why;
    if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kTooLarge) {
      why = "refused";
    } else if (attempt >= options_.max_attempts) {
      why = "out of attempts";
    } else if (age_ns >= options_.max_age_ns) {
      why = "too old";
    }
    if (!why.empty()) {
      w->given_up.fetch_add(batch.size());
      spdlog::error("notifier {}: gave up on {} notification(s) after {} attempt(s) ({}): {}",
                    w->name, batch.size(), attempt, why, s.ToString());
      return;
    }
    const int64_t delay_ns = BackoffNanos(w, attempt);
    spdlog::warn("notifier {}: attempt {} of {} failed, retrying in {} ms: {}", w->name, attempt,
                 options_.max_attempts, delay_ns / 1'000'000, s.ToString());
    if (options_.on_backoff) options_.on_backoff(w->name, attempt, delay_ns);
    std::unique_lock<std::mutex> lock(w->mu);
    if (w->cv.wait_for(lock, std::chrono::nanoseconds(delay_ns), [w] { return w->stopping; })) {
      w->given_up.fetch_add(batch.size());
      spdlog::warn("notifier {}: stopping; gave up on {} notification(s) after {} attempt(s)",
                   w->name, batch.size(), attempt);
      return;
    }
  }
}

int64_t NotifierDispatcher::BackoffNanos(Worker* w, int failures) {
  const int64_t max_ns = std::max<int64_t>(options_.max_backoff_ns, 0);
  int64_t d = std::min(std::max<int64_t>(options_.initial_backoff_ns, 0), max_ns);
  for (int i = 1; i < failures && d < max_ns; ++i) d = d > max_ns / 2 ? max_ns : d * 2;
  if (options_.jitter > 0) {
    std::uniform_real_distribution<double> cut(0, std::min(options_.jitter, 1.0));
    d -= static_cast<int64_t>(static_cast<double>(d) * cut(w->rng));
  }
  return d;
}

}  // namespace lode
