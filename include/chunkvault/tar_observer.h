// What a tar backup or restore reports as it goes: the entries it handles
// and the problems that do not stop it.
//
// Thread-safety: the observer is called on the thread that runs the backup
// or restore.
#pragma once

#include <cstdint>
#include <string>

namespace chunkvault {

struct TarStats {
  uint64_t files = 0;  // regular files, hard links included
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t hardlinks = 0;  // entries stored as links to an earlier one
  uint64_t others = 0;     // fifos, device nodes
  uint64_t bytes = 0;      // file data bytes
  uint64_t warnings = 0;   // entries skipped or stored imperfectly
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
