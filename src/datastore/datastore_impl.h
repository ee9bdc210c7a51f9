// DatastoreImpl: the Datastore of chunkvault/datastore.h, and what the
// datastore layer's own parts (backup sessions, verify, GC, prune,
// refresh) and its tests reach beyond the public API.
//
// Lock order: docs/architecture.md, "Locks".
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "backend/wrappers.h"
#include "chunkvault/datastore.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "util/thread_annotations.h"

namespace chunkvault {

class ChunkAccess;
class ChunkCache;

class DatastoreImpl final : public Datastore {
 public:
  // `storage`: the bucket's backend and its request counter; none for a
  // local store.
  DatastoreImpl(Env* env, std::string path, std::string name, SyncLevel sync, size_t jobs,
                std::optional<S3Settings> s3, std::optional<CountedBackend> storage,
                CacheOptions cache_options, const OpenOptions& open);
  ~DatastoreImpl() override;

  // Datastore.
  const std::string& path() const override { return path_; }
  const std::string& name() const override { return name_; }
  size_t jobs() const override { return jobs_; }
  bool is_remote() const override { return backend_ != nullptr; }
  const std::optional<S3Settings>& s3_settings() const override { return s3_; }
  std::string DescribeStorage() const override;
  CacheReport Report() override;
  Result<CacheState> CacheStatus() override;
  Result<nlohmann::json> CacheTotals() override;
  Result<RefreshReport> RefreshFromBackend() override;
  Result<std::unique_ptr<BackupSession>> StartBackup(const BackupOptions& options) override;
  Result<std::unique_ptr<UploadSession>> StartUpload(const UploadOptions& options) override;
  Result<std::unique_ptr<SnapshotReader>> OpenSnapshotReader(const SnapshotRef& snap) override;
  Result<std::vector<SnapshotInfo>> ListSnapshots(const BackupNamespace& ns,
                                                  bool recursive) override;
  Result<SnapshotInfo> GetSnapshot(const SnapshotRef& snap) override;
  Result<Manifest> ReadManifest(const SnapshotRef& snap) override;
  Result<std::string> GroupOwner(const BackupGroup& group) override;
  Status CreateNamespace(const BackupNamespace& ns) override;
  Result<std::vector<BackupNamespace>> ListNamespaces(const BackupNamespace& parent,
                                                      bool recursive) override;
  std::string DamageOf(const SnapshotRef& snap) override;
  Result<StoreUsage> Usage(const std::vector<SnapshotInfo>& snapshots) override;
  Result<std::unique_ptr<ArchiveReader>> OpenArchive(const SnapshotRef& snap,
                                                     const std::string& archive,
                                                     std::shared_ptr<const CryptKey> key) override;
  Result<std::unique_ptr<TreeArchive>> OpenTreeArchive(
      const SnapshotRef& snap, const std::string& archive,
      std::shared_ptr<const CryptKey> key) override;
  Result<RestoreSummary> Restore(const SnapshotRef& snap, const std::string& archive,
                                 const std::string& target, const RestoreOptions& options,
                                 TarObserver* observer) override;
  Result<std::vector<RestoreSummary>> RestoreSnapshot(const SnapshotRef& snap,
                                                      const std::string& target,
                                                      const RestoreOptions& options,
                                                      TarObserver* observer) override;
  Status Forget(const SnapshotRef& snap) override;
  Status SetProtected(const SnapshotRef& snap, bool on) override;
  Result<std::string> GetNotes(const SnapshotRef& snap) override;
  Status SetNotes(const SnapshotRef& snap, const std::string& notes) override;
  Result<std::string> GetGroupNotes(const BackupGroup& group) override;
  Status SetGroupNotes(const BackupGroup& group, const std::string& notes) override;
  Result<VerifyReport> Verify(const std::vector<SnapshotRef>& snapshots,
                              const VerifyOptions& options, VerifyObserver* observer) override;
  Result<PruneReport> Prune(const BackupNamespace& ns, const std::optional<BackupGroup>& group,
                            const PruneOptions& options, bool dry_run) override;
  Result<GcReport> GarbageCollect(const GcOptions& options, GcObserver* observer) override;

  // The parts.
  Env* env() const { return env_; }
  SyncLevel sync_level() const { return sync_; }
  Backend* backend() const { return backend_.get(); }  // null: a local store
  // The requests made to the bucket so far (remote stores).
  BackendCounts requests() const { return requests_ ? requests_->counts() : BackendCounts{}; }
  ChunkStore& chunk_store() { return *chunks_; }
  SnapshotStore& snapshot_store() { return *snapshots_; }
  ChunkAccess& chunk_access() { return *access_; }
  // The same door, or (admit false, an S3 store that admits) one that only
  // marks what it uploads or fetches.
  ChunkAccess& chunk_access(bool admit) {
    return admit || !marking_access_ ? *access_ : *marking_access_;
  }

  // DamageOf with the manifest read already; the snapshot's info from it.
  std::string DamageOf(const SnapshotRef& snap, const Manifest& manifest);
  Result<SnapshotInfo> InfoOf(const SnapshotRef& snap, const Manifest& manifest);

  // Reads a snapshot's index or blob file and checks it against the
  // manifest entry (size, checksum, whole-file digest).
  Result<Bytes> ReadCheckedFile(const SnapshotRef& snap, const Manifest& manifest,
                                const std::string& file_name);

  // Runs `fn` on the manifest under the manifest lock and writes it back.
  // The caller holds the snapshot's lock.
  Status UpdateManifest(const SnapshotRef& snap, const std::function<Status(Manifest&)>& fn);

  // Makes what a new snapshot holds (its files, the chunks they name)
  // durable per the sync level: the step before its manifest is written.
  Status MakeDurable(const SnapshotRef& snap);

  // Locks a snapshot directory; kBusy names what holds it.
  Result<std::unique_ptr<FileLock>> LockSnapshot(const SnapshotRef& snap, bool exclusive);

 private:
  // <store>/.locks/<the snapshot's path, '/' as '_'>.manifest. Distinct
  // snapshots may share one (the name is ambiguous): it then serialises
  // both, which is harmless.
  std::string ManifestLockPath(const SnapshotRef& snap) const;
  // Removes it (forget, after the snapshot): .locks/ would otherwise keep
  // one file per snapshot ever annotated.
  Status RemoveManifestLock(const SnapshotRef& snap);
  // Opens the cache when first needed (commands that never touch chunks
  // do not take its lock).
  Result<ChunkCache*> Cache();
  // The running totals of every run (.cache/stats.json).
  std::string CacheStatsPath() const;

  Env* const env_;
  const std::string path_;
  const std::string name_;
  const SyncLevel sync_;
  const size_t jobs_;
  const std::optional<S3Settings> s3_;
  std::shared_ptr<Backend> backend_;           // null: a local datastore
  std::shared_ptr<CountingBackend> requests_;  // counts backend_'s requests
  const CacheOptions cache_options_;
  const bool cache_admit_;
  const std::function<Result<uint64_t>()> cache_free_space_;
  std::mutex cache_mu_;
  std::unique_ptr<ChunkCache> cache_ CV_GUARDED_BY(cache_mu_);
  std::unique_ptr<MetadataMirror> mirror_;  // the bucket's .cnt/, if remote
  std::unique_ptr<ChunkStore> chunks_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<ChunkAccess> access_;
  std::unique_ptr<ChunkAccess> marking_access_;  // null: a local store, or no admission anyway
};

// Every Datastore is one (tests reach the parts through it).
inline DatastoreImpl& ImplOf(Datastore& ds) { return static_cast<DatastoreImpl&>(ds); }

}  // namespace chunkvault
