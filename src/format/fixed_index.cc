#include <openssl/rand.h>

#include <bit>
#include <cstdlib>
#include <cstring>

#include "chunkvault/hash.h"
#include "format/index_header.h"

namespace chunkvault {

namespace {
constexpr size_t kSizeOffset = 64;
constexpr size_t kChunkSizeOffset = 72;
}  // namespace

Uuid NewUuid() {
  Uuid u;
  if (RAND_bytes(u.data(), int(u.size())) != 1) std::abort();
  u[6] = uint8_t((u[6] & 0x0f) | 0x40);  // version 4
  u[8] = uint8_t((u[8] & 0x3f) | 0x80);  // RFC 4122 variant
  return u;
}

Digest FixedIndex::ComputeChecksum() const {
  Sha256 h;
  for (const Digest& d : digests) h.Update(d);
  return h.Finish();
}

Bytes FixedIndex::Encode() const {
  Bytes out(kIndexHeaderSize + digests.size() * 32, 0);
  index_header::Write(out, kFixedIndexMagic, uuid, ctime, ComputeChecksum());
  StoreLe64(out.data() + kSizeOffset, size);
  StoreLe64(out.data() + kChunkSizeOffset, chunk_size);
  uint8_t* p = out.data() + kIndexHeaderSize;
  for (const Digest& d : digests) {
    std::memcpy(p, d.data(), d.size());
    p += d.size();
  }
  return out;
}

Result<FixedIndex> FixedIndex::Parse(ByteView raw, bool verify_checksum) {
  FixedIndex idx;
  CV_RETURN_IF_ERROR(index_header::Read(raw, kFixedIndexMagic, "fixed index", idx.uuid,
                                        idx.ctime, idx.stored_csum));
  CV_RETURN_IF_ERROR(index_header::CheckReservedZero(raw, kChunkSizeOffset + 8));
  idx.size = LoadLe64(raw.data() + kSizeOffset);
  idx.chunk_size = LoadLe64(raw.data() + kChunkSizeOffset);
  if (!std::has_single_bit(idx.chunk_size))
    return Fail(ErrorCode::kCorrupt,
                "chunk size " + std::to_string(idx.chunk_size) + " is not a power of two");
  uint64_t count = idx.size / idx.chunk_size + (idx.size % idx.chunk_size != 0);
  uint64_t have = raw.size() - kIndexHeaderSize;
  if (have % 32 != 0 || have / 32 != count)
    return Fail(ErrorCode::kCorrupt,
                "size " + std::to_string(idx.size) + " with chunk size " +
                    std::to_string(idx.chunk_size) + " needs " + std::to_string(count) +
                    " digests, but the file holds " + std::to_string(have) +
                    " bytes after the header");
  idx.digests.resize(count);
  for (uint64_t i = 0; i < count; ++i)
    std::memcpy(idx.digests[i].data(), raw.data() + kIndexHeaderSize + i * 32, 32);
  if (verify_checksum)
    CV_RETURN_IF_ERROR(index_header::CheckChecksum(idx.stored_csum, idx.ComputeChecksum()));
  return idx;
}

std::vector<ChunkRef> FixedIndex::Chunks() const {
  std::vector<ChunkRef> out;
  out.reserve(digests.size());
  for (size_t i = 0; i < digests.size(); ++i) {
    uint64_t offset = uint64_t(i) * chunk_size;
    out.push_back({offset, std::min(chunk_size, size - offset), digests[i]});
  }
  return out;
}

}  // namespace chunkvault
