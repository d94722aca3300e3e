// Plain-text LogQL query tests: every tests/query/cases/<name>.test holds a
// query, its parameters and the expected result in a canonical text form; this
// runner evaluates each one against the fixed data set tests/query/data.ndjson
// and compares. Adding a case costs a file and no C++ (tests/query/README.md
// describes the format and the data set).
//
// The cases are found when the test binary starts, one test per file named
// after the file's stem (LogqlCases/LogqlCaseTest.Run/<stem>). The data set is
// loaded once per process into a SegmentStore: the first half is flushed into
// segments and the second half stays in the in-memory head, so both paths of
// the store are exercised.
//
// LODE_UPDATE_QUERY_CASES=1 rewrites the expected part of every file with what
// the engine returned (to review with a diff; never in CI).
#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/env.h"
#include "common/test_util.h"
#include "parse/duration.h"
#include "parse/timestamp.h"
#include "pipeline/log_body.h"
#include "query/logql_engine.h"
#include "storage/segment_store.h"

namespace lode::logql {
namespace {

constexpr char kCasesDir[] = LODE_SOURCE_DIR "/tests/query/cases";
constexpr char kDataFile[] = LODE_SOURCE_DIR "/tests/query/data.ndjson";
constexpr std::string_view kDefaultStart = "2024-01-15T10:00:00Z";
constexpr std::string_view kDefaultEnd = "2024-01-15T11:00:00Z";
// The ingest time given to the parser: after every record of the data set.
constexpr std::string_view kObservedAt = "2024-01-15T12:00:00Z";
constexpr std::string_view kSeparator = "---";

// ---------------------------------------------------------------------------
// A .test file.

struct QueryCase {
  std::string path;
  std::string name;  // the test name: the file stem, sanitized
  std::string query;
  QueryParams params;
  std::string header;    // the file up to and including the separator line
  std::string expected;  // the file after the separator line
  std::string error;     // the file is malformed: what and where
};

// gtest prints the parameter of a failing test: the path says it all.
void PrintTo(const QueryCase& c, std::ostream* os) {
  *os << c.path;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// Drops a trailing `# comment` (a '#' at the start or after a blank).
std::string_view StripComment(std::string_view s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '#' && (i == 0 || s[i - 1] == ' ' || s[i - 1] == '\t')) return Trim(s.substr(0, i));
  }
  return Trim(s);
}

// Splits at '\n', keeping a final line without one; a final '\n' does not
// start another line.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t nl = text.find('\n', pos);
    if (nl == std::string_view::npos) nl = text.size();
    lines.push_back(text.substr(pos, nl - pos));
    pos = nl + 1;
  }
  return lines;
}

// Text without the trailing blank lines, each line without its trailing
// blanks, ending in '\n' unless empty: what comparisons see.
std::string Normalize(std::string_view text) {
  std::vector<std::string_view> lines = SplitLines(text);
  for (auto& l : lines) {
    while (!l.empty() && (l.back() == ' ' || l.back() == '\t' || l.back() == '\r')) {
      l.remove_suffix(1);
    }
  }
  while (!lines.empty() && lines.back().empty()) lines.pop_back();
  std::string out;
  for (std::string_view l : lines) {
    out.append(l);
    out.push_back('\n');
  }
  return out;
}

std::string SanitizeTestName(std::string_view stem) {
  std::string name;
  for (char c : stem) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    name.push_back(ok ? c : '_');
  }
  return name.empty() ? std::string("_") : name;
}

