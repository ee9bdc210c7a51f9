#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <clocale>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>

#include "archive/tar.h"
#include "archive/tree_walker.h"
#include "support/tar_entries.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

using testing::CompareTrees;
using testing::Dir;
using testing::Entry;
using testing::ExtractBytes;
using testing::File;
using testing::Hardlink;
using testing::Symlink;
using testing::TarOfEntries;
using testing::TempDir;

Result<Bytes> TarOf(const std::string& root, TarStats* stats = nullptr) {
  Bytes out;
  auto r = WriteTar(root, [&](ByteView b) -> Status {
    out.insert(out.end(), b.begin(), b.end());
    return {};
  }, nullptr);
  if (!r) return std::unexpected(r.error());
  if (stats) *stats = *r;
  return out;
}

TEST(Tar, RoundTripPreservesEverything) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  TarStats stats;
  auto tar = TarOf(tmp / "src", &stats);
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  EXPECT_EQ(stats.hardlinks, 1u);
  EXPECT_EQ(stats.symlinks, 3u);
  EXPECT_EQ(stats.others, 1u);  // the fifo
  EXPECT_EQ(stats.warnings, 0u);
  ExtractOptions opts;
  opts.restore_owner = ::geteuid() == 0;
  auto ex = ExtractBytes(*tar, tmp / "dst", 777, opts);
  ASSERT_TRUE(ex.has_value()) << ex.error().message();
  EXPECT_EQ(CompareTrees(tmp / "src", tmp / "dst"), std::vector<std::string>{});
}

TEST(Tar, UnchangedTreeGivesIdenticalStream) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  auto a = TarOf(tmp / "src");
  // Reading the tree must not change anything that goes into the stream.
  auto b = TarOf(tmp / "src");
  ASSERT_TRUE(a && b);
  EXPECT_TRUE(*a == *b);
}

// The typeflag of each header of a tar stream, pax extended headers ('x')
// included, each with its first 512 bytes of data (for a pax header: its
// records).
std::vector<std::pair<char, std::string>> TarHeaders(const Bytes& tar) {
  std::vector<std::pair<char, std::string>> out;
  size_t pos = 0;
  while (pos + 512 <= tar.size() && tar[pos] != 0) {
    const char type = char(tar[pos + 156]);
    const uint64_t size = std::strtoull(std::string(tar.begin() + long(pos) + 124,
                                                    tar.begin() + long(pos) + 136).c_str(),
                                        nullptr, 8);
    const bool has_data = type == 'x' || type == '0';
    const size_t data = has_data ? size_t(size) : 0;
    out.emplace_back(type, std::string(tar.begin() + long(pos) + 512,
                                       tar.begin() + long(pos + 512 + std::min<size_t>(data, 512))));
    pos += 512 + (data + 511) / 512 * 512;
  }
  return out;
}

TEST(Tar, PlainNamesNeedNoPaxHeaderOthersAreStoredRaw) {
  TempDir tmp;
  const std::string src = tmp / "src";
  std::filesystem::create_directories(src + "/dir");
  testing::WriteFile(src + "/dir/plain.txt", "ascii name, whole-second mtime");
  testing::WriteFile(src + "/gr\xc3\xbc\xc3\x9f" "e.txt", "UTF-8 name");
  for (const std::string& p : {src, src + "/dir", src + "/dir/plain.txt",
                               src + "/gr\xc3\xbc\xc3\x9f" "e.txt"})
    testing::SetMtime(p, 1600000000, 0);
  auto tar = TarOf(src);
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  std::vector<std::pair<char, std::string>> headers = TarHeaders(*tar);
  // ., dir, dir/plain.txt: ustar headers alone; the UTF-8 name: a pax
  // header saying its names are raw bytes, then its own.
  ASSERT_EQ(headers.size(), 5u);
  EXPECT_EQ(headers[0].first, '5');
  EXPECT_EQ(headers[1].first, '5');
  EXPECT_EQ(headers[2].first, '0');
  EXPECT_EQ(headers[3].first, 'x');
  EXPECT_NE(headers[3].second.find("hdrcharset=BINARY"), std::string::npos) << headers[3].second;
  EXPECT_NE(headers[3].second.find("path=./gr\xc3\xbc\xc3\x9f" "e.txt\n"), std::string::npos)
      << headers[3].second;
  EXPECT_EQ(headers[4].first, '0');
}

