// Remote (chunkvault/remote.h): the repository, the credentials, and one
// connection per backup session.
#include "chunkvault/remote.h"

#include <chrono>
#include <ctime>
#include <set>
#include <thread>

#include "client/connection.h"
#include "client/remote_backup.h"
#include "client/remote_reader.h"
#include "client/repository.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

class RemoteImpl final : public Remote {
 public:
  RemoteImpl(client::Repository repo, client::Credentials creds, size_t jobs, bool cache_admit,
             std::unique_ptr<client::Connection> rest)
      : repo_(std::move(repo)),
        creds_(std::move(creds)),
        jobs_(jobs),
        cache_admit_(cache_admit),
        rest_(std::move(rest)) {}

  std::string Describe() const override { return repo_.ToString(); }

  Result<std::unique_ptr<BackupSession>> StartBackup(const BackupOptions& options) override {
    CV_ASSIGN_OR_RETURN(auto connection, client::Connection::Open(repo_, creds_));
    BackupOptions o = options;
    if (!o.time) {
      // As a local backup: never in the future, and after the group's
      // last snapshot (a second backup within its second waits for the
      // next, where a server would refuse it).
      const int64_t last = LastBackupTime(*connection, o);
      // time() reads a coarse clock that may lag the one sleep_until
      // waits on by a tick: look again after waking.
      while (std::time(nullptr) <= last)
        std::this_thread::sleep_until(std::chrono::system_clock::from_time_t(last + 1) +
                                      std::chrono::milliseconds(5));
      o.time = std::time(nullptr);
    }
    auto open_reader = [repo = repo_, creds = creds_](const SnapshotRef& snap)
        -> Result<std::unique_ptr<SnapshotReader>> {
      CV_ASSIGN_OR_RETURN(auto c, client::Connection::Open(repo, creds));
      return client::StartRemoteReader(std::move(c), repo, snap);
    };
    return client::StartRemoteBackup(std::move(connection), repo_, o, jobs_, !cache_admit_,
                                     std::move(open_reader));
  }

  // The time of the group's newest snapshot the server lists, 0 if none
  // (or if it does not let us list).
  int64_t LastBackupTime(client::Connection& c, const BackupOptions& o) {
    std::vector<std::pair<std::string, std::string>> query = {
        {"backup-type", BackupTypeName(o.type)}, {"backup-id", o.id}};
    if (!o.ns.is_root()) query.emplace_back("ns", o.ns.ToString());
    auto r = c.Request("GET", "/api2/json/admin/datastore/" + repo_.store + "/snapshots", query);
    if (!r) return 0;
    auto data = client::DataOf(*r);
    int64_t last = 0;
    if (data && data->is_array())
      for (const auto& s : *data)
        if (s.is_object()) last = std::max(last, s.value("backup-time", int64_t{0}));
    return last;
  }

  Status Forget(const SnapshotRef& snap) override {
    std::vector<std::pair<std::string, std::string>> query = {
        {"backup-type", BackupTypeName(snap.group.type)},
        {"backup-id", snap.group.id},
        {"backup-time", std::to_string(snap.time)}};
    if (!snap.group.ns.is_root()) query.emplace_back("ns", snap.group.ns.ToString());
    CV_ASSIGN_OR_RETURN(
        client::Response r,
        rest_->Request("DELETE", "/api2/json/admin/datastore/" + repo_.store + "/snapshots",
                       query));
    CV_RETURN_IF_ERROR(client::DataOf(r));
    return {};
  }

  Result<std::unique_ptr<SnapshotReader>> OpenSnapshot(const SnapshotRef& snap) override {
    CV_ASSIGN_OR_RETURN(auto connection, client::Connection::Open(repo_, creds_));
    return client::StartRemoteReader(std::move(connection), repo_, snap);
  }

