#include "server/web_ui.h"

#include <fmt/format.h>
#include <zlib.h>

#include <fstream>
#include <sstream>

namespace lode {

namespace asio = boost::asio;

namespace {

std::string_view ContentType(std::string_view name) {
  if (name.ends_with(".html")) return "text/html; charset=utf-8";
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "application/octet-stream";
}

// FNV-1a, 64 bits: an ETag only needs to change when the bytes do.
std::string Etag(std::string_view data) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return fmt::format("\"{:016x}\"", h);
}

// gzip at the highest level: done once per asset at startup.
std::string Gzip(std::string_view data) {
  z_stream z{};
  if (deflateInit2(&z, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&z, data.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  return rc == Z_STREAM_END ? out : std::string();
}

// Whether Accept-Encoding lists gzip (or *) without q=0.
bool AcceptsGzip(const HttpRequest& req) {
  std::string_view ae = req[http::field::accept_encoding];
  while (!ae.empty()) {
    const size_t comma = ae.find(',');
    std::string_view item = ae.substr(0, comma);
    ae = comma == std::string_view::npos ? std::string_view() : ae.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    const size_t semi = item.find(';');
    std::string_view coding = item.substr(0, semi);
    while (!coding.empty() && coding.back() == ' ') coding.remove_suffix(1);
    if (coding != "gzip" && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = item.substr(semi + 1);
    while (!params.empty() && params.front() == ' ') params.remove_prefix(1);
    // q=0, q=0.0, q=0.00...: refused.
    if (params.starts_with("q=0") && params.find_first_not_of("0.", 2) == std::string_view::npos) {
      return false;
    }
    return true;
  }
  return false;
}

// Whether If-None-Match names `etag` (weak or strong, in a list) or is "*".
bool EtagMatches(const HttpRequest& req, std::string_view etag) {
  std::string_view inm = req[http::field::if_none_match];
  if (inm.empty()) return false;
  if (inm == "*") return true;
  while (!inm.empty()) {
    const size_t comma = inm.find(',');
    std::string_view item = inm.substr(0, comma);
    inm = comma == std::string_view::npos ? std::string_view() : inm.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item.starts_with("W/")) item.remove_prefix(2);
    if (item == etag) return true;
  }
  return false;
}

}  // namespace

WebUi::WebUi(HttpServer* server, std::span<const WebAsset> assets, std::string dir)
    : server_(server), dir_(std::move(dir)) {
  for (const WebAsset& a : assets) {
    Prepared p{a.data, Gzip(a.data), Etag(a.data)};
    if (p.gzip.size() + 64 >= a.data.size()) p.gzip.clear();
    assets_.emplace(std::string(a.name), std::move(p));
  }
}

void WebUi::Register() {
  for (auto verb : {http::verb::get, http::verb::head}) {
    for (std::string_view name : {"index.html", "app.js", "app.css"}) {
      server_->Route(verb, "/" + std::string(name),
                     [this, name](HttpRequest& r) { return Serve(r, name); });
    }
    // Browsers ask for it; the page declares its own icon.
    server_->Route(verb, "/favicon.ico", [](HttpRequest& r) -> asio::awaitable<HttpResponse> {
      HttpResponse res(http::status::no_content, r.version());
      res.set(http::field::server, "lode");
      res.set(http::field::cache_control, "max-age=86400");
      res.keep_alive(r.keep_alive());
      co_return res;
    });
  }
}

bool WebUi::WantsPage(const HttpRequest& req) {
  return req[http::field::accept].find("text/html") != std::string_view::npos;
}

asio::awaitable<HttpResponse> WebUi::Serve(HttpRequest& req, std::string_view name) const {
  if (!dir_.empty()) {
    std::ifstream in(dir_ + "/" + std::string(name), std::ios::binary);
    if (!in) co_return Answer(req, name, {}, nullptr);
    std::ostringstream data;
    data << in.rdbuf();
    const std::string bytes = std::move(data).str();
    const Prepared p{bytes, {}, Etag(bytes)};
    co_return Answer(req, name, bytes, &p);
  }
  auto it = assets_.find(name);
  co_return Answer(req, name, it == assets_.end() ? std::string_view() : it->second.data,
                   it == assets_.end() ? nullptr : &it->second);
}

HttpResponse WebUi::Answer(const HttpRequest& req, std::string_view name, std::string_view data,
                           const Prepared* p) const {
  HttpResponse res(http::status::ok, req.version());
  res.set(http::field::server, "lode");
  res.keep_alive(req.keep_alive());
  if (p == nullptr) {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain; charset=utf-8");
    res.body() = "web UI asset \"" + std::string(name) + "\" not found" +
                 (dir_.empty() ? "" : " in " + dir_) + "\n";
    res.prepare_payload();
    if (req.method() == http::verb::head) res.body().clear();
    return res;
  }
  // Revalidated on every load (a 304 costs a round trip, no bytes), so a new
  // binary's UI shows at once without versioned file names.
  const bool gzip = !p->gzip.empty() && AcceptsGzip(req);
  // Each encoding is its own representation, with its own tag.
  const std::string etag =
      gzip ? p->etag.substr(0, p->etag.size() - 1) + "-gz\"" : std::string(p->etag);
  res.set(http::field::cache_control, "no-cache");
  res.set(http::field::etag, etag);
  // "/" also answers non-browsers with JSON (api.cc), by Accept.
  res.set(http::field::vary, name == "index.html" ? "Accept, Accept-Encoding" : "Accept-Encoding");
  res.set(http::field::content_type, ContentType(name));
  res.set("X-Content-Type-Options", "nosniff");
  if (name.ends_with(".html")) {
    // Same-origin everything: the API, the tail WebSocket, the bundle.
    res.set("Content-Security-Policy",
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; "
            "style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'");
    res.set("Referrer-Policy", "no-referrer");
  }
  if (EtagMatches(req, etag)) {
    res.result(http::status::not_modified);
    return res;
  }
  if (gzip) res.set(http::field::content_encoding, "gzip");
  const std::string_view body = gzip ? std::string_view(p->gzip) : data;
  if (req.method() == http::verb::head) {
    res.content_length(body.size());
  } else {
    res.body().assign(body);
    res.prepare_payload();
  }
  return res;
}

}  // namespace lode
