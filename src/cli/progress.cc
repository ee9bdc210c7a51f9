#include "cli/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>

#include "chunkvault/size.h"

namespace chunkvault::cli {

namespace {
constexpr auto kInterval = std::chrono::milliseconds(250);
}

ProgressLine::ProgressLine()
    : enabled_(::isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_(start_ - kInterval) {}  // the first update draws at once

ProgressLine::~ProgressLine() { Clear(); }

bool ProgressLine::Due(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - last_ < kInterval) return false;
  last_ = now;
  return true;
}

void ProgressLine::Draw(const std::string& text) {
  // One line: cut to the terminal's width (a wrapped line would not be
  // cleared), never inside a UTF-8 sequence; control bytes shown as '?'.
  std::string line;
  struct winsize ws {};
  const size_t width =
      ::ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 ? ws.ws_col - 1 : 79;
  size_t columns = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    const bool continuation = (c & 0xc0) == 0x80;
    if (!continuation && columns == width) break;
    if (!continuation) ++columns;
    line += c < 0x20 || c == 0x7f ? '?' : char(c);
  }
  std::fprintf(stderr, "\r\033[K%s", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

void ProgressLine::Clear() {
  if (!drawn_) return;
  std::fprintf(stderr, "\r\033[K");
  std::fflush(stderr);
  drawn_ = false;
}

double ProgressLine::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

std::string ProgressLine::Rate(uint64_t bytes) const {
  double s = seconds();
  if (s <= 0) return "-";
  return FormatSize(uint64_t(double(bytes) / s)) + "/s";
}

}  // namespace chunkvault::cli
