// SHA-256 and CRC-32, the two checksums of the PBS formats.
//
// SHA-256 goes through OpenSSL's EVP interface, which picks SHA-NI or AVX2
// code at run time. Thread-safety: a Sha256 object is used by one thread at a
// time; the free functions are thread-safe.
#pragma once

#include <cstdint>
#include <memory>

#include "chunkvault/bytes.h"

namespace chunkvault {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(ByteView data);
  // Returns the digest and resets the object for a new message.
  Digest Finish();

 private:
  struct Ctx;
  std::unique_ptr<Ctx> ctx_;
};

Digest Sha256Of(ByteView data);

// IEEE CRC-32 (zlib's crc32) of `data`, continuing from `crc` (0 to start).
uint32_t Crc32(ByteView data, uint32_t crc = 0);

}  // namespace chunkvault
