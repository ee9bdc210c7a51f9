// Paths below a directory, resolved without following any symlink.
//
// A restore creates everything through these: a relative path from the
// archive is resolved beneath the target's descriptor with openat2's
// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS, or, where the kernel lacks openat2
// (before Linux 5.6), by walking directory descriptors one component at a
// time with O_NOFOLLOW. A symlink anywhere on the path (one the archive
// made, one already in an overwritten target, one another thread just
// created) is an error, never a way out of the target.
//
// Paths are relative, without "..", as the extractor has already checked;
// empty components and "." are allowed. Errors name the path: ELOOP and
// ENOTDIR on the way are reported as "goes through a symlink or non-directory".
//
// Thread-safety: plain functions over descriptors the caller keeps open.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "chunkvault/status.h"
#include "util/fd.h"

namespace chunkvault {

// openat(root, rel, flags, mode), but confined: `flags` may hold O_CREAT
// (with O_EXCL: the last component is never followed either).
Result<UniqueFd> OpenBeneath(int root, std::string_view rel, int flags, mode_t mode = 0);

// The directory holding rel's last component, and that component's name,
// for the *at calls that have no openat2 form (mkdirat, symlinkat,
// mknodat, linkat, unlinkat, fchownat, utimensat).
struct ParentDir {
  UniqueFd owned;    // open unless the parent is the root itself
  int fd = -1;       // the parent: owned.get() or the root
  std::string leaf;  // a single component, never empty, "." or ".."
};

// Opens rel's parent beneath `root`; with `make_missing`, creates missing
// directories on the way (mode 0755 less the umask, as tar does for
// directories an archive does not list).
Result<ParentDir> OpenParentBeneath(int root, std::string_view rel, bool make_missing);

// Creates the directories of `dir_rel` that do not exist yet, beneath root.
Status MakeDirsBeneath(int root, std::string_view dir_rel);

// Removes what is named `leaf` in `dir` so that something else can take
// its place: a non-directory, or an empty directory. A directory with
// contents stays and is an error.
Status RemoveInTheWay(int dir, const std::string& leaf);

// For tests: resolve by walking descriptors even where openat2 exists.
void ForceBeneathWalkForTesting(bool on);

}  // namespace chunkvault
