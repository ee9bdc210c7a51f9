#include "archive/file_writer_pool.h"

#include "archive/beneath.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

namespace chunkvault {
namespace {

// Queued files, by count: the byte budget is the real bound, this only
// keeps a stream of empty files from queueing without end.
constexpr size_t kMaxQueuedFiles = 4096;

Status WriteAll(int fd, const uint8_t* p, size_t n, uint64_t offset) {
  while (n > 0) {
    ssize_t w = ::pwrite(fd, p, n, off_t(offset));
    if (w < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "write at offset " + std::to_string(offset));
    }
    p += w;
    n -= size_t(w);
    offset += uint64_t(w);
  }
  return {};
}

// Writes each extent of `content` at its offset.
Status WriteExtents(int fd, const FileData& content) {
  for (const FileData::Extent& e : content.extents)
    CV_RETURN_IF_ERROR(WriteAll(fd, content.DataOf(e), e.length, e.offset));
  return {};
}

// The process's umask, read without changing it (umask(2) would, for every
// thread, for a moment); 0777 if unknown, so that every mode gets set.
mode_t CurrentUmask() {
  std::FILE* f = std::fopen("/proc/self/status", "re");
  if (f == nullptr) return 0777;
  char line[256];
  unsigned mask = 0777;
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (std::sscanf(line, "Umask: %o", &mask) == 1) break;
  std::fclose(f);
  return mode_t(mask);
}

}  // namespace

FileWriterPool::FileWriterPool(int target_dir, size_t threads, uint64_t max_bytes)
    : dir_(target_dir),
      max_bytes_(max_bytes),
      umask_(CurrentUmask()),
      pool_(threads, kMaxQueuedFiles) {}

FileWriterPool::~FileWriterPool() { pool_.WaitIdle(); }

void FileData::Push(uint64_t offset, size_t n, const uint8_t* borrowed, size_t own_pos) {
  size_ += n;
  if (!extents.empty()) {
    Extent& last = extents.back();
    const bool follows_in_memory =
        borrowed != nullptr ? last.borrowed != nullptr && last.borrowed + last.length == borrowed
                            : last.borrowed == nullptr && last.own_pos + last.length == own_pos;
    if (follows_in_memory && end() == offset) {
      last.length += n;
      return;
    }
  }
  extents.push_back({offset, n, borrowed, own_pos});
}

void FileData::Add(uint64_t offset, const uint8_t* p, size_t n) {
  if (n == 0) return;
  Push(offset, n, nullptr, own.size());
  own.insert(own.end(), p, p + n);
}

void FileData::Borrow(uint64_t offset, const uint8_t* p, size_t n,
                      const std::shared_ptr<const void>& owner) {
  if (n == 0) return;
  if (keep.empty() || keep.back() != owner) keep.push_back(owner);
  Push(offset, n, p, 0);
}

// A large file being written: the descriptor and metadata, and how many
// pieces (plus the caller, until End) still hold it.
struct FileWriterPool::LargeFile {
  RestoreFile meta;
  UniqueFd fd;
  uint64_t data_end = 0;        // set by End, before its release
  std::atomic<int> holders{1};  // the caller
};

Status FileWriterPool::Reserve(uint64_t bytes) {
  std::unique_lock lock(mu_);
  room_.wait(lock, [&] { return in_flight_ == 0 || in_flight_ + bytes <= max_bytes_; });
  if (!error_) return error_;
  in_flight_ += bytes;
  return {};
}

bool FileWriterPool::Failed() {
  std::lock_guard lock(mu_);
  return !error_;
}

void FileWriterPool::Done(uint64_t bytes, Status result, const std::string& name) {
  std::lock_guard lock(mu_);
  in_flight_ -= bytes;
  if (!result && error_) error_ = std::unexpected(std::move(result).error().Context("restore " + name));
  room_.notify_all();
}

Status FileWriterPool::Submit(RestoreFile file) {
  const uint64_t bytes = file.content.size();
  CV_RETURN_IF_ERROR(Reserve(bytes));
  pool_.Submit([this, f = std::move(file), bytes] {
    // After a failure nothing more is written.
    Done(bytes, Failed() ? Status() : WriteWhole(f), f.name);
  });
  return {};
}

