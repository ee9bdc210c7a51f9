#include <bit>

#include "chunker/chunker.h"
#include "util/size.h"

namespace chunkvault {
namespace {

constexpr uint32_t kTable[256] = {
#include "chunker/buzhash_table.inc"
};

}  // namespace

Status CheckUserChunkSize(uint64_t size) {
  if (!std::has_single_bit(size) || size < kMinUserChunkSize || size > kMaxUserChunkSize)
    return Fail(ErrorCode::kInvalidArgument,
                "chunk size " + FormatSize(size) +
                    " is not allowed: use a power of two from 64K to 4M");
  return {};
}

BuzhashChunker::BuzhashChunker(size_t avg)
    : min_(avg / 4),
      max_(avg * 4),
      mask_(uint32_t(avg * 2 - 1)),
      // Cut on high hash values, not on h == 0: a stream of equal bytes
      // hashes to 0 forever and would otherwise cut at every min size.
      threshold_(uint32_t(avg * 2 - 1) - 2) {}

size_t BuzhashChunker::Scan(ByteView data) {
  size_t pos = 0;
  const size_t n = data.size();

  // Fill the window first; no cut is tested until it is full.
  if (window_fill_ < kWindow) {
    size_t take = std::min(kWindow - window_fill_, n);
    for (size_t i = 0; i < take; ++i) {
      uint8_t b = data[pos++];
      window_[window_fill_++] = b;
      h_ = std::rotl(h_, 1) ^ kTable[b];
    }
    chunk_size_ += take;
    if (window_fill_ < kWindow) return 0;
  }

  // Local copies let the compiler keep the loop state in registers.
  uint32_t h = h_;
  size_t chunk_size = chunk_size_;
  while (pos < n) {
    uint8_t enter = data[pos++];
    size_t slot = chunk_size & (kWindow - 1);
    uint8_t leave = window_[slot];
    window_[slot] = enter;
    // The leaving byte's contribution would be rotated by the window size,
    // 64, which is 0 modulo 32: no rotation.
    h = std::rotl(h, 1) ^ kTable[leave] ^ kTable[enter];
    ++chunk_size;
    if (chunk_size >= max_ || (chunk_size >= min_ && (h & mask_) >= threshold_)) {
      h_ = 0;
      chunk_size_ = 0;
      window_fill_ = 0;
      return pos;
    }
  }
  h_ = h;
  chunk_size_ = chunk_size;
  return 0;
}

size_t FixedChunker::Scan(ByteView data) {
  size_t need = size_ - fill_;
  if (data.size() >= need) {
    fill_ = 0;
    return need;
  }
  fill_ += data.size();
  return 0;
}

}  // namespace chunkvault
