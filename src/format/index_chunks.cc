#include <string>

#include "chunkvault/index.h"

namespace chunkvault {

Result<std::vector<ChunkRef>> IndexChunks(std::string_view file_name, ByteView raw) {
  if (file_name.ends_with(".didx")) {
    CV_ASSIGN_OR_RETURN(DynamicIndex index, DynamicIndex::Parse(raw));
    return index.Chunks();
  }
  if (file_name.ends_with(".fidx")) {
    CV_ASSIGN_OR_RETURN(FixedIndex index, FixedIndex::Parse(raw));
    return index.Chunks();
  }
  return Fail(ErrorCode::kInvalidArgument,
              std::string(file_name) + " is not an index file (.didx or .fidx)");
}

std::vector<uint64_t> ChunkEnds(const std::vector<ChunkRef>& chunks) {
  std::vector<uint64_t> ends;
  ends.reserve(chunks.size());
  for (const ChunkRef& c : chunks) ends.push_back(c.offset + c.size);
  return ends;
}

std::vector<Digest> ChunkDigests(const std::vector<ChunkRef>& chunks) {
  std::vector<Digest> digests;
  digests.reserve(chunks.size());
  for (const ChunkRef& c : chunks) digests.push_back(c.digest);
  return digests;
}

}  // namespace chunkvault
