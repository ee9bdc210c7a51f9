// Encrypted backups into an S3-backed datastore on the test RGW, through
// the chunkvault binary: the bucket holds no plaintext (every object
// scanned), restores come from the bucket with the cache emptied, and
// verify, gc and s3-refresh work on encrypted chunks.
#include <gtest/gtest.h>

#include "chunkvault/blob.h"
#include "s3/s3_store_fixture.h"

namespace chunkvault::testing {
namespace {

constexpr char kMarker[] = "s3-plaintext-marker-8e21d7";

class S3Crypt : public S3StoreFixture {
 protected:
  void SetUp() override {
    S3StoreFixture::SetUp();
    WriteFile(tmp_ / "src/marker.txt", std::string(kMarker) + "\n");
    cv_ = std::make_unique<CliRunner>(Runner(tmp_ / "store"));
    cv_->env()["HOME"] = tmp_ / "home";
    cv_->env()["XDG_CONFIG_HOME"] = tmp_ / "home/.config";
    cv_->env()["CHUNKVAULT_ENCRYPTION_PASSWORD"] = "s3 passphrase";
    cv_->Init(S3Init());
    RunResult key = cv_->Run({"key", "create", key_, "--kdf", "pbkdf2"});
    ASSERT_EQ(key.exit_code, 0) << key.err;
  }

  std::string key_ = tmp_ / "key.json";
  std::unique_ptr<CliRunner> cv_;
};

TEST_F(S3Crypt, TheBucketHoldsNoPlaintextAndRestoresNeedTheKey) {
  auto backup =
      CliRunner::Json(cv_->Run({"backup", "--json", "--keyfile", key_, "--chunk-size", "64K",
                                "root.tar:" + (tmp_ / "src"), "disk.img:" + (tmp_ / "disk.raw")}));
  const std::string snap = backup["snapshot"];
  // Every object of the store's prefix, read back: no plaintext anywhere.
  const std::vector<std::string> keys = Keys(name_ + "/");
  ASSERT_GT(keys.size(), 10u);
  size_t chunks = 0;
  for (const std::string& k : keys) {
    auto body = bucket_->Get(k);
    ASSERT_TRUE(body) << k;
    EXPECT_EQ(AsString(*body).find(kMarker), std::string::npos) << k;
    if (k.find("/.chunks/") != std::string::npos) {
      ++chunks;
      auto info = InspectBlob(*body);
      ASSERT_TRUE(info) << k;
      EXPECT_TRUE(info->kind == BlobKind::kEncrypted ||
                  info->kind == BlobKind::kEncryptedCompressed)
          << k;
    }
  }
  EXPECT_EQ(chunks, backup["new-chunks"].get<size_t>());

  // From the bucket, with nothing cached.
  RemoveLocalChunks(tmp_ / "store");
  RunResult none = cv_->Run({"restore", snap, tmp_ / "none"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no key was given"), std::string::npos) << none.err;
  RunResult r = cv_->Run({"restore", "--keyfile", key_, snap, tmp_ / "dst"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "dst/root"), std::vector<std::string>{});
  EXPECT_TRUE(ReadFile(tmp_ / "dst/disk.img") == ReadFile(tmp_ / "disk.raw"));

  // verify reads the bucket: without the key its CRCs, with it every digest.
  auto keyless = CliRunner::Json(cv_->Run({"verify", "--json"}));
  EXPECT_EQ(keyless["ok"], true);
  EXPECT_EQ(keyless["keyless-chunks"], keyless["chunks"]);
  auto keyed = CliRunner::Json(cv_->Run({"verify", "--json", "--keyfile", key_}));
  EXPECT_EQ(keyed["ok"], true);
  EXPECT_EQ(keyed["keyless-chunks"], 0);

  // The same key again: nothing new goes up.
  auto again =
      CliRunner::Json(cv_->Run({"backup", "--json", "--keyfile", key_, "--chunk-size", "64K",
                                "root.tar:" + (tmp_ / "src"), "disk.img:" + (tmp_ / "disk.raw")}));
  EXPECT_EQ(again["new-chunks"], 0);

  // s3-refresh and gc know nothing of keys and need none.
  RunResult refresh = cv_->Run({"s3-refresh"});
  EXPECT_EQ(refresh.exit_code, 0) << refresh.err;
  auto gc = CliRunner::Json(cv_->Run({"gc", "--json"}));
  EXPECT_EQ(gc["removed-chunks"], 0) << gc.dump();
  r = cv_->Run({"restore", "--keyfile", key_, snap, "root.tar", tmp_ / "after-gc"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace
}  // namespace chunkvault::testing
