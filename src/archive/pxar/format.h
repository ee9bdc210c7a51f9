// pxar, PBS's archive format for directory trees (docs/pxar.md): item
// framing, type codes, the metadata of an entry, and the file name hash of
// goodbye tables.
//
// An archive is a flat sequence of items, each a 16-byte header {u64 type;
// u64 full size, header included} and its content, all integers little
// endian. Format version 1 is one stream ("unified": file data in PAYLOAD
// items); version 2 is a split pair, a metadata stream (.mpxar) whose
// files hold PAYLOAD_REFs into a payload stream (.ppxar).
//
// Thread-safety: plain values and functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault::pxar {

// Type codes: SipHash-2-4 (kHashKey1, kHashKey2) of fixed strings, e.g.
// "__PROXMOX_FORMAT_ENTRY_V2__" for kEntry (tested against the strings).
inline constexpr uint64_t kFormatVersion = 0x730f6c75df16a40d;
inline constexpr uint64_t kEntry = 0xd5956474e588acef;
inline constexpr uint64_t kEntryV1 = 0x11da850a1c1cceff;  // read only
inline constexpr uint64_t kPrelude = 0xe309d79d9f7b771b;
inline constexpr uint64_t kFilename = 0x16701121063917b3;
inline constexpr uint64_t kSymlink = 0x27f971e7dbf5dc5f;
inline constexpr uint64_t kDevice = 0x9fc9e906586d5ce9;
inline constexpr uint64_t kXattr = 0x0dab0229b57dcd03;
inline constexpr uint64_t kAclUser = 0x2ce8540a457d55b8;
inline constexpr uint64_t kAclGroup = 0x136e3eceb04c03ab;
inline constexpr uint64_t kAclGroupObj = 0x10868031e9582876;
inline constexpr uint64_t kAclDefault = 0xbbbb13415a6896f5;
inline constexpr uint64_t kAclDefaultUser = 0xc89357b40532cd1f;
inline constexpr uint64_t kAclDefaultGroup = 0xf90a8a5816038ffe;
inline constexpr uint64_t kFcaps = 0x2da9dd9db5f7fb67;
inline constexpr uint64_t kQuotaProjid = 0xe07540e82f7d1cbb;
inline constexpr uint64_t kHardlink = 0x51269c8422bd7275;
inline constexpr uint64_t kPayload = 0x28147a1b0b7c1a25;
inline constexpr uint64_t kPayloadRef = 0x419d3d6bc4ba977e;
inline constexpr uint64_t kGoodbye = 0x2fec4fa642d5731d;
inline constexpr uint64_t kGoodbyeTailMarker = 0xef5eed5b753e1555;
inline constexpr uint64_t kPayloadStartMarker = 0x834c68c2194a4ed2;
inline constexpr uint64_t kPayloadTailMarker = 0x6c72b78b984c81b5;

// The SipHash key of file names and type codes: sha1("PROXMOX ARCHIVE
// FORMAT")'s first 16 bytes as two words.
inline constexpr uint64_t kHashKey1 = 0x83ac3f1cfbb450db;
inline constexpr uint64_t kHashKey2 = 0xaa4f1b6879369fbd;

inline constexpr uint64_t kHeaderSize = 16;
inline constexpr uint64_t kGoodbyeItemSize = 24;
inline constexpr uint64_t kStatSize = 40;
inline constexpr uint64_t kStatV1Size = 32;
inline constexpr size_t kMaxFilenameLen = 4096;
inline constexpr size_t kMaxPathLen = 4096;
inline constexpr size_t kMaxXattrLen = 255 + 65536;  // name, NUL and value
inline constexpr uint64_t kNoAclMask = ~uint64_t{0};

// File type and permission bits, fixed to Linux's values by the format.
inline constexpr uint64_t kModeIfmt = 0170000;
inline constexpr uint64_t kModeSock = 0140000;
inline constexpr uint64_t kModeLnk = 0120000;
inline constexpr uint64_t kModeReg = 0100000;
inline constexpr uint64_t kModeBlk = 0060000;
inline constexpr uint64_t kModeDir = 0040000;
inline constexpr uint64_t kModeChr = 0020000;
inline constexpr uint64_t kModeFifo = 0010000;

