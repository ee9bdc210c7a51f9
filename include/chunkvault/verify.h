// Verify: every chunk of the chosen snapshots read and checked (CRC,
// digest, size against the index), the result recorded in each manifest.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/backup_ref.h"
#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"

namespace chunkvault {

struct VerifyOptions {
  bool rename_bad = true;       // move corrupt chunks to <digest>.<n>.bad
  bool update_manifest = true;  // record verify_state in each manifest
  // S3 stores: by default every chunk is read from the bucket (the copies
  // restores depend on), bypassing the cache and leaving it as it was.
  // true: read through the cache (cached chunks are checked locally;
  // misses are fetched and, if the store was opened with cache_admit,
  // admitted).
  bool use_cache = false;
  // The key of encrypted snapshots: their chunks and blobs are decrypted
  // and every digest checked, their manifests' signatures too. Without it
  // (or for snapshots another key made) an encrypted chunk gets what a
  // server can check: its CRC, and that it is encrypted (keyless_chunks).
  std::shared_ptr<const CryptKey> key;
};

struct BadChunk {
  Digest digest;
  std::string error;
  std::string renamed_to;  // empty if it was missing or could not be moved
};

struct VerifyReport {
  uint64_t snapshots_ok = 0;
  uint64_t snapshots_failed = 0;
  std::vector<std::string> skipped;  // incomplete or busy snapshots, why
  uint64_t chunks = 0;               // distinct chunks checked
  uint64_t chunk_bytes = 0;          // their data bytes (of those decoded)
  uint64_t keyless_chunks = 0;       // encrypted, checked without their key
  std::vector<BadChunk> bad_chunks;
  std::vector<std::string> errors;  // each names snapshot and file
  bool ok() const { return snapshots_failed == 0 && errors.empty() && bad_chunks.empty(); }
};

// Called on the thread that runs Verify.
class VerifyObserver {
 public:
  virtual ~VerifyObserver() = default;
  virtual void OnSnapshot(const SnapshotRef& snap, bool ok) { (void)snap, (void)ok; }
  virtual void OnProgress(uint64_t chunks_done, uint64_t bytes_done) {
    (void)chunks_done, (void)bytes_done;
  }
  virtual void OnError(const std::string& message) { (void)message; }
};

}  // namespace chunkvault
