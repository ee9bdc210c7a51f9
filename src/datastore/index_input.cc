#include "datastore/index_input.h"

namespace chunkvault {
namespace {

std::vector<uint64_t> EndsOf(const std::vector<ChunkRef>& chunks) {
  std::vector<uint64_t> ends;
  ends.reserve(chunks.size());
  for (const ChunkRef& c : chunks) ends.push_back(c.offset + c.size);
  return ends;
}

std::vector<Digest> DigestsOf(const std::vector<ChunkRef>& chunks) {
  std::vector<Digest> digests;
  digests.reserve(chunks.size());
  for (const ChunkRef& c : chunks) digests.push_back(c.digest);
  return digests;
}

}  // namespace

IndexInput::IndexInput(ChunkAccess* access, std::vector<ChunkRef> chunks, const CryptKey* key,
                       std::string context)
    : ChunkedInput(
          EndsOf(chunks),
          [access, key, digests = DigestsOf(chunks)](size_t i, uint64_t size) -> Result<Bytes> {
            CV_ASSIGN_OR_RETURN(Bytes data, access->Read(digests[i], ReadFrom::kAny, key));
            if (data.size() != size)
              return Fail(ErrorCode::kCorrupt, "chunk " + ToHex(digests[i]) + " holds " +
                                                   std::to_string(data.size()) +
                                                   " bytes, the index says " +
                                                   std::to_string(size));
            return data;
          },
          std::move(context)) {}

}  // namespace chunkvault
