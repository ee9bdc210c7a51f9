#include "support/tree_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>

namespace chunkvault::testing {

// Test stores go to tmpfs when there is one: creating and removing a
// store's 65536 chunk directories takes seconds on ext4, a fraction on
// tmpfs. CV_TEST_TMPDIR overrides.
static std::string TestTmpRoot() {
  if (const char* dir = std::getenv("CV_TEST_TMPDIR"); dir && *dir) return dir;
  if (::access("/dev/shm", W_OK) == 0) return "/dev/shm";
  const char* base = std::getenv("TMPDIR");
  return base && *base ? base : "/tmp";
}

TempDir::TempDir() {
  std::string tmpl = TestTmpRoot() + "/cvtest-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

void WriteFile(const std::string& path, const std::string& data) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(data.data(), std::streamsize(data.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string RandomData(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = char(rng());
  return s;
}

void SetMtime(const std::string& path, time_t sec, long nsec) {
  struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
  ::utimensat(AT_FDCWD, path.c_str(), ts, AT_SYMLINK_NOFOLLOW);
}

void MakeSampleTree(const std::string& root) {
  namespace fs = std::filesystem;
  fs::create_directories(root + "/dir/sub/deeper");
  fs::create_directories(root + "/empty-dir");
  WriteFile(root + "/empty-file", "");
  WriteFile(root + "/small.txt", "hello, chunkvault\n");
  WriteFile(root + "/dir/random.bin", RandomData(1 << 20, 1));
  std::string text;
  for (int i = 0; i < 20000; ++i) text += "line " + std::to_string(i) + " of a compressible file\n";
  WriteFile(root + "/dir/sub/compressible.txt", text);
  WriteFile(root + "/dir/sub/deeper/mode0600", "secret");
  ::chmod((root + "/dir/sub/deeper/mode0600").c_str(), 0600);
  WriteFile(root + "/dir/script.sh", "#!/bin/sh\necho hi\n");
  ::chmod((root + "/dir/script.sh").c_str(), 0755);
  ::chmod((root + "/dir/sub").c_str(), 02750);
  ::symlink("small.txt", (root + "/link-relative").c_str());
  ::symlink("/etc/hostname", (root + "/link-absolute").c_str());
  ::symlink("does/not/exist", (root + "/link-dangling").c_str());
  ::link((root + "/small.txt").c_str(), (root + "/dir/hardlink-to-small").c_str());
  ::mkfifo((root + "/fifo").c_str(), 0644);
  WriteFile(root + "/with-xattr", "xattr carrier");
  ::setxattr((root + "/with-xattr").c_str(), "user.comment", "kept", 4, 0);
  WriteFile(root + "/gr\xc3\xbc\xc3\x9f" "e with spaces.txt", "unicode name");
  std::string long_dir = root + "/" + std::string(60, 'd');
  fs::create_directories(long_dir + "/" + std::string(60, 'e'));
  WriteFile(long_dir + "/" + std::string(60, 'e') + "/" + std::string(90, 'f'), "long path");
  // Nanosecond mtimes, set last so that nothing above bumps them.
  SetMtime(root + "/small.txt", 1600000000, 123456789);
  SetMtime(root + "/link-relative", 1500000000, 5);
  SetMtime(root + "/dir/sub", 1400000000, 987654321);
  SetMtime(root + "/empty-dir", 1300000000, 0);
}

namespace {

struct Node {
  struct stat st;
  std::string content;  // file data or symlink target
  std::map<std::string, std::string> xattrs;
};

void Collect(const std::string& root, const std::string& rel, std::map<std::string, Node>& out) {
  const std::string path = rel.empty() ? root : root + "/" + rel;
  Node n;
  if (::lstat(path.c_str(), &n.st) != 0) return;
  if (S_ISREG(n.st.st_mode)) {
    n.content = ReadFile(path);
  } else if (S_ISLNK(n.st.st_mode)) {
    char buf[4096];
    ssize_t len = ::readlink(path.c_str(), buf, sizeof buf);
    n.content.assign(buf, len > 0 ? size_t(len) : 0);
  }
  if (!S_ISLNK(n.st.st_mode)) {
    char names[4096];
    ssize_t len = ::llistxattr(path.c_str(), names, sizeof names);
    for (ssize_t i = 0; i < len;) {
      std::string name(names + i);
      i += ssize_t(name.size()) + 1;
      if (name.rfind("user.", 0) != 0) continue;
      char value[4096];
      ssize_t vlen = ::lgetxattr(path.c_str(), name.c_str(), value, sizeof value);
      n.xattrs[name] = std::string(value, vlen > 0 ? size_t(vlen) : 0);
    }
  }
  const bool is_dir = S_ISDIR(n.st.st_mode);
  out[rel.empty() ? "." : rel] = std::move(n);
  if (!is_dir) return;
  DIR* d = ::opendir(path.c_str());
  if (d == nullptr) return;
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(name);
  }
  ::closedir(d);
  for (const auto& name : names) Collect(root, rel.empty() ? name : rel + "/" + name, out);
}

// Hard-link groups as sets of names, keyed by the first name.
std::map<std::string, std::vector<std::string>> LinkGroups(const std::map<std::string, Node>& t) {
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> by_inode;
  for (const auto& [name, n] : t)
    if (!S_ISDIR(n.st.st_mode)) by_inode[{n.st.st_dev, n.st.st_ino}].push_back(name);
  std::map<std::string, std::vector<std::string>> out;
  for (auto& [ino, names] : by_inode) {
    std::sort(names.begin(), names.end());
    if (names.size() > 1) out[names.front()] = names;
  }
  return out;
}

}  // namespace

std::vector<std::string> CompareTrees(const std::string& a, const std::string& b) {
  std::map<std::string, Node> ta, tb;
  Collect(a, "", ta);
  Collect(b, "", tb);
  std::vector<std::string> diffs;
  for (const auto& [name, na] : ta) {
    auto it = tb.find(name);
    if (it == tb.end()) {
      diffs.push_back(name + ": missing");
      continue;
    }
    const Node& nb = it->second;
    auto diff = [&](const std::string& what, auto x, auto y) {
      if (x != y) {
        std::ostringstream os;
        os << name << ": " << what << " " << x << " != " << y;
        diffs.push_back(os.str());
      }
    };
    diff("type", na.st.st_mode & S_IFMT, nb.st.st_mode & S_IFMT);
    if (!S_ISLNK(na.st.st_mode)) diff("mode", na.st.st_mode & 07777, nb.st.st_mode & 07777);
    diff("uid", na.st.st_uid, nb.st.st_uid);
    diff("gid", na.st.st_gid, nb.st.st_gid);
    if (!S_ISDIR(na.st.st_mode)) diff("size", na.st.st_size, nb.st.st_size);
    diff("mtime", na.st.st_mtim.tv_sec, nb.st.st_mtim.tv_sec);
    diff("mtime ns", na.st.st_mtim.tv_nsec, nb.st.st_mtim.tv_nsec);
    if (na.content != nb.content) diffs.push_back(name + ": content differs");
    if (na.xattrs != nb.xattrs) diffs.push_back(name + ": xattrs differ");
  }
  for (const auto& [name, nb] : tb)
    if (!ta.count(name)) diffs.push_back(name + ": unexpected");
  if (LinkGroups(ta) != LinkGroups(tb)) diffs.push_back("hard link groups differ");
  return diffs;
}

}  // namespace chunkvault::testing