// Reads the header of a case (the part before the separator) into *c;
// returns what is wrong with it, or "" when nothing is.
std::string ParseHeader(std::string_view header, QueryCase* c) {
  std::set<std::string> seen;
  std::optional<std::string> start, end;
  bool in_query = false;  // indented lines continue the query
  size_t line_no = 0;
  for (std::string_view raw : SplitLines(header)) {
    ++line_no;
    const std::string where = "line " + std::to_string(line_no) + ": ";
    if (in_query && !raw.empty() && (raw.front() == ' ' || raw.front() == '\t') &&
        !Trim(raw).empty()) {
      c->query += '\n';
      c->query += Trim(raw);
      continue;
    }
    in_query = false;
    std::string_view line = Trim(raw);
    if (line.empty() || line.front() == '#') continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return where + "expected `key: value`, got `" + std::string(line) + "`";
    }
    const std::string key(Trim(line.substr(0, colon)));
    std::string_view value = Trim(line.substr(colon + 1));
    if (!seen.insert(key).second) return where + "`" + key + "` given twice";
    if (key == "query") {
      // The query is taken verbatim: LogQL strings may hold '#'.
      c->query = std::string(value);
      in_query = true;
      continue;
    }
    value = StripComment(value);
    if (key == "start") {
      start = std::string(value);
    } else if (key == "end") {
      end = std::string(value);
    } else if (key == "step") {
      Result<int64_t> step = ParseDuration(value);
      if (!step.ok() || *step <= 0) return where + "bad step `" + std::string(value) + "`";
      c->params.step_ns = *step;
    } else if (key == "limit") {
      size_t limit = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc() || p != value.data() + value.size()) {
        return where + "bad limit `" + std::string(value) + "`";
      }
      c->params.limit = limit;
    } else if (key == "direction") {
      if (value == "backward") {
        c->params.direction = Direction::kBackward;
      } else if (value == "forward") {
        c->params.direction = Direction::kForward;
      } else {
        return where + "direction must be forward or backward, got `" + std::string(value) + "`";
      }
    } else {
      return where + "unknown key `" + key + "` (query, start, end, step, limit, direction)";
    }
  }
  if (c->query.empty()) return "no `query:` line";
  const std::string start_text = start.value_or(std::string(kDefaultStart));
  const std::string end_text = end.value_or(std::string(kDefaultEnd));
  Result<int64_t> start_ns = ParseTimestamp(start_text, 0);
  if (!start_ns.ok()) return "bad start: " + std::string(start_ns.status().message());
  Result<int64_t> end_ns = ParseTimestamp(end_text, 0);
  if (!end_ns.ok()) return "bad end: " + std::string(end_ns.status().message());
  c->params.start_ns = *start_ns;
  c->params.end_ns = *end_ns;
  return "";
}

QueryCase LoadCase(const std::filesystem::path& path) {
  QueryCase c;
  c.path = path.string();
  c.name = SanitizeTestName(path.stem().string());
  std::string text;
  Status s = Env::Default()->ReadFile(c.path, &text);
  if (!s.ok()) {
    c.error = s.ToString();
    return c;
  }
  // The separator is the first line that is exactly `---`.
  size_t pos = 0;
  std::optional<size_t> body_at;
  while (pos <= text.size()) {
    size_t nl = text.find('\n', pos);
    const size_t end = nl == std::string::npos ? text.size() : nl;
    if (Trim(std::string_view(text).substr(pos, end - pos)) == kSeparator) {
      body_at = nl == std::string::npos ? text.size() : nl + 1;
      break;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (!body_at) {
    c.error = "no `---` line between the query and the expected result";
    return c;
  }
  c.header = text.substr(0, *body_at);
  if (c.header.back() != '\n') c.header.push_back('\n');
  c.expected = text.substr(*body_at);
  c.error = ParseHeader(std::string_view(text).substr(0, pos), &c);
  return c;
}

// Every case file, sorted by name; names made unique if sanitizing clashed.
std::vector<QueryCase> LoadCases() {
  std::vector<std::filesystem::path> paths;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kCasesDir, ec)) {
    if (entry.is_regular_file() && entry.path().extension() == ".test") {
      paths.push_back(entry.path());
    }
  }
  std::sort(paths.begin(), paths.end());
  std::vector<QueryCase> cases;
  std::set<std::string> names;
  for (const auto& p : paths) {
    QueryCase c = LoadCase(p);
    std::string base = c.name;
    for (int i = 2; !names.insert(c.name).second; ++i) c.name = base + "_" + std::to_string(i);
    cases.push_back(std::move(c));
  }
  return cases;
}

// ---------------------------------------------------------------------------
// The canonical text of a result (tests/query/README.md).

// A log line on one output line: its newlines are written as `\n`.
std::string OneLine(std::string_view line) {
  std::string out;
  for (char ch : line) {
    if (ch == '\n') {
      out += "\\n";
    } else {
      out.push_back(ch);
    }
  }
  return out;
}

