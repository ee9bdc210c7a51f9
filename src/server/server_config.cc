#include "server/server_config.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "server/secret_hash.h"
#include "server/section_config.h"
#include "util/safe_name.h"

namespace chunkvault::server {
namespace {

constexpr const char* kDatastoreFile = "datastore.cfg";
constexpr const char* kUserFile = "user.cfg";
constexpr const char* kShadowFile = "shadow.json";
constexpr const char* kTokenShadowFile = "token.shadow";
constexpr const char* kAclFile = "acl.cfg";
constexpr const char* kLockFile = ".config.lck";

// The file's text, or "" if it does not exist.
Result<std::string> ReadText(Env& env, const std::string& path) {
  auto data = env.ReadFile(path, kMaxMetadataFileSize);
  if (!data) {
    if (data.error().code() == ErrorCode::kNotFound) return std::string();
    return std::unexpected(data.error());
  }
  return std::string(AsString(*data));
}

Result<std::map<std::string, std::string>> ParseHashes(const std::string& text,
                                                       const std::string& path) {
  std::map<std::string, std::string> hashes;
  if (text.empty()) return hashes;
  auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object())
    return Fail(ErrorCode::kCorrupt, path + ": not a JSON object");
  for (const auto& [id, hash] : j.items()) {
    if (!hash.is_string())
      return Fail(ErrorCode::kCorrupt, path + ": the hash of '" + id + "' is not a string");
    hashes.emplace(id, hash.get<std::string>());
  }
  return hashes;
}

bool IsDatastoreName(std::string_view name) { return name.size() >= 3 && IsSafeName(name, 32); }

}  // namespace

const DatastoreEntry* ServerConfig::FindDatastore(std::string_view name) const {
  for (const auto& d : datastores_)
    if (d.name == name) return &d;
  return nullptr;
}

bool ServerConfig::Has(const AuthId& who) const {
  const auto& list = who.is_token() ? tokens_ : users_;
  return std::find(list.begin(), list.end(), who) != list.end();
}

const std::string* ServerConfig::SecretHashOf(const AuthId& who) const {
  if (!Has(who) || !Has(who.User())) return nullptr;
  const auto& hashes = who.is_token() ? token_hashes_ : password_hashes_;
  auto it = hashes.find(who.ToString());
  return it == hashes.end() ? nullptr : &it->second;
}

bool ServerConfig::CheckSecret(const AuthId& who, std::string_view secret) const {
  const std::string* hash = SecretHashOf(who);
  return hash && VerifySecret(secret, *hash);
}

Privileges ServerConfig::PrivilegesOn(const AuthId& who,
                                      const std::vector<std::string>& path) const {
  if (!Has(who) || !Has(who.User())) return 0;
  return PrivilegesOf(acl_, who, path);
}

Status ConfigDir::Create() { return env_.CreateDirs(dir_, 0700); }

