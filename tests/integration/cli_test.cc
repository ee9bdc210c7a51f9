// Integration tests: drive the built chunkvault binary as a user would, and
// check the results on disk and in the restored trees.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "support/cli_runner.h"
#include "support/process.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::CompareTrees;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

class Cli : public ::testing::Test {
 protected:
  void SetUp() override { store_ = tmp_ / "store"; }

  RunResult cv(std::vector<std::string> args, RunOptions options = {}) {
    return runner().Run(std::move(args), std::move(options));
  }
  void Init() { runner().Init(); }
  // Runs a backup that must succeed; returns the snapshot it printed.
  std::string Backup(std::vector<std::string> args) { return runner().Backup(std::move(args)); }
  nlohmann::json Json(const RunResult& r) { return testing::CliRunner::Json(r); }
  testing::CliRunner runner() const { return testing::CliRunner(CV_BINARY, store_); }

  size_t CountChunkFiles() { return testing::ChunkFilePaths(store_).size(); }

  std::vector<std::string> CheckStoreFiles() { return testing::CheckStoreFiles(store_); }

  TempDir tmp_;
  std::string store_;
};

TEST_F(Cli, BackupRestoreGivesAnIdenticalTree) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  std::string snap = Backup({"--backup-id", "box", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  EXPECT_TRUE(snap.starts_with("host/box/20")) << snap;
  EXPECT_EQ(snap.size(), std::string("host/box/2020-06-26T13:56:05Z").size());
  RunResult r = cv({"restore", snap, "root.tar", tmp_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "dst"), std::vector<std::string>{});
  EXPECT_EQ(CheckStoreFiles(), std::vector<std::string>{});
}

TEST_F(Cli, SecondBackupOfAnUnchangedTreeWritesNoChunk) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  auto first = Json(cv({"backup", "--json", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")}));
  EXPECT_GT(first["new-chunks"].get<int>(), 0);
  const size_t files = CountChunkFiles();
  auto second = Json(cv({"backup", "--json", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")}));
  EXPECT_EQ(second["new-chunks"], 0);
  EXPECT_EQ(second["new-bytes"], 0);
  EXPECT_EQ(second["chunks"], first["chunks"]);
  EXPECT_NE(second["snapshot"], first["snapshot"]);
  EXPECT_EQ(CountChunkFiles(), files);
}

TEST_F(Cli, ImageRoundTripAndSparseRestore) {
  Init();
  // 3.3 MiB: random data, a long run of zeros, and an odd tail.
  std::string image = testing::RandomData(1 << 20, 5) + std::string(2 << 20, '\0') +
                      testing::RandomData(300001, 6);
  testing::WriteFile(tmp_ / "disk.raw", image);
  std::string snap = Backup({"--backup-type", "vm", "--backup-id", "100", "--chunk-size", "64K",
                             "disk.img:" + (tmp_ / "disk.raw")});
  EXPECT_TRUE(snap.starts_with("vm/100/")) << snap;
  RunResult r = cv({"restore", snap, "disk.img", tmp_ / "restored.raw"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(testing::ReadFile(tmp_ / "restored.raw") == image);
  struct stat st;
  ASSERT_EQ(::stat((tmp_ / "restored.raw").c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, image.size() - (1 << 20)) << "zero chunks were written";
  // To standard output as well.
  r = cv({"restore", snap, "disk.img", "-"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == image);
  // An existing file is not overwritten unless asked.
  r = cv({"restore", snap, "disk.img", tmp_ / "restored.raw"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
  EXPECT_EQ(cv({"restore", "--overwrite", snap, "disk.img", tmp_ / "restored.raw"}).exit_code, 0);
}

TEST_F(Cli, SeveralArchivesInOneSnapshotAndTheManifestListsThem) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(200000, 3));
  std::string snap = Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src"),
                             "disk.img:" + (tmp_ / "disk.raw")});
  RunResult r = cv({"cat", snap, "index.json.blob"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto m = Manifest::FromJson(r.out);
  ASSERT_TRUE(m.has_value()) << m.error().message();
  ASSERT_EQ(m->files.size(), 2u);
  EXPECT_EQ(m->files[0].filename, "root.tar.didx");
  EXPECT_EQ(m->files[1].filename, "disk.img.fidx");
  EXPECT_EQ(m->files[1].size, 200000u);
  // csum is each index's checksum.
  std::string dir = store_ + "/host/" + m->backup_id + "/" + snap.substr(snap.rfind('/') + 1);
  std::ifstream in(dir + "/disk.img.fidx", std::ios::binary);
  Bytes raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(FixedIndex::Parse(raw)->stored_csum, m->files[1].csum);
  // `cat` gives the raw tar stream: ustar magic at offset 257, size as listed.
  r = cv({"cat", snap, "root.tar"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.size(), m->files[0].size);
  EXPECT_EQ(r.out.substr(257, 5), "ustar");
}

TEST_F(Cli, RestoreOfAWholeSnapshot) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  std::string image = testing::RandomData(200000, 3);
  testing::WriteFile(tmp_ / "disk.raw", image);
  std::string snap = Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src"),
                             "etc.tar:" + (tmp_ / "src/dir"), "disk.img:" + (tmp_ / "disk.raw")});
  RunResult r = cv({"restore", "--json", snap, tmp_ / "all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["archives"].size(), 3u);
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "all/root"), std::vector<std::string>{});
  EXPECT_EQ(CompareTrees(tmp_ / "src/dir", tmp_ / "all/etc"), std::vector<std::string>{});
  EXPECT_TRUE(testing::ReadFile(tmp_ / "all/disk.img") == image);
  // Again into the same (now full) directory: refused without --overwrite.
  r = cv({"restore", snap, tmp_ / "all"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--overwrite"), std::string::npos) << r.err;
}

TEST_F(Cli, TwoConcurrentBackupsBothSucceed) {
  Init();
  testing::MakeSampleTree(tmp_ / "a");
  testing::MakeSampleTree(tmp_ / "b");
  testing::WriteFile(tmp_ / "b/extra", testing::RandomData(500000, 9));
  RunOptions o;
  o.env["CHUNKVAULT_STORE"] = store_;
  // Same group (same id), started together: both must get a snapshot.
  testing::Process p1({CV_BINARY, "backup", "--backup-id", "same", "--chunk-size", "64K",
                       "root.tar:" + (tmp_ / "a")}, o);
  testing::Process p2({CV_BINARY, "backup", "--backup-id", "same", "--chunk-size", "64K",
                       "root.tar:" + (tmp_ / "b")}, o);
  testing::Process p3({CV_BINARY, "backup", "--backup-id", "other", "--chunk-size", "64K",
                       "root.tar:" + (tmp_ / "b")}, o);
  RunResult r1 = p1.Wait(), r2 = p2.Wait(), r3 = p3.Wait();
  ASSERT_EQ(r1.exit_code, 0) << r1.err;
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  ASSERT_EQ(r3.exit_code, 0) << r3.err;
  EXPECT_NE(r1.out, r2.out);
  auto list = Json(cv({"snapshots", "--json"}));
  EXPECT_EQ(list.size(), 3u);
  EXPECT_EQ(cv({"verify"}).exit_code, 0);
  std::string s2 = r2.out.substr(0, r2.out.size() - 1);
  ASSERT_EQ(cv({"restore", s2, "root.tar", tmp_ / "b2"}).exit_code, 0);
  EXPECT_EQ(CompareTrees(tmp_ / "b", tmp_ / "b2"), std::vector<std::string>{});
}

// Defect: six backups into one group that ended in the same second were
// stamped up to 5 s in the future. Each snapshot's time is when it began:
// never later than the moment its backup was seen to end.
TEST_F(Cli, ParallelBackupsOfOneGroupAreNeverStampedInTheFuture) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "small");
  RunOptions o;
  o.env["CHUNKVAULT_STORE"] = store_;
  std::vector<std::unique_ptr<testing::Process>> backups;
  for (int i = 0; i < 6; ++i)
    backups.push_back(std::make_unique<testing::Process>(
        std::vector<std::string>{CV_BINARY, "backup", "--backup-id", "same",
                                 "root.tar:" + (tmp_ / "src")},
        o));
  std::set<std::string> snapshots;
  for (auto& p : backups) {
    RunResult r = p->Wait();
    const int64_t ended = ::time(nullptr);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const std::string snap = r.out.substr(0, r.out.size() - 1);
    snapshots.insert(snap);
    struct tm tm = {};
    ASSERT_NE(::strptime(snap.substr(snap.rfind('/') + 1).c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm),
              nullptr)
        << snap;
    EXPECT_LE(::timegm(&tm), ended) << snap << " is later than its backup's end";
  }
  EXPECT_EQ(snapshots.size(), 6u);
}

// A backup killed (SIGKILL) at any point leaves no partial chunk or index
// under its final name, the store verifies, and the next backup works.
class CrashTest : public Cli, public ::testing::WithParamInterface<const char*> {};

TEST_P(CrashTest, KilledBackupLeavesAConsistentStore) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  std::string good = Backup({"--backup-id", "box", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  testing::WriteFile(tmp_ / "src/new-data", testing::RandomData(700000, 11));
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(300000, 12));
  RunOptions o;
  o.env["CHUNKVAULT_CRASH_AT"] = GetParam();
  RunResult r = cv({"backup", "--backup-id", "box", "--chunk-size", "64K",
                    "root.tar:" + (tmp_ / "src"), "disk.img:" + (tmp_ / "disk.raw")}, o);
  ASSERT_EQ(r.signal, SIGKILL) << "crash point " << GetParam() << " not reached; exit "
                               << r.exit_code << ": " << r.err;
  EXPECT_EQ(CheckStoreFiles(), std::vector<std::string>{});
  RunResult v = cv({"verify"});
  EXPECT_EQ(v.exit_code, 0) << v.out << v.err;
  // Only complete snapshots are listed: the good one (and, if the kill came
  // after the manifest was in place, the new one).
  auto list = Json(cv({"snapshots", "--json"}));
  ASSERT_GE(list.size(), 1u);
  EXPECT_EQ(list[0]["snapshot"], good);
  // The store takes the next backup, and restores from it are exact.
  std::string next = Backup({"--backup-id", "box", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  ASSERT_EQ(cv({"restore", next, "root.tar", tmp_ / "dst"}).exit_code, 0);
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "dst"), std::vector<std::string>{});
  EXPECT_EQ(cv({"verify"}).exit_code, 0);
}

INSTANTIATE_TEST_SUITE_P(
    AtEveryStage, CrashTest,
    ::testing::Values("chunk-tmp-partial", "chunk-tmp-written", "chunk-renamed:5",
                      "index-tmp-partial", "index-tmp-written", "index-renamed", "before-manifest",
                      "manifest-tmp-partial", "manifest-tmp-written", "manifest-renamed"),
    [](const auto& info) {
      std::string name = info.param;
      for (char& c : name)
        if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
      return name;
    });

TEST_F(Cli, VerifyFindsAndRenamesACorruptChunk) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  std::string snap = Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  // Corrupt one chunk: flip a byte in its payload.
  std::string victim;
  for (auto& e : fs::recursive_directory_iterator(store_ + "/.chunks"))
    if (e.is_regular_file() && e.file_size() > 100) victim = e.path().string();
  ASSERT_FALSE(victim.empty());
  std::string data = testing::ReadFile(victim);
  data[data.size() / 2] ^= 0x40;
  testing::WriteFile(victim, data);
  const std::string digest = fs::path(victim).filename().string();

  // Restore stops and names the chunk and the archive.
  RunResult r = cv({"restore", snap, "root.tar", tmp_ / "dst"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(digest), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("root.tar.didx"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("CRC mismatch"), std::string::npos) << r.err;

  r = cv({"verify", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  auto report = nlohmann::json::parse(r.out);
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["bad-chunks"].size(), 1u);
  EXPECT_EQ(report["bad-chunks"][0]["digest"], digest);
  EXPECT_TRUE(fs::exists(victim + ".0.bad"));
  EXPECT_FALSE(fs::exists(victim));
  // The manifest records the failure (PBS's verify_state).
  auto list = Json(cv({"snapshots", "--json"}));
  EXPECT_EQ(list[0]["verification"], "failed");
  // A new backup stores the chunk again, and then everything verifies.
  Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  EXPECT_TRUE(fs::exists(victim));
  r = cv({"verify", snap});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(Cli, PruneKeepsWhatTheRulesSayAndGcThenFreesTheChunks) {
  Init();
  std::filesystem::create_directories(tmp_ / "src");
  std::vector<std::string> snaps;
  for (int i = 0; i < 3; ++i) {
    testing::WriteFile(tmp_ / "src/file", testing::RandomData(300000, 10 + i));
    snaps.push_back(Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")}));
  }
  ASSERT_EQ(cv({"protect", snaps[0]}).exit_code, 0);
  EXPECT_EQ(cv({"prune"}).exit_code, 2) << "no rule: refused";
  auto dry = Json(cv({"prune", "--keep-last", "1", "--dry-run", "--json"}));
  EXPECT_EQ(dry["removed"], 1);
  EXPECT_EQ(Json(cv({"snapshots", "--json"})).size(), 3u);
  auto done = Json(cv({"prune", "host/" + snaps[0].substr(5, snaps[0].rfind('/') - 5),
                       "--keep-last", "1", "--json"}));
  EXPECT_EQ(done["removed"], 1);
  ASSERT_EQ(done["snapshots"].size(), 3u);
  EXPECT_EQ(done["snapshots"][0]["snapshot"], snaps[2]);
  EXPECT_EQ(done["snapshots"][0]["mark"], "keep");
  EXPECT_EQ(done["snapshots"][1]["mark"], "remove");
  EXPECT_EQ(done["snapshots"][2]["mark"], "protected");
  EXPECT_EQ(Json(cv({"snapshots", "--json"})).size(), 2u);
  // The pruned snapshot's own chunks are unused now: gc takes them (once
  // they are older than the cutoff; here: 0 minutes, all aged an hour).
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  auto gc = Json(cv({"gc", "--atime-cutoff", "0", "--json"}));
  EXPECT_GT(gc["removed-chunks"].get<uint64_t>(), 0u);
  EXPECT_EQ(cv({"verify"}).exit_code, 0);
}

TEST_F(Cli, ForgetProtectAndNotes) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  std::string snap = Backup({"root.tar:" + (tmp_ / "src")});
  ASSERT_EQ(cv({"protect", snap}).exit_code, 0);
  auto list = Json(cv({"snapshots", "--json"}));
  EXPECT_EQ(list[0]["protected"], true);
  RunResult r = cv({"forget", snap});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("protected"), std::string::npos) << r.err;
  ASSERT_EQ(cv({"unprotect", snap}).exit_code, 0);

  ASSERT_EQ(cv({"notes", snap, "--set", "before the upgrade"}).exit_code, 0);
  r = cv({"notes", snap});
  EXPECT_EQ(r.out, "before the upgrade\n");
  std::string group = snap.substr(0, snap.rfind('/'));
  ASSERT_EQ(cv({"notes", group, "--set", "the web server"}).exit_code, 0);
  EXPECT_EQ(cv({"notes", group}).out, "the web server\n");

  r = cv({"forget", snap});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Json(cv({"snapshots", "--json"})).empty());
  r = cv({"restore", snap, "root.tar", tmp_ / "dst"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("does not exist"), std::string::npos) << r.err;
}

TEST_F(Cli, SnapshotsJsonHasTheContractFields) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  Backup({"--backup-id", "web", "root.tar:" + (tmp_ / "src")});
  auto list = Json(cv({"snapshots", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  for (const char* key : {"backup-type", "backup-id", "backup-time", "files", "size"})
    EXPECT_TRUE(list[0].contains(key)) << key;
  EXPECT_EQ(list[0]["backup-type"], "host");
  EXPECT_EQ(list[0]["backup-id"], "web");
  EXPECT_EQ(list[0]["files"][0]["filename"], "root.tar.didx");
  // The text form ends with the dedup summary.
  RunResult r = cv({"snapshots"});
  EXPECT_NE(r.out.find("dedup"), std::string::npos) << r.out;

  // A damaged manifest does not hide the other snapshots; it is named,
  // and the listing exits 1.
  std::string second = Backup({"--backup-id", "db", "root.tar:" + (tmp_ / "src")});
  std::string manifest = store_ + "/host/web/" + list[0]["snapshot"].get<std::string>().substr(9) +
                         "/index.json.blob";
  testing::WriteFile(manifest, "garbage");
  r = cv({"snapshots", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  list = nlohmann::json::parse(r.out);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_NE(list[1]["damaged"].get<std::string>().find("index.json.blob"), std::string::npos);
  EXPECT_EQ(list[0]["snapshot"], second);
  EXPECT_FALSE(list[0].contains("damaged"));
}

TEST_F(Cli, NamespacesKeepSnapshotsApart) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  std::string snap = Backup({"--ns", "site/prod", "--backup-id", "db", "root.tar:" + (tmp_ / "src")});
  EXPECT_TRUE(fs::exists(store_ + "/ns/site/ns/prod/host/db/owner"));
  EXPECT_TRUE(Json(cv({"snapshots", "--json"})).empty());
  auto list = Json(cv({"snapshots", "--json", "--ns", "site/prod"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["ns"], "site/prod");
  EXPECT_EQ(cv({"restore", "--ns", "site/prod", snap, "root.tar", tmp_ / "dst"}).exit_code, 0);
  RunResult r = cv({"backup", "--ns", "a/b/c/d/e/f/g/h", "root.tar:" + (tmp_ / "src")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("deeper than 7"), std::string::npos) << r.err;
}

TEST_F(Cli, BadInputGetsClearErrors) {
  // No store at all.
  RunResult r = cv({"snapshots"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not a datastore"), std::string::npos) << r.err;
  RunOptions no_store;
  no_store.unset_env = {"CHUNKVAULT_STORE"};
  r = testing::Run({CV_BINARY, "snapshots"}, no_store);
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--store"), std::string::npos) << r.err;

  Init();
  // --jobs belongs to the commands that work on chunks; the others refuse
  // it rather than ignore it.
  for (const char* cmd : {"init", "forget", "notes", "snapshots", "gc", "prune"}) {
    r = cv({cmd, "--jobs", "3"});
    EXPECT_EQ(r.exit_code, 2) << cmd;
    EXPECT_NE(r.err.find("--jobs"), std::string::npos) << cmd << ": " << r.err;
  }
  // init refuses a non-empty directory.
  r = cv({"init"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("not empty"), std::string::npos) << r.err;
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  } cases[] = {
      {{"backup", "root:" + (tmp_ / "src")}, 2, "must end with .pxar or .tar"},
      {{"backup", "root.tar"}, 2, "is not ARCHIVE:PATH"},
      {{"backup", "--chunk-size", "3M", "root.tar:" + (tmp_ / "src")}, 2, "not allowed"},
      {{"backup", "--chunk-size", "lots", "root.tar:" + (tmp_ / "src")}, 2, "invalid size 'lots'"},
      {{"backup", "root.tar:" + (tmp_ / "missing")}, 1, tmp_ / "missing"},
      {{"backup", "disk.img:" + (tmp_ / "src")}, 2, "neither a regular file nor a block device"},
      {{"backup", "--backup-id", "../x", "root.tar:" + (tmp_ / "src")}, 2, "invalid name '../x'"},
      // Defect: an empty id silently became the hostname.
      {{"backup", "--backup-id", "", "root.tar:" + (tmp_ / "src")}, 2, "must not be empty"},
      // Defect: "Value 0 not in range 0.000000 to 1797..." (310 digits).
      {{"prune", "--keep-last", "0"}, 2, "'0' is not a whole number of at least 1"},
      {{"prune", "--keep-daily", "1.5"}, 2, "'1.5' is not a whole number of at least 1"},
      {{"restore", "host/x", "root.tar", tmp_ / "d"}, 2, "invalid snapshot 'host/x'"},
      {{"restore", "host/x/2020-01-01T00:00:00Z", "root.tar", tmp_ / "d"}, 1, "does not exist"},
  };
  for (const Case& c : cases) {
    r = cv(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args[0] << " " << c.args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(c.message), std::string::npos) << r.err;
  }
  // A failed backup leaves no snapshot behind.
  EXPECT_TRUE(Json(cv({"snapshots", "--json"})).empty());

  std::string snap = Backup({"root.tar:" + (tmp_ / "src")});
  r = cv({"restore", snap, "nope.tar", tmp_ / "d"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has no archive 'nope.tar' (it has: root.tar.didx)"), std::string::npos) << r.err;
  fs::create_directories(tmp_ / "full");
  testing::WriteFile(tmp_ / "full/x", "x");
  r = cv({"restore", snap, "root.tar", tmp_ / "full"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
  EXPECT_EQ(testing::ReadFile(tmp_ / "full/x"), "x");
}

TEST_F(Cli, AnEncryptedChunkInAPlainArchiveIsRefused) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  std::string snap = Backup({"root.tar:" + (tmp_ / "src")});
  // Turn the chunk into an encrypted-kind blob (as an encrypted PBS backup has).
  std::string victim;
  for (auto& e : fs::recursive_directory_iterator(store_ + "/.chunks"))
    if (e.is_regular_file()) victim = e.path().string();
  std::string blob(kEncryptedBlobHeaderSize + 16, '\0');
  std::copy(kEncryptedBlobMagic.begin(), kEncryptedBlobMagic.end(), blob.begin());
  testing::WriteFile(victim, blob);
  RunResult r = cv({"restore", snap, "root.tar", tmp_ / "dst"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("encrypted, but its archive is not"), std::string::npos) << r.err;
}

TEST_F(Cli, EveryCommandHasHelp) {
  const std::vector<std::vector<std::string>> commands = {{"init"},
                                                          {"backup"},
                                                          {"snapshots"},
                                                          {"restore"},
                                                          {"cat"},
                                                          {"verify"},
                                                          {"forget"},
                                                          {"protect"},
                                                          {"unprotect"},
                                                          {"notes"},
                                                          {"inspect"},
                                                          {"s3-refresh"},
                                                          {"cache", "stats"},
                                                          {"gc"},
                                                          {"prune"},
                                                          {"key", "create"},
                                                          {"key", "show"},
                                                          {"key", "change-passphrase"},
                                                          {"key", "create-master-key"},
                                                          {"key", "import-with-master-key"},
                                                          {"key", "paperkey"}};
  for (const std::vector<std::string>& cmd : commands) {
    std::vector<std::string> argv = {CV_BINARY};
    argv.insert(argv.end(), cmd.begin(), cmd.end());
    argv.push_back("--help");
    RunResult r = testing::Run(argv);
    EXPECT_EQ(r.exit_code, 0) << cmd[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << cmd[0] << ": " << r.out;
  }
  RunResult r = testing::Run({CV_BINARY, "--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("backup"), std::string::npos);
}

TEST_F(Cli, ProgressOnlyOnATerminal) {
  Init();
  testing::MakeSampleTree(tmp_ / "src");
  RunResult piped = cv({"backup", "root.tar:" + (tmp_ / "src")});
  ASSERT_EQ(piped.exit_code, 0) << piped.err;
  EXPECT_EQ(piped.err.find('\r'), std::string::npos) << piped.err;
  RunOptions o;
  o.stderr_tty = true;
  RunResult tty = cv({"backup", "root.tar:" + (tmp_ / "src")}, o);
  ASSERT_EQ(tty.exit_code, 0) << tty.err;
  EXPECT_NE(tty.err.find("\r\033[Kbackup: "), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find(" files, "), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find("B/s, dedup"), std::string::npos) << tty.err;
  EXPECT_NE(tty.err.find("dedup"), std::string::npos) << tty.err;
}

TEST_F(Cli, InspectReadsAnIndexWrittenByPbs) {
  RunResult r = testing::Run({CV_BINARY, "inspect", "--json",
                              std::string(CV_TEST_DATA_DIR) + "/backup-client-pxar-data.ppxar.didx"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["magic"], "1c914ea519bab3cd");
  EXPECT_EQ(j["index-csum-check"], "valid");
  EXPECT_EQ(j["entries"], 100);
  EXPECT_EQ(j["first-end"], 1048608);
  EXPECT_EQ(j["last-end"], 104859232);
}

TEST_F(Cli, InspectShowsChunksAndCatchesBadOnes) {
  Init();
  fs::create_directories(tmp_ / "src");
  testing::WriteFile(tmp_ / "src/f", "data");
  Backup({"root.tar:" + (tmp_ / "src")});
  std::string chunk;
  for (auto& e : fs::recursive_directory_iterator(store_ + "/.chunks"))
    if (e.is_regular_file()) chunk = e.path().string();
  std::string digest = fs::path(chunk).filename().string();
  RunResult r = cv({"inspect", "--json", digest});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["type"], "blob");
  EXPECT_EQ(j["crc"], "valid");
  EXPECT_EQ(j["digest"], "matches the file name");
  std::string data = testing::ReadFile(chunk);
  data.back() ^= 1;
  testing::WriteFile(chunk, data);
  r = cv({"inspect", chunk});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("CRC mismatch"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace chunkvault
