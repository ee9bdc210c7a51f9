// chunkvault's client transport (src/client/) against a real chunkvaultd
// over TLS: repository strings as PBS parses them, the pinned certificate
// (an unknown one refused, naming its fingerprint), token and ticket
// authentication, and an HTTP/2 backup session with many requests in
// flight at once.
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>
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
  // The environment of a CLI client of this server with `secret`.
  RunOptions Env(const std::string& secret) {
    RunOptions env;
    env.env["CHUNKVAULT_PASSWORD"] = secret;
    env.env["CHUNKVAULT_FINGERPRINT"] = server_->fingerprint();
    env.unset_env = {"CHUNKVAULT_STORE", "CHUNKVAULT_REPOSITORY", "PBS_REPOSITORY",
                     "CHUNKVAULT_CRASH_AT"};
    return env;
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
  m.files = {ManifestFile{"root.pxar.didx", CryptMode::kNone, end, csum}};
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

// pxar through the server: the client encodes both streams and sends
// them over two writers at once; the restore reads them back through the
// reader protocol. An unchanged tree is not read again (metadata change
// detection: the previous metadata over a reader session, the previous
// payload chunks appended by digest), and from the third backup on
// nothing is uploaded.
TEST_F(ClientConnectionTest, PxarArchivesThroughTheServer) {
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  RunOptions env = Env(secret_);
  auto backup = [&] {
    auto r = ::chunkvault::testing::Run({CV_BINARY, "backup", "--repository", repo, "--json",
                                         "--backup-id", "px", "root.pxar:" + tree},
                                        env);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  };
  const nlohmann::json first = backup();
  ASSERT_EQ(first["archives"].size(), 2u);
  EXPECT_EQ(first["archives"][0]["filename"], "root.ppxar.didx");
  EXPECT_EQ(first["archives"][1]["filename"], "root.mpxar.didx");
  EXPECT_FALSE(first.contains("reuse"));
  const nlohmann::json second = backup();
  ASSERT_TRUE(second.contains("reuse")) << second.dump();
  EXPECT_GT(second["reuse"]["files-reused"].get<uint64_t>(), 5u) << second.dump();
  EXPECT_EQ(second["reuse"]["bytes-read"], 0) << second.dump();
  EXPECT_LT(second["new-bytes"].get<uint64_t>(), 8192u) << second.dump();
  const nlohmann::json third = backup();
  EXPECT_EQ(third["new-chunks"], 0) << third.dump();
  EXPECT_EQ(third["reuse"]["bytes-read"], 0) << third.dump();
  for (const auto& [reused, dir] : {std::pair(second, "two"), std::pair(third, "three")}) {
    auto r = ::chunkvault::testing::Run({CV_BINARY, "restore", "--repository", repo,
                                         reused["snapshot"], "root.pxar", tmp_ / dir},
                                        env);
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / dir), std::vector<std::string>{});
  }
  const std::string snap = first["snapshot"];
  auto one = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--repository", repo, snap, "root.pxar", tmp_ / "one"}, env);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "one"), std::vector<std::string>{});
  // What the server stored is what a local store would hold.
  auto local = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--store", tmp_ / "store1", snap, "root.pxar", tmp_ / "local"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "local"), std::vector<std::string>{});
}

