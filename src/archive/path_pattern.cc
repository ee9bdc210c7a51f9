#include "archive/path_pattern.h"

#include <fnmatch.h>

namespace chunkvault {
namespace {

std::vector<std::string_view> Split(std::string_view path) {
  std::vector<std::string_view> out;
  while (!path.empty()) {
    const size_t slash = path.find('/');
    const std::string_view part = path.substr(0, slash);
    if (!part.empty()) out.push_back(part);
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool MatchPart(const std::string& pattern, std::string_view name) {
  return ::fnmatch(pattern.c_str(), std::string(name).c_str(), 0) == 0;
}

// parts[i..] against names[j..]; "**" takes any number of names.
bool MatchFrom(const std::vector<std::string>& parts, size_t i,
               const std::vector<std::string_view>& names, size_t j) {
  for (; i < parts.size(); ++i, ++j) {
    if (parts[i] == "**") {
      for (size_t k = j; k <= names.size(); ++k)
        if (MatchFrom(parts, i + 1, names, k)) return true;
      return false;
    }
    if (j == names.size() || !MatchPart(parts[i], names[j])) return false;
  }
  return j == names.size();
}

}  // namespace

Result<PathPattern> PathPattern::Parse(std::string_view text) {
  PathPattern p;
  p.text_ = std::string(text);
  if (!text.empty() && text.front() == '!') {
    p.negated_ = true;
    text.remove_prefix(1);
  }
  if (!text.empty() && text.back() == '/') {
    p.dirs_only_ = true;
    while (!text.empty() && text.back() == '/') text.remove_suffix(1);
  }
  if (text.find('/') != std::string_view::npos) p.anchored_ = true;
  for (std::string_view part : Split(text)) p.parts_.emplace_back(part);
  if (p.parts_.empty())
    return Fail(ErrorCode::kInvalidArgument, "empty path pattern '" + p.text_ + "'");
  return p;
}

bool PathPattern::Matches(std::string_view path, bool is_dir) const {
  if (dirs_only_ && !is_dir) return false;
  const std::vector<std::string_view> names = Split(path);
  if (names.empty()) return false;
  if (!anchored_) return parts_.size() == 1 && MatchPart(parts_[0], names.back());
  return MatchFrom(parts_, 0, names, 0);
}

bool MatchesLast(const std::vector<PathPattern>& patterns, std::string_view path, bool is_dir) {
  for (auto it = patterns.rbegin(); it != patterns.rend(); ++it)
    if (it->Matches(path, is_dir)) return !it->negated();
  return false;
}

}  // namespace chunkvault
