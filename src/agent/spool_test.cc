#include "agent/spool.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/test_util.h"

namespace lode {
namespace {

namespace fs = std::filesystem;

void WriteFile(const std::string& path, std::string_view data) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0) << path << ": " << strerror(errno);
  ASSERT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

uint64_t FileBytes(const std::string& dir) {
  uint64_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.is_regular_file()) n += e.file_size();
  }
  return n;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::string SpoolDir() const { return tmp_.path() + "/state/spool"; }
  std::string BatchPath(std::string_view name) const {
    return SpoolDir() + "/" + std::string(name);
  }

  std::unique_ptr<Spool> Open() {
    auto s = Spool::Open(SpoolDir());
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    return s.ok() ? std::move(*s) : nullptr;
  }

  uint64_t Push(Spool* s, std::string_view body, uint64_t records, std::string_view cp) {
    auto seq = s->Push(body, records, cp);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    return seq.ok() ? *seq : 0;
  }

  std::optional<Spool::Batch> Front(Spool* s) {
    auto f = s->Front();
    EXPECT_TRUE(f.ok()) << f.status().ToString();
    return f.ok() ? std::move(*f) : std::nullopt;
  }

  TempDir tmp_;
};

TEST_F(SpoolTest, OpenCreatesAnEmptySpool) {
  auto s = Open();
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(fs::is_directory(SpoolDir()));
  EXPECT_EQ(s->batches(), 0u);
  EXPECT_EQ(s->bytes(), 0u);
  EXPECT_EQ(s->next_seq(), 1u);
  EXPECT_FALSE(Front(s.get()).has_value());
  auto cp = s->NewestCheckpoint();
  ASSERT_TRUE(cp.ok());
  EXPECT_EQ(*cp, "");
}

TEST_F(SpoolTest, PushFrontPopInOrder) {
  auto s = Open();
  EXPECT_EQ(Push(s.get(), "{\"m\":\"a\"}\n{\"m\":\"b\"}\n", 2, R"({"files":[1]})"), 1u);
  EXPECT_EQ(Push(s.get(), "{\"m\":\"c\"}\n", 1, R"({"files":[2]})"), 2u);
  EXPECT_EQ(Push(s.get(), "", 0, R"({"files":[3]})"), 3u);
  EXPECT_EQ(s->batches(), 3u);
  EXPECT_EQ(s->next_seq(), 4u);
  EXPECT_EQ(s->bytes(), FileBytes(SpoolDir()));
  EXPECT_EQ(Names(SpoolDir()),
            (std::vector<std::string>{"00000000000000000001.batch", "00000000000000000002.batch",
                                      "00000000000000000003.batch"}));
  EXPECT_EQ(*s->NewestCheckpoint(), R"({"files":[3]})");

  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 1u);
  EXPECT_EQ(b->records, 2u);
  EXPECT_EQ(b->checkpoint, R"({"files":[1]})");
  EXPECT_EQ(b->body, "{\"m\":\"a\"}\n{\"m\":\"b\"}\n");
  // Front does not remove.
  EXPECT_EQ(Front(s.get())->seq, 1u);

  ASSERT_TRUE(s->Pop(1).ok());
  EXPECT_FALSE(fs::exists(BatchPath("00000000000000000001.batch")));
  EXPECT_EQ(s->bytes(), FileBytes(SpoolDir()));
  b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(b->body, "{\"m\":\"c\"}\n");
  ASSERT_TRUE(s->Pop(2).ok());
  b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 3u);
  EXPECT_EQ(b->records, 0u);
  EXPECT_EQ(b->body, "");
  ASSERT_TRUE(s->Pop(3).ok());
  EXPECT_FALSE(Front(s.get()).has_value());
  EXPECT_EQ(s->bytes(), 0u);
  EXPECT_EQ(*s->NewestCheckpoint(), "");
  // Sequence numbers are not reused.
  EXPECT_EQ(Push(s.get(), "x\n", 1, "{}"), 4u);
}

TEST_F(SpoolTest, BodyIsKeptByteForByte) {
  auto s = Open();
  static constexpr char kRaw[] = "line 1\nline 2 \xff\xfe\r\n\0nul\n";
  const std::string body = std::string(kRaw, sizeof(kRaw) - 1) + "no newline";
  Push(s.get(), body, 3, "{}");
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->body, body);
}

TEST_F(SpoolTest, CheckpointIsStoredAsJson) {
  auto s = Open();
  Push(s.get(), "x\n", 1, R"({ "version": 1, "files": [ {"path": "/a b\nc", "offset": 7} ] })");
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->checkpoint, R"({"version":1,"files":[{"path":"/a b\nc","offset":7}]})");
  EXPECT_EQ(*s->NewestCheckpoint(), b->checkpoint);
}

