#include "archive/pxar/reuse.h"

#include <algorithm>
#include <string>

namespace chunkvault::pxar {

Result<RangeChunks> ChunksOfRange(const PreviousArchive& previous, uint64_t start, uint64_t end) {
  const std::vector<uint64_t>& ends = previous.payload_ends;
  if (start >= end || ends.size() != previous.payload_digests.size() || ends.empty() ||
      end > ends.back())
    return Fail(ErrorCode::kCorrupt, "the previous payload index holds no bytes " +
                                         std::to_string(start) + ".." + std::to_string(end));
  // The first chunk ending after `start` holds it.
  size_t i = size_t(std::upper_bound(ends.begin(), ends.end(), start) - ends.begin());
  RangeChunks out;
  uint64_t chunk_start = i == 0 ? 0 : ends[i - 1];
  out.start_padding = start - chunk_start;
  // PBS also takes the chunk after one ending exactly at `end`, all of
  // it padding; the range is complete without it.
  for (; i < ends.size(); ++i) {
    if (ends[i] <= chunk_start)
      return Fail(ErrorCode::kCorrupt, "the previous payload index's chunk ends go backwards");
    out.chunks.push_back(
        IndexedChunk{previous.payload_digests[i], ends[i], ends[i] - chunk_start, 0});
    chunk_start = ends[i];
    if (ends[i] >= end) break;
  }
  out.end_padding = chunk_start - end;
  out.chunks.front().padding += out.start_padding;
  out.chunks.back().padding += out.end_padding;
  return out;
}

}  // namespace chunkvault::pxar
