// The local chunk cache against a real Ceph RGW, through the chunkvault
// binary, counting the S3 requests each command reports (--json): a
// restore right after a backup makes no chunk GETs, deleted cached files
// are fetched again one by one, a new process finds the cache warm, a
// verify without admission leaves the working set, and `cache stats` adds
// it all up.
#include <gtest/gtest.h>

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

class S3Cache : public testing::S3StoreFixture {
 protected:
  void SetUp() override {
    S3StoreFixture::SetUp();
    cv_.Init(S3Init());
    snap_ = cv_.Backup({"--chunk-size", "64K", "root.tar:" + (tmp_ / "src"),
                        "disk.img:" + (tmp_ / "disk.raw")});
    ASSERT_FALSE(snap_.empty());
  }

  // Restores the snapshot into a new directory, checks it, and returns
  // the command's JSON report.
  nlohmann::json Restore(std::vector<std::string> extra = {}) {
    const std::string dst = tmp_ / ("dst" + std::to_string(restores_++));
    std::vector<std::string> args = {"restore", "--json", snap_, dst};
    args.insert(args.end(), extra.begin(), extra.end());
    nlohmann::json j = CliRunner::Json(cv_.Run(args));
    EXPECT_EQ(testing::CompareTrees(tmp_ / "src", dst + "/root"), std::vector<std::string>{});
    EXPECT_EQ(testing::ReadFile(dst + "/disk.img"), testing::ReadFile(tmp_ / "disk.raw"));
    return j;
  }

  // The store's non-empty chunk files (cached) or empty ones (markers).
  std::vector<std::string> ChunkFiles(bool markers) {
    return testing::ChunkFilePaths(tmp_ / "store", markers ? testing::ChunkFileKind::kMarker
                                                           : testing::ChunkFileKind::kCached);
  }

  CliRunner cv_ = Runner(tmp_ / "store");
  std::string snap_;
  int restores_ = 0;
};

TEST_F(S3Cache, ARestoreAfterABackupMakesNoChunkGets) {
  nlohmann::json r = Restore();
  EXPECT_EQ(r["s3-requests"]["get"], 0) << r.dump(2);
  EXPECT_EQ(r["cache"]["misses"], 0);
  EXPECT_GT(r["cache"]["hits"].get<uint64_t>(), 10u);
  EXPECT_EQ(r["cache"]["chunks"].get<size_t>(), ChunkFiles(false).size());
  // A restart is every command: this one is a new process again.
  EXPECT_EQ(Restore()["s3-requests"]["get"], 0);
}

TEST_F(S3Cache, DeletedCachedFilesAreFetchedAgainExactly) {
  const std::vector<std::string> cached = ChunkFiles(false);
  ASSERT_GT(cached.size(), 10u);
  size_t removed = 0, i = 0;
  for (const std::string& f : cached)
    if (i++ % 4 == 0) removed += fs::remove(f);
  nlohmann::json r = Restore();
  EXPECT_EQ(r["s3-requests"]["get"], removed) << r.dump(2);
  EXPECT_EQ(r["cache"]["misses"], removed);
  EXPECT_EQ(ChunkFiles(false), cached) << "the fetched chunks are cached again";
  EXPECT_EQ(Restore()["s3-requests"]["get"], 0);
}

TEST_F(S3Cache, AVerifyWithoutAdmissionLeavesTheWorkingSet) {
  // A second data set, backed up without caching: markers only.
  testing::WriteFile(tmp_ / "other.raw", testing::RandomData(900000, 31));
  const std::vector<std::string> hot = ChunkFiles(false);
  nlohmann::json b = CliRunner::Json(
      cv_.Run({"backup", "--json", "--no-cache", "--chunk-size", "64K", "disk.img:" + (tmp_ / "other.raw")}));
  EXPECT_GT(b["new-chunks"].get<uint64_t>(), 5u);
  EXPECT_EQ(b["cache"]["admissions"], 0);
  EXPECT_EQ(ChunkFiles(false), hot);
  // Verify everything through the cache without admitting.
  nlohmann::json v = CliRunner::Json(cv_.Run({"verify", "--json", "--no-admit"}));
  EXPECT_EQ(v["ok"], true);
  EXPECT_EQ(v["snapshots-ok"], 2);
  EXPECT_EQ(v["cache"]["admissions"], 0);
  EXPECT_EQ(v["s3-requests"]["get"], b["new-chunks"]) << "only the uncached chunks are fetched";
  EXPECT_EQ(ChunkFiles(false), hot);
  // The default verify reads the bucket's copies and leaves the cache alone.
  nlohmann::json full = CliRunner::Json(cv_.Run({"verify", "--json"}));
  EXPECT_EQ(full["ok"], true);
  EXPECT_EQ(full["s3-requests"]["get"], full["chunks"]);
  EXPECT_EQ(full["cache"]["hits"], 0);
  EXPECT_EQ(ChunkFiles(false), hot);
}

