// Datastore: a PBS-layout backup datastore (SPEC sections 1-5).
//
//   auto ds = Datastore::Open(Env::Default(), "/backups/store1", {});
//   auto session = (*ds)->StartBackup({.type = BackupType::kHost, .id = "elsa"});
//   (*session)->AddTar("root.tar", "/etc", nullptr);
//   auto summary = (*session)->Finish();
//
// Crash consistency: chunks and index files appear under their final names
// only complete (temporary name, then rename); the manifest is written last,
// after everything it lists is durable. A snapshot without a manifest is
// incomplete: a backup is running or was killed. Listings and verify skip
// incomplete snapshots; forget removes them.
//
// Locks, always taken in this order (a later one is never held while an
// earlier one is acquired):
//   0. <store>/.gc-lock       exclusive while garbage collection runs
//   1. <store>/.lock          shared by backups
//      <store>/.writers/<...> exclusive, one per running backup (no order:
//                             never waited for)
//   2. group directory        shared by backups; exclusive to remove a group
//   3. snapshot directory     exclusive while a backup writes it, shared by
//                             readers (restore, verify); exclusive to forget
//   4. <store>/.locks/<...>   exclusive around a manifest read-modify-write;
//                             forget removes the snapshot's under it
//   5. .chunks/<4hex>         shared by a backup around one chunk's check
//                             and write; exclusive by GC while it removes
//                             chunks, several in ascending order
// Directory locks are flock()s on the directories themselves, so nothing is
// added to the PBS layout.
//
// Thread-safety: a Datastore may be used from several threads; a
// BackupSession or ArchiveReader by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/backend.h"
#include "chunkvault/backup_ref.h"
#include "chunkvault/cache_types.h"
#include "chunkvault/env.h"
#include "chunkvault/manifest.h"
#include "chunkvault/status.h"

namespace chunkvault {

class ChunkStore;
class SnapshotStore;
class ChunkAccess;
class MetadataMirror;
class ChunkCache;
class TarObserver;
struct TarStats;
class FileLock;

enum class SyncLevel;

// An S3-backed datastore's bucket. Credentials are not part of it: they
// come from the AWS environment and profiles at every run and are never
// stored.
struct S3Options {
  std::string endpoint;  // https://host[:port] (http for loopback)
  std::string bucket;
  std::string region = "us-east-1";
  bool path_style = false;
  bool skip_if_none_match = false;
  std::string fingerprint;  // SHA-256 of a self-signed certificate
  double put_rate_limit = 0;  // PUTs per second; 0: unlimited
};

// The local chunk cache of an S3-backed datastore (SPEC section 7).
struct CacheOptions {
  uint64_t max_size = 0;          // bytes; 0: bounded by the free space only
  std::string policy = "s3fifo";  // s3fifo | lru
};

struct InitOptions {
  std::string name;  // the datastore's name (bucket prefix); default: basename
  std::string sync_level = "filesystem";  // none | file | filesystem
  std::optional<S3Options> s3;            // an S3-backed datastore
  CacheOptions cache;                     // its local chunk cache
  // Adopt what the bucket already holds under the name (and pull its
  // metadata), instead of refusing.
  bool reuse_datastore = false;
  // With reuse: take the prefix over even if another host claims it.
  bool overwrite_in_use = false;
  std::shared_ptr<Backend> backend;  // tests: use this instead of S3
  // S3: told of each request that failed and will be retried (see
  // S3Config::on_retry); called from any thread.
  std::function<void(const std::string&)> on_s3_retry;
};

struct OpenOptions {
  size_t jobs = 0;  // chunk work in parallel (S3: requests in flight); 0: auto
  std::shared_ptr<Backend> backend;  // tests: use this instead of S3
  // S3 stores: let this run add chunks to the cache. false: backups keep
  // only markers (--no-cache), reads go through without admitting
  // (--no-admit), so the cache's working set stays as it was.
  bool cache_admit = true;
  // Tests: the cache filesystem's free bytes.
  std::function<Result<uint64_t>()> cache_free_space;
  // S3: told of each request that failed and will be retried (see
  // S3Config::on_retry); called from any thread.
  std::function<void(const std::string&)> on_s3_retry;
};

// What this process did with the cache and the bucket so far.
struct CacheReport {
  bool remote = false;        // an S3-backed store
  bool opened = false;        // the cache was used
  CacheCounters counters;
  CacheState state;
  BackendCounts requests;     // S3 requests made
};

// What s3-refresh did.
struct RefreshReport {
  uint64_t files = 0;                  // metadata files written locally
  uint64_t removed_snapshots = 0;      // local snapshots the bucket no longer has
  std::vector<std::string> skipped;    // keys that are not datastore paths, why
};

struct BackupOptions {
  BackupNamespace ns;
  BackupType type = BackupType::kHost;
  std::string id;
  std::optional<int64_t> time;  // default: now (bumped past a clash)
  std::string owner;            // default: "<user>@pam" of the caller
  bool compress = true;
};

// One file of a finished backup.
struct ArchiveSummary {
  std::string file_name;  // root.tar.didx, disk.img.fidx, notes.blob
  uint64_t size = 0;      // data bytes (blob: encoded bytes)
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;    // chunks this backup stored
  uint64_t new_bytes = 0;     // their data bytes
  uint64_t stored_bytes = 0;  // their encoded bytes
};

struct BackupSummary {
  SnapshotRef snapshot;
  std::vector<ArchiveSummary> archives;
  uint64_t bytes = 0, chunks = 0, new_chunks = 0, new_bytes = 0, stored_bytes = 0;
};

// Live counters of a running backup (for progress lines).
struct BackupProgress {
  std::atomic<uint64_t> bytes{0};      // data bytes cut into chunks so far
  std::atomic<uint64_t> new_bytes{0};  // of which were new to the store
  std::atomic<uint64_t> stored_bytes{0};
};

class BackupSession {
 public:
  virtual ~BackupSession() = default;  // not finished: the snapshot is removed

