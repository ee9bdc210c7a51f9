#include "datastore/index_input.h"

#include <algorithm>

namespace chunkvault {

IndexInput::IndexInput(ChunkAccess* access, std::vector<ChunkRef> chunks, const CryptKey* key,
                       std::string context)
    : access_(access), chunks_(std::move(chunks)), key_(key), context_(std::move(context)) {
  if (!chunks_.empty()) size_ = chunks_.back().offset + chunks_.back().size;
}

Result<ByteView> IndexInput::ReadAt(uint64_t offset, size_t max) {
  if (offset >= size_) return ByteView();
  // The last chunk starting at or before `offset`.
  auto it = std::upper_bound(chunks_.begin(), chunks_.end(), offset,
                             [](uint64_t o, const ChunkRef& c) { return o < c.offset; });
  const size_t index = size_t(it - chunks_.begin()) - 1;
  const ChunkRef& ref = chunks_[index];
  auto kept =
      std::find_if(kept_.begin(), kept_.end(), [&](const Kept& k) { return k.index == index; });
  if (kept == kept_.end()) {
    Result<Bytes> data = access_->Read(ref.digest, ReadFrom::kAny, key_);
    if (!data) return std::unexpected(std::move(data).error().Context(context_));
    if (data->size() != ref.size)
      return Fail(ErrorCode::kCorrupt, context_ + ": chunk " + ToHex(ref.digest) + " holds " +
                                           std::to_string(data->size()) +
                                           " bytes, the index says " + std::to_string(ref.size));
    ++fetched_;
    kept_.push_front(Kept{index, std::make_shared<const Bytes>(std::move(*data))});
    if (kept_.size() > kKept) kept_.pop_back();
  } else if (kept != kept_.begin()) {
    kept_.splice(kept_.begin(), kept_, kept);
  }
  last_ = kept_.front().data;
  const size_t at = size_t(offset - ref.offset);
  return ByteView(*last_).subspan(at, std::min(max, last_->size() - at));
}

}  // namespace chunkvault
