// chunkvaultd serving an S3-backed datastore on the test RGW: the CLI backs
// up through the server (TLS, HTTP/2), the chunks land in the bucket
// through the server's cache, and a restore through the server gives back
// what was sent (and fills the server's cache again); a direct verify
// reads it all back from the bucket.
#include <gtest/gtest.h>

#include <cstdlib>

#include "s3/s3_store_fixture.h"
#include "support/chunkvaultd_process.h"

namespace chunkvault::testing {
namespace {

class S3ServerTest : public S3StoreFixture {
 protected:
  void SetUp() override {
    S3StoreFixture::SetUp();
    // chunkvaultd finds the bucket's credentials where the CLI does.
    for (const auto& [k, v] : RgwEnv()) ::setenv(k.c_str(), v.c_str(), 1);
    Runner(tmp_ / "store").Init(S3Init());
    Admin({"datastore", "add", "s3store", tmp_ / "store"});
    RunOptions pw;
    pw.env["CHUNKVAULT_PASSWORD"] = "root's password";
    ASSERT_EQ(::chunkvault::testing::Run({CV_DAEMON, "user", "add", "root@pam", "--config-dir", cfg_}, pw).exit_code, 0);
    auto token = ::chunkvault::testing::Run({CV_DAEMON, "token", "add", "root@pam!bench", "--json", "--config-dir", cfg_});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    secret_ = nlohmann::json::parse(token.out)["value"];
    Admin({"acl", "set", "/datastore/s3store", "backup", "--auth-id", "root@pam!bench"});
    Admin({"acl", "set", "/datastore/s3store", "backup", "--auth-id", "root@pam"});
    server_ = std::make_unique<ChunkvaultdProcess>(CV_DAEMON, cfg_, tmp_ / "log");
  }
  void Admin(std::vector<std::string> args) {
    args.insert(args.begin(), CV_DAEMON);
    args.push_back("--config-dir");
    args.push_back(cfg_);
    auto r = ::chunkvault::testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  RunOptions Client() const {
    RunOptions o;
    o.env["CHUNKVAULT_PASSWORD"] = secret_;
    o.env["CHUNKVAULT_FINGERPRINT"] = server_->fingerprint();
    o.env["CHUNKVAULT_REPOSITORY"] =
        "root@pam!bench@127.0.0.1:" + std::to_string(server_->port()) + ":s3store";
    o.unset_env = {"CHUNKVAULT_STORE", "PBS_REPOSITORY"};
    return o;
  }

  std::string cfg_ = tmp_ / "etc";
  std::string secret_;
  std::unique_ptr<ChunkvaultdProcess> server_;
};

TEST_F(S3ServerTest, BackupAndRestoreThroughTheServerIntoTheBucket) {
  auto backup = ::chunkvault::testing::Run({CV_BINARY, "backup", "--json", "--backup-id", "s3", "root.tar:" + tmp_ / "src",
                     "disk.img:" + tmp_ / "disk.raw"},
                    Client());
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const auto summary = nlohmann::json::parse(backup.out);
  const std::string snap = summary["snapshot"];
  // Every new chunk is an object in the bucket, and the snapshot's files
  // are mirrored there.
  EXPECT_EQ(Keys(name_ + "/.chunks/").size(), summary["new-chunks"].get<size_t>());
  bool manifest = false;
  for (const std::string& k : Keys(name_ + "/.cnt/host/s3/"))
    manifest = manifest || k.ends_with("/index.json.blob");
  EXPECT_TRUE(manifest);

  // The local copies gone, the server reads the chunks from the bucket.
  RemoveLocalChunks(tmp_ / "store");
  auto restore = ::chunkvault::testing::Run({CV_BINARY, "restore", snap, tmp_ / "out"}, Client());
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "out/root"), std::vector<std::string>{});
  EXPECT_TRUE(ReadFile(tmp_ / "out/disk.img") == ReadFile(tmp_ / "disk.raw"));
  // What the server fetched for the restore is in its cache again.
  size_t cached = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp_ / "store/.chunks"))
    cached += e.is_regular_file() && e.file_size() > 0;
  EXPECT_EQ(cached, summary["new-chunks"].get<size_t>());

  auto again = ::chunkvault::testing::Run({CV_BINARY, "backup", "--json", "--backup-id", "s3", "root.tar:" + tmp_ / "src",
                    "disk.img:" + tmp_ / "disk.raw"},
                   Client());
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["new-chunks"], 0) << again.out;

  RunOptions s3env;
  for (const auto& [k, v] : RgwEnv()) s3env.env[k] = v;
  auto verify = ::chunkvault::testing::Run({CV_BINARY, "verify", "--store", tmp_ / "store"}, s3env);
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// backup --no-cache through the server asks it (PBS's no-cache=true on the
// upgrade) to upload without keeping chunks: the bucket has them all, the
// server's cache only empty markers.
TEST_F(S3ServerTest, ANoCacheBackupLeavesOnlyMarkersInTheServersCache) {
  auto backup = ::chunkvault::testing::Run(
      {CV_BINARY, "backup", "--json", "--no-cache", "--backup-id", "nc",
       "root.tar:" + tmp_ / "src"},
      Client());
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const size_t chunks = nlohmann::json::parse(backup.out)["new-chunks"];
  EXPECT_EQ(Keys(name_ + "/.chunks/").size(), chunks);
  size_t files = 0, markers = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp_ / "store/.chunks"))
    if (e.is_regular_file()) (e.file_size() == 0 ? markers : files) += 1;
  EXPECT_EQ(files, 0u);
  EXPECT_EQ(markers, chunks);
}