TEST_F(S3Cache, ANoCacheBackupSkipsUploadsByItsMarkers) {
  CliRunner other = Runner(tmp_ / "store2");
  std::vector<std::string> init = S3Init();
  init[1] = name_ + "-b";
  other.Init(init);
  const std::vector<std::string> backup = {"backup", "--json", "--no-cache", "--chunk-size", "64K",
                                           "root.tar:" + (tmp_ / "src")};
  nlohmann::json first = CliRunner::Json(other.Run(backup));
  nlohmann::json second = CliRunner::Json(other.Run(backup));
  (void)DeletePrefix(*bucket_, name_ + "-b/");
  EXPECT_EQ(first["cache"]["markers-written"], first["new-chunks"]);
  EXPECT_EQ(second["new-chunks"], 0);
  EXPECT_EQ(second["cache"]["uploads-skipped"], second["chunks"]);
  // Only metadata is uploaded: manifest, index, nothing per chunk.
  EXPECT_LT(second["s3-requests"]["put"].get<uint64_t>(), 5u) << second.dump(2);
  for (auto& e : fs::recursive_directory_iterator(tmp_ / "store2/.chunks"))
    if (e.is_regular_file()) {
      EXPECT_EQ(e.file_size(), 0u) << e.path();
    }
}

TEST_F(S3Cache, StatsAddUpEveryRun) {
  Restore();
  Restore();
  nlohmann::json s = CliRunner::Json(cv_.Run({"cache", "stats", "--json"}));
  EXPECT_EQ(s["policy"], "s3fifo");
  EXPECT_EQ(s["owner"], true);
  EXPECT_EQ(s["chunks"].get<size_t>(), ChunkFiles(false).size());
  EXPECT_GT(s["size"].get<uint64_t>(), 0u);
  EXPECT_GE(s["limit"].get<uint64_t>(), s["size"].get<uint64_t>());
  EXPECT_EQ(s["runs"], 3);  // the backup and two restores
  EXPECT_EQ(s["misses"], 0);
  EXPECT_EQ(s["hit-ratio"], 1.0);
  EXPECT_GT(s["bytes-served-locally"].get<uint64_t>(), 1000000u);
  EXPECT_GT(s["s3-requests"]["put"].get<uint64_t>(), 10u);
  EXPECT_EQ(s["s3-requests"]["get"], 0);
  EXPECT_GT(s["estimated-savings"].get<double>(), 0.0);
  // Prices of one's own provider.
  nlohmann::json free = CliRunner::Json(cv_.Run({"cache", "stats", "--json", "--get-price", "0",
                                                 "--put-price", "0", "--transfer-price", "0"}));
  EXPECT_EQ(free["estimated-savings"], 0.0);
  testing::RunResult human = cv_.Run({"cache", "stats"});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("hit ratio         100.0%"), std::string::npos) << human.out;
}

TEST_F(S3Cache, CountersAreShownAtTheEndOfEachCommand) {
  testing::RunResult r = cv_.Run({"restore", snap_, tmp_ / "dst-human"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("cache: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("hit ratio 100.0%"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("s3 requests: 0 GET"), std::string::npos) << r.err;
}

TEST_F(S3Cache, ALocalStoreHasNoCache) {
  CliRunner local(CV_BINARY, tmp_ / "local");
  local.Init();
  testing::RunResult r = local.Run({"cache", "stats"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("only S3-backed ones have a cache"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace chunkvault
