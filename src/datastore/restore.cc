// Restore and cat from their parts: archive readers, file checks, the
// tar or image target (datastore/archive_readers.h); and the same through
// any SnapshotReader (chunkvault/restore.h).
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "archive/image.h"
#include "archive/pxar/decoder.h"
#include "archive/pxar/extract.h"
#include "archive/tar.h"
#include "chunkvault/blob.h"
#include "chunkvault/env.h"
#include "chunkvault/hash.h"
#include "chunkvault/key_file.h"
#include "datastore/archive_names.h"
#include "datastore/archive_readers.h"
#include "datastore/chunk_stream.h"
#include "store/snapshot_store.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

class IndexArchiveReader final : public ArchiveReader {
 public:
  IndexArchiveReader(Kind kind, std::string file_name, const SnapshotRef& snap,
                     std::shared_ptr<const void> keep, ChunkAccess* access,
                     std::vector<ChunkRef> chunks, size_t jobs, std::shared_ptr<const CryptKey> key)
      : kind_(kind),
        file_name_(std::move(file_name)),
        context_("archive " + file_name_ + " of " + snap.ToString()),
        keep_(std::move(keep)),
        key_(std::move(key)),
        stream_(access, std::move(chunks), jobs, key_.get()) {}

  Kind kind() const override { return kind_; }
  const std::string& file_name() const override { return file_name_; }
  uint64_t size() const override { return stream_.total_bytes(); }
  uint64_t bytes_read() const override { return stream_.bytes_delivered(); }
  Result<ByteView> Next() override { return WithContext(stream_.Next(), context_); }
  std::shared_ptr<const void> Keep() override { return stream_.Keep(); }

 private:
  const Kind kind_;
  const std::string file_name_;
  const std::string context_;
  std::shared_ptr<const void> keep_;  // declared first: goes after stream_
  const std::shared_ptr<const CryptKey> key_;
  ChunkStream stream_;
};

class BlobArchiveReader final : public ArchiveReader {
 public:
  BlobArchiveReader(std::string file_name, Bytes data)
      : file_name_(std::move(file_name)), data_(std::move(data)) {}
  Kind kind() const override { return Kind::kBlob; }
  const std::string& file_name() const override { return file_name_; }
  uint64_t size() const override { return data_.size(); }
  uint64_t bytes_read() const override { return done_ ? data_.size() : 0; }
  Result<ByteView> Next() override {
    if (done_) return ByteView();
    done_ = true;
    return ByteView(data_);
  }

 private:
  const std::string file_name_;
  const Bytes data_;
  bool done_ = false;
};

// Chunks as a SnapshotReader hands them out, for ChunkStream (which
// decodes and checks them). Reading is all it does.
class ReaderChunkAccess final : public ChunkAccess {
 public:
  explicit ReaderChunkAccess(std::shared_ptr<SnapshotReader> reader) : reader_(std::move(reader)) {}
  Result<bool> TouchIfPresent(const Digest&) override { return ReadOnly(); }
  Result<InsertResult> Insert(const Digest&, ByteView) override { return ReadOnly(); }
  Result<Bytes> ReadRaw(const Digest& digest, ReadFrom) override {
    return reader_->ReadChunk(digest);
  }
  Result<std::string> MarkBad(const Digest&) override { return ReadOnly(); }
  std::string Describe(const Digest&) const override {
    return "read for snapshot " + reader_->snapshot().ToString();
  }

 private:
  static std::unexpected<Error> ReadOnly() {
    return Fail(ErrorCode::kUnsupported, "a snapshot reader's chunks are read only");
  }
  const std::shared_ptr<SnapshotReader> reader_;
};

std::string WhereIn(SnapshotReader& reader, const std::string& file_name) {
  return "snapshot " + reader.snapshot().ToString() + " file " + file_name;
}

