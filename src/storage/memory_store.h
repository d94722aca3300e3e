// MemoryStore: a LogStore holding its records in a vector. No index, no
// durability: for small, short-lived record sets (the lines a live tail has
// gathered since its last push) and for tests.
#pragma once

#include <mutex>
#include <vector>

#include "storage/log_store.h"

namespace lode {

class MemoryStore final : public LogStore {
 public:
  MemoryStore() = default;
  explicit MemoryStore(std::vector<Record> records) : records_(std::move(records)) {}

  Status Write(std::span<RecordBatch* const> batches) override;
  Status Scan(const ScanSpec& spec, const RecordVisitor& visit) const override;
  StoreStats Stats() const override;

 private:
  mutable std::mutex mu_;
  std::vector<Record> records_;
};

}  // namespace lode
