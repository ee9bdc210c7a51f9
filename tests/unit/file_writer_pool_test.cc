// FileWriterPool alone (src/archive/file_writer_pool.h): whole files and
// large ones in pieces written with their data, modes and times; a file
// of a name already there replaces it; a symlink on a file's path fails
// that file, naming it, and nothing is written outside the target.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "archive/file_writer_pool.h"
#include "support/tree_util.h"
#include "util/fd.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;

RestoreFile File(const std::string& name, mode_t perm, time_t mtime) {
  RestoreFile f;
  f.name = name;
  f.meta.perm = perm;
  f.meta.mtime = {mtime, 123};
  f.meta.atime = {mtime, 0};
  return f;
}

class FileWriterPoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(tmp_ / "dst/sub");
    dir_ = UniqueFd(::open((tmp_ / "dst").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    ASSERT_TRUE(dir_);
  }

  testing::TempDir tmp_;
  UniqueFd dir_;
};

TEST_F(FileWriterPoolTest, WritesWholeFilesAndLargeOnesInPiecesWithTheirMetadata) {
  const std::string small = "small file", large = testing::RandomData(300000, 9);
  {
    FileWriterPool pool(dir_.get(), 3, 1 << 20);
    RestoreFile f = File("sub/a.txt", 0640, 1000000);
    f.content.Add(0, reinterpret_cast<const uint8_t*>(small.data()), small.size());
    f.size = small.size();
    ASSERT_TRUE(pool.Submit(std::move(f)).has_value());
    RestoreFile big = File("big.bin", 0600, 2000000);
    big.size = large.size();
    auto handle = pool.Begin(std::move(big));
    ASSERT_TRUE(handle.has_value()) << handle.error().message();
    // Pieces in any order, each once.
    for (size_t off : {200000, 0, 100000}) {
      FileData piece;
      piece.Add(off, reinterpret_cast<const uint8_t*>(large.data()) + off, 100000);
      ASSERT_TRUE(pool.Append(*handle, std::move(piece)).has_value());
    }
    ASSERT_TRUE(pool.End(std::move(*handle), large.size()).has_value());
    ASSERT_TRUE(pool.Finish().has_value());
  }
  EXPECT_EQ(testing::ReadFile(tmp_ / "dst/sub/a.txt"), small);
  EXPECT_EQ(testing::ReadFile(tmp_ / "dst/big.bin"), large);
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / "dst/sub/a.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_mtim.tv_sec, 1000000);
  EXPECT_EQ(st.st_mtim.tv_nsec, 123);
  ASSERT_EQ(::stat((tmp_ / "dst/big.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_mtim.tv_sec, 2000000);
}

TEST_F(FileWriterPoolTest, AFileReplacesOneOfItsNameButNeverGoesThroughASymlink) {
  testing::WriteFile(tmp_ / "dst/old", "old contents, longer than the new");
  fs::create_directories(tmp_ / "outside");
  fs::create_directory_symlink(tmp_ / "outside", tmp_ / "dst/link");
  FileWriterPool pool(dir_.get(), 2, 1 << 20);
  RestoreFile f = File("old", 0644, 1);
  f.content.Add(0, reinterpret_cast<const uint8_t*>("new"), 3);
  f.size = 3;
  ASSERT_TRUE(pool.Submit(std::move(f)).has_value());
  ASSERT_TRUE(pool.Finish().has_value());
  EXPECT_EQ(testing::ReadFile(tmp_ / "dst/old"), "new");

  RestoreFile evil = File("link/evil", 0644, 1);
  evil.content.Add(0, reinterpret_cast<const uint8_t*>("x"), 1);
  evil.size = 1;
  (void)pool.Submit(std::move(evil));
  auto done = pool.Finish();
  ASSERT_FALSE(done.has_value());
  EXPECT_NE(done.error().message().find("link/evil"), std::string::npos)
      << done.error().message();
  EXPECT_TRUE(fs::is_empty(tmp_ / "outside"));
  // After an error no further file is written.
  RestoreFile later = File("later", 0644, 1);
  (void)pool.Submit(std::move(later));
  (void)pool.Finish();
  EXPECT_FALSE(fs::exists(tmp_ / "dst/later"));
}

}  // namespace
}  // namespace chunkvault