Result<std::unique_ptr<ArchiveReader>> OpenArchiveOf(std::shared_ptr<SnapshotReader> reader,
                                                     const Manifest& manifest,
                                                     const std::string& archive, size_t jobs,
                                                     std::shared_ptr<const CryptKey> key) {
  const SnapshotRef snap = reader->snapshot();
  CV_ASSIGN_OR_RETURN(std::string file_name, ResolveArchiveName(manifest, archive, snap));
  CV_ASSIGN_OR_RETURN(auto archive_key, ArchiveKeyOf(manifest, file_name, std::move(key), snap));
  const std::string where = WhereIn(*reader, file_name);
  CV_ASSIGN_OR_RETURN(Bytes raw, WithContext(reader->ReadFile(file_name), where));
  CV_RETURN_IF_ERROR(CheckSnapshotFile(manifest, file_name, raw, where));
  CV_ASSIGN_OR_RETURN(auto kind, ArchiveKindOf(file_name));
  if (kind == ArchiveReader::Kind::kBlob) {
    CV_ASSIGN_OR_RETURN(Bytes data,
                        WithContext(DecodeBlob(raw, kMaxBlobSize, archive_key.get()), where));
    return NewBlobArchiveReader(file_name, std::move(data));
  }
  CV_ASSIGN_OR_RETURN(std::vector<ChunkRef> chunks,
                      WithContext(IndexChunks(file_name, raw), where));
  auto access = std::make_shared<ReaderChunkAccess>(std::move(reader));
  ChunkAccess* door = access.get();
  return NewIndexArchiveReader(kind, file_name, snap, std::move(access), door, std::move(chunks),
                               jobs ? jobs : 16, std::move(archive_key));
}

}  // namespace

std::unique_ptr<ArchiveReader> NewIndexArchiveReader(ArchiveReader::Kind kind,
                                                     std::string file_name, const SnapshotRef& snap,
                                                     std::shared_ptr<const void> keep,
                                                     ChunkAccess* access,
                                                     std::vector<ChunkRef> chunks, size_t jobs,
                                                     std::shared_ptr<const CryptKey> key) {
  return std::make_unique<IndexArchiveReader>(kind, std::move(file_name), snap, std::move(keep),
                                              access, std::move(chunks), jobs, std::move(key));
}

Result<std::shared_ptr<const CryptKey>> ArchiveKeyOf(const Manifest& manifest,
                                                     const std::string& file_name,
                                                     std::shared_ptr<const CryptKey> key,
                                                     const SnapshotRef& snap) {
  // As PBS: the wrapped key may be read without the key it wraps (that is
  // what it is for); what it yields is checked against its fingerprint.
  if (file_name == kMasterKeyBlobName && !key) return key;
  CV_RETURN_IF_ERROR(WithContext(manifest.CheckKey(key.get()), "snapshot " + snap.ToString()));
  const ManifestFile* entry = manifest.Find(file_name);
  if (entry != nullptr && entry->crypt_mode == CryptMode::kEncrypt) return key;
  return std::shared_ptr<const CryptKey>();
}

std::unique_ptr<ArchiveReader> NewBlobArchiveReader(std::string file_name, Bytes data) {
  return std::make_unique<BlobArchiveReader>(std::move(file_name), std::move(data));
}