  virtual const SnapshotRef& snapshot() const = 0;

  // A directory tree as a pax tar stream in "<archive>.didx" (archive ends
  // with ".tar"), cut by the buzhash chunker with average `chunk_size`.
  virtual Result<ArchiveSummary> AddTar(const std::string& archive, const std::string& dir,
                                        uint64_t chunk_size, TarObserver* observer,
                                        TarStats* stats) = 0;
  // A regular file or block device in "<archive>.fidx" (archive ends with
  // ".img"), cut every `chunk_size` bytes.
  virtual Result<ArchiveSummary> AddImage(const std::string& archive, const std::string& path,
                                          uint64_t chunk_size) = 0;
  // A small file as "<name>" (ending with ".blob").
  virtual Result<ArchiveSummary> AddBlob(const std::string& name, ByteView data) = 0;

  // Called on the backup's thread after every chunk; read progress() there.
  virtual void SetProgressCallback(std::function<void()> fn) = 0;
  virtual const BackupProgress& progress() const = 0;

  // Waits for all chunks, makes them durable, writes the manifest.
  virtual Result<BackupSummary> Finish() = 0;
};

struct SnapshotInfo {
  SnapshotRef ref;
  std::vector<ManifestFile> files;
  uint64_t size = 0;  // sum of the files' sizes
  bool is_protected = false;
  std::string owner;
  std::string notes;
  std::string verify_state;  // "ok", "failed" or "" (never verified)
  // Why the snapshot cannot be restored as its manifest says, found without
  // reading a chunk (Datastore::DamageOf); empty when it is sound.
  std::string damage;
};

struct StoreUsage {
  uint64_t logical_bytes = 0;  // sum of snapshot sizes
  uint64_t unique_chunks = 0;  // distinct chunks they reference
  uint64_t unique_bytes = 0;   // data bytes of those chunks
  uint64_t stored_bytes = 0;   // encoded (compressed) bytes of them on disk
  uint64_t missing_chunks = 0;
};

// A stored archive's bytes, in order.
class ArchiveReader {
 public:
  enum class Kind { kDynamic, kFixed, kBlob };
  virtual ~ArchiveReader() = default;
  virtual Kind kind() const = 0;
  virtual const std::string& file_name() const = 0;
  virtual uint64_t size() const = 0;
  // The next piece (valid until the next call); empty at the end. Every
  // chunk's CRC and digest are checked; errors name chunk and archive.
  virtual Result<ByteView> Next() = 0;
  // What keeps the piece last returned by Next() alive after the next
  // call, for readers that pass data on to other threads; null if
  // nothing does.
  virtual std::shared_ptr<const void> Keep() { return nullptr; }
  virtual uint64_t bytes_read() const = 0;
};

struct RestoreOptions {
  bool overwrite = false;  // restore into a non-empty directory / over a file
  // A symlink at the target itself is followed: the user named it (a
  // /dev/disk/by-id link, a directory link). RestoreSnapshot's targets
  // inside its directory come from the snapshot's names and are not.
  bool follow_target_symlink = true;
};

struct RestoreSummary {
  std::string file_name;
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t warnings = 0;
};

struct VerifyOptions {
  bool rename_bad = true;       // move corrupt chunks to <digest>.<n>.bad
  bool update_manifest = true;  // record verify_state in each manifest
  // S3 stores: by default every chunk is read from the bucket (the copies
  // restores depend on), bypassing the cache and leaving it as it was.
  // true: read through the cache (cached chunks are checked locally;
  // misses are fetched and, if the store was opened with cache_admit,
  // admitted).
  bool use_cache = false;
};

struct BadChunk {
  Digest digest;
  std::string error;
  std::string renamed_to;  // empty if it was missing or could not be moved
};

struct VerifyReport {
  uint64_t snapshots_ok = 0;
  uint64_t snapshots_failed = 0;
  std::vector<std::string> skipped;  // incomplete or busy snapshots, why
  uint64_t chunks = 0;               // distinct chunks checked
  uint64_t chunk_bytes = 0;          // their data bytes
  std::vector<BadChunk> bad_chunks;
  std::vector<std::string> errors;   // each names snapshot and file
  bool ok() const { return snapshots_failed == 0 && errors.empty() && bad_chunks.empty(); }
};

// Prune: which snapshots of a group to keep (PBS's semantics; the rules
// are written in src/datastore/prune.h).
struct PruneOptions {
  std::optional<uint64_t> keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly,
      keep_yearly;
  bool any() const {
    return keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly || keep_yearly;
  }
};

// A damaged snapshot (SnapshotInfo::damage) is, like a protected one,
// neither removed by the rules nor counted by them: the newest backups
// that can be restored are what the rules keep, and what is damaged is
// left for someone to look at (and forget).
enum class PruneMark { kKeep, kKeepPartial, kProtected, kDamaged, kRemove };
// "keep", "keep-partial", "protected", "damaged", "remove"
const char* PruneMarkName(PruneMark mark);

struct PruneEntry {
  SnapshotRef snapshot;
  PruneMark mark = PruneMark::kKeep;
  std::string error;  // a snapshot to remove that could not be (busy...)
  std::string damage;  // kDamaged: why
};

struct PruneReport {
  bool dry_run = false;
  std::vector<PruneEntry> entries;  // every snapshot of the groups, newest first
  uint64_t removed = 0;             // snapshots removed (dry run: to remove)
  bool ok() const {
    for (const PruneEntry& e : entries)
      if (!e.error.empty()) return false;
    return true;
  }
};

// Garbage collection (SPEC section 8).
struct GcOptions {
  bool dry_run = false;  // plan only: report what would go, change nothing
  // Chunks not used for this long are removed (PBS: 24 h 5 min). The
  // cutoff moves back to the start of the oldest backup still running.
  int64_t atime_cutoff_minutes = 24 * 60 + 5;
  // .chunks/<4hex> directories swept (and locked) at once.
  size_t dirs_per_batch = 256;
};

struct GcReport {
  bool dry_run = false;
  int64_t cutoff = 0;                 // unix seconds: older and unused goes
  uint64_t index_files = 0;           // index files read
  uint64_t referenced = 0;            // distinct chunks they reference
  uint64_t markers_written = 0;       // S3: referenced chunks given a marker
  uint64_t removed = 0, removed_bytes = 0;  // chunks removed (would be, dry run)
  uint64_t removed_objects = 0;             // of them in the bucket
  uint64_t pending = 0, pending_bytes = 0;  // unused but newer than the cutoff
  uint64_t kept = 0, kept_bytes = 0;        // in use
  // Copies verify moved aside (<digest>.<n>.bad, locally and in the
  // bucket): removed once older than the cutoff (counted in removed_bytes
  // and removed_objects too), and the newer ones kept.
  uint64_t removed_bad = 0, still_bad = 0;
  // Temporary files writers killed midway left (chunks, indexes,
  // manifests, other metadata, the cache's state), once older than the
  // cutoff: removed (would be, dry run).
  uint64_t removed_temporary = 0;
  std::vector<std::string> missing;   // referenced chunks found nowhere
  std::vector<std::string> damaged;   // "<snapshot>: <why>" (SnapshotInfo::damage)
  BackendCounts requests;             // S3 requests the GC made
};

class GcObserver {
 public:
  virtual ~GcObserver() = default;
  virtual void OnMark(uint64_t index_files, uint64_t chunks) { (void)index_files, (void)chunks; }
  // After each batch of directories swept (no lock held).
  virtual void OnSweep(uint64_t checked, uint64_t removed) { (void)checked, (void)removed; }
};

class VerifyObserver {
 public:
  virtual ~VerifyObserver() = default;
  virtual void OnSnapshot(const SnapshotRef& snap, bool ok) { (void)snap, (void)ok; }
  virtual void OnProgress(uint64_t chunks_done, uint64_t bytes_done) {
    (void)chunks_done, (void)bytes_done;
  }
  virtual void OnError(const std::string& message) { (void)message; }
};

class Datastore {
 public:
  // Creates a datastore in `path` (which must be missing or empty).
  static Result<std::unique_ptr<Datastore>> Init(Env* env, const std::string& path,
                                                 const InitOptions& options);
  static Result<std::unique_ptr<Datastore>> Open(Env* env, const std::string& path,
                                                 const OpenOptions& options);
  ~Datastore();

