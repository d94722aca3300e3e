// FaultInjectionEnv: an Env for tests that behaves like Env::Default() until
// told to fail: appends past a byte budget write what fits and then fail like
// a full disk; syncs (of files, and of directories) can be made to fail.
// Not thread-safe: configure it from the test thread between operations.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>

#include "common/env.h"

namespace lode {

class FaultInjectionEnv final : public EnvWrapper {
 public:
  FaultInjectionEnv() : EnvWrapper(Env::Default()) {}

  // Appends fail (after writing the bytes that fit) once `bytes` more have
  // been appended through this Env in total.
  void SetAppendBudget(uint64_t bytes) { budget_ = bytes; }
  // File fdatasync and directory fsync fail.
  void SetFailSync(bool fail) { fail_sync_ = fail; }
  // Only directory fsync fails.
  void SetFailSyncDir(bool fail) { fail_sync_dir_ = fail; }
  // Bytes appended through this Env so far.
  uint64_t appended() const { return appended_; }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    LODE_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> base, base()->NewAppendableFile(path));
    return std::unique_ptr<WritableFile>(std::make_unique<File>(this, std::move(base)));
  }
  Status SyncDir(const std::string& dir) override {
    if (fail_sync_ || fail_sync_dir_) {
      return Status::IOError("fsync directory " + dir + ": injected failure");
    }
    return base()->SyncDir(dir);
  }

 private:
  class File final : public WritableFile {
   public:
    File(FaultInjectionEnv* env, std::unique_ptr<WritableFile> base)
        : env_(env), base_(std::move(base)) {}
    Status Append(std::string_view data) override {
      uint64_t room = env_->budget_ - std::min(env_->budget_, env_->appended_);
      if (data.size() <= room) {
        env_->appended_ += data.size();
        return base_->Append(data);
      }
      env_->appended_ += room;
      LODE_RETURN_IF_ERROR(base_->Append(data.substr(0, static_cast<size_t>(room))));
      return Status::IOError("write: No space left on device (injected)");
    }
    Status Sync() override {
      if (env_->fail_sync_) return Status::IOError("fdatasync: injected failure");
      return base_->Sync();
    }
    Status Close() override { return base_->Close(); }
    uint64_t Size() const override { return base_->Size(); }

   private:
    FaultInjectionEnv* env_;
    std::unique_ptr<WritableFile> base_;
  };

  uint64_t budget_ = UINT64_MAX;
  uint64_t appended_ = 0;
  bool fail_sync_ = false;
  bool fail_sync_dir_ = false;
};

}  // namespace lode
