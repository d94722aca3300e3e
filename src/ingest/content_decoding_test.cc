#include "ingest/content_decoding.h"

#include <gtest/gtest.h>
#include <zlib.h>
#include <zstd.h>

namespace lode {
namespace {

std::string Gzip(std::string_view in) {
  z_stream zs{};
  EXPECT_EQ(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&zs, in.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&zs, Z_FINISH), Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

std::string Zstd(std::string_view in) {
  std::string out(ZSTD_compressBound(in.size()), '\0');
  size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), 3);
  out.resize(n);
  return out;
}

TEST(ContentDecodingTest, RoundTrips) {
  std::string text;
  for (int i = 0; i < 10000; ++i) text += "{\"msg\":\"line " + std::to_string(i) + "\"}\n";
  std::string out;
  ASSERT_TRUE(DecodeContent("gzip", Gzip(text), 1 << 30, &out).ok());
  EXPECT_EQ(out, text);
  ASSERT_TRUE(DecodeContent("GZIP", Gzip(text) + Gzip("tail"), 1 << 30, &out).ok());
  EXPECT_EQ(out, text + "tail") << "concatenated gzip members";
  ASSERT_TRUE(DecodeContent("zstd", Zstd(text), 1 << 30, &out).ok());
  EXPECT_EQ(out, text);
  ASSERT_TRUE(DecodeContent("identity", text, 1 << 30, &out).ok());
  EXPECT_EQ(out, text);
  ASSERT_TRUE(DecodeContent("", "", 10, &out).ok());
  EXPECT_EQ(out, "");
}

TEST(ContentDecodingTest, LimitsStopBombs) {
  std::string zeros(10 << 20, '\0');
  std::string out;
  EXPECT_EQ(DecodeContent("gzip", Gzip(zeros), 1 << 20, &out).code(), StatusCode::kTooLarge);
  EXPECT_LE(out.size(), (1u << 20) + 1);
  EXPECT_EQ(DecodeContent("zstd", Zstd(zeros), 1 << 20, &out).code(), StatusCode::kTooLarge);
  EXPECT_EQ(DecodeContent("", zeros, 1 << 20, &out).code(), StatusCode::kTooLarge);
}

TEST(ContentDecodingTest, CorruptAndUnknown) {
  std::string out;
  Status s = DecodeContent("gzip", "\x1f\x8b not really", 1 << 20, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("gzip"), std::string_view::npos);
  std::string z = Gzip("hello world, hello world");
  EXPECT_EQ(DecodeContent("gzip", z.substr(0, z.size() / 2), 1 << 20, &out).code(),
            StatusCode::kInvalidArgument);
  std::string zs = Zstd(std::string(1000, 'a') + "b");
  EXPECT_EQ(DecodeContent("zstd", zs.substr(0, zs.size() - 3), 1 << 20, &out).code(),
            StatusCode::kInvalidArgument);
  s = DecodeContent("br", "x", 1 << 20, &out);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("br"), std::string_view::npos);
  EXPECT_FALSE(IsSupportedContentEncoding("br"));
  EXPECT_TRUE(IsSupportedContentEncoding("zstd"));
}

}  // namespace
}  // namespace lode
