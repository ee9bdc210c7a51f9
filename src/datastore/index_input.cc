#include "datastore/index_input.h"

namespace chunkvault {

IndexInput::IndexInput(ChunkAccess* access, std::vector<ChunkRef> chunks, const CryptKey* key,
                       std::string context)
    : ChunkedInput(
          ChunkEnds(chunks), ChunkDigests(chunks),
          [access, key](const Digest& digest) { return access->Read(digest, ReadFrom::kAny, key); },
          std::move(context)) {}

}  // namespace chunkvault
