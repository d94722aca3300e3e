#include "alert/notifier.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/test_util.h"

namespace lode {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSecond = 1'000'000'000;
// 2026-11-30T10:00:01Z and five minutes later.
constexpr int64_t kStart = 1796032801 * kSecond;
constexpr int64_t kEnd = kStart + 300 * kSecond;

Notification Firing() {
  Notification n;
  n.state = Notification::State::kFiring;
  n.rule = "ErrorBurst";
  n.labels = {{"alertname", "ErrorBurst"}, {"service", "checkout"}, {"severity", "page"}};
  n.annotations = {{"summary", "checkout logged 57 errors in 1m"}};
  n.value = 57;
  n.starts_at_ns = kStart;
  n.generator_url = "http://lode:8080/explore?q=%7Bservice%3D%22checkout%22%7D";
  n.fingerprint = "9f3c1a2b4d5e6f70";
  return n;
}

Notification Resolved() {
  Notification n = Firing();
  n.state = Notification::State::kResolved;
  n.ends_at_ns = kEnd;
  n.value = 0.5;
  return n;
}

// A pattern alert whose labels lack alertname and whose sample needs escaping.
Notification PatternAlert() {
  Notification n;
  n.rule = "NewPanic";
  n.labels = {{"service", "api \"v2\""}};
  n.value = 1;
  n.starts_at_ns = kStart + 500 * kMs;
  n.sample = "panic: nil map\n\tat main.go:12";
  n.fingerprint = "00aa";
  return n;
}

// Names of the rules of `batch`, in order.
std::vector<std::string> Rules(const std::vector<Notification>& batch) {
  std::vector<std::string> out;
  for (const auto& n : batch) out.push_back(n.rule);
  return out;
}

std::vector<Notification> Numbered(int from, int to) {
  std::vector<Notification> out;
  for (int i = from; i < to; ++i) {
    Notification n = Firing();
    n.rule = "r" + std::to_string(i);
    out.push_back(std::move(n));
  }
  return out;
}

// Polls `done` until it holds or a generous deadline passes; only for waiting,
// never to measure anything.
bool WaitUntil(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// A Notifier whose Send is given by the test, recording every batch it sees.
class FakeNotifier final : public Notifier {
 public:
  using SendFn = std::function<Status(const std::vector<Notification>&)>;
  FakeNotifier(std::string name, SendFn send) : name_(std::move(name)), send_(std::move(send)) {}

  std::string_view name() const override { return name_; }
  Status Send(const std::vector<Notification>& batch) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      batches_.push_back(batch);
    }
    return send_(batch);
  }

  // Every batch Send was called with, retries included.
  std::vector<std::vector<Notification>> batches() const {
    std::lock_guard<std::mutex> lock(mu_);
    return batches_;
  }
  size_t calls() const { return batches().size(); }

 private:
  const std::string name_;
  const SendFn send_;
  mutable std::mutex mu_;
  std::vector<std::vector<Notification>> batches_;
};

