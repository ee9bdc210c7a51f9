// Checks a datastore directory the way a crash-consistency test needs:
// every file under a final name is complete and valid.
#pragma once

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

// Snapshot directories without a manifest (incomplete snapshots).
std::vector<std::string> IncompleteSnapshots(const std::string& store);

}  // namespace chunkvault::testing
