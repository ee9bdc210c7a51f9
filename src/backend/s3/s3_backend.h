// Backends on an S3 bucket: the objects through the S3 client, and the
// stack of wrappers the datastore uses (backend/wrappers.h).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backend/s3/credentials.h"
#include "backend/s3/s3_client.h"
#include "backend/wrappers.h"
#include "chunkvault/backend.h"
#include "chunkvault/s3_settings.h"

namespace chunkvault {

// The bucket's objects, one request per call: keys are used as they are
// (the caller adds any prefix); List pages through ListObjectsV2 with
// `page_size` keys per request. Put(kIfAbsent) sends If-None-Match: *.
std::unique_ptr<Backend> NewS3ObjectBackend(std::shared_ptr<S3Client> client, int page_size = 1000);

struct S3BackendOptions {
  RetryPolicy retry;
  WaitClock clock = WaitClock::Real();
  // Told of each failed attempt that will be tried again (see
  // RetryingBackend), from any thread; never a secret.
  std::function<void(const std::string&)> on_retry;
  int page_size = 1000;
};

// The stack over the client, as its settings ask: retries, then the PUT
// rate limit (settings().put_rate_limit), then, with skip_if_none_match,
// a HEAD before each conditional PUT, then request counts.
CountedBackend NewS3Backend(std::shared_ptr<S3Client> client, S3BackendOptions options);

// The one way the datastore opens a bucket: credentials from the AWS
// environment or profile (`env`), curl pinning settings.fingerprint if
// given, the client and the stack of NewS3Backend.
Result<CountedBackend> OpenS3Backend(const S3Settings& settings, const GetEnv& env,
                                     std::function<void(const std::string&)> on_retry);

}  // namespace chunkvault
