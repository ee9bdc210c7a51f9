// PBS's catalog (catalog.pcat1.didx): the directory tree of a backup's
// legacy pxar archives, for browsing without reading them. Written only
// beside unified archives, as PBS's client writes it (docs/pxar.md,
// "Catalog").
//
// The file is the 8-byte magic, then one table per directory in the
// order directories end (children before parents), then the root's
// table, then the root table's offset as a little-endian u64. A table is
// its length and, inside, the number of entries and each entry: a type
// byte (d f l h b c p s), the name's length and bytes, and for a
// directory the distance back to its own table, for a file its size and
// mtime in seconds. Lengths and numbers are PBS's variable-length
// integers (7 bits per byte, low first; a negative i64 ends with a 0).
// The root holds one directory per archive, named like its index file.
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "archive/stream_sink.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault::pxar {

// sha256("Proxmox Backup Catalog file v1.0")[0..8].
inline constexpr uint8_t kCatalogMagic[8] = {0x91, 0xfd, 0x60, 0xf9, 0xc4, 0x67, 0x58, 0xd5};

void AppendCatalogU64(Bytes& out, uint64_t v);
void AppendCatalogI64(Bytes& out, int64_t v);

class CatalogWriter {
 public:
  explicit CatalogWriter(StreamSink& out) : out_(out) {}

  Status StartDirectory(ByteView name);
  Status EndDirectory();
  Status AddFile(ByteView name, uint64_t size, int64_t mtime);
  // 'l' symlink, 'h' hard link, 'b' 'c' devices, 'p' FIFO, 's' socket.
  Status AddOther(ByteView name, char type);
  // Writes the root's table and the trailer; call once, at the end.
  Status Finish();

 private:
  struct Entry {
    char type;
    Bytes name;
    uint64_t size = 0;   // a file's
    int64_t mtime = 0;   // a file's
    uint64_t start = 0;  // a directory's table
  };
  struct Dir {
    Bytes name;
    std::vector<Entry> entries;
  };
  // Writes `dir`'s table at the current position, which it returns.
  Result<uint64_t> WriteTable(const Dir& dir);

  StreamSink& out_;
  uint64_t pos_ = 0;
  bool started_ = false;
  std::vector<Dir> dirs_ = std::vector<Dir>(1);  // the root
};

}  // namespace chunkvault::pxar
