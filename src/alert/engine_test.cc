#include "alert/engine.h"

#include <gtest/gtest.h>

#include "common/test_util.h"

namespace lode {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kT0 = 1'767'225'600LL * kSec;  // 2026-01-01T00:00:00Z

Record Rec(std::string service, Level level, std::string message, int64_t ts) {
  Record r;
  r.tenant = "default";
  r.service = std::move(service);
  r.level = level;
  r.message = std::move(message);
  r.timestamp_ns = ts;
  r.observed_ns = ts;
  return r;
}

class AlertEngineTest : public ::testing::Test {
 protected:
  AlertEngineTest() : clock_(kT0) {}

  std::unique_ptr<AlertEngine> Make(const std::string& yaml, std::string state_path = "") {
    auto rules = ParseRules(yaml, "rules.yaml");
    EXPECT_TRUE(rules.ok()) << rules.status().ToString();
    AlertEngine::Options o;
    o.clock = &clock_;
    o.state_path = std::move(state_path);
    o.out_of_order_ns = 30 * kSec;
    auto e = AlertEngine::Create(std::move(*rules), o, [this](std::vector<Notification> n) {
      for (auto& x : n) sent_.push_back(std::move(x));
    });
    EXPECT_TRUE(e.ok()) << e.status().ToString();
    return std::move(*e);
  }

  void Feed(AlertEngine* e, std::vector<Record> records) {
    RecordBatch b;
    b.tenant = "default";
    b.records = std::move(records);
    RecordBatch* p = &b;
    e->Observe(std::span<RecordBatch* const>(&p, 1));
  }

  void Errors(AlertEngine* e, const std::string& service, int n, int64_t ts) {
    std::vector<Record> rs;
    for (int i = 0; i < n; ++i) rs.push_back(Rec(service, Level::kError, "db timeout", ts));
    Feed(e, std::move(rs));
  }

  ManualClock clock_;
  std::vector<Notification> sent_;
};

constexpr char kBurst[] = R"(rules:
  - name: ErrorBurst
    type: threshold
    query: '{level="error"} |= "timeout"'
    by: [service]
    window: 1m
    condition: "> 5"
    for: 10s
    labels: {severity: page}
    annotations:
      summary: '{{ $labels.service }} logged {{ $value }} timeouts in 1m'
)";

TEST_F(AlertEngineTest, ThresholdGoesPendingThenFiringThenResolved) {
  auto e = Make(kBurst);
  Errors(e.get(), "checkout", 6, kT0);
  Errors(e.get(), "cart", 2, kT0);
  e->Evaluate();
  EXPECT_TRUE(sent_.empty());  // pending: `for` has not passed
  ASSERT_EQ(e->Alerts().size(), 1u);
  EXPECT_EQ(e->Alerts()[0].state, AlertState::kPending);

  clock_.Advance(10 * kSec);
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  const Notification n = sent_[0];  // a copy: sent_ grows below
  EXPECT_EQ(n.state, Notification::State::kFiring);
  EXPECT_EQ(n.labels.at("alertname"), "ErrorBurst");
  EXPECT_EQ(n.labels.at("service"), "checkout");
  EXPECT_EQ(n.labels.at("severity"), "page");
  EXPECT_EQ(n.annotations.at("summary"), "checkout logged 6 timeouts in 1m");
  EXPECT_EQ(n.value, 6);
  EXPECT_EQ(n.starts_at_ns, kT0 + 10 * kSec);
  EXPECT_NE(n.generator_url.find("query_range?query=%7Blevel"), std::string::npos);

  // No repeat before repeat_interval; resolved once the burst leaves the window.
  clock_.Advance(20 * kSec);
  e->Evaluate();
  EXPECT_EQ(sent_.size(), 1u);
  clock_.Advance(40 * kSec);
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].state, Notification::State::kResolved);
  EXPECT_EQ(sent_[1].ends_at_ns, kT0 + 70 * kSec);
  EXPECT_EQ(sent_[1].fingerprint, n.fingerprint);
  EXPECT_TRUE(e->Alerts().empty());
}

TEST_F(AlertEngineTest, PendingThatDropsBelowNeverFires) {
  auto e = Make(kBurst);
  Errors(e.get(), "checkout", 6, kT0);
  e->Evaluate();
  clock_.Advance(61 * kSec);  // the burst left the window before `for` passed
  e->Evaluate();
  EXPECT_TRUE(sent_.empty());
  EXPECT_TRUE(e->Alerts().empty());
}

