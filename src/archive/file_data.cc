#include "archive/file_data.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace chunkvault {
namespace {

// Small enough that a piece is still in the L2 cache when the chunker
// scans it, and that the bytes read past a chunk's cut (which move to the
// next chunk) are few.
constexpr size_t kMaxRead = 256 << 10;

// True if `fd` was non-blocking and no longer is.
bool ClearNonBlocking(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  return flags >= 0 && (flags & O_NONBLOCK) != 0 && ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0;
}

}  // namespace

Status CopyFileData(int fd, const std::string& path, uint64_t size,
                    const std::function<std::span<uint8_t>()>& space,
                    const std::function<Status(std::span<uint8_t>)>& commit,
                    const std::function<void(const std::string&)>& warn) {
  uint64_t done = 0;
  bool zeros = false;  // the file ended early or failed: fill with zeros
  while (done < size) {
    std::span<uint8_t> room = space();
    room = room.first(size_t(std::min<uint64_t>({room.size(), kMaxRead, size - done})));
    if (zeros) {
      std::memset(room.data(), 0, room.size());
    } else {
      const ssize_t n = ::read(fd, room.data(), room.size());
      if (n < 0 && errno == EINTR) continue;
      // The tree walker opens files with O_NONBLOCK, which regular files
      // ignore on local file systems; one that does not gets a blocking
      // descriptor.
      if (n < 0 && errno == EAGAIN && ClearNonBlocking(fd)) continue;
      if (n <= 0) {
        if (n < 0)
          warn("read error in " + path + ": " + std::strerror(errno) + " (rest stored as zeros)");
        else
          warn(path + " shrank while being read (rest stored as zeros)");
        zeros = true;
        continue;
      }
      room = room.first(size_t(n));
    }
    CV_RETURN_IF_ERROR(commit(room));
    done += room.size();
  }
  return {};
}

}  // namespace chunkvault
