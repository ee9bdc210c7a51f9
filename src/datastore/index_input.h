// An archive read at random through its index (pxar::Input): the chunk
// holding an offset is fetched when first read, checked (CRC, digest,
// size, decrypted with the key if given) and kept among the few most
// recently read, so reading on through a chunk fetches it once.
//
// Thread-safety: one thread.
#pragma once

#include <list>
#include <memory>
#include <string>
#include <vector>

#include "archive/pxar/input.h"
#include "chunkvault/index.h"
#include "datastore/chunk_access.h"

namespace chunkvault {

class IndexInput final : public pxar::Input {
 public:
  // `access` and `key` must outlive the input; `context` prefixes errors.
  IndexInput(ChunkAccess* access, std::vector<ChunkRef> chunks, const CryptKey* key,
             std::string context);

  Result<ByteView> ReadAt(uint64_t offset, size_t max) override;
  std::shared_ptr<const void> Keep() override { return last_; }

  uint64_t size() const { return size_; }
  uint64_t chunks_fetched() const { return fetched_; }

 private:
  static constexpr size_t kKept = 4;
  struct Kept {
    size_t index;
    std::shared_ptr<const Bytes> data;
  };

  ChunkAccess* const access_;
  const std::vector<ChunkRef> chunks_;
  const CryptKey* const key_;
  const std::string context_;
  uint64_t size_ = 0;
  uint64_t fetched_ = 0;
  std::list<Kept> kept_;  // most recently read first
  std::shared_ptr<const Bytes> last_;
};

}  // namespace chunkvault
