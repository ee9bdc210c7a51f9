// Hand-made tar streams for tests: any names, types and links, including
// the hostile ones a real tree cannot produce.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "archive/tar.h"
#include "chunkvault/bytes.h"

namespace chunkvault::testing {

// One entry of a hand-made pax tar stream.
struct Entry {
  std::string name;
  mode_t type;           // AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFIFO...
  std::string data;      // file contents
  std::string link;      // symlink target (AE_IFLNK)
  std::string hardlink;  // earlier entry this one links to
  mode_t perm = 0;       // 0: 0755 for directories, 0644 otherwise
};
Entry File(std::string name, std::string data);
Entry Dir(std::string name);
Entry Symlink(std::string name, std::string to);
Entry Hardlink(std::string name, std::string to);

// The entries as a pax tar stream, in order.
Bytes TarOfEntries(const std::vector<Entry>& entries);

// Feeds `data` to the extractor in pieces of `step` bytes.
Result<TarStats> ExtractBytes(const Bytes& data, const std::string& target, size_t step,
                              ExtractOptions opts = {}, TarObserver* observer = nullptr);

}  // namespace chunkvault::testing
