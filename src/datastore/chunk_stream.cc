#include "datastore/chunk_stream.h"

namespace chunkvault {

ChunkStream::ChunkStream(ChunkAccess* access, std::vector<ChunkRef> chunks, size_t jobs,
                         const CryptKey* key)
    : access_(access),
      key_(key),
      chunks_(std::move(chunks)),
      read_ahead_(jobs * 2),
      pool_(jobs, jobs * 2) {
  for (const ChunkRef& c : chunks_) total_ += c.size;
}

ChunkStream::~ChunkStream() {
  // Pending reads hold `this`; let them finish before members go.
  pool_.WaitIdle();
}

void ChunkStream::Refill() {
  while (pending_.size() < read_ahead_ && next_to_schedule_ < chunks_.size()) {
    const ChunkRef ref = chunks_[next_to_schedule_++];
    auto task =
        std::make_shared<std::packaged_task<Result<Bytes>()>>([this, ref]() -> Result<Bytes> {
          CV_ASSIGN_OR_RETURN(Bytes data,
                              ReadChunkData(*access_, ref.digest, ReadFrom::kAny, key_));
          if (data.size() != ref.size)
            return Fail(ErrorCode::kCorrupt,
                        "chunk " + ToHex(ref.digest) + " holds " + std::to_string(data.size()) +
                            " bytes, the index says " + std::to_string(ref.size));
          return data;
        });
    pending_.push_back(task->get_future());
    pool_.Submit([task] { (*task)(); });
  }
}

Result<ByteView> ChunkStream::Next() {
  while (!failed_) {
    Refill();
    if (pending_.empty()) break;
    Result<Bytes> r = pending_.front().get();
    pending_.pop_front();
    if (!r) {
      failed_ = true;
      return std::unexpected(std::move(r).error());
    }
    current_ = std::make_shared<const Bytes>(std::move(*r));
    delivered_ += current_->size();
    // An empty view means the end, so an (odd but valid) empty chunk is
    // skipped rather than returned.
    if (!current_->empty()) return ByteView(*current_);
  }
  return ByteView();
}

}  // namespace chunkvault
