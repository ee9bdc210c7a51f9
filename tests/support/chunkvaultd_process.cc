#include "support/chunkvaultd_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace chunkvault::testing {

ChunkvaultdProcess::ChunkvaultdProcess(const std::string& binary, const std::string& config_dir,
                                       const std::string& log_path)
    : log_path_(log_path) {
  int out[2];
  if (::pipe(out) != 0) throw std::runtime_error("pipe");
  pid_ = ::fork();
  if (pid_ == 0) {
    ::dup2(out[1], 1);
    int log = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (log >= 0) ::dup2(log, 2);
    ::close(out[0]);
    ::execl(binary.c_str(), binary.c_str(), "--config-dir", config_dir.c_str(), "--listen",
            "127.0.0.1:0", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(out[1]);
  std::string line;
  char c;
  while (::read(out[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out[0]);
  // "chunkvaultd: listening on 127.0.0.1 port N, fingerprint F"
  std::istringstream words(line);
  std::string w, prev;
  while (words >> w) {
    if (prev == "port") port_ = std::stoi(w);
    if (prev == "fingerprint") fingerprint_ = w;
    prev = w;
  }
  if (port_ == 0) throw std::runtime_error("chunkvaultd did not start: " + line);
}

int ChunkvaultdProcess::Stop() {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool ChunkvaultdProcess::WaitForLog(const std::string& text, int count, int timeout_seconds) {
  const int fd = ::inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (fd < 0 || ::inotify_add_watch(fd, log_path_.c_str(), IN_MODIFY) < 0)
    throw std::runtime_error("inotify on " + log_path_);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  bool found = false;
  for (;;) {
    std::ifstream in(log_path_);
    std::stringstream all;
    all << in.rdbuf();
    const std::string log = all.str();
    int seen = 0;
    for (size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++seen;
    if (seen >= count) {
      found = true;
      break;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) > 0) {
      char events[4096];
      while (::read(fd, events, sizeof events) > 0) {
      }
    }
  }
  ::close(fd);
  return found;
}

ChunkvaultdProcess::~ChunkvaultdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

}  // namespace chunkvault::testing
