#include "archive/image.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chunkvault {

Result<ImageSource> ImageSource::Open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return FailErrno(errno, "open image " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return FailErrno(errno, "stat " + path);
  uint64_t size = 0;
  if (S_ISREG(st.st_mode)) {
    size = uint64_t(st.st_size);
  } else if (S_ISBLK(st.st_mode)) {
    if (::ioctl(fd.get(), BLKGETSIZE64, &size) != 0) return FailErrno(errno, "size of " + path);
  } else {
    return Fail(ErrorCode::kInvalidArgument,
                "image source " + path + " is neither a regular file nor a block device");
  }
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return ImageSource(std::move(fd), path, size);
}

Result<size_t> ImageSource::Read(uint8_t* buf, size_t len) {
  size_t done = 0;
  while (done < len) {
    ssize_t n = ::read(fd_.get(), buf + done, len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "read " + path_);
    }
    if (n == 0) break;
    done += size_t(n);
  }
  return done;
}

Result<ImageTarget> ImageTarget::Create(const std::string& path, bool overwrite, bool follow) {
  if (path == "-") return ImageTarget(UniqueFd(::dup(STDOUT_FILENO)), "standard output", false);
  struct stat st;
  if ((follow ? ::stat(path.c_str(), &st) : ::lstat(path.c_str(), &st)) == 0) {
    if (S_ISLNK(st.st_mode))
      return Fail(ErrorCode::kAlreadyExists, "restore target " + path + " is a symlink (not followed)");
    if (S_ISBLK(st.st_mode)) {
      UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd) return FailErrno(errno, "open " + path);
      return ImageTarget(std::move(fd), path, false);
    }
    if (!overwrite)
      return Fail(ErrorCode::kAlreadyExists,
                  "restore target " + path + " exists (overwriting was not asked for)");
  }
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW),
                     0644));
  if (!fd) return FailErrno(errno, "create " + path);
  return ImageTarget(std::move(fd), path, true);
}

Status ImageTarget::Write(ByteView data) {
  auto all_zero = [](ByteView d) {
    return std::all_of(d.begin(), d.end(), [](uint8_t b) { return b == 0; });
  };
  if (sparse_ && all_zero(data)) {
    offset_ += data.size();
    if (::lseek(fd_.get(), off_t(offset_), SEEK_SET) < 0) return FailErrno(errno, "seek " + path_);
    return {};
  }
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd_.get(), data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return FailErrno(errno, "write " + path_);
    }
    done += size_t(n);
  }
  offset_ += data.size();
  return {};
}

Status ImageTarget::Finish(uint64_t expected_size) {
  if (offset_ != expected_size)
    return Fail(ErrorCode::kCorrupt, "wrote " + std::to_string(offset_) + " bytes to " + path_ +
                                         ", the index says " + std::to_string(expected_size));
  if (sparse_ && ::ftruncate(fd_.get(), off_t(expected_size)) != 0)
    return FailErrno(errno, "truncate " + path_);
  if (::close(fd_.release()) != 0) return FailErrno(errno, "close " + path_);
  return {};
}

}  // namespace chunkvault
