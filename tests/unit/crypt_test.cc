// Encryption as PBS does it: the known-answer vector of ../shared/CRYPT.md
// §8, PBS's own test vectors (named where used), and tampering with every
// byte of an encrypted blob.
#include "chunkvault/crypt.h"

#include <gtest/gtest.h>

#include <cstring>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"
#include "chunkvault/key_file.h"
#include "chunkvault/manifest.h"
#include "support/test_keys.h"

namespace chunkvault {
namespace {

Bytes Text(const char* s) { return Bytes(s, s + std::strlen(s)); }

// The fingerprint of the key 00 01 .. 1f, as PBS's key-config tests
// (pbs-key-config/src/lib.rs, encrypt_decrypt_test and fingerprint_checks)
// spell it.
const Digest kPbsTestFingerprint = {14,  171, 212, 70,  11,  110, 185, 202, 52, 80,  35,
                                    222, 226, 183, 120, 199, 144, 229, 74,  22, 131, 185,
                                    101, 156, 10,  87,  174, 25,  144, 144, 21, 155};

TEST(Crypt, KnownAnswerVector) {
  // ../shared/CRYPT.md §8: key 00..1f, IV all zero, "chunkvault"
  // uncompressed: magic, CRC of the ciphertext, IV, tag, ciphertext.
  const CryptKey key(testing::TestKey(0));
  const Bytes plain = Text("chunkvault");
  GcmIv iv{};
  GcmTag tag;
  Bytes cipher(plain.size());
  key.Encrypt(plain, iv, cipher.data(), &tag);
  Bytes blob(kEncryptedBlobMagic.begin(), kEncryptedBlobMagic.end());
  blob.resize(kEncryptedBlobHeaderSize);
  StoreLe32(blob.data() + 8, Crc32(cipher));
  std::memcpy(blob.data() + 12, iv.data(), iv.size());
  std::memcpy(blob.data() + 28, tag.data(), tag.size());
  blob.insert(blob.end(), cipher.begin(), cipher.end());
  EXPECT_EQ(ToHex(blob),
            "7b6785be222d4cf0bf2a08aa000000000000000000000000000000008f580eb5dffb3f8ac9188b9d27a8"
            "a239abd62d54deb36fa17601");
  EXPECT_EQ(*DecodeBlob(blob, kMaxBlobSize, &key), plain);
  EXPECT_EQ(key.fingerprint().Short(), "0e:ab:d4:46:0b:6e:b9:ca");
}

TEST(Crypt, FingerprintAsPbsTestsHaveIt) {
  const CryptKey key(testing::TestKey(0));
  EXPECT_EQ(key.fingerprint().bytes, kPbsTestFingerprint);
  const std::string full = key.fingerprint().Full();
  EXPECT_EQ(full.size(), 95u);
  EXPECT_EQ(*KeyFingerprint::Parse(full), key.fingerprint());
  std::string bare;
  for (char c : full)
    if (c != ':') bare += c;
  EXPECT_EQ(*KeyFingerprint::Parse(bare), key.fingerprint());
  EXPECT_FALSE(KeyFingerprint::Parse("0e:ab:d4"));
}

TEST(Crypt, ChunkDigestIsKeyedWithTheIdKey) {
  const CryptKey a(testing::TestKey(0)), b(testing::TestKey(1));
  const Bytes data = Text("same data");
  EXPECT_NE(a.ChunkDigest(data), Sha256Of(data));
  EXPECT_NE(a.ChunkDigest(data), b.ChunkDigest(data));
  EXPECT_EQ(a.ChunkDigest(data), CryptKey(testing::TestKey(0)).ChunkDigest(data));
  EXPECT_EQ(ChunkDigestOf(data, nullptr), Sha256Of(data));
  EXPECT_EQ(ChunkDigestOf(data, &a), a.ChunkDigest(data));
}

TEST(Crypt, ManifestSignatureMatchesPbsTestVector) {
  // pbs-datastore/src/manifest.rs, test_manifest_signature: the key is
  // scrypt("test", empty salt, n 65536, r 8, p 1).
  KdfParams kdf;
  kdf.kind = Kdf::kScrypt;
  auto derived = DeriveKey(kdf, "test");
  ASSERT_TRUE(derived) << derived.error().message();
  const CryptKey key(*derived);
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "elsa";
  m.backup_time = 1593179765;  // 2020-06-26T13:56:05Z
  Digest ones, twos;
  ones.fill(1);
  twos.fill(2);
  m.files = {ManifestFile{"test1.img.fidx", CryptMode::kEncrypt, 200, ones},
             ManifestFile{"abc.blob", CryptMode::kNone, 200, twos}};
  m.unprotected["note"] = "This is not protected by the signature.";
  m.Sign(key);
  EXPECT_EQ(*m.signature, "d7b446fb7db081662081d4b40fedd858a1d6307a5aff4ecff7d5bf4fd35679e9");
  EXPECT_EQ(m.unprotected["key-fingerprint"], key.fingerprint().Full());
  EXPECT_TRUE(m.CheckKey(&key));
  // What the server may change is outside the signature.
  m.unprotected["verify_state"] = {{"state", "ok"}};
  EXPECT_TRUE(m.CheckKey(&key));
  // A round trip through the stored form keeps it valid.
  auto back = Manifest::FromJson(m.ToJson());
  ASSERT_TRUE(back);
  EXPECT_TRUE(back->CheckKey(&key));
}

TEST(Crypt, ManifestKeyChecksNameTheFingerprints) {
  const CryptKey key(testing::TestKey(0)), other(testing::TestKey(1));
  Manifest m;
  m.backup_type = "host";
  m.backup_id = "a";
  m.backup_time = 1;
  m.files = {ManifestFile{"root.tar.didx", CryptMode::kEncrypt, 10, {}}};
  m.Sign(key);
  auto none = m.CheckKey(nullptr);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code(), ErrorCode::kEncrypted);
  EXPECT_NE(none.error().message().find(key.fingerprint().Short()), std::string::npos);
  auto wrong = m.CheckKey(&other);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find(key.fingerprint().Short()), std::string::npos);
  EXPECT_NE(wrong.error().message().find(other.fingerprint().Short()), std::string::npos);
  // Any signed field changed: the signature no longer holds.
  for (int field = 0; field < 5; ++field) {
    Manifest changed = m;
    switch (field) {
      case 0:
        changed.backup_id = "b";
        break;
      case 1:
        changed.backup_time = 2;
        break;
      case 2:
        changed.files[0].size = 11;
        break;
      case 3:
        changed.files[0].csum[0] ^= 1;
        break;
      case 4:
        changed.files[0].crypt_mode = CryptMode::kSignOnly;
        break;
    }
    auto st = changed.CheckKey(&key);
    ASSERT_FALSE(st) << field;
    EXPECT_EQ(st.error().code(), ErrorCode::kCorrupt) << field;
  }
  // The signature taken away from an encrypted snapshot's manifest.
  Manifest unsigned_m = m;
  unsigned_m.signature.reset();
  EXPECT_FALSE(unsigned_m.CheckKey(&key));
  // A plain, unsigned manifest needs no key and takes any.
  Manifest plain = m;
  plain.signature.reset();
  plain.unprotected = nlohmann::json::object();
  plain.files[0].crypt_mode = CryptMode::kNone;
  EXPECT_TRUE(plain.CheckKey(nullptr));
  EXPECT_TRUE(plain.CheckKey(&key));
}

