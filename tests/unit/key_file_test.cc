// Key files in PBS's format (chunkvault/key_file.h), with the expectations
// of PBS's pbs-key-config tests, and the RSA master key.
#include "chunkvault/key_file.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_keys.h"

namespace chunkvault {
namespace {

bool Same(const SecretKey& a, const SecretKey& b) {
  return std::equal(a.view().begin(), a.view().end(), b.view().begin());
}

constexpr int64_t kNow = 1796445852;

TEST(KeyFile, EveryKdfRoundTrips) {
  const SecretKey key = testing::TestKey(7);
  for (Kdf kdf : {Kdf::kScrypt, Kdf::kPbkdf2, Kdf::kNone}) {
    SCOPED_TRACE(KdfName(kdf));
    auto config = KeyConfig::Protect(key, kdf, kdf == Kdf::kNone ? "" : "passphrase", kNow);
    ASSERT_TRUE(config) << config.error().message();
    config->hint = kdf == Kdf::kNone ? std::optional<std::string>() : "the usual";
    const std::string json = config->ToJson();
    // PBS's field order, compact.
    EXPECT_TRUE(json.starts_with("{\"kdf\":")) << json;
    EXPECT_LT(json.find("\"created\""), json.find("\"modified\""));
    EXPECT_LT(json.find("\"modified\""), json.find("\"data\""));
    EXPECT_LT(json.find("\"data\""), json.find("\"fingerprint\""));
    EXPECT_EQ(json.find('\n'), std::string::npos);
    auto parsed = KeyConfig::Parse(json);
    ASSERT_TRUE(parsed) << parsed.error().message();
    EXPECT_EQ(parsed->kdf_kind(), kdf);
    EXPECT_EQ(parsed->created, kNow);
    EXPECT_EQ(parsed->fingerprint, CryptKey(key).fingerprint());
    EXPECT_EQ(parsed->hint, config->hint);
    auto unlocked = parsed->Unlock(kdf == Kdf::kNone ? "" : "passphrase");
    ASSERT_TRUE(unlocked) << unlocked.error().message();
    EXPECT_TRUE(Same(*unlocked, key));
    if (kdf == Kdf::kScrypt) {
      EXPECT_EQ(parsed->kdf->n, 65536u);
      EXPECT_EQ(parsed->kdf->r, 8u);
      EXPECT_EQ(parsed->kdf->p, 1u);
      EXPECT_EQ(parsed->kdf->salt.size(), 32u);
    }
    if (kdf == Kdf::kPbkdf2) {
      EXPECT_EQ(parsed->kdf->iter, 65535u);
    }
    EXPECT_EQ(json.find("\"data\":null"), std::string::npos);
  }
}

TEST(KeyFile, WrongOrShortPassphraseIsAClearError) {
  auto config = KeyConfig::Protect(testing::TestKey(1), Kdf::kPbkdf2, "right one", kNow);
  ASSERT_TRUE(config);
  config->hint = "not the left one";
  auto wrong = config->Unlock("wrong one");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code(), ErrorCode::kPermissionDenied);
  EXPECT_NE(wrong.error().message().find("not the left one"), std::string::npos);
  EXPECT_EQ(wrong.error().message().find("wrong one"), std::string::npos);
  auto short_one = config->Unlock("abc");
  ASSERT_FALSE(short_one);
  EXPECT_EQ(short_one.error().code(), ErrorCode::kInvalidArgument);
  EXPECT_FALSE(KeyConfig::Protect(testing::TestKey(1), Kdf::kScrypt, "abcd", kNow));
}

// pbs-key-config/src/lib.rs, fingerprint_checks: a wrong stored
// fingerprint is refused, a missing one accepted (and computed).
TEST(KeyFile, PbsFingerprintChecks) {
  const std::string data = Base64Encode(testing::TestKey(0).view());
  const std::string zeros(64, '0');
  auto wrong = KeyConfig::Parse(R"({"kdf":null,"created":"2020-06-26T15:56:05+02:00",)"
                                R"("modified":"2020-06-26T15:56:05+02:00","data":")" +
                                data + R"(","fingerprint":")" + zeros + R"("})");
  ASSERT_TRUE(wrong) << wrong.error().message();
  auto refused = wrong->Unlock("");
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message().find("fingerprint"), std::string::npos);

  auto missing = KeyConfig::Parse(R"({"kdf":null,"created":"2020-06-26T13:56:05Z",)"
                                  R"("modified":"2020-06-26T13:56:05Z","data":")" +
                                  data + R"("})");
  ASSERT_TRUE(missing) << missing.error().message();
  EXPECT_EQ(missing->created, 1593179765);
  auto key = missing->Unlock("");
  ASSERT_TRUE(key);
  EXPECT_EQ(ToHex(CryptKey(*key).fingerprint().bytes),
            "0eabd4460b6eb9ca345023dee2b778c790e54a1683b9659c0a57ae199090159b");
}

