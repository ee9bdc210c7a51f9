// The /api2/json/admin/datastore calls of PBS's client (PROTOCOL.md §4.2):
// snapshot and group listings, files, status, forget, prune, in PBS's JSON
// shapes, with PBS's permission rules: Datastore.Audit sees every group,
// Datastore.Backup only the groups it owns (others' are left out, not
// refused); forget and prune need Datastore.Modify, or Datastore.Prune on
// an owned group.
//
// Thread-safety: functions of their arguments; the Datastore is shared.
#pragma once

#include <string>

#include "chunkvault/datastore.h"
#include "server/acl.h"
#include "server/auth_id.h"
#include "server/http_message.h"

namespace chunkvault::server {

// Whether `who` may use a group owned by `owner`: its owner, or the user
// whose token owns it (PBS's check_backup_owner).
bool OwnsGroup(const std::string& owner, const AuthId& who);

// A request's group ("backup-type", "backup-id") or snapshot (and
// "backup-time") in namespace `ns`, checked as PBS checks them.
Result<BackupGroup> GroupOf(const Params& params, const BackupNamespace& ns);
Result<SnapshotRef> SnapshotOf(const Params& params, const BackupNamespace& ns);

struct AdminCall {
  Datastore& store;
  const std::string& store_name;
  const HttpRequest& request;
  const AuthId& who;
  Privileges privileges;  // on /datastore/<store>[/<ns>]
  BackupNamespace ns;
};

Result<HttpResponse> ListSnapshots(const AdminCall& call);
Result<HttpResponse> ListGroups(const AdminCall& call);
Result<HttpResponse> ListFiles(const AdminCall& call);
Result<HttpResponse> DatastoreStatus(const AdminCall& call);
Result<HttpResponse> ForgetSnapshot(const AdminCall& call);
Result<HttpResponse> ForgetGroup(const AdminCall& call);
Result<HttpResponse> PruneGroup(const AdminCall& call);

}  // namespace chunkvault::server
