// A backup sent to a server (chunkvault/remote.h): the public
// BackupSession, over PBS's backup protocol (PROTOCOL.md §3.1). Chunks are
// cut, hashed and compressed here; a chunk the previous snapshot's same
// archive holds, or one already sent for this archive, is only appended;
// the others are uploaded with many requests in flight on the one HTTP/2
// connection.
#include "client/remote_backup.h"

#include <deque>
#include <future>
#include <map>
#include <mutex>
#include <unordered_set>

#include "archive/image.h"
#include "archive/pxar/catalog.h"
#include "archive/pxar/input.h"
#include "archive/pxar/tree_writer.h"
#include "archive/tar.h"
#include "chunker/chunk_assembler.h"
#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/index.h"
#include "chunkvault/key_file.h"
#include "chunkvault/manifest.h"
#include "util/crash_point.h"
#include "util/safe_name.h"
#include "util/thread_annotations.h"
#include "util/thread_pool.h"

namespace chunkvault::client {
namespace {

constexpr uint64_t kFixedChunkSize = 4u << 20;  // a server's fixed writers take only these
constexpr size_t kAppendBatch = 128;            // entries per append, as PVE's library

using Query = std::vector<std::pair<std::string, std::string>>;

Bytes JsonBytes(const nlohmann::json& j) {
  const std::string text = j.dump();
  return Bytes(text.begin(), text.end());
}

Status CheckName(const std::string& name, const std::string& suffix) {
  if (!name.ends_with(suffix) || name.size() == suffix.size() || !IsSafeName(name, 128))
    return Fail(
        ErrorCode::kInvalidArgument,
        "archive name '" + name + "' must be [A-Za-z0-9_][A-Za-z0-9._-]* ending with " + suffix);
  return {};
}

// The chunks of one archive: hashed, compressed and (with `key`)
// encrypted by the pool's workers, uploaded unless known, each one's
// digest kept in stream order.
class ArchiveUploader {
 public:
  ArchiveUploader(H2Session& h2, ThreadPool& pool, int64_t wid, const char* kind,
                  std::unordered_set<Digest, DigestHash> known, BackupProgress& progress,
                  const CryptKey* key)
      : h2_(h2),
        pool_(pool),
        wid_(wid),
        kind_(kind),
        key_(key),
        known_(std::move(known)),
        progress_(progress) {}

  Status Add(ByteBuffer chunk) {
    CV_RETURN_IF_ERROR(FirstError());
    entries_.push_back(Entry{{}, chunk.size()});
    Entry* slot = &entries_.back();
    auto shared = std::make_shared<ByteBuffer>(std::move(chunk));
    pool_.Submit([this, slot, shared] { Store(slot, *shared); });
    return {};
  }

  // A chunk the server knows (registered from the previous snapshot's
  // index), appended by digest: nothing hashed or sent.
  Status AddKnown(const Digest& digest, uint64_t size) {
    CV_RETURN_IF_ERROR(FirstError());
    entries_.push_back(Entry{digest, size});
    for (BackupProgress* p : {&progress_, &counts_}) {
      p->chunks.fetch_add(1, std::memory_order_relaxed);
      p->bytes.fetch_add(size, std::memory_order_relaxed);
    }
    std::lock_guard lock(mu_);
    known_.insert(digest);
    return {};
  }

  // Chunks still being stored refer to this object.
  ~ArchiveUploader() { pool_.WaitIdle(); }

  // What this archive's chunks added (its share of the session's progress).
  const BackupProgress& counts() const { return counts_; }

  // Waits for every chunk; their (digest, size) in stream order.
  Result<std::vector<std::pair<Digest, uint64_t>>> Finish() {
    pool_.WaitIdle();
    CV_RETURN_IF_ERROR(FirstError());
    std::vector<std::pair<Digest, uint64_t>> out;
    out.reserve(entries_.size());
    for (const Entry& e : entries_) out.emplace_back(e.digest, e.size);
    return out;
  }

 private:
  struct Entry {
    Digest digest;
    uint64_t size;
  };

