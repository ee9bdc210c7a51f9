// Env: the seam between chunkvault and the operating system.
//
// Everything the store and datastore layers do to the datastore directory
// (and every reading of the clock) goes through an Env, so tests can fake the
// clock and inject faults at any filesystem operation. Env::Default() is the
// POSIX implementation. Source trees being backed up and restore targets are
// not datastore state; the archive layer touches those directly.
//
// Crash consistency rests on one rule: a name appears only complete.
// WriteFileAtomic writes a temporary file in the same directory and renames
// it into place, so after a crash at any point the final name holds either
// the old content, the new content, or nothing.
//
// Thread-safety: every method may be called from any thread at once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

enum class FileType { kRegular, kDirectory, kSymlink, kOther };

// The most a small metadata file (configuration, owner, notes, counters)
// is read to.
inline constexpr uint64_t kMaxMetadataFileSize = 16u << 20;

struct FileStat {
  FileType type = FileType::kOther;
  uint64_t size = 0;
  int64_t atime_ns = 0;  // nanoseconds since the epoch
  int64_t mtime = 0;     // seconds since the epoch
};

// A held lock; released when destroyed.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

enum class LockMode { kShared, kExclusive };

// A file written at its end (the cache's journal); closed when destroyed.
// A crash may cut the last Append short: a reader of such a file finds its
// last whole record itself.
class AppendableFile {
 public:
  virtual ~AppendableFile() = default;
  virtual Status Append(ByteView data) = 0;
};

struct WriteOptions {
  // fsync the file before the rename and its directory after it.
  bool sync = false;
  // Name of the temporary file. Empty: "<path>.tmp_XXXXXX" (unique).
  std::string tmp_path;
  // Names the crash points inside the write for tests ("chunk" gives
  // "chunk-tmp-partial" and "chunk-tmp-written"); see util/crash_point.h.
  const char* crash_label = "file";
  // Give the new file the atime and mtime of this (existing) file.
  std::string keep_times_of;
  // The new file's permission bits, whatever the umask: the store's files
  // are 0640; secrets (keys, password hashes) are written 0600.
  unsigned mode = 0640;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX Env. Never destroyed.
  static Env* Default();