TEST_F(AlertEngineTest, OutOfOrderWithinToleranceCountsLateDropped) {
  auto e = Make(R"(rules:
  - name: Burst
    query: '{level="error"}'
    window: 1m
    condition: ">= 3"
)");
  clock_.Advance(100 * kSec);
  // Two in the window though they arrive late; one older than window + 30s tolerance.
  Errors(e.get(), "a", 2, kT0 + 50 * kSec);
  Errors(e.get(), "a", 1, kT0 + 5 * kSec);
  e->Evaluate();
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(e->Rules()[0].late, 1u);
  Errors(e.get(), "a", 1, kT0 + 200 * kSec);  // from the future: counts as now
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].value, 3);
}

TEST_F(AlertEngineTest, RateComparesPerSecond) {
  auto e = Make(R"(rules:
  - name: Fast
    query: '{}'
    window: 10s
    rate: true
    condition: "> 2"
)");
  Errors(e.get(), "a", 20, kT0);  // 2/s: not above 2
  e->Evaluate();
  EXPECT_TRUE(sent_.empty());
  Errors(e.get(), "a", 1, kT0);
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_DOUBLE_EQ(sent_[0].value, 2.1);
}

TEST_F(AlertEngineTest, PatternFiresAtOnceWithTheLineAndResolvesLater) {
  auto e = Make(R"(rules:
  - name: CardDeclined
    type: pattern
    query: '{service="billing"} |= "card declined"'
    resolve_after: 1m
    annotations: {summary: 'declined: {{ $value }}'}
)");
  Feed(e.get(), {Rec("billing", Level::kInfo, "charge 7: card declined", kT0),
                 Rec("billing", Level::kInfo, "charge 8: ok", kT0),
                 Rec("cart", Level::kInfo, "card declined", kT0)});
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].sample, "charge 7: card declined");
  clock_.Advance(30 * kSec);
  Feed(e.get(), {Rec("billing", Level::kInfo, "charge 9: card declined", kT0)});
  e->Evaluate();
  EXPECT_EQ(sent_.size(), 1u);  // still the same alert
  clock_.Advance(61 * kSec);
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].state, Notification::State::kResolved);
}

TEST_F(AlertEngineTest, AbsenceFiresWhenAGroupGoesSilent) {
  auto e = Make(R"(rules:
  - name: Silent
    type: absence
    query: '{}'
    by: [service]
    for: 2m
)");
  Feed(e.get(), {Rec("a", Level::kInfo, "x", kT0), Rec("b", Level::kInfo, "x", kT0)});
  clock_.Advance(90 * kSec);
  Feed(e.get(), {Rec("b", Level::kInfo, "x", kT0)});
  e->Evaluate();
  EXPECT_TRUE(sent_.empty());
  clock_.Advance(31 * kSec);
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].labels.at("service"), "a");
  Feed(e.get(), {Rec("a", Level::kInfo, "back", kT0)});
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].state, Notification::State::kResolved);
}

TEST_F(AlertEngineTest, NewPatternFiresOncePerTemplateAndLeavesOtherRulesAlone) {
  PatternIndex::Options po;
  po.miner.warmup_ns = 10 * kSec;
  PatternIndex patterns(po);
  auto rules = ParseRules(R"(rules:
  - name: NewTemplate
    type: new_pattern
    query: '{}'
  - name: AnyLine
    query: '{}'
    condition: ">= 1"
)",
                          "r");
  ASSERT_TRUE(rules.ok());
  AlertEngine::Options o;
  o.clock = &clock_;
  o.patterns = &patterns;
  auto e = AlertEngine::Create(std::move(*rules), o, [this](std::vector<Notification> n) {
    for (auto& x : n) sent_.push_back(std::move(x));
  });
  ASSERT_TRUE(e.ok());
  auto feed = [&](std::vector<Record> records) {
    RecordBatch b;
    b.tenant = "default";
    b.records = std::move(records);
    patterns.Assign(&b);
    RecordBatch* p = &b;
    (*e)->Observe(std::span<RecordBatch* const>(&p, 1));
  };
  // During warm-up the template of logins is learnt.
  feed({Rec("auth", Level::kInfo, "login from 10.0.0.1 took 12 ms", kT0),
        Rec("auth", Level::kInfo, "login from 10.0.0.2 took 7 ms", kT0 + kSec)});
  feed({Rec("auth", Level::kInfo, "login from 10.0.0.4 took 31 ms", kT0 + 20 * kSec),
        Rec("auth", Level::kError, "disk full on volume 7", kT0 + 20 * kSec),
        Rec("auth", Level::kError, "disk full on volume 9", kT0 + 21 * kSec)});
  (*e)->Evaluate();
  std::vector<Notification> fresh;
  for (const auto& n : sent_) {
    if (n.rule == "NewTemplate") fresh.push_back(n);
  }
  ASSERT_EQ(fresh.size(), 1u);  // one template, alerted once
  EXPECT_EQ(fresh[0].sample, "disk full on volume 7");
  EXPECT_TRUE(fresh[0].labels.count("pattern_id"));
  for (const auto& a : (*e)->Alerts()) {
    if (a.rule == "AnyLine") {
      EXPECT_FALSE(a.labels.count("pattern_id"));  // no group cross-talk
    }
  }
}

