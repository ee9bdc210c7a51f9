// SnapshotReader: a snapshot's stored bytes under its shared lock
// (chunkvault/snapshot_reader.h).
#include "chunkvault/snapshot_reader.h"

#include "chunkvault/blob.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "datastore/chunk_access.h"
#include "datastore/datastore_impl.h"
#include "store/snapshot_store.h"
#include "util/safe_name.h"

namespace chunkvault {
namespace {

class SnapshotReaderImpl final : public SnapshotReader {
 public:
  SnapshotReaderImpl(DatastoreImpl* ds, SnapshotRef snap, std::string owner,
                     std::unique_ptr<FileLock> lock)
      : ds_(ds), snap_(std::move(snap)), owner_(std::move(owner)), lock_(std::move(lock)) {}

  const SnapshotRef& snapshot() const override { return snap_; }
  const std::string& owner() const override { return owner_; }

  Result<Bytes> ReadFile(const std::string& file_name) override {
    if (!IsSafeName(file_name, 255))
      return Fail(ErrorCode::kInvalidArgument, "invalid file name '" + file_name + "'");
    const uint64_t max = file_name.ends_with(".blob") ? kMaxBlobFileSize : kMaxIndexFileSize;
    return ds_->snapshot_store().ReadFile(snap_, file_name, max);
  }

  Result<Bytes> ReadChunk(const Digest& digest) override {
    return ds_->chunk_access().ReadToServe(digest);
  }

 private:
  DatastoreImpl* const ds_;
  const SnapshotRef snap_;
  const std::string owner_;
  std::unique_ptr<FileLock> lock_;
};

}  // namespace

Result<std::unique_ptr<SnapshotReader>> DatastoreImpl::OpenSnapshotReader(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, /*exclusive=*/false));
  auto manifest = env()->Stat(snapshot_store().FilePath(snap, kManifestBlobName));
  if (!manifest)
    return Fail(ErrorCode::kNotFound, "snapshot " + snap.ToString() + " is incomplete");
  CV_ASSIGN_OR_RETURN(std::string owner, GroupOwner(snap.group));
  return std::unique_ptr<SnapshotReader>(
      std::make_unique<SnapshotReaderImpl>(this, snap, std::move(owner), std::move(lock)));
}

}  // namespace chunkvault
