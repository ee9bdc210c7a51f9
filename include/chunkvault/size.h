// Human sizes: "4M" <-> 4194304.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkvault/status.h"

namespace chunkvault {

// Parses a byte count with an optional K, M, G or T suffix (powers of 1024;
// "KiB"/"MB" spellings are accepted as the same). Rejects anything else,
// naming the bad text.
Result<uint64_t> ParseSize(std::string_view text);

// 1536 -> "1.5 KiB"; below 1 KiB: "512 B".
std::string FormatSize(uint64_t bytes);

}  // namespace chunkvault
