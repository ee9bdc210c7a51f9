#include "archive/exclude_rules.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/fd.h"

namespace chunkvault {
namespace {

// A .pxarexclude larger than this is not read (a warning says so).
constexpr size_t kMaxExcludeFile = 1 << 20;

// "./a/b" -> "a/b", "." -> "".
std::string FromRoot(const std::string& rel) { return rel.size() <= 2 ? "" : rel.substr(2); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

}  // namespace

std::string ExcludeRules::EnterDirectory(int fd, const std::string& rel) {
  UniqueFd file(::openat(fd, ".pxarexclude", O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!file) {
    if (errno == ENOENT) return "";
    return "cannot read " + rel + "/.pxarexclude: " + std::strerror(errno) + " (ignored)";
  }
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(file.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0)
      return "cannot read " + rel + "/.pxarexclude: " + std::strerror(errno) + " (ignored)";
    if (n == 0) break;
    text.append(buf, size_t(n));
    if (text.size() > kMaxExcludeFile) return rel + "/.pxarexclude is larger than 1 MiB (ignored)";
  }
  Scope scope{FromRoot(rel), {}};
  std::string warning;
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    const std::string_view line = Trim(rest.substr(0, nl));
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line.empty() || line.front() == '#') continue;
    auto pattern = PathPattern::Parse(line);
    if (!pattern) {
      warning = rel + "/.pxarexclude: " + pattern.error().message() + " (ignored)";
      continue;
    }
    scope.patterns.push_back(std::move(*pattern));
  }
  if (!scope.patterns.empty()) scopes_.push_back(std::move(scope));
  return warning;
}

void ExcludeRules::LeaveDirectory(const std::string& rel) {
  if (scopes_.size() > 1 && scopes_.back().base == FromRoot(rel)) scopes_.pop_back();
}

bool ExcludeRules::Skip(const std::string& rel, bool is_dir) {
  const std::string path = FromRoot(rel);
  if (path == ".pxarexclude-cli") return true;
  for (auto scope = scopes_.rbegin(); scope != scopes_.rend(); ++scope) {
    // Only scopes of directories above the path apply.
    std::string_view below = path;
    if (!scope->base.empty()) {
      if (!path.starts_with(scope->base) || path.size() <= scope->base.size() ||
          path[scope->base.size()] != '/')
        continue;
      below.remove_prefix(scope->base.size() + 1);
    }
    for (auto p = scope->patterns.rbegin(); p != scope->patterns.rend(); ++p)
      if (p->Matches(below, is_dir)) return !p->negated();
  }
  return false;
}

}  // namespace chunkvault