// A checkpoint spread over several lines is stored minified (the header is one
// line), so the batch reads back.
TEST_F(SpoolTest, MultiLineJsonCheckpointSurvives) {
  auto s = Open();
  Push(s.get(), "x\n", 1, "{\n  \"version\": 1,\n  \"files\": []\n}");
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->checkpoint, R"({"version":1,"files":[]})");
  EXPECT_EQ(b->body, "x\n");
}

TEST_F(SpoolTest, ReopenListsWhatIsThere) {
  {
    auto s = Open();
    Push(s.get(), "a\n", 1, R"({"n":1})");
    Push(s.get(), "b\n", 1, R"({"n":2})");
    Push(s.get(), "c\n", 1, R"({"n":3})");
    ASSERT_TRUE(s->Pop(1).ok());
  }
  auto s = Open();
  EXPECT_EQ(s->batches(), 2u);
  EXPECT_EQ(s->next_seq(), 4u);
  EXPECT_EQ(s->bytes(), FileBytes(SpoolDir()));
  EXPECT_EQ(*s->NewestCheckpoint(), R"({"n":3})");
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 2u);
  EXPECT_EQ(b->body, "b\n");
  EXPECT_EQ(Push(s.get(), "d\n", 1, R"({"n":4})"), 4u);
}

TEST_F(SpoolTest, OrderIsNumericAcrossDigitCounts) {
  {
    auto s = Open();
    s->SetNextSeq(98);
    for (int i = 0; i < 4; ++i) Push(s.get(), std::to_string(98 + i), 1, "{}");
  }
  auto s = Open();
  EXPECT_EQ(s->next_seq(), 102u);
  for (uint64_t seq : {98u, 99u, 100u, 101u}) {
    auto b = Front(s.get());
    ASSERT_TRUE(b.has_value());
    EXPECT_EQ(b->seq, seq);
    EXPECT_EQ(b->body, std::to_string(seq));
    ASSERT_TRUE(s->Pop(seq).ok());
  }
}

TEST_F(SpoolTest, SetNextSeqOnlyMovesForward) {
  auto s = Open();
  s->SetNextSeq(10);
  EXPECT_EQ(s->next_seq(), 10u);
  s->SetNextSeq(5);
  EXPECT_EQ(s->next_seq(), 10u);
  EXPECT_EQ(Push(s.get(), "x", 1, "{}"), 10u);
  EXPECT_EQ(s->next_seq(), 11u);
  s->SetNextSeq(11);
  EXPECT_EQ(Push(s.get(), "y", 1, "{}"), 11u);
  // A reopened spool goes on after its newest batch.
  s.reset();
  auto s2 = Open();
  EXPECT_EQ(s2->next_seq(), 12u);
  s2->SetNextSeq(3);
  EXPECT_EQ(s2->next_seq(), 12u);
}

TEST_F(SpoolTest, PopAndRejectOfUnknownSeqAreNotFound) {
  auto s = Open();
  Push(s.get(), "x", 1, "{}");
  Status st = s->Pop(42);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "spool batch 42");
  st = s->Reject(43);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(st.message(), "spool batch 43");
  ASSERT_TRUE(s->Pop(1).ok());
  EXPECT_EQ(s->Pop(1).code(), StatusCode::kNotFound);
}

TEST_F(SpoolTest, RejectMovesTheBatchAside) {
  auto s = Open();
  Push(s.get(), "bad\n", 1, R"({"n":1})");
  Push(s.get(), "good\n", 1, R"({"n":2})");
  ASSERT_TRUE(s->Reject(1).ok());
  EXPECT_EQ(s->batches(), 1u);
  EXPECT_EQ(s->bytes(), fs::file_size(BatchPath("00000000000000000002.batch")));
  EXPECT_TRUE(fs::exists(BatchPath("rejected/00000000000000000001.batch")));
  EXPECT_FALSE(fs::exists(BatchPath("00000000000000000001.batch")));
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 2u);
  // The rejected/ folder is not taken for a batch when the spool is opened again.
  s.reset();
  auto s2 = Open();
  EXPECT_EQ(s2->batches(), 1u);
  EXPECT_EQ(Front(s2.get())->seq, 2u);
}

