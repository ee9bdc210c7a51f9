#include <gtest/gtest.h>
#include <zstd.h>

#include <random>

#include "chunkvault/blob.h"
#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

Bytes RandomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = uint8_t(rng());
  return b;
}

Bytes Compressible(size_t n) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = uint8_t("chunkvault "[i % 11]);
  return b;
}

TEST(Blob, SpecVector) {
  const Bytes data = {0x00, 0x01};
  Bytes blob = EncodeBlob(data, /*compress=*/false);
  EXPECT_EQ(ToHex(blob), "42ab3807be8370a1" "6922de36" "0001");
  EXPECT_EQ(ToHex(Sha256Of(data)),
            "b413f47d13ee2fe6c845b2ee141af81de858df4ec549a58b7970bb96645bc8d2");
  // Compression would grow two bytes, so the blob stays uncompressed.
  EXPECT_EQ(EncodeBlob(data, true), blob);
  EXPECT_EQ(*DecodeChunk(blob, Sha256Of(data)), data);
}

TEST(Blob, MagicsAreSha256Prefixes) {
  auto prefix = [](const char* text) {
    Digest d = Sha256Of(AsBytes(text));
    Magic m;
    std::copy_n(d.begin(), 8, m.begin());
    return m;
  };
  EXPECT_EQ(prefix("Proxmox Backup uncompressed blob v1.0"), kUncompressedBlobMagic);
  EXPECT_EQ(prefix("Proxmox Backup zstd compressed blob v1.0"), kCompressedBlobMagic);
  EXPECT_EQ(prefix("Proxmox Backup encrypted blob v1.0"), kEncryptedBlobMagic);
  EXPECT_EQ(prefix("Proxmox Backup zstd compressed encrypted blob v1.0"), kEncrCompBlobMagic);
}

TEST(Blob, CompressedRoundTrip) {
  Bytes data = Compressible(1 << 20);
  Bytes blob = EncodeBlob(data, true);
  EXPECT_EQ(InspectBlob(blob)->kind, BlobKind::kCompressed);
  EXPECT_LT(blob.size(), data.size() / 10);
  EXPECT_EQ(*DecodeBlob(blob), data);
}

TEST(Blob, IncompressibleDataIsStoredPlain) {
  Bytes data = RandomBytes(100000, 1);
  Bytes blob = EncodeBlob(data, true);
  EXPECT_EQ(InspectBlob(blob)->kind, BlobKind::kUncompressed);
  EXPECT_EQ(blob.size(), data.size() + kBlobHeaderSize);
  EXPECT_EQ(*DecodeBlob(blob), data);
}

TEST(Blob, EmptyData) {
  Bytes blob = EncodeBlob({}, true);
  EXPECT_EQ(blob.size(), kBlobHeaderSize);
  EXPECT_TRUE(DecodeBlob(blob)->empty());
}

// One encoder, blob after blob: each must come out whole whatever the
// previous one left in the encoder's memory (a failed compression leaves
// zstd's partial output where the plain payload then goes), and a blob
// larger than the memory so far must grow it.
TEST(Blob, EncoderReusedAcrossKindsAndSizes) {
  BlobEncoder encoder;
  const std::vector<std::pair<Bytes, BlobKind>> inputs = {
      {Compressible(1 << 20), BlobKind::kCompressed},
      {RandomBytes(100000, 2), BlobKind::kUncompressed},
      {Compressible(kMaxChunkSize + 12345), BlobKind::kCompressed},
      {RandomBytes(kMaxChunkSize + 1, 3), BlobKind::kUncompressed},
      {Bytes{}, BlobKind::kUncompressed},
      {Compressible(5), BlobKind::kUncompressed},  // a frame is larger
  };
  for (const auto& [data, kind] : inputs) {
    SCOPED_TRACE(data.size());
    const ByteView blob = encoder.Encode(data, true);
    EXPECT_EQ(InspectBlob(blob)->kind, kind);
    const Bytes copy(blob.begin(), blob.end());
    // Compared as digests: gtest would print megabytes on a mismatch.
    EXPECT_EQ(ToHex(Sha256Of(copy)), ToHex(Sha256Of(EncodeBlob(data, true))));
    auto decoded = DecodeBlob(copy);
    ASSERT_TRUE(decoded.has_value()) << decoded.error().message();
    EXPECT_EQ(ToHex(Sha256Of(*decoded)), ToHex(Sha256Of(data)));
  }
  // Without compression: the plain blob of the spec's vector.
  EXPECT_EQ(ToHex(encoder.Encode(Bytes{0x00, 0x01}, false)), "42ab3807be8370a1" "6922de36" "0001");
}

