#include "chunkvault/key_file.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <cstring>
#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>

namespace chunkvault {
namespace {

using nlohmann::json;
using nlohmann::ordered_json;

// Bounds on a key file's kdf: PBS's defaults are far inside them, and a
// hostile file outside them is refused rather than run (scrypt's memory
// is 128 * n * r * p bytes; PBKDF2's time grows with its rounds).
constexpr uint64_t kMaxScryptN = uint64_t(1) << 22;
constexpr uint64_t kMaxScryptRp = 64;
constexpr uint64_t kMaxScryptMem = uint64_t(1025) << 20;  // PBS's maxmem
constexpr uint64_t kMaxPbkdf2Iter = 10'000'000;
constexpr size_t kMaxSaltSize = 1024;
constexpr size_t kMaxHintSize = 64;
constexpr size_t kMinPassphrase = 5;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, [](BIO* b) { BIO_free_all(b); }>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;

std::unexpected<Error> Corrupt(const std::string& what) {
  return Fail(ErrorCode::kCorrupt, "key file: " + what);
}

Status CheckKdf(const KdfParams& k) {
  if (k.salt.size() > kMaxSaltSize)
    return Fail(ErrorCode::kInvalidArgument,
                "kdf salt longer than " + std::to_string(kMaxSaltSize) + " bytes");
  if (k.kind == Kdf::kScrypt) {
    const bool pow2 = k.n >= 2 && (k.n & (k.n - 1)) == 0;
    // r and p bounded one by one first: their product must not wrap.
    if (!pow2 || k.n > kMaxScryptN || k.r == 0 || k.p == 0 || k.r > kMaxScryptRp ||
        k.p > kMaxScryptRp || k.r * k.p > kMaxScryptRp || 128 * k.n * k.r * k.p > kMaxScryptMem)
      return Fail(ErrorCode::kInvalidArgument,
                  "scrypt parameters out of bounds (n a power of 2 up to 2^22, r*p up to 64, "
                  "128*n*r*p up to 1025 MiB): n=" +
                      std::to_string(k.n) + " r=" + std::to_string(k.r) +
                      " p=" + std::to_string(k.p));
  } else if (k.kind == Kdf::kPbkdf2) {
    if (k.iter == 0 || k.iter > kMaxPbkdf2Iter)
      return Fail(ErrorCode::kInvalidArgument, "PBKDF2 rounds out of bounds (1 to " +
                                                   std::to_string(kMaxPbkdf2Iter) +
                                                   "): " + std::to_string(k.iter));
  }
  return {};
}

// Reads a non-negative integer field that fits `max`.
Result<uint64_t> UintField(const json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_number_unsigned())
    return Corrupt(where + "." + name + " is missing or not a non-negative integer");
  return it->get<uint64_t>();
}

Result<Bytes> Base64Field(const json& obj, const char* name, const std::string& where) {
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_string())
    return Corrupt(where + name + " is missing or not a string");
  auto bytes = Base64Decode(it->get<std::string>());
  if (!bytes) return Corrupt(where + name + ": " + bytes.error().message());
  return *bytes;
}

Result<KdfParams> ParseKdfParams(const json& j) {
  if (!j.is_object() || j.size() != 1)
    return Corrupt("kdf is neither null nor {\"Scrypt\": {...}} or {\"PBKDF2\": {...}}");
  const std::string variant = j.begin().key();
  const json& body = j.begin().value();
  if (!body.is_object()) return Corrupt("kdf." + variant + " is not an object");
  KdfParams k;
  const std::string where = "kdf." + variant;
  if (variant == "Scrypt") {
    k.kind = Kdf::kScrypt;
    CV_ASSIGN_OR_RETURN(k.n, UintField(body, "n", where));
    CV_ASSIGN_OR_RETURN(k.r, UintField(body, "r", where));
    CV_ASSIGN_OR_RETURN(k.p, UintField(body, "p", where));
  } else if (variant == "PBKDF2") {
    k.kind = Kdf::kPbkdf2;
    CV_ASSIGN_OR_RETURN(k.iter, UintField(body, "iter", where));
  } else {
    return Corrupt("unknown kdf '" + variant.substr(0, 40) + "' (Scrypt or PBKDF2)");
  }
  CV_ASSIGN_OR_RETURN(k.salt, Base64Field(body, "salt", where + "."));
  if (auto st = CheckKdf(k); !st) return Corrupt(st.error().message());
  return k;
}

