#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "backend/s3/credentials.h"
#include "support/tree_util.h"

namespace chunkvault {
namespace {

using testing::TempDir;

class CredentialsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::filesystem::create_directories(home_ / ".aws");
    env_["HOME"] = home_.path();
  }
  GetEnv Env() {
    return [this](const std::string& k) -> std::optional<std::string> {
      auto it = env_.find(k);
      if (it == env_.end()) return std::nullopt;
      return it->second;
    };
  }
  TempDir home_;
  std::map<std::string, std::string> env_;
};

TEST_F(CredentialsTest, EnvironmentComesFirst) {
  testing::WriteFile(home_ / ".aws/credentials", "[default]\naws_access_key_id = FILE\naws_secret_access_key = s\n");
  env_["AWS_ACCESS_KEY_ID"] = "ENVKEY";
  env_["AWS_SECRET_ACCESS_KEY"] = "envsecret";
  env_["AWS_SESSION_TOKEN"] = "tok";
  env_["AWS_REGION"] = "eu-central-1";
  env_["AWS_ENDPOINT_URL"] = "https://s3.example.com";
  auto s = LoadAwsSettings(Env());
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->credentials.access_key_id, "ENVKEY");
  EXPECT_EQ(s->credentials.secret_access_key, "envsecret");
  EXPECT_EQ(s->credentials.session_token, "tok");
  EXPECT_EQ(s->credentials_source, "environment");
  EXPECT_EQ(*s->region, "eu-central-1");
  EXPECT_EQ(*s->endpoint_url, "https://s3.example.com");
  env_["AWS_ENDPOINT_URL_S3"] = "https://s3-only.example.com";
  EXPECT_EQ(*LoadAwsSettings(Env())->endpoint_url, "https://s3-only.example.com");
}

TEST_F(CredentialsTest, ProfilesFromTheSharedFiles) {
  testing::WriteFile(home_ / ".aws/credentials",
                     "# comment\n[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n"
                     "\n[backup]\naws_access_key_id=BAK\naws_secret_access_key=baksecret\n");
  testing::WriteFile(home_ / ".aws/config",
                     "[default]\nregion = us-west-2\n[profile backup]\nregion = eu-west-1\n"
                     "endpoint_url = https://minio.lan:9000\n");
  auto s = LoadAwsSettings(Env());
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->credentials.access_key_id, "DEF");
  EXPECT_EQ(*s->region, "us-west-2");
  EXPECT_FALSE(s->endpoint_url.has_value());
  env_["AWS_PROFILE"] = "backup";
  s = LoadAwsSettings(Env());
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->credentials.access_key_id, "BAK");
  EXPECT_EQ(s->credentials.secret_access_key, "baksecret");
  EXPECT_EQ(*s->region, "eu-west-1");
  EXPECT_EQ(*s->endpoint_url, "https://minio.lan:9000");
  EXPECT_NE(s->credentials_source.find("[backup]"), std::string::npos);
}

TEST_F(CredentialsTest, KeysMayLiveInTheConfigFile) {
  testing::WriteFile(home_ / "other-config",
                     "[profile x]\naws_access_key_id = CFG\naws_secret_access_key = cfgsecret\n");
  env_["AWS_CONFIG_FILE"] = home_ / "other-config";
  env_["AWS_PROFILE"] = "x";
  auto s = LoadAwsSettings(Env());
  ASSERT_TRUE(s.has_value()) << s.error().message();
  EXPECT_EQ(s->credentials.access_key_id, "CFG");
}

TEST_F(CredentialsTest, MissingCredentialsSayWhereTheyWereLookedFor) {
  auto s = LoadAwsSettings(Env());
  ASSERT_FALSE(s.has_value());
  EXPECT_EQ(s.error().code(), ErrorCode::kNotFound);
  EXPECT_NE(s.error().message().find("AWS_ACCESS_KEY_ID"), std::string::npos);
  EXPECT_NE(s.error().message().find(home_ / ".aws/credentials"), std::string::npos);
  env_["AWS_ACCESS_KEY_ID"] = "ONLYID";
  s = LoadAwsSettings(Env());
  ASSERT_FALSE(s.has_value());
  EXPECT_NE(s.error().message().find("AWS_SECRET_ACCESS_KEY is not"), std::string::npos);
}

TEST_F(CredentialsTest, DescribeNamesTheKeyIdOnly) {
  Credentials c{"AKIDSHOWN", "secret-never-shown", "token-never-shown"};
  EXPECT_EQ(c.Describe(), "access key AKIDSHOWN");
}

}  // namespace
}  // namespace chunkvault
