#include "storage/segment.h"

#include <unistd.h>
#include <zstd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <numeric>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"

namespace lode {

namespace {

// --- Format constants (docs/formats/segment.md) -------------------------------------------------

constexpr std::string_view kMagic = "LODESEG1";
constexpr uint64_t kHeaderSize = 8;  // the magic, so `file` and humans recognize a segment

// Sections after the blocks, in file order.
enum SectionId {
  kSecDirectory,
  kSecDictionaries,
  kSecTextIndex,
  kSecLabels,
  kSecMeta,
  kSectionCount
};
constexpr const char* kSectionNames[kSectionCount] = {"block directory", "dictionaries",
                                                      "text index", "label index", "meta"};
constexpr size_t kSectionEntrySize = 32;  // offset, stored size, raw size (fixed64), crc, codec
// The last 20 bytes of every format version: footer size, version, footer crc, magic. A reader
// finds the version there before it knows anything else about the layout.
constexpr size_t kFooterTailSize = 20;
constexpr size_t kFooterSize = kSectionCount * kSectionEntrySize + 8 + kFooterTailSize;

// Columns of a block, in file order. Timestamp and level come first so that the most common
// read (time + level, e.g. histograms and counts) is one short contiguous range. Version 2 added
// the pattern column at the end, so a version 1 block is a version 2 block's first 8 columns.
enum ColumnId { kTs, kLevelCol, kObs, kFlagsCol, kInst, kSrc, kMsg, kAttr, kPat, kColumnCount };
constexpr const char* kColumnNames[kColumnCount] = {"timestamp", "level",      "observed",
                                                    "flags",     "instance",   "source",
                                                    "message",   "attributes", "pattern"};

// Columns per block in a file of format `version`.
constexpr int ColumnCount(uint32_t version) {
  return version >= 2 ? kColumnCount : kPat;
}

enum Codec : uint8_t {
  kCodecRaw = 0,    // stored bytes are the raw bytes
  kCodecZstd = 1,   // one zstd frame
  kCodecConst = 2,  // the encoding of one row's value, which every row of the block has
};

// Observed-time encodings (first byte of the raw observed column).
enum ObservedMode : uint8_t {
  kObsVsTimestamp = 0,  // zigzag(observed - timestamp) per row
  kObsVsPrevious = 1,   // first row as mode 0, then zigzag(observed - previous observed)
};

// Bound what a damaged or hostile length can make a reader allocate. The writer cuts blocks at
// kMaxBlockRows whatever rows_per_block says.
constexpr uint64_t kMaxRawBytes = uint64_t{1} << 30;
constexpr uint32_t kMaxBlockRows = uint32_t{1} << 24;

constexpr int kSmallColumnLevel = 3;
constexpr int kSectionLevel = 3;

// A trigram that occurs in more than this fraction of blocks is stored as "all blocks".
constexpr uint32_t kAllBlocksPercent = 90;

// Read coalescing: needed columns separated by at most this many unneeded bytes are fetched
// with one read (one pread beats two, until the skipped bytes cost more than the syscall).
constexpr uint64_t kMaxReadGap = 16 * 1024;

// --- Small helpers ---------------------------------------------------------------------------

uint32_t MaskedCrc(std::string_view data) {
  return crc32c::Mask(crc32c::Value(data));
}

int64_t WrapAdd(int64_t a, uint64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + b);
}

uint64_t WrapSub(int64_t a, int64_t b) {
  return static_cast<uint64_t>(a) - static_cast<uint64_t>(b);
}

void PutZigZag(std::string* dst, int64_t v) {
  PutVarint64(dst, ZigZagEncode64(v));
}

bool GetZigZag(std::string_view* in, int64_t* v) {
  uint64_t u;
  if (!GetVarint64(in, &u)) return false;
  *v = ZigZagDecode64(u);
  return true;
}

constexpr std::array<uint8_t, 256> MakeLowerTable() {
  std::array<uint8_t, 256> t{};
  for (int i = 0; i < 256; ++i) {
    t[static_cast<size_t>(i)] = static_cast<uint8_t>(i >= 'A' && i <= 'Z' ? i + ('a' - 'A') : i);
  }
  return t;
}
constexpr std::array<uint8_t, 256> kLower = MakeLowerTable();

// DecodeVarint64 with the one- and two-byte cases inline (deltas and ids are mostly short).
[[gnu::always_inline]] inline const char* FastVarint(const char* p, const char* end, uint64_t* v) {
  if (end - p >= 2) {
    const auto b0 = static_cast<uint8_t>(p[0]);
    if (b0 < 0x80) {
      *v = b0;
      return p + 1;
    }
    const auto b1 = static_cast<uint8_t>(p[1]);
    if (b1 < 0x80) {
      *v = (b0 & 0x7Fu) | (uint64_t{b1} << 7);
      return p + 2;
    }
  }
  return DecodeVarint64(p, end, v);
}

// Ignores a status on a path that already fails with a more useful one.
void IgnoreError(const Status&) {}

// --- zstd contexts: one per thread, reused across calls ----------------------------------------

struct CCtxFree {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DCtxFree {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};

ZSTD_CCtx* ThreadCCtx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CCtxFree> ctx(ZSTD_createCCtx());
  return ctx.get();
}

ZSTD_DCtx* ThreadDCtx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DCtxFree> ctx(ZSTD_createDCtx());
  return ctx.get();
}

// Appends `raw` compressed with zstd at `level` to *out, or `raw` itself when compression does
// not make it smaller. Returns the codec used.
Codec AppendCompressed(std::string_view raw, int level, std::string* out) {
  ZSTD_CCtx* cctx = ThreadCCtx();
  if (cctx != nullptr && raw.size() > 16) {
    const size_t old = out->size();
    out->resize(old + ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compressCCtx(cctx, out->data() + old, out->size() - old, raw.data(),
                                       raw.size(), level);
    if (!ZSTD_isError(n) && n < raw.size()) {
      out->resize(old + n);
      return kCodecZstd;
    }
    out->resize(old);
  }
  out->append(raw);
  return kCodecRaw;
}

// Decompresses one frame that must expand to exactly `raw_size` bytes into *out.
bool Decompress(std::string_view stored, uint64_t raw_size, std::string* out) {
  if (raw_size > kMaxRawBytes) return false;
  out->resize(static_cast<size_t>(raw_size));
  ZSTD_DCtx* dctx = ThreadDCtx();  // null only when out of memory: use the one-shot call then
  const size_t n =
      dctx != nullptr
          ? ZSTD_decompressDCtx(dctx, out->data(), out->size(), stored.data(), stored.size())
          : ZSTD_decompress(out->data(), out->size(), stored.data(), stored.size());
  return !ZSTD_isError(n) && n == raw_size;
}

// --- Posting lists ---------------------------------------------------------------------------
// A posting list is a set of block ids in one of two forms, whichever is smaller: a list
// (varint first id, then varint gaps >= 1) or a bitmap (ceil(blocks / 8) bytes, bit i of byte
// i / 8 for block i). The tables that locate postings store (length << 1 | is_bitmap). An empty
// posting means "every block".

struct PostingRef {
  std::string_view bytes;
  bool bitmap = false;
};

// Appends the smaller encoding of `ids` (ascending, below num_blocks) to *out; true if bitmap.
bool EncodePosting(const std::vector<uint32_t>& ids, uint64_t num_blocks, std::string* out) {
  const size_t before = out->size();
  uint32_t prev = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    PutVarint32(out, i == 0 ? ids[i] : ids[i] - prev);
    prev = ids[i];
  }
  const size_t bitmap_bytes = static_cast<size_t>((num_blocks + 7) / 8);
  if (out->size() - before <= bitmap_bytes) return false;
  out->resize(before);
  out->resize(before + bitmap_bytes, '\0');
  char* bits = out->data() + before;
  for (uint32_t id : ids) bits[id / 8] = static_cast<char>(bits[id / 8] | (1 << (id % 8)));
  return true;
}

// Decodes `posting` (not "all") into *ids, ascending. False if it is malformed. Postings are
// checksummed with their section but not decoded at Open (that would dominate its cost), so
// queries check them as they use them.
bool DecodePosting(PostingRef posting, uint32_t num_blocks, std::vector<uint32_t>* ids) {
  ids->clear();
  std::string_view in = posting.bytes;
  if (posting.bitmap) {
    if (in.size() != (uint64_t{num_blocks} + 7) / 8) return false;
    for (size_t i = 0; i < in.size(); ++i) {
      for (unsigned bits = static_cast<uint8_t>(in[i]); bits != 0; bits &= bits - 1) {
        const uint32_t id =
            static_cast<uint32_t>(i * 8) + static_cast<uint32_t>(std::countr_zero(bits));
        if (id >= num_blocks) return false;
        ids->push_back(id);
      }
    }
    return true;
  }
  uint64_t id = 0;
  while (!in.empty()) {
    uint64_t v;
    if (!GetVarint64(&in, &v)) return false;
    if (!ids->empty() && v == 0) return false;
    id += v;
    if (v >= num_blocks || id >= num_blocks) return false;
    ids->push_back(static_cast<uint32_t>(id));
  }
  return true;
}

// Keeps in *cands (sorted) only the ids that are in `posting`. A malformed posting removes
// nothing: a candidate too many is safe, a missed one is not.
void IntersectPosting(PostingRef posting, uint32_t num_blocks, std::vector<uint32_t>* cands) {
  if (posting.bytes.empty()) return;  // all blocks
  std::vector<uint32_t> ids;
  if (!DecodePosting(posting, num_blocks, &ids)) return;
  std::vector<uint32_t>& c = *cands;
  c.erase(std::set_intersection(c.begin(), c.end(), ids.begin(), ids.end(), c.begin()), c.end());
}

// Sets mark[id] for every id of `posting`; every id for "all" or a malformed posting.
void MarkPosting(PostingRef posting, std::vector<uint8_t>* mark) {
  std::vector<uint32_t> ids;
  if (posting.bytes.empty() || !DecodePosting(posting, static_cast<uint32_t>(mark->size()), &ids)) {
    std::fill(mark->begin(), mark->end(), 1);
    return;
  }
  for (uint32_t id : ids) (*mark)[id] = 1;
}

// --- Dictionaries (writer side) --------------------------------------------------------------

// Assigns ids to distinct strings in first-seen order. Neighbouring rows (sorted by service)
// mostly repeat a handful of values, so a few most-recently-used entries are compared before the
// hash table is asked.
class DictBuilder {
 public:
  uint32_t Add(std::string_view s) {
    for (const Entry& e : mru_) {
      if (e.id != kNone && e.view.size() == s.size() &&
          (s.empty() || std::memcmp(e.view.data(), s.data(), s.size()) == 0)) {
        return e.id;
      }
    }
    const uint32_t id = Lookup(s);
    mru_[next_mru_] = {s, id};
    next_mru_ = (next_mru_ + 1) % mru_.size();
    return id;
  }

