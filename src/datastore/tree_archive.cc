// TreeArchive (chunkvault/tree_archive.h) over a pxar archive's index
// files: the metadata stream read at random (IndexInput) through the
// accessor's goodbye tables, the payload read at random for a partial
// restore, or both streams in order (ArchiveReader, chunks read ahead)
// for the whole tree.
#include "chunkvault/tree_archive.h"

#include <algorithm>

#include "archive/path_pattern.h"
#include "archive/pxar/accessor.h"
#include "archive/pxar/extract.h"
#include "archive/pxar/to_tar.h"
#include "datastore/archive_readers.h"
#include "datastore/index_input.h"
#include "util/thread_pool.h"

namespace chunkvault {
namespace {

TreeEntry ToTreeEntry(const pxar::Entry& e) {
  TreeEntry t;
  t.path.assign(e.path.begin(), e.path.end());
  const pxar::Stat& st = e.metadata.stat;
  t.mode = uint32_t(st.mode);
  t.uid = st.uid;
  t.gid = st.gid;
  t.mtime = st.mtime_secs;
  t.mtime_nanos = st.mtime_nanos;
  t.size = e.size;
  t.link_target.assign(e.link_target.begin(), e.link_target.end());
  t.device_major = e.device_major;
  t.device_minor = e.device_minor;
  switch (e.kind) {
    case pxar::EntryKind::kDirectory:
      t.type = TreeEntry::Type::kDirectory;
      break;
    case pxar::EntryKind::kFile:
      t.type = TreeEntry::Type::kFile;
      break;
    case pxar::EntryKind::kSymlink:
      t.type = TreeEntry::Type::kSymlink;
      break;
    case pxar::EntryKind::kHardlink:
      t.type = TreeEntry::Type::kHardlink;
      break;
    case pxar::EntryKind::kDevice:
      t.type = TreeEntry::Type::kDevice;
      break;
    case pxar::EntryKind::kFifo:
      t.type = TreeEntry::Type::kFifo;
      break;
    case pxar::EntryKind::kSocket:
      t.type = TreeEntry::Type::kSocket;
      break;
    case pxar::EntryKind::kDirectoryEnd:
      break;
  }
  return t;
}

Result<std::vector<PathPattern>> ParsePatterns(const std::vector<std::string>& texts) {
  std::vector<PathPattern> out;
  for (const std::string& t : texts) {
    CV_ASSIGN_OR_RETURN(PathPattern p, PathPattern::Parse(t));
    out.push_back(std::move(p));
  }
  return out;
}

bool AnyMatches(const std::vector<PathPattern>& patterns, const pxar::Entry& e) {
  const std::string_view path = AsString(e.path);
  const bool dir = e.kind == pxar::EntryKind::kDirectory;
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const PathPattern& p) { return p.Matches(path, dir); });
}

class PxarTreeArchive final : public TreeArchive {
 public:
  PxarTreeArchive(TreeArchiveParts parts)
      : parts_(std::move(parts)),
        meta_(parts_.access, std::move(parts_.meta_chunks), parts_.meta_key.get(),
              "archive " + parts_.files.meta + " of " + parts_.snapshot),
        payload_(parts_.access, std::move(parts_.payload_chunks), parts_.payload_key.get(),
                 "archive " + parts_.files.payload + " of " + parts_.snapshot) {}

  Status Open() {
    CV_ASSIGN_OR_RETURN(pxar::Accessor a,
                        WithContext(pxar::Accessor::Open(meta_, meta_.size()), Where()));
    accessor_.emplace(std::move(a));
    return {};
  }

  Result<TreeEntry> Stat(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(pxar::Entry e, WithContext(accessor_->Lookup(AsBytes(path)), Where()));
    return ToTreeEntry(e);
  }

  Result<std::vector<TreeEntry>> List(const std::string& path) override {
    CV_ASSIGN_OR_RETURN(pxar::Entry dir, WithContext(accessor_->Lookup(AsBytes(path)), Where()));
    if (dir.kind != pxar::EntryKind::kDirectory)
      return Fail(ErrorCode::kInvalidArgument, "'" + path + "' is not a directory");
    CV_ASSIGN_OR_RETURN(std::vector<pxar::Entry> entries,
                        WithContext(accessor_->List(dir), Where()));
    std::vector<TreeEntry> out;
    out.reserve(entries.size());
    for (const pxar::Entry& e : entries) out.push_back(ToTreeEntry(e));
    return out;
  }

  Status Find(const std::vector<std::string>& patterns,
              const std::function<bool(const TreeEntry&)>& found) override {
    CV_ASSIGN_OR_RETURN(std::vector<PathPattern> parsed, ParsePatterns(patterns));
    pxar::Decoder decoder(meta_, nullptr);
    for (;;) {
      CV_ASSIGN_OR_RETURN(std::optional<pxar::Entry> e, WithContext(decoder.Next(), Where()));
      if (!e) return {};
      if (e->kind == pxar::EntryKind::kDirectoryEnd || e->path.empty()) continue;
      if (AnyMatches(parsed, *e) && !found(ToTreeEntry(*e))) return {};
    }
  }

