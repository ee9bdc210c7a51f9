// The stages of garbage collection (Datastore::GarbageCollect runs them
// in this order, under .gc-lock; docs/architecture.md, "How a request
// flows"):
//
//   list   on S3, the bucket's chunk objects, once (GcListing)
//   mark   every index file of every snapshot (complete or not) read, each
//          referenced chunk's file or marker touched; on S3 a chunk with
//          neither gets a marker if the listing has its object, and is
//          reported missing otherwise (a marker tells backups the chunk is
//          stored: one for a chunk verify moved aside would keep the next
//          backup from storing it again) (GcMark)
//   plan   every chunk (file or marker, listed object) not referenced and
//          older than the cutoff, the copies verify moved aside
//          (<digest>.<n>.bad) likewise, and the temporary files killed
//          writers left (GcPlanSweep); the dry run reports this plan
//   sweep  per batch of .chunks/<4hex> directories, locked exclusively in
//          ascending order: each planned chunk's atime read again (a backup
//          may have touched it since), the local file and cache entry
//          removed, then the bucket's objects (GcSweep)
//
// Local before bucket: a crash in between leaves an object without a local
// file, which the next run removes; never a local copy of a chunk the
// bucket lost, which a backup would trust.
//
// Each stage fills the fields of the GcReport it owns (named at each).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <unordered_set>
#include <vector>

#include "chunkvault/backend.h"
#include "chunkvault/env.h"
#include "chunkvault/gc.h"
#include "store/chunk_store.h"
#include "store/snapshot_store.h"

namespace chunkvault {

class ChunkCache;

// The bucket's chunk objects and .bad copies under "<prefix>.chunks/",
// sorted by (digest, suffix); strays (keys that are no chunk name) left
// out. Empty for a local store.
struct GcListing {
  struct Object {
    ChunkFileName name;
    uint64_t size = 0;
  };
  std::vector<Object> objects;

  static Result<GcListing> Of(Backend* backend, const std::string& key_prefix);
  // Whether the chunk's own object (not a .bad copy) was listed.
  bool Has(const Digest& digest) const;
};

struct GcMarkInput {
  SnapshotStore* snapshots = nullptr;
  // Every snapshot of the store, complete or not.
  const std::vector<SnapshotEntry>* entries = nullptr;
  ChunkStore* chunks = nullptr;
  // The bucket's objects, or null for a local store.
  const GcListing* listing = nullptr;
  // Find what the real run would, touching and writing nothing.
  bool dry_run = false;
  // Why a complete snapshot is damaged (Datastore::DamageOf), "" if not.
  std::function<std::string(const SnapshotRef&)> damage_of;
  GcObserver* observer = nullptr;  // may be null
};

// Fills report.index_files, referenced, markers_written, missing, damaged;
// returns the referenced chunks. An index that cannot be read or parsed
// stops the GC before anything is removed (it could reference anything).
Result<std::unordered_set<Digest, DigestHash>> GcMark(const GcMarkInput& in, GcReport& report);

// A chunk, or a copy of one verify moved aside, that the plan removes.
struct GcCandidate {
  Digest digest{};
  std::string bad;      // ".<n>.bad" for a moved-aside copy; "" for the chunk
  uint64_t bytes = 0;   // local file or object, whichever is larger
  bool object = false;  // in the bucket
};

struct GcPlan {
  int64_t cutoff_ns = 0;
  std::vector<GcCandidate> candidates;   // by (digest, bad): directories ascending
  std::vector<std::string> temporaries;  // stale temporary files (paths)
  uint64_t checked = 0;                  // chunk files and objects looked at
};

struct GcPlanInput {
  Env* env = nullptr;
  ChunkStore* chunks = nullptr;
  const GcListing* listing = nullptr;  // null: a local store
  const std::unordered_set<Digest, DigestHash>* referenced = nullptr;
  int64_t cutoff_ns = 0;  // older than this and unreferenced goes
  // Directories whose temporary files are looked at besides .chunks/'s
  // (the store's own, .cache, every group's and snapshot's).
  std::vector<std::string> metadata_dirs;
};

// Fills report.kept(_bytes), pending(_bytes), still_bad; the plan's
// candidates are what the sweep removes (the dry run reports them as
// removed).
Result<GcPlan> GcPlanSweep(const GcPlanInput& in, GcReport& report);

// Counts the plan as carried out: report.removed(_bytes), removed_objects,
// removed_bad, removed_temporary. The dry run's report.
void GcCountPlanned(const GcPlan& plan, GcReport& report);

struct GcSweepInput {
  Env* env = nullptr;
  ChunkStore* chunks = nullptr;
  ChunkCache* cache = nullptr;  // S3 stores: entries erased with the files
  Backend* backend = nullptr;   // null: a local store
  std::string key_prefix;       // "<name>/"
  size_t dirs_per_batch = 256;  // .chunks/<4hex> directories locked at once
  GcObserver* observer = nullptr;
};

// Carries the plan out (see the top of this file). Fills report.removed
// (_bytes), removed_objects, removed_bad, removed_temporary, and counts a
// candidate a backup touched since the plan in pending / still_bad.
Status GcSweep(const GcPlan& plan, const GcSweepInput& in, GcReport& report);

}  // namespace chunkvault
