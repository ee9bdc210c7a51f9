#include "datastore/chunk_access.h"

#include "chunkvault/blob.h"

namespace chunkvault {
namespace {

class LocalChunkAccess final : public ChunkAccess {
 public:
  explicit LocalChunkAccess(ChunkStore* store) : store_(store) {}

  Result<bool> TouchIfPresent(const Digest& digest) override {
    CV_ASSIGN_OR_RETURN(auto size, store_->StoredSize(digest));
    // An empty file is a cache marker, not a stored chunk.
    if (!size || *size == 0) return false;
    CV_RETURN_IF_ERROR(store_->Touch(digest));
    return true;
  }

  Result<InsertResult> Insert(const Digest& digest, ByteView blob) override {
    return store_->Insert(digest, blob);
  }

  Result<Bytes> ReadRaw(const Digest& digest) override {
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

}  // namespace

std::unique_ptr<ChunkAccess> NewLocalChunkAccess(ChunkStore* store) {
  return std::make_unique<LocalChunkAccess>(store);
}

Result<Bytes> ReadChunkData(ChunkAccess& access, const Digest& digest) {
  const std::string what = "chunk " + ToHex(digest) + " (" + access.Describe(digest) + ")";
  auto raw = access.ReadRaw(digest);
  if (!raw) return std::unexpected(std::move(raw).error().Context(what));
  return WithContext(DecodeChunk(*raw, digest), what);
}

}  // namespace chunkvault
