// S3-backed datastores against a real Ceph RGW, driven through the
// chunkvault binary as a user would: the bucket layout, restores from the
// bucket, forget, the .in-use claim, s3-refresh, unreachable endpoints and
// missing buckets, and secrets that never show.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "backend/s3/s3_backend.h"
#include "chunkvault/blob.h"
#include "chunkvault/index.h"
#include "s3/rgw.h"
#include "s3/s3_store_fixture.h"
#include "support/cli_runner.h"
#include "support/store_check.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::CliRunner;
using testing::RunOptions;
using testing::RunResult;
using testing::TempDir;

using S3Datastore = testing::S3StoreFixture;

TEST_F(S3Datastore, BackupFillsTheBucketAndRestoresFromIt) {
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  std::string snap = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src"),
                                "disk.img:" + (tmp_ / "disk.raw")});
  ASSERT_FALSE(snap.empty());
  const std::string time = snap.substr(snap.rfind('/') + 1);
  const std::string id = snap.substr(5, snap.rfind('/') - 5);

  // Each chunk under its PBS key, with bytes that decode to the digest.
  auto chunk_keys = Keys(name_ + "/.chunks/");
  ASSERT_GT(chunk_keys.size(), 10u);
  for (const std::string& key : chunk_keys) {
    const std::string hex = key.substr(key.rfind('/') + 1);
    ASSERT_EQ(key, name_ + "/.chunks/" + hex.substr(0, 4) + "/" + hex);
    auto data = DecodeChunk(*bucket_->Get(key), *DigestFromHex(hex));
    EXPECT_TRUE(data.has_value()) << key << ": " << data.error().message();
  }
  // The snapshot's indexes and manifest under .cnt/, as they are locally.
  const std::string cnt = name_ + "/.cnt/host/" + id + "/" + time + "/";
  EXPECT_EQ(Keys(cnt), (std::vector<std::string>{cnt + "disk.img.fidx", cnt + "index.json.blob",
                                                  cnt + "root.tar.didx"}));
  auto didx = bucket_->Get(cnt + "root.tar.didx");
  ASSERT_TRUE(didx.has_value());
  EXPECT_TRUE(DynamicIndex::Parse(*didx).has_value());
  EXPECT_EQ(AsString(*didx), testing::ReadFile(tmp_ / ("store/host/" + id + "/" + time + "/root.tar.didx")));
  EXPECT_EQ(Keys(name_ + "/.in-use").size(), 1u);

  // Without any local chunk, restores come from the bucket, byte for byte.
  RemoveLocalChunks(tmp_ / "store");
  RunResult r = cv.Run({"restore", snap, "root.tar", tmp_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "dst"), std::vector<std::string>{});
  RemoveLocalChunks(tmp_ / "store");
  r = cv.Run({"cat", snap, "disk.img"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(r.out == testing::ReadFile(tmp_ / "disk.raw"));
  // verify reads the bucket's copies.
  RemoveLocalChunks(tmp_ / "store");
  r = cv.Run({"verify"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;

  // A second backup of the same data uploads nothing new.
  auto again = CliRunner::Json(cv.Run({"backup", "--json", "--chunk-size", "64K",
                                       "root.tar:" + (tmp_ / "src"), "disk.img:" + (tmp_ / "disk.raw")}));
  EXPECT_EQ(again["new-chunks"], 0);
  EXPECT_EQ(Keys(name_ + "/.chunks/").size(), chunk_keys.size());
}

TEST_F(S3Datastore, ForgetRemovesTheSnapshotsObjects) {
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  std::string keep = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  std::string drop = cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "disk.raw")});
  const std::string id = drop.substr(5, drop.rfind('/') - 5);
  const std::string drop_prefix = name_ + "/.cnt/host/" + id + "/" + drop.substr(drop.rfind('/') + 1) + "/";
  EXPECT_EQ(Keys(drop_prefix).size(), 2u);
  RunResult r = cv.Run({"forget", drop});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Keys(drop_prefix).empty());
  EXPECT_FALSE(Keys(name_ + "/.cnt/host/" + id + "/" + keep.substr(keep.rfind('/') + 1) + "/").empty());
}

