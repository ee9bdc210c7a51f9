// The parts restore and cat are made of, shared by a local store's calls
// (Datastore::OpenArchive, Restore, RestoreSnapshot) and the same calls
// through any SnapshotReader (chunkvault/restore.h).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/tar.h"
#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "chunkvault/restore.h"
#include "chunkvault/tree_archive.h"
#include "datastore/chunk_access.h"

namespace chunkvault {

// An archive's bytes read chunk by chunk through `access`, `jobs` chunks
// ahead of the consumer, decrypted with `key` if given. `keep` holds what
// must outlive the reader (the snapshot's lock, the access itself).
std::unique_ptr<ArchiveReader> NewIndexArchiveReader(ArchiveReader::Kind kind,
                                                     std::string file_name, const SnapshotRef& snap,
                                                     std::shared_ptr<const void> keep,
                                                     ChunkAccess* access,
                                                     std::vector<ChunkRef> chunks, size_t jobs,
                                                     std::shared_ptr<const CryptKey> key);

// The key `file_name`'s chunks and blob are read with: `key` if the
// manifest lists the file as encrypted, null if not; an error if the
// snapshot cannot be read with `key` (Manifest::CheckKey), naming `snap`.
Result<std::shared_ptr<const CryptKey>> ArchiveKeyOf(const Manifest& manifest,
                                                     const std::string& file_name,
                                                     std::shared_ptr<const CryptKey> key,
                                                     const SnapshotRef& snap);
// A blob's data, decoded already.
std::unique_ptr<ArchiveReader> NewBlobArchiveReader(std::string file_name, Bytes data);

// Checks a snapshot file's bytes against the manifest's entry for it: size,
// checksum, and the whole file's digest where the manifest records one.
// `where` names the file in errors.
Status CheckSnapshotFile(const Manifest& manifest, const std::string& file_name, ByteView raw,
                         const std::string& where);

// Restores `reader`'s archive into `target`: a tar stream extracted with
// `writers` threads, an image or blob written to a file.
Result<RestoreSummary> RestoreArchive(ArchiveReader& reader, const std::string& target,
                                      const RestoreOptions& options, TarObserver* observer,
                                      size_t writers);

// The files of a pxar archive (docs/pxar.md): `meta` the unified
// NAME.pxar.didx, or the pair's NAME.mpxar.didx with `payload`
// NAME.ppxar.didx. `archive` is "NAME.pxar" (the unified file if the
// manifest lists it, else the pair, as PBS resolves it) or a file of
// either kind, with or without ".didx". nullopt: not a pxar archive of
// `manifest`.
struct PxarFiles {
  std::string meta;
  std::string payload;  // empty: unified
};
std::optional<PxarFiles> PxarFilesOf(const Manifest& manifest, const std::string& archive);

// What a TreeArchive over a pxar archive is made of: its files' chunks
// (checked against the manifest already), their keys, the door to read
// chunks through, what keeps it and the snapshot lock alive, and how to
// open a file for a sequential read.
struct TreeArchiveParts {
  PxarFiles files;
  std::string snapshot;  // for messages
  std::vector<ChunkRef> meta_chunks, payload_chunks;
  std::shared_ptr<const CryptKey> meta_key, payload_key;
  ChunkAccess* access = nullptr;
  std::shared_ptr<const void> keep;
  std::function<Result<std::unique_ptr<ArchiveReader>>(const std::string& file)> open;
};
Result<std::unique_ptr<TreeArchive>> NewTreeArchive(TreeArchiveParts parts);

// The files, chunks and keys of pxar archive `archive` of `manifest`
// (`snap`'s), each index read by `read_checked` (its raw bytes, checked
// against the manifest); access, keep and open are the caller's to set.
Result<TreeArchiveParts> TreeArchivePartsOf(
    const Manifest& manifest, const SnapshotRef& snap, const std::string& archive,
    const std::shared_ptr<const CryptKey>& key,
    const std::function<Result<Bytes>(const std::string& file_name)>& read_checked);

// Opens a file of a snapshot for a sequential read.
using OpenFile = std::function<Result<std::unique_ptr<ArchiveReader>>(const std::string& file)>;
// Restores the pxar archive of `files` from its streams, opened by `open`.
Result<RestoreSummary> RestorePxarFiles(const PxarFiles& files, const OpenFile& open,
                                        const std::string& target, const RestoreOptions& options,
                                        TarObserver* observer, size_t writers);

// How a tar or pxar extraction honours `options`, with `writers` threads
// writing files (owners restored when running as root).
ExtractOptions ExtractOptionsOf(const RestoreOptions& options, size_t writers);

// Restores a pxar archive from its streams (`payload` null: unified).
Result<RestoreSummary> RestorePxar(ArchiveReader& meta, ArchiveReader* payload,
                                   const std::string& target, const RestoreOptions& options,
                                   TarObserver* observer, size_t writers);

// Restores every archive of `manifest` into directory `target` (refused if
// not empty without options.overwrite), each by `restore_one(file_name,
// its target, options)`; what is not a tar stream, image or blob is
// skipped with a warning. A pxar pair is restored once, as NAME.
using RestoreOne = std::function<Result<RestoreSummary>(
    const std::string& file_name, const std::string& target, const RestoreOptions& options)>;
Result<std::vector<RestoreSummary>> RestoreArchives(const Manifest& manifest,
                                                    const std::string& target,
                                                    const RestoreOptions& options,
                                                    TarObserver* observer,
                                                    const RestoreOne& restore_one);

}  // namespace chunkvault
