// A snapshot's files and chunks as stored, for a program that hands them
// on whole — chunkvaultd's reader protocol, whose client decodes and checks
// them itself. Datastore::OpenSnapshotReader makes one; it holds the
// snapshot's shared lock (forget and prune wait) until destroyed.
//
// Thread-safety: every method may be called from many threads at once.
#pragma once

#include <string>

#include "chunkvault/backup_ref.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault {

class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;

  virtual const SnapshotRef& snapshot() const = 0;
  // The group's owner (an auth-id), "" if it has none recorded.
  virtual const std::string& owner() const = 0;

  // A file of the snapshot as stored (index, blob, the manifest); at most
  // the size its format allows. kNotFound if missing, kInvalidArgument for
  // a name that is not a plain file name.
  virtual Result<Bytes> ReadFile(const std::string& file_name) = 0;
  // A chunk's blob as stored (from the cache, fetched into it from the
  // bucket on a miss). kNotFound if missing.
  virtual Result<Bytes> ReadChunk(const Digest& digest) = 0;
};

}  // namespace chunkvault
