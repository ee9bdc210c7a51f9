#include <openssl/evp.h>

#include <cstdlib>

#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

// Fetching the algorithm is slow in OpenSSL 3; do it once per process.
const EVP_MD* Sha256Md() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (md == nullptr) std::abort();  // OpenSSL without SHA-256 cannot run us
  return md;
}

}  // namespace

struct Sha256::Ctx {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ~Ctx() { EVP_MD_CTX_free(ctx); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
  if (ctx_->ctx == nullptr || EVP_DigestInit_ex(ctx_->ctx, Sha256Md(), nullptr) != 1)
    std::abort();
}

Sha256::~Sha256() = default;

void Sha256::Update(ByteView data) {
  EVP_DigestUpdate(ctx_->ctx, data.data(), data.size());
}

Digest Sha256::Finish() {
  Digest d;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_->ctx, d.data(), &len);
  EVP_DigestInit_ex(ctx_->ctx, Sha256Md(), nullptr);
  return d;
}

Digest Sha256Of(ByteView data) {
  Digest d;
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), d.data(), &len, Sha256Md(), nullptr);
  return d;
}

}  // namespace chunkvault