TEST_F(SpoolTest, DamagedBatchIsMovedToRejectedByFront) {
  auto s = Open();
  Push(s.get(), "one\n", 1, R"({"n":1})");
  Push(s.get(), "two\n", 1, R"({"n":2})");
  Push(s.get(), "three\n", 1, R"({"n":3})");
  Push(s.get(), "four\n", 1, R"({"n":4})");
  Push(s.get(), "five\n", 1, R"({"n":5})");
  // Damage from outside, each a different way.
  WriteFile(BatchPath("00000000000000000001.batch"), "garbage without a newline");
  WriteFile(BatchPath("00000000000000000002.batch"), "{\"seq\":2,\"records\":1}\nbody\n");
  WriteFile(BatchPath("00000000000000000003.batch"),
            "{\"seq\":4,\"records\":1,\"checkpoint\":{}}\nbody\n");  // another batch's header
  WriteFile(BatchPath("00000000000000000004.batch"), "{\"seq\":4,\"rec");
  auto b = Front(s.get());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->seq, 5u);
  EXPECT_EQ(b->body, "five\n");
  EXPECT_EQ(s->batches(), 1u);
  EXPECT_EQ(s->bytes(), FileBytes(SpoolDir()));
  EXPECT_EQ(Names(SpoolDir() + "/rejected"),
            (std::vector<std::string>{"00000000000000000001.batch", "00000000000000000002.batch",
                                      "00000000000000000003.batch", "00000000000000000004.batch"}));
  // Nothing but damaged batches: the spool ends up empty.
  Push(s.get(), "six\n", 1, R"({"n":6})");
  ASSERT_TRUE(s->Pop(5).ok());
  WriteFile(BatchPath("00000000000000000006.batch"), "");
  EXPECT_FALSE(Front(s.get()).has_value());
  EXPECT_EQ(s->batches(), 0u);
  EXPECT_EQ(s->bytes(), 0u);
}

// A damaged newest batch is moved aside and the one before it answers: the
// agent then resumes from there and reads the damaged batch's lines again.
TEST_F(SpoolTest, NewestCheckpointSkipsADamagedBatch) {
  auto s = Open();
  Push(s.get(), "one\n", 1, R"({"n":1})");
  Push(s.get(), "two\n", 1, R"({"n":2})");
  WriteFile(BatchPath("00000000000000000002.batch"), "junk\n");
  auto cp = s->NewestCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(*cp, R"({"n":1})");
  EXPECT_EQ(s->batches(), 1u);
  EXPECT_TRUE(fs::exists(SpoolDir() + "/rejected/00000000000000000002.batch"));
  WriteFile(BatchPath("00000000000000000001.batch"), "junk\n");
  cp = s->NewestCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status().ToString();
  EXPECT_EQ(*cp, "");
  EXPECT_EQ(s->batches(), 0u);
}

TEST_F(SpoolTest, BatchDeletedFromOutsideIsAnError) {
  auto s = Open();
  Push(s.get(), "one\n", 1, "{}");
  ASSERT_EQ(unlink(BatchPath("00000000000000000001.batch").c_str()), 0);
  auto f = s->Front();
  EXPECT_FALSE(f.ok());
  EXPECT_NE(f.status().code(), StatusCode::kCorruption);
}

TEST_F(SpoolTest, OpenRemovesLeftoverTmpAndIgnoresOtherFiles) {
  fs::create_directories(SpoolDir());
  WriteFile(BatchPath("00000000000000000007.batch.tmp"), "half a batch");
  WriteFile(BatchPath("README"), "not a batch");
  WriteFile(BatchPath("x.batch"), "not a batch either");
  WriteFile(BatchPath("00000000000000000003.batchx"), "nor this");
  auto s = Open();
  EXPECT_EQ(s->batches(), 0u);
  EXPECT_EQ(s->bytes(), 0u);
  EXPECT_EQ(s->next_seq(), 1u);
  EXPECT_FALSE(fs::exists(BatchPath("00000000000000000007.batch.tmp")));
  EXPECT_TRUE(fs::exists(BatchPath("README")));
  EXPECT_TRUE(fs::exists(BatchPath("x.batch")));
  EXPECT_FALSE(Front(s.get()).has_value());
}

// Leftovers of an interrupted WriteFileAtomic (<seq>.batch.tmp.<pid>.<n>) are
// removed on Open and not counted.
TEST_F(SpoolTest, OpenRemovesTmpFilesOfAnInterruptedWriteFileAtomic) {
  fs::create_directories(SpoolDir());
  const std::string leftover = BatchPath("00000000000000000003.batch.tmp.4242.0");
  WriteFile(leftover, "{\"seq\":3,\"records\":1,\"checkpoint\":{}}\nhalf");
  auto s = Open();
  EXPECT_EQ(s->batches(), 0u);
  EXPECT_FALSE(fs::exists(leftover));
}

// A checkpoint that is not valid JSON (here: invalid UTF-8) is refused by Push,
// which writes nothing; tailer checkpoints never are (held text is base64).
TEST_F(SpoolTest, CheckpointThatIsNotJsonIsRefused) {
  auto s = Open();
  const std::string cp =
      "{\"version\":1,\"files\":[{\"path\":\"/var/log/app.log\",\"state\":{\"format\":\"plain\","
      "\"streams\":[{\"name\":\"\",\"entry\":\"caf\xe9\",\"entry_ts\":0,\"entry_lines\":1}]}}]}";
  auto seq = s->Push("{\"message\":\"x\"}\n", 1, cp);
  ASSERT_FALSE(seq.ok());
  EXPECT_EQ(seq.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(s->batches(), 0u);
  EXPECT_FALSE(Front(s.get()).has_value());
}

}  // namespace
}  // namespace lode