// Names are bytes: valid UTF-8 (composed and decomposed), Latin-1 and
// other invalid UTF-8 all restore exactly, in link targets too, whatever
// the locale of the backup and of the restore.
TEST(Tar, NamesRestoreByteExactInAnyLocale) {
  const std::string names[] = {"gr\xc3\xbc\xc3\x9f" "e",          // NFC
                               "cafe\xcc\x81",                     // NFD
                               "caf\xe9-latin1",                   // not UTF-8
                               "bad\xff\xfe-bytes", "\xe2\x82"};  // truncated UTF-8
  // Puts the process's locale back however the test ends.
  struct LocaleGuard {
    std::string original = std::setlocale(LC_ALL, nullptr);
    ~LocaleGuard() { std::setlocale(LC_ALL, original.c_str()); }
  } guard;
  for (const char* backup_locale : {"C", "C.UTF-8"}) {
    for (const char* restore_locale : {"C", "C.UTF-8"}) {
      SCOPED_TRACE(std::string(backup_locale) + " -> " + restore_locale);
      TempDir tmp;
      const std::string src = tmp / "src";
      std::filesystem::create_directories(src);
      for (const std::string& n : names) {
        std::filesystem::create_directories(src + "/" + n + "-dir");
        testing::WriteFile(src + "/" + n + "-dir/" + n, n);
        ::symlink(n.c_str(), (src + "/" + n + "-link").c_str());
        ::link((src + "/" + n + "-dir/" + n).c_str(), (src + "/" + n + "-hard").c_str());
      }
      ASSERT_NE(std::setlocale(LC_ALL, backup_locale), nullptr);
      TarStats stats;
      auto tar = TarOf(src, &stats);
      ASSERT_NE(std::setlocale(LC_ALL, restore_locale), nullptr);
      ASSERT_TRUE(tar.has_value()) << tar.error().message();
      EXPECT_EQ(stats.warnings, 0u);
      auto ex = ExtractBytes(*tar, tmp / "dst", 1000);
      ASSERT_TRUE(ex.has_value()) << ex.error().message();
      EXPECT_EQ(ex->warnings, 0u);
      EXPECT_EQ(CompareTrees(src, tmp / "dst"), std::vector<std::string>{});
    }
  }
}

TEST(Tar, SourceMustBeADirectory) {
  TempDir tmp;
  testing::WriteFile(tmp / "file", "x");
  auto r = TarOf(tmp / "file");
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("is not a directory"), std::string::npos);
  r = TarOf(tmp / "missing");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kNotFound);
}

// An unreadable file is a warning, not the end of the backup. Root reads
// everything, so as root the walk runs in a child that became "nobody".
TEST(Tar, UnreadableEntriesAreWarningsNotFailures) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "src");
  testing::WriteFile(tmp / "src/locked", "x");
  testing::WriteFile(tmp / "src/open", "y");
  std::filesystem::create_directories(tmp / "src/closed");
  testing::WriteFile(tmp / "src/closed/inner", "z");
  ::chmod((tmp / "src/locked").c_str(), 0);
  ::chmod((tmp / "src/closed").c_str(), 0);
  auto walk = [&]() -> int {
    TarStats stats;
    auto r = TarOf(tmp / "src", &stats);
    if (!r) return 100;
    return int(stats.warnings * 10 + stats.files);  // warnings, then files stored
  };
  int result;
  if (::geteuid() != 0) {
    result = walk();
  } else {
    constexpr uid_t kNobody = 65534;
    for (const std::string& p : {tmp.path(), tmp / "src", tmp / "src/open"})
      ASSERT_EQ(::chown(p.c_str(), kNobody, kNobody), 0);
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      if (::setgid(kNobody) != 0 || ::setuid(kNobody) != 0) ::_exit(99);
      ::_exit(walk());
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    result = WEXITSTATUS(status);
  }
  ::chmod((tmp / "src/closed").c_str(), 0755);
  EXPECT_EQ(result, 2 * 10 + 1) << "expected two warnings (the file, the directory's "
                                   "contents) and one file stored";
}