  // Add() without the most-recently-used check, for callers with a cache of their own.
  uint32_t Lookup(std::string_view s) {
    auto [it, inserted] = ids_.try_emplace(s, static_cast<uint32_t>(values_.size()));
    if (inserted) values_.push_back(s);
    return it->second;
  }

  // Sorts the values; remap()[first_seen_id] is then the id in values().
  void Sort() {
    std::vector<uint32_t> order(values_.size());
    std::iota(order.begin(), order.end(), 0);
    std::sort(order.begin(), order.end(),
              [&](uint32_t a, uint32_t b) { return values_[a] < values_[b]; });
    remap_.resize(values_.size());
    std::vector<std::string_view> sorted(values_.size());
    for (uint32_t i = 0; i < order.size(); ++i) {
      remap_[order[i]] = i;
      sorted[i] = values_[order[i]];
    }
    values_.swap(sorted);
  }

  const std::vector<uint32_t>& remap() const { return remap_; }
  const std::vector<std::string_view>& values() const { return values_; }

 private:
  static constexpr uint32_t kNone = UINT32_MAX;
  struct Entry {
    std::string_view view;
    uint32_t id = kNone;
  };
  std::unordered_map<std::string_view, uint32_t> ids_;
  std::vector<std::string_view> values_;
  std::array<Entry, 8> mru_{};
  size_t next_mru_ = 0;
  std::vector<uint32_t> remap_;
};

void PutDictionary(const std::vector<std::string_view>& values, std::string* out) {
  PutVarint64(out, values.size());
  for (std::string_view v : values) PutLengthPrefixed(out, v);
}

// --- Segment writer --------------------------------------------------------------------------

struct ColumnEntry {
  Codec codec = kCodecRaw;
  uint64_t stored = 0;
  uint64_t raw = 0;
  uint32_t crc = 0;
};

struct BlockEntry {
  uint32_t rows = 0;
  uint32_t service_id = 0;
  int64_t min_ts = 0;
  int64_t max_ts = 0;
  std::array<uint32_t, kLevelCount> level_counts{};
  std::array<ColumnEntry, kColumnCount> columns{};
};

struct SectionEntry {
  uint64_t offset = 0;
  uint64_t stored = 0;
  uint64_t raw = 0;
  uint32_t crc = 0;
  uint32_t codec = kCodecRaw;
};

// How far ahead (in rows) the block pass prefetches records and then their heap data. Rows are
// visited in sorted order, which is scattered over the input, so without this nearly every
// record costs a cache miss.
constexpr size_t kPrefetchRecord = 16;
constexpr size_t kPrefetchData = 8;
constexpr size_t kPrefetchAttrs = 4;

class SegmentWriter {
 public:
  SegmentWriter(const SegmentMeta& meta, std::span<const Record* const> records,
                const SegmentWriteOptions& options)
      : meta_(meta), records_(records), options_(options) {}

  Status Write(WritableFile* file);

 private:
  void SortRows();
  void GatherBlock(size_t begin, size_t end);
  Status WriteBlock(size_t begin, size_t end, WritableFile* file);
  void AddColumn(BlockEntry* block, ColumnId col, std::string_view raw, int level);
  void AddConstOrCompressed(BlockEntry* block, ColumnId col, std::string_view raw,
                            std::string_view one_value, bool constant);
  std::string BuildDirectory() const;
  std::string BuildDictionarySection() const;
  std::string BuildTextIndex();
  std::string BuildLabels() const;
  std::string BuildMeta() const;
  Status WriteSection(SectionId id, std::string_view raw, bool compress, WritableFile* file);

  SegmentMeta meta_;
  std::span<const Record* const> records_;
  SegmentWriteOptions options_;

  // Per sorted row position.
  std::vector<uint32_t> order_;    // input index of the row
  std::vector<uint32_t> service_;  // (sorted) service id

  // Dictionaries: services sorted, the others in first-seen order.
  DictBuilder services_;
  DictBuilder instances_;
  DictBuilder sources_;
  DictBuilder attr_keys_;
  // Attribute key id by position in the record: rows of one service repeat the same keys.
  std::vector<std::pair<std::string_view, uint32_t>> attr_key_cache_;

  std::vector<BlockEntry> blocks_;
  uint64_t offset_ = 0;  // bytes written so far

  // Text index: per block, the trigrams seen (bitmap + list), then (trigram << 32 | block).
  std::vector<uint64_t> trigram_bits_;
  std::vector<uint32_t> block_trigrams_;
  std::vector<uint64_t> pairs_;

  // Label postings, by id.
  std::vector<std::vector<uint32_t>> instance_blocks_;
  std::vector<std::vector<uint32_t>> source_blocks_;

  std::array<SectionEntry, kSectionCount> sections_{};

  // The current block's values, gathered from the records in one pass.
  std::vector<int64_t> ts_;
  std::vector<int64_t> obs_;
  std::string level_;
  std::string flags_;
  std::vector<uint32_t> inst_;
  std::vector<uint32_t> src_;
  std::vector<uint32_t> pat_;
  std::string msg_;  // message column: lengths, then (appended after the pass) msg_bytes_
  std::string msg_bytes_;
  std::string attrs_;  // attribute column

  // Scratch buffers reused from block to block.
  std::string raw_;
  std::string raw2_;
  std::string block_;
  std::string compressed_;
};

void SegmentWriter::SortRows() {
  const size_t n = records_.size();
  std::vector<uint32_t> tmp_service(n);
  std::vector<int64_t> ts(n);  // a dense copy: the sort compares it a lot, the records are big
  for (size_t i = 0; i < n; ++i) {
    tmp_service[i] = services_.Add(records_[i]->service);
    ts[i] = records_[i]->timestamp_ns;
  }
  services_.Sort();
  const std::vector<uint32_t>& remap = services_.remap();
  const size_t num_services = services_.values().size();

  // Counting sort by service (stable), then a stable sort by time inside each service, skipped
  // when the rows already arrive in time order (the usual case for a flushed head).
  std::vector<uint32_t> start(num_services + 1, 0);
  for (size_t i = 0; i < n; ++i) ++start[remap[tmp_service[i]] + 1];
  for (size_t s = 0; s < num_services; ++s) start[s + 1] += start[s];
  order_.resize(n);
  service_.resize(n);
  std::vector<uint32_t> next(start.begin(), start.end() - 1);
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = remap[tmp_service[i]];
    service_[next[s]] = s;
    order_[next[s]++] = static_cast<uint32_t>(i);
  }
  auto by_ts = [&](uint32_t a, uint32_t b) { return ts[a] < ts[b]; };
  for (size_t s = 0; s < num_services; ++s) {
    auto first = order_.begin() + start[s];
    auto last = order_.begin() + start[s + 1];
    if (!std::is_sorted(first, last, by_ts)) std::stable_sort(first, last, by_ts);
  }
}

// One pass over the block's records: copies the fixed-size fields, assigns dictionary ids,
// encodes the message and attribute columns and collects the trigrams of the messages.
void SegmentWriter::GatherBlock(size_t begin, size_t end) {
  const size_t rows = end - begin;
  ts_.resize(rows);
  obs_.resize(rows);
  level_.resize(rows);
  flags_.resize(rows);
  inst_.resize(rows);
  src_.resize(rows);
  pat_.resize(rows);
  msg_.resize(rows * kMaxVarint64Bytes);
  char* lens = msg_.data();
  msg_bytes_.clear();
  attrs_.clear();
  uint64_t* bits = trigram_bits_.data();
  char buf[2 * kMaxVarint64Bytes];
  for (size_t k = 0; k < rows; ++k) {
    const size_t p = begin + k;
    if (p + kPrefetchRecord < end) {
      const char* ahead = reinterpret_cast<const char*>(records_[order_[p + kPrefetchRecord]]);
      for (size_t line = 0; line < sizeof(Record); line += 64) __builtin_prefetch(ahead + line);
    }
    if (p + kPrefetchData < end) {
      const Record& ahead = *records_[order_[p + kPrefetchData]];
      __builtin_prefetch(ahead.message.data());
      __builtin_prefetch(ahead.message.data() + 64);
      __builtin_prefetch(ahead.instance.data());
      __builtin_prefetch(ahead.attributes.data());
    }
    if (p + kPrefetchAttrs < end) {
      for (const Attribute& a : records_[order_[p + kPrefetchAttrs]]->attributes) {
        __builtin_prefetch(a.key.data());
        __builtin_prefetch(a.value.data());
      }
    }
    const Record& r = *records_[order_[p]];
    ts_[k] = r.timestamp_ns;
    obs_[k] = r.observed_ns;
    level_[k] = static_cast<char>(r.level);
    flags_[k] = static_cast<char>(r.flags);
    inst_[k] = instances_.Add(r.instance);
    src_[k] = sources_.Add(r.source);
    pat_[k] = r.pattern_id;

    const std::string& m = r.message;
    lens = EncodeVarint64(lens, m.size());
    msg_bytes_.append(m);
    // Trigrams of the lower-cased message; the bitmap makes each one count once per block.
    if (m.size() >= 3) {
      const auto* s = reinterpret_cast<const uint8_t*>(m.data());
      uint32_t t = (uint32_t{kLower[s[0]]} << 8) | kLower[s[1]];
      for (size_t j = 2; j < m.size(); ++j) {
        t = ((t << 8) | kLower[s[j]]) & 0xFFFFFF;
        const uint64_t bit = uint64_t{1} << (t & 63);
        if ((bits[t >> 6] & bit) == 0) {
          bits[t >> 6] |= bit;
          block_trigrams_.push_back(t);
        }
      }
    }

    attrs_.append(buf, static_cast<size_t>(EncodeVarint64(buf, r.attributes.size()) - buf));
    if (attr_key_cache_.size() < r.attributes.size()) attr_key_cache_.resize(r.attributes.size());
    for (size_t a = 0; a < r.attributes.size(); ++a) {
      const Attribute& attr = r.attributes[a];
      auto& [cached, cached_id] = attr_key_cache_[a];
      if (cached.data() == nullptr || cached.size() != attr.key.size() ||
          std::memcmp(cached.data(), attr.key.data(), attr.key.size()) != 0) {
        cached = attr.key;
        cached_id = attr_keys_.Lookup(attr.key);
      }
      char* q = EncodeVarint64(buf, cached_id);
      q = EncodeVarint64(q, attr.value.size());
      attrs_.append(buf, static_cast<size_t>(q - buf));
      attrs_.append(attr.value);
    }
  }
  msg_.resize(static_cast<size_t>(lens - msg_.data()));
  msg_ += msg_bytes_;
}

void SegmentWriter::AddColumn(BlockEntry* block, ColumnId col, std::string_view raw, int level) {
  const size_t old = block_.size();
  ColumnEntry& c = block->columns[col];
  c.codec = AppendCompressed(raw, level, &block_);
  c.raw = raw.size();
  c.stored = block_.size() - old;
  c.crc = MaskedCrc(std::string_view(block_).substr(old));
}

