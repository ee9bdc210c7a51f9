#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <unordered_set>

#include "backend/s3/s3_backend.h"
#include "backend/wrappers.h"
#include "cache/chunk_cache.h"
#include "cache/policy.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "datastore/archive_names.h"
#include "datastore/archive_readers.h"
#include "datastore/cache_stats.h"
#include "datastore/chunk_access.h"
#include "datastore/datastore_impl.h"
#include "datastore/remote.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "util/thread_pool.h"

namespace chunkvault {

namespace {

// The datastore's own settings, beside the PBS layout (PBS keeps these in
// /etc; a file here lets the store travel with its directory). Written last
// by Init, so its presence means the store is complete.
constexpr char kConfigFile[] = ".chunkvault.json";
constexpr char kLockFile[] = ".lock";
constexpr char kLocksDir[] = ".locks";
constexpr int kConfigVersion = 1;

std::string Basename(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  auto slash = p.rfind('/');
  return slash == std::string::npos ? p : p.substr(slash + 1);
}

std::string VerifyStateOf(const Manifest& m) {
  auto it = m.unprotected.find("verify_state");
  if (it == m.unprotected.end() || !it->is_object()) return "";
  auto st = it->find("state");
  return st != it->end() && st->is_string() ? st->get<std::string>() : "";
}

}  // namespace

std::string CurrentAuthId() {
  struct passwd* pw = ::getpwuid(::geteuid());
  std::string user = pw != nullptr ? pw->pw_name : std::to_string(::geteuid());
  return user + "@pam";
}

DatastoreImpl::DatastoreImpl(Env* env, std::string path, std::string name, SyncLevel sync,
                             size_t jobs, std::optional<S3Settings> s3,
                             std::optional<CountedBackend> storage, CacheOptions cache_options,
                             const OpenOptions& open)
    : env_(env),
      path_(std::move(path)),
      name_(std::move(name)),
      sync_(sync),
      jobs_(jobs),
      s3_(std::move(s3)),
      backend_(storage ? std::move(storage->backend) : nullptr),
      requests_(storage ? std::move(storage->counter) : nullptr),
      cache_options_(std::move(cache_options)),
      cache_admit_(open.cache_admit),
      cache_free_space_(open.cache_free_space),
      mirror_(backend_ ? NewBackendMirror(backend_.get(), key_prefix() + ".cnt/") : nullptr),
      chunks_(std::make_unique<ChunkStore>(env, path_, sync)),
      snapshots_(std::make_unique<SnapshotStore>(env, path_, sync, mirror_.get())),
      access_(backend_ ? NewCachedChunkAccess(
                             backend_.get(), key_prefix(), chunks_.get(),
                             [this] { return Cache(); }, cache_admit_)
                       : NewLocalChunkAccess(chunks_.get())),
      marking_access_(backend_ && cache_admit_ ? NewCachedChunkAccess(
                                                     backend_.get(), key_prefix(), chunks_.get(),
                                                     [this] { return Cache(); }, /*admit=*/false)
                                               : nullptr) {}

DatastoreImpl::~DatastoreImpl() {
  if (!backend_) return;
  // Best effort at exit: the cache's checkpoint and the running totals.
  CacheReport report = Report();
  if (cache_) (void)cache_->Close();
  const CacheCounters& c = report.counters;
  const BackendCounts& r = report.requests;
  const bool anything = c.hits + c.misses + c.admissions + c.markers + c.uploads_skipped +
                            r.get + r.put + r.head + r.list + r.del + r.copy >
                        0;
  if (anything)
    (void)AccumulateCacheStats(env_, CacheStatsPath(),
                               CacheRunJson(report.counters, report.requests));
}

std::string DatastoreImpl::DescribeStorage() const {
  return backend_ ? backend_->Describe() : path_;
}

std::string DatastoreImpl::CacheStatsPath() const { return JoinPath(path_, ".cache/stats.json"); }

Result<ChunkCache*> DatastoreImpl::Cache() {
  std::lock_guard lock(cache_mu_);
  if (!cache_) {
    ChunkCacheOptions o;
    o.policy = cache_options_.policy;
    o.max_bytes = cache_options_.max_size;
    o.env = env_;
    o.free_space = cache_free_space_;
    CV_ASSIGN_OR_RETURN(cache_, ChunkCache::Open(chunks_.get(), JoinPath(path_, ".cache"), o));
  }
  return cache_.get();
}

CacheReport DatastoreImpl::Report() {
  CacheReport r;
  r.remote = backend_ != nullptr;
  if (!r.remote) return r;
  r.requests = requests_->counts();
  std::lock_guard lock(cache_mu_);
  if (cache_) {
    r.opened = true;
    r.counters = cache_->counters();
    r.state = cache_->state();
  }
  return r;
}

Result<CacheState> DatastoreImpl::CacheStatus() {
  if (!backend_)
    return Fail(ErrorCode::kUnsupported,
                path_ + " is a local datastore; only S3-backed ones have a cache");
  CV_ASSIGN_OR_RETURN(ChunkCache * cache, Cache());
  return cache->state();
}

Result<nlohmann::json> DatastoreImpl::CacheTotals() {
  return LoadCacheStats(env_, CacheStatsPath());
}

namespace {
// Open, with the bucket's backend already built (Init's) or not.
Result<std::unique_ptr<Datastore>> OpenDatastore(Env* env, const std::string& path,
                                                 const OpenOptions& options,
                                                 std::optional<CountedBackend> storage);
}  // namespace

Result<std::unique_ptr<Datastore>> Datastore::Init(Env* env, const std::string& path,
                                                   const InitOptions& options) {
  std::string name = options.name.empty() ? Basename(path) : options.name;
  CV_RETURN_IF_ERROR(WithContext(CheckBackupId(name), "datastore name"));
  CV_ASSIGN_OR_RETURN(SyncLevel sync, ParseSyncLevel(options.sync_level));
  if (options.backend && !options.s3)
    return Fail(ErrorCode::kInvalidArgument, "a backend needs S3 options");
  if (options.s3) CV_RETURN_IF_ERROR(NewCachePolicy(options.cache.policy, 0));
  CV_RETURN_IF_ERROR(env->CreateDirs(path));
  CV_ASSIGN_OR_RETURN(auto existing, env->ListDir(path));
  if (!existing.empty())
    return Fail(ErrorCode::kAlreadyExists, "cannot create a datastore in " + path +
                                               ": the directory is not empty");
  // The bucket first: nothing is created locally for a bucket that is
  // missing, unreachable or claimed by another datastore.
  std::optional<CountedBackend> storage;
  if (options.s3) {
    if (options.backend) {
      storage = CountRequests(options.backend);
    } else {
      CV_ASSIGN_OR_RETURN(storage, OpenS3Backend(*options.s3, ProcessEnv(), options.on_s3_retry));
    }
    CV_RETURN_IF_ERROR(storage->backend->Check());
    CV_RETURN_IF_ERROR(
        ClaimPrefix(*storage->backend, name, options.reuse_datastore, options.overwrite_in_use));
  }
  CV_RETURN_IF_ERROR(ChunkStore::Create(env, path));
  CV_RETURN_IF_ERROR(env->WriteFileAtomic(JoinPath(path, kLockFile), {}, {}));
  CV_RETURN_IF_ERROR(env->CreateDir(JoinPath(path, kLocksDir), 0750));
  nlohmann::json config = {{"chunkvault-datastore", kConfigVersion},
                           {"name", name},
                           {"sync-level", SyncLevelName(sync)},
                           {"created", env->NowUnix()}};
  if (options.s3) {
    config["s3"] = S3SettingsToJson(*options.s3);
    config["cache"] = {{"max-size", options.cache.max_size}, {"policy", options.cache.policy}};
  }
  WriteOptions opts;
  opts.sync = sync != SyncLevel::kNone;
  CV_RETURN_IF_ERROR(
      env->WriteFileAtomic(JoinPath(path, kConfigFile), AsBytes(config.dump(2) + "\n"), opts));
  CV_ASSIGN_OR_RETURN(auto ds, OpenDatastore(env, path, {}, std::move(storage)));
  if (options.reuse_datastore && ds->is_remote()) CV_RETURN_IF_ERROR(ds->RefreshFromBackend());
  return ds;
}

Result<std::unique_ptr<Datastore>> Datastore::Open(Env* env, const std::string& path,
                                                   const OpenOptions& options) {
  return OpenDatastore(env, path, options, std::nullopt);
}

namespace {

Result<std::unique_ptr<Datastore>> OpenDatastore(Env* env, const std::string& path,
                                                 const OpenOptions& options,
                                                 std::optional<CountedBackend> storage) {
  std::string name = Basename(path);
  SyncLevel sync = SyncLevel::kFilesystem;
  std::optional<S3Settings> s3;
  CacheOptions cache;
  auto raw = env->ReadFile(JoinPath(path, kConfigFile), kMaxMetadataFileSize);
  if (raw) {
    auto config = nlohmann::json::parse(AsString(*raw), nullptr, false);
    if (config.is_discarded() || !config.is_object() || !config.contains("chunkvault-datastore"))
      return Fail(ErrorCode::kCorrupt, JoinPath(path, kConfigFile) + " is not a datastore config");
    if (config["chunkvault-datastore"] != kConfigVersion)
      return Fail(ErrorCode::kUnsupported,
                  JoinPath(path, kConfigFile) + ": unknown config version " +
                      config["chunkvault-datastore"].dump());
    name = config.value("name", name);
    CV_ASSIGN_OR_RETURN(sync, ParseSyncLevel(config.value("sync-level", "filesystem")));
    if (config.contains("s3")) {
      CV_ASSIGN_OR_RETURN(s3, S3SettingsFromJson(config["s3"]));
    }
    if (config.contains("cache") && config["cache"].is_object()) {
      cache.max_size = config["cache"].value("max-size", cache.max_size);
      cache.policy = config["cache"].value("policy", cache.policy);
    }
  } else if (raw.error().code() != ErrorCode::kNotFound) {
    return std::unexpected(std::move(raw).error());
  }
  // Without our config a directory with .chunks is a datastore PBS made:
  // open it with the defaults.
  auto chunks = env->Stat(JoinPath(path, ".chunks"));
  if (!chunks || chunks->type != FileType::kDirectory)
    return Fail(ErrorCode::kNotFound, path + " is not a datastore (no .chunks directory; "
                                             "create one with 'chunkvault init')");
  if (!storage && options.backend) storage = CountRequests(options.backend);
  if (s3 && !storage) {
    // Without credentials the bucket is out of reach, but listing and
    // looking at local metadata still work: fail at the first request.
    auto opened = OpenS3Backend(*s3, ProcessEnv(), options.on_s3_retry);
    storage =
        opened ? *opened
               : CountRequests(NewUnavailableBackend(
                     "bucket '" + s3->bucket + "' at " + s3->endpoint, opened.error().message()));
  }
  // For S3 the workers mostly wait for requests: keep more in flight.
  size_t jobs = options.jobs != 0 ? options.jobs
                : s3             ? std::max<size_t>(8, ThreadPool::DefaultThreads())
                                 : ThreadPool::DefaultThreads();
  return std::unique_ptr<Datastore>(new DatastoreImpl(
      env, path, name, sync, jobs, std::move(s3), std::move(storage), std::move(cache), options));
}

}  // namespace

Status DatastoreImpl::MakeDurable(const SnapshotRef& snap) {
  switch (sync_) {
    case SyncLevel::kFilesystem:
      return env_->SyncFilesystem(path_);
    case SyncLevel::kFile:
      return env_->SyncDir(snapshots_->Path(snap));
    case SyncLevel::kNone:
      return {};
  }
  return {};
}

Result<std::unique_ptr<FileLock>> DatastoreImpl::LockSnapshot(const SnapshotRef& snap,
                                                              bool exclusive) {
  const std::string dir = snapshots_->Path(snap);
  auto st = env_->Stat(dir);
  if (!st || st->type != FileType::kDirectory)
    return Fail(ErrorCode::kNotFound, "snapshot " + snap.ToString() + " does not exist");
  auto lock = env_->Lock(dir, exclusive ? LockMode::kExclusive : LockMode::kShared, false);
  if (!lock && lock.error().code() == ErrorCode::kBusy)
    return Fail(ErrorCode::kBusy,
                "snapshot " + snap.ToString() +
                    (exclusive ? " is in use (a backup, restore or verify holds it)"
                               : " is being written by a backup"));
  return lock;
}

Result<Bytes> DatastoreImpl::ReadCheckedFile(const SnapshotRef& snap, const Manifest& manifest,
                                             const std::string& file_name) {
  const std::string path = snapshots_->FilePath(snap, file_name);
  const ManifestFile* entry = manifest.Find(file_name);
  if (entry == nullptr)
    return Fail(ErrorCode::kNotFound, "snapshot " + snap.ToString() + " has no file " + file_name);
  auto kind = ArchiveKindOf(file_name);
  if (!kind) return Fail(ErrorCode::kCorrupt, path + ": " + kind.error().message());
  const uint64_t max_size =
      *kind == ArchiveReader::Kind::kBlob ? kMaxBlobFileSize : MaxIndexFileSize(entry->size);
  CV_ASSIGN_OR_RETURN(Bytes raw, snapshots_->ReadFile(snap, file_name, max_size));
  CV_RETURN_IF_ERROR(CheckSnapshotFile(manifest, file_name, raw, path));
  return raw;
}

Result<std::unique_ptr<ArchiveReader>> DatastoreImpl::OpenArchive(
    const SnapshotRef& snap, const std::string& archive, std::shared_ptr<const CryptKey> key) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, false));
  CV_ASSIGN_OR_RETURN(Manifest manifest, snapshots_->ReadManifest(snap));
  CV_ASSIGN_OR_RETURN(std::string file_name, ResolveArchiveName(manifest, archive, snap));
  CV_ASSIGN_OR_RETURN(auto archive_key, ArchiveKeyOf(manifest, file_name, std::move(key), snap));
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadCheckedFile(snap, manifest, file_name));
  CV_ASSIGN_OR_RETURN(auto kind, ArchiveKindOf(file_name));
  if (kind == ArchiveReader::Kind::kBlob) {
    CV_ASSIGN_OR_RETURN(Bytes data, WithContext(DecodeBlob(raw, kMaxBlobSize, archive_key.get()),
                                                snapshots_->FilePath(snap, file_name)));
    return NewBlobArchiveReader(file_name, std::move(data));
  }
  CV_ASSIGN_OR_RETURN(std::vector<ChunkRef> chunks, IndexChunks(file_name, raw));
  // Chunks are read through the store's own door (the cache decodes a
  // fetched chunk once), not through a SnapshotReader.
  return NewIndexArchiveReader(kind, file_name, snap, std::shared_ptr<FileLock>(std::move(lock)),
                               access_.get(), std::move(chunks), jobs_, std::move(archive_key));
}