  const std::string& path() const { return path_; }
  const std::string& name() const { return name_; }
  size_t jobs() const { return jobs_; }

  // S3-backed stores: the bucket, and the prefix of our keys ("<name>/").
  bool is_remote() const { return backend_ != nullptr; }
  Backend* backend() const { return backend_.get(); }
  std::string key_prefix() const { return name_ + "/"; }
  const std::optional<S3Options>& s3_options() const { return s3_; }

  // The cache's numbers for this process (remote stores).
  CacheReport Report();
  // How the cache stands (opening it; kUnsupported on a local store).
  Result<CacheState> CacheStatus();
  // Cumulative numbers of every run, from <store>/.cache/stats.json.
  Result<nlohmann::json> CacheTotals();
  const CacheOptions& cache_options() const { return cache_options_; }

  // Rebuilds the local metadata (everything but chunks) from the bucket's
  // .cnt/ prefix; local snapshots the bucket lacks are removed. Refuses
  // while backups run.
  Result<RefreshReport> RefreshFromBackend();
  Result<std::unique_ptr<BackupSession>> StartBackup(const BackupOptions& options);

  // Complete snapshots in `ns` (and below it, if `recursive`), oldest first
  // within each group. A damaged one is listed with `damage` set rather
  // than hiding the others.
  Result<std::vector<SnapshotInfo>> ListSnapshots(const BackupNamespace& ns, bool recursive);
  Result<SnapshotInfo> GetSnapshot(const SnapshotRef& snap);
  // Why `snap` cannot be restored as its manifest says, found without
  // reading a chunk: its manifest is unreadable, invalid or another
  // snapshot's, or a file it lists is missing, unreadable or fails its
  // checks (size, checksum, digest, CRC, index layout). Empty when sound.
  // The one notion of damage that snapshots, verify, gc and prune share.
  std::string DamageOf(const SnapshotRef& snap);
  // Unique chunks behind a set of snapshots (damaged ones left out), and
  // their size on disk.
  Result<StoreUsage> Usage(const std::vector<SnapshotInfo>& snapshots);

