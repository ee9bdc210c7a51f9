// ChunkAccess: the one door through which the datastore reads and writes
// chunks. Today it opens onto the local chunk store; the S3 backend and the
// local cache in front of it take it over without the backup, restore and
// verify code changing.
//
// Thread-safety: implementations must allow concurrent calls.
#pragma once

#include <memory>
#include <string>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "store/chunk_store.h"

namespace chunkvault {

class ChunkAccess {
 public:
  virtual ~ChunkAccess() = default;

  // If the chunk is stored, marks it used (touches its atime, as PBS does
  // for a chunk a backup re-uses) and returns true.
  virtual Result<bool> TouchIfPresent(const Digest& digest) = 0;

  // Stores an encoded chunk (a DataBlob) under its digest.
  virtual Result<InsertResult> Insert(const Digest& digest, ByteView blob) = 0;

  // The stored blob. kNotFound if the chunk is missing.
  virtual Result<Bytes> ReadRaw(const Digest& digest) = 0;

  // Moves a chunk that failed verification aside; returns where it went.
  virtual Result<std::string> MarkBad(const Digest& digest) = 0;

  // Where a chunk lives, for messages ("chunk <hex> (<where>)").
  virtual std::string Describe(const Digest& digest) const = 0;
};

// ChunkAccess on the local chunk store alone.
std::unique_ptr<ChunkAccess> NewLocalChunkAccess(ChunkStore* store);

// Reads, decodes and checks a chunk: CRC, then sha256(data) == digest.
// Errors say which chunk and where it is.
Result<Bytes> ReadChunkData(ChunkAccess& access, const Digest& digest);

}  // namespace chunkvault