Result<std::unique_ptr<TreeArchive>> DatastoreImpl::OpenTreeArchive(
    const SnapshotRef& snap, const std::string& archive, std::shared_ptr<const CryptKey> key) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, false));
  CV_ASSIGN_OR_RETURN(Manifest manifest, snapshots_->ReadManifest(snap));
  CV_ASSIGN_OR_RETURN(
      TreeArchiveParts parts,
      TreeArchivePartsOf(manifest, snap, archive, key, [&](const std::string& file) {
        return ReadCheckedFile(snap, manifest, file);
      }));
  parts.access = access_.get();
  parts.keep = std::shared_ptr<FileLock>(std::move(lock));
  parts.open = [this, snap, key](const std::string& file) { return OpenArchive(snap, file, key); };
  return NewTreeArchive(std::move(parts));
}

Result<RestoreSummary> DatastoreImpl::Restore(const SnapshotRef& snap, const std::string& archive,
                                              const std::string& target,
                                              const RestoreOptions& options,
                                              TarObserver* observer) {
  // File creation is CPU work in the kernel: one writer per core (jobs_
  // may be larger, for S3 requests in flight).
  const size_t writers = std::min(jobs_, ThreadPool::DefaultThreads());
  Manifest manifest;
  {
    CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, false));  // names a missing snapshot
    CV_ASSIGN_OR_RETURN(manifest, snapshots_->ReadManifest(snap));
  }
  if (std::optional<PxarFiles> pxar = PxarFilesOf(manifest, archive))
    return RestorePxarFiles(
        *pxar, [&](const std::string& file) { return OpenArchive(snap, file, options.key); },
        target, options, observer, writers);
  CV_ASSIGN_OR_RETURN(auto reader, OpenArchive(snap, archive, options.key));
  return RestoreArchive(*reader, target, options, observer, writers);
}

