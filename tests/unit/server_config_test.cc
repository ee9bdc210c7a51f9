// chunkvaultd's configuration (src/server/): auth-ids, PBS's section-config
// and acl.cfg formats, privileges as PBS computes them, the configuration
// directory's edits and files, and the self-signed certificate.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "server/acl.h"
#include "server/auth_id.h"
#include "server/section_config.h"
#include "server/server_config.h"
#include "server/tls_cert.h"
#include "support/tree_util.h"

namespace chunkvault::server {
namespace {

using ::chunkvault::testing::TempDir;

AuthId Id(const std::string& text) {
  auto id = AuthId::Parse(text);
  EXPECT_TRUE(id.has_value()) << text;
  return *id;
}

std::vector<std::string> Path(const std::string& text) {
  auto p = ParseAclPath(text);
  EXPECT_TRUE(p.has_value()) << text;
  return *p;
}

unsigned ModeOf(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(AuthId, UsersAndTokensInPbsSpelling) {
  auto user = AuthId::Parse("alice@pbs");
  ASSERT_TRUE(user.has_value());
  EXPECT_FALSE(user->is_token());
  EXPECT_EQ(user->ToString(), "alice@pbs");
  auto token = AuthId::Parse("alice@pbs!backup-1");
  ASSERT_TRUE(token.has_value());
  EXPECT_TRUE(token->is_token());
  EXPECT_EQ(token->user(), "alice@pbs");
  EXPECT_EQ(token->token(), "backup-1");
  EXPECT_EQ(token->User(), *user);
  EXPECT_FALSE(AuthId::ParseUser("alice@pbs!backup-1").has_value());
  for (const char* bad : {"", "alice", "@pbs", "alice@", "alice@p", "al ice@pbs", "al:ice@pbs",
                          "a/b@pbs", "a,b@pbs", "alice@pbs!", "alice@pbs!.x", "alice@pbs!a!b",
                          "alice@pb/s", "al\nice@pbs"}) {
    auto r = AuthId::Parse(bad);
    EXPECT_FALSE(r.has_value()) << bad;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kInvalidArgument);
    }
  }
  EXPECT_FALSE(AuthId::Parse(std::string(61, 'a') + "@pbs").has_value()) << "65 bytes";
  EXPECT_TRUE(AuthId::Parse(std::string(60, 'a') + "@pbs").has_value()) << "64 bytes";
}

TEST(SectionConfig, ParsesPbsFilesAndRefusesMalformedLinesByNumber) {
  auto parsed = ParseSectionConfig(
      "# comment\ndatastore: store1\n\tpath /backups/one two\n\tcomment hi\n\n"
      "datastore: store2\n    path /b\n",
      "datastore.cfg");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ((*parsed)[0].type, "datastore");
  EXPECT_EQ((*parsed)[0].id, "store1");
  ASSERT_NE((*parsed)[0].Find("path"), nullptr);
  EXPECT_EQ(*(*parsed)[0].Find("path"), "/backups/one two");
  EXPECT_EQ(*(*parsed)[1].Find("path"), "/b");

  auto text = FormatSectionConfig(*parsed);
  ASSERT_TRUE(text.has_value());
  auto again = ParseSectionConfig(*text, "x");
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->size(), 2u);
  EXPECT_EQ(*(*again)[0].Find("comment"), "hi");

  struct Case {
    const char* text;
    const char* line;
  } cases[] = {{"\tpath /x\n", "line 1"},
               {"datastore: a\nnot a header\n", "line 2"},
               {"datastore: a\n\tpath /x\n\tpath /y\n", "line 3"},
               {"datastore: a\n\ndatastore: a\n", "line 3"},
               {"datastore: a b\n", "line 1"},
               {"datastore: a\n\tpath /x\x01y\n", "line 2"}};
  for (const auto& c : cases) {
    auto r = ParseSectionConfig(c.text, "datastore.cfg");
    ASSERT_FALSE(r.has_value()) << c.text;
    EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(r.error().message().find(std::string("datastore.cfg ") + c.line), std::string::npos)
        << r.error().message();
  }
  EXPECT_FALSE(FormatSectionConfig({ConfigSection{"datastore", "a", {{"path", "/x\ny"}}}}));
}

