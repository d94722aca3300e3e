#include "storage/wal.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "common/fault_injection_env.h"

namespace lode {
namespace {

using Entries = std::vector<std::pair<uint64_t, std::string>>;

// Payload of entry number i: varied lengths, NUL bytes included.
std::string Payload(uint64_t i) {
  std::string s = "entry-" + std::to_string(i) + '\0';
  s.append(static_cast<size_t>((i * 37) % 200), static_cast<char>('a' + i % 26));
  return s;
}

// Captures what spdlog logs while alive (replaces the default logger).
class LogCapture {
 public:
  LogCapture()
      : old_(spdlog::default_logger()),
        sink_(std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(64)) {
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_pattern("%l %v");
    spdlog::set_default_logger(std::move(logger));
  }
  ~LogCapture() { spdlog::set_default_logger(old_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string All() const {
    std::string out;
    for (const std::string& line : sink_->last_formatted()) out += line + "\n";
    return out;
  }

 private:
  std::shared_ptr<spdlog::logger> old_;
  std::shared_ptr<spdlog::sinks::ringbuffer_sink_mt> sink_;
};

using FaultyEnv = FaultInjectionEnv;

class WalTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lode_wal_test_XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    dir_ = root_ + "/wal";  // not created: Open must create it
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
  }

  Wal::Options Opts(uint64_t max_file_bytes = 64 << 20, Env* env = Env::Default()) const {
    Wal::Options o;
    o.dir = dir_;
    o.max_file_bytes = max_file_bytes;
    o.env = env;
    return o;
  }

  // Opens the WAL, collecting the replayed entries into *replayed.
  Result<std::unique_ptr<Wal>> OpenWal(const Wal::Options& options, Entries* replayed) {
    replayed->clear();
    return Wal::Open(options, [replayed](uint64_t seq, std::string_view payload) {
      replayed->emplace_back(seq, std::string(payload));
      return Status::OK();
    });
  }

  // Opens, asserting success; checks that the replayed entries are exactly
  // seqs first..last with Payload(seq) unless `payloads` overrides them.
  std::unique_ptr<Wal> OpenExpecting(const Wal::Options& options, uint64_t first, uint64_t last) {
    Entries replayed;
    auto wal = OpenWal(options, &replayed);
    EXPECT_TRUE(wal.ok()) << wal.status().ToString();
    if (!wal.ok()) return nullptr;
    EXPECT_EQ(replayed.size(), last + 1 - first);
    for (size_t i = 0; i < replayed.size(); ++i) {
      EXPECT_EQ(replayed[i].first, first + i);
      EXPECT_EQ(replayed[i].second, Payload(first + i)) << "seq " << first + i;
    }
    EXPECT_EQ((*wal)->last_seq(), last);
    return std::move(wal).value();
  }