Result<std::shared_ptr<FileWriterPool::LargeFile>> FileWriterPool::Begin(RestoreFile file) {
  auto large = std::make_shared<LargeFile>();
  auto fd = Create(file.name, file.meta.perm);
  if (!fd) return std::unexpected(std::move(fd).error().Context("restore " + file.name));
  large->fd = std::move(*fd);
  large->meta = std::move(file);
  return large;
}

Status FileWriterPool::Append(const std::shared_ptr<LargeFile>& file, FileData piece) {
  const uint64_t bytes = piece.size();
  CV_RETURN_IF_ERROR(Reserve(bytes));
  file->holders.fetch_add(1, std::memory_order_relaxed);
  pool_.Submit([this, file, p = std::move(piece), bytes] {
    Done(bytes, Failed() ? Status() : WriteExtents(file->fd.get(), p), file->meta.name);
    Release(file);
  });
  return {};
}

Status FileWriterPool::End(std::shared_ptr<LargeFile> file, uint64_t data_end) {
  file->data_end = data_end;
  Release(file);
  std::lock_guard lock(mu_);
  return error_;
}

void FileWriterPool::Release(const std::shared_ptr<LargeFile>& file) {
  // The last holder finishes the file; acq_rel makes every piece's writes
  // (and End's data_end) visible to it.
  if (file->holders.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (Failed()) return;  // the descriptor closes with the handle
  Done(0, Complete(file->fd.release(), file->meta, file->data_end), file->meta.name);
}

std::vector<std::string> FileWriterPool::TakeWarnings() {
  std::lock_guard lock(mu_);
  return std::exchange(warnings_, {});
}

Status FileWriterPool::Finish() {
  pool_.WaitIdle();
  std::lock_guard lock(mu_);
  return error_;
}

Result<UniqueFd> FileWriterPool::Create(const std::string& name, mode_t perm) {
  constexpr int kFlags = O_WRONLY | O_CREAT | O_EXCL;
  for (int attempt = 0;; ++attempt) {
    auto fd = OpenBeneath(dir_, name, kFlags, perm & 0777);
    if (fd || attempt == 2) return fd;
    if (fd.error().code() == ErrorCode::kAlreadyExists) {
      // The stream names the file twice, or it replaces a symlink restored
      // earlier: replace it (never through it).
      CV_ASSIGN_OR_RETURN(ParentDir parent, OpenParentBeneath(dir_, name, false));
      CV_RETURN_IF_ERROR(RemoveInTheWay(parent.fd, parent.leaf));
    } else if (fd.error().code() == ErrorCode::kNotFound) {
      // A stream that does not list every directory: made as tar would.
      const size_t slash = name.rfind('/');
      if (slash == std::string::npos) return fd;
      CV_RETURN_IF_ERROR(MakeDirsBeneath(dir_, std::string_view(name).substr(0, slash)));
    } else {
      return fd;
    }
  }
}

Status FileWriterPool::WriteWhole(const RestoreFile& file) {
  CV_ASSIGN_OR_RETURN(UniqueFd fd, Create(file.name, file.meta.perm));
  CV_RETURN_IF_ERROR(WriteExtents(fd.get(), file.content));
  return Complete(fd.release(), file, file.content.end());
}

void FileWriterPool::AddWarning(const std::string& name, const std::string& message) {
  std::lock_guard lock(mu_);
  warnings_.push_back(name + ": " + message);
}

Status FileWriterPool::Complete(int raw_fd, const RestoreFile& file, uint64_t data_end) {
  UniqueFd fd(raw_fd);
  if (file.size > data_end && ::ftruncate(fd.get(), off_t(file.size)) != 0)
    return FailErrno(errno, "extend to " + std::to_string(file.size) + " bytes");
  // Created with the mode less the umask.
  const mode_t created = file.meta.perm & 0777 & ~umask_;
  CV_RETURN_IF_ERROR(ApplyToOpenNode(fd.get(), file.meta, created,
                                     [&](const std::string& w) { AddWarning(file.name, w); }));
  if (::close(fd.release()) != 0) return FailErrno(errno, "close");
  return {};
}

}  // namespace chunkvault
