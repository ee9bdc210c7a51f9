#include "archive/pxar/reuse.h"

#include <algorithm>
#include <limits>
#include <string>

namespace chunkvault::pxar {

Status CheckPayloadIndex(const PreviousArchive& previous) {
  const std::vector<uint64_t>& ends = previous.payload_ends;
  if (ends.size() != previous.payload_digests.size())
    return Fail(ErrorCode::kInternal,
                "the previous payload index has " + std::to_string(ends.size()) + " ends for " +
                    std::to_string(previous.payload_digests.size()) + " digests");
  for (size_t i = 0; i < ends.size(); ++i) {
    if (ends[i] <= (i == 0 ? 0 : ends[i - 1]))
      return Fail(ErrorCode::kCorrupt, "the previous payload index's entry " + std::to_string(i) +
                                           " (chunk " + ToHex(previous.payload_digests[i]) +
                                           ") is empty");
  }
  return {};
}

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
        IndexedChunk{previous.payload_digests[i], i, ends[i], ends[i] - chunk_start});
    chunk_start = ends[i];
    if (ends[i] >= end) break;
  }
  out.end_padding = chunk_start - end;
  return out;
}

Result<RunPlan> PlanRun(const PreviousArchive& previous, std::span<const uint64_t> bounds,
                        const ReuseFrontier& frontier, std::optional<uint64_t> follow) {
  if (bounds.size() < 2)
    return Fail(ErrorCode::kInternal, "a run of reusable files without a file");
  const size_t n = bounds.size() - 1;
  CV_ASSIGN_OR_RETURN(const RangeChunks whole, ChunksOfRange(previous, bounds[0], bounds[n]));
  // Trimmed, the files starting in the first chunk are read, and those
  // ending in the last.
  const uint64_t first_end = whole.chunks.front().end;
  const uint64_t last_start = whole.chunks.back().Start();
  const size_t head_trim =
      size_t(std::lower_bound(bounds.begin(), bounds.end(), first_end) - bounds.begin());
  const size_t at_or_before =
      size_t(std::upper_bound(bounds.begin(), bounds.end(), last_start) - bounds.begin());
  const size_t tail_trim = n - (at_or_before == 0 ? 0 : at_or_before - 1);

  RunPlan best;
  uint64_t best_read = std::numeric_limits<uint64_t>::max();
  for (const bool trim_head : {false, true}) {
    for (const bool trim_tail : {false, true}) {
      const size_t head = trim_head ? head_trim : 0, tail = trim_tail ? tail_trim : 0;
      if ((trim_head && head == 0) || (trim_tail && tail == 0) || head + tail >= n) continue;
      const uint64_t start = bounds[head], end = bounds[n - tail];
      RangeChunks chunks;
      if (head == 0 && tail == 0) {
        chunks = whole;
      } else {
        CV_ASSIGN_OR_RETURN(chunks, ChunksOfRange(previous, start, end));
      }
      uint64_t start_padding = chunks.start_padding;
      bool continues_kept = false;
      if (head == 0 && frontier.chunk == chunks.chunks.front().index &&
          (frontier.kept || frontier.placed < 2)) {
        continues_kept = frontier.kept;
        const uint64_t from = std::max(frontier.counted_to, chunks.chunks.front().Start());
        start_padding = start > from ? start - from : 0;
      }
      uint64_t end_padding = chunks.end_padding;
      if (tail == 0 && follow)
        end_padding = std::min(end_padding, *follow > end ? *follow - end : 0);
      const uint64_t padding = start_padding + end_padding;
      const uint64_t all_padding = frontier.padding + padding;
      if (double(all_padding) >
          kMaxPaddingRatio * double(frontier.referenced + (end - start) + all_padding))
        continue;
      const uint64_t read = (start - bounds[0]) + (bounds[n] - end);
      if (read >= best_read) continue;
      best_read = read;
      const uint64_t counted_to = tail == 0 ? end + end_padding : chunks.chunks.back().end;
      best = RunPlan{true, head, tail, std::move(chunks), padding, counted_to, continues_kept};
    }
  }
  return best;
}

}  // namespace chunkvault::pxar
