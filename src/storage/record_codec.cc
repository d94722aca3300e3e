#include "storage/record_codec.h"

#include <cassert>
#include <cstring>

#include "common/coding.h"

namespace lode {

namespace {

// Smallest encoding of one record: two 1-byte deltas, level, flags, a 1-byte
// pattern id (not in version 1), four empty strings and an attribute count of
// 0. Bounds how many records a corrupt count can make DecodeBatch allocate.
constexpr size_t kMinRecordBytesV1 = 9;
constexpr size_t kMinRecordBytes = 10;
// Smallest encoding of one attribute: two empty strings.
constexpr size_t kMinAttributeBytes = 2;

uint64_t TimeDelta(int64_t current, int64_t previous) {
  // Wrapping subtraction: defined for every pair of int64 values.
  return ZigZagEncode64(
      static_cast<int64_t>(static_cast<uint64_t>(current) - static_cast<uint64_t>(previous)));
}

int64_t ApplyDelta(int64_t previous, uint64_t zigzag_delta) {
  return static_cast<int64_t>(static_cast<uint64_t>(previous) +
                              static_cast<uint64_t>(ZigZagDecode64(zigzag_delta)));
}

size_t StringSize(std::string_view s) {
  return VarintLength(s.size()) + s.size();
}

char* EncodeString(char* p, std::string_view s) {
  p = EncodeVarint64(p, s.size());
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

size_t EncodedSize(const RecordBatch& batch) {
  size_t n = 1 + StringSize(batch.tenant) + VarintLength(batch.records.size());
  int64_t prev_ts = 0;
  int64_t prev_obs = 0;
  for (const Record& r : batch.records) {
    n += VarintLength(TimeDelta(r.timestamp_ns, prev_ts)) +
         VarintLength(TimeDelta(r.observed_ns, prev_obs)) + 2 + VarintLength(r.pattern_id) +
         StringSize(r.service) + StringSize(r.instance) + StringSize(r.source) +
         StringSize(r.message) + VarintLength(r.attributes.size());
    for (const Attribute& a : r.attributes) n += StringSize(a.key) + StringSize(a.value);
    prev_ts = r.timestamp_ns;
    prev_obs = r.observed_ns;
  }
  return n;
}

// Names a field in error messages.
enum class Field {
  kVersion,
  kTenant,
  kCount,
  kTimestamp,
  kObserved,
  kLevel,
  kFlags,
  kPatternId,
  kService,
  kInstance,
  kSource,
  kMessage,
  kAttrCount,
  kAttrKey,
  kAttrValue,
  kEnd
};

const char* FieldName(Field f) {
  switch (f) {
    case Field::kVersion: return "version";
    case Field::kTenant: return "tenant";
    case Field::kCount: return "record count";
    case Field::kTimestamp: return "timestamp";
    case Field::kObserved: return "observed time";
    case Field::kLevel: return "level";
    case Field::kFlags: return "flags";
    case Field::kPatternId: return "pattern id";
    case Field::kService: return "service";
    case Field::kInstance: return "instance";
    case Field::kSource: return "source";
    case Field::kMessage: return "message";
    case Field::kAttrCount: return "attribute count";
    case Field::kAttrKey: return "attribute key";
    case Field::kAttrValue: return "attribute value";
    case Field::kEnd: return "end of batch";
  }
  return "field";
}

constexpr size_t kNoRecord = SIZE_MAX;

// A bounds-checked cursor over the encoded bytes. Every read checks against
// end_ before touching memory.
class Decoder {
 public:
  explicit Decoder(std::string_view data)
      : begin_(data.data()), p_(data.data()), end_(data.data() + data.size()) {}

  size_t offset() const { return static_cast<size_t>(p_ - begin_); }
  size_t remaining() const { return static_cast<size_t>(end_ - p_); }
  size_t total() const { return static_cast<size_t>(end_ - begin_); }

  bool Varint(uint64_t* v) {
    const char* q = DecodeVarint64(p_, end_, v);
    if (q == nullptr) return false;
    p_ = q;
    return true;
  }

  bool Byte(uint8_t* b) {
    if (p_ == end_) return false;
    *b = static_cast<uint8_t>(*p_++);
    return true;
  }

  // Reads a length-prefixed string into *out. On failure *len_out tells why:
  // UINT64_MAX if the length varint itself was bad, else the overrunning length.
  bool String(std::string* out, uint64_t* len_out) {
    uint64_t len;
    if (!Varint(&len)) {
      *len_out = UINT64_MAX;
      return false;
    }
    if (len > remaining()) {
      *len_out = len;
      return false;
    }
    out->assign(p_, static_cast<size_t>(len));
    p_ += len;
    return true;
  }

  [[gnu::cold]] [[gnu::noinline]] Status Error(Field field, size_t record, size_t field_offset,
                                               const std::string& why) const {
    std::string msg = "record batch: ";
    msg += FieldName(field);
    if (record != kNoRecord) {
      msg += " of record ";
      msg += std::to_string(record);
    }
    msg += " at byte ";
    msg += std::to_string(field_offset);
    msg += " of ";
    msg += std::to_string(total());
    msg += ": ";
    msg += why;
    return Status::Corruption(std::move(msg));
  }

  [[gnu::cold]] [[gnu::noinline]] Status Truncated(Field field, size_t record,
                                                   size_t field_offset) const {
    return Error(field, record, field_offset, "truncated or malformed varint or byte");
  }

  [[gnu::cold]] [[gnu::noinline]] Status BadString(Field field, size_t record, size_t field_offset,
                                                   uint64_t len) const {
    if (len == UINT64_MAX) return Truncated(field, record, field_offset);
    return Error(field, record, field_offset,
                 "length " + std::to_string(len) + " overruns the " +
                     std::to_string(total() - field_offset) + " bytes left");
  }

 private:
  const char* begin_;
  const char* p_;
  const char* end_;
};

Status DecodeInto(std::string_view data, RecordBatch* batch) {
  Decoder d(data);
  uint8_t version;
  if (!d.Byte(&version)) return d.Truncated(Field::kVersion, kNoRecord, 0);
  if (version < kMinBatchCodecVersion || version > kBatchCodecVersion) {
    return d.Error(Field::kVersion, kNoRecord, 0,
                   "unsupported version " + std::to_string(version) + " (expected " +
                       std::to_string(kMinBatchCodecVersion) + " to " +
                       std::to_string(kBatchCodecVersion) + ")");
  }
  // Version 1 predates pattern ids: its records have none (0).
  const bool has_pattern = version >= 2;
  const size_t min_record_bytes = has_pattern ? kMinRecordBytes : kMinRecordBytesV1;
  uint64_t len;
  size_t at = d.offset();
  if (!d.String(&batch->tenant, &len)) return d.BadString(Field::kTenant, kNoRecord, at, len);

  uint64_t count;
  at = d.offset();
  if (!d.Varint(&count)) return d.Truncated(Field::kCount, kNoRecord, at);
  if (count > d.remaining() / min_record_bytes) {
    return d.Error(Field::kCount, kNoRecord, at,
                   std::to_string(count) + " records cannot fit in the " +
                       std::to_string(d.remaining()) + " bytes left");
  }
  batch->records.resize(static_cast<size_t>(count));

  int64_t prev_ts = 0;
  int64_t prev_obs = 0;
  for (size_t i = 0; i < batch->records.size(); ++i) {
    Record& r = batch->records[i];
    uint64_t v;
    at = d.offset();
    if (!d.Varint(&v)) return d.Truncated(Field::kTimestamp, i, at);
    r.timestamp_ns = prev_ts = ApplyDelta(prev_ts, v);
    at = d.offset();
    if (!d.Varint(&v)) return d.Truncated(Field::kObserved, i, at);
    r.observed_ns = prev_obs = ApplyDelta(prev_obs, v);

    uint8_t level;
    at = d.offset();
    if (!d.Byte(&level)) return d.Truncated(Field::kLevel, i, at);
    if (level >= kLevelCount) {
      return d.Error(Field::kLevel, i, at, "invalid level " + std::to_string(level));
    }
    r.level = static_cast<Level>(level);
    at = d.offset();
    if (!d.Byte(&r.flags)) return d.Truncated(Field::kFlags, i, at);
    if (has_pattern) {
      at = d.offset();
      if (!d.Varint(&v)) return d.Truncated(Field::kPatternId, i, at);
      if (v > UINT32_MAX) {
        return d.Error(Field::kPatternId, i, at,
                       "value " + std::to_string(v) + " does not fit in 32 bits");
      }
      r.pattern_id = static_cast<uint32_t>(v);
    } else {
      r.pattern_id = 0;  // the record may be reused from an earlier decode
    }

    r.tenant = batch->tenant;
    at = d.offset();
    if (!d.String(&r.service, &len)) return d.BadString(Field::kService, i, at, len);
    at = d.offset();
    if (!d.String(&r.instance, &len)) return d.BadString(Field::kInstance, i, at, len);
    at = d.offset();
    if (!d.String(&r.source, &len)) return d.BadString(Field::kSource, i, at, len);
    at = d.offset();
    if (!d.String(&r.message, &len)) return d.BadString(Field::kMessage, i, at, len);

    uint64_t attr_count;
    at = d.offset();
    if (!d.Varint(&attr_count)) return d.Truncated(Field::kAttrCount, i, at);
    if (attr_count > d.remaining() / kMinAttributeBytes) {
      return d.Error(Field::kAttrCount, i, at,
                     std::to_string(attr_count) + " attributes cannot fit in the " +
                         std::to_string(d.remaining()) + " bytes left");
    }
    r.attributes.resize(static_cast<size_t>(attr_count));
    for (Attribute& a : r.attributes) {
      at = d.offset();
      if (!d.String(&a.key, &len)) return d.BadString(Field::kAttrKey, i, at, len);
      at = d.offset();
      if (!d.String(&a.value, &len)) return d.BadString(Field::kAttrValue, i, at, len);
    }
  }
  if (d.remaining() != 0) {
    return d.Error(Field::kEnd, kNoRecord, d.offset(),
                   std::to_string(d.remaining()) + " trailing bytes after the last record");
  }
  return Status::OK();
}

}  // namespace

void EncodeBatch(const RecordBatch& batch, std::string* out) {
  const size_t old_size = out->size();
  const size_t size = EncodedSize(batch);
  out->resize(old_size + size);
  char* const start = out->data() + old_size;
  char* p = start;
  *p++ = static_cast<char>(kBatchCodecVersion);
  p = EncodeString(p, batch.tenant);
  p = EncodeVarint64(p, batch.records.size());
  int64_t prev_ts = 0;
  int64_t prev_obs = 0;
  for (const Record& r : batch.records) {
    assert(static_cast<int>(r.level) < kLevelCount);
    p = EncodeVarint64(p, TimeDelta(r.timestamp_ns, prev_ts));
    p = EncodeVarint64(p, TimeDelta(r.observed_ns, prev_obs));
    prev_ts = r.timestamp_ns;
    prev_obs = r.observed_ns;
    *p++ = static_cast<char>(r.level);
    *p++ = static_cast<char>(r.flags);
    p = EncodeVarint64(p, r.pattern_id);
    p = EncodeString(p, r.service);
    p = EncodeString(p, r.instance);
    p = EncodeString(p, r.source);
    p = EncodeString(p, r.message);
    p = EncodeVarint64(p, r.attributes.size());
    for (const Attribute& a : r.attributes) {
      p = EncodeString(p, a.key);
      p = EncodeString(p, a.value);
    }
  }
  assert(p == start + size);
  (void)start;
}

Status DecodeBatch(std::string_view data, RecordBatch* batch) {
  Status s = DecodeInto(data, batch);
  if (!s.ok()) {
    batch->tenant.clear();
    batch->records.clear();
  }
  return s;
}

}  // namespace lode
