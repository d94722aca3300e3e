// Per-source ingest counters, exported in /metrics with a `source` label.
#pragma once

#include <atomic>
#include <cstdint>

namespace lode {

struct SourceCounters {
  std::atomic<uint64_t> requests{0};  // requests, datagrams or TCP reads
  std::atomic<uint64_t> bytes{0};
  std::atomic<uint64_t> accepted{0};     // records stored
  std::atomic<uint64_t> rejected{0};     // records that could not be parsed
  std::atomic<uint64_t> pushed_back{0};  // times the queue was full (429; TCP reads paused)
  std::atomic<uint64_t> failed{0};       // batches that could not be stored
  std::atomic<uint64_t> dropped{0};      // records lost because the queue was full (UDP)
  std::atomic<uint64_t> replayed{0};     // repeated requests answered from the idempotency cache
};

}  // namespace lode