  Result<PruneReport> Prune(const BackupNamespace& ns, const std::optional<BackupGroup>& group,
                            const PruneOptions& options, bool dry_run) override {
    std::vector<BackupGroup> groups;
    if (group) {
      groups.push_back(*group);
    } else {
      CV_ASSIGN_OR_RETURN(nlohmann::json list, ListSnapshots(ns));
      std::set<std::pair<std::string, std::string>> seen;
      for (const auto& s : list.is_array() ? list : nlohmann::json::array()) {
        if (!s.is_object()) continue;
        const std::string type = s.value("backup-type", ""), id = s.value("backup-id", "");
        auto parsed = ParseBackupType(type);
        if (!parsed || !CheckBackupId(id) || !seen.emplace(type, id).second) continue;
        groups.push_back(BackupGroup{ns, *parsed, id});
      }
    }
    PruneReport report;
    report.dry_run = dry_run;
    for (const BackupGroup& g : groups) {
      nlohmann::json body = {
          {"backup-type", BackupTypeName(g.type)}, {"backup-id", g.id}, {"dry-run", dry_run}};
      if (!ns.is_root()) body["ns"] = ns.ToString();
      const std::pair<const char*, const std::optional<uint64_t>*> keeps[] = {
          {"keep-last", &options.keep_last},       {"keep-hourly", &options.keep_hourly},
          {"keep-daily", &options.keep_daily},     {"keep-weekly", &options.keep_weekly},
          {"keep-monthly", &options.keep_monthly}, {"keep-yearly", &options.keep_yearly}};
      for (auto [name, value] : keeps)
        if (*value) body[name] = **value;
      CV_ASSIGN_OR_RETURN(client::Response r,
                          rest_->Request("POST", AdminPath("prune"), {}, &body));
      CV_ASSIGN_OR_RETURN(nlohmann::json answer, client::DataOf(r));
      if (!answer.is_array())
        return Fail(ErrorCode::kNetwork, "server: a prune answer that is not a list");
      for (const auto& item : answer) {
        if (!item.is_object() || !item.contains("backup-time") ||
            !item["backup-time"].is_number_integer())
          return Fail(ErrorCode::kNetwork, "server: a prune answer's entry without backup-time");
        PruneEntry e;
        e.snapshot = SnapshotRef{g, item["backup-time"].get<int64_t>()};
        const bool keep = item.value("keep", true), is_protected = item.value("protected", false);
        e.mark = is_protected ? PruneMark::kProtected
                 : keep       ? PruneMark::kKeep
                              : PruneMark::kRemove;
        if (item.contains("error") && item["error"].is_string()) e.error = item["error"];
        if (e.mark == PruneMark::kRemove && e.error.empty()) ++report.removed;
        report.entries.push_back(std::move(e));
      }
    }
    return report;
  }

  Result<nlohmann::json> RunGc() override {
    CV_ASSIGN_OR_RETURN(client::Response r, rest_->Request("POST", AdminPath("gc"), {}));
    CV_ASSIGN_OR_RETURN(nlohmann::json upid, client::DataOf(r));
    return WaitForTask(upid, ErrorCode::kIo);
  }

  Result<nlohmann::json> RunVerify(const BackupNamespace& ns,
                                   const std::optional<BackupGroup>& group,
                                   std::optional<int64_t> time) override {
    nlohmann::json body = nlohmann::json::object();
    if (!ns.is_root()) body["ns"] = ns.ToString();
    if (group) {
      body["backup-type"] = BackupTypeName(group->type);
      body["backup-id"] = group->id;
      if (time) body["backup-time"] = *time;
    }
    CV_ASSIGN_OR_RETURN(client::Response r, rest_->Request("POST", AdminPath("verify"), {}, &body));
    CV_ASSIGN_OR_RETURN(nlohmann::json upid, client::DataOf(r));
    return WaitForTask(upid, ErrorCode::kCorrupt);
  }

