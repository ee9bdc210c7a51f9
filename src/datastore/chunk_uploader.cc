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
// files), and at least one per worker. No more: each queued chunk is up to
// 16 MiB of memory, and on S3 the requests set the pace
// (docs/benchmarks.md, "compare-restic": memory).
size_t QueueFor(size_t jobs) {
  const size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max(jobs, 2 * cores);
}

// The workers run nicer than the producer, the one serial stage (walk,
// tar stream, cut): runnable behind a worker, it preempts it rather than
// wait for the scheduler's next balancing tick (docs/benchmarks.md, the
// niceness entry).
constexpr int kWorkerNice = 5;

}  // namespace

ChunkUploader::ChunkUploader(ChunkAccess* access, size_t jobs, bool compress, const CryptKey* key)
    : access_(access), compress_(compress), key_(key), pool_(jobs, QueueFor(jobs), kWorkerNice) {}

ChunkUploader::~ChunkUploader() { pool_.WaitIdle(); }

namespace {

void Count(BackupProgress& p, uint64_t chunks, uint64_t bytes) {
  p.chunks.fetch_add(chunks, std::memory_order_relaxed);
  p.bytes.fetch_add(bytes, std::memory_order_relaxed);
}

void CountNew(BackupProgress& p, uint64_t bytes, uint64_t stored) {
  p.new_chunks.fetch_add(1, std::memory_order_relaxed);
  p.new_bytes.fetch_add(bytes, std::memory_order_relaxed);
  p.stored_bytes.fetch_add(stored, std::memory_order_relaxed);
}

}  // namespace

Status ChunkUploader::Add(ByteBuffer chunk, BackupProgress* also) {
  if (failed_.load(std::memory_order_relaxed)) CV_RETURN_IF_ERROR(FirstError());
  Count(stats_, 1, chunk.size());
  if (also != nullptr) Count(*also, 1, chunk.size());
  Digest* slot = &digests_.emplace_back();
  // std::function needs a copyable callable: the buffer rides in a
  // shared_ptr.
  auto owned = std::make_shared<ByteBuffer>(std::move(chunk));
  pool_.Submit([this, slot, owned, also] { Store(slot, owned->view(), also); });
  return {};
}

Status ChunkUploader::AddKnown(const Digest& digest, uint64_t size, BackupProgress* also) {
  if (failed_.load(std::memory_order_relaxed)) CV_RETURN_IF_ERROR(FirstError());
  Count(stats_, 1, size);
  if (also != nullptr) Count(*also, 1, size);
  digests_.push_back(digest);
  std::lock_guard lock(mu_);
  seen_.insert(digest);
  return {};
}

void ChunkUploader::Store(Digest* slot, ByteView chunk, BackupProgress* also) {
  const Digest digest = ChunkDigestOf(chunk, key_);
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
  const ByteView blob = encoder.Encode(chunk, compress_, key_);
  auto inserted = access_->Insert(digest, blob);
  if (!inserted) return SetError(std::move(inserted).error());
  if (inserted->existed) return;  // another writer stored it meanwhile
  CountNew(stats_, chunk.size(), blob.size());
  if (also != nullptr) CountNew(*also, chunk.size(), blob.size());
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