  void Store(Entry* slot, const ByteBuffer& chunk) {
    const ByteView data(chunk.data(), chunk.size());
    slot->digest = ChunkDigestOf(data, key_);
    for (BackupProgress* p : {&progress_, &counts_}) {
      p->chunks.fetch_add(1, std::memory_order_relaxed);
      p->bytes.fetch_add(data.size(), std::memory_order_relaxed);
    }
    {
      std::lock_guard lock(mu_);
      if (!error_ || !known_.insert(slot->digest).second) return;
    }
    Bytes blob = EncodeBlob(data, true, key_);
    const size_t encoded = blob.size();
    auto answer = h2_.Start("POST", std::string("/") + kind_ + "_chunk",
                            {{"digest", ToHex(slot->digest)},
                             {"encoded-size", std::to_string(encoded)},
                             {"size", std::to_string(data.size())},
                             {"wid", std::to_string(wid_)}},
                            std::move(blob), "application/octet-stream")
                      .get();
    Result<nlohmann::json> data_of =
        answer ? DataOf(*answer) : Result<nlohmann::json>(std::unexpected(answer.error()));
    if (!data_of) {
      std::lock_guard lock(mu_);
      if (error_)
        error_ =
            std::unexpected(std::move(data_of).error().Context("chunk " + ToHex(slot->digest)));
      return;
    }
    CrashPoint("remote-chunk-sent");
    for (BackupProgress* p : {&progress_, &counts_}) {
      p->new_chunks.fetch_add(1, std::memory_order_relaxed);
      p->new_bytes.fetch_add(data.size(), std::memory_order_relaxed);
      p->stored_bytes.fetch_add(encoded, std::memory_order_relaxed);
    }
  }

  Status FirstError() {
    std::lock_guard lock(mu_);
    return error_;
  }

  H2Session& h2_;
  ThreadPool& pool_;
  const int64_t wid_;
  const char* kind_;
  const CryptKey* const key_;
  std::deque<Entry> entries_;  // stable addresses; producer-owned but for each slot's digest
  std::mutex mu_;
  std::unordered_set<Digest, DigestHash> known_ CV_GUARDED_BY(mu_);
  Status error_ CV_GUARDED_BY(mu_);
  BackupProgress& progress_;
  BackupProgress counts_;
};

class RemoteBackupSession final : public BackupSession {
 public:
  RemoteBackupSession(std::unique_ptr<H2Session> h2, SnapshotRef snap, size_t jobs,
                      const BackupOptions& options, OpenReader open_reader)
      : h2_(std::move(h2)),
        snap_(std::move(snap)),
        options_(options),
        blob_key_(options.crypt_mode == CryptMode::kEncrypt ? options.key.get() : nullptr),
        open_reader_(std::move(open_reader)),
        pool_(jobs, jobs) {}

  Status Begin() {
    // As PBS's client: the previous manifest, if any, and only if this key
    // (or none) may read it; failures only mean no previous snapshot to
    // re-use.
    auto time = h2_->Call("GET", "/previous_backup_time");
    if (time && time->is_number_integer()) {
      auto raw =
          h2_->Start("GET", "/previous", {{"archive-name", kManifestBlobName}}, {}, "").get();
      if (raw && raw->status == 200) {
        auto m = Manifest::DecodeBlob(raw->body);
        auto made_with = m ? m->KeyFingerprintOf() : std::optional<KeyFingerprint>();
        const bool same_key =
            made_with &&
            (!*made_with || (options_.key && **made_with == options_.key->fingerprint()));
        if (same_key) {
          previous_ = std::move(*m);
          previous_time_ = time->get<int64_t>();
        }
      }
    }
    return {};
  }

  const SnapshotRef& snapshot() const override { return snap_; }
  void SetProgressCallback(std::function<void()> fn) override { on_chunk_ = std::move(fn); }
  const BackupProgress& progress() const override { return progress_; }

