#include "datastore/chunk_access.h"

#include "chunkvault/blob.h"

namespace chunkvault {

Result<Bytes> ChunkAccess::Read(const Digest& digest, ReadFrom from) {
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadRaw(digest, from));
  return DecodeChunk(raw, digest);
}

std::string ChunkKey(const std::string& key_prefix, const Digest& digest) {
  const std::string hex = ToHex(digest);
  return key_prefix + ".chunks/" + hex.substr(0, 4) + "/" + hex;
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
    return TouchIfStoredLocally(*store_, digest);
  }

  Result<InsertResult> Insert(const Digest& digest, ByteView blob) override {
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

class RemoteChunkAccess final : public ChunkAccess {
 public:
  RemoteChunkAccess(ChunkStore* local, Backend* backend, std::string prefix)
      : local_(local), backend_(backend), prefix_(std::move(prefix)) {}

  Result<bool> TouchIfPresent(const Digest& digest) override {
    // A local copy exists only after the upload succeeded.
    return TouchIfStoredLocally(*local_, digest);
  }

  Result<InsertResult> Insert(const Digest& digest, ByteView blob) override {
    auto created = backend_->Put(ChunkKey(prefix_, digest), blob, PutMode::kIfAbsent);
    if (!created) return std::unexpected(std::move(created).error().Context("upload chunk " + ToHex(digest)));
    CV_ASSIGN_OR_RETURN(InsertResult local, local_->Insert(digest, blob));
    return InsertResult{!*created, local.stored_size};
  }

  Result<Bytes> ReadRaw(const Digest& digest, ReadFrom from) override {
    if (from == ReadFrom::kAny) {
      auto size = local_->StoredSize(digest);
      if (size && *size && **size > 0) return local_->ReadRaw(digest);
    }
    auto raw = backend_->Get(ChunkKey(prefix_, digest));
    if (!raw && raw.error().code() == ErrorCode::kNotFound)
      return Fail(ErrorCode::kNotFound, "missing from " + backend_->Describe());
    return raw;
  }

  Result<Bytes> Read(const Digest& digest, ReadFrom from) override {
    if (from == ReadFrom::kAny) {
      auto size = local_->StoredSize(digest);
      if (size && *size && **size > 0) {
        auto raw = local_->ReadRaw(digest);
        if (raw) {
          auto data = DecodeChunk(*raw, digest);
          if (data) return data;
        }
        // A damaged local copy: the bucket's is the one that counts.
      }
    }
    CV_ASSIGN_OR_RETURN(Bytes raw, ReadRaw(digest, ReadFrom::kBackend));
    CV_ASSIGN_OR_RETURN(Bytes data, DecodeChunk(raw, digest));
    // Keep it: every chunk is kept locally too (the cache comes next).
    (void)local_->Insert(digest, raw);
    return data;
  }

  Result<std::string> MarkBad(const Digest& digest) override {
    const std::string key = ChunkKey(prefix_, digest);
    std::string bad;
    for (int n = 0; n < 10; ++n) {
      bad = key + "." + std::to_string(n) + ".bad";
      CV_ASSIGN_OR_RETURN(auto existing, backend_->Head(bad));
      if (!existing) break;
    }
    CV_RETURN_IF_ERROR(backend_->Copy(key, bad));
    CV_RETURN_IF_ERROR(backend_->Delete(key));
    // The local copy is suspect too: move it aside so it is not served.
    auto size = local_->StoredSize(digest);
    if (size && *size) (void)local_->MarkBad(digest);
    return bad + " in " + backend_->Describe();
  }

  std::string Describe(const Digest& digest) const override {
    return ChunkKey(prefix_, digest) + " in " + backend_->Describe();
  }

 private:
  ChunkStore* const local_;
  Backend* const backend_;
  const std::string prefix_;
};

}  // namespace

std::unique_ptr<ChunkAccess> NewLocalChunkAccess(ChunkStore* store) {
  return std::make_unique<LocalChunkAccess>(store);
}

std::unique_ptr<ChunkAccess> NewRemoteChunkAccess(ChunkStore* local, Backend* backend,
                                                  std::string key_prefix) {
  return std::make_unique<RemoteChunkAccess>(local, backend, std::move(key_prefix));
}

Result<Bytes> ReadChunkData(ChunkAccess& access, const Digest& digest, ReadFrom from) {
  return WithContext(access.Read(digest, from),
                     "chunk " + ToHex(digest) + " (" + access.Describe(digest) + ")");
}

}  // namespace chunkvault
