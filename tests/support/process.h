// Runs a program and captures what it prints: for tests that drive the
// chunkvault binary as a user would.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace chunkvault::testing {

struct RunResult {
  int exit_code = -1;   // exit status, or -1 if killed by a signal
  int signal = 0;       // the signal that killed it, if any
  bool timed_out = false;  // killed for running past RunOptions::timeout_seconds
  std::string out, err;
};

struct RunOptions {
  std::map<std::string, std::string> env;  // added to (or replacing) ours
  std::vector<std::string> unset_env;
  std::string stdin_data;
  bool stderr_tty = false;  // give the child a pseudo-terminal as stderr
  // Kill the child (SIGKILL) if it runs longer: a bound for tests of
  // things that must not hang, never a way to wait for something.
  int timeout_seconds = 0;
};

RunResult Run(const std::vector<std::string>& argv, const RunOptions& options = {});

// A started process, for running several at once.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const RunOptions& options = {});
  ~Process();
  RunResult Wait();

 private:
  int pid_ = -1;
  int timeout_seconds_ = 0;
  int out_fd_ = -1, err_fd_ = -1;
};

}  // namespace chunkvault::testing