// Blocks callers of Wait() until Open().
class Gate {
 public:
  void Wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [this] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int waiting() const {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

// An HTTP/1.1 server on 127.0.0.1 that answers requests, in the order they
// arrive, as its script says, then with `then` for ever.
class ScriptedHttpServer {
 public:
  enum class Action {
    kOk,           // the success status, body "{}"
    kServerError,  // 500 with a 300-byte body
    kBadRequest,   // 400 "bad alert"
    kClose,        // close the connection without answering
  };
  struct Request {
    std::string target;
    std::string content_type;
    std::string body;
  };

  explicit ScriptedHttpServer(std::vector<Action> script, Action then = Action::kOk,
                              int ok_status = 200)
      : script_(std::move(script)),
        then_(then),
        ok_status_(ok_status),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }
  ~ScriptedHttpServer() {
    io_.stop();
    thread_.join();
  }

  std::string url(std::string_view path) const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) +
           std::string(path);
  }
  std::vector<Request> requests() const {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }

 private:
  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor_.async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      asio::co_spawn(io_, Session(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Session(tcp::socket socket) {
    beast::flat_buffer buffer;
    for (;;) {
      boost::system::error_code ec;
      http::request<http::string_body> req;
      co_await http::async_read(socket, buffer, req, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
      Action action;
      {
        std::lock_guard<std::mutex> lock(mu_);
        action = requests_.size() < script_.size() ? script_[requests_.size()] : then_;
        requests_.push_back(
            {std::string(req.target()), std::string(req[http::field::content_type]), req.body()});
      }
      if (action == Action::kClose) {
        socket.shutdown(tcp::socket::shutdown_both, ec);
        socket.close(ec);
        co_return;
      }
      http::response<http::string_body> res;
      res.version(req.version());
      res.keep_alive(req.keep_alive());
      switch (action) {
        case Action::kOk:
          res.result(static_cast<unsigned>(ok_status_));
          res.body() = "{}";
          break;
        case Action::kServerError:
          res.result(http::status::internal_server_error);
          res.body() = "database on fire: " + std::string(282, 'x');
          break;
        case Action::kBadRequest:
          res.result(http::status::bad_request);
          res.body() = "bad alert";
          break;
        case Action::kClose: break;
      }
      res.prepare_payload();
      co_await http::async_write(socket, res, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) co_return;
    }
  }

  const std::vector<Action> script_;
  const Action then_;
  const int ok_status_;
  mutable std::mutex mu_;
  std::vector<Request> requests_;  // GUARDED_BY(mu_)
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
};

// Options with short backoffs so retries take milliseconds, recording each wait.
struct RecordedBackoffs {
  NotifierDispatcher::Options Options(int64_t initial_ns, int64_t max_ns) {
    NotifierDispatcher::Options o;
    o.initial_backoff_ns = initial_ns;
    o.max_backoff_ns = max_ns;
    o.on_backoff = [this](std::string_view, int attempt, int64_t delay_ns) {
      std::lock_guard<std::mutex> lock(mu);
      waits.push_back({attempt, delay_ns});
    };
    return o;
  }
  std::vector<std::pair<int, int64_t>> Get() {
    std::lock_guard<std::mutex> lock(mu);
    return waits;
  }
  std::mutex mu;
  std::vector<std::pair<int, int64_t>> waits;  // (failed attempts so far, wait)
};

// Every wait doubles from `initial_ns` up to `max_ns`, less at most 20% jitter.
void ExpectExponentialBackoff(const std::vector<std::pair<int, int64_t>>& waits, int64_t initial_ns,
                              int64_t max_ns) {
  for (size_t i = 0; i < waits.size(); ++i) {
    EXPECT_EQ(waits[i].first, static_cast<int>(i) + 1);
    const int64_t full = std::min(initial_ns << i, max_ns);
    EXPECT_LE(waits[i].second, full) << "wait " << i;
    EXPECT_GE(waits[i].second, full - full / 5) << "wait " << i;
  }
}

// ---------------------------------------------------------------- console

TEST(ConsoleNotifierTest, FormatsOneLinePerNotification) {
  EXPECT_EQ(ConsoleNotifier::FormatLine(Firing()),
            "2026-11-30T10:00:01Z FIRING ErrorBurst {service=\"checkout\", severity=\"page\"} "
            "value=57: checkout logged 57 errors in 1m");
  EXPECT_EQ(ConsoleNotifier::FormatLine(Resolved()),
            "2026-11-30T10:05:01Z RESOLVED ErrorBurst {service=\"checkout\", severity=\"page\"} "
            "value=0.5: checkout logged 57 errors in 1m");
  // No summary: the description; neither: nothing after the value. Labels and
  // sample are quoted and escaped so the notification stays on one line.
  Notification p = PatternAlert();
  EXPECT_EQ(ConsoleNotifier::FormatLine(p),
            "2026-11-30T10:00:01.5Z FIRING NewPanic {service=\"api \\\"v2\\\"\"} value=1 "
            "sample=\"panic: nil map\\n\\tat main.go:12\"");
  p.annotations["description"] = "a new\npanic";
  p.labels.clear();
  p.sample.clear();
  EXPECT_EQ(ConsoleNotifier::FormatLine(p),
            "2026-11-30T10:00:01.5Z FIRING NewPanic value=1: a new\\npanic");
}

TEST(ConsoleNotifierTest, LongSamplesAreCutAtACharacterBoundary) {
  Notification n = PatternAlert();
  n.labels.clear();
  // 199 ASCII bytes, then a 2-byte character that straddles byte 200.
  n.sample = std::string(199, 'a') + "\xc3\xa9" + std::string(50, 'b');
  EXPECT_EQ(
      ConsoleNotifier::FormatLine(n),
      "2026-11-30T10:00:01.5Z FIRING NewPanic value=1 sample=\"" + std::string(199, 'a') + "...\"");
  n.sample = std::string(200, 'a');
  EXPECT_EQ(
      ConsoleNotifier::FormatLine(n),
      "2026-11-30T10:00:01.5Z FIRING NewPanic value=1 sample=\"" + std::string(200, 'a') + "\"");
}

TEST(ConsoleNotifierTest, SendWritesTheBatchToTheStream) {
  char* buf = nullptr;
  size_t size = 0;
  std::FILE* out = open_memstream(&buf, &size);
  ASSERT_NE(out, nullptr);
  {
    ConsoleNotifier console(out);
    EXPECT_EQ(console.name(), "console");
    ASSERT_TRUE(console.Send({Firing(), Resolved()}).ok());
  }
  std::fclose(out);
  std::string text(buf, size);
  std::free(buf);
  EXPECT_EQ(text, ConsoleNotifier::FormatLine(Firing()) + "\n" +
                      ConsoleNotifier::FormatLine(Resolved()) + "\n");
}

// ---------------------------------------------------------------- file

constexpr char kFiringJson[] =
    R"({"status":"firing","rule":"ErrorBurst","labels":{"alertname":"ErrorBurst",)"
    R"("service":"checkout","severity":"page"},"annotations":{"summary":"checkout logged 57 )"
    R"(errors in 1m"},"value":57,"startsAt":"2026-11-30T10:00:01Z",)"
    R"("endsAt":"0001-01-01T00:00:00Z","generatorURL":)"
    R"("http://lode:8080/explore?q=%7Bservice%3D%22checkout%22%7D","sample":"",)"
    R"("fingerprint":"9f3c1a2b4d5e6f70"})";
