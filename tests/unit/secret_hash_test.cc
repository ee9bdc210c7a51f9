// Secrets as chunkvaultd stores them (src/server/secret_hash.h): salted
// yescrypt hashes that verify the secret and nothing else, and token
// secrets in PBS's UUID form.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "server/secret_hash.h"

namespace chunkvault::server {
namespace {

TEST(SecretHash, HashesAreSaltedYescryptAndVerifyOnlyTheirSecret) {
  auto a = HashSecret("correct horse");
  auto b = HashSecret("correct horse");
  ASSERT_TRUE(a.has_value()) << a.error().message();
  ASSERT_TRUE(b.has_value());
  EXPECT_TRUE(a->starts_with("$y$")) << *a;
  EXPECT_NE(*a, *b) << "each hash has its own salt";
  EXPECT_EQ(a->find("correct horse"), std::string::npos);
  EXPECT_TRUE(VerifySecret("correct horse", *a));
  EXPECT_TRUE(VerifySecret("correct horse", *b));
  EXPECT_FALSE(VerifySecret("correct horsf", *a));
  EXPECT_FALSE(VerifySecret("correct horse ", *a));
  EXPECT_FALSE(VerifySecret("", *a));
}

TEST(SecretHash, OtherCryptHashesVerifyAndMalformedOnesMatchNothing) {
  // SHA-512 crypt of "secret" with salt "saltsalt" (crypt(3)).
  const std::string sha512 =
      "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq."
      "H91p5hVO1";
  EXPECT_TRUE(VerifySecret("secret", sha512));
  EXPECT_FALSE(VerifySecret("Secret", sha512));
  const std::vector<std::string> malformed = {"",        "*",     "*0",           "$",
                                              "$y$",     "$y$j9T$", "plain", "$9$unknown$x",
                                              std::string(500, '$')};
  for (const std::string& bad : malformed) EXPECT_FALSE(VerifySecret("secret", bad)) << bad;
}

TEST(SecretHash, EmptySecretsOrOnesWithNulAreRefused) {
  EXPECT_FALSE(HashSecret("").has_value());
  EXPECT_EQ(HashSecret(std::string("a\0b", 3)).error().code(), ErrorCode::kInvalidArgument);
  auto h = HashSecret("a");
  ASSERT_TRUE(h.has_value());
  EXPECT_FALSE(VerifySecret(std::string("a\0b", 3), *h)) << "libcrypt would stop at the NUL";
}

// xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx, lowercase hex.
bool IsUuidV4(const std::string& s) {
  if (s.size() != 36 || s[14] != '4' || std::string("89ab").find(s[19]) == std::string::npos)
    return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash != (s[i] == '-')) return false;
    if (!dash && std::string("0123456789abcdef").find(s[i]) == std::string::npos) return false;
  }
  return true;
}

TEST(SecretHash, TokenSecretsAreFreshVersion4Uuids) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string s = NewTokenSecret();
    EXPECT_TRUE(IsUuidV4(s)) << s;
    seen.insert(s);
  }
  EXPECT_EQ(seen.size(), 100u);
}

}  // namespace
}  // namespace chunkvault::server