Result<ServerConfig> ConfigDir::Load() const {
  ServerConfig config;
  {
    const std::string path = PathOf(kDatastoreFile);
    CV_ASSIGN_OR_RETURN(std::string text, ReadText(env_, path));
    CV_ASSIGN_OR_RETURN(auto sections, ParseSectionConfig(text, path));
    for (const auto& s : sections) {
      if (s.type != "datastore")
        return Fail(ErrorCode::kCorrupt, path + ": unknown section type '" + s.type + "'");
      const std::string* store_path = s.Find("path");
      if (!IsDatastoreName(s.id) || !store_path || store_path->empty() ||
          store_path->front() != '/')
        return Fail(ErrorCode::kCorrupt,
                    path + ": datastore '" + s.id + "' needs a safe name and an absolute path");
      config.datastores_.push_back(DatastoreEntry{s.id, *store_path});
    }
  }
  {
    const std::string path = PathOf(kUserFile);
    CV_ASSIGN_OR_RETURN(std::string text, ReadText(env_, path));
    CV_ASSIGN_OR_RETURN(auto sections, ParseSectionConfig(text, path));
    for (const auto& s : sections) {
      if (s.type != "user" && s.type != "token")
        return Fail(ErrorCode::kCorrupt, path + ": unknown section type '" + s.type + "'");
      auto who = AuthId::Parse(s.id);
      if (!who || who->is_token() != (s.type == "token"))
        return Fail(ErrorCode::kCorrupt, path + ": '" + s.id + "' is not a " + s.type + " id");
      if (const std::string* enable = s.Find("enable");
          enable && *enable != "true" && *enable != "1")
        continue;  // disabled: as if absent
      (who->is_token() ? config.tokens_ : config.users_).push_back(*who);
    }
  }
  CV_ASSIGN_OR_RETURN(std::string shadow, ReadText(env_, PathOf(kShadowFile)));
  CV_ASSIGN_OR_RETURN(config.password_hashes_, ParseHashes(shadow, PathOf(kShadowFile)));
  CV_ASSIGN_OR_RETURN(std::string token_shadow, ReadText(env_, PathOf(kTokenShadowFile)));
  CV_ASSIGN_OR_RETURN(config.token_hashes_, ParseHashes(token_shadow, PathOf(kTokenShadowFile)));
  CV_ASSIGN_OR_RETURN(std::string acl, ReadText(env_, PathOf(kAclFile)));
  CV_ASSIGN_OR_RETURN(config.acl_, ParseAclConfig(acl, PathOf(kAclFile)));
  return config;
}

Result<std::unique_ptr<FileLock>> ConfigDir::LockForEdit() const {
  CV_RETURN_IF_ERROR(env_.CreateDirs(dir_, 0700));
  return env_.Lock(PathOf(kLockFile), LockMode::kExclusive, /*wait=*/true);
}

Status ConfigDir::WriteDatastores(const ServerConfig& config) const {
  std::vector<ConfigSection> sections;
  for (const auto& d : config.datastores_)
    sections.push_back(ConfigSection{"datastore", d.name, {{"path", d.path}}});
  CV_ASSIGN_OR_RETURN(std::string text, FormatSectionConfig(sections));
  WriteOptions options;
  options.sync = true;
  options.mode = 0640;
  return env_.WriteFileAtomic(PathOf(kDatastoreFile), AsBytes(text), options);
}

Status ConfigDir::WriteUsers(const ServerConfig& config) const {
  std::vector<ConfigSection> sections;
  for (const auto& u : config.users_)
    sections.push_back(ConfigSection{"user", u.ToString(), {{"enable", "true"}}});
  for (const auto& t : config.tokens_)
    sections.push_back(ConfigSection{"token", t.ToString(), {{"enable", "true"}}});
  CV_ASSIGN_OR_RETURN(std::string text, FormatSectionConfig(sections));
  WriteOptions options;
  options.sync = true;
  options.mode = 0640;
  return env_.WriteFileAtomic(PathOf(kUserFile), AsBytes(text), options);
}

Status ConfigDir::WriteHashes(const char* file,
                              const std::map<std::string, std::string>& hashes) const {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [id, hash] : hashes) j[id] = hash;
  WriteOptions options;
  options.sync = true;
  options.mode = 0600;
  return env_.WriteFileAtomic(PathOf(file), AsBytes(j.dump(2) + "\n"), options);
}

Status ConfigDir::WriteAcl(const ServerConfig& config) const {
  WriteOptions options;
  options.sync = true;
  options.mode = 0640;
  return env_.WriteFileAtomic(PathOf(kAclFile), AsBytes(FormatAclConfig(config.acl_)), options);
}

