// AWS Signature Version 4 for S3 (header authorisation, signed payload).
//
// A pure function of the request, the credentials and the time: the same
// inputs give the same signature, which is how it is tested against AWS's
// published examples. The URL must be final: the path percent-encoded once
// (S3 canonical URIs are not normalised or encoded again) and the query
// encoded; the query is re-encoded and sorted for the canonical form.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "backend/s3/credentials.h"
#include "backend/s3/http.h"

namespace chunkvault {

inline constexpr char kUnsignedPayload[] = "UNSIGNED-PAYLOAD";

// Percent-encoding as SigV4 defines it: A-Z a-z 0-9 - _ . ~ stay, every
// other byte becomes %XX (upper case); '/' stays too when `keep_slash`.
std::string UriEncode(std::string_view text, bool keep_slash);
// The inverse; with `plus_is_space`, '+' decodes to ' ' (form encoding, as
// S3 uses in listings with encoding-type=url).
std::string UriDecode(std::string_view text, bool plus_is_space);

struct UrlParts {
  std::string scheme;  // http, https
  std::string host;    // host or [v6]
  std::string port;    // empty: the scheme's default
  std::string path;    // starts with '/'
  std::string query;   // without '?'
  std::string Authority() const { return port.empty() ? host : host + ":" + port; }
};
Result<UrlParts> ParseUrl(std::string_view url);

struct SigningContext {
  std::string region;
  std::string service = "s3";
  int64_t time = 0;  // seconds since the epoch
};

// "20130524T000000Z"
std::string AmzDate(int64_t time);

// Adds host, x-amz-date, x-amz-content-sha256 (= payload_hash), the
// session token if any, and Authorization to `request`. Every header the
// request carries is signed. Returns the canonical request, for tests.
std::string SignRequest(HttpRequest& request, const Credentials& credentials,
                        const SigningContext& context, std::string_view payload_hash);

}  // namespace chunkvault
