#include "query/regex_literals.h"

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <random>

namespace lode {
namespace {

using V = std::vector<std::string>;

TEST(RequiredLiteralsTest, Table) {
  struct Case {
    const char* pattern;
    V want;
  } cases[] = {
      {"timeout", {"timeout"}},
      {R"(status=5\d\d latency_ms=\d{4})", {"status=5", " latency_ms="}},
      {"connection (reset|refused)", {}},  // any alternation: no claim
      {"a|b", {}},
      {"(?i)error", {}},
      {"colou?r", {"colo"}},
      {"err.*db", {"err", "db"}},
      {R"(GET /api/v1/orders/\d+)", {"GET /api/v1/orders/"}},
      {"ab+c", {"ab"}},
      {"abcd+ef", {"abcd", "ef"}},
      {"[Ee]rror", {"rror"}},
      {R"(\.json$)", {".json"}},
      {"^start", {"start"}},
      {"x{0,3}yz", {"yz"}},
      {"abc{0,3}", {"ab"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.pattern);
    EXPECT_EQ(RequiredLiterals(c.pattern, 2), c.want);
  }
}

// Whatever RE2 matches contains every claimed literal.
TEST(RequiredLiteralsTest, NeverClaimsWhatAMatchLacks) {
  std::mt19937 rng(3);
  const char* atoms[] = {"a",    "b",     "c",     "ab",  ".", "\\d", "x?",    "y*",    "z+",
                         "[ab]", "(ab)?", "(c|d)", "\\.", "-", "=",   "{1,2}", "e{0,2}"};
  const char* texts[] = {"abc",  "a.b-c=1", "zzz ab", "",     "ab ab 12", "x-y=z",
                         "cd.e", "aab.b",   "ee",     "zab9", "a1b2c3",   "ab-=.c"};
  for (int i = 0; i < 20000; ++i) {
    std::string pattern;
    int n = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < n; ++k) pattern += atoms[rng() % (sizeof(atoms) / sizeof(atoms[0]))];
    RE2 re(pattern, RE2::Quiet);
    if (!re.ok()) continue;
    auto lits = RequiredLiterals(pattern, 1);
    for (const char* t : texts) {
      if (!RE2::PartialMatch(t, re)) continue;
      for (const auto& l : lits) {
        ASSERT_NE(std::string_view(t).find(l), std::string_view::npos)
            << "pattern " << pattern << " matches \"" << t << "\" without \"" << l << "\"";
      }
    }
  }
}

}  // namespace
TEST(AlternativeLiteralsTest, OneLiteralPerBranchOrNothing) {
  using V = std::vector<std::string>;
  EXPECT_EQ(AlternativeLiterals("timeout|refused"), (V{"timeout", "refused"}));
  EXPECT_EQ(AlternativeLiterals("(timeout|connection refused)"),
            (V{"timeout", "connection refused"}));
  EXPECT_EQ(AlternativeLiterals("status=5\\d\\d|panic: .*"), (V{"status=5", "panic: "}));
  EXPECT_EQ(AlternativeLiterals("a|timeout"), V{});            // "a" is too short to look up
  EXPECT_EQ(AlternativeLiterals("timeout|.*"), V{});           // a branch matches anything
  EXPECT_EQ(AlternativeLiterals("(?i)timeout|refused"), V{});  // flags: no literal is exact
  EXPECT_EQ(AlternativeLiterals("timeout"), V{});       // no alternation: RequiredLiterals' job
  EXPECT_EQ(AlternativeLiterals("(foo)|(bar)x"), V{});  // groups are not looked into
  EXPECT_EQ(AlternativeLiterals("x(a|b)yzw"), V{});     // alternation inside a group only
  EXPECT_EQ(AlternativeLiterals("[|]abc|def"), V{});    // conservative: a '|' in a class
  EXPECT_EQ(AlternativeLiterals("GET /a|POST /b|PUT /c"), (V{"GET /a", "POST /b", "PUT /c"}));
  EXPECT_EQ(AlternativeLiterals("abc\\|def"), V{});  // an escaped bar is a literal
}

}  // namespace lode