std::string Canonical(const Result<QueryResult>& r) {
  if (!r.ok()) {
    return "error: " + std::string(StatusCodeName(r.status().code())) + ": " +
           std::string(r.status().message()) + "\n";
  }
  std::string out;
  switch (r->type) {
    case ResultType::kStreams:
      for (const Stream& s : r->streams) {
        out += LabelsToString(s.labels) + "\n";
        for (const Entry& e : s.entries) {
          out += "  " + FormatRfc3339(e.timestamp_ns) + " " + OneLine(e.line) + "\n";
        }
      }
      break;
    case ResultType::kMatrix:
      for (const Series& s : r->matrix) {
        out += LabelsToString(s.labels) + "\n";
        for (const Point& p : s.points) {
          out += "  " + FormatRfc3339(p.t_ns) + " " + FormatSampleValue(p.value) + "\n";
        }
      }
      break;
    case ResultType::kVector:
      for (const Sample& s : r->vector) {
        out += LabelsToString(s.labels) + " " + FormatSampleValue(s.value) + "\n";
      }
      break;
    case ResultType::kScalar: out += "scalar " + FormatSampleValue(r->scalar.value) + "\n"; break;
  }
  return out;
}

// A unified-style diff of two texts, by line, with three lines of context.
std::string Diff(std::string_view want_text, std::string_view got_text) {
  const std::vector<std::string_view> a = SplitLines(want_text), b = SplitLines(got_text);
  const size_t n = a.size(), m = b.size();
  // lcs[i][j]: longest common subsequence of a[i..] and b[j..].
  std::vector<std::vector<uint32_t>> lcs(n + 1, std::vector<uint32_t>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  struct Op {
    char tag;  // ' ', '-', '+'
    std::string_view text;
    size_t ai, bi;  // line numbers (0-based) in a and b before this op
  };
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', a[i], i, j});
      ++i, ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      ops.push_back({'-', a[i], i, j});
      ++i;
    } else {
      ops.push_back({'+', b[j], i, j});
      ++j;
    }
  }
  // Hunks: each change with kContext lines around it; changes closer than
  // 2 * kContext lines share a hunk.
  constexpr size_t kContext = 3;
  std::vector<size_t> changes;
  for (size_t k = 0; k < ops.size(); ++k) {
    if (ops[k].tag != ' ') changes.push_back(k);
  }
  std::string out = "--- expected\n+++ got\n";
  for (size_t c = 0; c < changes.size();) {
    const size_t begin = changes[c] >= kContext ? changes[c] - kContext : 0;
    size_t last = changes[c];
    while (c + 1 < changes.size() && changes[c + 1] - last - 1 <= 2 * kContext) last = changes[++c];
    ++c;
    const size_t end = std::min(ops.size(), last + 1 + kContext);
    size_t a_len = 0, b_len = 0;
    for (size_t x = begin; x < end; ++x) {
      if (ops[x].tag != '+') ++a_len;
      if (ops[x].tag != '-') ++b_len;
    }
    out += "@@ -" + std::to_string(ops[begin].ai + 1) + "," + std::to_string(a_len) + " +" +
           std::to_string(ops[begin].bi + 1) + "," + std::to_string(b_len) + " @@\n";
    for (size_t x = begin; x < end; ++x) {
      out.push_back(ops[x].tag);
      out.append(ops[x].text);
      out.push_back('\n');
    }
  }
  return out;
}

// ---------------------------------------------------------------------------
// The data set, loaded once.

struct Dataset {
  TempDir dir;  // declared first: destroyed after the store
  std::unique_ptr<SegmentStore> store;
  size_t records = 0;
  size_t rejected = 0;
  std::string rejections;  // the first few, for the message
};

