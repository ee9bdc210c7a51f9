// Requests and answers as chunkvaultd's handlers see them, whatever carried
// them (HTTP/1.1 through Beast, HTTP/2 through nghttp2), and the answer
// forms PBS's clients expect: {"data": ...} JSON, errors as plain text
// with the status, downloads as raw bytes.
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault::server {

// Parameters of a query string or form body, in order; a key may repeat
// (PBS sends arrays that way).
class Params {
 public:
  // Parses "a=1&b=x%20y" (form encoding: '+' is a space). kInvalidArgument
  // for a bad %-escape or a decoded NUL.
  static Result<Params> ParseForm(std::string_view text);

  void Add(std::string key, std::string value) {
    items_.emplace_back(std::move(key), std::move(value));
  }
  const std::vector<std::pair<std::string, std::string>>& items() const { return items_; }
  // The first value of `key`, or nullptr.
  const std::string* Find(std::string_view key) const;

  // Typed access for handlers: kInvalidArgument naming the parameter when
  // it is missing (Get*), not a number in [min, max], or not one of true,
  // false, 1, 0.
  Result<std::string> GetString(std::string_view key) const;
  Result<int64_t> GetInt(std::string_view key, int64_t min, int64_t max) const;
  Result<std::optional<int64_t>> GetOptionalInt(std::string_view key, int64_t min,
                                                int64_t max) const;
  Result<bool> GetBool(std::string_view key, bool default_value) const;

 private:
  std::vector<std::pair<std::string, std::string>> items_;
};

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // without the query, %-decoded
  Params query;
  // Header names in lowercase; a repeated header keeps its first value.
  std::map<std::string, std::string> headers;
  Bytes body;
  std::string peer;  // "address:port" of the client

  const std::string* Header(const std::string& lowercase_name) const;
};

// A request's parameters as PBS's "sync" handlers read them: with
// Content-Type application/json the body's object (numbers and booleans as
// text; an empty body is {}), else the form body and the query together.
// kInvalidArgument for a malformed body, a value that is an array or object
// (PBS's array parameters are not used by these calls), or another type.
Result<Params> ParamsOf(const HttpRequest& request);

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json;charset=UTF-8";
  Bytes body;
  // Further headers ("set-cookie", "upgrade"...).
  std::vector<std::pair<std::string, std::string>> headers;
};

// {"data": value} with status 200, as PBS answers.
HttpResponse JsonAnswer(const nlohmann::json& value);
// An error as PBS sends it: the status and the message as the body.
HttpResponse ErrorAnswer(int status, const std::string& message);
// The HTTP status for an error from the layers below (kNotFound 404,
// kPermissionDenied 403, kBusy 409 ... kInvalidArgument and kCorrupt 400,
// kIo/kInternal 500).
int StatusFor(ErrorCode code);
HttpResponse ErrorAnswer(const Error& error);
// Raw bytes (application/octet-stream).
HttpResponse BytesAnswer(Bytes body);

// Base64 (standard alphabet, padded), for tickets and CSRF tokens.
std::string Base64(ByteView data);
// %-decoding of a cookie value or path (no '+' rule); nullopt if malformed.
std::optional<std::string> PercentDecode(std::string_view text);

}  // namespace chunkvault::server