void SegmentWriter::AddConstOrCompressed(BlockEntry* block, ColumnId col, std::string_view raw,
                                         std::string_view one_value, bool constant) {
  if (!constant) {
    AddColumn(block, col, raw, kSmallColumnLevel);
    return;
  }
  ColumnEntry& c = block->columns[col];
  c.codec = kCodecConst;
  c.raw = c.stored = one_value.size();
  c.crc = MaskedCrc(one_value);
  block_.append(one_value);
}

// Encodes `values` as varints into *out (replaced).
void EncodeVarints(const std::vector<uint32_t>& values, std::string* out) {
  out->resize(values.size() * kMaxVarint32Bytes);
  char* p = out->data();
  for (uint32_t v : values) p = EncodeVarint64(p, v);
  out->resize(static_cast<size_t>(p - out->data()));
}

Status SegmentWriter::WriteBlock(size_t begin, size_t end, WritableFile* file) {
  const uint32_t block_id = static_cast<uint32_t>(blocks_.size());
  const size_t rows = end - begin;
  GatherBlock(begin, end);
  BlockEntry block;
  block.rows = static_cast<uint32_t>(rows);
  block.service_id = service_[begin];
  block.min_ts = ts_.front();
  block.max_ts = ts_.back();
  block_.clear();

  // Timestamps: first value, the gcd of the deltas, then delta / gcd. Rows are sorted, so the
  // deltas are non-negative (unsigned, wrapping arithmetic keeps INT64_MIN..INT64_MAX exact),
  // and the gcd strips the zeros of ms- or s-precision sources.
  uint64_t divisor = 0;
  for (size_t k = 1; k < rows && divisor != 1; ++k) {
    divisor = std::gcd(divisor, WrapSub(ts_[k], ts_[k - 1]));
  }
  if (divisor == 0) divisor = 1;
  raw_.resize(2 * kMaxVarint64Bytes + rows * kMaxVarint64Bytes);
  char* p = EncodeVarint64(raw_.data(), ZigZagEncode64(block.min_ts));
  p = EncodeVarint64(p, divisor);
  for (size_t k = 1; k < rows; ++k) p = EncodeVarint64(p, WrapSub(ts_[k], ts_[k - 1]) / divisor);
  raw_.resize(static_cast<size_t>(p - raw_.data()));
  AddColumn(&block, kTs, raw_, kSmallColumnLevel);

  // Level.
  bool same = true;
  for (char l : level_) {
    ++block.level_counts[static_cast<uint8_t>(l)];
    same = same && l == level_[0];
  }
  AddConstOrCompressed(&block, kLevelCol, level_, std::string_view(level_).substr(0, 1), same);

  // Observed: both encodings, keep the one that compresses better. Ingest time is constant over
  // an HTTP batch (mode 1 wins), a fixed pipeline delay makes mode 0 win.
  raw_.resize(1 + rows * kMaxVarint64Bytes);
  raw2_.resize(1 + rows * kMaxVarint64Bytes);
  raw_[0] = static_cast<char>(kObsVsTimestamp);
  raw2_[0] = static_cast<char>(kObsVsPrevious);
  p = raw_.data() + 1;
  char* p2 = raw2_.data() + 1;
  for (size_t k = 0; k < rows; ++k) {
    p = EncodeVarint64(p, ZigZagEncode64(static_cast<int64_t>(WrapSub(obs_[k], ts_[k]))));
    const int64_t base = k == 0 ? ts_[0] : obs_[k - 1];
    p2 = EncodeVarint64(p2, ZigZagEncode64(static_cast<int64_t>(WrapSub(obs_[k], base))));
  }
  raw_.resize(static_cast<size_t>(p - raw_.data()));
  raw2_.resize(static_cast<size_t>(p2 - raw2_.data()));
  {
    compressed_.clear();
    const Codec c1 = AppendCompressed(raw_, kSmallColumnLevel, &compressed_);
    const size_t size1 = compressed_.size();
    const Codec c2 = AppendCompressed(raw2_, kSmallColumnLevel, &compressed_);
    const bool second = compressed_.size() - size1 < size1;
    const std::string_view all(compressed_);
    const std::string_view stored = second ? all.substr(size1) : all.substr(0, size1);
    ColumnEntry& c = block.columns[kObs];
    c.codec = second ? c2 : c1;
    c.raw = second ? raw2_.size() : raw_.size();
    c.stored = stored.size();
    c.crc = MaskedCrc(stored);
    block_.append(stored);
  }

  // Flags.
  same = std::all_of(flags_.begin(), flags_.end(), [&](char f) { return f == flags_[0]; });
  AddConstOrCompressed(&block, kFlagsCol, flags_, std::string_view(flags_).substr(0, 1), same);

  // Instance and source ids; label postings.
  for (ColumnId col : {kInst, kSrc}) {
    const std::vector<uint32_t>& ids = col == kInst ? inst_ : src_;
    std::vector<std::vector<uint32_t>>& postings = col == kInst ? instance_blocks_ : source_blocks_;
    same = true;
    for (uint32_t id : ids) {
      same = same && id == ids[0];
      if (id >= postings.size()) postings.resize(id + 1);
      std::vector<uint32_t>& list = postings[id];
      if (list.empty() || list.back() != block_id) list.push_back(block_id);
    }
    EncodeVarints(ids, &raw_);
    char one[kMaxVarint32Bytes];
    const std::string_view one_value(one, static_cast<size_t>(EncodeVarint64(one, ids[0]) - one));
    AddConstOrCompressed(&block, col, raw_, one_value, same);
  }

  AddColumn(&block, kMsg, msg_, options_.zstd_level);
  AddColumn(&block, kAttr, attrs_, options_.zstd_level);

  // Pattern ids (version 2). Rows of one service share few templates; a block of data written
  // without mining is all 0, a one-byte constant.
  if (options_.format_version >= 2) {
    same = std::all_of(pat_.begin(), pat_.end(), [&](uint32_t id) { return id == pat_[0]; });
    EncodeVarints(pat_, &raw_);
    char one[kMaxVarint32Bytes];
    const std::string_view one_value(one, static_cast<size_t>(EncodeVarint64(one, pat_[0]) - one));
    AddConstOrCompressed(&block, kPat, raw_, one_value, same);
  }

  for (const ColumnEntry& c : block.columns) {
    if (c.raw > kMaxRawBytes) {
      return Status::TooLarge("segment block " + std::to_string(block_id) + ": a column of " +
                              std::to_string(c.raw) + " bytes is over the limit of " +
                              std::to_string(kMaxRawBytes) + "; use fewer rows_per_block");
    }
  }

  for (uint32_t t : block_trigrams_) {
    trigram_bits_[t >> 6] = 0;  // the word's other set bits are all in the list too
    pairs_.push_back((uint64_t{t} << 32) | block_id);
  }
  block_trigrams_.clear();
  blocks_.push_back(block);
  offset_ += block_.size();
  return file->Append(block_);
}

std::string SegmentWriter::BuildDirectory() const {
  std::string out;
  PutVarint64(&out, blocks_.size());
  for (const BlockEntry& b : blocks_) {
    PutVarint32(&out, b.rows);
    PutVarint32(&out, b.service_id);
    PutZigZag(&out, b.min_ts);
    PutVarint64(&out, WrapSub(b.max_ts, b.min_ts));
    for (uint32_t count : b.level_counts) PutVarint32(&out, count);
    for (int i = 0; i < ColumnCount(options_.format_version); ++i) {
      const ColumnEntry& c = b.columns[static_cast<size_t>(i)];
      out.push_back(static_cast<char>(c.codec));
      PutVarint64(&out, c.stored);
      PutVarint64(&out, c.raw);
      PutFixed32(&out, c.crc);
    }
  }
  return out;
}

std::string SegmentWriter::BuildDictionarySection() const {
  std::string out;
  PutDictionary(services_.values(), &out);
  PutDictionary(instances_.values(), &out);
  PutDictionary(sources_.values(), &out);
  PutDictionary(attr_keys_.values(), &out);
  return out;
}

std::string SegmentWriter::BuildTextIndex() {
  // Stable LSD radix sort of the (trigram, block) pairs by trigram: pairs were appended in block
  // order, so each trigram's blocks come out ascending.
  std::vector<uint64_t> tmp(pairs_.size());
  for (int pass = 0; pass < 3; ++pass) {
    const int shift = 32 + 8 * pass;
    std::array<size_t, 257> count{};
    for (uint64_t v : pairs_) ++count[((v >> shift) & 0xFF) + 1];
    for (size_t i = 0; i < 256; ++i) count[i + 1] += count[i];
    for (uint64_t v : pairs_) tmp[count[(v >> shift) & 0xFF]++] = v;
    pairs_.swap(tmp);
  }
  tmp = {};

  const uint64_t num_blocks = blocks_.size();
  std::string keys;
  std::string postings;
  std::vector<uint32_t> ids;
  uint64_t num_trigrams = 0;
  uint32_t prev_key = 0;
  for (size_t i = 0; i < pairs_.size();) {
    const uint32_t key = static_cast<uint32_t>(pairs_[i] >> 32);
    ids.clear();
    for (; i < pairs_.size() && static_cast<uint32_t>(pairs_[i] >> 32) == key; ++i) {
      ids.push_back(static_cast<uint32_t>(pairs_[i]));
    }
    const size_t before = postings.size();
    bool bitmap = false;
    if (ids.size() * 100 <= num_blocks * kAllBlocksPercent) {
      bitmap = EncodePosting(ids, num_blocks, &postings);
    }
    PutVarint32(&keys, num_trigrams == 0 ? key : key - prev_key);
    PutVarint64(&keys, (postings.size() - before) << 1 | (bitmap ? 1 : 0));
    prev_key = key;
    ++num_trigrams;
  }
  pairs_ = {};
  std::string out;
  PutVarint64(&out, num_trigrams);
  out += keys;
  out += postings;
  return out;
}

std::string SegmentWriter::BuildLabels() const {
  std::string out;
  std::string postings;
  for (const auto* lists : {&instance_blocks_, &source_blocks_}) {
    PutVarint64(&out, lists->size());
    for (const std::vector<uint32_t>& ids : *lists) {
      const size_t before = postings.size();
      const bool bitmap = EncodePosting(ids, blocks_.size(), &postings);
      PutVarint64(&out, (postings.size() - before) << 1 | (bitmap ? 1 : 0));
    }
  }
  out += postings;
  return out;
}

