#include <zlib.h>

#include "chunkvault/hash.h"

namespace chunkvault {

uint32_t Crc32(ByteView data, uint32_t crc) {
  return static_cast<uint32_t>(crc32_z(crc, data.data(), data.size()));
}

}  // namespace chunkvault
