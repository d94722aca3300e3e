// `lode gen`: the simulated fleet, as NDJSON on stdout, sent to a server over one of the
// protocols Lode ingests (--protocol; the encoders are gen/protocol_encoders.h), or written as
// Kubernetes container log files.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/write.hpp>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <functional>
#include <iostream>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "gen/fleet.h"
#include "gen/protocol_encoders.h"
#include "parse/duration.h"
#include "parse/timestamp.h"
#include "server/server_config.h"

namespace lode {

namespace {

namespace asio = boost::asio;

struct GenFlags {
  uint64_t count = 1000;
  uint64_t seed = 1;
  int services = 12;
  int instances = 3;
  std::string protocol = "http";
  std::string url;
  std::string dir;                     // --protocol files: the log root
  std::string rotate_bytes = "10MiB";  // --protocol files
  int rotate_keep = 5;                 // --protocol files
  double rate = 0;
  size_t batch = 1000;
  int connections = 1;
  std::string start;
  std::string interval = "10ms";
  std::string tenant;
  std::string truth;           // write the ground truth of each line here (TSV)
  std::string format = "raw";  // raw: the fleet's own JSON; normalized: the ground truth as JSON
  bool quiet = false;
};

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) {
  return std::chrono::duration<double>(d).count();
}

// Syslog over UDP without --rate goes at most this fast: a local server's socket buffer
// (net.core.rmem_max is 208 KiB on a stock Debian) overflows under an unpaced burst, and UDP
// loses what does not fit.
constexpr double kUdpDefaultRate = 10000;
// Attempts of one batch before giving up (about 10 minutes of backoff).
constexpr int kMaxAttempts = 600;

// A batch of generated lines, in the form its protocol needs.
struct Batch {
  size_t lines = 0;
  std::string ndjson;              // --protocol http: the lines, one per row
  std::vector<GenRecord> records;  // the other protocols
};

// Runs `attempt` until it succeeds or fails for good. Unavailable means "try again later"
// (connection errors, 429, 503): it is retried with a growing pause (0.1 s to 1 s), warning on
// the first and every tenth retry, at most kMaxAttempts times. Any other error ends the run.
Result<uint64_t> WithRetries(const std::function<Result<uint64_t>()>& attempt,
                             std::atomic<uint64_t>* retries) {
  for (int n = 0;; ++n) {
    Result<uint64_t> r = attempt();
    if (r.ok() || r.status().code() != StatusCode::kUnavailable) return r;
    if (n + 1 >= kMaxAttempts) {
      return Status::Unavailable("giving up after " + std::to_string(kMaxAttempts) +
                                 " attempts: " + std::string(r.status().message()));
    }
    if (n == 0 || n % 10 == 0) spdlog::warn("lode gen: {} (retrying)", r.status().message());
    ++*retries;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * (n + 1), 1000)));
  }
}

// Delivers batches to one destination; one per connection (worker thread), so not thread-safe.
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  // Delivers `batch`, retrying what is worth retrying. Returns how many lines the receiver
  // refused, or the error that ends the run.
  virtual Result<uint64_t> Send(const Batch& batch) = 0;
};

// The HTTP protocols: one POST per batch, on a kept-alive connection.
class HttpSink final : public BatchSink {
 public:
  HttpSink(GenProtocol protocol, const HttpUrl& url, std::string_view tenant,
           std::atomic<uint64_t>* retries)
      : protocol_(protocol), client_(url.host, url.port), target_(url.target), retries_(retries) {
    std::string_view type = "application/json";
    if (protocol == GenProtocol::kHttp || protocol == GenProtocol::kEs) {
      type = "application/x-ndjson";
    } else if (protocol == GenProtocol::kLokiProto) {
      type = "application/x-protobuf";
    }
    headers_.emplace_back("Content-Type", std::string(type));
    if (!tenant.empty()) headers_.emplace_back("X-Scope-OrgID", std::string(tenant));
  }

