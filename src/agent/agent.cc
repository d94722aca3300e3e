#include "agent/agent.h"

#include <simdjson.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <random>

#include "cli/http_client.h"
#include "common/env.h"
#include "common/json_writer.h"
#include "gen/protocol_encoders.h"  // RejectedByAnswer
#include "parse/timestamp.h"

namespace lode {

namespace {

// One record as a line of POST /api/v1/logs: the fields Lode's JSON parser
// maps back to the same record (timestamp, message, level, service,
// instance, source.type), the attributes as top-level fields.
void AppendNdjson(const Record& r, std::string* out) {
  JsonWriter w(out);
  w.BeginObject();
  std::string ts;
  FormatRfc3339(r.timestamp_ns, &ts);
  w.Key("timestamp").String(ts);
  if (r.level != Level::kUnknown) w.Key("level").String(LevelName(r.level));
  if (!r.service.empty()) w.Key("service").String(r.service);
  if (!r.instance.empty()) w.Key("instance").String(r.instance);
  w.Key("source").BeginObject().Key("type").String(r.source).EndObject();
  for (const auto& a : r.attributes) w.Key(a.key).String(a.value);
  w.Key("message").String(r.message);
  w.EndObject();
  out->push_back('\n');
}

// Appends `r` as one NDJSON line, or, when its JSON would be longer than
// `max_line` (escaping can make a line of control characters six times its
// size), as several records each holding a piece of the message, tagged
// part="i/n", so the server's line limit never refuses a whole batch.
void AppendWithinLimit(Record r, size_t max_line, std::string* out) {
  const size_t mark = out->size();
  AppendNdjson(r, out);
  if (out->size() - mark <= max_line) return;
  out->resize(mark);
  const size_t piece = std::max<size_t>(1024, max_line / 8);  // ≤ 6x escaped, plus fields
  const std::string message = std::move(r.message);
  const size_t n = (message.size() + piece - 1) / piece;
  for (size_t i = 0; i < n; ++i) {
    Record p = r;
    size_t begin = i * piece, end = std::min(message.size(), begin + piece);
    // Cut on a UTF-8 character boundary.
    while (end < message.size() && (static_cast<unsigned char>(message[end]) & 0xC0) == 0x80) ++end;
    while (begin > 0 && begin < message.size() &&
           (static_cast<unsigned char>(message[begin]) & 0xC0) == 0x80) {
      ++begin;
    }
    if (begin >= end) continue;
    p.message = message.substr(begin, end - begin);
    p.attributes.push_back({"part", std::to_string(i + 1) + "/" + std::to_string(n)});
    AppendNdjson(p, out);
  }
}

std::string NewAgentId() {
  std::random_device rd;
  std::mt19937_64 rng((static_cast<uint64_t>(rd()) << 32) ^ rd());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(rng()));
  return buf;
}

}  // namespace

