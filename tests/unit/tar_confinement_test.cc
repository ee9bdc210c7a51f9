// A restore writes nothing outside its target, whatever the stream holds
// and in whatever order the writer threads run (docs/security.md).
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "archive/beneath.h"
#include "archive/posix_acl.h"
#include "archive/tar.h"
#include "support/tar_entries.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

using testing::Dir;
using testing::Entry;
using testing::ExtractBytes;
using testing::File;
using testing::Hardlink;
using testing::Symlink;
using testing::TarOfEntries;
using testing::TempDir;

// Resolution by walking descriptors, for the kernels without openat2.
class ForcedWalk {
 public:
  ForcedWalk() { ForceBeneathWalkForTesting(true); }
  ~ForcedWalk() { ForceBeneathWalkForTesting(false); }
};

// Defect: a file "m/f" waited in the writer pool while the extractor made
// "m" a symlink to a directory outside, and the pool's openat followed it.
// The files before it keep the pool busy so that "m/f" is written late.
TEST(TarConfinement, AFileQueuedBeforeASymlinkOfItsDirectoryStaysInside) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  std::filesystem::create_directories(outside);
  std::vector<Entry> entries;
  for (int i = 0; i < 3000; ++i) entries.push_back(File("d/f" + std::to_string(i), "x"));
  entries.push_back(File("m/f", "escaped"));
  entries.push_back(Symlink("m", outside));
  const Bytes tar = TarOfEntries(entries);
  for (int run = 0; run < 6; ++run) {
    const std::string dst = tmp / ("dst" + std::to_string(run));
    ExtractOptions opts;
    opts.jobs = 2;
    auto r = ExtractBytes(tar, dst, 1 << 20, opts);
    // "m" is a directory the file is in, or a symlink the file may not go
    // through: either way the stream cannot be restored as it stands.
    EXPECT_FALSE(r.has_value()) << "run " << run;
    EXPECT_TRUE(std::filesystem::is_empty(outside)) << "run " << run;
  }
}

// Every way through a symlink is refused, with openat2 and by walking
// descriptors, pooled or overwriting.
TEST(TarConfinement, NoPathGoesThroughASymlink) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  std::filesystem::create_directories(outside);
  const std::vector<std::vector<Entry>> attacks = {
      {Symlink("esc", outside), File("esc/evil", "x")},
      {Symlink("esc", outside), Dir("esc/sub")},
      {Symlink("esc", outside), Symlink("esc/link", "x")},
      {Symlink("esc", outside), Dir("d"), Hardlink("esc/h", "d")},
      {Dir("d"), Symlink("d/esc", outside), File("d/esc/deeper/evil", "x")},
  };
  for (bool walk : {false, true}) {
    std::optional<ForcedWalk> forced;
    if (walk) forced.emplace();
    for (size_t i = 0; i < attacks.size(); ++i) {
      for (bool overwrite : {false, true}) {
        const std::string dst =
            tmp / ("dst" + std::to_string(walk) + std::to_string(i) + std::to_string(overwrite));
        ExtractOptions opts;
        opts.jobs = 2;
        opts.overwrite = overwrite;
        auto r = ExtractBytes(TarOfEntries(attacks[i]), dst, 1 << 20, opts);
        ASSERT_FALSE(r.has_value()) << "attack " << i << " walk " << walk;
        EXPECT_TRUE(std::filesystem::is_empty(outside)) << "attack " << i << " walk " << walk;
      }
    }
  }
}

// A symlink the stream replaces by a directory is replaced, not followed:
// the directory's mode and times land on the new directory.
TEST(TarConfinement, ADirectoryReplacesASymlinkOfItsName) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  std::filesystem::create_directories(outside);
  ASSERT_EQ(::chmod(outside.c_str(), 0750), 0);
  Entry dir = Dir("a");
  dir.perm = 0777;
  auto r = ExtractBytes(TarOfEntries({Symlink("a", outside), dir, File("a/f", "in")}), tmp / "dst",
                        1 << 20);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(testing::ReadFile(tmp / "dst/a/f"), "in");
  struct stat st;
  ASSERT_EQ(::lstat((tmp / "dst/a").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
  ASSERT_EQ(::stat(outside.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
  EXPECT_TRUE(std::filesystem::is_empty(outside));
}

// A later entry replaces an (empty) directory of its name; the directory's
// metadata, applied at the end, then has nothing to go to and is dropped.
TEST(TarConfinement, ALaterEntryReplacesAnEmptyDirectory) {
  TempDir tmp;
  auto r = ExtractBytes(TarOfEntries({Dir("a"), Symlink("a", "elsewhere"), Dir("b"), File("b", "f")}),
                        tmp / "dst", 1 << 20);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_TRUE(std::filesystem::is_symlink(tmp / "dst/a"));
  EXPECT_EQ(testing::ReadFile(tmp / "dst/b"), "f");
}

// An overwritten target's own symlinks are not followed, nor may a hard
// link point at what the target held before.
TEST(TarConfinement, AnOverwrittenTargetsOwnEntriesAreNotFollowedOrLinked) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  std::filesystem::create_directories(outside);
  testing::WriteFile(outside + "/secret", "s");
  const std::string dst = tmp / "dst";
  std::filesystem::create_directories(dst);
  std::filesystem::create_symlink(outside, dst + "/esc");
  std::filesystem::create_hard_link(outside + "/secret", dst + "/old");
  ExtractOptions opts;
  opts.overwrite = true;
  auto r = ExtractBytes(TarOfEntries({File("esc/evil", "x")}), dst, 1 << 20, opts);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("symlink"), std::string::npos) << r.error().message();
  r = ExtractBytes(TarOfEntries({Hardlink("h", "old")}), dst, 1 << 20, opts);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("has not created"), std::string::npos) << r.error().message();
  EXPECT_FALSE(std::filesystem::exists(dst + "/h"));
  EXPECT_EQ(std::filesystem::hard_link_count(outside + "/secret"), 2u);
  EXPECT_EQ(std::vector<std::string>{"secret"}, [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(outside))
      names.push_back(e.path().filename());
    return names;
  }());
}