TEST(Acl, RolesHavePbsNamesAndPrivileges) {
  for (auto [text, role] : {std::pair{"backup", Role::kBackup},
                            {"DatastoreBackup", Role::kBackup},
                            {"reader", Role::kReader},
                            {"DatastoreReader", Role::kReader},
                            {"audit", Role::kAudit},
                            {"DatastoreAudit", Role::kAudit},
                            {"admin", Role::kAdmin},
                            {"DatastoreAdmin", Role::kAdmin}}) {
    auto r = ParseRole(text);
    ASSERT_TRUE(r.has_value()) << text;
    EXPECT_EQ(*r, role);
  }
  EXPECT_FALSE(ParseRole("Administrator").has_value());
  EXPECT_EQ(RolePrivileges(Role::kBackup), kPrivBackup);
  EXPECT_EQ(RolePrivileges(Role::kReader), kPrivAudit | kPrivRead);
  EXPECT_TRUE(RolePrivileges(Role::kAdmin) & kPrivModify);
  EXPECT_FALSE(RolePrivileges(Role::kAudit) & kPrivRead);
}

TEST(Acl, PathsAreThoseOfPbs) {
  EXPECT_EQ(Path("/"), std::vector<std::string>{});
  EXPECT_EQ(Path("/datastore/s1/a/b"), (std::vector<std::string>{"datastore", "s1", "a", "b"}));
  for (const char* bad : {"", "datastore", "/system", "/datastore/../x", "/datastore//x",
                          "/datastore/s1/", "/datastore/s1/a/b/c/d/e/f/g/h"})
    EXPECT_FALSE(ParseAclPath(bad).has_value()) << bad;
}

TEST(Acl, TheNearestGrantWinsAndPropagationReachesBelow) {
  auto acl = ParseAclConfig(
      "acl:1:/datastore:alice@pbs:DatastoreAudit\n"
      "acl:1:/datastore/s1:alice@pbs,bob@pbs:DatastoreBackup\n"
      "acl:0:/datastore/s2:alice@pbs:DatastoreAdmin\n"
      "acl:1:/datastore/s1/secret:alice@pbs:DatastoreAudit\n",
      "acl.cfg");
  ASSERT_TRUE(acl.has_value()) << acl.error().message();
  ASSERT_EQ(acl->size(), 5u);
  const AuthId alice = Id("alice@pbs"), bob = Id("bob@pbs");
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s1")), kPrivBackup);
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s1/ns")), kPrivBackup);
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s1/secret")), kPrivAudit)
      << "a narrower grant replaces the wider one";
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s3")), kPrivAudit);
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s2")), RolePrivileges(Role::kAdmin));
  EXPECT_EQ(GrantedPrivileges(*acl, alice, Path("/datastore/s2/ns")), kPrivAudit)
      << "a grant that does not propagate stays on its path";
  EXPECT_EQ(GrantedPrivileges(*acl, bob, Path("/datastore/s1")), kPrivBackup);
  EXPECT_EQ(GrantedPrivileges(*acl, bob, Path("/datastore/s2")), 0u);
  EXPECT_EQ(GrantedPrivileges(*acl, bob, Path("/")), 0u);

  auto round = ParseAclConfig(FormatAclConfig(*acl), "acl.cfg");
  ASSERT_TRUE(round.has_value());
  EXPECT_EQ(round->size(), acl->size());

  for (const char* bad : {"acl:2:/:a@pbs:DatastoreAudit", "acl:1:/x:a@pbs:DatastoreAudit",
                          "acl:1:/:a@pbs:Nobody", "acl:1:/:nobody:DatastoreAudit",
                          "acl:1:/:a@pbs", "user:1:/:a@pbs:DatastoreAudit"}) {
    auto r = ParseAclConfig(std::string("\n") + bad + "\n", "acl.cfg");
    ASSERT_FALSE(r.has_value()) << bad;
    EXPECT_NE(r.error().message().find("acl.cfg line 2"), std::string::npos)
        << r.error().message();
  }
}

TEST(Acl, ATokenHasOnlyWhatItsUserHasToo) {
  auto acl = ParseAclConfig(
      "acl:1:/datastore/s1:alice@pbs!t:DatastoreAdmin\n"
      "acl:1:/datastore/s1:alice@pbs:DatastoreBackup\n"
      "acl:1:/datastore/s2:alice@pbs!t:DatastoreBackup\n",
      "acl.cfg");
  ASSERT_TRUE(acl.has_value());
  EXPECT_EQ(PrivilegesOf(*acl, Id("alice@pbs!t"), Path("/datastore/s1")), kPrivBackup);
  EXPECT_EQ(PrivilegesOf(*acl, Id("alice@pbs!t"), Path("/datastore/s2")), 0u)
      << "its user has nothing on s2";
  EXPECT_EQ(PrivilegesOf(*acl, Id("alice@pbs"), Path("/datastore/s1")), kPrivBackup);
}

class ConfigDirTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  std::string dir_ = tmp_ / "etc";
  ConfigDir config_{*Env::Default(), dir_};
};

