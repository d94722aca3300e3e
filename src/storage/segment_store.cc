#include "storage/segment_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cinttypes>
#include <ctime>
#include <future>
#include <set>

#include "storage/record_codec.h"

namespace lode {

namespace {

constexpr std::string_view kSegmentSuffix = ".seg";
constexpr char kFlushedFile[] = "FLUSHED";
constexpr char kPatternsFile[] = "PATTERNS";

int64_t ThreadCpuNanos() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}
// Segments never span two UTC days of event time (retention works by segment).
constexpr int64_t kPartitionNs = 86400LL * 1'000'000'000;

bool Overlaps(int64_t min_ts, int64_t max_ts, const ScanSpec& spec) {
  return max_ts >= spec.start_ns && min_ts < spec.end_ns;
}

std::string SegmentFileName(uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020" PRIu64 ".seg", id);
  return buf;
}

// The id in "<20 digits>.seg", or 0 when `name` is not a segment file name.
uint64_t ParseSegmentFileName(std::string_view name) {
  if (!name.ends_with(kSegmentSuffix)) return 0;
  std::string_view digits = name.substr(0, name.size() - kSegmentSuffix.size());
  uint64_t id = 0;
  auto r = std::from_chars(digits.data(), digits.data() + digits.size(), id);
  if (r.ec != std::errc() || r.ptr != digits.data() + digits.size()) return 0;
  return id;
}

bool IsTempFile(std::string_view name) {
  return name.find(".tmp") != std::string_view::npos;
}

}  // namespace

SegmentStore::SegmentStore(const Options& options)
    : options_([&] {
        Options o = options;
        if (o.archive_dir.empty()) o.archive_dir = JoinPath(o.dir, "archive");
        return o;
      }()),
      env_(options.env) {}

SegmentStore::~SegmentStore() {
  {
    std::lock_guard lock(bg_mu_);
    stopping_ = true;
  }
  bg_cv_.notify_all();
  head_cv_.notify_all();
  if (background_.joinable()) background_.join();
}

std::string SegmentStore::SegmentPath(const std::string& tenant, uint64_t id) const {
  return JoinPath(JoinPath(JoinPath(options_.dir, "segments"), tenant), SegmentFileName(id));
}

std::string SegmentStore::ArchivePath(const std::string& tenant, uint64_t id) const {
  return JoinPath(JoinPath(options_.archive_dir, tenant), SegmentFileName(id));
}

Result<std::unique_ptr<SegmentStore>> SegmentStore::Open(const Options& options) {
  std::unique_ptr<SegmentStore> store(new SegmentStore(options));
  LODE_RETURN_IF_ERROR(store->Recover());
  if (options.background) {
    store->background_ = std::thread([s = store.get()] { s->BackgroundLoop(); });
  }
  return store;
}

