#include "client/repository.h"

#include <charconv>

#include "util/safe_name.h"

namespace chunkvault::client {
namespace {

bool IsHostName(std::string_view h) {
  if (h.empty() || h.size() > 253) return false;
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.';
    if (!ok) return false;
  }
  return h.front() != '-' && h.front() != '.';
}

bool IsIpv6(std::string_view h) {
  if (h.size() < 2) return false;
  for (char c : h) {
    const bool ok = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || (c >= '0' && c <= '9') ||
                    c == ':' || c == '.';
    if (!ok) return false;
  }
  return h.find(':') != std::string_view::npos;
}

}  // namespace

std::string Repository::Authority() const {
  const std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return h + ":" + std::to_string(port);
}

std::string Repository::ToString() const { return auth_id + "@" + Authority() + ":" + store; }

Result<Repository> ParseRepository(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument, "repository '" + std::string(text) + "': " + why +
                                                 " (expected [[AUTH-ID@]HOST[:PORT]:]DATASTORE)");
  };
  Repository r;
  std::string_view rest = text;
  // The store is after the last ':' (an IPv6 host sits in brackets).
  auto colon = rest.rfind(':');
  const auto bracket_end = rest.rfind(']');
  if (colon != std::string_view::npos && bracket_end != std::string_view::npos &&
      colon < bracket_end)
    return bad("no datastore after the host");
  r.store = std::string(colon == std::string_view::npos ? rest : rest.substr(colon + 1));
  if (r.store.size() < 3 || !IsSafeName(r.store, 32)) return bad("invalid datastore name");
  if (colon == std::string_view::npos) return r;
  rest = rest.substr(0, colon);
  // The auth-id is before the last '@' (a userid holds one itself).
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    r.auth_id = std::string(rest.substr(0, at));
    if (r.auth_id.find('@') == std::string::npos) return bad("the auth-id needs a realm");
    rest = rest.substr(at + 1);
  }
  std::string_view host = rest, port;
  if (!rest.empty() && rest.front() == '[') {
    auto end = rest.find(']');
    if (end == std::string_view::npos) return bad("unclosed '['");
    host = rest.substr(1, end - 1);
    if (!IsIpv6(host)) return bad("not an IPv6 address in brackets");
    std::string_view after = rest.substr(end + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after ']'");
      port = after.substr(1);
    }
  } else if (auto c = rest.find(':'); c != std::string_view::npos) {
    host = rest.substr(0, c);
    port = rest.substr(c + 1);
    if (!IsHostName(host)) return bad("invalid host");
  } else if (!IsHostName(host)) {
    return bad("invalid host");
  }
  r.host = std::string(host);
  if (!port.empty() || (rest.size() && rest.back() == ':')) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || port.size() > 5 || ec != std::errc() || end != port.data() + port.size() ||
        p == 0 || p > 65535)
      return bad("invalid port");
    r.port = static_cast<uint16_t>(p);
  }
  return r;
}

}  // namespace chunkvault::client
