// What listings say about a snapshot, and what a set of snapshots takes up.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/manifest.h"

namespace chunkvault {

struct SnapshotInfo {
  SnapshotRef ref;
  std::vector<ManifestFile> files;
  uint64_t size = 0;  // sum of the files' sizes
  bool is_protected = false;
  std::string owner;
  std::string notes;
  std::string verify_state;  // "ok", "failed" or "" (never verified)
  // Why the snapshot cannot be restored as its manifest says, found without
  // reading a chunk (Datastore::DamageOf); empty when it is sound.
  std::string damage;
};

struct StoreUsage {
  uint64_t logical_bytes = 0;  // sum of snapshot sizes
  uint64_t unique_chunks = 0;  // distinct chunks they reference
  uint64_t unique_bytes = 0;   // data bytes of those chunks
  uint64_t stored_bytes = 0;   // encoded (compressed) bytes of them on disk
  uint64_t missing_chunks = 0;
};

}  // namespace chunkvault