Status ConfigDir::AddDatastore(const std::string& name, const std::string& path) {
  if (!IsDatastoreName(name))
    return Fail(ErrorCode::kInvalidArgument,
                "invalid datastore name '" + name +
                    "': 3 to 32 of [A-Za-z0-9._-], starting with a letter, digit or '_'");
  if (path.empty() || path.front() != '/' || path.back() == ' ' || path.back() == '\t' ||
      path.find_first_of("\r\n") != std::string::npos)
    return Fail(ErrorCode::kInvalidArgument,
                "datastore path '" + path + "' must be absolute, on one line");
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  if (config.FindDatastore(name))
    return Fail(ErrorCode::kAlreadyExists, "datastore '" + name + "' exists already");
  config.datastores_.push_back(DatastoreEntry{name, path});
  return WriteDatastores(config);
}

Status ConfigDir::AddUser(const AuthId& user, std::string_view password) {
  if (user.is_token())
    return Fail(ErrorCode::kInvalidArgument,
                "'" + user.ToString() + "' is a token id; add tokens with token add");
  CV_ASSIGN_OR_RETURN(std::string hash, HashSecret(password));
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  if (config.Has(user))
    return Fail(ErrorCode::kAlreadyExists, "user '" + user.ToString() + "' exists already");
  config.password_hashes_[user.ToString()] = std::move(hash);
  CV_RETURN_IF_ERROR(WriteHashes(kShadowFile, config.password_hashes_));
  config.users_.push_back(user);
  return WriteUsers(config);
}

Result<std::string> ConfigDir::AddToken(const AuthId& token) {
  if (!token.is_token())
    return Fail(ErrorCode::kInvalidArgument,
                "'" + token.ToString() + "' is not a token id (USER@REALM!NAME)");
  std::string secret = NewTokenSecret();
  CV_ASSIGN_OR_RETURN(std::string hash, HashSecret(secret));
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  if (!config.Has(token.User()))
    return Fail(ErrorCode::kNotFound, "user '" + token.user() + "' does not exist (user add)");
  if (config.Has(token))
    return Fail(ErrorCode::kAlreadyExists, "token '" + token.ToString() + "' exists already");
  config.token_hashes_[token.ToString()] = std::move(hash);
  CV_RETURN_IF_ERROR(WriteHashes(kTokenShadowFile, config.token_hashes_));
  config.tokens_.push_back(token);
  CV_RETURN_IF_ERROR(WriteUsers(config));
  return secret;
}

Status ConfigDir::RemoveToken(const AuthId& token) {
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  if (!token.is_token() || !config.Has(token))
    return Fail(ErrorCode::kNotFound, "no token '" + token.ToString() + "'");
  // The section first: once it is gone the token grants nothing, whatever
  // a crash leaves of the rest.
  std::erase(config.tokens_, token);
  CV_RETURN_IF_ERROR(WriteUsers(config));
  config.token_hashes_.erase(token.ToString());
  CV_RETURN_IF_ERROR(WriteHashes(kTokenShadowFile, config.token_hashes_));
  const size_t before = config.acl_.size();
  std::erase_if(config.acl_, [&](const AclEntry& e) { return e.auth_id == token; });
  return config.acl_.size() == before ? Status{} : WriteAcl(config);
}

Status ConfigDir::SetAcl(const std::string& path, Role role, const AuthId& who, bool propagate) {
  CV_RETURN_IF_ERROR(ParseAclPath(path));
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  if (!config.Has(who))
    return Fail(ErrorCode::kNotFound, "no user or token '" + who.ToString() + "'");
  std::erase_if(config.acl_, [&](const AclEntry& e) { return e.auth_id == who && e.path == path; });
  config.acl_.push_back(AclEntry{path, who, role, propagate});
  return WriteAcl(config);
}

Status ConfigDir::RemoveAcl(const std::string& path, const AuthId& who) {
  CV_ASSIGN_OR_RETURN(auto lock, LockForEdit());
  CV_ASSIGN_OR_RETURN(ServerConfig config, Load());
  const size_t before = config.acl_.size();
  std::erase_if(config.acl_, [&](const AclEntry& e) { return e.auth_id == who && e.path == path; });
  if (config.acl_.size() == before)
    return Fail(ErrorCode::kNotFound, who.ToString() + " has no role on " + path);
  return WriteAcl(config);
}

}  // namespace chunkvault::server
