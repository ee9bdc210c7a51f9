#include "datastore/chunk_access.h"

#include <algorithm>

#include "chunkvault/blob.h"
#include "chunkvault/chunk_path.h"

namespace chunkvault {

Result<Bytes> ChunkAccess::Read(const Digest& digest, ReadFrom from, const CryptKey* key) {
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadRaw(digest, from));
  return DecodeChunk(raw, digest, key);
}

std::string ChunkKey(const std::string& key_prefix, const Digest& digest) {
  return key_prefix + ChunkRelPath(digest);
}

namespace {

// A chunk with a non-empty local file is stored: touch it (the GC mark) and
// say so. An empty file is a cache marker, not a stored chunk.
Result<bool> TouchIfStoredLocally(ChunkStore& store, const Digest& digest) {
  CV_ASSIGN_OR_RETURN(auto size, store.StoredSize(digest));
  if (!size || *size == 0) return false;
  CV_RETURN_IF_ERROR(store.Touch(digest));
  return true;
}

class LocalChunkAccess final : public ChunkAccess {
 public:
  explicit LocalChunkAccess(ChunkStore* store) : store_(store) {}

  Result<bool> TouchIfPresent(const Digest& digest) override {
    CV_ASSIGN_OR_RETURN(auto lock, store_->LockDir(digest, /*exclusive=*/false));
    return TouchIfStoredLocally(*store_, digest);
  }

  Result<InsertResult> Insert(const Digest& digest, ByteView blob) override {
    CV_ASSIGN_OR_RETURN(auto lock, store_->LockDir(digest, /*exclusive=*/false));
    return store_->Insert(digest, blob);
  }

  Result<Bytes> ReadRaw(const Digest& digest, ReadFrom) override {
    auto raw = store_->ReadRaw(digest);
    if (!raw && raw.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "missing");
    return raw;
  }

  Result<std::string> MarkBad(const Digest& digest) override { return store_->MarkBad(digest); }

  std::string Describe(const Digest& digest) const override { return store_->ChunkPath(digest); }

 private:
  ChunkStore* const store_;
};

class CachedChunkAccess final : public ChunkAccess {
 public:
  CachedChunkAccess(Backend* backend, std::string prefix, ChunkStore* local,
                    std::function<Result<ChunkCache*>()> cache, bool admit)
      : backend_(backend),
        prefix_(std::move(prefix)),
        local_(local),
        cache_(std::move(cache)),
        admit_(admit) {}

  // Both hold the chunk's directory lock (ChunkStore::LockDir) from the
  // check to the touch, or from the upload to the file or marker: garbage
  // collection cannot remove the chunk in between.
  Result<bool> TouchIfPresent(const Digest& digest) override {
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_ASSIGN_OR_RETURN(auto lock, local_->LockDir(digest, /*exclusive=*/false));
    return cache->TouchIfKnown(digest);
  }

  Result<bool> MarkUsedIfStored(const Digest& digest) override {
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_ASSIGN_OR_RETURN(auto lock, local_->LockDir(digest, /*exclusive=*/false));
    CV_ASSIGN_OR_RETURN(bool known, cache->TouchIfKnown(digest));
    if (known) return true;
    CV_ASSIGN_OR_RETURN(auto object, backend_->Head(ChunkKey(prefix_, digest)));
    if (!object) return false;
    CV_RETURN_IF_ERROR(cache->Mark(digest));  // a new marker: marked used now
    return true;
  }

  Result<InsertResult> Insert(const Digest& digest, ByteView blob) override {
    CV_ASSIGN_OR_RETURN(auto lock, local_->LockDir(digest, /*exclusive=*/false));
    auto created = backend_->Put(ChunkKey(prefix_, digest), blob, PutMode::kIfAbsent);
    if (!created) return std::unexpected(std::move(created).error().Context("upload chunk " + ToHex(digest)));
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_RETURN_IF_ERROR(Keep(*cache, digest, blob));
    return InsertResult{!*created, blob.size()};
  }

  Result<Bytes> ReadRaw(const Digest& digest, ReadFrom from) override {
    if (from == ReadFrom::kAny) {
      CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
      CV_ASSIGN_OR_RETURN(auto cached, cache->Lookup(digest, /*promote=*/false));
      if (cached) return std::move(*cached);
    }
    return Get(digest);
  }

