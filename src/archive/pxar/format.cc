#include "archive/pxar/format.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <cstdio>
#include <cstdlib>
#include <memory>

namespace chunkvault::pxar {
namespace {

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};

// OpenSSL's SipHash, with its default 2 compression and 4 finalisation
// rounds and an 8-byte tag (the u64, little endian).
EVP_MAC_CTX* SipHashContext() {
  static EVP_MAC* const mac = EVP_MAC_fetch(nullptr, "SIPHASH", nullptr);
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx(mac ? EVP_MAC_CTX_new(mac) : nullptr);
  if (!ctx) {
    std::fputs("pxar: OpenSSL has no SipHash\n", stderr);
    std::abort();
  }
  return ctx.get();
}

}  // namespace

uint64_t HashFilename(ByteView data) {
  uint8_t key[16];
  StoreLe64(key, kHashKey1);
  StoreLe64(key + 8, kHashKey2);
  size_t size = 8;
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
                               OSSL_PARAM_construct_end()};
  EVP_MAC_CTX* ctx = SipHashContext();
  uint8_t out[8];
  size_t out_len = 0;
  if (EVP_MAC_init(ctx, key, sizeof key, params) != 1 ||
      EVP_MAC_update(ctx, data.data(), data.size()) != 1 ||
      EVP_MAC_final(ctx, out, &out_len, sizeof out) != 1 || out_len != 8) {
    std::fputs("pxar: SipHash failed\n", stderr);
    std::abort();
  }
  return LoadLe64(out);
}

std::string TypeName(uint64_t type) {
  switch (type) {
    case kFormatVersion:
      return "FORMAT_VERSION";
    case kEntry:
      return "ENTRY";
    case kEntryV1:
      return "ENTRY_V1";
    case kPrelude:
      return "PRELUDE";
    case kFilename:
      return "FILENAME";
    case kSymlink:
      return "SYMLINK";
    case kDevice:
      return "DEVICE";
    case kXattr:
      return "XATTR";
    case kAclUser:
      return "ACL_USER";
    case kAclGroup:
      return "ACL_GROUP";
    case kAclGroupObj:
      return "ACL_GROUP_OBJ";
    case kAclDefault:
      return "ACL_DEFAULT";
    case kAclDefaultUser:
      return "ACL_DEFAULT_USER";
    case kAclDefaultGroup:
      return "ACL_DEFAULT_GROUP";
    case kFcaps:
      return "FCAPS";
    case kQuotaProjid:
      return "QUOTA_PROJID";
    case kHardlink:
      return "HARDLINK";
    case kPayload:
      return "PAYLOAD";
    case kPayloadRef:
      return "PAYLOAD_REF";
    case kGoodbye:
      return "GOODBYE";
    case kPayloadStartMarker:
      return "PAYLOAD_START_MARKER";
    case kPayloadTailMarker:
      return "PAYLOAD_TAIL_MARKER";
    default: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "unknown item %016llx", static_cast<unsigned long long>(type));
      return buf;
    }
  }
}

uint64_t MaxContentSize(uint64_t type) {
  switch (type) {
    case kFormatVersion:
      return 8;
    case kFilename:
      return kMaxFilenameLen + 1;
    case kSymlink:
      return kMaxPathLen + 1;
    case kHardlink:
      return kMaxPathLen + 1 + 8;
    case kDevice:
      return 16;
    case kXattr:
    case kFcaps:
      return kMaxXattrLen;
    case kAclUser:
    case kAclDefaultUser:
    case kAclGroup:
    case kAclDefaultGroup:
      return 16;
    case kAclDefault:
      return 32;
    case kAclGroupObj:
    case kQuotaProjid:
      return 8;
    case kEntry:
      return kStatSize;
    case kEntryV1:
      return kStatV1Size;
    case kPayloadRef:
      return 16;
    case kPayloadTailMarker:
      return kHeaderSize;
    default:
      return ~uint64_t{0} - kHeaderSize;
  }
}

Status CheckFilename(ByteView name) {
  const std::string_view s = AsString(name);
  if (s.empty()) return Fail(ErrorCode::kCorrupt, "empty file name");
  if (s.size() > kMaxFilenameLen)
    return Fail(ErrorCode::kCorrupt,
                "file name of " + std::to_string(s.size()) + " bytes (at most 4096)");
  if (s == "." || s == "..") return Fail(ErrorCode::kCorrupt, "file name '" + std::string(s) + "'");
  if (s.find('/') != std::string_view::npos) return Fail(ErrorCode::kCorrupt, "file name with '/'");
  if (s.find('\0') != std::string_view::npos)
    return Fail(ErrorCode::kCorrupt, "file name with a NUL byte");
  return {};
}

void AppendLe64(Bytes& out, uint64_t v) {
  const size_t at = out.size();
  out.resize(at + 8);
  StoreLe64(out.data() + at, v);
}

void AppendHeader(Bytes& out, uint64_t type, uint64_t content_size) {
  AppendLe64(out, type);
  AppendLe64(out, content_size + kHeaderSize);
}

}  // namespace chunkvault::pxar