Result<std::vector<RestoreSummary>> DatastoreImpl::RestoreSnapshot(const SnapshotRef& snap,
                                                                   const std::string& target,
                                                                   const RestoreOptions& options,
                                                                   TarObserver* observer) {
  CV_ASSIGN_OR_RETURN(Manifest manifest, snapshots_->ReadManifest(snap));
  return RestoreArchives(
      manifest, target, options, observer,
      [&](const std::string& file_name, const std::string& to, const RestoreOptions& o) {
        return Restore(snap, file_name, to, o, observer);
      });
}

Result<Manifest> DatastoreImpl::ReadManifest(const SnapshotRef& snap) {
  return snapshots_->ReadManifest(snap);
}

Status DatastoreImpl::CreateNamespace(const BackupNamespace& ns) {
  return snapshots_->CreateNamespace(ns);
}

Result<std::vector<BackupNamespace>> DatastoreImpl::ListNamespaces(const BackupNamespace& parent,
                                                                   bool recursive) {
  return snapshots_->ListNamespaces(parent, recursive);
}

Result<std::string> DatastoreImpl::GroupOwner(const BackupGroup& group) {
  auto owner = snapshots_->ReadOwner(group);
  if (!owner && owner.error().code() == ErrorCode::kNotFound) return std::string();
  return owner;
}

