#include "server/auth_id.h"

#include "util/safe_name.h"

namespace chunkvault::server {
namespace {

constexpr size_t kMaxUserid = 64;
constexpr size_t kMaxRealm = 32;
constexpr size_t kMaxTokenName = 64;

bool IsNameByte(char c) {
  const auto u = static_cast<unsigned char>(c);
  if (u <= 0x20 || u >= 0x7f) return false;
  return c != ':' && c != '/' && c != '@' && c != '!' && c != ',';
}

Status CheckUser(std::string_view user, std::string_view whole) {
  auto bad = [&](const std::string& why) {
    return Fail(ErrorCode::kInvalidArgument,
                "invalid auth-id '" + std::string(whole) + "': " + why);
  };
  if (user.size() > kMaxUserid) return bad("a userid has at most 64 bytes");
  auto at = user.find('@');
  if (at == std::string_view::npos) return bad("expected name@realm");
  std::string_view name = user.substr(0, at), realm = user.substr(at + 1);
  if (name.empty()) return bad("the user name is empty");
  for (char c : name)
    if (!IsNameByte(c)) return bad("the user name holds a character not allowed in it");
  if (realm.size() < 2 || !IsSafeName(realm, kMaxRealm))
    return bad("the realm must be 2 to 32 of [A-Za-z0-9._-], starting with a letter, digit or '_'");
  return {};
}

}  // namespace

Result<AuthId> AuthId::ParseUser(std::string_view text) {
  CV_RETURN_IF_ERROR(CheckUser(text, text));
  return AuthId(std::string(text), "");
}

Result<AuthId> AuthId::Parse(std::string_view text) {
  auto bang = text.find('!');
  if (bang == std::string_view::npos) return ParseUser(text);
  std::string_view user = text.substr(0, bang), token = text.substr(bang + 1);
  CV_RETURN_IF_ERROR(CheckUser(user, text));
  if (!IsSafeName(token, kMaxTokenName))
    return Fail(ErrorCode::kInvalidArgument,
                "invalid auth-id '" + std::string(text) +
                    "': the token name must be 1 to 64 of [A-Za-z0-9._-], starting with a letter, "
                    "digit or '_'");
  return AuthId(std::string(user), std::string(token));
}

}  // namespace chunkvault::server