ordered_json KdfJson(const KdfParams& k) {
  if (k.kind == Kdf::kScrypt)
    return {{"Scrypt", {{"n", k.n}, {"r", k.r}, {"p", k.p}, {"salt", Base64Encode(k.salt)}}}};
  return {{"PBKDF2", {{"iter", k.iter}, {"salt", Base64Encode(k.salt)}}}};
}

Status CheckPassphrase(std::string_view passphrase) {
  if (passphrase.size() < kMinPassphrase)
    return Fail(ErrorCode::kInvalidArgument, "the passphrase is too short (at least " +
                                                 std::to_string(kMinPassphrase) + " bytes)");
  return {};
}

std::string OpenSslError() {
  // The queue's text names the failing function, never key material.
  char buf[256] = "unknown error";
  if (unsigned long e = ERR_get_error(); e != 0) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

int PemPassphrase(char* buf, int size, int, void* u) {
  const auto* pass = static_cast<const std::string_view*>(u);
  if (pass->size() > size_t(size)) return -1;
  std::memcpy(buf, pass->data(), pass->size());
  return int(pass->size());
}

// Two decimal digits at text[i], or -1.
int Digits2(std::string_view text, size_t i) {
  if (i + 2 > text.size() || !std::isdigit(static_cast<unsigned char>(text[i])) ||
      !std::isdigit(static_cast<unsigned char>(text[i + 1])))
    return -1;
  return (text[i] - '0') * 10 + (text[i + 1] - '0');
}

}  // namespace

const char* KdfName(Kdf kdf) {
  switch (kdf) {
    case Kdf::kNone:
      return "none";
    case Kdf::kScrypt:
      return "scrypt";
    case Kdf::kPbkdf2:
      return "pbkdf2";
  }
  return "?";
}

Result<Kdf> ParseKdf(std::string_view text) {
  if (text == "none") return Kdf::kNone;
  if (text == "scrypt") return Kdf::kScrypt;
  if (text == "pbkdf2") return Kdf::kPbkdf2;
  return Fail(ErrorCode::kInvalidArgument,
              "unknown kdf '" + std::string(text) + "' (scrypt, pbkdf2 or none)");
}

Result<SecretKey> DeriveKey(const KdfParams& params, std::string_view passphrase) {
  CV_RETURN_IF_ERROR(CheckKdf(params));
  SecretKey out;
  int ok = 0;
  if (params.kind == Kdf::kScrypt) {
    ok =
        EVP_PBE_scrypt(passphrase.data(), passphrase.size(), params.salt.data(), params.salt.size(),
                       params.n, params.r, params.p, kMaxScryptMem, out.data(), kCryptKeySize);
  } else if (params.kind == Kdf::kPbkdf2) {
    ok = PKCS5_PBKDF2_HMAC(passphrase.data(), int(passphrase.size()), params.salt.data(),
                           int(params.salt.size()), int(params.iter), EVP_sha256(),
                           int(kCryptKeySize), out.data());
  }
  if (ok != 1)
    return Fail(ErrorCode::kInternal, std::string("deriving the key with ") + KdfName(params.kind) +
                                          " failed: " + OpenSslError());
  return out;
}

