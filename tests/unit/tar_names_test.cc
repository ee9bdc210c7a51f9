#include "archive/tar_names.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

namespace chunkvault {
namespace {

using Acl = std::tuple<int, int, int, int, std::string>;  // type, permset, tag, id, name

constexpr int kRead = ARCHIVE_ENTRY_ACL_READ;
constexpr int kReadWrite = ARCHIVE_ENTRY_ACL_READ | ARCHIVE_ENTRY_ACL_WRITE;
constexpr int kAccess = ARCHIVE_ENTRY_ACL_TYPE_ACCESS;
constexpr int kDefault = ARCHIVE_ENTRY_ACL_TYPE_DEFAULT;

// A directory entry whose ACLs name a UTF-8 user and group and an ASCII one.
struct archive_entry* EntryWithAcls() {
  struct archive_entry* e = archive_entry_new();
  archive_entry_set_pathname(e, "d");
  archive_entry_set_filetype(e, AE_IFDIR);
  archive_entry_set_perm(e, 0750);
  archive_entry_acl_add_entry(e, kAccess, kReadWrite, ARCHIVE_ENTRY_ACL_USER, 4242, "j\xc3\xbcrgen");
  archive_entry_acl_add_entry(e, kAccess, kRead, ARCHIVE_ENTRY_ACL_USER, 1000, "alice");
  archive_entry_acl_add_entry(e, kAccess, kRead, ARCHIVE_ENTRY_ACL_GROUP, 777, "gr\xc3\xbcppe");
  archive_entry_acl_add_entry(e, kAccess, kReadWrite, ARCHIVE_ENTRY_ACL_MASK, -1, nullptr);
  archive_entry_acl_add_entry(e, kDefault, kRead, ARCHIVE_ENTRY_ACL_USER, 4242, "j\xc3\xbcrgen");
  archive_entry_acl_add_entry(e, kDefault, kReadWrite, ARCHIVE_ENTRY_ACL_USER_OBJ, -1, nullptr);
  archive_entry_acl_add_entry(e, kDefault, kRead, ARCHIVE_ENTRY_ACL_GROUP_OBJ, -1, nullptr);
  archive_entry_acl_add_entry(e, kDefault, 0, ARCHIVE_ENTRY_ACL_OTHER, -1, nullptr);
  return e;
}

std::vector<Acl> AclsOf(struct archive_entry* e) {
  std::vector<Acl> out;
  for (int type : {kAccess, kDefault}) {
    archive_entry_acl_reset(e, type);
    int t, permset, tag, id;
    const char* name;
    while (archive_entry_acl_next(e, type, &t, &permset, &tag, &id, &name) == ARCHIVE_OK)
      out.emplace_back(t, permset, tag, id, name ? name : "");
  }
  return out;
}

// The pax stream of `entry` from a writer pinned to ASCII names, and what
// archive_write_header returned.
std::pair<std::string, int> PaxOf(struct archive_entry* entry) {
  std::string out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  EXPECT_TRUE(PinTarNamesToAscii(a).has_value());
  archive_write_open2(a, &out, nullptr,
                      [](struct archive*, void* p, const void* buf, size_t n) -> la_ssize_t {
                        static_cast<std::string*>(p)->append(static_cast<const char*>(buf), n);
                        return la_ssize_t(n);
                      },
                      nullptr, nullptr);
  const int r = archive_write_header(a, entry);
  archive_write_close(a);
  archive_write_free(a);
  return {out, r};
}

TEST(TarNames, NonAsciiAclNamesGoIdsStay) {
  struct archive_entry* e = EntryWithAcls();
  const std::vector<Acl> before = AclsOf(e);
  EXPECT_EQ(DropNonAsciiAclNames(e), 3);
  const std::vector<Acl> after = AclsOf(e);
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    auto [type, permset, tag, id, name] = before[i];
    const bool ascii = name.find_first_of("\xc3") == std::string::npos;
    EXPECT_EQ(after[i], Acl(type, permset, tag, id, ascii ? name : "")) << i;
  }
  EXPECT_EQ(archive_entry_perm(e), 0750);
  EXPECT_EQ(DropNonAsciiAclNames(e), 0);  // nothing left to drop
  archive_entry_free(e);
}

TEST(TarNames, AclsWithNonAsciiNamesAreStoredByTheirIds) {
  // Unchanged, libarchive drops the ACL (and warns): what the function is for.
  struct archive_entry* e = EntryWithAcls();
  auto [dropped, r] = PaxOf(e);
  EXPECT_EQ(r, ARCHIVE_WARN);
  EXPECT_EQ(dropped.find("SCHILY.acl.access"), std::string::npos);
  DropNonAsciiAclNames(e);
  auto [stored, r2] = PaxOf(e);
  EXPECT_EQ(r2, ARCHIVE_OK);
  const size_t access = stored.find("SCHILY.acl.access=");
  const size_t fallback = stored.find("SCHILY.acl.default=");
  ASSERT_NE(access, std::string::npos) << stored;
  ASSERT_NE(fallback, std::string::npos) << stored;
  const std::string access_text = stored.substr(access, stored.find('\n', access) - access);
  const std::string default_text = stored.substr(fallback, stored.find('\n', fallback) - fallback);
  for (const char* acl : {"user:4242:rw-", "user:alice:r--:1000", "group:777:r--", "mask::rw-"})
    EXPECT_NE(access_text.find(acl), std::string::npos) << acl << " in " << access_text;
  EXPECT_NE(default_text.find("user:4242:r--"), std::string::npos) << default_text;
  archive_entry_free(e);
}

TEST(TarNames, OnlyNameConversionsAreRawNameNotices) {
  EXPECT_TRUE(IsRawNameNotice("Can't translate pathname 'caf\xe9' to UTF-8"));
  EXPECT_TRUE(IsRawNameNotice("Can't translate linkname 'x\xff' to UTF-8"));
  EXPECT_TRUE(IsRawNameNotice("Can't translate uname 'j\xc3\xbcrgen' to UTF-8"));
  EXPECT_FALSE(IsRawNameNotice("Can't translate ACL.access to UTF-8"));
  EXPECT_FALSE(IsRawNameNotice("Can't translate pathname"));
  EXPECT_FALSE(IsRawNameNotice(""));
}

}  // namespace
}  // namespace chunkvault
