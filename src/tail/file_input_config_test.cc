#include "tail/file_input_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>
#include <string_view>
#include <vector>

namespace lode {
namespace {

constexpr int64_t kSec = 1'000'000'000;

Status Parse(std::string_view yaml, std::vector<FileInput>* out) {
  return ParseFileInputs(YAML::Load(std::string(yaml)), out);
}

// Parses `yaml`, which must fail, and returns the message.
std::string ErrorOf(std::string_view yaml) {
  std::vector<FileInput> out;
  Status s = Parse(yaml, &out);
  EXPECT_FALSE(s.ok()) << yaml;
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << yaml;
  return std::string(s.message());
}

TEST(FileInputConfigTest, FullInput) {
  std::vector<FileInput> in;
  Status s = Parse(R"(
- paths: [/var/log/pods/*/*/*.log, /var/log/containers/*.log]
  exclude: ["*/kube-system_*"]
  format: cri
  service: checkout
  instance: node-1
  labels: {env: prod, tier: 2}
  multiline:
    start: '^\S'
    max_lines: 50
    timeout: 1500ms
  start_at: end
)",
                   &in);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(in.size(), 1u);
  const FileInput& f = in[0];
  EXPECT_EQ(f.paths,
            (std::vector<std::string>{"/var/log/pods/*/*/*.log", "/var/log/containers/*.log"}));
  EXPECT_EQ(f.exclude, (std::vector<std::string>{"*/kube-system_*"}));
  EXPECT_EQ(f.format, FileFormat::kCri);
  EXPECT_EQ(f.service, "checkout");
  EXPECT_EQ(f.instance, "node-1");
  EXPECT_EQ(f.labels, (std::vector<Attribute>{{"env", "prod"}, {"tier", "2"}}));
  EXPECT_EQ(f.multiline_start, "^\\S");
  EXPECT_EQ(f.multiline_max_lines, 50);
  EXPECT_EQ(f.multiline_timeout_ns, 1500'000'000);
  EXPECT_TRUE(f.start_at_end);
}

TEST(FileInputConfigTest, DefaultsAndSingleStringPaths) {
  std::vector<FileInput> in;
  ASSERT_TRUE(Parse("- paths: /var/log/*.log\n", &in).ok());
  ASSERT_EQ(in.size(), 1u);
  const FileInput& f = in[0];
  EXPECT_EQ(f.paths, (std::vector<std::string>{"/var/log/*.log"}));
  EXPECT_TRUE(f.exclude.empty());
  EXPECT_EQ(f.format, FileFormat::kAuto);
  EXPECT_EQ(f.service, "");
  EXPECT_EQ(f.instance, "");
  EXPECT_TRUE(f.labels.empty());
  EXPECT_EQ(f.multiline_start, "");
  EXPECT_EQ(f.multiline_max_lines, 500);
  EXPECT_EQ(f.multiline_timeout_ns, kSec);
  EXPECT_FALSE(f.start_at_end);
}

TEST(FileInputConfigTest, SeveralInputsAppendInOrder) {
  std::vector<FileInput> in;
  in.emplace_back();  // what was there stays
  ASSERT_TRUE(Parse(R"(
- paths: [a]
  format: docker
  start_at: beginning
- paths: [b]
  format: plain
  exclude: x
)",
                    &in)
                  .ok());
  ASSERT_EQ(in.size(), 3u);
  EXPECT_EQ(in[1].paths, (std::vector<std::string>{"a"}));
  EXPECT_EQ(in[1].format, FileFormat::kDocker);
  EXPECT_FALSE(in[1].start_at_end);
  EXPECT_EQ(in[2].paths, (std::vector<std::string>{"b"}));
  EXPECT_EQ(in[2].format, FileFormat::kPlain);
  EXPECT_EQ(in[2].exclude, (std::vector<std::string>{"x"}));
}

TEST(FileInputConfigTest, EmptyListIsNoInputs) {
  std::vector<FileInput> in;
  ASSERT_TRUE(Parse("[]", &in).ok());
  EXPECT_TRUE(in.empty());
}

TEST(FileInputConfigTest, MultilineTimeoutSpellings) {
  for (const auto& [text, ns] : std::vector<std::pair<std::string, int64_t>>{
           {"2s", 2 * kSec}, {"500ms", kSec / 2}, {"1m", 60 * kSec}, {"3", 3 * kSec}}) {
    std::vector<FileInput> in;
    Status s = Parse("- paths: [a]\n  multiline: {timeout: " + text + "}\n", &in);
    ASSERT_TRUE(s.ok()) << text << ": " << s.ToString();
    EXPECT_EQ(in[0].multiline_timeout_ns, ns) << text;
  }
}

TEST(FileInputConfigTest, NotAList) {
  EXPECT_EQ(ErrorOf("paths: [a]"), "expected a list of inputs (- paths: ...)");
  EXPECT_EQ(ErrorOf("just text"), "expected a list of inputs (- paths: ...)");
}

TEST(FileInputConfigTest, ErrorsNameInputLineAndKey) {
  struct Case {
    std::string yaml;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"- /var/log/*.log\n", "input 1: an input must be a mapping (paths: ...)"},
      {"- paths: [a]\n- format: cri\n", "input 2: no paths"},
      {"- paths: []\n", "input 1: no paths"},
      {"- paths: [a]\n  colour: red\n",
       "input 1: line 2, \"colour\": unknown key \"colour\" (paths, exclude, format, service, "
       "instance, labels, multiline, start_at)"},
      {"- paths: [a]\n- paths: [b]\n\n  format: xml\n",
       "input 2: line 4, \"format\": unknown file format \"xml\" (auto, plain, cri, docker)"},
      {"- paths: {a: b}\n", "input 1: line 1, \"paths\": expected a string or a list of strings"},
      {"- paths:\n", "input 1: line 1, \"paths\": expected a string or a list of strings"},
      {"- paths: [a, [b]]\n", "input 1: line 1, \"paths\": expected a list of strings"},
      {"- paths: [a]\n  exclude: {x: y}\n",
       "input 1: line 2, \"exclude\": expected a string or a list of strings"},
      {"- paths: [a]\n  format: [cri]\n", "input 1: line 2, \"format\": expected a string"},
      {"- paths: [a]\n  service: [x]\n", "input 1: line 2, \"service\": expected a string"},
      {"- paths: [a]\n  instance: {x: y}\n", "input 1: line 2, \"instance\": expected a string"},
      {"- paths: [a]\n  labels: [env]\n",
       "input 1: line 2, \"labels\": expected a mapping of names to values"},
      {"- paths: [a]\n  start_at: middle\n",
       "input 1: line 2, \"start_at\": expected beginning or end, got \"middle\""},
      {"- paths: [a]\n  multiline: '^\\S'\n",
       "input 1: line 2, \"multiline\": expected a mapping (start, max_lines, timeout)"},
      {"- paths: [a]\n  multiline:\n    max_lines: 0\n",
       "input 1: line 2, \"multiline\": multiline.max_lines: expected a positive integer, got "
       "\"0\""},
      {"- paths: [a]\n  multiline:\n    max_lines: -3\n",
       "input 1: line 2, \"multiline\": multiline.max_lines: expected a positive integer, got "
       "\"-3\""},
      {"- paths: [a]\n  multiline:\n    max_lines: 10x\n",
       "input 1: line 2, \"multiline\": multiline.max_lines: expected a positive integer, got "
       "\"10x\""},
      {"- paths: [a]\n  multiline:\n    max_lines: [1]\n",
       "input 1: line 2, \"multiline\": multiline.max_lines: expected a single value"},
      {"- paths: [a]\n  multiline:\n    start: x\n    lines: 3\n",
       "input 1: line 2, \"multiline\": unknown key \"multiline.lines\" (start, max_lines, "
       "timeout)"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ErrorOf(c.yaml), c.message) << c.yaml;
  }
}

TEST(FileInputConfigTest, BadTimeoutNamesTheKey) {
  const std::string m = ErrorOf("- paths: [a]\n  multiline:\n    timeout: soon\n");
  EXPECT_TRUE(m.starts_with("input 1: line 2, \"multiline\": multiline.timeout: ")) << m;
  EXPECT_NE(m.find("soon"), std::string::npos) << m;
}

// A label whose value is a list or mapping is an error naming input, line and key
// (not a yaml-cpp exception).
TEST(FileInputConfigTest, LabelWithListValueIsAnError) {
  std::vector<FileInput> in;
  Status s;
  EXPECT_NO_THROW(s = Parse("- paths: [a]\n  labels: {env: [a, b]}\n", &in));
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.message().starts_with("input 1: line 2, \"labels\": ")) << s.message();
}

// A non-scalar multiline.start is an error, not silently "no joining".
TEST(FileInputConfigTest, NonScalarMultilineStartIsAnError) {
  std::vector<FileInput> in;
  Status s = Parse("- paths: [a]\n  multiline:\n    start: ['^\\S']\n", &in);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("multiline.start"), std::string_view::npos) << s.message();
}

}  // namespace
}  // namespace lode
