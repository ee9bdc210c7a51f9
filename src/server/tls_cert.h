// chunkvaultd's TLS certificate: the self-signed one made on first start
// (as PBS's proxy.key/proxy.pem: RSA 4096, valid for 1000 years) and the
// fingerprint PBS clients pin: SHA-256 of the leaf certificate's DER, as
// lowercase hex pairs joined by ':'.
//
// Thread-safety: pure functions over files and values.
#pragma once

#include <cstdint>
#include <string>

#include "chunkvault/bytes.h"
#include "chunkvault/env.h"
#include "chunkvault/status.h"

namespace chunkvault::server {

struct CertificateInfo {
  std::string subject;  // one line, e.g. "O = chunkvault, OU = ..., CN = host"
  std::string issuer;
  int64_t not_before = 0;  // seconds since the epoch
  int64_t not_after = 0;
  std::string fingerprint;  // "aa:bb:..." (95 characters)
  std::string public_key;   // "RSA 4096", "EC 256"...
};

// Makes `key_path` (0600, PEM) and `cert_path` (PEM) if the certificate is
// missing; leaves an existing pair alone. The key is written first, so a
// crash leaves either nothing usable or a key without certificate, which
// the next start replaces.
Status EnsureCertificate(Env& env, const std::string& key_path, const std::string& cert_path,
                         const std::string& hostname);

// Reads a PEM certificate (the first one in the file).
Result<CertificateInfo> ReadCertificateInfo(Env& env, const std::string& cert_path);

// "aa:bb:..." of the SHA-256 of `der`.
std::string CertificateFingerprint(ByteView der);

}  // namespace chunkvault::server
