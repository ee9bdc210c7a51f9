// Metadata change detection (PBS's "metadata" mode, docs/pxar.md): what a
// split-archive backup knows of the previous snapshot's archive, so that
// files whose metadata and size are unchanged are not read: their data is
// referenced where it lies in the previous payload stream, whose chunks
// become part of the new one whole, by digest.
//
// Thread-safety: plain data and functions.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "archive/pxar/input.h"
#include "chunkvault/hash.h"

namespace chunkvault::pxar {

// Reuse is given up where more than this share of the reused chunks'
// bytes would be padding: bytes no file of the new snapshot references
// (PBS's CHUNK_PADDING_THRESHOLD).
inline constexpr double kMaxPaddingRatio = 0.1;

// The previous snapshot's split archive.
struct PreviousArchive {
  Input* meta = nullptr;  // its metadata stream, random access
  uint64_t meta_size = 0;
  // Its payload index: each chunk's end in the stream and digest.
  std::vector<uint64_t> payload_ends;
  std::vector<Digest> payload_digests;
  // Whether a chunk may be reused: still stored and not marked bad; a
  // chunk said to be usable is marked as in use (for garbage collection)
  // by the call. Asked once per chunk, before a file in it is taken as
  // reusable. Null: every chunk is.
  std::function<bool(const Digest&)> usable;
};

// A chunk of the previous payload index, as reuse takes it.
struct IndexedChunk {
  Digest digest{};
  uint64_t end = 0;  // in the previous payload stream
  uint64_t size = 0;
  uint64_t padding = 0;  // of its bytes, those outside the range it was taken for
  // The same entry of the index, not merely equal content elsewhere.
  bool SameEntryAs(const IndexedChunk& o) const { return digest == o.digest && end == o.end; }
};

struct RangeChunks {
  std::vector<IndexedChunk> chunks;
  uint64_t start_padding = 0;  // bytes of the first chunk before the range
  uint64_t end_padding = 0;    // bytes of the last chunk after it
};

// The chunks of the previous payload stream that hold [start, end),
// start < end: from the one holding `start` to the one holding byte
// end - 1. kCorrupt if the index does not reach that far (the previous
// metadata archive pointed past its payload).
Result<RangeChunks> ChunksOfRange(const PreviousArchive& previous, uint64_t start, uint64_t end);

}  // namespace chunkvault::pxar
