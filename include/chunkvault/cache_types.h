// Numbers of the local chunk cache, for reports (see src/cache/chunk_cache.h).
#pragma once

#include <cstdint>
#include <string>

namespace chunkvault {

// What one process did with the cache.
struct CacheCounters {
  uint64_t hits = 0, misses = 0, bytes_hit = 0;
  uint64_t admissions = 0, bytes_admitted = 0;
  uint64_t evictions = 0, bytes_evicted = 0;
  uint64_t rejected = 0;         // chunks that could not be admitted (no room, disk full)
  uint64_t markers = 0;          // markers written
  uint64_t joined = 0;           // reads that waited for another's fetch
  uint64_t uploads_skipped = 0;  // chunks a backup did not send: known here
};

// The cache as it stands.
struct CacheState {
  bool owner = false;      // false: another process manages it; we read through
  std::string policy;
  uint64_t bytes = 0, chunks = 0, limit = 0;
  bool rescanned = false;  // the state was rebuilt from .chunks when opened
};

}  // namespace chunkvault
