#include "cli/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <charconv>

namespace lode {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

Result<HttpUrl> HttpUrl::Parse(std::string_view url) {
  HttpUrl u;
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    return Status::InvalidArgument("https is not supported: use http://HOST:PORT");
  }
  if (rest.starts_with("http://")) rest.remove_prefix(7);
  size_t slash = rest.find('/');
  std::string_view hostport = rest.substr(0, slash);
  u.target = slash == std::string_view::npos ? "/" : std::string(rest.substr(slash));
  size_t colon = hostport.rfind(':');
  size_t bracket = hostport.find(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || bracket < colon)) {
    std::string_view p = hostport.substr(colon + 1);
    unsigned v = 0;
    auto r = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || r.ec != std::errc() || r.ptr != p.data() + p.size() || v > 65535) {
      return Status::InvalidArgument("invalid port in URL \"" + std::string(url) + "\"");
    }
    u.port = static_cast<uint16_t>(v);
    hostport = hostport.substr(0, colon);
  }
  if (hostport.size() >= 2 && hostport.front() == '[')
    hostport = hostport.substr(1, hostport.size() - 2);
  if (hostport.empty())
    return Status::InvalidArgument("no host in URL \"" + std::string(url) + "\"");
  u.host = std::string(hostport);
  return u;
}

HttpClient::HttpClient(std::string host, uint16_t port, int timeout_s)
    : host_(std::move(host)), port_(port), timeout_s_(timeout_s) {}

HttpClient::~HttpClient() {
  if (stream_) {
    beast::error_code ec;
    stream_->socket().shutdown(tcp::socket::shutdown_both, ec);
  }
}

Status HttpClient::Connect() {
  tcp::resolver resolver(io_);
  beast::error_code ec;
  auto results = resolver.resolve(host_, std::to_string(port_), ec);
  if (ec) return Status::IOError("cannot resolve " + host_ + ": " + ec.message());
  stream_ = std::make_unique<beast::tcp_stream>(io_);
  stream_->expires_after(std::chrono::seconds(timeout_s_));
  stream_->connect(results, ec);
  if (ec) {
    stream_.reset();
    return Status::IOError("cannot connect to " + host_ + ":" + std::to_string(port_) + ": " +
                           ec.message());
  }
  return Status::OK();
}

Result<HttpResult> HttpClient::Request(
    http::verb method, const std::string& target, const std::string& body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, host_ + ":" + std::to_string(port_));
  req.set(http::field::user_agent, "lode-cli");
  for (const auto& [k, v] : headers) req.set(k, v);
  req.body() = body;
  req.prepare_payload();

  Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (!stream_) {
      last = Connect();
      if (!last.ok()) continue;
    }
    beast::error_code ec;
    stream_->expires_after(std::chrono::seconds(timeout_s_));
    http::write(*stream_, req, ec);
    if (!ec) {
      beast::flat_buffer buffer;
      http::response_parser<http::string_body> parser;
      parser.body_limit(1ull << 30);
      http::read(*stream_, buffer, parser, ec);
      if (!ec) {
        auto res = parser.release();
        HttpResult out;
        out.status = static_cast<int>(res.result_int());
        out.body = std::move(res.body());
        out.retry_after = std::string(res[http::field::retry_after]);
        if (!res.keep_alive()) stream_.reset();
        return out;
      }
    }
    // A kept-alive connection the server closed: reconnect once.
    stream_.reset();
    last = Status::IOError("request to " + host_ + ":" + std::to_string(port_) +
                           " failed: " + ec.message());
  }
  return last;
}

}  // namespace lode
