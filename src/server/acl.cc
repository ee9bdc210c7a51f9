#include "server/acl.h"

#include "util/safe_name.h"

namespace chunkvault::server {
namespace {

struct RoleInfo {
  Role role;
  const char* short_name;
  const char* pbs_name;
  Privileges privileges;
};

constexpr RoleInfo kRoles[] = {
    {Role::kAudit, "audit", "DatastoreAudit", kPrivAudit},
    {Role::kReader, "reader", "DatastoreReader", kPrivAudit | kPrivRead},
    {Role::kBackup, "backup", "DatastoreBackup", kPrivBackup},
    {Role::kAdmin, "admin", "DatastoreAdmin",
     kPrivAudit | kPrivRead | kPrivBackup | kPrivModify | kPrivPrune | kPrivVerify},
};

const RoleInfo& InfoOf(Role role) {
  for (const auto& r : kRoles)
    if (r.role == role) return r;
  return kRoles[0];
}

std::vector<std::string_view> SplitOn(std::string_view s, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    auto at = s.find(sep);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

// A namespace has at most 7 levels (PBS's MAX_NAMESPACE_DEPTH).
constexpr size_t kMaxNamespaceDepth = 7;

}  // namespace

Result<Role> ParseRole(std::string_view text) {
  for (const auto& r : kRoles)
    if (text == r.short_name || text == r.pbs_name) return r.role;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown role '" + std::string(text) +
                  "' (roles: audit, reader, backup, admin, or PBS's DatastoreAudit, "
                  "DatastoreReader, DatastoreBackup, DatastoreAdmin)");
}

const char* RoleName(Role role) { return InfoOf(role).pbs_name; }
Privileges RolePrivileges(Role role) { return InfoOf(role).privileges; }

Result<std::vector<std::string>> ParseAclPath(std::string_view path) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid ACL path '" + std::string(path) + "': " + why);
  };
  if (path.empty() || path.front() != '/') return bad("it must start with '/'");
  std::vector<std::string> parts;
  if (path == "/") return parts;
  for (auto part : SplitOn(path.substr(1), '/')) parts.emplace_back(part);
  if (parts[0] != "datastore") return bad("expected /, /datastore or /datastore/<store>[/<ns>...]");
  for (size_t i = 1; i < parts.size(); ++i)
    if (!IsSafeName(parts[i], 32))
      return bad("'" + parts[i] + "' is not a datastore or namespace name");
  if (parts.size() > 2 + kMaxNamespaceDepth) return bad("a namespace has at most 7 levels");
  return parts;
}

Result<std::vector<AclEntry>> ParseAclConfig(std::string_view text, const std::string& file_name) {
  std::vector<AclEntry> entries;
  size_t line_no = 0;
  for (auto raw : SplitOn(text, '\n')) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.remove_suffix(1);
    if (raw.empty() || raw.front() == '#') continue;
    auto bad = [&](const std::string& why) {
      return Fail(ErrorCode::kCorrupt, file_name + " line " + std::to_string(line_no) + ": " + why);
    };
    auto fields = SplitOn(raw, ':');
    if (fields.size() != 5 || fields[0] != "acl")
      return bad("expected acl:<propagate>:<path>:<auth-ids>:<roles>");
    if (fields[1] != "0" && fields[1] != "1") return bad("propagate must be 0 or 1");
    auto path = ParseAclPath(fields[2]);
    if (!path) return bad(path.error().message());
    for (auto who_text : SplitOn(fields[3], ',')) {
      auto who = AuthId::Parse(who_text);
      if (!who) return bad(who.error().message());
      for (auto role_text : SplitOn(fields[4], ',')) {
        auto role = ParseRole(role_text);
        if (!role) return bad(role.error().message());
        entries.push_back(AclEntry{std::string(fields[2]), *who, *role, fields[1] == "1"});
      }
    }
  }
  return entries;
}

std::string FormatAclConfig(const std::vector<AclEntry>& entries) {
  std::string out;
  for (const auto& e : entries)
    out += std::string("acl:") + (e.propagate ? "1" : "0") + ":" + e.path + ":" +
           e.auth_id.ToString() + ":" + RoleName(e.role) + "\n";
  return out;
}

Privileges GrantedPrivileges(const std::vector<AclEntry>& entries, const AuthId& who,
                             const std::vector<std::string>& path) {
  // Walk from "/" down to `path`; the deepest level that grants `who`
  // anything decides (above the path only propagating grants count).
  Privileges result = 0;
  for (size_t depth = 0; depth <= path.size(); ++depth) {
    bool found = false;
    Privileges here = 0;
    for (const auto& e : entries) {
      if (e.auth_id != who || (depth < path.size() && !e.propagate)) continue;
      auto parts = ParseAclPath(e.path);
      if (!parts || parts->size() != depth) continue;
      if (!std::equal(parts->begin(), parts->end(), path.begin())) continue;
      found = true;
      here |= RolePrivileges(e.role);
    }
    if (found) result = here;
  }
  return result;
}

Privileges PrivilegesOf(const std::vector<AclEntry>& entries, const AuthId& who,
                        const std::vector<std::string>& path) {
  Privileges own = GrantedPrivileges(entries, who, path);
  if (!who.is_token()) return own;
  return own & GrantedPrivileges(entries, who.User(), path);
}

}  // namespace chunkvault::server
