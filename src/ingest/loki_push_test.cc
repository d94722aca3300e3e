#include "ingest/loki_push.h"

#include <gtest/gtest.h>
#include <snappy.h>

#include "common/coding.h"

namespace lode {
namespace {

std::string Field(uint32_t number, std::string_view payload) {
  std::string out;
  PutVarint32(&out, number << 3 | 2);
  PutVarint64(&out, payload.size());
  out.append(payload);
  return out;
}
std::string VarintField(uint32_t number, uint64_t v) {
  std::string out;
  PutVarint32(&out, number << 3);
  PutVarint64(&out, v);
  return out;
}

std::string Entry(int64_t seconds, int32_t nanos, std::string_view line,
                  std::string_view meta_name = "", std::string_view meta_value = "") {
  std::string e = Field(1, VarintField(1, static_cast<uint64_t>(seconds)) +
                               VarintField(2, static_cast<uint64_t>(nanos))) +
                  Field(2, line);
  if (!meta_name.empty()) e += Field(3, Field(1, meta_name) + Field(2, meta_value));
  return Field(2, e);
}

TEST(LokiPushTest, DecodesStreamsEntriesAndMetadata) {
  const std::string proto =
      Field(1, Field(1, R"({app="checkout", level="error"})") + Entry(1700000000, 5, "boom") +
                   Entry(1700000001, 0, "again", "trace_id", "abc") + VarintField(3, 42)) +
      VarintField(7, 99) +  // an unknown field: skipped
      Field(1, Field(1, "{}") + Entry(1, 2, "bare"));
  std::vector<PushStream> streams;
  ASSERT_TRUE(DecodePushRequest(proto, &streams).ok());
  ASSERT_EQ(streams.size(), 2u);
  EXPECT_EQ(streams[0].labels, (LabelPairs{{"app", "checkout"}, {"level", "error"}}));
  ASSERT_EQ(streams[0].entries.size(), 2u);
  EXPECT_EQ(streams[0].entries[0].timestamp_ns, 1700000000'000000005);
  EXPECT_EQ(streams[0].entries[0].line, "boom");
  EXPECT_EQ(streams[0].entries[1].metadata, (LabelPairs{{"trace_id", "abc"}}));
  EXPECT_TRUE(streams[1].labels.empty());
  EXPECT_EQ(streams[1].entries[0].timestamp_ns, 1'000000002);

  // The same through snappy.
  std::string compressed, raw;
  snappy::Compress(proto.data(), proto.size(), &compressed);
  ASSERT_TRUE(SnappyUncompress(compressed, 1 << 20, &raw).ok());
  EXPECT_EQ(raw, proto);
  EXPECT_EQ(SnappyUncompress(compressed, 10, &raw).code(), StatusCode::kTooLarge);
  EXPECT_EQ(SnappyUncompress("\xff\xff\xff\xff\xff\xff", 1 << 20, &raw).code(),
            StatusCode::kInvalidArgument);
}

TEST(LokiPushTest, MalformedBodiesAreNamed) {
  const std::string good = Field(1, Field(1, R"({a="b"})") + Entry(1, 0, "x"));
  std::vector<PushStream> streams;
  // Every truncation is an error, never a crash.
  for (size_t n = 1; n < good.size(); ++n) {
    Status s = DecodePushRequest(std::string_view(good).substr(0, n), &streams);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << n;
  }
  Status s = DecodePushRequest(Field(1, Field(1, R"({a="b", oops})")), &streams);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("stream 0"), std::string::npos) << s.ToString();
  EXPECT_NE(s.message().find("expected ="), std::string::npos) << s.ToString();
}

TEST(LokiPushTest, PrometheusLabels) {
  LabelPairs out;
  ASSERT_TRUE(ParsePrometheusLabels(R"({ a = "x\"y" , b="line\nbreak",c="\\"})", &out).ok());
  EXPECT_EQ(out, (LabelPairs{{"a", "x\"y"}, {"b", "line\nbreak"}, {"c", "\\"}}));
  ASSERT_TRUE(ParsePrometheusLabels("", &out).ok());
  EXPECT_TRUE(out.empty());
  for (std::string_view bad : {"{a=\"x\"", "a=\"x\"}", "{a=x}", "{=\"x\"}", "{a=\"x\"} tail"}) {
    EXPECT_EQ(ParsePrometheusLabels(bad, &out).code(), StatusCode::kInvalidArgument) << bad;
  }
}

}  // namespace
}  // namespace lode