constexpr char kResolvedJson[] =
    R"({"status":"resolved","rule":"ErrorBurst","labels":{"alertname":"ErrorBurst",)"
    R"("service":"checkout","severity":"page"},"annotations":{"summary":"checkout logged 57 )"
    R"(errors in 1m"},"value":0.5,"startsAt":"2026-11-30T10:00:01Z",)"
    R"("endsAt":"2026-11-30T10:05:01Z","generatorURL":)"
    R"("http://lode:8080/explore?q=%7Bservice%3D%22checkout%22%7D","sample":"",)"
    R"("fingerprint":"9f3c1a2b4d5e6f70"})";
// alertname is added; the sample is escaped.
constexpr char kPatternJson[] =
    R"({"status":"firing","rule":"NewPanic","labels":{"alertname":"NewPanic",)"
    R"("service":"api \"v2\""},"annotations":{},"value":1,"startsAt":"2026-11-30T10:00:01.5Z",)"
    R"("endsAt":"0001-01-01T00:00:00Z","generatorURL":"","sample":"panic: nil map\n\tat )"
    R"(main.go:12","fingerprint":"00aa"})";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(FileNotifierTest, AppendsOneJsonObjectPerLine) {
  TempDir dir;
  const std::string path = dir.path() + "/alerts.jsonl";
  std::ofstream(path) << "kept\n";
  FileNotifier file(path);
  EXPECT_EQ(file.name(), "file:" + path);
  ASSERT_TRUE(file.Send({Firing(), PatternAlert()}).ok());
  ASSERT_TRUE(file.Send({Resolved()}).ok());
  EXPECT_EQ(ReadAll(path), std::string("kept\n") + kFiringJson + "\n" + kPatternJson + "\n" +
                               kResolvedJson + "\n");
}

TEST(FileNotifierTest, AMissingDirectoryFailsUntilItExists) {
  TempDir dir;
  const std::string path = dir.path() + "/later/alerts.jsonl";
  FileNotifier file(path);
  Status s = file.Send({Firing()});
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_THAT(s.ToString(), HasSubstr(path));
  ASSERT_TRUE(Env::Default()->CreateDirs(dir.path() + "/later").ok());
  ASSERT_TRUE(file.Send({Firing()}).ok());
  EXPECT_EQ(ReadAll(path), std::string(kFiringJson) + "\n");
}

// ---------------------------------------------------------------- webhook