// Removes `name` in `dir_fd` and all below it, relative to descriptors:
// std::filesystem::remove_all works with whole paths, which fail beyond
// PATH_MAX.
void RemoveTreeAt(int dir_fd, const char* name) {
  UniqueFd fd(::openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    ::unlinkat(dir_fd, name, 0);
    return;
  }
  std::vector<std::string> names;
  if (DIR* d = ::fdopendir(::dup(fd.get()))) {
    while (struct dirent* e = ::readdir(d))
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        names.emplace_back(e->d_name);
    ::closedir(d);
  }
  for (const std::string& n : names) RemoveTreeAt(fd.get(), n.c_str());
  ::unlinkat(dir_fd, name, AT_REMOVEDIR);
}

// A tree deeper than PATH_MAX is stored whole: every entry is read
// relative to descriptors, the metadata of directories and symlinks (and
// a symlink's target) included; by whole paths they came out incomplete,
// or were left out.
TEST(Tar, TreesDeeperThanPathMaxAreStoredWhole) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "src");
  const std::string level(200, 'd');
  constexpr int kLevels = 25;  // 25 x 201 bytes of path below src: past PATH_MAX
  static_assert(kLevels * 201 > PATH_MAX);
  {
    UniqueFd fd(::open((tmp / "src").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    for (int i = 0; i < kLevels; ++i) {
      ASSERT_EQ(::mkdirat(fd.get(), level.c_str(), 0750), 0);
      fd.reset(::openat(fd.get(), level.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      ASSERT_TRUE(fd);
    }
    UniqueFd file(::openat(fd.get(), "file", O_WRONLY | O_CREAT | O_CLOEXEC, 0640));
    ASSERT_TRUE(file);
    ASSERT_EQ(::write(file.get(), "deep data", 9), 9);
    ASSERT_EQ(::symlinkat("file", fd.get(), "link"), 0);
  }
  TarStats stats;
  auto tar = TarOf(tmp / "src", &stats);
  RemoveTreeAt(AT_FDCWD, (tmp / "src").c_str());
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  EXPECT_EQ(stats.warnings, 0u);

  std::string deepest = ".";
  for (int i = 0; i < kLevels; ++i) deepest += "/" + level;
  std::map<std::string, std::string> found;  // name -> what it is
  struct archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar->data(), tar->size()), ARCHIVE_OK);
  struct archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string what;
    if (archive_entry_filetype(e) == AE_IFDIR) {
      what = "dir " + std::to_string(archive_entry_perm(e));
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      what = std::string("link to ") + archive_entry_symlink(e);
    } else {
      char buf[64] = {};
      const la_ssize_t n = archive_read_data(a, buf, sizeof buf);
      what = "file " + std::string(buf, size_t(std::max<la_ssize_t>(n, 0)));
    }
    std::string name = archive_entry_pathname(e);
    if (name.size() > 1 && name.back() == '/') name.pop_back();
    found[name] = what;
  }
  archive_read_free(a);
  EXPECT_EQ(found.size(), size_t(kLevels + 3));
  EXPECT_EQ(found[deepest], "dir " + std::to_string(0750));
  EXPECT_EQ(found[deepest + "/file"], "file deep data");
  EXPECT_EQ(found[deepest + "/link"], "link to file");
}

TEST(TreeWalker, SortedPreOrderWithFilesOpen) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "r/b/y");
  std::filesystem::create_directories(tmp / "r/a");
  testing::WriteFile(tmp / "r/c", "c");
  testing::WriteFile(tmp / "r/b/x", "x");
  TreeWalker walker(tmp / "r");
  std::vector<std::string> order;
  while (auto e = walker.Next()) {
    order.push_back(e->rel);
    EXPECT_EQ(bool(e->fd), S_ISREG(e->st.st_mode)) << e->rel;
    EXPECT_EQ(e->path, tmp / ("r" + e->rel.substr(1)));
  }
  EXPECT_EQ(order, (std::vector<std::string>{".", "./a", "./b", "./b/x", "./b/y", "./c"}));
}