// Restore and cat through the server's reader protocol, with a token and
// with a user's ticket; another auth-id's backup role cannot read the group.
TEST_F(ClientConnectionTest, TheCliRestoresThroughTheServer) {
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  const std::string image = ::chunkvault::testing::RandomData(9 << 20, 11);
  ::chunkvault::testing::WriteFile(tmp_ / "disk.img", image);
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  RunOptions env = Env(secret_);
  auto backup = ::chunkvault::testing::Run(
      {CV_BINARY, "backup", "--repository", repo, "--json", "--backup-id", "cli",
       "root.tar:" + tree, "disk.img:" + tmp_ / "disk.img"},
      env);
  ASSERT_EQ(backup.exit_code, 0) << backup.err;
  const std::string snap = nlohmann::json::parse(backup.out)["snapshot"];

  auto one = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--repository", repo, snap, "root.tar", tmp_ / "one"}, env);
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "one"), std::vector<std::string>{});
  auto all = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--repository", repo, "--json", snap, tmp_ / "all"}, env);
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(all.out)["archives"].size(), 2u) << all.out;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "all/root"),
            std::vector<std::string>{});
  EXPECT_TRUE(::chunkvault::testing::ReadFile(tmp_ / "all/disk.img") == image);
  auto cat = ::chunkvault::testing::Run({CV_BINARY, "cat", "--repository", repo, snap, "disk.img"},
                                        env);
  ASSERT_EQ(cat.exit_code, 0) << cat.err;
  EXPECT_TRUE(cat.out == image);
  auto manifest = ::chunkvault::testing::Run(
      {CV_BINARY, "cat", "--repository", repo, snap, "index.json"}, env);
  ASSERT_EQ(manifest.exit_code, 0) << manifest.err;
  EXPECT_NE(manifest.out.find("root.tar.didx"), std::string::npos) << manifest.out;
  auto missing = ::chunkvault::testing::Run(
      {CV_BINARY, "cat", "--repository", repo, snap, "nothing.img"}, env);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("nothing.img"), std::string::npos) << missing.err;

  // bob's token has the backup role too, but the group is alice's.
  RunOptions pw;
  pw.env["CHUNKVAULT_PASSWORD"] = "bob's password";
  ASSERT_EQ(::chunkvault::testing::Run({CV_DAEMON, "user", "add", "bob@pbs", "--config-dir", cfg_},
                                       pw)
                .exit_code,
            0);
  auto bob = ::chunkvault::testing::Run(
      {CV_DAEMON, "token", "add", "bob@pbs!t", "--json", "--config-dir", cfg_});
  ASSERT_EQ(bob.exit_code, 0) << bob.err;
  for (const char* who : {"bob@pbs", "bob@pbs!t"})
    Admin({"acl", "set", "/datastore/store1", "backup", "--auth-id", who});
  const std::string bob_repo =
      "bob@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  auto refused = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--repository", bob_repo, snap, "root.tar", tmp_ / "bob"},
      Env(nlohmann::json::parse(bob.out)["value"]));
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("owner check failed"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(tmp_ / "bob"));

  // A user logs in with a password for a ticket, and backs up and restores.
  const std::string user_repo =
      "alice@pbs@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  auto user_backup = ::chunkvault::testing::Run(
      {CV_BINARY, "backup", "--repository", user_repo, "--json", "--backup-id", "user",
       "root.tar:" + tree},
      Env("secret password"));
  ASSERT_EQ(user_backup.exit_code, 0) << user_backup.err;
  auto user_restore = ::chunkvault::testing::Run(
      {CV_BINARY, "restore", "--repository", user_repo,
       nlohmann::json::parse(user_backup.out)["snapshot"], "root.tar", tmp_ / "user"},
      Env("secret password"));
  ASSERT_EQ(user_restore.exit_code, 0) << user_restore.err;
  EXPECT_EQ(::chunkvault::testing::CompareTrees(tree, tmp_ / "user"), std::vector<std::string>{});
  auto wrong = ::chunkvault::testing::Run(
      {CV_BINARY, "snapshots", "--repository", user_repo}, Env("wrong password"));
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.err.find("login as alice@pbs"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find("wrong password"), std::string::npos) << wrong.err;
}

