// Remote (chunkvault/remote.h): the repository, the credentials, and one
// connection per backup session.
#include "chunkvault/remote.h"

#include <chrono>
#include <ctime>
#include <thread>

#include "client/connection.h"
#include "client/remote_backup.h"
#include "client/repository.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

class RemoteImpl final : public Remote {
 public:
  RemoteImpl(client::Repository repo, client::Credentials creds, size_t jobs,
             std::unique_ptr<client::Connection> rest)
      : repo_(std::move(repo)), creds_(std::move(creds)), jobs_(jobs), rest_(std::move(rest)) {}

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
    return client::StartRemoteBackup(std::move(connection), repo_, o, jobs_);
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
  return std::unique_ptr<Remote>(
      std::make_unique<RemoteImpl>(std::move(repo), std::move(creds), jobs, std::move(rest)));
}

}  // namespace chunkvault
