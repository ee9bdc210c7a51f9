// Datastore: a PBS-layout backup datastore on the local filesystem or in an
// S3 bucket behind a local chunk cache (docs/format.md holds the layout,
// docs/architecture.md how it is built).
//
//   auto ds = Datastore::Open(Env::Default(), "/backups/store1", {});
//   auto session = (*ds)->StartBackup({.type = BackupType::kHost, .id = "elsa"});
//   (*session)->AddTar("root.tar", "/etc", kDefaultChunkSize, nullptr, nullptr);
//   auto summary = (*session)->Finish();
//
// Errors are results: every method returns Status or Result<T>, whose
// message names what was wrong and where (file, chunk, digest, key). Codes
// callers act on: kNotFound (no such store, snapshot or archive), kBusy
// (a lock is held: a backup writes the snapshot, a GC runs), kProtected,
// kCorrupt (stored bytes fail their checks), kInvalidArgument.
//
// Thread-safety: a Datastore may be used from several threads at once, and
// by several processes on one directory (their locks are in
// docs/architecture.md, "Locks"); a BackupSession or ArchiveReader by one
// thread at a time.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/backend.h"
#include "chunkvault/backup.h"
#include "chunkvault/backup_ref.h"
#include "chunkvault/cache_report.h"
#include "chunkvault/env.h"
#include "chunkvault/gc.h"
#include "chunkvault/manifest.h"
#include "chunkvault/prune.h"
#include "chunkvault/restore.h"
#include "chunkvault/s3_settings.h"
#include "chunkvault/snapshot_info.h"
#include "chunkvault/snapshot_reader.h"
#include "chunkvault/status.h"
#include "chunkvault/tar_observer.h"
#include "chunkvault/tree_archive.h"
#include "chunkvault/upload.h"
#include "chunkvault/verify.h"

namespace chunkvault {

struct InitOptions {
  std::string name;  // the datastore's name (bucket prefix); default: basename
  std::string sync_level = "filesystem";  // none | file | filesystem
  std::optional<S3Settings> s3;           // an S3-backed datastore
  CacheOptions cache;                     // its local chunk cache
  // Adopt what the bucket already holds under the name (and pull its
  // metadata), instead of refusing.
  bool reuse_datastore = false;
  // With reuse: take the prefix over even if another host claims it.
  bool overwrite_in_use = false;
  std::shared_ptr<Backend> backend;  // tests: use this instead of S3
  // S3: told of each request that failed and will be retried ("S3 GET
  // <key> (...): HTTP 503 ...; attempt 2 of 5 in 0.3 s"), never a
  // secret; called from any thread.
  std::function<void(const std::string&)> on_s3_retry;
};

struct OpenOptions {
  // Chunks hashed, compressed, read or sent at once (S3: requests in
  // flight); 0: one per core, at least 8 for an S3-backed store.
  size_t jobs = 0;
  std::shared_ptr<Backend> backend;  // tests: use this instead of S3
  // S3 stores: let this run add chunks to the cache. false: backups keep
  // only markers (--no-cache), reads go through without admitting
  // (--no-admit), so the cache's working set stays as it was.
  bool cache_admit = true;
  // Tests: the cache filesystem's free bytes.
  std::function<Result<uint64_t>()> cache_free_space;
  // As InitOptions::on_s3_retry.
  std::function<void(const std::string&)> on_s3_retry;
};

// What s3-refresh did.
struct RefreshReport {
  uint64_t files = 0;                // metadata files written locally
  uint64_t removed_snapshots = 0;    // local snapshots the bucket no longer has
  std::vector<std::string> skipped;  // keys that are not datastore paths, why
};

class Datastore {
 public:
  // Creates a datastore in `path` (which must be missing or empty); on S3
  // claims "<name>/" in the bucket first.
  static Result<std::unique_ptr<Datastore>> Init(Env* env, const std::string& path,
                                                 const InitOptions& options);
  // Opens one chunkvault or PBS made. An S3-backed store without
  // credentials opens; its first request fails.
  static Result<std::unique_ptr<Datastore>> Open(Env* env, const std::string& path,
                                                 const OpenOptions& options);
  virtual ~Datastore() = default;

  virtual const std::string& path() const = 0;
  virtual const std::string& name() const = 0;
  virtual size_t jobs() const = 0;

  // S3-backed stores: the bucket's settings, and the prefix of our keys
  // ("<name>/").
  virtual bool is_remote() const = 0;
  virtual const std::optional<S3Settings>& s3_settings() const = 0;
  std::string key_prefix() const { return name() + "/"; }
  // Where the chunks live, for messages: the directory, or "bucket 'b' at
  // https://host".
  virtual std::string DescribeStorage() const = 0;

  // The cache's numbers for this process (remote stores).
  virtual CacheReport Report() = 0;
  // How the cache stands (opening it; kUnsupported on a local store).
  virtual Result<CacheState> CacheStatus() = 0;
  // Cumulative numbers of every run, from <store>/.cache/stats.json.
  virtual Result<nlohmann::json> CacheTotals() = 0;

  // Rebuilds the local metadata (everything but chunks) from the bucket's
  // .cnt/ prefix; local snapshots the bucket lacks are removed. Refuses
  // while backups run.
  virtual Result<RefreshReport> RefreshFromBackend() = 0;

  virtual Result<std::unique_ptr<BackupSession>> StartBackup(const BackupOptions& options) = 0;
  // A backup from chunks and files a client made (chunkvaultd's backup
  // protocol; chunkvault/upload.h).
  virtual Result<std::unique_ptr<UploadSession>> StartUpload(const UploadOptions& options) = 0;