  Result<ArchiveSummary> AddTar(const std::string& archive, const std::string& dir,
                                uint64_t chunk_size, TarObserver* observer,
                                TarStats* stats) override {
    CV_RETURN_IF_ERROR(CheckName(archive, ".tar"));
    CV_ASSIGN_OR_RETURN(auto writer, OpenDynamic(archive + ".didx", chunk_size));
    StreamSinkOf<ChunkAssembler> sink(writer->assembler);
    CV_ASSIGN_OR_RETURN(TarStats tar_stats, WriteTar(dir, sink, observer));
    if (stats) *stats = tar_stats;
    return CloseDynamic(*writer);
  }

  Result<ArchiveSummary> AddPxar(const std::string& archive, const std::string& dir,
                                 uint64_t chunk_size, const PxarOptions& options,
                                 TarObserver* observer, TarStats* stats) override {
    CV_RETURN_IF_ERROR(CheckName(archive, ".pxar"));
    const std::string stem = archive.substr(0, archive.size() - 5);
    pxar::TreeWriteOptions tree;
    tree.all_file_systems = options.all_file_systems;
    tree.include_devices = options.include_devices;
    tree.excludes = options.excludes;
    if (options.mode == ChangeDetection::kLegacy) {
      CV_ASSIGN_OR_RETURN(pxar::CatalogWriter * catalog, CatalogFor());
      CV_ASSIGN_OR_RETURN(auto writer, OpenDynamic(archive + ".didx", chunk_size));
      StreamSinkOf<ChunkAssembler> sink(writer->assembler);
      CV_RETURN_IF_ERROR(catalog->StartDirectory(AsBytes(writer->name)));
      CV_ASSIGN_OR_RETURN(TarStats tree_stats,
                          pxar::WriteTree(dir, tree, sink, nullptr, observer, catalog));
      CV_RETURN_IF_ERROR(catalog->EndDirectory());
      if (stats) *stats = tree_stats;
      return CloseDynamic(*writer);
    }
    // Two writers at once, as PBS's client uploads the pair; opening the
    // payload's registers the previous payload chunks with the server.
    CV_ASSIGN_OR_RETURN(auto meta, OpenDynamic(stem + ".mpxar.didx", chunk_size));
    CV_ASSIGN_OR_RETURN(auto payload, OpenDynamic(stem + ".ppxar.didx", chunk_size));
    std::unique_ptr<Previous> previous;
    if (options.mode == ChangeDetection::kMetadata)
      previous = OpenPrevious(stem, payload->previous_chunks, observer);
    if (previous) tree.previous = &previous->archive;
    StreamSinkOf<ChunkAssembler> meta_sink(meta->assembler);
    StreamSinkOf<ChunkAssembler> payload_sink(
        payload->assembler,
        [&](const ReusedChunk& c) { return payload->up.AddKnown(c.digest, c.size); });
    CV_ASSIGN_OR_RETURN(TarStats tree_stats,
                        pxar::WriteTree(dir, tree, meta_sink, &payload_sink, observer));
    if (stats) *stats = tree_stats;
    CV_ASSIGN_OR_RETURN(ArchiveSummary p, CloseDynamic(*payload));
    CV_ASSIGN_OR_RETURN(ArchiveSummary m, CloseDynamic(*meta));
    if (auto logical = tree_stats.reuse.LogicalSize(p.size)) logical_sizes_[p.file_name] = *logical;
    return CombinedSummary(archive, p, m);
  }