  // WAL file names in the directory, oldest first.
  std::vector<std::string> WalFiles() const {
    auto names = Env::Default()->ListDir(dir_);
    EXPECT_TRUE(names.ok());
    std::vector<std::string> out;
    for (const auto& n : *names) {
      if (n.starts_with("wal-") && n.ends_with(".log")) out.push_back(n);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::string PathOf(const std::string& name) const { return JoinPath(dir_, name); }

  std::string Read(const std::string& name) const {
    std::string data;
    EXPECT_TRUE(Env::Default()->ReadFile(PathOf(name), &data).ok());
    return data;
  }

  void Write(const std::string& name, std::string_view data) const {
    ASSERT_TRUE(Env::Default()->WriteFileAtomic(PathOf(name), data).ok());
  }

  uint64_t DiskBytes() const {
    uint64_t total = 0;
    for (const auto& n : WalFiles()) total += *Env::Default()->FileSize(PathOf(n));
    return total;
  }

  // Appends Payload(seq) for seq in [first, last], checking the returned seqs.
  static void AppendRange(Wal* wal, uint64_t first, uint64_t last) {
    for (uint64_t seq = first; seq <= last; ++seq) {
      auto r = wal->Append(Payload(seq));
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(*r, seq);
    }
  }

  std::string root_;
  std::string dir_;
};

TEST_F(WalTest, WalFileName) {
  EXPECT_EQ(WalFileName(1), "wal-00000000000000000001.log");
  EXPECT_EQ(WalFileName(UINT64_MAX), "wal-18446744073709551615.log");
}

TEST_F(WalTest, EmptyWal) {
  auto wal = OpenExpecting(Opts(), 1, 0);
  ASSERT_NE(wal, nullptr);
  EXPECT_EQ(wal->file_count(), 1u);
  EXPECT_EQ(wal->total_bytes(), kWalFileHeaderBytes);
  EXPECT_TRUE(wal->Sync().ok());
  wal.reset();
  wal = OpenExpecting(Opts(), 1, 0);
  EXPECT_EQ(WalFiles().size(), 1u);
}

TEST_F(WalTest, AppendSyncReopenReplaysInOrder) {
  {
    auto wal = OpenExpecting(Opts(), 1, 0);
    ASSERT_NE(wal, nullptr);
    AppendRange(wal.get(), 1, 100);
    auto empty = wal->Append("");
    ASSERT_TRUE(empty.ok());
    EXPECT_EQ(*empty, 101u);
    ASSERT_TRUE(wal->Sync().ok());
    EXPECT_EQ(wal->last_seq(), 101u);
    EXPECT_EQ(wal->total_bytes(), DiskBytes());
  }
  Entries replayed;
  auto wal = OpenWal(Opts(), &replayed);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ASSERT_EQ(replayed.size(), 101u);
  for (uint64_t seq = 1; seq <= 100; ++seq) {
    EXPECT_EQ(replayed[seq - 1].first, seq);
    EXPECT_EQ(replayed[seq - 1].second, Payload(seq));
  }
  EXPECT_EQ(replayed[100], (std::pair<uint64_t, std::string>(101, "")));
  EXPECT_EQ((*wal)->last_seq(), 101u);
  auto next = (*wal)->Append(Payload(102));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, 102u);
  ASSERT_TRUE((*wal)->Sync().ok());
  EXPECT_EQ(WalFiles().size(), 1u);  // appends went on in the same file
}

TEST_F(WalTest, ReplayErrorAbortsOpen) {
  {
    auto wal = OpenExpecting(Opts(), 1, 0);
    AppendRange(wal.get(), 1, 10);
    ASSERT_TRUE(wal->Sync().ok());
  }
  std::vector<uint64_t> seen;
  auto wal = Wal::Open(Opts(), [&seen](uint64_t seq, std::string_view) {
    seen.push_back(seq);
    return seq == 4 ? Status::Internal("boom") : Status::OK();
  });
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), StatusCode::kInternal);
  EXPECT_EQ(wal.status().message(), "boom");
  EXPECT_EQ(seen, (std::vector<uint64_t>{1, 2, 3, 4}));
  // The lock was released with the failed Wal.
  OpenExpecting(Opts(), 1, 10);
}

TEST_F(WalTest, RotationAcrossFiles) {
  constexpr uint64_t kMax = 1024;
  {
    auto wal = OpenExpecting(Opts(kMax), 1, 0);
    AppendRange(wal.get(), 1, 200);
    ASSERT_TRUE(wal->Sync().ok());
    EXPECT_GT(wal->file_count(), 10u);
    EXPECT_EQ(wal->file_count(), WalFiles().size());
    EXPECT_EQ(wal->total_bytes(), DiskBytes());
    // An entry bigger than a whole file gets a file of its own.
    std::string big(3 * kMax, 'B');
    auto r = wal->Append(big);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(*r, 201u);
    ASSERT_TRUE(wal->Sync().ok());
  }
  std::vector<std::string> files = WalFiles();
  uint64_t expected_first = 1;
  for (size_t i = 0; i < files.size(); ++i) {
    EXPECT_EQ(files[i], WalFileName(i + 1));
    std::string data = Read(files[i]);
    ASSERT_GE(data.size(), kWalFileHeaderBytes);
    EXPECT_EQ(data.substr(0, 8), kWalMagic);
    EXPECT_EQ(DecodeFixed64(data.data() + 8), expected_first) << files[i];
    if (i + 1 < files.size()) {
      EXPECT_LE(data.size(), kMax) << files[i];
    }
    // Count the entries to know the next file's first seq.
    size_t off = kWalFileHeaderBytes;
    while (off < data.size()) {
      off += kWalEntryHeaderBytes + DecodeFixed32(data.data() + off + 4);
      ++expected_first;
    }
    EXPECT_EQ(off, data.size());
  }
  EXPECT_EQ(expected_first, 202u);

  Entries replayed;
  auto wal = OpenWal(Opts(kMax), &replayed);
  ASSERT_TRUE(wal.ok()) << wal.status().ToString();
  ASSERT_EQ(replayed.size(), 201u);
  for (uint64_t seq = 1; seq <= 200; ++seq) {
    ASSERT_EQ(replayed[seq - 1].first, seq);
    ASSERT_EQ(replayed[seq - 1].second, Payload(seq));
  }
  EXPECT_EQ(replayed[200].second.size(), 3 * kMax);
  // The last file is over the limit: Open started a new file for appends.
  EXPECT_EQ((*wal)->file_count(), files.size() + 1);
  EXPECT_EQ(WalFiles().back(), WalFileName(files.size() + 1));
  auto r = (*wal)->Append("after");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, 202u);
  EXPECT_EQ((*wal)->file_count(), files.size() + 1);
  EXPECT_EQ((*wal)->total_bytes(), DiskBytes());
}

