// UploadSession: a snapshot written from chunks and files a client made
// (chunkvault/upload.h). The same order of work as a backup
// (backup_session.cc): chunks first, indexes and blobs complete under
// their names, the manifest last — the client's manifest is held in memory
// until Finish, so a snapshot is never complete before the session is.
#include <map>
#include <set>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "chunkvault/upload.h"
#include "datastore/archive_names.h"
#include "datastore/chunk_access.h"
#include "datastore/datastore_impl.h"
#include "datastore/writers.h"
#include "store/snapshot_store.h"
#include "util/crash_point.h"
#include "util/safe_name.h"

namespace chunkvault {
namespace {

// What a file of the new snapshot was, for the check of the manifest.
struct Written {
  uint64_t size = 0;  // index: data bytes; blob: file bytes
  Digest csum{};      // index: its checksum; blob: sha256 of the file
  Digest file_sha256{};
  bool is_index = false;
};

}  // namespace

class UploadSessionImpl final : public UploadSession {
 public:
  UploadSessionImpl(DatastoreImpl* ds, UploadOptions options)
      : ds_(ds), options_(std::move(options)) {}

  ~UploadSessionImpl() override {
    if (finished_ || !created_) return;
    (void)ds_->snapshot_store().RemoveUnfinished(snap_);
  }

  Status Begin() {
    Env* env = ds_->env();
    SnapshotStore& ss = ds_->snapshot_store();
    CV_RETURN_IF_ERROR(CheckBackupId(options_.id));
    if (options_.time <= 0)
      return Fail(ErrorCode::kInvalidArgument, "backup time must be after 1970");
    CV_ASSIGN_OR_RETURN(store_lock_, env->Lock(JoinPath(ds_->path(), ".lock"), LockMode::kShared,
                                               /*wait=*/false));
    CV_ASSIGN_OR_RETURN(writer_, RegisterWriter(env, ds_->path(), env->NowNanos()));
    if (!options_.ns.is_root()) {
      auto st = env->Stat(ss.Path(options_.ns));
      if (!st || st->type != FileType::kDirectory)
        return Fail(ErrorCode::kNotFound, "namespace '" + options_.ns.ToString() + "' not found");
    }
    snap_.group = BackupGroup{options_.ns, options_.type, options_.id};
    snap_.time = options_.time;
    const std::string group_dir = ss.Path(snap_.group);
    CV_RETURN_IF_ERROR(env->CreateDirs(group_dir));
    auto group_lock = env->Lock(group_dir, LockMode::kExclusive, /*wait=*/false);
    if (!group_lock) {
      if (group_lock.error().code() == ErrorCode::kBusy)
        return Fail(ErrorCode::kBusy, "unable to acquire backup group lock: another backup of " +
                                          snap_.group.ToString() + " is running");
      return std::unexpected(group_lock.error());
    }
    group_lock_ = std::move(*group_lock);
    CV_RETURN_IF_ERROR(CheckOwner());
    CV_ASSIGN_OR_RETURN(previous_, ds_->snapshot_store().LastBackup(snap_.group));
    if (previous_ && snap_.time <= previous_->time)
      return Fail(ErrorCode::kInvalidArgument,
                  "backup timestamp is older than last backup (" + previous_->ToString() + ")");
    if (previous_) {
      CV_ASSIGN_OR_RETURN(previous_lock_, ds_->LockSnapshot(*previous_, false));
    }
    if (auto made = env->CreateDir(ss.Path(snap_)); !made) {
      if (made.error().code() == ErrorCode::kAlreadyExists)
        return Fail(ErrorCode::kAlreadyExists,
                    "backup directory already exists (" + snap_.ToString() + ")");
      return std::unexpected(made.error());
    }
    created_ = true;
    CV_ASSIGN_OR_RETURN(snap_lock_, env->Lock(ss.Path(snap_), LockMode::kExclusive, false));
    return {};
  }

  const SnapshotRef& snapshot() const override { return snap_; }
  const std::optional<SnapshotRef>& previous() const override { return previous_; }

  Result<Bytes> ReadPreviousFile(const std::string& file_name) override {
    if (!previous_) return Fail(ErrorCode::kNotFound, "no valid previous backup");
    if (!IsSafeName(file_name, 255))
      return Fail(ErrorCode::kInvalidArgument, "invalid file name '" + file_name + "'");
    const uint64_t max = file_name.ends_with(".blob") ? kMaxBlobFileSize : kMaxIndexFileSize;
    return ds_->snapshot_store().ReadFile(*previous_, file_name, max);
  }

