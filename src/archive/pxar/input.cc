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

}  // namespace chunkvault::pxar
