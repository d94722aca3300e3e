// Agent: `lode agent`, a light shipper. It tails files (FileTailer) and
// forwards their records to a Lode server's POST /api/v1/logs.
//
//   tail thread:  poll → NDJSON batch → spool (on disk, with the checkpoint)
//   send thread:  oldest spooled batch → server; on 200 save the batch's
//                 checkpoint as the positions file, then drop the batch
//
// While the server is unreachable or busy (connection errors, 408, 409, 429,
// 5xx) the sender retries the same batch with exponential backoff and jitter
// (honouring Retry-After) and the spool grows, up to spool_max_bytes; past
// that the tail thread stops reading, and the files themselves wait.
// Each request carries Idempotency-Key <agent id>-<seq>, so a batch the
// server stored but whose answer was lost (or whose agent was killed) is not
// stored twice when it is sent again. A 4xx other than those is final: the
// batch is moved to spool/rejected/ and reported.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "agent/spool.h"
#include "common/status.h"
#include "tail/file_tailer.h"

namespace lode {

struct AgentOptions {
  TailerOptions tailer;
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string target = "/api/v1/logs";
  std::string tenant;     // X-Scope-OrgID; empty: none sent
  std::string state_dir;  // positions.json, agent_id, spool/
  size_t batch_records = 5000;
  size_t batch_bytes = 1 << 20;
  int64_t poll_interval_ns = 250'000'000;
  uint64_t spool_max_bytes = 1ull << 30;
  int64_t min_backoff_ns = 100'000'000;
  int64_t max_backoff_ns = 30'000'000'000;
  int timeout_s = 30;
  size_t max_line_bytes = 1 << 20;  // the server's http.max_line_bytes: longer records are split
  // Called (from the tail thread) when the agent cannot go on, e.g. the
  // spool cannot be written; `lode agent` then exits non-zero.
  std::function<void()> on_fatal;
};

struct AgentStats {
  std::atomic<uint64_t> records_spooled{0};
  std::atomic<uint64_t> records_sent{0};
  std::atomic<uint64_t> records_rejected{0};  // lines the server refused (reported in its answer)
  std::atomic<uint64_t> batches_sent{0};
  std::atomic<uint64_t> batches_rejected{0};
  std::atomic<uint64_t> retries{0};
};

class Agent {
 public:
  // Opens the state directory, reads the checkpoint to resume from, starts
  // both threads.
  static Result<std::unique_ptr<Agent>> Start(const AgentOptions& options);
  ~Agent();
  // Stops both threads. Spooled batches stay for the next start. Idempotent.
  void Stop();
  // Waits until everything read so far is acknowledged, or `timeout_ns`
  // passes; true when drained.
  bool Drain(int64_t timeout_ns);

  const AgentStats& stats() const { return stats_; }
  bool failed() const { return failed_; }
  TailerStats tailer_stats();

 private:
  explicit Agent(const AgentOptions& options) : options_(options) {}
  void TailLoop();
  void SendLoop();
  // Writes positions.json: the last acknowledged batch's seq and checkpoint.
  Status SavePositions(const Spool::Batch& batch);
  // Sleeps up to `ns`; false when stopping.
  bool Sleep(int64_t ns);

  AgentOptions options_;
  std::string agent_id_;
  std::string key_prefix_;  // "<agent id>-<run id>-"
  std::atomic<bool> failed_{false};
  std::string positions_path_;
  std::unique_ptr<FileTailer> tailer_;  // the tail thread's
  std::mutex tailer_mu_;                // for tailer_stats()

  std::mutex mu_;
  std::condition_variable cv_;
  std::unique_ptr<Spool> spool_;  // GUARDED_BY(mu_)
  bool stop_ = false;             // GUARDED_BY(mu_)
  bool idle_ = false;             // GUARDED_BY(mu_): the last poll found nothing new
  AgentStats stats_;
  std::thread tail_thread_, send_thread_;
};

}  // namespace lode
