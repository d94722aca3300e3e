#include "storage/memory_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "storage/record_codec.h"

namespace lode {

namespace {

bool Overlaps(int64_t min_ts, int64_t max_ts, const ScanSpec& spec) {
  return max_ts >= spec.start_ns && min_ts < spec.end_ns;
}

}  // namespace

std::shared_ptr<const MemoryStore::Chunk> MemoryStore::MakeChunk(RecordBatch batch) {
  auto c = std::make_shared<Chunk>();
  c->tenant = std::move(batch.tenant);
  for (const auto& r : batch.records) {
    c->min_ts = std::min(c->min_ts, r.timestamp_ns);
    c->max_ts = std::max(c->max_ts, r.timestamp_ns);
    c->bytes += r.ApproxBytes();
  }
  c->records = std::move(batch.records);
  return c;
}

Result<std::unique_ptr<MemoryStore>> MemoryStore::Open(const Options& options) {
  std::unique_ptr<MemoryStore> store(new MemoryStore());
  LODE_RETURN_IF_ERROR(options.env->CreateDirs(options.dir));
  Wal::Options wo;
  wo.dir = JoinPath(options.dir, "wal");
  wo.max_file_bytes = options.wal_file_bytes;
  wo.env = options.env;
  MemoryStore* s = store.get();
  auto replay = [s](uint64_t seq, std::string_view payload) -> Status {
    RecordBatch batch;
    Status st = DecodeBatch(payload, &batch);
    if (!st.ok()) return st.WithContext("WAL entry " + std::to_string(seq));
    auto chunk = MakeChunk(std::move(batch));
    s->records_ += chunk->records.size();
    s->memory_bytes_ += chunk->bytes;
    s->chunks_.push_back(std::move(chunk));
    return Status::OK();
  };
  LODE_ASSIGN_OR_RETURN(store->wal_, Wal::Open(wo, replay));
  store->wal_bytes_ = store->wal_->total_bytes();
  spdlog::info("store: opened {} with {} records from the WAL ({} files, {} bytes)", options.dir,
               store->records_, store->wal_->file_count(), store->wal_->total_bytes());
  return store;
}

Status MemoryStore::Write(std::span<RecordBatch* const> batches) {
  std::string buf;
  for (const RecordBatch* b : batches) {
    if (b->records.empty()) continue;
    buf.clear();
    EncodeBatch(*b, &buf);
    LODE_ASSIGN_OR_RETURN(uint64_t seq, wal_->Append(buf));
    (void)seq;
  }
  LODE_RETURN_IF_ERROR(wal_->Sync());
  wal_bytes_.store(wal_->total_bytes(), std::memory_order_relaxed);

  std::vector<std::shared_ptr<const Chunk>> fresh;
  fresh.reserve(batches.size());
  for (RecordBatch* b : batches) {
    if (!b->records.empty()) fresh.push_back(MakeChunk(std::move(*b)));
  }
  std::unique_lock lock(mu_);
  for (auto& c : fresh) {
    records_ += c->records.size();
    memory_bytes_ += c->bytes;
    chunks_.push_back(std::move(c));
  }
  return Status::OK();
}

MemoryStore::ChunkList MemoryStore::Snapshot() const {
  std::shared_lock lock(mu_);
  return chunks_;
}

Status MemoryStore::Scan(const ScanSpec& spec, const RecordVisitor& visit) const {
  for (const auto& c : Snapshot()) {
    if (c->tenant != spec.tenant || !Overlaps(c->min_ts, c->max_ts, spec)) continue;
    for (const Record& r : c->records) {
      if (!spec.Matches(r)) continue;
      if (!visit(r)) return Status::OK();
    }
  }
  return Status::OK();
}

uint64_t MemoryStore::CountCandidates(const ScanSpec& spec) const {
  uint64_t n = 0;
  for (const auto& c : Snapshot()) {
    if (c->tenant == spec.tenant && Overlaps(c->min_ts, c->max_ts, spec)) n += c->records.size();
  }
  return n;
}

StoreStats MemoryStore::Stats() const {
  StoreStats st;
  {
    std::shared_lock lock(mu_);
    st.records = records_;
    st.memory_bytes = memory_bytes_;
  }
  st.wal_bytes = wal_bytes_.load(std::memory_order_relaxed);
  return st;
}

}  // namespace lode
