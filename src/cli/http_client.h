// HttpClient: a small blocking HTTP/1.1 client for the CLI (`lode gen`,
// `lode query`). Keeps one connection alive and reconnects when it drops.
// Not thread-safe.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <memory>
#include <string>
#include <vector>

#include "common/status.h"

namespace lode {

struct HttpUrl {
  std::string host;
  uint16_t port = 80;
  std::string target = "/";  // path and query

  // Parses "http://host:port/path?query"; "host:port" alone means http.
  // https is refused with a clear message (the CLI speaks plain HTTP).
  static Result<HttpUrl> Parse(std::string_view url);
};

struct HttpResult {
  int status = 0;
  std::string body;
  std::string retry_after;  // the Retry-After header, if any
};

class HttpClient {
 public:
  HttpClient(std::string host, uint16_t port, int timeout_s = 30);
  ~HttpClient();

  // Sends one request and reads the answer. IOError when the server cannot be
  // reached or the connection fails (after one reconnect attempt).
  Result<HttpResult> Request(boost::beast::http::verb method, const std::string& target,
                             const std::string& body = "",
                             const std::vector<std::pair<std::string, std::string>>& headers = {});

 private:
  Status Connect();

  std::string host_;
  uint16_t port_;
  int timeout_s_;
  boost::asio::io_context io_;
  std::unique_ptr<boost::beast::tcp_stream> stream_;
};

}  // namespace lode
