#include "storage/wal.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <optional>
#include <utility>
#include <vector>

#include "common/coding.h"
#include "common/crc32c.h"

namespace lode {

namespace {

constexpr std::string_view kFilePrefix = "wal-";
constexpr std::string_view kFileSuffix = ".log";
constexpr size_t kFileNumberDigits = 20;
constexpr std::string_view kLockFileName = "LOCK";
// Scratch buffers above this are released after use instead of kept.
constexpr size_t kMaxKeptScratchBytes = 4 << 20;

// The number of a WAL file name, or nullopt for any other name.
std::optional<uint64_t> ParseFileName(std::string_view name) {
  if (name.size() != kFilePrefix.size() + kFileNumberDigits + kFileSuffix.size() ||
      !name.starts_with(kFilePrefix) || !name.ends_with(kFileSuffix)) {
    return std::nullopt;
  }
  std::string_view digits = name.substr(kFilePrefix.size(), kFileNumberDigits);
  uint64_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (n > (UINT64_MAX - d) / 10) return std::nullopt;
    n = n * 10 + d;
  }
  return n;
}

// Why the entry at data[offset] is not intact; nullopt if it is. On success
// *payload is the entry's payload and *entry_size its size on disk.
std::optional<std::string> CheckEntry(std::string_view data, size_t offset,
                                      std::string_view* payload, size_t* entry_size) {
  size_t left = data.size() - offset;
  if (left < kWalEntryHeaderBytes) {
    return "partial entry header (" + std::to_string(left) + " of " +
           std::to_string(kWalEntryHeaderBytes) + " bytes)";
  }
  const char* p = data.data() + offset;
  uint32_t len = DecodeFixed32(p + 4);
  if (len > left - kWalEntryHeaderBytes) {
    return "payload length " + std::to_string(len) + " overruns the " +
           std::to_string(left - kWalEntryHeaderBytes) + " bytes left";
  }
  uint32_t expected = crc32c::Unmask(DecodeFixed32(p));
  uint32_t actual = crc32c::Value(p + 4, 5 + size_t{len});
  if (expected != actual) return std::string("checksum mismatch");
  *payload = std::string_view(p + kWalEntryHeaderBytes, len);
  *entry_size = kWalEntryHeaderBytes + len;
  return std::nullopt;
}

bool AllZero(std::string_view data) {
  return std::all_of(data.begin(), data.end(), [](char c) { return c == 0; });
}

std::string OffsetContext(const std::string& path, size_t offset) {
  return path + " at offset " + std::to_string(offset);
}

// Closes a file descriptor on scope exit unless released.
class FdCloser {
 public:
  explicit FdCloser(int fd) : fd_(fd) {}
  ~FdCloser() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;
  int Release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Takes an exclusive, non-blocking flock on `path` (created if missing).
// Env has no locking call, so this is the one place the WAL uses POSIX directly.
Result<int> LockFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::FromErrno("open " + path, errno);
  FdCloser closer(fd);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) {
      return Status::Unavailable(path + " is locked: another Wal has this directory open");
    }
    return Status::FromErrno("flock " + path, errno);
  }
  return closer.Release();
}

}  // namespace

std::string WalFileName(uint64_t number) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "wal-%020" PRIu64 ".log", number);
  return buf;
}

Wal::Wal(Options options, int lock_fd) : options_(std::move(options)), lock_fd_(lock_fd) {}

