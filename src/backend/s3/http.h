// The HTTP seam of the S3 client: requests in, responses out.
//
// CurlHttpClient is the production implementation; tests use a scripted
// server (real sockets) or a fake HttpClient. A transport failure
// (connect, TLS, timeout, reset) is an Error with kNetwork; an HTTP error
// status is a normal response, for the caller to judge.
//
// Thread-safety: Send() may be called from many threads at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct HttpHeader {
  std::string name;
  std::string value;
};

struct HttpRequest {
  std::string method;  // GET, PUT, HEAD, DELETE, POST
  std::string url;     // scheme://host[:port]/path?query, already encoded
  std::vector<HttpHeader> headers;
  ByteView body;       // not owned; must outlive Send()
};

struct HttpResponse {
  long status = 0;
  std::vector<HttpHeader> headers;  // names in lower case
  Bytes body;

  // The value of a header (case-insensitive name), or "".
  std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  virtual Result<HttpResponse> Send(const HttpRequest& request) = 0;
};

struct HttpClientOptions {
  long connect_timeout_ms = 10000;
  // A transfer slower than 1 KiB/s for this long is abandoned (a stalled
  // connection); a fixed total timeout would cut off large objects.
  long stall_timeout_ms = 60000;
  // SHA-256 fingerprint of the server's certificate (hex, ':' allowed).
  // When set, the certificate must match it and the CA chain and host
  // name are not checked: for self-signed Ceph or MinIO endpoints.
  std::string pinned_fingerprint;
};

// libcurl, with a pool of easy handles so connections are kept alive and
// reused across requests and threads.
Result<std::unique_ptr<HttpClient>> NewCurlHttpClient(const HttpClientOptions& options);

// Normalises a fingerprint ("AB:cd:..." or "abcd...") to 64 lowercase hex
// characters; kInvalidArgument otherwise.
Result<std::string> NormalizeFingerprint(std::string_view text);

}  // namespace chunkvault
