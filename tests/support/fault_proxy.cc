#include "support/fault_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <random>
#include <stdexcept>

namespace chunkvault::testing {

namespace {

void SendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return;
    done += size_t(n);
  }
}

// Closes with a TCP reset instead of a clean FIN.
void Reset(int fd) {
  linger l{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

// One whole request (head and Content-Length body) as raw bytes; empty if
// the client closed first.
std::string ReadRequest(int fd) {
  std::string data;
  char buf[65536];
  size_t end;
  while ((end = data.find("\r\n\r\n")) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    data.append(buf, size_t(n));
  }
  std::string head = data.substr(0, end);
  std::transform(head.begin(), head.end(), head.begin(), ::tolower);
  size_t length = 0;
  if (size_t at = head.find("\r\ncontent-length:"); at != std::string::npos)
    length = std::stoul(head.substr(at + 17));
  while (data.size() < end + 4 + length) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return "";
    data.append(buf, size_t(n));
  }
  return data;
}

int ConnectTo(const std::string& host, int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(uint16_t(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

std::string ErrorAnswer(int status, const std::string& code) {
  const std::string body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>" + code +
                           "</Code><Message>injected by the test proxy</Message></Error>";
  return "HTTP/1.1 " + std::to_string(status) + " Injected\r\nContent-Type: application/xml\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

}  // namespace

FaultProxy::FaultProxy(std::string upstream, FaultRates rates, unsigned seed)
    : upstream_host_(upstream.substr(7, upstream.rfind(':') - 7)),
      upstream_port_(std::stoi(upstream.substr(upstream.rfind(':') + 1))),
      rates_(rates),
      seed_(seed) {
  if (!upstream.starts_with("http://")) throw std::runtime_error("plain http upstream only");
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0)
    throw std::runtime_error("fault proxy: cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { Accept(); });
}

FaultProxy::~FaultProxy() {
  stop_ = true;
  acceptor_.join();
  ::close(listen_fd_);
  for (std::thread& t : workers_) t.join();
}

std::string FaultProxy::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

void FaultProxy::AnswerAlways(std::string needle, int status, std::string code) {
  std::lock_guard lock(mu_);
  rules_.emplace_back(std::move(needle), status, std::move(code));
}

std::map<std::string, int> FaultProxy::injected() {
  std::lock_guard lock(mu_);
  return injected_;
}

int FaultProxy::forwarded() {
  std::lock_guard lock(mu_);
  return forwarded_;
}

void FaultProxy::Accept() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;  // wakes to see stop_
    int client = ::accept(listen_fd_, nullptr, nullptr);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    workers_.emplace_back([this, client] { Handle(client); });
  }
}

std::string FaultProxy::Draw(const std::string& first_line) {
  std::lock_guard lock(mu_);
  std::mt19937 rng(seed_++);
  int& faults = faults_by_request_[first_line];
  const double x = std::uniform_real_distribution<double>(0, 1)(rng);
  double edge = 0;
  for (auto [name, rate] : {std::pair{"slow-down", rates_.slow_down},
                            {"reset", rates_.reset},
                            {"cut-answer", rates_.cut_answer},
                            {"delay", rates_.delay}}) {
    edge += rate;
    if (x >= edge) continue;
    if (std::string(name) != "delay" && faults >= 2) return "";
    if (std::string(name) != "delay") ++faults;
    return name;
  }
  return "";
}

void FaultProxy::Handle(int client) {
  const std::string request = ReadRequest(client);
  if (request.empty()) {
    ::close(client);
    return;
  }
  const std::string first = request.substr(0, request.find("\r\n"));
  {
    std::lock_guard lock(mu_);
    for (const auto& [needle, status, code] : rules_) {
      if (first.find(needle) == std::string::npos) continue;
      ++injected_["rule"];
      SendAll(client, ErrorAnswer(status, code));
      ::close(client);
      return;
    }
  }
  const std::string fault = Draw(first);
  if (!fault.empty()) {
    std::lock_guard lock(mu_);
    ++injected_[fault];
  }
  if (fault == "slow-down") {
    SendAll(client, ErrorAnswer(503, "SlowDown"));
    ::close(client);
    return;
  }
  if (fault == "reset") {
    Reset(client);
    return;
  }
  if (fault == "delay") std::this_thread::sleep_for(std::chrono::milliseconds(rates_.delay_ms));

  // Forward with "Connection: close" so the server ends its answer by
  // closing (no Connection header is signed by SigV4).
  const size_t head_end = request.find("\r\n\r\n");
  const std::string forwarded =
      request.substr(0, head_end) + "\r\nConnection: close" + request.substr(head_end);
  int server = ConnectTo(upstream_host_, upstream_port_);
  if (server < 0) {
    Reset(client);
    return;
  }
  SendAll(server, forwarded);
  std::string answer;
  char buf[65536];
  for (ssize_t n; (n = ::recv(server, buf, sizeof buf, 0)) > 0;) answer.append(buf, size_t(n));
  ::close(server);
  if (fault == "cut-answer") {
    SendAll(client, answer.substr(0, answer.size() / 2));
    Reset(client);
    return;
  }
  SendAll(client, answer);
  ::close(client);
  std::lock_guard lock(mu_);
  ++forwarded_;
}

}  // namespace chunkvault::testing
