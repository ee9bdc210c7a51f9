// An HTTP proxy on 127.0.0.1 that stands in front of a real (plain HTTP)
// S3 server and injects faults, for tests of whole jobs under bad
// networks: each request is, by a seeded random draw or a rule,
//   - answered 503 SlowDown by the proxy itself,
//   - cut: the connection is reset before any answer,
//   - cut mid-answer: half the server's response, then a reset,
//   - delayed before it is forwarded,
//   - or forwarded untouched.
// One request per connection (the proxy asks the server to close and
// closes after each answer), so faults land between any two requests. A
// request line that drew a fault twice goes through the third time, so a
// client that retries at least three times always gets through: the tests
// are about recovering, not about luck.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace chunkvault::testing {

struct FaultRates {
  double slow_down = 0;   // 503 SlowDown
  double reset = 0;       // reset before answering
  double cut_answer = 0;  // half an answer, then reset
  double delay = 0;       // forwarded after delay_ms
  int delay_ms = 300;
};

class FaultProxy {
 public:
  // `upstream`: "http://127.0.0.1:PORT".
  FaultProxy(std::string upstream, FaultRates rates, unsigned seed);
  ~FaultProxy();

  std::string url() const;  // http://127.0.0.1:<port>
  // A rule before the random draw: for a request whose first line (e.g.
  // "POST /bucket?delete HTTP/1.1") contains `needle`, answer `status` with
  // an S3 error document of `code` (every time).
  void AnswerAlways(std::string needle, int status, std::string code);

  // Faults injected so far, by kind ("slow-down", "reset", "cut-answer",
  // "delay", "rule"), and requests forwarded whole.
  std::map<std::string, int> injected();
  int forwarded();

 private:
  void Accept();
  void Handle(int client);
  std::string Draw(const std::string& first_line);

  const std::string upstream_host_;
  const int upstream_port_;
  const FaultRates rates_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  unsigned seed_;
  std::vector<std::tuple<std::string, int, std::string>> rules_;
  std::map<std::string, int> injected_;
  std::map<std::string, int> faults_by_request_;  // request line -> faults drawn
  int forwarded_ = 0;
  std::vector<std::thread> workers_;
  std::thread acceptor_;
};

}  // namespace chunkvault::testing