// Cuts the last file at every byte offset inside its last entry, and inside
// its header, and checks what Open keeps.
TEST_F(WalTest, TornTailAtEveryOffset) {
  constexpr uint64_t kMax = 600;
  uint64_t last_file_first_seq = 0;
  std::string last_name;
  std::string original;
  uint64_t total = 0;
  {
    auto wal = OpenExpecting(Opts(kMax), 1, 0);
    // Enough entries for three files; stop right after the last file got 2 entries.
    uint64_t seq = 0;
    while (wal->file_count() < 3) {
      ++seq;
      AppendRange(wal.get(), seq, seq);
    }
    last_file_first_seq = seq;
    total = seq + 1;
    AppendRange(wal.get(), total, total);
    ASSERT_EQ(wal->file_count(), 3u);
    ASSERT_TRUE(wal->Sync().ok());
    last_name = WalFiles().back();
    original = Read(last_name);
  }
  ASSERT_EQ(DecodeFixed64(original.data() + 8), last_file_first_seq);
  const size_t first_entry_end =
      kWalFileHeaderBytes + kWalEntryHeaderBytes + Payload(last_file_first_seq).size();
  ASSERT_EQ(original.size(), first_entry_end + kWalEntryHeaderBytes + Payload(total).size());
  const std::string saved_dir = root_ + "/saved";
  std::filesystem::copy(dir_, saved_dir, std::filesystem::copy_options::recursive);

  for (size_t cut = 0; cut < original.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    // Restore the WAL as it was, with the last file cut.
    std::filesystem::remove_all(dir_);
    std::filesystem::copy(saved_dir, dir_, std::filesystem::copy_options::recursive);
    Write(last_name, std::string_view(original).substr(0, cut));

    // Last seq that must survive. Below 16 bytes the file is deleted; up to
    // the end of its first entry it keeps no entry; then it keeps one.
    const uint64_t kept = cut < first_entry_end ? last_file_first_seq - 1 : last_file_first_seq;
    {
      LogCapture log;
      auto wal = OpenExpecting(Opts(kMax), 1, kept);
      ASSERT_NE(wal, nullptr);
      if (cut == kWalFileHeaderBytes || cut == first_entry_end) {
        EXPECT_EQ(log.All(), "");  // a clean cut between entries: nothing to drop
      } else {
        EXPECT_NE(log.All().find(last_name), std::string::npos) << log.All();
      }
      if (cut < kWalFileHeaderBytes) {
        EXPECT_NE(log.All().find("incomplete file header"), std::string::npos) << log.All();
      } else {
        size_t good = kept == last_file_first_seq ? first_entry_end : kWalFileHeaderBytes;
        EXPECT_EQ(*Env::Default()->FileSize(PathOf(last_name)), good);
        if (cut != good) {
          EXPECT_NE(log.All().find("offset " + std::to_string(good)), std::string::npos)
              << log.All();
          EXPECT_NE(log.All().find("dropping " + std::to_string(cut - good) + " bytes"),
                    std::string::npos)
              << log.All();
        }
      }
      // Appends continue right after the last kept entry: no duplicate seqs.
      AppendRange(wal.get(), kept + 1, kept + 2);
      ASSERT_TRUE(wal->Sync().ok());
      EXPECT_EQ(wal->total_bytes(), DiskBytes());
    }
    OpenExpecting(Opts(kMax), 1, kept + 2);
  }
}

