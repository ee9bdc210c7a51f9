#include "archive/beneath.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace chunkvault {
namespace {

std::atomic<bool> g_force_walk{false};
std::atomic<bool> g_no_openat2{false};  // the kernel said ENOSYS once

// The error for a failed resolution of `rel`: the ones that mean "not
// beneath" say so; the rest keep their errno's code (callers act on
// kNotFound and kAlreadyExists).
std::unexpected<Error> ResolveError(int err, std::string_view rel) {
  const std::string name(rel.empty() ? "." : rel);
  if (err == ELOOP || err == EXDEV)
    return Fail(ErrorCode::kCorrupt, "'" + name +
                                         "' goes through a symlink, which is not "
                                         "followed: it could lead outside the target");
  if (err == ENOTDIR)
    return Fail(ErrorCode::kCorrupt, "'" + name +
                                         "' goes through something that is not a "
                                         "directory");
  return FailErrno(err, name);
}

// The next component of `rel` from `pos` on (empty at the end), skipping
// empty ones and ".".
std::string_view NextComponent(std::string_view rel, size_t& pos) {
  while (pos < rel.size()) {
    size_t slash = rel.find('/', pos);
    if (slash == std::string_view::npos) slash = rel.size();
    std::string_view part = rel.substr(pos, slash - pos);
    pos = slash + 1;
    if (!part.empty() && part != ".") return part;
  }
  return {};
}

// openat2 where the kernel has it: -1 with errno ENOSYS where it does not.
int OpenAt2(int root, const char* path, int flags, mode_t mode) {
  if (g_force_walk.load(std::memory_order_relaxed) ||
      g_no_openat2.load(std::memory_order_relaxed)) {
    errno = ENOSYS;
    return -1;
  }
  struct open_how how = {};
  how.flags = uint64_t(flags);
  how.mode = (flags & O_CREAT) != 0 ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, path, &how, sizeof how);
    if (fd >= 0) return int(fd);
    if (errno == EAGAIN || errno == EINTR) continue;  // a rename raced the lookup
    if (errno == ENOSYS) g_no_openat2.store(true, std::memory_order_relaxed);
    return -1;
  }
}

// The same by walking: every component opened relative to the one before,
// never following a symlink (O_NOFOLLOW; O_PATH needs no read permission).
int OpenByWalk(int root, std::string_view rel, int flags, mode_t mode) {
  size_t pos = 0;
  std::string_view part = NextComponent(rel, pos);
  if (part.empty()) return ::openat(root, ".", flags, mode);
  UniqueFd cur;
  for (;;) {
    size_t next_pos = pos;
    std::string_view next = NextComponent(rel, next_pos);
    const std::string name(part);
    const int dir = cur ? cur.get() : root;
    if (next.empty()) return ::openat(dir, name.c_str(), flags | O_NOFOLLOW, mode);
    int fd = ::openat(dir, name.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return -1;
    cur.reset(fd);
    part = next;
    pos = next_pos;
  }
}

}  // namespace

void ForceBeneathWalkForTesting(bool on) { g_force_walk.store(on); }

Result<UniqueFd> OpenBeneath(int root, std::string_view rel, int flags, mode_t mode) {
  flags |= O_CLOEXEC;
  const std::string path = rel.empty() ? std::string(".") : std::string(rel);
  int fd = OpenAt2(root, path.c_str(), flags, mode);
  if (fd < 0 && errno == ENOSYS) fd = OpenByWalk(root, rel, flags, mode);
  if (fd < 0) return ResolveError(errno, rel);
  return UniqueFd(fd);
}

Status MakeDirsBeneath(int root, std::string_view dir_rel) {
  UniqueFd cur;
  size_t pos = 0;
  for (std::string_view part = NextComponent(dir_rel, pos); !part.empty();
       part = NextComponent(dir_rel, pos)) {
    const std::string name(part);
    const int dir = cur ? cur.get() : root;
    constexpr int kFlags = O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = ::openat(dir, name.c_str(), kFlags);
    if (fd < 0 && errno == ENOENT) {
      // Another writer thread may make it at the same moment: EEXIST is fine.
      if (::mkdirat(dir, name.c_str(), 0755) != 0 && errno != EEXIST)
        return FailErrno(errno, "create directory " + std::string(dir_rel.substr(0, pos)));
      fd = ::openat(dir, name.c_str(), kFlags);
    }
    if (fd < 0) return ResolveError(errno, dir_rel.substr(0, std::min(pos, dir_rel.size())));
    cur.reset(fd);
  }
  return {};
}

Result<ParentDir> OpenParentBeneath(int root, std::string_view rel, bool make_missing) {
  ParentDir parent;
  const size_t slash = rel.rfind('/');
  parent.leaf = std::string(slash == std::string_view::npos ? rel : rel.substr(slash + 1));
  if (parent.leaf.empty() || parent.leaf == "." || parent.leaf == "..")
    return Fail(ErrorCode::kInvalidArgument, "'" + std::string(rel) + "' names no entry");
  if (slash == std::string_view::npos) {
    parent.fd = root;
    return parent;
  }
  const std::string_view dir = rel.substr(0, slash);
  constexpr int kFlags = O_PATH | O_DIRECTORY;
  auto fd = OpenBeneath(root, dir, kFlags);
  if (!fd && make_missing && fd.error().code() == ErrorCode::kNotFound) {
    CV_RETURN_IF_ERROR(MakeDirsBeneath(root, dir));
    fd = OpenBeneath(root, dir, kFlags);
  }
  if (!fd) return std::unexpected(std::move(fd).error());
  parent.owned = std::move(*fd);
  parent.fd = parent.owned.get();
  return parent;
}

Status RemoveInTheWay(int dir, const std::string& leaf) {
  if (::unlinkat(dir, leaf.c_str(), 0) == 0) return {};
  int err = errno;
  if (err == EISDIR || err == EPERM) {
    if (::unlinkat(dir, leaf.c_str(), AT_REMOVEDIR) == 0) return {};
    err = errno;
    if (err == ENOTEMPTY || err == EEXIST)
      return Fail(ErrorCode::kAlreadyExists,
                  "a directory with contents is in the way of '" + leaf + "'");
  }
  return FailErrno(err, "replace '" + leaf + "'");
}

}  // namespace chunkvault
