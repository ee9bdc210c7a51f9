// ChunkUploader: the write path of a backup.
//
// The producer (one thread: the chunker's) calls Add() with each chunk in
// stream order and gets a slot number back at once. A worker pool hashes
// the chunk into its slot, skips digests already handled in this session,
// asks the store whether it has the chunk (touching it if so) and otherwise
// compresses and inserts it. After Flush(), TakeDigests() hands back the
// digests in the order the chunks were added, which is what an index needs.
// Hashing on the workers leaves the producer only the walk and the cut;
// the workers run nicer than the producer, so that it gets a core first.
//
// The queue is bounded: at most jobs + max(jobs, 2 x cores) chunks are in
// memory, plus the producer's.
// Errors from workers are kept (the first one) and returned by the next
// Add() or by Flush(); after an error nothing more is stored.
//
// Thread-safety: Add(), Flush() and TakeDigests() from one thread; stats()
// from any.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "chunkvault/backup.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "datastore/chunk_access.h"
#include "util/byte_buffer.h"
#include "util/thread_annotations.h"
#include "util/thread_pool.h"

namespace chunkvault {

class ChunkUploader {
 public:
  // With `key` (which must outlive the uploader), chunks are named by
  // their keyed digest and stored encrypted.
  ChunkUploader(ChunkAccess* access, size_t jobs, bool compress, const CryptKey* key = nullptr);
  ~ChunkUploader();  // waits for queued work

  // Queues a chunk. Fails if an earlier chunk failed. What it adds to
  // stats() is added to `also` too, if given (one archive's share when
  // two are cut at once), which must outlive the next Flush().
  Status Add(ByteBuffer chunk, BackupProgress* also = nullptr);

  // Queues a chunk the store has already (reused whole by digest, its
  // use marked by the caller): nothing is read, hashed or stored.
  Status AddKnown(const Digest& digest, uint64_t size, BackupProgress* also = nullptr);

  // Waits until every chunk added so far is stored; returns the first error.
  Status Flush();

  // After a successful Flush(): the digests of the chunks added since the
  // last call, in order.
  std::vector<Digest> TakeDigests();

  // What it stored so far (the backup's progress), readable from any
  // thread.
  const BackupProgress& stats() const { return stats_; }

  // How many added chunks can be held at once (queued or being stored).
  size_t max_in_flight() const { return pool_.size() + pool_.max_queued(); }

 private:
  void Store(Digest* slot, ByteView chunk, BackupProgress* also);
  void SetError(Error e) CV_EXCLUDES(mu_);
  Status FirstError() CV_EXCLUDES(mu_);

  ChunkAccess* const access_;
  const bool compress_;
  const CryptKey* const key_;
  BackupProgress stats_;
  // One slot per added chunk, written by the worker that hashes it. A deque
  // never moves its elements on push_back, so workers may write their slot
  // while the producer appends more. Producer-owned otherwise.
  std::deque<Digest> digests_;
  std::mutex mu_;
  // Digests handled in this session: a chunk repeated within one backup
  // (zeros, duplicated files) is checked and stored once.
  std::unordered_set<Digest, DigestHash> seen_ CV_GUARDED_BY(mu_);
  Status error_ CV_GUARDED_BY(mu_);
  std::atomic<bool> failed_{false};
  ThreadPool pool_;  // last: destroyed (joined) first
};

}  // namespace chunkvault
