#include "server/http_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>

#include "common/json_writer.h"

namespace lode {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

namespace {

// True when the request has no Origin (not a browser) or one whose host and
// port are the request's Host.
bool SameOrigin(const HttpRequest& req) {
  auto it = req.find(http::field::origin);
  if (it == req.end()) return true;
  std::string_view origin = it->value();
  const size_t scheme = origin.find("://");
  if (scheme == std::string_view::npos) return false;  // "null", opaque origins
  origin.remove_prefix(scheme + 3);
  return boost::beast::iequals(origin, req[http::field::host]);
}

}  // namespace

http::status HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return http::status::ok;
    case StatusCode::kInvalidArgument: return http::status::bad_request;
    case StatusCode::kNotFound: return http::status::not_found;
    case StatusCode::kResourceExhausted: return http::status::too_many_requests;
    case StatusCode::kTooLarge: return http::status::payload_too_large;
    case StatusCode::kUnavailable: return http::status::service_unavailable;
    case StatusCode::kDeadlineExceeded: return http::status::gateway_timeout;
    // nginx's "client closed request": nobody reads it, but logs show why.
    case StatusCode::kCancelled: return static_cast<http::status>(499);
    default: return http::status::internal_server_error;
  }
}

HttpResponse JsonResponse(const HttpRequest& req, http::status status, std::string body) {
  HttpResponse res(status, req.version());
  res.set(http::field::server, "lode");
  res.set(http::field::content_type, "application/json");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse ErrorResponse(const HttpRequest& req, const Status& status) {
  std::string body;
  JsonWriter w(&body);
  w.BeginObject()
      .Key("error")
      .String(status.message())
      .Key("code")
      .String(StatusCodeName(status.code()))
      .EndObject();
  HttpResponse res = JsonResponse(req, HttpStatusFor(status.code()), std::move(body));
  if (status.code() == StatusCode::kResourceExhausted ||
      status.code() == StatusCode::kUnavailable) {
    res.set(http::field::retry_after, "1");
  }
  return res;
}

HttpServer::HttpServer(const Options& options)
    : options_(options),
      io_(options.io_threads > 0 ? options.io_threads
                                 : static_cast<int>(std::thread::hardware_concurrency())),
      workers_(options.worker_threads > 0 ? static_cast<size_t>(options.worker_threads)
                                          : std::thread::hardware_concurrency()) {}

HttpServer::~HttpServer() {
  Stop();
}

void HttpServer::Route(http::verb method, std::string path, HttpHandler handler) {
  routes_[RouteKey{method, std::move(path)}] =
      [h = std::move(handler)](HttpRequest& req, const RequestContext&) { return h(req); };
}

void HttpServer::RouteCancellable(http::verb method, std::string path, CancellableHandler handler) {
  cancellable_.insert(RouteKey{method, path});
  routes_[RouteKey{method, std::move(path)}] = std::move(handler);
}

void HttpServer::RouteWebSocket(std::string path, WebSocketHandler handler) {
  websocket_routes_[std::move(path)] = std::move(handler);
}

bool HttpServer::IsCancellable(const HttpRequest& req) const {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  return cancellable_.count(RouteKey{req.method(), std::string(path)}) > 0;
}

void HttpServer::RoutePrefix(http::verb method, std::string prefix, HttpHandler handler) {
  prefix_routes_.emplace_back(RouteKey{method, std::move(prefix)}, std::move(handler));
  std::sort(prefix_routes_.begin(), prefix_routes_.end(),
            [](const auto& a, const auto& b) { return a.first.path.size() > b.first.path.size(); });
}

void HttpServer::RouteSuffix(http::verb method, std::string suffix, HttpHandler handler) {
  suffix_routes_.emplace_back(RouteKey{method, std::move(suffix)}, std::move(handler));
}

Status HttpServer::Start() {
  boost::system::error_code ec;
  auto address = asio::ip::make_address(options_.host, ec);
  if (ec) return Status::InvalidArgument("invalid listen address \"" + options_.host + "\"");
  tcp::endpoint endpoint(address, options_.port);
  std::string where = options_.host + ":" + std::to_string(options_.port);
  acceptor_ = std::make_unique<tcp::acceptor>(io_);
  acceptor_->open(endpoint.protocol(), ec);
  if (!ec) acceptor_->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_->bind(endpoint, ec);
  if (!ec) acceptor_->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return Status::IOError("cannot listen on " + where + ": " + ec.message());
  bound_port_ = acceptor_->local_endpoint().port();

  asio::co_spawn(io_, Accept(*acceptor_), asio::detached);
  int n = options_.io_threads > 0 ? options_.io_threads
                                  : static_cast<int>(std::thread::hardware_concurrency());
  for (int i = 0; i < std::max(1, n); ++i) threads_.emplace_back([this] { io_.run(); });
  return Status::OK();
}

void HttpServer::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (acceptor_) {
    asio::post(io_, [this] {
      boost::system::error_code ec;
      acceptor_->close(ec);
    });
  }
  // Let requests being handled finish and their answers go out (up to
  // drain_timeout): a client must not be left to resend a batch that was
  // stored. Idle keep-alive connections are closed with the context.
  draining_ = true;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options_.drain_timeout_s);
  while (in_flight_.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  io_.stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
  workers_.join();
}