Result<std::unique_ptr<Agent>> Agent::Start(const AgentOptions& options) {
  std::unique_ptr<Agent> a(new Agent(options));
  Env* env = Env::Default();
  if (options.state_dir.empty())
    return Status::InvalidArgument("the agent needs a state directory");
  LODE_RETURN_IF_ERROR(env->CreateDirs(options.state_dir));

  // The agent's id names its batches to the server (Idempotency-Key); it
  // must survive restarts, or a resent batch would look new.
  const std::string id_path = options.state_dir + "/agent_id";
  if (env->FileExists(id_path)) {
    LODE_RETURN_IF_ERROR(env->ReadFile(id_path, &a->agent_id_));
    while (!a->agent_id_.empty() && std::isspace(static_cast<unsigned char>(a->agent_id_.back()))) {
      a->agent_id_.pop_back();
    }
  }
  if (a->agent_id_.empty()) {
    a->agent_id_ = NewAgentId();
    LODE_RETURN_IF_ERROR(env->WriteFileAtomic(id_path, a->agent_id_ + "\n"));
  }
  // Keys are <agent id>-<run id>-<seq>: a batch keeps the key it was spooled
  // with, and batches of this run can never collide with an earlier run's,
  // even if the positions file (and so the last sequence number) was lost.
  a->key_prefix_ = a->agent_id_ + "-" + NewAgentId().substr(0, 8) + "-";

  LODE_ASSIGN_OR_RETURN(a->spool_, Spool::Open(options.state_dir + "/spool"));
  // Resume after the newest spooled batch, else after the last acknowledged
  // one. Sequence numbers (and so Idempotency-Keys) never repeat: they go on
  // after the last acknowledged one even when the spool is empty.
  a->positions_path_ = options.state_dir + "/positions.json";
  LODE_ASSIGN_OR_RETURN(std::string checkpoint, a->spool_->NewestCheckpoint());
  if (env->FileExists(a->positions_path_)) {
    std::string text;
    LODE_RETURN_IF_ERROR(env->ReadFile(a->positions_path_, &text));
    simdjson::dom::parser parser;
    simdjson::dom::element doc, cp;
    uint64_t acked = 0;
    if (parser.parse(simdjson::padded_string(text)).get(doc) ||
        doc["acked_seq"].get_uint64().get(acked) || doc["checkpoint"].get(cp)) {
      return Status::Corruption(a->positions_path_ +
                                ": not a positions file (acked_seq, checkpoint); move it away to "
                                "read every file again from its start");
    }
    a->spool_->SetNextSeq(acked + 1);
    if (checkpoint.empty()) checkpoint = simdjson::minify(cp);
  }
  auto tailer = FileTailer::Create(options.tailer, checkpoint);
  if (!tailer.ok()) return tailer.status().WithContext("resuming from " + options.state_dir);
  a->tailer_ = std::move(*tailer);
  spdlog::info("lode agent {}: shipping to http://{}:{}{}, {} batch(es) spooled", a->agent_id_,
               options.host, options.port, options.target, a->spool_->batches());

  a->tail_thread_ = std::thread([p = a.get()] { p->TailLoop(); });
  a->send_thread_ = std::thread([p = a.get()] { p->SendLoop(); });
  return a;
}

Agent::~Agent() {
  Stop();
}

void Agent::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (tail_thread_.joinable()) tail_thread_.join();
  if (send_thread_.joinable()) send_thread_.join();
}

bool Agent::Sleep(int64_t ns) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, std::chrono::nanoseconds(ns), [this] { return stop_; });
}

bool Agent::Drain(int64_t timeout_ns) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] {
    return stop_ || (idle_ && spool_->batches() == 0);
  }) && !stop_;
}

TailerStats Agent::tailer_stats() {
  std::lock_guard lock(tailer_mu_);
  return tailer_->stats();
}

void Agent::TailLoop() {
  std::vector<Record> records;
  std::string body;
  while (true) {
    {
      // A full spool: stop reading until the sender catches up.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || spool_->bytes() < options_.spool_max_bytes; });
      if (stop_) return;
    }
    records.clear();
    std::string checkpoint;
    {
      std::lock_guard lock(tailer_mu_);
      tailer_->Poll(&records, options_.batch_records, options_.batch_bytes);
      if (!records.empty()) checkpoint = tailer_->Checkpoint();
    }
    if (records.empty()) {
      {
        std::lock_guard lock(mu_);
        idle_ = true;
      }
      cv_.notify_all();
      if (!Sleep(options_.poll_interval_ns)) return;
      continue;
    }
    body.clear();
    for (auto& r : records) AppendWithinLimit(std::move(r), options_.max_line_bytes, &body);
    Status s;
    {
      std::lock_guard lock(mu_);
      idle_ = false;
      auto seq = spool_->Push(body, records.size(), checkpoint, key_prefix_);
      s = seq.status();
    }
    if (!s.ok()) {
      // Nothing was spooled and the tailer has moved on: the only safe way
      // on is to stop, and resume from the last good checkpoint.
      spdlog::critical(
          "lode agent: cannot write the spool: {}; stopping the tail thread (restart "
          "the agent once the disk is fixed)",
          s.message());
      return;
    }
    stats_.records_spooled += records.size();
    cv_.notify_all();
  }
}

Status Agent::SavePositions(const Spool::Batch& batch) {
  std::string text = "{\"acked_seq\":" + std::to_string(batch.seq) + ",\"checkpoint\":";
  text += batch.checkpoint;
  text += "}\n";
  Status s = Env::Default()->WriteFileAtomic(positions_path_, text);
  if (!s.ok()) spdlog::error("lode agent: saving {}: {}", positions_path_, s.message());
  return s;
}