// prune, gc and verify through the server (admin role): prune's dry run
// and real run, a GC task that reports, verify that passes, then fails on
// a chunk corrupted in the store.
TEST_F(ClientConnectionTest, PruneGcAndVerifyThroughTheServer) {
  for (const char* who : {"alice@pbs", "alice@pbs!t"})
    Admin({"acl", "set", "/datastore/store1", "admin", "--auth-id", who});
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  const RunOptions env = Env(secret_);
  for (int i = 0; i < 3; ++i) {
    ::chunkvault::testing::WriteFile(tree + "/changing", std::to_string(i));
    auto b = ::chunkvault::testing::Run(
        {CV_BINARY, "backup", "--repository", repo, "--backup-id", "p", "root.tar:" + tree}, env);
    ASSERT_EQ(b.exit_code, 0) << b.err;
  }
  auto count = [&] {
    auto list = ::chunkvault::testing::Run(
        {CV_BINARY, "snapshots", "--repository", repo, "--json"}, env);
    EXPECT_EQ(list.exit_code, 0) << list.err;
    return nlohmann::json::parse(list.out).size();
  };
  auto dry = ::chunkvault::testing::Run({CV_BINARY, "prune", "--repository", repo, "--json",
                                         "--keep-last", "1", "--dry-run"},
                                        env);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_EQ(nlohmann::json::parse(dry.out)["removed"], 2) << dry.out;
  EXPECT_EQ(count(), 3u);
  auto prune = ::chunkvault::testing::Run(
      {CV_BINARY, "prune", "--repository", repo, "--json", "--keep-last", "1", "host/p"}, env);
  ASSERT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_EQ(nlohmann::json::parse(prune.out)["removed"], 2) << prune.out;
  EXPECT_EQ(count(), 1u);

  auto gc = ::chunkvault::testing::Run({CV_BINARY, "gc", "--repository", repo, "--json"}, env);
  ASSERT_EQ(gc.exit_code, 0) << gc.err;
  auto report = nlohmann::json::parse(gc.out);
  EXPECT_EQ(report["index-file-count"], 1) << gc.out;
  EXPECT_GT(report["disk-chunks"].get<uint64_t>(), 0u) << gc.out;
  EXPECT_TRUE(report["upid"].get<std::string>().starts_with("UPID:")) << gc.out;
  auto refused_dry = ::chunkvault::testing::Run(
      {CV_BINARY, "gc", "--repository", repo, "--dry-run"}, env);
  EXPECT_EQ(refused_dry.exit_code, 2) << refused_dry.err;

  auto verify = ::chunkvault::testing::Run({CV_BINARY, "verify", "--repository", repo}, env);
  ASSERT_EQ(verify.exit_code, 0) << verify.err;
  EXPECT_NE(verify.out.find("verified 1 snapshots"), std::string::npos) << verify.out;
  // Every chunk file of the store damaged: the server's verify fails.
  for (const auto& e : std::filesystem::recursive_directory_iterator(tmp_ / "store1/.chunks"))
    if (e.is_regular_file() && e.file_size() > 16) {
      std::string data = ::chunkvault::testing::ReadFile(e.path());
      data[12] ^= 0x40;
      ::chunkvault::testing::WriteFile(e.path(), data);
    }
  auto bad = ::chunkvault::testing::Run({CV_BINARY, "verify", "--repository", repo}, env);
  EXPECT_EQ(bad.exit_code, 1) << bad.out << bad.err;
  EXPECT_NE(bad.err.find("verification failed"), std::string::npos) << bad.err;
}

// A client killed (SIGKILL) while it uploads chunks, and one killed after
// its manifest but before finish: the server removes both unfinished
// snapshots, and the next backup of the group works.
TEST_F(ClientConnectionTest, AClientKilledMidBackupLeavesNoSnapshot) {
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  ::chunkvault::testing::WriteFile(tmp_ / "disk.img", ::chunkvault::testing::RandomData(9 << 20, 5));
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  const std::vector<std::string> argv = {CV_BINARY, "backup", "--repository", repo,
                                         "--backup-id", "k", "root.tar:" + tree,
                                         "disk.img:" + tmp_ / "disk.img"};
  int killed = 0;
  for (const char* point : {"remote-chunk-sent:2", "before-finish"}) {
    RunOptions env = Env(secret_);
    env.env["CHUNKVAULT_CRASH_AT"] = point;
    auto r = ::chunkvault::testing::Run(argv, env);
    EXPECT_EQ(r.signal, SIGKILL) << point << ": " << r.err;
    ASSERT_TRUE(server_->WaitForLog("aborted, snapshot removed", ++killed)) << point;
    std::vector<std::string> left;
    if (std::filesystem::exists(tmp_ / "store1/host/k"))
      for (const auto& e : std::filesystem::directory_iterator(tmp_ / "store1/host/k"))
        if (e.is_directory()) left.push_back(e.path().filename());
    EXPECT_EQ(left, std::vector<std::string>{}) << point;
  }
  auto next = ::chunkvault::testing::Run(argv, Env(secret_));
  ASSERT_EQ(next.exit_code, 0) << next.err;
  auto list = ::chunkvault::testing::Run(
      {CV_BINARY, "snapshots", "--repository", repo, "--json"}, Env(secret_));
  EXPECT_EQ(nlohmann::json::parse(list.out).size(), 1u) << list.out;
  auto verify = ::chunkvault::testing::Run({CV_BINARY, "verify", "--store", tmp_ / "store1"});
  EXPECT_EQ(verify.exit_code, 0) << verify.out << verify.err;
}

