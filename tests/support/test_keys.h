// Encryption keys for tests: fixed bytes, so vectors can be checked.
#pragma once

#include <cstdint>

#include "chunkvault/crypt.h"

namespace chunkvault::testing {

// The key first, first+1, ..., first+31 (TestKey(0) is PBS's test key
// 00 01 .. 1f).
inline SecretKey TestKey(uint8_t first) {
  Bytes b(kCryptKeySize);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(first + i);
  return SecretKey(b);
}

}  // namespace chunkvault::testing
