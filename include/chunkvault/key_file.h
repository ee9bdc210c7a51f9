// Encryption key files in PBS's format, and PBS's RSA master key
// (docs/format.md, "Key files").
//
// A key file is compact JSON: {"kdf", "created", "modified", "data",
// "fingerprint", "hint"} in that order. With a kdf (scrypt or PBKDF2 of a
// passphrase) "data" is iv[16] | tag[16] | AES-256-GCM(derived key, key);
// without, the key itself. A master key is an RSA key pair; a backup made
// with its public half stores the backup key (as a passphrase-less key
// file) RSA-encrypted in "rsa-encrypted.key.blob", which the private half
// recovers.
//
// Key files are untrusted input: Parse checks every field and bounds the
// kdf's cost, so a hostile file cannot make Unlock run for hours or take
// gigabytes. No error message carries key material or a passphrase.
//
// Thread-safety: plain values and free functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr char kMasterKeyBlobName[] = "rsa-encrypted.key.blob";

enum class Kdf { kNone, kScrypt, kPbkdf2 };
const char* KdfName(Kdf kdf);  // "none", "scrypt", "pbkdf2"
Result<Kdf> ParseKdf(std::string_view text);

struct KdfParams {
  Kdf kind = Kdf::kScrypt;
  uint64_t n = 65536, r = 8, p = 1;  // scrypt (PBS's defaults)
  uint64_t iter = 65535;             // PBKDF2-HMAC-SHA256 (PBS's default)
  Bytes salt;                        // 32 random bytes for new keys
};

// The key derived from a passphrase (32 bytes). kInvalidArgument for
// parameters outside the bounds Parse enforces.
Result<SecretKey> DeriveKey(const KdfParams& params, std::string_view passphrase);

struct KeyConfig {
  std::optional<KdfParams> kdf;  // none: `data` is the key in the clear
  int64_t created = 0;           // epoch seconds; written as RFC 3339 local time
  int64_t modified = 0;
  Bytes data;
  std::optional<KeyFingerprint> fingerprint;
  std::optional<std::string> hint;  // a passphrase hint, at most 64 bytes

  // A new key file for `key`, created and modified `now`: protected by
  // `passphrase` (at least 5 bytes) through `kdf`, or in the clear for
  // Kdf::kNone (no passphrase, no hint).
  static Result<KeyConfig> Protect(const SecretKey& key, Kdf kdf, std::string_view passphrase,
                                   int64_t now);
  // kCorrupt naming the field for anything PBS would not have written.
  static Result<KeyConfig> Parse(std::string_view json);

  // Compact (the file), or pretty (the paper key's text).
  std::string ToJson(bool pretty = false) const;

  Kdf kdf_kind() const { return kdf ? kdf->kind : Kdf::kNone; }

  // The key: kInvalidArgument for a passphrase shorter than 5 bytes,
  // kPermissionDenied if it does not open the key (the hint, if any, in
  // the message), kCorrupt if a stored fingerprint is not the key's.
  Result<SecretKey> Unlock(std::string_view passphrase) const;
};

// A new RSA master key pair: the public key as PEM (SubjectPublicKeyInfo),
// the private key as PKCS#8 PEM encrypted with AES-256-CBC under
// `passphrase`.
struct MasterKeyPair {
  std::string public_pem;
  std::string private_pem;
  std::string modulus_hex;
  uint64_t exponent = 0;
  int bits = 0;
};
Result<MasterKeyPair> CreateMasterKey(std::string_view passphrase, int bits = 4096);

// What backup --master-pubkey-file stores: `key` as a passphrase-less key
// file (keeping `created`), RSA-encrypted (PKCS#1 v1.5) to one block for
// the public key in `public_pem`.
Result<Bytes> WrapKeyForMaster(std::string_view public_pem, const SecretKey& key, int64_t created);
// The key file inside `wrapped`, decrypted with the private key in
// `private_pem` (opened with `pem_passphrase`).
Result<KeyConfig> UnwrapWithMasterKey(std::string_view private_pem, std::string_view pem_passphrase,
                                      ByteView wrapped);

// RFC 3339 with a numeric offset in the local time zone
// ("2026-12-05T04:21:12+01:00"), as PBS writes key file times.
std::string FormatLocalRfc3339(int64_t unix_seconds);
// Any RFC 3339 time ("Z" or "+HH:MM", optional fraction).
Result<int64_t> ParseAnyRfc3339(std::string_view text);

}  // namespace chunkvault
