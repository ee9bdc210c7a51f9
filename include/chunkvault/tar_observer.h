// What a tar backup or restore reports as it goes: the entries it handles
// and the problems that do not stop it.
//
// Thread-safety: the observer is called on the thread that runs the backup
// or restore.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace chunkvault {

// What metadata change detection made of a pxar backup's files (all 0 in
// other modes). Files: those with the previous archive's data reused,
// those read although the previous archive had them (changed, or their
// reuse would have carried too much padding), those it had not.
struct ReuseStats {
  uint64_t files_reused = 0, files_reencoded = 0, files_new = 0;
  uint64_t bytes_read = 0;    // file data read from the tree
  uint64_t bytes_reused = 0;  // file data referenced in reused chunks
  uint64_t chunks_reused = 0;
  uint64_t padding = 0;  // bytes of reused chunks that no file of this snapshot references

  // The logical size of the payload stream this reuse wrote, `stream_size`
  // bytes in its index: the stream less the padding it carries, what
  // reading every file would have written. Nullopt without padding (it
  // is `stream_size`).
  std::optional<uint64_t> LogicalSize(uint64_t stream_size) const {
    if (padding == 0 || padding > stream_size) return std::nullopt;
    return stream_size - padding;
  }
};

struct TarStats {
  uint64_t files = 0;  // regular files, hard links included
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t hardlinks = 0;  // entries stored as links to an earlier one
  uint64_t others = 0;     // fifos, device nodes
  uint64_t bytes = 0;      // file data bytes
  uint64_t warnings = 0;   // entries skipped or stored imperfectly
  ReuseStats reuse;
};

// Receives progress and problems that do not stop the work (a file that
// vanished, a socket that tar cannot hold).
class TarObserver {
 public:
  virtual ~TarObserver() = default;
  virtual void OnEntry(const std::string& path, uint64_t size) { (void)path, (void)size; }
  virtual void OnWarning(const std::string& message) { (void)message; }
};

}  // namespace chunkvault
