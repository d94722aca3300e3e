// AlertEngine: evaluates alert rules (rules.h) on the stream of records as
// the store makes them durable — not by querying storage — and hands
// notifications to a sink (the notifier dispatcher) without ever blocking
// the writer that feeds it.
//
// Observe() runs on the storage writer thread for every durable batch: it
// matches each record against each rule of its tenant (a compiled LogQL log
// query) and counts it into the rule's group (the values of the rule's `by`
// labels). Counting is all it does; Evaluate() (the engine's own thread,
// every eval_interval, and at once when a pattern rule matched) turns
// counts into states and notifications.
//
// Windows are bucketed: a threshold rule's group keeps one counter per
// window/60 of event time, so memory per group is bounded and the count
// over the window is exact to a bucket. Records arrive out of order: one
// whose event time is older than window + out_of_order is not counted (and
// is counted as late), one from the future counts as now.
//
// States per group: inactive → pending (condition true, waiting `for`) →
// firing (notified; repeated every repeat_interval) → resolved (notified)
// → inactive. Firing alerts are saved to state_path at every change, so a
// restart resumes them without paging again; a restored alert is not
// resolved before one window (or `for`) of new data has been seen.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "alert/notification.h"
#include "alert/rules.h"
#include "common/clock.h"
#include "common/record.h"
#include "pattern/pattern_index.h"
#include "query/logql_engine.h"

namespace lode {

enum class AlertState { kInactive, kPending, kFiring };
std::string_view AlertStateName(AlertState s);

// One group of one rule, as /api/v1/alerts shows it.
struct AlertView {
  std::string rule;
  std::string tenant;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  AlertState state = AlertState::kInactive;
  double value = 0;
  int64_t active_since_ns = 0;  // pending or firing since
  std::string sample;
};

struct RuleView {
  AlertRule rule;
  size_t groups = 0;
  size_t firing = 0;
  size_t pending = 0;
  uint64_t matched = 0;  // records that matched since the rule was loaded
  uint64_t late = 0;     // matched but too old for the window
};

class AlertEngine {
 public:
  struct Options {
    Clock* clock = Clock::Real();
    int64_t eval_interval_ns = 500'000'000;
    int64_t repeat_interval_ns = 4 * 3'600'000'000'000;
    // Firing alerts are sent again as `refresh` notifications this often
    // (Alertmanager forgets an alert resolve_timeout, 5m, after its last post).
    int64_t refresh_interval_ns = 60'000'000'000;
    int64_t out_of_order_ns = 60'000'000'000;
    size_t max_groups_per_rule = 10000;
    std::string state_path;                              // "" keeps states in memory only
    std::string external_url = "http://127.0.0.1:8080";  // for generatorURL
    const PatternIndex* patterns = nullptr;              // for new_pattern rules
  };
  using Sink = std::function<void(std::vector<Notification>)>;

  // Compiles the rules and reads the saved states. The sink is called from
  // the evaluation thread (or Evaluate's caller) and must not block.
  static Result<std::unique_ptr<AlertEngine>> Create(std::vector<AlertRule> rules,
                                                     const Options& options, Sink sink);
  ~AlertEngine();

  // Starts / stops the evaluation thread. Stop is idempotent.
  void Start();
  void Stop();

  // Counts the batches' records into the rules. Thread-safe; never blocks on
  // notification delivery.
  void Observe(std::span<RecordBatch* const> batches);
  // Updates states and sends notifications (the thread calls it; tests too).
  void Evaluate();

  // Replaces the rules. A rule whose definition is unchanged keeps its state
  // and counts; alerts of removed or changed rules are resolved.
  Status Reload(std::vector<AlertRule> rules);

  std::vector<RuleView> Rules() const;
  std::vector<AlertView> Alerts() const;  // pending and firing groups

 private:
  struct Group;
  struct RuleState;
  AlertEngine(const Options& options, Sink sink);

  Status Compile(std::vector<AlertRule> rules, std::vector<std::unique_ptr<RuleState>>* out);
  void EvaluateRule(RuleState& rs, int64_t now, std::vector<Notification>* out, bool* changed);
  Notification MakeNotification(const RuleState& rs, const Group& g, bool firing,
                                int64_t now) const;
  void SaveStates();  // REQUIRES: mu_ held
  void LoadStates();

  Options options_;
  Sink sink_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<RuleState>> rules_;                // GUARDED_BY(mu_)
  std::map<std::string, std::pair<int64_t, int64_t>> restored_;  // fingerprint → (since, sent)
  int64_t started_ns_ = 0;
  std::condition_variable cv_;
  bool stop_ = false;    // GUARDED_BY(mu_)
  bool urgent_ = false;  // GUARDED_BY(mu_): a pattern rule matched; evaluate now
  std::thread thread_;
};

// Expands {{ $value }}, {{ $labels.NAME }} and {{ $labels }} in `text`.
std::string ExpandAlertTemplate(std::string_view text,
                                const std::map<std::string, std::string>& labels, double value);

}  // namespace lode