Result<std::unique_ptr<Dataset>> LoadDataset() {
  auto data = std::make_unique<Dataset>();
  std::string body;
  LODE_RETURN_IF_ERROR(Env::Default()->ReadFile(kDataFile, &body));
  const size_t body_size = body.size();
  body.resize(body_size + JsonRecordParser::kPadding, '\0');

  LODE_ASSIGN_OR_RETURN(const int64_t observed, ParseTimestamp(kObservedAt, 0));
  ParseContext ctx;
  ctx.observed_ns = observed;
  ctx.tenant = kDefaultTenant;
  JsonRecordParser parser;
  BodyOutcome parsed;
  LODE_RETURN_IF_ERROR(ParseLogBody(std::string_view(body.data(), body_size), BodyFormat::kAuto,
                                    ctx, BodyLimits{}, &parser, &parsed));
  data->records = parsed.batch.records.size();
  data->rejected = parsed.rejected;
  for (const Rejection& r : parsed.rejections) {
    data->rejections += "line " + std::to_string(r.line) + ": " + r.reason + "\n";
  }

  SegmentStore::Options opts;
  opts.dir = data->dir.path();
  opts.background = false;
  LODE_ASSIGN_OR_RETURN(data->store, SegmentStore::Open(opts));

  // The first half goes into segments, the rest stays in the head.
  std::vector<Record>& all = parsed.batch.records;
  const size_t half = all.size() / 2;
  RecordBatch first, second;
  first.tenant = second.tenant = std::string(kDefaultTenant);
  first.records.assign(all.begin(), all.begin() + static_cast<ptrdiff_t>(half));
  second.records.assign(all.begin() + static_cast<ptrdiff_t>(half), all.end());
  RecordBatch* p = &first;
  LODE_RETURN_IF_ERROR(data->store->Write(std::span<RecordBatch* const>(&p, 1)));
  LODE_RETURN_IF_ERROR(data->store->Flush());
  p = &second;
  LODE_RETURN_IF_ERROR(data->store->Write(std::span<RecordBatch* const>(&p, 1)));
  return data;
}

bool UpdateMode() {
  const char* v = std::getenv("LODE_UPDATE_QUERY_CASES");
  return v != nullptr && std::string_view(v) == "1";
}

// ---------------------------------------------------------------------------
// The tests.

class LogqlCaseTest : public ::testing::TestWithParam<QueryCase> {
 protected:
  static void SetUpTestSuite() {
    Result<std::unique_ptr<Dataset>> d = LoadDataset();
    if (d.ok()) {
      data_ = std::move(*d);
    } else {
      load_error_ = d.status().ToString();
    }
  }
  static void TearDownTestSuite() { data_.reset(); }

  static std::unique_ptr<Dataset> data_;
  static std::string load_error_;
};

std::unique_ptr<Dataset> LogqlCaseTest::data_;
std::string LogqlCaseTest::load_error_;

TEST_P(LogqlCaseTest, Run) {
  const QueryCase& c = GetParam();
  ASSERT_TRUE(c.error.empty()) << c.path << ": " << c.error;
  ASSERT_NE(data_, nullptr) << "loading " << kDataFile << ": " << load_error_;

  Engine engine(data_->store.get());
  const std::string got = Normalize(Canonical(engine.Run(c.query, c.params)));
  const std::string want = Normalize(c.expected);
  if (got == want) return;
  if (UpdateMode()) {
    Status s = Env::Default()->WriteFileAtomic(c.path, c.header + got);
    ASSERT_TRUE(s.ok()) << s.ToString();
    std::cout << "updated " << c.path << "\n" << Diff(want, got);
    return;
  }
  ADD_FAILURE() << c.path << "\nquery: " << c.query << "\n"
                << Diff(want, got)
                << "(LODE_UPDATE_QUERY_CASES=1 rewrites the expected part with the result)";
}

INSTANTIATE_TEST_SUITE_P(LogqlCases, LogqlCaseTest, ::testing::ValuesIn(LoadCases()),
                         [](const ::testing::TestParamInfo<QueryCase>& param_info) {
                           return param_info.param.name;
                         });
// An empty case folder is reported by LogqlCasesSetup.DataAndCases instead.
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(LogqlCaseTest);

// The data set parses completely (a rejected line would silently shift every
// expected result) and there are cases to run.
TEST(LogqlCasesSetup, DataAndCases) {
  Result<std::unique_ptr<Dataset>> d = LoadDataset();
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ((*d)->rejected, 0u) << (*d)->rejections;
  EXPECT_GT((*d)->records, 0u);
  // Both the segments and the in-memory head hold part of it.
  const StoreStats stats = (*d)->store->Stats();
  EXPECT_EQ(stats.records, (*d)->records);
  EXPECT_GT(stats.segments, 0u);
  EXPECT_GT(stats.memory_bytes, 0u);
  EXPECT_FALSE(LoadCases().empty()) << "no .test files in " << kCasesDir;
}

TEST(LogqlCasesSetup, DiffShowsChangedLines) {
  EXPECT_EQ(Diff("a\nb\nc\n", "a\nx\nc\n"),
            "--- expected\n+++ got\n@@ -1,3 +1,3 @@\n a\n-b\n+x\n c\n");
  EXPECT_EQ(Normalize("x  \n\n\n"), "x\n");
  EXPECT_EQ(Normalize(""), "");
}

}  // namespace
}  // namespace lode::logql