// A file listed as regular is opened first and its descriptor stat'ed:
// the metadata is that of the inode whose data is read. Whatever else is
// there (FIFO, symlink, directory) gets no descriptor; a FIFO's open
// would otherwise block the walk, a symlink's would follow it.
TEST(TreeWalker, RegularFilesAreDescribedThroughTheirDescriptor) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "r/dir");
  testing::WriteFile(tmp / "r/file", "data");
  ASSERT_EQ(::mkfifo((tmp / "r/fifo").c_str(), 0644), 0);
  ASSERT_EQ(::symlink("file", (tmp / "r/link").c_str()), 0);
  TreeWalker walker(tmp / "r");
  std::map<std::string, mode_t> types;
  while (auto e = walker.Next()) {
    ASSERT_TRUE(e->warning.empty()) << e->warning;
    types[e->rel] = e->st.st_mode & S_IFMT;
    EXPECT_EQ(bool(e->fd), S_ISREG(e->st.st_mode)) << e->rel;
    if (!e->fd) continue;
    struct stat st;
    ASSERT_EQ(::fstat(e->fd.get(), &st), 0);
    EXPECT_EQ(st.st_ino, e->st.st_ino);
    EXPECT_EQ(st.st_dev, e->st.st_dev);
    EXPECT_EQ(e->st.st_size, 4);
  }
  EXPECT_EQ(types, (std::map<std::string, mode_t>{{".", S_IFDIR},
                                                  {"./dir", S_IFDIR},
                                                  {"./fifo", S_IFIFO},
                                                  {"./file", S_IFREG},
                                                  {"./link", S_IFLNK}}));
}

// The prepare hook reaches each entry through descriptors: its own (a
// regular file's, a directory's) and the directory it was listed in, by
// name; the root by its path.
TEST(TreeWalker, PrepareReachesEntriesThroughDescriptors) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "r/dir");
  testing::WriteFile(tmp / "r/dir/file", "data");
  ASSERT_EQ(::symlink("dir/file", (tmp / "r/link").c_str()), 0);
  std::mutex mu;
  std::map<std::string, std::string> seen;  // rel -> what the hook found wrong, or "ok"
  TreeWalker walker(tmp / "r", [&](WalkEntry& e, const EntryAccess& at, unsigned) {
    std::string wrong;
    struct stat own {}, by_name {};
    const bool has_own = S_ISREG(e.st.st_mode) || S_ISDIR(e.st.st_mode);
    if (has_own != (at.fd >= 0)) wrong += "own descriptor; ";
    if (at.fd >= 0 && (::fstat(at.fd, &own) != 0 || own.st_ino != e.st.st_ino))
      wrong += "own inode; ";
    if ((e.rel == ".") != (at.dir_fd == AT_FDCWD)) wrong += "directory; ";
    if (::fstatat(at.dir_fd, at.name, &by_name, AT_SYMLINK_NOFOLLOW) != 0 ||
        by_name.st_ino != e.st.st_ino)
      wrong += "by name; ";
    std::lock_guard lock(mu);
    seen[e.rel] = wrong.empty() ? "ok" : wrong;
  });
  size_t n = 0;
  while (auto e = walker.Next()) ++n;
  EXPECT_EQ(n, 4u);
  EXPECT_EQ(seen, (std::map<std::string, std::string>{
                      {".", "ok"}, {"./dir", "ok"}, {"./dir/file", "ok"}, {"./link", "ok"}}));
}

