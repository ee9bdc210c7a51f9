#include "datastore/chunk_stream.h"

#include <algorithm>

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
    auto again = std::find_if(recent_.begin(), recent_.end(), [&](const auto& r) {
      return r.first.digest == ref.digest && r.first.size == ref.size;
    });
    std::shared_future<Result<Data>> data;
    if (again != recent_.end()) {
      data = again->second;
    } else {
      auto task = std::make_shared<std::packaged_task<Result<Data>()>>([this,
                                                                        ref]() -> Result<Data> {
        CV_ASSIGN_OR_RETURN(Bytes data, ReadChunkData(*access_, ref.digest, ReadFrom::kAny, key_));
        if (data.size() != ref.size)
          return Fail(ErrorCode::kCorrupt,
                      "chunk " + ToHex(ref.digest) + " holds " + std::to_string(data.size()) +
                          " bytes, the index says " + std::to_string(ref.size));
        return std::make_shared<const Bytes>(std::move(data));
      });
      data = task->get_future().share();
      pool_.Submit([task] { (*task)(); });
    }
    pending_.push_back(data);
    recent_.emplace_back(ref, data);
    if (recent_.size() > kRepeatWindow) recent_.pop_front();
  }
}

Result<ByteView> ChunkStream::Next() {
  while (!failed_) {
    Refill();
    if (pending_.empty()) break;
    Result<Data> r = pending_.front().get();
    pending_.pop_front();
    if (!r) {
      failed_ = true;
      return std::unexpected(std::move(r).error());
    }
    current_ = std::move(*r);
    delivered_ += current_->size();
    // An empty view means the end, so an (odd but valid) empty chunk is
    // skipped rather than returned.
    if (!current_->empty()) return ByteView(*current_);
  }
  return ByteView();
}

}  // namespace chunkvault