Result<KeyConfig> KeyConfig::Protect(const SecretKey& key, Kdf kdf, std::string_view passphrase,
                                     int64_t now) {
  KeyConfig c;
  c.created = c.modified = now;
  c.fingerprint = CryptKey(key).fingerprint();
  if (kdf == Kdf::kNone) {
    c.data.assign(key.data(), key.data() + kCryptKeySize);
    return c;
  }
  CV_RETURN_IF_ERROR(CheckPassphrase(passphrase));
  KdfParams params;
  params.kind = kdf;
  params.salt.resize(32);
  RandomBytes(params.salt.data(), params.salt.size());
  CV_ASSIGN_OR_RETURN(SecretKey derived, DeriveKey(params, passphrase));
  GcmIv iv;
  GcmTag tag;
  RandomBytes(iv.data(), iv.size());
  uint8_t sealed[kCryptKeySize];
  CryptKey(derived).Encrypt(key.view(), iv, sealed, &tag);
  c.data.assign(iv.begin(), iv.end());
  c.data.insert(c.data.end(), tag.begin(), tag.end());
  c.data.insert(c.data.end(), sealed, sealed + kCryptKeySize);
  c.kdf = std::move(params);
  return c;
}

Result<KeyConfig> KeyConfig::Parse(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Corrupt("not a JSON object");
  KeyConfig c;
  if (!j.contains("kdf")) return Corrupt("no kdf");
  if (!j["kdf"].is_null()) {
    CV_ASSIGN_OR_RETURN(KdfParams kdf, ParseKdfParams(j["kdf"]));
    c.kdf = std::move(kdf);
  }
  for (auto [name, field] : {std::pair{"created", &c.created}, {"modified", &c.modified}}) {
    if (!j.contains(name) || !j[name].is_string())
      return Corrupt(std::string("no ") + name + " time");
    auto t = ParseAnyRfc3339(j[name].get<std::string>());
    if (!t) return Corrupt(std::string(name) + ": " + t.error().message());
    *field = *t;
  }
  CV_ASSIGN_OR_RETURN(c.data, Base64Field(j, "data", ""));
  const size_t want = c.kdf ? kCryptIvSize + kCryptTagSize + kCryptKeySize : kCryptKeySize;
  if (c.data.size() != want)
    return Corrupt("data holds " + std::to_string(c.data.size()) + " bytes, not " +
                   std::to_string(want));
  if (j.contains("fingerprint") && !j["fingerprint"].is_null()) {
    if (!j["fingerprint"].is_string()) return Corrupt("fingerprint is not a string");
    auto fp = KeyFingerprint::Parse(j["fingerprint"].get<std::string>());
    if (!fp) return Corrupt(fp.error().message());
    c.fingerprint = *fp;
  }
  if (j.contains("hint") && !j["hint"].is_null()) {
    if (!j["hint"].is_string()) return Corrupt("hint is not a string");
    c.hint = j["hint"].get<std::string>();
    if (c.hint->size() > kMaxHintSize)
      return Corrupt("hint longer than " + std::to_string(kMaxHintSize) + " bytes");
  }
  return c;
}

std::string KeyConfig::ToJson(bool pretty) const {
  ordered_json j;
  j["kdf"] = kdf ? KdfJson(*kdf) : ordered_json(nullptr);
  j["created"] = FormatLocalRfc3339(created);
  j["modified"] = FormatLocalRfc3339(modified);
  j["data"] = Base64Encode(data);
  if (fingerprint) j["fingerprint"] = fingerprint->Full();
  if (hint) j["hint"] = *hint;
  return j.dump(pretty ? 2 : -1, ' ', false, ordered_json::error_handler_t::replace);
}

