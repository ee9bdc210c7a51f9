#include "chunker/chunk_assembler.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace chunkvault {

// Every buffer that can be in use at once (the consumer's, the current
// one, the next one) is kept when idle: a buffer given back to the
// allocator would come back as fresh pages, faulted in and zeroed one by
// one. Idle buffers keep the pages of twice the average chunk: sizes run
// from avg/4 to 4 x avg with a mean near avg, so that holds 93% of the
// chunks of the benchmark dataset whole, and the larger ones fault in
// their last bytes (7% of the data) again, a huge page at a time where the
// system allows (see BufferMemory).
ChunkAssembler::ChunkAssembler(size_t avg, size_t max_in_flight, Emit emit)
    : chunker_(avg),
      emit_(std::move(emit)),
      pool_(BufferPool::Make(chunker_.max_size(), max_in_flight + 2, 2 * avg)) {}

std::span<uint8_t> ChunkAssembler::Space() {
  // Allocated on demand: no buffer is made after the last cut of a stream.
  if (current_.capacity() == 0) current_ = pool_->Get();
  // The chunker cuts at max_size at the latest, so a buffer is never full.
  return current_.spare();
}

Status ChunkAssembler::Write(ByteView data) {
  while (!data.empty()) {
    std::span<uint8_t> room = Space();
    const size_t n = std::min(room.size(), data.size());
    std::memcpy(room.data(), data.data(), n);
    CV_RETURN_IF_ERROR(Commit(n));
    data = data.subspan(n);
  }
  return {};
}

Status ChunkAssembler::Commit(size_t n) {
  assert(n <= current_.capacity() - current_.size());
  size_t end = current_.size() + n;  // of the bytes in current_, scanned or not
  while (current_.size() < end) {
    const size_t scanned = current_.size();
    const size_t cut = chunker_.Scan(ByteView(current_.data() + scanned, end - scanned));
    if (cut == 0) {
      offset_ += end - scanned;
      current_.set_size(end);
      break;
    }
    offset_ += cut;
    current_.set_size(scanned + cut);
    // Bytes past the cut start the next chunk.
    const size_t tail = end - current_.size();
    ByteBuffer next;
    if (tail != 0) {
      next = pool_->Get();
      std::memcpy(next.data(), current_.data() + current_.size(), tail);
    }
    CV_RETURN_IF_ERROR(emit_(std::move(current_)));
    current_ = std::move(next);
    end = tail;
  }
  return {};
}

Status ChunkAssembler::SuggestCut() {
  // Every committed byte has been scanned: the chunk is current_ whole.
  if (current_.size() < chunker_.min_size()) return {};
  chunker_.Reset();
  return emit_(std::move(current_));
}

Status ChunkAssembler::CutAndSkip(uint64_t n) {
  chunker_.Reset();
  if (!current_.empty()) CV_RETURN_IF_ERROR(emit_(std::move(current_)));
  offset_ += n;
  return {};
}

Status ChunkAssembler::Finish() {
  if (current_.empty()) return {};
  return emit_(std::move(current_));
}

}  // namespace chunkvault
