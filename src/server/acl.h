// Who may do what where: roles granted to auth-ids on PBS's ACL paths, and
// the privileges a request has on a path.
//
// Paths are "/", "/datastore", "/datastore/<store>" and
// "/datastore/<store>/<ns>/<ns>..." (namespace components, as PBS spells
// them). A grant on a path applies there and, when it propagates (the
// default), below it; for one auth-id the grant nearest the path wins, so a
// narrower grant can also take rights away. An API token has what both its
// own grants and its user's grants allow (PBS's rule). Nobody is a
// superuser: root@pam has what acl.cfg gives it, like everyone else.
//
// acl.cfg holds PBS's lines, "acl:<propagate 0|1>:<path>:<auth-ids>:<roles>"
// (comma-separated lists), so lines can be copied between the two.
//
// Thread-safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/status.h"
#include "server/auth_id.h"

namespace chunkvault::server {

// PBS's datastore privileges, as bits.
enum Privilege : uint32_t {
  kPrivAudit = 1u << 0,   // Datastore.Audit: list, status, metrics
  kPrivRead = 1u << 1,    // Datastore.Read: read every group
  kPrivBackup = 1u << 2,  // Datastore.Backup: write and read own groups
  kPrivModify = 1u << 3,  // Datastore.Modify: forget, prune, GC any group
  kPrivPrune = 1u << 4,   // Datastore.Prune: forget and prune own groups
  kPrivVerify = 1u << 5,  // Datastore.Verify
};
using Privileges = uint32_t;

enum class Role { kAudit, kReader, kBackup, kAdmin };

// "audit", "reader", "backup", "admin", or PBS's names for them
// ("DatastoreAudit", "DatastoreReader", "DatastoreBackup",
// "DatastoreAdmin"). kInvalidArgument otherwise, listing them.
Result<Role> ParseRole(std::string_view text);
// PBS's name ("DatastoreBackup"...), as acl.cfg holds it.
const char* RoleName(Role role);
Privileges RolePrivileges(Role role);

// Checks an ACL path's form (kInvalidArgument naming what is wrong) and
// returns its components ("/datastore/s1/a" -> {"datastore", "s1", "a"}).
Result<std::vector<std::string>> ParseAclPath(std::string_view path);

struct AclEntry {
  std::string path;  // as ParseAclPath accepts it
  AuthId auth_id;
  Role role;
  bool propagate = true;
};

// kCorrupt "<file_name> line N: ..." for a malformed line.
Result<std::vector<AclEntry>> ParseAclConfig(std::string_view text, const std::string& file_name);
// One line per entry.
std::string FormatAclConfig(const std::vector<AclEntry>& entries);

// The privileges `who` has on `path` (components as ParseAclPath gives
// them) under `entries`, before the token rule (see PrivilegesOf).
Privileges GrantedPrivileges(const std::vector<AclEntry>& entries, const AuthId& who,
                             const std::vector<std::string>& path);
// With the token rule: a token's own grants, limited to its user's.
Privileges PrivilegesOf(const std::vector<AclEntry>& entries, const AuthId& who,
                        const std::vector<std::string>& path);

}  // namespace chunkvault::server
