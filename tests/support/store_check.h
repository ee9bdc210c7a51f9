// Checks a datastore directory the way a crash-consistency test needs:
// every file under a final name is complete and valid.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chunkvault::testing {

// Chunk files decode to their digest; index files, blobs and manifests pass
// their checks; temporary files (".tmp_") are ignored. Returns problems.
// With `chunk_dirs`, only those chunk directories are read (a full scan
// reads 65536 of them).
std::vector<std::string> CheckStoreFiles(
    const std::string& store, const std::optional<std::set<std::string>>& chunk_dirs = {});

enum class ChunkFileKind { kAny, kCached /* non-empty */, kMarker /* empty */ };

// Paths of the regular files under <store>/.chunks of that kind, sorted.
std::vector<std::string> ChunkFilePaths(const std::string& store,
                                        ChunkFileKind kind = ChunkFileKind::kAny);
// The last components of paths or object keys: chunk digests in hex.
std::set<std::string> Basenames(const std::vector<std::string>& paths);
// The digests (hex) with a chunk file or marker in a store.
std::set<std::string> ChunkFileNames(const std::string& store);

// Sets the atime of every file under <store>/.chunks `seconds` into the
// past, mtimes kept: to garbage collection the chunks look unused for that
// long. False if a file could not be changed.
bool AgeChunkFiles(const std::string& store, int64_t seconds);

// Snapshot directories without a manifest (incomplete snapshots).
std::vector<std::string> IncompleteSnapshots(const std::string& store);

}  // namespace chunkvault::testing