asio::awaitable<void> HttpServer::Accept(tcp::acceptor& acceptor) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      spdlog::warn("http: accept failed: {}", ec.message());
      continue;
    }
    ++accepted_;
    // One strand per connection: a handler and the coroutine watching its
    // socket never run at the same time.
    asio::co_spawn(asio::make_strand(io_), Session(std::move(socket)), asio::detached);
  }
}

asio::awaitable<HttpResponse> HttpServer::Dispatch(HttpRequest& req, const RequestContext& ctx) {
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  auto it = routes_.find(RouteKey{req.method(), std::string(path)});
  if (it != routes_.end()) co_return co_await it->second(req, ctx);
  if (req.method() == http::verb::get && websocket_routes_.count(std::string(path)) > 0) {
    co_return ErrorResponse(
        req, Status::InvalidArgument(std::string(path) +
                                     " is a WebSocket endpoint: "
                                     "send Connection: Upgrade and Upgrade: websocket"));
  }
  for (auto& [key, handler] : prefix_routes_) {
    if (key.method == req.method() && path.starts_with(key.path)) co_return co_await handler(req);
  }
  for (auto& [key, handler] : suffix_routes_) {
    if (key.method == req.method() && path.ends_with(key.path)) co_return co_await handler(req);
  }
  // Distinguish a wrong method from an unknown path.
  bool path_known = websocket_routes_.count(std::string(path)) > 0;
  for (auto& [key, h] : routes_) path_known |= key.path == path;
  if (path_known) {
    HttpResponse res =
        ErrorResponse(req, Status::InvalidArgument(std::string(req.method_string()) +
                                                   " is not allowed on " + std::string(path)));
    res.result(http::status::method_not_allowed);
    co_return res;
  }
  co_return ErrorResponse(req, Status::NotFound("no such endpoint: " + std::string(path)));
}

