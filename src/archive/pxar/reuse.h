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
#include <optional>
#include <span>
#include <vector>

#include "archive/pxar/input.h"
#include "chunkvault/hash.h"

namespace chunkvault::pxar {

// Reuse is given up where more than this share of the reused chunks'
// bytes would be padding: bytes no file of the new snapshot references
// (PBS's CHUNK_PADDING_THRESHOLD, which PBS applies to each run).
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

// Ok if `previous`'s payload index can be reused from: a digest for each
// end, and the ends strictly increasing (PBS's chunker cuts no empty
// chunk). kCorrupt, naming the entry, if not.
Status CheckPayloadIndex(const PreviousArchive& previous);

// A chunk of the previous payload index, as reuse takes it.
struct IndexedChunk {
  Digest digest{};
  size_t index = 0;  // its entry in the previous payload index
  uint64_t end = 0;  // in the previous payload stream
  uint64_t size = 0;
  uint64_t Start() const { return end - size; }
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

// Where the runs reused so far left the new payload stream.
struct ReuseFrontier {
  std::optional<size_t> chunk;  // index entry of the last previous chunk reused
  bool kept = false;            // held back for a run continuing in it, not yet placed
  unsigned placed = 0;          // times that chunk stands in the new stream
  uint64_t counted_to = 0;      // padding is counted up to here (previous stream)
  // Of the runs reused so far: their padding, and the bytes they reference.
  uint64_t padding = 0, referenced = 0;
};

// How a run of files held as reusable is written: files [head, n - tail)
// as references into `chunks`, those before and after read afresh.
struct RunPlan {
  bool reuse = false;  // false: every file of the run is read
  size_t head = 0, tail = 0;
  RangeChunks chunks;           // of the files reused
  uint64_t padding = 0;         // counted against the limit
  uint64_t counted_to = 0;      // the frontier's, after the run
  bool continues_kept = false;  // its first chunk is the frontier's kept one
};

// Plans a run: `bounds` holds the previous payload ranges of its n files,
// each starting where the one before ends (n + 1 offsets, increasing).
//
// Padding is counted by what the new snapshot leaves unreferenced, not
// by what the stream carries: the first chunk's bytes the run before
// referenced are not padding (that chunk then stands twice in the new
// stream, at most twice), and of the last chunk's bytes after the run
// only those up to `follow` are (a changed file's old data, or a gap
// before the next run; nullopt: all).
//
// The limit holds for the runs reused so far together with this one
// (the frontier's totals), not for each run: a short run beside a large
// changed file is reused while the archive as a whole stays within it.
// Where the run would break it, the files in its first or its last
// chunk, or both, are read instead and the rest reused (the plan reading
// the fewest bytes); where no such plan keeps within it, every file is.
Result<RunPlan> PlanRun(const PreviousArchive& previous, std::span<const uint64_t> bounds,
                        const ReuseFrontier& frontier, std::optional<uint64_t> follow);

}  // namespace chunkvault::pxar
