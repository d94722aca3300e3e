#include "tail/file_source.h"

#include <spdlog/spdlog.h>

#include <future>

#include "common/env.h"

namespace lode {

Result<std::unique_ptr<FileSource>> FileSource::Start(const Options& options, Bus* bus) {
  std::unique_ptr<FileSource> s(new FileSource(options, bus));
  Env* env = Env::Default();
  std::string checkpoint;
  if (env->FileExists(options.positions_path)) {
    LODE_RETURN_IF_ERROR(env->ReadFile(options.positions_path, &checkpoint));
  }
  auto tailer = FileTailer::Create(options.tailer, checkpoint);
  if (!tailer.ok() && tailer.status().code() == StatusCode::kCorruption) {
    std::string aside = options.positions_path + ".damaged";
    spdlog::error("lode files: {}: {}; set aside as {}, reading every file from its start",
                  options.positions_path, tailer.status().message(), aside);
    LODE_RETURN_IF_ERROR(env->RenameFile(options.positions_path, aside));
    checkpoint.clear();
    tailer = FileTailer::Create(options.tailer, "");
  }
  if (!tailer.ok()) return tailer.status();
  s->tailer_ = std::move(*tailer);
  s->saved_checkpoint_ = checkpoint;
  s->thread_ = std::thread([p = s.get()] { p->Run(); });
  return s;
}

FileSource::~FileSource() {
  Stop();
}

void FileSource::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool FileSource::PublishStored(RecordBatch&& batch) {
  for (int attempt = 0;; ++attempt) {
    {
      std::lock_guard lock(mu_);
      if (stop_ && attempt > 0) return false;
    }
    std::promise<Status> done;
    auto stored = done.get_future();
    // A batch the bus refuses stays ours, to retry.
    const size_t records = batch.records.size();
    Status st = bus_->Publish(std::move(batch), [&done](const Status& s) { done.set_value(s); });
    if (st.ok()) {
      st = stored.get();
      if (st.ok()) {
        counters_.accepted += records;
        return true;
      }
      // Taken but not stored (the store failed): the batch is gone, but
      // its records are still in the files, after the saved checkpoint.
      ++counters_.failed;
      spdlog::error("lode files: storing a batch failed: {}; reading it again in 1 s",
                    st.message());
      {
        std::unique_lock lock(mu_);
        if (cv_.wait_for(lock, std::chrono::seconds(1), [this] { return stop_; })) return false;
      }
      // From the saved positions; a file they do not know is read from its
      // start this time (start_at: end applied at the first start already).
      TailerOptions to = options_.tailer;
      for (auto& in : to.inputs) in.start_at_end = false;
      auto again = FileTailer::Create(to, saved_checkpoint_);
      if (!again.ok()) {
        spdlog::error("lode files: {}; file tailing stops", again.status().message());
        return false;
      }
      tailer_ = std::move(*again);
      return true;  // nothing to save: the next poll reads the batch again
    }
    if (st.code() == StatusCode::kResourceExhausted) {
      ++counters_.pushed_back;
    } else {
      return false;  // the bus is stopping
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(std::min(50 * (attempt + 1), 1000)),
                 [this] { return stop_; });
  }
}

void FileSource::SaveCheckpoint() {
  std::string cp = tailer_->Checkpoint();
  if (cp == saved_checkpoint_) return;
  Status s = Env::Default()->WriteFileAtomic(options_.positions_path, cp);
  if (!s.ok()) {
    spdlog::error("lode files: saving positions to {}: {}", options_.positions_path, s.message());
    return;
  }
  saved_checkpoint_ = std::move(cp);
}

void FileSource::Run() {
  RecordBatch batch;
  while (true) {
    {
      std::lock_guard lock(mu_);
      if (stop_) break;
    }
    // (A batch given to the bus was moved from: valid, contents unspecified.)
    batch.tenant = options_.tenant;
    batch.records.clear();
    size_t n = tailer_->Poll(&batch.records, options_.max_batch_records, options_.max_batch_bytes);
    if (n > 0) {
      uint64_t bytes = 0;
      for (auto& r : batch.records) {
        r.tenant = options_.tenant;
        bytes += r.message.size();
      }
      ++counters_.requests;
      counters_.bytes += bytes;
      if (!PublishStored(std::move(batch))) break;  // stopping: the position stays before it
      SaveCheckpoint();
      continue;  // more may be waiting
    } else {
      SaveCheckpoint();  // e.g. a finished file left the set
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, std::chrono::nanoseconds(options_.poll_interval_ns),
                 [this] { return stop_; });
  }
}

}  // namespace lode