Status SegmentStore::Recover() {
  Env* env = env_;
  const std::string& dir = options_.dir;
  for (const char* sub : {"segments", "quarantine"}) {
    LODE_RETURN_IF_ERROR(env->CreateDirs(JoinPath(dir, sub)));
  }
  LODE_RETURN_IF_ERROR(env->CreateDirs(options_.archive_dir));

  uint64_t flushed_seq = 0;
  std::string flushed_path = JoinPath(dir, kFlushedFile);
  if (env->FileExists(flushed_path)) {
    std::string text;
    LODE_RETURN_IF_ERROR(env->ReadFile(flushed_path, &text));
    auto r = std::from_chars(text.data(), text.data() + text.size(), flushed_seq);
    if (r.ec != std::errc()) {
      return Status::Corruption(flushed_path + ": not a sequence number: \"" + text + "\"");
    }
  }

  // Opens every segment under `root`/<tenant>/; removes temporary leftovers
  // and quarantines files that fail their checks.
  uint64_t max_id = 0;
  auto load = [&](const std::string& root, std::vector<SegmentPtr>* out) -> Status {
    LODE_ASSIGN_OR_RETURN(std::vector<std::string> tenants, env->ListDir(root));
    for (const auto& tenant : tenants) {
      std::string tdir = JoinPath(root, tenant);
      auto names = env->ListDir(tdir);
      if (!names.ok()) continue;  // a stray file, not a tenant directory
      for (const auto& name : *names) {
        std::string path = JoinPath(tdir, name);
        if (IsTempFile(name)) {
          spdlog::info("store: removing {} left by an interrupted write", path);
          LODE_RETURN_IF_ERROR(env->RemoveFile(path));
          continue;
        }
        uint64_t id = ParseSegmentFileName(name);
        if (id == 0) continue;
        max_id = std::max(max_id, id);
        auto seg = Segment::Open(env, path);
        if (!seg.ok()) {
          if (seg.status().code() != StatusCode::kCorruption) return seg.status();
          std::string to = JoinPath(JoinPath(dir, "quarantine"), tenant + "-" + name);
          spdlog::error("store: quarantining {}: {}", path, seg.status().ToString());
          LODE_RETURN_IF_ERROR(env->RenameFile(path, to));
          ++counters_.quarantined;
          continue;
        }
        out->push_back(std::move(*seg));
      }
    }
    return Status::OK();
  };

  auto view = std::make_shared<View>();
  LODE_RETURN_IF_ERROR(load(JoinPath(dir, "segments"), &view->segments));
  LODE_RETURN_IF_ERROR(load(options_.archive_dir, &view->archived));

  // An interrupted merge leaves the merged segment and (some of) its inputs:
  // the merged one wins.
  std::set<uint64_t> superseded;
  for (const auto& s : view->segments) {
    for (uint64_t r : s->meta().replaces) superseded.insert(r);
  }
  std::vector<SegmentPtr> live;
  for (auto& s : view->segments) {
    if (superseded.count(s->meta().id)) {
      spdlog::info("store: removing {}, merged into a newer segment", s->path());
      LODE_RETURN_IF_ERROR(env->RemoveFile(s->path()));
    } else if (s->meta().max_wal_seq > flushed_seq && s->meta().replaces.empty()) {
      // Written by a flush that did not complete: its records are still in the
      // WAL and are replayed below.
      spdlog::info("store: removing {} from an interrupted flush", s->path());
      LODE_RETURN_IF_ERROR(env->RemoveFile(s->path()));
    } else {
      live.push_back(std::move(s));
    }
  }
  view->segments = std::move(live);
  next_segment_id_ = max_id + 1;

  uint64_t patterns_seq = 0;
  if (options_.patterns != nullptr) {
    std::vector<SegmentPtr> all = view->segments;
    all.insert(all.end(), view->archived.begin(), view->archived.end());
    LODE_RETURN_IF_ERROR(LoadPatterns(all, flushed_seq, &patterns_seq));
  }
  uint64_t reassigned = 0;

  Wal::Options wo;
  wo.dir = JoinPath(dir, "wal");
  wo.max_file_bytes = options_.wal_file_bytes;
  wo.env = env;
  uint64_t replayed = 0;
  uint64_t head_bytes = 0;
  auto replay = [&](uint64_t seq, std::string_view payload) -> Status {
    if (seq <= flushed_seq) return Status::OK();  // already in segments
    RecordBatch batch;
    Status st = DecodeBatch(payload, &batch);
    if (!st.ok()) return st.WithContext("WAL entry " + std::to_string(seq));
    if (options_.patterns != nullptr && seq > patterns_seq) {
      // Mined after the saved index: mining it again in WAL order rebuilds
      // the index as it was and gives the ids the entry already carries.
      // (Entries from before patterns, WAL format 1, hold no ids: not a mismatch.)
      const bool held_ids = std::any_of(batch.records.begin(), batch.records.end(),
                                        [](const Record& r) { return r.pattern_id != 0; });
      const size_t changed = options_.patterns->Assign(&batch);
      if (held_ids) reassigned += changed;
    }
    auto chunk = std::make_shared<Chunk>();
    chunk->tenant = batch.tenant;
    chunk->wal_seq = seq;
    for (const auto& r : batch.records) {
      chunk->min_ts = std::min(chunk->min_ts, r.timestamp_ns);
      chunk->max_ts = std::max(chunk->max_ts, r.timestamp_ns);
      chunk->min_observed = std::min(chunk->min_observed, r.observed_ns);
      chunk->bytes += r.ApproxBytes();
    }
    chunk->records = std::move(batch.records);
    replayed += chunk->records.size();
    head_bytes += chunk->bytes;
    view->head.push_back(std::move(chunk));
    return Status::OK();
  };
  {
    std::lock_guard lock(wal_mu_);
    LODE_ASSIGN_OR_RETURN(wal_, Wal::Open(wo, replay));
    last_wal_seq_ = wal_->last_seq();
    wal_bytes_ = wal_->total_bytes();
    if (options_.patterns != nullptr && patterns_seq > wal_->last_seq()) {
      // The index mined entries the WAL does not hold (their sync failed, so
      // they were never acknowledged). New entries will reuse those sequence
      // numbers: save the index as covering only what the WAL holds, so that
      // a later replay mines them.
      LODE_RETURN_IF_ERROR(env->WriteFileAtomic(JoinPath(dir, kPatternsFile),
                                                options_.patterns->Encode(wal_->last_seq())));
    }
  }
  head_bytes_ = head_bytes;
  uint64_t seg_rows = 0;
  for (const auto& s : view->segments) seg_rows += s->meta().rows;
  spdlog::info(
      "store: opened {}: {} segments ({} records), {} archived, {} records replayed "
      "from the WAL",
      dir, view->segments.size(), seg_rows, view->archived.size(), replayed);
  if (reassigned > 0) {
    spdlog::warn("store: {} replayed records got another pattern id than the WAL held", reassigned);
  }
  std::lock_guard lock(view_mu_);
  Publish(std::move(view));
  return Status::OK();
}

Status SegmentStore::LoadPatterns(const std::vector<SegmentPtr>& segments, uint64_t flushed_seq,
                                  uint64_t* covered_seq) {
  *covered_seq = 0;
  const std::string path = JoinPath(options_.dir, kPatternsFile);
  if (env_->FileExists(path)) {
    std::string bytes;
    LODE_RETURN_IF_ERROR(env_->ReadFile(path, &bytes));
    Status st = options_.patterns->Decode(bytes, covered_seq);
    if (st.ok() && *covered_seq < flushed_seq) {
      // Saved before records it never saw were flushed (mining was off for
      // a while): ids those records carry could be handed out again.
      st = Status::Corruption("covers the WAL up to " + std::to_string(*covered_seq) +
                              " but segments hold records up to " + std::to_string(flushed_seq));
      *covered_seq = 0;
      options_.patterns->Clear();
    }
    if (st.ok()) return Status::OK();
    if (st.code() != StatusCode::kCorruption) return st.WithContext(path);
    std::string to =
        JoinPath(JoinPath(options_.dir, "quarantine"),
                 std::string(kPatternsFile) + "-" + std::to_string(options_.clock->NowNanos()));
    spdlog::error(
        "store: quarantining {}: {}; stored records keep their pattern ids, but "
        "their templates are lost",
        path, st.ToString());
    LODE_RETURN_IF_ERROR(env_->RenameFile(path, to));
    ++counters_.quarantined;
  }
  // No index (a new store, or one from before patterns, or a damaged one):
  // new ids start above every id the segments hold, so none is reused.
  std::map<std::string, uint64_t> max_id;
  for (const auto& seg : segments) {
    uint64_t& m = max_id[seg->meta().tenant];
    m = std::max<uint64_t>(m, seg->meta().max_pattern_id);
  }
  for (const auto& [tenant, m] : max_id) {
    if (m > 0) options_.patterns->ReserveIds(tenant, static_cast<uint32_t>(m + 1));
  }
  return Status::OK();
}

