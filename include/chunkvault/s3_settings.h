// An S3 bucket as a datastore's storage: where it is and how to talk to it.
// Credentials are not part of it: they come from the AWS environment and
// profiles at every run and are never stored (docs/format.md,
// ".chunkvault.json").
#pragma once

#include <string>

#include "chunkvault/status.h"

namespace chunkvault {

struct S3Settings {
  std::string endpoint;  // https://host[:port] (http for loopback only)
  std::string bucket;
  std::string region = "us-east-1";
  // endpoint/bucket/key instead of bucket.endpoint/key; path style is used
  // anyway where the host form cannot work (an IP address, a bucket name
  // that is no DNS label, dots over https).
  bool path_style = false;
  // Providers without conditional PUTs: HEAD before every put-if-absent
  // instead of sending If-None-Match: *.
  bool skip_if_none_match = false;
  std::string fingerprint;    // SHA-256 of a self-signed certificate to pin
  double put_rate_limit = 0;  // PUTs per second; 0: unlimited
};

// `given` with an empty region or endpoint filled the way the AWS SDKs
// fill them: region from AWS_REGION, AWS_DEFAULT_REGION or the profile,
// else us-east-1; endpoint from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or
// the profile's endpoint_url, else https://s3.<region>.amazonaws.com.
Result<S3Settings> ResolveS3Settings(S3Settings given);

}  // namespace chunkvault
