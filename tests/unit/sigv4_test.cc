// SigV4 against the worked examples in AWS's S3 API reference ("Signature
// Calculations for the Authorization Header: Transferring Payload in a
// Single Chunk"): key AKIAIOSFODNN7EXAMPLE, 2013-05-24T00:00:00Z, us-east-1.
#include <gtest/gtest.h>

#include "backend/s3/sigv4.h"
#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

const Credentials kAwsExample{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
constexpr int64_t kExampleTime = 1369353600;  // 20130524T000000Z
constexpr char kEmptySha[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

std::string Header(const HttpRequest& r, const std::string& name) {
  for (const auto& h : r.headers)
    if (h.name == name) return h.value;
  return "";
}

std::string SignatureOf(const HttpRequest& r) {
  std::string auth = Header(r, "authorization");
  return auth.substr(auth.find("Signature=") + 10);
}

TEST(SigV4, GetObjectWithRange) {
  HttpRequest r{"GET", "https://examplebucket.s3.amazonaws.com/test.txt", {{"Range", "bytes=0-9"}}, {}};
  SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime}, kEmptySha);
  EXPECT_EQ(Header(r, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(Header(r, "x-amz-date"), "20130524T000000Z");
  EXPECT_EQ(Header(r, "host"), "examplebucket.s3.amazonaws.com");
}

TEST(SigV4, PutObjectWithADollarInTheKey) {
  const std::string body = "Welcome to Amazon S3.";
  const std::string hash = ToHex(Sha256Of(AsBytes(body)));
  EXPECT_EQ(hash, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  HttpRequest r{"PUT",
                "https://examplebucket.s3.amazonaws.com/" + UriEncode("test$file.text", true),
                {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
                AsBytes(body)};
  std::string canonical = SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime}, hash);
  EXPECT_EQ(canonical.substr(0, canonical.find('\n', 4)), "PUT\n/test%24file.text");
  EXPECT_EQ(SignatureOf(r), "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
  EXPECT_NE(Header(r, "authorization").find(
                "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class"),
            std::string::npos);
}

TEST(SigV4, GetBucketLifecycleValuelessParameter) {
  HttpRequest r{"GET", "https://examplebucket.s3.amazonaws.com/?lifecycle", {}, {}};
  std::string canonical = SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime}, kEmptySha);
  EXPECT_EQ(ToHex(Sha256Of(AsBytes(canonical))),
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
  EXPECT_EQ(SignatureOf(r), "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4, ListObjectsSortsTheQuery) {
  // Sent in any order, the query is signed sorted.
  HttpRequest r{"GET", "https://examplebucket.s3.amazonaws.com/?prefix=J&max-keys=2", {}, {}};
  std::string canonical = SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime}, kEmptySha);
  EXPECT_EQ(ToHex(Sha256Of(AsBytes(canonical))),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(SignatureOf(r), "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4, ResigningReplacesTheSignature) {
  HttpRequest r{"GET", "https://examplebucket.s3.amazonaws.com/test.txt", {{"Range", "bytes=0-9"}}, {}};
  SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime + 99}, kEmptySha);
  SignRequest(r, kAwsExample, {"us-east-1", "s3", kExampleTime}, kEmptySha);
  EXPECT_EQ(SignatureOf(r), "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  int auth_headers = 0;
  for (const auto& h : r.headers) auth_headers += h.name == "authorization";
  EXPECT_EQ(auth_headers, 1);
}

TEST(SigV4, SessionTokenIsSigned) {
  Credentials with_token = kAwsExample;
  with_token.session_token = "token/+=";
  HttpRequest r{"GET", "http://127.0.0.1:9000/b/k", {}, {}};
  std::string canonical = SignRequest(r, with_token, {"us-east-1", "s3", kExampleTime}, kEmptySha);
  EXPECT_EQ(Header(r, "x-amz-security-token"), "token/+=");
  EXPECT_NE(canonical.find("x-amz-security-token:token/+="), std::string::npos);
  EXPECT_NE(canonical.find("host:127.0.0.1:9000"), std::string::npos);
}

TEST(SigV4, UriEncodingKeepsOnlyUnreservedCharacters) {
  EXPECT_EQ(UriEncode("a-b_c.d~e", false), "a-b_c.d~e");
  EXPECT_EQ(UriEncode("a b/c+d=\xc3\xa9", false), "a%20b%2Fc%2Bd%3D%C3%A9");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("!'()*", false), "%21%27%28%29%2A");
  EXPECT_EQ(UriDecode("a%20b%2Fc+d", false), "a b/c+d");
  EXPECT_EQ(UriDecode("a%20b+c%2B", true), "a b c+");
  EXPECT_EQ(UriDecode("100%", false), "100%");
}

TEST(SigV4, ParsesEndpointUrls) {
  auto u = ParseUrl("http://127.0.0.1:7480/b/k?x=1");
  ASSERT_TRUE(u.has_value());
  EXPECT_EQ(u->Authority(), "127.0.0.1:7480");
  EXPECT_EQ(u->path, "/b/k");
  EXPECT_EQ(u->query, "x=1");
  EXPECT_EQ(ParseUrl("https://[::1]:9000")->host, "[::1]");
  EXPECT_EQ(ParseUrl("HTTPS://s3.example.com")->path, "/");
  for (const char* bad : {"s3.example.com", "ftp://x", "http://", "http://u:p@h", "http://h:x"})
    EXPECT_FALSE(ParseUrl(bad).has_value()) << bad;
}

}  // namespace
}  // namespace chunkvault