Status CheckSnapshotFile(const Manifest& manifest, const std::string& file_name, ByteView raw,
                         const std::string& where) {
  const ManifestFile* entry = manifest.Find(file_name);
  if (entry == nullptr) return Fail(ErrorCode::kNotFound, where + ": not in the manifest");
  auto corrupt = [&](const std::string& what) {
    return Fail(ErrorCode::kCorrupt, where + ": " + what);
  };
  CV_ASSIGN_OR_RETURN(auto kind, WithContext(ArchiveKindOf(file_name), where));
  const Digest file_digest = Sha256Of(raw);
  if (auto recorded = manifest.RecordedFileDigest(file_name); recorded && *recorded != file_digest)
    return corrupt("file digest mismatch: the manifest records " + ToHex(*recorded) +
                   ", the file hashes to " + ToHex(file_digest));
  uint64_t size = 0;
  Digest csum;
  if (kind == ArchiveReader::Kind::kBlob) {
    size = raw.size();
    csum = file_digest;
    CV_RETURN_IF_ERROR(WithContext(CheckBlobCrc(raw), where));
  } else if (raw.size() > MaxIndexFileSize(entry->size)) {
    return corrupt(std::to_string(raw.size()) + " bytes, more than an index of " +
                   std::to_string(entry->size) + " bytes of data needs");
  } else if (kind == ArchiveReader::Kind::kDynamic) {
    auto idx = DynamicIndex::Parse(raw);
    if (!idx) return corrupt(idx.error().message());
    size = idx->size();
    csum = idx->stored_csum;
  } else {
    auto idx = FixedIndex::Parse(raw);
    if (!idx) return corrupt(idx.error().message());
    size = idx->size;
    csum = idx->stored_csum;
  }
  if (size != entry->size)
    return corrupt("size " + std::to_string(size) + " differs from the manifest's " +
                   std::to_string(entry->size));
  if (csum != entry->csum)
    return corrupt("checksum " + ToHex(csum) + " differs from the manifest's " +
                   ToHex(entry->csum));
  return {};
}

std::optional<PxarFiles> PxarFilesOf(const Manifest& manifest, const std::string& archive) {
  std::string name = archive;
  if (name.ends_with(".didx")) name.resize(name.size() - 5);
  std::string stem;
  for (const char* ext : {".pxar", ".mpxar", ".ppxar"}) {
    if (name.ends_with(ext) && name.size() > std::strlen(ext)) {
      stem = name.substr(0, name.size() - std::strlen(ext));
      if (std::strcmp(ext, ".pxar") == 0 && manifest.Find(name + ".didx") != nullptr)
        return PxarFiles{name + ".didx", ""};
    }
  }
  if (stem.empty()) return std::nullopt;
  PxarFiles pair{stem + ".mpxar.didx", stem + ".ppxar.didx"};
  if (manifest.Find(pair.meta) == nullptr || manifest.Find(pair.payload) == nullptr)
    return std::nullopt;
  return pair;
}

ExtractOptions ExtractOptionsOf(const RestoreOptions& options, size_t writers) {
  ExtractOptions eo;
  eo.overwrite = options.overwrite;
  eo.follow_target_symlink = options.follow_target_symlink;
  eo.restore_owner = ::geteuid() == 0;
  eo.jobs = std::max<size_t>(writers, 1);
  return eo;
}

namespace {

void Summarize(const TarStats& stats, RestoreSummary& summary) {
  summary.bytes = stats.bytes;
  summary.files = stats.files + stats.dirs + stats.symlinks + stats.others;
  summary.warnings = stats.warnings;
}

}  // namespace

Result<RestoreSummary> RestorePxar(ArchiveReader& meta, ArchiveReader* payload,
                                   const std::string& target, const RestoreOptions& options,
                                   TarObserver* observer, size_t writers) {
  RestoreSummary summary;
  summary.file_name = meta.file_name();
  // Chunks are lent to the file writers, not copied for them.
  pxar::SequentialInput meta_in([&] { return meta.Next(); }, [&] { return meta.Keep(); });
  std::optional<pxar::SequentialInput> payload_in;
  if (payload) payload_in.emplace([=] { return payload->Next(); }, [=] { return payload->Keep(); });
  pxar::Decoder decoder(meta_in, payload_in ? &*payload_in : nullptr);
  CV_ASSIGN_OR_RETURN(
      TarStats stats,
      WithContext(pxar::ExtractPxar(decoder, target, ExtractOptionsOf(options, writers), observer),
                  "archive " + meta.file_name()));
  Summarize(stats, summary);
  return summary;
}

