#include "ingest/otlp.h"

#include <gtest/gtest.h>

#include <bit>

#include "ingest/protobuf_wire.h"

namespace lode {
namespace {

using protowire::PutBytesField;
using protowire::PutVarintField;

std::string Fixed64Field(uint32_t number, uint64_t v) {
  std::string out;
  PutVarint32(&out, number << 3 | 1);
  PutFixed64(&out, v);
  return out;
}
std::string Any(uint32_t kind, std::string_view bytes) {
  std::string out;
  PutBytesField(&out, kind, bytes);
  return out;
}
std::string AnyInt(int64_t v) {
  std::string out;
  PutVarintField(&out, 3, static_cast<uint64_t>(v));
  return out;
}
std::string Kv(std::string_view key, std::string_view any) {
  std::string out;
  PutBytesField(&out, 1, key);
  PutBytesField(&out, 2, any);
  return out;
}

TEST(OtlpTest, ProtobufRecordsWithEveryKindOfValue) {
  std::string resource, scope, rec1, rec2, scope_logs, resource_logs, request;
  PutBytesField(&resource, 1, Kv("service.name", Any(1, "cart")));
  PutBytesField(&resource, 1, Kv("host.name", Any(1, "node-3")));
  PutBytesField(&scope, 1, "my.lib");
  rec1 += Fixed64Field(1, 1700000000123456789ull);
  PutVarintField(&rec1, 2, 17);  // ERROR
  PutBytesField(&rec1, 5, Any(1, "checkout failed"));
  PutBytesField(&rec1, 6, Kv("items", AnyInt(-3)));
  std::string dbl;
  PutVarint32(&dbl, 4 << 3 | 1);
  PutFixed64(&dbl, std::bit_cast<uint64_t>(2.5));
  PutBytesField(&rec1, 6, Kv("ratio", dbl));
  PutBytesField(&rec1, 9, std::string("\x01\x02\xab\xff", 4));
  // rec2: no time (observed only), a kvlist body with an array inside, a bool.
  rec2 += Fixed64Field(11, 1700000001000000000ull);
  PutBytesField(&rec2, 3, "warning");
  std::string arr, inner_list, kvl;
  PutBytesField(&arr, 1, AnyInt(1));
  PutBytesField(&arr, 1, Any(1, "two"));
  PutBytesField(&inner_list, 1, Kv("a", Any(5, arr)));
  std::string b;
  PutVarintField(&b, 2, 1);
  PutBytesField(&inner_list, 1, Kv("ok", b));
  PutBytesField(&rec2, 5, Any(6, inner_list));
  PutBytesField(&scope_logs, 1, scope);
  PutBytesField(&scope_logs, 2, rec1);
  PutBytesField(&scope_logs, 2, rec2);
  PutBytesField(&resource_logs, 2, scope_logs);  // scope before resource: allowed
  PutBytesField(&resource_logs, 1, resource);
  PutBytesField(&request, 1, resource_logs);

  RecordBatch batch;
  batch.tenant = "t";
  OtlpOutcome out;
  ASSERT_TRUE(ParseOtlpLogsProto(request, 42, &batch, &out).ok());
  ASSERT_EQ(batch.records.size(), 2u);
  const Record& r = batch.records[0];
  EXPECT_EQ(r.service, "cart");
  EXPECT_EQ(r.instance, "node-3");
  EXPECT_EQ(r.timestamp_ns, 1700000000123456789);
  EXPECT_EQ(r.level, Level::kError);
  EXPECT_EQ(r.message, "checkout failed");
  EXPECT_EQ(r.Attr("items"), "-3");
  EXPECT_EQ(r.Attr("ratio"), "2.5");
  EXPECT_EQ(r.Attr("trace_id"), "0102abff");
  EXPECT_EQ(r.Attr("otel.scope.name"), "my.lib");
  EXPECT_EQ(r.Attr("host.name"), "node-3");
  EXPECT_FALSE(r.Attr("service.name").has_value());
  const Record& r2 = batch.records[1];
  EXPECT_EQ(r2.timestamp_ns, 1700000001000000000);
  EXPECT_EQ(r2.level, Level::kWarn);
  EXPECT_EQ(r2.message, R"({"a":[1,"two"],"ok":true})");

  // Truncations are errors or skipped records, never crashes.
  for (size_t n = 1; n < request.size(); ++n) {
    RecordBatch b2;
    OtlpOutcome o2;
    (void)ParseOtlpLogsProto(std::string_view(request).substr(0, n), 0, &b2, &o2);
  }
}

TEST(OtlpTest, JsonMapping) {
  const std::string json = R"({"resourceLogs":[{
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"api"}},
                              {"key":"k8s.pod.name","value":{"stringValue":"api-7f"}}]},
    "scopeLogs":[{"scope":{"name":"s"},"logRecords":[
      {"timeUnixNano":"1700000000000000001","severityNumber":21,"body":{"stringValue":"down"},
       "traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174",
       "attributes":[{"key":"n","value":{"intValue":"7"}}]},
      {"severityText":"debug","body":{"stringValue":"no time"}}]}]}]})";
  RecordBatch batch;
  OtlpOutcome out;
  ASSERT_TRUE(ParseOtlpLogsJson(json, 99, &batch, &out).ok());
  ASSERT_EQ(batch.records.size(), 2u);
  EXPECT_EQ(batch.records[0].timestamp_ns, 1700000000000000001);
  EXPECT_EQ(batch.records[0].level, Level::kFatal);
  EXPECT_EQ(batch.records[0].instance, "api-7f");
  EXPECT_EQ(batch.records[0].Attr("n"), "7");
  EXPECT_EQ(batch.records[0].Attr("span_id"), "eee19b7ec3c1b174");
  EXPECT_EQ(batch.records[1].timestamp_ns, 99);
  EXPECT_TRUE(batch.records[1].flags & kFlagTimestampMissing);
  EXPECT_EQ(batch.records[1].level, Level::kDebug);
  EXPECT_EQ(ParseOtlpLogsJson("{}", 0, &batch, &out).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace lode
