// s3-refresh: the local metadata rebuilt from the bucket's .cnt/ prefix.
#include <set>

#include "chunkvault/manifest.h"
#include "datastore/datastore_impl.h"
#include "datastore/remote.h"

namespace chunkvault {

Result<RefreshReport> DatastoreImpl::RefreshFromBackend() {
  if (!is_remote())
    return Fail(ErrorCode::kInvalidArgument, "datastore " + name_ + " is not backed by S3");
  auto lock = env_->Lock(JoinPath(path_, ".lock"), LockMode::kExclusive, /*wait=*/false);
  if (!lock) {
    if (lock.error().code() == ErrorCode::kBusy)
      return Fail(ErrorCode::kBusy, "cannot refresh " + path_ + " while backups are running");
    return std::unexpected(std::move(lock).error());
  }
  RefreshReport report;
  const std::string prefix = key_prefix() + kContentPrefix;
  std::set<std::string> remote_snapshots;  // relative snapshot directories
  WriteOptions opts;
  opts.sync = sync_ != SyncLevel::kNone;
  CV_RETURN_IF_ERROR(backend_->List(prefix, [&](const ObjectInfo& o) -> Status {
    const std::string rel = o.key.substr(prefix.size());
    if (auto st = CheckContentPath(rel); !st) {
      report.skipped.push_back(o.key + ": " + st.error().message());
      return {};
    }
    CV_ASSIGN_OR_RETURN(Bytes data, backend_->Get(o.key));
    const std::string path = JoinPath(path_, rel);
    CV_RETURN_IF_ERROR(env_->CreateDirs(path.substr(0, path.rfind('/'))));
    CV_RETURN_IF_ERROR(env_->WriteFileAtomic(path, data, opts));
    ++report.files;
    if (rel.ends_with(std::string("/") + kManifestBlobName))
      remote_snapshots.insert(rel.substr(0, rel.rfind('/')));
    return {};
  }));
  // Local snapshots that the bucket does not have were removed elsewhere
  // (another host's forget): drop them here too. Only locally: the mirror
  // is not told.
  CV_ASSIGN_OR_RETURN(auto local, snapshots_->ListSnapshotsIn(BackupNamespace{}, true));
  for (const SnapshotEntry& e : local) {
    if (remote_snapshots.count(e.ref.RelPath())) continue;
    CV_RETURN_IF_ERROR(env_->RemoveTree(snapshots_->Path(e.ref)));
    ++report.removed_snapshots;
  }
  if (sync_ == SyncLevel::kFilesystem) CV_RETURN_IF_ERROR(env_->SyncFilesystem(path_));
  return report;
}

}  // namespace chunkvault