  Result<uint64_t> Send(const Batch& batch) override {
    body_.clear();
    switch (protocol_) {
      case GenProtocol::kLoki: EncodeLokiPushJson(batch.records, &body_); break;
      case GenProtocol::kLokiProto: EncodeLokiPushProto(batch.records, &body_); break;
      case GenProtocol::kOtlp: EncodeOtlpLogsJson(batch.records, &body_); break;
      case GenProtocol::kEs: EncodeEsBulk(batch.records, &body_); break;
      default: break;
    }
    const std::string& body = protocol_ == GenProtocol::kHttp ? batch.ndjson : body_;
    return WithRetries(
        [&]() -> Result<uint64_t> {
          auto res = client_.Request(boost::beast::http::verb::post, target_, body, headers_);
          if (!res.ok()) return Status::Unavailable(std::string(res.status().message()));
          if (res->status == 429 || res->status == 503) {
            return Status::Unavailable("server busy: HTTP " + std::to_string(res->status));
          }
          return RejectedByAnswer(protocol_, res->status, res->body);
        },
        retries_);
  }

 private:
  GenProtocol protocol_;
  HttpClient client_;
  std::string target_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::atomic<uint64_t>* retries_;
  std::string body_;
};

// Syslog over TCP: octet-counted RFC 5424 frames, one write per batch. Syslog has no
// acknowledgement: a batch is resent whole on a new connection after a failed write, so a
// connection lost mid-batch can duplicate lines; refusals are not known (counted 0).
class SyslogTcpSink final : public BatchSink {
 public:
  SyslogTcpSink(std::string host, uint16_t port, std::atomic<uint64_t>* retries)
      : host_(std::move(host)), port_(port), retries_(retries) {}
  ~SyslogTcpSink() override {
    if (socket_) {
      boost::system::error_code ec;
      socket_->shutdown(asio::ip::tcp::socket::shutdown_send, ec);
      socket_->close(ec);
    }
  }

  Result<uint64_t> Send(const Batch& batch) override {
    frames_.clear();
    for (const GenRecord& r : batch.records) {
      message_.clear();
      EncodeSyslog5424(r, kSyslogTcpMaxBytes, &message_);
      AppendOctetCounted(message_, &frames_);
    }
    return WithRetries(
        [&]() -> Result<uint64_t> {
          boost::system::error_code ec;
          if (!socket_) {
            asio::ip::tcp::resolver resolver(io_);
            auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
            asio::ip::tcp::socket s(io_);
            if (!ec) asio::connect(s, endpoints, ec);
            if (ec) {
              return Status::Unavailable("cannot connect to " + Where() + ": " + ec.message());
            }
            socket_.emplace(std::move(s));
          }
          asio::write(*socket_, asio::buffer(frames_), ec);
          if (ec) {
            socket_.reset();
            return Status::Unavailable("write to " + Where() + " failed: " + ec.message());
          }
          return uint64_t{0};
        },
        retries_);
  }

 private:
  std::string Where() const { return "syslog-tcp " + host_ + ":" + std::to_string(port_); }

  std::string host_;
  uint16_t port_;
  std::atomic<uint64_t>* retries_;
  asio::io_context io_;
  std::optional<asio::ip::tcp::socket> socket_;
  std::string frames_, message_;
};

// Syslog over UDP: one RFC 5424 message per datagram (cut to kSyslogUdpMaxBytes), sent evenly
// at `rate` datagrams per second. UDP is lossy by nature: what the server drops is not known.
class SyslogUdpSink final : public BatchSink {
 public:
  SyslogUdpSink(std::string host, uint16_t port, double rate, std::atomic<uint64_t>* retries)
      : host_(std::move(host)), port_(port), rate_(rate), retries_(retries), socket_(io_) {}

