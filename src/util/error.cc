#include "chunkvault/status.h"

#include <cerrno>
#include <cstring>

namespace chunkvault {

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return "invalid argument";
    case ErrorCode::kNotFound: return "not found";
    case ErrorCode::kAlreadyExists: return "already exists";
    case ErrorCode::kCorrupt: return "corrupt";
    case ErrorCode::kEncrypted: return "encrypted";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kProtected: return "protected";
    case ErrorCode::kUnsupported: return "unsupported";
    case ErrorCode::kIo: return "i/o error";
    case ErrorCode::kNoSpace: return "no space";
    case ErrorCode::kNetwork: return "network error";
    case ErrorCode::kPermissionDenied: return "permission denied";
    case ErrorCode::kRefused:
      return "refused";
    case ErrorCode::kInternal: return "internal error";
  }
  return "unknown error";
}

Error ErrnoError(int err, const std::string& what) {
  ErrorCode code = ErrorCode::kIo;
  if (err == ENOENT) code = ErrorCode::kNotFound;
  if (err == EEXIST) code = ErrorCode::kAlreadyExists;
  if (err == EWOULDBLOCK) code = ErrorCode::kBusy;
  if (err == ENOSPC || err == EDQUOT) code = ErrorCode::kNoSpace;
  return Error(code, what + ": " + std::strerror(err));
}

}  // namespace chunkvault
