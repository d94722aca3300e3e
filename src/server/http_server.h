// HttpServer: Lode's HTTP/1.1 server (Boost.Beast over Asio, C++20 coroutines).
//
// Routes map a method and an exact path (or a path prefix) to a handler
// coroutine. Handlers run on the I/O threads; anything long (a query) should
// hop to a worker pool with RunBlocking(). The server enforces a body size
// limit (413), a header size limit, and an idle timeout per connection.
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/stream.hpp>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/status.h"

namespace lode {

namespace http = boost::beast::http;
using HttpRequest = http::request<http::string_body>;
using HttpResponse = http::response<http::string_body>;
using HttpHandler = std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&)>;

// What a handler may want to know while it runs.
struct RequestContext {
  // Becomes true when the client closes its connection before the answer is
  // written (the server watches the socket while a cancellable handler runs).
  std::shared_ptr<std::atomic<bool>> cancelled = std::make_shared<std::atomic<bool>>(false);
};
using CancellableHandler =
    std::function<boost::asio::awaitable<HttpResponse>(HttpRequest&, const RequestContext&)>;

using WebSocket = boost::beast::websocket::stream<boost::beast::tcp_stream>;
// Runs after the upgrade handshake; the connection closes when it returns.
using WebSocketHandler = std::function<boost::asio::awaitable<void>(HttpRequest&, WebSocket&)>;

// A JSON response with the given status and body.
HttpResponse JsonResponse(const HttpRequest& req, http::status status, std::string body);
// A JSON error response {"error": message, "code": code name} whose HTTP status
// follows the Status code (400, 404, 413, 429 with Retry-After, 503, 500).
HttpResponse ErrorResponse(const HttpRequest& req, const Status& status);
// The HTTP status a Status code maps to.
http::status HttpStatusFor(StatusCode code);

class HttpServer {
 public:
  struct Options {
    std::string host = "127.0.0.1";
    uint16_t port = 8080;    // 0 picks a free port (see port())
    int io_threads = 0;      // 0: one per core
    int worker_threads = 0;  // for RunBlocking; 0: one per core
    uint64_t max_body_bytes = 64ull << 20;
    int idle_timeout_s = 120;
    int drain_timeout_s = 10;  // Stop() waits this long for requests in flight
  };

  explicit HttpServer(const Options& options);
  ~HttpServer();

  // Registers a handler for `method` and exact `path`. REQUIRES: before Start().
  void Route(http::verb method, std::string path, HttpHandler handler);
  // Registers a handler for every path starting with `prefix` (longest prefix wins).
  void RoutePrefix(http::verb method, std::string prefix, HttpHandler handler);
  // Requests whose path ends with `suffix` (e.g. "/_bulk" for /<index>/_bulk),
  // tried after exact and prefix routes.
  void RouteSuffix(http::verb method, std::string suffix, HttpHandler handler);
  // A handler told when its client goes away (for queries worth stopping).
  void RouteCancellable(http::verb method, std::string path, CancellableHandler handler);
  // A GET `path` that upgrades to a WebSocket; without the upgrade headers
  // the request gets 400.
  void RouteWebSocket(std::string path, WebSocketHandler handler);

  // Binds and starts serving on background threads. Errors name the address.
  Status Start();
  // Stops accepting, closes connections and joins the threads. Idempotent.
  void Stop();

  uint16_t port() const { return bound_port_; }
  boost::asio::io_context& io_context() { return io_; }

  // Runs fn() on the worker pool and resumes the caller with its result.
  template <typename Fn>
  boost::asio::awaitable<std::invoke_result_t<Fn>> RunBlocking(Fn fn);

  uint64_t connections_accepted() const { return accepted_.load(); }

 private:
  struct RouteKey {
    http::verb method;
    std::string path;
    auto operator<=>(const RouteKey&) const = default;
  };
  boost::asio::awaitable<void> Accept(boost::asio::ip::tcp::acceptor& acceptor);
  boost::asio::awaitable<void> Session(boost::asio::ip::tcp::socket socket);
  boost::asio::awaitable<HttpResponse> Dispatch(HttpRequest& req, const RequestContext& ctx);
  // Runs a cancellable handler while watching the socket for the peer's close.
  boost::asio::awaitable<HttpResponse> DispatchWatching(boost::beast::tcp_stream& stream,
                                                        HttpRequest& req);
  bool IsCancellable(const HttpRequest& req) const;

  Options options_;
  boost::asio::io_context io_;
  boost::asio::thread_pool workers_;
  std::unique_ptr<boost::asio::ip::tcp::acceptor> acceptor_;
  std::map<RouteKey, CancellableHandler> routes_;
  std::map<std::string, WebSocketHandler> websocket_routes_;
  std::vector<std::pair<RouteKey, HttpHandler>> prefix_routes_;
  std::vector<std::pair<RouteKey, HttpHandler>> suffix_routes_;
  std::set<RouteKey> cancellable_;
  std::vector<std::thread> threads_;
  uint16_t bound_port_ = 0;
  std::atomic<uint64_t> accepted_{0};
  bool stopped_ = false;
  std::atomic<int> in_flight_{0};      // requests being handled or answered
  std::atomic<bool> draining_{false};  // Stop() began: answer, then close
};

}  // namespace lode

#include "server/http_server_inl.h"