TEST(WebhookNotifierTest, BodyIsShapedLikeAnAlertmanagerWebhook) {
  // The top-level status is the first alert's; each alert carries its own.
  EXPECT_EQ(WebhookNotifier::EncodeBody({Resolved(), Firing()}),
            std::string(R"({"version":"1","status":"resolved","alerts":[)") + kResolvedJson + "," +
                kFiringJson + "]}");
  EXPECT_EQ(WebhookNotifier::EncodeBody({Firing()}),
            std::string(R"({"version":"1","status":"firing","alerts":[)") + kFiringJson + "]}");
}

TEST(WebhookNotifierTest, ErrorsNameTheUrlTheStatusAndTheBodysStart) {
  ScriptedHttpServer server(
      {ScriptedHttpServer::Action::kServerError, ScriptedHttpServer::Action::kBadRequest});
  const std::string url = server.url("/hooks/lode");
  WebhookNotifier webhook(url, 5 * kSecond);
  EXPECT_EQ(webhook.name(), "webhook:" + url);

  Status s = webhook.Send({Firing()});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable) << "5xx is retried";
  EXPECT_THAT(s.ToString(), HasSubstr(url));
  EXPECT_THAT(s.ToString(), HasSubstr("HTTP 500: database on fire: xxx"));
  const std::string body_start = "database on fire: " + std::string(200 - 18, 'x');
  EXPECT_THAT(s.ToString(), HasSubstr(body_start + "..."));
  EXPECT_THAT(s.ToString(), Not(HasSubstr(body_start + "x")));

  s = webhook.Send({Firing()});
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << "4xx is refused for good";
  EXPECT_THAT(s.ToString(), HasSubstr("HTTP 400: bad alert"));

  EXPECT_TRUE(webhook.Send({Firing()}).ok());
  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[2].target, "/hooks/lode");
  EXPECT_EQ(requests[2].content_type, "application/json");
}

TEST(WebhookNotifierTest, ConnectionFailuresAreIOErrorsNamingTheUrl) {
  uint16_t port = 0;
  {
    // A port that was free a moment ago and that nobody listens on now.
    asio::io_context io;
    tcp::acceptor a(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  const std::string url = "http://127.0.0.1:" + std::to_string(port) + "/hook";
  WebhookNotifier webhook(url, 5 * kSecond);
  Status s = webhook.Send({Firing()});
  EXPECT_EQ(s.code(), StatusCode::kIOError);
  EXPECT_THAT(s.ToString(), HasSubstr(url));

  WebhookNotifier bad("https://example.com/hook", 5 * kSecond);
  EXPECT_EQ(bad.Send({Firing()}).code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- alertmanager

TEST(AlertmanagerNotifierTest, BodyIsAnArrayOfPostableAlerts) {
  Notification pattern = PatternAlert();
  pattern.starts_at_ns = 0;
  EXPECT_EQ(AlertmanagerNotifier::EncodeBody({Firing(), Resolved(), pattern}),
            R"([{"labels":{"alertname":"ErrorBurst","service":"checkout","severity":"page"},)"
            R"("annotations":{"summary":"checkout logged 57 errors in 1m"},)"
            R"("startsAt":"2026-11-30T10:00:01Z",)"
            R"("generatorURL":"http://lode:8080/explore?q=%7Bservice%3D%22checkout%22%7D"},)"
            R"({"labels":{"alertname":"ErrorBurst","service":"checkout","severity":"page"},)"
            R"("annotations":{"summary":"checkout logged 57 errors in 1m"},)"
            R"("startsAt":"2026-11-30T10:00:01Z","endsAt":"2026-11-30T10:05:01Z",)"
            R"("generatorURL":"http://lode:8080/explore?q=%7Bservice%3D%22checkout%22%7D"},)"
            R"({"labels":{"alertname":"NewPanic","service":"api \"v2\""},)"
            R"("annotations":{"sample":"panic: nil map\n\tat main.go:12"}}])");
}

// ---------------------------------------------------------------- dispatcher

TEST(NotifierDispatcherTest, WebhookIsRetriedWithBackoffUntilDelivered) {
  // A 500, then a connection closed without an answer (HttpClient reconnects
  // once by itself, and that one is closed too), then success.
  ScriptedHttpServer server({ScriptedHttpServer::Action::kServerError,
                             ScriptedHttpServer::Action::kClose,
                             ScriptedHttpServer::Action::kClose});
  RecordedBackoffs backoffs;
  const int64_t initial = 2 * kMs;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::make_unique<WebhookNotifier>(server.url("/hook"), 5 * kSecond));
  NotifierDispatcher dispatcher(std::move(notifiers), backoffs.Options(initial, kSecond));
  dispatcher.Submit({Firing(), Resolved()});
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].sent == 2; }));

  NotifierStats stats = dispatcher.Stats()[0];
  EXPECT_EQ(stats.name, "webhook:" + server.url("/hook"));
  EXPECT_GE(stats.failed_attempts, 2u);
  EXPECT_EQ(stats.given_up, 0u);
  EXPECT_EQ(stats.dropped, 0u);
  EXPECT_EQ(stats.queued, 0u);
  auto waits = backoffs.Get();
  EXPECT_EQ(waits.size(), stats.failed_attempts);
  ExpectExponentialBackoff(waits, initial, kSecond);

  auto requests = server.requests();
  ASSERT_GE(requests.size(), 4u);
  const std::string expected = std::string(R"({"version":"1","status":"firing","alerts":[)") +
                               kFiringJson + "," + kResolvedJson + "]}";
  for (const auto& r : requests) EXPECT_EQ(r.body, expected) << "every attempt sends the batch";
  EXPECT_EQ(requests.back().target, "/hook");
  EXPECT_EQ(requests.back().content_type, "application/json");
}

