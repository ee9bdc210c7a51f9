// ChunkAccess: the one door through which the datastore reads and writes
// chunks. A local datastore opens it onto its chunk store; an S3 datastore
// onto the bucket with the local chunk cache in front, without the backup,
// restore and verify code changing.
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <memory>
#include <string>

#include "cache/chunk_cache.h"
#include "chunkvault/backend.h"
#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/status.h"
#include "store/chunk_store.h"

namespace chunkvault {

enum class ReadFrom {
  kAny,      // through the local copies / the cache
  kBackend,  // the authoritative copy (the bucket), bypassing and not
             // disturbing the cache
};

class ChunkAccess {
 public:
  virtual ~ChunkAccess() = default;

  // If the chunk is stored, marks it used (touches its atime, as PBS does
  // for a chunk a backup re-uses) and returns true.
  virtual Result<bool> TouchIfPresent(const Digest& digest) = 0;
  // TouchIfPresent for a chunk about to be named without being uploaded
  // (reused whole by digest): where the local side does not know it, the
  // authoritative copy is asked (a bucket: HEAD) and, if there, marked.
  virtual Result<bool> MarkUsedIfStored(const Digest& digest) { return TouchIfPresent(digest); }

  // Stores an encoded chunk (a DataBlob) under its digest.
  virtual Result<InsertResult> Insert(const Digest& digest, ByteView blob) = 0;

  // The stored blob. kNotFound if the chunk is missing.
  virtual Result<Bytes> ReadRaw(const Digest& digest, ReadFrom from = ReadFrom::kAny) = 0;

  // The stored blob, for handing on whole (a server's reader protocol): as
  // ReadRaw, but a chunk fetched from the bucket is checked
  // (CheckStoredChunk) and kept in the cache, as Read keeps it. Unlike Read, concurrent
  // misses of one chunk each fetch it.
  virtual Result<Bytes> ReadToServe(const Digest& digest) { return ReadRaw(digest); }

  // The chunk's data, checked (CRC, then its digest): decrypted with `key`
  // for an encrypted archive's chunk (DecodeChunk). The default decodes
  // ReadRaw(); a remote access decodes once and keeps the blob.
  virtual Result<Bytes> Read(const Digest& digest, ReadFrom from = ReadFrom::kAny,
                             const CryptKey* key = nullptr);

  // Moves a chunk that failed verification aside; returns where it went.
  virtual Result<std::string> MarkBad(const Digest& digest) = 0;

  // Where a chunk lives, for messages ("chunk <hex> (<where>)").
  virtual std::string Describe(const Digest& digest) const = 0;
};

// ChunkAccess on the local chunk store alone.
std::unique_ptr<ChunkAccess> NewLocalChunkAccess(ChunkStore* store);

// ChunkAccess on a bucket (`backend`, keys "<prefix>.chunks/<4hex>/<64hex>")
// with the local chunk cache in front (docs/format.md, "The chunk cache"):
//   - upload: a chunk the cache knows (file or marker) is not sent; others
//     are PUT with If-None-Match, then admitted (or, without admission, only
//     marked);
//   - read: a cached chunk is read locally; a miss is fetched once however
//     many readers want it, checked (CRC, digest) and only then admitted
//     (or marked) and handed out; a corrupt object is never cached.
// With `admit` false (backup --no-cache, restore --no-admit) the cache
// serves what it has and takes nothing new. `cache` opens the cache when
// first needed.
std::unique_ptr<ChunkAccess> NewCachedChunkAccess(Backend* backend, std::string key_prefix,
                                                  ChunkStore* local,
                                                  std::function<Result<ChunkCache*>()> cache,
                                                  bool admit);

// The bucket key of a chunk: "<prefix>.chunks/<4hex>/<64hex>".
std::string ChunkKey(const std::string& key_prefix, const Digest& digest);

// Reads, decodes and checks a chunk (with `key`, of an encrypted
// archive); errors say which chunk and where.
Result<Bytes> ReadChunkData(ChunkAccess& access, const Digest& digest,
                            ReadFrom from = ReadFrom::kAny, const CryptKey* key = nullptr);

}  // namespace chunkvault
