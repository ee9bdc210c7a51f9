// Backend: a flat key/value object store, the contract every storage place
// fulfils (memory, a filesystem directory, an S3 bucket).
//
// Keys are '/'-separated UTF-8 strings. One conformance test suite
// (tests/conformance/) runs against every implementation, so the datastore
// may rely on exactly what is written here:
//   - Put(kIfAbsent) stores only if the key is absent, atomically: of
//     concurrent writers exactly one gets `true`; the others get `false`
//     and the object keeps the winner's bytes.
//   - Put(kOverwrite) replaces; readers see the old or the new object,
//     never a mix.
//   - Get/GetRange of a missing key is kNotFound; Head gives nullopt.
//   - Delete of a missing key succeeds.
//   - List gives every key under a prefix once, in ascending byte order.
//
// Thread-safety: all methods may be called concurrently.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

enum class PutMode { kOverwrite, kIfAbsent };

// The largest object a backend hands out (an index file at its largest,
// see index.h); a larger one is refused as corrupt instead of read into
// memory.
inline constexpr uint64_t kMaxObjectSize = uint64_t(1) << 30;

// Requests made to a backend as S3 bills them, retries included, and the
// objects' bytes moved (counted by a CountingBackend wrapped around it;
// src/backend/wrappers.h).
struct BackendCounts {
  uint64_t get = 0, put = 0, head = 0, list = 0, del = 0, copy = 0;
  uint64_t bytes_up = 0, bytes_down = 0;
  uint64_t errors = 0;  // calls that failed, a missing key (kNotFound) aside
  BackendCounts operator-(const BackendCounts& o) const {
    return {get - o.get,      put - o.put,   head - o.head,         list - o.list,
            del - o.del,      copy - o.copy, bytes_up - o.bytes_up, bytes_down - o.bytes_down,
            errors - o.errors};
  }
};

class Backend {
 public:
  virtual ~Backend() = default;

  // Where the objects live, for messages ("bucket 'b' at https://...").
  virtual std::string Describe() const = 0;

  // Checks that the place exists and answers (S3: HeadBucket).
  virtual Status Check() = 0;

  // true: stored; false: kIfAbsent and the key existed (nothing written).
  virtual Result<bool> Put(const std::string& key, ByteView data, PutMode mode) = 0;
  virtual Result<Bytes> Get(const std::string& key) = 0;
  // Up to `length` bytes from `offset` (fewer at the end of the object).
  virtual Result<Bytes> GetRange(const std::string& key, uint64_t offset, uint64_t length) = 0;
  virtual Result<std::optional<ObjectInfo>> Head(const std::string& key) = 0;
  virtual Status Delete(const std::string& key) = 0;
  // Deletes many keys; an error names the keys that could not be deleted.
  virtual Status DeleteMany(const std::vector<std::string>& keys) = 0;
  // Calls `fn` for every object whose key starts with `prefix`.
  virtual Status List(const std::string& prefix,
                      const std::function<Status(const ObjectInfo&)>& fn) = 0;
  virtual Status Copy(const std::string& from, const std::string& to) = 0;
};

// In memory, for tests.
std::unique_ptr<Backend> NewMemoryBackend();

// Objects as files under `root` (keys may not contain empty, "." or ".."
// components). Writes go to a temporary file that is renamed or linked
// into place.
std::unique_ptr<Backend> NewFilesystemBackend(const std::string& root);

// A backend whose every operation fails with `why` (kPermissionDenied):
// stands in when one cannot be opened (no credentials), so that local-only
// work still runs. `description` names the place it stands for.
std::unique_ptr<Backend> NewUnavailableBackend(std::string description, std::string why);

// Deletes every object under `prefix`; returns how many.
Result<uint64_t> DeletePrefix(Backend& backend, const std::string& prefix);

}  // namespace chunkvault
