// Test helpers: temporary directories, sample trees, and a tree comparison
// that checks what a backup must preserve.
#pragma once

#include <ctime>
#include <cstdint>
#include <string>
#include <vector>

namespace chunkvault::testing {

// A fresh directory, removed with its contents when the object dies. It is
// made under $CV_TEST_TMPDIR, else /dev/shm (tmpfs), else $TMPDIR or /tmp.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

void WriteFile(const std::string& path, const std::string& data);
std::string ReadFile(const std::string& path);
// `n` pseudo-random bytes from `seed` (incompressible).
std::string RandomData(size_t n, uint32_t seed);
// Sets the access and modification times of `path` (not following a
// symlink) to sec.nsec.
void SetMtime(const std::string& path, time_t sec, long nsec);

// Builds a tree with everything a backup must keep: nested and empty
// directories, empty/small/large files, random and compressible content,
// relative/absolute/dangling symlinks, hard links, a fifo, unusual modes,
// nanosecond mtimes, an xattr, non-ASCII and long names.
void MakeSampleTree(const std::string& root);

// Differences between two trees (empty when identical): the set of names,
// types, modes, owners, sizes, mtimes (ns), contents, symlink targets,
// user.* xattrs and which names are hard links of each other.
std::vector<std::string> CompareTrees(const std::string& a, const std::string& b);

}  // namespace chunkvault::testing