TEST(KeyFile, HostileFilesAreRefusedNotRun) {
  const std::string salt = Base64Encode(Bytes(32, 1));
  const std::string data64 = Base64Encode(Bytes(64, 2));
  auto with_kdf = [&](const std::string& kdf, const std::string& data) {
    return R"({"kdf":)" + kdf + R"(,"created":"2020-06-26T13:56:05Z",)" +
           R"("modified":"2020-06-26T13:56:05Z","data":")" + data + R"("})";
  };
  const std::vector<std::string> bad = {
      "",
      "[]",
      "{}",
      "null",
      R"({"kdf":null})",
      with_kdf(R"({"Scrypt":{"n":1073741824,"r":8,"p":1,"salt":")" + salt + R"("}})", data64),
      with_kdf(R"({"Scrypt":{"n":65536,"r":8,"p":4096,"salt":")" + salt + R"("}})", data64),
      // r * p wraps to 0 in 64 bits
      with_kdf(R"({"Scrypt":{"n":2,"r":4294967296,"p":4294967296,"salt":")" + salt + R"("}})",
               data64),
      with_kdf(R"({"Scrypt":{"n":65535,"r":8,"p":1,"salt":")" + salt + R"("}})", data64),
      with_kdf(R"({"Scrypt":{"n":-1,"r":8,"p":1,"salt":")" + salt + R"("}})", data64),
      with_kdf(R"({"PBKDF2":{"iter":4000000000,"salt":")" + salt + R"("}})", data64),
      with_kdf(R"({"PBKDF2":{"iter":10,"salt":"***"}})", data64),
      with_kdf(R"({"Argon2":{}})", data64),
      with_kdf(R"({"PBKDF2":{"iter":10,"salt":")" + salt + R"("}})", Base64Encode(Bytes(33, 0))),
      with_kdf("null", data64),  // 64 bytes of data but no kdf
      with_kdf("null", "not base64!"),
      R"({"kdf":null,"created":"yesterday","modified":"2020-06-26T13:56:05Z","data":""})",
  };
  for (const std::string& text : bad) {
    auto r = KeyConfig::Parse(text);
    EXPECT_FALSE(r) << text;
    if (!r) {
      EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt) << text;
    }
  }
}

TEST(KeyFile, Rfc3339Times) {
  EXPECT_EQ(*ParseAnyRfc3339("2020-06-26T13:56:05Z"), 1593179765);
  EXPECT_EQ(*ParseAnyRfc3339("2020-06-26T15:56:05+02:00"), 1593179765);
  EXPECT_EQ(*ParseAnyRfc3339("2020-06-26T08:56:05.123-05:00"), 1593179765);
  EXPECT_FALSE(ParseAnyRfc3339("2020-06-26 13:56"));
  EXPECT_FALSE(ParseAnyRfc3339("2020-13-26T13:56:05Z"));
  EXPECT_FALSE(ParseAnyRfc3339("2020-06-26T13:56:05+0200"));
  const std::string local = FormatLocalRfc3339(1593179765);
  EXPECT_NE(local.back(), 'Z');
  EXPECT_EQ(local[local.size() - 3], ':');
  EXPECT_EQ(*ParseAnyRfc3339(local), 1593179765);
}

TEST(KeyFile, MasterKeyWrapsAndRecoversTheKey) {
  auto pair = CreateMasterKey("master pass", 3072);  // 2048 bits hold too little
  ASSERT_TRUE(pair) << pair.error().message();
  EXPECT_TRUE(pair->public_pem.starts_with("-----BEGIN PUBLIC KEY-----"));
  EXPECT_TRUE(pair->private_pem.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
  EXPECT_EQ(pair->bits, 3072);
  EXPECT_EQ(pair->exponent, 65537u);
  const SecretKey key = testing::TestKey(3);
  auto wrapped = WrapKeyForMaster(pair->public_pem, key, 1593179765);
  ASSERT_TRUE(wrapped) << wrapped.error().message();
  EXPECT_EQ(wrapped->size(), 384u);  // one modulus-sized block
  auto inner = UnwrapWithMasterKey(pair->private_pem, "master pass", *wrapped);
  ASSERT_TRUE(inner) << inner.error().message();
  EXPECT_EQ(inner->kdf_kind(), Kdf::kNone);
  EXPECT_EQ(inner->created, 1593179765);
  auto back = inner->Unlock("");
  ASSERT_TRUE(back);
  EXPECT_TRUE(Same(*back, key));
  EXPECT_FALSE(UnwrapWithMasterKey(pair->private_pem, "wrong pass", *wrapped));
  Bytes damaged = *wrapped;
  damaged[100] ^= 1;
  EXPECT_FALSE(UnwrapWithMasterKey(pair->private_pem, "master pass", damaged));
  EXPECT_FALSE(WrapKeyForMaster("not a key", key, 0));
  EXPECT_FALSE(WrapKeyForMaster(pair->private_pem, key, 0));
}

}  // namespace
}  // namespace chunkvault
