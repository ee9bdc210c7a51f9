// Reading a file's data into an archive stream, for the tar and pxar
// writers: exactly the size their header promised, read in place into
// the stream's own memory.
//
// Thread-safety: a plain function; the callbacks run on the caller's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "chunkvault/status.h"

namespace chunkvault {

// Reads `size` bytes of the open file `fd` (`path` names it in
// warnings) into the room `space` gives, at most 256 KiB at a time,
// handing each piece read to `commit`. A file that shrank meanwhile, or
// fails to read, is padded with zeros, told to `warn`; one that grew is
// cut at `size`.
Status CopyFileData(int fd, const std::string& path, uint64_t size,
                    const std::function<std::span<uint8_t>()>& space,
                    const std::function<Status(std::span<uint8_t>)>& commit,
                    const std::function<void(const std::string&)>& warn);

}  // namespace chunkvault
