// Bounded, seeded fuzzing of chunkvaultd's request handlers (src/server/):
// whole backup sessions whose requests are mutated, dropped, repeated and
// reordered; HTTP/1.1 requests to the REST API; and the configuration
// parsers. Every request must be answered with a status and, if it failed,
// a message; nothing may crash; and the datastore must hold afterwards only
// what a session finished, each finished snapshot sound.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "chunkvault/blob.h"
#include "chunkvault/datastore.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "fuzz/mutator.h"
#include "server/acl.h"
#include "server/auth.h"
#include "server/backup_protocol.h"
#include "server/http_message.h"
#include "server/rest_api.h"
#include "server/section_config.h"
#include "server/server_config.h"
#include "support/tree_util.h"

namespace chunkvault::server {
namespace {

using ::chunkvault::testing::TempDir;

Bytes Text(const std::string& s) { return Bytes(s.begin(), s.end()); }

HttpRequest Request(const std::string& method, const std::string& path, const std::string& query,
                    Bytes body = {}, const std::string& content_type = "") {
  HttpRequest r;
  r.method = method;
  r.path = path;
  r.query = *Params::ParseForm(query);
  r.body = std::move(body);
  if (!content_type.empty()) r.headers["content-type"] = content_type;
  r.peer = "fuzz";
  return r;
}

// The requests of a whole, valid backup of one dynamic archive (three
// chunks), a config blob and the manifest, as proxmox-backup-client sends
// them (../shared/PROTOCOL.md §3.1).
std::vector<HttpRequest> ValidSession(int64_t time) {
  std::vector<Bytes> chunks = {Bytes(3000, 'a'), Bytes(2000, 'b'), Bytes(1000, 'c')};
  std::vector<HttpRequest> script;
  script.push_back(Request("POST", "/dynamic_index", "archive-name=root.pxar.didx"));
  DynamicIndex index;
  nlohmann::json digests = nlohmann::json::array(), offsets = nlohmann::json::array();
  uint64_t end = 0;
  for (const Bytes& c : chunks) {
    const Digest d = Sha256Of(c);
    const Bytes blob = EncodeBlob(c, true);
    script.push_back(Request("POST", "/dynamic_chunk",
                             "wid=1&digest=" + ToHex(d) + "&size=" + std::to_string(c.size()) +
                                 "&encoded-size=" + std::to_string(blob.size()),
                             blob, "application/octet-stream"));
    digests.push_back(ToHex(d));
    offsets.push_back(end);
    end += c.size();
    index.entries.push_back({end, d});
  }
  nlohmann::json append = {{"wid", 1}, {"digest-list", digests}, {"offset-list", offsets}};
  script.push_back(Request("PUT", "/dynamic_index", "", Text(append.dump()), "application/json"));
  const Digest csum = index.ComputeChecksum();
  script.push_back(Request("POST", "/dynamic_close",
                           "wid=1&chunk-count=3&size=" + std::to_string(end) + "&csum=" + ToHex(csum)));
  const Bytes conf = EncodeBlob(Text("config"), false);
  script.push_back(Request("POST", "/blob",
                           "file-name=host.conf.blob&encoded-size=" + std::to_string(conf.size()),
                           conf, "application/octet-stream"));
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "fuzz";
  m.backup_time = time;
  m.files = {ManifestFile{"root.pxar.didx", CryptMode::kNone, end, csum},
             ManifestFile{"host.conf.blob", CryptMode::kNone, conf.size(), Sha256Of(conf)}};
  const Bytes manifest = m.EncodeBlob();
  script.push_back(Request("POST", "/blob",
                           "file-name=index.json.blob&encoded-size=" + std::to_string(manifest.size()),
                           manifest, "application/octet-stream"));
  script.push_back(Request("POST", "/finish", ""));
  return script;
}

// One of: a body mutated, a query value replaced by mutated bytes, a
// request dropped, repeated or moved.
void MutateScript(Mutator& m, std::vector<HttpRequest>& script) {
  const int rounds = 1 + int(m.Below(3));
  for (int i = 0; i < rounds && !script.empty(); ++i) {
    HttpRequest& r = script[m.Below(script.size())];
    switch (m.Below(5)) {
      case 0:
        r.body = m.Mutate(r.body);
        break;
      case 1: {
        Params q;
        const size_t victim = m.Below(r.query.items().size() + 1);
        for (size_t k = 0; k < r.query.items().size(); ++k) {
          auto [key, value] = r.query.items()[k];
          if (k == victim) {
            Bytes v = m.Mutate(Text(value));
            value.assign(v.begin(), v.end());
          }
          q.Add(key, value);
        }
        r.query = q;
        break;
      }
      case 2:
        script.erase(script.begin() + long(m.Below(script.size())));
        break;
      case 3:
        script.insert(script.begin() + long(m.Below(script.size())), r);
        break;
      default: {
        HttpRequest moved = r;
        script.erase(script.begin() + (&r - script.data()));
        script.insert(script.begin() + long(m.Below(script.size() + 1)), std::move(moved));
      }
    }
  }
}

TEST(ServerFuzz, BackupSessionsOfMutatedRequestsLeaveOnlySoundSnapshots) {
  TempDir tmp;
  InitOptions init;
  init.sync_level = "none";
  auto ds = Datastore::Init(Env::Default(), tmp / "store", init);
  ASSERT_TRUE(ds.has_value()) << ds.error().message();
  std::shared_ptr<Datastore> store(std::move(*ds));
  Mutator m(23);
  int finished = 0;
  const AuthId who = *AuthId::Parse("fuzz@pbs!t");
  for (int round = 0; round < 300; ++round) {
    const int64_t time = 1'600'000'000 + round;
    std::vector<HttpRequest> script = ValidSession(time);
    if (round > 0) MutateScript(m, script);
    UploadOptions upload;
    upload.type = BackupType::kHost;
    upload.id = "fuzz";
    upload.time = time;
    upload.owner = who.ToString();
    auto session = OpenBackupProtocol(BackupSessionParams{
        .store = store, .store_name = "s", .upload = upload, .who = who, .peer = "fuzz", .log = {}});
    ASSERT_TRUE(session.has_value()) << round << ": " << session.error().message();
    bool done = false;
    for (HttpRequest& r : script) {
      const bool is_finish = r.path == "/finish";
      HttpResponse answer = (*session)->Handle(r);
      ASSERT_GE(answer.status, 200) << round;
      ASSERT_LT(answer.status, 600) << round;
      if (answer.status >= 300) {
        EXPECT_FALSE(answer.body.empty()) << round << " " << r.path;
      }
      if (is_finish && answer.status == 200) done = true;
    }
    (*session)->End();
    const SnapshotRef snap{BackupGroup{{}, BackupType::kHost, "fuzz"}, time};
    auto info = store->GetSnapshot(snap);
    if (round == 0) {
      ASSERT_TRUE(done) << "the valid session must finish";
    }
    ASSERT_EQ(info.has_value(), done) << round;
    if (done) {
      ++finished;
      EXPECT_EQ(store->DamageOf(snap), "") << round;
    }
    EXPECT_EQ(store->ListSnapshots({}, false)->size(), size_t(finished)) << round;
  }
  // Most mutations break a session, but some (a repeated or moved call)
  // leave it valid.
  EXPECT_GT(finished, 1);
}

TEST(ServerFuzz, RestRequestsAreAnsweredWhateverTheyHold) {
  TempDir tmp;
  ConfigDir dir(*Env::Default(), tmp / "etc");
  ASSERT_TRUE(dir.AddUser(*AuthId::Parse("fuzz@pbs"), "pw"));
  const std::string secret = *dir.AddToken(*AuthId::Parse("fuzz@pbs!t"));
  ASSERT_TRUE(dir.SetAcl("/", Role::kAdmin, *AuthId::Parse("fuzz@pbs"), true));
  ASSERT_TRUE(dir.SetAcl("/", Role::kAdmin, *AuthId::Parse("fuzz@pbs!t"), true));
  InitOptions init;
  init.sync_level = "none";
  ASSERT_TRUE(Datastore::Init(Env::Default(), tmp / "store", init).has_value());
  ASSERT_TRUE(dir.AddDatastore("store1", tmp / "store"));
  auto api = RestApi::Create(Env::Default(), tmp / "etc", nullptr);
  ASSERT_TRUE(api.has_value()) << api.error().message();

  const std::vector<std::pair<std::string, std::string>> seeds = {
      {"GET", "/api2/json/version"},
      {"GET", "/api2/json/admin/datastore"},
      {"GET", "/api2/json/admin/datastore/store1/snapshots?backup-type=host&backup-id=a"},
      {"GET", "/api2/json/admin/datastore/store1/groups?ns=a/b"},
      {"GET", "/api2/json/admin/datastore/store1/files?backup-type=host&backup-id=a&backup-time=1"},
      {"DELETE", "/api2/json/admin/datastore/store1/snapshots?backup-type=host&backup-id=a&backup-time=5"},
      {"POST", "/api2/json/admin/datastore/store1/prune"},
      {"GET", "/api2/json/admin/datastore/store1/status"},
      {"GET", "/api2/json/nodes/localhost/tasks/UPID:x/status"},
      {"POST", "/api2/json/access/ticket"},
      {"GET", "/metrics"},
      {"GET", "/api2/json/backup?backup-type=host&backup-id=a&backup-time=1&store=store1"},
  };
  const Bytes json_body = Text(R"({"backup-type":"host","backup-id":"a","keep-last":1,"dry-run":true,"username":"fuzz@pbs","password":"pw"})");
  Mutator m(29);
  for (int i = 0; i < 1500; ++i) {
    const auto& [method, target] = seeds[m.Below(seeds.size())];
    Bytes t = Text(target);
    if (m.Below(2)) t = m.Mutate(t);
    std::string text(t.begin(), t.end());
    HttpRequest r;
    r.method = method;
    auto q = text.find('?');
    auto path = PercentDecode(std::string_view(text).substr(0, q));
    r.path = path ? *path : "/";
    if (q != std::string::npos) {
      auto params = Params::ParseForm(std::string_view(text).substr(q + 1));
      if (params) r.query = *params;
    }
    r.headers["authorization"] = "PBSAPIToken fuzz@pbs!t:" + secret;
    r.headers["upgrade"] = "proxmox-backup-protocol-v1";
    if (m.Below(8) == 0) {
      Bytes h = m.Mutate(Text(r.headers["authorization"]));
      r.headers["authorization"].assign(h.begin(), h.end());
    }
    if (method == "POST") {
      r.headers["content-type"] = m.Below(4) ? "application/json" : "text/x-fuzz";
      r.body = m.Below(2) ? m.Mutate(json_body) : json_body;
    }
    Handled h = (*api)->Handle(r);
    ASSERT_GE(h.response.status, 101) << text;
    ASSERT_LT(h.response.status, 600) << text;
    // An upgrade's session is dropped unused: its snapshot goes with it.
    if (h.upgrade) h.upgrade->End();
  }
}

TEST(ServerFuzz, ConfigurationAndCredentialParsersTakeAnything) {
  Mutator m(31);
  const std::vector<Bytes> configs = {
      Text("datastore: store1\n\tpath /backups/one\n\ndatastore: s2\n\tpath /b\n"),
      Text("user: alice@pbs\n\tenable true\n\ntoken: alice@pbs!t\n\tenable true\n")};
  const std::vector<Bytes> acls = {
      Text("acl:1:/datastore/s1:alice@pbs,bob@pbs!t:DatastoreBackup,DatastoreAudit\n"
           "acl:0:/:carol@pbs:DatastoreAdmin\n")};
  TicketKeys keys(Bytes(32, 1));
  const Bytes ticket = Text(keys.MakeTicket(*AuthId::ParseUser("alice@pbs"), 1000));
  const Bytes form = Text("a=1&b=x%20y+z&c=%2F&digest-list=ab");
  for (int i = 0; i < 3000; ++i) {
    const Bytes c = m.Mutate(configs[m.Below(configs.size())]);
    const std::string ct(c.begin(), c.end());
    auto sections = ParseSectionConfig(ct, "x.cfg");
    if (!sections) {
      EXPECT_FALSE(sections.error().message().empty());
    }
    const Bytes a = m.Mutate(acls[0]);
    auto acl = ParseAclConfig(std::string(a.begin(), a.end()), "acl.cfg");
    if (acl) {
      (void)PrivilegesOf(*acl, *AuthId::Parse("alice@pbs!t"), {"datastore", "s1"});
    } else {
      EXPECT_FALSE(acl.error().message().empty());
    }
    const Bytes t = m.Mutate(ticket);
    (void)keys.CheckTicket(std::string(t.begin(), t.end()), 1000);
    const Bytes f = m.Mutate(form);
    (void)Params::ParseForm(std::string(f.begin(), f.end()));
    (void)AuthId::Parse(std::string(f.begin(), f.end()));
  }
}

}  // namespace
}  // namespace chunkvault::server