std::shared_ptr<const SegmentStore::View> SegmentStore::Snapshot() const {
  std::lock_guard lock(ptr_mu_);
  return view_;
}

void SegmentStore::Publish(std::shared_ptr<const View> view) {
  std::lock_guard lock(ptr_mu_);
  view_ = std::move(view);
}

Status SegmentStore::Write(std::span<RecordBatch* const> batches) {
  std::vector<uint64_t> seqs(batches.size(), 0);
  {
    std::lock_guard lock(wal_mu_);
    std::string buf;
    for (size_t i = 0; i < batches.size(); ++i) {
      if (batches[i]->records.empty()) continue;
      if (options_.patterns != nullptr) {
        // Thread CPU time, not wall time: this thread shares the cores.
        const int64_t t0 = ThreadCpuNanos();
        options_.patterns->Assign(batches[i]);
        counters_.pattern_mining_ns += static_cast<uint64_t>(ThreadCpuNanos() - t0);
      }
      buf.clear();
      EncodeBatch(*batches[i], &buf);
      LODE_ASSIGN_OR_RETURN(seqs[i], wal_->Append(buf));
    }
    LODE_RETURN_IF_ERROR(wal_->Sync());
    last_wal_seq_ = wal_->last_seq();
    wal_bytes_ = wal_->total_bytes();
  }
  if (options_.on_durable) options_.on_durable(batches);

  std::vector<ChunkPtr> fresh;
  uint64_t bytes = 0;
  for (size_t i = 0; i < batches.size(); ++i) {
    RecordBatch* b = batches[i];
    if (b->records.empty()) continue;
    auto c = std::make_shared<Chunk>();
    c->tenant = b->tenant;
    c->wal_seq = seqs[i];
    for (const auto& r : b->records) {
      c->min_ts = std::min(c->min_ts, r.timestamp_ns);
      c->max_ts = std::max(c->max_ts, r.timestamp_ns);
      c->min_observed = std::min(c->min_observed, r.observed_ns);
      c->bytes += r.ApproxBytes();
    }
    c->records = std::move(b->records);
    bytes += c->bytes;
    fresh.push_back(std::move(c));
  }
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    for (auto& c : fresh) view->head.push_back(std::move(c));
    Publish(std::move(view));
  }
  if (head_bytes_.fetch_add(bytes) + bytes >= options_.flush_bytes) bg_cv_.notify_all();
  if (head_bytes_.load() > options_.max_head_bytes && options_.background) {
    // Flushing has fallen behind: hold the bus (which then answers 429) until
    // it catches up. Bounded, so a failing flush cannot stall ingest forever.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::unique_lock lock(bg_mu_);
    while (head_bytes_.load() > options_.max_head_bytes && !stopping_) {
      if (head_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
        spdlog::warn("store: head holds {} bytes, over max_head_bytes {}; flushing is behind",
                     head_bytes_.load(), options_.max_head_bytes);
        break;
      }
    }
  }
  return Status::OK();
}

bool SegmentStore::FlushDue() const {
  auto view = Snapshot();
  if (view->head.empty()) return false;
  if (head_bytes_.load() >= options_.flush_bytes) return true;
  int64_t oldest = INT64_MAX;
  for (const auto& c : view->head) oldest = std::min(oldest, c->min_observed);
  return options_.clock->NowNanos() - oldest >= options_.flush_age_ns;
}

