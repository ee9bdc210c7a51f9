// An entry's pxar metadata from the file system, and back: what PBS's
// client reads and restores (docs/pxar.md, "Metadata").
//
// What is read depends on the file system (its statfs magic), as PBS
// decides it: xattrs (user.*, trusted.*, security.NTACL), file
// capabilities and ACLs where the file system carries xattrs, the quota
// project id on ext4, XFS, ZFS and FUSE, chattr flags everywhere, FAT
// attributes on FAT and FUSE. Unlike PBS, tmpfs is not denied xattrs
// and ACLs: it has carried them for years, and a tree there loses nothing.
//
// Thread-safety: plain functions.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "archive/pxar/format.h"

namespace chunkvault::pxar {

// What a file system's entries can carry.
struct FsFeatures {
  bool xattrs = false, acl = false, fcaps = false, project_id = false, fat = false;
};
FsFeatures FeaturesOf(int64_t fs_magic);
// /proc, /sys and the like: never backed up.
bool IsVirtualFileSystem(int64_t fs_magic);

// The metadata of an entry whose stat is `st`, reading the rest through
// `fd` (a regular file's or directory's descriptor, not O_PATH; -1 for
// other entries, which have only their stat, as with PBS). A problem
// that leaves metadata out is told in `note`.
Metadata ReadFsMetadata(const struct stat& st, int fd, int64_t fs_magic, std::string* note);

// chattr (FS_IOC_GETFLAGS) bits to pxar's flag bits, and back.
uint64_t FlagsFromChattr(uint64_t chattr);
uint64_t ChattrFromFlags(uint64_t flags);

// The access and default ACL xattr values (kernel format) into pxar's
// form, given the mode: named entries sorted, the group entry only where
// a mask exists. Values that do not parse are ignored.
void AclFromXattrs(ByteView access, ByteView default_acl, Acl& acl);
// The xattrs (system.posix_acl_access, system.posix_acl_default) that
// restore `acl` on an entry of `mode`; none for an empty ACL.
std::vector<std::pair<std::string, Bytes>> AclXattrs(const Acl& acl, uint64_t mode);

}  // namespace chunkvault::pxar
