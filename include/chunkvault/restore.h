// Reading what a snapshot holds: an archive's bytes in order, or restored
// into the filesystem.
//
// Thread-safety: an ArchiveReader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

// A stored archive's bytes, in order (Datastore::OpenArchive).
class ArchiveReader {
 public:
  enum class Kind { kDynamic, kFixed, kBlob };
  virtual ~ArchiveReader() = default;
  virtual Kind kind() const = 0;
  virtual const std::string& file_name() const = 0;
  virtual uint64_t size() const = 0;
  // The next piece (valid until the next call); empty at the end. Every
  // chunk's CRC and digest are checked; errors name chunk and archive.
  virtual Result<ByteView> Next() = 0;
  // What keeps the piece last returned by Next() alive after the next
  // call, for readers that pass data on to other threads; null if
  // nothing does.
  virtual std::shared_ptr<const void> Keep() { return nullptr; }
  virtual uint64_t bytes_read() const = 0;
};

struct RestoreOptions {
  bool overwrite = false;  // restore into a non-empty directory / over a file
  // A symlink at the target itself is followed: the user named it (a
  // /dev/disk/by-id link, a directory link). RestoreSnapshot's targets
  // inside its directory come from the snapshot's names and are not.
  bool follow_target_symlink = true;
};

struct RestoreSummary {
  std::string file_name;
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t warnings = 0;
};

}  // namespace chunkvault
