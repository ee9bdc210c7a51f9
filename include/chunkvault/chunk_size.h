// Chunk sizes a user may ask for (backup --chunk-size): powers of two from
// 64 KiB to 4 MiB, the average for tar streams and the fixed size for
// images.
#pragma once

#include <cstdint>

#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr uint64_t kMinUserChunkSize = 64u << 10;
inline constexpr uint64_t kMaxUserChunkSize = 4u << 20;
inline constexpr uint64_t kDefaultChunkSize = 4u << 20;
// kInvalidArgument naming the size when it is none of those.
Status CheckUserChunkSize(uint64_t size);

}  // namespace chunkvault
