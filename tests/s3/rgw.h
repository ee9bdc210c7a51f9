// Access to the test S3 server (scripts/s3-test-server.sh), which CTest
// starts before the S3 tests: its settings are in the file named by
// CV_S3_ENV.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "backend/s3/s3_client.h"

namespace chunkvault::testing {

struct RgwSettings {
  std::string endpoint, access_key, secret_key, bucket, region;
};

// Reads $CV_S3_ENV; aborts the test binary with a clear message if unset.
const RgwSettings& Rgw();

// A client for the test bucket (or `bucket`), path-style, real timing.
std::unique_ptr<S3Client> RgwClient(const std::string& bucket = "");

// The server's endpoint by host name: http://localhost:<port>. The
// server's `rgw dns name` is localhost, so a request to
// <bucket>.localhost:<port> addresses the bucket (virtual-hosted style),
// and libcurl resolves every *.localhost name to the loopback address
// itself.
std::string RgwEndpointByName();

// A client for the test bucket that names it in the host (virtual-hosted
// style, the default for endpoints with host names).
std::unique_ptr<S3Client> RgwVirtualHostedClient();

// Environment for running the chunkvault binary against the server.
std::map<std::string, std::string> RgwEnv();

}  // namespace chunkvault::testing
