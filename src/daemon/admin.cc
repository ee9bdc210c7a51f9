#include "daemon/admin.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "chunkvault/datastore.h"
#include "chunkvault/terminal.h"
#include "chunkvault/time.h"
#include "server/server_config.h"
#include "server/tls_cert.h"

namespace chunkvault::daemon {
namespace {

using server::AuthId;
using server::ConfigDir;

int Report(const Error& error) {
  std::fprintf(stderr, "chunkvaultd: error: %s\n", error.message().c_str());
  return kExitFailure;
}

void PrintJson(const nlohmann::json& j) { std::printf("%s\n", j.dump(2).c_str()); }

Result<std::string> NewPassword() {
  if (const char* env = std::getenv("CHUNKVAULT_PASSWORD"); env && *env) return std::string(env);
  return ReadNewSecret(
      "Password: ", "Password again: ", "password (set CHUNKVAULT_PASSWORD or run on a terminal)");
}

std::string Hostname() {
  char name[256] = {};
  if (::gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

struct Common {
  std::string config_dir = kDefaultConfigDir;
  bool json = false;
};

CLI::App* Leaf(CLI::App* parent, const char* name, const char* help, Common& common,
               bool with_json) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  AddConfigDirOption(cmd, common.config_dir);
  if (with_json) cmd->add_flag("--json", common.json, "Print JSON");
  return cmd;
}

void RegisterDatastore(CLI::App& app, int& exit_code) {
  CLI::App* group = app.add_subcommand("datastore", "Datastores chunkvaultd serves");
  group->require_subcommand(1);
  struct Args {
    Common common;
    std::string name, path;
  };
  auto add = std::make_shared<Args>();
  CLI::App* cmd =
      Leaf(group, "add", "Serve a store made by chunkvault init, by NAME", add->common, false);
  cmd->add_option("name", add->name, "Datastore name (3 to 32 of A-Za-z0-9._-)")->required();
  cmd->add_option("path", add->path, "The store's directory")->required();
  cmd->callback([add, &exit_code] {
    std::string path = add->path;
    if (!path.empty() && path.front() != '/') {
      char cwd[4096];
      if (::getcwd(cwd, sizeof cwd)) path = std::string(cwd) + "/" + path;
    }
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    // A store chunkvault (or PBS) can open: the server would fail later.
    OpenOptions options;
    if (auto ds = Datastore::Open(Env::Default(), path, options); !ds)
      return void(exit_code = Report(Error(ds.error()).Context("datastore add " + add->name)));
    ConfigDir dir(*Env::Default(), add->common.config_dir);
    if (auto st = dir.AddDatastore(add->name, path); !st)
      return void(exit_code = Report(st.error()));
    std::printf("datastore %s: %s\n", add->name.c_str(), path.c_str());
  });

  auto list = std::make_shared<Common>();
  cmd = Leaf(group, "list", "List the datastores", *list, true);
  cmd->callback([list, &exit_code] {
    auto config = ConfigDir(*Env::Default(), list->config_dir).Load();
    if (!config) return void(exit_code = Report(config.error()));
    nlohmann::json j = nlohmann::json::array();
    for (const auto& d : config->datastores()) {
      j.push_back({{"name", d.name}, {"path", d.path}});
      if (!list->json) std::printf("%s\t%s\n", d.name.c_str(), d.path.c_str());
    }
    if (list->json) PrintJson(j);
  });
}

void RegisterUser(CLI::App& app, int& exit_code) {
  CLI::App* group = app.add_subcommand("user", "Users (name@realm) who log in with a password");
  group->require_subcommand(1);
  struct Args {
    Common common;
    std::string userid;
  };
  auto add = std::make_shared<Args>();
  CLI::App* cmd =
      Leaf(group, "add", "Add a user; the password comes from CHUNKVAULT_PASSWORD or a prompt",
           add->common, false);
  cmd->add_option("userid", add->userid, "name@realm")->required();
  cmd->callback([add, &exit_code] {
    auto user = AuthId::ParseUser(add->userid);
    if (!user) return void(exit_code = Report(user.error()));
    auto password = NewPassword();
    if (!password) return void(exit_code = Report(password.error()));
    ConfigDir dir(*Env::Default(), add->common.config_dir);
    if (auto st = dir.AddUser(*user, *password); !st) return void(exit_code = Report(st.error()));
    std::printf("user %s added\n", user->ToString().c_str());
  });

  auto list = std::make_shared<Common>();
  cmd = Leaf(group, "list", "List users and their tokens", *list, true);
  cmd->callback([list, &exit_code] {
    auto config = ConfigDir(*Env::Default(), list->config_dir).Load();
    if (!config) return void(exit_code = Report(config.error()));
    nlohmann::json j = nlohmann::json::array();
    for (const auto& u : config->users()) {
      nlohmann::json tokens = nlohmann::json::array();
      for (const auto& t : config->tokens())
        if (t.User() == u) tokens.push_back(t.ToString());
      j.push_back({{"userid", u.ToString()}, {"tokens", tokens}});
      if (!list->json) {
        std::printf("%s\n", u.ToString().c_str());
        for (const auto& t : tokens) std::printf("  %s\n", t.get<std::string>().c_str());
      }
    }
    if (list->json) PrintJson(j);
  });
}

void RegisterToken(CLI::App& app, int& exit_code) {
  CLI::App* group = app.add_subcommand("token", "API tokens (name@realm!token) of a user");
  group->require_subcommand(1);
  struct Args {
    Common common;
    std::string tokenid;
  };
  auto add = std::make_shared<Args>();
  CLI::App* cmd = Leaf(group, "add", "Add a token and print its secret (shown only this once)",
                       add->common, true);
  cmd->add_option("tokenid", add->tokenid, "name@realm!token")->required();
  cmd->callback([add, &exit_code] {
    auto token = AuthId::Parse(add->tokenid);
    if (!token) return void(exit_code = Report(token.error()));
    ConfigDir dir(*Env::Default(), add->common.config_dir);
    auto secret = dir.AddToken(*token);
    if (!secret) return void(exit_code = Report(secret.error()));
    if (add->common.json) {
      PrintJson({{"tokenid", token->ToString()}, {"value", *secret}});
    } else {
      std::printf("tokenid: %s\nvalue: %s\n", token->ToString().c_str(), secret->c_str());
      std::fprintf(stderr, "The secret is shown only now; chunkvaultd keeps only its hash.\n");
    }
  });

  auto remove = std::make_shared<Args>();
  cmd = Leaf(group, "remove", "Remove a token and its ACL entries", remove->common, false);
  cmd->add_option("tokenid", remove->tokenid, "name@realm!token")->required();
  cmd->callback([remove, &exit_code] {
    auto token = AuthId::Parse(remove->tokenid);
    if (!token) return void(exit_code = Report(token.error()));
    ConfigDir dir(*Env::Default(), remove->common.config_dir);
    if (auto st = dir.RemoveToken(*token); !st) return void(exit_code = Report(st.error()));
    std::printf("token %s removed\n", token->ToString().c_str());
  });
}

void RegisterAcl(CLI::App& app, int& exit_code) {
  CLI::App* group = app.add_subcommand("acl", "Who may do what on which datastore");
  group->require_subcommand(1);
  struct Args {
    Common common;
    std::string path, role, auth_id;
    bool no_propagate = false;
  };
  auto set = std::make_shared<Args>();
  CLI::App* cmd = Leaf(group, "set",
                       "Give AUTHID exactly ROLE on PATH (/, /datastore, /datastore/NAME[/NS...])",
                       set->common, false);
  cmd->add_option("path", set->path, "ACL path")->required();
  cmd->add_option("role", set->role,
                  "audit, reader, backup or admin (or DatastoreAudit, DatastoreReader, "
                  "DatastoreBackup, DatastoreAdmin)")
      ->required();
  cmd->add_option("--auth-id", set->auth_id, "name@realm or name@realm!token")->required();
  cmd->add_flag("--no-propagate", set->no_propagate, "Only PATH itself, not below it");
  cmd->callback([set, &exit_code] {
    auto who = AuthId::Parse(set->auth_id);
    if (!who) return void(exit_code = Report(who.error()));
    auto role = server::ParseRole(set->role);
    if (!role) return void(exit_code = Report(role.error()));
    ConfigDir dir(*Env::Default(), set->common.config_dir);
    if (auto st = dir.SetAcl(set->path, *role, *who, !set->no_propagate); !st)
      return void(exit_code = Report(st.error()));
    std::printf("%s: %s on %s\n", who->ToString().c_str(), server::RoleName(*role),
                set->path.c_str());
  });

  auto remove = std::make_shared<Args>();
  cmd = Leaf(group, "remove", "Remove what AUTHID has on PATH", remove->common, false);
  cmd->add_option("path", remove->path, "ACL path")->required();
  cmd->add_option("--auth-id", remove->auth_id, "name@realm or name@realm!token")->required();
  cmd->callback([remove, &exit_code] {
    auto who = AuthId::Parse(remove->auth_id);
    if (!who) return void(exit_code = Report(who.error()));
    ConfigDir dir(*Env::Default(), remove->common.config_dir);
    if (auto st = dir.RemoveAcl(remove->path, *who); !st)
      return void(exit_code = Report(st.error()));
    std::printf("%s: nothing on %s\n", who->ToString().c_str(), remove->path.c_str());
  });

  auto list = std::make_shared<Common>();
  cmd = Leaf(group, "list", "List the ACL", *list, true);
  cmd->callback([list, &exit_code] {
    auto config = ConfigDir(*Env::Default(), list->config_dir).Load();
    if (!config) return void(exit_code = Report(config.error()));
    nlohmann::json j = nlohmann::json::array();
    for (const auto& e : config->acl()) {
      j.push_back({{"path", e.path},
                   {"ugid", e.auth_id.ToString()},
                   {"roleid", server::RoleName(e.role)},
                   {"propagate", e.propagate}});
      if (!list->json)
        std::printf("%s\t%s\t%s%s\n", e.path.c_str(), e.auth_id.ToString().c_str(),
                    server::RoleName(e.role), e.propagate ? "" : "\t(not propagated)");
    }
    if (list->json) PrintJson(j);
  });
}

void RegisterCert(CLI::App& app, int& exit_code) {
  CLI::App* group = app.add_subcommand("cert", "The server's TLS certificate");
  group->require_subcommand(1);
  auto info = std::make_shared<Common>();
  CLI::App* cmd =
      Leaf(group, "info", "Print the certificate and its fingerprint (made first if missing)",
           *info, true);
  cmd->callback([info, &exit_code] {
    ConfigDir dir(*Env::Default(), info->config_dir);
    if (auto st = dir.Create(); !st) return void(exit_code = Report(st.error()));
    const std::string key = dir.PathOf("proxy.key"), pem = dir.PathOf("proxy.pem");
    if (auto st = server::EnsureCertificate(*Env::Default(), key, pem, Hostname()); !st)
      return void(exit_code = Report(st.error()));
    auto cert = server::ReadCertificateInfo(*Env::Default(), pem);
    if (!cert) return void(exit_code = Report(cert.error()));
    if (info->json) {
      PrintJson({{"subject", cert->subject},
                 {"issuer", cert->issuer},
                 {"notbefore", cert->not_before},
                 {"notafter", cert->not_after},
                 {"public-key-type", cert->public_key},
                 {"fingerprint", cert->fingerprint},
                 {"filename", pem}});
      return;
    }
    std::printf(
        "Subject: %s\nIssuer: %s\nValid from: %s\nValid until: %s\nPublic key: %s\n"
        "Fingerprint (sha256): %s\n",
        cert->subject.c_str(), cert->issuer.c_str(), FormatRfc3339(cert->not_before).c_str(),
        FormatRfc3339(cert->not_after).c_str(), cert->public_key.c_str(),
        cert->fingerprint.c_str());
  });
}

}  // namespace

void AddConfigDirOption(CLI::App* cmd, std::string& config_dir) {
  cmd->add_option("--config-dir", config_dir, "Configuration directory")
      ->envname(kConfigDirVariable)
      ->default_str(kDefaultConfigDir);
}

void RegisterAdminCommands(CLI::App& app, int& exit_code) {
  RegisterDatastore(app, exit_code);
  RegisterUser(app, exit_code);
  RegisterToken(app, exit_code);
  RegisterAcl(app, exit_code);
  RegisterCert(app, exit_code);
}

}  // namespace chunkvault::daemon
