// BackupSession: writes one snapshot.
//
// Order of work, which is what makes a crash at any point harmless:
//   1. take the locks, create the snapshot directory (exclusive mkdir);
//   2. per archive: cut chunks, store new ones (tmp + rename each), wait
//      for all of them, then write the index (tmp + rename);
//   3. Finish: make everything durable (per the sync level), then write
//      the manifest, which is what makes the snapshot complete.
// Killed before 3 finishes, the snapshot has no manifest and counts as
// incomplete; nothing under a final name is partial. An error or a session
// dropped unfinished removes the snapshot directory (as PBS does).
#include <map>
#include <set>

#include "archive/image.h"
#include "archive/pxar/catalog.h"
#include "archive/pxar/tree_writer.h"
#include "archive/tar.h"
#include "chunker/chunk_assembler.h"
#include "chunker/chunker.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/key_file.h"
#include "datastore/archive_names.h"
#include "datastore/chunk_uploader.h"
#include "datastore/datastore_impl.h"
#include "datastore/previous_split.h"
#include "datastore/writers.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"
#include "util/crash_point.h"

namespace chunkvault {

namespace {

// How many times a backup waits for the next second when another backup
// of its group took the current one.
constexpr int kSecondWaits = 60;

}  // namespace

class BackupSessionImpl final : public BackupSession {
 public:
  BackupSessionImpl(DatastoreImpl* ds, const BackupOptions& options)
      : ds_(ds),
        options_(options),
        blob_key_(options.crypt_mode == CryptMode::kEncrypt ? options.key.get() : nullptr),
        uploader_(&ds->chunk_access(), ds->jobs(), options.compress, blob_key_) {}

  ~BackupSessionImpl() override {
    if (finished_ || !created_) return;
    // Best effort: the snapshot is incomplete and would only confuse. A
    // crash instead of this leaves an incomplete snapshot, which is safe.
    (void)uploader_.Flush();
    (void)ds_->snapshot_store().RemoveUnfinished(snap_);
  }

  Status Begin() {
    Env* env = ds_->env();
    SnapshotStore& ss = ds_->snapshot_store();
    CV_RETURN_IF_ERROR(CheckBackupId(options_.id));
    CV_RETURN_IF_ERROR(CheckCryptOptions(options_.crypt_mode, options_.key.get()));
    CV_ASSIGN_OR_RETURN(store_lock_, env->Lock(JoinPath(ds_->path(), ".lock"), LockMode::kShared,
                                               /*wait=*/false));
    // Before the first chunk is touched: garbage collection keeps whatever
    // this backup touches from now on.
    CV_ASSIGN_OR_RETURN(writer_, RegisterWriter(env, ds_->path(), env->NowNanos()));
    snap_.group = BackupGroup{options_.ns, options_.type, options_.id};
    CV_RETURN_IF_ERROR(ss.CreateNamespace(options_.ns));
    const std::string group_dir = ss.Path(snap_.group);
    CV_RETURN_IF_ERROR(env->CreateDirs(group_dir));
    CV_ASSIGN_OR_RETURN(group_lock_, env->Lock(group_dir, LockMode::kShared, /*wait=*/false));
    CV_RETURN_IF_ERROR(CheckOwner());

    // A snapshot's time is when its directory was made: never in the
    // future. Another backup of the group that took this second makes
    // this one wait for the next (PBS refuses it instead).
    snap_.time = options_.time.value_or(env->NowUnix());
    for (int i = 0;; ++i) {
      auto made = env->CreateDir(ss.Path(snap_));
      if (made) break;
      if (made.error().code() != ErrorCode::kAlreadyExists || options_.time || i == kSecondWaits)
        return Fail(made.error().code(),
                    "cannot create snapshot " + snap_.ToString() + ": " + made.error().message() +
                        (options_.time ? "" : " (other backups of the group took every second)"));
      env->WaitUntil(snap_.time + 1);
      snap_.time = env->NowUnix();
    }
    created_ = true;
    CV_ASSIGN_OR_RETURN(snap_lock_, env->Lock(ss.Path(snap_), LockMode::kExclusive, false));
    return {};
  }

