// DataBlob: the container of every chunk and small file (docs/format.md, "Blobs").
//
//   plain:     magic[8] | crc32[4] | payload
//   encrypted: magic[8] | crc32[4] | iv[16] | tag[16] | ciphertext
//
// The CRC is over everything after the header (12 or 44 bytes): for an
// encrypted blob the ciphertext, its IV and tag being guarded by GCM. Errors are kCorrupt
// with a message saying what is wrong ("CRC mismatch: stored ..., computed
// ..."); callers add which file or chunk. Encrypted kinds need the key
// (chunkvault/crypt.h); without it they are kEncrypted, and only what a
// holder without the key can check is checked (CheckStoredChunk).
//
// Thread-safety: all functions are thread-safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/status.h"

namespace chunkvault {

enum class BlobKind { kUncompressed, kCompressed, kEncrypted, kEncryptedCompressed };

using Magic = std::array<uint8_t, 8>;
// First 8 bytes of sha256("Proxmox Backup uncompressed blob v1.0") and so on.
inline constexpr Magic kUncompressedBlobMagic = {0x42, 0xab, 0x38, 0x07, 0xbe, 0x83, 0x70, 0xa1};
inline constexpr Magic kCompressedBlobMagic = {0x31, 0xb9, 0x58, 0x42, 0x6f, 0xb6, 0xa3, 0x7f};
inline constexpr Magic kEncryptedBlobMagic = {0x7b, 0x67, 0x85, 0xbe, 0x22, 0x2d, 0x4c, 0xf0};
inline constexpr Magic kEncrCompBlobMagic = {0xe6, 0x59, 0x1b, 0xbf, 0x0b, 0xbf, 0xd8, 0x0b};

inline constexpr size_t kBlobHeaderSize = 12;
inline constexpr size_t kEncryptedBlobHeaderSize = 12 + 16 + 16;
inline constexpr size_t kMaxChunkSize = 16u << 20;  // a chunk's data
inline constexpr size_t kMaxBlobSize = 128u << 20;  // any blob's data
// The largest file a chunk or another blob can be: header and data stored
// uncompressed (encoders keep whichever of the two forms is smaller).
// Readers refuse larger files before reading them.
inline constexpr uint64_t kMaxChunkFileSize = kEncryptedBlobHeaderSize + kMaxChunkSize;
inline constexpr uint64_t kMaxBlobFileSize = kEncryptedBlobHeaderSize + kMaxBlobSize;

const char* BlobKindName(BlobKind kind);

struct BlobInfo {
  BlobKind kind;
  uint32_t stored_crc;
  size_t header_size;  // 12, or 44 for encrypted kinds
};

// Reads the header: the magic and a length that can hold it.
Result<BlobInfo> InspectBlob(ByteView raw);

// Recomputes the CRC and compares it with the stored one.
Status CheckBlobCrc(ByteView raw);

// Builds a blob of `data`. With `compress`, zstd level 1 is tried and kept
// unless it is larger than `data`. With `key`, the (compressed) data is
// encrypted under a fresh random IV. `data` must be at most kMaxBlobSize.
Bytes EncodeBlob(ByteView data, bool compress, const CryptKey* key = nullptr);

// EncodeBlob into memory the encoder keeps: for a thread that encodes chunk
// after chunk (the backup's workers), where a fresh vector per blob cost an
// allocation, page faults and a copy of every compressed chunk. The blob
// returned is the one EncodeBlob builds; it stays valid until the next
// Encode() or the encoder's end. Memory kept: the largest blob so far, and
// at least room for a kMaxChunkSize chunk (only the pages used are touched).
//
// Thread-safety: none; one encoder per thread.
class BlobEncoder {
 public:
  ByteView Encode(ByteView data, bool compress, const CryptKey* key = nullptr);

 private:
  std::unique_ptr<uint8_t[]> buf_;
  size_t capacity_ = 0;
};

// Checks the CRC and returns the payload, decrypted (an encrypted blob
// needs `key`: kEncrypted without it, kCorrupt if GCM does not
// authenticate it) and decompressed; output larger than `max_size` is
// kCorrupt.
Result<Bytes> DecodeBlob(ByteView raw, size_t max_size = kMaxBlobSize,
                         const CryptKey* key = nullptr);

// DecodeBlob for a chunk of an archive, plus the check that the data
// hashes to `digest` (ChunkDigestOf). With `key` the archive is encrypted
// and so must the chunk be; without, the chunk must not be (kCorrupt).
Result<Bytes> DecodeChunk(ByteView raw, const Digest& digest, const CryptKey* key = nullptr);

// What can be checked of a stored chunk without its key (a server, the
// cache, verify without --keyfile): the CRC, and for an unencrypted chunk
// its data against `digest`. An encrypted chunk's digest is keyed and
// cannot be checked. Returns whether the chunk is encrypted.
Result<bool> CheckStoredChunk(ByteView raw, const Digest& digest);

}  // namespace chunkvault