TEST(NotifierDispatcherTest, AlertmanagerGetsV2AlertsAfterARetry) {
  ScriptedHttpServer server({ScriptedHttpServer::Action::kServerError});
  RecordedBackoffs backoffs;
  std::vector<std::unique_ptr<Notifier>> notifiers;
  // A trailing slash on the base URL does not double the one of the path.
  notifiers.push_back(std::make_unique<AlertmanagerNotifier>(server.url("/am/"), 5 * kSecond));
  NotifierDispatcher dispatcher(std::move(notifiers), backoffs.Options(kMs, kSecond));
  dispatcher.Submit({Resolved()});
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].sent == 1; }));
  EXPECT_EQ(dispatcher.Stats()[0].failed_attempts, 1u);
  EXPECT_EQ(backoffs.Get().size(), 1u);

  auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[1].target, "/am/api/v2/alerts");
  EXPECT_EQ(requests[1].content_type, "application/json");
  EXPECT_EQ(requests[1].body, AlertmanagerNotifier::EncodeBody({Resolved()}));
  EXPECT_THAT(requests[1].body, HasSubstr(R"("endsAt":"2026-11-30T10:05:01Z")"));
}

TEST(NotifierDispatcherTest, AlertmanagerSuccessIsA200Only) {
  ScriptedHttpServer server({}, ScriptedHttpServer::Action::kOk, /*ok_status=*/202);
  AlertmanagerNotifier am(server.url(""), 5 * kSecond);
  Status s = am.Send({Firing()});
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_THAT(s.ToString(), HasSubstr("HTTP 202"));
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(server.requests()[0].target, "/api/v2/alerts");
}

TEST(NotifierDispatcherTest, ABlockedNotifierBlocksNeitherSubmitNorTheOthers) {
  Gate gate;
  auto slow_owned = std::make_unique<FakeNotifier>("slow", [&](const auto&) {
    gate.Wait();
    return Status::OK();
  });
  auto fast_owned =
      std::make_unique<FakeNotifier>("fast", [](const auto&) { return Status::OK(); });
  FakeNotifier* slow = slow_owned.get();
  FakeNotifier* fast = fast_owned.get();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::move(slow_owned));
  notifiers.push_back(std::move(fast_owned));
  NotifierDispatcher dispatcher(std::move(notifiers), NotifierDispatcher::Options{});

  dispatcher.Submit(Numbered(0, 1));
  ASSERT_TRUE(WaitUntil([&] { return gate.waiting() == 1; })) << "slow is inside Send";
  // These return although slow cannot take anything: if Submit waited for it,
  // the test would never get past here.
  for (int i = 1; i < 5; ++i) dispatcher.Submit(Numbered(i, i + 1));
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[1].sent == 5; }));
  EXPECT_EQ(gate.waiting(), 1) << "fast delivered everything while slow was still stuck";
  EXPECT_EQ(dispatcher.Stats()[0].sent, 0u);
  EXPECT_EQ(dispatcher.Stats()[0].queued, 4u);

  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].sent == 5; }));
  std::vector<std::string> slow_got, fast_got;
  for (const auto& b : slow->batches()) {
    for (const auto& r : Rules(b)) slow_got.push_back(r);
  }
  for (const auto& b : fast->batches()) {
    for (const auto& r : Rules(b)) fast_got.push_back(r);
  }
  const std::vector<std::string> all = {"r0", "r1", "r2", "r3", "r4"};
  EXPECT_EQ(slow_got, all);
  EXPECT_EQ(fast_got, all);
  EXPECT_EQ(slow->batches().size(), 2u) << "what queued up behind the stuck Send goes as one batch";
}