  Result<ChunkUploadResult> UploadChunk(const Digest& digest, uint64_t size,
                                        ByteView blob) override {
    auto bad = [&](ErrorCode code, const std::string& why) {
      return Fail(code, "chunk " + ToHex(digest) + ": " + why);
    };
    if (size == 0 || size > kMaxChunkSize)
      return bad(ErrorCode::kInvalidArgument, "size " + std::to_string(size) + " out of range");
    if (blob.size() > kMaxChunkFileSize)
      return bad(ErrorCode::kInvalidArgument, "larger than any chunk blob");
    auto info = InspectBlob(blob);
    if (!info) return bad(ErrorCode::kCorrupt, info.error().message());
    if (info->kind == BlobKind::kEncrypted || info->kind == BlobKind::kEncryptedCompressed) {
      // Its digest is keyed and its size sealed: the CRC is all a server
      // can check (PBS checks less: it ignores the client's CRC).
      CV_RETURN_IF_ERROR(WithChunk(CheckStoredChunk(blob, digest), digest));
    } else {
      auto data = DecodeChunk(blob, digest);
      if (!data) return bad(data.error().code(), data.error().message());
      if (data->size() != size)
        return bad(ErrorCode::kInvalidArgument, "holds " + std::to_string(data->size()) +
                                                    " bytes, announced " + std::to_string(size));
    }
    ChunkAccess& access = ds_->chunk_access(options_.cache);
    CV_ASSIGN_OR_RETURN(bool present, WithChunk(access.TouchIfPresent(digest), digest));
    if (present) return ChunkUploadResult{false, blob.size()};
    CV_ASSIGN_OR_RETURN(InsertResult inserted, WithChunk(access.Insert(digest, blob), digest));
    return ChunkUploadResult{!inserted.existed, blob.size()};
  }

  Status WriteIndex(const std::string& file_name, ByteView raw) override {
    const bool dynamic = file_name.ends_with(".didx");
    CV_RETURN_IF_ERROR(CheckArchiveName(file_name, dynamic ? ".didx" : ".fidx"));
    Written w;
    w.is_index = true;
    if (dynamic) {
      CV_ASSIGN_OR_RETURN(DynamicIndex index, DynamicIndex::Parse(raw));
      w.size = index.size();
      w.csum = index.ComputeChecksum();
    } else {
      CV_ASSIGN_OR_RETURN(FixedIndex index, FixedIndex::Parse(raw));
      w.size = index.size;
      w.csum = index.ComputeChecksum();
    }
    w.file_sha256 = Sha256Of(raw);
    CV_RETURN_IF_ERROR(Claim(file_name));
    CV_RETURN_IF_ERROR(ds_->snapshot_store().WriteFile(
        snap_, file_name, raw, TmpIndexName(file_name), "index", MirrorOrder::kAfterLocal));
    written_[file_name] = w;
    return {};
  }

  Status WriteBlob(const std::string& file_name, ByteView raw) override {
    CV_RETURN_IF_ERROR(CheckArchiveName(file_name, ".blob"));
    if (raw.size() > kMaxBlobFileSize)
      return Fail(ErrorCode::kInvalidArgument, file_name + ": larger than any blob");
    CV_RETURN_IF_ERROR(WithFile(InspectBlob(raw), file_name));
    CV_RETURN_IF_ERROR(WithFile(CheckBlobCrc(raw), file_name));
    CV_RETURN_IF_ERROR(Claim(file_name));
    if (file_name == kManifestBlobName) {
      manifest_raw_.assign(raw.begin(), raw.end());
      return {};
    }
    CV_RETURN_IF_ERROR(ds_->snapshot_store().WriteFile(snap_, file_name, raw, "", "blob",
                                                       MirrorOrder::kBeforeLocal));
    Written w;
    w.size = raw.size();
    w.csum = Sha256Of(raw);
    written_[file_name] = w;
    return {};
  }

