// Who a request acts as: a user ("name@realm") or one of a user's API
// tokens ("name@realm!token"), in PBS's spelling.
//
// chunkvault's names are stricter than PBS's: the user name is printable
// ASCII without whitespace, ':', '/', '@', '!' or ',' (so an auth-id can
// stand in an ACL line, an owner file and a repository string without
// quoting), the realm and the token name are safe ids. Userids are at most
// 64 bytes, as PBS's.
//
// Thread-safety: plain values.
#pragma once

#include <string>
#include <string_view>

#include "chunkvault/status.h"

namespace chunkvault::server {

class AuthId {
 public:
  // kInvalidArgument naming what is wrong with `text`.
  static Result<AuthId> Parse(std::string_view text);
  // Parses a user (no token part).
  static Result<AuthId> ParseUser(std::string_view text);

  // "name@realm".
  const std::string& user() const { return user_; }
  // The token name; empty for a user.
  const std::string& token() const { return token_; }
  bool is_token() const { return !token_.empty(); }
  // "name@realm" or "name@realm!token".
  std::string ToString() const { return is_token() ? user_ + "!" + token_ : user_; }
  // The user this auth-id acts for (itself for a user).
  AuthId User() const { return AuthId(user_, ""); }

  friend bool operator==(const AuthId&, const AuthId&) = default;
  friend auto operator<=>(const AuthId&, const AuthId&) = default;

 private:
  AuthId(std::string user, std::string token) : user_(std::move(user)), token_(std::move(token)) {}
  std::string user_;
  std::string token_;
};

}  // namespace chunkvault::server
