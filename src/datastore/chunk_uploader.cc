#include "datastore/chunk_uploader.h"

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"

namespace chunkvault {

ChunkUploader::ChunkUploader(ChunkAccess* access, size_t jobs, bool compress)
    : access_(access), compress_(compress), pool_(jobs, jobs * 2) {}

ChunkUploader::~ChunkUploader() { pool_.WaitIdle(); }

Result<Digest> ChunkUploader::Add(Bytes chunk) {
  if (failed_.load(std::memory_order_relaxed)) CV_RETURN_IF_ERROR(FirstError());
  const Digest digest = Sha256Of(chunk);
  stats_.chunks.fetch_add(1, std::memory_order_relaxed);
  stats_.bytes.fetch_add(chunk.size(), std::memory_order_relaxed);
  if (!seen_.insert(digest).second) return digest;
  pool_.Submit([this, digest, chunk = std::move(chunk)] { Store(digest, chunk); });
  return digest;
}

void ChunkUploader::Store(const Digest& digest, const Bytes& chunk) {
  if (failed_.load(std::memory_order_relaxed)) return;
  auto fail = [&](Error e) {
    std::lock_guard lock(mu_);
    if (error_) error_ = std::unexpected(std::move(e));
    failed_.store(true);
  };
  auto present = access_->TouchIfPresent(digest);
  if (!present) return fail(std::move(present).error().Context("chunk " + ToHex(digest)));
  if (*present) return;
  Bytes blob = EncodeBlob(chunk, compress_);
  auto inserted = access_->Insert(digest, blob);
  if (!inserted) return fail(std::move(inserted).error());
  if (inserted->existed) return;  // another writer stored it meanwhile
  stats_.new_chunks.fetch_add(1, std::memory_order_relaxed);
  stats_.new_bytes.fetch_add(chunk.size(), std::memory_order_relaxed);
  stats_.stored_bytes.fetch_add(blob.size(), std::memory_order_relaxed);
}

Status ChunkUploader::FirstError() {
  std::lock_guard lock(mu_);
  return error_;
}

Status ChunkUploader::Flush() {
  pool_.WaitIdle();
  return FirstError();
}

}  // namespace chunkvault
