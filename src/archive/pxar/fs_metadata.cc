#include "archive/pxar/fs_metadata.h"

#include <linux/fs.h>
#include <linux/magic.h>
#include <linux/msdos_fs.h>
#include <sys/ioctl.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "archive/posix_acl.h"

namespace chunkvault::pxar {
namespace {

// Magic numbers <linux/magic.h> may lack.
constexpr int64_t kXfsMagic = 0x58465342;
constexpr int64_t kZfsMagic = 0x2fc12fc1;
constexpr int64_t kFuseMagic = 0x65735546;
constexpr int64_t kFuseCtlMagic = 0x65735543;
constexpr int64_t kRpcAuthGssMagic = 0x67596969;
constexpr int64_t kNfsdMagic = 0x6e667364;
constexpr int64_t kConfigFsMagic = 0x62656570;
constexpr int64_t kMqueueMagic = 0x19800202;

constexpr char kAccessAcl[] = "system.posix_acl_access";
constexpr char kDefaultAcl[] = "system.posix_acl_default";
constexpr char kCapability[] = "security.capability";

// pxar flag bit, chattr bit (PBS's table).
constexpr std::pair<uint64_t, uint64_t> kChattrMap[] = {
    {0x10000, FS_APPEND_FL},        {0x20000, FS_NOATIME_FL}, {0x40000, FS_COMPR_FL},
    {0x80000, FS_NOCOW_FL},         {0x100000, FS_NODUMP_FL}, {0x200000, FS_DIRSYNC_FL},
    {0x400000, FS_IMMUTABLE_FL},    {0x800000, FS_SYNC_FL},   {0x1000000, FS_NOCOMP_FL},
    {0x2000000, FS_PROJINHERIT_FL},
};
// pxar flag bit, FAT attribute bit.
constexpr std::pair<uint64_t, uint32_t> kFatMap[] = {
    {0x2000, ATTR_HIDDEN}, {0x4000, ATTR_SYS}, {0x8000, ATTR_ARCH}};

bool Unsupported(int err) {
  return err == ENOTTY || err == ENOSYS || err == EBADF || err == EOPNOTSUPP || err == EINVAL;
}

// What PBS keeps of other xattrs: user and trusted ones, Samba's
// Windows ACL; names of 1..255 bytes.
bool KeptXattrName(std::string_view name) {
  if (name.empty() || name.size() > 255) return false;
  return name.starts_with("user.") || name.starts_with("trusted.") || name == "security.NTACL";
}

// An xattr's value through `fd`; nullopt if it is gone or cannot be read
// (`err` says why, 0 if it is gone).
std::optional<Bytes> GetXattr(int fd, const char* name, int* err) {
  *err = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const ssize_t size = ::fgetxattr(fd, name, nullptr, 0);
    if (size < 0) break;
    Bytes value(size_t(size) + 1);
    const ssize_t n = ::fgetxattr(fd, name, value.data(), value.size());
    if (n >= 0 && size_t(n) < value.size()) {
      value.resize(size_t(n));
      return value;
    }
    if (n < 0 && errno != ERANGE) break;  // ERANGE: it grew meanwhile, ask again
  }
  if (errno != ENODATA) *err = errno;
  return std::nullopt;
}

void Note(std::string* note, const std::string& what, int err) {
  if (note != nullptr && note->empty()) *note = what + ": " + std::strerror(err);
}

}  // namespace

FsFeatures FeaturesOf(int64_t magic) {
  FsFeatures f;
  switch (magic) {
    case MSDOS_SUPER_MAGIC:
      f.fat = true;
      break;
    case EXT4_SUPER_MAGIC:
    case kXfsMagic:
    case kZfsMagic:
      f.xattrs = f.acl = f.fcaps = f.project_id = true;
      break;
    case BTRFS_SUPER_MAGIC:
      f.xattrs = f.acl = f.fcaps = true;
      break;
    case kFuseMagic:
      f.xattrs = f.fat = true;
      break;
    default:
      f.xattrs = f.acl = f.fcaps = true;
      break;
  }
  return f;
}

