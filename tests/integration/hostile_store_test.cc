// A store's contents are untrusted: snapshots written into it by hand, with
// valid blobs, indexes and manifests around hostile contents, never make a
// command crash, hang or write outside its target (docs/security.md).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "chunkvault/blob.h"
#include "chunkvault/env.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "support/cli_runner.h"
#include "support/process.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

// Long enough for any of these commands on a small store; a run past it
// is a hang.
constexpr int kHangSeconds = 60;

class HostileStore : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = tmp_ / "store";
    runner().Init();
    testing::MakeSampleTree(tmp_ / "src");
  }

  testing::CliRunner runner() const { return testing::CliRunner(CV_BINARY, store_); }
  RunResult cv(std::vector<std::string> args) {
    RunOptions options;
    options.timeout_seconds = kHangSeconds;
    RunResult r = runner().Run(std::move(args), options);
    EXPECT_FALSE(r.timed_out) << "hung";
    EXPECT_EQ(r.signal, 0) << "killed by signal " << r.signal << ": " << r.err;
    return r;
  }
  std::string Backup(const std::string& id) {
    return runner().Backup(
        {"--backup-id", id, "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  }
  std::string Dir(const std::string& snap) const { return store_ + "/" + snap; }

  nlohmann::json ReadManifest(const std::string& snap) const {
    const std::string raw = testing::ReadFile(Dir(snap) + "/index.json.blob");
    auto data = DecodeBlob(AsBytes(raw));
    EXPECT_TRUE(data.has_value());
    return nlohmann::json::parse(AsString(*data));
  }
  // Writes `j` as the snapshot's manifest, a valid blob like any writer's.
  void WriteManifest(const std::string& snap, const nlohmann::json& j) const {
    const Bytes blob = EncodeBlob(AsBytes(j.dump(2)), true);
    testing::WriteFile(Dir(snap) + "/index.json.blob", std::string(AsString(blob)));
  }

  // Replaces a snapshot's index file by `bytes` and makes the manifest
  // agree with it (size, checksum, file digest): a consistent snapshot
  // whose index lies about its chunks.
  void ReplaceIndex(const std::string& snap, const std::string& file, const Bytes& bytes,
                    uint64_t size, const Digest& csum) const {
    testing::WriteFile(Dir(snap) + "/" + file, std::string(AsString(bytes)));
    nlohmann::json m = ReadManifest(snap);
    for (auto& f : m["files"])
      if (f["filename"] == file) f["size"] = size, f["csum"] = ToHex(csum);
    m["unprotected"]["chunkvault"]["file-sha256"][file] = ToHex(Sha256Of(bytes));
    WriteManifest(snap, m);
  }

  // A chunk file of the snapshots, the one with the most data.
  std::string SomeChunk() const {
    std::string victim;
    uintmax_t size = 0;
    for (const std::string& p : testing::ChunkFilePaths(store_))
      if (fs::file_size(p) > size) size = fs::file_size(p), victim = p;
    EXPECT_FALSE(victim.empty());
    return victim;
  }

  TempDir tmp_;
  std::string store_;
};

// Defect: "../escape-from-manifest.blob" in files[] made `restore SNAPSHOT
// TARGET` write into TARGET's parent, and verify passed it.
TEST_F(HostileStore, AManifestNamingAFileOutsideItsSnapshotIsRefused) {
  const std::string snap = Backup("box");
  const Bytes blob = EncodeBlob(AsBytes("escaped"), true);
  testing::WriteFile(Dir(snap) + "/../escape-from-manifest.blob", std::string(AsString(blob)));
  nlohmann::json m = ReadManifest(snap);
  m["files"].push_back({{"filename", "../escape-from-manifest.blob"},
                        {"crypt-mode", "none"},
                        {"size", blob.size()},
                        {"csum", ToHex(Sha256Of(blob))}});
  WriteManifest(snap, m);
  fs::create_directories(tmp_ / "out/target");

  RunResult r = cv({"restore", snap, tmp_ / "out/target"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("../escape-from-manifest.blob"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(snap), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "out/escape-from-manifest"));
  EXPECT_TRUE(fs::is_empty(tmp_ / "out/target"));

  r = cv({"verify", snap});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("../escape-from-manifest.blob"), std::string::npos) << r.err;
}

// Defect: a number as unprotected.chunkvault.file-sha256's value aborted
// snapshots, verify, restore and cat (an uncaught json type_error): one
// damaged manifest hid the whole store.
TEST_F(HostileStore, AManifestFieldOfTheWrongTypeDamagesOnlyItsSnapshot) {
  const std::string good = Backup("good");
  const std::string bad = Backup("bad");
  nlohmann::json m = ReadManifest(bad);
  m["unprotected"]["chunkvault"]["file-sha256"]["root.tar.didx"] = 12345;
  WriteManifest(bad, m);

  RunResult r = cv({"snapshots"});
  EXPECT_NE(r.out.find(good), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(bad), std::string::npos) << r.out;
  EXPECT_NE((r.out + r.err).find("file-sha256"), std::string::npos) << r.out << r.err;
  for (std::vector<std::string> args : {std::vector<std::string>{"verify", bad},
                                        {"restore", bad, "root.tar", tmp_ / "dst"},
                                        {"cat", bad, "root.tar"}}) {
    r = cv(args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_NE(r.err.find("file-sha256"), std::string::npos) << args[0] << ": " << r.err;
  }
  r = cv({"restore", good, "root.tar", tmp_ / "good"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "good"), std::vector<std::string>{});
}

// Defect: a FIFO in place of a chunk file hung verify and restore; a
// symlink to /dev/zero was read until std::bad_alloc.
TEST_F(HostileStore, AChunkThatIsNoRegularFileIsAnErrorNotAHang) {
  const std::string snap = Backup("box");
  const std::string chunk = SomeChunk();
  const std::string digest = fs::path(chunk).filename();
  struct Case {
    const char* what;
    std::function<void()> make;
  } cases[] = {
      {"FIFO", [&] { ASSERT_EQ(::mkfifo(chunk.c_str(), 0644), 0); }},
      {"symlink", [&] { fs::create_symlink("/dev/zero", chunk); }},
  };
  for (const Case& c : cases) {
    fs::remove(chunk);
    c.make();
    RunResult r = cv({"restore", snap, "root.tar", tmp_ / ("dst-" + std::string(c.what))});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find(digest), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(c.what), std::string::npos) << r.err;
    r = cv({"verify", snap});
    EXPECT_EQ(r.exit_code, 1) << c.what;
    EXPECT_NE((r.out + r.err).find(digest), std::string::npos) << r.out << r.err;
  }
}

// A manifest is its directory's: one copied to another snapshot's place
// (type, id or time differ) is damage that verify names.
TEST_F(HostileStore, AManifestOfAnotherSnapshotIsDamage) {
  const std::string snap = Backup("box");
  const std::string moved = "host/box/2001-01-01T00:00:00Z";
  fs::copy(Dir(snap), Dir(moved), fs::copy_options::recursive);
  RunResult r = cv({"verify", moved});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the manifest is of snapshot " + snap), std::string::npos) << r.err;
  r = cv({"verify", snap});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

// Defect: an index consistent with its manifest whose offsets disagree
// with its chunks verified ok, and restore failed later. Verify checks
// every chunk's size against its index span and names both.
TEST_F(HostileStore, VerifyChecksEveryChunkAgainstItsIndexSpan) {
  const std::string snap = Backup("box");
  const std::string didx = testing::ReadFile(Dir(snap) + "/root.tar.didx");
  auto dyn = DynamicIndex::Parse(AsBytes(didx));
  ASSERT_TRUE(dyn.has_value());
  dyn->entries.back().end = ~uint64_t(0);
  ReplaceIndex(snap, "root.tar.didx", dyn->Encode(), dyn->size(), dyn->ComputeChecksum());
  RunResult r = cv({"verify", snap});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("root.tar.didx: chunk " + std::to_string(dyn->entries.size() - 1)),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(ToHex(dyn->entries.back().digest)), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("the index says"), std::string::npos) << r.err;

  // An image whose fixed index claims 1 TiB chunks: one chunk for it all.
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(3 << 20, 4));
  const std::string img = runner().Backup(
      {"--backup-id", "vm", "--chunk-size", "1M", "disk.img:" + (tmp_ / "disk.raw")});
  auto fixed = FixedIndex::Parse(AsBytes(testing::ReadFile(Dir(img) + "/disk.img.fidx")));
  ASSERT_TRUE(fixed.has_value());
  fixed->chunk_size = uint64_t(1) << 40;
  fixed->digests.resize(1);
  ReplaceIndex(img, "disk.img.fidx", fixed->Encode(), fixed->size, fixed->ComputeChecksum());
  r = cv({"verify", img});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("holds 1048576 bytes, the index says 3145728"), std::string::npos) << r.err;
}

