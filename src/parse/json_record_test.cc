#include "parse/json_record.h"

#include <gtest/gtest.h>

#include "gen/fleet.h"
#include "parse/timestamp.h"

namespace lode {
namespace {

constexpr int64_t kNow = 1764000000LL * 1000000000LL;  // 2025-11-24T16:00:00Z

class JsonRecordTest : public ::testing::Test {
 protected:
  Record Parse(std::string json, std::string_view tenant = "default") {
    json.append(JsonRecordParser::kPadding, ' ');
    std::string_view view(json.data(), json.size() - JsonRecordParser::kPadding);
    ParseContext ctx;
    ctx.observed_ns = kNow;
    ctx.tenant = tenant;
    Record r;
    Status s = parser_.ParseObject(view, ctx, &r);
    EXPECT_TRUE(s.ok()) << s.ToString() << " for " << view;
    return r;
  }
  Status ParseError(std::string json) {
    json.append(JsonRecordParser::kPadding, ' ');
    std::string_view view(json.data(), json.size() - JsonRecordParser::kPadding);
    Record r;
    return parser_.ParseObject(view, ParseContext{kNow}, &r);
  }
  JsonRecordParser parser_;
};

TEST_F(JsonRecordTest, DesignExampleRecord) {
  Record r = Parse(R"json({"message": "test 1", "level": "info",
     "timestamp": "Date Thu Nov 14 2024 17:01:04 GMT+0200 (Israel Standard Time)",
     "source": {"type": "http", "entity": "code-scanner-service", "entityInstance": "123.141.2.1"}})json");
  EXPECT_EQ(r.message, "test 1");
  EXPECT_EQ(r.level, Level::kInfo);
  EXPECT_EQ(FormatRfc3339(r.timestamp_ns), "2024-11-14T15:01:04Z");
  EXPECT_EQ(r.service, "code-scanner-service");
  EXPECT_EQ(r.instance, "123.141.2.1");
  EXPECT_EQ(r.source, "http");
  EXPECT_EQ(r.observed_ns, kNow);
  EXPECT_EQ(r.flags, 0);
  EXPECT_TRUE(r.attributes.empty()) << r.attributes[0].key;
}

struct FieldCase {
  const char* json;
  const char* message;
  Level level;
  const char* service;
  const char* instance;
  const char* source;
};

TEST_F(JsonRecordTest, CommonFieldNames) {
  const FieldCase kCases[] = {
      {R"({"msg":"a","lvl":"WARNING","app":"svc","hostname":"h1"})", "a", Level::kWarn, "svc", "h1",
       "http"},
      {R"({"log":"b\n","stream":"stderr","time":"2024-11-14T15:01:04Z","container_name":"c1"})",
       "b", Level::kUnknown, "c1", "c1", "docker"},
      {R"({"message":"c","severity":"err","service":{"name":"svc2"},"host":{"name":"h2"}})", "c",
       Level::kError, "svc2", "h2", "http"},
      {R"({"text":"d","loglevel":"D","kubernetes":{"pod_name":"p-1","labels":{"app":"web"}}})",
       "d", Level::kDebug, "web", "p-1", "k8s"},
      {R"({"message":"e","level":50,"logGroup":"/aws/lambda/pay","logStream":"s1"})", "e",
       Level::kError, "pay", "s1", "cloudwatch"},
      {R"({"body":"f","severity_text":"FATAL","service_name":"s3","source_type":"otlp"})", "f",
       Level::kFatal, "s3", "", "otlp"},
      {R"({"Message":"g","Level":"Information","Service":"s4"})", "g", Level::kInfo, "s4", "",
       "http"},
      {R"({"msg":"h","level":"notice","app":"a","service":"wins"})", "h", Level::kInfo, "wins", "",
       "http"},
  };
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.json);
    Record r = Parse(c.json);
    EXPECT_EQ(r.message, c.message);
    EXPECT_EQ(r.level, c.level);
    EXPECT_EQ(r.service, c.service);
    EXPECT_EQ(r.instance, c.instance);
    EXPECT_EQ(r.source, c.source);
  }
}

TEST_F(JsonRecordTest, NestedObjectsFlattenIntoDottedAttributes) {
  Record r = Parse(R"({"msg":"x","http":{"method":"GET","status":200,"ok":true,
      "tags":["a","b"],"ratio":0.5,"gone":null,"empty":{}},"user":{"id":"u1"}})");
  EXPECT_EQ(r.Attr("http.method"), "GET");
  EXPECT_EQ(r.Attr("http.status"), "200");
  EXPECT_EQ(r.Attr("http.ok"), "true");
  EXPECT_EQ(r.Attr("http.tags"), R"(["a","b"])");
  EXPECT_EQ(r.Attr("http.ratio"), "0.5");
  EXPECT_EQ(r.Attr("user.id"), "u1");
  EXPECT_FALSE(r.Attr("http.gone").has_value());
  EXPECT_FALSE(r.Attr("msg").has_value()) << "fields used for a role leave the attributes";
}

