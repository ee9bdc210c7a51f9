// RFC 3339 UTC timestamps as PBS writes them in snapshot names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkvault/status.h"

namespace chunkvault {

// A UTC time through strftime(3): FormatUtc(t, "%Y%m%d").
std::string FormatUtc(int64_t unix_seconds, const char* format);

// 1593179765 -> "2020-06-26T13:56:05Z".
std::string FormatRfc3339(int64_t unix_seconds);

// Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (the snapshot directory form).
Result<int64_t> ParseRfc3339(std::string_view text);

}  // namespace chunkvault