TEST_F(WalTest, FlippedByteInLastEntryIsCut) {
  {
    auto wal = OpenExpecting(Opts(), 1, 0);
    AppendRange(wal.get(), 1, 5);
    ASSERT_TRUE(wal->Sync().ok());
  }
  const std::string name = WalFiles().back();
  std::string data = Read(name);
  const size_t last_entry = data.size() - kWalEntryHeaderBytes - Payload(5).size();
  data[last_entry + kWalEntryHeaderBytes + Payload(5).size() / 2] ^= 0x40;
  Write(name, data);
  {
    LogCapture log;
    auto wal = OpenExpecting(Opts(), 1, 4);
    ASSERT_NE(wal, nullptr);
    EXPECT_NE(log.All().find("warning"), std::string::npos) << log.All();
    EXPECT_NE(log.All().find(name), std::string::npos) << log.All();
    EXPECT_NE(log.All().find("checksum mismatch"), std::string::npos) << log.All();
    EXPECT_NE(log.All().find("offset " + std::to_string(last_entry)), std::string::npos);
    EXPECT_EQ(*Env::Default()->FileSize(PathOf(name)), last_entry);
    AppendRange(wal.get(), 5, 6);
    ASSERT_TRUE(wal->Sync().ok());
  }
  OpenExpecting(Opts(), 1, 6);
}

TEST_F(WalTest, CorruptionBeforeIntactEntriesInLastFileIsCutLoudly) {
  {
    auto wal = OpenExpecting(Opts(), 1, 0);
    AppendRange(wal.get(), 1, 5);
    ASSERT_TRUE(wal->Sync().ok());
  }
  const std::string name = WalFiles().back();
  std::string data = Read(name);
  size_t third = kWalFileHeaderBytes;
  for (uint64_t seq = 1; seq <= 2; ++seq) third += kWalEntryHeaderBytes + Payload(seq).size();
  data[third + kWalEntryHeaderBytes + 2] ^= 0x01;  // inside entry 3's payload
  Write(name, data);
  LogCapture log;
  auto wal = OpenExpecting(Opts(), 1, 2);
  EXPECT_NE(log.All().find("error"), std::string::npos) << log.All();
  EXPECT_NE(log.All().find("intact entry follows"), std::string::npos) << log.All();
}

TEST_F(WalTest, FlippedByteInOlderFileIsCorruption) {
  {
    auto wal = OpenExpecting(Opts(700), 1, 0);
    AppendRange(wal.get(), 1, 40);
    ASSERT_TRUE(wal->Sync().ok());
    ASSERT_GE(wal->file_count(), 3u);
  }
  const std::string older = WalFiles()[1];
  std::string data = Read(older);
  const size_t at = kWalFileHeaderBytes + kWalEntryHeaderBytes + 3;
  data[at] ^= 0x10;
  Write(older, data);
  Entries replayed;
  auto wal = OpenWal(Opts(700), &replayed);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal.status().message().find(older), std::string_view::npos) << wal.status().ToString();
  EXPECT_NE(wal.status().message().find("offset " + std::to_string(kWalFileHeaderBytes)),
            std::string_view::npos)
      << wal.status().ToString();
  // Nothing was cut from the damaged file.
  EXPECT_EQ(Read(older), data);
}

TEST_F(WalTest, MissingMiddleFileIsCorruption) {
  {
    auto wal = OpenExpecting(Opts(700), 1, 0);
    AppendRange(wal.get(), 1, 40);
    ASSERT_TRUE(wal->Sync().ok());
    ASSERT_GE(wal->file_count(), 3u);
  }
  const std::vector<std::string> files = WalFiles();
  ASSERT_TRUE(Env::Default()->RemoveFile(PathOf(files[1])).ok());
  Entries replayed;
  auto wal = OpenWal(Opts(700), &replayed);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal.status().message().find(files[2]), std::string_view::npos)
      << wal.status().ToString();
  EXPECT_NE(wal.status().message().find("missing"), std::string_view::npos);
}

