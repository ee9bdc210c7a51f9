// The snapshot hierarchy of a datastore directory (SPEC section 1):
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
// groups (see datastore/locking.h) before changing them.
#pragma once

#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/env.h"
#include "chunkvault/manifest.h"
#include "store/chunk_store.h"

namespace chunkvault {

struct SnapshotEntry {
  SnapshotRef ref;
  bool complete = false;  // has a manifest
  bool is_protected = false;
};

class SnapshotStore {
 public:
  SnapshotStore(Env* env, std::string base, SyncLevel sync);

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

  Result<std::string> ReadOwner(const BackupGroup& group);
  Status WriteOwner(const BackupGroup& group, const std::string& owner);
  // Group notes; empty if none were written.
  Result<std::string> ReadGroupNotes(const BackupGroup& group);
  Status WriteGroupNotes(const BackupGroup& group, const std::string& notes);

  Result<bool> IsProtected(const SnapshotRef& snap);
  Status SetProtected(const SnapshotRef& snap, bool on);

  Result<Bytes> ReadFile(const SnapshotRef& snap, const std::string& name);
  // Writes a snapshot file atomically. `tmp_name` is the temporary name in
  // the snapshot directory (empty: unique); `crash_label` names its crash
  // points.
  Status WriteFile(const SnapshotRef& snap, const std::string& name, ByteView data,
                   const std::string& tmp_name, const char* crash_label);
  // Names of the files in a snapshot directory.
  Result<std::vector<std::string>> ListFiles(const SnapshotRef& snap);

  Result<Manifest> ReadManifest(const SnapshotRef& snap);
  Status WriteManifest(const SnapshotRef& snap, const Manifest& manifest);

  // Removes the snapshot directory (kProtected if it is protected). The
  // group directory stays, with its owner and notes, as in PBS.
  Status RemoveSnapshot(const SnapshotRef& snap);

  Env* env() const { return env_; }

 private:
  Env* const env_;
  const std::string base_;
  const SyncLevel sync_;
};

}  // namespace chunkvault