Result<RestoreSummary> RestoreArchive(ArchiveReader& reader, const std::string& target,
                                      const RestoreOptions& options, TarObserver* observer,
                                      size_t writers) {
  RestoreSummary summary;
  summary.file_name = reader.file_name();
  if (reader.kind() == ArchiveReader::Kind::kDynamic) {
    if (summary.file_name.ends_with(".pxar.didx"))
      return RestorePxar(reader, nullptr, target, options, observer, writers);
    if (!summary.file_name.ends_with(".tar.didx"))
      return Fail(ErrorCode::kUnsupported, summary.file_name +
                                               " is not a tar or pxar archive and cannot be "
                                               "extracted; 'chunkvault cat' gives its raw bytes");
    // Chunks are lent to the file writers, not copied for them.
    struct ReaderSource final : TarSource {
      explicit ReaderSource(ArchiveReader& r) : reader(r) {}
      Result<ByteView> Next() override { return reader.Next(); }
      std::shared_ptr<const void> Keep() override { return reader.Keep(); }
      ArchiveReader& reader;
    } source(reader);
    CV_ASSIGN_OR_RETURN(TarStats stats,
                        ExtractTar(source, target, ExtractOptionsOf(options, writers), observer));
    Summarize(stats, summary);
    return summary;
  }
  CV_ASSIGN_OR_RETURN(ImageTarget out, ImageTarget::Create(target, options.overwrite,
                                                           options.follow_target_symlink));
  for (;;) {
    CV_ASSIGN_OR_RETURN(ByteView piece, reader.Next());
    if (piece.empty()) break;
    CV_RETURN_IF_ERROR(out.Write(piece));
  }
  CV_RETURN_IF_ERROR(out.Finish(reader.size()));
  summary.bytes = reader.size();
  summary.files = 1;
  return summary;
}

Result<std::vector<RestoreSummary>> RestoreArchives(const Manifest& manifest,
                                                    const std::string& target,
                                                    const RestoreOptions& options,
                                                    TarObserver* observer,
                                                    const RestoreOne& restore_one) {
  Env* env = Env::Default();
  auto existing = env->ListDir(target);
  if (existing && !existing->empty() && !options.overwrite)
    return Fail(ErrorCode::kAlreadyExists,
                "restore target " + target + " is not empty (overwriting was not asked for)");
  CV_RETURN_IF_ERROR(env->CreateDirs(target));
  // The members' names come from the snapshot: a symlink of that name in
  // an overwritten target is not followed.
  RestoreOptions member_options = options;
  member_options.follow_target_symlink = false;
  std::vector<RestoreSummary> out;
  for (const ManifestFile& f : manifest.files) {
    std::string name = f.filename;
    if (name.ends_with(".ppxar.didx") || name == "catalog.pcat1.didx") {
      continue;  // the payload of an .mpxar.didx; PBS's catalog of a .pxar
    } else if (name.ends_with(".tar.didx") || name.ends_with(".pxar.didx")) {
      name.resize(name.size() - 9 - (name.ends_with(".pxar.didx") ? 1 : 0));
    } else if (name.ends_with(".mpxar.didx")) {
      name.resize(name.size() - 11);
    } else if (name.ends_with(".fidx") || name.ends_with(".blob")) {
      name.resize(name.size() - 5);
    } else {
      if (observer)
        observer->OnWarning("skipped " + f.filename +
                            ": not a directory archive or image; 'chunkvault cat' gives its raw "
                            "bytes");
      continue;
    }
    CV_ASSIGN_OR_RETURN(RestoreSummary s,
                        restore_one(f.filename, JoinPath(target, name), member_options));
    out.push_back(std::move(s));
  }
  return out;
}