TEST(NotifierDispatcherTest, AFullQueueDropsTheOldestAndCountsThem) {
  Gate gate;
  auto owned = std::make_unique<FakeNotifier>("stuck", [&](const auto&) {
    gate.Wait();
    return Status::OK();
  });
  FakeNotifier* stuck = owned.get();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::move(owned));
  NotifierDispatcher::Options options;
  options.max_queue = 3;
  NotifierDispatcher dispatcher(std::move(notifiers), options);

  dispatcher.Submit(Numbered(0, 1));
  ASSERT_TRUE(WaitUntil([&] { return gate.waiting() == 1; }));
  dispatcher.Submit(Numbered(1, 3));
  dispatcher.Submit(Numbered(3, 6));  // r1 and r2 are the oldest waiting: dropped
  NotifierStats stats = dispatcher.Stats()[0];
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.queued, 3u);

  gate.Open();
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].sent == 4; }));
  std::vector<std::string> got;
  for (const auto& b : stuck->batches()) {
    for (const auto& r : Rules(b)) got.push_back(r);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"r0", "r3", "r4", "r5"}));
  stats = dispatcher.Stats()[0];
  EXPECT_EQ(stats.dropped, 2u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(stats.given_up, 0u);
}

TEST(NotifierDispatcherTest, GivesUpAfterMaxAttemptsAndMovesOn) {
  std::atomic<bool> healthy{false};
  auto owned = std::make_unique<FakeNotifier>(
      "flaky", [&](const auto&) { return healthy ? Status::OK() : Status::Unavailable("down"); });
  FakeNotifier* flaky = owned.get();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::move(owned));
  RecordedBackoffs backoffs;
  NotifierDispatcher::Options options = backoffs.Options(kMs, 4 * kMs);
  options.max_attempts = 5;
  NotifierDispatcher dispatcher(std::move(notifiers), options);

  dispatcher.Submit(Numbered(0, 3));
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].given_up == 3; }));
  EXPECT_EQ(dispatcher.Stats()[0].failed_attempts, 5u);
  EXPECT_EQ(flaky->calls(), 5u);
  // Waits between attempts only: 1, 2, 4, 4 ms (capped), less jitter.
  auto waits = backoffs.Get();
  EXPECT_EQ(waits.size(), 4u);
  ExpectExponentialBackoff(waits, kMs, 4 * kMs);

  healthy = true;
  dispatcher.Submit(Numbered(3, 4));
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].sent == 1; }));
  EXPECT_EQ(Rules(flaky->batches().back()), (std::vector<std::string>{"r3"}));
  EXPECT_EQ(dispatcher.Stats()[0].given_up, 3u);
}

TEST(NotifierDispatcherTest, GivesUpOldBatchesAndRefusedOnesAtOnce) {
  ManualClock clock(kStart);
  auto old_owned = std::make_unique<FakeNotifier>("old", [&](const auto&) {
    clock.Advance(3600 * kSecond);  // each attempt takes an hour of the fake clock
    return Status::IOError("timeout");
  });
  auto refused_owned = std::make_unique<FakeNotifier>(
      "refused", [](const auto&) { return Status::InvalidArgument("HTTP 400"); });
  FakeNotifier* old = old_owned.get();
  FakeNotifier* refused = refused_owned.get();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::move(old_owned));
  notifiers.push_back(std::move(refused_owned));
  NotifierDispatcher::Options options;
  options.clock = &clock;
  options.initial_backoff_ns = kMs;
  options.max_age_ns = 2 * 3600 * kSecond;
  NotifierDispatcher dispatcher(std::move(notifiers), options);

  dispatcher.Submit(Numbered(0, 2));
  ASSERT_TRUE(WaitUntil([&] {
    auto s = dispatcher.Stats();
    return s[0].given_up == 2 && s[1].given_up == 2;
  }));
  EXPECT_EQ(old->calls(), 2u) << "an hour old after one attempt, two hours after the second";
  EXPECT_EQ(refused->calls(), 1u);
}

