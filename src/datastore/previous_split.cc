#include "datastore/previous_split.h"

#include "datastore/archive_readers.h"
#include "datastore/datastore_impl.h"
#include "store/snapshot_store.h"

namespace chunkvault {

Result<std::unique_ptr<PreviousSplit>> PreviousSplit::Open(DatastoreImpl& ds,
                                                           const SnapshotRef& snap,
                                                           const std::string& stem, CryptMode mode,
                                                           std::shared_ptr<const CryptKey> key) {
  std::unique_ptr<PreviousSplit> p(new PreviousSplit);
  p->snap_ = snap;
  CV_ASSIGN_OR_RETURN(p->lock_, ds.LockSnapshot(snap, /*exclusive=*/false));
  CV_ASSIGN_OR_RETURN(Manifest manifest, ds.snapshot_store().ReadManifest(snap));
  const std::string where = "snapshot " + snap.ToString();
  const PxarFiles names{stem + ".mpxar.didx", stem + ".ppxar.didx"};
  for (const std::string& name : {names.meta, names.payload}) {
    const ManifestFile* f = manifest.Find(name);
    if (f == nullptr) return Fail(ErrorCode::kNotFound, where + " has no " + name);
    if (f->crypt_mode != mode)
      return Fail(ErrorCode::kInvalidArgument, where + " stored " + name + " with crypt mode " +
                                                   CryptModeName(f->crypt_mode) + ", not " +
                                                   CryptModeName(mode));
  }
  CV_ASSIGN_OR_RETURN(
      TreeArchiveParts parts,
      TreeArchivePartsOf(manifest, snap, stem + ".pxar", key, [&](const std::string& file) {
        return ds.ReadCheckedFile(snap, manifest, file);
      }));
  if (parts.files.meta != names.meta || parts.files.payload != names.payload)
    return Fail(ErrorCode::kNotFound, where + " has no split archive " + stem + ".pxar");
  ChunkAccess* access = &ds.chunk_access();
  p->key_ = parts.meta_key;
  p->meta_ = std::make_unique<IndexInput>(access, std::move(parts.meta_chunks), p->key_.get(),
                                          "archive " + names.meta + " of " + snap.ToString());
  pxar::PreviousArchive& a = p->archive_;
  a.meta = p->meta_.get();
  a.meta_size = p->meta_->size();
  a.payload_ends = ChunkEnds(parts.payload_chunks);
  a.payload_digests = ChunkDigests(parts.payload_chunks);
  a.usable = [access](const Digest& digest) {
    auto present = access->MarkUsedIfStored(digest);
    return present && *present;
  };
  return p;
}

}  // namespace chunkvault
