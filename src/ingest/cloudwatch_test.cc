#include "ingest/cloudwatch.h"

#include <gtest/gtest.h>
#include <zlib.h>

namespace lode {
namespace {

std::string Gzip(std::string_view in) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY),
            Z_OK);
  std::string out(deflateBound(&z, in.size()) + 32, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// The shape of AWS's documented example (CloudWatch Logs subscription filters).
constexpr std::string_view kPayload = R"({
  "messageType": "DATA_MESSAGE",
  "owner": "123456789012",
  "logGroup": "/aws/lambda/checkout",
  "logStream": "2024/11/14/[$LATEST]ab12cd",
  "subscriptionFilters": ["to-lode"],
  "logEvents": [
    {"id": "31953106606966983378809025079804211143289615424298221568",
     "timestamp": 1731596464000, "message": "[ERROR] payment 42 declined\n"},
    {"id": "31953106606966983378809025079804211143289615424298221569",
     "timestamp": 1731596465123, "message": "START RequestId: 8f5c Version: $LATEST"},
    {"id": "x", "message": "no timestamp"}
  ]
})";

TEST(CloudWatchTest, SubscriptionPayloadBecomesRecords) {
  for (const std::string& data : {std::string(kPayload), Gzip(kPayload)}) {
    RecordBatch batch;
    batch.tenant = "t";
    CloudWatchOutcome out;
    ASSERT_TRUE(ParseCloudWatchPayload(data, 99, 1 << 20, &batch, &out).ok());
    ASSERT_EQ(batch.records.size(), 2u);
    EXPECT_EQ(out.events, 2u);
    EXPECT_EQ(out.rejected, 1u);
    ASSERT_EQ(out.errors.size(), 1u);
    EXPECT_EQ(out.errors[0], "logEvents[2]: no \"timestamp\" (milliseconds since the epoch)");
    const Record& r = batch.records[0];
    EXPECT_EQ(r.tenant, "t");
    EXPECT_EQ(r.service, "/aws/lambda/checkout");
    EXPECT_EQ(r.instance, "2024/11/14/[$LATEST]ab12cd");
    EXPECT_EQ(r.source, "cloudwatch");
    EXPECT_EQ(r.timestamp_ns, 1731596464000LL * 1'000'000);
    EXPECT_EQ(r.observed_ns, 99);
    EXPECT_EQ(r.message, "[ERROR] payment 42 declined");
    EXPECT_EQ(r.level, Level::kError);
    EXPECT_EQ(r.Attr("cloudwatch.owner"), "123456789012");
    EXPECT_EQ(batch.records[1].timestamp_ns, 1731596465123LL * 1'000'000);
    EXPECT_EQ(batch.records[1].level, Level::kUnknown);
  }
}

TEST(CloudWatchTest, ControlMessagesAndBadPayloads) {
  RecordBatch batch;
  CloudWatchOutcome out;
  ASSERT_TRUE(
      ParseCloudWatchPayload(R"({"messageType":"CONTROL_MESSAGE","logGroup":"","logEvents":[]})", 0,
                             1 << 20, &batch, &out)
          .ok());
  EXPECT_TRUE(out.control);
  EXPECT_TRUE(batch.records.empty());
  auto error = [](std::string_view data) {
    RecordBatch b;
    CloudWatchOutcome o;
    Status s = ParseCloudWatchPayload(data, 0, 1 << 20, &b, &o);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << data;
    return std::string(s.message());
  };
  EXPECT_NE(error("not json").find("not valid JSON"), std::string::npos);
  EXPECT_EQ(error(R"({"logEvents":[]})"), "CloudWatch payload: no \"logGroup\"");
  EXPECT_EQ(error(R"({"logGroup":"g"})"), "CloudWatch payload: no \"logEvents\" array");
  EXPECT_NE(error(std::string("\x1f\x8b garbage", 10)).find("gzip"), std::string::npos);
}

TEST(CloudWatchTest, Base64) {
  EXPECT_EQ(*DecodeBase64("aGVsbG8gd29ybGQ="), "hello world");
  EXPECT_EQ(*DecodeBase64("aGVsbG8gd29ybGQ"), "hello world");
  EXPECT_EQ(*DecodeBase64(""), "");
  const std::string all = [] {
    std::string s;
    for (int c = 0; c < 256; ++c) s.push_back(static_cast<char>(c));
    return s;
  }();
  // Round trip through a hand-written encoder.
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string enc;
  for (size_t i = 0; i < all.size(); i += 3) {
    uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(all[i])) << 16;
    if (i + 1 < all.size()) v |= static_cast<uint32_t>(static_cast<unsigned char>(all[i + 1])) << 8;
    if (i + 2 < all.size()) v |= static_cast<unsigned char>(all[i + 2]);
    enc += kAlphabet[(v >> 18) & 63];
    enc += kAlphabet[(v >> 12) & 63];
    enc += i + 1 < all.size() ? kAlphabet[(v >> 6) & 63] : '=';
    enc += i + 2 < all.size() ? kAlphabet[v & 63] : '=';
  }
  EXPECT_EQ(*DecodeBase64(enc), all);
  auto bad = DecodeBase64("aGVs*G8=");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "base64: bad character at byte 4");
}

}  // namespace
}  // namespace lode
