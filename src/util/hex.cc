#include "chunkvault/bytes.h"

namespace chunkvault {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Status DecodeHexInto(std::string_view hex, uint8_t* out) {
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = HexValue(hex[i]), lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0)
      return Fail(ErrorCode::kInvalidArgument,
                  "not a hex string: '" + std::string(hex) + "'");
    out[i / 2] = uint8_t(hi << 4 | lo);
  }
  return {};
}

}  // namespace

std::string ToHex(ByteView bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(bytes.size() * 2, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) {
    out[2 * i] = kDigits[bytes[i] >> 4];
    out[2 * i + 1] = kDigits[bytes[i] & 15];
  }
  return out;
}

Result<Digest> DigestFromHex(std::string_view hex) {
  if (hex.size() != 64)
    return Fail(ErrorCode::kInvalidArgument,
                "a digest is 64 hex characters, got '" + std::string(hex) + "'");
  Digest d;
  CV_RETURN_IF_ERROR(DecodeHexInto(hex, d.data()));
  return d;
}

Result<Bytes> BytesFromHex(std::string_view hex) {
  if (hex.size() % 2 != 0)
    return Fail(ErrorCode::kInvalidArgument,
                "odd-length hex string: '" + std::string(hex) + "'");
  Bytes out(hex.size() / 2);
  CV_RETURN_IF_ERROR(DecodeHexInto(hex, out.data()));
  return out;
}

}  // namespace chunkvault