  // Wall-clock time in seconds since the epoch.
  virtual int64_t NowUnix() = 0;
  // Wall-clock time in nanoseconds, from the clock the kernel stamps file
  // times with (so a file touched after this call never shows an earlier
  // atime). The default: NowUnix() in nanoseconds.
  virtual int64_t NowNanos() { return NowUnix() * 1'000'000'000; }
  // Waits until NowUnix() reaches `unix_seconds`, but no longer than about
  // a second of real time (a fake clock may never get there).
  virtual void WaitUntil(int64_t unix_seconds);

  // Whole-file read of a regular file of at most `max_size` bytes. The
  // path's last component is not followed, and opening never blocks: a
  // symlink, FIFO, device or directory there is kCorrupt ("not a regular
  // file"), as is a larger file; kNotFound if nothing is there. Callers
  // pass the most the format allows, so a hostile store cannot make a
  // reader allocate more.
  virtual Result<Bytes> ReadFile(const std::string& path, uint64_t max_size) = 0;
  // lstat(). kNotFound if the path does not exist.
  virtual Result<FileStat> Stat(const std::string& path) = 0;
  // Names in a directory, without "." and "..", in no particular order.
  virtual Result<std::vector<std::string>> ListDir(const std::string& path) = 0;

  // Writes `data` to a temporary file and renames it to `path`, replacing
  // what was there. On failure the temporary file is removed.
  virtual Status WriteFileAtomic(const std::string& path, ByteView data,
                                 const WriteOptions& options) = 0;
  // Like WriteFileAtomic, but never replaces: false if `path` exists.
  virtual Result<bool> WriteFileIfAbsent(const std::string& path, ByteView data,
                                         const WriteOptions& options) = 0;
  // Free bytes for unprivileged users on the filesystem holding `path`.
  virtual Result<uint64_t> FreeSpace(const std::string& path) = 0;
  // mkdir(); kAlreadyExists if the path exists. The umask can only take
  // bits from `mode`; the store's directories are never group- or
  // world-writable (0750), and files are written 0640.
  virtual Status CreateDir(const std::string& path, unsigned mode = 0750) = 0;
  // mkdir -p, each missing level with `mode`; succeeds if the directory
  // already exists.
  virtual Status CreateDirs(const std::string& path, unsigned mode = 0750) = 0;
  virtual Status Rename(const std::string& from, const std::string& to) = 0;
  // Renames only if `to` does not exist (kAlreadyExists otherwise).
  virtual Status RenameNoReplace(const std::string& from, const std::string& to) = 0;
  virtual Status RemoveFile(const std::string& path) = 0;
  // Removes a directory and everything below it.
  virtual Status RemoveTree(const std::string& path) = 0;
  // Sets the access time to now and leaves the modification time alone
  // (explicitly, so relatime mounts cannot skip it).
  virtual Status TouchAtime(const std::string& path) = 0;
  // fsync() of a directory, making renames in it durable.
  virtual Status SyncDir(const std::string& path) = 0;
  // syncfs() of the filesystem holding `path`.
  virtual Status SyncFilesystem(const std::string& path) = 0;
  // Opens `path` for appending, created (0640) if missing, after cutting
  // it to its first `keep_bytes` bytes (0: empty). The last component is
  // never followed.
  virtual Result<std::unique_ptr<AppendableFile>> OpenAppendable(const std::string& path,
                                                                 uint64_t keep_bytes) = 0;

  // Locks a file (created if missing) or a directory. With wait=false a lock
  // held elsewhere gives kBusy at once. Locks taken through different
  // FileLock objects conflict even inside one process. The holder of a
  // file's exclusive lock may remove the file: a Lock() that was waiting
  // for it, or had opened it just before, then locks the file the path
  // names anew instead (so it never holds a lock on a removed file).
  virtual Result<std::unique_ptr<FileLock>> Lock(const std::string& path,
                                                 LockMode mode, bool wait) = 0;
};

// An Env that hands every call to another: a fake overrides only what it
// fakes (a clock, a failure) and inherits the rest.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  int64_t NowUnix() override { return target_->NowUnix(); }
  int64_t NowNanos() override { return target_->NowNanos(); }
  void WaitUntil(int64_t unix_seconds) override { target_->WaitUntil(unix_seconds); }
  Result<Bytes> ReadFile(const std::string& path, uint64_t max_size) override {
    return target_->ReadFile(path, max_size);
  }
  Result<FileStat> Stat(const std::string& path) override { return target_->Stat(path); }
  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    return target_->ListDir(path);
  }
  Status WriteFileAtomic(const std::string& path, ByteView data,
                         const WriteOptions& options) override {
    return target_->WriteFileAtomic(path, data, options);
  }
  Result<bool> WriteFileIfAbsent(const std::string& path, ByteView data,
                                 const WriteOptions& options) override {
    return target_->WriteFileIfAbsent(path, data, options);
  }
  Result<uint64_t> FreeSpace(const std::string& path) override { return target_->FreeSpace(path); }
  Status CreateDir(const std::string& path, unsigned mode) override {
    return target_->CreateDir(path, mode);
  }
  Status CreateDirs(const std::string& path, unsigned mode) override {
    return target_->CreateDirs(path, mode);
  }
  Status Rename(const std::string& from, const std::string& to) override {
    return target_->Rename(from, to);
  }
  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    return target_->RenameNoReplace(from, to);
  }
  Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  Status RemoveTree(const std::string& path) override { return target_->RemoveTree(path); }
  Status TouchAtime(const std::string& path) override { return target_->TouchAtime(path); }
  Status SyncDir(const std::string& path) override { return target_->SyncDir(path); }
  Status SyncFilesystem(const std::string& path) override { return target_->SyncFilesystem(path); }
  Result<std::unique_ptr<AppendableFile>> OpenAppendable(const std::string& path,
                                                         uint64_t keep_bytes) override {
    return target_->OpenAppendable(path, keep_bytes);
  }
  Result<std::unique_ptr<FileLock>> Lock(const std::string& path, LockMode mode,
                                         bool wait) override {
    return target_->Lock(path, mode, wait);
  }

 private:
  Env* target_;
};

// Whether `name` is a temporary file a writer killed midway leaves: one of
// WriteFileAtomic's ("<name>.tmp_" and six characters) or an index
// writer's ("<name>.tmp_didx", "<name>.tmp_fidx").
bool IsTemporaryFileName(std::string_view name);

// Joins path components with '/'.
std::string JoinPath(const std::string& a, const std::string& b);

}  // namespace chunkvault
