// Garbage collection of an S3-backed store on the real Ceph RGW, through
// the binary: backup, forget, gc with a cutoff of 0 minutes removes exactly
// the unused chunks from disk, cache and bucket; a dry run removes nothing.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <csignal>
#include <filesystem>
#include <set>

#include "s3/s3_store_fixture.h"
#include "support/cli_runner.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::CliRunner;

class S3Gc : public testing::S3StoreFixture {
 protected:
  std::set<std::string> BucketChunks() { return testing::Basenames(Keys(name_ + "/.chunks/")); }
};

TEST_F(S3Gc, RemovesExactlyTheUnusedChunksEverywhere) {
  testing::WriteFile(tmp_ / "other.raw", testing::RandomData(800000, 5));
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  const std::string a = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  const std::string b = cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "other.raw")});
  // The chunks b uses, from a local store of its own.
  CliRunner alone(CV_BINARY, tmp_ / "alone");
  alone.Init();
  alone.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "other.raw")});
  const std::set<std::string> used = testing::ChunkFileNames(tmp_ / "alone");
  const std::set<std::string> all = BucketChunks();
  ASSERT_GT(all.size(), used.size() + 5);

  ASSERT_EQ(cv.Run({"forget", a}).exit_code, 0);
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  nlohmann::json dry =
      CliRunner::Json(cv.Run({"gc", "--dry-run", "--atime-cutoff", "0", "--json"}));
  EXPECT_EQ(dry["removed-chunks"], all.size() - used.size());
  EXPECT_EQ(BucketChunks(), all);

  nlohmann::json gc = CliRunner::Json(cv.Run({"gc", "--atime-cutoff", "0", "--json"}));
  EXPECT_EQ(gc["removed-chunks"], all.size() - used.size());
  EXPECT_EQ(gc["removed-objects"], all.size() - used.size());
  EXPECT_GE(gc["s3-requests"]["delete"].get<uint64_t>(), 1u);
  EXPECT_EQ(BucketChunks(), used);
  EXPECT_EQ(testing::ChunkFileNames(tmp_ / "store"), used);
  nlohmann::json stats = CliRunner::Json(cv.Run({"cache", "stats", "--json"}));
  EXPECT_EQ(stats["chunks"], used.size());
  nlohmann::json v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["snapshots-ok"], 1);
  (void)b;
}

// kill -9 of gc at chosen points (CHUNKVAULT_CRASH_AT), then gc again:
// the store verifies, the orphans are gone from disk and bucket.
class S3GcCrash : public S3Gc, public ::testing::WithParamInterface<const char*> {};

TEST_P(S3GcCrash, AKilledGcIsFinishedByTheNextRun) {
  testing::WriteFile(tmp_ / "other.raw", testing::RandomData(800000, 6));
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  const std::string a = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "other.raw")});
  CliRunner alone(CV_BINARY, tmp_ / "alone");
  alone.Init();
  alone.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "other.raw")});
  const std::set<std::string> used = testing::ChunkFileNames(tmp_ / "alone");
  ASSERT_EQ(cv.Run({"forget", a}).exit_code, 0);
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  // Some used chunks without a local trace: the mark writes their markers.
  size_t i = 0;
  for (const std::string& hex : used)
    if (i++ % 3 == 0) fs::remove(tmp_ / ("store/.chunks/" + hex.substr(0, 4) + "/" + hex));

  testing::RunOptions crash;
  crash.env["CHUNKVAULT_CRASH_AT"] = GetParam();
  testing::RunResult killed = cv.Run({"gc", "--atime-cutoff", "0"}, crash);
  ASSERT_EQ(killed.signal, SIGKILL) << "crash point not reached: " << killed.err;
  nlohmann::json v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true) << "a killed gc removed something in use";

  nlohmann::json gc = CliRunner::Json(cv.Run({"gc", "--atime-cutoff", "0", "--json"}));
  EXPECT_EQ(BucketChunks(), used);
  for (const std::string& hex : testing::ChunkFileNames(tmp_ / "store")) EXPECT_TRUE(used.count(hex)) << hex;
  v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["snapshots-ok"], 1);
}

INSTANTIATE_TEST_SUITE_P(AtEveryStage, S3GcCrash,
                         ::testing::Values("gc-marker:2", "gc-marked", "gc-local-removed:1",
                                           "gc-local-removed:7", "gc-objects-deleted:1"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name)
                             if (c == '-' || c == ':') c = '_';
                           return name;
                         });

}  // namespace
}  // namespace chunkvault
