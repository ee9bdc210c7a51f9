// Passwords and API token secrets as chunkvaultd keeps them: salted,
// slow hashes (libcrypt's yescrypt, "$y$..."), never the secret itself;
// and new token secrets, random UUIDs as PBS gives them.
//
// Thread-safety: every function may be called from any thread.
#pragma once

#include <string>
#include <string_view>

#include "chunkvault/status.h"

namespace chunkvault::server {

// A new yescrypt hash of `secret`, with a random salt. kInvalidArgument for
// an empty secret or one with a NUL byte (libcrypt stops at NUL).
Result<std::string> HashSecret(std::string_view secret);

// Whether `secret` matches `hash` (a HashSecret result, or any crypt(3)
// hash libcrypt knows, such as SHA-512 crypt "$6$..."). A malformed or
// unknown hash matches nothing. Compared in constant time.
bool VerifySecret(std::string_view secret, const std::string& hash);

// A new API token secret: a random (v4) UUID, as PBS answers token add.
std::string NewTokenSecret();

}  // namespace chunkvault::server