TEST_F(WalTest, BadHeaderInOlderFileIsCorruption) {
  {
    auto wal = OpenExpecting(Opts(700), 1, 0);
    AppendRange(wal.get(), 1, 40);
    ASSERT_TRUE(wal->Sync().ok());
  }
  const std::string first = WalFiles()[0];
  std::string data = Read(first);
  data[0] = 'X';
  Write(first, data);
  Entries replayed;
  auto wal = OpenWal(Opts(700), &replayed);
  ASSERT_FALSE(wal.ok());
  EXPECT_EQ(wal.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wal.status().message().find(first), std::string_view::npos);
  EXPECT_NE(wal.status().message().find("header"), std::string_view::npos);
}

TEST_F(WalTest, TrimUpToDeletesOnlyFullyCoveredFiles) {
  constexpr uint64_t kMax = 700;
  auto wal = OpenExpecting(Opts(kMax), 1, 0);
  AppendRange(wal.get(), 1, 60);
  ASSERT_TRUE(wal->Sync().ok());
  std::vector<std::string> files = WalFiles();
  ASSERT_GE(files.size(), 4u);
  std::vector<uint64_t> first_seqs;
  for (const auto& f : files) first_seqs.push_back(DecodeFixed64(Read(f).data() + 8));

  ASSERT_TRUE(wal->TrimUpTo(0).ok());
  EXPECT_EQ(WalFiles().size(), files.size());

  // One short of covering file 0: nothing goes.
  ASSERT_TRUE(wal->TrimUpTo(first_seqs[1] - 2).ok());
  EXPECT_EQ(WalFiles(), files);

  // Covers files 0 and 1 and part of file 2: only 0 and 1 go.
  ASSERT_TRUE(wal->TrimUpTo(first_seqs[2] + 1).ok());
  std::vector<std::string> expected(files.begin() + 2, files.end());
  EXPECT_EQ(WalFiles(), expected);
  EXPECT_EQ(wal->file_count(), expected.size());
  EXPECT_EQ(wal->total_bytes(), DiskBytes());

  // Everything: the current file is rotated away; only a fresh, empty file
  // (the one being written) stays.
  ASSERT_TRUE(wal->TrimUpTo(UINT64_MAX).ok());
  std::vector<std::string> left = WalFiles();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_GT(left[0], files.back());
  EXPECT_EQ(wal->file_count(), 1u);
  EXPECT_EQ(wal->total_bytes(), DiskBytes());
  wal.reset();

  // Reopen replays nothing, and seqs go on.
  wal = OpenExpecting(Opts(kMax), 61, 60);
  AppendRange(wal.get(), 61, 61);
  ASSERT_TRUE(wal->Sync().ok());
}

TEST_F(WalTest, LockPreventsSecondOpen) {
  auto first = OpenExpecting(Opts(), 1, 0);
  ASSERT_NE(first, nullptr);
  Entries replayed;
  auto second = OpenWal(Opts(), &replayed);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status().ToString();
  EXPECT_NE(second.status().message().find("locked"), std::string_view::npos);
  first.reset();
  auto third = OpenWal(Opts(), &replayed);
  EXPECT_TRUE(third.ok()) << third.status().ToString();
}

TEST_F(WalTest, OtherFilesInTheDirectoryAreIgnored) {
  ASSERT_TRUE(Env::Default()->CreateDirs(dir_).ok());
  Write("notes.txt", "hello");
  Write("wal-1.log", "short name: not a WAL file");
  Write("wal-0000000000000000000x.log", "not a number");
  auto wal = OpenExpecting(Opts(), 1, 0);
  AppendRange(wal.get(), 1, 3);
  ASSERT_TRUE(wal->Sync().ok());
  wal.reset();
  OpenExpecting(Opts(), 1, 3);
}