// Entries are described on several threads but come out in order, each
// with its own file open: a tree of nested directories, every file holding
// its own relative path.
TEST(TreeWalker, ParallelDescribersKeepOrderAndFiles) {
  TempDir tmp;
  std::vector<std::string> expected = {"."};
  for (int d = 0; d < 12; ++d) {
    const std::string dir = "./d" + std::to_string(d);
    expected.push_back(dir);
    for (int s = 0; s < 3; ++s) {
      const std::string sub = dir + "/s" + std::to_string(s);
      expected.push_back(sub);
      std::filesystem::create_directories(tmp / ("r" + sub.substr(1)));
      for (int f = 0; f < 40; ++f) expected.push_back(sub + "/f" + std::to_string(f));
    }
  }
  std::sort(expected.begin(), expected.end());  // byte order is pre-order here
  for (const std::string& rel : expected)
    if (rel.find("/f") != std::string::npos) testing::WriteFile(tmp / ("r" + rel.substr(1)), rel);

  std::atomic<size_t> prepared{0};
  std::atomic<bool> bad_index{false};
  TreeWalker walker(tmp / "r", [&](WalkEntry& e, const EntryAccess&, unsigned describer) {
    if (describer >= TreeWalker::kDescribers) bad_index = true;
    e.note = "prepared " + e.rel;
    ++prepared;
  });
  std::vector<std::string> order;
  while (auto e = walker.Next()) {
    order.push_back(e->rel);
    EXPECT_EQ(e->note, "prepared " + e->rel);
    if (S_ISREG(e->st.st_mode)) {
      ASSERT_TRUE(e->fd) << e->rel;
      char buf[64] = {};
      const ssize_t n = ::pread(e->fd.get(), buf, sizeof buf, 0);
      EXPECT_EQ(std::string(buf, size_t(std::max<ssize_t>(n, 0))), e->rel);
    }
  }
  EXPECT_EQ(order, expected);
  EXPECT_EQ(prepared.load(), expected.size());
  EXPECT_FALSE(bad_index.load());
}

// Files larger than the read-ahead budget (sparse: no disk used) take
// turns without stalling the walk: the front entry always goes.
TEST(TreeWalker, ReadAheadBudgetDoesNotStallTheWalk) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "r");
  const int files = int(3 * TreeWalker::kMaxBytes / TreeWalker::kReadAhead);
  for (int i = 0; i < files; ++i) {
    UniqueFd fd(::open((tmp / ("r/big" + std::to_string(100 + i))).c_str(),
                       O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(::ftruncate(fd.get(), off_t(2 * TreeWalker::kReadAhead)), 0);
  }
  TreeWalker walker(tmp / "r");
  int seen = 0;
  while (auto e = walker.Next()) seen += S_ISREG(e->st.st_mode) && e->fd ? 1 : 0;
  EXPECT_EQ(seen, files);
}

// Descriptors stay within the walker's bound however the tree is shaped:
// here every file in a directory of its own, so that each queued entry
// also holds a directory open until it is described.
TEST(TreeWalker, OpenDescriptorsStayBounded) {
  TempDir tmp;
  const int dirs = int(4 * TreeWalker::kMaxDescriptors);
  for (int i = 0; i < dirs; ++i) {
    const std::string dir = tmp / ("r/d" + std::to_string(10000 + i));
    std::filesystem::create_directories(dir);
    testing::WriteFile(dir + "/f", "x");
  }
  auto open_fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  const size_t before = open_fds();
  size_t most = 0, files = 0;
  {
    TreeWalker walker(tmp / "r");
    while (auto e = walker.Next()) {
      if (e->fd) ++files;
      if (files % 16 == 0) most = std::max(most, open_fds());
    }
  }
  EXPECT_EQ(files, size_t(dirs));
  // + 2 levels being listed; the count itself holds /proc/self/fd open.
  EXPECT_LE(most - before, TreeWalker::kMaxDescriptors + 2);
  EXPECT_GT(most, before) << "the walk held no descriptor: the count is not measuring it";
  EXPECT_EQ(open_fds(), before);
}

// A sink error ends the walk early: the walker thread, blocked on its full
// queue, must stop when the walker is dropped.
TEST(TreeWalker, DroppedMidWalkStopsItsThread) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "r");
  for (size_t i = 0; i < TreeWalker::kMaxEntries * 3; ++i)
    testing::WriteFile(tmp / ("r/f" + std::to_string(i)), "x");
  {
    TreeWalker walker(tmp / "r");
    ASSERT_TRUE(walker.Next().has_value());
  }  // the destructor joins the thread; a hang here fails the test by timeout
  SUCCEED();
}

