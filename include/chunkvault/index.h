// Fixed (.fidx) and dynamic (.didx) index files (docs/format.md, "Index files").
//
// Both start with a 4096-byte header: magic[8] uuid[16] ctime[8]
// index_csum[32], then (fixed only) size[8] chunk_size[8], the rest zero.
// A fixed index lists one digest per chunk_size bytes of an image; a
// dynamic index lists (end offset, digest) pairs of a stream.
//
// Parse() checks everything it can: magic, lengths, offsets and, unless
// told not to (inspect wants to show a bad file), the index checksum.
// Errors are kCorrupt naming what is wrong; callers add the file name.
//
// Thread-safety: plain values.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

#include "chunkvault/blob.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr Magic kFixedIndexMagic = {0x2f, 0x7f, 0x41, 0xed, 0x91, 0xfd, 0x0f, 0xcd};
inline constexpr Magic kDynamicIndexMagic = {0x1c, 0x91, 0x4e, 0xa5, 0x19, 0xba, 0xb3, 0xcd};
inline constexpr size_t kIndexHeaderSize = 4096;
inline constexpr size_t kDynamicEntrySize = 40;

// The largest index file readers take: 1 GiB, an archive of some 100 TiB
// in 4 MiB chunks. With the archive's size known (the manifest's), the
// header and one entry per 4 KiB of data plus two: PBS and chunkvault cut
// 16 KiB to 16 MiB, so only a hostile file needs more.
inline constexpr uint64_t kMaxIndexFileSize = uint64_t(1) << 30;
constexpr uint64_t MaxIndexFileSize(uint64_t data_size) {
  const uint64_t entries = data_size / 4096 + 2;
  return entries > (kMaxIndexFileSize - kIndexHeaderSize) / kDynamicEntrySize
             ? kMaxIndexFileSize
             : kIndexHeaderSize + entries * kDynamicEntrySize;
}

using Uuid = std::array<uint8_t, 16>;
// A random (version 4) UUID.
Uuid NewUuid();

// One chunk of an archive: where its data sits in the stream or image.
struct ChunkRef {
  uint64_t offset;
  uint64_t size;
  Digest digest;
};

struct FixedIndex {
  Uuid uuid{};
  int64_t ctime = 0;
  uint64_t size = 0;        // total data bytes
  uint64_t chunk_size = 0;  // a power of two
  std::vector<Digest> digests;
  Digest stored_csum{};     // as read from the header by Parse

  // sha256(d1 || d2 || ...)
  Digest ComputeChecksum() const;
  // The file bytes, with a freshly computed checksum.
  Bytes Encode() const;
  static Result<FixedIndex> Parse(ByteView raw, bool verify_checksum = true);
  std::vector<ChunkRef> Chunks() const;
};

struct DynamicEntry {
  uint64_t end;  // cumulative end offset of the chunk
  Digest digest;
};

struct DynamicIndex {
  Uuid uuid{};
  int64_t ctime = 0;
  std::vector<DynamicEntry> entries;
  Digest stored_csum{};

  uint64_t size() const { return entries.empty() ? 0 : entries.back().end; }
  // sha256(end1 || d1 || end2 || d2 || ...), ends as 8 little-endian bytes
  Digest ComputeChecksum() const;
  Bytes Encode() const;
  static Result<DynamicIndex> Parse(ByteView raw, bool verify_checksum = true);
  std::vector<ChunkRef> Chunks() const;
};

// The chunks an index file lists, its kind told by its name: "*.didx"
// dynamic, "*.fidx" fixed (checked as Parse does); any other name is
// kInvalidArgument.
Result<std::vector<ChunkRef>> IndexChunks(std::string_view file_name, ByteView raw);

// The chunks' ends in the stream and their digests, in order: the two
// columns a stream read at random (pxar::ChunkedInput) and metadata
// change detection (pxar::PreviousArchive) take.
std::vector<uint64_t> ChunkEnds(const std::vector<ChunkRef>& chunks);
std::vector<Digest> ChunkDigests(const std::vector<ChunkRef>& chunks);

}  // namespace chunkvault