  Result<uint64_t> Send(const Batch& batch) override {
    if (!endpoint_) {
      boost::system::error_code ec;
      asio::ip::udp::resolver resolver(io_);
      auto endpoints = resolver.resolve(host_, std::to_string(port_), ec);
      if (ec || endpoints.empty()) {
        return Status::InvalidArgument("cannot resolve " + host_ + ": " + ec.message());
      }
      endpoint_ = *endpoints.begin();
      socket_.open(endpoint_->protocol(), ec);
      if (ec) return Status::IOError("cannot open a UDP socket: " + ec.message());
      next_ = SteadyClock::now();
    }
    const auto spacing = std::chrono::duration_cast<SteadyClock::duration>(
        std::chrono::duration<double>(1.0 / rate_));
    for (const GenRecord& r : batch.records) {
      message_.clear();
      EncodeSyslog5424(r, kSyslogUdpMaxBytes, &message_);
      // Sleep in steps of about a millisecond rather than per datagram.
      next_ += spacing;
      if (next_ - SteadyClock::now() > std::chrono::milliseconds(1)) {
        std::this_thread::sleep_until(next_);
      }
      if (SteadyClock::now() - next_ > std::chrono::seconds(1)) next_ = SteadyClock::now();
      auto sent = WithRetries(
          [&]() -> Result<uint64_t> {
            boost::system::error_code ec;
            socket_.send_to(asio::buffer(message_), *endpoint_, 0, ec);
            if (ec) return Status::Unavailable("send to " + host_ + " failed: " + ec.message());
            return uint64_t{0};
          },
          retries_);
      if (!sent.ok()) return sent;
    }
    return uint64_t{0};
  }

 private:
  std::string host_;
  uint16_t port_;
  double rate_;
  std::atomic<uint64_t>* retries_;
  asio::io_context io_;
  asio::ip::udp::socket socket_;
  std::optional<asio::ip::udp::endpoint> endpoint_;
  SteadyClock::time_point next_;
  std::string message_;
};

// --protocol files: container log files through the one K8sLogWriter.
class FilesSink final : public BatchSink {
 public:
  explicit FilesSink(K8sLogWriter* writer) : writer_(writer) {}
  Result<uint64_t> Send(const Batch& batch) override {
    Status st = writer_->Write(batch.records);
    if (!st.ok()) return st;
    return uint64_t{0};
  }

 private:
  K8sLogWriter* writer_;
};

// "[udp://|tcp://]HOST[:PORT]" (port 514 when absent; IPv6 hosts in brackets).
Status ParseSyslogAddress(std::string_view text, GenProtocol protocol, std::string* host,
                          uint16_t* port) {
  const std::string_view scheme = protocol == GenProtocol::kSyslogUdp ? "udp://" : "tcp://";
  const std::string_view other = protocol == GenProtocol::kSyslogUdp ? "tcp://" : "udp://";
  if (text.starts_with(other) || text.starts_with("http://") || text.starts_with("https://")) {
    return Status::InvalidArgument("--url for " + std::string(GenProtocolName(protocol)) +
                                   " is HOST:PORT or " + std::string(scheme) + "HOST:PORT, not \"" +
                                   std::string(text) + "\"");
  }
  if (text.starts_with(scheme)) text.remove_prefix(scheme.size());
  *port = 514;
  const size_t colon = text.rfind(':');
  const size_t bracket = text.find(']');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || bracket < colon)) {
    std::string_view p = text.substr(colon + 1);
    unsigned v = 0;
    auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
    if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || v == 0 || v > 65535) {
      return Status::InvalidArgument("invalid port in \"" + std::string(text) + "\"");
    }
    *port = static_cast<uint16_t>(v);
    text = text.substr(0, colon);
  }
  if (text.size() >= 2 && text.front() == '[') text = text.substr(1, text.size() - 2);
  if (text.empty()) return Status::InvalidArgument("no host in --url");
  *host = std::string(text);
  return Status::OK();
}

