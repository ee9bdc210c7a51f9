#include "archive/pxar/input.h"

#include <algorithm>

namespace chunkvault::pxar {

Result<ByteView> MemoryInput::ReadAt(uint64_t offset, size_t max) {
  if (offset >= data_.size()) return ByteView();
  return data_.subspan(size_t(offset), std::min<uint64_t>(max, data_.size() - offset));
}

Result<ByteView> SequentialInput::ReadAt(uint64_t offset, size_t max) {
  if (offset < piece_start_)
    return Fail(ErrorCode::kCorrupt, "offset " + std::to_string(offset) +
                                         " lies behind the stream's position " +
                                         std::to_string(piece_start_));
  while (offset - piece_start_ >= piece_.size()) {
    if (ended_) return ByteView();
    piece_start_ += piece_.size();
    CV_ASSIGN_OR_RETURN(piece_, next_());
    if (piece_.empty()) ended_ = true;
  }
  const size_t at = size_t(offset - piece_start_);
  return piece_.subspan(at, std::min(max, piece_.size() - at));
}

ChunkedInput::ChunkedInput(std::vector<uint64_t> ends, std::vector<Digest> digests, Fetch fetch,
                           std::string context)
    : ends_(std::move(ends)),
      digests_(std::move(digests)),
      fetch_(std::move(fetch)),
      context_(std::move(context)) {}

Result<ByteView> ChunkedInput::ReadAt(uint64_t offset, size_t max) {
  if (offset >= size()) return ByteView();
  // The first piece ending after `offset` holds it.
  const size_t index = size_t(std::upper_bound(ends_.begin(), ends_.end(), offset) - ends_.begin());
  const uint64_t start = index == 0 ? 0 : ends_[index - 1];
  if (index >= digests_.size())
    return Fail(ErrorCode::kInternal, context_ + ": no digest for chunk " + std::to_string(index));
  const Digest& digest = digests_[index];
  const uint64_t size = ends_[index] - start;
  auto kept = std::find_if(kept_.begin(), kept_.end(), [&](const Kept& k) {
    return k.digest == digest && k.data->size() == size;
  });
  if (kept == kept_.end()) {
    Result<Bytes> data = fetch_(digest);
    if (!data) return std::unexpected(std::move(data).error().Context(context_));
    if (data->size() != size)
      return Fail(ErrorCode::kCorrupt, context_ + ": chunk " + ToHex(digest) + " holds " +
                                           std::to_string(data->size()) +
                                           " bytes, the index says " + std::to_string(size));
    ++fetched_;
    kept_.push_front(Kept{digest, std::make_shared<const Bytes>(std::move(*data))});
    if (kept_.size() > kKept) kept_.pop_back();
  } else if (kept != kept_.begin()) {
    kept_.splice(kept_.begin(), kept_, kept);
  }
  last_ = kept_.front().data;
  const size_t at = size_t(offset - start);
  return ByteView(*last_).subspan(at, std::min(max, last_->size() - at));
}

}  // namespace chunkvault::pxar
