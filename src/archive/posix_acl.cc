#include "archive/posix_acl.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <optional>

namespace chunkvault {
namespace {

constexpr uint32_t kAclXattrVersion = 2;
constexpr uint32_t kUndefinedId = 0xffffffff;

void PutLe(Bytes& out, uint32_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(uint8_t(v >> (8 * i)));
}

std::optional<AclTag> TagOf(int archive_tag) {
  switch (archive_tag) {
    case ARCHIVE_ENTRY_ACL_USER_OBJ:
      return AclTag::kUserObj;
    case ARCHIVE_ENTRY_ACL_USER:
      return AclTag::kUser;
    case ARCHIVE_ENTRY_ACL_GROUP_OBJ:
      return AclTag::kGroupObj;
    case ARCHIVE_ENTRY_ACL_GROUP:
      return AclTag::kGroup;
    case ARCHIVE_ENTRY_ACL_MASK:
      return AclTag::kMask;
    case ARCHIVE_ENTRY_ACL_OTHER:
      return AclTag::kOther;
    default:
      return std::nullopt;
  }
}

}  // namespace

Bytes EncodePosixAclXattr(std::vector<AclEntry> entries) {
  for (AclEntry& e : entries)
    if (e.tag != AclTag::kUser && e.tag != AclTag::kGroup) e.id = kUndefinedId;
  std::sort(entries.begin(), entries.end(), [](const AclEntry& a, const AclEntry& b) {
    return a.tag != b.tag ? a.tag < b.tag : a.id < b.id;
  });
  Bytes out;
  out.reserve(4 + 8 * entries.size());
  PutLe(out, kAclXattrVersion, 4);
  for (const AclEntry& e : entries) {
    PutLe(out, uint32_t(e.tag), 2);
    PutLe(out, e.perm & 7u, 2);
    PutLe(out, e.id, 4);
  }
  return out;
}

std::optional<std::vector<AclEntry>> DecodePosixAclXattr(ByteView value) {
  if (value.size() < 4 || (value.size() - 4) % 8 != 0 || LoadLe32(value.data()) != kAclXattrVersion)
    return std::nullopt;
  std::vector<AclEntry> out;
  for (size_t at = 4; at < value.size(); at += 8) {
    const uint8_t* p = value.data() + at;
    const uint16_t tag = uint16_t(p[0] | p[1] << 8);
    switch (AclTag(tag)) {
      case AclTag::kUserObj:
      case AclTag::kUser:
      case AclTag::kGroupObj:
      case AclTag::kGroup:
      case AclTag::kMask:
      case AclTag::kOther:
        break;
      default:
        return std::nullopt;
    }
    out.push_back(AclEntry{AclTag(tag), uint16_t((p[2] | p[3] << 8) & 7), LoadLe32(p + 4)});
  }
  return out;
}

std::vector<std::pair<std::string, Bytes>> PosixAclXattrsOf(struct archive_entry* entry,
                                                            const IdLookup& ids,
                                                            bool* unsupported) {
  std::vector<std::pair<std::string, Bytes>> out;
  const int types = archive_entry_acl_types(entry);
  *unsupported = (types & ARCHIVE_ENTRY_ACL_TYPE_NFS4) != 0;
  const std::pair<int, const char*> kinds[] = {
      {ARCHIVE_ENTRY_ACL_TYPE_ACCESS, "system.posix_acl_access"},
      {ARCHIVE_ENTRY_ACL_TYPE_DEFAULT, "system.posix_acl_default"}};
  for (const auto& [type, xattr] : kinds) {
    if ((types & type) == 0) continue;
    std::vector<AclEntry> entries;
    archive_entry_acl_reset(entry, type);
    int got_type = 0, permset = 0, tag = 0, qual = 0;
    const char* name = nullptr;
    while (archive_entry_acl_next(entry, type, &got_type, &permset, &tag, &qual, &name) ==
           ARCHIVE_OK) {
      std::optional<AclTag> t = TagOf(tag);
      if (!t) {
        *unsupported = true;
        continue;
      }
      uint32_t id = kUndefinedId;
      if (*t == AclTag::kUser) id = ids.uid(name, uid_t(qual));
      if (*t == AclTag::kGroup) id = ids.gid(name, gid_t(qual));
      entries.push_back({*t, uint16_t(permset & 7), id});
    }
    if (!entries.empty()) out.emplace_back(xattr, EncodePosixAclXattr(std::move(entries)));
  }
  return out;
}

}  // namespace chunkvault
