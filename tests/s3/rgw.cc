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

namespace {

std::unique_ptr<S3Client> MakeClient(const S3Settings& config) {
  auto client = S3Client::Create(config, {Rgw().access_key, Rgw().secret_key, ""},
                                 *NewCurlHttpClient({}));
  if (!client) {
    std::fprintf(stderr, "%s\n", client.error().message().c_str());
    std::abort();
  }
  return std::move(*client);
}

S3Settings BaseConfig() {
  S3Settings config;
  config.endpoint = Rgw().endpoint;
  config.bucket = Rgw().bucket;
  config.region = Rgw().region;
  return config;
}

}  // namespace

std::unique_ptr<S3Client> RgwClient(const std::string& bucket) {
  S3Settings config = BaseConfig();
  if (!bucket.empty()) config.bucket = bucket;
  config.path_style = true;
  return MakeClient(config);
}

std::string RgwEndpointByName() {
  const std::string& endpoint = Rgw().endpoint;  // http://127.0.0.1:<port>
  const std::string ip = "127.0.0.1";
  const size_t at = endpoint.find(ip);
  if (at == std::string::npos) {
    std::fprintf(stderr, "unexpected test server endpoint %s\n", endpoint.c_str());
    std::abort();
  }
  return endpoint.substr(0, at) + "localhost" + endpoint.substr(at + ip.size());
}

std::unique_ptr<S3Client> RgwVirtualHostedClient() {
  S3Settings config = BaseConfig();
  config.endpoint = RgwEndpointByName();
  auto client = MakeClient(config);
  if (client->path_style()) {
    std::fprintf(stderr, "bucket '%s' cannot be addressed virtual-hosted style\n",
                 config.bucket.c_str());
    std::abort();
  }
  return client;
}

std::map<std::string, std::string> RgwEnv() {
  return {{"AWS_ACCESS_KEY_ID", Rgw().access_key},
          {"AWS_SECRET_ACCESS_KEY", Rgw().secret_key},
          {"AWS_REGION", Rgw().region}};
}

}  // namespace chunkvault::testing
