// Byte buffers and the 32-byte SHA-256 digest that names every chunk.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/status.h"

namespace chunkvault {

using Bytes = std::vector<uint8_t>;
using ByteView = std::span<const uint8_t>;

inline ByteView AsBytes(std::string_view s) {
  return ByteView(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}
inline std::string_view AsString(ByteView b) {
  return std::string_view(reinterpret_cast<const char*>(b.data()), b.size());
}

// A SHA-256 digest. Ordered and hashable so it can key sets and maps.
using Digest = std::array<uint8_t, 32>;

struct DigestHash {
  size_t operator()(const Digest& d) const noexcept {
    // The digest is uniformly distributed: its first 8 bytes are a hash.
    uint64_t v;
    static_assert(sizeof(v) <= sizeof(Digest));
    __builtin_memcpy(&v, d.data(), sizeof(v));
    return static_cast<size_t>(v);
  }
};

// Lowercase hex of any bytes.
std::string ToHex(ByteView bytes);
inline std::string ToHex(const Digest& d) { return ToHex(ByteView(d)); }

// Parses exactly 64 hex characters (either case) into a digest.
Result<Digest> DigestFromHex(std::string_view hex);
// Parses an even number of hex characters.
Result<Bytes> BytesFromHex(std::string_view hex);

// Little-endian integer access for the on-disk formats.
inline uint64_t LoadLe64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
inline uint32_t LoadLe32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 |
         uint32_t(p[3]) << 24;
}
inline void StoreLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void StoreLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}

}  // namespace chunkvault