TEST_F(AlertEngineTest, RepeatInterval) {
  auto rules = ParseRules(R"(rules:
  - name: Any
    type: pattern
    query: '{}'
    resolve_after: 1h
)",
                          "r");
  ASSERT_TRUE(rules.ok());
  AlertEngine::Options o;
  o.clock = &clock_;
  o.repeat_interval_ns = 60 * kSec;
  auto e = AlertEngine::Create(std::move(*rules), o, [this](std::vector<Notification> n) {
    for (auto& x : n) sent_.push_back(std::move(x));
  });
  ASSERT_TRUE(e.ok());
  Feed(e->get(), {Rec("a", Level::kInfo, "x", kT0)});
  (*e)->Evaluate();
  clock_.Advance(30 * kSec);
  (*e)->Evaluate();
  EXPECT_EQ(sent_.size(), 1u);
  clock_.Advance(30 * kSec);
  (*e)->Evaluate();
  EXPECT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].state, Notification::State::kFiring);
}

TEST_F(AlertEngineTest, FiringAlertsAreRefreshedForReceiversThatExpireThem) {
  auto e = Make(R"(rules:
  - name: Any
    type: pattern
    query: '{}'
    resolve_after: 1h
)");
  Feed(e.get(), {Rec("a", Level::kInfo, "x", kT0)});
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_FALSE(sent_[0].refresh);
  clock_.Advance(59 * kSec);
  e->Evaluate();
  EXPECT_EQ(sent_.size(), 1u);
  clock_.Advance(1 * kSec);  // refresh_interval (1m) after the first notification
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_TRUE(sent_[1].refresh);
  EXPECT_EQ(sent_[1].state, Notification::State::kFiring);
  EXPECT_EQ(sent_[1].starts_at_ns, kT0);
}

TEST_F(AlertEngineTest, RestartDoesNotPageAgain) {
  TempDir tmp;
  const std::string state = tmp.path() + "/alerts.json";
  {
    auto e = Make(kBurst, state);
    Errors(e.get(), "checkout", 6, kT0);
    e->Evaluate();
    clock_.Advance(10 * kSec);
    e->Evaluate();
    ASSERT_EQ(sent_.size(), 1u);
  }
  clock_.Advance(5 * kSec);
  auto e = Make(kBurst, state);  // the window's counts are gone with the process
  e->Evaluate();
  // Neither a new firing nor a resolution: only a refresh for receivers that
  // expire alerts (not for people).
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_TRUE(sent_[1].refresh);
  ASSERT_EQ(e->Alerts().size(), 1u);
  EXPECT_EQ(e->Alerts()[0].state, AlertState::kFiring);
  EXPECT_EQ(e->Alerts()[0].active_since_ns, kT0 + 10 * kSec);
  clock_.Advance(61 * kSec);  // a whole window of new data without the burst
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].state, Notification::State::kResolved);
}

TEST_F(AlertEngineTest, ReloadKeepsUnchangedRulesAndResolvesRemovedOnes) {
  auto e = Make(R"(rules:
  - name: A
    type: pattern
    query: '{service="a"}'
  - name: B
    type: pattern
    query: '{service="b"}'
)");
  Feed(e.get(), {Rec("a", Level::kInfo, "x", kT0), Rec("b", Level::kInfo, "x", kT0)});
  e->Evaluate();
  ASSERT_EQ(sent_.size(), 2u);
  auto rules = ParseRules(R"(rules:
  - name: A
    type: pattern
    query: '{service="a"}'
)",
                          "r");
  ASSERT_TRUE(rules.ok());
  ASSERT_TRUE(e->Reload(std::move(*rules)).ok());
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].rule, "B");
  EXPECT_EQ(sent_[2].state, Notification::State::kResolved);
  ASSERT_EQ(e->Alerts().size(), 1u);
  EXPECT_EQ(e->Alerts()[0].rule, "A");
}

TEST_F(AlertEngineTest, GroupsAreBounded) {
  auto rules = ParseRules(R"(rules:
  - name: Any
    type: pattern
    query: '{}'
    by: [service]
)",
                          "r");
  ASSERT_TRUE(rules.ok());
  AlertEngine::Options o;
  o.clock = &clock_;
  o.max_groups_per_rule = 3;
  auto e = AlertEngine::Create(std::move(*rules), o, nullptr);
  ASSERT_TRUE(e.ok());
  std::vector<Record> rs;
  for (int i = 0; i < 10; ++i) rs.push_back(Rec("s" + std::to_string(i), Level::kInfo, "x", kT0));
  Feed(e->get(), std::move(rs));
  EXPECT_EQ((*e)->Rules()[0].groups, 3u);
}