// Namespaces through the server as PBS's client makes them (Modify on the
// parent), then used: a backup into one, listed and pruned there, the
// root's group of the same name untouched (POST parameters, ns among them,
// come in a JSON body).
TEST_F(ClientConnectionTest, NamespacesThroughTheServer) {
  const std::string tree = tmp_ / "tree";
  ::chunkvault::testing::MakeSampleTree(tree);
  const std::string repo = "alice@pbs!t@127.0.0.1:" + std::to_string(server_->port()) + ":store1";
  const RunOptions env = Env(secret_);
  auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin(), CV_BINARY);
    args.push_back("--repository");
    args.push_back(repo);
    return ::chunkvault::testing::Run(args, env);
  };
  auto refused = run({"namespace", "create", "site"});
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  EXPECT_NE(refused.err.find("403"), std::string::npos) << refused.err;
  for (const char* who : {"alice@pbs", "alice@pbs!t"})
    Admin({"acl", "set", "/datastore/store1", "admin", "--auth-id", who});
  ASSERT_EQ(run({"namespace", "create", "site"}).exit_code, 0);
  ASSERT_EQ(run({"namespace", "create", "site/prod"}).exit_code, 0);
  auto orphan = run({"namespace", "create", "nope/x"});
  EXPECT_EQ(orphan.exit_code, 1);
  EXPECT_NE(orphan.err.find("parent nope doesn't already exist"), std::string::npos) << orphan.err;
  auto list = run({"namespace", "list", "--json"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(nlohmann::json::parse(list.out),
            nlohmann::json::parse(R"([{"ns": ""}, {"ns": "site"}, {"ns": "site/prod"}])"));

  for (const char* ns : {"site/prod", "site/prod", ""}) {
    auto b = run({"backup", "--ns", ns, "--backup-id", "web", "root.tar:" + tree});
    ASSERT_EQ(b.exit_code, 0) << ns << ": " << b.err;
  }
  auto in_prod = run({"snapshots", "--ns", "site/prod", "--json"});
  ASSERT_EQ(in_prod.exit_code, 0) << in_prod.err;
  EXPECT_EQ(nlohmann::json::parse(in_prod.out).size(), 2u);
  auto prune = run({"prune", "--ns", "site/prod", "--keep-last", "1", "--json"});
  ASSERT_EQ(prune.exit_code, 0) << prune.err;
  EXPECT_EQ(nlohmann::json::parse(prune.out)["removed"], 1) << prune.out;
  in_prod = run({"snapshots", "--ns", "site/prod", "--json"});
  EXPECT_EQ(nlohmann::json::parse(in_prod.out).size(), 1u);
  auto root = run({"snapshots", "--json"});
  EXPECT_EQ(nlohmann::json::parse(root.out).size(), 1u) << root.out;

  // The same command on a store directory.
  auto local = ::chunkvault::testing::Run(
      {CV_BINARY, "namespace", "list", "--store", tmp_ / "store1", "--json"});
  ASSERT_EQ(local.exit_code, 0) << local.err;
  EXPECT_EQ(nlohmann::json::parse(local.out), nlohmann::json::parse(list.out));
}

}  // namespace
}  // namespace chunkvault::client
