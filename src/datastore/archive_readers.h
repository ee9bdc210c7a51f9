// The parts restore and cat are made of, shared by a local store's calls
// (Datastore::OpenArchive, Restore, RestoreSnapshot) and the same calls
// through any SnapshotReader (chunkvault/restore.h).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/index.h"
#include "chunkvault/manifest.h"
#include "chunkvault/restore.h"
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

// Restores every archive of `manifest` into directory `target` (refused if
// not empty without options.overwrite), each by `restore_one(file_name,
// its target, options)`; what is not a tar stream, image or blob is
// skipped with a warning.
using RestoreOne = std::function<Result<RestoreSummary>(
    const std::string& file_name, const std::string& target, const RestoreOptions& options)>;
Result<std::vector<RestoreSummary>> RestoreArchives(const Manifest& manifest,
                                                    const std::string& target,
                                                    const RestoreOptions& options,
                                                    TarObserver* observer,
                                                    const RestoreOne& restore_one);

}  // namespace chunkvault
