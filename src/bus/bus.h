// Bus: how parsed batches travel from the pipeline to storage.
//
// Single-node Lode runs InProcessBus (a bounded in-memory queue drained by a
// writer thread). Cluster mode puts NATS JetStream in the same place. Code on
// either side knows only this interface.
#pragma once

#include <cstdint>
#include <functional>

#include "common/record.h"
#include "common/status.h"

namespace lode {

struct BusStats {
  uint64_t queued_bytes = 0;  // accepted, not yet stored
  uint64_t budget_bytes = 0;  // above this, Publish pushes back
  uint64_t published_batches = 0;
  uint64_t rejected_batches = 0;  // pushed back because the queue was full
  uint64_t stored_records = 0;
  uint64_t failed_batches = 0;  // the store returned an error
};

class Bus {
 public:
  // Called once when a published batch is durable (OK) or has failed.
  using DoneFn = std::function<void(const Status&)>;

  virtual ~Bus() = default;

  // Hands `batch` over for storage. On OK the batch has been moved from and
  // `done` will be called exactly once, from another thread. Returns without
  // calling `done`, and with `batch` left as it was (so the caller can retry
  // it without keeping a copy):
  //   ResourceExhausted when the queue is over its budget (retry later),
  //   Unavailable when the bus is stopping.
  // Thread-safe.
  virtual Status Publish(RecordBatch&& batch, DoneFn done) = 0;

  // Stops accepting, stores what was accepted, then returns. Idempotent.
  virtual void Stop() = 0;

  virtual BusStats Stats() const = 0;
};

}  // namespace lode
