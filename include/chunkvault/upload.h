// An upload: a backup whose chunks, indexes and blobs another program cut
// and encoded — a PBS client speaking to chunkvaultd. The session checks
// everything it is given (it comes from the network) and stores it as a
// backup does (chunkvault/backup.h): chunks through the chunk cache into
// the store or bucket, indexes and blobs complete under their final names,
// the manifest last. Datastore::StartUpload makes one.
//
// Locks, as PBS's backup protocol takes them: the group exclusively (one
// upload of a group at a time; kBusy otherwise), the new snapshot
// exclusively, the previous snapshot shared, all until the session ends.
// A session dropped before Finish removes its snapshot.
//
// Thread-safety: UploadChunk may be called from many threads at once; the
// other methods from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "chunkvault/backup_ref.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct UploadOptions {
  BackupNamespace ns;
  BackupType type = BackupType::kHost;
  std::string id;
  int64_t time = 0;   // the snapshot's time (epoch seconds, > 0)
  std::string owner;  // the auth-id a new group is given
  // Whether the session may add to a group of this owner (default: only
  // `owner` itself). kPermissionDenied otherwise.
  std::function<bool(const std::string& owner)> may_use_group;
  // S3 stores: false keeps the session's new chunks out of the local cache
  // (PBS's no-cache: uploaded, and only marked locally, as backup
  // --no-cache does). No effect on a local store.
  bool cache = true;
};

struct ChunkUploadResult {
  bool stored = false;         // false: the store had the chunk already
  uint64_t encoded_bytes = 0;  // the blob's size
};

class UploadSession {
 public:
  virtual ~UploadSession() = default;  // unfinished: the snapshot is removed

  virtual const SnapshotRef& snapshot() const = 0;
  // The group's newest complete snapshot whose verification did not fail
  // (PBS's "last backup"), found when the session started.
  virtual const std::optional<SnapshotRef>& previous() const = 0;

  // A file of previous() as stored (kNotFound without a previous snapshot
  // or such a file).
  virtual Result<Bytes> ReadPreviousFile(const std::string& file_name) = 0;

  // A chunk blob as the client encoded it: an unencrypted DataBlob whose
  // CRC holds and whose data is `size` bytes hashing to `digest`, or an
  // encrypted one whose CRC holds (its digest is keyed and its size sealed:
  // the client's key never reaches a server); kCorrupt or
  // kInvalidArgument naming the digest otherwise.
  virtual Result<ChunkUploadResult> UploadChunk(const Digest& digest, uint64_t size,
                                                ByteView blob) = 0;

  // An index file (".didx" or ".fidx", encoded by the caller) of the new
  // snapshot, written under a temporary name and renamed (then mirrored
  // to the bucket). A name may be written once.
  virtual Status WriteIndex(const std::string& file_name, ByteView raw) = 0;
  // A blob (".blob"; its CRC must hold) of the new snapshot. The manifest,
  // "index.json.blob", is one of them.
  virtual Status WriteBlob(const std::string& file_name, ByteView raw) = 0;

  // Completes the snapshot: the manifest must have been written and be a
  // valid manifest of this snapshot; `unprotected` keys are added to its
  // "unprotected" object (PBS's chunk_upload_stats) and it is rewritten.
  virtual Status Finish(const nlohmann::json& unprotected) = 0;
};

}  // namespace chunkvault
