#include "common/crc32c.h"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace lode::crc32c {
namespace {

TEST(Crc32cTest, KnownVectors) {
  EXPECT_EQ(Value(""), 0u);
  EXPECT_EQ(Value("123456789"), 0xE3069283u);
  EXPECT_EQ(Value("a"), 0xC1D04330u);

  // From RFC 3720 (iSCSI), section B.4.
  std::string buf(32, '\0');
  EXPECT_EQ(Value(buf), 0x8A9136AAu);
  buf.assign(32, '\xff');
  EXPECT_EQ(Value(buf), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[static_cast<size_t>(i)] = static_cast<char>(i);
  EXPECT_EQ(Value(buf), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[static_cast<size_t>(i)] = static_cast<char>(31 - i);
  EXPECT_EQ(Value(buf), 0x113FDB5Cu);

  const unsigned char iscsi_read[48] = {0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00,
                                        0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
                                        0x00, 0x18, 0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                        0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
  EXPECT_EQ(Value(reinterpret_cast<const char*>(iscsi_read), sizeof(iscsi_read)), 0xD9963A56u);
}

TEST(Crc32cTest, PortableMatchesKnownVector) {
  EXPECT_EQ(ExtendPortable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(ExtendHardware(0, "123456789", 9), 0xE3069283u);
}

TEST(Crc32cTest, ExtendIsConcatenation) {
  EXPECT_EQ(Extend(Value("hello "), "world"), Value("hello world"));
  std::string s(1000, 'x');
  for (size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>(i * 7 + 3);
  for (size_t cut : {0, 1, 7, 8, 9, 63, 500, 999, 1000}) {
    EXPECT_EQ(Extend(Value(s.data(), cut), s.data() + cut, s.size() - cut), Value(s)) << cut;
  }
}

TEST(Crc32cTest, DifferentInputsDiffer) {
  EXPECT_NE(Value("a"), Value("foo"));
  EXPECT_NE(Value("foo"), Value("bar"));
}

TEST(Crc32cTest, Mask) {
  uint32_t crc = Value("foo");
  EXPECT_NE(crc, Mask(crc));
  EXPECT_NE(crc, Mask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Mask(crc)));
  EXPECT_EQ(crc, Unmask(Unmask(Mask(Mask(crc)))));
  for (uint32_t c : {0u, 1u, 0xffffffffu, 0x80000000u, 0xE3069283u}) EXPECT_EQ(Unmask(Mask(c)), c);
}

TEST(Crc32cTest, HardwareEqualsPortableOnRandomData) {
  std::mt19937_64 rng(42);
  std::string data(1 << 16, '\0');
  for (auto& c : data) c = static_cast<char>(rng());
  std::uniform_int_distribution<size_t> len_dist(0, data.size());
  std::uniform_int_distribution<size_t> off_dist(0, 15);
  for (int i = 0; i < 2000; ++i) {
    size_t off = off_dist(rng);  // unaligned starts too
    size_t len = std::min(len_dist(rng) >> (i % 12), data.size() - off);
    auto seed = static_cast<uint32_t>(rng());
    uint32_t portable = ExtendPortable(seed, data.data() + off, len);
    ASSERT_EQ(ExtendHardware(seed, data.data() + off, len), portable) << off << " " << len;
    ASSERT_EQ(Extend(seed, data.data() + off, len), portable);
  }
  if (!IsHardwareAccelerated()) GTEST_SKIP() << "no SSE4.2: only the portable path was tested";
}

}  // namespace
}  // namespace lode::crc32c
