// AWS credentials and settings, found the way the AWS SDKs find them.
//
//   credentials: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN),
//                else the profile in ~/.aws/credentials, else in ~/.aws/config
//   profile:     AWS_PROFILE, else "default"
//   region:      AWS_REGION, AWS_DEFAULT_REGION, then the profile's "region"
//   endpoint:    AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL, then the profile's
//                "endpoint_url"
//   files:       AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE, else under $HOME
//
// Secrets never leave this struct through a message: Describe() names the
// access key id, nothing more. There is deliberately no operator<<.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "chunkvault/s3_settings.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;

  // "access key AKIA...", for messages.
  std::string Describe() const { return "access key " + access_key_id; }
};

struct AwsSettings {
  Credentials credentials;
  std::string profile;              // the profile consulted
  std::string credentials_source;   // "environment", "<file> [profile]"
  std::optional<std::string> region;
  std::optional<std::string> endpoint_url;
};

// Reads an environment variable; tests pass their own.
using GetEnv = std::function<std::optional<std::string>(const std::string&)>;
GetEnv ProcessEnv();

// kNotFound (naming the places looked at) when no credentials are found.
Result<AwsSettings> LoadAwsSettings(const GetEnv& env);

// ResolveS3Settings (chunkvault/s3_settings.h) from `env`.
Result<S3Settings> ResolveS3Settings(S3Settings given, const GetEnv& env);

}  // namespace chunkvault
