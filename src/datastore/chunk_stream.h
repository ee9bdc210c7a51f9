// ChunkStream: an archive's bytes, chunk by chunk, in order.
//
// Reading, decompressing and checking chunks (CRC, digest) runs on a worker
// pool up to `read_ahead` chunks ahead of the consumer, so restore uses
// every core while the consumer (tar extraction, image writing) works.
// Memory stays bounded by read_ahead x chunk size. A chunk that stands
// again within kRepeatWindow chunks of itself (a payload index reusing a
// chunk on both sides of a changed file) is read and checked once.
//
// Thread-safety: one consumer thread calls Next().
#pragma once

#include <deque>
#include <future>
#include <memory>
#include <vector>

#include "chunkvault/index.h"
#include "datastore/chunk_access.h"
#include "util/thread_pool.h"

namespace chunkvault {

class ChunkStream {
 public:
  // `key`: the archive is encrypted with it (it must outlive the stream).
  ChunkStream(ChunkAccess* access, std::vector<ChunkRef> chunks, size_t jobs,
              const CryptKey* key = nullptr);
  ~ChunkStream();

  // The next chunk's data (valid until the next call), or an empty view at
  // the end. An error names the chunk; the stream is then finished.
  Result<ByteView> Next();
  // The chunk last returned by Next(), kept alive for whoever holds this.
  std::shared_ptr<const void> Keep() const { return current_; }

  static constexpr size_t kRepeatWindow = 4;

  uint64_t total_bytes() const { return total_; }
  uint64_t bytes_delivered() const { return delivered_; }

 private:
  void Refill();

  ChunkAccess* const access_;
  const CryptKey* const key_;
  const std::vector<ChunkRef> chunks_;
  size_t next_to_schedule_ = 0;
  size_t read_ahead_;
  uint64_t total_ = 0;
  uint64_t delivered_ = 0;
  bool failed_ = false;
  using Data = std::shared_ptr<const Bytes>;
  std::deque<std::shared_future<Result<Data>>> pending_;
  // The last chunks scheduled, by digest, for repeats.
  std::deque<std::pair<ChunkRef, std::shared_future<Result<Data>>>> recent_;
  Data current_;
  ThreadPool pool_;
};

}  // namespace chunkvault