TEST_F(ConfigDirTest, EditsLandInPbsFilesWithSecretsOnlyHashedIn0600Files) {
  ASSERT_TRUE(config_.AddDatastore("store1", "/backups/store1"));
  ASSERT_TRUE(config_.AddUser(Id("alice@pbs"), "alice's password"));
  auto secret = config_.AddToken(Id("alice@pbs!host1"));
  ASSERT_TRUE(secret.has_value()) << secret.error().message();
  EXPECT_EQ(secret->size(), 36u);
  ASSERT_TRUE(config_.SetAcl("/datastore/store1", Role::kBackup, Id("alice@pbs"), true));
  ASSERT_TRUE(config_.SetAcl("/datastore/store1", Role::kBackup, Id("alice@pbs!host1"), true));

  EXPECT_EQ(ModeOf(dir_), 0700u);
  EXPECT_EQ(ModeOf(dir_ + "/shadow.json"), 0600u);
  EXPECT_EQ(ModeOf(dir_ + "/token.shadow"), 0600u);
  EXPECT_EQ(ReadAll(dir_ + "/datastore.cfg"), "datastore: store1\n\tpath /backups/store1\n\n");
  EXPECT_EQ(ReadAll(dir_ + "/user.cfg"),
            "user: alice@pbs\n\tenable true\n\ntoken: alice@pbs!host1\n\tenable true\n\n");
  EXPECT_EQ(ReadAll(dir_ + "/acl.cfg"),
            "acl:1:/datastore/store1:alice@pbs:DatastoreBackup\n"
            "acl:1:/datastore/store1:alice@pbs!host1:DatastoreBackup\n");
  for (const char* f : {"shadow.json", "token.shadow", "user.cfg", "acl.cfg", "datastore.cfg"}) {
    const std::string text = ReadAll(dir_ + "/" + f);
    EXPECT_EQ(text.find("alice's password"), std::string::npos) << f;
    EXPECT_EQ(text.find(*secret), std::string::npos) << f;
  }

  auto config = config_.Load();
  ASSERT_TRUE(config.has_value()) << config.error().message();
  ASSERT_NE(config->FindDatastore("store1"), nullptr);
  EXPECT_EQ(config->FindDatastore("store1")->path, "/backups/store1");
  EXPECT_TRUE(config->CheckSecret(Id("alice@pbs"), "alice's password"));
  EXPECT_FALSE(config->CheckSecret(Id("alice@pbs"), "alice's passwore"));
  EXPECT_TRUE(config->CheckSecret(Id("alice@pbs!host1"), *secret));
  EXPECT_FALSE(config->CheckSecret(Id("alice@pbs!host1"), "alice's password"));
  EXPECT_FALSE(config->CheckSecret(Id("alice@pbs"), *secret));
  EXPECT_FALSE(config->CheckSecret(Id("bob@pbs"), "alice's password"));
  EXPECT_EQ(config->PrivilegesOn(Id("alice@pbs!host1"), Path("/datastore/store1")), kPrivBackup);

  // Set replaces what the auth-id had on the path.
  ASSERT_TRUE(config_.SetAcl("/datastore/store1", Role::kReader, Id("alice@pbs"), true));
  config = config_.Load();
  EXPECT_EQ(config->PrivilegesOn(Id("alice@pbs"), Path("/datastore/store1")),
            kPrivAudit | kPrivRead);
  EXPECT_EQ(config->PrivilegesOn(Id("alice@pbs!host1"), Path("/datastore/store1")), 0u)
      << "the token's backup right is not in its user's reader role";

  // Removing a token removes its secret and its grants.
  ASSERT_TRUE(config_.RemoveToken(Id("alice@pbs!host1")));
  config = config_.Load();
  EXPECT_FALSE(config->Has(Id("alice@pbs!host1")));
  EXPECT_FALSE(config->CheckSecret(Id("alice@pbs!host1"), *secret));
  EXPECT_EQ(ReadAll(dir_ + "/acl.cfg"), "acl:1:/datastore/store1:alice@pbs:DatastoreReader\n");
  EXPECT_EQ(ReadAll(dir_ + "/token.shadow"), "{}\n");
}

