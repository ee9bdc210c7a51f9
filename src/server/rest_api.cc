#include "server/rest_api.h"

#include <algorithm>
#include <chrono>

#include "server/admin_api.h"
#include "server/backup_protocol.h"
#include "server/reader_protocol.h"

namespace chunkvault::server {
namespace {

constexpr auto kAuthFailureDelay = std::chrono::seconds(3);
constexpr const char* kVersion = "0.1.0";
constexpr const char* kBackupProtocol = "proxmox-backup-protocol-v1";
constexpr const char* kReaderProtocol = "proxmox-backup-reader-protocol-v1";

std::vector<std::string> Components(std::string_view path) {
  std::vector<std::string> parts;
  while (!path.empty()) {
    auto slash = path.find('/');
    std::string_view part = path.substr(0, slash);
    path.remove_prefix(slash == std::string_view::npos ? path.size() : slash + 1);
    if (!part.empty()) parts.emplace_back(part);
  }
  return parts;
}

// The auth-id a failed request claimed, for the log: only a well-formed
// id, so no secret can stand in it.
std::string ClaimedId(const HttpRequest& request) {
  if (const std::string* a = request.Header("authorization"); a && a->size() > 12) {
    std::string_view v = std::string_view(*a).substr(12);
    v = v.substr(0, v.find(':'));
    if (AuthId::Parse(v)) return std::string(v);
  }
  return request.Header("cookie") ? "(ticket)" : "?";
}

HttpResponse SwitchingTo(const char* protocol) {
  HttpResponse switching;
  switching.status = 101;
  switching.headers = {{"connection", "upgrade"}, {"upgrade", protocol}};
  return switching;
}

HttpResponse NotFound(const HttpRequest& request) {
  return ErrorAnswer(404, "Path '" + request.path + "' not found.");
}

}  // namespace

Result<std::unique_ptr<RestApi>> RestApi::Create(Env* env, const std::string& config_dir, Log log) {
  ConfigDir dir(*env, config_dir);
  CV_RETURN_IF_ERROR(dir.Create());
  CV_ASSIGN_OR_RETURN(TicketKeys keys, TicketKeys::LoadOrCreate(*env, dir.PathOf("authkey.key")));
  return std::unique_ptr<RestApi>(new RestApi(env, config_dir, std::move(keys), std::move(log)));
}

RestApi::RestApi(Env* env, const std::string& config_dir, TicketKeys keys, Log log)
    : env_(env),
      config_dir_(*env, config_dir),
      auth_(std::move(keys)),
      datastores_(env),
      log_(std::move(log)),
      tasks_(log_) {}

Handled RestApi::Handle(HttpRequest request) {
  const auto arrived = std::chrono::steady_clock::now();
  metrics_.requests += 1;
  Handled handled;
  std::vector<std::string> path = Components(request.path);
  const bool metrics = path == std::vector<std::string>{"metrics"};
  if (!metrics && (path.size() < 2 || path[0] != "api2" || path[1] != "json")) {
    handled.response = NotFound(request);
    return handled;
  }
  if (!metrics) path.erase(path.begin(), path.begin() + 2);
  for (const auto& part : path)
    if (part.front() == '.') {
      handled.response = ErrorAnswer(400, "path components must not start with '.'");
      return handled;
    }

  auto config = config_dir_.Load();
  if (!config) {
    if (log_) log_("configuration: " + config.error().message());
    handled.response = ErrorAnswer(500, "server configuration unreadable");
    return handled;
  }
  const int64_t now = env_->NowUnix();

  auto refuse = [&](const std::string& who, int status, const std::string& message) {
    metrics_.auth_failures += 1;
    if (log_) log_("authentication failure; rhost=" + request.peer + " user=" + who);
    handled.response = ErrorAnswer(status, message);
    handled.not_before = arrived + kAuthFailureDelay;
    return std::move(handled);
  };

  if (path == std::vector<std::string>{"access", "ticket"} && request.method == "POST") {
    auto params = ParamsOf(request);
    if (!params) {
      handled.response = ErrorAnswer(params.error());
      return handled;
    }
    const std::string* username = params->Find("username");
    const std::string* password = params->Find("password");
    if (!username || !password) return refuse("?", 401, "permission check failed.");
    auto login = auth_.LogIn(*username, *password, *config, now);
    if (!login)
      return refuse(AuthId::Parse(*username) ? *username : "?", 401, "permission check failed.");
    nlohmann::json data = {{"username", login->user.ToString()},
                           {"ticket", login->ticket},
                           {"CSRFPreventionToken", login->csrf_token}};
    auto http_only = params->GetBool("http-only", false);
    if (http_only && *http_only) {
      data.erase("ticket");
      handled.response = JsonAnswer(data);
      handled.response.headers.emplace_back(
          "set-cookie",
          "__Host-PBSAuthCookie=" + login->ticket + "; Secure; SameSite=Lax; HttpOnly; Path=/;");
    } else {
      handled.response = JsonAnswer(data);
    }
    return handled;
  }

  auto who = auth_.Authenticate(request, *config, now);
  if (!who) return refuse(ClaimedId(request), 401, "authentication failed");
  auto answer = metrics ? Metrics(*who, *config) : Route(request, path, *who, *config, handled);
  if (!answer) {
    handled.response = ErrorAnswer(answer.error());
  } else {
    handled.response = std::move(*answer);
  }
  return handled;
}

Result<HttpResponse> RestApi::Route(const HttpRequest& request,
                                    const std::vector<std::string>& path, const AuthId& who,
                                    const ServerConfig& config, Handled& handled) {
  const std::string& method = request.method;
  if (path == std::vector<std::string>{"version"} && method == "GET")
    return JsonAnswer({{"version", kVersion}, {"release", "chunkvault"}, {"repoid", ""}});

  if (path.size() >= 2 && path[0] == "admin" && path[1] == "datastore") {
    if (path.size() == 2 && method == "GET") {
      nlohmann::json list = nlohmann::json::array();
      for (const auto& d : config.datastores())
        if (config.PrivilegesOn(who, {"datastore", d.name}) != 0)
          list.push_back({{"store", d.name}});
      return JsonAnswer(list);
    }
    if (path.size() != 4) return NotFound(request);
    const std::string& store_name = path[2];
    const std::string& call = path[3];
    // PBS's clients send a POST's parameters, ns among them, in a JSON body.
    CV_ASSIGN_OR_RETURN(Params params, ParamsOf(request));
    if (call == "namespace") return Namespaces(request, params, store_name, who, config);
    CV_ASSIGN_OR_RETURN(Scope scope, ScopeOf(store_name, params, who, config, 0));
    const Privileges privileges = scope.privileges;
    const std::shared_ptr<Datastore>& store = scope.store;
    AdminCall admin{*store, store_name, request, who, privileges, scope.ns};
    if (call == "snapshots" && method == "GET") return ListSnapshots(admin);
    if (call == "snapshots" && method == "DELETE") return ForgetSnapshot(admin);
    if (call == "groups" && method == "GET") return ListGroups(admin);
    if (call == "groups" && method == "DELETE") return ForgetGroup(admin);
    if (call == "files" && method == "GET") return ListFiles(admin);
    if (call == "status" && method == "GET") return DatastoreStatus(admin);
    if (call == "prune" && method == "POST") return PruneGroup(admin);
    if (call == "gc" && method == "POST") {
      if (!(privileges & kPrivModify))
        return Fail(ErrorCode::kPermissionDenied, "permission check failed");
      return StartGc(store, store_name, who);
    }
    if (call == "gc" && method == "GET") {
      if (!(privileges & kPrivAudit))
        return Fail(ErrorCode::kPermissionDenied, "permission check failed");
      return GcStatus(store_name);
    }
    if (call == "verify" && method == "POST") {
      if (!(privileges & kPrivVerify))
        return Fail(ErrorCode::kPermissionDenied, "permission check failed");
      return StartVerify(params, scope, who);
    }
    return NotFound(request);
  }
  if (path.size() == 5 && path[0] == "nodes" && path[2] == "tasks" && path[4] == "status" &&
      method == "GET")
    return TaskStatus(path[3], who, config);
  if (path == std::vector<std::string>{"backup"} && method == "GET")
    return UpgradeToBackup(request, who, config, handled);
  if (path == std::vector<std::string>{"reader"} && method == "GET")
    return UpgradeToReader(request, who, config, handled);
  return NotFound(request);
}

Result<RestApi::Scope> RestApi::ScopeOf(const std::string& store_name, const Params& params,
                                        const AuthId& who, const ServerConfig& config,
                                        Privileges any_of, const char* ns_param) {
  Scope scope;
  scope.store_name = store_name;
  if (const std::string* ns_text = params.Find(ns_param)) {
    CV_ASSIGN_OR_RETURN(scope.ns, BackupNamespace::Parse(*ns_text));
  }
  std::vector<std::string> acl_path = {"datastore", store_name};
  acl_path.insert(acl_path.end(), scope.ns.components.begin(), scope.ns.components.end());
  scope.privileges = config.PrivilegesOn(who, acl_path);
  if (any_of == 0 ? scope.privileges == 0 : !(scope.privileges & any_of))
    return Fail(ErrorCode::kPermissionDenied, "permission check failed");
  CV_ASSIGN_OR_RETURN(scope.store, datastores_.Get(config, store_name));
  return scope;
}

Result<HttpResponse> RestApi::Namespaces(const HttpRequest& request, const Params& params,
                                         const std::string& store_name, const AuthId& who,
                                         const ServerConfig& config) {
  if (request.method == "POST") {
    // PBS: Datastore.Modify on the parent.
    CV_ASSIGN_OR_RETURN(Scope parent,
                        ScopeOf(store_name, params, who, config, kPrivModify, "parent"));
    CV_ASSIGN_OR_RETURN(std::string name, params.GetString("name"));
    CV_RETURN_IF_ERROR(WithContext(CheckBackupId(name), "namespace name"));  // one level
    if (!parent.ns.is_root()) {
      BackupNamespace above = parent.ns;
      above.components.pop_back();
      CV_ASSIGN_OR_RETURN(auto siblings, parent.store->ListNamespaces(above, false));
      if (std::find(siblings.begin(), siblings.end(), parent.ns) == siblings.end())
        return Fail(ErrorCode::kNotFound, "cannot create new namespace, parent " +
                                              parent.ns.ToString() + " doesn't already exist");
    }
    BackupNamespace ns = parent.ns;
    ns.components.push_back(name);
    CV_ASSIGN_OR_RETURN(ns, BackupNamespace::Parse(ns.ToString()));
    CV_RETURN_IF_ERROR(parent.store->CreateNamespace(ns));
    return JsonAnswer(ns.ToString());
  }
  if (request.method != "GET") return NotFound(request);
  CV_ASSIGN_OR_RETURN(Scope parent, ScopeOf(store_name, params, who, config, 0, "parent"));
  CV_ASSIGN_OR_RETURN(auto below, parent.store->ListNamespaces(parent.ns, /*recursive=*/true));
  // The parent first, as PBS lists; then those the caller has rights on.
  nlohmann::json list = nlohmann::json::array({{{"ns", parent.ns.ToString()}}});
  for (const BackupNamespace& ns : below) {
    std::vector<std::string> acl_path = {"datastore", store_name};
    acl_path.insert(acl_path.end(), ns.components.begin(), ns.components.end());
    if (config.PrivilegesOn(who, acl_path) != 0) list.push_back({{"ns", ns.ToString()}});
  }
  return JsonAnswer(list);
}

namespace {

Status CheckUpgradeTo(const HttpRequest& request, const char* protocol) {
  const std::string* upgrade = request.Header("upgrade");
  if (!upgrade || *upgrade != protocol)
    return Fail(ErrorCode::kInvalidArgument, "invalid protocol name");
  return {};
}

}  // namespace

Result<HttpResponse> RestApi::UpgradeToBackup(const HttpRequest& request, const AuthId& who,
                                              const ServerConfig& config, Handled& handled) {
  const Params& q = request.query;
  CV_ASSIGN_OR_RETURN(std::string store_name, q.GetString("store"));
  CV_ASSIGN_OR_RETURN(Scope scope, ScopeOf(store_name, q, who, config, kPrivBackup));
  CV_RETURN_IF_ERROR(CheckUpgradeTo(request, kBackupProtocol));
  CV_ASSIGN_OR_RETURN(SnapshotRef snap, SnapshotOf(q, scope.ns));
  CV_ASSIGN_OR_RETURN(bool benchmark, q.GetBool("benchmark", false));
  if (benchmark != (snap.group.type == BackupType::kHost && snap.group.id == "benchmark"))
    return Fail(ErrorCode::kInvalidArgument,
                "benchmark backups are host/benchmark with benchmark=true, and only those");

  UploadOptions upload;
  upload.ns = scope.ns;
  upload.type = snap.group.type;
  upload.id = snap.group.id;
  upload.time = snap.time;
  upload.owner = who.ToString();
  upload.may_use_group = [who](const std::string& owner) { return OwnsGroup(owner, who); };
  CV_ASSIGN_OR_RETURN(bool no_cache, q.GetBool("no-cache", false));
  upload.cache = !no_cache;
  BackupSessionParams params{.store = scope.store,
                             .store_name = store_name,
                             .upload = std::move(upload),
                             .who = who,
                             .peer = request.peer,
                             .log = log_,
                             .metrics = &metrics_};
  CV_ASSIGN_OR_RETURN(handled.upgrade, OpenBackupProtocol(std::move(params)));
  return SwitchingTo(kBackupProtocol);
}

Result<HttpResponse> RestApi::UpgradeToReader(const HttpRequest& request, const AuthId& who,
                                              const ServerConfig& config, Handled& handled) {
  const Params& q = request.query;
  CV_ASSIGN_OR_RETURN(std::string store_name, q.GetString("store"));
  CV_ASSIGN_OR_RETURN(Scope scope, ScopeOf(store_name, q, who, config, kPrivRead | kPrivBackup));
  CV_RETURN_IF_ERROR(CheckUpgradeTo(request, kReaderProtocol));
  CV_ASSIGN_OR_RETURN(SnapshotRef snap, SnapshotOf(q, scope.ns));
  auto reader = scope.store->OpenSnapshotReader(snap);
  if (!reader) {
    if (reader.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "snapshot " + snap.ToString() + " does not exist.");
    return std::unexpected(reader.error());
  }
  // Without Datastore.Read, only the owner's groups.
  if (!(scope.privileges & kPrivRead) && !OwnsGroup((*reader)->owner(), who))
    return Fail(ErrorCode::kPermissionDenied, "backup owner check failed!");
  handled.upgrade = OpenReaderProtocol(ReaderSessionParams{.store = scope.store,
                                                           .store_name = store_name,
                                                           .reader = std::move(*reader),
                                                           .who = who,
                                                           .peer = request.peer,
                                                           .log = log_,
                                                           .metrics = &metrics_});
  return SwitchingTo(kReaderProtocol);
}

Result<HttpResponse> RestApi::Metrics(const AuthId& who, const ServerConfig& config) {
  if (!(config.PrivilegesOn(who, {"datastore"}) & kPrivAudit))
    return Fail(ErrorCode::kPermissionDenied,
                "permission check failed (metrics need the audit role on /datastore)");
  std::vector<StoreMetrics> stores;
  for (auto& [name, store] : datastores_.Open()) stores.push_back({name, store->Report()});
  HttpResponse r;
  r.content_type = "text/plain; version=0.0.4";
  std::string text = RenderMetrics(metrics_, stores, tasks_.Counts());
  r.body.assign(text.begin(), text.end());
  return r;
}

Result<HttpResponse> RestApi::StartGc(std::shared_ptr<Datastore> store, const std::string& name,
                                      const AuthId& who) {
  if (auto last = tasks_.Last("garbage_collection", name); last && last->running)
    return Fail(ErrorCode::kBusy, "garbage collection already running (" + last->upid + ")");
  const std::string upid =
      tasks_.Start("garbage_collection", name, who, [store]() -> Result<nlohmann::json> {
        GcOptions options;
        CV_ASSIGN_OR_RETURN(GcReport r, store->GarbageCollect(options, nullptr));
        return nlohmann::json{{"index-file-count", r.index_files},
                              {"referenced-chunks", r.referenced},
                              {"removed-chunks", r.removed},
                              {"removed-bytes", r.removed_bytes},
                              {"pending-chunks", r.pending},
                              {"pending-bytes", r.pending_bytes},
                              {"disk-chunks", r.kept},
                              {"disk-bytes", r.kept_bytes}};
      });
  return JsonAnswer(upid);
}

Result<HttpResponse> RestApi::GcStatus(const std::string& name) {
  auto last = tasks_.Last("garbage_collection", name);
  if (!last) return JsonAnswer(nlohmann::json::object());
  nlohmann::json j = last->result.is_object() ? last->result : nlohmann::json::object();
  j["upid"] = last->upid;
  j["status"] = last->running ? "running" : last->exit_status;
  return JsonAnswer(j);
}

Result<HttpResponse> RestApi::StartVerify(const Params& params, const Scope& scope,
                                          const AuthId& who) {
  std::vector<SnapshotRef> snapshots;
  if (params.Find("backup-type") || params.Find("backup-id")) {
    CV_ASSIGN_OR_RETURN(BackupGroup group, GroupOf(params, scope.ns));
    CV_ASSIGN_OR_RETURN(auto time, params.GetOptionalInt("backup-time", 1, int64_t{1} << 40));
    CV_ASSIGN_OR_RETURN(auto all, scope.store->ListSnapshots(scope.ns, false));
    for (const auto& s : all)
      if (s.ref.group == group && (!time || s.ref.time == *time)) snapshots.push_back(s.ref);
    if (snapshots.empty()) return Fail(ErrorCode::kNotFound, "nothing to verify");
  } else if (!scope.ns.is_root()) {
    // The namespace and those below it, not the whole store.
    CV_ASSIGN_OR_RETURN(auto all, scope.store->ListSnapshots(scope.ns, /*recursive=*/true));
    for (const auto& s : all) snapshots.push_back(s.ref);
    if (snapshots.empty()) return Fail(ErrorCode::kNotFound, "nothing to verify");
  }
  std::shared_ptr<Datastore> store = scope.store;
  const std::string& name = scope.store_name;
  const std::string upid =
      tasks_.Start("verify", name, who, [store, snapshots]() -> Result<nlohmann::json> {
        VerifyOptions options;
        CV_ASSIGN_OR_RETURN(VerifyReport r, store->Verify(snapshots, options, nullptr));
        nlohmann::json j = {{"snapshots-ok", r.snapshots_ok},
                            {"snapshots-failed", r.snapshots_failed},
                            {"chunks", r.chunks},
                            // encrypted: CRC and crypt mode checked, the key
                            // being the client's alone
                            {"keyless-chunks", r.keyless_chunks},
                            {"bad-chunks", r.bad_chunks.size()},
                            {"errors", r.errors}};
        if (!r.ok())
          return Fail(ErrorCode::kCorrupt,
                      "verification failed: " + std::to_string(r.snapshots_failed) +
                          " snapshots failed, " + std::to_string(r.bad_chunks.size()) +
                          " bad chunks");
        return j;
      });
  return JsonAnswer(upid);
}

Result<HttpResponse> RestApi::TaskStatus(const std::string& upid, const AuthId& who,
                                         const ServerConfig& config) {
  auto task = tasks_.Find(upid);
  if (!task) return Fail(ErrorCode::kNotFound, "no task " + upid);
  if (task->auth_id != who.ToString() &&
      !(config.PrivilegesOn(who, {"datastore", task->store}) & kPrivAudit))
    return Fail(ErrorCode::kPermissionDenied, "permission check failed");
  nlohmann::json j = {
      {"upid", task->upid},       {"type", task->type},
      {"id", task->store},        {"user", task->auth_id},
      {"starttime", task->start}, {"status", task->running ? "running" : "stopped"}};
  if (!task->running) {
    j["exitstatus"] = task->exit_status;
    j["endtime"] = task->end;
    j["result"] = task->result;
  }
  return JsonAnswer(j);
}

}  // namespace chunkvault::server