  const SnapshotRef& snapshot() const override { return snap_; }
  const BackupProgress& progress() const override { return uploader_.stats(); }
  void SetProgressCallback(std::function<void()> fn) override { on_chunk_ = std::move(fn); }

  Result<ArchiveSummary> AddTar(const std::string& archive, const std::string& dir,
                                uint64_t chunk_size, TarObserver* observer,
                                TarStats* stats) override {
    return Guard(AddTarImpl(archive, dir, chunk_size, observer, stats));
  }
  Result<ArchiveSummary> AddPxar(const std::string& archive, const std::string& dir,
                                 uint64_t chunk_size, const PxarOptions& options,
                                 TarObserver* observer, TarStats* stats) override {
    return Guard(AddPxarImpl(archive, dir, chunk_size, options, observer, stats));
  }
  Result<ArchiveSummary> AddImage(const std::string& archive, const std::string& path,
                                  uint64_t chunk_size) override {
    return Guard(AddImageImpl(archive, path, chunk_size));
  }
  Result<ArchiveSummary> AddBlob(const std::string& name, ByteView data) override {
    return Guard(AddBlobImpl(name, data));
  }

  Result<BackupSummary> Finish() override { return Guard(FinishImpl()); }

 private:
  // A failed step leaves state behind (queued digests, a half-written
  // archive): the session takes no further work.
  template <class T>
  Result<T> Guard(Result<T> r) {
    if (!r) broken_ = true;
    return r;
  }

  // A dynamic index being cut: its chunks' ends and its share of the
  // upload counts, while other streams may be cut beside it.
  struct DynamicStream {
    std::string file_name;
    std::vector<uint64_t> ends;
    BackupProgress counts;
    std::vector<Digest> digests;  // after the flush
  };

  // Chunks being stored count into their stream: every way out of an
  // archive waits for them before its streams go.
  struct WaitForUploads {
    ChunkUploader& uploader;
    ~WaitForUploads() { (void)uploader.Flush(); }
  };

  // A chunk assembler feeding `stream`; order_ records, per chunk added
  // to the uploader, which stream it belongs to.
  std::unique_ptr<ChunkAssembler> Assembler(uint64_t chunk_size, DynamicStream& stream) {
    return std::make_unique<ChunkAssembler>(
        chunk_size, uploader_.max_in_flight(), [&, this](ByteBuffer chunk) -> Status {
          const uint64_t end = (stream.ends.empty() ? 0 : stream.ends.back()) + chunk.size();
          stream.ends.push_back(end);
          order_.push_back(&stream);
          CV_RETURN_IF_ERROR(uploader_.Add(std::move(chunk), &stream.counts));
          if (on_chunk_) on_chunk_();
          return {};
        });
  }

  // A chunk of the previous snapshot's payload, appended whole.
  Status AddReused(DynamicStream& stream, const ReusedChunk& chunk) {
    stream.ends.push_back((stream.ends.empty() ? 0 : stream.ends.back()) + chunk.size);
    order_.push_back(&stream);
    return uploader_.AddKnown(chunk.digest, chunk.size, &stream.counts);
  }

  // The group's last backup's split archive "<stem>.pxar", for metadata
  // change detection; null (every file read) without one, or if it cannot
  // be used, which `observer` is told.
  std::unique_ptr<PreviousSplit> OpenPrevious(const std::string& stem, TarObserver* observer) {
    auto note = [&](const std::string& why) {
      if (observer) observer->OnWarning(why + ": every file is read (change detection mode data)");
    };
    auto last = ds_->snapshot_store().LastBackup(snap_.group);
    if (!last) {
      note("cannot find the last backup of " + snap_.group.ToString() + " (" +
           last.error().message() + ")");
      return nullptr;
    }
    if (!*last) return nullptr;
    auto previous = PreviousSplit::Open(*ds_, **last, stem, options_.crypt_mode, options_.key);
    if (!previous) {
      if (previous.error().code() != ErrorCode::kNotFound)
        note("the last backup " + (*last)->ToString() + " cannot be reused (" +
             previous.error().message() + ")");
      return nullptr;
    }
    return std::move(*previous);
  }