Result<SnapshotInfo> DatastoreImpl::GetSnapshot(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(Manifest m, snapshots_->ReadManifest(snap));
  return InfoOf(snap, m);
}

Result<SnapshotInfo> DatastoreImpl::InfoOf(const SnapshotRef& snap, const Manifest& m) {
  SnapshotInfo info;
  info.ref = snap;
  info.files = m.files;
  for (const ManifestFile& f : m.files) info.size += m.LogicalSize(f);
  CV_ASSIGN_OR_RETURN(info.is_protected, snapshots_->IsProtected(snap));
  auto owner = snapshots_->ReadOwner(snap.group);
  if (owner) info.owner = *owner;
  if (auto n = m.unprotected.find("notes"); n != m.unprotected.end() && n->is_string())
    info.notes = n->get<std::string>();
  info.verify_state = VerifyStateOf(m);
  return info;
}

Result<std::vector<SnapshotInfo>> DatastoreImpl::ListSnapshots(const BackupNamespace& ns,
                                                               bool recursive) {
  CV_ASSIGN_OR_RETURN(auto entries, snapshots_->ListSnapshotsIn(ns, recursive));
  std::vector<SnapshotInfo> out;
  for (const SnapshotEntry& e : entries) {
    if (!e.complete) continue;
    auto manifest = snapshots_->ReadManifest(e.ref);
    auto info = manifest ? InfoOf(e.ref, *manifest) : std::unexpected(manifest.error());
    if (!info) {
      SnapshotInfo bad;
      bad.ref = e.ref;
      bad.is_protected = e.is_protected;
      bad.damage = info.error().message();
      out.push_back(std::move(bad));
      continue;
    }
    info->damage = DamageOf(e.ref, *manifest);
    out.push_back(std::move(*info));
  }
  return out;
}

