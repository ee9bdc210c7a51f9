// Whole jobs on the real Ceph RGW behind a proxy that injects faults (503
// SlowDown, resets before and in the middle of answers, delays): backup,
// restore from the bucket, verify, forget and gc all complete and lose
// nothing. A permanent error stops the job naming the server's error code,
// leaves nothing half-deleted, and credentials never show.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <set>

#include "s3/s3_store_fixture.h"
#include "support/cli_runner.h"
#include "support/store_check.h"
#include "support/fault_proxy.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

namespace fs = std::filesystem;
using testing::CliRunner;
using testing::RunResult;

class S3Faults : public testing::S3StoreFixture {
 protected:
  std::vector<std::string> InitThrough(const testing::FaultProxy& proxy) const {
    return {"--name",         name_,         "--s3-endpoint",
            proxy.url(),      "--s3-bucket", testing::Rgw().bucket,
            "--s3-path-style"};
  }
  void ExpectNoSecrets(const RunResult& r) {
    for (const auto& [k, v] : testing::RgwEnv())
      if (k == "AWS_SECRET_ACCESS_KEY") {
        EXPECT_EQ(r.err.find(v), std::string::npos);
        EXPECT_EQ(r.out.find(v), std::string::npos);
      }
  }
};

TEST_F(S3Faults, JobsCompleteThroughAFlakyNetwork) {
  testing::FaultRates rates;
  rates.slow_down = rates.reset = rates.cut_answer = rates.delay = 0.06;
  rates.delay_ms = 200;
  testing::FaultProxy proxy(testing::Rgw().endpoint, rates, 7);
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(InitThrough(proxy));
  const std::string a = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  const std::string b = cv.Backup(
      {"--chunk-size", "64K", "root.tar:" + (tmp_ / "src"), "disk.img:" + (tmp_ / "disk.raw")});
  // Restore from the bucket alone (cache emptied), byte for byte.
  RemoveLocalChunks(tmp_ / "store");
  RunResult r = cv.Run({"restore", b, tmp_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(testing::CompareTrees(tmp_ / "src", tmp_ / "dst/root"), std::vector<std::string>{});
  // Each retry was told on stderr, naming the request, without secrets.
  std::string told = r.err;
  ExpectNoSecrets(r);
  EXPECT_EQ(testing::ReadFile(tmp_ / "dst/disk.img"), testing::ReadFile(tmp_ / "disk.raw"));
  nlohmann::json v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true) << v.dump(2);
  // Forget and collect: the image's chunks stay, nothing b needs goes.
  ASSERT_EQ(cv.Run({"forget", a}).exit_code, 0);
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  r = cv.Run({"gc", "--atime-cutoff", "0", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  told += r.err;
  ExpectNoSecrets(r);
  v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true) << v.dump(2);
  EXPECT_EQ(v["snapshots-ok"], 1);
  EXPECT_NE(told.find("chunkvault: retrying: S3 "), std::string::npos) << told;
  EXPECT_NE(told.find(" of 5 in "), std::string::npos) << told;

  auto injected = proxy.injected();
  for (const char* kind : {"slow-down", "reset", "cut-answer", "delay"})
    EXPECT_GT(injected[kind], 0) << kind << " never injected";
  EXPECT_GT(proxy.forwarded(), 50);
  std::printf(
      "requests forwarded whole: %d; injected: %d slow-down, %d reset, %d cut-answer, %d delay\n",
      proxy.forwarded(), injected["slow-down"], injected["reset"], injected["cut-answer"],
      injected["delay"]);
}

TEST_F(S3Faults, APermanentErrorStopsGcNamingTheCodeAndHalfDeletesNothing) {
  testing::FaultProxy proxy(testing::Rgw().endpoint, {}, 1);
  CliRunner cv = Runner(tmp_ / "store");
  cv.Init(InitThrough(proxy));
  const std::string a = cv.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src")});
  const std::string b = cv.Backup({"--chunk-size", "64K", "disk.img:" + (tmp_ / "disk.raw")});
  ASSERT_EQ(cv.Run({"forget", a}).exit_code, 0);
  ASSERT_TRUE(testing::AgeChunkFiles(tmp_ / "store", 3600));
  const std::vector<std::string> before = Keys(name_ + "/.chunks/");

  proxy.AnswerAlways("?delete", 403, "AccessDenied");  // DeleteObjects
  RunResult r = cv.Run({"gc", "--atime-cutoff", "0"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("AccessDenied"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(name_ + "/.chunks/"), std::string::npos) << "names the keys: " << r.err;
  ExpectNoSecrets(r);
  EXPECT_EQ(Keys(name_ + "/.chunks/"), before) << "no object was deleted";
  // b is whole: verify reads every chunk from the bucket.
  nlohmann::json v = CliRunner::Json(cv.Run({"verify", "--json"}));
  EXPECT_EQ(v["ok"], true) << v.dump(2);
  (void)b;
}

}  // namespace
}  // namespace chunkvault
