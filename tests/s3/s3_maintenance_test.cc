// Maintenance jobs on the real Ceph RGW, through the binary: backups and
// garbage collection as separate processes at the same time, round after
// round; and a corrupt object found by verify, renamed, and healed by the
// next backup.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "s3/s3_store_fixture.h"
#include "support/cli_runner.h"
#include "support/process.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::CliRunner;
using testing::RunResult;

using S3Maintenance = testing::S3StoreFixture;

TEST_F(S3Maintenance, BackupsBesideGcProcessesLoseNothing) {
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  testing::RunOptions env;
  for (const auto& [k, v] : testing::RgwEnv()) env.env[k] = v;
  env.env["CHUNKVAULT_STORE"] = tmp_ / "store";
  for (int round = 0; round < 20; ++round) {
    // New data and reused data; every snapshot forgotten and every chunk
    // aged: a GC that did not see the running backup would take what the
    // backup reuses.
    testing::WriteFile(tmp_ / "src/dir/changing.bin", testing::RandomData(150000, 500 + round));
    for (const auto& s : CliRunner::Json(cv.Run({"snapshots", "--json"})))
      ASSERT_EQ(cv.Run({"forget", s["snapshot"].get<std::string>()}).exit_code, 0);
    ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
    // Alternate which starts first; the rest of the timing is the OS's.
    std::vector<std::string> backup = {CV_BINARY, "backup", "--chunk-size", "64K",
                                       "root.tar:" + (tmp_ / "src")};
    std::vector<std::string> gc = {CV_BINARY, "gc", "--atime-cutoff", "0"};
    if (round % 2) std::swap(backup, gc);
    testing::Process first(backup, env);
    testing::Process second(gc, env);
    RunResult r1 = first.Wait(), r2 = second.Wait();
    ASSERT_EQ(r1.exit_code, 0) << r1.err;
    ASSERT_EQ(r2.exit_code, 0) << r2.err;
    nlohmann::json v = CliRunner::Json(cv.Run({"verify", "--json"}));
    ASSERT_EQ(v["ok"], true) << "round " << round << ": " << v.dump(2);
    ASSERT_EQ(v["snapshots-ok"], 1);
  }
}

TEST_F(S3Maintenance, ACorruptObjectIsFoundNamedRenamedAndHealed) {
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  const std::string snap = cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "disk.raw")});
  const std::vector<std::string> keys = Keys(name_ + "/.chunks/");
  ASSERT_GT(keys.size(), 3u);
  const std::string key = keys[1];
  Bytes blob = *bucket_->Get(key);
  blob[blob.size() / 2] ^= 0x01;
  ASSERT_TRUE(bucket_->Put(key, blob, PutMode::kOverwrite).has_value());

  RunResult r = cv.Run({"verify", "--json"});
  EXPECT_EQ(r.exit_code, 1);
  nlohmann::json v = nlohmann::json::parse(r.out);
  ASSERT_EQ(v["bad-chunks"].size(), 1u);
  EXPECT_EQ(v["bad-chunks"][0]["digest"], key.substr(key.rfind('/') + 1));
  EXPECT_NE(v["bad-chunks"][0]["error"].get<std::string>().find(key), std::string::npos)
      << v["bad-chunks"][0]["error"];
  EXPECT_NE(v["bad-chunks"][0]["renamed-to"].get<std::string>().find(key + ".0.bad"),
            std::string::npos);
  EXPECT_TRUE(bucket_->Head(key + ".0.bad")->has_value());
  EXPECT_FALSE(bucket_->Head(key)->has_value());
  // The snapshot's manifest records the failed verification.
  auto list = CliRunner::Json(cv.Run({"snapshots", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["verification"], "failed") << list.dump(2);

  // The next backup of the same data uploads a good copy; all verifies.
  cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "disk.raw")});
  EXPECT_TRUE(bucket_->Head(key)->has_value());
  v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true) << v.dump(2);
  EXPECT_EQ(v["snapshots-ok"], 2);

  // The bad copy goes at the first GC after the cutoff, locally and from
  // the bucket (the good copy stays: both snapshots use it).
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  nlohmann::json gc = CliRunner::Json(cv.Run({"gc", "--atime-cutoff", "30", "--json"}));
  EXPECT_EQ(gc["removed-bad"], 1) << gc.dump(2);
  EXPECT_EQ(gc["still-bad"], 0);
  EXPECT_EQ(gc["removed-chunks"], 0);
  EXPECT_FALSE(bucket_->Head(key + ".0.bad")->has_value());
  EXPECT_TRUE(bucket_->Head(key)->has_value());
  for (const std::string& f : testing::ChunkFileNames(tmp_ / "store"))
    EXPECT_FALSE(f.ends_with(".bad")) << f;
  (void)snap;
}

}  // namespace
}  // namespace chunkvault
