#include "util/safe_name.h"

namespace chunkvault {

bool IsSafeName(std::string_view name, size_t max_size) {
  auto ok_first = [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  };
  auto ok_rest = [&](char c) { return ok_first(c) || c == '.' || c == '-'; };
  if (name.empty() || name.size() > max_size || !ok_first(name[0])) return false;
  for (size_t i = 1; i < name.size(); ++i)
    if (!ok_rest(name[i])) return false;
  return true;
}

}  // namespace chunkvault
