// chunkvaultd's transport: TLS on one port (Boost.Asio/Beast over OpenSSL,
// TLS 1.2 and 1.3), HTTP/1.1 requests (Beast's parser) answered by an
// HttpService, and after a 101 upgrade HTTP/2 on the same stream (nghttp2)
// answered by the ProtocolSession the service returned — PBS's transport
// (PROTOCOL.md §1).
//
// Limits, per connection (docs/server.md): request headers 16 KiB, HTTP/1.1
// bodies `max_body_bytes`, HTTP/2 bodies `max_h2_body_bytes`, 200
// concurrent HTTP/2 streams; HTTP/2 data is acknowledged (its flow-control
// window reopened) only once its request was handled, so a connection holds
// at most its 32 MiB window of unhandled uploads. A TLS handshake or an
// HTTP/1.1 request must arrive within `request_timeout`; an idle HTTP/2
// connection is closed after `idle_timeout`.
//
// Thread-safety: Start and Shutdown from one controlling thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "chunkvault/status.h"
#include "server/http_service.h"

namespace chunkvault::server {

struct TlsServerOptions {
  std::string address = "::";  // IPv4 or IPv6 literal; "::" is dual stack
  uint16_t port = 8007;        // 0: any free port (see TlsServer::port())
  std::string key_path;        // PEM
  std::string cert_path;       // PEM
  size_t io_threads = 2;       // TLS and HTTP framing
  size_t workers = 32;         // handlers (they block on disk and S3)
  size_t max_connections = 256;
  size_t max_body_bytes = 512 << 10;              // HTTP/1.1, as PBS
  size_t max_h2_body_bytes = (16u << 20) + 4096;  // a chunk or blob upload
  std::chrono::seconds request_timeout{30};
  std::chrono::seconds idle_timeout{600};
  // One line per event worth a log (connections refused, protocol errors).
  std::function<void(const std::string&)> log;
};

class TlsServer {
 public:
  // Listens and serves on background threads until Shutdown.
  static Result<std::unique_ptr<TlsServer>> Start(const TlsServerOptions& options,
                                                  HttpService& service);
  virtual ~TlsServer() = default;

  // The port listened on (the one chosen when options.port was 0).
  virtual uint16_t port() const = 0;
  // Stops accepting and closes idle connections at once; lets the others
  // (running backups, restores) end for up to `grace`, then closes them
  // (their sessions End, which aborts an unfinished backup). Returns when
  // every connection and handler is done.
  virtual void Shutdown(std::chrono::seconds grace) = 0;
};

}  // namespace chunkvault::server
