// Notification: what the alert engine tells the world when an alert starts
// firing, repeats, or resolves. Notifiers (notifier.h) deliver it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace lode {

struct Notification {
  enum class State { kFiring, kResolved };
  State state = State::kFiring;
  std::string rule;                           // the rule's name
  std::map<std::string, std::string> labels;  // alertname, the rule's labels, the group's labels
  std::map<std::string, std::string> annotations;  // templates already expanded
  double value = 0;           // the value that crossed the threshold (count, rate, seconds silent)
  int64_t starts_at_ns = 0;   // when the alert started firing
  int64_t ends_at_ns = 0;     // resolved: when; firing: 0 (unknown)
  std::string generator_url;  // a link to the query behind the alert
  std::string sample;         // pattern rules: the line that matched
  std::string fingerprint;    // stable id of (rule, group): hex
  // A firing alert sent again only to keep it alive in a receiver that
  // expires alerts (Alertmanager's resolve_timeout); notifiers that tell
  // people, not systems, skip it.
  bool refresh = false;
};

}  // namespace lode