  // Waits for the chunks cut so far and hands each stream its digests.
  Status FlushStreams() {
    CV_RETURN_IF_ERROR(uploader_.Flush());
    const std::vector<Digest> digests = uploader_.TakeDigests();
    for (size_t i = 0; i < digests.size(); ++i) order_[i]->digests.push_back(digests[i]);
    order_.clear();
    return {};
  }

  // PBS's catalog of the legacy pxar archives (pxar/catalog.h), begun with
  // the first of them.
  struct Catalog {
    DynamicStream stream{"catalog.pcat1.didx", {}, {}, {}};
    std::unique_ptr<ChunkAssembler> assembler;
    std::unique_ptr<StreamSinkOf<ChunkAssembler>> sink;
    std::unique_ptr<pxar::CatalogWriter> writer;
  };
  static constexpr uint64_t kCatalogChunkSize = 512 << 10;  // as PBS's client

  Result<pxar::CatalogWriter*> CatalogFor() {
    if (!catalog_) {
      CV_RETURN_IF_ERROR(Claim("catalog.pcat1.didx"));
      catalog_ = std::make_unique<Catalog>();
      catalog_->assembler = Assembler(kCatalogChunkSize, catalog_->stream);
      catalog_->sink = std::make_unique<StreamSinkOf<ChunkAssembler>>(*catalog_->assembler);
      catalog_->writer = std::make_unique<pxar::CatalogWriter>(*catalog_->sink);
    }
    return catalog_->writer.get();
  }

  // Ends the catalog, if any, and writes it (listed after the archives).
  Status FinishCatalog() {
    if (!catalog_) return {};
    CV_RETURN_IF_ERROR(catalog_->writer->Finish());
    CV_RETURN_IF_ERROR(catalog_->assembler->Finish());
    CV_RETURN_IF_ERROR(FlushStreams());
    Result<ArchiveSummary> written = WriteStream(catalog_->stream);
    if (!written) return std::unexpected(std::move(written).error());
    return {};
  }

  Result<ArchiveSummary> WriteStream(DynamicStream& stream) {
    DynamicIndex index;
    index.uuid = NewUuid();
    index.ctime = ds_->env()->NowUnix();
    for (size_t i = 0; i < stream.ends.size(); ++i)
      index.entries.push_back({stream.ends[i], stream.digests[i]});
    const BackupProgress& c = stream.counts;
    return WriteIndex(stream.file_name, index.Encode(), index.size(), index.ComputeChecksum(),
                      index.entries.size(), {c.new_chunks, c.new_bytes, c.stored_bytes});
  }

  Result<ArchiveSummary> AddTarImpl(const std::string& archive, const std::string& dir,
                                    uint64_t chunk_size, TarObserver* observer, TarStats* stats) {
    CV_RETURN_IF_ERROR(CheckArchiveName(archive, ".tar"));
    CV_RETURN_IF_ERROR(CheckUserChunkSize(chunk_size));
    DynamicStream stream{archive + ".didx", {}, {}, {}};
    CV_RETURN_IF_ERROR(Claim(stream.file_name));
    WaitForUploads wait{uploader_};
    auto assembler = Assembler(chunk_size, stream);
    StreamSinkOf<ChunkAssembler> sink(*assembler);
    CV_ASSIGN_OR_RETURN(TarStats tar_stats, WriteTar(dir, sink, observer));
    CV_RETURN_IF_ERROR(assembler->Finish());
    if (stats != nullptr) *stats = tar_stats;
    CV_RETURN_IF_ERROR(FlushStreams());
    return WriteStream(stream);
  }

