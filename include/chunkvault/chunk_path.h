// Where a chunk lives: ".chunks/<first 4 hex digits>/<64 hex digits>" below
// a datastore's directory and below its bucket prefix, as PBS lays it out
// (docs/format.md, "Chunks").
#pragma once

#include <string>

#include "chunkvault/bytes.h"

namespace chunkvault {

std::string ChunkRelPath(const Digest& digest);

}  // namespace chunkvault
