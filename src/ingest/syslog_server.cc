#include "ingest/syslog_server.h"

#include <spdlog/spdlog.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <vector>

#include "bus/publish_and_wait.h"
#include "parse/syslog.h"

namespace lode {

namespace asio = boost::asio;
using asio::ip::tcp;
using asio::ip::udp;

struct SyslogServer::Impl {
  Options options;
  Bus* bus = nullptr;
  SyslogServer* self = nullptr;
  asio::io_context io{1};
  std::unique_ptr<udp::socket> udp_socket;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::thread thread;
  std::atomic<int64_t> last_warning_ns{0};
  bool stopped = false;

  // Parses one message into `batch`; a bad one is counted and, at most once
  // a second, logged with the reason.
  void Add(std::string_view message, const std::string& peer, SourceCounters* counters,
           RecordBatch* batch) {
    while (!message.empty() && (message.back() == '\n' || message.back() == '\r')) {
      message.remove_suffix(1);
    }
    if (message.empty()) return;
    const int64_t now = options.clock->NowNanos();
    Record r;
    Status st = ParseSyslog(message, now, &r);
    if (!st.ok()) {
      ++counters->rejected;
      int64_t last = last_warning_ns.load(std::memory_order_relaxed);
      if (now - last >= 1'000'000'000 &&
          last_warning_ns.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
        spdlog::warn("syslog: message from {} rejected: {} (message starts \"{}\")", peer,
                     st.message(), message.substr(0, 80));
      }
      return;
    }
    r.tenant = batch->tenant;
    batch->records.push_back(std::move(r));
  }

  asio::awaitable<void> UdpLoop() {
    std::vector<char> buf(65536);
    udp::endpoint peer;
    SourceCounters* counters = &self->udp_counters_;
    for (;;) {
      boost::system::error_code ec;
      size_t n = co_await udp_socket->async_receive_from(
          asio::buffer(buf), peer, asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !udp_socket->is_open()) co_return;
        continue;
      }
      RecordBatch batch;
      batch.tenant = options.tenant;
      const std::string from = peer.address().to_string();
      // What is already readable joins this batch: one publish per burst.
      for (;;) {
        ++counters->requests;
        counters->bytes += n;
        Add(std::string_view(buf.data(), n), from, counters, &batch);
        if (batch.records.size() >= options.max_batch_records || udp_socket->available() == 0) {
          break;
        }
        n = udp_socket->receive_from(asio::buffer(buf), peer, 0, ec);
        if (ec) break;
      }
      const size_t count = batch.records.size();
      if (count == 0) continue;
      Status st = bus->Publish(std::move(batch), [counters, count](const Status& s) {
        if (s.ok()) {
          counters->accepted += count;
        } else {
          ++counters->failed;
        }
      });
      if (!st.ok()) {
        // UDP cannot push back: the datagrams are lost, and counted.
        ++counters->pushed_back;
        counters->dropped += count;
      }
    }
  }

  asio::awaitable<void> Accept() {
    for (;;) {
      boost::system::error_code ec;
      tcp::socket socket =
          co_await acceptor->async_accept(asio::redirect_error(asio::use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || !acceptor->is_open()) co_return;
        continue;
      }
      asio::co_spawn(io, TcpSession(std::move(socket)), asio::detached);
    }
  }

  // Publishes `batch` and waits until it is stored. While the bus is full the
  // connection is not read (the sender's TCP window closes): memory stays
  // bounded and nothing is dropped.
  asio::awaitable<void> Store(RecordBatch batch, SourceCounters* counters) {
    const size_t count = batch.records.size();
    asio::steady_timer timer(io);
    for (int attempt = 0;; ++attempt) {
      const BusStats bs = bus->Stats();
      if (bs.queued_bytes + batch.ApproxBytes() <= bs.budget_bytes || bs.queued_bytes == 0) break;
      if (attempt == 0) ++counters->pushed_back;
      timer.expires_after(std::chrono::milliseconds(20));
      co_await timer.async_wait(asio::use_awaitable);
    }
    Status st = co_await PublishAndWait(bus, std::move(batch));
    if (st.ok()) {
      counters->accepted += count;
    } else if (st.code() == StatusCode::kResourceExhausted) {
      counters->dropped += count;  // filled up between the check and the publish
    } else {
      ++counters->failed;
      spdlog::warn("syslog: {} records could not be stored: {}", count, st.ToString());
    }
  }

