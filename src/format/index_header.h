// The 4096-byte header layout shared by .fidx and .didx (internal).
#pragma once

#include <cstring>

#include "chunkvault/index.h"

namespace chunkvault::index_header {

inline constexpr size_t kUuidOffset = 8;
inline constexpr size_t kCtimeOffset = 24;
inline constexpr size_t kCsumOffset = 32;

inline void Write(Bytes& out, const Magic& magic, const Uuid& uuid, int64_t ctime,
                  const Digest& csum) {
  std::memcpy(out.data(), magic.data(), magic.size());
  std::memcpy(out.data() + kUuidOffset, uuid.data(), uuid.size());
  StoreLe64(out.data() + kCtimeOffset, static_cast<uint64_t>(ctime));
  std::memcpy(out.data() + kCsumOffset, csum.data(), csum.size());
}

// Checks length and magic, and reads uuid, ctime and csum.
inline Status Read(ByteView raw, const Magic& magic, const char* kind, Uuid& uuid,
                   int64_t& ctime, Digest& csum) {
  if (raw.size() < kIndexHeaderSize)
    return Fail(ErrorCode::kCorrupt, std::string("truncated ") + kind + ": " +
                                         std::to_string(raw.size()) +
                                         " bytes, shorter than the 4096-byte header");
  if (std::memcmp(raw.data(), magic.data(), magic.size()) != 0)
    return Fail(ErrorCode::kCorrupt, std::string("not a ") + kind + ": magic is " +
                                         ToHex(raw.subspan(0, 8)) + ", expected " +
                                         ToHex(ByteView(magic)));
  std::memcpy(uuid.data(), raw.data() + kUuidOffset, uuid.size());
  ctime = static_cast<int64_t>(LoadLe64(raw.data() + kCtimeOffset));
  std::memcpy(csum.data(), raw.data() + kCsumOffset, csum.size());
  return {};
}

// Bytes from `from` to the end of the header are reserved and PBS writes
// zeros there. They are not covered by the index checksum, so insisting on
// zeros is what lets a flipped bit in them be noticed.
inline Status CheckReservedZero(ByteView raw, size_t from) {
  for (size_t i = from; i < kIndexHeaderSize; ++i)
    if (raw[i] != 0)
      return Fail(ErrorCode::kCorrupt, "reserved header byte at offset " + std::to_string(i) +
                                           " is " + std::to_string(raw[i]) + ", not zero");
  return {};
}

inline Status CheckChecksum(const Digest& stored, const Digest& computed) {
  if (stored != computed)
    return Fail(ErrorCode::kCorrupt, "index checksum mismatch: header has " + ToHex(stored) +
                                         ", entries hash to " + ToHex(computed));
  return {};
}

}  // namespace chunkvault::index_header
