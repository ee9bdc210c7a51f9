// What a restore sets on each node it creates, and how: always through a
// descriptor of the node or of its directory, never by a path that could
// follow a symlink (see beneath.h).
//
// Order matters and is the same everywhere: owner (chown clears set-id
// bits), user xattrs (they need write permission, which the final mode may
// not grant), mode, ACLs (after the mode: chmod rewrites an ACL's mask),
// times, file flags (last: "immutable" would block everything else).
// Refusals the restore can live with (an xattr or flag the filesystem
// does not take) are warnings; the rest are errors.
//
// Thread-safety: plain functions; `warn` is called on the calling thread.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct NodeMetadata {
  mode_t perm = 0600;  // permission, set-id and sticky bits
  struct timespec atime = {0, 0}, mtime = {0, 0};
  std::optional<std::pair<uid_t, gid_t>> owner;  // chown to these, if set
  std::vector<std::pair<std::string, Bytes>> xattrs;
  std::vector<std::pair<std::string, Bytes>> acls;  // system.posix_acl_* values
  unsigned long fflags_set = 0, fflags_clear = 0;   // FS_IOC_SETFLAGS bits
  // The quota project id (FS_IOC_FSSETXATTR), set where the file system
  // has them; silently skipped where it has not.
  std::optional<uint32_t> project_id;
};

using WarnFn = std::function<void(const std::string&)>;

// A regular file or directory open as `fd` (not O_PATH), whose mode is
// `current_perm` now: chmod is skipped where it would change nothing.
Status ApplyToOpenNode(int fd, const NodeMetadata& meta, mode_t current_perm, const WarnFn& warn);

// A symlink, FIFO or device node named `leaf` in the directory `dir`,
// not followed: owner, xattrs, mode (not for symlinks), times. Such nodes
// have no ACLs or flags to set.
Status ApplyToLeaf(int dir, const std::string& leaf, bool is_symlink, const NodeMetadata& meta,
                   const WarnFn& warn);

}  // namespace chunkvault
