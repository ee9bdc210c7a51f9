// S3Client: the S3 operations chunkvault needs, over an HttpClient, signed
// with SigV4 (signed payloads): one HTTP request per call (a DeleteObjects
// of more than 1000 keys: one per 1000).
//
// Transient failures (transport errors, timeouts, HTTP 429, 500, 502, 503
// and 504, 409 on PUT and COPY) are kNetwork errors, which the
// RetryingBackend above tries again (backend/wrappers.h); every other
// failure is final. Retries, the PUT rate limit, request counts and the
// HEAD that stands in for a conditional PUT are wrappers, not this
// client's (NewS3Backend stacks them). Every error names the operation,
// the key, the bucket and the endpoint, and carries the server's code and
// message; a 403 adds the access key id, never a secret.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/s3/credentials.h"
#include "backend/s3/http.h"
#include "backend/s3/s3_xml.h"
#include "chunkvault/bytes.h"
#include "chunkvault/s3_settings.h"
#include "chunkvault/status.h"

namespace chunkvault {

class S3Client {
 public:
  // Checks the settings (endpoint URL, plain HTTP only for loopback) and
  // takes what requests need of them: endpoint, bucket, region, path
  // style. Without `path_style`, requests go virtual-hosted style where
  // that can work and path style where it cannot, as the AWS SDKs do: an
  // endpoint that is an IP address, a bucket name that cannot lead a host
  // name, or one with dots over https (a wildcard certificate covers one
  // label). `now_unix` dates the signatures (tests pass their own).
  static Result<std::unique_ptr<S3Client>> Create(S3Settings settings, Credentials credentials,
                                                  std::unique_ptr<HttpClient> http,
                                                  std::function<int64_t()> now_unix = nullptr);

  // Stores `data` under `key`. With `if_absent` (If-None-Match: *), an
  // existing object is left alone and the result is false ("already
  // there").
  Result<bool> PutObject(const std::string& key, ByteView data, bool if_absent);
  // kNotFound if there is no such object.
  Result<Bytes> GetObject(const std::string& key);
  Result<Bytes> GetObjectRange(const std::string& key, uint64_t offset, uint64_t length);
  // The object's size, or nullopt if it does not exist.
  Result<std::optional<uint64_t>> HeadObject(const std::string& key);
  Status HeadBucket();
  // Deleting a missing key is not an error (S3 semantics).
  Status DeleteObject(const std::string& key);
  // Deletes in batches of 1000; the errors S3 reports per key are returned.
  Result<std::vector<S3DeleteError>> DeleteObjects(const std::vector<std::string>& keys);
  // One page of keys under `prefix`, in ascending order.
  Result<S3ListPage> ListObjectsV2(const std::string& prefix, const std::string& continuation_token,
                                   int max_keys = 1000);
  Status CopyObject(const std::string& from, const std::string& to);

  // "bucket 'b' at https://host"
  std::string Describe() const;
  const S3Settings& settings() const { return settings_; }
  // Whether requests name the bucket in the path: settings().path_style,
  // or virtual-hosted style could not work (see Create).
  bool path_style() const { return path_style_; }

 private:
  S3Client(S3Settings settings, Credentials credentials, std::unique_ptr<HttpClient> http,
           std::function<int64_t()> now_unix);

  struct Call {
    std::string op;      // "PUT", "GET", ... for messages
    std::string method;
    std::string key;     // object key; empty for bucket-level requests
    std::string query;   // encoded, without '?'
    std::vector<HttpHeader> headers;
    ByteView body;
    bool retry_conflict = false;  // 409 is transient (PUT, COPY)
  };
  // Sends one request. A transport error or a transient status is a
  // kNetwork error; any other response is returned for the caller to judge.
  Result<HttpResponse> Execute(const Call& call);
  std::string Url(const std::string& key, const std::string& query) const;
  // The error for a final, unexpected status.
  Error StatusError(const Call& call, const HttpResponse& response) const;
  std::string What(const Call& call) const;

  const S3Settings settings_;
  const Credentials credentials_;
  const std::unique_ptr<HttpClient> http_;
  const std::function<int64_t()> now_unix_;
  std::string scheme_, host_;  // of the endpoint (host with port)
  bool path_style_ = false;
};

// True for 127.0.0.0/8, ::1 and localhost.
bool IsLoopbackHost(const std::string& host);

// Whether `bucket` can lead a host name (virtual-hosted style): 3 to 63
// lowercase letters, digits, '-' and '.', in labels that start and end
// with a letter or digit, and not of digits and dots alone (the shape of
// an IPv4 address).
bool IsDnsCompatibleBucket(const std::string& bucket);

}  // namespace chunkvault
