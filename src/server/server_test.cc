// Unit tests of the server's small parts: query strings, config, durations,
// the JSON writer.
#include <gtest/gtest.h>

#include <fstream>

#include "common/json_writer.h"
#include "common/test_util.h"
#include "parse/duration.h"
#include "server/query_params.h"
#include "server/server_config.h"

namespace lode {
namespace {

TEST(QueryParamsTest, DecodesAndRepeats) {
  auto p = QueryParams::FromTarget("/api/v1/logs?level=warn&level=error&contains=a%20b+c&x&e=%zz");
  EXPECT_EQ(p.GetAll("level"), (std::vector<std::string_view>{"warn", "error"}));
  EXPECT_EQ(p.Get("contains"), "a b c");
  EXPECT_EQ(p.Get("x"), "");
  EXPECT_EQ(p.Get("e"), "%zz");
  EXPECT_FALSE(p.Get("none").has_value());
  EXPECT_EQ(p.Unknown({"level", "contains", "e"}), (std::vector<std::string_view>{"x"}));
  EXPECT_TRUE(QueryParams::FromTarget("/p").pairs().empty());
}

TEST(DurationTest, ParsesAndFormats) {
  struct Case {
    const char* text;
    int64_t ns;
  } cases[] = {{"1s", 1000000000},       {"500ms", 500000000},
               {"1h30m", 5400000000000}, {"2d", 172800000000000},
               {"1w", 604800000000000},  {"90", 90000000000},
               {"0.5", 500000000},       {"1.5m", 90000000000},
               {"10us", 10000},          {"7ns", 7}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    auto d = ParseDuration(c.text);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_EQ(*d, c.ns);
  }
  for (const char* bad : {"", "abc", "5x", "-1s", "1s5", "h"}) {
    SCOPED_TRACE(bad);
    EXPECT_FALSE(ParseDuration(bad).ok());
  }
  EXPECT_EQ(FormatDuration(5400000000000), "1h30m");
  EXPECT_EQ(FormatDuration(250000000), "250ms");
  EXPECT_EQ(FormatDuration(0), "0s");
}

TEST(ServerConfigTest, ByteSizesAndAddresses) {
  EXPECT_EQ(*ParseByteSize("64MiB"), 64ull << 20);
  EXPECT_EQ(*ParseByteSize("10k"), 10000u);
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("1.5GB"), 1500000000u);
  EXPECT_FALSE(ParseByteSize("lots").ok());
  EXPECT_FALSE(ParseByteSize("5 parsecs").ok());
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(SplitHostPort("127.0.0.1:8080", &host, &port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 8080);
  ASSERT_TRUE(SplitHostPort("[::1]:9", &host, &port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_FALSE(SplitHostPort("localhost", &host, &port).ok());
  EXPECT_FALSE(SplitHostPort("h:99999", &host, &port).ok());
}

TEST(ServerConfigTest, LoadsFileAndRejectsUnknownKeys) {
  TempDir dir;
  std::string path = dir.path() + "/lode.yaml";
  std::ofstream(path) << "data_dir: /var/lib/lode\nhttp:\n  listen: 127.0.0.1:9999\n"
                         "  max_body_bytes: 8MiB\nwal:\n  group_delay: 2ms\n";
  ServerConfig c;
  ASSERT_TRUE(LoadConfigFile(path, &c).ok());
  EXPECT_EQ(c.data_dir, "/var/lib/lode");
  EXPECT_EQ(c.http_listen, "127.0.0.1:9999");
  EXPECT_EQ(c.max_body_bytes, 8ull << 20);
  EXPECT_EQ(c.wal_group_delay_ns, 2000000);

  std::ofstream(path) << "http:\n  listen: x:1\n  colour: blue\n";
  Status s = LoadConfigFile(path, &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("http.colour"), std::string_view::npos) << s.message();
  EXPECT_NE(s.message().find(":3"), std::string_view::npos) << "names the line: " << s.message();

  std::ofstream(path) << "http:\n  max_body_bytes: huge\n";
  s = LoadConfigFile(path, &c);
  EXPECT_NE(s.message().find("max_body_bytes"), std::string_view::npos) << s.message();

  std::ofstream(path) << "http: [unclosed\n";
  EXPECT_EQ(LoadConfigFile(path, &c).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadConfigFile(dir.path() + "/missing.yaml", &c).code(), StatusCode::kIOError);
}

TEST(JsonWriterTest, WritesValidJson) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject().Key("s").String("a\"b\\c\n\x01").Key("n").Int(-5).Key("u").Uint(7);
  w.Key("d").Double(0.25).Key("b").Bool(true).Key("z").Null();
  w.Key("a").BeginArray().Int(1).String("x").BeginObject().EndObject().EndArray();
  w.Key("raw").Raw("[1,2]").EndObject();
  EXPECT_EQ(out, R"({"s":"a\"b\\c\n\u0001","n":-5,"u":7,"d":0.25,"b":true,"z":null,)"
                 R"("a":[1,"x",{}],"raw":[1,2]})");
}

}  // namespace
}  // namespace lode
