// Client-side encryption as PBS does it (docs/format.md, "Encryption").
//
// One 32-byte key is both the AES-256-GCM key and the source of an "id
// key" (PBKDF2-HMAC-SHA256 of the key, salt "_id_key", 10 rounds) that
// keys everything that must not reveal the data: chunk digests
// (sha256(data | id key)), the manifest's signature (HMAC-SHA256) and the
// key's fingerprint. Nothing here ever prints key material; a CryptKey
// wipes its copies when it goes.
//
// Thread-safety: a CryptKey is immutable after construction and may be
// shared by any number of threads.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

inline constexpr size_t kCryptKeySize = 32;
inline constexpr size_t kCryptIvSize = 16;  // PBS's GCM IV: 16 bytes, not 12
inline constexpr size_t kCryptTagSize = 16;

// A file's protection in a manifest ("crypt-mode"): none, encrypt (chunks
// and blobs encrypted, manifest signed), sign-only (manifest signed).
enum class CryptMode { kNone, kEncrypt, kSignOnly };
const char* CryptModeName(CryptMode mode);  // "none", "encrypt", "sign-only"
Result<CryptMode> ParseCryptMode(std::string_view text);

// 32 secret bytes, wiped when destroyed or overwritten.
class SecretKey {
 public:
  SecretKey();
  explicit SecretKey(ByteView bytes);  // must be kCryptKeySize bytes
  SecretKey(const SecretKey& other);
  SecretKey& operator=(const SecretKey& other);
  ~SecretKey();

  static SecretKey Random();
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* data() { return bytes_.data(); }
  ByteView view() const { return ByteView(bytes_); }

 private:
  std::array<uint8_t, kCryptKeySize> bytes_;
};

// A key's fingerprint: sha256(sha256("Proxmox Backup Encryption Key
// Fingerprint") | id key).
struct KeyFingerprint {
  Digest bytes{};
  bool operator==(const KeyFingerprint&) const = default;
  // PBS's forms: all 32 bytes as "xx:xx:...:xx" (key files, manifests), and
  // the first 8 (what PBS prints in messages: "0e:ab:d4:46:0b:6e:b9:ca").
  std::string Full() const;
  std::string Short() const;
  // 64 hex digits, with or without ':' between any of them.
  static Result<KeyFingerprint> Parse(std::string_view text);
};

using GcmIv = std::array<uint8_t, kCryptIvSize>;
using GcmTag = std::array<uint8_t, kCryptTagSize>;

class CryptKey {
 public:
  explicit CryptKey(const SecretKey& key);
  CryptKey(const CryptKey&) = delete;
  CryptKey& operator=(const CryptKey&) = delete;
  ~CryptKey();

  const SecretKey& key() const { return key_; }
  const KeyFingerprint& fingerprint() const { return fingerprint_; }

  // sha256(data | id key): the digest of a chunk encrypted with this key.
  Digest ChunkDigest(ByteView data) const;
  // HMAC-SHA256 keyed with the id key (the manifest signature).
  Digest AuthTag(ByteView data) const;

  // AES-256-GCM with a 16-byte IV and no associated data. `out` has room
  // for in.size() bytes and may be in.data() (in place).
  void Encrypt(ByteView in, const GcmIv& iv, uint8_t* out, GcmTag* tag) const;
  // kCorrupt if the tag does not authenticate the ciphertext under this
  // key and IV (altered data, or another key).
  Status Decrypt(ByteView in, const GcmIv& iv, const GcmTag& tag, uint8_t* out) const;

 private:
  SecretKey key_;
  SecretKey id_key_;
  KeyFingerprint fingerprint_;
};

// sha256(data), or the keyed digest when `key` is given: a chunk's name.
Digest ChunkDigestOf(ByteView data, const CryptKey* key);

// Fills `out` from the kernel's random source (IVs, salts, keys).
void RandomBytes(uint8_t* out, size_t n);

// Base64, standard alphabet: written padded; read padded or not.
std::string Base64Encode(ByteView data);
Result<Bytes> Base64Decode(std::string_view text);

}  // namespace chunkvault
