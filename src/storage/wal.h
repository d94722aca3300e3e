// Wal: the write-ahead log. Every batch the server acknowledges is first
// appended here and synced; after a crash, Open() replays what was logged so
// that nothing acknowledged is lost. Format and durability contract:
// docs/formats/wal.md.
//
// A WAL is a directory of numbered files, wal-00000000000000000001.log and so
// on, each a 16-byte header (magic "LODEWAL1", fixed64 sequence number of its
// first entry) followed by entries:
//   fixed32 masked crc32c | fixed32 payload length | u8 type | payload
// The crc covers the 5 bytes of length and type and the payload, as they lie on
// disk. Entry sequence numbers are implicit (first_seq of the file + index in
// the file), start at 1 and continue across files without gaps.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/env.h"
#include "common/status.h"

namespace lode {

inline constexpr std::string_view kWalMagic = "LODEWAL1";
inline constexpr size_t kWalFileHeaderBytes = 16;  // magic + fixed64 first_seq
inline constexpr size_t kWalEntryHeaderBytes = 9;  // crc + length + type
// Entry types. 0 is never written, so that zero-filled space is not an entry.
inline constexpr uint8_t kWalEntryFull = 1;
// Largest payload one entry can carry (the length field is 32 bits).
inline constexpr uint64_t kWalMaxPayloadBytes = UINT32_MAX;

// Name (not path) of WAL file number `number`: "wal-" + 20 digits + ".log".
std::string WalFileName(uint64_t number);

// Not thread-safe: all calls on one Wal must be serialized by the caller (the
// design has one writer thread; TrimUpTo and the accessors are called from it
// or under the same lock).
class Wal {
 public:
  struct Options {
    std::string dir;                     // created if missing
    uint64_t max_file_bytes = 64 << 20;  // rotate to a new file after this many bytes
    Env* env = Env::Default();           // not owned; must outlive the Wal
  };
  // Called by Open for each intact entry, in sequence order. `payload` is valid
  // only during the call.
  using ReplayFn = std::function<Status(uint64_t seq, std::string_view payload)>;

  // Opens the WAL in options.dir, replaying every intact entry in order
  // through `replay` (may be empty: no replay). A non-OK status from `replay`
  // aborts Open and is returned unchanged; entries before it have been
  // replayed, so the caller must discard what it built.
  //
  // Recovery rules:
  // - The LAST file may end in a torn or corrupt tail (partial entry header,
  //   short payload, checksum mismatch): it is cut off, the file truncated to
  //   the end of the last intact entry, and a spdlog warning names the file,
  //   the offset and the number of bytes dropped. A last file whose header is
  //   incomplete (shorter than 16 bytes, or all zero bytes) was being created
  //   when the process or machine stopped; it holds no entries and is deleted
  //   with a warning.
  // - Anything wrong in an OLDER file (bad header or entry, torn tail), a gap
  //   or overlap in sequence numbers between files, or an entry of an unknown
  //   type anywhere (a checksum-valid entry from a newer format) is
  //   Corruption naming the file and the byte offset. There is no option to
  //   skip it: an older file was synced in full before the next file was
  //   created (see Append), so damage there is damage to acknowledged data and
  //   needs an operator, not a silent skip.
  // New appends go to the (possibly truncated) last file while it is under
  // max_file_bytes, else to a new file.
  //
  // Takes an exclusive flock on <dir>/LOCK for the Wal's lifetime; if another
  // Wal (in this process or another) holds it, returns Unavailable.
  static Result<std::unique_ptr<Wal>> Open(const Options& options, const ReplayFn& replay);

  // Closes the current file and releases the lock. Does not sync: entries not
  // yet synced stay in the OS page cache (they survive a process exit, not a
  // machine crash).
  ~Wal();

  Wal(const Wal&) = delete;
  Wal& operator=(const Wal&) = delete;

  // Appends one entry holding `payload` and returns its sequence number
  // (last_seq() + 1). The entry reaches the OS page cache but is not durable
  // until Sync() returns OK. When the current file has at least one entry and
  // this entry would take it past max_file_bytes, first rotates: syncs and
  // closes the current file, then creates the next one and syncs it and the
  // directory. Returns TooLarge (and changes nothing) if the payload is over
  // kWalMaxPayloadBytes. An I/O error is sticky: this and every later Append
  // and Sync return it, because the file may now end in a partial entry that
  // later entries must not follow. Reopen the WAL to recover.
  Result<uint64_t> Append(std::string_view payload);

  // Makes every entry appended so far durable (fdatasync of the current file;
  // older files and the directory entry of the current file were made
  // durable when it was created by rotation). Cheap when nothing was appended
  // since the last Sync. Errors are sticky, as for Append: after a failed
  // fdatasync the kernel may have dropped the dirty pages, so nothing appended
  // since the previous successful Sync may be assumed durable.
  Status Sync();

  // Deletes the oldest files whose entries all have seq <= `seq` (because
  // their contents are persisted elsewhere), then syncs the directory. When
  // `seq` covers every entry, the current file is first rotated so that it
  // can be deleted too. The file being written is never deleted, so sequence
  // numbers stay continuous across reopen. Works in the sticky-error state
  // too (without the rotation).
  Status TrimUpTo(uint64_t seq);

  // Sequence number of the last appended (or replayed) entry, 0 if none ever.
  uint64_t last_seq() const { return last_seq_; }
  // Bytes in all live WAL files, headers included.
  uint64_t total_bytes() const;
  // Number of live WAL files (at least 1 while no error).
  size_t file_count() const { return files_.size(); }

 private:
  struct FileInfo {
    uint64_t number;
    uint64_t first_seq;
    uint64_t size;  // bytes; for the current file, as of the last Append
  };

  Wal(Options options, int lock_fd);

  std::string FilePath(uint64_t number) const;
  // Scans every file, replays, cuts the torn tail; fills files_ and last_seq_.
  Status Recover(const ReplayFn& replay, uint64_t* next_number);
  // Creates file `number` with header first_seq, syncs it and the directory,
  // and makes it the current file.
  Status NewFile(uint64_t number, uint64_t first_seq);
  // After recovery: syncs the last file, then keeps it as the current file if
  // it is under max_file_bytes, else creates file `next_number`.
  Status OpenCurrent(uint64_t next_number);
  Status Rotate();

  const Options options_;
  const int lock_fd_;                   // flock'd <dir>/LOCK; closed by ~Wal
  std::deque<FileInfo> files_;          // oldest first; back() is being written
  std::unique_ptr<WritableFile> file_;  // files_.back(); null after a failed rotation
  uint64_t last_seq_ = 0;
  uint64_t synced_size_ = 0;  // size of file_ as of its last successful sync
  Status error_;              // sticky I/O error; OK while healthy
  std::string scratch_;       // reused buffer for one entry
};

}  // namespace lode