std::string DatastoreImpl::DamageOf(const SnapshotRef& snap) {
  auto manifest = snapshots_->ReadManifest(snap);
  if (!manifest) return manifest.error().message();
  return DamageOf(snap, *manifest);
}

std::string DatastoreImpl::DamageOf(const SnapshotRef& snap, const Manifest& manifest) {
  for (const ManifestFile& f : manifest.files)
    if (auto raw = ReadCheckedFile(snap, manifest, f.filename); !raw) return raw.error().message();
  return "";
}

Result<StoreUsage> DatastoreImpl::Usage(const std::vector<SnapshotInfo>& snapshots) {
  StoreUsage usage;
  std::unordered_set<Digest, DigestHash> seen;
  for (const SnapshotInfo& info : snapshots) {
    if (!info.damage.empty()) continue;
    usage.logical_bytes += info.size;
    CV_ASSIGN_OR_RETURN(Manifest m, snapshots_->ReadManifest(info.ref));
    for (const ManifestFile& f : m.files) {
      auto kind = ArchiveKindOf(f.filename);
      if (!kind || *kind == ArchiveReader::Kind::kBlob) continue;
      CV_ASSIGN_OR_RETURN(Bytes raw, ReadCheckedFile(info.ref, m, f.filename));
      CV_ASSIGN_OR_RETURN(std::vector<ChunkRef> chunks, IndexChunks(f.filename, raw));
      for (const ChunkRef& c : chunks) {
        if (!seen.insert(c.digest).second) continue;
        usage.unique_bytes += c.size;
        CV_ASSIGN_OR_RETURN(auto size, chunks_->StoredSize(c.digest));
        if (size) usage.stored_bytes += *size;
        else ++usage.missing_chunks;
      }
    }
  }
  usage.unique_chunks = seen.size();
  return usage;
}

