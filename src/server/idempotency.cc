#include "server/idempotency.h"

namespace lode {

void IdempotencyCache::Expire(int64_t now_ns) {
  while (!order_.empty() &&
         (order_.size() > options_.max_keys || now_ns - order_.front().first > options_.ttl_ns)) {
    auto it = entries_.find(order_.front().second);
    // A key re-finished later has a newer entry in order_; drop only the match.
    if (it != entries_.end() && it->second.done && it->second.at_ns == order_.front().first) {
      entries_.erase(it);
    }
    order_.pop_front();
  }
}

IdempotencyCache::Outcome IdempotencyCache::Begin(const std::string& key, uint32_t body_hash) {
  std::lock_guard lock(mu_);
  Expire(options_.clock->NowNanos());
  auto [it, inserted] = entries_.try_emplace(key);
  Outcome o;
  if (inserted) {
    it->second.body_hash = body_hash;
    return o;
  }
  if (it->second.body_hash != body_hash) {
    o.state = State::kMismatch;
    return o;
  }
  if (!it->second.done) {
    o.state = State::kInProgress;
    return o;
  }
  o.state = State::kDone;
  o.status = it->second.status;
  o.body = it->second.body;
  return o;
}

void IdempotencyCache::Finish(const std::string& key, int status, std::string body) {
  std::lock_guard lock(mu_);
  const int64_t now = options_.clock->NowNanos();
  Entry& e = entries_[key];  // (body_hash stays as Begin set it)
  e.done = true;
  e.status = status;
  e.body = std::move(body);
  e.at_ns = now;
  order_.emplace_back(now, key);
  Expire(now);
}

void IdempotencyCache::Abandon(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.done) entries_.erase(it);
}

}  // namespace lode
