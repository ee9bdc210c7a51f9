// chunkvault's side of PBS's transport (PROTOCOL.md §1-2): a TLS
// connection to chunkvaultd (or PBS) whose certificate is trusted only if
// OpenSSL's chain check passes or its SHA-256 fingerprint is the one the
// user pinned (an unknown one is refused, naming it: no silent trust);
// HTTP/1.1 calls with PBS's authentication; and the upgrade to HTTP/2 for
// a backup or reader session (nghttp2 as the client, on a thread of the
// session's own).
//
// Thread-safety: a Connection is used by one thread at a time; an
// H2Session's Start and Call may be used from any thread at once.
#pragma once

#include <cstdint>
#include <future>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "client/repository.h"

namespace chunkvault::client {

struct Credentials {
  // A token's secret (auth-id "user@realm!name") or a user's password.
  std::string secret;
  // "aa:bb:..." (any case); empty: only a certificate OpenSSL trusts.
  std::string fingerprint;
};

struct Response {
  int status = 0;
  std::string content_type;
  Bytes body;
};

// Turns a non-2xx answer into an error (its text, with the status), and a
// JSON answer into its "data".
Result<nlohmann::json> DataOf(const Response& r);

// The HTTP/2 phase of a session: requests as PBS's client sends them
// (path without "/api2/json", parameters in the query).
class H2Session {
 public:
  virtual ~H2Session() = default;
  // Sends a request at once; the answer comes when it comes. Many may be
  // in flight.
  virtual std::future<Result<Response>> Start(
      const std::string& method, const std::string& path,
      const std::vector<std::pair<std::string, std::string>>& query, Bytes body,
      const std::string& content_type) = 0;
  // A request and its answer's data (DataOf).
  Result<nlohmann::json> Call(const std::string& method, const std::string& path,
                              const std::vector<std::pair<std::string, std::string>>& query = {},
                              Bytes body = {}, const std::string& content_type = "");
};

class Connection {
 public:
  // Connects and checks the certificate; a user (not a token) logs in for
  // a ticket.
  static Result<std::unique_ptr<Connection>> Open(const Repository& repo,
                                                  const Credentials& credentials);
  virtual ~Connection() = default;

  // The server certificate's fingerprint.
  virtual const std::string& fingerprint() const = 0;
  // An HTTP/1.1 call; `path` from "/api2/json/...", `query` form-encoded;
  // a JSON `body` is sent as application/json.
  virtual Result<Response> Request(const std::string& method, const std::string& path,
                                   const std::vector<std::pair<std::string, std::string>>& query,
                                   const nlohmann::json* body = nullptr) = 0;
  // GET `path`?query with Upgrade: `protocol`; the connection is then the
  // session's (this object is spent).
  virtual Result<std::unique_ptr<H2Session>> Upgrade(
      const std::string& path, const std::vector<std::pair<std::string, std::string>>& query,
      const std::string& protocol) = 0;
};

// Form encoding of query parameters (PBS's DEFAULT_ENCODE_SET and more).
std::string EncodeQuery(const std::vector<std::pair<std::string, std::string>>& query);

}  // namespace chunkvault::client
