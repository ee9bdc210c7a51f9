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

// PBS's change detection modes (docs/pxar.md).
enum class ChangeDetection {
  // The split pair NAME.mpxar.didx (metadata) and NAME.ppxar.didx (file
  // data), as PBS writes since 3.2.5; files whose metadata and size are
  // those of the group's last backup are not read: their data is reused
  // from its payload chunks. Without such a backup (or one whose archive
  // cannot be read: a warning says why), as kData.
  kMetadata,
  // The split pair, every file read.
  kData,
  // One unified NAME.pxar.didx (and PBS's catalog), every file read.
  kLegacy,
};

// How a directory is stored as pxar (BackupSession::AddPxar).
struct PxarOptions {
  ChangeDetection mode = ChangeDetection::kMetadata;
  // Enter every file system mounted below the directory (virtual ones,
  // /proc and the like, never); by default only the directory's own.
  bool all_file_systems = false;
  // Mount points whose file systems are entered besides the directory's.
  std::vector<std::string> include_devices;
  // Patterns of paths left out, besides those of .pxarexclude files in the
  // tree (docs/pxar.md, "Excludes"); stored with the archive, as PBS does.
  std::vector<std::string> excludes;
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

// Two files' summaries as one (a pxar pair), named `file_name`.
inline ArchiveSummary CombinedSummary(std::string file_name, const ArchiveSummary& a,
                                      const ArchiveSummary& b) {
  ArchiveSummary s;
  s.file_name = std::move(file_name);
  s.size = a.size + b.size;
  s.chunks = a.chunks + b.chunks;
  s.new_chunks = a.new_chunks + b.new_chunks;
  s.new_bytes = a.new_bytes + b.new_bytes;
  s.stored_bytes = a.stored_bytes + b.stored_bytes;
  return s;
}

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
  // A directory tree as pxar (archive ends with ".pxar"; docs/pxar.md):
  // "<stem>.mpxar.didx" and "<stem>.ppxar.didx", the file data cut at
  // file starts, or with options.legacy "<archive>.didx". The summary
  // covers both files of a pair; Finish() lists each.
  virtual Result<ArchiveSummary> AddPxar(const std::string& archive, const std::string& dir,
                                         uint64_t chunk_size, const PxarOptions& options,
                                         TarObserver* observer, TarStats* stats) = 0;
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
