// Garbage collection, as PBS's: mark every chunk an index references,
// plan what is unused and older than the cutoff, sweep it from the local
// store, the cache and the bucket (docs/architecture.md, "Garbage
// collection"). The dry run is the plan, reported.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "chunkvault/backend.h"

namespace chunkvault {

struct GcOptions {
  bool dry_run = false;  // plan only: report what would go, change nothing
  // Chunks not used for this long are removed (PBS: 24 h 5 min). The
  // cutoff moves back to the start of the oldest backup still running.
  int64_t atime_cutoff_minutes = 24 * 60 + 5;
  // .chunks/<4hex> directories swept (and locked) at once.
  size_t dirs_per_batch = 256;
};

struct GcReport {
  bool dry_run = false;
  int64_t cutoff = 0;                       // unix seconds: older and unused goes
  uint64_t index_files = 0;                 // index files read
  uint64_t referenced = 0;                  // distinct chunks they reference
  uint64_t markers_written = 0;             // S3: referenced chunks given a marker
  uint64_t removed = 0, removed_bytes = 0;  // chunks removed (would be, dry run)
  uint64_t removed_objects = 0;             // of them in the bucket
  uint64_t pending = 0, pending_bytes = 0;  // unused but newer than the cutoff
  uint64_t kept = 0, kept_bytes = 0;        // in use
  // Copies verify moved aside (<digest>.<n>.bad, locally and in the
  // bucket): removed once older than the cutoff (counted in removed_bytes
  // and removed_objects too), and the newer ones kept.
  uint64_t removed_bad = 0, still_bad = 0;
  // Temporary files writers killed midway left (chunks, indexes,
  // manifests, other metadata, the cache's state), once older than the
  // cutoff: removed (would be, dry run).
  uint64_t removed_temporary = 0;
  std::vector<std::string> missing;  // referenced chunks found nowhere
  std::vector<std::string> damaged;  // "<snapshot>: <why>" (SnapshotInfo::damage)
  BackendCounts requests;            // S3 requests the GC made
};

// Called on the thread that runs the GC.
class GcObserver {
 public:
  virtual ~GcObserver() = default;
  virtual void OnMark(uint64_t index_files, uint64_t chunks) { (void)index_files, (void)chunks; }
  // After each batch of directories swept (no lock held).
  virtual void OnSweep(uint64_t checked, uint64_t removed) { (void)checked, (void)removed; }
};

}  // namespace chunkvault
