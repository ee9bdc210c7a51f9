// POSIX ACLs of a tar entry as the values of Linux's system.posix_acl_access
// and system.posix_acl_default xattrs, so that a restore sets them through
// a descriptor (fsetxattr) like every other attribute.
//
// The value is the kernel's ABI (include/uapi/linux/posix_acl_xattr.h): a
// little-endian u32 version (2), then per entry u16 tag, u16 permissions,
// u32 id (user or group id for named entries, else 0xffffffff), sorted by
// tag and id; the kernel checks it. Encoded here rather than with libacl,
// which would be a dependency for these few lines and sets default ACLs
// only by path.
//
// Thread-safety: plain functions.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chunkvault/bytes.h"

struct archive_entry;

namespace chunkvault {

// Linux's tags (linux/posix_acl.h).
enum class AclTag : uint16_t {
  kUserObj = 0x01,
  kUser = 0x02,
  kGroupObj = 0x04,
  kGroup = 0x08,
  kMask = 0x10,
  kOther = 0x20,
};

struct AclEntry {
  AclTag tag;
  uint16_t perm;  // 4 read, 2 write, 1 execute
  uint32_t id;    // kUser / kGroup only
};

// One xattr value for `entries` (any order).
Bytes EncodePosixAclXattr(std::vector<AclEntry> entries);

// The entries of an xattr value as the kernel gives it; nullopt if it is
// not one (wrong version, size or tag).
std::optional<std::vector<AclEntry>> DecodePosixAclXattr(ByteView value);

// Maps a stored owner name (and the id stored with it) to a local id.
struct IdLookup {
  std::function<uid_t(const char* name, uid_t stored)> uid;
  std::function<gid_t(const char* name, gid_t stored)> gid;
};

// The ACL xattrs (name, value) that `entry` carries: none for an entry
// whose permissions are only its mode. NFSv4 ACLs, which Linux filesystems
// do not take, are reported through `unsupported`.
std::vector<std::pair<std::string, Bytes>> PosixAclXattrsOf(struct archive_entry* entry,
                                                            const IdLookup& ids, bool* unsupported);

}  // namespace chunkvault
