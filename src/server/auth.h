// Who sent a request, as PBS's server decides it (PROTOCOL.md §2):
//
//  - a ticket in the cookie "__Host-PBSAuthCookie" or "PBSAuthCookie"
//    ("PBS:<userid>:<hex epoch>::<signature>", valid for 2 hours), which
//    for any method but GET also needs the header CSRFPreventionToken;
//  - else "Authorization: PBSAPIToken <user@realm!name>:<secret>" (or '='
//    after PBSAPIToken), the secret %-encoded.
//
// chunkvaultd signs tickets and CSRF tokens with HMAC-SHA256 under a key
// of its own (authkey.key, 32 random bytes, 0600); clients treat both as
// opaque text. A user or token removed from the configuration loses access
// at once, tickets included.
//
// Thread-safety: TicketKeys is immutable; Authenticator's methods may be
// called from any thread (its cache of checked token secrets is locked).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "chunkvault/bytes.h"
#include "chunkvault/env.h"
#include "chunkvault/status.h"
#include "server/auth_id.h"
#include "server/http_message.h"
#include "server/server_config.h"
#include "util/thread_annotations.h"

namespace chunkvault::server {

inline constexpr int64_t kTicketLifetime = 7200;  // seconds, as PBS
inline constexpr int64_t kTicketClockSkew = 300;  // a ticket may come from 5 min ahead

class TicketKeys {
 public:
  // Reads the key file, or makes it (0600) if missing. kCorrupt for a file
  // that is not 32 bytes.
  static Result<TicketKeys> LoadOrCreate(Env& env, const std::string& path);
  explicit TicketKeys(Bytes key) : key_(std::move(key)) {}

  std::string MakeTicket(const AuthId& user, int64_t now) const;
  // The user of a ticket this key signed, issued in [now - 7200, now + 300].
  std::optional<AuthId> CheckTicket(std::string_view ticket, int64_t now) const;
  std::string MakeCsrfToken(const AuthId& user, int64_t now) const;
  bool CheckCsrfToken(std::string_view token, const AuthId& user, int64_t now) const;

 private:
  std::string Sign(std::string_view text) const;
  Bytes key_;
};

class Authenticator {
 public:
  explicit Authenticator(TicketKeys keys) : keys_(std::move(keys)) {}

  // The auth-id a request carries proof for, under `config`; kPermissionDenied
  // ("authentication failed") otherwise. The message never holds a secret.
  Result<AuthId> Authenticate(const HttpRequest& request, const ServerConfig& config, int64_t now);

  // POST /access/ticket: checks the password (or a valid ticket of the
  // user, PBS's "ticket refresh") and makes a new ticket and CSRF token.
  struct Login {
    AuthId user;
    std::string ticket;
    std::string csrf_token;
  };
  Result<Login> LogIn(std::string_view username, std::string_view password,
                      const ServerConfig& config, int64_t now);

 private:
  // Whether `secret` is the token's secret: yescrypt once, then a SHA-256
  // of the secret remembered against the hash it matched, so the next
  // requests of a session cost no yescrypt.
  bool CheckTokenSecret(const AuthId& token, std::string_view secret, const ServerConfig& config);

  TicketKeys keys_;
  std::mutex mu_;
  // tokenid -> (stored hash, SHA-256 of the secret that matched it).
  std::map<std::string, std::pair<std::string, Digest>> checked_ CV_GUARDED_BY(mu_);
};

}  // namespace chunkvault::server