std::string SegmentWriter::BuildMeta() const {
  std::string out;
  PutVarint64(&out, meta_.id);
  PutLengthPrefixed(&out, meta_.tenant);
  PutZigZag(&out, meta_.min_ts);
  PutZigZag(&out, meta_.max_ts);
  PutVarint64(&out, meta_.rows);
  PutVarint64(&out, meta_.max_wal_seq);
  PutVarint64(&out, meta_.replaces.size());
  for (uint64_t id : meta_.replaces) PutVarint64(&out, id);
  PutZigZag(&out, meta_.created_ns);
  if (options_.format_version >= 2) PutVarint32(&out, meta_.max_pattern_id);
  return out;
}

Status SegmentWriter::WriteSection(SectionId id, std::string_view raw, bool compress,
                                   WritableFile* file) {
  SectionEntry& s = sections_[id];
  compressed_.clear();
  s.codec = compress ? AppendCompressed(raw, kSectionLevel, &compressed_) : kCodecRaw;
  if (s.codec == kCodecRaw) compressed_.assign(raw);
  s.offset = offset_;
  s.stored = compressed_.size();
  s.raw = raw.size();
  s.crc = MaskedCrc(compressed_);
  offset_ += compressed_.size();
  return file->Append(compressed_);
}

Status SegmentWriter::Write(WritableFile* file) {
  const size_t n = records_.size();
  meta_.rows = n;
  meta_.min_ts = INT64_MAX;
  meta_.max_ts = INT64_MIN;
  meta_.max_pattern_id = 0;
  for (const Record* r : records_) {
    meta_.min_ts = std::min(meta_.min_ts, r->timestamp_ns);
    meta_.max_ts = std::max(meta_.max_ts, r->timestamp_ns);
    meta_.max_pattern_id = std::max(meta_.max_pattern_id, r->pattern_id);
  }
  // Version 1 stores no pattern ids: they read back as 0.
  if (options_.format_version < 2) meta_.max_pattern_id = 0;
  SortRows();

  LODE_RETURN_IF_ERROR(file->Append(kMagic));
  offset_ = kHeaderSize;
  trigram_bits_.assign(size_t{1} << 18, 0);  // 2^24 bits
  const size_t per_block = std::min(options_.rows_per_block, kMaxBlockRows);
  for (size_t begin = 0; begin < n;) {
    size_t end = begin + 1;
    while (end < n && end - begin < per_block && service_[end] == service_[begin]) ++end;
    LODE_RETURN_IF_ERROR(WriteBlock(begin, end, file));
    begin = end;
  }
  trigram_bits_ = {};
  for (const auto* d : {&services_, &instances_, &sources_, &attr_keys_}) {
    for (std::string_view v : d->values()) {
      if (v.size() > kMaxRawBytes) return Status::TooLarge("segment: dictionary value over 1 GiB");
    }
  }

  LODE_RETURN_IF_ERROR(WriteSection(kSecDirectory, BuildDirectory(), true, file));
  LODE_RETURN_IF_ERROR(WriteSection(kSecDictionaries, BuildDictionarySection(), true, file));
  LODE_RETURN_IF_ERROR(WriteSection(kSecTextIndex, BuildTextIndex(), true, file));
  LODE_RETURN_IF_ERROR(WriteSection(kSecLabels, BuildLabels(), true, file));
  LODE_RETURN_IF_ERROR(WriteSection(kSecMeta, BuildMeta(), false, file));

  std::string footer;
  for (const SectionEntry& s : sections_) {
    PutFixed64(&footer, s.offset);
    PutFixed64(&footer, s.stored);
    PutFixed64(&footer, s.raw);
    PutFixed32(&footer, s.crc);
    PutFixed32(&footer, s.codec);
  }
  PutFixed64(&footer, offset_ + kFooterSize);  // file size
  PutFixed32(&footer, static_cast<uint32_t>(kFooterSize));
  PutFixed32(&footer, options_.format_version);
  PutFixed32(&footer, MaskedCrc(footer));
  footer.append(kMagic);
  return file->Append(footer);
}

std::string DirOf(const std::string& path) {
  std::string dir = std::filesystem::path(path).parent_path().string();
  return dir.empty() ? "." : dir;
}

// --- Reader helpers ----------------------------------------------------------------------------

Status Corrupt(const std::string& path, std::string_view part, std::string_view what) {
  std::string msg = "segment ";
  msg += path;
  msg += ": ";
  msg += part;
  msg += ": ";
  msg += what;
  return Status::Corruption(std::move(msg));
}

// Reads a dictionary; with `sorted`, its values must be strictly ascending.
bool GetDictionary(std::string_view* in, bool sorted, std::vector<std::string>* out) {
  uint64_t count;
  if (!GetVarint64(in, &count) || count > in->size()) return false;
  out->resize(static_cast<size_t>(count));
  for (size_t i = 0; i < out->size(); ++i) {
    std::string_view v;
    if (!GetLengthPrefixed(in, &v)) return false;
    if (sorted && i > 0 && !((*out)[i - 1] < v)) return false;
    (*out)[i].assign(v);
  }
  return true;
}

// Index of `name` in the sorted `dict`, or -1.
int64_t Find(const std::vector<std::string>& dict, std::string_view name) {
  auto it = std::lower_bound(dict.begin(), dict.end(), name,
                             [](const std::string& a, std::string_view b) { return a < b; });
  if (it == dict.end() || *it != name) return -1;
  return it - dict.begin();
}

// One block's needed columns, checked and decoded into arrays; strings stay in the
// decompressed buffers until a record is filled.
struct DecodedBlock {
  std::array<bool, kColumnCount> need{};
  size_t rows = 0;
  const std::string* tenant = nullptr;
  const std::string* service = nullptr;
  std::vector<int64_t> ts;
  std::vector<int64_t> obs;
  std::string level;           // one byte per row
  std::string flags;           // one byte per row
  std::vector<uint32_t> inst;  // dictionary ids
  std::vector<uint32_t> src;
  std::vector<uint32_t> pat;       // pattern ids
  std::string_view msg_bytes;      // all messages, back to back
  std::vector<uint32_t> msg_off;   // rows + 1 offsets into msg_bytes
  std::string_view attr_raw;       // the attribute column
  std::vector<uint32_t> attr_off;  // rows + 1 offsets into attr_raw
  // Buffers the views point into, reused from block to block.
  std::string io;
  std::string piece;
  std::string scratch;
  std::string msg_buf;
  std::string attr_buf;
};

}  // namespace

// --- Index -------------------------------------------------------------------------------------

struct Segment::Index {
  // Where each column of a block lies (absolute offsets) and how to decode it.
  struct Column {
    uint64_t offset = 0;
    uint32_t stored = 0;
    uint32_t raw = 0;
    uint32_t crc = 0;  // masked
    uint8_t codec = kCodecRaw;
  };
  std::vector<std::array<Column, kColumnCount>> columns;  // per block
  // The file's format version. Version 1 has no pattern column (its Column is empty).
  uint32_t version = kSegmentFormatVersion;

  // Text index: sorted trigram keys; the posting of trigrams[i] is
  // text_section[text_base + text_offsets[i], text_base + text_offsets[i + 1]), a bitmap when
  // text_bitmap[i]. text_section is the (decompressed) section itself, kept as it is.
  std::vector<uint32_t> trigrams;
  std::vector<uint32_t> text_offsets;
  std::vector<uint8_t> text_bitmap;
  std::string text_section;
  size_t text_base = 0;

  // Instance ids ordered by name, for lookups.
  std::vector<uint32_t> instances_by_name;

  // Label postings by instance / source id, same layout.
  struct Labels {
    std::vector<uint32_t> offsets;
    std::vector<uint8_t> bitmap;
  };
  Labels instance_labels;
  Labels source_labels;
  std::string label_section;
  size_t label_base = 0;

  PostingRef TextPosting(size_t i) const {
    return {std::string_view(text_section)
                .substr(text_base + text_offsets[i], text_offsets[i + 1] - text_offsets[i]),
            text_bitmap[i] != 0};
  }
  PostingRef LabelPosting(const Labels& labels, size_t i) const {
    return {std::string_view(label_section)
                .substr(label_base + labels.offsets[i], labels.offsets[i + 1] - labels.offsets[i]),
            labels.bitmap[i] != 0};
  }

  static Status LoadDirectory(Segment* seg, std::string_view in, uint64_t blocks_end);
  static Status LoadDictionaries(Segment* seg, std::string_view in);
  static Status LoadTextIndex(Segment* seg, std::string section);
  static Status LoadLabels(Segment* seg, std::string section);
  static Status LoadMeta(Segment* seg, std::string_view in);
  static Status Decode(const Segment& seg, uint32_t b, uint32_t columns, DecodedBlock* d);
  static void Fill(const Segment& seg, const DecodedBlock& d, size_t row, Record* r);
};

Segment::~Segment() = default;

Status Segment::Index::LoadDictionaries(Segment* seg, std::string_view in) {
  const char* part = kSectionNames[kSecDictionaries];
  // Services are sorted (blocks are in service order); the others are in first-seen order, so
  // the writer needs no second pass, and get a sorted view here for lookups by name.
  if (!GetDictionary(&in, true, &seg->services_) || !GetDictionary(&in, false, &seg->instances_) ||
      !GetDictionary(&in, false, &seg->sources_) || !GetDictionary(&in, false, &seg->attr_keys_)) {
    return Corrupt(seg->path_, part, "malformed or unsorted dictionary");
  }
  if (!in.empty()) return Corrupt(seg->path_, part, "trailing bytes");
  if (seg->services_.empty()) return Corrupt(seg->path_, part, "no services");
  Index& index = *seg->index_;
  index.instances_by_name.resize(seg->instances_.size());
  std::iota(index.instances_by_name.begin(), index.instances_by_name.end(), 0);
  const std::vector<std::string>& names = seg->instances_;
  std::sort(index.instances_by_name.begin(), index.instances_by_name.end(),
            [&](uint32_t a, uint32_t b) { return names[a] < names[b]; });
  for (size_t i = 1; i < index.instances_by_name.size(); ++i) {
    if (names[index.instances_by_name[i - 1]] == names[index.instances_by_name[i]]) {
      return Corrupt(seg->path_, part, "duplicate instance");
    }
  }
  return Status::OK();
}