bool IsVirtualFileSystem(int64_t magic) {
  switch (magic) {
    case BINFMTFS_MAGIC:
    case CGROUP2_SUPER_MAGIC:
    case CGROUP_SUPER_MAGIC:
    case kConfigFsMagic:
    case DEBUGFS_MAGIC:
    case DEVPTS_SUPER_MAGIC:
    case EFIVARFS_MAGIC:
    case kFuseCtlMagic:
    case HUGETLBFS_MAGIC:
    case kMqueueMagic:
    case kNfsdMagic:
    case PROC_SUPER_MAGIC:
    case PSTOREFS_MAGIC:
    case kRpcAuthGssMagic:
    case SECURITYFS_MAGIC:
    case SELINUX_MAGIC:
    case SMACK_MAGIC:
    case SYSFS_MAGIC:
      return true;
    default:
      return false;
  }
}

uint64_t FlagsFromChattr(uint64_t chattr) {
  uint64_t flags = 0;
  for (auto [flag, bit] : kChattrMap)
    if ((chattr & bit) != 0) flags |= flag;
  return flags;
}

uint64_t ChattrFromFlags(uint64_t flags) {
  uint64_t chattr = 0;
  for (auto [flag, bit] : kChattrMap)
    if ((flags & flag) != 0) chattr |= bit;
  return chattr;
}

void AclFromXattrs(ByteView access, ByteView default_acl, Acl& acl) {
  auto parse = [](ByteView value, std::vector<AclUser>& users, std::vector<AclGroup>& groups,
                  std::optional<uint64_t> perms[4]) {
    const std::optional<std::vector<AclEntry>> entries = DecodePosixAclXattr(value);
    if (!entries) return false;
    for (const AclEntry& e : *entries) {
      switch (e.tag) {
        case AclTag::kUser:
          users.push_back({e.id, e.perm});
          break;
        case AclTag::kGroup:
          groups.push_back({e.id, e.perm});
          break;
        case AclTag::kUserObj:
          perms[0] = e.perm;
          break;
        case AclTag::kGroupObj:
          perms[1] = e.perm;
          break;
        case AclTag::kOther:
          perms[2] = e.perm;
          break;
        case AclTag::kMask:
          perms[3] = e.perm;
          break;
      }
    }
    std::sort(users.begin(), users.end(), [](const AclUser& a, const AclUser& b) {
      return std::pair(a.uid, a.permissions) < std::pair(b.uid, b.permissions);
    });
    std::sort(groups.begin(), groups.end(), [](const AclGroup& a, const AclGroup& b) {
      return std::pair(a.gid, a.permissions) < std::pair(b.gid, b.permissions);
    });
    return true;
  };
  if (!access.empty()) {
    std::optional<uint64_t> perms[4];
    Acl a;
    if (parse(access, a.users, a.groups, perms)) {
      acl.users = std::move(a.users);
      acl.groups = std::move(a.groups);
      // With a mask the mode's group bits are the mask: the group entry
      // itself must be kept.
      acl.group_obj = perms[3] && perms[1] ? perms[1] : std::nullopt;
    }
  }
  if (!default_acl.empty()) {
    std::optional<uint64_t> perms[4];
    Acl d;
    if (parse(default_acl, d.default_users, d.default_groups, perms)) {
      acl.default_users = std::move(d.default_users);
      acl.default_groups = std::move(d.default_groups);
      if (perms[0] || perms[1] || perms[2] || perms[3])
        acl.default_acl = AclDefault{perms[0].value_or(kNoAclMask), perms[1].value_or(kNoAclMask),
                                     perms[2].value_or(kNoAclMask), perms[3].value_or(kNoAclMask)};
    }
  }
}

std::vector<std::pair<std::string, Bytes>> AclXattrs(const Acl& acl, uint64_t mode) {
  std::vector<std::pair<std::string, Bytes>> out;
  if (acl.empty()) return out;
  const uint16_t user = (mode >> 6) & 7, group = (mode >> 3) & 7, other = mode & 7;
  std::vector<AclEntry> access = {{AclTag::kUserObj, user, 0}, {AclTag::kOther, other, 0}};
  if (acl.group_obj) {
    access.push_back({AclTag::kMask, group, 0});
    access.push_back({AclTag::kGroupObj, uint16_t(*acl.group_obj & 7), 0});
  } else {
    access.push_back({AclTag::kGroupObj, group, 0});
    if (!acl.users.empty() || !acl.groups.empty()) access.push_back({AclTag::kMask, group, 0});
  }
  for (const AclUser& u : acl.users)
    access.push_back({AclTag::kUser, uint16_t(u.permissions & 7), uint32_t(u.uid)});
  for (const AclGroup& g : acl.groups)
    access.push_back({AclTag::kGroup, uint16_t(g.permissions & 7), uint32_t(g.gid)});
  out.emplace_back(kAccessAcl, EncodePosixAclXattr(std::move(access)));
  if (acl.default_acl) {
    const AclDefault& d = *acl.default_acl;
    std::vector<AclEntry> def = {{AclTag::kUserObj, uint16_t(d.user_obj & 7), 0},
                                 {AclTag::kGroupObj, uint16_t(d.group_obj & 7), 0},
                                 {AclTag::kOther, uint16_t(d.other & 7), 0}};
    if (d.mask != kNoAclMask) def.push_back({AclTag::kMask, uint16_t(d.mask & 7), 0});
    for (const AclUser& u : acl.default_users)
      def.push_back({AclTag::kUser, uint16_t(u.permissions & 7), uint32_t(u.uid)});
    for (const AclGroup& g : acl.default_groups)
      def.push_back({AclTag::kGroup, uint16_t(g.permissions & 7), uint32_t(g.gid)});
    out.emplace_back(kDefaultAcl, EncodePosixAclXattr(std::move(def)));
  }
  return out;
}

