#include "server/admin_api.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <map>

#include "chunkvault/prune.h"

namespace chunkvault::server {
namespace {

constexpr int64_t kMaxEpoch = int64_t{1} << 40;

Error Forbidden() { return Error(ErrorCode::kPermissionDenied, "permission check failed"); }

// What a caller sees of a group: everything with Audit (or Read), its own
// groups with Backup.
bool Sees(const AdminCall& call, const std::string& owner) {
  if (call.privileges & (kPrivAudit | kPrivRead)) return true;
  return (call.privileges & kPrivBackup) && OwnsGroup(owner, call.who);
}

nlohmann::json SnapshotJson(const SnapshotInfo& info) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : info.files)
    files.push_back(
        {{"filename", f.filename}, {"crypt-mode", CryptModeName(f.crypt_mode)}, {"size", f.size}});
  nlohmann::json j = {{"backup-type", BackupTypeName(info.ref.group.type)},
                      {"backup-id", info.ref.group.id},
                      {"backup-time", info.ref.time},
                      {"files", files},
                      {"size", info.size},
                      {"owner", info.owner},
                      {"protected", info.is_protected}};
  if (!info.notes.empty()) j["comment"] = info.notes.substr(0, info.notes.find('\n'));
  if (!info.verify_state.empty()) j["verification"] = {{"state", info.verify_state}, {"upid", ""}};
  if (!info.damage.empty()) j["damage"] = info.damage;
  return j;
}

Result<std::vector<SnapshotInfo>> VisibleSnapshots(const AdminCall& call) {
  CV_ASSIGN_OR_RETURN(auto all, call.store.ListSnapshots(call.ns, /*recursive=*/false));
  std::erase_if(all, [&](const SnapshotInfo& s) { return !Sees(call, s.owner); });
  return all;
}

// The owner of a group, from its newest listed snapshot ("" if none).
// Forget and prune: Modify, or Prune on an owned group.
Status MayRemove(const AdminCall& call, const BackupGroup& group) {
  if (call.privileges & kPrivModify) return {};
  if (call.privileges & kPrivPrune) {
    CV_ASSIGN_OR_RETURN(std::string owner, call.store.GroupOwner(group));
    if (OwnsGroup(owner, call.who)) return {};
  }
  return std::unexpected(Forbidden());
}

}  // namespace

Result<BackupGroup> GroupOf(const Params& params, const BackupNamespace& ns) {
  CV_ASSIGN_OR_RETURN(std::string type_text, params.GetString("backup-type"));
  CV_ASSIGN_OR_RETURN(BackupType type, ParseBackupType(type_text));
  CV_ASSIGN_OR_RETURN(std::string id, params.GetString("backup-id"));
  CV_RETURN_IF_ERROR(CheckBackupId(id));
  return BackupGroup{ns, type, id};
}

Result<SnapshotRef> SnapshotOf(const Params& params, const BackupNamespace& ns) {
  CV_ASSIGN_OR_RETURN(BackupGroup group, GroupOf(params, ns));
  CV_ASSIGN_OR_RETURN(int64_t time, params.GetInt("backup-time", 1, kMaxEpoch));
  return SnapshotRef{group, time};
}

bool OwnsGroup(const std::string& owner, const AuthId& who) {
  if (owner == who.ToString()) return true;
  auto owner_id = AuthId::Parse(owner);
  return owner_id && owner_id->is_token() && !who.is_token() && owner_id->User() == who;
}

Result<HttpResponse> ListSnapshots(const AdminCall& call) {
  if (!(call.privileges & (kPrivAudit | kPrivRead | kPrivBackup)))
    return std::unexpected(Forbidden());
  const Params& q = call.request.query;
  const std::string* type = q.Find("backup-type");
  const std::string* id = q.Find("backup-id");
  CV_ASSIGN_OR_RETURN(auto snapshots, VisibleSnapshots(call));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& s : snapshots) {
    if (type && *type != BackupTypeName(s.ref.group.type)) continue;
    if (id && *id != s.ref.group.id) continue;
    list.push_back(SnapshotJson(s));
  }
  return JsonAnswer(list);
}

Result<HttpResponse> ListGroups(const AdminCall& call) {
  if (!(call.privileges & (kPrivAudit | kPrivRead | kPrivBackup)))
    return std::unexpected(Forbidden());
  CV_ASSIGN_OR_RETURN(auto snapshots, VisibleSnapshots(call));
  std::map<std::string, nlohmann::json> groups;  // by "type/id"
  for (const auto& s : snapshots) {              // oldest first within a group
    nlohmann::json& g = groups[s.ref.group.ToString()];
    nlohmann::json files = nlohmann::json::array();
    for (const auto& f : s.files) files.push_back(f.filename);
    const int64_t count = g.is_null() ? 1 : g["backup-count"].get<int64_t>() + 1;
    g = {{"backup-type", BackupTypeName(s.ref.group.type)},
         {"backup-id", s.ref.group.id},
         {"last-backup", s.ref.time},
         {"backup-count", count},
         {"files", files},
         {"owner", s.owner}};
  }
  nlohmann::json list = nlohmann::json::array();
  for (auto& [name, g] : groups) list.push_back(std::move(g));
  return JsonAnswer(list);
}

