// Where a chunkvault command sends its work when it is a client of
// chunkvaultd (or of PBS): PBS's repository syntax
// "[[auth-id@]host[:port]:]store" (PROTOCOL.md §2), with PBS's defaults
// (root@pam, localhost, 8007) and an IPv6 host in brackets.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "chunkvault/status.h"

namespace chunkvault::client {

struct Repository {
  std::string auth_id = "root@pam";
  std::string host = "localhost";  // a name, an IPv4 address, or IPv6 without brackets
  uint16_t port = 8007;
  std::string store;

  // "auth-id@host:port:store", as PBS prints it ([v6] in brackets).
  std::string ToString() const;
  // The "host:port" part, brackets around IPv6.
  std::string Authority() const;
};

// kInvalidArgument naming what is wrong.
Result<Repository> ParseRepository(std::string_view text);

}  // namespace chunkvault::client
