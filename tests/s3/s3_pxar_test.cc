// pxar archives in an S3-backed datastore on the test RGW, read with the
// cache emptied: listing and finding fetch only the metadata archive's
// chunks, restoring one small file at most one payload chunk, counted by
// the S3 requests each command reports.
#include <gtest/gtest.h>

#include <filesystem>

#include "chunkvault/chunk_path.h"
#include "chunkvault/index.h"
#include "s3/s3_store_fixture.h"

namespace chunkvault::testing {
namespace {

class S3Pxar : public S3StoreFixture {
 protected:
  void SetUp() override {
    S3StoreFixture::SetUp();
    cv_ = std::make_unique<CliRunner>(Runner(tmp_ / "store"));
    cv_->Init(S3Init());
    // Many payload chunks (8 MiB of files in 256 KiB chunks), a small one.
    std::filesystem::create_directories(tmp_ / "tree/data");
    for (int i = 0; i < 16; ++i)
      WriteFile(tmp_ / ("tree/data/f" + std::to_string(i)), RandomData(512 << 10, 100 + i));
    WriteFile(tmp_ / "tree/small.txt", std::string(1024, 's'));
  }

  nlohmann::json Json(std::vector<std::string> args) { return CliRunner::Json(cv_->Run(args)); }

  std::unique_ptr<CliRunner> cv_;
};

TEST_F(S3Pxar, AColdListingAndARestoreOfOneFileFetchOnlyWhatTheyNeed) {
  const nlohmann::json backup =
      Json({"backup", "--json", "--chunk-size", "256K", "root.pxar:" + (tmp_ / "tree")});
  const std::string snap = backup["snapshot"];
  ASSERT_EQ(backup["archives"][0]["filename"], "root.ppxar.didx");
  const uint64_t payload_chunks = backup["archives"][0]["chunks"];
  const uint64_t meta_chunks = backup["archives"][1]["chunks"];
  ASSERT_GT(payload_chunks, 20u);

  RemoveLocalChunks(tmp_ / "store");
  nlohmann::json ls = Json({"ls", "--json", snap, "root.pxar", "data"});
  EXPECT_EQ(ls["entries"].size(), 16u);
  EXPECT_EQ(ls["chunks-read"]["payload"], 0);
  EXPECT_LE(ls["s3-requests"]["get"].get<uint64_t>(), meta_chunks) << ls.dump(2);
  EXPECT_GT(ls["s3-requests"]["get"].get<uint64_t>(), 0u);

  RemoveLocalChunks(tmp_ / "store");
  nlohmann::json found = Json({"find", "--json", snap, "root.pxar", "f1*"});
  EXPECT_EQ(found["entries"].size(), 7u);  // f1, f10 .. f15
  EXPECT_LE(found["s3-requests"]["get"].get<uint64_t>(), meta_chunks);

  RemoveLocalChunks(tmp_ / "store");
  nlohmann::json one =
      Json({"restore", "--json", snap, "root.pxar", tmp_ / "one", "--include", "/small.txt"});
  EXPECT_EQ(ReadFile(tmp_ / "one/small.txt"), std::string(1024, 's'));
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "one/data"));
  EXPECT_LE(one["s3-requests"]["get"].get<uint64_t>(), meta_chunks + 1) << one.dump(2);

  // The whole tree from the bucket, and as tar.
  RemoveLocalChunks(tmp_ / "store");
  RunResult all = cv_->Run({"restore", snap, "root.pxar", tmp_ / "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(CompareTrees(tmp_ / "tree", tmp_ / "all"), std::vector<std::string>{});
}

// Metadata change detection on S3: one changed file is all that is read;
// with the cache emptied (another machine's, say) the previous metadata
// comes from the bucket and the reused chunks are only asked after (HEAD),
// never fetched or uploaded; an unchanged tree then uploads no chunk.
TEST_F(S3Pxar, ABackupAfterAChangeReadsAndUploadsOnlyTheChange) {
  auto backup = [&] {
    return Json({"backup", "--json", "--chunk-size", "256K", "root.pxar:" + (tmp_ / "tree")});
  };
  const nlohmann::json first = backup();
  const uint64_t meta_chunks = first["archives"][1]["chunks"];
  WriteFile(tmp_ / "tree/data/f3", RandomData(512 << 10, 999));
  const nlohmann::json second = backup();
  ASSERT_TRUE(second.contains("reuse")) << second.dump();
  EXPECT_GE(second["reuse"]["files-reused"].get<uint64_t>(), 14u) << second.dump();
  EXPECT_EQ(second["reuse"]["files-reencoded"], 1) << second.dump();
  EXPECT_LE(second["reuse"]["bytes-read"].get<uint64_t>(), (512u << 10) + 2048) << second.dump();

  // The file read last time is reused now: its goodbye item no longer
  // counts its data (PBS's rule for refs), so the metadata archive may
  // differ; the payload is all reused.
  RemoveLocalChunks(tmp_ / "store");
  const nlohmann::json third = backup();
  EXPECT_EQ(third["archives"][0]["new-chunks"], 0) << third.dump(2);
  EXPECT_EQ(third["reuse"]["bytes-read"], 0) << third.dump(2);
  const nlohmann::json& requests = third["s3-requests"];
  // Only the metadata archive's chunks are fetched; the payload's are
  // asked after. Written: the two indexes, the manifest, the metadata,
  // and the two 16-byte marker chunks (unknown to the emptied cache: sent,
  // and refused as present).
  EXPECT_LE(requests["get"].get<uint64_t>(), meta_chunks) << third.dump(2);
  EXPECT_GE(requests["head"].get<uint64_t>(), second["archives"][0]["chunks"].get<uint64_t>() - 2);
  EXPECT_LE(requests["put"].get<uint64_t>(), meta_chunks + 5) << third.dump(2);
  EXPECT_EQ(backup()["new-chunks"], 0);

  RemoveLocalChunks(tmp_ / "store");
  RunResult all = cv_->Run({"restore", third["snapshot"], "root.pxar", tmp_ / "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(CompareTrees(tmp_ / "tree", tmp_ / "all"), std::vector<std::string>{});
}

// A last backup whose metadata chunks are gone from the bucket (and the
// cache): the backup says so and reads every file; the snapshot restores.
TEST_F(S3Pxar, ALastBackupWithItsMetadataGoneMeansReadingEverything) {
  const nlohmann::json first =
      Json({"backup", "--json", "--chunk-size", "256K", "root.pxar:" + (tmp_ / "tree")});
  // The metadata index's chunks, deleted from the bucket.
  const std::string index =
      ReadFile(tmp_ / ("store/" + first["snapshot"].get<std::string>() + "/root.mpxar.didx"));
  auto parsed = DynamicIndex::Parse(AsBytes(index));
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  for (const DynamicEntry& e : parsed->entries)
    ASSERT_TRUE(bucket_->Delete(name_ + "/" + ChunkRelPath(e.digest)));
  RemoveLocalChunks(tmp_ / "store");
  RunResult r = cv_->Run(
      {"backup", "--json", "--chunk-size", "256K", "root.pxar:" + (tmp_ / "tree")});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("previous archive cannot be read"), std::string::npos) << r.err;
  const nlohmann::json second = CliRunner::Json(r);
  EXPECT_EQ(second["reuse"]["files-reused"], 0) << r.out;
  RunResult all = cv_->Run({"restore", second["snapshot"], "root.pxar", tmp_ / "all"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(CompareTrees(tmp_ / "tree", tmp_ / "all"), std::vector<std::string>{});
}

}  // namespace
}  // namespace chunkvault::testing