  Result<RestoreSummary> Restore(const std::vector<std::string>& includes,
                                 const std::string& target, const RestoreOptions& options,
                                 TarObserver* observer) override {
    const size_t writers = ThreadPool::DefaultThreads();
    // The whole tree: both streams in order, chunks read ahead.
    if (includes.empty())
      return RestorePxarFiles(parts_.files, parts_.open, target, options, observer, writers);
    CV_ASSIGN_OR_RETURN(std::vector<PathPattern> parsed, ParsePatterns(includes));
    // The metadata in order (each chunk fetched once), the payload at
    // random: only the chunks of the files restored.
    pxar::Decoder decoder(meta_, parts_.files.payload.empty() ? nullptr : &payload_);
    CV_ASSIGN_OR_RETURN(
        TarStats stats,
        WithContext(pxar::ExtractPxar(decoder, target, ExtractOptionsOf(options, writers), observer,
                                      [&](const pxar::Entry& e) { return AnyMatches(parsed, e); }),
                    Where()));
    RestoreSummary summary;
    summary.file_name = parts_.files.meta;
    summary.bytes = stats.bytes;
    summary.files = stats.files + stats.dirs + stats.symlinks + stats.others;
    summary.warnings = stats.warnings;
    return summary;
  }

  Result<TarStats> WriteTar(const std::function<Status(ByteView)>& out) override {
    CV_ASSIGN_OR_RETURN(auto meta, parts_.open(parts_.files.meta));
    std::unique_ptr<ArchiveReader> payload;
    if (!parts_.files.payload.empty()) {
      CV_ASSIGN_OR_RETURN(payload, parts_.open(parts_.files.payload));
    }
    pxar::SequentialInput meta_in([&] { return meta->Next(); });
    std::optional<pxar::SequentialInput> payload_in;
    if (payload) payload_in.emplace([&] { return payload->Next(); });
    pxar::Decoder decoder(meta_in, payload_in ? &*payload_in : nullptr);
    return WithContext(pxar::WriteAsTar(decoder, out), Where());
  }

  TreeArchiveReads reads() const override {
    return {meta_.chunks_fetched(), payload_.chunks_fetched()};
  }

 private:
  std::string Where() const { return "archive " + parts_.files.meta + " of " + parts_.snapshot; }

  TreeArchiveParts parts_;
  IndexInput meta_, payload_;
  std::optional<pxar::Accessor> accessor_;
};

}  // namespace

Result<TreeArchiveParts> TreeArchivePartsOf(
    const Manifest& manifest, const SnapshotRef& snap, const std::string& archive,
    const std::shared_ptr<const CryptKey>& key,
    const std::function<Result<Bytes>(const std::string& file_name)>& read_checked) {
  std::optional<PxarFiles> files = PxarFilesOf(manifest, archive);
  if (!files)
    return Fail(ErrorCode::kInvalidArgument,
                "snapshot " + snap.ToString() + " has no pxar archive '" + archive +
                    "' (ls, find, --include and --format tar read pxar archives only)");
  TreeArchiveParts parts;
  parts.files = *files;
  parts.snapshot = snap.ToString();
  auto chunks_of = [&](const std::string& file, std::vector<ChunkRef>& chunks,
                       std::shared_ptr<const CryptKey>& file_key) -> Status {
    CV_ASSIGN_OR_RETURN(file_key, ArchiveKeyOf(manifest, file, key, snap));
    CV_ASSIGN_OR_RETURN(Bytes raw, read_checked(file));
    CV_ASSIGN_OR_RETURN(chunks, IndexChunks(file, raw));
    return {};
  };
  CV_RETURN_IF_ERROR(chunks_of(files->meta, parts.meta_chunks, parts.meta_key));
  if (!files->payload.empty())
    CV_RETURN_IF_ERROR(chunks_of(files->payload, parts.payload_chunks, parts.payload_key));
  return parts;
}

Result<RestoreSummary> RestorePxarFiles(const PxarFiles& files, const OpenFile& open,
                                        const std::string& target, const RestoreOptions& options,
                                        TarObserver* observer, size_t writers) {
  CV_ASSIGN_OR_RETURN(auto meta, open(files.meta));
  std::unique_ptr<ArchiveReader> payload;
  if (!files.payload.empty()) {
    CV_ASSIGN_OR_RETURN(payload, open(files.payload));
  }
  return RestorePxar(*meta, payload.get(), target, options, observer, writers);
}

Result<std::unique_ptr<TreeArchive>> NewTreeArchive(TreeArchiveParts parts) {
  auto archive = std::make_unique<PxarTreeArchive>(std::move(parts));
  CV_RETURN_IF_ERROR(archive->Open());
  return std::unique_ptr<TreeArchive>(std::move(archive));
}

}  // namespace chunkvault
