#include <cstring>

#include "chunkvault/hash.h"
#include "format/index_header.h"

namespace chunkvault {

Digest DynamicIndex::ComputeChecksum() const {
  Sha256 h;
  uint8_t end[8];
  for (const DynamicEntry& e : entries) {
    StoreLe64(end, e.end);
    h.Update(ByteView(end, 8));
    h.Update(e.digest);
  }
  return h.Finish();
}

Bytes DynamicIndex::Encode() const {
  Bytes out(kIndexHeaderSize + entries.size() * kDynamicEntrySize, 0);
  index_header::Write(out, kDynamicIndexMagic, uuid, ctime, ComputeChecksum());
  uint8_t* p = out.data() + kIndexHeaderSize;
  for (const DynamicEntry& e : entries) {
    StoreLe64(p, e.end);
    std::memcpy(p + 8, e.digest.data(), e.digest.size());
    p += kDynamicEntrySize;
  }
  return out;
}

Result<DynamicIndex> DynamicIndex::Parse(ByteView raw, bool verify_checksum) {
  DynamicIndex idx;
  CV_RETURN_IF_ERROR(index_header::Read(raw, kDynamicIndexMagic, "dynamic index", idx.uuid,
                                        idx.ctime, idx.stored_csum));
  CV_RETURN_IF_ERROR(index_header::CheckReservedZero(raw, index_header::kCsumOffset + 32));
  uint64_t have = raw.size() - kIndexHeaderSize;
  if (have % kDynamicEntrySize != 0)
    return Fail(ErrorCode::kCorrupt, "entries take " + std::to_string(have) +
                                         " bytes, not a multiple of 40");
  size_t count = have / kDynamicEntrySize;
  idx.entries.resize(count);
  uint64_t prev = 0;
  for (size_t i = 0; i < count; ++i) {
    const uint8_t* p = raw.data() + kIndexHeaderSize + i * kDynamicEntrySize;
    DynamicEntry& e = idx.entries[i];
    e.end = LoadLe64(p);
    std::memcpy(e.digest.data(), p + 8, 32);
    if (e.end < prev)
      return Fail(ErrorCode::kCorrupt, "entry " + std::to_string(i) + " ends at " +
                                           std::to_string(e.end) +
                                           ", before the previous entry's end " +
                                           std::to_string(prev));
    prev = e.end;
  }
  if (verify_checksum)
    CV_RETURN_IF_ERROR(index_header::CheckChecksum(idx.stored_csum, idx.ComputeChecksum()));
  return idx;
}

std::vector<ChunkRef> DynamicIndex::Chunks() const {
  std::vector<ChunkRef> out;
  out.reserve(entries.size());
  uint64_t start = 0;
  for (const DynamicEntry& e : entries) {
    out.push_back({start, e.end - start, e.digest});
    start = e.end;
  }
  return out;
}

}  // namespace chunkvault