Wal::~Wal() {
  if (file_ != nullptr) {
    Status s = file_->Close();
    if (!s.ok()) spdlog::warn("wal: closing {}: {}", options_.dir, s.ToString());
  }
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

std::string Wal::FilePath(uint64_t number) const {
  return JoinPath(options_.dir, WalFileName(number));
}

Result<std::unique_ptr<Wal>> Wal::Open(const Options& options, const ReplayFn& replay) {
  if (options.dir.empty()) return Status::InvalidArgument("wal: Options.dir is empty");
  if (options.env == nullptr) return Status::InvalidArgument("wal: Options.env is null");
  LODE_RETURN_IF_ERROR(options.env->CreateDirs(options.dir));
  LODE_ASSIGN_OR_RETURN(int lock_fd, LockFile(JoinPath(options.dir, kLockFileName)));
  std::unique_ptr<Wal> wal(new Wal(options, lock_fd));
  uint64_t next_number = 1;
  LODE_RETURN_IF_ERROR(wal->Recover(replay, &next_number));
  LODE_RETURN_IF_ERROR(wal->OpenCurrent(next_number));
  return wal;
}

Status Wal::Recover(const ReplayFn& replay, uint64_t* next_number) {
  Env* env = options_.env;
  LODE_ASSIGN_OR_RETURN(std::vector<std::string> names, env->ListDir(options_.dir));
  std::vector<uint64_t> numbers;
  for (const std::string& name : names) {
    if (std::optional<uint64_t> n = ParseFileName(name)) numbers.push_back(*n);
  }
  std::sort(numbers.begin(), numbers.end());
  if (!numbers.empty()) *next_number = numbers.back() + 1;

  uint64_t next_seq = 0;  // expected first_seq of the next file; 0 before the first file
  std::string data;
  for (size_t i = 0; i < numbers.size(); ++i) {
    const bool is_last = i + 1 == numbers.size();
    const std::string path = FilePath(numbers[i]);
    LODE_RETURN_IF_ERROR(env->ReadFile(path, &data));

    // Header.
    if (data.size() < kWalFileHeaderBytes || !std::string_view(data).starts_with(kWalMagic)) {
      if (is_last && (data.size() < kWalFileHeaderBytes || AllZero(data))) {
        spdlog::warn(
            "wal: {}: incomplete file header ({} bytes): file was being created; "
            "deleting it",
            path, data.size());
        LODE_RETURN_IF_ERROR(env->RemoveFile(path));
        LODE_RETURN_IF_ERROR(env->SyncDir(options_.dir));
        continue;
      }
      return Status::Corruption(OffsetContext(path, 0) + ": bad WAL file header");
    }
    const uint64_t first_seq = DecodeFixed64(data.data() + kWalMagic.size());
    if (first_seq == 0) {
      return Status::Corruption(OffsetContext(path, kWalMagic.size()) +
                                ": first sequence number is 0");
    }
    if (next_seq != 0 && first_seq != next_seq) {
      return Status::Corruption(OffsetContext(path, kWalMagic.size()) + ": first sequence number " +
                                std::to_string(first_seq) + ", expected " +
                                std::to_string(next_seq) +
                                " (a WAL file is missing or out of order)");
    }

    // Entries.
    uint64_t seq = first_seq;
    size_t offset = kWalFileHeaderBytes;
    while (offset < data.size()) {
      std::string_view payload;
      size_t entry_size = 0;
      std::optional<std::string> problem = CheckEntry(data, offset, &payload, &entry_size);
      if (problem) {
        if (!is_last) {
          return Status::Corruption(OffsetContext(path, offset) + ": " + *problem +
                                    " in a WAL file that is not the last one");
        }
        // A torn tail of the last file: entries never acknowledged (see header).
        const size_t dropped = data.size() - offset;
        std::string_view next_payload;
        size_t next_size = 0;
        uint32_t len =
            dropped >= kWalEntryHeaderBytes ? DecodeFixed32(data.data() + offset + 4) : 0;
        size_t next_offset = offset + kWalEntryHeaderBytes + len;
        if (dropped >= kWalEntryHeaderBytes && len <= dropped - kWalEntryHeaderBytes &&
            next_offset < data.size() &&
            !CheckEntry(data, next_offset, &next_payload, &next_size)) {
          // Unusual for a torn write (pages written back out of order can do
          // it), but it can also be damage to acknowledged data: say so loudly.
          spdlog::error(
              "wal: {}: cutting at offset {} ({}), dropping {} bytes, although an "
              "intact entry follows at offset {}: if entries after seq {} were "
              "acknowledged, they are lost",
              path, offset, *problem, dropped, next_offset, seq - 1);
        } else {
          spdlog::warn("wal: {}: torn tail at offset {} ({}): dropping {} bytes", path, offset,
                       *problem, dropped);
        }
        LODE_RETURN_IF_ERROR(env->TruncateFile(path, offset));
        data.resize(offset);
        break;
      }
      const auto type = static_cast<uint8_t>(data[offset + 8]);
      if (type != kWalEntryFull) {
        // Checksum-valid, so not a torn write: written by a newer format.
        return Status::Corruption(OffsetContext(path, offset) + ": unknown WAL entry type " +
                                  std::to_string(type));
      }
      if (replay) LODE_RETURN_IF_ERROR(replay(seq, payload));
      ++seq;
      offset += entry_size;
    }
    files_.push_back(FileInfo{numbers[i], first_seq, data.size()});
    next_seq = seq;
  }
  last_seq_ = files_.empty() ? 0 : next_seq - 1;
  return Status::OK();
}

Status Wal::OpenCurrent(uint64_t next_number) {
  if (!files_.empty()) {
    const FileInfo& last = files_.back();
    const std::string path = FilePath(last.number);
    LODE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file,
                          options_.env->NewAppendableFile(path));
    if (file->Size() != last.size) {
      return Status::Internal("wal: " + path + " is " + std::to_string(file->Size()) +
                              " bytes after recovery, expected " + std::to_string(last.size));
    }
    // Makes a truncation done by Recover, and entries that a previous process
    // wrote but never synced (and that were just replayed), durable before
    // anything new is appended after them or a newer file is created: an older
    // file must never have a torn tail.
    LODE_RETURN_IF_ERROR(file->Sync());
    if (last.size < options_.max_file_bytes) {
      file_ = std::move(file);
      synced_size_ = file_->Size();
      return Status::OK();
    }
    LODE_RETURN_IF_ERROR(file->Close());
  }
  return NewFile(next_number, last_seq_ + 1);
}

