#include "chunkvault/size.h"

#include <cctype>
#include <cstdio>

namespace chunkvault {

Result<uint64_t> ParseSize(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid size '" + std::string(text) +
                    "' (expected a number with an optional K, M, G or T suffix)");
  };
  size_t i = 0;
  uint64_t value = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    uint64_t next = value * 10 + uint64_t(text[i] - '0');
    if (next / 10 != value) return bad();
    value = next;
    ++i;
  }
  if (i == 0) return bad();
  std::string suffix;
  for (; i < text.size(); ++i) suffix += char(std::toupper(static_cast<unsigned char>(text[i])));
  int shift = 0;
  if (suffix.empty() || suffix == "B") shift = 0;
  else if (suffix == "K" || suffix == "KB" || suffix == "KIB") shift = 10;
  else if (suffix == "M" || suffix == "MB" || suffix == "MIB") shift = 20;
  else if (suffix == "G" || suffix == "GB" || suffix == "GIB") shift = 30;
  else if (suffix == "T" || suffix == "TB" || suffix == "TIB") shift = 40;
  else return bad();
  if (shift > 0 && (value >> (64 - shift)) != 0) return bad();
  return value << shift;
}

std::string FormatSize(uint64_t bytes) {
  static const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double v = double(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 5) {
    v /= 1024;
    ++unit;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v < 10 ? "%.2f %s" : v < 100 ? "%.1f %s" : "%.0f %s", v,
                kUnits[unit]);
  return buf;
}

}  // namespace chunkvault