Result<HttpResponse> ListFiles(const AdminCall& call) {
  CV_ASSIGN_OR_RETURN(SnapshotRef snap, SnapshotOf(call.request.query, call.ns));
  CV_ASSIGN_OR_RETURN(SnapshotInfo info, call.store.GetSnapshot(snap));
  if (!Sees(call, info.owner)) return std::unexpected(Forbidden());
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : info.files)
    files.push_back(
        {{"filename", f.filename}, {"crypt-mode", CryptModeName(f.crypt_mode)}, {"size", f.size}});
  return JsonAnswer(files);
}

Result<HttpResponse> DatastoreStatus(const AdminCall& call) {
  if (!(call.privileges & (kPrivAudit | kPrivBackup))) return std::unexpected(Forbidden());
  struct statvfs st {};
  if (::statvfs(call.store.path().c_str(), &st) != 0)
    return FailErrno(errno, "statvfs " + call.store.path());
  const uint64_t total = uint64_t(st.f_blocks) * st.f_frsize;
  const uint64_t avail = uint64_t(st.f_bavail) * st.f_frsize;
  const uint64_t used = total - uint64_t(st.f_bfree) * st.f_frsize;
  nlohmann::json j = {{"total", total},
                      {"used", used},
                      {"avail", avail},
                      {"backend-type", call.store.is_remote() ? "s3" : "filesystem"}};
  return JsonAnswer(j);
}

Result<HttpResponse> ForgetSnapshot(const AdminCall& call) {
  CV_ASSIGN_OR_RETURN(SnapshotRef snap, SnapshotOf(call.request.query, call.ns));
  CV_RETURN_IF_ERROR(MayRemove(call, snap.group));
  CV_RETURN_IF_ERROR(call.store.Forget(snap));
  return JsonAnswer(nullptr);
}

Result<HttpResponse> ForgetGroup(const AdminCall& call) {
  CV_ASSIGN_OR_RETURN(BackupGroup group, GroupOf(call.request.query, call.ns));
  CV_RETURN_IF_ERROR(MayRemove(call, group));
  CV_ASSIGN_OR_RETURN(auto all, call.store.ListSnapshots(call.ns, false));
  size_t removed = 0;
  for (const auto& s : all) {
    if (!(s.ref.group == group)) continue;
    CV_RETURN_IF_ERROR(call.store.Forget(s.ref));
    ++removed;
  }
  if (removed == 0)
    return Fail(ErrorCode::kNotFound, "group " + group.ToString() + " has no snapshot");
  return JsonAnswer(nullptr);
}

Result<HttpResponse> PruneGroup(const AdminCall& call) {
  CV_ASSIGN_OR_RETURN(Params params, ParamsOf(call.request));
  CV_ASSIGN_OR_RETURN(BackupGroup group, GroupOf(params, call.ns));
  CV_RETURN_IF_ERROR(MayRemove(call, group));
  PruneOptions options;
  const std::pair<const char*, std::optional<uint64_t>*> keeps[] = {
      {"keep-last", &options.keep_last},       {"keep-hourly", &options.keep_hourly},
      {"keep-daily", &options.keep_daily},     {"keep-weekly", &options.keep_weekly},
      {"keep-monthly", &options.keep_monthly}, {"keep-yearly", &options.keep_yearly}};
  for (auto [name, slot] : keeps) {
    CV_ASSIGN_OR_RETURN(auto n, params.GetOptionalInt(name, 1, 1 << 30));
    if (n) *slot = static_cast<uint64_t>(*n);
  }
  CV_ASSIGN_OR_RETURN(bool dry_run, params.GetBool("dry-run", false));
  if (!options.any()) {
    // PBS keeps everything when no rule is given.
    CV_ASSIGN_OR_RETURN(auto all, call.store.ListSnapshots(call.ns, false));
    nlohmann::json list = nlohmann::json::array();
    for (const auto& s : all)
      if (s.ref.group == group)
        list.push_back({{"backup-type", BackupTypeName(group.type)},
                        {"backup-id", group.id},
                        {"backup-time", s.ref.time},
                        {"keep", true},
                        {"protected", s.is_protected}});
    return JsonAnswer(list);
  }
  CV_ASSIGN_OR_RETURN(PruneReport report, call.store.Prune(call.ns, group, options, dry_run));
  nlohmann::json list = nlohmann::json::array();
  for (const auto& e : report.entries) {
    nlohmann::json item = {{"backup-type", BackupTypeName(group.type)},
                           {"backup-id", group.id},
                           {"backup-time", e.snapshot.time},
                           {"keep", e.mark != PruneMark::kRemove},
                           {"protected", e.mark == PruneMark::kProtected}};
    if (!e.error.empty()) item["error"] = e.error;
    list.push_back(std::move(item));
  }
  return JsonAnswer(list);
}

}  // namespace chunkvault::server
