// ChunkUploader: the write path of a backup.
//
// The producer (one thread: the chunker's) calls Add() with each chunk in
// stream order. Add() hashes the chunk on the calling thread, since the
// index needs digests in order, and returns the digest at once. Chunks not
// seen before in this session go to a worker pool that asks the store
// whether it has them (touching them if so) and otherwise compresses and
// inserts them. The queue is bounded, so at most about 2 x jobs chunks are
// held in memory.
//
// Errors from workers are kept (the first one) and returned by the next
// Add() or by Flush(); after an error nothing more is stored.
//
// Thread-safety: Add() and Flush() from one thread; stats() from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <unordered_set>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "datastore/chunk_access.h"
#include "util/thread_annotations.h"
#include "util/thread_pool.h"

namespace chunkvault {

// Counters of a backup, readable while it runs (for progress lines).
struct UploadStats {
  std::atomic<uint64_t> chunks{0};         // chunks referenced
  std::atomic<uint64_t> bytes{0};          // their data bytes
  std::atomic<uint64_t> new_chunks{0};     // chunks that were stored
  std::atomic<uint64_t> new_bytes{0};      // their data bytes
  std::atomic<uint64_t> stored_bytes{0};   // their encoded (compressed) bytes
};

class ChunkUploader {
 public:
  ChunkUploader(ChunkAccess* access, size_t jobs, bool compress);
  ~ChunkUploader();  // waits for queued work

  // Takes a chunk, returns its digest. Fails if an earlier chunk failed.
  Result<Digest> Add(Bytes chunk);

  // Waits until every chunk added so far is stored; returns the first error.
  Status Flush();

  const UploadStats& stats() const { return stats_; }

 private:
  void Store(const Digest& digest, const Bytes& chunk);
  Status FirstError() CV_EXCLUDES(mu_);

  ChunkAccess* const access_;
  const bool compress_;
  UploadStats stats_;
  // Digests handled in this session: a chunk repeated within one backup
  // (zeros, duplicated files) is checked and stored once. Producer only.
  std::unordered_set<Digest, DigestHash> seen_;
  std::mutex mu_;
  Status error_ CV_GUARDED_BY(mu_);
  std::atomic<bool> failed_{false};
  ThreadPool pool_;  // last: destroyed (joined) first
};

}  // namespace chunkvault
