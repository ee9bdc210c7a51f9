#include "server/tls_cert.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <memory>

#include "chunkvault/hash.h"
#include "server/secret_hash.h"

namespace chunkvault::server {
namespace {

template <auto Free>
struct Deleter {
  template <typename T>
  void operator()(T* p) const {
    Free(p);
  }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION_free>>;

constexpr int kKeyBits = 4096;
constexpr long kValidDays = 1000L * 365;

Error OpensslError(const std::string& what) {
  std::string detail;
  if (unsigned long e = ERR_get_error(); e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    detail = std::string(": ") + buf;
  }
  ERR_clear_error();
  return Error(ErrorCode::kInternal, what + detail);
}

std::string BioText(BIO* bio) {
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  return n > 0 ? std::string(data, static_cast<size_t>(n)) : std::string();
}

Result<X509Ptr> MakeCertificate(EVP_PKEY* key, const std::string& hostname) {
  X509Ptr cert(X509_new());
  if (!cert) return std::unexpected(OpensslError("X509_new"));
  X509_set_version(cert.get(), 2);
  // A random 159-bit serial, as RFC 5280 allows (positive, at most 20 bytes).
  Bytes serial(20);
  if (RAND_bytes(serial.data(), static_cast<int>(serial.size())) != 1)
    return std::unexpected(OpensslError("random serial"));
  serial[0] &= 0x7f;
  std::unique_ptr<BIGNUM, Deleter<BN_free>> bn(BN_bin2bn(serial.data(), 20, nullptr));
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert.get())))
    return std::unexpected(OpensslError("certificate serial"));
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), kValidDays, 0, nullptr);
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string unit = NewTokenSecret();
  auto add = [&](const char* field, const std::string& value) {
    return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
                                      reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
                                      0) == 1;
  };
  if (!add("O", "chunkvault") || !add("OU", unit) || !add("CN", hostname))
    return std::unexpected(OpensslError("certificate subject"));
  X509_set_issuer_name(cert.get(), name);
  X509_set_pubkey(cert.get(), key);

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert.get(), cert.get(), nullptr, nullptr, 0);
  const std::string san = "DNS:localhost,DNS:" + hostname + ",IP:127.0.0.1,IP:::1";
  for (auto [nid, value] : {std::pair<int, std::string>{NID_subject_alt_name, san},
                            {NID_basic_constraints, "critical,CA:FALSE"},
                            {NID_ext_key_usage, "serverAuth"}}) {
    ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
    if (!ext || X509_add_ext(cert.get(), ext.get(), -1) != 1)
      return std::unexpected(OpensslError("certificate extension " + value));
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0)
    return std::unexpected(OpensslError("signing the certificate"));
  return cert;
}

}  // namespace

std::string CertificateFingerprint(ByteView der) {
  Digest d = Sha256Of(der);
  std::string hex = ToHex(d), out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out += ':';
    out += hex.substr(i, 2);
  }
  return out;
}

Status EnsureCertificate(Env& env, const std::string& key_path, const std::string& cert_path,
                         const std::string& hostname) {
  if (auto st = env.Stat(cert_path); st)
    return {};
  else if (st.error().code() != ErrorCode::kNotFound)
    return std::unexpected(st.error());

  PkeyPtr key(EVP_RSA_gen(kKeyBits));
  if (!key) return std::unexpected(OpensslError("generating an RSA key"));
  CV_ASSIGN_OR_RETURN(X509Ptr cert, MakeCertificate(key.get(), hostname));

  BioPtr key_pem(BIO_new(BIO_s_mem()));
  BioPtr cert_pem(BIO_new(BIO_s_mem()));
  if (!key_pem || !cert_pem ||
      PEM_write_bio_PrivateKey(key_pem.get(), key.get(), nullptr, nullptr, 0, nullptr, nullptr) !=
          1 ||
      PEM_write_bio_X509(cert_pem.get(), cert.get()) != 1)
    return std::unexpected(OpensslError("writing PEM"));
  std::string key_text = BioText(key_pem.get());
  WriteOptions secret;
  secret.mode = 0600;
  secret.sync = true;
  Status st = env.WriteFileAtomic(key_path, AsBytes(key_text), secret);
  OPENSSL_cleanse(key_text.data(), key_text.size());
  CV_RETURN_IF_ERROR(st);
  WriteOptions pub;
  pub.mode = 0644;
  pub.sync = true;
  return env.WriteFileAtomic(cert_path, AsBytes(BioText(cert_pem.get())), pub);
}

Result<CertificateInfo> ReadCertificateInfo(Env& env, const std::string& cert_path) {
  CV_ASSIGN_OR_RETURN(Bytes pem, env.ReadFile(cert_path, 1 << 20));
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  X509Ptr cert(bio ? PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!cert) {
    ERR_clear_error();
    return Fail(ErrorCode::kCorrupt, cert_path + ": not a PEM certificate");
  }
  CertificateInfo info;
  auto name_text = [](X509_NAME* name) {
    BioPtr out(BIO_new(BIO_s_mem()));
    X509_NAME_print_ex(out.get(), name, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB);
    return BioText(out.get());
  };
  info.subject = name_text(X509_get_subject_name(cert.get()));
  info.issuer = name_text(X509_get_issuer_name(cert.get()));
  auto epoch = [](const ASN1_TIME* t) -> int64_t {
    struct tm tm {};
    if (ASN1_TIME_to_tm(t, &tm) != 1) return 0;
    return static_cast<int64_t>(timegm(&tm));
  };
  info.not_before = epoch(X509_get0_notBefore(cert.get()));
  info.not_after = epoch(X509_get0_notAfter(cert.get()));
  int der_len = i2d_X509(cert.get(), nullptr);
  if (der_len <= 0) return std::unexpected(OpensslError("encoding the certificate"));
  Bytes der(static_cast<size_t>(der_len));
  unsigned char* p = der.data();
  i2d_X509(cert.get(), &p);
  info.fingerprint = CertificateFingerprint(der);
  EVP_PKEY* pub = X509_get0_pubkey(cert.get());
  if (pub) {
    const int id = EVP_PKEY_get_base_id(pub);
    info.public_key = std::string(id == EVP_PKEY_RSA  ? "RSA"
                                  : id == EVP_PKEY_EC ? "EC"
                                                      : "other") +
                      " " + std::to_string(EVP_PKEY_get_bits(pub));
  }
  return info;
}

}  // namespace chunkvault::server