Status Segment::Index::LoadDirectory(Segment* seg, std::string_view in, uint64_t blocks_end) {
  const char* part = kSectionNames[kSecDirectory];
  Index& index = *seg->index_;
  uint64_t count;
  // A block entry takes at least 4 + 7 + 8 * 7 bytes (8 or 9 columns of 7 or more); bounds the
  // allocation below.
  if (!GetVarint64(&in, &count) || count == 0 || count > in.size() / 60) {
    return Corrupt(seg->path_, part, "bad block count");
  }
  seg->blocks_.resize(static_cast<size_t>(count));
  index.columns.resize(static_cast<size_t>(count));
  uint64_t offset = kHeaderSize;
  for (size_t b = 0; b < count; ++b) {
    BlockInfo& info = seg->blocks_[b];
    auto bad = [&](const std::string& what) {
      return Corrupt(seg->path_, part, "entry of block " + std::to_string(b) + ": " + what);
    };
    int64_t min_ts;
    uint64_t span;
    if (!GetVarint32(&in, &info.rows) || !GetVarint32(&in, &info.service_id) ||
        !GetZigZag(&in, &min_ts) || !GetVarint64(&in, &span)) {
      return bad("truncated");
    }
    info.min_ts = min_ts;
    info.max_ts = WrapAdd(min_ts, span);
    if (info.max_ts < info.min_ts) return bad("bad time range");
    if (info.rows == 0 || info.rows > kMaxBlockRows) return bad("bad row count");
    if (info.service_id >= seg->services_.size()) {
      return bad("service id out of range");
    }
    uint64_t level_sum = 0;
    for (uint32_t& c : info.level_counts) {
      if (!GetVarint32(&in, &c)) return bad("truncated");
      level_sum += c;
    }
    if (level_sum != info.rows) return bad("level counts differ from the row count");
    info.offset = offset;
    const int num_columns = ColumnCount(index.version);
    for (int c = 0; c < num_columns; ++c) {
      Column& col = index.columns[b][static_cast<size_t>(c)];
      uint64_t stored;
      uint64_t raw;
      if (in.empty()) return bad("truncated");
      col.codec = static_cast<uint8_t>(in[0]);
      in.remove_prefix(1);
      if (!GetVarint64(&in, &stored) || !GetVarint64(&in, &raw) || !GetFixed32(&in, &col.crc)) {
        return bad("truncated");
      }
      const bool const_ok =
          c == kLevelCol || c == kFlagsCol || c == kInst || c == kSrc || c == kPat;
      if (stored > blocks_end - offset || raw > kMaxRawBytes ||
          (col.codec == kCodecRaw && stored != raw) ||
          (col.codec == kCodecConst && (!const_ok || stored != raw || raw == 0)) ||
          col.codec > kCodecConst) {
        return bad(std::string("bad ") + kColumnNames[c] + " column size or codec");
      }
      col.offset = offset;
      col.stored = static_cast<uint32_t>(stored);
      col.raw = static_cast<uint32_t>(raw);
      offset += stored;
    }
    for (int c = num_columns; c < kColumnCount; ++c) {
      index.columns[b][static_cast<size_t>(c)] = Column{offset, 0, 0, 0, kCodecRaw};  // absent
    }
    if (offset - info.offset > UINT32_MAX) return bad("too large");
    info.size = static_cast<uint32_t>(offset - info.offset);
  }
  if (!in.empty()) return Corrupt(seg->path_, part, "trailing bytes");
  if (offset != blocks_end) {
    return Corrupt(seg->path_, part,
                   "blocks end at " + std::to_string(offset) + ", the sections start at " +
                       std::to_string(blocks_end));
  }
  return Status::OK();
}

Status Segment::Index::LoadTextIndex(Segment* seg, std::string section) {
  const char* part = kSectionNames[kSecTextIndex];
  Index& index = *seg->index_;
  std::string_view in = section;
  uint64_t count;
  if (!GetVarint64(&in, &count) || count > in.size() / 2) {
    return Corrupt(seg->path_, part, "bad trigram count");
  }
  index.trigrams.resize(static_cast<size_t>(count));
  index.text_offsets.resize(static_cast<size_t>(count) + 1);
  index.text_bitmap.resize(static_cast<size_t>(count));
  uint64_t key = 0;
  uint64_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    uint64_t delta;
    uint64_t len;
    if (!GetVarint64(&in, &delta) || !GetVarint64(&in, &len)) {
      return Corrupt(seg->path_, part, "truncated trigram table");
    }
    if ((i > 0 && delta == 0) || delta > 0xFFFFFF || key + delta > 0xFFFFFF) {
      return Corrupt(seg->path_, part, "trigrams out of order or range");
    }
    key = i == 0 ? delta : key + delta;
    index.trigrams[i] = static_cast<uint32_t>(key);
    index.text_offsets[i] = static_cast<uint32_t>(total);
    index.text_bitmap[i] = static_cast<uint8_t>(len & 1);
    total += len >> 1;
    if (total > in.size()) return Corrupt(seg->path_, part, "postings overrun the section");
  }
  if (total != in.size()) return Corrupt(seg->path_, part, "postings size mismatch");
  index.text_offsets[count] = static_cast<uint32_t>(total);
  index.text_base = section.size() - in.size();
  index.text_section = std::move(section);
  return Status::OK();
}

Status Segment::Index::LoadLabels(Segment* seg, std::string section) {
  const char* part = kSectionNames[kSecLabels];
  Index& index = *seg->index_;
  std::string_view in = section;
  uint64_t total = 0;
  for (int which = 0; which < 2; ++which) {
    const size_t expected = which == 0 ? seg->instances_.size() : seg->sources_.size();
    Labels& labels = which == 0 ? index.instance_labels : index.source_labels;
    uint64_t count;
    if (!GetVarint64(&in, &count) || count != expected) {
      return Corrupt(seg->path_, part, "posting count differs from the dictionary");
    }
    labels.offsets.resize(expected + 1);
    labels.bitmap.resize(expected);
    for (size_t i = 0; i < expected; ++i) {
      uint64_t len;
      if (!GetVarint64(&in, &len) || (len >> 1) > in.size()) {
        return Corrupt(seg->path_, part, "truncated posting table");
      }
      labels.offsets[i] = static_cast<uint32_t>(total);
      labels.bitmap[i] = static_cast<uint8_t>(len & 1);
      total += len >> 1;
    }
    labels.offsets[expected] = static_cast<uint32_t>(total);
  }
  if (total != in.size()) return Corrupt(seg->path_, part, "postings size mismatch");
  index.label_base = section.size() - in.size();
  index.label_section = std::move(section);
  return Status::OK();
}

Status Segment::Index::LoadMeta(Segment* seg, std::string_view in) {
  const char* part = kSectionNames[kSecMeta];
  SegmentMeta& m = seg->meta_;
  std::string_view tenant;
  uint64_t count;
  if (!GetVarint64(&in, &m.id) || !GetLengthPrefixed(&in, &tenant) || !GetZigZag(&in, &m.min_ts) ||
      !GetZigZag(&in, &m.max_ts) || !GetVarint64(&in, &m.rows) ||
      !GetVarint64(&in, &m.max_wal_seq) || !GetVarint64(&in, &count) || count > in.size()) {
    return Corrupt(seg->path_, part, "truncated");
  }
  m.tenant.assign(tenant);
  m.replaces.resize(static_cast<size_t>(count));
  for (uint64_t& id : m.replaces) {
    if (!GetVarint64(&in, &id)) return Corrupt(seg->path_, part, "truncated");
  }
  if (!GetZigZag(&in, &m.created_ns)) return Corrupt(seg->path_, part, "truncated");
  m.max_pattern_id = 0;
  if (seg->index_->version >= 2 && !GetVarint32(&in, &m.max_pattern_id)) {
    return Corrupt(seg->path_, part, "truncated or out-of-range max_pattern_id");
  }
  if (!in.empty()) return Corrupt(seg->path_, part, "trailing bytes");
  return Status::OK();
}

// --- Open --------------------------------------------------------------------------------------

Result<std::shared_ptr<const Segment>> Segment::Open(Env* env, const std::string& path) {
  std::shared_ptr<Segment> seg(new Segment());
  seg->path_ = path;
  seg->index_ = std::make_unique<Index>();
  if (!env->FileExists(path)) return Status::NotFound("segment " + path + " does not exist");
  LODE_ASSIGN_OR_RETURN(seg->file_, env->NewRandomAccessFile(path));
  const RandomAccessFile& file = *seg->file_;
  const uint64_t size = file.Size();
  seg->file_bytes_ = size;
  if (size < kHeaderSize + kFooterTailSize) {
    return Corrupt(path, "file", "too short to be a segment (" + std::to_string(size) + " bytes)");
  }

  std::string buf;
  LODE_RETURN_IF_ERROR(file.Read(size - kFooterTailSize, kFooterTailSize, &buf));
  if (std::string_view(buf).substr(12) != kMagic) {
    return Corrupt(path, "footer", "no LODESEG1 magic at the end (not a segment, or truncated)");
  }
  const uint32_t footer_size = DecodeFixed32(buf.data());
  const uint32_t version = DecodeFixed32(buf.data() + 4);
  if (version < kMinSegmentFormatVersion || version > kSegmentFormatVersion) {
    return Corrupt(path, "footer",
                   "unsupported segment format version " + std::to_string(version) +
                       " (this reader knows versions " + std::to_string(kMinSegmentFormatVersion) +
                       " to " + std::to_string(kSegmentFormatVersion) + ")");
  }
  // Versions 1 and 2 share the footer and every section but the directory (8 or 9 column
  // entries per block) and the meta (max_pattern_id at the end in 2).
  seg->index_->version = version;
  if (footer_size != kFooterSize) {
    return Corrupt(path, "footer", "bad footer size " + std::to_string(footer_size));
  }
  if (size < kHeaderSize + kFooterSize) {
    return Corrupt(path, "file", "too short for its footer (" + std::to_string(size) + " bytes)");
  }
  std::string footer;
  LODE_RETURN_IF_ERROR(file.Read(size - kFooterSize, kFooterSize, &footer));
  const size_t crc_at = kFooterSize - 12;
  if (DecodeFixed32(footer.data() + crc_at) !=
      MaskedCrc(std::string_view(footer).substr(0, crc_at))) {
    return Corrupt(path, "footer", "checksum mismatch");
  }
  const uint64_t recorded_size = DecodeFixed64(footer.data() + kSectionCount * kSectionEntrySize);
  if (recorded_size != size) {
    return Corrupt(path, "file",
                   "size " + std::to_string(size) + " differs from the " +
                       std::to_string(recorded_size) + " bytes written (truncated or extended)");
  }
  LODE_RETURN_IF_ERROR(file.Read(0, kHeaderSize, &buf));
  if (buf != kMagic) return Corrupt(path, "header", "no LODESEG1 magic at the start");

  // Sections: contiguous, in order, between the blocks and the footer.
  std::array<SectionEntry, kSectionCount> sections;
  const uint64_t sections_end = size - kFooterSize;
  for (int i = 0; i < kSectionCount; ++i) {
    const char* e = footer.data() + static_cast<size_t>(i) * kSectionEntrySize;
    sections[static_cast<size_t>(i)] = {DecodeFixed64(e), DecodeFixed64(e + 8),
                                        DecodeFixed64(e + 16), DecodeFixed32(e + 24),
                                        DecodeFixed32(e + 28)};
  }
  uint64_t expected = sections[0].offset;
  for (int i = 0; i < kSectionCount; ++i) {
    const SectionEntry& s = sections[static_cast<size_t>(i)];
    if (s.offset != expected || s.stored > sections_end - s.offset || s.offset < kHeaderSize ||
        s.offset > sections_end || s.codec > kCodecZstd || s.raw > kMaxRawBytes ||
        (s.codec == kCodecRaw && s.raw != s.stored)) {
      return Corrupt(path, "footer", std::string("bad location of the ") + kSectionNames[i]);
    }
    expected = s.offset + s.stored;
  }
  if (expected != sections_end) return Corrupt(path, "footer", "sections do not end at the footer");
  const uint64_t blocks_end = sections[0].offset;

  std::string all;
  LODE_RETURN_IF_ERROR(file.Read(blocks_end, static_cast<size_t>(sections_end - blocks_end), &all));
  std::array<std::string, kSectionCount> raw;
  std::array<std::string_view, kSectionCount> view;
  for (int i = 0; i < kSectionCount; ++i) {
    const SectionEntry& s = sections[static_cast<size_t>(i)];
    std::string_view stored = std::string_view(all).substr(s.offset - blocks_end, s.stored);
    if (MaskedCrc(stored) != s.crc) return Corrupt(path, kSectionNames[i], "checksum mismatch");
    if (s.codec == kCodecZstd) {
      if (!Decompress(stored, s.raw, &raw[static_cast<size_t>(i)])) {
        return Corrupt(path, kSectionNames[i], "cannot decompress");
      }
      view[static_cast<size_t>(i)] = raw[static_cast<size_t>(i)];
    } else {
      view[static_cast<size_t>(i)] = stored;
    }
  }

  LODE_RETURN_IF_ERROR(Index::LoadMeta(seg.get(), view[kSecMeta]));
  LODE_RETURN_IF_ERROR(Index::LoadDictionaries(seg.get(), view[kSecDictionaries]));
  LODE_RETURN_IF_ERROR(Index::LoadDirectory(seg.get(), view[kSecDirectory], blocks_end));
  // The index sections are kept: moved when decompressed, else copied out of `all`.
  auto owned = [&](SectionId i) {
    return sections[i].codec == kCodecZstd ? std::move(raw[i]) : std::string(view[i]);
  };
  LODE_RETURN_IF_ERROR(Index::LoadTextIndex(seg.get(), owned(kSecTextIndex)));
  LODE_RETURN_IF_ERROR(Index::LoadLabels(seg.get(), owned(kSecLabels)));

  // The meta must agree with the directory it describes.
  uint64_t rows = 0;
  int64_t min_ts = INT64_MAX;
  int64_t max_ts = INT64_MIN;
  for (const BlockInfo& b : seg->blocks_) {
    rows += b.rows;
    min_ts = std::min(min_ts, b.min_ts);
    max_ts = std::max(max_ts, b.max_ts);
  }
  if (rows != seg->meta_.rows || min_ts != seg->meta_.min_ts || max_ts != seg->meta_.max_ts) {
    return Corrupt(path, "meta", "rows or time range differ from the block directory");
  }
  return std::shared_ptr<const Segment>(std::move(seg));
}