TEST_F(ConfigDirTest, BadEditsAreRefusedWithClearErrors) {
  ASSERT_TRUE(config_.AddDatastore("store1", "/b"));
  EXPECT_EQ(config_.AddDatastore("store1", "/c").error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(config_.AddDatastore("s", "/c").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.AddDatastore("../x", "/c").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.AddDatastore("store2", "relative").error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.AddDatastore("store2", "/a\nb").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.AddToken(Id("alice@pbs!t")).error().code(), ErrorCode::kNotFound);
  ASSERT_TRUE(config_.AddUser(Id("alice@pbs"), "pw"));
  EXPECT_EQ(config_.AddUser(Id("alice@pbs"), "pw2").error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(config_.AddUser(Id("bob@pbs"), "").error().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.AddUser(Id("bob@pbs!t"), "pw").error().code(), ErrorCode::kInvalidArgument);
  ASSERT_TRUE(config_.AddToken(Id("alice@pbs!t")));
  EXPECT_EQ(config_.AddToken(Id("alice@pbs!t")).error().code(), ErrorCode::kAlreadyExists);
  EXPECT_EQ(config_.RemoveToken(Id("alice@pbs!u")).error().code(), ErrorCode::kNotFound);
  EXPECT_EQ(config_.SetAcl("/datastore/store1", Role::kBackup, Id("bob@pbs"), true).error().code(),
            ErrorCode::kNotFound);
  EXPECT_EQ(config_.SetAcl("/x", Role::kBackup, Id("alice@pbs"), true).error().code(),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(config_.RemoveAcl("/datastore/store1", Id("alice@pbs")).error().code(),
            ErrorCode::kNotFound);
}

TEST_F(ConfigDirTest, MalformedFilesAreNamedAndUnknownAuthIdsHaveNothing) {
  ASSERT_TRUE(config_.Create());
  std::ofstream(dir_ + "/shadow.json") << "[1, 2]";
  auto config = config_.Load();
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message().find("shadow.json"), std::string::npos);
  std::ofstream(dir_ + "/shadow.json") << "{\"alice@pbs\": 7}";
  EXPECT_FALSE(config_.Load().has_value());
  std::ofstream(dir_ + "/shadow.json") << "{}";
  std::ofstream(dir_ + "/user.cfg") << "user: alice@pbs!t\n";
  config = config_.Load();
  ASSERT_FALSE(config.has_value());
  EXPECT_NE(config.error().message().find("user.cfg"), std::string::npos);
  // A grant to an auth-id user.cfg does not hold gives nothing; so does a
  // disabled user.
  std::ofstream(dir_ + "/user.cfg") << "user: alice@pbs\n\tenable false\n";
  std::ofstream(dir_ + "/acl.cfg") << "acl:1:/:alice@pbs:DatastoreAdmin\n"
                                      "acl:1:/:bob@pbs:DatastoreAdmin\n";
  config = config_.Load();
  ASSERT_TRUE(config.has_value()) << config.error().message();
  EXPECT_EQ(config->PrivilegesOn(Id("alice@pbs"), Path("/datastore/x")), 0u);
  EXPECT_EQ(config->PrivilegesOn(Id("bob@pbs"), Path("/datastore/x")), 0u);
}

TEST(TlsCert, MadeOnceSelfSignedWithAKeyOnlyItsOwnerReads) {
  TempDir tmp;
  const std::string key = tmp / "proxy.key", pem = tmp / "proxy.pem";
  ASSERT_TRUE(EnsureCertificate(*Env::Default(), key, pem, "backup.example"));
  EXPECT_EQ(ModeOf(key), 0600u);
  auto info = ReadCertificateInfo(*Env::Default(), pem);
  ASSERT_TRUE(info.has_value()) << info.error().message();
  EXPECT_EQ(info->fingerprint.size(), 95u);
  for (size_t i = 2; i < info->fingerprint.size(); i += 3) EXPECT_EQ(info->fingerprint[i], ':');
  EXPECT_EQ(info->public_key, "RSA 4096");
  EXPECT_NE(info->subject.find("CN = backup.example"), std::string::npos) << info->subject;
  EXPECT_EQ(info->subject, info->issuer);
  EXPECT_GT(info->not_after - info->not_before, int64_t{999} * 365 * 86400);

  // A second call keeps the pair.
  ASSERT_TRUE(EnsureCertificate(*Env::Default(), key, pem, "other"));
  auto again = ReadCertificateInfo(*Env::Default(), pem);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(again->fingerprint, info->fingerprint);

  std::ofstream(tmp / "bad.pem") << "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
  auto bad = ReadCertificateInfo(*Env::Default(), tmp / "bad.pem");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code(), ErrorCode::kCorrupt);
}

TEST(TlsCert, FingerprintIsColonSeparatedSha256) {
  // SHA-256 of "abc" (FIPS 180-2).
  EXPECT_EQ(CertificateFingerprint(AsBytes("abc")),
            "ba:78:16:bf:8f:01:cf:ea:41:41:40:de:5d:ae:22:23:b0:03:61:a3:96:17:7a:9c:b4:10:ff:61:"
            "f2:00:15:ad");
}

}  // namespace
}  // namespace chunkvault::server