  Status Finish(const nlohmann::json& unprotected) override {
    if (finished_) return Fail(ErrorCode::kInvalidArgument, "backup already marked as finished.");
    if (manifest_raw_.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "unable to update manifest blob - the backup uploaded no index.json.blob");
    auto parsed = Manifest::DecodeBlob(manifest_raw_);
    if (!parsed)
      return Fail(ErrorCode::kInvalidArgument,
                  "unable to update manifest blob - " + parsed.error().message());
    Manifest m = std::move(*parsed);
    if (m.backup_type != BackupTypeName(snap_.group.type) || m.backup_id != snap_.group.id ||
        m.backup_time != snap_.time)
      return Fail(ErrorCode::kInvalidArgument,
                  "the manifest names " + m.backup_type + "/" + m.backup_id + " at " +
                      std::to_string(m.backup_time) + ", not " + snap_.ToString());
    if (m.files.empty() && written_.empty())
      return Fail(ErrorCode::kInvalidArgument,
                  "backup does not contain valid files (file count == 0)");
    // Every file the manifest lists must be one this session wrote, as
    // written (PBS's server takes the client's word; a hostile manifest
    // would make a snapshot that cannot be restored).
    nlohmann::json digests = nlohmann::json::object();
    for (const ManifestFile& f : m.files) {
      auto it = written_.find(f.filename);
      if (it == written_.end())
        return Fail(ErrorCode::kInvalidArgument,
                    "the manifest lists " + f.filename + ", which this backup did not upload");
      if (it->second.size != f.size || it->second.csum != f.csum)
        return Fail(ErrorCode::kInvalidArgument, "the manifest's size or checksum of " +
                                                     f.filename + " is not the uploaded file's");
      if (it->second.is_index) digests[f.filename] = ToHex(it->second.file_sha256);
    }
    if (!m.unprotected.is_object()) m.unprotected = nlohmann::json::object();
    for (const auto& [key, value] : unprotected.items()) m.unprotected[key] = value;
    if (!digests.empty()) m.unprotected[kManifestExtKey]["file-sha256"] = digests;
    CV_RETURN_IF_ERROR(ds_->MakeDurable(snap_));
    CrashPoint("before-manifest");
    CV_RETURN_IF_ERROR(ds_->snapshot_store().WriteManifest(snap_, m));
    finished_ = true;
    return {};
  }

 private:
  template <class T>
  static Result<T> WithChunk(Result<T> r, const Digest& digest) {
    if (!r) return std::unexpected(std::move(r).error().Context("chunk " + ToHex(digest)));
    return r;
  }
  template <class T>
  static Result<T> WithFile(Result<T> r, const std::string& file_name) {
    if (!r) return std::unexpected(std::move(r).error().Context(file_name));
    return r;
  }

  Status CheckOwner() {
    SnapshotStore& ss = ds_->snapshot_store();
    auto current = ss.ReadOwner(snap_.group);
    if (current) {
      const bool ok =
          options_.may_use_group ? options_.may_use_group(*current) : *current == options_.owner;
      if (!ok)
        return Fail(ErrorCode::kPermissionDenied,
                    "backup owner check failed (" + options_.owner + " != " + *current + ")");
      return {};
    }
    if (current.error().code() != ErrorCode::kNotFound) return std::unexpected(current.error());
    return ss.WriteOwner(snap_.group, options_.owner);
  }

  Status Claim(const std::string& file_name) {
    if (finished_) return Fail(ErrorCode::kInvalidArgument, "backup already marked as finished.");
    if (!names_.insert(file_name).second)
      return Fail(ErrorCode::kAlreadyExists, file_name + " was uploaded already");
    return {};
  }

  DatastoreImpl* const ds_;
  const UploadOptions options_;
  SnapshotRef snap_;
  std::optional<SnapshotRef> previous_;
  bool created_ = false;
  bool finished_ = false;
  std::unique_ptr<FileLock> store_lock_, group_lock_, previous_lock_, snap_lock_;
  std::unique_ptr<WriterRegistration> writer_;
  std::set<std::string> names_;
  std::map<std::string, Written> written_;
  Bytes manifest_raw_;
};

Result<std::unique_ptr<UploadSession>> DatastoreImpl::StartUpload(const UploadOptions& options) {
  auto session = std::make_unique<UploadSessionImpl>(this, options);
  CV_RETURN_IF_ERROR(session->Begin());
  return std::unique_ptr<UploadSession>(std::move(session));
}

}  // namespace chunkvault