// --- Queries -----------------------------------------------------------------------------------

std::vector<uint32_t> Segment::CandidateBlocks(const ScanSpec& spec) const {
  std::vector<uint32_t> cands;
  if (spec.tenant != meta_.tenant || spec.start_ns >= spec.end_ns) return cands;
  if (spec.end_ns <= meta_.min_ts || spec.start_ns > meta_.max_ts) return cands;
  // No per-block pattern index (yet): the meta's maximum prunes whole segments, e.g. every
  // segment written before a pattern was first seen.
  if (!spec.pattern_ids.empty() &&
      spec.pattern_ids.front() > meta_.max_pattern_id) {  // sorted ascending
    return cands;
  }

  std::vector<uint8_t> service_ok;
  if (!spec.services.empty()) {
    service_ok.assign(services_.size(), 0);
    bool any = false;
    for (const std::string& s : spec.services) {
      const int64_t id = Find(services_, s);
      if (id >= 0) service_ok[static_cast<size_t>(id)] = any = true;
    }
    if (!any) return cands;
  }
  std::vector<uint8_t> instance_ok;
  if (!spec.instances.empty()) {
    instance_ok.assign(blocks_.size(), 0);
    bool any = false;
    for (const std::string& s : spec.instances) {
      auto it = std::lower_bound(
          index_->instances_by_name.begin(), index_->instances_by_name.end(), s,
          [&](uint32_t id, const std::string& name) { return instances_[id] < name; });
      if (it == index_->instances_by_name.end() || instances_[*it] != s) continue;
      const uint32_t id = *it;
      any = true;
      MarkPosting(index_->LabelPosting(index_->instance_labels, id), &instance_ok);
    }
    if (!any) return cands;
  }

  std::vector<uint8_t> source_ok;
  if (!spec.sources.empty()) {
    source_ok.assign(blocks_.size(), 0);
    bool any = false;
    for (const std::string& s : spec.sources) {
      // Few sources per segment: a linear search (the dictionary is not sorted).
      auto it = std::find(sources_.begin(), sources_.end(), s);
      if (it == sources_.end()) continue;
      any = true;
      MarkPosting(
          index_->LabelPosting(index_->source_labels, static_cast<size_t>(it - sources_.begin())),
          &source_ok);
    }
    if (!any) return cands;
  }

  for (uint32_t b = 0; b < blocks_.size(); ++b) {
    const BlockInfo& info = blocks_[b];
    if (info.max_ts < spec.start_ns || info.min_ts >= spec.end_ns) continue;
    if (!service_ok.empty() && !service_ok[info.service_id]) continue;
    if (!instance_ok.empty() && !instance_ok[b]) continue;
    if (!source_ok.empty() && !source_ok[b]) continue;
    bool level = false;
    for (int l = 0; l < kLevelCount && !level; ++l) {
      level = info.level_counts[static_cast<size_t>(l)] > 0 && (spec.level_mask >> l & 1u);
    }
    if (level) cands.push_back(b);
  }

  // Every trigram of every required substring (lower-cased, like the index) must be present.
  auto trigrams_of = [](const std::string& sub, std::vector<uint32_t>* out) {
    if (sub.size() < 3) return;
    uint32_t t = (uint32_t{kLower[static_cast<uint8_t>(sub[0])]} << 8) |
                 kLower[static_cast<uint8_t>(sub[1])];
    for (size_t j = 2; j < sub.size(); ++j) {
      t = ((t << 8) | kLower[static_cast<uint8_t>(sub[j])]) & 0xFFFFFF;
      out->push_back(t);
    }
  };
  // Keeps in *c the blocks holding every trigram; false when one is absent
  // from the whole segment (then nothing can match).
  auto intersect = [&](std::vector<uint32_t> trigrams, std::vector<uint32_t>* c) {
    std::sort(trigrams.begin(), trigrams.end());
    trigrams.erase(std::unique(trigrams.begin(), trigrams.end()), trigrams.end());
    for (uint32_t t : trigrams) {
      if (c->empty()) break;
      auto it = std::lower_bound(index_->trigrams.begin(), index_->trigrams.end(), t);
      if (it == index_->trigrams.end() || *it != t) {
        c->clear();
        return;
      }
      IntersectPosting(index_->TextPosting(static_cast<size_t>(it - index_->trigrams.begin())),
                       static_cast<uint32_t>(blocks_.size()), c);
    }
  };
  std::vector<uint32_t> trigrams;
  for (const std::string& sub : spec.required_substrings) trigrams_of(sub, &trigrams);
  intersect(std::move(trigrams), &cands);
  // A group keeps the blocks that may hold at least one of its strings. A
  // string too short for a trigram could be anywhere: the group prunes nothing.
  for (const auto& group : spec.required_any) {
    if (cands.empty()) break;
    bool prunes = !group.empty();
    for (const std::string& sub : group) prunes = prunes && sub.size() >= 3;
    if (!prunes) continue;
    std::vector<uint32_t> either;
    for (const std::string& sub : group) {
      std::vector<uint32_t> c = cands, t;
      trigrams_of(sub, &t);
      intersect(std::move(t), &c);
      std::vector<uint32_t> merged;
      std::set_union(either.begin(), either.end(), c.begin(), c.end(), std::back_inserter(merged));
      either = std::move(merged);
    }
    cands = std::move(either);
  }
  return cands;
}

namespace {

// A reused record usually holds the right tenant and service already (same block or same
// service as the previous read); comparing is cheaper than copying.
[[gnu::always_inline]] inline void AssignIfDifferent(const std::string& value, std::string* dst) {
  const size_t n = value.size();
  bool same = dst->size() == n;
  const char* a = dst->data();
  const char* b = value.data();
  // Inline compare: these strings are short and a libc call per row is measurable.
  size_t i = 0;
  for (; same && i + 8 <= n; i += 8) {
    uint64_t x;
    uint64_t y;
    std::memcpy(&x, a + i, 8);
    std::memcpy(&y, b + i, 8);
    same = x == y;
  }
  for (; same && i < n; ++i) same = a[i] == b[i];
  if (!same) *dst = value;
}

DecodedBlock& ThreadDecodedBlock() {
  thread_local DecodedBlock block;
  return block;
}

// Sets hits[row - lo] for the rows in [lo, hi) whose message contains `sub`, searching the
// block's concatenated messages once instead of row by row.
void FindSubstring(const DecodedBlock& d, size_t lo, size_t hi, std::string_view sub,
                   std::vector<uint8_t>* hits) {
  hits->assign(hi - lo, sub.empty() ? 1 : 0);
  if (sub.empty()) return;
  const char* base = d.msg_bytes.data();
  const uint32_t* off = d.msg_off.data();
  size_t from = off[lo];
  const size_t end = off[hi];
  while (from + sub.size() <= end) {
    const void* found = memmem(base + from, end - from, sub.data(), sub.size());
    if (found == nullptr) break;
    const size_t pos = static_cast<size_t>(static_cast<const char*>(found) - base);
    // The row whose bytes hold `pos`: the last row starting at or before it.
    const size_t row = static_cast<size_t>(std::upper_bound(off + lo, off + hi + 1, pos) - off) - 1;
    if (pos + sub.size() <= off[row + 1]) {
      (*hits)[row - lo] = 1;
      from = off[row + 1];  // the rest of this row cannot add anything
    } else {
      from = pos + 1;  // the match spans two rows
    }
  }
}

}  // namespace