// SipHash-2-4 of `data` under (kHashKey1, kHashKey2): the goodbye table's
// hash of a file name (raw bytes, no NUL).
uint64_t HashFilename(ByteView data);

// The name of a type code for messages ("ENTRY", "GOODBYE"; unknown ones
// in hex).
std::string TypeName(uint64_t type);

// The largest content an item of `type` may have (the format's limits).
uint64_t MaxContentSize(uint64_t type);

// A file name is non-empty, at most kMaxFilenameLen bytes, has no '/' or
// NUL, and is not "." or "..". kCorrupt names what is wrong.
Status CheckFilename(ByteView name);

// ENTRY: what stat says of an entry, as stored.
struct Stat {
  uint64_t mode = 0;   // st_mode, type bits included
  uint64_t flags = 0;  // chattr and FAT attributes (fs_flags.h)
  uint32_t uid = 0, gid = 0;
  int64_t mtime_secs = 0;
  uint32_t mtime_nanos = 0;  // < 1e9
  bool operator==(const Stat&) const = default;

  uint64_t type() const { return mode & kModeIfmt; }
  bool is_dir() const { return type() == kModeDir; }
  bool is_regular() const { return type() == kModeReg; }
  bool is_symlink() const { return type() == kModeLnk; }
  bool is_device() const { return type() == kModeChr || type() == kModeBlk; }
  bool is_fifo() const { return type() == kModeFifo; }
  bool is_socket() const { return type() == kModeSock; }
};

struct Xattr {
  Bytes name;  // no NUL
  Bytes value;
  bool operator==(const Xattr&) const = default;
};

struct AclUser {
  uint64_t uid = 0, permissions = 0;  // 4 read, 2 write, 1 execute
  bool operator==(const AclUser&) const = default;
};
struct AclGroup {
  uint64_t gid = 0, permissions = 0;
  bool operator==(const AclGroup&) const = default;
};
// The base entries of a default ACL; kNoAclMask where absent.
struct AclDefault {
  uint64_t user_obj = kNoAclMask, group_obj = kNoAclMask, other = kNoAclMask, mask = kNoAclMask;
  bool operator==(const AclDefault&) const = default;
};
// A POSIX ACL beyond the mode bits, as pxar stores it: the access ACL's
// named entries and (with a mask) its group entry, the default ACL.
struct Acl {
  std::vector<AclUser> users;
  std::vector<AclGroup> groups;
  std::optional<uint64_t> group_obj;
  std::optional<AclDefault> default_acl;
  std::vector<AclUser> default_users;
  std::vector<AclGroup> default_groups;
  bool empty() const {
    return users.empty() && groups.empty() && !group_obj && !default_acl && default_users.empty() &&
           default_groups.empty();
  }
  bool operator==(const Acl&) const = default;
};

// An entry's metadata, the items that follow its ENTRY, in the order
// they are written.
struct Metadata {
  Stat stat;
  std::vector<Xattr> xattrs;
  Acl acl;
  std::optional<Bytes> fcaps;  // security.capability's value
  std::optional<uint64_t> quota_project_id;
  bool operator==(const Metadata&) const = default;
};

// A regular file's data in a split archive: where its PAYLOAD header
// starts in the payload stream, and the data's size.
struct PayloadRef {
  uint64_t offset = 0;
  uint64_t size = 0;
  bool operator==(const PayloadRef&) const = default;
};

// One item of a goodbye table.
struct GoodbyeItem {
  uint64_t hash = 0;
  uint64_t offset = 0;  // from the GOODBYE header back to the entry's FILENAME
  uint64_t size = 0;
  bool operator==(const GoodbyeItem&) const = default;
};

// Appends an item header for `content_size` bytes of content.
void AppendHeader(Bytes& out, uint64_t type, uint64_t content_size);
void AppendLe64(Bytes& out, uint64_t v);

}  // namespace chunkvault::pxar
