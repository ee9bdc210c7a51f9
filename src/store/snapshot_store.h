// The snapshot hierarchy of a datastore directory (docs/format.md, "The datastore directory"):
//
//   [ns/<a>/ns/<b>/]<type>/<id>/owner          "<auth-id>\n"
//                              /notes          group notes
//                              /<time>/index.json.blob, *.didx, *.fidx, *.blob
//                              /<time>/.protected
//
// Pure file layout: no locking and no policy. A snapshot without a manifest
// is incomplete (a backup running, or one that was killed); listings report
// it as such. Every write is atomic (Env::WriteFileAtomic).
//
// Thread-safety: methods may run concurrently; callers lock snapshots and
// groups (docs/architecture.md, "Locks") before changing them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/env.h"
#include "chunkvault/manifest.h"
#include "store/chunk_store.h"

namespace chunkvault {

// Whether manifest `m`, read from `where`, is snapshot `snap`'s: one
// moved or copied from another snapshot would list files that are not
// its own (kCorrupt naming both).
Status CheckManifestIsOf(const Manifest& m, const SnapshotRef& snap, const std::string& where);

// Where metadata goes besides the local directory (the S3 bucket's .cnt/
// prefix). Paths are relative to the datastore. SnapshotStore calls it in
// PBS's order: blobs, manifests, owner, notes and .protected are mirrored
// before the local file is replaced (so a local file never exists that the
// mirror lacks); index files after they are complete locally; removals
// are mirrored first.
class MetadataMirror {
 public:
  virtual ~MetadataMirror() = default;
  virtual Status Put(const std::string& rel_path, ByteView data) = 0;
  virtual Status Delete(const std::string& rel_path) = 0;
  // Removes everything under a directory (rel_dir without the trailing '/').
  virtual Status DeleteTree(const std::string& rel_dir) = 0;
};

// When a file is mirrored relative to its local write.
enum class MirrorOrder { kBeforeLocal, kAfterLocal };

struct SnapshotEntry {
  SnapshotRef ref;
  bool complete = false;  // has a manifest
  bool is_protected = false;
};

class SnapshotStore {
 public:
  // `mirror` may be null (a local datastore); it must outlive the store.
  SnapshotStore(Env* env, std::string base, SyncLevel sync, MetadataMirror* mirror = nullptr);

  std::string Path(const BackupNamespace& ns) const;
  std::string Path(const BackupGroup& group) const;
  std::string Path(const SnapshotRef& snap) const;
  std::string FilePath(const SnapshotRef& snap, const std::string& name) const;

  Status CreateNamespace(const BackupNamespace& ns);
  // Child namespaces of `parent` (and their children, if `recursive`).
  Result<std::vector<BackupNamespace>> ListNamespaces(const BackupNamespace& parent,
                                                      bool recursive);
  // Groups in one namespace, sorted by type then id.
  Result<std::vector<BackupGroup>> ListGroups(const BackupNamespace& ns);
  // Snapshots of a group, oldest first. Directories whose name is not a
  // snapshot time are skipped.
  Result<std::vector<SnapshotEntry>> ListSnapshots(const BackupGroup& group);
  // Every snapshot of every group in `ns` (and in the namespaces below it,
  // if `recursive`), group by group.
  Result<std::vector<SnapshotEntry>> ListSnapshotsIn(const BackupNamespace& ns, bool recursive);

  Result<std::string> ReadOwner(const BackupGroup& group);
  Status WriteOwner(const BackupGroup& group, const std::string& owner);
  // Group notes; empty if none were written.
  Result<std::string> ReadGroupNotes(const BackupGroup& group);
  Status WriteGroupNotes(const BackupGroup& group, const std::string& notes);

  Result<bool> IsProtected(const SnapshotRef& snap);
  Status SetProtected(const SnapshotRef& snap, bool on);

  // At most `max_size` bytes (see Env::ReadFile).
  Result<Bytes> ReadFile(const SnapshotRef& snap, const std::string& name, uint64_t max_size);
  // Writes a snapshot file atomically. `tmp_name` is the temporary name in
  // the snapshot directory (empty: unique); `crash_label` names its crash
  // points; `order` says when the mirror gets it.
  Status WriteFile(const SnapshotRef& snap, const std::string& name, ByteView data,
                   const std::string& tmp_name, const char* crash_label, MirrorOrder order);
  // Names of the files in a snapshot directory.
  Result<std::vector<std::string>> ListFiles(const SnapshotRef& snap);

  Result<Manifest> ReadManifest(const SnapshotRef& snap);
  // PBS's "last backup" of a group: its newest complete snapshot, unless
  // that one's verification failed (then none; a manifest that cannot be
  // read counts as not failed, as in PBS).
  Result<std::optional<SnapshotRef>> LastBackup(const BackupGroup& group);
  Status WriteManifest(const SnapshotRef& snap, const Manifest& manifest);

  // Removes the snapshot directory (kProtected if it is protected). The
  // group directory stays, with its owner and notes, as in PBS.
  Status RemoveSnapshot(const SnapshotRef& snap);
  // Removes an unfinished snapshot a backup gave up on (no protection
  // check), locally even when the mirror cannot be reached.
  Status RemoveUnfinished(const SnapshotRef& snap);

  Env* env() const { return env_; }
  MetadataMirror* mirror() const { return mirror_; }

 private:
  // Writes `rel_path` locally and to the mirror, in `order`.
  Status WriteMirrored(const std::string& rel_path, ByteView data, const WriteOptions& options,
                       MirrorOrder order);
  std::string Rel(const std::string& abs) const;

  Env* const env_;
  const std::string base_;
  const SyncLevel sync_;
  MetadataMirror* const mirror_;
};

}  // namespace chunkvault