Status SegmentStore::Flush() {
  std::lock_guard maintenance(maintenance_mu_);
  std::vector<ChunkPtr> chunks;
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    if (view->head.empty()) return Status::OK();
    chunks = std::move(view->head);
    view->head.clear();
    view->flushing = chunks;
    Publish(std::move(view));
  }
  uint64_t flushed_bytes = 0;
  uint64_t max_seq = 0;
  // One segment per tenant and day of event time, so late records do not
  // keep a new segment's worth of data alive past retention (and the reverse).
  // Pointers into the chunks, which `chunks` keeps alive: no copies.
  std::map<std::pair<std::string, int64_t>, std::vector<const Record*>> parts;
  for (const auto& c : chunks) {
    flushed_bytes += c->bytes;
    max_seq = std::max(max_seq, c->wal_seq);
    for (const Record& r : c->records) {
      parts[{c->tenant, FloorToStep(r.timestamp_ns, kPartitionNs)}].push_back(&r);
    }
  }

  std::vector<SegmentPtr> written;
  Status s;
  for (auto& [part, records] : parts) {
    const std::string& tenant = part.first;
    SegmentMeta meta;
    meta.id = next_segment_id_.fetch_add(1);
    meta.tenant = tenant;
    meta.max_wal_seq = max_seq;
    meta.created_ns = options_.clock->NowNanos();
    std::string path = SegmentPath(tenant, meta.id);
    s = env_->CreateDirs(JoinPath(JoinPath(options_.dir, "segments"), tenant));
    if (s.ok()) {
      SegmentWriteOptions fast = options_.segment;
      fast.zstd_level = options_.flush_zstd_level;
      s = WriteSegment(env_, path, meta, std::span<const Record* const>(records), fast);
    }
    if (!s.ok()) break;
    auto seg = Segment::Open(env_, path);
    if (!seg.ok()) {
      s = seg.status();
      break;
    }
    written.push_back(std::move(*seg));
  }
  const std::string patterns_path = JoinPath(options_.dir, kPatternsFile);
  if (s.ok() && options_.patterns == nullptr && env_->FileExists(patterns_path)) {
    // Mining is off: the saved index will not cover what this flush moves out
    // of the WAL, so it must not be trusted later.
    s = env_->RemoveFile(patterns_path);
  }
  if (s.ok() && options_.patterns != nullptr) {
    // The index must cover at least what FLUSHED will say (the WAL below it
    // is trimmed): encode it under the WAL lock, as of the last appended entry.
    std::string bytes;
    {
      std::lock_guard lock(wal_mu_);
      bytes = options_.patterns->Encode(wal_->last_seq());
    }
    s = env_->WriteFileAtomic(JoinPath(options_.dir, kPatternsFile), bytes);
  }
  if (s.ok()) {
    s = env_->WriteFileAtomic(JoinPath(options_.dir, kFlushedFile), std::to_string(max_seq));
  }
  if (!s.ok()) {
    // Put the records back in the head (they are still in the WAL) and drop
    // what this flush wrote; the next round tries again.
    for (const auto& seg : written) (void)env_->RemoveFile(seg->path());
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    view->head.insert(view->head.begin(), view->flushing.begin(), view->flushing.end());
    view->flushing.clear();
    Publish(std::move(view));
    return s.WithContext("flush");
  }
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    view->flushing.clear();
    for (auto& seg : written) view->segments.push_back(seg);
    Publish(std::move(view));
  }
  head_bytes_.fetch_sub(std::min(head_bytes_.load(), flushed_bytes));
  {
    std::lock_guard lock(bg_mu_);
    head_cv_.notify_all();
  }
  {
    std::lock_guard lock(wal_mu_);
    LODE_RETURN_IF_ERROR(wal_->TrimUpTo(max_seq));
    wal_bytes_ = wal_->total_bytes();
  }
  ++counters_.flushes;
  uint64_t rows = 0;
  for (const auto& seg : written) rows += seg->meta().rows;
  spdlog::debug("store: flushed {} records into {} segments (WAL up to {})", rows, written.size(),
                max_seq);
  return Status::OK();
}

Status SegmentStore::MergeTenant(const std::string& tenant, bool* merged) {
  *merged = false;
  auto snapshot = Snapshot();
  std::vector<SegmentPtr> small;
  for (const auto& s : snapshot->segments) {
    if (s->meta().tenant == tenant && s->meta().rows < options_.merge_small_rows)
      small.push_back(s);
  }
  // Only segments of the same day are merged (see Flush).
  std::map<int64_t, std::vector<SegmentPtr>> by_day;
  for (const auto& s : small) by_day[FloorToStep(s->meta().min_ts, kPartitionNs)].push_back(s);
  std::vector<SegmentPtr> inputs;
  uint64_t rows = 0;
  for (auto& [day, segs] : by_day) {
    if (segs.size() < options_.merge_min_inputs) continue;
    std::sort(segs.begin(), segs.end(), [](const SegmentPtr& a, const SegmentPtr& b) {
      return a->meta().min_ts < b->meta().min_ts;
    });
    for (const auto& s : segs) {
      if (inputs.size() >= 2 && rows + s->meta().rows > options_.merge_max_rows) break;
      inputs.push_back(s);
      rows += s->meta().rows;
    }
    if (inputs.size() >= 2) break;
    inputs.clear();
    rows = 0;
  }
  if (inputs.size() < 2) {
    // Nothing to merge: rewrite one segment a flush wrote fast (zstd level 3)
    // at the smaller level, once it is old enough.
    inputs.clear();
    if (options_.recompress_after_ns < 0 ||
        options_.flush_zstd_level == options_.segment.zstd_level) {
      return Status::OK();
    }
    const int64_t now = options_.clock->NowNanos();
    for (const auto& s : snapshot->segments) {
      const SegmentMeta& m = s->meta();
      if (m.tenant != tenant || !m.replaces.empty()) continue;
      if (now - m.created_ns < options_.recompress_after_ns) continue;
      if (inputs.empty() || m.created_ns < inputs[0]->meta().created_ns) inputs = {s};
    }
    if (inputs.empty()) return Status::OK();
    rows = inputs[0]->meta().rows;
  }

  std::vector<Record> records;
  records.reserve(rows);
  SegmentMeta meta;
  meta.id = next_segment_id_.fetch_add(1);
  meta.tenant = tenant;
  meta.created_ns = options_.clock->NowNanos();
  std::vector<Record> block;
  for (const auto& in : inputs) {
    meta.replaces.push_back(in->meta().id);
    meta.max_wal_seq = std::max(meta.max_wal_seq, in->meta().max_wal_seq);
    for (uint32_t b = 0; b < in->blocks().size(); ++b) {
      Status st = in->ReadBlock(b, kColAll, &block);
      if (st.code() == StatusCode::kCorruption) {
        Quarantine(in, st);
        return Status::OK();  // the next round merges what is left
      }
      LODE_RETURN_IF_ERROR(st);
      std::move(block.begin(), block.end(), std::back_inserter(records));
    }
  }
  std::string path = SegmentPath(tenant, meta.id);
  LODE_RETURN_IF_ERROR(WriteSegment(env_, path, meta, records, options_.segment));
  records = {};
  LODE_ASSIGN_OR_RETURN(SegmentPtr out, Segment::Open(env_, path));
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    std::set<const Segment*> gone;
    for (const auto& in : inputs) gone.insert(in.get());
    size_t present = 0;
    for (const auto& s : view->segments) present += gone.count(s.get());
    if (present != inputs.size()) {
      // An input was quarantined meanwhile: publishing would resurrect it.
      (void)env_->RemoveFile(path);
      return Status::OK();
    }
    std::erase_if(view->segments, [&](const SegmentPtr& s) { return gone.count(s.get()) > 0; });
    view->segments.push_back(out);
    Publish(std::move(view));
  }
  for (const auto& in : inputs) LODE_RETURN_IF_ERROR(env_->RemoveFile(in->path()));
  ++counters_.merges;
  *merged = true;
  spdlog::debug("store: merged {} segments of {} into {} ({} records)", inputs.size(), tenant,
                out->path(), out->meta().rows);
  return Status::OK();
}

