// A chunkvaultd started for a test: on 127.0.0.1 and a free port, with a
// configuration directory the test prepared; its log goes to a file.
#pragma once

#include <string>

namespace chunkvault::testing {

class ChunkvaultdProcess {
 public:
  // Starts `binary` and waits for its "listening on" line (not a sleep).
  ChunkvaultdProcess(const std::string& binary, const std::string& config_dir,
                     const std::string& log_path);
  ~ChunkvaultdProcess();  // SIGKILL if still running

  int port() const { return port_; }
  const std::string& fingerprint() const { return fingerprint_; }
  // SIGTERM, then waits: the exit code.
  int Stop();
  // Waits (woken by inotify as the log grows) until the log holds `text`
  // `count` times; false after `timeout_seconds`, a bound, not a wait.
  bool WaitForLog(const std::string& text, int count = 1, int timeout_seconds = 60);

 private:
  std::string log_path_;
  int pid_ = -1;
  int port_ = 0;
  std::string fingerprint_;
};

}  // namespace chunkvault::testing
