// FileSource: `lode serve`'s own file tailing (config `files:`): a thread that
// polls a FileTailer, publishes each batch to the bus and, once the batch is
// stored, saves the tailer's checkpoint to the positions file. A full queue
// makes it wait and retry the same batch: the files themselves are the buffer.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "bus/bus.h"
#include "ingest/source_counters.h"
#include "tail/file_tailer.h"

namespace lode {

class FileSource {
 public:
  struct Options {
    TailerOptions tailer;
    std::string positions_path;  // the checkpoint, rewritten after each stored batch
    std::string tenant{kDefaultTenant};
    int64_t poll_interval_ns = 250'000'000;
    size_t max_batch_records = 5000;
    size_t max_batch_bytes = 4 << 20;
  };

  // Reads the positions file (a damaged one is set aside and reading starts
  // over) and starts the thread. REQUIRES: bus outlives the source.
  static Result<std::unique_ptr<FileSource>> Start(const Options& options, Bus* bus);
  ~FileSource();
  // Stops after the batch in flight is stored and its position saved. Idempotent.
  void Stop();

  const SourceCounters& counters() const { return counters_; }

 private:
  FileSource(const Options& options, Bus* bus) : options_(options), bus_(bus) {}
  void Run();
  // Publishes until stored (retrying while the queue is full); false when
  // stopping or when the store failed.
  bool PublishStored(RecordBatch&& batch);
  void SaveCheckpoint();

  Options options_;
  Bus* bus_;
  std::unique_ptr<FileTailer> tailer_;
  std::string saved_checkpoint_;
  SourceCounters counters_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace lode
