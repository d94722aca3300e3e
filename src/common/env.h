// Env: the one interface through which Lode touches files.
//
// Storage code never calls open()/write() directly; it asks an Env. Production
// uses Env::Default() (POSIX); tests can wrap it to inject faults (torn writes,
// full disks, crashes between two calls). All methods are thread-safe; a
// WritableFile is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace lode {

// A file opened for appending.
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  // Appends `data` to the OS's page cache (not durable until Sync()).
  virtual Status Append(std::string_view data) = 0;
  // Makes everything appended so far durable (fdatasync).
  virtual Status Sync() = 0;
  virtual Status Close() = 0;
  // Bytes in the file, including what this handle appended.
  virtual uint64_t Size() const = 0;
};

// A file opened for reading at any offset. Thread-safe (pread).
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads exactly `n` bytes at `offset` into *out (resized to n). IOError on
  // failure, Corruption when the file is shorter than offset + n.
  virtual Status Read(uint64_t offset, size_t n, std::string* out) const = 0;
  virtual uint64_t Size() const = 0;
};

class Env {
 public:
  virtual ~Env() = default;

  // The POSIX Env. Never null; lives for the whole process.
  static Env* Default();

  // Opens `path` for appending, creating it if absent.
  virtual Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) = 0;
  // Opens `path` for positional reads.
  virtual Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) = 0;
  // Reads the whole file into *out.
  virtual Status ReadFile(const std::string& path, std::string* out) = 0;
  // Writes `data` to `path` atomically: temp file, fsync, rename, fsync of the directory.
  virtual Status WriteFileAtomic(const std::string& path, std::string_view data) = 0;
  // Names (not paths) of the entries of `dir`, unsorted, without "." and "..".
  virtual Result<std::vector<std::string>> ListDir(const std::string& dir) = 0;
  // Creates `dir` and any missing parents; OK if it exists.
  virtual Status CreateDirs(const std::string& dir) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  virtual Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Cuts `path` to `size` bytes.
  virtual Status TruncateFile(const std::string& path, uint64_t size) = 0;
  // fsyncs the directory so that renames and creations in it are durable.
  virtual Status SyncDir(const std::string& dir) = 0;
  virtual Result<uint64_t> FileSize(const std::string& path) = 0;
  virtual bool FileExists(const std::string& path) = 0;
};

// An Env that forwards every call to another; tests derive from it and
// override only what they want to break (LevelDB's EnvWrapper).
class EnvWrapper : public Env {
 public:
  // REQUIRES: base outlives the wrapper.
  explicit EnvWrapper(Env* base) : base_(base) {}
  Env* base() const { return base_; }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    return base_->NewAppendableFile(path);
  }
  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    return base_->NewRandomAccessFile(path);
  }
  Status ReadFile(const std::string& path, std::string* out) override {
    return base_->ReadFile(path, out);
  }
  Status WriteFileAtomic(const std::string& path, std::string_view data) override {
    return base_->WriteFileAtomic(path, data);
  }
  Result<std::vector<std::string>> ListDir(const std::string& dir) override {
    return base_->ListDir(dir);
  }
  Status CreateDirs(const std::string& dir) override { return base_->CreateDirs(dir); }
  Status RemoveFile(const std::string& path) override { return base_->RemoveFile(path); }
  Status RenameFile(const std::string& from, const std::string& to) override {
    return base_->RenameFile(from, to);
  }
  Status TruncateFile(const std::string& path, uint64_t size) override {
    return base_->TruncateFile(path, size);
  }
  Status SyncDir(const std::string& dir) override { return base_->SyncDir(dir); }
  Result<uint64_t> FileSize(const std::string& path) override { return base_->FileSize(path); }
  bool FileExists(const std::string& path) override { return base_->FileExists(path); }

 private:
  Env* base_;
};

// Joins two path parts with exactly one '/'.
std::string JoinPath(std::string_view a, std::string_view b);

}  // namespace lode