Status SegmentStore::MoveFile(const std::string& from, const std::string& to) {
  if (env_->RenameFile(from, to).ok()) return env_->SyncDir(to.substr(0, to.rfind('/')));
  // Another file system (e.g. a mounted bucket): copy, make durable, delete.
  std::string data;
  LODE_RETURN_IF_ERROR(env_->ReadFile(from, &data));
  LODE_RETURN_IF_ERROR(env_->WriteFileAtomic(to, data));
  return env_->RemoveFile(from);
}

Status SegmentStore::ApplyRetention() {
  const int64_t now = options_.clock->NowNanos();
  auto snapshot = Snapshot();
  std::vector<SegmentPtr> to_delete, to_archive;
  for (const auto& s : snapshot->segments) {
    if (options_.retention_ns > 0 && s->meta().max_ts < now - options_.retention_ns) {
      to_delete.push_back(s);
    } else if (options_.archive_after_ns > 0 &&
               s->meta().max_ts < now - options_.archive_after_ns) {
      to_archive.push_back(s);
    }
  }
  for (const auto& s : snapshot->archived) {
    if (options_.retention_ns > 0 && s->meta().max_ts < now - options_.retention_ns) {
      to_delete.push_back(s);
    }
  }
  if (options_.retention_bytes > 0) {
    std::vector<SegmentPtr> kept;
    uint64_t total = 0;
    for (const auto& s : snapshot->segments) {
      if (std::find(to_delete.begin(), to_delete.end(), s) != to_delete.end()) continue;
      if (std::find(to_archive.begin(), to_archive.end(), s) != to_archive.end()) continue;
      kept.push_back(s);
      total += s->file_bytes();
    }
    std::sort(kept.begin(), kept.end(), [](const SegmentPtr& a, const SegmentPtr& b) {
      return a->meta().max_ts < b->meta().max_ts;
    });
    for (const auto& s : kept) {
      if (total <= options_.retention_bytes) break;
      total -= s->file_bytes();
      to_delete.push_back(s);
    }
  }
  if (to_delete.empty() && to_archive.empty()) return Status::OK();

  std::vector<SegmentPtr> archived_now;
  for (const auto& s : to_archive) {
    std::string to = ArchivePath(s->meta().tenant, s->meta().id);
    LODE_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(options_.archive_dir, s->meta().tenant)));
    LODE_RETURN_IF_ERROR(MoveFile(s->path(), to));
    LODE_ASSIGN_OR_RETURN(SegmentPtr moved, Segment::Open(env_, to));
    archived_now.push_back(std::move(moved));
    ++counters_.archived;
  }
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    auto drop = [&](std::vector<SegmentPtr>& list, const std::vector<SegmentPtr>& gone) {
      std::erase_if(list, [&](const SegmentPtr& s) {
        return std::find(gone.begin(), gone.end(), s) != gone.end();
      });
    };
    drop(view->segments, to_delete);
    drop(view->segments, to_archive);
    drop(view->archived, to_delete);
    for (auto& s : archived_now) view->archived.push_back(s);
    Publish(std::move(view));
  }
  for (const auto& s : to_delete) {
    // Scans holding the segment keep reading through their open descriptor.
    LODE_RETURN_IF_ERROR(env_->RemoveFile(s->path()));
    ++counters_.deleted_by_retention;
    spdlog::info("store: retention deleted {} (newest record {} s old)", s->path(),
                 (now - s->meta().max_ts) / 1'000'000'000);
  }
  return Status::OK();
}

Result<size_t> SegmentStore::RestoreArchived(const std::string& tenant, int64_t start_ns,
                                             int64_t end_ns) {
  std::lock_guard maintenance(maintenance_mu_);
  auto snapshot = Snapshot();
  std::vector<SegmentPtr> from, restored;
  for (const auto& s : snapshot->archived) {
    if (s->meta().tenant == tenant && s->meta().max_ts >= start_ns && s->meta().min_ts < end_ns) {
      from.push_back(s);
    }
  }
  for (const auto& s : from) {
    std::string to = SegmentPath(tenant, s->meta().id);
    LODE_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(JoinPath(options_.dir, "segments"), tenant)));
    LODE_RETURN_IF_ERROR(MoveFile(s->path(), to));
    LODE_ASSIGN_OR_RETURN(SegmentPtr seg, Segment::Open(env_, to));
    restored.push_back(std::move(seg));
  }
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    std::erase_if(view->archived, [&](const SegmentPtr& s) {
      return std::find(from.begin(), from.end(), s) != from.end();
    });
    for (auto& s : restored) view->segments.push_back(s);
    Publish(std::move(view));
  }
  counters_.restored += restored.size();
  return restored.size();
}

