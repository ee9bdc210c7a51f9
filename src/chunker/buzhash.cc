#include <bit>

#include "chunker/chunker.h"
#include "chunkvault/size.h"

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

// The hash at a position depends on the 64 bytes that end there, and no cut
// is tested before `min_`: the bytes before the window that ends at min_
// are skipped, unhashed (a quarter of an average chunk). Then the window
// is filled, and from min_ on the hash rolls, one byte in and one out.
// The outgoing byte is read from `data` where it lies in this call's
// bytes, else from `window_`, which keeps the chunk's last 64 bytes across
// calls (byte at chunk position q in slot q % 64; min_ is a multiple of 64,
// so the fill lands in slots 0..63 in order).
size_t BuzhashChunker::Scan(ByteView data) {
  const uint8_t* const p = data.data();
  const size_t n = data.size();
  size_t pos = 0;

  if (chunk_size_ + kWindow < min_) {
    const size_t skip = std::min(n, min_ - kWindow - chunk_size_);
    pos = skip;
    chunk_size_ += skip;
    if (pos == n) return 0;
  }

  if (window_fill_ < kWindow) {
    const size_t take = std::min(kWindow - window_fill_, n - pos);
    for (size_t i = 0; i < take; ++i) {
      const uint8_t b = p[pos++];
      window_[window_fill_++] = b;
      h_ = std::rotl(h_, 1) ^ kTable[b];
    }
    chunk_size_ += take;
    if (window_fill_ < kWindow) return 0;
    // chunk_size_ == min_ now: the first position a cut may fall on.
    if (chunk_size_ >= max_ || (h_ & mask_) >= threshold_) return Cut(pos);
  }

  // Local copies let the compiler keep the loop state in registers. The
  // leaving byte's contribution would be rotated by the window size, 64,
  // which is 0 modulo 32: no rotation.
  uint32_t h = h_;
  const size_t start = pos;
  const size_t end = std::min(n, pos + (max_ - chunk_size_));  // a forced cut at max_
  // Outgoing bytes from the previous call.
  for (; pos < end && pos < kWindow; ++pos) {
    h = std::rotl(h, 1) ^ kTable[window_[(chunk_size_ + pos - start) & (kWindow - 1)]] ^
        kTable[p[pos]];
    if ((h & mask_) >= threshold_) return Cut(pos + 1);
  }
  // Outgoing bytes from this call's data.
  for (; pos < end; ++pos) {
    h = std::rotl(h, 1) ^ kTable[p[pos - kWindow]] ^ kTable[p[pos]];
    if ((h & mask_) >= threshold_) return Cut(pos + 1);
  }
  chunk_size_ += pos - start;
  if (chunk_size_ >= max_) return Cut(pos);
  h_ = h;
  // Keep the chunk's last (up to) 64 bytes for the next call.
  for (size_t i = n - std::min(n, kWindow); i < n; ++i)
    window_[(chunk_size_ - (n - i)) & (kWindow - 1)] = p[i];
  return 0;
}

size_t BuzhashChunker::Cut(size_t pos) {
  h_ = 0;
  chunk_size_ = 0;
  window_fill_ = 0;
  return pos;
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
