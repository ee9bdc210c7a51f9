// Directories as pxar through the chunkvault binary on a local store:
// split and legacy backups, what the snapshot holds, restores of an
// archive and of the whole snapshot, deduplication of a second backup.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "chunkvault/blob.h"
#include "chunkvault/manifest.h"
#include "support/cli_runner.h"
#include "support/process.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::RunResult;
using testing::TempDir;

class PxarCli : public ::testing::Test {
 protected:
  void SetUp() override {
    runner_ = std::make_unique<testing::CliRunner>(CV_BINARY, tmp_ / "store");
    runner_->Init();
    testing::MakeSampleTree(tmp_ / "src");
  }

  RunResult cv(std::vector<std::string> args) { return runner_->Run(std::move(args)); }
  nlohmann::json Backup(std::vector<std::string> args) {
    args.insert(args.begin(), {"backup", "--json", "--backup-id", "box"});
    return testing::CliRunner::Json(cv(args));
  }
  std::vector<std::string> ManifestFiles(const std::string& snapshot) {
    RunResult r = cv({"cat", snapshot, "index.json.blob"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> names;
    const nlohmann::json manifest = nlohmann::json::parse(r.out);
    for (const auto& f : manifest["files"]) names.push_back(f["filename"]);
    return names;
  }

  TempDir tmp_;
  std::unique_ptr<testing::CliRunner> runner_;
};

TEST_F(PxarCli, ASplitArchiveRestoresTheTree) {
  nlohmann::json j = Backup({"root.pxar:" + (tmp_ / "src")});
  const std::string snap = j["snapshot"];
  // PBS's names and order: the payload index first.
  EXPECT_EQ(ManifestFiles(snap), (std::vector<std::string>{"root.ppxar.didx", "root.mpxar.didx"}));
  ASSERT_EQ(j["archives"].size(), 2u);
  EXPECT_GT(j["archives"][0]["size"].get<uint64_t>(), j["archives"][1]["size"].get<uint64_t>());

  RunResult r = cv({"restore", snap, "root.pxar", tmp_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "out"), std::vector<std::string>{});
  // Either file of the pair names the archive too.
  r = cv({"restore", snap, "root.mpxar.didx", tmp_ / "out2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "out2"), std::vector<std::string>{});
  // The whole snapshot: the pair restored once, as "root".
  r = cv({"restore", snap, tmp_ / "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "all/root"), std::vector<std::string>{});
  EXPECT_EQ(cv({"verify", snap}).exit_code, 0);
}

// Metadata change detection (the default once the group has a split
// archive): an unchanged tree is not read again. The first backup
// against a data-mode archive moves every file's ref behind a new start
// marker (PBS's layout), so its metadata is new; from then on nothing is.
TEST_F(PxarCli, AnUnchangedTreeIsNotReadAgain) {
  const std::string src = tmp_ / "src";
  nlohmann::json j = Backup({"root.pxar:" + src});
  EXPECT_FALSE(j.contains("reuse")) << j.dump();  // nothing to reuse yet
  j = Backup({"root.pxar:" + src});
  ASSERT_TRUE(j.contains("reuse")) << j.dump();
  EXPECT_GT(j["reuse"]["files-reused"].get<uint64_t>(), 5u) << j.dump();
  EXPECT_EQ(j["reuse"]["files-reencoded"], 0) << j.dump();
  EXPECT_EQ(j["reuse"]["files-new"], 0) << j.dump();
  EXPECT_EQ(j["reuse"]["bytes-read"], 0) << j.dump();
  EXPECT_LT(j["new-bytes"].get<uint64_t>(), 8192u) << j.dump();
  j = Backup({"root.pxar:" + src});
  EXPECT_EQ(j["new-chunks"], 0) << j.dump();
  EXPECT_EQ(j["reuse"]["bytes-read"], 0) << j.dump();
  const std::string snap = j["snapshot"];
  RunResult r = cv({"restore", snap, "root.pxar", tmp_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(src, tmp_ / "out"), std::vector<std::string>{});
  EXPECT_EQ(cv({"verify", snap}).exit_code, 0);
  // Data mode reads everything, into the chunks the first backup made.
  j = Backup({"--change-detection-mode", "data", "root.pxar:" + src});
  EXPECT_FALSE(j.contains("reuse")) << j.dump();
  EXPECT_EQ(j["new-chunks"], 0) << j.dump();
}

// A file changed amid unchanged ones is the only one read: the runs on
// either side of it both reuse the chunk they share, which the payload
// index then holds twice. The snapshot's size stays the tree's, as a
// data-mode backup of it has.
TEST_F(PxarCli, OnlyAChangedFileIsReadAndTheSizeStaysTheTrees) {
  const std::string src = tmp_ / "many";
  fs::create_directories(src);
  for (int i = 0; i < 40; ++i)
    testing::WriteFile(src + "/f" + std::to_string(100 + i), std::string(4096, char('a' + i % 26)));
  Backup({"root.pxar:" + src});
  testing::WriteFile(src + "/f120", std::string(5000, 'z'));
  nlohmann::json j = Backup({"root.pxar:" + src});
  EXPECT_EQ(j["reuse"]["files-reused"], 39) << j.dump();
  EXPECT_EQ(j["reuse"]["files-reencoded"], 1) << j.dump();
  EXPECT_EQ(j["reuse"]["bytes-read"], 5000) << j.dump();
  const std::string reusing = j["snapshot"];
  j = Backup({"--change-detection-mode", "data", "root.pxar:" + src});
  const std::string data = j["snapshot"];
  std::map<std::string, nlohmann::json> listed;
  for (const auto& s : testing::CliRunner::Json(cv({"snapshots", "--json"})))
    listed[s["snapshot"]] = s;
  EXPECT_EQ(listed[reusing]["size"], listed[data]["size"]);
  EXPECT_GT(listed[reusing]["files"][0]["size"].get<uint64_t>(),
            listed[data]["files"][0]["size"].get<uint64_t>());
  RunResult r = cv({"restore", reusing, "root.pxar", tmp_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(src, tmp_ / "out"), std::vector<std::string>{});
  EXPECT_EQ(cv({"verify", reusing}).exit_code, 0);
}

// A last backup that cannot be reused is a message, not a failure: every
// file is read instead. Its index damaged: it is not opened; its chunks
// gone: its metadata fails to read part-way.
TEST_F(PxarCli, ADamagedLastBackupMeansReadingEverything) {
  const std::string src = tmp_ / "src";
  const std::string first = Backup({"root.pxar:" + src})["snapshot"];
  const std::string index = runner_->store() + "/" + first + "/root.mpxar.didx";
  std::string raw = testing::ReadFile(index);
  raw[raw.size() - 1] ^= 1;
  fs::permissions(index, fs::perms::owner_write, fs::perm_options::add);
  testing::WriteFile(index, raw);
  RunResult r = cv({"backup", "--json", "--backup-id", "box", "root.pxar:" + src});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cannot be reused"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(first), std::string::npos) << r.err;
  nlohmann::json j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j.contains("reuse")) << r.out;
  for (const std::string& chunk : testing::ChunkFilePaths(runner_->store())) fs::remove(chunk);
  r = cv({"backup", "--json", "--backup-id", "box", "root.pxar:" + src});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("previous archive cannot be read"), std::string::npos) << r.err;
  j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["reuse"]["files-reused"], 0) << r.out;
  EXPECT_GT(j["reuse"]["bytes-read"].get<uint64_t>(), 0u) << r.out;
  r = cv({"restore", j["snapshot"], "root.pxar", tmp_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(src, tmp_ / "out"), std::vector<std::string>{});
}

TEST_F(PxarCli, LegacyModeWritesOneUnifiedArchive) {
  nlohmann::json j = Backup({"--change-detection-mode", "legacy", "root.pxar:" + (tmp_ / "src")});
  const std::string snap = j["snapshot"];
  // With PBS's catalog, listed after the archives.
  EXPECT_EQ(ManifestFiles(snap),
            (std::vector<std::string>{"root.pxar.didx", "catalog.pcat1.didx"}));
  RunResult catalog = cv({"cat", snap, "catalog.pcat1.didx"});
  ASSERT_EQ(catalog.exit_code, 0) << catalog.err;
  EXPECT_EQ(catalog.out.substr(0, 8), std::string("\x91\xfd\x60\xf9\xc4\x67\x58\xd5", 8));
  EXPECT_NE(catalog.out.find("root.pxar.didx"), std::string::npos);
  RunResult r = cv({"restore", snap, "root.pxar", tmp_ / "out"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "out"), std::vector<std::string>{});
  r = cv({"restore", snap, tmp_ / "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "all/root"), std::vector<std::string>{});
}

TEST_F(PxarCli, PxarTarAndImagesLiveInOneSnapshot) {
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(100000, 3));
  nlohmann::json j = Backup({"root.pxar:" + (tmp_ / "src"), "old.tar:" + (tmp_ / "src"),
                             "disk.img:" + (tmp_ / "disk.raw")});
  const std::string snap = j["snapshot"];
  RunResult r = cv({"restore", snap, tmp_ / "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "all/root"), std::vector<std::string>{});
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "all/old"), std::vector<std::string>{});
  EXPECT_EQ(testing::ReadFile(tmp_ / "all/disk.img"), testing::ReadFile(tmp_ / "disk.raw"));
}

// A tree of a few known entries, for ls, find and partial restores.
void MakeBrowseTree(const std::string& root) {
  fs::create_directories(root + "/etc/ssh");
  fs::create_directories(root + "/home/u/.cache");
  testing::WriteFile(root + "/etc/hosts", "127.0.0.1 localhost\n");
  testing::WriteFile(root + "/etc/ssh/sshd_config", "Port 22\n");
  testing::WriteFile(root + "/home/u/notes.txt", std::string(5000, 'n'));
  testing::WriteFile(root + "/home/u/.cache/big.bin", testing::RandomData(3 << 20, 7));
  fs::create_symlink("hosts", root + "/etc/hosts.link");
  testing::SetMtime(root + "/etc/hosts", 1700000000, 5);
}

TEST_F(PxarCli, LsAndFindReadTheMetadata) {
  MakeBrowseTree(tmp_ / "t");
  const std::string snap = Backup({"root.pxar:" + (tmp_ / "t")})["snapshot"];
  RunResult r = cv({"ls", snap, "root.pxar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" etc\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" home\n"), std::string::npos) << r.out;
  r = cv({"ls", "--json", snap, "root.pxar", "etc"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json etc = nlohmann::json::parse(r.out)["entries"];
  ASSERT_EQ(etc.size(), 3u) << r.out;
  EXPECT_EQ(etc[0]["path"], "etc/hosts");
  EXPECT_EQ(etc[0]["type"], "file");
  EXPECT_EQ(etc[0]["size"], 20);
  EXPECT_EQ(etc[0]["mtime"], 1700000000);
  EXPECT_EQ(etc[0]["mtime-nanos"], 5);
  EXPECT_EQ(etc[1]["path"], "etc/hosts.link");
  EXPECT_EQ(etc[1]["target"], "hosts");
  EXPECT_EQ(etc[2]["type"], "directory");
  // A long listing of one file, as ls -l shows it.
  r = cv({"ls", snap, "root.pxar", "/etc/hosts"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 10), "-rw-r--r--") << r.out;
  EXPECT_NE(r.out.find("2023-11-14 22:13:20 hosts"), std::string::npos) << r.out;
  r = cv({"ls", snap, "root.pxar", "etc/nothing"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no 'nothing' in etc"), std::string::npos) << r.err;

  r = cv({"find", snap, "root.pxar", "*.txt", "/etc/ssh"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "etc/ssh\nhome/u/notes.txt\n");
  r = cv({"find", "--json", snap, "root.pxar", "**/.cache/*"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["entries"].size(), 1u) << r.out;
  // A tar archive cannot be browsed: said so.
  const std::string tar_snap = Backup({"old.tar:" + (tmp_ / "t")})["snapshot"];
  r = cv({"ls", tar_snap, "old.tar"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("pxar archives only"), std::string::npos) << r.err;
}

TEST_F(PxarCli, IncludePatternsRestorePartOfTheTree) {
  MakeBrowseTree(tmp_ / "t");
  const std::string snap = Backup({"root.pxar:" + (tmp_ / "t")})["snapshot"];
  RunResult r = cv({"restore", snap, "root.pxar", tmp_ / "out", "--include", "/etc/ssh",
                    "--include", "notes.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(tmp_ / "out/etc/ssh/sshd_config"), "Port 22\n");
  EXPECT_EQ(testing::ReadFile(tmp_ / "out/home/u/notes.txt"), std::string(5000, 'n'));
  EXPECT_FALSE(fs::exists(tmp_ / "out/etc/hosts"));
  EXPECT_FALSE(fs::exists(tmp_ / "out/home/u/.cache"));
  r = cv({"restore", snap, tmp_ / "all", "--include", "x"});
  EXPECT_NE(r.exit_code, 0);
}

// A hard link restored without its target: the first link becomes the
// file (data and metadata read where the target is), later ones link to
// it; in split and unified archives.
TEST_F(PxarCli, HardLinksAreRestoredWithoutTheirTarget) {
  const std::string t = tmp_ / "t";
  fs::create_directories(t + "/a");
  fs::create_directories(t + "/b");
  testing::WriteFile(t + "/a/f", "shared");
  fs::create_hard_link(t + "/a/f", t + "/b/l1");
  fs::create_hard_link(t + "/a/f", t + "/b/l2");
  fs::permissions(t + "/a/f", fs::perms::owner_read | fs::perms::group_read);
  for (const char* mode : {"data", "legacy"}) {
    SCOPED_TRACE(mode);
    const std::string snap =
        Backup({"--change-detection-mode", mode, "root.pxar:" + t})["snapshot"];
    const std::string out = tmp_ / (std::string("out-") + mode);
    RunResult r = cv({"restore", snap, "root.pxar", out, "--include", "/b"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_FALSE(fs::exists(out + "/a"));
    EXPECT_EQ(testing::ReadFile(out + "/b/l1"), "shared");
    EXPECT_EQ(fs::status(out + "/b/l1").permissions(),
              fs::perms::owner_read | fs::perms::group_read);
    EXPECT_TRUE(fs::equivalent(out + "/b/l1", out + "/b/l2"));
    EXPECT_EQ(fs::hard_link_count(out + "/b/l2"), 2u);
    // With the target, as before: all three one file.
    r = cv({"restore", snap, "root.pxar", out + "-all"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(fs::hard_link_count(out + "-all/a/f"), 3u);
  }
}

TEST_F(PxarCli, CatAsTarGivesTheTree) {
  MakeBrowseTree(tmp_ / "t");
  const std::string snap = Backup({"root.pxar:" + (tmp_ / "t")})["snapshot"];
  RunResult r = cv({"cat", snap, "root.pxar", "--format", "tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  testing::WriteFile(tmp_ / "t.tar", r.out);
  fs::create_directories(tmp_ / "x");
  RunResult tar = testing::Run({"/bin/tar", "-xf", tmp_ / "t.tar", "-C", tmp_ / "x"});
  ASSERT_EQ(tar.exit_code, 0) << tar.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "t", tmp_ / "x"), std::vector<std::string>{});
  // The raw stream of one file of the pair is there too.
  r = cv({"cat", snap, "root.mpxar.didx"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 8), std::string("\x0d\xa4\x16\xdf\x75\x6c\x0f\x73", 8));
}

// The same rules in every mode: metadata change detection (against the
// data-mode backup before it) leaves out, and keeps, what the others do,
// special files included, and follows the patterns given now, not those
// of the archive it reuses.
TEST_F(PxarCli, ExcludesLeaveOutWhatTheyMatch) {
  const std::string t = tmp_ / "t";
  fs::create_directories(t + "/src/obj");
  fs::create_directories(t + "/cache/x");
  fs::create_directories(t + "/home/tmp");
  testing::WriteFile(t + "/src/a.c", "c");
  testing::WriteFile(t + "/src/obj/a.o", "o");
  testing::WriteFile(t + "/cache/x/big", "big");
  testing::WriteFile(t + "/home/tmp/junk", "j");
  testing::WriteFile(t + "/home/notes.tmp", "n");
  testing::WriteFile(t + "/home/keep.tmp", "k");
  testing::WriteFile(t + "/home/.pxarexclude", "# scratch\ntmp/\n*.tmp\n!keep.tmp\n");
  testing::WriteFile(t + "/.pxarexclude-cli", "a stale one is never stored");
  testing::WriteFile(t + "/src/big.bin", testing::RandomData(64 << 10, 3));
  ASSERT_EQ(::mkfifo((t + "/src/pipe").c_str(), 0640), 0);
  for (const char* mode : {"legacy", "data", "metadata"}) {
    SCOPED_TRACE(mode);
    const nlohmann::json j = Backup({"--change-detection-mode", mode, "--exclude", "*.o",
                                     "--exclude", "/cache/", "root.pxar:" + t});
    if (std::string(mode) == "metadata") {
      EXPECT_EQ(j["reuse"]["files-reused"], 4) << j.dump();
    }
    const std::string snap = j["snapshot"];
    const std::string out = tmp_ / (std::string("out-") + mode);
    RunResult r = cv({"restore", snap, "root.pxar", out});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_TRUE(fs::exists(out + "/src/a.c"));
    EXPECT_TRUE(fs::exists(out + "/src/obj"));  // only what matched is left out
    EXPECT_FALSE(fs::exists(out + "/src/obj/a.o"));
    EXPECT_TRUE(fs::is_fifo(out + "/src/pipe"));
    EXPECT_FALSE(fs::exists(out + "/cache"));
    EXPECT_FALSE(fs::exists(out + "/home/tmp"));
    EXPECT_FALSE(fs::exists(out + "/home/notes.tmp"));
    EXPECT_TRUE(fs::exists(out + "/home/keep.tmp"));
    EXPECT_TRUE(fs::exists(out + "/home/.pxarexclude"));  // stored, as PBS does
    // The command line's patterns go with the archive, as PBS stores them.
    if (std::string(mode) == "legacy") {
      EXPECT_EQ(testing::ReadFile(out + "/.pxarexclude-cli"), "*.o\n/cache/\n");
    } else {
      EXPECT_FALSE(fs::exists(out + "/.pxarexclude-cli"));
      r = cv({"cat", snap, "root.mpxar.didx"});
      ASSERT_EQ(r.exit_code, 0) << r.err;
      EXPECT_NE(r.out.find(R"({"exclude-patterns":"*.o\n/cache/\n"})"), std::string::npos);
    }
  }
  // Against the metadata-mode backup, *.o no longer left out: read anew.
  const nlohmann::json j = Backup({"--exclude", "/cache/", "root.pxar:" + t});
  EXPECT_EQ(j["reuse"]["files-new"], 1) << j.dump();
  RunResult r = cv({"restore", j["snapshot"], "root.pxar", tmp_ / "out-fewer"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::ReadFile(tmp_ / "out-fewer/src/obj/a.o"), "o");
  EXPECT_FALSE(fs::exists(tmp_ / "out-fewer/cache"));
  RunResult bad = cv({"backup", "--exclude", "", "root.pxar:" + t});
  EXPECT_NE(bad.exit_code, 0);
}

// A tmpfs mounted inside the tree (in a user and mount namespace of the
// test's own): by default its mount point is stored empty; with
// --all-file-systems, its contents too.
TEST_F(PxarCli, OneFileSystemUnlessAskedOtherwise) {
  const std::string t = tmp_ / "t";
  fs::create_directories(t + "/mnt");
  testing::WriteFile(t + "/here", "h");
  const std::string script = "mount -t tmpfs none '" + t + "/mnt' && echo inside > '" + t +
                             "/mnt/f' && '" + std::string(CV_BINARY) + "' backup --store '" +
                             runner_->store() + "' --backup-id one root.pxar:'" + t + "' && '" +
                             std::string(CV_BINARY) + "' backup --store '" + runner_->store() +
                             "' --backup-id all --all-file-systems root.pxar:'" + t + "'";
  // Where user namespaces or mounts in them are not allowed (some
  // containers), there is nothing to test with.
  fs::create_directories(tmp_ / "probe");
  RunResult probe =
      testing::Run({"/usr/bin/unshare", "--user", "--map-root-user", "--mount", "/bin/sh", "-c",
                    "mount -t tmpfs none '" + (tmp_ / "probe") + "'"});
  if (probe.exit_code != 0) GTEST_SKIP() << "cannot mount in a user namespace here: " << probe.err;
  RunResult r = testing::Run(
      {"/usr/bin/unshare", "--user", "--map-root-user", "--mount", "/bin/sh", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream printed(r.out);
  std::string one, all;
  std::getline(printed, one);
  std::getline(printed, all);
  ASSERT_EQ(cv({"restore", one, "root.pxar", tmp_ / "one"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(tmp_ / "one/here"));
  EXPECT_TRUE(fs::is_directory(tmp_ / "one/mnt"));
  EXPECT_FALSE(fs::exists(tmp_ / "one/mnt/f"));
  ASSERT_EQ(cv({"restore", all, "root.pxar", tmp_ / "all"}).exit_code, 0);
  EXPECT_EQ(testing::ReadFile(tmp_ / "all/mnt/f"), "inside\n");
}

// Quota project ids, on an XFS image mounted in a mount namespace of the
// test's own (root only; skipped where loop mounts are not allowed): read
// at backup, restored by root where the target file system has them, and
// skipped without a word where it has not.
TEST_F(PxarCli, QuotaProjectIdsAreRestored) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root for a loop mount";
  const std::string img = tmp_ / "xfs.img", m = tmp_ / "m", cvb = CV_BINARY;
  fs::create_directories(m);
  const std::string store = runner_->store(), other = tmp_ / "other";
  const std::string script =
      "truncate -s 300M '" + img + "' && mkfs.xfs -q '" + img + "' && mount -o loop '" + img +
      "' '" + m + "' || exit 77\n"
      "set -e\n"
      "mkdir '" + m + "/src' '" + m + "/src/d'\n"
      "echo x > '" + m + "/src/d/f'\n"
      "chattr -p 42 '" + m + "/src/d/f'\n"
      "chattr -p 7 '" + m + "/src/d'\n"
      "snap=$('" + cvb + "' backup --store '" + store + "' --backup-id pj root.pxar:'" + m +
      "/src')\n"
      "'" + cvb + "' restore --store '" + store + "' \"$snap\" root.pxar '" + m + "/out'\n"
      "'" + cvb + "' restore --store '" + store + "' \"$snap\" root.pxar '" + other + "'\n"
      "lsattr -p -d '" + m + "/out/d' '" + m + "/out/d/f'\n";
  RunResult r = testing::Run({"/usr/bin/unshare", "--mount", "/bin/sh", "-c", script});
  if (r.exit_code == 77) GTEST_SKIP() << "cannot make and mount an XFS image here: " << r.err;
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(" 7 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" 42 "), std::string::npos) << r.out;
  EXPECT_EQ(r.err.find("project"), std::string::npos) << r.err;  // not on tmp_'s file system
  EXPECT_EQ(testing::ReadFile(other + "/d/f"), "x\n");
}

TEST_F(PxarCli, ABadArchiveNameIsRefused) {
  RunResult r = cv({"backup", "root.zip:" + (tmp_ / "src")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find(".pxar"), std::string::npos) << r.err;
  r = cv({"backup", "--change-detection-mode", "sometimes", "root.pxar:" + (tmp_ / "src")});
  EXPECT_NE(r.exit_code, 0);
}

}  // namespace
}  // namespace chunkvault