Result<SecretKey> KeyConfig::Unlock(std::string_view passphrase) const {
  SecretKey key;
  if (!kdf) {
    if (data.size() != kCryptKeySize) return Corrupt("data is not a 32-byte key");
    key = SecretKey(data);
  } else {
    CV_RETURN_IF_ERROR(CheckPassphrase(passphrase));
    if (data.size() != kCryptIvSize + kCryptTagSize + kCryptKeySize)
      return Corrupt("data is not iv, tag and a sealed 32-byte key");
    CV_ASSIGN_OR_RETURN(SecretKey derived, DeriveKey(*kdf, passphrase));
    GcmIv iv;
    GcmTag tag;
    std::memcpy(iv.data(), data.data(), iv.size());
    std::memcpy(tag.data(), data.data() + iv.size(), tag.size());
    const ByteView sealed = ByteView(data).subspan(kCryptIvSize + kCryptTagSize);
    if (!CryptKey(derived).Decrypt(sealed, iv, tag, key.data()))
      return Fail(ErrorCode::kPermissionDenied,
                  hint ? "the passphrase does not open the key (hint: " + *hint + ")"
                       : std::string("the passphrase does not open the key (wrong passphrase?)"));
  }
  if (fingerprint) {
    const KeyFingerprint actual = CryptKey(key).fingerprint();
    if (actual != *fingerprint)
      return Corrupt("it records fingerprint " + fingerprint->Full() +
                     ", but the key it holds has fingerprint " + actual.Full());
  }
  return key;
}

Result<MasterKeyPair> CreateMasterKey(std::string_view passphrase, int bits) {
  CV_RETURN_IF_ERROR(CheckPassphrase(passphrase));
  PkeyPtr pkey(EVP_RSA_gen(static_cast<unsigned>(bits)));
  if (!pkey) return Fail(ErrorCode::kInternal, "generating an RSA key failed: " + OpenSslError());
  MasterKeyPair out;
  auto pem = [](auto&& write) -> Result<std::string> {
    BioPtr bio(BIO_new(BIO_s_mem()));
    if (!bio || write(bio.get()) != 1)
      return Fail(ErrorCode::kInternal, "writing PEM failed: " + OpenSslError());
    char* data = nullptr;
    const long n = BIO_get_mem_data(bio.get(), &data);
    std::string text(data, size_t(n));
    return text;
  };
  CV_ASSIGN_OR_RETURN(out.public_pem,
                      pem([&](BIO* b) { return PEM_write_bio_PUBKEY(b, pkey.get()); }));
  std::string pass(passphrase);
  auto priv = pem([&](BIO* b) {
    return PEM_write_bio_PKCS8PrivateKey(b, pkey.get(), EVP_aes_256_cbc(), pass.data(),
                                         int(pass.size()), nullptr, nullptr);
  });
  OPENSSL_cleanse(pass.data(), pass.size());
  if (!priv) return std::unexpected(priv.error());
  out.private_pem = std::move(*priv);
  BIGNUM* n = nullptr;
  BIGNUM* e = nullptr;
  if (EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_N, &n) == 1 &&
      EVP_PKEY_get_bn_param(pkey.get(), OSSL_PKEY_PARAM_RSA_E, &e) == 1) {
    char* hex = BN_bn2hex(n);
    out.modulus_hex = hex;
    OPENSSL_free(hex);
    out.exponent = BN_get_word(e);
  }
  BN_free(n);
  BN_free(e);
  out.bits = EVP_PKEY_get_bits(pkey.get());
  return out;
}

Result<Bytes> WrapKeyForMaster(std::string_view public_pem, const SecretKey& key, int64_t created) {
  BioPtr bio(BIO_new_mem_buf(public_pem.data(), int(public_pem.size())));
  PkeyPtr pub(bio ? PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!pub || EVP_PKEY_get_base_id(pub.get()) != EVP_PKEY_RSA)
    return Fail(ErrorCode::kInvalidArgument,
                "the master public key is not an RSA public key in PEM: " + OpenSslError());
  CV_ASSIGN_OR_RETURN(KeyConfig plain, KeyConfig::Protect(key, Kdf::kNone, "", created));
  std::string text = plain.ToJson();
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(pub.get(), nullptr));
  size_t n = 0;
  Bytes out;
  bool ok = ctx && EVP_PKEY_encrypt_init(ctx.get()) == 1 &&
            EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
            EVP_PKEY_encrypt(ctx.get(), nullptr, &n, AsBytes(text).data(), text.size()) == 1;
  if (ok) {
    out.resize(n);
    ok = EVP_PKEY_encrypt(ctx.get(), out.data(), &n, AsBytes(text).data(), text.size()) == 1;
    out.resize(n);
  }
  OPENSSL_cleanse(text.data(), text.size());
  if (!ok || int(out.size()) != EVP_PKEY_get_size(pub.get()))
    return Fail(ErrorCode::kInvalidArgument,
                "encrypting the key for the master key failed: " + OpenSslError());
  return out;
}

