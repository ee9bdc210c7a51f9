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
  EXPECT_EQ(m->files[0].crypt_mode, CryptMode::kNone);
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
      {R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":[{"filename":"x.blob","size":1,"csum":"zz"}]})",
       "file x.blob: a digest is 64 hex"},
      {R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":[{"filename":"x.blob","csum":"zz"}]})",
       "file x.blob has no size"},
  };
  for (const Case& c : cases) {
    auto m = Manifest::FromJson(c.json);
    ASSERT_FALSE(m.has_value()) << c.json;
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(m.error().message().find(c.message), std::string::npos) << m.error().message();
  }
}

// A manifest with `files_json` as its files list and `unprotected_json`.
std::string ManifestJson(const std::string& files_json,
                         const std::string& unprotected_json = "{}") {
  return R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":)" + files_json +
         R"(,"unprotected":)" + unprotected_json + "}";
}
std::string FileJson(const std::string& name) {
  return R"({"filename":")" + name + R"(","size":1,"csum":")" + std::string(64, 'a') + R"("})";
}

// Defect: "../escape-from-manifest.blob" in files[] made a whole-snapshot
// restore write into the target's parent. Every name a manifest lists is a
// plain snapshot file name.
TEST(Manifest, OnlyPlainSnapshotFileNamesAreListed) {
  for (const char* name :
       {"../escape-from-manifest.blob", "a/b.blob", "/etc/x.blob", "..", ".hidden.blob", "x.tar",
        "index.json.blob", "", "-x.blob", "with space.blob", "nul\u0000.blob"}) {
    auto m = Manifest::FromJson(ManifestJson("[" + FileJson(name) + "]"));
    ASSERT_FALSE(m.has_value()) << name;
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(m.error().message().find("file name"), std::string::npos) << m.error().message();
  }
  for (const char* name : {"root.tar.didx", "disk.img.fidx", "notes.blob", "a_b-c.d.blob"})
    EXPECT_TRUE(Manifest::FromJson(ManifestJson("[" + FileJson(name) + "]")).has_value()) << name;
  auto twice =
      Manifest::FromJson(ManifestJson("[" + FileJson("a.blob") + "," + FileJson("a.blob") + "]"));
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message().find("listed twice"), std::string::npos);
}

// Defect: a number as unprotected.chunkvault.file-sha256's value ended
// every command with an uncaught json type_error. Every field the program
// reads is type-checked; a wrong type is an error naming it.
TEST(Manifest, EveryFieldReadIsTypeChecked) {
  const std::string file = "[" + FileJson("root.tar.didx") + "]";
  const std::string hex(64, 'b');
  struct Case {
    std::string json;
    const char* message;
  } cases[] = {
      {ManifestJson(file, R"({"chunkvault":{"file-sha256":{"root.tar.didx":7}}})"),
       "unprotected.chunkvault.file-sha256.root.tar.didx is not a string"},
      {ManifestJson(file, R"({"chunkvault":{"file-sha256":{"root.tar.didx":"xyz"}}})"),
       "file-sha256.root.tar.didx: "},
      {ManifestJson(file, R"({"chunkvault":{"file-sha256":{"other.blob":")" + hex + R"("}}})"),
       "names no file"},
      {ManifestJson(file, R"({"chunkvault":{"file-sha256":[1]}})"), "file-sha256 is not an object"},
      {ManifestJson(file, R"({"chunkvault":3})"), "unprotected.chunkvault is not an object"},
      {ManifestJson(file, R"({"chunkvault":{"logical-size":{"root.tar.didx":-1}}})"),
       "unprotected.chunkvault.logical-size.root.tar.didx is not a size"},
      {ManifestJson(file, R"({"chunkvault":{"logical-size":{"other.blob":1}}})"), "names no file"},
      {ManifestJson(file, R"({"chunkvault":{"logical-size":1}})"), "logical-size is not an object"},
      {ManifestJson(file, R"({"notes":["x"]})"), "notes is not a string"},
      {ManifestJson(file, R"({"verify_state":"ok"})"), "verify_state is not an object"},
      {ManifestJson(file, R"({"verify_state":{"state":1}})"), "verify_state.state is not a string"},
      {ManifestJson(file, "[]"), "unprotected is not an object"},
      {ManifestJson(R"([{"filename":"a.blob","size":1,"crypt-mode":5,"csum":")" + hex + R"("}])"),
       "crypt-mode is not a string"},
      {ManifestJson(R"([{"filename":"a.blob","size":-1,"csum":")" + hex + R"("}])"), "has no size"},
      {R"({"backup-type":"host","backup-id":"a","backup-time":18446744073709551615,"files":[]})",
       "backup-time is out of range"},
      {R"({"backup-type":"host","backup-id":"a","backup-time":1,"files":[],"signature":1})",
       "signature is not a string"},
  };
  for (const Case& c : cases) {
    auto m = Manifest::FromJson(c.json);
    ASSERT_FALSE(m.has_value()) << c.json;
    EXPECT_EQ(m.error().code(), ErrorCode::kCorrupt);
    EXPECT_NE(m.error().message().find(c.message), std::string::npos)
        << c.message << " / " << m.error().message();
  }
  auto good = Manifest::FromJson(ManifestJson(
      file, R"({"chunkvault":{"file-sha256":{"root.tar.didx":")" + hex + R"("}},"notes":"n"})"));
  ASSERT_TRUE(good.has_value()) << good.error().message();
  ASSERT_TRUE(good->RecordedFileDigest("root.tar.didx").has_value());
  EXPECT_EQ(ToHex(*good->RecordedFileDigest("root.tar.didx")), hex);
  EXPECT_FALSE(good->RecordedFileDigest("other.blob").has_value());
  EXPECT_EQ(good->LogicalSize(good->files[0]), good->files[0].size);
}

// A payload index's logical size, recorded by a backup reusing chunks,
// is read back (never above the file's size).
TEST(Manifest, ALogicalSizeIsRecordedAndReadBack) {
  auto m = Manifest::FromJson(ManifestJson("[" + FileJson("root.ppxar.didx") + "]"));
  ASSERT_TRUE(m.has_value()) << m.error().message();
  const uint64_t size = m->files[0].size;
  m->RecordLogicalSize("root.ppxar.didx", size / 2);
  auto again = Manifest::FromJson(m->ToJson());
  ASSERT_TRUE(again.has_value()) << again.error().message();
  EXPECT_EQ(again->LogicalSize(again->files[0]), size / 2);
  again->RecordLogicalSize("root.ppxar.didx", size + 1);
  EXPECT_EQ(again->LogicalSize(again->files[0]), size);
}

}  // namespace
}  // namespace chunkvault
