// The POSIX Env. Every system call failure becomes an Error naming the path.
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <string>
#include <thread>

#include "chunkvault/env.h"
#include "util/crash_point.h"
#include "util/fd.h"

namespace chunkvault {

bool IsTemporaryFileName(std::string_view name) {
  if (name.ends_with(".tmp_didx") || name.ends_with(".tmp_fidx")) return name.size() > 9;
  constexpr std::string_view kMark = ".tmp_";
  return name.size() > kMark.size() + 6 &&
         name.substr(name.size() - 6 - kMark.size(), kMark.size()) == kMark;
}

std::string JoinPath(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (a.back() == '/') return a + b;
  return a + "/" + b;
}

namespace {

class PosixFileLock final : public FileLock {
 public:
  explicit PosixFileLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;  // closing the descriptor releases the lock
};

// `crash_label`: null for no crash point.
Status WriteAll(int fd, ByteView data, const std::string& path,
                const char* crash_label) {
  size_t done = 0;
  const size_t half = data.size() / 2;
  bool crashed_half = crash_label == nullptr;
  while (done < data.size()) {
    size_t want = data.size() - done;
    // Write in two pieces so a crash point can sit between them: a crash
    // there leaves a partially written temporary file.
    if (!crashed_half && done < half) want = half - done;
    ssize_t n = ::write(fd, data.data() + done, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "write " + path);
    }
    done += size_t(n);
    if (!crashed_half && done >= half) {
      crashed_half = true;
      CrashPoint((std::string(crash_label) + "-tmp-partial").c_str());
    }
  }
  return {};
}

class PosixAppendableFile final : public AppendableFile {
 public:
  PosixAppendableFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  Status Append(ByteView data) override { return WriteAll(fd_.get(), data, path_, nullptr); }

 private:
  UniqueFd fd_;
  const std::string path_;
};

// Files the store writes: never group-writable or readable by others,
// whatever the umask (they name hosts and what they hold).
constexpr mode_t kFileMode = 0640;

// What a non-regular file is, for messages.
std::string FileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

class PosixEnv final : public Env {
 public:
  // Writes a temporary file, then renames it into place (replace) or links
  // it there if the name is free (!replace). Returns whether `path` now
  // holds the new data.
  Result<bool> Write(const std::string& path, ByteView data, const WriteOptions& options,
                     bool replace) {
    std::string tmp = options.tmp_path;
    UniqueFd fd;
    if (tmp.empty()) {
      tmp = path + ".tmp_XXXXXX";
      fd.reset(::mkostemp(tmp.data(), O_CLOEXEC));
    } else {
      fd.reset(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    }
    if (!fd) return FailErrno(errno, "create " + tmp);
    // Set explicitly: the umask must not widen or narrow it, and a reused
    // temporary keeps the mode it had.
    if (::fchmod(fd.get(), options.mode) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      return FailErrno(err, "chmod " + tmp);
    }

    auto fail = [&](Error e) -> Result<bool> {
      ::unlink(tmp.c_str());
      return std::unexpected(std::move(e));
    };
    if (auto st = WriteAll(fd.get(), data, tmp, options.crash_label); !st)
      return fail(std::move(st).error());
    if (!options.keep_times_of.empty()) {
      struct stat old;
      if (::stat(options.keep_times_of.c_str(), &old) == 0) {
        const struct timespec times[2] = {old.st_atim, old.st_mtim};
        if (::futimens(fd.get(), times) != 0) return fail(ErrnoError(errno, "set times of " + tmp));
      }
    }
    if (options.sync && ::fsync(fd.get()) != 0) return fail(ErrnoError(errno, "fsync " + tmp));
    if (::close(fd.release()) != 0) return fail(ErrnoError(errno, "close " + tmp));
    CrashPoint((std::string(options.crash_label) + "-tmp-written").c_str());
    bool placed = true;
    if (replace) {
      if (::rename(tmp.c_str(), path.c_str()) != 0)
        return fail(ErrnoError(errno, "rename " + tmp + " to " + path));
    } else {
      // link() fails if the name exists: never replaces.
      if (::link(tmp.c_str(), path.c_str()) != 0) {
        if (errno != EEXIST) return fail(ErrnoError(errno, "link " + tmp + " to " + path));
        placed = false;
      }
      ::unlink(tmp.c_str());
    }
    if (options.sync && placed) {
      auto slash = path.rfind('/');
      CV_RETURN_IF_ERROR(SyncDir(slash == std::string::npos ? "." : path.substr(0, slash)));
    }
    CrashPoint((std::string(options.crash_label) + "-renamed").c_str());
    return placed;
  }

  int64_t NowUnix() override { return static_cast<int64_t>(::time(nullptr)); }
  int64_t NowNanos() override {
    // File timestamps come from the coarse clock; the fine one runs ahead
    // of it by up to a tick.
    timespec ts;
    ::clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return int64_t(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
  }

  Result<Bytes> ReadFile(const std::string& path, uint64_t max_size) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd && errno == ELOOP)
      return Fail(ErrorCode::kCorrupt, path + " is a symlink, not a regular file");
    if (!fd) return FailErrno(errno, "open " + path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return FailErrno(errno, "stat " + path);
    if (!S_ISREG(st.st_mode))
      return Fail(ErrorCode::kCorrupt,
                  path + " is not a regular file (" + FileKind(st.st_mode) + ")");
    auto too_large = [&](const std::string& size) {
      return Fail(ErrorCode::kCorrupt, path + " has " + size + " bytes, more than the " +
                                           std::to_string(max_size) + " such a file can have");
    };
    if (uint64_t(st.st_size) > max_size) return too_large(std::to_string(st.st_size));
    // Read straight into the result, in one call for a file that keeps
    // its size; one that grows meanwhile is read to its end, within the bound.
    Bytes out(size_t(st.st_size) + 1);
    size_t filled = 0;
    for (;;) {
      if (filled == out.size()) {
        if (filled > max_size) return too_large("over " + std::to_string(max_size));
        out.resize(size_t(std::min<uint64_t>(uint64_t(out.size()) * 2, max_size + 1)));
      }
      ssize_t n = ::read(fd.get(), out.data() + filled, out.size() - filled);
      if (n < 0) {
        if (errno == EINTR) continue;
        return FailErrno(errno, "read " + path);
      }
      if (n == 0) break;
      filled += size_t(n);
    }
    if (filled > max_size) return too_large("over " + std::to_string(max_size));
    out.resize(filled);
    return out;
  }

  Result<FileStat> Stat(const std::string& path) override {
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) return FailErrno(errno, "stat " + path);
    FileStat fs;
    if (S_ISREG(st.st_mode)) fs.type = FileType::kRegular;
    else if (S_ISDIR(st.st_mode)) fs.type = FileType::kDirectory;
    else if (S_ISLNK(st.st_mode)) fs.type = FileType::kSymlink;
    fs.size = uint64_t(st.st_size);
    fs.mtime = st.st_mtim.tv_sec;
    fs.atime_ns = int64_t(st.st_atim.tv_sec) * 1'000'000'000 + st.st_atim.tv_nsec;
    return fs;
  }

