#include "archive/node_metadata.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace chunkvault {
namespace {

void WarnErrno(const WarnFn& warn, const std::string& what, int err) {
  if (warn) warn(what + ": " + std::strerror(err));
}

// Sets the (name, value) pairs with `set`; a refusal is a warning.
template <class Set>
void SetXattrs(const std::vector<std::pair<std::string, Bytes>>& attrs, const char* kind,
               const WarnFn& warn, Set set) {
  for (const auto& [key, value] : attrs)
    if (set(key.c_str(), value.data(), value.size()) != 0)
      WarnErrno(warn, std::string("cannot restore ") + kind + " " + key, errno);
}

// The errors of a file system that lacks a feature altogether.
bool Unsupported(int err) {
  return err == ENOTTY || err == EOPNOTSUPP || err == EINVAL || err == ENOSYS;
}

void SetProjectId(int fd, uint32_t id, const WarnFn& warn) {
  struct fsxattr fsx {};
  if (::ioctl(fd, FS_IOC_FSGETXATTR, &fsx) == 0) {
    if (fsx.fsx_projid == id) return;
    fsx.fsx_projid = id;
    if (::ioctl(fd, FS_IOC_FSSETXATTR, &fsx) == 0) return;
  }
  if (!Unsupported(errno)) WarnErrno(warn, "cannot restore the quota project id", errno);
}

}  // namespace

Status ApplyToOpenNode(int fd, const NodeMetadata& meta, mode_t current_perm, const WarnFn& warn) {
  if (meta.owner && ::fchown(fd, meta.owner->first, meta.owner->second) != 0)
    return FailErrno(errno, "chown");
  SetXattrs(meta.xattrs, "extended attribute", warn,
            [&](const char* k, const void* v, size_t n) { return ::fsetxattr(fd, k, v, n, 0); });
  // chown clears set-id bits: then the mode is set whatever it was.
  const bool setid = (meta.perm & (S_ISUID | S_ISGID)) != 0;
  if ((meta.perm != current_perm || (setid && meta.owner)) && ::fchmod(fd, meta.perm) != 0)
    return FailErrno(errno, "chmod");
  SetXattrs(meta.acls, "ACL", warn,
            [&](const char* k, const void* v, size_t n) { return ::fsetxattr(fd, k, v, n, 0); });
  if (meta.project_id) SetProjectId(fd, *meta.project_id, warn);
  const struct timespec times[2] = {meta.atime, meta.mtime};
  if (::futimens(fd, times) != 0) return FailErrno(errno, "set times");
  if (meta.fflags_set != 0 || meta.fflags_clear != 0) {
    int flags = 0;
    if (::ioctl(fd, FS_IOC_GETFLAGS, &flags) != 0) {
      WarnErrno(warn, "cannot restore file flags", errno);
    } else {
      flags = int((unsigned long)(flags) | meta.fflags_set) & ~int(meta.fflags_clear);
      if (::ioctl(fd, FS_IOC_SETFLAGS, &flags) != 0)
        WarnErrno(warn, "cannot restore file flags", errno);
    }
  }
  return {};
}

Status ApplyToLeaf(int dir, const std::string& leaf, bool is_symlink, const NodeMetadata& meta,
                   const WarnFn& warn) {
  const char* name = leaf.c_str();
  if (meta.owner &&
      ::fchownat(dir, name, meta.owner->first, meta.owner->second, AT_SYMLINK_NOFOLLOW) != 0)
    return FailErrno(errno, "chown");
  if (!meta.xattrs.empty()) {
    // No descriptor of a FIFO or device can be had without opening it;
    // its directory's descriptor plus the one name, not followed, is as
    // good: /proc resolves the descriptor to exactly that directory.
    const std::string path = "/proc/self/fd/" + std::to_string(dir) + "/" + leaf;
    SetXattrs(meta.xattrs, "extended attribute", warn, [&](const char* k, const void* v, size_t n) {
      return ::lsetxattr(path.c_str(), k, v, n, 0);
    });
  }
  // glibc sets the mode of the node itself (not of what a symlink names).
  if (!is_symlink && ::fchmodat(dir, name, meta.perm, AT_SYMLINK_NOFOLLOW) != 0)
    return FailErrno(errno, "chmod");
  const struct timespec times[2] = {meta.atime, meta.mtime};
  if (::utimensat(dir, name, times, AT_SYMLINK_NOFOLLOW) != 0) return FailErrno(errno, "set times");
  return {};
}

}  // namespace chunkvault
