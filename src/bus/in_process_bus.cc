#include "bus/in_process_bus.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <vector>

namespace lode {

InProcessBus::InProcessBus(LogStore* store, const Options& options)
    : store_(store), options_(options) {
  stats_.budget_bytes = options.budget_bytes;
  writer_ = std::thread([this] { Run(); });
}

InProcessBus::~InProcessBus() {
  Stop();
}

Status InProcessBus::Publish(RecordBatch&& batch, DoneFn done) {
  uint64_t bytes = batch.ApproxBytes();
  {
    std::lock_guard lock(mu_);
    if (stopping_) return Status::Unavailable("server is shutting down");
    // One batch larger than the whole budget is still accepted into an empty
    // queue; otherwise it could never be stored.
    if (stats_.queued_bytes > 0 && stats_.queued_bytes + bytes > options_.budget_bytes) {
      ++stats_.rejected_batches;
      return Status::ResourceExhausted("ingest queue full (" + std::to_string(stats_.queued_bytes) +
                                       " of " + std::to_string(options_.budget_bytes) +
                                       " bytes queued); retry later");
    }
    stats_.queued_bytes += bytes;
    ++stats_.published_batches;
    queue_.push_back(Item{std::move(batch), std::move(done), bytes});
  }
  cv_.notify_one();
  return Status::OK();
}

void InProcessBus::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
  }
  cv_.notify_one();
  if (writer_.joinable()) writer_.join();
}

BusStats InProcessBus::Stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void InProcessBus::Run() {
  std::vector<Item> group;
  std::vector<RecordBatch*> batches;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty() && stopping_) return;
      if (options_.group_delay_us > 0 && !stopping_) {
        cv_.wait_for(lock, std::chrono::microseconds(options_.group_delay_us),
                     [&] { return stopping_ || queue_.size() >= options_.max_group_batches; });
      }
      while (!queue_.empty() && group.size() < options_.max_group_batches) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    batches.clear();
    size_t records = 0;
    uint64_t bytes = 0;
    for (auto& item : group) {
      batches.push_back(&item.batch);
      records += item.batch.records.size();
      bytes += item.bytes;
    }
    Status s = store_->Write(batches);
    if (!s.ok()) spdlog::error("bus: storing {} batches failed: {}", group.size(), s.ToString());
    {
      std::lock_guard lock(mu_);
      stats_.queued_bytes -= bytes;
      if (s.ok()) {
        stats_.stored_records += records;
      } else {
        stats_.failed_batches += group.size();
      }
    }
    for (auto& item : group) {
      if (item.done) item.done(s);
    }
    group.clear();
  }
}

}  // namespace lode