  Result<ArchiveSummary> AddPxarImpl(const std::string& archive, const std::string& dir,
                                     uint64_t chunk_size, const PxarOptions& options,
                                     TarObserver* observer, TarStats* stats) {
    CV_RETURN_IF_ERROR(CheckArchiveName(archive, ".pxar"));
    CV_RETURN_IF_ERROR(CheckUserChunkSize(chunk_size));
    const std::string stem = archive.substr(0, archive.size() - 5);
    pxar::TreeWriteOptions tree;
    tree.all_file_systems = options.all_file_systems;
    tree.include_devices = options.include_devices;
    tree.excludes = options.excludes;
    if (options.mode == ChangeDetection::kLegacy) {
      DynamicStream stream{archive + ".didx", {}, {}, {}};
      CV_RETURN_IF_ERROR(Claim(stream.file_name));
      WaitForUploads wait{uploader_};
      CV_ASSIGN_OR_RETURN(pxar::CatalogWriter * catalog, CatalogFor());
      auto assembler = Assembler(chunk_size, stream);
      StreamSinkOf<ChunkAssembler> sink(*assembler);
      CV_RETURN_IF_ERROR(catalog->StartDirectory(AsBytes(stream.file_name)));
      CV_ASSIGN_OR_RETURN(TarStats tree_stats,
                          pxar::WriteTree(dir, tree, sink, nullptr, observer, catalog));
      CV_RETURN_IF_ERROR(catalog->EndDirectory());
      CV_RETURN_IF_ERROR(assembler->Finish());
      if (stats != nullptr) *stats = tree_stats;
      CV_RETURN_IF_ERROR(FlushStreams());
      return WriteStream(stream);
    }
    DynamicStream meta{stem + ".mpxar.didx", {}, {}, {}};
    DynamicStream payload{stem + ".ppxar.didx", {}, {}, {}};
    CV_RETURN_IF_ERROR(Claim(meta.file_name));
    CV_RETURN_IF_ERROR(Claim(payload.file_name));
    std::unique_ptr<PreviousSplit> previous;
    if (options.mode == ChangeDetection::kMetadata) previous = OpenPrevious(stem, observer);
    if (previous) tree.previous = &previous->archive();
    WaitForUploads wait{uploader_};
    auto meta_assembler = Assembler(chunk_size, meta);
    auto payload_assembler = Assembler(chunk_size, payload);
    StreamSinkOf<ChunkAssembler> meta_sink(*meta_assembler);
    StreamSinkOf<ChunkAssembler> payload_sink(
        *payload_assembler, [&](const ReusedChunk& c) { return AddReused(payload, c); });
    CV_ASSIGN_OR_RETURN(TarStats tree_stats,
                        pxar::WriteTree(dir, tree, meta_sink, &payload_sink, observer));
    CV_RETURN_IF_ERROR(meta_assembler->Finish());
    CV_RETURN_IF_ERROR(payload_assembler->Finish());
    if (stats != nullptr) *stats = tree_stats;
    CV_RETURN_IF_ERROR(FlushStreams());
    // As PBS's client lists them: the payload first.
    CV_ASSIGN_OR_RETURN(ArchiveSummary p, WriteStream(payload));
    CV_ASSIGN_OR_RETURN(ArchiveSummary m, WriteStream(meta));
    if (auto logical = tree_stats.reuse.LogicalSize(p.size)) logical_sizes_[p.file_name] = *logical;
    return CombinedSummary(archive, p, m);
  }