void SegmentStore::Quarantine(const SegmentPtr& seg, const Status& why) const {
  auto* self = const_cast<SegmentStore*>(this);
  {
    std::lock_guard lock(view_mu_);
    auto view = std::make_shared<View>(*Snapshot());
    size_t before = view->segments.size() + view->archived.size();
    std::erase(view->segments, seg);
    std::erase(view->archived, seg);
    if (view->segments.size() + view->archived.size() == before) return;  // already done
    self->Publish(std::move(view));
  }
  std::string to = JoinPath(JoinPath(options_.dir, "quarantine"),
                            seg->meta().tenant + "-" + SegmentFileName(seg->meta().id));
  Status s = env_->RenameFile(seg->path(), to);
  spdlog::error("store: quarantined {} ({}){}", seg->path(), why.ToString(),
                s.ok() ? "" : "; moving it failed: " + s.ToString());
  ++counters_.quarantined;
}

Status SegmentStore::Maintain() {
  bool more = true;
  while (more) LODE_RETURN_IF_ERROR(MaintainStep(&more));
  return Status::OK();
}

Status SegmentStore::MaintainStep(bool* more) {
  *more = false;
  if (FlushDue()) LODE_RETURN_IF_ERROR(Flush());
  std::lock_guard maintenance(maintenance_mu_);
  std::set<std::string> tenants;
  for (const auto& s : Snapshot()->segments) tenants.insert(s->meta().tenant);
  // At most one merge per tenant, so a flush is never kept waiting long.
  for (const auto& t : tenants) {
    bool merged = false;
    LODE_RETURN_IF_ERROR(MergeTenant(t, &merged));
    *more |= merged;
  }
  return ApplyRetention();
}

void SegmentStore::BackgroundLoop() {
  for (;;) {
    {
      std::unique_lock lock(bg_mu_);
      bg_cv_.wait_for(lock, std::chrono::nanoseconds(options_.maintenance_interval_ns),
                      [&] { return stopping_ || head_bytes_.load() >= options_.flush_bytes; });
      if (stopping_) return;
    }
    // Keep going without waiting while merges remain, checking for a due
    // flush between them.
    bool more = true;
    Status s;
    while (more && s.ok()) {
      s = MaintainStep(&more);
      std::lock_guard lock(bg_mu_);
      if (stopping_) return;
    }
    if (!s.ok()) {
      ++counters_.maintenance_errors;
      spdlog::error("store: background maintenance failed: {}", s.ToString());
      std::unique_lock lock(bg_mu_);
      bg_cv_.wait_for(lock, std::chrono::seconds(1), [&] { return stopping_; });
    }
  }
}

Status SegmentStore::Scan(const ScanSpec& spec, const RecordVisitor& visit) const {
  auto view = Snapshot();
  bool stopped = false;
  auto scan_chunks = [&](const std::vector<ChunkPtr>& chunks) {
    for (const auto& c : chunks) {
      if (stopped || spec.cancelled()) return;
      if (c->tenant != spec.tenant || !Overlaps(c->min_ts, c->max_ts, spec)) continue;
      if (spec.stats != nullptr) {
        spec.stats->rows.fetch_add(c->records.size(), std::memory_order_relaxed);
        spec.stats->head_rows.fetch_add(c->records.size(), std::memory_order_relaxed);
        spec.stats->head_bytes.fetch_add(c->bytes, std::memory_order_relaxed);
      }
      size_t n = 0;
      for (const Record& r : c->records) {
        if ((++n & 1023) == 0 && spec.cancelled()) return;
        if (spec.Matches(r) && !visit(r)) {
          stopped = true;
          return;
        }
      }
    }
  };
  // Sharded scans: the in-memory chunks and the segments are dealt out in
  // turn, each to one shard.
  const uint32_t shards = std::max<uint32_t>(spec.shards, 1);
  uint32_t turn = 0;
  auto mine = [&] { return turn++ % shards == spec.shard; };
  for (const auto* list : {&view->head, &view->flushing}) {
    std::vector<ChunkPtr> part;
    for (const auto& c : *list) {
      if (c->tenant != spec.tenant || !Overlaps(c->min_ts, c->max_ts, spec)) continue;
      if (mine()) part.push_back(c);
    }
    scan_chunks(part);
  }
  if (spec.cancelled()) return ScanCancelled();
  auto wrapped = [&](const Record& r) {
    if (!visit(r)) {
      stopped = true;
      return false;
    }
    return true;
  };
  auto scan_segments = [&](const std::vector<SegmentPtr>& segs) -> Status {
    for (const auto& s : segs) {
      if (stopped) break;
      const SegmentMeta& m = s->meta();
      if (m.tenant != spec.tenant || !Overlaps(m.min_ts, m.max_ts, spec)) continue;
      if (!mine()) continue;
      Status st = s->Scan(spec, wrapped, spec.columns);
      if (st.code() == StatusCode::kCorruption) {
        Quarantine(s, st);
        continue;
      }
      LODE_RETURN_IF_ERROR(st);
    }
    return Status::OK();
  };
  LODE_RETURN_IF_ERROR(scan_segments(view->segments));
  if (spec.include_archive) LODE_RETURN_IF_ERROR(scan_segments(view->archived));
  return Status::OK();
}