  Result<ArchiveSummary> AddImage(const std::string& archive, const std::string& path,
                                  uint64_t chunk_size) override {
    CV_RETURN_IF_ERROR(CheckName(archive, ".img"));
    if (chunk_size != kFixedChunkSize)
      return Fail(ErrorCode::kInvalidArgument,
                  "a server takes images in 4 MiB chunks (PBS's fixed index); leave --chunk-size "
                  "at its default");
    const std::string name = archive + ".fidx";
    CV_ASSIGN_OR_RETURN(ImageSource source, ImageSource::Open(path));
    CV_ASSIGN_OR_RETURN(auto previous, PreviousChunks(name));
    CV_ASSIGN_OR_RETURN(nlohmann::json wid, h2_->Call("POST", "/fixed_index",
                                                      {{"archive-name", name},
                                                       {"size", std::to_string(source.size())}}));
    if (!wid.is_number_integer()) return Fail(ErrorCode::kNetwork, "the server gave no writer id");
    ArchiveUploader up(*h2_, pool_, wid.get<int64_t>(), "fixed", DigestsOf(previous), progress_,
                       blob_key_);
    uint64_t total = 0;
    for (;;) {
      ByteBuffer chunk(kFixedChunkSize);
      CV_ASSIGN_OR_RETURN(size_t n, source.Read(chunk.data(), chunk.capacity()));
      if (n == 0) break;
      chunk.set_size(n);
      total += n;
      CV_RETURN_IF_ERROR(up.Add(std::move(chunk)));
      if (on_chunk_) on_chunk_();
      if (n < kFixedChunkSize) break;
    }
    if (total != source.size())
      return Fail(ErrorCode::kIo, path + " changed size during the backup");
    CV_ASSIGN_OR_RETURN(auto chunks, up.Finish());
    FixedIndex index;
    std::vector<uint64_t> starts;
    for (size_t i = 0; i < chunks.size(); ++i) {
      starts.push_back(i * kFixedChunkSize);
      index.digests.push_back(chunks[i].first);
    }
    CV_RETURN_IF_ERROR(Append("fixed", wid.get<int64_t>(), chunks, starts));
    const Digest csum = index.ComputeChecksum();
    CV_RETURN_IF_ERROR(Close("fixed", wid.get<int64_t>(), chunks.size(), total, csum));
    const BackupProgress& c = up.counts();
    return Record(name, total, csum, chunks.size(), {c.new_chunks, c.new_bytes, c.stored_bytes});
  }

  Result<ArchiveSummary> AddBlob(const std::string& name, ByteView data) override {
    CV_RETURN_IF_ERROR(CheckName(name, ".blob"));
    if (data.size() > (16u << 20))
      return Fail(ErrorCode::kInvalidArgument, name + ": a server takes blobs of at most 16 MiB");
    return SendBlob(name, EncodeBlob(data, true, blob_key_));
  }

  Result<ArchiveSummary> SendBlob(const std::string& name, Bytes blob) {
    const ManifestFile file{name, options_.crypt_mode, blob.size(), Sha256Of(blob)};
    CV_RETURN_IF_ERROR(UploadBlob(name, std::move(blob)));
    files_.push_back(file);
    ArchiveSummary s;
    s.file_name = name;
    s.size = file.size;
    summaries_.push_back(s);
    return s;
  }

  Result<BackupSummary> Finish() override {
    if (files_.empty())
      return Fail(ErrorCode::kInvalidArgument, "a backup needs at least one archive");
    if (catalog_) {  // after the archives, as PBS's client sends it
      CV_RETURN_IF_ERROR(catalog_writer_->Finish());
      CV_ASSIGN_OR_RETURN(ArchiveSummary ignored, CloseDynamic(*catalog_));
      (void)ignored;
    }
    if (!options_.master_key_blob.empty())  // as the local session writes it
      CV_RETURN_IF_ERROR(SendBlob(kMasterKeyBlobName, EncodeBlob(options_.master_key_blob, false)));
    Manifest m;
    m.backup_type = BackupTypeName(snap_.group.type);
    m.backup_id = snap_.group.id;
    m.backup_time = snap_.time;
    m.files = files_;
    for (const auto& [name, size] : logical_sizes_) m.RecordLogicalSize(name, size);
    if (options_.key) m.Sign(*options_.key);
    CV_RETURN_IF_ERROR(UploadBlob(kManifestBlobName, m.EncodeBlob()));
    CrashPoint("before-finish");
    CV_RETURN_IF_ERROR(h2_->Call("POST", "/finish"));
    BackupSummary summary;
    summary.snapshot = snap_;
    summary.archives = summaries_;
    summary.bytes = progress_.bytes;
    summary.chunks = progress_.chunks;
    summary.new_chunks = progress_.new_chunks;
    summary.new_bytes = progress_.new_bytes;
    summary.stored_bytes = progress_.stored_bytes;
    return summary;
  }

