#include "server/auth.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <charconv>
#include <cstdio>

#include "chunkvault/hash.h"
#include "server/secret_hash.h"

namespace chunkvault::server {
namespace {

constexpr size_t kKeySize = 32;

Error Denied() { return Error(ErrorCode::kPermissionDenied, "authentication failed"); }

bool SameText(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string HexTime(int64_t t) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%08llX", static_cast<unsigned long long>(t));
  return buf;
}

std::optional<int64_t> ParseHexTime(std::string_view text) {
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v, 16);
  if (ec != std::errc() || end != text.data() + text.size() || v > INT64_MAX) return std::nullopt;
  return static_cast<int64_t>(v);
}

bool Fresh(int64_t issued, int64_t now) {
  return issued <= now + kTicketClockSkew && now - issued <= kTicketLifetime;
}

// The value of cookie `name` in a Cookie header, %-decoded.
std::optional<std::string> CookieValue(const std::string& header, std::string_view name) {
  std::string_view rest = header;
  while (!rest.empty()) {
    auto semi = rest.find(';');
    std::string_view item = rest.substr(0, semi);
    rest.remove_prefix(semi == std::string_view::npos ? rest.size() : semi + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    auto eq = item.find('=');
    if (eq != std::string_view::npos && item.substr(0, eq) == name)
      return PercentDecode(item.substr(eq + 1));
  }
  return std::nullopt;
}

}  // namespace

Result<TicketKeys> TicketKeys::LoadOrCreate(Env& env, const std::string& path) {
  auto data = env.ReadFile(path, kKeySize);
  if (data) {
    if (data->size() != kKeySize)
      return Fail(ErrorCode::kCorrupt, path + ": not a " + std::to_string(kKeySize) + "-byte key");
    return TicketKeys(std::move(*data));
  }
  if (data.error().code() != ErrorCode::kNotFound) return std::unexpected(data.error());
  Bytes key(kKeySize);
  if (RAND_bytes(key.data(), static_cast<int>(key.size())) != 1)
    return Fail(ErrorCode::kInternal, "no random bytes for the ticket key");
  WriteOptions options;
  options.mode = 0600;
  options.sync = true;
  CV_ASSIGN_OR_RETURN(bool placed, env.WriteFileIfAbsent(path, key, options));
  if (!placed) return LoadOrCreate(env, path);  // another process made it first
  return TicketKeys(std::move(key));
}

std::string TicketKeys::Sign(std::string_view text) const {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(text.data()), text.size(), mac, &len);
  return Base64(ByteView(mac, len));
}

std::string TicketKeys::MakeTicket(const AuthId& user, int64_t now) const {
  const std::string data = "PBS:" + user.ToString() + ":" + HexTime(now);
  return data + "::" + Sign(data);
}

std::optional<AuthId> TicketKeys::CheckTicket(std::string_view ticket, int64_t now) const {
  // "PBS:<userid>:<HEX>::<signature>"; userids hold no ':'.
  auto sep = ticket.find("::");
  if (sep == std::string_view::npos || !ticket.starts_with("PBS:")) return std::nullopt;
  std::string_view data = ticket.substr(0, sep), signature = ticket.substr(sep + 2);
  if (!SameText(Sign(data), signature)) return std::nullopt;
  std::string_view body = data.substr(4);
  auto colon = body.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  auto issued = ParseHexTime(body.substr(colon + 1));
  auto user = AuthId::ParseUser(body.substr(0, colon));
  if (!issued || !user || !Fresh(*issued, now)) return std::nullopt;
  return *user;
}

std::string TicketKeys::MakeCsrfToken(const AuthId& user, int64_t now) const {
  const std::string stamp = HexTime(now);
  return stamp + ":" + Sign("CSRF:" + stamp + ":" + user.ToString());
}

bool TicketKeys::CheckCsrfToken(std::string_view token, const AuthId& user, int64_t now) const {
  auto colon = token.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view stamp = token.substr(0, colon);
  auto issued = ParseHexTime(stamp);
  if (!issued || !Fresh(*issued, now)) return false;
  return SameText(Sign("CSRF:" + std::string(stamp) + ":" + user.ToString()),
                  token.substr(colon + 1));
}

bool Authenticator::CheckTokenSecret(const AuthId& token, std::string_view secret,
                                     const ServerConfig& config) {
  const std::string* hash = config.SecretHashOf(token);
  if (!hash) return false;
  const Digest fingerprint = Sha256Of(AsBytes(secret));
  {
    std::lock_guard lock(mu_);
    auto it = checked_.find(token.ToString());
    if (it != checked_.end() && it->second.first == *hash)
      return CRYPTO_memcmp(it->second.second.data(), fingerprint.data(), fingerprint.size()) == 0;
  }
  if (!VerifySecret(secret, *hash)) return false;
  std::lock_guard lock(mu_);
  checked_[token.ToString()] = {*hash, fingerprint};
  return true;
}

Result<AuthId> Authenticator::Authenticate(const HttpRequest& request, const ServerConfig& config,
                                           int64_t now) {
  if (const std::string* cookies = request.Header("cookie")) {
    for (const char* name : {"__Host-PBSAuthCookie", "PBSAuthCookie"}) {
      auto ticket = CookieValue(*cookies, name);
      if (!ticket) continue;
      auto user = keys_.CheckTicket(*ticket, now);
      if (!user || !config.Has(*user)) return std::unexpected(Denied());
      if (request.method != "GET") {
        const std::string* csrf = request.Header("csrfpreventiontoken");
        if (!csrf || !keys_.CheckCsrfToken(*csrf, *user, now)) return std::unexpected(Denied());
      }
      return *user;
    }
  }
  const std::string* auth = request.Header("authorization");
  if (!auth) return std::unexpected(Denied());
  std::string_view value = *auth;
  if (!value.starts_with("PBSAPIToken") || value.size() < 12 ||
      (value[11] != ' ' && value[11] != '='))
    return std::unexpected(Denied());
  value.remove_prefix(12);
  auto colon = value.find(':');
  if (colon == std::string_view::npos) return std::unexpected(Denied());
  auto token = AuthId::Parse(value.substr(0, colon));
  auto secret = PercentDecode(value.substr(colon + 1));
  if (!token || !token->is_token() || !secret || secret->empty() ||
      !CheckTokenSecret(*token, *secret, config))
    return std::unexpected(Denied());
  return *token;
}

Result<Authenticator::Login> Authenticator::LogIn(std::string_view username,
                                                  std::string_view password,
                                                  const ServerConfig& config, int64_t now) {
  auto user = AuthId::ParseUser(username);
  if (!user || !config.Has(*user))
    return Fail(ErrorCode::kPermissionDenied, "permission check failed.");
  bool ok = false;
  if (auto ticket_user = keys_.CheckTicket(password, now); ticket_user && *ticket_user == *user)
    ok = true;  // a ticket refresh
  else
    ok = config.CheckSecret(*user, password);
  if (!ok) return Fail(ErrorCode::kPermissionDenied, "permission check failed.");
  return Login{*user, keys_.MakeTicket(*user, now), keys_.MakeCsrfToken(*user, now)};
}

}  // namespace chunkvault::server
