// The seam between chunkvaultd's transport (TLS, HTTP/1.1, HTTP/2:
// server/tls_server.h) and what answers requests (server/rest_api.h and
// the backup and reader sessions). The transport parses and limits; the
// service decides.
//
// Thread-safety: Handle methods run on worker threads, many at once; they
// may block (disk, S3).
#pragma once

#include <chrono>
#include <memory>

#include "server/http_message.h"

namespace chunkvault::server {

// A connection's protocol after its HTTP/1.1 upgrade: PBS's backup or
// reader protocol, spoken over HTTP/2 on the same TLS stream.
class ProtocolSession {
 public:
  virtual ~ProtocolSession() = default;
  // One request of the session (path without "/api2/json"). Requests of a
  // session may be handled at once, in any order.
  virtual HttpResponse Handle(HttpRequest request) = 0;
  // The connection is gone (the client closed it, it failed, or the server
  // shut it down); called once, after every Handle has returned.
  virtual void End() = 0;
};

struct Handled {
  HttpResponse response;
  // Answer no earlier than this (PBS delays failed authentications).
  std::chrono::steady_clock::time_point not_before{};
  // With response.status 101: the protocol that takes over the connection.
  std::unique_ptr<ProtocolSession> upgrade;
};

class HttpService {
 public:
  virtual ~HttpService() = default;
  // An HTTP/1.1 request (its body at most TlsServerOptions::max_body_bytes).
  virtual Handled Handle(HttpRequest request) = 0;
};

}  // namespace chunkvault::server
