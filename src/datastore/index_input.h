// An archive read at random through its index (pxar::ChunkedInput): the
// chunk holding an offset is read through the chunk door when first read,
// checked (CRC, digest, decrypted with the key if given; its size by
// ChunkedInput) and kept among the few most recently read.
//
// Thread-safety: one thread.
#pragma once

#include <string>
#include <vector>

#include "archive/pxar/input.h"
#include "chunkvault/index.h"
#include "datastore/chunk_access.h"

namespace chunkvault {

class IndexInput final : public pxar::ChunkedInput {
 public:
  // `access` and `key` must outlive the input; `context` prefixes errors.
  // The list is taken (and dropped once its columns are made): an
  // archive's may be large.
  IndexInput(ChunkAccess* access, std::vector<ChunkRef> chunks, const CryptKey* key,
             std::string context);
};

}  // namespace chunkvault
