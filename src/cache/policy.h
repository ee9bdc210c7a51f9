// Cache policies: which chunks stay in the local chunk cache.
//
// A policy only decides; ChunkCache does the files. Sizes are bytes, so
// chunks of 1 to 16 MiB weigh what they occupy (PBS's cache counts slots).
//
// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction",
// SOSP 2023), the default: new chunks enter a small FIFO (10% of the
// capacity); one read again while there earns a place in the main FIFO,
// the others leave at once and are remembered in a ghost FIFO of digests.
// A chunk seen in the ghost goes straight to main. Main is a FIFO with
// reinsertion: a chunk read since it last came round gets another lap.
// A one-pass scan (verify, a full restore, a big new backup) flows through
// the small queue and cannot push the working set out of main.
//
// LRU is kept to compare against.
//
// Thread-safety: none; ChunkCache serialises calls.
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

class CachePolicy {
 public:
  virtual ~CachePolicy() = default;

  virtual const char* name() const = 0;
  // The byte capacity the cache manages (S3-FIFO sizes its small queue
  // from it). May change at run time (the disk fills up).
  virtual void SetCapacity(uint64_t bytes) = 0;

  virtual bool Contains(const Digest& digest) const = 0;
  // A cached chunk was read.
  virtual void Hit(const Digest& digest) = 0;
  // A chunk enters the cache (it must not be contained).
  virtual void Insert(const Digest& digest, uint64_t size) = 0;
  // Picks the next chunk to leave and removes it; nullopt when empty.
  virtual std::optional<Digest> Evict() = 0;
  // Drops a chunk (deleted by GC, found corrupt); no-op if absent.
  virtual void Erase(const Digest& digest) = 0;

  virtual uint64_t bytes() const = 0;
  virtual size_t count() const = 0;

  // The full state, for the cache's checkpoint: Load(Dump()) rebuilds it.
  // Load keeps the first of entries that repeat a digest (a damaged
  // checkpoint's).
  struct Entry {
    Digest digest;
    uint64_t size = 0;
    uint8_t queue = 0;  // policy-specific (S3-FIFO: 0 small, 1 main, 2 ghost)
    uint8_t freq = 0;
  };
  virtual std::vector<Entry> Dump() const = 0;
  virtual void Load(const std::vector<Entry>& entries) = 0;
};

// Replays accesses against a policy with a fixed byte capacity, the way
// ChunkCache drives it (a miss admits, evicting until the chunk fits):
// for tests and the replay benchmark.
class PolicySimulator {
 public:
  PolicySimulator(CachePolicy* policy, uint64_t capacity) : policy_(policy), capacity_(capacity) {
    policy_->SetCapacity(capacity);
  }
  // Returns true on a hit.
  bool Access(const Digest& digest, uint64_t size);
  void OnEvict(std::function<void(const Digest&)> fn) { on_evict_ = std::move(fn); }
  uint64_t hits() const { return hits_; }
  uint64_t misses() const { return misses_; }

 private:
  CachePolicy* policy_;
  uint64_t capacity_;
  uint64_t hits_ = 0, misses_ = 0;
  std::function<void(const Digest&)> on_evict_;
};

// "s3fifo" or "lru"; kInvalidArgument otherwise.
Result<std::unique_ptr<CachePolicy>> NewCachePolicy(const std::string& name, uint64_t capacity);

}  // namespace chunkvault
