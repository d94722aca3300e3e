// Clock: the one source of "now", injectable in tests.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace lode {

class Clock {
 public:
  virtual ~Clock() = default;
  // Wall-clock time in ns since the Unix epoch. Thread-safe.
  virtual int64_t NowNanos() const = 0;
  // The real clock; lives for the whole process.
  static Clock* Real();
};

class SystemClock final : public Clock {
 public:
  int64_t NowNanos() const override {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

inline Clock* Clock::Real() {
  static SystemClock clock;
  return &clock;
}

// A clock that moves only when told to. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t now_ns = 0) : now_(now_ns) {}
  int64_t NowNanos() const override { return now_.load(std::memory_order_relaxed); }
  void Set(int64_t now_ns) { now_.store(now_ns, std::memory_order_relaxed); }
  void Advance(int64_t delta_ns) { now_.fetch_add(delta_ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace lode