// PBS compresses with zstd's streaming encoder, whose frames carry no
// content size. Such frames must decode too.
TEST(Blob, DecodesFramesWithoutContentSize) {
  Bytes data = Compressible(300000);
  ZSTD_CCtx* cctx = ZSTD_createCCtx();
  ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 0);
  Bytes frame(ZSTD_compressBound(data.size()));
  size_t n = ZSTD_compress2(cctx, frame.data(), frame.size(), data.data(), data.size());
  ZSTD_freeCCtx(cctx);
  ASSERT_FALSE(ZSTD_isError(n));
  ASSERT_EQ(ZSTD_getFrameContentSize(frame.data(), n), ZSTD_CONTENTSIZE_UNKNOWN);
  Bytes blob(kBlobHeaderSize);
  std::copy(kCompressedBlobMagic.begin(), kCompressedBlobMagic.end(), blob.begin());
  blob.insert(blob.end(), frame.begin(), frame.begin() + long(n));
  StoreLe32(blob.data() + 8, Crc32(ByteView(blob).subspan(kBlobHeaderSize)));
  EXPECT_EQ(*DecodeBlob(blob), data);
  // The output limit holds for such frames as well.
  auto limited = DecodeBlob(blob, 1000);
  ASSERT_FALSE(limited.has_value());
  EXPECT_NE(limited.error().message().find("exceeds the limit"), std::string::npos);
}

TEST(Blob, EncryptedKindsAreRefusedWithoutKey) {
  for (const Magic& magic : {kEncryptedBlobMagic, kEncrCompBlobMagic}) {
    Bytes blob(kEncryptedBlobHeaderSize + 10, 0);
    std::copy(magic.begin(), magic.end(), blob.begin());
    auto info = InspectBlob(blob);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(info->header_size, kEncryptedBlobHeaderSize);
    auto r = DecodeBlob(blob);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code(), ErrorCode::kEncrypted);
    EXPECT_EQ(r.error().message(), "encrypted, no key given");
  }
}

TEST(Blob, DigestMismatchIsReported) {
  Bytes blob = EncodeBlob(AsBytes("hello"), false);
  auto r = DecodeChunk(blob, Sha256Of(AsBytes("other")));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
  EXPECT_NE(r.error().message().find("digest mismatch"), std::string::npos);
}

TEST(Blob, TruncatedAndUnknown) {
  Bytes blob = EncodeBlob(AsBytes("hello"), false);
  auto r = DecodeBlob(ByteView(blob).subspan(0, 5));
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("truncated"), std::string::npos);
  blob[0] ^= 1;
  r = DecodeBlob(blob);
  ASSERT_FALSE(r.has_value());
  EXPECT_NE(r.error().message().find("unknown magic"), std::string::npos);
}

// Flipping any single byte of a blob must be detected and explained.
TEST(Blob, EveryFlippedByteIsDetected) {
  for (bool compress : {false, true}) {
    Bytes data = compress ? Compressible(5000) : RandomBytes(500, 7);
    const Digest digest = Sha256Of(data);
    const Bytes blob = EncodeBlob(data, compress);
    for (size_t i = 0; i < blob.size(); ++i) {
      Bytes bad = blob;
      bad[i] ^= 0x20;
      auto r = DecodeChunk(bad, digest);
      ASSERT_FALSE(r.has_value()) << "flip at " << i << " went unnoticed";
      EXPECT_EQ(r.error().code(), ErrorCode::kCorrupt);
      const std::string& msg = r.error().message();
      if (i < 8) EXPECT_NE(msg.find("magic"), std::string::npos) << msg;
      else EXPECT_NE(msg.find("CRC mismatch"), std::string::npos) << msg;
    }
  }
}

}  // namespace
}  // namespace chunkvault