TEST_F(JsonRecordTest, NumericTimestampsByMagnitude) {
  EXPECT_EQ(FormatRfc3339(Parse(R"({"ts":1731596464})").timestamp_ns), "2024-11-14T15:01:04Z");
  EXPECT_EQ(FormatRfc3339(Parse(R"({"ts":1731596464.5})").timestamp_ns),
            "2024-11-14T15:01:04.5Z");
  EXPECT_EQ(FormatRfc3339(Parse(R"({"ts":1731596464123})").timestamp_ns),
            "2024-11-14T15:01:04.123Z");
  EXPECT_EQ(FormatRfc3339(Parse(R"({"ts":1731596464123456789})").timestamp_ns),
            "2024-11-14T15:01:04.123456789Z");
}

TEST_F(JsonRecordTest, MissingAndBadTimestampsFallBackToObservedTime) {
  Record missing = Parse(R"({"msg":"no time"})");
  EXPECT_EQ(missing.timestamp_ns, kNow);
  EXPECT_EQ(missing.flags, kFlagTimestampMissing);

  Record bad = Parse(R"({"msg":"bad time","time":"the day after tomorrow"})");
  EXPECT_EQ(bad.timestamp_ns, kNow);
  EXPECT_EQ(bad.flags, kFlagTimestampInvalid);
  EXPECT_EQ(bad.Attr(kAttrOriginalTimestamp), "the day after tomorrow");
  EXPECT_FALSE(bad.Attr("time").has_value());
}

TEST_F(JsonRecordTest, LevelOriginalKeptWhenSpelledDifferently) {
  Record r = Parse(R"({"msg":"x","level":"WARNING"})");
  EXPECT_EQ(r.level, Level::kWarn);
  EXPECT_EQ(r.Attr(kAttrOriginalLevel), "WARNING");
  Record canon = Parse(R"({"msg":"x","level":"warn"})");
  EXPECT_FALSE(canon.Attr(kAttrOriginalLevel).has_value());
  Record unknown = Parse(R"({"msg":"x","level":"chatty"})");
  EXPECT_EQ(unknown.level, Level::kUnknown);
  EXPECT_EQ(unknown.Attr(kAttrOriginalLevel), "chatty");
  Record pino = Parse(R"({"msg":"x","level":30})");
  EXPECT_EQ(pino.level, Level::kInfo);
  EXPECT_EQ(pino.Attr(kAttrOriginalLevel), "30");
}

TEST_F(JsonRecordTest, LevelFoundInMessageWhenNoField) {
  EXPECT_EQ(Parse(R"({"log":"2024-11-14 ERROR db down"})").level, Level::kError);
  EXPECT_EQ(Parse(R"({"log":"[WARN] slow"})").level, Level::kWarn);
  EXPECT_EQ(Parse(R"({"log":"ts=1 level=debug msg=x"})").level, Level::kDebug);
  EXPECT_EQ(Parse(R"({"log":"no error here"})").level, Level::kUnknown);
}

TEST_F(JsonRecordTest, NoMessageFieldKeepsTheWholeObject) {
  Record r = Parse(R"({"event_type":"login","user":"bob"})");
  EXPECT_EQ(r.message, R"({"event_type":"login","user":"bob"})");
  EXPECT_EQ(r.Attr("user"), "bob");
}

TEST_F(JsonRecordTest, TenantComesFromTheContext) {
  EXPECT_EQ(Parse(R"({"msg":"x"})", "team-a").tenant, "team-a");
}

TEST_F(JsonRecordTest, ErrorsNameTheProblem) {
  Status s = ParseError(R"({"msg": )");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("invalid JSON"), std::string_view::npos) << s.message();
  s = ParseError(R"([1,2])");
  EXPECT_NE(s.message().find("expected a JSON object"), std::string_view::npos) << s.message();
  s = ParseError(R"("just a string")");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
}

// Every line of the simulated fleet normalizes to the generator's ground truth.
TEST_F(JsonRecordTest, FleetLinesMatchGroundTruth) {
  FleetGenerator gen(FleetOptions{.seed = 42});
  std::string line;
  int64_t t = 1731542400LL * 1000000000LL;
  for (int i = 0; i < 50000; ++i) {
    line.clear();
    GeneratedLine truth = gen.Next(t + int64_t{i} * 7'777'777, &line);
    Record r = Parse(line);
    ASSERT_EQ(r.timestamp_ns, truth.timestamp_ns) << line;
    ASSERT_EQ(r.level, truth.level) << line;
    ASSERT_EQ(r.service, truth.service) << line;
    ASSERT_EQ(r.instance, truth.instance) << line;
    ASSERT_EQ(r.source, truth.source) << line;
    ASSERT_EQ(r.flags, 0) << line;
  }
}

}  // namespace
}  // namespace lode