TEST(Crypt, EncryptedBlobsRoundTripAndNeedTheirKey) {
  const CryptKey key(testing::TestKey(0)), other(testing::TestKey(1));
  Bytes compressible(100000, 'x');
  Bytes random(5000);
  RandomBytes(random.data(), random.size());
  for (const Bytes* data : {&compressible, &random}) {
    const Bytes blob = EncodeBlob(*data, true, &key);
    auto info = InspectBlob(blob);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->kind,
              data == &compressible ? BlobKind::kEncryptedCompressed : BlobKind::kEncrypted);
    EXPECT_TRUE(CheckBlobCrc(blob));
    EXPECT_EQ(*DecodeBlob(blob, kMaxBlobSize, &key), *data);
    auto without = DecodeBlob(blob);
    ASSERT_FALSE(without);
    EXPECT_EQ(without.error().code(), ErrorCode::kEncrypted);
    auto wrong = DecodeBlob(blob, kMaxBlobSize, &other);
    ASSERT_FALSE(wrong);
    EXPECT_EQ(wrong.error().code(), ErrorCode::kCorrupt);
    // A fresh IV each time: equal data, different blobs.
    EXPECT_NE(EncodeBlob(*data, true, &key), blob);
  }
}

TEST(Crypt, TamperingWithAnyByteOfAnEncryptedBlobIsCaught) {
  const CryptKey key(testing::TestKey(0));
  const Bytes data = Text("a small secret chunk of data");
  const Digest digest = key.ChunkDigest(data);
  const Bytes blob = EncodeBlob(data, false, &key);
  ASSERT_EQ(blob.size(), kEncryptedBlobHeaderSize + data.size());
  for (size_t i = 0; i < blob.size(); ++i) {
    for (bool fix_crc : {false, true}) {
      Bytes bad = blob;
      bad[i] ^= 0x01;
      // With the CRC made to fit, GCM alone must catch the change.
      if (fix_crc && i >= 12) StoreLe32(bad.data() + 8, Crc32(ByteView(bad).subspan(44)));
      auto r = DecodeChunk(bad, digest, &key);
      EXPECT_FALSE(r) << "byte " << i << (fix_crc ? " with CRC fixed" : "");
    }
  }
  EXPECT_EQ(*DecodeChunk(blob, digest, &key), data);
}

