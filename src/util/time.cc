#include "chunkvault/time.h"

#include <cstdio>
#include <ctime>
#include <string>

namespace chunkvault {

std::string FormatUtc(int64_t unix_seconds, const char* format) {
  time_t t = static_cast<time_t>(unix_seconds);
  struct tm tm;
  char buf[64];
  // A time beyond what struct tm holds (a hostile manifest's) stays a number.
  if (gmtime_r(&t, &tm) == nullptr || std::strftime(buf, sizeof buf, format, &tm) == 0)
    return "@" + std::to_string(unix_seconds);
  return buf;
}

std::string FormatRfc3339(int64_t unix_seconds) {
  return FormatUtc(unix_seconds, "%Y-%m-%dT%H:%M:%SZ");
}

Result<int64_t> ParseRfc3339(std::string_view text) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid time '" + std::string(text) + "' (expected YYYY-MM-DDTHH:MM:SSZ)");
  };
  if (text.size() != 20) return bad();
  static constexpr std::string_view kPattern = "dddd-dd-ddTdd:dd:ddZ";
  for (size_t i = 0; i < kPattern.size(); ++i) {
    if (kPattern[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != kPattern[i])
      return bad();
  }
  auto num = [&](size_t pos, size_t len) {
    int v = 0;
    for (size_t i = pos; i < pos + len; ++i) v = v * 10 + (text[i] - '0');
    return v;
  };
  struct tm tm = {};
  tm.tm_year = num(0, 4) - 1900;
  tm.tm_mon = num(5, 2) - 1;
  tm.tm_mday = num(8, 2);
  tm.tm_hour = num(11, 2);
  tm.tm_min = num(14, 2);
  tm.tm_sec = num(17, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
      tm.tm_min > 59 || tm.tm_sec > 60)
    return bad();
  int64_t t = static_cast<int64_t>(timegm(&tm));
  // timegm normalises impossible dates (Feb 30); round-trip to reject them.
  if (FormatRfc3339(t) != text) return bad();
  return t;
}

}  // namespace chunkvault
