// `lode gen`: the simulated fleet, as NDJSON on stdout or posted to a server.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <atomic>
#include <iostream>
#include <mutex>
#include <memory>
#include <thread>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "common/clock.h"
#include "common/json_writer.h"
#include "gen/fleet.h"
#include "parse/duration.h"
#include "parse/timestamp.h"

namespace lode {

namespace {

struct GenFlags {
  uint64_t count = 1000;
  uint64_t seed = 1;
  int services = 12;
  int instances = 3;
  std::string url;
  double rate = 0;
  size_t batch = 1000;
  int connections = 1;
  std::string start;
  std::string interval = "10ms";
  std::string tenant;
  std::string truth;  // write the ground truth of each line here (TSV)
  std::string format = "raw";  // raw: the fleet's own JSON; normalized: the ground truth as JSON
  bool quiet = false;
};

using SteadyClock = std::chrono::steady_clock;

double Seconds(SteadyClock::duration d) { return std::chrono::duration<double>(d).count(); }

int RunGen(const GenFlags& f) {
  FleetOptions fo;
  fo.seed = f.seed;
  fo.services = f.services;
  fo.instances_per_service = f.instances;
  FleetGenerator gen(fo);

  auto interval = ParseDuration(f.interval);
  if (!interval.ok()) {
    std::cerr << "lode gen: --interval: " << interval.status().message() << "\n";
    return 2;
  }
  // Without --url and --start the timeline starts at a fixed instant so the
  // output is the same on every run; when posting live it follows the clock.
  bool live = !f.url.empty() && f.start.empty();
  int64_t start_ns = 1731542400LL * 1000000000LL;  // 2024-11-14T00:00:00Z
  if (!f.start.empty()) {
    auto t = ParseTimestamp(f.start, Clock::Real()->NowNanos());
    if (!t.ok()) {
      std::cerr << "lode gen: --start: " << t.status().message() << "\n";
      return 2;
    }
    start_ns = *t;
  }

  // Ground truth, one line per generated line, for tests and benchmarks.
  std::unique_ptr<FILE, int (*)(FILE*)> truth(nullptr, fclose);
  if (!f.truth.empty()) {
    truth.reset(std::fopen(f.truth.c_str(), "w"));
    if (!truth) {
      std::cerr << "lode gen: cannot write --truth file " << f.truth << "\n";
      return 2;
    }
    std::fputs("timestamp_ns\tlevel\tservice\tinstance\tsource\ttemplate_id\n", truth.get());
  }
  auto record_truth = [&](const GeneratedLine& g) {
    if (!truth) return;
    std::fprintf(truth.get(), "%lld\t%s\t%.*s\t%.*s\t%.*s\t%d\n",
                 static_cast<long long>(g.timestamp_ns), std::string(LevelName(g.level)).c_str(),
                 static_cast<int>(g.service.size()), g.service.data(),
                 static_cast<int>(g.instance.size()), g.instance.data(),
                 static_cast<int>(g.source.size()), g.source.data(), g.template_id);
  };

  // Appends one line (without the newline) in the chosen --format. "normalized" writes what a
  // correct parser makes of the line, flat, for loading into other systems (bench/clickhouse/):
  // {"ts":"<RFC 3339 UTC>","ts_ns":N,"level":"info","service":..,"instance":..,"source":..,
  //  "message":..}.
  const bool normalized = f.format == "normalized";
  std::string raw_line, ts_text;
  auto next_line = [&](int64_t ts, std::string* out) {
    if (!normalized) {
      record_truth(gen.Next(ts, out));
      return;
    }
    raw_line.clear();
    const GeneratedLine g = gen.Next(ts, &raw_line);
    record_truth(g);
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
  };

  if (f.url.empty()) {
    std::string buf;
    buf.reserve(1 << 20);
    for (uint64_t i = 0; f.count == 0 || i < f.count; ++i) {
      next_line(start_ns + static_cast<int64_t>(i) * *interval, &buf);
      buf.push_back('\n');
      if (buf.size() > (1 << 20) - 4096) {
        if (fwrite(buf.data(), 1, buf.size(), stdout) != buf.size()) return 1;  // e.g. EPIPE
        buf.clear();
      }
    }
    fwrite(buf.data(), 1, buf.size(), stdout);
    return fflush(stdout) == 0 ? 0 : 1;
  }

  auto url = HttpUrl::Parse(f.url);
  if (!url.ok()) {
    std::cerr << "lode gen: --url: " << url.status().message() << "\n";
    return 2;
  }
  if (url->target == "/") url->target = "/api/v1/logs";
  std::vector<std::pair<std::string, std::string>> headers = {
      {"Content-Type", "application/x-ndjson"}};
  if (!f.tenant.empty()) headers.emplace_back("X-Scope-OrgID", f.tenant);

  // Connections take batches in turn from one generator (under `mu`), so the
  // lines are the same whatever the number of connections.
  std::mutex mu;
  uint64_t generated = 0;  // GUARDED_BY(mu)
  std::atomic<uint64_t> sent{0}, rejected{0}, retries{0};
  std::atomic<bool> failed{false};
  const size_t batch = std::max<size_t>(1, f.batch);
  const auto t0 = SteadyClock::now();

  const int64_t live_spacing_ns = f.rate > 0 ? static_cast<int64_t>(1e9 / f.rate) : 0;
  auto next_batch = [&](std::string* body) -> size_t {
    std::lock_guard lock(mu);
    size_t n = batch;
    if (f.count != 0) n = static_cast<size_t>(std::min<uint64_t>(n, f.count - generated));
    if (f.rate > 0) {
      // Pace by lines handed out: line k is due at t0 + k / rate.
      auto due = t0 + std::chrono::duration_cast<SteadyClock::duration>(
                          std::chrono::duration<double>(static_cast<double>(generated) / f.rate));
      std::this_thread::sleep_until(due);
    }
    body->clear();
    int64_t now = Clock::Real()->NowNanos();
    for (size_t i = 0; i < n; ++i) {
      // Live lines are spread over the time the batch stands for (1/rate
      // apart, ending now), as a real fleet's would be.
      int64_t ts = live ? now - static_cast<int64_t>(n - 1 - i) * live_spacing_ns
                        : start_ns + static_cast<int64_t>(generated + i) * *interval;
      next_line(ts, body);
      body->push_back('\n');
    }
    generated += n;
    return n;
  };

  auto worker = [&] {
    HttpClient client(url->host, url->port);
    std::string body;
    while (!failed) {
      size_t n = next_batch(&body);
      if (n == 0) return;
      // Retry until stored: 429/503 mean "later", connection errors mean the
      // server is restarting.
      for (int attempt = 0;; ++attempt) {
        auto res = client.Request(boost::beast::http::verb::post, url->target, body, headers);
        if (res.ok() && res->status == 200) {
          // {"accepted":N,"rejected":M,...}: count what the server refused.
          auto pos = res->body.find("\"rejected\":");
          if (pos != std::string::npos) {
            rejected += std::strtoull(res->body.c_str() + pos + 11, nullptr, 10);
          }
          break;
        }
        bool retry = !res.ok() || res->status == 429 || res->status == 503;
        if (!retry || attempt > 600) {
          std::cerr << "\nlode gen: "
                    << (retry ? "giving up after 600 attempts"
                              : "server answered " + std::to_string(res->status) + ": " +
                                    res->body)
                    << "\n";
          failed = true;
          return;
        }
        if (attempt == 0 || attempt % 10 == 0) {
          spdlog::warn("lode gen: {} (retrying)",
                       res.ok() ? "server busy: HTTP " + std::to_string(res->status)
                                : std::string(res.status().message()));
        }
        ++retries;
        std::this_thread::sleep_for(std::chrono::milliseconds(std::min(100 * (attempt + 1), 1000)));
      }
      sent += n;
    }
  };

  const bool tty = isatty(STDERR_FILENO) != 0;
  std::vector<std::thread> threads;
  for (int i = 0; i < std::max(1, f.connections); ++i) threads.emplace_back(worker);
  std::atomic<bool> done{false};
  std::thread reporter([&] {
    while (!done) {
      for (int i = 0; i < 10 && !done; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      if (done || f.quiet) continue;
      double secs = Seconds(SteadyClock::now() - t0);
      std::fprintf(stderr, "%slode gen: sent %llu lines (%.0f lines/s), rejected %llu, retries %llu%s",
                   tty ? "\r" : "", static_cast<unsigned long long>(sent.load()),
                   static_cast<double>(sent.load()) / secs,
                   static_cast<unsigned long long>(rejected.load()),
                   static_cast<unsigned long long>(retries.load()), tty ? "" : "\n");
    }
  });
  for (auto& t : threads) t.join();
  done = true;
  reporter.join();
  double secs = Seconds(SteadyClock::now() - t0);
  if (!f.quiet) {
    std::fprintf(stderr, "%slode gen: sent %llu lines in %.2f s (%.0f lines/s), rejected %llu\n",
                 tty ? "\r" : "", static_cast<unsigned long long>(sent.load()), secs,
                 static_cast<double>(sent.load()) / std::max(secs, 1e-9),
                 static_cast<unsigned long long>(rejected.load()));
  }
  return failed ? 1 : (rejected == 0 ? 0 : 1);
}

}  // namespace

void AddGenCommand(CLI::App& app, int* exit_code) {
  auto f = std::make_shared<GenFlags>();
  CLI::App* cmd = app.add_subcommand(
      "gen", "Simulate a fleet: NDJSON log lines to stdout, or posted to a Lode server.");
  cmd->add_option("--count,-n", f->count, "Lines to generate; 0 means forever")
      ->capture_default_str();
  cmd->add_option("--seed", f->seed, "Random seed; the same seed gives the same lines")
      ->capture_default_str();
  cmd->add_option("--services", f->services, "Services in the fleet")->capture_default_str();
  cmd->add_option("--instances", f->instances, "Instances per service")->capture_default_str();
  cmd->add_option("--url", f->url,
                  "Post to this server, e.g. http://127.0.0.1:8080 (path /api/v1/logs)");
  cmd->add_option("--rate", f->rate, "Lines per second when posting; 0 means as fast as possible")
      ->capture_default_str();
  cmd->add_option("--batch", f->batch, "Lines per request when posting")->capture_default_str();
  cmd->add_option("--connections,-c", f->connections, "Concurrent connections when posting")
      ->capture_default_str();
  cmd->add_option("--start", f->start,
                  "Event time of the first line (RFC 3339 or epoch). Default: "
                  "2024-11-14T00:00:00Z on stdout; the current time, live, with --url");
  cmd->add_option("--interval", f->interval, "Event time between lines (with a fixed start)")
      ->capture_default_str();
  cmd->add_option("--tenant", f->tenant, "X-Scope-OrgID to send");
  cmd->add_option("--truth", f->truth,
                  "Also write each line's ground truth (time, level, service, instance, source, "
                  "template) to this TSV file");
  cmd->add_option("--format", f->format,
                  "raw: the fleet's JSON lines; normalized: one flat JSON object per line with "
                  "ts, ts_ns, level, service, instance, source, message (for loading elsewhere)")
      ->check(CLI::IsMember({"raw", "normalized"}))
      ->capture_default_str();
  cmd->add_flag("--quiet,-q", f->quiet, "No progress line on stderr");
  cmd->callback([f, exit_code] { *exit_code = RunGen(*f); });
}

}  // namespace lode