Status Wal::NewFile(uint64_t number, uint64_t first_seq) {
  Env* env = options_.env;
  const std::string path = FilePath(number);
  if (env->FileExists(path)) {
    return Status::Internal("wal: " + path + " already exists; refusing to append to it");
  }
  LODE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewAppendableFile(path));
  std::string header(kWalMagic);
  PutFixed64(&header, first_seq);
  // The header and the directory entry are durable before any entry goes in,
  // so a file with a bad header can only be one that was being created.
  LODE_RETURN_IF_ERROR(file->Append(header));
  LODE_RETURN_IF_ERROR(file->Sync());
  LODE_RETURN_IF_ERROR(env->SyncDir(options_.dir));
  files_.push_back(FileInfo{number, first_seq, file->Size()});
  file_ = std::move(file);
  synced_size_ = file_->Size();
  return Status::OK();
}

Status Wal::Rotate() {
  // Everything in the old file becomes durable before the new file exists, so
  // only the last file can ever have a torn tail.
  LODE_RETURN_IF_ERROR(file_->Sync());
  synced_size_ = file_->Size();
  files_.back().size = file_->Size();
  Status close_status = file_->Close();
  file_.reset();
  LODE_RETURN_IF_ERROR(close_status);
  return NewFile(files_.back().number + 1, last_seq_ + 1);
}

Result<uint64_t> Wal::Append(std::string_view payload) {
  if (!error_.ok()) return error_;
  if (payload.size() > kWalMaxPayloadBytes) {
    return Status::TooLarge("wal: payload of " + std::to_string(payload.size()) +
                            " bytes is over the limit of " + std::to_string(kWalMaxPayloadBytes));
  }
  const uint64_t entry_size = kWalEntryHeaderBytes + payload.size();
  if (file_->Size() > kWalFileHeaderBytes && file_->Size() + entry_size > options_.max_file_bytes) {
    Status s = Rotate();
    if (!s.ok()) {
      error_ = s.WithContext("wal: rotating");
      return error_;
    }
  }

  scratch_.resize(kWalEntryHeaderBytes);
  EncodeFixed32(scratch_.data() + 4, static_cast<uint32_t>(payload.size()));
  scratch_[8] = static_cast<char>(kWalEntryFull);
  scratch_.append(payload);
  uint32_t crc = crc32c::Value(scratch_.data() + 4, scratch_.size() - 4);
  EncodeFixed32(scratch_.data(), crc32c::Mask(crc));
  Status s = file_->Append(scratch_);
  if (scratch_.capacity() > kMaxKeptScratchBytes) {
    std::string().swap(scratch_);
  }
  files_.back().size = file_->Size();
  if (!s.ok()) {
    error_ = s.WithContext("wal: append");
    return error_;
  }
  return ++last_seq_;
}

Status Wal::Sync() {
  if (!error_.ok()) return error_;
  if (file_->Size() == synced_size_) return Status::OK();
  Status s = file_->Sync();
  if (!s.ok()) {
    error_ = s.WithContext("wal: sync");
    return error_;
  }
  synced_size_ = file_->Size();
  return Status::OK();
}

Status Wal::TrimUpTo(uint64_t seq) {
  // When everything written is persisted elsewhere, start a fresh file so the
  // current one can go too; otherwise up to max_file_bytes of WAL would stay
  // on disk until the next rotation.
  if (error_.ok() && file_ && seq >= last_seq_ && file_->Size() > kWalFileHeaderBytes) {
    Status s = Rotate();
    if (!s.ok()) {
      error_ = s.WithContext("wal: rotating");
      return error_;
    }
  }
  bool removed = false;
  // files_[1].first_seq - 1 is the last seq of files_[0]; back() is never removed.
  while (files_.size() > 1 && files_[1].first_seq - 1 <= seq) {
    LODE_RETURN_IF_ERROR(options_.env->RemoveFile(FilePath(files_.front().number)));
    files_.pop_front();
    removed = true;
  }
  if (removed) LODE_RETURN_IF_ERROR(options_.env->SyncDir(options_.dir));
  return Status::OK();
}

uint64_t Wal::total_bytes() const {
  uint64_t total = 0;
  for (const FileInfo& f : files_) total += f.size;
  return total;
}

}  // namespace lode
