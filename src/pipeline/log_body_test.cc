#include "pipeline/log_body.h"

#include <gtest/gtest.h>

namespace lode {
namespace {

class LogBodyTest : public ::testing::Test {
 protected:
  Status Run(std::string body, BodyFormat format = BodyFormat::kAuto) {
    size_t n = body.size();
    body.append(JsonRecordParser::kPadding, ' ');
    out_ = BodyOutcome{};
    ParseContext ctx;
    ctx.observed_ns = 5;
    ctx.tenant = "t1";
    return ParseLogBody(std::string_view(body.data(), n), format, ctx, limits_, &parser_, &out_);
  }
  JsonRecordParser parser_;
  BodyLimits limits_;
  BodyOutcome out_;
};

TEST_F(LogBodyTest, NdjsonKeepsGoodLinesAndNamesBadOnes) {
  ASSERT_TRUE(Run("{\"msg\":\"a\"}\r\n\n{\"msg\": \n  \n[1]\n{\"msg\":\"b\"}").ok());
  ASSERT_EQ(out_.batch.records.size(), 2u);
  EXPECT_EQ(out_.batch.records[0].message, "a");
  EXPECT_EQ(out_.batch.records[1].message, "b");
  EXPECT_EQ(out_.batch.tenant, "t1");
  EXPECT_EQ(out_.rejected, 2u);
  ASSERT_EQ(out_.rejections.size(), 2u);
  EXPECT_EQ(out_.rejections[0].line, 3u);
  EXPECT_EQ(out_.rejections[1].line, 5u);
  EXPECT_FALSE(out_.items_are_array_elements);
}

TEST_F(LogBodyTest, ArrayItems) {
  ASSERT_TRUE(Run(R"([{"msg":"a"}, 7, {"msg":"b"}])").ok());
  ASSERT_EQ(out_.batch.records.size(), 2u);
  EXPECT_EQ(out_.rejected, 1u);
  EXPECT_EQ(out_.rejections[0].line, 2u);
  EXPECT_TRUE(out_.items_are_array_elements);
  EXPECT_EQ(Run(R"([{"msg":"a"}, )").code(), StatusCode::kInvalidArgument);
}

TEST_F(LogBodyTest, PrettyPrintedSingleObject) {
  ASSERT_TRUE(Run("{\n  \"msg\": \"pretty\",\n  \"app\": \"s\"\n}\n").ok());
  ASSERT_EQ(out_.batch.records.size(), 1u);
  EXPECT_EQ(out_.batch.records[0].message, "pretty");
  EXPECT_EQ(out_.rejected, 0u);
}

TEST_F(LogBodyTest, EmptyBodyIsNothing) {
  ASSERT_TRUE(Run("  \n\n").ok());
  EXPECT_TRUE(out_.batch.records.empty());
  EXPECT_EQ(out_.rejected, 0u);
}

TEST_F(LogBodyTest, TextLines) {
  ASSERT_TRUE(Run("ERROR one\ntwo\n", BodyFormat::kText).ok());
  ASSERT_EQ(out_.batch.records.size(), 2u);
  EXPECT_EQ(out_.batch.records[0].level, Level::kError);
  EXPECT_EQ(out_.batch.records[1].message, "two");
  EXPECT_EQ(out_.batch.records[1].flags, kFlagTimestampMissing);
}

TEST_F(LogBodyTest, LineOverLimitFailsTheRequest) {
  limits_.max_line_bytes = 12;
  Status s = Run("{\"msg\":\"a\"}\n{\"msg\":\"far too long\"}\n");
  EXPECT_EQ(s.code(), StatusCode::kTooLarge);
  EXPECT_NE(s.message().find("line 2"), std::string_view::npos) << s.message();
}

TEST_F(LogBodyTest, ReportedErrorsAreCapped) {
  limits_.max_reported_errors = 3;
  ASSERT_TRUE(Run("x\nx\nx\nx\nx\n").ok());
  EXPECT_EQ(out_.rejected, 5u);
  EXPECT_EQ(out_.rejections.size(), 3u);
}

}  // namespace
}  // namespace lode
