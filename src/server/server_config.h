// chunkvaultd's configuration directory (--config-dir, default
// /etc/chunkvault), in PBS's file names and formats where PBS has them:
//
//   datastore.cfg  "datastore: NAME" sections with "path PATH"
//   user.cfg       "user: USERID" and "token: USERID!NAME" sections
//   shadow.json    {"USERID": "<crypt(3) hash>"}          (0600)
//   token.shadow   {"USERID!NAME": "<crypt(3) hash>"}     (0600)
//   acl.cfg        "acl:1:/datastore/NAME:AUTHID:ROLE" lines (server/acl.h)
//   proxy.key (0600) and proxy.pem: the TLS key and certificate
//
// The directory is 0700; missing files are empty configuration. Secrets are
// kept only as salted hashes. Every edit takes the exclusive lock on
// ".config.lck", reads the files afresh and replaces each file it changes
// atomically, so concurrent `chunkvaultd` commands never lose an edit and a
// crash leaves every file whole (an edit touching two files, such as a
// token's section and its hash, writes the hash first: a hash without its
// section grants nothing).
//
// Thread-safety: a ServerConfig is an immutable snapshot; ConfigDir's
// methods may be called from any thread (the lock orders them).
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/env.h"
#include "chunkvault/status.h"
#include "server/acl.h"
#include "server/auth_id.h"

namespace chunkvault::server {

struct DatastoreEntry {
  std::string name;  // a safe id of at most 32 bytes
  std::string path;  // absolute
};

class ServerConfig {
 public:
  const std::vector<DatastoreEntry>& datastores() const { return datastores_; }
  const DatastoreEntry* FindDatastore(std::string_view name) const;
  // Users and tokens in user.cfg, in file order.
  const std::vector<AuthId>& users() const { return users_; }
  const std::vector<AuthId>& tokens() const { return tokens_; }
  bool Has(const AuthId& who) const;
  const std::vector<AclEntry>& acl() const { return acl_; }

  // Whether `secret` is the password of the user `who` (a user in
  // user.cfg with a hash in shadow.json) or the secret of the token `who`
  // (a token in user.cfg whose user is there too, with a hash in
  // token.shadow). Slow by design (yescrypt); false for anything unknown.
  bool CheckSecret(const AuthId& who, std::string_view secret) const;
  // The stored hash CheckSecret compares with, or nullptr when `who` (or
  // its user) is absent or has none.
  const std::string* SecretHashOf(const AuthId& who) const;

  // What `who` may do on the ACL path `path` (see server/acl.h); nothing
  // for an auth-id user.cfg does not hold.
  Privileges PrivilegesOn(const AuthId& who, const std::vector<std::string>& path) const;

 private:
  friend class ConfigDir;
  std::vector<DatastoreEntry> datastores_;
  std::vector<AuthId> users_;
  std::vector<AuthId> tokens_;
  std::map<std::string, std::string> password_hashes_;  // userid -> hash
  std::map<std::string, std::string> token_hashes_;     // tokenid -> hash
  std::vector<AclEntry> acl_;
};

class ConfigDir {
 public:
  ConfigDir(Env& env, std::string dir) : env_(env), dir_(std::move(dir)) {}

  const std::string& dir() const { return dir_; }
  std::string PathOf(const char* file) const { return dir_ + "/" + file; }

  // Creates the directory (0700) if missing.
  Status Create();
  // Reads every file; kCorrupt naming the file for a malformed one.
  Result<ServerConfig> Load() const;

  // kAlreadyExists for a name in use; kInvalidArgument for a bad name or a
  // path that is not absolute.
  Status AddDatastore(const std::string& name, const std::string& path);
  // kAlreadyExists if the user is there; kInvalidArgument for a token id or
  // an empty password.
  Status AddUser(const AuthId& user, std::string_view password);
  // Returns the new token's secret (shown once, kept only hashed).
  // kNotFound if its user is missing, kAlreadyExists if the token is there.
  Result<std::string> AddToken(const AuthId& token);
  // Removes the token, its hash and its ACL entries; kNotFound if missing.
  Status RemoveToken(const AuthId& token);
  // Gives `who` (which must exist) exactly `role` on `path`, replacing
  // what it had there.
  Status SetAcl(const std::string& path, Role role, const AuthId& who, bool propagate);
  // Removes what `who` has on `path`; kNotFound if it had nothing there.
  Status RemoveAcl(const std::string& path, const AuthId& who);

 private:
  Result<std::unique_ptr<FileLock>> LockForEdit() const;
  Status WriteDatastores(const ServerConfig& config) const;
  Status WriteUsers(const ServerConfig& config) const;
  Status WriteHashes(const char* file, const std::map<std::string, std::string>& hashes) const;
  Status WriteAcl(const ServerConfig& config) const;

  Env& env_;
  std::string dir_;
};

}  // namespace chunkvault::server
