#include "chunkvault/blob.h"

#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <memory>

#include "chunkvault/hash.h"

namespace chunkvault {
namespace {

constexpr int kZstdLevel = 1;

std::string Hex32(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// zstd contexts are expensive to create; each thread keeps one of each.
ZSTD_CCtx* ThreadCCtx() {
  struct Holder {
    ZSTD_CCtx* ctx = ZSTD_createCCtx();
    ~Holder() { ZSTD_freeCCtx(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}
ZSTD_DCtx* ThreadDCtx() {
  struct Holder {
    ZSTD_DCtx* ctx = ZSTD_createDCtx();
    ~Holder() { ZSTD_freeDCtx(ctx); }
  };
  thread_local Holder holder;
  return holder.ctx;
}

// Decompresses a zstd frame with an output limit. PBS writes frames without
// a content size (streaming encoder), so the size cannot be trusted or even
// known up front: decode in steps and stop at the limit.
Result<Bytes> ZstdDecode(ByteView in, size_t max_size) {
  ZSTD_DCtx* dctx = ThreadDCtx();
  ZSTD_DCtx_reset(dctx, ZSTD_reset_session_only);
  unsigned long long known = ZSTD_getFrameContentSize(in.data(), in.size());
  Bytes out;
  if (known != ZSTD_CONTENTSIZE_ERROR && known != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (known > max_size)
      return Fail(ErrorCode::kCorrupt, "zstd frame declares " + std::to_string(known) +
                                           " bytes, more than the limit of " +
                                           std::to_string(max_size));
    out.resize(known);
  } else {
    out.resize(std::min<size_t>(max_size, std::max<size_t>(in.size() * 4, 65536)));
  }
  ZSTD_inBuffer input = {in.data(), in.size(), 0};
  ZSTD_outBuffer output = {out.data(), out.size(), 0};
  for (;;) {
    size_t rc = ZSTD_decompressStream(dctx, &output, &input);
    if (ZSTD_isError(rc))
      return Fail(ErrorCode::kCorrupt, std::string("zstd: ") + ZSTD_getErrorName(rc));
    if (rc == 0) {  // frame complete
      if (input.pos != input.size)
        return Fail(ErrorCode::kCorrupt, "trailing bytes after the zstd frame");
      out.resize(output.pos);
      return out;
    }
    if (output.pos == output.size) {
      if (out.size() >= max_size)
        return Fail(ErrorCode::kCorrupt, "decompressed data exceeds the limit of " +
                                             std::to_string(max_size) + " bytes");
      out.resize(std::min(max_size, out.size() * 2));
      output.dst = out.data();
      output.size = out.size();
    } else if (input.pos == input.size) {
      return Fail(ErrorCode::kCorrupt, "truncated zstd frame");
    }
  }
}

}  // namespace

const char* BlobKindName(BlobKind kind) {
  switch (kind) {
    case BlobKind::kUncompressed: return "uncompressed";
    case BlobKind::kCompressed: return "zstd";
    case BlobKind::kEncrypted: return "encrypted";
    case BlobKind::kEncryptedCompressed: return "zstd+encrypted";
  }
  return "?";
}

namespace {
bool IsEncrypted(BlobKind kind) {
  return kind == BlobKind::kEncrypted || kind == BlobKind::kEncryptedCompressed;
}
}  // namespace

Result<BlobInfo> InspectBlob(ByteView raw) {
  if (raw.size() < kBlobHeaderSize)
    return Fail(ErrorCode::kCorrupt, "truncated: " + std::to_string(raw.size()) +
                                         " bytes, shorter than the 12-byte blob header");
  Magic magic;
  std::memcpy(magic.data(), raw.data(), magic.size());
  BlobInfo info{BlobKind::kUncompressed, LoadLe32(raw.data() + 8), kBlobHeaderSize};
  if (magic == kUncompressedBlobMagic) info.kind = BlobKind::kUncompressed;
  else if (magic == kCompressedBlobMagic) info.kind = BlobKind::kCompressed;
  else if (magic == kEncryptedBlobMagic) info.kind = BlobKind::kEncrypted;
  else if (magic == kEncrCompBlobMagic) info.kind = BlobKind::kEncryptedCompressed;
  else
    return Fail(ErrorCode::kCorrupt,
                "not a DataBlob: unknown magic " + ToHex(ByteView(magic)));
  if (info.kind == BlobKind::kEncrypted || info.kind == BlobKind::kEncryptedCompressed) {
    info.header_size = kEncryptedBlobHeaderSize;
    if (raw.size() < info.header_size)
      return Fail(ErrorCode::kCorrupt, "truncated: " + std::to_string(raw.size()) +
                                           " bytes, shorter than the 44-byte encrypted header");
  }
  return info;
}

Status CheckBlobCrc(ByteView raw) {
  CV_ASSIGN_OR_RETURN(BlobInfo info, InspectBlob(raw));
  // After the header: an encrypted blob's IV and tag are GCM's to guard.
  uint32_t computed = Crc32(raw.subspan(info.header_size));
  if (computed != info.stored_crc)
    return Fail(ErrorCode::kCorrupt, "CRC mismatch: stored " + Hex32(info.stored_crc) +
                                         ", computed " + Hex32(computed));
  return {};
}

ByteView BlobEncoder::Encode(ByteView data, bool compress, const CryptKey* key) {
  const size_t header = key ? kEncryptedBlobHeaderSize : kBlobHeaderSize;
  const size_t need = header + data.size();
  if (capacity_ < need) {
    capacity_ = std::max(need, kEncryptedBlobHeaderSize + kMaxChunkSize);
    buf_ = std::make_unique_for_overwrite<uint8_t[]>(capacity_);
  }
  uint8_t* const payload = buf_.get() + header;
  bool compressed = false;
  size_t n = data.size();
  if (compress) {
    // zstd gets room for no more than the input, so output that would be
    // larger fails (dstSize_tooSmall) and the data is stored as it is.
    const size_t z = ZSTD_compressCCtx(ThreadCCtx(), payload, data.size(), data.data(),
                                       data.size(), kZstdLevel);
    if (!ZSTD_isError(z)) {
      n = z;
      compressed = true;
    }
  }
  if (!compressed && n != 0) std::memcpy(payload, data.data(), n);
  const Magic* magic = compressed ? &kCompressedBlobMagic : &kUncompressedBlobMagic;
  if (key) {
    magic = compressed ? &kEncrCompBlobMagic : &kEncryptedBlobMagic;
    GcmIv iv;
    GcmTag tag;
    RandomBytes(iv.data(), iv.size());
    key->Encrypt(ByteView(payload, n), iv, payload, &tag);
    std::memcpy(buf_.get() + kBlobHeaderSize, iv.data(), iv.size());
    std::memcpy(buf_.get() + kBlobHeaderSize + iv.size(), tag.data(), tag.size());
  }
  std::memcpy(buf_.get(), magic->data(), magic->size());
  StoreLe32(buf_.get() + 8, Crc32(ByteView(payload, n)));
  return ByteView(buf_.get(), header + n);
}

Bytes EncodeBlob(ByteView data, bool compress, const CryptKey* key) {
  // Chunk-sized data reuses the thread's encoder; larger blobs (indexes)
  // get one of their own, so a thread does not keep their memory.
  thread_local BlobEncoder chunk_encoder;
  BlobEncoder big_encoder;
  BlobEncoder& encoder = data.size() <= kMaxChunkSize ? chunk_encoder : big_encoder;
  const ByteView blob = encoder.Encode(data, compress, key);
  return Bytes(blob.begin(), blob.end());
}

Result<Bytes> DecodeBlob(ByteView raw, size_t max_size, const CryptKey* key) {
  CV_ASSIGN_OR_RETURN(BlobInfo info, InspectBlob(raw));
  const bool encrypted = IsEncrypted(info.kind);
  if (encrypted && key == nullptr) return Fail(ErrorCode::kEncrypted, "encrypted, no key given");
  CV_RETURN_IF_ERROR(CheckBlobCrc(raw));
  ByteView payload = raw.subspan(info.header_size);
  Bytes plain;
  if (encrypted) {
    GcmIv iv;
    GcmTag tag;
    std::memcpy(iv.data(), raw.data() + kBlobHeaderSize, iv.size());
    std::memcpy(tag.data(), raw.data() + kBlobHeaderSize + iv.size(), tag.size());
    if (info.kind == BlobKind::kEncrypted && payload.size() > max_size)
      return Fail(ErrorCode::kCorrupt, "payload of " + std::to_string(payload.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(max_size));
    plain.resize(payload.size());
    CV_RETURN_IF_ERROR(key->Decrypt(payload, iv, tag, plain.data()));
    if (info.kind == BlobKind::kEncrypted) return plain;
    return ZstdDecode(plain, max_size);
  }
  if (info.kind == BlobKind::kUncompressed) {
    if (payload.size() > max_size)
      return Fail(ErrorCode::kCorrupt, "payload of " + std::to_string(payload.size()) +
                                           " bytes exceeds the limit of " +
                                           std::to_string(max_size));
    return Bytes(payload.begin(), payload.end());
  }
  return ZstdDecode(payload, max_size);
}

Result<Bytes> DecodeChunk(ByteView raw, const Digest& digest, const CryptKey* key) {
  CV_ASSIGN_OR_RETURN(BlobInfo info, InspectBlob(raw));
  if (key && !IsEncrypted(info.kind))
    return Fail(ErrorCode::kCorrupt,
                std::string("not encrypted (") + BlobKindName(info.kind) + "), but its archive is");
  if (!key && IsEncrypted(info.kind))
    return Fail(ErrorCode::kCorrupt, "encrypted, but its archive is not");
  CV_ASSIGN_OR_RETURN(Bytes data, DecodeBlob(raw, kMaxChunkSize, key));
  Digest actual = ChunkDigestOf(data, key);
  if (actual != digest)
    return Fail(ErrorCode::kCorrupt, "digest mismatch: data hashes to " + ToHex(actual));
  return data;
}

Result<bool> CheckStoredChunk(ByteView raw, const Digest& digest) {
  CV_ASSIGN_OR_RETURN(BlobInfo info, InspectBlob(raw));
  if (!IsEncrypted(info.kind)) {
    CV_RETURN_IF_ERROR(DecodeChunk(raw, digest));
    return false;
  }
  if (raw.size() > kMaxChunkFileSize)
    return Fail(ErrorCode::kCorrupt,
                std::to_string(raw.size()) + " bytes, more than a chunk's blob can be");
  CV_RETURN_IF_ERROR(CheckBlobCrc(raw));
  return true;
}

}  // namespace chunkvault