Status Segment::Index::Decode(const Segment& seg, uint32_t b, uint32_t columns, DecodedBlock* d) {
  const BlockInfo& info = seg.blocks_[b];
  const auto& cols = seg.index_->columns[b];
  const size_t rows = info.rows;
  std::array<bool, kColumnCount>& need = d->need;
  need = {};
  need[kTs] = need[kLevelCol] = true;
  need[kObs] = (columns & kColObserved) != 0;
  need[kFlagsCol] = (columns & kColFlags) != 0;
  need[kInst] = (columns & kColInstance) != 0;
  need[kSrc] = (columns & kColSource) != 0;
  need[kMsg] = (columns & kColMessage) != 0;
  need[kAttr] = (columns & kColAttributes) != 0;
  need[kPat] = (columns & kColPattern) != 0;
  d->rows = rows;
  d->tenant = &seg.meta_.tenant;
  d->service = &seg.services_[info.service_id];

  auto fail = [&](int c, std::string_view what) {
    return Corrupt(seg.path_, "block " + std::to_string(b) + ", " + kColumnNames[c] + " column",
                   what);
  };

  // Read the needed columns (they lie in column order): one read from the first to the last,
  // unless an unneeded gap between two of them is large, then one read per run. Reading only
  // the needed ranges beats reading whole blocks: 63M vs 56M rows/s for timestamp + level.
  std::array<int, kColumnCount> wanted{};
  size_t num_wanted = 0;
  for (int c = 0; c < kColumnCount; ++c) {
    if (need[c] && cols[c].stored != 0) wanted[num_wanted++] = c;
  }
  uint64_t first = 0;
  if (num_wanted > 0) {
    first = cols[wanted[0]].offset;
    const Column& back = cols[wanted[num_wanted - 1]];
    const uint64_t last = back.offset + back.stored;
    bool one_read = true;
    for (size_t i = 1; i < num_wanted; ++i) {
      const Column& prev = cols[wanted[i - 1]];
      one_read = one_read && cols[wanted[i]].offset - (prev.offset + prev.stored) <= kMaxReadGap;
    }
    if (one_read) {
      LODE_RETURN_IF_ERROR(seg.file_->Read(first, static_cast<size_t>(last - first), &d->io));
    } else {
      // Columns land in d->io at their offset relative to `first`; gap bytes are never looked at.
      d->io.resize(static_cast<size_t>(last - first));
      for (size_t i = 0; i < num_wanted;) {
        const uint64_t run_begin = cols[wanted[i]].offset;
        uint64_t run_end = run_begin + cols[wanted[i]].stored;
        for (++i; i < num_wanted && cols[wanted[i]].offset - run_end <= kMaxReadGap; ++i) {
          run_end = cols[wanted[i]].offset + cols[wanted[i]].stored;
        }
        LODE_RETURN_IF_ERROR(
            seg.file_->Read(run_begin, static_cast<size_t>(run_end - run_begin), &d->piece));
        std::memcpy(d->io.data() + (run_begin - first), d->piece.data(), d->piece.size());
      }
    }
  }

  // The raw bytes of column c, checked: a view of d->io, or of *keep after decompression.
  auto column = [&](int c, std::string* keep, std::string_view* raw) -> Status {
    const Column& col = cols[c];
    const std::string_view stored =
        col.stored == 0 ? std::string_view()
                        : std::string_view(d->io).substr(col.offset - first, col.stored);
    if (MaskedCrc(stored) != col.crc) return fail(c, "checksum mismatch");
    if (col.codec == kCodecZstd) {
      if (!Decompress(stored, col.raw, keep)) return fail(c, "cannot decompress");
      *raw = *keep;
    } else {
      *raw = stored;
    }
    return Status::OK();
  };
  // A one-byte-per-row column (level, flags) into *out.
  auto bytes_column = [&](int c, std::string* out) -> Status {
    std::string_view raw;
    LODE_RETURN_IF_ERROR(column(c, &d->scratch, &raw));
    if (cols[c].codec == kCodecConst) {
      if (raw.size() != 1) return fail(c, "bad constant");
      out->assign(rows, raw[0]);
    } else {
      if (raw.size() != rows) return fail(c, "size differs from the row count");
      out->assign(raw);
    }
    return Status::OK();
  };

  std::string_view raw;
  // Timestamps.
  LODE_RETURN_IF_ERROR(column(kTs, &d->scratch, &raw));
  d->ts.resize(rows);
  {
    int64_t first_ts;
    uint64_t divisor;
    if (!GetZigZag(&raw, &first_ts) || !GetVarint64(&raw, &divisor) || divisor == 0) {
      return fail(kTs, "truncated");
    }
    int64_t ts = first_ts;
    int64_t* out_ts = d->ts.data();
    out_ts[0] = ts;
    const char* p = raw.data();
    const char* end = p + raw.size();
    for (size_t i = 1; i < rows; ++i) {
      uint64_t delta;
      p = FastVarint(p, end, &delta);
      if (p == nullptr) return fail(kTs, "truncated");
      const int64_t next = WrapAdd(ts, delta * divisor);
      if (next < ts) return fail(kTs, "timestamps out of order");  // Scan relies on the order
      ts = out_ts[i] = next;
    }
    if (p != end) return fail(kTs, "trailing bytes");
    if (out_ts[0] != info.min_ts || out_ts[rows - 1] != info.max_ts) {
      return fail(kTs, "time range differs from the block directory");
    }
  }
  // Level, checked against the directory's counts (which pruning relies on).
  LODE_RETURN_IF_ERROR(bytes_column(kLevelCol, &d->level));
  {
    std::array<uint32_t, kLevelCount> counts{};
    for (char c : d->level) {
      const auto l = static_cast<uint8_t>(c);
      if (l >= kLevelCount) return fail(kLevelCol, "invalid level " + std::to_string(l));
      ++counts[l];
    }
    if (counts != info.level_counts) {
      return fail(kLevelCol, "counts differ from the block directory");
    }
  }
  // Observed.
  if (need[kObs]) {
    LODE_RETURN_IF_ERROR(column(kObs, &d->scratch, &raw));
    d->obs.resize(rows);
    if (raw.empty() || static_cast<uint8_t>(raw[0]) > kObsVsPrevious) return fail(kObs, "bad mode");
    const bool vs_prev = raw[0] == kObsVsPrevious;
    const char* p = raw.data() + 1;
    const char* end = raw.data() + raw.size();
    for (size_t i = 0; i < rows; ++i) {
      uint64_t v;
      p = FastVarint(p, end, &v);
      if (p == nullptr) return fail(kObs, "truncated");
      const int64_t base = vs_prev && i > 0 ? d->obs[i - 1] : d->ts[i];
      d->obs[i] = WrapAdd(base, static_cast<uint64_t>(ZigZagDecode64(v)));
    }
    if (p != end) return fail(kObs, "trailing bytes");
  }
  if (need[kFlagsCol]) LODE_RETURN_IF_ERROR(bytes_column(kFlagsCol, &d->flags));
  // Instance and source: dictionary ids.
  for (int c : {kInst, kSrc}) {
    if (!need[c]) continue;
    LODE_RETURN_IF_ERROR(column(c, &d->scratch, &raw));
    const size_t dict_size = c == kInst ? seg.instances_.size() : seg.sources_.size();
    std::vector<uint32_t>& ids = c == kInst ? d->inst : d->src;
    ids.resize(rows);
    const char* p = raw.data();
    const char* end = p + raw.size();
    const size_t n = cols[c].codec == kCodecConst ? 1 : rows;
    for (size_t i = 0; i < n; ++i) {
      uint64_t id;
      p = FastVarint(p, end, &id);
      if (p == nullptr) return fail(c, "truncated");
      if (id >= dict_size) return fail(c, "dictionary id out of range");
      ids[i] = static_cast<uint32_t>(id);
    }
    if (p != end) return fail(c, "trailing bytes");
    if (n == 1) std::fill(ids.begin(), ids.end(), ids[0]);
  }
  // Pattern ids; a version 1 segment has none, which is pattern id 0 for every row.
  if (need[kPat]) {
    d->pat.resize(rows);
    if (seg.index_->version < 2) {
      std::fill(d->pat.begin(), d->pat.end(), 0);
    } else {
      LODE_RETURN_IF_ERROR(column(kPat, &d->scratch, &raw));
      const char* p = raw.data();
      const char* end = p + raw.size();
      const size_t n = cols[kPat].codec == kCodecConst ? 1 : rows;
      for (size_t i = 0; i < n; ++i) {
        uint64_t id;
        p = FastVarint(p, end, &id);
        if (p == nullptr) return fail(kPat, "truncated");
        if (id > UINT32_MAX) return fail(kPat, "pattern id over 32 bits");
        d->pat[i] = static_cast<uint32_t>(id);
      }
      if (p != end) return fail(kPat, "trailing bytes");
      if (n == 1) std::fill(d->pat.begin(), d->pat.end(), d->pat[0]);
    }
  }
  // Message: lengths, then bytes.
  if (need[kMsg]) {
    LODE_RETURN_IF_ERROR(column(kMsg, &d->msg_buf, &raw));
    const char* p = raw.data();
    const char* end = p + raw.size();
    d->msg_off.resize(rows + 1);
    uint64_t total = 0;
    for (size_t i = 0; i < rows; ++i) {
      uint64_t len;
      p = FastVarint(p, end, &len);
      if (p == nullptr || len > static_cast<uint64_t>(end - p)) return fail(kMsg, "bad length");
      d->msg_off[i] = static_cast<uint32_t>(total);
      total += len;
    }
    if (total != static_cast<uint64_t>(end - p)) return fail(kMsg, "lengths differ from the bytes");
    d->msg_off[rows] = static_cast<uint32_t>(total);
    d->msg_bytes = std::string_view(p, static_cast<size_t>(total));
  }
  // Attributes: checked here in full, so that filling records cannot fail.
  if (need[kAttr]) {
    LODE_RETURN_IF_ERROR(column(kAttr, &d->attr_buf, &raw));
    d->attr_raw = raw;
    d->attr_off.resize(rows + 1);
    std::string_view in = raw;
    for (size_t i = 0; i < rows; ++i) {
      d->attr_off[i] = static_cast<uint32_t>(raw.size() - in.size());
      uint64_t count;
      if (!GetVarint64(&in, &count) || count > in.size() / 2) return fail(kAttr, "bad count");
      for (uint64_t a = 0; a < count; ++a) {
        uint32_t key;
        std::string_view value;
        if (!GetVarint32(&in, &key) || key >= seg.attr_keys_.size()) {
          return fail(kAttr, "bad key id");
        }
        if (!GetLengthPrefixed(&in, &value)) return fail(kAttr, "bad value");
      }
    }
    if (!in.empty()) return fail(kAttr, "trailing bytes");
    d->attr_off[rows] = static_cast<uint32_t>(raw.size());
  }
  return Status::OK();
}