  asio::awaitable<void> TcpSession(tcp::socket socket) {
    SourceCounters* counters = &self->tcp_counters_;
    boost::system::error_code ec;
    const auto remote = socket.remote_endpoint(ec);
    const std::string from = ec ? "?" : remote.address().to_string();
    std::string buf;
    std::vector<char> chunk(65536);
    for (;;) {
      size_t n = co_await socket.async_read_some(asio::buffer(chunk),
                                                 asio::redirect_error(asio::use_awaitable, ec));
      const bool end = static_cast<bool>(ec);
      if (!end) {
        ++counters->requests;
        counters->bytes += n;
        buf.append(chunk.data(), n);
      }
      RecordBatch batch;
      batch.tenant = options.tenant;
      size_t pos = 0;
      std::string error;
      while (pos < buf.size() && error.empty()) {
        if (buf[pos] >= '0' && buf[pos] <= '9') {
          // Octet counting: "LEN SP MSG".
          const size_t space = buf.find(' ', pos);
          if (space == std::string::npos) {
            if (buf.size() - pos > 10) error = "octet count longer than 10 digits";
            break;
          }
          size_t len = 0;
          auto [p, e] = std::from_chars(buf.data() + pos, buf.data() + space, len);
          if (e != std::errc() || p != buf.data() + space) {
            error =
                "bad octet count \"" + buf.substr(pos, std::min<size_t>(space - pos, 20)) + "\"";
            break;
          }
          if (len > options.max_message_bytes) {
            error = "message of " + std::to_string(len) + " bytes, over the limit of " +
                    std::to_string(options.max_message_bytes);
            break;
          }
          if (buf.size() - (space + 1) < len) break;  // the rest is still coming
          Add(std::string_view(buf).substr(space + 1, len), from, counters, &batch);
          pos = space + 1 + len;
        } else {
          // Non-transparent framing: up to LF (a last message without one
          // counts when the sender closes).
          size_t nl = buf.find('\n', pos);
          if (nl == std::string::npos) {
            if (buf.size() - pos > options.max_message_bytes) {
              error =
                  "line over the limit of " + std::to_string(options.max_message_bytes) + " bytes";
              break;
            }
            if (!end) break;
            nl = buf.size();
          }
          Add(std::string_view(buf).substr(pos, nl - pos), from, counters, &batch);
          pos = std::min(buf.size(), nl + 1);
        }
      }
      buf.erase(0, pos);
      if (!batch.records.empty()) co_await Store(std::move(batch), counters);
      if (!error.empty()) {
        ++counters->rejected;
        spdlog::warn("syslog: closing TCP connection from {}: {}", from, error);
        co_return;
      }
      if (end) co_return;
    }
  }
};

Result<std::unique_ptr<SyslogServer>> SyslogServer::Start(const Options& options, Bus* bus) {
  std::unique_ptr<SyslogServer> s(new SyslogServer());
  s->impl_ = std::make_unique<Impl>();
  Impl& im = *s->impl_;
  im.options = options;
  im.bus = bus;
  im.self = s.get();
  boost::system::error_code ec;
  if (!options.udp_host.empty()) {
    const std::string where = options.udp_host + ":" + std::to_string(options.udp_port);
    auto address = asio::ip::make_address(options.udp_host, ec);
    if (ec)
      return Status::InvalidArgument("syslog UDP: invalid address \"" + options.udp_host + "\"");
    udp::endpoint endpoint(address, options.udp_port);
    im.udp_socket = std::make_unique<udp::socket>(im.io);
    im.udp_socket->open(endpoint.protocol(), ec);
    if (!ec) im.udp_socket->set_option(asio::socket_base::receive_buffer_size(8 << 20), ec);
    ec.clear();  // a smaller buffer than asked for is fine
    im.udp_socket->bind(endpoint, ec);
    if (ec) return Status::IOError("syslog UDP: cannot listen on " + where + ": " + ec.message());
    s->udp_port_ = im.udp_socket->local_endpoint().port();
    asio::co_spawn(im.io, im.UdpLoop(), asio::detached);
  }
  if (!options.tcp_host.empty()) {
    const std::string where = options.tcp_host + ":" + std::to_string(options.tcp_port);
    auto address = asio::ip::make_address(options.tcp_host, ec);
    if (ec)
      return Status::InvalidArgument("syslog TCP: invalid address \"" + options.tcp_host + "\"");
    tcp::endpoint endpoint(address, options.tcp_port);
    im.acceptor = std::make_unique<tcp::acceptor>(im.io);
    im.acceptor->open(endpoint.protocol(), ec);
    if (!ec) im.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) im.acceptor->bind(endpoint, ec);
    if (!ec) im.acceptor->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) return Status::IOError("syslog TCP: cannot listen on " + where + ": " + ec.message());
    s->tcp_port_ = im.acceptor->local_endpoint().port();
    asio::co_spawn(im.io, im.Accept(), asio::detached);
  }
  im.thread = std::thread([&im] { im.io.run(); });
  return s;
}

SyslogServer::~SyslogServer() {
  Stop();
}

void SyslogServer::Stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace lode