Metadata ReadFsMetadata(const struct stat& st, int fd, int64_t fs_magic, std::string* note) {
  Metadata m;
  m.stat.mode = st.st_mode;
  m.stat.uid = st.st_uid;
  m.stat.gid = st.st_gid;
  m.stat.mtime_secs = st.st_mtim.tv_sec;
  m.stat.mtime_nanos = uint32_t(st.st_mtim.tv_nsec);
  if (fd < 0) return m;  // as PBS: only regular files and directories are opened
  const FsFeatures fs = FeaturesOf(fs_magic);
  if (fs.xattrs) {
    // flistxattr's order, as PBS keeps it.
    std::vector<char> names;
    for (int attempt = 0; attempt < 3; ++attempt) {
      const ssize_t size = ::flistxattr(fd, nullptr, 0);
      if (size <= 0) break;
      names.resize(size_t(size));
      const ssize_t n = ::flistxattr(fd, names.data(), names.size());
      if (n >= 0) {
        names.resize(size_t(n));
        break;
      }
      names.clear();
      if (errno != ERANGE) break;
    }
    bool acl_read = false;
    for (size_t at = 0; at < names.size();) {
      const char* name = names.data() + at;
      const size_t len = ::strnlen(name, names.size() - at);
      at += len + 1;
      const std::string_view n(name, len);
      int err = 0;
      if (n == kCapability) {
        if (!fs.fcaps) continue;
        if (auto v = GetXattr(fd, name, &err))
          m.fcaps = std::move(*v);
        else if (err != 0 && !Unsupported(err))
          Note(note, "file capabilities", err);
      } else if (n == kAccessAcl || n == kDefaultAcl) {
        if (!fs.acl || acl_read || S_ISLNK(st.st_mode)) continue;
        acl_read = true;
        int err2 = 0;
        const Bytes access = GetXattr(fd, kAccessAcl, &err).value_or(Bytes{});
        const Bytes def =
            S_ISDIR(st.st_mode) ? GetXattr(fd, kDefaultAcl, &err2).value_or(Bytes{}) : Bytes{};
        if ((err != 0 && !Unsupported(err)) || (err2 != 0 && !Unsupported(err2)))
          Note(note, "ACL", err != 0 ? err : err2);
        AclFromXattrs(access, def, m.acl);
      } else if (KeptXattrName(n)) {
        if (auto v = GetXattr(fd, name, &err)) {
          m.xattrs.push_back(Xattr{Bytes(n.begin(), n.end()), std::move(*v)});
        } else if (err != 0 && !Unsupported(err)) {
          Note(note, "extended attribute " + std::string(n), err);
        }
      }
    }
  }
  int chattr = 0;
  if (::ioctl(fd, FS_IOC_GETFLAGS, &chattr) == 0) m.stat.flags |= FlagsFromChattr(unsigned(chattr));
  if (fs.fat) {
    uint32_t attr = 0;
    if (::ioctl(fd, FAT_IOCTL_GET_ATTRIBUTES, &attr) == 0)
      for (auto [flag, bit] : kFatMap)
        if ((attr & bit) != 0) m.stat.flags |= flag;
  }
  if (fs.project_id && (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode))) {
    struct fsxattr fsx {};
    if (::ioctl(fd, FS_IOC_FSGETXATTR, &fsx) == 0 && fsx.fsx_projid != 0)
      m.quota_project_id = fsx.fsx_projid;
  }
  return m;
}

}  // namespace chunkvault::pxar
