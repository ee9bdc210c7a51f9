// Chunkers cut a byte stream into chunks (docs/format.md, "Index files").
//
// Both are stateful across calls: Scan() may be fed the stream in pieces of
// any size, down to single bytes, and finds the same cuts as when fed at
// once. Scan(data) returns the number of bytes of `data` up to and including
// the next cut, or 0 when `data` holds no cut (all of it belongs to the
// current chunk). After a cut, the caller passes the rest of `data` again.
//
// Thread-safety: one chunker per stream, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>

#include "chunkvault/bytes.h"
#include "chunkvault/chunk_size.h"
#include "chunkvault/status.h"

namespace chunkvault {

// The PBS buzhash content-defined chunker, from casync: 64-byte window,
// chunks between avg/4 and avg*4 bytes.
class BuzhashChunker {
 public:
  explicit BuzhashChunker(size_t avg);  // avg: a power of two >= 64

  size_t Scan(ByteView data);
  // Starts a new chunk here, as a cut does (a cut the caller chose).
  void Reset() { Cut(0); }

  size_t min_size() const { return min_; }
  size_t max_size() const { return max_; }

 private:
  static constexpr size_t kWindow = 64;
  size_t Cut(size_t pos);  // resets for the next chunk; returns pos

  uint32_t h_ = 0;
  size_t window_fill_ = 0;
  size_t chunk_size_ = 0;
  const size_t min_;
  const size_t max_;
  const uint32_t mask_;
  const uint32_t threshold_;
  uint8_t window_[kWindow] = {};
};

// Cuts every `size` bytes.
class FixedChunker {
 public:
  explicit FixedChunker(size_t size) : size_(size) {}
  size_t Scan(ByteView data);

 private:
  const size_t size_;
  size_t fill_ = 0;
};

}  // namespace chunkvault