// Defect: with one snapshot's index missing, `snapshots` exited 1 without
// naming it and --json said "ok"; gc --dry-run kept quiet about missing
// chunks that gc reported. One notion of damage: snapshots, verify, gc and
// its dry run name the same snapshot and fail alike; prune keeps a damaged
// snapshot without counting it; forget removes it.
TEST_F(HostileStore, ADamagedSnapshotIsNamedAlikeEverywhere) {
  const std::string older = Backup("box");
  std::string damaged;
  do damaged = Backup("box");
  while (damaged == older);
  fs::remove(Dir(damaged) + "/root.tar.didx");

  auto row_of = [](const std::string& out, const std::string& snap) {
    const size_t at = out.find(snap);
    return at == std::string::npos ? std::string() : out.substr(at, out.find('\n', at) - at);
  };
  RunResult r = cv({"snapshots"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(row_of(r.out, damaged).find("DAMAGED"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, damaged).find("root.tar.didx"), std::string::npos) << r.out;
  EXPECT_EQ(row_of(r.out, older).find("DAMAGED"), std::string::npos) << r.out;
  EXPECT_NE(row_of(r.out, older), "");
  r = cv({"snapshots", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  for (const auto& s : nlohmann::json::parse(r.out)) {
    if (s["snapshot"] == damaged) {
      ASSERT_TRUE(s.contains("damaged")) << s.dump();
      EXPECT_NE(s["damaged"].get<std::string>().find("root.tar.didx"), std::string::npos);
    } else {
      EXPECT_FALSE(s.contains("damaged")) << s.dump();
    }
  }
  r = cv({"verify", damaged});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("root.tar.didx"), std::string::npos) << r.err;

  // A chunk of the sound snapshot goes missing too.
  const std::string chunk = SomeChunk();
  fs::remove(chunk);
  RunResult dry = cv({"gc", "--dry-run", "--json"});
  RunResult real = cv({"gc", "--json"});
  EXPECT_EQ(dry.exit_code, 1);
  EXPECT_EQ(real.exit_code, 1);
  auto d = nlohmann::json::parse(dry.out), g = nlohmann::json::parse(real.out);
  EXPECT_EQ(d["missing-chunks"], g["missing-chunks"]);
  EXPECT_EQ(d["damaged-snapshots"], g["damaged-snapshots"]);
  EXPECT_EQ(d["missing-chunks"], nlohmann::json::array({fs::path(chunk).filename().string()}));
  ASSERT_EQ(d["damaged-snapshots"].size(), 1u);
  EXPECT_NE(d["damaged-snapshots"][0].get<std::string>().find(damaged), std::string::npos);

  // prune keeps the damaged one and counts the sound one as the last.
  r = cv({"prune", "--keep-last", "1", "--json"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json pruned = nlohmann::json::parse(r.out);
  for (const auto& e : pruned["snapshots"])
    EXPECT_EQ(e["mark"], e["snapshot"] == damaged ? "damaged" : "keep") << e.dump();
  r = cv({"forget", damaged});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(fs::exists(Dir(damaged)));
}

// Defect: a backup killed while writing a chunk, an index or the manifest
// left its temporary file forever. GC removes those older than its cutoff
// and says how many; a dry run counts the same and removes nothing.
TEST_F(HostileStore, GcRemovesWhatKilledWritersLeft) {
  Backup("box");
  testing::WriteFile(tmp_ / "src/new", testing::RandomData(300000, 8));
  for (const char* point : {"chunk-tmp-partial", "index-tmp-partial", "manifest-tmp-partial"}) {
    RunOptions o;
    o.env["CHUNKVAULT_CRASH_AT"] = point;
    RunResult killed = runner().Run(
        {"backup", "--backup-id", "box", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")}, o);
    ASSERT_EQ(killed.signal, SIGKILL) << point << ": " << killed.err;
  }
  auto temporaries = [&] {
    std::vector<std::string> found;
    for (const auto& e : fs::recursive_directory_iterator(store_))
      if (IsTemporaryFileName(e.path().filename().string())) found.push_back(e.path());
    return found;
  };
  const size_t left = temporaries().size();
  ASSERT_GE(left, 3u);
  RunResult dry = cv({"gc", "--dry-run", "--json", "--atime-cutoff", "0"});
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(nlohmann::json::parse(dry.out)["removed-temporary"], left);
  EXPECT_EQ(temporaries().size(), left);
  RunResult gc = cv({"gc", "--json", "--atime-cutoff", "0"});
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  EXPECT_EQ(nlohmann::json::parse(gc.out)["removed-temporary"], left);
  EXPECT_EQ(temporaries(), std::vector<std::string>{});
}

// The members of a whole-snapshot restore get names from the snapshot: in
// an overwritten target, a symlink of such a name is not followed, for a
// tree or an image.
TEST_F(HostileStore, AWholeSnapshotRestoreFollowsNoSymlinkInItsTarget) {
  testing::WriteFile(tmp_ / "disk.raw", testing::RandomData(100000, 5));
  const std::string snap = runner().Backup({"--backup-id", "box", "root.tar:" + (tmp_ / "src"),
                                            "disk.img:" + (tmp_ / "disk.raw")});
  fs::create_directories(tmp_ / "outside");
  testing::WriteFile(tmp_ / "victim", "keep");
  for (const auto& [member, to] : {std::pair<std::string, std::string>{"root", tmp_ / "outside"},
                                   {"disk.img", tmp_ / "victim"}}) {
    const std::string target = tmp_ / ("target-" + member);
    fs::create_directories(target);
    fs::create_symlink(to, target + "/" + member);
    RunResult r = cv({"restore", "--overwrite", snap, target});
    EXPECT_EQ(r.exit_code, 1) << member;
    EXPECT_NE(r.err.find("is a symlink (not followed)"), std::string::npos) << r.err;
  }
  EXPECT_TRUE(fs::is_empty(tmp_ / "outside"));
  EXPECT_EQ(testing::ReadFile(tmp_ / "victim"), "keep");
}

// Defect: under umask 000 the store root, host/, the group directory and
// .writers were created 0777. Modes do not depend on the umask: no
// directory is group- or world-writable, no file readable by others.
TEST(StoreModes, APermissiveUmaskOpensNothing) {
  TempDir tmp;
  testing::MakeSampleTree(tmp / "src");
  const std::string store = tmp / "store";
  testing::CliRunner cli(CV_BINARY, store);
  const mode_t old = ::umask(0);
  cli.Init();
  cli.Backup({"--backup-id", "box", "root.tar:" + (tmp / "src")});
  RunResult gc = cli.Run({"gc"});
  ::umask(old);
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  size_t dirs = 0, files = 0;
  auto check = [&](const fs::path& p) {
    struct stat st;
    ASSERT_EQ(::lstat(p.c_str(), &st), 0) << p;
    if (S_ISDIR(st.st_mode)) {
      ++dirs;
      EXPECT_EQ(st.st_mode & 027, 0u) << p << " has mode " << std::oct << (st.st_mode & 07777);
    } else {
      ++files;
      EXPECT_EQ(st.st_mode & 037, 0u) << p << " has mode " << std::oct << (st.st_mode & 07777);
    }
  };
  check(store);
  for (const auto& e : fs::recursive_directory_iterator(store)) check(e.path());
  EXPECT_GT(dirs, 65536u);  // .chunks/0000..ffff and the snapshot's
  EXPECT_GT(files, 3u);
}

}  // namespace
}  // namespace chunkvault