 private:
  struct Snap {
    uint64_t new_chunks, new_bytes, stored_bytes;
  };

  // A dynamic index being sent: the server's writer, the chunks' uploads
  // and the assembler that cuts them.
  struct DynamicWriter {
    DynamicWriter(RemoteBackupSession& s, std::string file_name, int64_t id, uint64_t chunk_size,
                  std::vector<ChunkRef> previous)
        : name(std::move(file_name)),
          wid(id),
          previous_chunks(std::move(previous)),
          up(*s.h2_, s.pool_, wid, "dynamic", DigestsOf(previous_chunks), s.progress_,
             s.blob_key_),
          assembler(chunk_size, s.pool_.size() + s.pool_.max_queued(),
                    [this, &s](ByteBuffer c) -> Status {
                      CV_RETURN_IF_ERROR(up.Add(std::move(c)));
                      if (s.on_chunk_) s.on_chunk_();
                      return Status{};
                    }) {}
    const std::string name;
    const int64_t wid;
    const std::vector<ChunkRef> previous_chunks;  // of the previous snapshot's same file
    ArchiveUploader up;
    ChunkAssembler assembler;
  };

  Result<std::unique_ptr<DynamicWriter>> OpenDynamic(const std::string& name, uint64_t chunk_size) {
    CV_ASSIGN_OR_RETURN(std::vector<ChunkRef> previous, PreviousChunks(name));
    CV_ASSIGN_OR_RETURN(nlohmann::json wid,
                        h2_->Call("POST", "/dynamic_index", {{"archive-name", name}}));
    if (!wid.is_number_integer()) return Fail(ErrorCode::kNetwork, "the server gave no writer id");
    return std::make_unique<DynamicWriter>(*this, name, wid.get<int64_t>(), chunk_size,
                                           std::move(previous));
  }

  // The previous snapshot's split archive "<stem>.pxar" for metadata
  // change detection: its metadata stream read at random over a reader
  // session on the previous snapshot (the chunks decoded and checked
  // here), its payload index as `previous` gave it (which registered its
  // chunks with the server: appending them is allowed). Null, every file
  // read, without one or if it cannot be used (told to `observer`).
  struct Previous {
    std::unique_ptr<SnapshotReader> reader;
    std::unique_ptr<pxar::ChunkedInput> meta;
    pxar::PreviousArchive archive;
  };
  std::unique_ptr<Previous> OpenPrevious(const std::string& stem,
                                         const std::vector<ChunkRef>& payload_chunks,
                                         TarObserver* observer) {
    const std::string meta_name = stem + ".mpxar.didx", payload_name = stem + ".ppxar.didx";
    if (!previous_ || !open_reader_) return nullptr;
    const ManifestFile* meta_file = previous_->Find(meta_name);
    const ManifestFile* payload_file = previous_->Find(payload_name);
    if (!meta_file || !payload_file || meta_file->crypt_mode != options_.crypt_mode ||
        payload_file->crypt_mode != options_.crypt_mode || payload_chunks.empty())
      return nullptr;
    const SnapshotRef snap{snap_.group, previous_time_};
    auto opened = OpenPreviousMeta(snap, *meta_file);
    if (!opened) {
      if (observer)
        observer->OnWarning("the last backup " + snap.ToString() + " cannot be reused (" +
                            opened.error().message() +
                            "): every file is read (change detection mode data)");
      return nullptr;
    }
    std::unique_ptr<Previous> p = std::move(*opened);
    p->archive.payload_ends = ChunkEnds(payload_chunks);
    p->archive.payload_digests = ChunkDigests(payload_chunks);
    return p;
  }

