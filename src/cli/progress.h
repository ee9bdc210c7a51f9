// A one-line progress display on stderr, redrawn at most a few times a
// second, and only when stderr is a terminal: piped or redirected output
// stays clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace chunkvault::cli {

class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();  // clears the line

  bool enabled() const { return enabled_; }
  // Redraws if enough time has passed since the last draw (or `force`).
  // `text` is built only when drawing, so a disabled line costs nothing.
  template <class F>
  void Update(F&& text, bool force = false) {
    if (!enabled_ || !Due(force)) return;
    Draw(text());
  }
  void Clear();

  double seconds() const;  // since construction
  // "12.3 MiB/s" for `bytes` over the time so far.
  std::string Rate(uint64_t bytes) const;

 private:
  bool Due(bool force);
  void Draw(const std::string& text);

  bool enabled_;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace chunkvault::cli