  Result<std::vector<std::string>> ListDir(const std::string& path) override {
    DIR* dir = ::opendir(path.c_str());
    if (dir == nullptr) return FailErrno(errno, "open directory " + path);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view name = e->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(dir);
    if (err != 0) return FailErrno(err, "read directory " + path);
    return names;
  }

  Status WriteFileAtomic(const std::string& path, ByteView data,
                         const WriteOptions& options) override {
    CV_RETURN_IF_ERROR(Write(path, data, options, /*replace=*/true));
    return {};
  }

  Result<bool> WriteFileIfAbsent(const std::string& path, ByteView data,
                                 const WriteOptions& options) override {
    return Write(path, data, options, /*replace=*/false);
  }

  Result<uint64_t> FreeSpace(const std::string& path) override {
    struct statvfs vfs;
    if (::statvfs(path.c_str(), &vfs) != 0) return FailErrno(errno, "statvfs " + path);
    return uint64_t(vfs.f_bavail) * uint64_t(vfs.f_frsize);
  }

  Status CreateDir(const std::string& path, unsigned mode) override {
    if (::mkdir(path.c_str(), mode) != 0) return FailErrno(errno, "mkdir " + path);
    return {};
  }

  Status CreateDirs(const std::string& path, unsigned mode) override {
    // Each missing level with `mode` (the umask can only take bits away),
    // where std::filesystem would use 0777 less the umask. Existing levels
    // get no mkdir (a read-only mount above the store would refuse it).
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    for (size_t end = path.find('/', 1);; end = path.find('/', end + 1)) {
      const std::string level = path.substr(0, end);
      if (!level.empty() && ::stat(level.c_str(), &st) != 0 &&
          ::mkdir(level.c_str(), mode) != 0 && errno != EEXIST)
        return FailErrno(errno, "mkdir " + level);
      if (end == std::string::npos) break;
    }
    if (::stat(path.c_str(), &st) != 0) return FailErrno(errno, "mkdir -p " + path);
    if (!S_ISDIR(st.st_mode)) return Fail(ErrorCode::kAlreadyExists, path + " is not a directory");
    return {};
  }

