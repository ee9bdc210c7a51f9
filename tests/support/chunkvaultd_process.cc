#include "support/chunkvaultd_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sstream>
#include <stdexcept>
#include <vector>

namespace chunkvault::testing {

ChunkvaultdProcess::ChunkvaultdProcess(const std::string& binary, const std::string& config_dir,
                                       const std::string& log_path) {
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

ChunkvaultdProcess::~ChunkvaultdProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

}  // namespace chunkvault::testing