TEST(NotifierDispatcherTest, StopCutsABackoffShortDropsTheQueueAndIsIdempotent) {
  auto owned = std::make_unique<FakeNotifier>(
      "down", [](const auto&) { return Status::Unavailable("down"); });
  FakeNotifier* down = owned.get();
  std::vector<std::unique_ptr<Notifier>> notifiers;
  notifiers.push_back(std::move(owned));
  NotifierDispatcher::Options options;
  options.initial_backoff_ns = 3600 * kSecond;  // the worker would wait an hour
  options.max_backoff_ns = 3600 * kSecond;
  NotifierDispatcher dispatcher(std::move(notifiers), options);

  dispatcher.Submit(Numbered(0, 1));
  ASSERT_TRUE(WaitUntil([&] { return dispatcher.Stats()[0].failed_attempts == 1; }));
  dispatcher.Submit(Numbered(1, 3));
  dispatcher.Stop();
  dispatcher.Stop();
  NotifierStats stats = dispatcher.Stats()[0];
  EXPECT_EQ(down->calls(), 1u);
  EXPECT_EQ(stats.given_up, 1u) << "the batch in backoff";
  EXPECT_EQ(stats.dropped, 2u) << "the batch still queued";
  EXPECT_EQ(stats.queued, 0u);
  dispatcher.Submit(Numbered(3, 4));
  EXPECT_EQ(dispatcher.Stats()[0].dropped, 3u) << "submitted after Stop";
}

// ---------------------------------------------------------------- factory

NotifierConfig Config(std::string type, std::string path = "", std::string url = "") {
  NotifierConfig c;
  c.type = std::move(type);
  c.path = std::move(path);
  c.url = std::move(url);
  return c;
}

TEST(MakeNotifierTest, BuildsEachType) {
  TempDir dir;
  auto console = MakeNotifier(Config("console"));
  ASSERT_TRUE(console.ok()) << console.status().ToString();
  EXPECT_EQ((*console)->name(), "console");
  auto file = MakeNotifier(Config("file", dir.path() + "/a.jsonl"));
  ASSERT_TRUE(file.ok()) << file.status().ToString();
  EXPECT_EQ((*file)->name(), "file:" + dir.path() + "/a.jsonl");
  auto webhook = MakeNotifier(Config("webhook", "", "http://127.0.0.1:9/hook"));
  ASSERT_TRUE(webhook.ok()) << webhook.status().ToString();
  EXPECT_EQ((*webhook)->name(), "webhook:http://127.0.0.1:9/hook");
  auto am = MakeNotifier(Config("alertmanager", "", "http://alertmanager:9093"));
  ASSERT_TRUE(am.ok()) << am.status().ToString();
  EXPECT_EQ((*am)->name(), "alertmanager:http://alertmanager:9093");
}

TEST(MakeNotifierTest, RejectsBadConfigsNamingTheProblem) {
  auto expect_error = [](const NotifierConfig& c, std::string_view what) {
    auto r = MakeNotifier(c);
    ASSERT_FALSE(r.ok()) << c.type;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    EXPECT_THAT(r.status().ToString(), HasSubstr(what));
  };
  expect_error(Config("pager"), "unknown notifier type \"pager\"");
  expect_error(Config(""), "unknown notifier type \"\"");
  expect_error(Config("file"), "notifier file: path is required");
  expect_error(Config("webhook"), "notifier webhook: url is required");
  expect_error(Config("alertmanager"), "notifier alertmanager: url is required");
  expect_error(Config("webhook", "", "https://hooks.example.com/x"), "https is not supported");
  expect_error(Config("alertmanager", "", "http://am:99999"), "invalid port");
  NotifierConfig zero_timeout = Config("webhook", "", "http://h/x");
  zero_timeout.timeout_ns = 0;
  expect_error(zero_timeout, "timeout must be positive");
  expect_error(Config("console", "", "http://h/x"), "notifier console: url is not used");
  expect_error(Config("webhook", "/tmp/x", "http://h/x"), "notifier webhook: path is not used");
}

}  // namespace
}  // namespace lode