// A full disk at every possible moment (inside an entry, inside a rotation's
// file header): the error is reported and sticky, and reopening finds every
// entry that was synced, in order, with no holes.
TEST_F(WalTest, FullDiskKeepsEverySyncedEntry) {
  constexpr uint64_t kMax = 500;
  for (uint64_t budget = 0; budget < 2600; budget += 23) {
    SCOPED_TRACE("budget " + std::to_string(budget));
    std::filesystem::remove_all(dir_);
    FaultyEnv env;
    uint64_t synced = 0;
    uint64_t appended = 0;
    {
      auto wal = OpenExpecting(Opts(kMax, &env), 1, 0);
      ASSERT_NE(wal, nullptr);
      env.SetAppendBudget(env.appended() + budget);
      Status failure;
      for (uint64_t seq = 1; seq <= 1000 && failure.ok(); ++seq) {
        auto r = wal->Append(Payload(seq));
        if (!r.ok()) {
          failure = r.status();
          break;
        }
        ASSERT_EQ(*r, seq);
        appended = seq;
        if (seq % 3 == 0) {
          failure = wal->Sync();
          if (failure.ok()) synced = seq;
        }
      }
      ASSERT_EQ(failure.code(), StatusCode::kIOError) << failure.ToString();
      EXPECT_NE(failure.message().find("No space left"), std::string_view::npos);
      // Sticky: nothing more is accepted.
      EXPECT_EQ(wal->Append("more").status().code(), StatusCode::kIOError);
      EXPECT_EQ(wal->Sync().code(), StatusCode::kIOError);
      EXPECT_EQ(wal->last_seq(), appended);
    }
    LogCapture log;  // the torn tail is expected; keep test output quiet
    Entries replayed;
    auto wal = OpenWal(Opts(kMax), &replayed);
    ASSERT_TRUE(wal.ok()) << wal.status().ToString();
    // No process crash happened, so even unsynced appends are in the page cache.
    ASSERT_GE(replayed.size(), synced);
    ASSERT_EQ(replayed.size(), appended);
    for (size_t i = 0; i < replayed.size(); ++i) {
      ASSERT_EQ(replayed[i].first, i + 1);
      ASSERT_EQ(replayed[i].second, Payload(i + 1));
    }
    auto r = (*wal)->Append(Payload(appended + 1));
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(*r, appended + 1);
    ASSERT_TRUE((*wal)->Sync().ok());
  }
}

TEST_F(WalTest, FailedSyncIsSticky) {
  FaultyEnv env;
  {
    auto wal = OpenExpecting(Opts(64 << 20, &env), 1, 0);
    AppendRange(wal.get(), 1, 5);
    ASSERT_TRUE(wal->Sync().ok());
    AppendRange(wal.get(), 6, 8);
    env.SetFailSync(true);
    Status s = wal->Sync();
    EXPECT_EQ(s.code(), StatusCode::kIOError);
    EXPECT_NE(s.message().find("injected"), std::string_view::npos);
    env.SetFailSync(false);
    // The kernel may have dropped the dirty pages: a retry must not claim success.
    EXPECT_EQ(wal->Sync().code(), StatusCode::kIOError);
    EXPECT_EQ(wal->Append("x").status().code(), StatusCode::kIOError);
  }
  OpenExpecting(Opts(), 1, 8);  // all there: the OS did not actually lose anything
}

TEST_F(WalTest, FailedRotationIsSticky) {
  FaultyEnv env;
  uint64_t appended = 0;
  {
    auto wal = OpenExpecting(Opts(400, &env), 1, 0);
    env.SetFailSync(true);  // rotation syncs the old file first
    Status s;
    while (s.ok()) {
      auto r = wal->Append(Payload(appended + 1));
      s = r.status();
      if (r.ok()) appended = *r;
    }
    EXPECT_EQ(wal->file_count(), 1u);
    EXPECT_GE(appended, 2u);
    EXPECT_EQ(s.code(), StatusCode::kIOError);
    EXPECT_NE(s.message().find("rotating"), std::string_view::npos) << s.ToString();
    env.SetFailSync(false);
    EXPECT_EQ(wal->Append("x").status().code(), StatusCode::kIOError);
    EXPECT_EQ(wal->Sync().code(), StatusCode::kIOError);
    EXPECT_TRUE(wal->TrimUpTo(UINT64_MAX).ok());
  }
  auto wal = OpenExpecting(Opts(400), 1, appended);
  ASSERT_NE(wal, nullptr);
  AppendRange(wal.get(), appended + 1, appended + 1);  // rotates now
  EXPECT_EQ(wal->file_count(), 2u);
}

}  // namespace
}  // namespace lode
