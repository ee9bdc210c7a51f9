// A fixture for S3-backed datastores on the test RGW driven through the
// chunkvault binary: a fresh prefix per test (removed afterwards), a sample
// tree and image, and a client of its own to look into the bucket.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "backend/s3/s3_backend.h"
#include "s3/rgw.h"
#include "support/cli_runner.h"
#include "support/tree_util.h"

namespace chunkvault::testing {

class S3StoreFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    name_ = "cv" + std::to_string(rd() % 1000000000);
    MakeSampleTree(tmp_ / "src");
    WriteFile(tmp_ / "disk.raw", RandomData(700000, 8));
  }
  void TearDown() override { (void)DeletePrefix(*bucket_, name_ + "/"); }

  CliRunner Runner(const std::string& dir) const {
    CliRunner r(CV_BINARY, dir);
    for (const auto& [k, v] : RgwEnv()) r.env()[k] = v;
    return r;
  }
  std::vector<std::string> S3Init() const {
    return {"--name", name_, "--s3-endpoint", Rgw().endpoint, "--s3-bucket",
            Rgw().bucket, "--s3-path-style"};
  }
  std::vector<std::string> Keys(const std::string& prefix) {
    std::vector<std::string> keys;
    EXPECT_TRUE(bucket_->List(prefix, [&](const ObjectInfo& o) -> Status {
      keys.push_back(o.key);
      return {};
    }).has_value());
    return keys;
  }
  static void RemoveLocalChunks(const std::string& store) {
    for (auto& d : std::filesystem::directory_iterator(store + "/.chunks"))
      for (auto& f : std::filesystem::directory_iterator(d.path())) std::filesystem::remove(f.path());
  }

  TempDir tmp_;
  std::string name_;
  std::shared_ptr<Backend> bucket_ = NewS3Backend(std::shared_ptr<S3Client>(RgwClient()), {}).backend;
};

}  // namespace chunkvault::testing
