#include "datastore/chunk_uploader.h"

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"

#include <algorithm>
#include <memory>
#include <thread>

namespace chunkvault {

namespace {

// Chunks queued beyond those being worked on: two per core keep every
// core's worker fed through the tar writer's slow stretches (runs of tiny
// files), and at least one per worker. Not two per worker: on S3 the
// workers are the requests in flight (8 by default), the requests set the
// pace, and each queued chunk is up to 16 MiB of memory (a first backup of
// the 2.17 GiB benchmark dataset to the local RGW, page cache dropped,
// peaked at 280 MiB with 16 queued and 222 MiB with 8, in the same time:
// medians of three interleaved pairs, 11.7 and 11.6 s).
size_t QueueFor(size_t jobs) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(jobs, 2 * cores);
}

// The workers run nicer than the producer. The producer (the walk, the
// tar stream, the cut) is the one serial stage: when it was runnable
// behind a worker on one core while the other core had gone idle (its
// worker out of chunks), it waited for the next load balancing, up to a
// 4 ms tick; the kernel skips balancing at a core's idle entry when its
// idle periods are short. With the workers at +5 the producer preempts
// them instead: a backup of the benchmark dataset on two cores kept them
// 1.96 busy instead of 1.91 (perf stat, three interleaved runs each; +10
// did no better).
constexpr int kWorkerNice = 5;

}  // namespace

ChunkUploader::ChunkUploader(ChunkAccess* access, size_t jobs, bool compress)
    : access_(access), compress_(compress), pool_(jobs, QueueFor(jobs), kWorkerNice) {}

ChunkUploader::~ChunkUploader() { pool_.WaitIdle(); }

Status ChunkUploader::Add(ByteBuffer chunk) {
  if (failed_.load(std::memory_order_relaxed)) CV_RETURN_IF_ERROR(FirstError());
  stats_.chunks.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes.fetch_add(chunk.size(), std::memory_order_relaxed);
  Digest* slot = &digests_.emplace_back();
  // std::function needs a copyable callable: the buffer rides in a
  // shared_ptr.
  auto owned = std::make_shared<ByteBuffer>(std::move(chunk));
  pool_.Submit([this, slot, owned] { Store(slot, owned->view()); });
  return {};
}

void ChunkUploader::Store(Digest* slot, ByteView chunk) {
  const Digest digest = Sha256Of(chunk);
  *slot = digest;
  if (failed_.load(std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(mu_);
    if (!seen_.insert(digest).second) return;
  }
  auto present = access_->TouchIfPresent(digest);
  if (!present) return SetError(std::move(present).error().Context("chunk " + ToHex(digest)));
  if (*present) return;
  thread_local BlobEncoder encoder;
  const ByteView blob = encoder.Encode(chunk, compress_);
  auto inserted = access_->Insert(digest, blob);
  if (!inserted) return SetError(std::move(inserted).error());
  if (inserted->existed) return;  // another writer stored it meanwhile
  stats_.new_chunks.fetch_add(1, std::memory_order_relaxed);
  stats_.new_bytes.fetch_add(chunk.size(), std::memory_order_relaxed);
  stats_.stored_bytes.fetch_add(blob.size(), std::memory_order_relaxed);
}

void ChunkUploader::SetError(Error e) {
  std::lock_guard lock(mu_);
  if (error_) error_ = std::unexpected(std::move(e));
  failed_.store(true);
}

Status ChunkUploader::FirstError() {
  std::lock_guard lock(mu_);
  return error_;
}

Status ChunkUploader::Flush() {
  pool_.WaitIdle();
  return FirstError();
}

std::vector<Digest> ChunkUploader::TakeDigests() {
  std::vector<Digest> out(digests_.begin(), digests_.end());
  digests_.clear();
  return out;
}

}  // namespace chunkvault
