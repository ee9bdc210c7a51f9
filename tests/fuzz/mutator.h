// The seeded mutator the fuzz tests share (fuzz_test.cc for stored and
// received formats, server_fuzz_test.cc for chunkvaultd's handlers).
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <random>

#include "chunkvault/bytes.h"

namespace chunkvault {

// Seeded byte-level mutations, several per input: bit flips, random and
// "interesting" bytes and words (0, -1, INT_MAX, sizes), inserted, removed,
// duplicated and truncated ranges.
class Mutator {
 public:
  explicit Mutator(uint32_t seed) : rng_(seed) {}

  uint64_t Below(uint64_t n) { return n == 0 ? 0 : rng_() % n; }

  Bytes Mutate(const Bytes& in) {
    Bytes b = in;
    const int rounds = 1 + int(Below(4));
    for (int i = 0; i < rounds; ++i) MutateOnce(b);
    return b;
  }

 private:
  void MutateOnce(Bytes& b) {
    const size_t n = b.size();
    switch (Below(8)) {
      case 0:
        if (n) b[Below(n)] ^= uint8_t(1u << Below(8));
        break;
      case 1:
        if (n) b[Below(n)] = uint8_t(rng_());
        break;
      case 2: {  // an interesting little-endian word, often in a header
        static const uint64_t kValues[] = {
            0,          1,          0x7f,       0x80,  0xff,       0xffff, 0x7fffffff, 0x80000000,
            0xffffffff, 1ull << 32, 1ull << 40, ~0ull, ~0ull >> 1, 4096,   65536,      16u << 20};
        const uint64_t v = kValues[Below(std::size(kValues))];
        const size_t width = size_t(1) << Below(4);
        if (n < width) break;
        const size_t at = Below(2) ? Below(std::min<size_t>(n - width + 1, 64)) & ~(width - 1)
                                   : Below(n - width + 1);
        for (size_t k = 0; k < width; ++k) b[at + k] = uint8_t(v >> (8 * k));
        break;
      }
      case 3: {
        const size_t at = Below(n + 1), len = 1 + Below(16);
        Bytes add(len);
        for (uint8_t& c : add) c = uint8_t(rng_());
        b.insert(b.begin() + ptrdiff_t(at), add.begin(), add.end());
        break;
      }
      case 4:
        if (n) {
          const size_t at = Below(n), len = 1 + Below(std::min<size_t>(n - at, 512));
          b.erase(b.begin() + ptrdiff_t(at), b.begin() + ptrdiff_t(at + len));
        }
        break;
      case 5:
        if (n && n < (1 << 20)) {
          const size_t at = Below(n), len = 1 + Below(std::min<size_t>(n - at, 512));
          const Bytes piece(b.begin() + ptrdiff_t(at), b.begin() + ptrdiff_t(at + len));
          b.insert(b.begin() + ptrdiff_t(Below(n + 1)), piece.begin(), piece.end());
        }
        break;
      case 6:
        b.resize(Below(n + 1));
        break;
      default:
        if (n > 1) std::swap(b[Below(n)], b[Below(n)]);
        break;
    }
  }

  std::mt19937 rng_;
};

}  // namespace chunkvault
