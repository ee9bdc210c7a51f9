// A fixture for S3-backed datastores over the in-memory backend: a sample
// tree and image to back up, a bucket that counts requests, and helpers to
// look into the store's directory.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/datastore.h"
#include "support/tree_util.h"

namespace chunkvault::testing {

class RemoteStoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    MakeSampleTree(tmp_ / "src");
    WriteFile(tmp_ / "disk.raw", RandomData(300000, 4));
    s3_.endpoint = "http://127.0.0.1:1";  // never contacted: the backend is injected
    s3_.bucket = "bkt";
  }

  Result<std::unique_ptr<Datastore>> Init(const std::string& dir, InitOptions o = {}) {
    o.s3 = s3_;
    if (!o.backend) o.backend = bucket_;
    o.name = "store";
    return Datastore::Init(Env::Default(), dir, o);
  }

  std::unique_ptr<Datastore> Open(const std::string& dir, OpenOptions o) {
    if (!o.backend) o.backend = bucket_;
    if (o.jobs == 0) o.jobs = 4;
    auto ds = Datastore::Open(Env::Default(), dir, o);
    EXPECT_TRUE(ds.has_value()) << ds.error().message();
    return ds ? std::move(*ds) : nullptr;
  }
  std::unique_ptr<Datastore> Open(const std::string& dir,
                                  std::shared_ptr<Backend> backend = nullptr) {
    OpenOptions o;
    o.backend = std::move(backend);
    return Open(dir, o);
  }

  // A snapshot host/box of the sample tree (root.tar, 64 KiB chunks), the
  // image (disk.img) and a blob.
  Result<BackupSummary> Backup(Datastore& ds) {
    BackupOptions bo;
    bo.id = "box";
    CV_ASSIGN_OR_RETURN(auto session, ds.StartBackup(bo));
    CV_RETURN_IF_ERROR(session->AddTar("root.tar", tmp_ / "src", 64 << 10, nullptr, nullptr));
    CV_RETURN_IF_ERROR(session->AddImage("disk.img", tmp_ / "disk.raw", 64 << 10));
    CV_RETURN_IF_ERROR(session->AddBlob("config.blob", AsBytes("k = v\n")));
    return session->Finish();
  }

  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    (void)bucket_->List(prefix, [&](const ObjectInfo& o) -> Status {
      keys.push_back(o.key);
      return {};
    });
    return keys;
  }

  // Flips the last byte of an object (a CRC mismatch for a chunk).
  void DamageObject(const std::string& key) {
    Bytes blob = *bucket_->Get(key);
    blob.back() ^= 1;
    ASSERT_TRUE(bucket_->Put(key, blob, PutMode::kOverwrite));
  }

  // Damages `key`'s object and runs a verify, which must find it alone.
  void DamageAndVerify(Datastore& ds, const std::string& key) {
    DamageObject(key);
    auto report = ds.Verify({}, {}, nullptr);
    ASSERT_TRUE(report.has_value()) << report.error().message();
    ASSERT_EQ(report->bad_chunks.size(), 1u);
  }

  void RemoveLocalChunks(const std::string& store) {
    for (auto& d : std::filesystem::directory_iterator(store + "/.chunks"))
      for (auto& f : std::filesystem::directory_iterator(d.path())) std::filesystem::remove(f.path());
  }

  TempDir tmp_;
  S3Settings s3_;
  std::shared_ptr<Backend> bucket_ = NewMemoryBackend();
};

}  // namespace chunkvault::testing
