#include "support/scripted_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace chunkvault::testing {

struct ScriptedServer::Impl {
  int listen_fd = -1;
  int wake[2] = {-1, -1};  // written to stop the server
  int port = 0;
  bool tls = false;
  bool keep_alive = false;
  int connections = 0;
  SSL_CTX* ctx = nullptr;
  std::string fingerprint;
  std::mutex mu;
  std::deque<ScriptedReply> script;
  std::vector<RecordedRequest> requests;
};

namespace {

// A connection, plain or TLS.
struct Conn {
  int fd;
  SSL* ssl = nullptr;
  long Read(char* buf, size_t n) { return ssl ? SSL_read(ssl, buf, int(n)) : ::read(fd, buf, n); }
  void Write(const std::string& s) {
    if (ssl) SSL_write(ssl, s.data(), int(s.size()));
    else (void)!::write(fd, s.data(), s.size());
  }
};

void MakeCertificate(SSL_CTX* ctx, std::string& fingerprint) {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* cert = X509_new();
  ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
  X509_set_pubkey(cert, key);
  X509_NAME* name = X509_get_subject_name(cert);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("chunkvault-test"), -1, -1, 0);
  X509_set_issuer_name(cert, name);
  X509_sign(cert, key, EVP_sha256());
  SSL_CTX_use_certificate(ctx, cert);
  SSL_CTX_use_PrivateKey(ctx, key);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  X509_digest(cert, EVP_sha256(), md, &len);
  static const char* hex = "0123456789abcdef";
  for (unsigned i = 0; i < len; ++i) {
    fingerprint += hex[md[i] >> 4];
    fingerprint += hex[md[i] & 15];
  }
  X509_free(cert);
  EVP_PKEY_free(key);
}

// Reads one request; false if the peer closed first.
bool ReadRequest(Conn& c, RecordedRequest& req) {
  std::string data;
  char buf[65536];
  size_t header_end;
  while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
    long n = c.Read(buf, sizeof buf);
    if (n <= 0) return false;
    data.append(buf, size_t(n));
  }
  std::string head = data.substr(0, header_end);
  data.erase(0, header_end + 4);
  size_t line_end = head.find("\r\n");
  std::string first = head.substr(0, line_end);
  req.method = first.substr(0, first.find(' '));
  req.target = first.substr(first.find(' ') + 1);
  req.target = req.target.substr(0, req.target.rfind(' '));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t e = head.find("\r\n", pos);
    if (e == std::string::npos) e = head.size();
    std::string line = head.substr(pos, e - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      std::transform(name.begin(), name.end(), name.begin(), ::tolower);
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(' '));
      req.headers[name] = value;
    }
    pos = e + 2;
  }
  size_t length = req.headers.count("content-length") ? std::stoul(req.headers["content-length"]) : 0;
  while (data.size() < length) {
    long n = c.Read(buf, sizeof buf);
    if (n <= 0) return false;
    data.append(buf, size_t(n));
  }
  req.body = data.substr(0, length);
  return true;
}

}  // namespace

ScriptedServer::ScriptedServer(bool tls, bool keep_alive) : impl_(new Impl) {
  impl_->tls = tls;
  impl_->keep_alive = keep_alive;
  impl_->listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(impl_->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(impl_->listen_fd, 16) != 0)
    throw std::runtime_error("cannot listen");
  socklen_t len = sizeof addr;
  ::getsockname(impl_->listen_fd, reinterpret_cast<sockaddr*>(&addr), &len);
  impl_->port = ntohs(addr.sin_port);
  if (::pipe2(impl_->wake, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
  if (tls) {
    impl_->ctx = SSL_CTX_new(TLS_server_method());
    MakeCertificate(impl_->ctx, impl_->fingerprint);
  }
  thread_ = std::thread([this] { Serve(); });
}

ScriptedServer::~ScriptedServer() {
  (void)!::write(impl_->wake[1], "x", 1);
  thread_.join();
  ::close(impl_->listen_fd);
  ::close(impl_->wake[0]);
  ::close(impl_->wake[1]);
  if (impl_->ctx) SSL_CTX_free(impl_->ctx);
  delete impl_;
}

void ScriptedServer::Add(ScriptedReply reply) {
  std::lock_guard lock(impl_->mu);
  impl_->script.push_back(std::move(reply));
}

std::string ScriptedServer::url() const {
  return std::string(impl_->tls ? "https" : "http") + "://127.0.0.1:" + std::to_string(impl_->port);
}

std::string ScriptedServer::fingerprint() const { return impl_->fingerprint; }

std::vector<RecordedRequest> ScriptedServer::requests() {
  std::lock_guard lock(impl_->mu);
  return impl_->requests;
}

int ScriptedServer::connections() {
  std::lock_guard lock(impl_->mu);
  return impl_->connections;
}

void ScriptedServer::Serve() {
  for (;;) {
    pollfd fds[2] = {{impl_->listen_fd, POLLIN, 0}, {impl_->wake[0], POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) continue;
    if (fds[1].revents) return;
    int fd = ::accept4(impl_->listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    {
      std::lock_guard lock(impl_->mu);
      ++impl_->connections;
    }
    Conn c{fd};
    if (impl_->tls) {
      c.ssl = SSL_new(impl_->ctx);
      SSL_set_fd(c.ssl, fd);
      if (SSL_accept(c.ssl) != 1) {  // e.g. the client rejected the certificate
        SSL_free(c.ssl);
        ::close(fd);
        continue;
      }
    }
    // One request per connection ("Connection: close"), unless keep-alive.
    RecordedRequest req;
    while (ReadRequest(c, req)) {
      ScriptedReply reply = ScriptedReply::Status(500, "script exhausted");
      {
        std::lock_guard lock(impl_->mu);
        impl_->requests.push_back(req);
        if (!impl_->script.empty()) {
          reply = std::move(impl_->script.front());
          impl_->script.pop_front();
        }
      }
      if (reply.kind == ScriptedReply::Kind::kRespond) {
        std::string out = "HTTP/1.1 " + std::to_string(reply.status) + " Scripted\r\n";
        for (const auto& [k, v] : reply.headers) out += k + ": " + v + "\r\n";
        if (req.method != "HEAD" || !reply.headers.count("Content-Length"))
          out += "Content-Length: " + std::to_string(req.method == "HEAD" ? 0 : reply.body.size()) + "\r\n";
        out += impl_->keep_alive ? "\r\n" : "Connection: close\r\n\r\n";
        if (req.method != "HEAD") out += reply.body;
        c.Write(out);
      } else if (reply.kind == ScriptedReply::Kind::kNoAnswer) {
        // Wait until the client hangs up (or the server stops).
        pollfd w[2] = {{fd, POLLIN, 0}, {impl_->wake[0], POLLIN, 0}};
        ::poll(w, 2, -1);
        if (w[1].revents) {
          if (c.ssl) SSL_free(c.ssl);
          ::close(fd);
          return;
        }
      } else {
        // Reset: RST instead of a clean close.
        linger l{1, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        break;
      }
      if (!impl_->keep_alive || reply.kind != ScriptedReply::Kind::kRespond) break;
      req = RecordedRequest();
    }
    if (c.ssl) {
      SSL_shutdown(c.ssl);
      SSL_free(c.ssl);
    }
    ::close(fd);
  }
}

}  // namespace chunkvault::testing
