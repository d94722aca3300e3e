#include "storage/record_codec.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>
#include <string>

#include "common/coding.h"

namespace lode {
namespace {

// --- coding.h ----------------------------------------------------------------

TEST(CodingTest, Fixed) {
  std::string s;
  PutFixed32(&s, 0x04030201u);
  PutFixed64(&s, 0x0c0b0a0908070605ull);
  ASSERT_EQ(s.size(), 12u);
  for (size_t i = 0; i < s.size(); ++i) EXPECT_EQ(s[i], static_cast<char>(i + 1));
  EXPECT_EQ(DecodeFixed32(s.data()), 0x04030201u);
  EXPECT_EQ(DecodeFixed64(s.data() + 4), 0x0c0b0a0908070605ull);
  std::string_view in = s;
  uint32_t a;
  uint64_t b;
  ASSERT_TRUE(GetFixed32(&in, &a));
  ASSERT_TRUE(GetFixed64(&in, &b));
  EXPECT_TRUE(in.empty());
  EXPECT_FALSE(GetFixed32(&in, &a));
}

TEST(CodingTest, VarintRoundTripAndLength) {
  std::vector<uint64_t> values = {
      0, 1, 127, 128, 255, 16383, 16384, UINT32_MAX, uint64_t{1} << 63, UINT64_MAX};
  for (int shift = 0; shift < 64; ++shift) {
    values.push_back(uint64_t{1} << shift);
    values.push_back((uint64_t{1} << shift) - 1);
  }
  std::string s;
  for (uint64_t v : values) {
    size_t before = s.size();
    PutVarint64(&s, v);
    EXPECT_EQ(s.size() - before, VarintLength(v)) << v;
  }
  std::string_view in = s;
  for (uint64_t v : values) {
    uint64_t got;
    ASSERT_TRUE(GetVarint64(&in, &got));
    EXPECT_EQ(got, v);
  }
  EXPECT_TRUE(in.empty());
  EXPECT_EQ(VarintLength(UINT64_MAX), kMaxVarint64Bytes);
}

TEST(CodingTest, VarintRejectsTruncatedAndOverlong) {
  std::string s;
  PutVarint64(&s, UINT64_MAX);
  for (size_t n = 0; n < s.size(); ++n) {
    std::string_view in(s.data(), n);
    uint64_t v;
    EXPECT_FALSE(GetVarint64(&in, &v)) << n;
  }
  // 11 bytes of continuation: too long.
  std::string overlong(10, '\x80');
  overlong += '\x01';
  std::string_view in = overlong;
  uint64_t v;
  EXPECT_FALSE(GetVarint64(&in, &v));
  // 10th byte carrying more than bit 63: overflow.
  std::string overflow(9, '\xff');
  overflow += '\x02';
  in = overflow;
  EXPECT_FALSE(GetVarint64(&in, &v));
  // 32-bit reader refuses values over 32 bits.
  std::string big;
  PutVarint64(&big, uint64_t{1} << 32);
  in = big;
  uint32_t v32;
  EXPECT_FALSE(GetVarint32(&in, &v32));
}

TEST(CodingTest, ZigZag) {
  EXPECT_EQ(ZigZagEncode64(0), 0u);
  EXPECT_EQ(ZigZagEncode64(-1), 1u);
  EXPECT_EQ(ZigZagEncode64(1), 2u);
  EXPECT_EQ(ZigZagEncode64(-2), 3u);
  EXPECT_EQ(ZigZagEncode64(std::numeric_limits<int64_t>::max()), UINT64_MAX - 1);
  EXPECT_EQ(ZigZagEncode64(std::numeric_limits<int64_t>::min()), UINT64_MAX);
  for (int64_t v : {int64_t{0}, int64_t{-1}, int64_t{12345}, int64_t{-987654321},
                    std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::min()}) {
    EXPECT_EQ(ZigZagDecode64(ZigZagEncode64(v)), v);
  }
}

TEST(CodingTest, LengthPrefixed) {
  std::string s;
  PutLengthPrefixed(&s, "");
  PutLengthPrefixed(&s, std::string_view("a\0b", 3));
  std::string_view in = s;
  std::string_view out;
  ASSERT_TRUE(GetLengthPrefixed(&in, &out));
  EXPECT_EQ(out, "");
  ASSERT_TRUE(GetLengthPrefixed(&in, &out));
  EXPECT_EQ(out, std::string_view("a\0b", 3));
  EXPECT_FALSE(GetLengthPrefixed(&in, &out));
  std::string bad;
  PutVarint64(&bad, 5);
  bad += "abc";
  in = bad;
  EXPECT_FALSE(GetLengthPrefixed(&in, &out));
}

// --- record codec ------------------------------------------------------------

class RandomBatches {
 public:
  explicit RandomBatches(uint64_t seed) : rng_(seed) {}