Status SegmentStore::CountSegments(const std::vector<SegmentPtr>& segments, const ScanSpec& spec,
                                   const CountSpec& cs, CountResult* out) const {
  CountKey key;
  auto add_row = [&](const Record& r) {
    AddToCount(r, cs, &key, out);
    return true;
  };
  // Message and instance conditions need the rows themselves.
  const bool rows_only = !spec.required_substrings.empty() || !spec.required_any.empty() ||
                         !spec.instances.empty() || !spec.sources.empty();
  std::vector<int64_t> times;
  std::string levels;
  std::vector<uint64_t> cells;
  auto count_segment = [&](const SegmentPtr& seg) -> Status {
    if (spec.cancelled()) return ScanCancelled();
    if (rows_only) {
      return seg->Scan(
          spec,
          [&](const Record& r) {
            ++out->scanned;
            return add_row(r);
          },
          0);
    }
    const std::vector<uint32_t> cands = seg->CandidateBlocks(spec);
    if (spec.stats != nullptr && !cands.empty()) {
      spec.stats->segments.fetch_add(1, std::memory_order_relaxed);
    }
    for (uint32_t b : cands) {
      const BlockInfo& bi = seg->blocks()[b];
      bool inside = bi.min_ts >= spec.start_ns && bi.max_ts < spec.end_ns;
      bool one_bucket = cs.step_ns == 0 || cs.Bucket(bi.min_ts) == cs.Bucket(bi.max_ts);
      if (inside && one_bucket) {
        if (cs.by_service) key.service = seg->services()[bi.service_id];
        if (cs.step_ns > 0) key.bucket = cs.Bucket(bi.min_ts);
        for (int l = 0; l < kLevelCount; ++l) {
          uint32_t n = bi.level_counts[static_cast<size_t>(l)];
          if (n == 0 || (spec.level_mask & (1u << l)) == 0) continue;
          key.level = cs.by_level ? l : -1;
          out->counts[key] += n;
          out->matched += n;
        }
        continue;
      }
      if (spec.cancelled()) return ScanCancelled();
      LODE_RETURN_IF_ERROR(seg->ReadTimesAndLevels(b, &times, &levels));
      out->scanned += times.size();
      if (spec.stats != nullptr) {
        spec.stats->blocks.fetch_add(1, std::memory_order_relaxed);
        spec.stats->bytes_read.fetch_add(bi.size, std::memory_order_relaxed);
        spec.stats->rows.fetch_add(times.size(), std::memory_order_relaxed);
      }
      // The block has one service: count per (level, bucket) in a flat array
      // and touch the result map once per non-zero cell.
      // Buckets span the part of the block inside the query range.
      const int64_t step = cs.step_ns > 0 ? cs.step_ns : 0;
      const int64_t lo = std::max(bi.min_ts, spec.start_ns);
      const int64_t hi = std::min(bi.max_ts, spec.end_ns - 1);
      const int64_t first = step > 0 ? cs.Bucket(lo) : 0;
      const uint64_t span =
          step > 0 ? static_cast<uint64_t>(cs.Bucket(hi) - first) / static_cast<uint64_t>(step) + 1
                   : 1;
      if (span > 100'000) {  // a fine step over a long block: count row by row
        if (cs.by_service) key.service = seg->services()[bi.service_id];
        for (size_t i = 0; i < times.size(); ++i) {
          auto level = static_cast<unsigned>(static_cast<uint8_t>(levels[i]));
          if (times[i] < spec.start_ns || times[i] >= spec.end_ns || level >= kLevelCount) continue;
          if ((spec.level_mask & (1u << level)) == 0) continue;
          key.level = cs.by_level ? static_cast<int>(level) : -1;
          key.bucket = cs.Bucket(times[i]);
          ++out->counts[key];
          ++out->matched;
        }
        continue;
      }
      const size_t buckets = static_cast<size_t>(span);
      cells.assign(buckets * kLevelCount, 0);
      for (size_t i = 0; i < times.size(); ++i) {
        const int64_t t = times[i];
        const auto level = static_cast<size_t>(static_cast<uint8_t>(levels[i]));
        if (t < spec.start_ns || t >= spec.end_ns || level >= kLevelCount) continue;
        if ((spec.level_mask & (1u << level)) == 0) continue;
        size_t bucket = step > 0 ? static_cast<size_t>((t - first) / step) : 0;
        ++cells[bucket * kLevelCount + level];
      }
      if (cs.by_service) key.service = seg->services()[bi.service_id];
      for (size_t bucket = 0; bucket < buckets; ++bucket) {
        for (int l = 0; l < kLevelCount; ++l) {
          uint64_t n = cells[bucket * kLevelCount + static_cast<size_t>(l)];
          if (n == 0) continue;
          key.level = cs.by_level ? l : -1;
          key.bucket = step > 0 ? first + static_cast<int64_t>(bucket) * step : 0;
          out->counts[key] += n;
          out->matched += n;
        }
      }
    }
    return Status::OK();
  };
  for (const auto& seg : segments) {
    Status st = count_segment(seg);
    if (st.code() == StatusCode::kCorruption) {
      Quarantine(seg, st);
      continue;
    }
    LODE_RETURN_IF_ERROR(st);
  }
  return Status::OK();
}