  Result<ArchiveSummary> AddImageImpl(const std::string& archive, const std::string& path,
                                      uint64_t chunk_size) {
    CV_RETURN_IF_ERROR(CheckArchiveName(archive, ".img"));
    CV_RETURN_IF_ERROR(CheckUserChunkSize(chunk_size));
    const std::string file_name = archive + ".fidx";
    CV_RETURN_IF_ERROR(Claim(file_name));
    CV_ASSIGN_OR_RETURN(ImageSource source, ImageSource::Open(path));
    FixedIndex index;
    index.chunk_size = chunk_size;
    const UploadSnapshot before = Snap();
    for (;;) {
      ByteBuffer chunk(chunk_size);
      CV_ASSIGN_OR_RETURN(size_t n, source.Read(chunk.data(), chunk.capacity()));
      if (n == 0) break;
      chunk.set_size(n);
      index.size += n;
      CV_RETURN_IF_ERROR(AddChunk(std::move(chunk)));
      if (n < chunk_size) break;
    }
    if (index.size != source.size())
      return Fail(ErrorCode::kIo, path + " changed size during the backup (" +
                                      std::to_string(source.size()) + " bytes at start, " +
                                      std::to_string(index.size) + " read)");
    CV_RETURN_IF_ERROR(uploader_.Flush());
    index.digests = uploader_.TakeDigests();
    index.uuid = NewUuid();
    index.ctime = ds_->env()->NowUnix();
    const UploadSnapshot after = Snap();
    return WriteIndex(file_name, index.Encode(), index.size, index.ComputeChecksum(),
                      index.digests.size(),
                      {after.new_chunks - before.new_chunks, after.new_bytes - before.new_bytes,
                       after.stored_bytes - before.stored_bytes});
  }

  Result<ArchiveSummary> AddBlobImpl(const std::string& name, ByteView data) {
    CV_RETURN_IF_ERROR(CheckArchiveName(name, ".blob"));
    if (data.size() > kMaxBlobSize)
      return Fail(ErrorCode::kInvalidArgument, name + " is larger than the blob limit of 128 MiB");
    CV_RETURN_IF_ERROR(Claim(name));
    return WriteBlob(name, EncodeBlob(data, options_.compress, blob_key_));
  }

  Result<ArchiveSummary> WriteBlob(const std::string& name, const Bytes& blob) {
    CV_RETURN_IF_ERROR(
        ds_->snapshot_store().WriteFile(snap_, name, blob, "", "blob", MirrorOrder::kBeforeLocal));
    files_.push_back(ManifestFile{name, options_.crypt_mode, blob.size(), Sha256Of(blob)});
    ArchiveSummary s;
    s.file_name = name;
    s.size = blob.size();
    summaries_.push_back(s);
    return s;
  }

  Result<BackupSummary> FinishImpl() {
    if (broken_)
      return Fail(ErrorCode::kInvalidArgument, "an earlier step of this backup failed");
    if (files_.empty())
      return Fail(ErrorCode::kInvalidArgument, "a backup needs at least one archive");
    CV_RETURN_IF_ERROR(FinishCatalog());
    CV_RETURN_IF_ERROR(uploader_.Flush());
    if (!options_.master_key_blob.empty()) {
      // As PBS: the wrapped key as it is (RSA output needs no compressing
      // and must not need the key it holds), listed under the backup's mode.
      CV_RETURN_IF_ERROR(Claim(kMasterKeyBlobName));
      CV_RETURN_IF_ERROR(
          WriteBlob(kMasterKeyBlobName, EncodeBlob(options_.master_key_blob, false)));
    }
    // Everything the manifest will list must be durable before it is.
    CV_RETURN_IF_ERROR(ds_->MakeDurable(snap_));
    Manifest m;
    m.backup_type = BackupTypeName(snap_.group.type);
    m.backup_id = snap_.group.id;
    m.backup_time = snap_.time;
    m.files = files_;
    if (!file_digests_.empty()) m.unprotected[kManifestExtKey]["file-sha256"] = file_digests_;
    for (const auto& [name, size] : logical_sizes_) m.RecordLogicalSize(name, size);
    if (options_.key) m.Sign(*options_.key);
    CrashPoint("before-manifest");
    CV_RETURN_IF_ERROR(ds_->snapshot_store().WriteManifest(snap_, m));
    finished_ = true;

    BackupSummary summary;
    summary.snapshot = snap_;
    summary.archives = summaries_;
    const BackupProgress& u = uploader_.stats();
    summary.bytes = u.bytes;
    summary.chunks = u.chunks;
    summary.new_chunks = u.new_chunks;
    summary.new_bytes = u.new_bytes;
    summary.stored_bytes = u.stored_bytes;
    return summary;
  }

  struct UploadSnapshot {
    uint64_t new_chunks, new_bytes, stored_bytes;
  };
  UploadSnapshot Snap() const {
    const BackupProgress& u = uploader_.stats();
    return {u.new_chunks, u.new_bytes, u.stored_bytes};
  }