  Result<std::unique_ptr<Previous>> OpenPreviousMeta(const SnapshotRef& snap,
                                                     const ManifestFile& file) {
    auto p = std::make_unique<Previous>();
    CV_ASSIGN_OR_RETURN(p->reader, open_reader_(snap));
    CV_ASSIGN_OR_RETURN(Bytes raw, p->reader->ReadFile(file.filename));
    CV_ASSIGN_OR_RETURN(DynamicIndex index, DynamicIndex::Parse(raw));
    if (index.size() != file.size || index.stored_csum != file.csum)
      return Fail(ErrorCode::kCorrupt, file.filename + " does not match the manifest");
    const std::vector<ChunkRef> chunks = index.Chunks();
    const CryptKey* key = file.crypt_mode == CryptMode::kEncrypt ? options_.key.get() : nullptr;
    SnapshotReader* reader = p->reader.get();
    p->meta = std::make_unique<pxar::ChunkedInput>(
        ChunkEnds(chunks), ChunkDigests(chunks),
        [reader, key](const Digest& digest) -> Result<Bytes> {
          CV_ASSIGN_OR_RETURN(Bytes raw, reader->ReadChunk(digest));
          return DecodeChunk(raw, digest, key);
        },
        "archive " + file.filename + " of " + snap.ToString());
    p->archive.meta = p->meta.get();
    p->archive.meta_size = p->meta->size();
    return p;
  }


  // PBS's catalog of the legacy pxar archives, begun with the first.
  Result<pxar::CatalogWriter*> CatalogFor() {
    if (!catalog_) {
      CV_ASSIGN_OR_RETURN(catalog_, OpenDynamic("catalog.pcat1.didx", 512 << 10));
      catalog_sink_ = std::make_unique<StreamSinkOf<ChunkAssembler>>(catalog_->assembler);
      catalog_writer_ = std::make_unique<pxar::CatalogWriter>(*catalog_sink_);
    }
    return catalog_writer_.get();
  }

  // Cuts the last chunk, waits for the uploads, appends the chunks to the
  // server's index in order and closes it.
  Result<ArchiveSummary> CloseDynamic(DynamicWriter& w) {
    CV_RETURN_IF_ERROR(w.assembler.Finish());
    CV_ASSIGN_OR_RETURN(auto chunks, w.up.Finish());
    DynamicIndex index;
    std::vector<uint64_t> starts;
    uint64_t end = 0;
    for (const auto& [digest, size] : chunks) {
      starts.push_back(end);
      end += size;
      index.entries.push_back({end, digest});
    }
    CV_RETURN_IF_ERROR(Append("dynamic", w.wid, chunks, starts));
    const Digest csum = index.ComputeChecksum();
    CV_RETURN_IF_ERROR(Close("dynamic", w.wid, chunks.size(), end, csum));
    const BackupProgress& c = w.up.counts();
    return Record(w.name, end, csum, chunks.size(), {c.new_chunks, c.new_bytes, c.stored_bytes});
  }

  // The digests of the previous snapshot's archive of this name, which the
  // server then lets this session append without an upload.
  // The chunks of the previous snapshot's file `name` (none without one),
  // which the server registers as known when it hands out the index.
  Result<std::vector<ChunkRef>> PreviousChunks(const std::string& name) {
    if (!previous_ || !previous_->Find(name)) return std::vector<ChunkRef>();
    auto raw = h2_->Start("GET", "/previous", {{"archive-name", name}}, {}, "").get();
    if (!raw || raw->status != 200) return std::vector<ChunkRef>();
    auto chunks = IndexChunks(name, raw->body);
    return chunks ? std::move(*chunks) : std::vector<ChunkRef>();
  }

  static std::unordered_set<Digest, DigestHash> DigestsOf(const std::vector<ChunkRef>& chunks) {
    std::unordered_set<Digest, DigestHash> digests;
    for (const ChunkRef& c : chunks) digests.insert(c.digest);
    return digests;
  }

  Status Append(const char* kind, int64_t wid,
                const std::vector<std::pair<Digest, uint64_t>>& chunks,
                const std::vector<uint64_t>& starts) {
    for (size_t at = 0; at < chunks.size(); at += kAppendBatch) {
      nlohmann::json digests = nlohmann::json::array(), offsets = nlohmann::json::array();
      for (size_t i = at; i < std::min(chunks.size(), at + kAppendBatch); ++i) {
        digests.push_back(ToHex(chunks[i].first));
        offsets.push_back(starts[i]);
      }
      nlohmann::json body = {{"wid", wid}, {"digest-list", digests}, {"offset-list", offsets}};
      CV_RETURN_IF_ERROR(h2_->Call("PUT", std::string("/") + kind + "_index", {}, JsonBytes(body),
                                   "application/json"));
    }
    return {};
  }

