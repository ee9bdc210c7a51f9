// The previous snapshot's split pxar archive, as a backup in metadata
// change detection mode reads it (archive/pxar/reuse.h): its metadata
// stream at random through the chunk door, its payload index in memory,
// the snapshot locked (shared) so that it cannot be pruned meanwhile,
// and its chunks, when reused, touched so that garbage collection keeps
// them (the backup's writer registration covers what it touches).
//
// Thread-safety: one thread.
#pragma once

#include <memory>
#include <string>

#include "archive/pxar/reuse.h"
#include "chunkvault/backup_ref.h"
#include "chunkvault/crypt.h"
#include "datastore/index_input.h"

namespace chunkvault {

class DatastoreImpl;

class PreviousSplit {
 public:
  // Archive "<stem>.pxar" of `snap`, whose files must be a split pair
  // stored with `mode` (and, encrypted, under `key`): kNotFound if it has
  // no such pair, kInvalidArgument if its crypt mode or key differ, other
  // errors if its indexes cannot be read.
  static Result<std::unique_ptr<PreviousSplit>> Open(DatastoreImpl& ds, const SnapshotRef& snap,
                                                     const std::string& stem, CryptMode mode,
                                                     std::shared_ptr<const CryptKey> key);

  const pxar::PreviousArchive& archive() const { return archive_; }
  const SnapshotRef& snapshot() const { return snap_; }

 private:
  PreviousSplit() = default;

  SnapshotRef snap_;
  std::unique_ptr<FileLock> lock_;
  std::shared_ptr<const CryptKey> key_;
  std::unique_ptr<IndexInput> meta_;
  pxar::PreviousArchive archive_;
};

}  // namespace chunkvault
