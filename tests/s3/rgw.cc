#include "s3/rgw.h"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>

namespace chunkvault::testing {

const RgwSettings& Rgw() {
  static const RgwSettings settings = [] {
    const char* path = std::getenv("CV_S3_ENV");
    if (path == nullptr) {
      std::fprintf(stderr, "CV_S3_ENV is not set: run the S3 tests through ctest, which starts "
                           "the test server (scripts/s3-test-server.sh)\n");
      std::abort();
    }
    std::ifstream in(path);
    if (!in) {
      std::fprintf(stderr, "cannot read %s: did the s3_server_start test run?\n", path);
      std::abort();
    }
    std::map<std::string, std::string> kv;
    std::string line;
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq != std::string::npos) kv[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return RgwSettings{kv["S3_ENDPOINT"], kv["S3_ACCESS_KEY"], kv["S3_SECRET_KEY"], kv["S3_BUCKET"],
                       kv["S3_REGION"]};
  }();
  return settings;
}

std::unique_ptr<S3Client> RgwClient(const std::string& bucket, int max_attempts) {
  S3Config config;
  config.endpoint = Rgw().endpoint;
  config.bucket = bucket.empty() ? Rgw().bucket : bucket;
  config.region = Rgw().region;
  config.path_style = true;
  config.retry.max_attempts = max_attempts;
  auto client = S3Client::Create(config, {Rgw().access_key, Rgw().secret_key, ""},
                                 *NewCurlHttpClient({}));
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().message().c_str());
    std::abort();
  }
  return std::move(*client);
}

std::map<std::string, std::string> RgwEnv() {
  return {{"AWS_ACCESS_KEY_ID", Rgw().access_key},
          {"AWS_SECRET_ACCESS_KEY", Rgw().secret_key},
          {"AWS_REGION", Rgw().region}};
}

}  // namespace chunkvault::testing