  // Opens "root.tar", "root.tar.didx", "disk.img", "x.blob"...
  Result<std::unique_ptr<ArchiveReader>> OpenArchive(const SnapshotRef& snap,
                                                     const std::string& archive);
  // A .tar archive into a directory, an image into a file (or "-"), a blob
  // into a file.
  Result<RestoreSummary> Restore(const SnapshotRef& snap, const std::string& archive,
                                 const std::string& target, const RestoreOptions& options,
                                 TarObserver* observer);

  // Every archive of a snapshot into directory `target` (missing or empty
  // unless overwriting): "root.tar" into target/root/, images and blobs as
  // files named like the archive ("disk.img", "config" for config.blob).
  // Archives that are not tar streams are skipped with a warning.
  Result<std::vector<RestoreSummary>> RestoreSnapshot(const SnapshotRef& snap,
                                                      const std::string& target,
                                                      const RestoreOptions& options,
                                                      TarObserver* observer);

  // Removes a snapshot (kProtected if protected, kBusy if in use).
  Status Forget(const SnapshotRef& snap);
  Status SetProtected(const SnapshotRef& snap, bool on);
  Result<std::string> GetNotes(const SnapshotRef& snap);
  Status SetNotes(const SnapshotRef& snap, const std::string& notes);
  Result<std::string> GetGroupNotes(const BackupGroup& group);
  Status SetGroupNotes(const BackupGroup& group, const std::string& notes);

