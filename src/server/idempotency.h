// IdempotencyCache: remembers the answers to ingest requests that carried an
// Idempotency-Key header (the IETF httpapi draft), so a client that sends the
// same batch again — its first answer was lost, or it was killed before it
// read it, as `lode agent` may be — gets the first answer back instead of
// storing the records twice.
//
// Only successful answers are kept (a failed request stored nothing, so its
// retry must run). Keys live `ttl` and at most `max_keys` are kept, oldest
// evicted first; they are in memory only, so a server restart forgets them
// (docs/FILES.md says what that means for the agent). Thread-safe.
#pragma once

#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/clock.h"

namespace lode {

class IdempotencyCache {
 public:
  struct Options {
    size_t max_keys = 100000;
    int64_t ttl_ns = 3'600'000'000'000;  // 1h
    Clock* clock = Clock::Real();
  };
  enum class State { kNew, kInProgress, kDone, kMismatch };
  struct Outcome {
    State state = State::kNew;
    int status = 0;    // kDone: the first answer's status
    std::string body;  // and body
  };

  explicit IdempotencyCache(const Options& options) : options_(options) {}

  // kNew claims `key` for the caller, who must then call Finish or Abandon;
  // otherwise the state of the request that holds it. `body_hash` (e.g. a
  // CRC of the request body) tells a true repeat from a different request
  // reusing the key: that is kMismatch.
  Outcome Begin(const std::string& key, uint32_t body_hash = 0);
  // Stores the successful answer for `key`.
  void Finish(const std::string& key, int status, std::string body);
  // Forgets `key` (the request failed; a retry must run again).
  void Abandon(const std::string& key);

 private:
  struct Entry {
    bool done = false;
    uint32_t body_hash = 0;
    int status = 0;
    std::string body;
    int64_t at_ns = 0;
  };
  void Expire(int64_t now_ns);  // REQUIRES: mu_ held

  Options options_;
  std::mutex mu_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::pair<int64_t, std::string>> order_;  // (time finished, key), oldest first
};

}  // namespace lode