  // Asks for the task's status until it stops: every 0.2 s at first, then
  // less often, up to every 2 s. A task that failed is an error of `failed`.
  Result<nlohmann::json> WaitForTask(const nlohmann::json& upid, ErrorCode failed) {
    if (!upid.is_string()) return Fail(ErrorCode::kNetwork, "server: a task id that is not text");
    const std::string id = upid.get<std::string>();
    // The UPID goes into a path: "UPID:<node>:..." of plain characters.
    const bool plain = id.starts_with("UPID:") && id.size() < 512 &&
                       id.find_first_not_of(
                           "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "0123456789:@!._-") == std::string::npos;
    if (!plain) return Fail(ErrorCode::kNetwork, "server: a malformed task id");
    const std::string node = id.substr(5, id.find(':', 5) - 5);
    auto wait = std::chrono::milliseconds(200);
    for (;;) {
      CV_ASSIGN_OR_RETURN(
          client::Response r,
          rest_->Request("GET", "/api2/json/nodes/" + node + "/tasks/" + id + "/status", {}));
      CV_ASSIGN_OR_RETURN(nlohmann::json status, client::DataOf(r));
      if (!status.is_object()) return Fail(ErrorCode::kNetwork, "server: a malformed task status");
      if (status.value("status", "") == "stopped") {
        const std::string exit = status.value("exitstatus", "");
        if (exit != "OK") return Fail(failed, "server task " + id + ": " + exit);
        return status;
      }
      std::this_thread::sleep_for(wait);
      wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(2));
    }
  }

  Result<std::vector<BackupNamespace>> ListNamespaces(const BackupNamespace& parent) override {
    std::vector<std::pair<std::string, std::string>> query;
    if (!parent.is_root()) query.emplace_back("parent", parent.ToString());
    CV_ASSIGN_OR_RETURN(client::Response r, rest_->Request("GET", AdminPath("namespace"), query));
    CV_ASSIGN_OR_RETURN(nlohmann::json list, client::DataOf(r));
    std::vector<BackupNamespace> out;
    for (const auto& item : list.is_array() ? list : nlohmann::json::array()) {
      if (!item.is_object() || !item.contains("ns") || !item["ns"].is_string()) continue;
      auto ns = BackupNamespace::Parse(item["ns"].get<std::string>());
      if (!ns) return Fail(ErrorCode::kNetwork, "server: " + ns.error().message());
      out.push_back(std::move(*ns));
    }
    return out;
  }

  Status CreateNamespace(const BackupNamespace& ns) override {
    if (ns.is_root()) return Fail(ErrorCode::kInvalidArgument, "the root namespace always exists");
    BackupNamespace parent = ns;
    parent.components.pop_back();
    nlohmann::json body = {{"name", ns.components.back()}};
    if (!parent.is_root()) body["parent"] = parent.ToString();
    CV_ASSIGN_OR_RETURN(client::Response r,
                        rest_->Request("POST", AdminPath("namespace"), {}, &body));
    CV_RETURN_IF_ERROR(client::DataOf(r));
    return {};
  }

  std::string AdminPath(const std::string& call) const {
    return "/api2/json/admin/datastore/" + repo_.store + "/" + call;
  }

  Result<nlohmann::json> ListSnapshots(const BackupNamespace& ns) override {
    std::vector<std::pair<std::string, std::string>> query;
    if (!ns.is_root()) query.emplace_back("ns", ns.ToString());
    CV_ASSIGN_OR_RETURN(
        client::Response r,
        rest_->Request("GET", "/api2/json/admin/datastore/" + repo_.store + "/snapshots", query));
    return client::DataOf(r);
  }

 private:
  client::Repository repo_;
  client::Credentials creds_;
  size_t jobs_;
  bool cache_admit_;
  std::unique_ptr<client::Connection> rest_;
};

}  // namespace

Result<std::unique_ptr<Remote>> Remote::Connect(const RemoteOptions& options) {
  CV_ASSIGN_OR_RETURN(client::Repository repo, client::ParseRepository(options.repository));
  client::Credentials creds{options.secret, options.fingerprint};
  if (creds.secret.empty())
    return Fail(ErrorCode::kInvalidArgument, "no password or token secret for " + repo.auth_id +
                                                 " (CHUNKVAULT_PASSWORD or PBS_PASSWORD)");
  CV_ASSIGN_OR_RETURN(auto rest, client::Connection::Open(repo, creds));
  const size_t jobs =
      options.jobs ? options.jobs : std::max<size_t>(8, ThreadPool::DefaultThreads());
  return std::unique_ptr<Remote>(std::make_unique<RemoteImpl>(
      std::move(repo), std::move(creds), jobs, options.cache_admit, std::move(rest)));
}

}  // namespace chunkvault
