#include "server/secret_hash.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace chunkvault::server {

namespace {

// libcrypt's per-call state: large (about 32 KiB), zeroed before use as
// crypt_rn asks, and wiped after, with the NUL-terminated copy of the
// secret crypt_rn takes: both held the secret.
struct CryptState {
  explicit CryptState(std::string_view secret) : text(secret) {}
  ~CryptState() {
    OPENSSL_cleanse(&data, sizeof data);
    OPENSSL_cleanse(text.data(), text.size());
  }
  crypt_data data{};
  std::string text;
};

bool Usable(std::string_view secret) {
  return !secret.empty() && secret.find('\0') == std::string_view::npos;
}

}  // namespace

Result<std::string> HashSecret(std::string_view secret) {
  if (!Usable(secret))
    return Fail(ErrorCode::kInvalidArgument, "a password or secret must be non-empty text");
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  // Prefix "$y$", default cost, salt from the system's random source.
  if (crypt_gensalt_rn("$y$", 0, nullptr, 0, setting, sizeof setting) == nullptr)
    return Fail(ErrorCode::kInternal, "libcrypt cannot make a yescrypt salt");
  auto state = std::make_unique<CryptState>(secret);
  const char* hash = crypt_rn(state->text.c_str(), setting, &state->data, sizeof state->data);
  if (hash == nullptr || hash[0] == '*')
    return Fail(ErrorCode::kInternal, "libcrypt cannot hash with yescrypt");
  return std::string(hash);
}

bool VerifySecret(std::string_view secret, const std::string& hash) {
  // crypt's failure tokens start with '*'; a hash is "$id$...".
  if (!Usable(secret) || hash.size() < 3 || hash[0] != '$') return false;
  auto state = std::make_unique<CryptState>(secret);
  const char* again = crypt_rn(state->text.c_str(), hash.c_str(), &state->data, sizeof state->data);
  if (again == nullptr || again[0] == '*') return false;
  const size_t n = std::strlen(again);
  return n == hash.size() && CRYPTO_memcmp(again, hash.data(), n) == 0;
}

std::string NewTokenSecret() {
  unsigned char b[16];
  if (RAND_bytes(b, sizeof b) != 1) std::abort();  // no entropy: nothing safe to hand out
  b[6] = (b[6] & 0x0f) | 0x40;                     // version 4
  b[8] = (b[8] & 0x3f) | 0x80;                     // RFC 4122 variant
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
                b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                b[15]);
  OPENSSL_cleanse(b, sizeof b);
  return out;
}

}  // namespace chunkvault::server