Result<Manifest> ReadManifest(SnapshotReader& reader) {
  const std::string where = WhereIn(reader, kManifestBlobName);
  CV_ASSIGN_OR_RETURN(Bytes raw, WithContext(reader.ReadFile(kManifestBlobName), where));
  CV_ASSIGN_OR_RETURN(Manifest m, WithContext(Manifest::DecodeBlob(raw), where));
  CV_RETURN_IF_ERROR(CheckManifestIsOf(m, reader.snapshot(), where));
  return m;
}

Result<std::unique_ptr<ArchiveReader>> OpenArchive(std::shared_ptr<SnapshotReader> reader,
                                                   const std::string& archive, size_t jobs,
                                                   std::shared_ptr<const CryptKey> key) {
  CV_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(*reader));
  return OpenArchiveOf(std::move(reader), manifest, archive, jobs, std::move(key));
}

namespace {

Result<RestoreSummary> RestoreOf(std::shared_ptr<SnapshotReader> reader, const Manifest& manifest,
                                 const std::string& archive, const std::string& target,
                                 const RestoreOptions& options, TarObserver* observer) {
  const size_t writers = ThreadPool::DefaultThreads();
  if (std::optional<PxarFiles> pxar = PxarFilesOf(manifest, archive)) {
    CV_ASSIGN_OR_RETURN(auto meta,
                        OpenArchiveOf(reader, manifest, pxar->meta, options.jobs, options.key));
    std::unique_ptr<ArchiveReader> payload;
    if (!pxar->payload.empty()) {
      CV_ASSIGN_OR_RETURN(
          payload, OpenArchiveOf(reader, manifest, pxar->payload, options.jobs, options.key));
    }
    return RestorePxar(*meta, payload.get(), target, options, observer, writers);
  }
  CV_ASSIGN_OR_RETURN(auto archive_reader, OpenArchiveOf(std::move(reader), manifest, archive,
                                                         options.jobs, options.key));
  return RestoreArchive(*archive_reader, target, options, observer, writers);
}

}  // namespace

Result<std::unique_ptr<TreeArchive>> OpenTreeArchive(std::shared_ptr<SnapshotReader> reader,
                                                     const std::string& archive, size_t jobs,
                                                     std::shared_ptr<const CryptKey> key) {
  CV_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(*reader));
  const SnapshotRef snap = reader->snapshot();
  CV_ASSIGN_OR_RETURN(
      TreeArchiveParts parts,
      TreeArchivePartsOf(
          manifest, snap, archive, key, [&](const std::string& file) -> Result<Bytes> {
            const std::string where = WhereIn(*reader, file);
            CV_ASSIGN_OR_RETURN(Bytes raw, WithContext(reader->ReadFile(file), where));
            CV_RETURN_IF_ERROR(CheckSnapshotFile(manifest, file, raw, where));
            return raw;
          }));
  auto access = std::make_shared<ReaderChunkAccess>(reader);
  parts.access = access.get();
  parts.keep = access;
  parts.open = [reader, manifest, jobs, key](const std::string& file) {
    return OpenArchiveOf(reader, manifest, file, jobs, key);
  };
  return NewTreeArchive(std::move(parts));
}

Result<RestoreSummary> Restore(std::shared_ptr<SnapshotReader> reader, const std::string& archive,
                               const std::string& target, const RestoreOptions& options,
                               TarObserver* observer) {
  CV_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(*reader));
  return RestoreOf(std::move(reader), manifest, archive, target, options, observer);
}

Result<std::vector<RestoreSummary>> RestoreSnapshot(std::shared_ptr<SnapshotReader> reader,
                                                    const std::string& target,
                                                    const RestoreOptions& options,
                                                    TarObserver* observer) {
  CV_ASSIGN_OR_RETURN(Manifest manifest, ReadManifest(*reader));
  return RestoreArchives(
      manifest, target, options, observer,
      [&](const std::string& file_name, const std::string& to, const RestoreOptions& o) {
        return RestoreOf(reader, manifest, file_name, to, o, observer);
      });
}

}  // namespace chunkvault
