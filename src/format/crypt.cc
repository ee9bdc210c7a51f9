#include "chunkvault/crypt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>

#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

const EVP_CIPHER* Aes256Gcm() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) std::abort();  // OpenSSL without AES-GCM cannot run us
  return cipher;
}

// A cipher context per thread: creating one per blob costs more than a
// small chunk's encryption.
EVP_CIPHER_CTX* ThreadCipherCtx() {
  struct Holder {
    EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
    ~Holder() { EVP_CIPHER_CTX_free(ctx); }
  };
  thread_local Holder holder;
  if (holder.ctx == nullptr) std::abort();
  return holder.ctx;
}

// Sets up `ctx` for AES-256-GCM with PBS's 16-byte IV. The IV length must
// be set before the IV: OpenSSL's default is 12, and a 16-byte IV is then
// hashed into the counter block (GCM's J0) differently.
void InitGcm(EVP_CIPHER_CTX* ctx, bool encrypt, const SecretKey& key, const GcmIv& iv) {
  const int enc = encrypt ? 1 : 0;
  if (EVP_CipherInit_ex(ctx, Aes256Gcm(), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, int(kCryptIvSize), nullptr) != 1 ||
      EVP_CipherInit_ex(ctx, nullptr, nullptr, key.data(), iv.data(), enc) != 1)
    std::abort();
}

// EVP takes int lengths; blobs are at most 128 MiB, but feed in pieces
// rather than rely on that here.
bool CipherUpdate(EVP_CIPHER_CTX* ctx, ByteView in, uint8_t* out) {
  constexpr size_t kStep = size_t(1) << 30;
  for (size_t done = 0; done < in.size();) {
    const size_t n = std::min(kStep, in.size() - done);
    int len = 0;
    if (EVP_CipherUpdate(ctx, out + done, &len, in.data() + done, int(n)) != 1) return false;
    done += n;
  }
  return true;
}

const Digest& FingerprintInput() {
  static const Digest input = Sha256Of(AsBytes("Proxmox Backup Encryption Key Fingerprint"));
  return input;
}

}  // namespace

const char* CryptModeName(CryptMode mode) {
  switch (mode) {
    case CryptMode::kNone:
      return "none";
    case CryptMode::kEncrypt:
      return "encrypt";
    case CryptMode::kSignOnly:
      return "sign-only";
  }
  return "?";
}

Result<CryptMode> ParseCryptMode(std::string_view text) {
  if (text == "none") return CryptMode::kNone;
  if (text == "encrypt") return CryptMode::kEncrypt;
  if (text == "sign-only") return CryptMode::kSignOnly;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown crypt mode '" + std::string(text) + "' (none, encrypt or sign-only)");
}

SecretKey::SecretKey() { bytes_.fill(0); }
SecretKey::SecretKey(ByteView bytes) {
  if (bytes.size() != kCryptKeySize) std::abort();  // a caller's bug
  std::memcpy(bytes_.data(), bytes.data(), kCryptKeySize);
}
SecretKey::SecretKey(const SecretKey& other) : bytes_(other.bytes_) {}
SecretKey& SecretKey::operator=(const SecretKey& other) {
  bytes_ = other.bytes_;
  return *this;
}
SecretKey::~SecretKey() { OPENSSL_cleanse(bytes_.data(), bytes_.size()); }

SecretKey SecretKey::Random() {
  SecretKey key;
  RandomBytes(key.data(), kCryptKeySize);
  return key;
}

std::string KeyFingerprint::Full() const {
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (i) out += ':';
    out += ToHex(ByteView(bytes).subspan(i, 1));
  }
  return out;
}

std::string KeyFingerprint::Short() const { return Full().substr(0, 8 * 3 - 1); }

Result<KeyFingerprint> KeyFingerprint::Parse(std::string_view text) {
  std::string hex;
  for (char c : text)
    if (c != ':') hex += c;
  auto digest = DigestFromHex(hex);
  if (!digest)
    return Fail(ErrorCode::kInvalidArgument, "not a key fingerprint (32 bytes in hex): '" +
                                                 std::string(text.substr(0, 100)) + "'");
  return KeyFingerprint{*digest};
}

CryptKey::CryptKey(const SecretKey& key) : key_(key) {
  static constexpr char kIdKeySalt[] = "_id_key";
  if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(key_.data()), int(kCryptKeySize),
                        reinterpret_cast<const unsigned char*>(kIdKeySalt),
                        int(sizeof kIdKeySalt - 1), 10, EVP_sha256(), int(kCryptKeySize),
                        id_key_.data()) != 1)
    std::abort();
  fingerprint_.bytes = ChunkDigest(ByteView(FingerprintInput()));
}

CryptKey::~CryptKey() = default;

Digest CryptKey::ChunkDigest(ByteView data) const {
  thread_local Sha256 hasher;
  hasher.Update(data);
  hasher.Update(id_key_.view());
  return hasher.Finish();
}

Digest CryptKey::AuthTag(ByteView data) const {
  Digest out;
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), id_key_.data(), int(kCryptKeySize), data.data(), data.size(), out.data(),
           &len) == nullptr)
    std::abort();
  return out;
}

void CryptKey::Encrypt(ByteView in, const GcmIv& iv, uint8_t* out, GcmTag* tag) const {
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  InitGcm(ctx, true, key_, iv);
  int len = 0;
  if (!CipherUpdate(ctx, in, out) || EVP_EncryptFinal_ex(ctx, out + in.size(), &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, int(kCryptTagSize), tag->data()) != 1)
    std::abort();
}

Status CryptKey::Decrypt(ByteView in, const GcmIv& iv, const GcmTag& tag, uint8_t* out) const {
  EVP_CIPHER_CTX* ctx = ThreadCipherCtx();
  InitGcm(ctx, false, key_, iv);
  GcmTag expected = tag;
  int len = 0;
  if (!CipherUpdate(ctx, in, out) ||
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, int(kCryptTagSize), expected.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx, out + in.size(), &len) != 1) {
    OPENSSL_cleanse(out, in.size());  // nothing unauthenticated leaves
    return Fail(ErrorCode::kCorrupt,
                "AES-GCM authentication failed (the data was altered, or it was encrypted with "
                "another key)");
  }
  return {};
}

Digest ChunkDigestOf(ByteView data, const CryptKey* key) {
  return key ? key->ChunkDigest(data) : Sha256Of(data);
}

void RandomBytes(uint8_t* out, size_t n) {
  if (RAND_bytes(out, int(n)) != 1) std::abort();  // no randomness: no keys, no IVs
}

std::string Base64Encode(ByteView data) {
  std::string out(4 * ((data.size() + 2) / 3), '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(), int(data.size()));
  out.resize(size_t(n));
  return out;
}

Result<Bytes> Base64Decode(std::string_view text) {
  std::string padded(text);
  size_t pad = 0;
  while (!padded.empty() && padded.back() == '=') padded.pop_back(), ++pad;
  if (pad > 2 || padded.size() % 4 == 1)
    return Fail(ErrorCode::kInvalidArgument, "invalid base64 (length)");
  // EVP_DecodeBlock skips whitespace and takes '=' anywhere; neither
  // belongs in a key file's fields.
  for (char c : padded)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/'))
      return Fail(ErrorCode::kInvalidArgument, "invalid base64 (character)");
  pad = 0;
  while (padded.size() % 4) padded += '=', ++pad;
  Bytes out(padded.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(padded.data()),
                                int(padded.size()));
  if (n < 0) return Fail(ErrorCode::kInvalidArgument, "invalid base64");
  out.resize(size_t(n) - pad);
  return out;
}

}  // namespace chunkvault