TEST(Tar, SinkErrorsStopTheWalk) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  auto r = WriteTar(tmp / "src", [](ByteView) -> Status {
    return Fail(ErrorCode::kIo, "disk full");
  }, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "disk full");
}

// A sink that hands out `room` bytes of its own at a time and records
// the stream, telling file data (committed in place) from copied bytes.
class RecordingSink final : public StreamSink {
 public:
  explicit RecordingSink(size_t room) : room_(room) {}
  Status Write(ByteView data) override {
    stream.insert(stream.end(), data.begin(), data.end());
    return {};
  }
  std::span<uint8_t> Space() override { return room_; }
  Status Commit(size_t n) override {
    EXPECT_LE(n, room_.size());
    committed += n;
    if (fail_commits) return Fail(ErrorCode::kIo, "upload failed");
    stream.insert(stream.end(), room_.begin(), room_.begin() + long(n));
    return {};
  }

  Bytes stream;
  uint64_t committed = 0;
  bool fail_commits = false;

 private:
  Bytes room_;
};

TEST(Tar, FileDataIsReadStraightIntoTheSink) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  std::string big(300000, 'x');
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 7 % 251);
  testing::WriteFile(tmp / "src/big", big);
  auto copied = TarOf(tmp / "src");
  ASSERT_TRUE(copied.has_value()) << copied.error().message();
  RecordingSink sink(1000);  // file data in many pieces
  auto r = WriteTar(tmp / "src", sink, nullptr);
  ASSERT_TRUE(r.has_value()) << r.error().message();
  EXPECT_EQ(sink.stream, *copied);
  EXPECT_EQ(sink.committed, r->bytes);  // every byte of file data, none copied
  EXPECT_GE(r->bytes, big.size());
}

TEST(Tar, InPlaceSinkErrorsStopTheWalk) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  RecordingSink sink(1000);
  sink.fail_commits = true;
  auto r = WriteTar(tmp / "src", sink, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "upload failed");
  EXPECT_GT(sink.committed, 0u);
}

// Hands the stream out in fresh pieces of `step` bytes and overwrites
// every piece nobody but itself holds any more, as a reused buffer would
// be. With `lend`, Keep() offers each piece to the extractor.
class ScribblingSource final : public TarSource {
 public:
  ScribblingSource(const Bytes& stream, size_t step, bool lend)
      : stream_(stream), step_(step), lend_(lend) {}
  Result<ByteView> Next() override {
    for (auto& p : held_)
      if (p.use_count() == 1) std::fill(p->begin(), p->end(), 0xee);
    std::erase_if(held_, [](const auto& p) { return p.use_count() == 1; });
    max_held_ = std::max(max_held_, held_.size());
    last_.reset();
    if (pos_ == stream_.size()) return ByteView();
    const size_t n = std::min(step_, stream_.size() - pos_);
    last_ = std::make_shared<Bytes>(stream_.begin() + long(pos_), stream_.begin() + long(pos_ + n));
    pos_ += n;
    held_.push_back(last_);
    return ByteView(*last_);
  }
  std::shared_ptr<const void> Keep() override { return lend_ ? last_ : nullptr; }
  // The most pieces alive at once: beyond the extractor's last two, the
  // ones lent to file writers.
  size_t max_held() const { return max_held_; }

 private:
  const Bytes& stream_;
  const size_t step_;
  const bool lend_;
  size_t pos_ = 0;
  std::shared_ptr<Bytes> last_;
  std::vector<std::shared_ptr<Bytes>> held_;
  size_t max_held_ = 0;
};

