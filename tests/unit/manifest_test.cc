#include <gtest/gtest.h>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/manifest.h"

namespace chunkvault {
namespace {

Manifest Sample() {
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "elsa";
  m.backup_time = 1593179765;
  ManifestFile f;
  f.filename = "root.tar.didx";
  f.size = 1234;
  f.csum = Sha256Of(AsBytes("x"));
  m.files.push_back(f);
  return m;
}

// serde_json's to_string_pretty of a Value: two-space indent, keys sorted.
TEST(Manifest, JsonMatchesPbsLayout) {
  const std::string expected = R"({
  "backup-id": "elsa",
  "backup-time": 1593179765,
  "backup-type": "host",
  "files": [
    {
      "crypt-mode": "none",
      "csum": "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881",
      "filename": "root.tar.didx",
      "size": 1234
    }
  ],
  "signature": null,
  "unprotected": {}
})";
  EXPECT_EQ(Sample().ToJson(), expected);
}

TEST(Manifest, BlobRoundTripKeepsUnknownKeys) {
  Manifest m = Sample();
  m.unprotected["notes"] = "hello";
  m.extra["future-key"] = {1, 2, 3};
  Bytes blob = m.EncodeBlob();
  EXPECT_EQ(InspectBlob(blob)->kind, BlobKind::kCompressed);
  auto back = Manifest::DecodeBlob(blob);
  ASSERT_TRUE(back.has_value()) << back.error().message();
  EXPECT_EQ(back->ToJson(), m.ToJson());
  EXPECT_EQ(back->unprotected["notes"], "hello");
  ASSERT_NE(back->Find("root.tar.didx"), nullptr);
  EXPECT_EQ(back->Find("root.tar.didx")->size, 1234u);
  EXPECT_EQ(back->Find("nope"), nullptr);
}

TEST(Manifest, MissingCryptModeMeansNone) {
  auto m = Manifest::FromJson(R"({"backup-type":"vm","backup-id":"1","backup-time":5,
    "files":[{"filename":"a.blob","size":1,"csum":")" + std::string(64, 'a') + R"("}]})");
  ASSERT_TRUE(m.has_value()) << m.error().message();
  EXPECT_EQ(m->files[0].crypt_mode, "none");
  EXPECT_FALSE(m->signature.has_value());
}

TEST(Manifest, BadJsonIsNamed) {
  struct Case {
    const char* json;
    const char* message;
  } cases[] = {
      {"[1]", "not a JSON object"},
      {"{", "not a JSON object"},
      {R"({"backup-id":"a","backup-time":1,"files":[]})", "no backup-type"},
      {R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":[{"filename":"x","size":1,"csum":"zz"}]})",
       "file x: a digest is 64 hex"},
      {R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":[{"filename":"x","csum":"zz"}]})",
       "file x has no size"},
  };
  for (const Case& c : cases) {
    auto m = Manifest::FromJson(c.json);
    ASSERT_FALSE(m.has_value()) << c.json;
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(m.error().message().find(c.message), std::string::npos) << m.error().message();
  }
}

}  // namespace
}  // namespace chunkvault