// A hard link to a symlink the stream made links the symlink itself.
TEST(TarConfinement, AHardLinkToASymlinkLinksTheSymlink) {
  TempDir tmp;
  const std::string outside = tmp / "outside";
  std::filesystem::create_directories(outside);
  testing::WriteFile(outside + "/target", "t");
  auto r = ExtractBytes(TarOfEntries({Symlink("s", outside + "/target"), Hardlink("h", "s")}),
                        tmp / "dst", 1 << 20);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  struct stat st;
  ASSERT_EQ(::lstat((tmp / "dst/h").c_str(), &st), 0);
  EXPECT_TRUE(S_ISLNK(st.st_mode));
  EXPECT_EQ(std::filesystem::hard_link_count(outside + "/target"), 1u);
}

TEST(PosixAcl, XattrValueIsTheKernelsLayoutSorted) {
  const Bytes v = EncodePosixAclXattr({{AclTag::kOther, 4, 0},
                                       {AclTag::kUser, 6, 1001},
                                       {AclTag::kUserObj, 7, 0},
                                       {AclTag::kGroupObj, 5, 0},
                                       {AclTag::kMask, 7, 0}});
  const Bytes expected = {2,    0, 0, 0,                           // version
                          0x01, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,   // user::rwx
                          0x02, 0, 6, 0, 0xe9, 0x03, 0,    0,      // user:1001:rw-
                          0x04, 0, 5, 0, 0xff, 0xff, 0xff, 0xff,   // group::r-x
                          0x10, 0, 7, 0, 0xff, 0xff, 0xff, 0xff,   // mask::rwx
                          0x20, 0, 4, 0, 0xff, 0xff, 0xff, 0xff};  // other::r--
  EXPECT_EQ(v, expected);
}

// ACLs are backed up by libarchive's reader and restored through the
// node's descriptor: the kernel hands back what it was given.
TEST(PosixAcl, AccessAndDefaultAclsRoundTrip) {
  TempDir tmp;
  const std::string src = tmp / "src";
  std::filesystem::create_directories(src + "/d");
  testing::WriteFile(src + "/f", "data");
  const Bytes access = EncodePosixAclXattr({{AclTag::kUserObj, 6, 0},
                                            {AclTag::kUser, 4, 4242},
                                            {AclTag::kGroupObj, 4, 0},
                                            {AclTag::kMask, 4, 0},
                                            {AclTag::kOther, 0, 0}});
  const Bytes dflt = EncodePosixAclXattr({{AclTag::kUserObj, 7, 0},
                                          {AclTag::kGroup, 5, 4343},
                                          {AclTag::kGroupObj, 5, 0},
                                          {AclTag::kMask, 5, 0},
                                          {AclTag::kOther, 0, 0}});
  if (::setxattr((src + "/f").c_str(), "system.posix_acl_access", access.data(), access.size(),
                 0) != 0)
    GTEST_SKIP() << "no POSIX ACLs on this filesystem: " << std::strerror(errno);
  ASSERT_EQ(
      ::setxattr((src + "/d").c_str(), "system.posix_acl_default", dflt.data(), dflt.size(), 0), 0);
  Bytes tar;
  auto w = WriteTar(
      src,
      [&](ByteView b) -> Status {
        tar.insert(tar.end(), b.begin(), b.end());
        return {};
      },
      nullptr);
  ASSERT_TRUE(w.has_value()) << w.error().message();
  auto r = ExtractBytes(tar, tmp / "dst", 1 << 20);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(r->warnings, 0u);
  auto get = [](const std::string& path, const char* name) {
    Bytes v(256);
    ssize_t n = ::getxattr(path.c_str(), name, v.data(), v.size());
    v.resize(n < 0 ? 0 : size_t(n));
    return v;
  };
  EXPECT_EQ(get(tmp / "dst/f", "system.posix_acl_access"), access);
  EXPECT_EQ(get(tmp / "dst/d", "system.posix_acl_default"), dflt);
  EXPECT_EQ(testing::CompareTrees(src, tmp / "dst"), std::vector<std::string>{});
}

}  // namespace
}  // namespace chunkvault