TEST(Tar, LentPiecesStayIntactUntilTheirFilesAreWritten) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  std::string big(9 << 20, 'x');  // written in pieces by the pool
  for (size_t i = 0; i < big.size(); ++i) big[i] = char(i * 31 % 253);
  testing::WriteFile(tmp / "src/big", big);
  for (int i = 0; i < 50; ++i) testing::WriteFile(tmp / "src/small" + std::to_string(i), big.substr(i * 1000, 3000 + i));
  auto tar = TarOf(tmp / "src");
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  for (bool lend : {true, false}) {
    SCOPED_TRACE(lend ? "lent" : "copied");
    const std::string dst = tmp / (lend ? "lent" : "copied");
    ScribblingSource source(*tar, 7777, lend);  // odd pieces: blocks span them
    ExtractOptions opts;
    opts.restore_owner = ::geteuid() == 0;
    opts.jobs = 2;
    auto ex = ExtractTar(source, dst, opts, nullptr);
    ASSERT_TRUE(ex.has_value()) << ex.error().message();
    EXPECT_EQ(CompareTrees(tmp / "src", dst), std::vector<std::string>{});
    if (lend) EXPECT_GT(source.max_held(), 100u);  // a 4 MiB piece of `big` borrows ~540
    else EXPECT_LE(source.max_held(), 1u);
  }
}

TEST(Tar, SourceErrorsStopTheExtraction) {
  TempDir tmp;
  auto r = ExtractTar([]() -> Result<ByteView> {
    return Fail(ErrorCode::kCorrupt, "chunk abc: CRC mismatch");
  }, tmp / "dst", {}, nullptr);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().message(), "chunk abc: CRC mismatch");
}

Bytes TarWithEntry(const char* name, const char* hardlink = nullptr) {
  return TarOfEntries({hardlink ? Hardlink(name, hardlink) : File(name, "")});
}

TEST(Tar, EntriesOutsideTheTargetAreRefused) {
  TempDir tmp;
  for (const char* name : {"../escape", "/etc/evil", "a/../../escape"}) {
    auto r = ExtractBytes(TarWithEntry(name), tmp / "dst", 1 << 20);
    ASSERT_FALSE(r.has_value()) << name;
    EXPECT_NE(r.error().message().find("outside the target"), std::string::npos) << name;
  }
  auto r = ExtractBytes(TarWithEntry("ok", "../../etc/passwd"), tmp / "dst", 1 << 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("points outside the target"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(tmp / "escape"));
}

TEST(Tar, NonEmptyTargetIsRefusedUnlessOverwriting) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "src");
  testing::WriteFile(tmp / "src/f", "new");
  auto tar = TarOf(tmp / "src");
  ASSERT_TRUE(tar.has_value());
  std::filesystem::create_directories(tmp / "empty");
  ASSERT_TRUE(ExtractBytes(*tar, tmp / "empty", 1 << 20).has_value());
  std::filesystem::create_directories(tmp / "dst");
  testing::WriteFile(tmp / "dst/f", "old");
  auto r = ExtractBytes(*tar, tmp / "dst", 1 << 20);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kAlreadyExists);
  EXPECT_NE(r.error().message().find("is not empty"), std::string::npos) << r.error().message();
  EXPECT_EQ(testing::ReadFile(tmp / "dst/f"), "old");
  ExtractOptions opts;
  opts.overwrite = true;
  ASSERT_TRUE(ExtractBytes(*tar, tmp / "dst", 1 << 20, opts).has_value());
  EXPECT_EQ(testing::ReadFile(tmp / "dst/f"), "new");
}

