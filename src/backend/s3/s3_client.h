// S3Client: the S3 operations chunkvault needs, over an HttpClient, signed
// with SigV4 (signed payloads).
//
// Retries: transport errors, 429, 500, 502, 503 and 504, and 409 on PUT,
// are retried with exponential backoff and jitter (half the delay fixed,
// half random) up to RetryPolicy::max_attempts; other statuses are final.
// Every error names the operation, the key, the bucket and the endpoint,
// and carries the server's code and message; a 403 adds the access key id,
// never a secret.
//
// Timing (the clock, sleeping, randomness) comes from S3Timing so tests
// run retries and rate limits without waiting.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "backend/s3/credentials.h"
#include "backend/s3/http.h"
#include "backend/s3/s3_xml.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "util/thread_annotations.h"

namespace chunkvault {

struct RetryPolicy {
  int max_attempts = 5;
  std::chrono::milliseconds base_delay{200};
  std::chrono::milliseconds max_delay{5000};
};

struct S3Config {
  std::string endpoint;  // https://host[:port]; http only for loopback
  std::string bucket;
  std::string region = "us-east-1";
  // endpoint/bucket/key instead of bucket.endpoint/key. Without it,
  // requests go virtual-hosted style where that can work, and path style
  // where it cannot, as the AWS SDKs do: an endpoint that is an IP
  // address, a bucket name that cannot lead a host name, or one with dots
  // over https (a wildcard certificate covers one label), see
  // S3Client::path_style().
  bool path_style = false;
  // Providers without conditional PUTs: ask with HEAD before every
  // put-if-absent instead of sending If-None-Match: *.
  bool skip_if_none_match = false;
  double put_rate_limit = 0;  // PUT requests per second; 0: unlimited
  RetryPolicy retry;
  // Told of every failed attempt that will be tried again, on the thread
  // that made it (so: must be thread-safe), before the wait: what failed,
  // why, and when the next attempt comes ("S3 GET <key> (bucket 'b' at
  // https://host): HTTP 503 SlowDown ...; attempt 2 of 5 in 0.2 s"). A
  // stalled server otherwise looks like a hung job for minutes. Names no
  // secret.
  std::function<void(const std::string&)> on_retry;
};

struct S3Timing {
  std::function<int64_t()> now_unix;                  // for signatures
  std::function<double()> monotonic_seconds;          // for the rate limit
  std::function<void(std::chrono::microseconds)> sleep;
  std::function<double()> random_unit;                // uniform in [0, 1)
  static S3Timing Real();
};

// Requests sent, by kind (retries included): what an S3 bill counts.
struct S3RequestCounts {
  std::atomic<uint64_t> put{0}, get{0}, head{0}, list{0}, del{0}, copy{0}, retries{0};
  std::atomic<uint64_t> bytes_up{0}, bytes_down{0};
};

class S3Client {
 public:
  // Checks the configuration (endpoint URL, plain HTTP only for loopback).
  static Result<std::unique_ptr<S3Client>> Create(S3Config config, Credentials credentials,
                                                  std::unique_ptr<HttpClient> http,
                                                  S3Timing timing = S3Timing::Real());

  // Stores `data` under `key`. With `if_absent`, an existing object is left
  // alone and the result is false ("already there").
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
  const S3Config& config() const { return config_; }
  // Whether requests name the bucket in the path: config().path_style, or
  // virtual-hosted style could not work (see S3Config::path_style).
  bool path_style() const { return path_style_; }
  const S3RequestCounts& counts() const { return counts_; }

 private:
  S3Client(S3Config config, Credentials credentials, std::unique_ptr<HttpClient> http,
           S3Timing timing);

  struct Call {
    std::string op;      // "PUT", "GET", ... for messages
    std::string method;
    std::string key;     // object key; empty for bucket-level requests
    std::string query;   // encoded, without '?'
    std::vector<HttpHeader> headers;
    ByteView body;
    bool retry_conflict = false;  // 409 is retryable (PUT)
    std::atomic<uint64_t>* counter = nullptr;
  };
  // Sends with retries. Returns the last response for any status that is
  // not retried (the caller judges it), or an error when retries ran out.
  Result<HttpResponse> Execute(const Call& call);
  std::string Url(const std::string& key, const std::string& query) const;
  // The error for a final, unexpected status.
  Error StatusError(const Call& call, const HttpResponse& response) const;
  std::string What(const Call& call) const;
  std::chrono::microseconds Backoff(int failures);
  void ThrottlePut() CV_EXCLUDES(rate_mu_);

  const S3Config config_;
  const Credentials credentials_;
  const std::unique_ptr<HttpClient> http_;
  const S3Timing timing_;
  std::string scheme_, host_;  // of the endpoint (host with port)
  bool path_style_ = false;
  S3RequestCounts counts_;
  std::mutex rate_mu_;
  double next_put_ CV_GUARDED_BY(rate_mu_) = 0;  // monotonic time of the next allowed PUT
};

// True for 127.0.0.0/8, ::1 and localhost.
bool IsLoopbackHost(const std::string& host);

// Whether `bucket` can lead a host name (virtual-hosted style): 3 to 63
// lowercase letters, digits, '-' and '.', in labels that start and end
// with a letter or digit, and not of digits and dots alone (the shape of
// an IPv4 address).
bool IsDnsCompatibleBucket(const std::string& bucket);

}  // namespace chunkvault