TEST(Crypt, ChunksMustMatchTheirArchivesCryptMode) {
  const CryptKey key(testing::TestKey(0));
  const Bytes data = Text("data");
  const Bytes sealed = EncodeBlob(data, true, &key);
  const Bytes plain = EncodeBlob(data, true);
  auto r = DecodeChunk(plain, key.ChunkDigest(data), &key);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("not encrypted"), std::string::npos);
  r = DecodeChunk(sealed, key.ChunkDigest(data));
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("encrypted, but its archive is not"), std::string::npos);
  // A keyed digest that is not the data's.
  EXPECT_FALSE(DecodeChunk(sealed, Sha256Of(data), &key));
  // What a server checks: an encrypted chunk's CRC only.
  EXPECT_EQ(*CheckStoredChunk(sealed, Sha256Of(data)), true);
  Bytes flipped = sealed;
  flipped.back() ^= 1;
  EXPECT_FALSE(CheckStoredChunk(flipped, Sha256Of(data)));
  EXPECT_EQ(*CheckStoredChunk(plain, Sha256Of(data)), false);
  EXPECT_FALSE(CheckStoredChunk(plain, key.ChunkDigest(data)));
}

TEST(Crypt, Base64) {
  EXPECT_EQ(Base64Encode(Text("ab")), "YWI=");
  EXPECT_EQ(*Base64Decode("YWI="), Text("ab"));
  EXPECT_EQ(*Base64Decode("YWI"), Text("ab"));
  EXPECT_EQ(*Base64Decode(""), Bytes());
  EXPECT_FALSE(Base64Decode("Y"));
  EXPECT_FALSE(Base64Decode("YW I="));
  EXPECT_FALSE(Base64Decode("Y=WI"));
  EXPECT_FALSE(Base64Decode("YWI==="));
}

}  // namespace
}  // namespace chunkvault