  Status CheckOwner() {
    const std::string owner = options_.owner.empty() ? CurrentAuthId() : options_.owner;
    auto current = ds_->snapshot_store().ReadOwner(snap_.group);
    if (current) {
      if (*current != owner)
        return Fail(ErrorCode::kInvalidArgument, "backup group " + snap_.group.ToString() +
                                                     " belongs to " + *current + ", not " + owner);
      return {};
    }
    if (current.error().code() != ErrorCode::kNotFound) return std::unexpected(current.error());
    return ds_->snapshot_store().WriteOwner(snap_.group, owner);
  }

  Status Claim(const std::string& file_name) {
    if (finished_) return Fail(ErrorCode::kInvalidArgument, "the backup is already finished");
    if (broken_)
      return Fail(ErrorCode::kInvalidArgument, "an earlier step of this backup failed");
    if (!names_.insert(file_name).second)
      return Fail(ErrorCode::kInvalidArgument, "archive " + file_name + " is given twice");
    return {};
  }

  Status AddChunk(ByteBuffer chunk) {
    CV_RETURN_IF_ERROR(uploader_.Add(std::move(chunk)));
    if (on_chunk_) on_chunk_();
    return {};
  }

  // `added`: what this file's chunks added to the store.
  Result<ArchiveSummary> WriteIndex(const std::string& file_name, const Bytes& raw, uint64_t size,
                                    const Digest& csum, uint64_t chunks,
                                    const UploadSnapshot& added) {
    CV_RETURN_IF_ERROR(ds_->snapshot_store().WriteFile(
        snap_, file_name, raw, TmpIndexName(file_name), "index", MirrorOrder::kAfterLocal));
    files_.push_back(ManifestFile{file_name, options_.crypt_mode, size, csum});
    file_digests_[file_name] = ToHex(Sha256Of(raw));
    ArchiveSummary s;
    s.file_name = file_name;
    s.size = size;
    s.chunks = chunks;
    s.new_chunks = added.new_chunks;
    s.new_bytes = added.new_bytes;
    s.stored_bytes = added.stored_bytes;
    summaries_.push_back(s);
    return s;
  }

  DatastoreImpl* const ds_;
  const BackupOptions options_;
  const CryptKey* const blob_key_;  // chunks and blobs are encrypted with it
  SnapshotRef snap_;
  bool created_ = false;
  bool finished_ = false;
  bool broken_ = false;
  std::unique_ptr<FileLock> store_lock_, group_lock_, snap_lock_;
  std::unique_ptr<WriterRegistration> writer_;
  std::vector<ManifestFile> files_;
  std::map<std::string, uint64_t> logical_sizes_;  // Manifest::LogicalSize
  nlohmann::json file_digests_ = nlohmann::json::object();
  std::vector<ArchiveSummary> summaries_;
  std::set<std::string> names_;
  std::function<void()> on_chunk_;
  std::vector<DynamicStream*> order_;  // the stream of each chunk not yet flushed
  std::unique_ptr<Catalog> catalog_;
  ChunkUploader uploader_;  // last: its workers finish before the streams go
};

Status CheckCryptOptions(CryptMode mode, const CryptKey* key) {
  if (mode != CryptMode::kNone && key == nullptr)
    return Fail(ErrorCode::kInvalidArgument,
                std::string("crypt mode ") + CryptModeName(mode) + " needs a key (--keyfile)");
  if (mode == CryptMode::kNone && key != nullptr)
    return Fail(ErrorCode::kInvalidArgument,
                "a key was given with crypt mode none (encrypt or sign-only)");
  return {};
}

Result<std::unique_ptr<BackupSession>> DatastoreImpl::StartBackup(const BackupOptions& options) {
  auto session = std::make_unique<BackupSessionImpl>(this, options);
  CV_RETURN_IF_ERROR(session->Begin());
  return std::unique_ptr<BackupSession>(std::move(session));
}

}  // namespace chunkvault