  // Verifies the given snapshots (every complete snapshot of every
  // namespace if `snapshots` is empty).
  Result<VerifyReport> Verify(const std::vector<SnapshotRef>& snapshots,
                              const VerifyOptions& options, VerifyObserver* observer);

  // Prunes every group of namespace `ns` (or only `group`): removes the
  // snapshots the options do not keep, locally and from the bucket, as
  // forget does. Chunks stay until garbage collection. A snapshot that
  // cannot be removed (a backup writes it) is reported in its entry; the
  // others are still removed.
  Result<PruneReport> Prune(const BackupNamespace& ns, const std::optional<BackupGroup>& group,
                            const PruneOptions& options, bool dry_run);

  // Garbage collection: marks every chunk any index file references
  // (touching its file or marker; on S3 writing a marker where there is
  // neither), then removes chunks unused since the cutoff from the local
  // store, the cache and the bucket. Runs beside backups (see
  // ChunkStore::LockDir and datastore/writers.h); one at a time (kBusy).
  // An interrupted run leaves nothing half-done that the next run does
  // not finish.
  Result<GcReport> GarbageCollect(const GcOptions& options, GcObserver* observer);

  // For tools that look inside (inspect) and for tests.
  ChunkStore& chunk_store() { return *chunks_; }
  SnapshotStore& snapshot_store() { return *snapshots_; }
  ChunkAccess& chunk_access() { return *access_; }
  Env* env() const { return env_; }

  // Reads a snapshot's index or blob file and checks it against the
  // manifest entry (size, checksum, whole-file digest).
  // DamageOf with the manifest read already; the snapshot's info from it.
  std::string DamageOf(const SnapshotRef& snap, const Manifest& manifest);
  Result<SnapshotInfo> InfoOf(const SnapshotRef& snap, const Manifest& manifest);

  Result<Bytes> ReadCheckedFile(const SnapshotRef& snap, const Manifest& manifest,
                                const std::string& file_name);

  // Runs `fn` on the manifest under the manifest lock and writes it back.
  // The caller holds the snapshot's lock.
  Status UpdateManifest(const SnapshotRef& snap, const std::function<Status(Manifest&)>& fn);

  // Locks a snapshot directory; kBusy names what holds it.
  Result<std::unique_ptr<FileLock>> LockSnapshot(const SnapshotRef& snap, bool exclusive);

 private:
  Datastore(Env* env, std::string path, std::string name, SyncLevel sync, size_t jobs,
            std::optional<S3Options> s3, std::shared_ptr<Backend> backend,
            CacheOptions cache_options, const OpenOptions& open);
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
  const std::optional<S3Options> s3_;
  std::shared_ptr<Backend> backend_;         // null: a local datastore
  const CacheOptions cache_options_;
  const bool cache_admit_;
  const std::function<Result<uint64_t>()> cache_free_space_;
  std::mutex cache_mu_;
  std::unique_ptr<ChunkCache> cache_;        // guarded by cache_mu_
  std::unique_ptr<MetadataMirror> mirror_;   // the bucket's .cnt/, if remote
  std::unique_ptr<ChunkStore> chunks_;
  std::unique_ptr<SnapshotStore> snapshots_;
  std::unique_ptr<ChunkAccess> access_;

  friend class BackupSessionImpl;
};

// The owner recorded for backups by this process: "<user>@pam", the form
// PBS gives local users.
std::string CurrentAuthId();

}  // namespace chunkvault
