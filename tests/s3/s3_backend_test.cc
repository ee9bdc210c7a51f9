// The Backend conformance suite and client checks against a real Ceph RGW,
// which checks signatures and payload hashes and answers If-None-Match: *
// atomically.
#include <gtest/gtest.h>

#include "backend/s3/s3_backend.h"
#include "conformance/backend_conformance.h"
#include "s3/rgw.h"

namespace chunkvault {

namespace conformance {
namespace {
struct RgwFactory {
  static std::shared_ptr<Backend> Make() {
    return NewS3Backend(std::shared_ptr<S3Client>(testing::RgwClient()), {}).backend;
  }
};
struct RgwVirtualHostedFactory {
  static std::shared_ptr<Backend> Make() {
    return NewS3Backend(std::shared_ptr<S3Client>(testing::RgwVirtualHostedClient()), {}).backend;
  }
};
}  // namespace
INSTANTIATE_TYPED_TEST_SUITE_P(Rgw, BackendConformance, RgwFactory);
// The same suite with the bucket in the host name (bucket.localhost), the
// addressing AWS S3 itself uses: the signature covers that host.
INSTANTIATE_TYPED_TEST_SUITE_P(RgwVirtualHosted, BackendConformance, RgwVirtualHostedFactory);
}  // namespace conformance

namespace {

TEST(Rgw, HeadBucketFindsTheBucket) {
  EXPECT_TRUE(testing::RgwClient()->HeadBucket().has_value());
}

TEST(Rgw, AMissingBucketIsNamed) {
  auto client = testing::RgwClient("no-such-bucket-here");
  auto st = client->HeadBucket();
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(st.error().message().find("bucket 'no-such-bucket-here' does not exist at " +
                                      testing::Rgw().endpoint),
            std::string::npos)
      << st.error().message();
  auto get = client->GetObject("k");
  ASSERT_FALSE(get.has_value());
  EXPECT_NE(get.error().message().find("NoSuchBucket"), std::string::npos) << get.error().message();
}

TEST(Rgw, WrongSecretIsRefusedWithoutShowingIt) {
  S3Settings config;
  config.endpoint = testing::Rgw().endpoint;
  config.bucket = testing::Rgw().bucket;
  config.path_style = true;
  auto client = *S3Client::Create(config, {testing::Rgw().access_key, "wrong-secret-value", ""},
                                  *NewCurlHttpClient({}));
  auto r = client->GetObject("k");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(r.error().message().find("SignatureDoesNotMatch"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find(testing::Rgw().access_key), std::string::npos);
  EXPECT_EQ(r.error().message().find("wrong-secret-value"), std::string::npos);
}

}  // namespace
}  // namespace chunkvault