// Fills every field of *r from row `row` of a decoded block: the needed columns from the block,
// the others empty. Reuses r's strings.
[[gnu::always_inline]] inline void Segment::Index::Fill(const Segment& seg, const DecodedBlock& d,
                                                        size_t row, Record* r) {
  r->timestamp_ns = d.ts[row];
  r->level = static_cast<Level>(d.level[row]);
  r->observed_ns = d.need[kObs] ? d.obs[row] : 0;
  r->flags = d.need[kFlagsCol] ? static_cast<uint8_t>(d.flags[row]) : 0;
  r->pattern_id = d.need[kPat] ? d.pat[row] : 0;
  AssignIfDifferent(*d.tenant, &r->tenant);
  AssignIfDifferent(*d.service, &r->service);
  if (d.need[kInst]) {
    AssignIfDifferent(seg.instances_[d.inst[row]], &r->instance);
  } else if (!r->instance.empty()) {
    r->instance.clear();
  }
  if (d.need[kSrc]) {
    AssignIfDifferent(seg.sources_[d.src[row]], &r->source);
  } else if (!r->source.empty()) {
    r->source.clear();
  }
  if (d.need[kMsg]) {
    r->message.assign(d.msg_bytes.data() + d.msg_off[row], d.msg_off[row + 1] - d.msg_off[row]);
  } else if (!r->message.empty()) {
    r->message.clear();
  }
  if (d.need[kAttr]) {
    // Checked by Decode: the reads below cannot fail.
    std::string_view in = d.attr_raw.substr(d.attr_off[row], d.attr_off[row + 1] - d.attr_off[row]);
    uint64_t count = 0;
    GetVarint64(&in, &count);
    r->attributes.resize(static_cast<size_t>(count));
    for (Attribute& a : r->attributes) {
      uint32_t key = 0;
      std::string_view value;
      GetVarint32(&in, &key);
      GetLengthPrefixed(&in, &value);
      AssignIfDifferent(seg.attr_keys_[key], &a.key);
      a.value.assign(value);
    }
  } else if (!r->attributes.empty()) {
    r->attributes.clear();
  }
}

Status Segment::ReadBlock(uint32_t b, uint32_t columns, std::vector<Record>* out) const {
  if (b >= blocks_.size()) {
    return Status::InvalidArgument("segment " + path_ + ": no block " + std::to_string(b) + " (" +
                                   std::to_string(blocks_.size()) + " blocks)");
  }
  DecodedBlock& d = ThreadDecodedBlock();
  LODE_RETURN_IF_ERROR(Index::Decode(*this, b, columns, &d));
  out->resize(d.rows);
  for (size_t i = 0; i < d.rows; ++i) Index::Fill(*this, d, i, &(*out)[i]);
  return Status::OK();
}

Status Segment::ReadTimesAndLevels(uint32_t b, std::vector<int64_t>* ts,
                                   std::string* levels) const {
  if (b >= blocks_.size()) {
    return Status::InvalidArgument("segment " + path_ + ": no block " + std::to_string(b) + " (" +
                                   std::to_string(blocks_.size()) + " blocks)");
  }
  DecodedBlock& d = ThreadDecodedBlock();
  LODE_RETURN_IF_ERROR(Index::Decode(*this, b, 0, &d));
  ts->assign(d.ts.begin(), d.ts.begin() + static_cast<ptrdiff_t>(d.rows));
  levels->assign(d.level, 0, d.rows);
  return Status::OK();
}

Status Segment::Scan(const ScanSpec& spec, const RecordVisitor& visit, uint32_t columns) const {
  const std::vector<uint32_t> cands = CandidateBlocks(spec);
  if (cands.empty()) return Status::OK();
  uint32_t cols = columns & kColAll;
  if (!spec.instances.empty()) cols |= kColInstance;
  if (!spec.sources.empty()) cols |= kColSource;
  if (!spec.pattern_ids.empty()) cols |= kColPattern;
  if (!spec.required_substrings.empty() || !spec.required_any.empty()) cols |= kColMessage;
  std::vector<uint8_t> instance_ok;
  if (!spec.instances.empty()) {
    instance_ok.assign(instances_.size(), 0);
    for (size_t id = 0; id < instances_.size(); ++id) {
      instance_ok[id] = std::find(spec.instances.begin(), spec.instances.end(), instances_[id]) !=
                        spec.instances.end();
    }
  }
  // Not the thread's ReadBlock buffers: the visitor may call ReadBlock.
  DecodedBlock d;
  Record r;
  std::vector<uint8_t> selected;
  std::vector<uint8_t> hits;
  std::vector<uint8_t> any_hits;
  if (spec.stats != nullptr) spec.stats->segments.fetch_add(1, std::memory_order_relaxed);
  for (uint32_t b : cands) {
    if (spec.cancelled()) return ScanCancelled();
    LODE_RETURN_IF_ERROR(Index::Decode(*this, b, cols, &d));
    if (spec.stats != nullptr) {
      spec.stats->blocks.fetch_add(1, std::memory_order_relaxed);
      spec.stats->bytes_read.fetch_add(blocks_[b].size, std::memory_order_relaxed);
      spec.stats->rows.fetch_add(d.rows, std::memory_order_relaxed);
    }
    // Rows are sorted by time within a block: only [lo, hi) can be in [start_ns, end_ns).
    const size_t lo = static_cast<size_t>(
        std::lower_bound(d.ts.begin(), d.ts.end(), spec.start_ns) - d.ts.begin());
    const size_t hi = static_cast<size_t>(
        std::lower_bound(d.ts.begin() + static_cast<ptrdiff_t>(lo), d.ts.end(), spec.end_ns) -
        d.ts.begin());
    if (lo >= hi) continue;
    // Rows are preselected for the whole range at once: by pattern id first (a block without a
    // wanted one is skipped before its messages are searched), then by substring, searched in
    // the block's messages as a whole. Only selected rows are turned into records.
    const bool by_pattern = !spec.pattern_ids.empty();
    const bool text = !spec.required_substrings.empty() || !spec.required_any.empty();
    const bool select = by_pattern || text;
    if (select) selected.assign(hi - lo, 1);
    if (by_pattern) {
      bool any = false;
      for (size_t i = 0; i < selected.size(); ++i) {
        selected[i] =
            std::binary_search(spec.pattern_ids.begin(), spec.pattern_ids.end(), d.pat[lo + i]);
        any = any || selected[i] != 0;
      }
      if (!any) continue;
    }
    if (text) {
      for (const std::string& sub : spec.required_substrings) {
        FindSubstring(d, lo, hi, sub, &hits);
        for (size_t i = 0; i < selected.size(); ++i) selected[i] &= hits[i];
      }
      for (const auto& group : spec.required_any) {
        if (group.empty()) continue;
        any_hits.assign(hi - lo, 0);
        for (const std::string& sub : group) {
          FindSubstring(d, lo, hi, sub, &hits);
          for (size_t i = 0; i < any_hits.size(); ++i) any_hits[i] |= hits[i];
        }
        for (size_t i = 0; i < selected.size(); ++i) selected[i] &= any_hits[i];
      }
    }
    for (size_t row = lo; row < hi; ++row) {
      if (select && !selected[row - lo]) continue;
      if ((spec.level_mask >> static_cast<uint8_t>(d.level[row]) & 1u) == 0) continue;
      if (!instance_ok.empty() && !instance_ok[d.inst[row]]) continue;
      Index::Fill(*this, d, row, &r);
      if (spec.Matches(r) && !visit(r)) return Status::OK();
    }
  }
  return Status::OK();
}

Status Segment::VerifyAll() const {
  DecodedBlock& d = ThreadDecodedBlock();
  uint32_t max_pattern_id = 0;
  for (uint32_t b = 0; b < blocks_.size(); ++b) {
    LODE_RETURN_IF_ERROR(Index::Decode(*this, b, kColAll, &d));
    for (size_t i = 0; i < d.rows; ++i) max_pattern_id = std::max(max_pattern_id, d.pat[i]);
  }
  // Open cannot check this one without reading every block.
  if (max_pattern_id != meta_.max_pattern_id) {
    return Corrupt(path_, "meta",
                   "max_pattern_id " + std::to_string(meta_.max_pattern_id) +
                       " differs from the largest pattern id in the blocks, " +
                       std::to_string(max_pattern_id));
  }
  return Status::OK();
}

// --- WriteSegment --------------------------------------------------------------------------------

Status WriteSegment(Env* env, const std::string& path, const SegmentMeta& meta,
                    std::span<const Record> records, const SegmentWriteOptions& options) {
  std::vector<const Record*> ptrs;
  ptrs.reserve(records.size());
  for (const Record& r : records) ptrs.push_back(&r);
  return WriteSegment(env, path, meta, std::span<const Record* const>(ptrs), options);
}

Status WriteSegment(Env* env, const std::string& path, const SegmentMeta& meta,
                    std::span<const Record* const> records, const SegmentWriteOptions& options) {
  if (records.empty()) return Status::InvalidArgument("WriteSegment " + path + ": no records");
  if (options.rows_per_block == 0) {
    return Status::InvalidArgument("WriteSegment " + path + ": rows_per_block is 0");
  }
  if (options.format_version < kMinSegmentFormatVersion ||
      options.format_version > kSegmentFormatVersion) {
    return Status::InvalidArgument("WriteSegment " + path + ": cannot write format version " +
                                   std::to_string(options.format_version));
  }
  if (records.size() > UINT32_MAX) {
    return Status::TooLarge("WriteSegment " + path + ": over 2^32 records");
  }
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = *records[i];
    if (r.tenant != meta.tenant) {
      return Status::InvalidArgument("WriteSegment " + path + ": record " + std::to_string(i) +
                                     " has tenant '" + r.tenant + "', the segment '" + meta.tenant +
                                     "'");
    }
    if (static_cast<uint8_t>(r.level) >= kLevelCount) {
      return Status::InvalidArgument("WriteSegment " + path + ": record " + std::to_string(i) +
                                     " has invalid level " +
                                     std::to_string(static_cast<int>(r.level)));
    }
  }

  // A temporary name unique in the process and across processes, so that concurrent writers
  // never share one and a leftover from a crash is never appended to.
  static std::atomic<uint64_t> counter{0};
  const std::string tmp =
      path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter.fetch_add(1));
  if (env->FileExists(tmp)) LODE_RETURN_IF_ERROR(env->RemoveFile(tmp));
  auto file_or = env->NewAppendableFile(tmp);
  if (!file_or.ok()) return file_or.status().WithContext("WriteSegment " + path);
  std::unique_ptr<WritableFile> file = std::move(file_or).value();

  Status s;
  {
    SegmentWriter writer(meta, records, options);
    s = writer.Write(file.get());
  }
  if (s.ok()) s = file->Sync();
  if (s.ok()) {
    s = file->Close();
  } else {
    IgnoreError(file->Close());
  }
  file.reset();
  if (s.ok()) s = env->RenameFile(tmp, path);
  if (!s.ok()) {
    IgnoreError(env->RemoveFile(tmp));
    return s.WithContext("WriteSegment " + path);
  }
  s = env->SyncDir(DirOf(path));
  if (!s.ok()) {
    // The rename may or may not be durable. Remove the file so that the caller's view ("not
    // written") and the directory agree; it will write the segment again.
    IgnoreError(env->RemoveFile(path));
    return s.WithContext("WriteSegment " + path);
  }
  return Status::OK();
}

}  // namespace lode