  std::string String(size_t max_len) {
    size_t len = Uniform(0, 3) == 0 ? 0 : Uniform(0, max_len);
    std::string s;
    switch (Uniform(0, 2)) {
      case 0:  // printable ASCII
        for (size_t i = 0; i < len; ++i) s += static_cast<char>(Uniform(32, 126));
        break;
      case 1:  // any bytes, NULs included
        for (size_t i = 0; i < len; ++i) s += static_cast<char>(Uniform(0, 255));
        break;
      default:  // UTF-8
        while (s.size() < len) s += kUtf8[Uniform(0, std::size(kUtf8) - 1)];
        break;
    }
    return s;
  }

  int64_t Time() {
    switch (Uniform(0, 5)) {
      case 0: return std::numeric_limits<int64_t>::min();
      case 1: return std::numeric_limits<int64_t>::max();
      case 2: return -static_cast<int64_t>(Uniform(0, 1'000'000'000'000));
      case 3: return static_cast<int64_t>(rng_());
      default: return 1'700'000'000'000'000'000 + static_cast<int64_t>(Uniform(0, 1'000'000'000));
    }
  }

  uint32_t PatternId() {
    switch (Uniform(0, 4)) {
      case 0: return 0;
      case 1: return UINT32_MAX;
      case 2: return static_cast<uint32_t>(rng_());
      default: return static_cast<uint32_t>(Uniform(1, 5000));
    }
  }

  RecordBatch Batch(size_t max_records) {
    RecordBatch b;
    b.tenant = String(20);
    size_t n = Uniform(0, max_records);
    for (size_t i = 0; i < n; ++i) {
      Record r;
      r.timestamp_ns = Time();
      r.observed_ns = Time();
      r.level = static_cast<Level>(Uniform(0, kLevelCount - 1));
      r.flags = static_cast<uint8_t>(Uniform(0, 255));
      r.pattern_id = PatternId();
      r.tenant = b.tenant;
      r.service = String(16);
      r.instance = String(40);
      r.source = String(8);
      r.message = String(Uniform(0, 10) == 0 ? 5000 : 200);
      size_t attrs = Uniform(0, 10) == 0 ? Uniform(0, 300) : Uniform(0, 6);
      for (size_t a = 0; a < attrs; ++a) r.attributes.push_back({String(24), String(64)});
      b.records.push_back(std::move(r));
    }
    return b;
  }

  size_t Uniform(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }

 private:
  static constexpr const char* kUtf8[] = {"a", "é", "ß", "日本", "🙂", "Ω", "\xe2\x80\x8b"};
  std::mt19937_64 rng_;
};

void ExpectBatchEq(const RecordBatch& a, const RecordBatch& b) {
  ASSERT_EQ(a.tenant, b.tenant);
  ASSERT_EQ(a.records.size(), b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) ASSERT_EQ(a.records[i], b.records[i]) << i;
}

TEST(RecordCodecTest, EmptyBatch) {
  RecordBatch b;
  std::string enc;
  EncodeBatch(b, &enc);
  EXPECT_EQ(enc, std::string("\x02\x00\x00", 3));
  RecordBatch out;
  out.tenant = "stale";
  out.records.resize(3);
  ASSERT_TRUE(DecodeBatch(enc, &out).ok());
  ExpectBatchEq(b, out);
}

TEST(RecordCodecTest, HandBuiltLayout) {
  RecordBatch b;
  b.tenant = "t";
  Record r;
  r.timestamp_ns = -1;
  r.observed_ns = 2;
  r.level = Level::kWarn;
  r.flags = kFlagTimestampMissing;
  r.pattern_id = 300;
  r.tenant = "t";
  r.service = "s";
  r.message = "hi";
  r.attributes.push_back({"k", ""});
  b.records.push_back(r);
  std::string enc;
  EncodeBatch(b, &enc);
  const std::string expected(
      "\x02"        // version
      "\x01t"       // tenant
      "\x01"        // record count
      "\x01"        // zigzag(-1 - 0)
      "\x04"        // zigzag(2 - 0)
      "\x04\x01"    // level, flags
      "\xac\x02"    // pattern id 300
      "\x01s"       // service
      "\x00\x00"    // instance, source
      "\x02hi"      // message
      "\x01"        // attribute count
      "\x01k\x00",  // key, value
      21);
  EXPECT_EQ(enc, expected);
  RecordBatch out;
  ASSERT_TRUE(DecodeBatch(enc, &out).ok());
  ExpectBatchEq(b, out);
}

TEST(RecordCodecTest, PatternIdsRoundTrip) {
  RecordBatch b;
  b.tenant = "acme";
  for (uint32_t id : {0u, 1u, 127u, 128u, 16384u, UINT32_MAX - 1, UINT32_MAX, 0u}) {
    Record r;
    r.tenant = "acme";
    r.timestamp_ns = 1700000000000000000;
    r.message = "m" + std::to_string(id);
    r.pattern_id = id;
    b.records.push_back(r);
  }
  std::string enc;
  EncodeBatch(b, &enc);
  RecordBatch out;
  ASSERT_TRUE(DecodeBatch(enc, &out).ok());
  ExpectBatchEq(b, out);
  EXPECT_EQ(out.records[6].pattern_id, UINT32_MAX);
}

// Payloads written before pattern ids existed (WALs from before the upgrade)
// still decode, with pattern id 0.
TEST(RecordCodecTest, Version1DecodesWithPatternIdZero) {
  const std::string v1(
      "\x01"  // version 1
      "\x04"
      "acme"      // tenant
      "\x02"      // 2 records
      "\x02\x04"  // zigzag(1), zigzag(2)
      "\x03\x00"  // info, flags 0
      "\x03"
      "api\x00\x00\x02ok"  // service, instance, source, message
      "\x01\x01k\x01v"     // 1 attribute k=v
      "\x02\x02"           // ts 2, observed 3
      "\x05\x01"           // error, flags 1
      "\x03"
      "api\x00\x00\x03"
      "err"    // message
      "\x00",  // 0 attributes
      40);
  RecordBatch out;
  // A batch reused from a version 2 decode: the old pattern ids must not survive.
  out.records.resize(2);
  out.records[0].pattern_id = out.records[1].pattern_id = 77;
  Status s = DecodeBatch(v1, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(out.tenant, "acme");
  ASSERT_EQ(out.records.size(), 2u);
  EXPECT_EQ(out.records[0].timestamp_ns, 1);
  EXPECT_EQ(out.records[0].observed_ns, 2);
  EXPECT_EQ(out.records[0].level, Level::kInfo);
  EXPECT_EQ(out.records[0].service, "api");
  EXPECT_EQ(out.records[0].message, "ok");
  EXPECT_EQ(out.records[0].attributes, (std::vector<Attribute>{{"k", "v"}}));
  EXPECT_EQ(out.records[1].timestamp_ns, 2);
  EXPECT_EQ(out.records[1].observed_ns, 3);
  EXPECT_EQ(out.records[1].level, Level::kError);
  EXPECT_EQ(out.records[1].flags, 1);
  EXPECT_EQ(out.records[1].message, "err");
  EXPECT_EQ(out.records[1].tenant, "acme");
  for (const Record& r : out.records) EXPECT_EQ(r.pattern_id, 0u);

  // The same records encoded now: version 2, and equal after decoding.
  RecordBatch again;
  again.tenant = out.tenant;
  again.records = out.records;
  std::string enc;
  EncodeBatch(again, &enc);
  EXPECT_EQ(enc[0], 2);
  EXPECT_EQ(enc.size(), v1.size() + 2);  // one pattern id byte per record
  RecordBatch out2;
  ASSERT_TRUE(DecodeBatch(enc, &out2).ok());
  ExpectBatchEq(out, out2);

  // Every truncation of the version 1 payload is still Corruption.
  for (size_t n = 0; n < v1.size(); ++n) {
    EXPECT_EQ(DecodeBatch(v1.substr(0, n), &out).code(), StatusCode::kCorruption) << n;
  }
}

TEST(RecordCodecTest, PatternIdOver32BitsIsCorruption) {
  std::string enc("\x02\x00\x01\x00\x00\x03\x00", 7);  // version 2, tenant "", 1 record
  PutVarint64(&enc, uint64_t{UINT32_MAX} + 1);
  enc += std::string("\x00\x00\x00\x00\x00", 5);  // four empty strings, 0 attributes
  RecordBatch out;
  Status s = DecodeBatch(enc, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("pattern id of record 0 at byte 7"), std::string_view::npos)
      << s.ToString();
  EXPECT_NE(s.message().find("4294967296"), std::string_view::npos) << s.ToString();
  EXPECT_TRUE(out.records.empty());

  // UINT32_MAX itself is fine.
  std::string ok("\x02\x00\x01\x00\x00\x03\x00", 7);
  PutVarint64(&ok, UINT32_MAX);
  ok += std::string("\x00\x00\x00\x00\x00", 5);
  s = DecodeBatch(ok, &out);
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(out.records[0].pattern_id, UINT32_MAX);

  // A truncated pattern id names the field too.
  // (11 continuation bytes: also enough bytes left for the record count check.)
  s = DecodeBatch(std::string("\x02\x00\x01\x00\x00\x03\x00", 7) + std::string(11, '\x80'), &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("pattern id of record 0"), std::string_view::npos) << s.ToString();
}

TEST(RecordCodecTest, AppendsToExistingOutput) {
  RandomBatches gen(7);
  RecordBatch b = gen.Batch(5);
  std::string enc = "prefix";
  EncodeBatch(b, &enc);
  ASSERT_EQ(enc.substr(0, 6), "prefix");
  RecordBatch out;
  ASSERT_TRUE(DecodeBatch(std::string_view(enc).substr(6), &out).ok());
  ExpectBatchEq(b, out);
}

TEST(RecordCodecTest, RandomRoundTrip) {
  RandomBatches gen(1234);
  RecordBatch out;  // reused across iterations: capacity reuse must not leak old data
  for (int iter = 0; iter < 300; ++iter) {
    RecordBatch b = gen.Batch(iter % 10 == 0 ? 400 : 20);
    std::string enc;
    EncodeBatch(b, &enc);
    Status s = DecodeBatch(enc, &out);
    ASSERT_TRUE(s.ok()) << s.ToString();
    ExpectBatchEq(b, out);
  }
}

TEST(RecordCodecTest, EveryTruncationIsCorruption) {
  RandomBatches gen(99);
  for (int iter = 0; iter < 20; ++iter) {
    RecordBatch b = gen.Batch(8);
    std::string enc;
    EncodeBatch(b, &enc);
    for (size_t n = 0; n < enc.size(); ++n) {
      // A copy of exactly n bytes so that ASan catches any read past the end.
      std::string prefix = enc.substr(0, n);
      RecordBatch out;
      Status s = DecodeBatch(prefix, &out);
      ASSERT_EQ(s.code(), StatusCode::kCorruption) << "prefix " << n << ": " << s.ToString();
      ASSERT_TRUE(out.records.empty());
    }
  }
}

TEST(RecordCodecTest, TrailingBytesAndBadVersionAndLevel) {
  RecordBatch b;
  b.tenant = "x";
  b.records.emplace_back();
  b.records.back().tenant = "x";
  std::string enc;
  EncodeBatch(b, &enc);
  RecordBatch out;

  Status s = DecodeBatch(enc + "z", &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("trailing"), std::string_view::npos) << s.ToString();

  for (char v : {'\x00', '\x03', '\x09'}) {
    std::string bad_version = enc;
    bad_version[0] = v;
    s = DecodeBatch(bad_version, &out);
    EXPECT_EQ(s.code(), StatusCode::kCorruption);
    EXPECT_NE(s.message().find("unsupported version " + std::to_string(v)), std::string_view::npos)
        << s.ToString();
  }

  std::string bad_level = enc;
  bad_level[6] = 7;  // version, tenant(2), count, ts, obs, level
  s = DecodeBatch(bad_level, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("level"), std::string_view::npos) << s.ToString();
}

TEST(RecordCodecTest, HugeLengthsDoNotAllocate) {
  // These are version 1 payloads (no pattern id), which DecodeBatch still reads.
  // A record count of 2^62 in a 12-byte input must be refused before resizing.
  std::string enc("\x01\x00", 2);
  PutVarint64(&enc, uint64_t{1} << 62);
  enc += "abc";
  RecordBatch out;
  Status s = DecodeBatch(enc, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("record count"), std::string_view::npos) << s.ToString();

  // A message length of 2^40.
  std::string enc2("\x01\x00\x01\x00\x00\x03\x00\x00\x00\x00", 10);
  PutVarint64(&enc2, uint64_t{1} << 40);
  enc2 += "abcdefgh";
  s = DecodeBatch(enc2, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("message of record 0"), std::string_view::npos) << s.ToString();
  EXPECT_NE(s.message().find("overruns"), std::string_view::npos) << s.ToString();

  // An attribute count of 2^50.
  std::string enc3("\x01\x00\x01\x00\x00\x03\x00\x00\x00\x00\x00", 11);
  PutVarint64(&enc3, uint64_t{1} << 50);
  s = DecodeBatch(enc3, &out);
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_NE(s.message().find("attribute count"), std::string_view::npos) << s.ToString();
}

TEST(RecordCodecTest, RandomMutationsNeverCrash) {
  RandomBatches gen(5);
  for (int iter = 0; iter < 200; ++iter) {
    RecordBatch b = gen.Batch(6);
    std::string enc;
    EncodeBatch(b, &enc);
    for (int m = 0; m < 20; ++m) {
      std::string mutated = enc;
      size_t flips = gen.Uniform(1, 4);
      for (size_t f = 0; f < flips; ++f) {
        mutated[gen.Uniform(0, mutated.size() - 1)] = static_cast<char>(gen.Uniform(0, 255));
      }
      RecordBatch out;
      Status s = DecodeBatch(mutated, &out);
      if (!s.ok()) {
        ASSERT_EQ(s.code(), StatusCode::kCorruption);
      }
    }
  }
}

}  // namespace
}  // namespace lode