  Status Rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0)
      return FailErrno(errno, "rename " + from + " to " + to);
    return {};
  }

  Status RenameNoReplace(const std::string& from, const std::string& to) override {
    if (::renameat2(AT_FDCWD, from.c_str(), AT_FDCWD, to.c_str(), RENAME_NOREPLACE) != 0)
      return FailErrno(errno, "rename " + from + " to " + to);
    return {};
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return FailErrno(errno, "remove " + path);
    return {};
  }

  Status RemoveTree(const std::string& path) override {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    if (ec) return Fail(ErrorCode::kIo, "remove " + path + ": " + ec.message());
    return {};
  }

  Status TouchAtime(const std::string& path) override {
    const struct timespec times[2] = {{0, UTIME_NOW}, {0, UTIME_OMIT}};
    if (::utimensat(AT_FDCWD, path.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      return FailErrno(errno, "update atime of " + path);
    return {};
  }

  Status SyncDir(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return FailErrno(errno, "open directory " + path);
    if (::fsync(fd.get()) != 0) return FailErrno(errno, "fsync " + path);
    return {};
  }

  Status SyncFilesystem(const std::string& path) override {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return FailErrno(errno, "open " + path);
    if (::syncfs(fd.get()) != 0) return FailErrno(errno, "syncfs " + path);
    return {};
  }

  Result<std::unique_ptr<AppendableFile>> OpenAppendable(const std::string& path,
                                                         uint64_t keep_bytes) override {
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, kFileMode));
    if (!fd) return FailErrno(errno, "open " + path);
    if (::fchmod(fd.get(), kFileMode) != 0) return FailErrno(errno, "chmod " + path);
    if (::ftruncate(fd.get(), off_t(keep_bytes)) != 0) return FailErrno(errno, "truncate " + path);
    if (::lseek(fd.get(), 0, SEEK_END) < 0) return FailErrno(errno, "seek " + path);
    return std::unique_ptr<AppendableFile>(new PosixAppendableFile(std::move(fd), path));
  }

  Result<std::unique_ptr<FileLock>> Lock(const std::string& path, LockMode mode,
                                         bool wait) override {
    for (;;) {
      struct stat st;
      const bool is_dir = ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
      CV_ASSIGN_OR_RETURN(UniqueFd fd, LockOnce(path, is_dir, mode, wait));
      // A lock file's holder may remove it (env.h): a lock won on the
      // removed file would exclude no one who opens the path from now on.
      // Then again, on the file the path names now.
      if (!is_dir) {
        struct stat held, named;
        if (::fstat(fd.get(), &held) != 0) return FailErrno(errno, "lock " + path);
        if (::stat(path.c_str(), &named) != 0) {
          if (errno != ENOENT) return FailErrno(errno, "lock " + path);
          continue;
        }
        if (named.st_dev != held.st_dev || named.st_ino != held.st_ino) continue;
      }
      return std::unique_ptr<FileLock>(std::make_unique<PosixFileLock>(std::move(fd)));
    }
  }

 private:
  // Opens `path` and locks it (a directory: flock; a file, created if
  // missing: an open-file-description lock); the descriptor holds the lock.
  static Result<UniqueFd> LockOnce(const std::string& path, bool is_dir, LockMode mode,
                                   bool wait) {
    UniqueFd fd(is_dir ? ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                       : ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, kFileMode));
    if (!fd) return FailErrno(errno, "open lock " + path);
    const char* what = mode == LockMode::kShared ? "shared" : "exclusive";
    int rc;
    if (is_dir) {
      // Directories cannot take fcntl write locks (no O_WRONLY open); flock
      // is per open file description, which is the semantics we want.
      int op = (mode == LockMode::kShared ? LOCK_SH : LOCK_EX) | (wait ? 0 : LOCK_NB);
      do rc = ::flock(fd.get(), op); while (rc != 0 && errno == EINTR);
    } else {
      // Open-file-description locks: per descriptor like flock, and they
      // conflict with classic fcntl locks, which PBS's process locker uses
      // on the same .lock file.
      struct flock fl = {};
      fl.l_type = mode == LockMode::kShared ? F_RDLCK : F_WRLCK;
      fl.l_whence = SEEK_SET;
      do rc = ::fcntl(fd.get(), wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl);
      while (rc != 0 && errno == EINTR);
      if (rc != 0 && errno == EAGAIN) errno = EWOULDBLOCK;
    }
    if (rc != 0) {
      if (errno == EWOULDBLOCK)
        return Fail(ErrorCode::kBusy, std::string("unable to get ") + what +
                                          " lock on " + path + ": held by another process");
      return FailErrno(errno, std::string("lock ") + path);
    }
    return fd;
  }
};

}  // namespace

void Env::WaitUntil(int64_t unix_seconds) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(1100);
  while (NowUnix() < unix_seconds && std::chrono::steady_clock::now() < give_up) {
    const int64_t left_ns = unix_seconds * 1'000'000'000 - NowNanos();
    std::this_thread::sleep_for(
        std::chrono::nanoseconds(std::clamp<int64_t>(left_ns, 1'000'000, 100'000'000)));
  }
}

Env* Env::Default() {
  static PosixEnv* env = new PosixEnv;  // never destroyed: used until exit
  return env;
}

}  // namespace chunkvault