void Agent::SendLoop() {
  HttpClient client(options_.host, options_.port, options_.timeout_s);
  std::mt19937_64 rng(std::random_device{}());
  int failures = 0;
  while (true) {
    std::optional<Spool::Batch> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stop_ || spool_->batches() > 0; });
      if (stop_) return;
      auto front = spool_->Front();
      if (!front.ok()) spdlog::error("lode agent: reading the spool: {}", front.status().message());
      if (front.ok()) batch = std::move(*front);
    }
    if (!batch) {
      if (!Sleep(options_.min_backoff_ns)) return;
      continue;
    }
    std::vector<std::pair<std::string, std::string>> headers = {
        {"Content-Type", "application/x-ndjson"},
        {"Idempotency-Key",
         batch->key.empty() ? agent_id_ + "-" + std::to_string(batch->seq) : batch->key},
        {"User-Agent", "lode-agent"}};
    if (!options_.tenant.empty()) headers.emplace_back("X-Scope-OrgID", options_.tenant);
    auto res =
        client.Request(boost::beast::http::verb::post, options_.target, batch->body, headers);
    const int code = res.ok() ? res->status : 0;
    if (code == 200) {
      failures = 0;
      auto answer = RejectedByAnswer(GenProtocol::kHttp, code, res->body);
      const uint64_t rejected = answer.ok() ? *answer : 0;
      if (rejected > 0) {
        spdlog::warn("lode agent: the server refused {} line(s) of batch {}: {}", rejected,
                     batch->seq, res->body.substr(0, 500));
      }
      stats_.records_rejected += rejected;
      stats_.records_sent += batch->records - std::min(batch->records, rejected);
      ++stats_.batches_sent;
      Status s = SavePositions(*batch);
      if (!s.ok()) {
        // Keep the batch: resending it is answered from the server's memory
        // of its key, and the positions get another chance.
        if (!Sleep(options_.min_backoff_ns)) return;
        continue;
      }
      {
        std::lock_guard lock(mu_);
        s = spool_->Pop(batch->seq);
      }
      if (!s.ok())
        spdlog::error("lode agent: dropping spooled batch {}: {}", batch->seq, s.message());
      cv_.notify_all();
      continue;
    }
    const bool retry = code == 0 || code == 408 || code == 409 || code == 429 || code >= 500;
    if (!retry) {
      spdlog::error(
          "lode agent: the server refused batch {} ({} records) with HTTP {}: {}; kept "
          "in {}/spool/rejected/",
          batch->seq, batch->records, code, res->body.substr(0, 500), options_.state_dir);
      stats_.batches_rejected += 1;
      stats_.records_rejected += batch->records;
      Status s;
      {
        std::lock_guard lock(mu_);
        s = spool_->Reject(batch->seq);
      }
      if (!s.ok()) {
        spdlog::error("lode agent: {}", s.message());
        if (!Sleep(options_.max_backoff_ns)) return;
      }
      s = SavePositions(*batch);
      cv_.notify_all();
      continue;
    }
    // Exponential backoff with full jitter, at least what Retry-After asks.
    ++stats_.retries;
    int64_t cap = options_.min_backoff_ns << std::min(failures, 20);
    cap = std::min(cap, options_.max_backoff_ns);
    int64_t wait = static_cast<int64_t>(rng() % static_cast<uint64_t>(std::max<int64_t>(cap, 1)));
    wait = std::max(wait, options_.min_backoff_ns);
    if (res.ok() && !res->retry_after.empty()) {
      int64_t secs = 0;
      std::from_chars(res->retry_after.data(), res->retry_after.data() + res->retry_after.size(),
                      secs);
      wait = std::max<int64_t>(wait, std::min<int64_t>(secs, 300) * 1'000'000'000);
    }
    if (failures == 0 || failures % 10 == 0) {
      spdlog::warn("lode agent: batch {}: {} (retrying in {} ms)", batch->seq,
                   res.ok() ? "HTTP " + std::to_string(code) + " " + res->body.substr(0, 200)
                            : std::string(res.status().message()),
                   wait / 1'000'000);
    }
    ++failures;
    if (!Sleep(wait)) return;
  }
}

}  // namespace lode