  Result<Bytes> Read(const Digest& digest, ReadFrom from, const CryptKey* key) override {
    if (from == ReadFrom::kBackend) {
      CV_ASSIGN_OR_RETURN(Bytes raw, Get(digest));
      return DecodeChunk(raw, digest, key);
    }
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_ASSIGN_OR_RETURN(auto cached, cache->Lookup(digest, /*promote=*/admit_));
    if (cached) {
      auto data = DecodeChunk(*cached, digest, key);
      if (data) return data;
      // A damaged cached copy: move it aside and fetch the bucket's.
      (void)cache->Erase(digest);
      (void)local_->MarkBad(digest);
    }
    return cache->FetchOnce(digest, [&]() -> Result<Bytes> {
      CV_ASSIGN_OR_RETURN(Bytes raw, Get(digest));
      // Checked before anything keeps it: a corrupt object is never cached.
      CV_ASSIGN_OR_RETURN(Bytes data,
                          WithContext(DecodeChunk(raw, digest, key), ChunkKey(prefix_, digest)));
      CV_RETURN_IF_ERROR(Keep(*cache, digest, raw));
      return data;
    });
  }

  Result<Bytes> ReadToServe(const Digest& digest) override {
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_ASSIGN_OR_RETURN(auto cached, cache->Lookup(digest, /*promote=*/admit_));
    if (cached) return std::move(*cached);
    CV_ASSIGN_OR_RETURN(Bytes raw, Get(digest));
    auto checked = CheckStoredChunk(raw, digest);
    if (!checked)
      return std::unexpected(std::move(checked).error().Context(ChunkKey(prefix_, digest)));
    CV_RETURN_IF_ERROR(Keep(*cache, digest, raw));
    return raw;
  }

  Result<std::string> MarkBad(const Digest& digest) override {
    const std::string key = ChunkKey(prefix_, digest);
    std::string bad;
    int n = 0;
    for (; n < 10; ++n) {
      bad = key + BadSuffix(n);
      CV_ASSIGN_OR_RETURN(auto existing, backend_->Head(bad));
      if (!existing) break;
    }
    n = std::min(n, 9);  // all ten taken: the last is replaced
    CV_RETURN_IF_ERROR(backend_->Copy(key, bad));
    CV_RETURN_IF_ERROR(backend_->Delete(key));
    // The local copy or marker is suspect too: out of the cache and out of
    // the way (a marker left would tell the next backup the chunk is in the
    // bucket), under the object's name, so that garbage collection reads
    // the object's age off it.
    CV_ASSIGN_OR_RETURN(ChunkCache * cache, cache_());
    CV_RETURN_IF_ERROR(cache->Erase(digest));
    auto size = local_->StoredSize(digest);
    if (size && *size) (void)local_->MarkBad(digest, n);
    return bad + " in " + backend_->Describe();
  }

  std::string Describe(const Digest& digest) const override {
    return ChunkKey(prefix_, digest) + " in " + backend_->Describe();
  }

 private:
  // A chunk now known to be in the bucket: cached, or (without admission)
  // only marked.
  Status Keep(ChunkCache& cache, const Digest& digest, ByteView blob) {
    if (!admit_) return cache.Mark(digest);
    // Not admitted (no room, disk full): marked, and served uncached.
    CV_RETURN_IF_ERROR(cache.Admit(digest, blob));
    return {};
  }

  Result<Bytes> Get(const Digest& digest) {
    auto raw = backend_->Get(ChunkKey(prefix_, digest));
    if (!raw && raw.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "missing from " + backend_->Describe());
    return raw;
  }

  Backend* const backend_;
  const std::string prefix_;
  ChunkStore* const local_;
  const std::function<Result<ChunkCache*>()> cache_;
  const bool admit_;
};

}  // namespace

std::unique_ptr<ChunkAccess> NewLocalChunkAccess(ChunkStore* store) {
  return std::make_unique<LocalChunkAccess>(store);
}

std::unique_ptr<ChunkAccess> NewCachedChunkAccess(Backend* backend, std::string key_prefix,
                                                  ChunkStore* local,
                                                  std::function<Result<ChunkCache*>()> cache,
                                                  bool admit) {
  return std::make_unique<CachedChunkAccess>(backend, std::move(key_prefix), local,
                                             std::move(cache), admit);
}

Result<Bytes> ReadChunkData(ChunkAccess& access, const Digest& digest, ReadFrom from,
                            const CryptKey* key) {
  return WithContext(access.Read(digest, from, key),
                     "chunk " + ToHex(digest) + " (" + access.Describe(digest) + ")");
}

}  // namespace chunkvault
