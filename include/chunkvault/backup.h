// A backup: a session that adds archives to a new snapshot and writes its
// manifest last (docs/format.md, "Snapshots").
//
// Crash consistency: chunks and index files appear under their final names
// only complete; the manifest is written after everything it lists is
// durable. A snapshot without a manifest is incomplete (a backup runs or
// was killed): listings and verify skip it, forget and prune remove it.
//
// Thread-safety: a BackupSession is used by one thread at a time.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/bytes.h"
#include "chunkvault/chunk_size.h"
#include "chunkvault/crypt.h"
#include "chunkvault/status.h"
#include "chunkvault/tar_observer.h"

namespace chunkvault {

struct BackupOptions {
  BackupNamespace ns;
  BackupType type = BackupType::kHost;
  std::string id;
  // Default: now. A second another backup of the group took is waited
  // out: a snapshot's time is never in the future.
  std::optional<int64_t> time;
  std::string owner;  // default: "<user>@pam" of the caller (CurrentAuthId)
  bool compress = true;
  // Client-side encryption (chunkvault/crypt.h), as PBS's client does it:
  // kEncrypt encrypts every chunk and blob with `key` (chunks named by
  // their keyed digest) and signs the manifest; kSignOnly stores them
  // plain and signs the manifest. A mode other than kNone needs the key;
  // a key needs such a mode.
  std::shared_ptr<const CryptKey> key;
  CryptMode crypt_mode = CryptMode::kNone;
  // The key wrapped for a master key (WrapKeyForMaster in
  // chunkvault/key_file.h), stored as rsa-encrypted.key.blob.
  Bytes master_key_blob;
};

// Checks that `options` name a consistent crypt mode and key.
Status CheckCryptOptions(CryptMode mode, const CryptKey* key);

// One file of a finished backup.
struct ArchiveSummary {
  std::string file_name;  // root.tar.didx, disk.img.fidx, notes.blob
  uint64_t size = 0;      // data bytes (blob: encoded bytes)
  uint64_t chunks = 0;
  uint64_t new_chunks = 0;    // chunks this backup stored
  uint64_t new_bytes = 0;     // their data bytes
  uint64_t stored_bytes = 0;  // their encoded bytes
};

struct BackupSummary {
  SnapshotRef snapshot;
  std::vector<ArchiveSummary> archives;
  uint64_t bytes = 0, chunks = 0, new_chunks = 0, new_bytes = 0, stored_bytes = 0;
};

// Live counters of a running backup (for progress lines), written by its
// worker threads, readable from any thread.
struct BackupProgress {
  std::atomic<uint64_t> chunks{0};        // chunks cut so far
  std::atomic<uint64_t> bytes{0};         // their data bytes
  std::atomic<uint64_t> new_chunks{0};    // of them, the ones this backup stored
  std::atomic<uint64_t> new_bytes{0};     // their data bytes
  std::atomic<uint64_t> stored_bytes{0};  // their encoded (compressed) bytes
};

// Made by Datastore::StartBackup.
class BackupSession {
 public:
  virtual ~BackupSession() = default;  // not finished: the snapshot is removed

  virtual const SnapshotRef& snapshot() const = 0;

  // A directory tree as a pax tar stream in "<archive>.didx" (archive ends
  // with ".tar"), cut by the buzhash chunker with average `chunk_size`
  // (CheckUserChunkSize). Entries that cannot be read are told to
  // `observer` (may be null) and counted in `stats` (may be null).
  virtual Result<ArchiveSummary> AddTar(const std::string& archive, const std::string& dir,
                                        uint64_t chunk_size, TarObserver* observer,
                                        TarStats* stats) = 0;
  // A regular file or block device in "<archive>.fidx" (archive ends with
  // ".img"), cut every `chunk_size` bytes.
  virtual Result<ArchiveSummary> AddImage(const std::string& archive, const std::string& path,
                                          uint64_t chunk_size) = 0;
  // A small file as "<name>" (ending with ".blob").
  virtual Result<ArchiveSummary> AddBlob(const std::string& name, ByteView data) = 0;

  // Called on the backup's thread after every chunk; read progress() there.
  virtual void SetProgressCallback(std::function<void()> fn) = 0;
  virtual const BackupProgress& progress() const = 0;

  // Waits for all chunks, makes them durable, writes the manifest.
  virtual Result<BackupSummary> Finish() = 0;
};

}  // namespace chunkvault