  // Complete snapshots in `ns` (and below it, if `recursive`), oldest first
  // within each group. A damaged one is listed with `damage` set rather
  // than hiding the others.
  virtual Result<std::vector<SnapshotInfo>> ListSnapshots(const BackupNamespace& ns,
                                                          bool recursive) = 0;
  virtual Result<SnapshotInfo> GetSnapshot(const SnapshotRef& snap) = 0;
  // A complete snapshot's files and chunks as stored (chunkvault/snapshot_reader.h);
  // kNotFound if it does not exist or is incomplete.
  virtual Result<std::unique_ptr<SnapshotReader>> OpenSnapshotReader(const SnapshotRef& snap) = 0;
  // The snapshot's manifest, checked field by field.
  virtual Result<Manifest> ReadManifest(const SnapshotRef& snap) = 0;
  // Creates namespace `ns` and every level above it (in a bucket too, as
  // PBS marks them); an existing one is left as it is.
  virtual Status CreateNamespace(const BackupNamespace& ns) = 0;
  // The namespaces below `parent` (children, or all descendants), sorted.
  virtual Result<std::vector<BackupNamespace>> ListNamespaces(const BackupNamespace& parent,
                                                              bool recursive) = 0;
  // The auth-id that owns `group` (its owner file); "" if it records none
  // or the group does not exist.
  virtual Result<std::string> GroupOwner(const BackupGroup& group) = 0;
  // Why `snap` cannot be restored as its manifest says, found without
  // reading a chunk: its manifest is unreadable, invalid or another
  // snapshot's, or a file it lists is missing, unreadable or fails its
  // checks (size, checksum, digest, CRC, index layout). Empty when sound.
  // The one notion of damage that snapshots, verify, gc and prune share.
  virtual std::string DamageOf(const SnapshotRef& snap) = 0;
  // Unique chunks behind a set of snapshots (damaged ones left out), and
  // their size on disk.
  virtual Result<StoreUsage> Usage(const std::vector<SnapshotInfo>& snapshots) = 0;

  // Opens "root.tar", "root.tar.didx", "disk.img", "x.blob"...; `key` as
  // RestoreOptions::key.
  virtual Result<std::unique_ptr<ArchiveReader>> OpenArchive(
      const SnapshotRef& snap, const std::string& archive,
      std::shared_ptr<const CryptKey> key = nullptr) = 0;
  // A directory archive (pxar) for listing, finding and partial restores
  // (chunkvault/tree_archive.h); holds the snapshot's shared lock.
  virtual Result<std::unique_ptr<TreeArchive>> OpenTreeArchive(
      const SnapshotRef& snap, const std::string& archive,
      std::shared_ptr<const CryptKey> key = nullptr) = 0;
  // A .pxar or .tar archive into a directory, an image into a file (or
  // "-"), a blob into a file. Nothing is written outside `target`
  // (docs/security.md).
  virtual Result<RestoreSummary> Restore(const SnapshotRef& snap, const std::string& archive,
                                         const std::string& target, const RestoreOptions& options,
                                         TarObserver* observer) = 0;
  // Every archive of a snapshot into directory `target` (missing or empty
  // unless overwriting): "root.pxar" and "root.tar" into target/root/,
  // images and blobs as
  // files named like the archive ("disk.img", "config" for config.blob).
  // Other archives are skipped with a warning.
  virtual Result<std::vector<RestoreSummary>> RestoreSnapshot(const SnapshotRef& snap,
                                                              const std::string& target,
                                                              const RestoreOptions& options,
                                                              TarObserver* observer) = 0;

  // Removes a snapshot (kProtected if protected, kBusy if in use).
  virtual Status Forget(const SnapshotRef& snap) = 0;
  virtual Status SetProtected(const SnapshotRef& snap, bool on) = 0;
  virtual Result<std::string> GetNotes(const SnapshotRef& snap) = 0;
  virtual Status SetNotes(const SnapshotRef& snap, const std::string& notes) = 0;
  virtual Result<std::string> GetGroupNotes(const BackupGroup& group) = 0;
  virtual Status SetGroupNotes(const BackupGroup& group, const std::string& notes) = 0;

  // Verifies the given snapshots (every complete snapshot of every
  // namespace if `snapshots` is empty).
  virtual Result<VerifyReport> Verify(const std::vector<SnapshotRef>& snapshots,
                                      const VerifyOptions& options, VerifyObserver* observer) = 0;

  // Prunes every group of namespace `ns` (or only `group`): removes the
  // snapshots the options do not keep, locally and from the bucket, as
  // forget does. Chunks stay until garbage collection. A snapshot that
  // cannot be removed (a backup writes it) is reported in its entry; the
  // others are still removed.
  virtual Result<PruneReport> Prune(const BackupNamespace& ns,
                                    const std::optional<BackupGroup>& group,
                                    const PruneOptions& options, bool dry_run) = 0;

  // Garbage collection (chunkvault/gc.h). Runs beside backups; one at a
  // time (kBusy). An interrupted run leaves nothing half-done that the
  // next run does not finish.
  virtual Result<GcReport> GarbageCollect(const GcOptions& options, GcObserver* observer) = 0;
};

// The owner recorded for backups by this process: "<user>@pam", the form
// PBS gives local users.
std::string CurrentAuthId();

}  // namespace chunkvault
