// chunkvault's client transport (src/client/) against a real chunkvaultd
// over TLS: repository strings as PBS parses them, the pinned certificate
// (an unknown one refused, naming its fingerprint), token and ticket
// authentication, and an HTTP/2 backup session with many requests in
// flight at once.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "client/connection.h"
#include "client/repository.h"
#include "support/chunkvaultd_process.h"
#include "support/process.h"
#include "support/tree_util.h"

namespace chunkvault::client {
namespace {

using ::chunkvault::testing::ChunkvaultdProcess;

using ::chunkvault::testing::RunOptions;
using ::chunkvault::testing::TempDir;

TEST(Repository, PbsSyntaxAndDefaults) {
  auto r = ParseRepository("store1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->auth_id, "root@pam");
  EXPECT_EQ(r->host, "localhost");
  EXPECT_EQ(r->port, 8007);
  EXPECT_EQ(r->store, "store1");
  r = ParseRepository("root@pam@pbs.example:8007:store1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->auth_id, "root@pam");
  EXPECT_EQ(r->host, "pbs.example");
  r = ParseRepository("backup@pbs!pve@10.0.0.5:store1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->auth_id, "backup@pbs!pve");
  EXPECT_EQ(r->host, "10.0.0.5");
  EXPECT_EQ(r->port, 8007);
  r = ParseRepository("[fe80::1]:1234:store1");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->host, "fe80::1");
  EXPECT_EQ(r->port, 1234);
  EXPECT_EQ(r->Authority(), "[fe80::1]:1234");
  for (const char* bad : {"", "st", "host:", "a@host:store1", "host:0:store1", "host:99999:store1",
                          "ho st:store1", "[::1:store1", "host:store/1", "host:8007:"})
    EXPECT_FALSE(ParseRepository(bad).has_value()) << bad;
}

class ClientConnectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Admin({"datastore", "add", "store1", Init()});
    RunOptions pw;
    pw.env["CHUNKVAULT_PASSWORD"] = "secret password";
    ASSERT_EQ(::chunkvault::testing::Run({CV_DAEMON, "user", "add", "alice@pbs", "--config-dir", cfg_}, pw).exit_code, 0);
    auto token = ::chunkvault::testing::Run({CV_DAEMON, "token", "add", "alice@pbs!t", "--json", "--config-dir", cfg_});
    ASSERT_EQ(token.exit_code, 0) << token.err;
    secret_ = nlohmann::json::parse(token.out)["value"];
    for (const char* who : {"alice@pbs", "alice@pbs!t"})
      Admin({"acl", "set", "/datastore/store1", "backup", "--auth-id", who});
    server_ = std::make_unique<ChunkvaultdProcess>(CV_DAEMON, cfg_, tmp_ / "log");
  }

  std::string Init() {
    auto r = ::chunkvault::testing::Run({CV_BINARY, "init", "--store", tmp_ / "store1"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return tmp_ / "store1";
  }
  void Admin(std::vector<std::string> args) {
    args.insert(args.begin(), CV_DAEMON);
    args.push_back("--config-dir");
    args.push_back(cfg_);
    auto r = ::chunkvault::testing::Run(args);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  Repository Repo(const std::string& auth_id) {
    Repository r;
    r.auth_id = auth_id;
    r.host = "127.0.0.1";
    r.port = static_cast<uint16_t>(server_->port());
    r.store = "store1";
    return r;
  }

  TempDir tmp_;
  std::string cfg_ = tmp_ / "etc";
  std::string secret_;
  std::unique_ptr<ChunkvaultdProcess> server_;
};

TEST_F(ClientConnectionTest, AnUnknownCertificateIsRefusedNamingItsFingerprint) {
  auto c = Connection::Open(Repo("alice@pbs!t"), Credentials{secret_, ""});
  ASSERT_FALSE(c.has_value());
  EXPECT_EQ(c.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(c.error().message().find(server_->fingerprint()), std::string::npos)
      << c.error().message();
  std::string wrong = server_->fingerprint();
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  c = Connection::Open(Repo("alice@pbs!t"), Credentials{secret_, wrong});
  ASSERT_FALSE(c.has_value());
  EXPECT_NE(c.error().message().find("pinned fingerprint"), std::string::npos);
  EXPECT_EQ(c.error().message().find(secret_), std::string::npos);
}

TEST_F(ClientConnectionTest, TokensAndTicketsReachTheApi) {
  std::string upper = server_->fingerprint();
  for (char& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  auto c = Connection::Open(Repo("alice@pbs!t"), Credentials{secret_, upper});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  EXPECT_EQ((*c)->fingerprint(), server_->fingerprint());
  auto r = (*c)->Request("GET", "/api2/json/version", {});
  ASSERT_TRUE(r.has_value()) << r.error().message();
  auto data = DataOf(*r);
  ASSERT_TRUE(data.has_value());
  EXPECT_TRUE(data->contains("version"));
  // The same connection carries more calls.
  r = (*c)->Request("GET", "/api2/json/admin/datastore/store1/snapshots", {});
  ASSERT_TRUE(r.has_value());
  EXPECT_TRUE(DataOf(*r)->is_array());

  // A user logs in for a ticket; a wrong password is refused.
  auto user = Connection::Open(Repo("alice@pbs"), Credentials{"secret password", upper});
  ASSERT_TRUE(user.has_value()) << user.error().message();
  r = (*user)->Request("GET", "/api2/json/admin/datastore/store1/status", {});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  auto bad = Connection::Open(Repo("alice@pbs"), Credentials{"wrong", upper});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kPermissionDenied);
}

TEST_F(ClientConnectionTest, ABackupSessionWithManyRequestsInFlight) {
  auto c = Connection::Open(Repo("alice@pbs!t"), Credentials{secret_, server_->fingerprint()});
  ASSERT_TRUE(c.has_value()) << c.error().message();
  const int64_t time = 1'750'000'000;
  auto s = (*c)->Upgrade("/api2/json/backup",
                         {{"backup-type", "host"},
                          {"backup-id", "client"},
                          {"backup-time", std::to_string(time)},
                          {"store", "store1"},
                          {"debug", "true"},
                          {"benchmark", "false"}},
                         "proxmox-backup-protocol-v1");
  ASSERT_TRUE(s.has_value()) << s.error().message();
  H2Session& h2 = **s;
  auto wid = h2.Call("POST", "/dynamic_index", {{"archive-name", "root.pxar.didx"}});
  ASSERT_TRUE(wid.has_value()) << wid.error().message();
  // 64 chunk uploads in flight at once, as PBS's client pipelines them.
  std::vector<Bytes> chunks;
  std::vector<std::future<Result<Response>>> answers;
  DynamicIndex index;
  uint64_t end = 0;
  nlohmann::json digests = nlohmann::json::array(), offsets = nlohmann::json::array();
  for (int i = 0; i < 64; ++i) {
    Bytes data(20000 + i, static_cast<uint8_t>(i));
    const Digest d = Sha256Of(data);
    Bytes blob = EncodeBlob(data, true);
    const std::string encoded_size = std::to_string(blob.size());
    answers.push_back(h2.Start("POST", "/dynamic_chunk",
                               {{"digest", ToHex(d)},
                                {"encoded-size", encoded_size},
                                {"size", std::to_string(data.size())},
                                {"wid", wid->dump()}},
                               std::move(blob), "application/octet-stream"));
    digests.push_back(ToHex(d));
    offsets.push_back(end);
    end += data.size();
    index.entries.push_back({end, d});
    chunks.push_back(std::move(data));
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    auto answer = answers[i].get();
    ASSERT_TRUE(answer.has_value()) << answer.error().message();
    auto data = DataOf(*answer);
    ASSERT_TRUE(data.has_value()) << data.error().message();
    ASSERT_TRUE(data->is_string()) << i << ": " << answer->status << " "
                                   << std::string(answer->body.begin(), answer->body.end());
    EXPECT_EQ(data->get<std::string>(), digests[i].get<std::string>());
  }
  nlohmann::json append = {{"wid", *wid}, {"digest-list", digests}, {"offset-list", offsets}};
  const std::string append_text = append.dump();
  ASSERT_TRUE(h2.Call("PUT", "/dynamic_index", {}, Bytes(append_text.begin(), append_text.end()),
                      "application/json"));
  const Digest csum = index.ComputeChecksum();
  ASSERT_TRUE(h2.Call("POST", "/dynamic_close",
                      {{"wid", wid->dump()},
                       {"chunk-count", "64"},
                       {"size", std::to_string(end)},
                       {"csum", ToHex(csum)}}));
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "client";
  m.backup_time = time;
  m.files = {ManifestFile{"root.pxar.didx", "none", end, csum}};
  Bytes manifest = m.EncodeBlob();
  const size_t manifest_size = manifest.size();
  ASSERT_TRUE(h2.Call("POST", "/blob",
                      {{"file-name", "index.json.blob"}, {"encoded-size", std::to_string(manifest_size)}},
                      std::move(manifest), "application/octet-stream"));
  auto finished = h2.Call("POST", "/finish");
  ASSERT_TRUE(finished.has_value()) << finished.error().message();
  // A refused call comes back as an error with the server's text.
  auto again = h2.Call("POST", "/finish");
  ASSERT_FALSE(again.has_value());
  EXPECT_NE(again.error().message().find("already marked as finished"), std::string::npos);
  s->reset();

  auto verify = ::chunkvault::testing::Run({CV_BINARY, "verify", "--store", tmp_ / "store1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
  auto cat = ::chunkvault::testing::Run({CV_BINARY, "cat", "--store", tmp_ / "store1",
                  "host/client/" + std::string("2025-06-15T15:06:40Z"), "root.pxar"});
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  Bytes all;
  for (const Bytes& c : chunks) all.insert(all.end(), c.begin(), c.end());
  EXPECT_EQ(cat.out, std::string(all.begin(), all.end()));
  EXPECT_EQ(server_->Stop(), 0);
}

// The CLI as a client: backup --repository cuts, hashes and compresses
// here and sends PBS's protocol; the second backup of the unchanged tree
// uploads nothing (its chunks are known from the previous snapshot); the
// store restores what was sent; snapshots --repository lists both; an
// unpinned certificate is refused naming its fingerprint.
TEST_F(ClientConnectionTest, TheCliBacksUpThroughTheServer) {
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  ::chunkvault::testing::WriteFile(tmp_ / "disk.img", ::chunkvault::testing::RandomData(9 << 20, 7));
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  RunOptions env;
  env.env["CHUNKVAULT_PASSWORD"] = secret_;
  env.env["CHUNKVAULT_FINGERPRINT"] = server_->fingerprint();
  env.unset_env = {"CHUNKVAULT_STORE", "CHUNKVAULT_REPOSITORY", "PBS_REPOSITORY"};

  auto first = ::chunkvault::testing::Run(
      {CV_BINARY, "backup", "--repository", repo, "--json", "--backup-id", "cli",
       "root.tar:" + tree, "disk.img:" + tmp_ / "disk.img"},
      env);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  auto one = nlohmann::json::parse(first.out);
  EXPECT_GT(one["new-chunks"].get<uint64_t>(), 0u);
  const std::string snap = one["snapshot"];

  auto second = ::chunkvault::testing::Run(
      {CV_BINARY, "backup", "--repository", repo, "--json", "--backup-id", "cli",
       "root.tar:" + tree, "disk.img:" + tmp_ / "disk.img"},
      env);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  auto two = nlohmann::json::parse(second.out);
  EXPECT_EQ(two["new-chunks"].get<uint64_t>(), 0u) << second.out;

  auto restore = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--store", tmp_ / "store1", snap, "root.tar", tmp_ / "restored"});
  ASSERT_EQ(restore.exit_code, 0) << restore.err;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "restored"),
            std::vector<std::string>{});
  auto image = ::chunkvault::testing::Run(
      {CV_BINARY, "cat", "--store", tmp_ / "store1", snap, "disk.img"});
  ASSERT_EQ(image.exit_code, 0);
  EXPECT_TRUE(image.out == ::chunkvault::testing::ReadFile(tmp_ / "disk.img"));
  auto verify = ::chunkvault::testing::Run({CV_BINARY, "verify", "--store", tmp_ / "store1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;

  auto list = ::chunkvault::testing::Run(
      {CV_BINARY, "snapshots", "--repository", repo, "--json"}, env);
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 2u);

  // Forget needs more than the backup role: refused (the server's 403),
  // then allowed once alice's token and alice hold the admin role.
  auto refused_forget = ::chunkvault::testing::Run(
      {CV_BINARY, "forget", "--repository", repo, snap}, env);
  EXPECT_EQ(refused_forget.exit_code, 1) << refused_forget.err;
  EXPECT_NE(refused_forget.err.find("403"), std::string::npos) << refused_forget.err;
  for (const char* who : {"alice@pbs", "alice@pbs!t"})
    Admin({"acl", "set", "/datastore/store1", "admin", "--auth-id", who});
  auto forget = ::chunkvault::testing::Run({CV_BINARY, "forget", "--repository", repo, snap}, env);
  ASSERT_EQ(forget.exit_code, 0) << forget.err;
  list = ::chunkvault::testing::Run({CV_BINARY, "snapshots", "--repository", repo, "--json"}, env);
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 1u);

  RunOptions unpinned = env;
  unpinned.env.erase("CHUNKVAULT_FINGERPRINT");
  unpinned.unset_env.push_back("CHUNKVAULT_FINGERPRINT");
  unpinned.unset_env.push_back("PBS_FINGERPRINT");
  auto refused = ::chunkvault::testing::Run(
      {CV_BINARY, "snapshots", "--repository", repo}, unpinned);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.err.find(server_->fingerprint()), std::string::npos) << refused.err;
  EXPECT_EQ(refused.err.find(secret_), std::string::npos);
}

}  // namespace
}  // namespace chunkvault::client
