// The local chunk store: <base>/.chunks/<4hex>/<64hex>, one DataBlob each.
//
// Insert follows PBS (pbs-datastore chunk_store.rs): a chunk is written to a
// unique temporary name in its directory and renamed into place, so a name
// only ever holds a complete blob. For a digest already present:
//   - an existing file of the same size is kept and its atime touched;
//   - an empty file (a cache marker, docs/format.md, "The chunk cache") is overwritten;
//   - a smaller existing file is kept (zstd versions may differ);
//   - a larger existing file is replaced.
//
// Thread-safety: all methods may be called concurrently, also by several
// processes on one store: every change is a single rename.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "chunkvault/bytes.h"
#include "chunkvault/env.h"
#include "chunkvault/status.h"

namespace chunkvault {

// How hard a write is pushed to stable storage (docs/format.md, "The datastore directory").
enum class SyncLevel {
  kNone,        // leave it to the kernel
  kFile,        // fsync each file and its directory
  kFilesystem,  // syncfs once when a backup finishes (default)
};
const char* SyncLevelName(SyncLevel level);
Result<SyncLevel> ParseSyncLevel(std::string_view text);

struct InsertResult {
  bool existed = false;     // the digest was already stored (nothing written)
  uint64_t stored_size = 0;  // bytes of the blob now under the name
};

// The name of a file in .chunks/<4hex>/ (or the last part of a chunk's
// object key): "<64hex>", the chunk, or "<64hex>.<n>.bad", a copy verify
// moved aside; nullopt for anything else (temporary files, strays).
struct ChunkFileName {
  Digest digest;
  std::string bad;  // BadSuffix(n), or "" for the chunk itself
};
std::optional<ChunkFileName> ParseChunkFileName(std::string_view name);
// ".<n>.bad": what a chunk's file or object name gets when verify moves it
// aside (n = 0..9).
std::string BadSuffix(int n);

class ChunkStore {
 public:
  // Creates <base>/.chunks and its 65536 subdirectories (mode 0750).
  static Status Create(Env* env, const std::string& base);

  ChunkStore(Env* env, std::string base, SyncLevel sync);

  const std::string& base() const { return base_; }
  std::string ChunkPath(const Digest& digest) const;

  // Size of the stored blob, or nullopt if there is none. An empty file (a
  // cache marker) counts as present with size 0.
  Result<std::optional<uint64_t>> StoredSize(const Digest& digest);

  Result<InsertResult> Insert(const Digest& digest, ByteView blob);

  // The raw blob bytes. kNotFound if the chunk is missing.
  Result<Bytes> ReadRaw(const Digest& digest);

  // Sets the chunk's atime to now (garbage collection's mark).
  Status Touch(const Digest& digest);

  // Cache eviction (docs/format.md, "The chunk cache"): replaces the chunk file by a new,
  // empty marker file with the same atime and mtime. A new inode, so a
  // reader that opened the old file keeps reading valid data; the name
  // stays, so garbage collection still sees the chunk. A chunk that is
  // missing or already a marker is left alone.
  Status EvictToMarker(const Digest& digest);

  // Creates an empty marker ("in the bucket, not cached here") unless a
  // file exists. Returns whether one was created.
  Result<bool> WriteMarker(const Digest& digest);

  // Renames a corrupt chunk to <digest>.<n>.bad (n = 0..9, the first free
  // one, as PBS verify does, or `n` if given: the number its bucket copy
  // got, so that both have one name) and returns the new path.
  Result<std::string> MarkBad(const Digest& digest, std::optional<int> n = std::nullopt);

  // Removes the chunk's file or marker (garbage collection). A missing one
  // is fine.
  Status Remove(const Digest& digest);

  // Locks the chunk's directory (.chunks/<4hex>), waiting for it unless
  // `wait` is false (then kBusy if it is held elsewhere). Writers hold it
  // shared from "is the chunk there?" until they have touched, written or
  // marked it; garbage collection holds it exclusively from re-checking a
  // chunk's atime until the chunk is gone, so a chunk a writer relies on
  // is never removed under it (docs/architecture.md, "Locks"); the cache's evictions
  // hold it exclusively while a file becomes a marker (ChunkCache).
  Result<std::unique_ptr<FileLock>> LockDir(const Digest& digest, bool exclusive,
                                            bool wait = true);

  // Calls `fn(name, path)` for every chunk file (including .bad ones) and
  // `other(name, path)`, if given, for every other file in the chunk
  // directories (temporary files, strays).
  Status ForEachChunk(
      const std::function<Status(const ChunkFileName&, const std::string&)>& fn,
      const std::function<Status(const std::string&, const std::string&)>& other = nullptr);

 private:
  Env* const env_;
  const std::string base_;
  const std::string chunk_dir_;
  const SyncLevel sync_;
};

}  // namespace chunkvault