TEST_F(S3Datastore, ThePrefixIsClaimedAndCanBeAdopted) {
  CliRunner a = Runner(tmp_ / "a");
  a.Init(S3Init());
  std::string snap = a.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  CliRunner b = Runner(tmp_ / "b");
  auto init = S3Init();
  init.insert(init.begin(), "init");
  RunResult r = b.Run(init);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--reuse-datastore"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(name_ + "/"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "b/.chunks"));
  init.push_back("--reuse-datastore");
  r = b.Run(init);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto list = CliRunner::Json(b.Run({"snapshots", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["snapshot"], snap);
  r = b.Run({"restore", snap, "root.tar", tmp_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "dst"), std::vector<std::string>{});
}

TEST_F(S3Datastore, TheBucketInTheHostNameWorksEndToEnd) {
  // No --s3-path-style and an endpoint by host name: requests go to
  // <bucket>.localhost, as they would to <bucket>.s3.<region>.amazonaws.com.
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init({"--name", name_, "--s3-endpoint", testing::RgwEndpointByName(), "--s3-bucket",
           testing::Rgw().bucket});
  std::string snap = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  EXPECT_FALSE(Keys(name_ + "/.chunks/").empty());
  RemoveLocalChunks(tmp_ / "store");  // the restore must fetch from the bucket
  RunResult r = cv.Run({"restore", snap, "root.tar", tmp_ / "back"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "back"), std::vector<std::string>{});
  auto report = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(report["bad-chunks"].size(), 0u);
  EXPECT_EQ(report["snapshots-failed"], 0);
}

TEST_F(S3Datastore, RefreshRebuildsLostMetadata) {
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(S3Init());
  std::string snap = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  ASSERT_EQ(cv.Run({"notes", snap, "--set", "keep me"}).exit_code, 0);
  fs::remove_all(tmp_ / "store/host");
  RemoveLocalChunks(tmp_ / "store");
  EXPECT_TRUE(CliRunner::Json(cv.Run({"snapshots", "--json"})).empty());
  RunResult r = cv.Run({"s3-refresh", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GE(CliRunner::Json(r)["files"].get<int>(), 3);
  auto list = CliRunner::Json(cv.Run({"snapshots", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["comment"], "keep me");
  EXPECT_EQ(cv.Run({"verify"}).exit_code, 0);
  // From the bucket alone, byte for byte.
  RunResult restored = cv.Run({"restore", snap, "root.tar", tmp_ / "back"});
  ASSERT_EQ(restored.exit_code, 0) << restored.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "back"), std::vector<std::string>{});
}

TEST_F(S3Datastore, AnUnreachableEndpointIsNamedAndHarmsNothing) {
  CliRunner cv = Runner(tmp_ / "new");
  RunResult r = cv.Run({"init", "--name", name_, "--s3-endpoint", "http://127.0.0.1:1", "--s3-bucket",
                        "test", "--s3-path-style"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bucket 'test' at http://127.0.0.1:1"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("attempts"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "new/.chunks"));

  // A working store whose endpoint goes away.
  CliRunner ok = Runner(tmp_ / "store");
  ok.Init(S3Init());
  std::string snap = ok.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  const std::string config_path = tmp_ / "store/.chunkvault.json";
  auto config = nlohmann::json::parse(testing::ReadFile(config_path));
  config["s3"]["endpoint"] = "http://127.0.0.1:1";
  testing::WriteFile(config_path, config.dump(2));
  testing::WriteFile(tmp_ / "src/new-file", testing::RandomData(300000, 99));
  r = ok.Run({"backup", "--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("http://127.0.0.1:1"), std::string::npos) << r.err;
  // The local datastore is as it was: one complete snapshot, no leftovers.
  auto list = CliRunner::Json(ok.Run({"snapshots", "--json"}));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["snapshot"], snap);
  EXPECT_EQ(testing::IncompleteSnapshots(tmp_ / "store"), std::vector<std::string>{});
  EXPECT_EQ(testing::CheckStoreFiles(tmp_ / "store"), std::vector<std::string>{});
  // The local copies are all good; only recording the result in the
  // bucket's manifests fails, and verify says so.
  auto report = nlohmann::json::parse(ok.Run({"verify", "--use-cache", "--json"}).out);
  EXPECT_EQ(report["bad-chunks"].size(), 0u);
  EXPECT_EQ(report["snapshots-failed"], 0);
  ASSERT_EQ(report["errors"].size(), 1u);
  EXPECT_NE(report["errors"][0].get<std::string>().find("recording the result"), std::string::npos);
}

TEST_F(S3Datastore, AMissingBucketIsNamed) {
  CliRunner cv = Runner(tmp_ / "store");
  RunResult r = cv.Run({"init", "--name", name_, "--s3-endpoint", testing::Rgw().endpoint,
                        "--s3-bucket", "no-such-bucket-xyz", "--s3-path-style"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("bucket 'no-such-bucket-xyz' does not exist at " + testing::Rgw().endpoint),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(fs::exists(tmp_ / "store/.chunks"));
}

TEST_F(S3Datastore, SecretsNeverShow) {
  CliRunner cv = Runner(tmp_ / "store");
  std::string everything;
  auto run = [&](std::vector<std::string> args) {
    RunResult r = cv.Run(args);
    everything += r.out + r.err;
    return r;
  };
  auto init = S3Init();
  init.insert(init.begin(), "init");
  ASSERT_EQ(run(init).exit_code, 0);
  std::string snap = cv.Backup({"root.tar:" + (tmp_ / "src")});
  run({"snapshots"});
  run({"verify"});
  // A wrong secret: the error names the key id, not the secret.
  RunOptions wrong;
  wrong.env["AWS_SECRET_ACCESS_KEY"] = "wrong-secret-that-must-not-show";
  RunResult bad = cv.Run({"restore", snap, "root.tar", tmp_ / "x"}, wrong);
  RemoveLocalChunks(tmp_ / "store");
  bad = cv.Run({"restore", snap, "root.tar", tmp_ / "y"}, wrong);
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find(testing::Rgw().access_key), std::string::npos) << bad.err;
  EXPECT_EQ(bad.err.find("wrong-secret-that-must-not-show"), std::string::npos) << bad.err;
  everything += bad.out + bad.err;
  EXPECT_EQ(everything.find(testing::Rgw().secret_key), std::string::npos);
  // Nor are they stored with the datastore.
  for (auto& e : fs::recursive_directory_iterator(tmp_ / "store")) {
    if (e.is_regular_file() && e.file_size() < (1 << 20)) {
      EXPECT_EQ(testing::ReadFile(e.path()).find(testing::Rgw().secret_key), std::string::npos) << e.path();
    }
  }
  // Without credentials, local metadata still reads; the bucket is refused clearly.
  RunOptions none;
  none.unset_env = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"};
  none.env["HOME"] = tmp_.path();
  RunResult list = cv.Run({"snapshots", "--json"}, none);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  RunResult restore = cv.Run({"restore", snap, "root.tar", tmp_ / "z"}, none);
  EXPECT_EQ(restore.exit_code, 1);
  EXPECT_NE(restore.err.find("AWS_ACCESS_KEY_ID"), std::string::npos) << restore.err;
  EXPECT_NE(restore.err.find("bucket '" + testing::Rgw().bucket + "' at " + testing::Rgw().endpoint +
                             " cannot be used: no S3 credentials"),
            std::string::npos)
      << restore.err;
}

}  // namespace
}  // namespace chunkvault