Status DatastoreImpl::Forget(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, true));
  CV_RETURN_IF_ERROR(snapshots_->RemoveSnapshot(snap));
  if (Status st = RemoveManifestLock(snap); !st)
    return std::unexpected(std::move(st).error().Context("snapshot " + snap.ToString() +
                                                         " removed, but not its manifest lock"));
  return {};
}

Status DatastoreImpl::RemoveManifestLock(const SnapshotRef& snap) {
  // Removed under its lock: a snapshot sharing the name may be updating
  // its manifest (Env::Lock then moves on to a new file).
  const std::string path = ManifestLockPath(snap);
  auto st = env_->Stat(path);
  if (!st && st.error().code() == ErrorCode::kNotFound) return {};
  if (!st) return std::unexpected(st.error());
  CV_ASSIGN_OR_RETURN(auto held, env_->Lock(path, LockMode::kExclusive, /*wait=*/true));
  Status removed = env_->RemoveFile(path);
  if (!removed && removed.error().code() != ErrorCode::kNotFound) return removed;
  return {};
}

Status DatastoreImpl::SetProtected(const SnapshotRef& snap, bool on) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, false));
  auto manifest = env_->Stat(snapshots_->FilePath(snap, kManifestBlobName));
  if (!manifest)
    return Fail(ErrorCode::kInvalidArgument,
                "snapshot " + snap.ToString() + " is incomplete (no manifest)");
  return snapshots_->SetProtected(snap, on);
}

std::string DatastoreImpl::ManifestLockPath(const SnapshotRef& snap) const {
  std::string lock_name = snap.RelPath();
  std::replace(lock_name.begin(), lock_name.end(), '/', '_');
  return JoinPath(JoinPath(path_, kLocksDir), lock_name + ".manifest");
}

Status DatastoreImpl::UpdateManifest(const SnapshotRef& snap,
                                     const std::function<Status(Manifest&)>& fn) {
  CV_RETURN_IF_ERROR(env_->CreateDirs(JoinPath(path_, kLocksDir)));
  CV_ASSIGN_OR_RETURN(auto lock, env_->Lock(ManifestLockPath(snap), LockMode::kExclusive,
                                            /*wait=*/true));
  CV_ASSIGN_OR_RETURN(Manifest m, snapshots_->ReadManifest(snap));
  CV_RETURN_IF_ERROR(fn(m));
  return snapshots_->WriteManifest(snap, m);
}

Result<std::string> DatastoreImpl::GetNotes(const SnapshotRef& snap) {
  CV_ASSIGN_OR_RETURN(SnapshotInfo info, GetSnapshot(snap));
  return info.notes;
}

Status DatastoreImpl::SetNotes(const SnapshotRef& snap, const std::string& notes) {
  CV_ASSIGN_OR_RETURN(auto lock, LockSnapshot(snap, false));
  return UpdateManifest(snap, [&](Manifest& m) -> Status {
    if (notes.empty()) m.unprotected.erase("notes");
    else m.unprotected["notes"] = notes;
    return {};
  });
}

Result<std::string> DatastoreImpl::GetGroupNotes(const BackupGroup& group) {
  return snapshots_->ReadGroupNotes(group);
}

Status DatastoreImpl::SetGroupNotes(const BackupGroup& group, const std::string& notes) {
  auto st = env_->Stat(snapshots_->Path(group));
  if (!st) return Fail(ErrorCode::kNotFound, "backup group " + group.ToString() + " does not exist");
  return snapshots_->WriteGroupNotes(group, notes);
}

}  // namespace chunkvault