Status SegmentStore::Count(const ScanSpec& spec, const CountSpec& cs, CountResult* out) const {
  auto view = Snapshot();
  CountKey key;
  for (const auto* list : {&view->head, &view->flushing}) {
    for (const auto& c : *list) {
      if (c->tenant != spec.tenant || !Overlaps(c->min_ts, c->max_ts, spec)) continue;
      out->scanned += c->records.size();
      if (spec.stats != nullptr) {
        spec.stats->rows.fetch_add(c->records.size(), std::memory_order_relaxed);
        spec.stats->head_rows.fetch_add(c->records.size(), std::memory_order_relaxed);
      }
      for (const Record& r : c->records) {
        if (spec.Matches(r)) AddToCount(r, cs, &key, out);
      }
    }
  }
  std::vector<SegmentPtr> segments;
  uint64_t rows = 0;
  for (const auto* list : {&view->segments, &view->archived}) {
    if (list == &view->archived && !spec.include_archive) continue;
    for (const auto& seg : *list) {
      const SegmentMeta& m = seg->meta();
      if (m.tenant != spec.tenant || !Overlaps(m.min_ts, m.max_ts, spec)) continue;
      segments.push_back(seg);
      rows += m.rows;
    }
  }
  // Large counts use a second thread: half the segments each, results added.
  if (segments.size() < 2 || rows < options_.parallel_count_rows) {
    return CountSegments(segments, spec, cs, out);
  }
  std::vector<SegmentPtr> halves[2];
  for (size_t i = 0; i < segments.size(); ++i) halves[i % 2].push_back(segments[i]);
  CountResult other;
  auto second =
      std::async(std::launch::async, [&] { return CountSegments(halves[1], spec, cs, &other); });
  Status first = CountSegments(halves[0], spec, cs, out);
  Status st = second.get();
  LODE_RETURN_IF_ERROR(first);
  LODE_RETURN_IF_ERROR(st);
  out->scanned += other.scanned;
  out->matched += other.matched;
  for (const auto& [k, n] : other.counts) out->counts[k] += n;
  return Status::OK();
}

Status SegmentStore::LabelValues(const ScanSpec& spec, std::string_view name,
                                 std::set<std::string>* out) const {
  const bool service = name == "service", instance = name == "instance", source = name == "source",
             level = name == "level";
  if (!service && !instance && !source && !level) return Status::OK();
  auto view = Snapshot();
  for (const auto* list : {&view->head, &view->flushing}) {
    for (const auto& c : *list) {
      if (c->tenant != spec.tenant || !Overlaps(c->min_ts, c->max_ts, spec)) continue;
      for (const Record& r : c->records) {
        if (!spec.Matches(r)) continue;
        const std::string& v = service ? r.service : instance ? r.instance : r.source;
        if (level) {
          out->emplace(LevelName(r.level));
        } else if (!v.empty()) {
          out->insert(v);
        }
      }
    }
  }
  // Segments answer from their dictionaries and block statistics when the
  // spec selects nothing finer than time and service; otherwise from rows.
  const bool rows = !spec.instances.empty() || !spec.sources.empty() ||
                    !spec.required_substrings.empty() || !spec.required_any.empty();
  for (const auto* list : {&view->segments, &view->archived}) {
    if (list == &view->archived && !spec.include_archive) continue;
    for (const auto& seg : *list) {
      const SegmentMeta& m = seg->meta();
      if (m.tenant != spec.tenant || !Overlaps(m.min_ts, m.max_ts, spec)) continue;
      if (spec.cancelled()) return ScanCancelled();
      if (rows || ((instance || source) && (!spec.services.empty() || spec.level_mask != ~0u))) {
        ScanSpec narrow = spec;
        narrow.columns = kScanInstance | kScanSource;
        Status st = seg->Scan(
            narrow,
            [&](const Record& r) {
              const std::string& v = service ? r.service : instance ? r.instance : r.source;
              if (level) {
                out->emplace(LevelName(r.level));
              } else if (!v.empty()) {
                out->insert(v);
              }
              return true;
            },
            narrow.columns);
        if (st.code() == StatusCode::kCorruption) {
          Quarantine(seg, st);
          continue;
        }
        LODE_RETURN_IF_ERROR(st);
        continue;
      }
      if (instance || source) {
        for (const std::string& v : instance ? seg->instances() : seg->sources()) {
          if (!v.empty()) out->insert(v);
        }
        continue;
      }
      for (uint32_t b : seg->CandidateBlocks(spec)) {
        const BlockInfo& bi = seg->blocks()[b];
        if (service) {
          const std::string& v = seg->services()[bi.service_id];
          if (!v.empty()) out->insert(v);
          continue;
        }
        for (int l = 0; l < kLevelCount; ++l) {
          if (bi.level_counts[static_cast<size_t>(l)] > 0 && (spec.level_mask >> l & 1u)) {
            out->emplace(LevelName(static_cast<Level>(l)));
          }
        }
      }
    }
  }
  return Status::OK();
}

StoreStats SegmentStore::Stats() const {
  auto view = Snapshot();
  StoreStats st;
  for (const auto* list : {&view->head, &view->flushing}) {
    for (const auto& c : *list) {
      st.records += c->records.size();
      st.memory_bytes += c->bytes;
    }
  }
  for (const auto& s : view->segments) {
    st.records += s->meta().rows;
    st.segment_bytes += s->file_bytes();
  }
  st.segments = view->segments.size();
  for (const auto& s : view->archived) st.archived_bytes += s->file_bytes();
  st.archived_segments = view->archived.size();
  st.wal_bytes = wal_bytes_.load();
  return st;
}

}  // namespace lode
