#include "archive/tar_names.h"

#include <archive.h>
#include <archive_entry.h>
#include <locale.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <vector>

namespace chunkvault {
namespace {

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (unsigned char)c < 0x80; });
}

}  // namespace

Status PinTarNamesToAscii(struct archive* a) {
  // libarchive takes the charset it converts from off the calling thread's
  // locale when it makes the conversion, which the option does at once,
  // and keeps it for the archive's life.
  locale_t c_locale = ::newlocale(LC_ALL_MASK, "C", locale_t(0));
  if (c_locale == locale_t(0)) return FailErrno(errno, "newlocale(C)");
  locale_t previous = ::uselocale(c_locale);
  const int r = archive_write_set_options(a, "hdrcharset=UTF-8");
  ::uselocale(previous);
  ::freelocale(c_locale);
  if (r != ARCHIVE_OK) {
    const char* msg = archive_error_string(a);
    return Fail(ErrorCode::kInternal,
                std::string("set the tar header charset: ") + (msg ? msg : "libarchive error"));
  }
  return {};
}

bool IsRawNameNotice(std::string_view message) {
  for (std::string_view field : {"pathname", "uname", "gname", "linkname"}) {
    const std::string prefix = "Can't translate " + std::string(field) + " ";
    if (message.starts_with(prefix)) return true;
  }
  return false;
}

int DropNonAsciiAclNames(struct archive_entry* entry) {
  // NFSv4 ACLs (not on Linux) are left as they are: clearing and re-adding
  // below knows only the POSIX types.
  if ((archive_entry_acl_types(entry) & ARCHIVE_ENTRY_ACL_TYPE_NFS4) != 0) return 0;
  struct Acl {
    int type, permset, tag, id;
    std::optional<std::string> name;
  };
  std::vector<Acl> acls;
  int dropped = 0;
  for (int type : {ARCHIVE_ENTRY_ACL_TYPE_ACCESS, ARCHIVE_ENTRY_ACL_TYPE_DEFAULT}) {
    if (archive_entry_acl_reset(entry, type) == 0) continue;
    int t, permset, tag, id;
    const char* name;
    while (archive_entry_acl_next(entry, type, &t, &permset, &tag, &id, &name) == ARCHIVE_OK) {
      Acl acl{t, permset, tag, id, std::nullopt};
      if (name != nullptr) {
        if (IsAscii(name)) acl.name = name;
        else ++dropped;
      }
      acls.push_back(std::move(acl));
    }
  }
  if (dropped == 0) return 0;
  // The mode's three entries come back too: adding them sets the same mode.
  archive_entry_acl_clear(entry);
  for (const Acl& a : acls)
    archive_entry_acl_add_entry(entry, a.type, a.permset, a.tag, a.id,
                                a.name ? a.name->c_str() : nullptr);
  return dropped;
}

}  // namespace chunkvault
