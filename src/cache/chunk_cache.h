// ChunkCache: the local chunk cache in front of S3 (docs/format.md, "The chunk cache").
//
// The cache's storage is the datastore's own chunk directory: a cached
// chunk is a non-empty file .chunks/<4hex>/<64hex>; an empty file there is
// a marker ("in the bucket, not cached here"), which backups trust to skip
// uploads and garbage collection reads atimes from. ChunkCache decides
// what stays (a CachePolicy, S3-FIFO by default), evicts by replacing a
// file with a marker (ChunkStore::EvictToMarker), and counts in real bytes
// against min(max-cache-size, what the filesystem has free), re-read at
// every admission so a filling disk shrinks the cache.
//
// One process owns the cache (a lock in the state directory): it admits,
// evicts and journals (cache/journal.h). Other processes at the same time
// read through it: they serve what is cached and write markers, but admit
// nothing, so no file ever appears that the owner does not know.
//
// Admission never fails a backup or a restore: a full disk evicts and
// retries once, then the chunk is simply not cached.
//
// Thread-safety: all methods may be called from many threads.
// Lock order: a .chunks/<4hex> directory lock (ChunkStore::LockDir, held
// by callers) before mu_ before flights_mu_, never the other way (an
// eviction under mu_ only tries its victim's directory lock, never
// waits); no file is read or written under flights_mu_.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "cache/journal.h"
#include "cache/policy.h"
#include "chunkvault/cache_types.h"
#include "chunkvault/env.h"
#include "store/chunk_store.h"
#include "util/thread_annotations.h"

namespace chunkvault {

struct ChunkCacheOptions {
  Env* env = Env::Default();             // files of the state directory
  std::string policy = "s3fifo";
  uint64_t max_bytes = 0;                // 0: bounded by free space only
  uint64_t reserve_bytes = 512u << 20;   // free space always left to others
  // Free bytes of the cache's filesystem; default: Env::FreeSpace.
  std::function<Result<uint64_t>()> free_space;
  // Tests: called when a reader joins a fetch already in flight.
  std::function<void()> on_join;
  // Tests: the boot id to compare with the one an unclean stop left.
  std::string boot_id;
};

class ChunkCache {
 public:
  static Result<std::unique_ptr<ChunkCache>> Open(ChunkStore* store, const std::string& state_dir,
                                                  const ChunkCacheOptions& options);
  ~ChunkCache();  // Close(), ignoring errors
  Status Close();  // checkpoint; the cache is unusable afterwards

  // A local file or marker exists: the chunk is in the bucket.
  Result<bool> Known(const Digest& digest);
  // The upload path: if the chunk is known, touch its file or marker (the
  // garbage collector's mark), count an upload saved and return true.
  // The caller holds the chunk's directory lock, shared (ChunkStore::
  // LockDir), from before the call until after it: evictions take it
  // exclusively, so no eviction's marker drops this touch (EvictOne).
  Result<bool> TouchIfKnown(const Digest& digest);
  // The cached blob, or nullopt (a miss). `promote`: the policy counts
  // the hit (false for read-through scans). Stale entries are dropped.
  Result<std::optional<Bytes>> Lookup(const Digest& digest, bool promote);
  // Caches a blob, evicting what it must. false: not admitted (a guest,
  // larger than the cache, the disk full): nothing changed but, if no file
  // existed, a marker.
  Result<bool> Admit(const Digest& digest, ByteView blob);
  // Writes a marker unless a file exists.
  Status Mark(const Digest& digest);
  // Forgets a chunk whose file is gone or bad (GC, verify).
  Status Erase(const Digest& digest);

  // Runs `fetch` once for concurrent callers asking for the same digest;
  // the others wait and get the same result.
  Result<Bytes> FetchOnce(const Digest& digest, const std::function<Result<Bytes>()>& fetch);

  CacheCounters counters() const;
  CacheState state() CV_EXCLUDES(mu_);

 private:
  ChunkCache(ChunkStore* store, std::string dir, ChunkCacheOptions options);
  Status Recover() CV_REQUIRES(mu_);
  Status Reconcile() CV_REQUIRES(mu_);
  uint64_t Limit() CV_REQUIRES(mu_);
  // Evicts until `size` more bytes fit under the limit; false if they never will.
  bool MakeRoom(uint64_t size) CV_REQUIRES(mu_);
  Status EvictOne(const Digest& victim) CV_REQUIRES(mu_);
  Status Journal(JournalRecord::Type type, const Digest& digest, uint64_t size) CV_REQUIRES(mu_);

  ChunkStore* const store_;
  const std::string dir_;
  const ChunkCacheOptions options_;
  std::unique_ptr<FileLock> owner_lock_;  // null: a guest

  mutable std::mutex mu_;
  std::unique_ptr<CachePolicy> policy_ CV_GUARDED_BY(mu_);
  std::unique_ptr<CacheJournal> journal_ CV_GUARDED_BY(mu_);
  bool rescanned_ CV_GUARDED_BY(mu_) = false;
  // Admissions whose files are being written (Admit), and the bytes of
  // those the policy evicted meanwhile: still on disk until their writer
  // replaces them by a marker, so still counted against the limit.
  std::unordered_map<Digest, int, DigestHash> writing_ CV_GUARDED_BY(mu_);
  std::unordered_map<Digest, uint64_t, DigestHash> limbo_ CV_GUARDED_BY(mu_);
  uint64_t limbo_bytes_ CV_GUARDED_BY(mu_) = 0;
  bool closed_ CV_GUARDED_BY(mu_) = false;

  std::mutex flights_mu_;
  std::unordered_map<Digest, std::shared_future<Result<Bytes>>, DigestHash> flights_
      CV_GUARDED_BY(flights_mu_);

  struct AtomicCounters {
    std::atomic<uint64_t> hits{0}, misses{0}, bytes_hit{0}, admissions{0}, bytes_admitted{0},
        evictions{0}, bytes_evicted{0}, rejected{0}, markers{0}, joined{0}, uploads_skipped{0};
  } counters_;
};

// The kernel's boot id (changes at every boot), for telling a crashed
// process from a crashed machine.
std::string CurrentBootId();

}  // namespace chunkvault