TEST(RecordMatcherTest, SelectorFiltersParsersAndLabels) {
  Record r = Rec("checkout", Level::kError, "level=error msg=\"db timeout\" latency_ms=1500", kT0);
  r.attributes.push_back({"k8s.namespace", "prod"});
  struct Case {
    const char* query;
    bool match;
  };
  const Case cases[] = {
      {R"({service="checkout"})", true},
      {R"({service_name="checkout", level="error"})", true},
      {R"({service="cart"})", false},
      {R"({service=~"check.*"})", true},
      {R"({} |= "timeout")", true},
      {R"({} |= "timeout" != "db")", false},
      {R"({} |= "nope")", false},
      {R"({} | logfmt | latency_ms > 1000)", true},
      {R"({} | logfmt | latency_ms > 2000)", false},
      {R"({} | k8s_namespace = "prod")", true},
      {R"({level="info"})", false},
  };
  for (const Case& c : cases) {
    auto m = logql::RecordMatcher::Make(c.query);
    ASSERT_TRUE(m.ok()) << c.query << ": " << m.status().ToString();
    std::vector<std::string> values;
    EXPECT_EQ(m->Match(r, {}, &values), c.match) << c.query;
  }
  auto m = logql::RecordMatcher::Make(R"({level="error"} | logfmt)");
  ASSERT_TRUE(m.ok());
  std::vector<std::string> values;
  ASSERT_TRUE(m->Match(r, {"service", "k8s_namespace", "latency_ms", "missing"}, &values));
  EXPECT_EQ(values, (std::vector<std::string>{"checkout", "prod", "1500", ""}));
  // The fast path (selector and line filters only) gives stream labels the same way.
  m = logql::RecordMatcher::Make(R"({level="error"} |= "db")");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(m->Match(r, {"service", "level"}, &values));
  EXPECT_EQ(values, (std::vector<std::string>{"checkout", "error"}));
  EXPECT_FALSE(logql::RecordMatcher::Make("count_over_time({}[1m])").ok());
}

TEST(AlertTemplateTest, Expands) {
  std::map<std::string, std::string> labels = {{"service", "checkout"}, {"level", "error"}};
  EXPECT_EQ(ExpandAlertTemplate("{{ $labels.service }}: {{$value}} ({{ $labels }}) {{ .x }}",
                                labels, 2.5),
            "checkout: 2.5 ({level=\"error\", service=\"checkout\"}) {{ .x }}");
  EXPECT_EQ(ExpandAlertTemplate("{{ $labels.missing }}|{{ unclosed", labels, 1), "|{{ unclosed");
}

TEST(AlertRulesTest, ErrorsNameFileLineAndKey) {
  struct Case {
    const char* yaml;
    const char* message;
  };
  const Case cases[] = {
      {"rules:\n  - name: A\n    query: '{'\n    condition: '> 1'\n",
       "r.yaml:2: rule \"A\": line 3: query: "},
      {"rules:\n  - name: A\n    query: '{}'\n    condition: 'about 5'\n",
       "r.yaml:2: rule \"A\": line 4: condition: expected >, >=, < or <= and a number, got \"about "
       "5\""},
      {"rules:\n  - name: A\n    query: '{}'\n",
       "r.yaml:2: rule \"A\": condition: missing (e.g. \"> 50\")"},
      {"rules:\n  - name: A\n    type: absence\n    query: '{}'\n",
       "r.yaml:2: rule \"A\": for: missing (how long a group must be silent)"},
      {"rules:\n  - name: A\n    type: sometimes\n    query: '{}'\n",
       "r.yaml:2: rule \"A\": line 3: type: unknown type \"sometimes\" (threshold, pattern, "
       "absence, "
       "new_pattern)"},
      {"rules:\n  - name: A\n    query: '{}'\n    windw: 1m\n",
       "r.yaml:2: rule \"A\": line 4: windw: unknown key (name, type, tenant, query, by, window, "
       "condition, rate, for, resolve_after, labels, annotations)"},
      {"rules:\n  - {name: A, type: pattern, query: '{}'}\n  - {name: A, type: pattern, query: "
       "'{}'}\n",
       "r.yaml:3: rule \"A\": name: another rule of tenant \"default\" has this name"},
      {"alerts: []\n", "r.yaml: expected a mapping with a \"rules\" list"},
  };
  for (const Case& c : cases) {
    auto r = ParseRules(c.yaml, "r.yaml");
    ASSERT_FALSE(r.ok()) << c.yaml;
    EXPECT_TRUE(r.status().message().starts_with(c.message)) << c.yaml << "\n"
                                                             << r.status().message();
  }
}

}  // namespace
}  // namespace lode