// Encrypted through the server: the client encrypts with a key the server
// never sees; the server stores, serves and verifies what it can check
// (CRCs), and the bucket holds no plaintext.
TEST_F(S3ServerTest, EncryptedBackupsThroughTheServer) {
  constexpr char kMarker[] = "server-plaintext-marker-41c0b2";
  WriteFile(tmp_ / "src/marker.txt", std::string(kMarker) + "\n");
  RunOptions client = Client();
  client.env["HOME"] = tmp_ / "home";
  client.env["XDG_CONFIG_HOME"] = tmp_ / "home/.config";
  client.env["CHUNKVAULT_ENCRYPTION_PASSWORD"] = "client passphrase";
  const std::string key = tmp_ / "key.json";
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CV_BINARY);
    return ::chunkvault::testing::Run(args, client);
  };
  ASSERT_EQ(run({"key", "create", key, "--kdf", "pbkdf2"}).exit_code, 0);
  for (const char* who : {"root@pam", "root@pam!bench"})  // the verify task needs more
    Admin({"acl", "set", "/datastore/s3store", "admin", "--auth-id", who});
  auto backup =
      run({"backup", "--json", "--keyfile", key, "--backup-id", "enc", "root.tar:" + tmp_ / "src"});
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const std::string snap = nlohmann::json::parse(backup.out)["snapshot"];
  for (const std::string& k : Keys(name_ + "/")) {
    auto body = bucket_->Get(k);
    ASSERT_TRUE(body) << k;
    EXPECT_EQ(AsString(*body).find(kMarker), std::string::npos) << k;
  }
  // The server's verify task: CRCs and crypt modes, no key.
  auto verify = run({"verify", "--json"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  EXPECT_NE(verify.out.find("keyless-chunks"), std::string::npos) << verify.out;
  // Restores through the server decrypt on the client.
  RemoveLocalChunks(tmp_ / "store");
  auto none = run({"restore", snap, tmp_ / "none"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("no key was given"), std::string::npos) << none.err;
  auto restore = run({"restore", "--keyfile", key, snap, tmp_ / "out"});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(CompareTrees(tmp_ / "src", tmp_ / "out/root"), std::vector<std::string>{});
  // The same key deduplicates through the server too.
  auto again =
      run({"backup", "--json", "--keyfile", key, "--backup-id", "enc", "root.tar:" + tmp_ / "src"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(nlohmann::json::parse(again.out)["new-chunks"], 0) << again.out;
}

}  // namespace
}  // namespace chunkvault::testing