  Status Close(const char* kind, int64_t wid, size_t count, uint64_t size, const Digest& csum) {
    CV_RETURN_IF_ERROR(h2_->Call("POST", std::string("/") + kind + "_close",
                                 {{"wid", std::to_string(wid)},
                                  {"chunk-count", std::to_string(count)},
                                  {"size", std::to_string(size)},
                                  {"csum", ToHex(csum)}}));
    return {};
  }

  Status UploadBlob(const std::string& name, Bytes blob) {
    const std::string size = std::to_string(blob.size());
    CV_RETURN_IF_ERROR(h2_->Call("POST", "/blob", {{"file-name", name}, {"encoded-size", size}},
                                 std::move(blob), "application/octet-stream"));
    return {};
  }

  // `added`: what the file's chunks added to the store.
  ArchiveSummary Record(const std::string& name, uint64_t size, const Digest& csum, size_t chunks,
                        const Snap& added) {
    files_.push_back(ManifestFile{name, options_.crypt_mode, size, csum});
    ArchiveSummary s;
    s.file_name = name;
    s.size = size;
    s.chunks = chunks;
    s.new_chunks = added.new_chunks;
    s.new_bytes = added.new_bytes;
    s.stored_bytes = added.stored_bytes;
    summaries_.push_back(s);
    return s;
  }

  std::unique_ptr<H2Session> h2_;
  SnapshotRef snap_;
  const BackupOptions options_;
  const CryptKey* const blob_key_;  // chunks and blobs are encrypted with it
  const OpenReader open_reader_;
  std::optional<Manifest> previous_;  // the group's last backup's, if this key may read it
  int64_t previous_time_ = 0;
  std::vector<ManifestFile> files_;
  std::map<std::string, uint64_t> logical_sizes_;  // Manifest::LogicalSize
  std::vector<ArchiveSummary> summaries_;
  BackupProgress progress_;
  std::function<void()> on_chunk_;
  ThreadPool pool_;  // joined after the writers below, which first wait for their tasks
  std::unique_ptr<DynamicWriter> catalog_;
  std::unique_ptr<StreamSinkOf<ChunkAssembler>> catalog_sink_;
  std::unique_ptr<pxar::CatalogWriter> catalog_writer_;
};

}  // namespace

Result<std::unique_ptr<BackupSession>> StartRemoteBackup(std::unique_ptr<Connection> connection,
                                                         const Repository& repo,
                                                         const BackupOptions& options, size_t jobs,
                                                         bool no_cache, OpenReader open_reader) {
  CV_RETURN_IF_ERROR(CheckBackupId(options.id));
  CV_RETURN_IF_ERROR(CheckCryptOptions(options.crypt_mode, options.key.get()));
  SnapshotRef snap{BackupGroup{options.ns, options.type, options.id}, 0};
  snap.time = options.time.value_or(static_cast<int64_t>(std::time(nullptr)));
  Query query = {{"backup-type", BackupTypeName(options.type)},
                 {"backup-id", options.id},
                 {"backup-time", std::to_string(snap.time)},
                 {"store", repo.store},
                 {"debug", "true"},
                 {"benchmark", "false"}};
  if (no_cache) query.emplace_back("no-cache", "true");  // only when true, as PBS's client
  if (!options.ns.is_root()) query.emplace_back("ns", options.ns.ToString());
  CV_ASSIGN_OR_RETURN(
      auto h2, connection->Upgrade("/api2/json/backup", query, "proxmox-backup-protocol-v1"));
  auto session = std::make_unique<RemoteBackupSession>(
      std::move(h2), snap, std::max<size_t>(jobs, 8), options, std::move(open_reader));
  CV_RETURN_IF_ERROR(session->Begin());
  return std::unique_ptr<BackupSession>(std::move(session));
}

}  // namespace chunkvault::client
