// Error handling for every layer below the CLI.
//
// A function that can fail returns Result<T> (std::expected<T, Error>) or
// Status (Result<void>). An Error carries a code, which the CLI maps to an
// exit code, and a message written for a human: it names what was wrong and
// where (file, chunk digest, archive). Callers add context on the way up with
// Error::Context(), so "CRC mismatch" becomes
// "restore host/a/...: archive root.tar.didx: chunk 3f2a...: CRC mismatch".
//
// Thread-safety: plain values; no shared state.
#pragma once

#include <expected>
#include <string>
#include <utility>

namespace chunkvault {

enum class ErrorCode {
  kInvalidArgument,   // bad input from the user (names, sizes, options)
  kNotFound,          // a file, snapshot, archive or chunk does not exist
  kAlreadyExists,     // something to be created is already there
  kCorrupt,           // stored data fails a check (magic, CRC, digest, csum)
  kEncrypted,         // encrypted data and no key was given
  kBusy,              // a lock is held by another process
  kProtected,         // a protected snapshot may not be removed
  kUnsupported,       // valid but not handled (e.g. a socket in a tree)
  kIo,                // the operating system refused (errno)
  kNoSpace,           // the disk (or quota) is full
  kNetwork,           // a remote endpoint failed or could not be reached
  kPermissionDenied,  // the remote side refused us (403, untrusted certificate)
  kRefused,           // a server refused a request it understood (HTTP 400)
  kInternal,          // a bug: an invariant did not hold
};

// A short lowercase name for the code ("corrupt", "not found"...).
const char* ErrorCodeName(ErrorCode code);

class Error {
 public:
  Error(ErrorCode code, std::string message)
      : code_(code), message_(std::move(message)) {}

  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }

  // Prefixes the message with "what: ". Returns *this for chaining.
  Error& Context(const std::string& what) & {
    message_ = what + ": " + message_;
    return *this;
  }
  Error&& Context(const std::string& what) && {
    message_ = what + ": " + message_;
    return std::move(*this);
  }

 private:
  ErrorCode code_;
  std::string message_;
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected<Error>(Error(code, std::move(message)));
}

// An Error from an errno value: ENOENT maps to kNotFound, EEXIST to
// kAlreadyExists, EWOULDBLOCK to kBusy, everything else to kIo. The message
// is "<what>: <strerror>".
Error ErrnoError(int err, const std::string& what);
inline std::unexpected<Error> FailErrno(int err, const std::string& what) {
  return std::unexpected<Error>(ErrnoError(err, what));
}

// Adds context to the error of a failed result, passing success through.
template <class T>
Result<T> WithContext(Result<T>&& r, const std::string& what) {
  if (!r) r.error().Context(what);
  return std::move(r);
}

}  // namespace chunkvault

#define CV_CONCAT_INNER_(a, b) a##b
#define CV_CONCAT_(a, b) CV_CONCAT_INNER_(a, b)

// Returns the error of a failed Status or Result from the enclosing function.
#define CV_RETURN_IF_ERROR(expr)                                  \
  do {                                                            \
    auto cv_status_ = (expr);                                     \
    if (!cv_status_) return std::unexpected(std::move(cv_status_).error()); \
  } while (0)

// Declares or assigns `lhs` from a Result, or returns its error. It expands
// to several statements: as the body of an if or else, put it in braces.
#define CV_ASSIGN_OR_RETURN(lhs, expr) \
  CV_ASSIGN_OR_RETURN_IMPL_(CV_CONCAT_(cv_result_, __LINE__), lhs, expr)
#define CV_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr)             \
  auto tmp = (expr);                                          \
  if (!tmp) return std::unexpected(std::move(tmp).error());   \
  lhs = std::move(*tmp)