Result<KeyConfig> UnwrapWithMasterKey(std::string_view private_pem, std::string_view pem_passphrase,
                                      ByteView wrapped) {
  BioPtr bio(BIO_new_mem_buf(private_pem.data(), int(private_pem.size())));
  std::string_view pass = pem_passphrase;
  PkeyPtr priv(bio ? PEM_read_bio_PrivateKey(bio.get(), nullptr, PemPassphrase, &pass) : nullptr);
  if (!priv || EVP_PKEY_get_base_id(priv.get()) != EVP_PKEY_RSA)
    return Fail(ErrorCode::kPermissionDenied,
                "cannot open the master private key (wrong passphrase, or not an RSA key in "
                "PEM): " +
                    OpenSslError());
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new(priv.get(), nullptr));
  Bytes out(size_t(EVP_PKEY_get_size(priv.get())));
  size_t n = out.size();
  if (!ctx || EVP_PKEY_decrypt_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_decrypt(ctx.get(), out.data(), &n, wrapped.data(), wrapped.size()) != 1)
    return Fail(
        ErrorCode::kCorrupt,
        "the encrypted key file cannot be decrypted with this master key: " + OpenSslError());
  out.resize(n);
  auto config = KeyConfig::Parse(AsString(out));
  OPENSSL_cleanse(out.data(), out.size());
  if (!config)
    return Fail(ErrorCode::kCorrupt, "the encrypted key file: " + config.error().message());
  return config;
}

std::string FormatLocalRfc3339(int64_t unix_seconds) {
  const time_t t = time_t(unix_seconds);
  struct tm tm {};
  localtime_r(&t, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  const long off = tm.tm_gmtoff;
  const long a = off < 0 ? -off : off;
  char zone[48];
  std::snprintf(zone, sizeof zone, "%c%02ld:%02ld", off < 0 ? '-' : '+', a / 3600, a / 60 % 60);
  return std::string(buf) + zone;
}

Result<int64_t> ParseAnyRfc3339(std::string_view s) {
  auto bad = [&] {
    return Fail(ErrorCode::kInvalidArgument,
                "not an RFC 3339 time: '" + std::string(s.substr(0, 40)) + "'");
  };
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':')
    return bad();
  const int y1 = Digits2(s, 0), y2 = Digits2(s, 2), mo = Digits2(s, 5), d = Digits2(s, 8),
            h = Digits2(s, 11), mi = Digits2(s, 14), se = Digits2(s, 17);
  if (y1 < 0 || y2 < 0 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
      mi > 59 || se < 0 || se > 60)
    return bad();
  size_t i = 19;
  if (i < s.size() && s[i] == '.') {
    ++i;
    const size_t start = i;
    while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) ++i;
    if (i == start) return bad();
  }
  int64_t offset = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    ++i;
  } else if (i + 6 == s.size() && (s[i] == '+' || s[i] == '-') && s[i + 3] == ':') {
    const int oh = Digits2(s, i + 1), om = Digits2(s, i + 4);
    if (oh < 0 || oh > 23 || om < 0 || om > 59) return bad();
    offset = (s[i] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
    i += 6;
  } else {
    return bad();
  }
  if (i != s.size()) return bad();
  struct tm tm {};
  tm.tm_year = y1 * 100 + y2 - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = se;
  return int64_t(timegm(&tm)) - offset;
}

}  // namespace chunkvault