int RunGen(const GenFlags& f) {
  auto fail = [](std::string_view what, std::string_view message) {
    std::cerr << "lode gen: " << what << ": " << message << "\n";
    return 2;
  };
  auto protocol_or = ParseGenProtocol(f.protocol);
  if (!protocol_or.ok()) return fail("--protocol", protocol_or.status().message());
  const GenProtocol protocol = *protocol_or;
  const bool files = protocol == GenProtocol::kFiles;
  const bool syslog = protocol == GenProtocol::kSyslogUdp || protocol == GenProtocol::kSyslogTcp;
  if (files && f.dir.empty()) return fail("--protocol files", "needs --dir");
  if (!files && !f.dir.empty()) return fail("--dir", "only with --protocol files");
  if (protocol != GenProtocol::kHttp && !files && f.url.empty()) {
    return fail("--protocol " + f.protocol, "needs --url");
  }
  if (files && !f.url.empty()) return fail("--url", "not with --protocol files (use --dir)");
  if (protocol != GenProtocol::kHttp && f.format != "raw") {
    return fail("--format", "only with --protocol http");
  }
  if ((syslog || files) && !f.tenant.empty()) {
    spdlog::warn(
        "lode gen: --tenant is not sent with --protocol {} (the receiving side's "
        "configuration names the tenant)",
        f.protocol);
  }

  FleetOptions fo;
  fo.seed = f.seed;
  fo.services = f.services;
  fo.instances_per_service = f.instances;
  FleetGenerator gen(fo);

  auto interval = ParseDuration(f.interval);
  if (!interval.ok()) return fail("--interval", interval.status().message());
  // Without a destination and --start the timeline starts at a fixed instant so the output is
  // the same on every run; when sending live it follows the clock.
  const bool live = (!f.url.empty() || files) && f.start.empty();
  int64_t start_ns = 1731542400LL * 1000000000LL;  // 2024-11-14T00:00:00Z
  if (!f.start.empty()) {
    auto t = ParseTimestamp(f.start, Clock::Real()->NowNanos());
    if (!t.ok()) return fail("--start", t.status().message());
    start_ns = *t;
  }

  std::unique_ptr<K8sLogWriter> writer;
  if (files) {
    auto rotate = ParseByteSize(f.rotate_bytes);
    if (!rotate.ok()) return fail("--rotate-bytes", rotate.status().message());
    K8sLogWriter::Options wo;
    wo.root = f.dir;
    wo.seed = f.seed;
    wo.rotate_bytes = *rotate;
    wo.rotate_keep = f.rotate_keep;
    writer = std::make_unique<K8sLogWriter>(wo);
  }

  // Ground truth, one line per generated line, for tests and benchmarks.
  std::unique_ptr<FILE, int (*)(FILE*)> truth(nullptr, fclose);
  if (!f.truth.empty()) {
    truth.reset(std::fopen(f.truth.c_str(), "w"));
    if (!truth) return fail("--truth", "cannot write " + f.truth);
    std::fputs("timestamp_ns\tlevel\tservice\tinstance\tsource\ttemplate_id\n", truth.get());
  }
  auto write_truth = [&](int64_t ts, Level level, std::string_view service,
                         std::string_view instance, std::string_view source, int template_id) {
    std::fprintf(truth.get(), "%lld\t%s\t%.*s\t%.*s\t%.*s\t%d\n", static_cast<long long>(ts),
                 std::string(LevelName(level)).c_str(), static_cast<int>(service.size()),
                 service.data(), static_cast<int>(instance.size()), instance.data(),
                 static_cast<int>(source.size()), source.data(), template_id);
  };

  // Appends one line (with its newline) for --protocol http in the chosen --format.
  // "normalized" writes what a correct parser makes of the line, flat, for loading into other
  // systems (bench/clickhouse/): {"ts":"<RFC 3339 UTC>","ts_ns":N,"level":"info",
  // "service":..,"instance":..,"source":..,"message":..}.
  const bool normalized = f.format == "normalized";
  std::string raw_line, ts_text;
  auto next_ndjson = [&](int64_t ts, std::string* out) {
    const GeneratedLine g = gen.Next(ts, normalized ? &raw_line : out);
    if (truth) write_truth(g.timestamp_ns, g.level, g.service, g.instance, g.source, g.template_id);
    if (normalized) {
      raw_line.clear();
      ts_text.clear();
      FormatRfc3339(g.timestamp_ns, &ts_text);
      JsonWriter w(out);
      w.BeginObject();
      w.Key("ts").String(ts_text);
      w.Key("ts_ns").Int(g.timestamp_ns);
      w.Key("level").String(LevelName(g.level));
      w.Key("service").String(g.service);
      w.Key("instance").String(g.instance);
      w.Key("source").String(g.source);
      w.Key("message").String(g.message);
      w.EndObject();
    }
    out->push_back('\n');
  };
  // Adds one line for the other protocols, with the truth of what that protocol carries.
  std::string scratch;
  auto next_record = [&](int64_t ts, std::vector<GenRecord>* out) {
    scratch.clear();
    const GeneratedLine g = gen.Next(ts, &scratch);
    out->push_back(GenRecord::From(g));
    if (!truth) return;
    const GenTruth t = files ? writer->Truth(out->back()) : TruthFor(protocol, out->back());
    write_truth(t.timestamp_ns, t.level, t.service, t.instance, t.source, g.template_id);
  };

  if (protocol == GenProtocol::kHttp && f.url.empty()) {
    std::string buf;
    buf.reserve(1 << 20);
    for (uint64_t i = 0; f.count == 0 || i < f.count; ++i) {
      next_ndjson(start_ns + static_cast<int64_t>(i) * *interval, &buf);
      if (buf.size() > (1 << 20) - 4096) {
        if (fwrite(buf.data(), 1, buf.size(), stdout) != buf.size()) return 1;  // e.g. EPIPE
        buf.clear();
      }
    }
    fwrite(buf.data(), 1, buf.size(), stdout);
    return fflush(stdout) == 0 ? 0 : 1;
  }

  // One sink per connection; files go through the one writer, so one connection.
  const int connections = files ? 1 : std::max(1, f.connections);
  std::atomic<uint64_t> sent{0}, rejected{0}, retries{0};
  std::function<std::unique_ptr<BatchSink>()> make_sink;
  if (files) {
    make_sink = [&] { return std::make_unique<FilesSink>(writer.get()); };
  } else if (syslog) {
    std::string host;
    uint16_t port = 0;
    Status st = ParseSyslogAddress(f.url, protocol, &host, &port);
    if (!st.ok()) return fail("--url", st.message());
    if (protocol == GenProtocol::kSyslogTcp) {
      make_sink = [&, host, port] { return std::make_unique<SyslogTcpSink>(host, port, &retries); };
    } else {
      const double udp_rate = (f.rate > 0 ? f.rate : kUdpDefaultRate) / connections;
      make_sink = [&, host, port, udp_rate] {
        return std::make_unique<SyslogUdpSink>(host, port, udp_rate, &retries);
      };
    }
  } else {
    auto url = HttpUrl::Parse(f.url);
    if (!url.ok()) return fail("--url", url.status().message());
    if (url->target == "/") {
      switch (protocol) {
        case GenProtocol::kLoki:
        case GenProtocol::kLokiProto: url->target = "/loki/api/v1/push"; break;
        case GenProtocol::kOtlp: url->target = "/v1/logs"; break;
        case GenProtocol::kEs: url->target = "/_bulk"; break;
        default: url->target = "/api/v1/logs"; break;
      }
    }
    make_sink = [&, u = *url] {
      return std::make_unique<HttpSink>(protocol, u, f.tenant, &retries);
    };
  }

  // Connections take batches in turn from one generator (under `mu`), so the lines are the same
  // whatever the number of connections.
  std::mutex mu;
  uint64_t generated = 0;  // GUARDED_BY(mu)
  std::atomic<bool> failed{false};
  const size_t batch_size = std::max<size_t>(1, f.batch);
  const auto t0 = SteadyClock::now();

  const int64_t rate_spacing_ns = f.rate > 0 ? static_cast<int64_t>(1e9 / f.rate) : 0;
  int64_t last_batch_ns = 0;  // GUARDED_BY(mu): "now" of the previous live batch
  auto next_batch = [&](Batch* batch) {
    std::lock_guard lock(mu);
    size_t n = batch_size;
    if (f.count != 0) n = static_cast<size_t>(std::min<uint64_t>(n, f.count - generated));
    if (f.rate > 0) {
      // Pace by lines handed out: line k is due at t0 + k / rate.
      auto due = t0 + std::chrono::duration_cast<SteadyClock::duration>(
                          std::chrono::duration<double>(static_cast<double>(generated) / f.rate));
      std::this_thread::sleep_until(due);
    }
    batch->lines = n;
    batch->ndjson.clear();
    batch->records.clear();
    const int64_t now = Clock::Real()->NowNanos();
    // Live lines are spread over the time the batch stands for (1/rate apart, ending now), as
    // a real fleet's would be; as fast as possible, over the time since the previous batch
    // (so lines do not share a timestamp by the thousand).
    int64_t live_spacing_ns = rate_spacing_ns;
    if (live_spacing_ns == 0 && n > 0) {
      live_spacing_ns = last_batch_ns == 0
                            ? 1000
                            : std::max<int64_t>(1, (now - last_batch_ns) / static_cast<int64_t>(n));
    }
    last_batch_ns = now;
    for (size_t i = 0; i < n; ++i) {
      const int64_t ts = live ? now - static_cast<int64_t>(n - 1 - i) * live_spacing_ns
                              : start_ns + static_cast<int64_t>(generated + i) * *interval;
      if (protocol == GenProtocol::kHttp) {
        next_ndjson(ts, &batch->ndjson);
      } else {
        next_record(ts, &batch->records);
      }
    }
    generated += n;
    return n;
  };

  auto worker = [&] {
    std::unique_ptr<BatchSink> sink = make_sink();
    Batch batch;
    while (!failed) {
      if (next_batch(&batch) == 0) return;
      Result<uint64_t> r = sink->Send(batch);
      if (!r.ok()) {
        std::cerr << "\nlode gen: " << r.status().message() << "\n";
        failed = true;
        return;
      }
      rejected += *r;
      sent += batch.lines;
    }
  };

  const bool tty = isatty(STDERR_FILENO) != 0;
  const char* verb = files ? "wrote" : "sent";
  std::vector<std::thread> threads;
  for (int i = 0; i < connections; ++i) threads.emplace_back(worker);
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    while (!done) {
      for (int i = 0; i < 10 && !done; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (done || f.quiet) continue;
      double secs = Seconds(SteadyClock::now() - t0);
      std::fprintf(
          stderr, "%slode gen: %s %llu lines (%.0f lines/s), rejected %llu, retries %llu%s",
          tty ? "\r" : "", verb, static_cast<unsigned long long>(sent.load()),
          static_cast<double>(sent.load()) / secs, static_cast<unsigned long long>(rejected.load()),
          static_cast<unsigned long long>(retries.load()), tty ? "" : "\n");
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reporter.join();
  writer.reset();  // closes the files
  double secs = Seconds(SteadyClock::now() - t0);
  if (!f.quiet) {
    std::fprintf(stderr,
                 "%slode gen: %s %llu lines in %.2f s (%.0f lines/s) over %s, rejected %llu\n",
                 tty ? "\r" : "", verb, static_cast<unsigned long long>(sent.load()), secs,
                 static_cast<double>(sent.load()) / std::max(secs, 1e-9), f.protocol.c_str(),
                 static_cast<unsigned long long>(rejected.load()));
  }
  return failed ? 1 : (rejected == 0 ? 0 : 1);
}

}  // namespace

void AddGenCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<GenFlags>();
  CLI::App* cmd = app.add_subcommand(
      "gen",
      "Simulate a fleet: NDJSON log lines to stdout, or sent to a Lode server over HTTP, Loki "
      "push, OTLP, Elasticsearch bulk or syslog, or written as Kubernetes container log files.");
  cmd->footer(
      "Protocols (--protocol; each line's service, instance, level and time travel in the "
      "protocol's own fields):\n"
      "  http        the fleet's JSON lines, NDJSON, POST /api/v1/logs (stdout without --url)\n"
      "  loki        Loki push JSON, POST /loki/api/v1/push, labels service, instance, level\n"
      "  loki-proto  the same as snappy-compressed protobuf (what Promtail sends)\n"
      "  otlp        OTLP/HTTP JSON, POST /v1/logs, resource service.name, service.instance.id\n"
      "  es          Elasticsearch bulk, POST /_bulk, create into index logs-gen, ECS documents\n"
      "  syslog-tcp  RFC 5424, octet-counted, --url HOST:PORT (or tcp://HOST:PORT)\n"
      "  syslog-udp  RFC 5424, one datagram each (at most 8 KiB), --url HOST:PORT (or\n"
      "              udp://HOST:PORT); paced at --rate, else 10000 lines/s; UDP may lose lines\n"
      "  files       Kubernetes container logs under --dir, as kubelet lays them out:\n"
      "              <ns>_<pod>_<uid>/<container>/0.log in the CRI format, rotated at\n"
      "              --rotate-bytes\n"
      "The --url path defaults to the protocol's. Syslog and files carry no tenant.\n"
      "--truth writes what Lode should make of each line as sent (time at the protocol's\n"
      "precision, level, service, instance, source, template).\n\n"
      "Examples:\n"
      "  lode gen --count 5\n"
      "  lode gen --protocol loki --url http://127.0.0.1:8080 --count 0 --rate 500\n"
      "  lode gen --protocol syslog-tcp --url 127.0.0.1:1514 --count 10000\n"
      "  lode gen --protocol files --dir /tmp/pods --count 0 --rate 200");
  cmd->add_option("--count,-n", f->count, "Lines to generate; 0 means forever")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "Random seed; the same seed gives the same lines")
      ->capture_default_str();
  cmd->add_option("--services", f->services, "Services in the fleet")->capture_default_str();
  cmd->add_option("--instances", f->instances, "Instances per service")->capture_default_str();
  cmd->add_option("--protocol,-p", f->protocol,
                  "How to deliver the lines: http, loki, loki-proto, otlp, es, syslog-tcp, "
                  "syslog-udp or files (see below)")
      ->check(CLI::IsMember(
          {"http", "loki", "loki-proto", "otlp", "es", "syslog-udp", "syslog-tcp", "files"}))
      ->capture_default_str();
  cmd->add_option("--url", f->url,
                  "Send to this server, e.g. http://127.0.0.1:8080 (the path defaults to the "
                  "protocol's), or HOST:PORT for syslog");
  cmd->add_option("--dir", f->dir, "--protocol files: the log root to write pod directories in");
  cmd->add_option("--rotate-bytes", f->rotate_bytes,
                  "--protocol files: rotate a container's 0.log larger than this; 0: never")
      ->capture_default_str();
  cmd->add_option("--rotate-keep", f->rotate_keep,
                  "--protocol files: rotated files kept per container")
      ->capture_default_str();
  cmd->add_option("--rate", f->rate, "Lines per second when sending; 0 means as fast as possible")
      ->capture_default_str();
  cmd->add_option("--batch", f->batch, "Lines per request (or per file write) when sending")
      ->capture_default_str();
  cmd->add_option("--connections,-c", f->connections,
                  "Concurrent connections when sending (files: always 1)")
      ->capture_default_str();
  cmd->add_option("--start", f->start,
                  "Event time of the first line (RFC 3339 or epoch). Default: "
                  "2024-11-14T00:00:00Z on stdout; the current time, live, when sending");
  cmd->add_option("--interval", f->interval, "Event time between lines (with a fixed start)")
      ->capture_default_str();
  cmd->add_option("--tenant", f->tenant, "X-Scope-OrgID to send (HTTP protocols)");
  cmd->add_option("--truth", f->truth,
                  "Also write each line's ground truth (time, level, service, instance, source, "
                  "template) to this TSV file");
  cmd->add_option("--format", f->format,
                  "raw: the fleet's JSON lines; normalized: one flat JSON object per line with "
                  "ts, ts_ns, level, service, instance, source, message (for loading elsewhere; "
                  "--protocol http only)")
      ->check(CLI::IsMember({"raw", "normalized"}))
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", f->quiet, "No progress line on stderr");
  cmd->callback([f, exit_code] { *exit_code = RunGen(*f); });
}

}  // namespace lode