// Files the writer pool takes and files libarchive streams (large, sparse,
// set-id) come back the same, with one writer thread or several.
TEST(Tar, PooledAndStreamedFilesRoundTrip) {
  TempDir tmp;
  const std::string src = tmp / "src";
  for (int d = 0; d < 10; ++d) {
    std::filesystem::create_directories(src + "/d" + std::to_string(d));
    for (int f = 0; f < 30; ++f)
      testing::WriteFile(src + "/d" + std::to_string(d) + "/f" + std::to_string(f),
                         testing::RandomData(size_t(d * 1000 + f * 37), uint32_t(d * 100 + f)));
  }
  testing::WriteFile(src + "/large.bin", testing::RandomData(9 << 20, 7));  // in pieces
  for (int mib : {3, 13}) {
    // 4 KiB of data at 1 MiB and at 2 MiB from the end: holes around them.
    const std::string path = src + "/sparse" + std::to_string(mib);
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT, 0644);
    ASSERT_GE(fd, 0);
    const std::string data = testing::RandomData(4096, uint32_t(mib));
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), 1 << 20), ssize_t(data.size()));
    ASSERT_EQ(::pwrite(fd, data.data(), data.size(), (mib - 2) << 20), ssize_t(data.size()));
    ASSERT_EQ(::ftruncate(fd, mib << 20), 0);
    ::close(fd);
  }
  testing::WriteFile(src + "/setuid", "s");
  ::chmod((src + "/setuid").c_str(), 04755);
  auto tar = TarOf(src);
  ASSERT_TRUE(tar.has_value()) << tar.error().message();
  for (size_t jobs : {1, 4}) {
    ExtractOptions opts;
    opts.jobs = jobs;
    const std::string dst = tmp / ("dst" + std::to_string(jobs));
    auto ex = ExtractBytes(*tar, dst, 64 << 10, opts);
    ASSERT_TRUE(ex.has_value()) << ex.error().message();
    EXPECT_EQ(ex->files, 300u + 4u);
    EXPECT_EQ(CompareTrees(src, dst), std::vector<std::string>{}) << "jobs " << jobs;
  }
}

// Below an empty target the only symlinks are the restore's own; a path
// through one (or through a hard link to one) is refused, pooled or not.
TEST(Tar, PathsThroughRestoredSymlinksAreRefused) {
  TempDir tmp;
  std::filesystem::create_directories(tmp / "outside");
  const std::string outside = tmp / "outside";
  const std::vector<std::vector<Entry>> attacks = {
      {Symlink("esc", outside), File("esc/evil", "x")},
      {Symlink("./esc", outside), Dir("d"), File("./d/.//../esc/evil", "x")},
      {Symlink("esc", outside), Dir("d"), File("d/.//esc/../../esc/evil", "x")},
      {Symlink("esc", outside), Hardlink("h", "esc"), File("h/evil", "x")},
      {Symlink("esc", outside), File("f", "x"), Hardlink("g", "esc/f")},
      {Symlink("esc", outside), File("esc//evil", "x")},
  };
  for (size_t i = 0; i < attacks.size(); ++i) {
    const std::string dst = tmp / ("dst" + std::to_string(i));
    ExtractOptions opts;
    opts.jobs = 2;
    auto r = ExtractBytes(TarOfEntries(attacks[i]), dst, 1 << 20, opts);
    ASSERT_FALSE(r.has_value()) << "attack " << i;
    EXPECT_TRUE(std::filesystem::is_empty(outside)) << "attack " << i;
  }
  // Overwriting: the target's own symlinks are not followed either
  // (libarchive replaces such a symlink by a directory).
  std::filesystem::create_directories(tmp / "old");
  std::filesystem::create_symlink(outside, tmp / "old/esc");
  ExtractOptions opts;
  opts.overwrite = true;
  (void)ExtractBytes(TarOfEntries({File("esc/evil", "x")}), tmp / "old", 1 << 20, opts);
  EXPECT_TRUE(std::filesystem::is_empty(outside));
}

// The last entry of a repeated name wins, although the writer threads may
// take the files in any order (repeated: a race shows only sometimes).
TEST(Tar, StreamsWithoutDirectoryEntriesOrWithRepeatsExtract) {
  TempDir tmp;
  ExtractOptions opts;
  opts.jobs = 2;
  const Bytes stream =
      TarOfEntries({File("a/b/c.txt", "deep"), File("twice", "first"), File("twice", "second")});
  for (int i = 0; i < 50; ++i) {
    const auto dst = tmp / ("dst" + std::to_string(i));
    auto r = ExtractBytes(stream, dst, 1 << 20, opts);
    ASSERT_TRUE(r.has_value()) << r.error().message();
    EXPECT_EQ(testing::ReadFile(dst + "/a/b/c.txt"), "deep");
    ASSERT_EQ(testing::ReadFile(dst + "/twice"), "second") << "run " << i;
  }
}

}  // namespace
}  // namespace chunkvault