asio::awaitable<void> HttpServer::Session(tcp::socket socket) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(options_.max_body_bytes);
    parser.header_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(options_.idle_timeout_s));
    co_await http::async_read(stream, buffer, parser,
                              asio::redirect_error(asio::use_awaitable, ec));
    if (ec == http::error::end_of_stream || ec == beast::error::timeout) break;
    if (ec == http::error::body_limit || ec == http::error::header_limit) {
      HttpRequest head;
      head.version(11);
      Status st = Status::TooLarge(ec == http::error::body_limit
                                       ? "request body exceeds the limit of " +
                                             std::to_string(options_.max_body_bytes) + " bytes"
                                       : std::string("request headers exceed 64 KiB"));
      HttpResponse res = ErrorResponse(head, st);
      res.keep_alive(false);
      stream.expires_after(std::chrono::seconds(10));
      co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
      // Lingering close: a client still sending its body would otherwise get
      // a reset (EPIPE) instead of reading our 413. Read and discard what it
      // sends, bounded in bytes and time, then close.
      stream.socket().shutdown(tcp::socket::shutdown_send, ec);
      std::vector<char> sink(64 * 1024);
      uint64_t drained = 0;
      stream.expires_after(std::chrono::seconds(5));
      while (drained < (256ull << 20)) {
        size_t n = co_await stream.async_read_some(asio::buffer(sink),
                                                   asio::redirect_error(asio::use_awaitable, ec));
        if (ec) break;
        drained += n;
      }
      co_return;
    }
    if (ec) break;
    HttpRequest req = parser.release();
    if (beast::websocket::is_upgrade(req)) {
      std::string_view target = req.target();
      auto ws = websocket_routes_.find(std::string(target.substr(0, target.find('?'))));
      if (ws != websocket_routes_.end() && !SameOrigin(req)) {
        // A page of another site may not read logs through the visitor's
        // browser (cross-site WebSocket hijacking): browsers always send
        // Origin; other clients send none.
        std::string body;
        JsonWriter w(&body);
        w.BeginObject()
            .Key("error")
            .String("WebSocket from origin \"" + std::string(req[http::field::origin]) +
                    "\" refused: not this server's (" + std::string(req[http::field::host]) + ")")
            .Key("code")
            .String("PermissionDenied")
            .EndObject();
        HttpResponse res = JsonResponse(req, http::status::forbidden, std::move(body));
        co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
        co_return;
      }
      if (ws != websocket_routes_.end()) {
        stream.expires_never();
        WebSocket ws_stream(std::move(stream));
        co_await ws_stream.async_accept(req, asio::redirect_error(asio::use_awaitable, ec));
        if (ec) co_return;
        try {
          co_await ws->second(req, ws_stream);
        } catch (const std::exception& e) {
          spdlog::warn("http: websocket {} failed: {}", std::string(req.target()), e.what());
        }
        co_return;
      }
    }
    HttpResponse res;
    // Counted until its answer is written: Stop() waits for these, so a
    // request whose records were stored is answered, not cut off.
    struct InFlight {
      std::atomic<int>* n;
      explicit InFlight(std::atomic<int>* c) : n(c) { ++*n; }
      ~InFlight() { --*n; }
    } in_flight(&in_flight_);
    try {
      if (IsCancellable(req)) {
        res = co_await DispatchWatching(stream, req);
      } else {
        res = co_await Dispatch(req, RequestContext{});
      }
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} failed: {}", std::string(req.method_string()),
                    std::string(req.target()), e.what());
      res = ErrorResponse(req, Status::Internal(e.what()));
    }
    bool keep_alive = req.keep_alive() && res.keep_alive();
    res.keep_alive(keep_alive);
    stream.expires_after(std::chrono::seconds(options_.idle_timeout_s));
    co_await http::async_write(stream, res, asio::redirect_error(asio::use_awaitable, ec));
    if (ec || !keep_alive || draining_) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
}

asio::awaitable<HttpResponse> HttpServer::DispatchWatching(beast::tcp_stream& stream,
                                                           HttpRequest& req) {
  using namespace asio::experimental::awaitable_operators;
  RequestContext ctx;
  auto done = std::make_shared<bool>(false);
  tcp::socket& socket = stream.socket();
  HttpResponse res;
  auto run = [&]() -> asio::awaitable<void> {
    res = co_await Dispatch(req, ctx);
    *done = true;
    boost::system::error_code ignored;
    socket.cancel(ignored);  // ends the watcher's wait
  };
  // Readable with nothing to read means the peer closed (or reset) the
  // connection; readable with data is a pipelined request: stop watching.
  auto watch = [&]() -> asio::awaitable<void> {
    // The handler may have finished (and cancelled nothing) before this
    // coroutine started: then there is nothing to watch.
    if (*done) co_return;
    boost::system::error_code ec;
    co_await socket.async_wait(tcp::socket::wait_read,
                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec || *done) co_return;
    char c;
    socket.non_blocking(true, ec);
    size_t n = socket.receive(asio::buffer(&c, 1), tcp::socket::message_peek, ec);
    if (ec == asio::error::would_block) co_return;
    if (n == 0 || ec) ctx.cancelled->store(true);
  };
  co_await (run() && watch());
  co_return res;
}

}  // namespace lode
