// Reading what a snapshot holds: an archive's bytes in order, or restored
// into the filesystem; from a local store (Datastore's calls) or from any
// SnapshotReader, a server's included (the functions below).
//
// Thread-safety: an ArchiveReader is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/manifest.h"
#include "chunkvault/snapshot_reader.h"
#include "chunkvault/status.h"
#include "chunkvault/tar_observer.h"

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
  // Chunks read at once by the functions below (0: 16); a Datastore reads
  // as many as its OpenOptions::jobs.
  size_t jobs = 0;
  // The key of an encrypted or signed snapshot (Manifest::CheckKey says
  // why one is needed or does not fit).
  std::shared_ptr<const CryptKey> key;
};

struct RestoreSummary {
  std::string file_name;
  uint64_t bytes = 0;
  uint64_t files = 0;
  uint64_t warnings = 0;
};

// Through a SnapshotReader (Datastore::OpenSnapshotReader, or a server's:
// Remote::OpenSnapshot), checked as Datastore's own calls check: the
// manifest is the snapshot's, each file matches its manifest entry (size,
// checksum, digest), each chunk its CRC, digest and size. Errors name the
// snapshot, file and chunk.
Result<Manifest> ReadManifest(SnapshotReader& reader);
// `jobs` chunks are read at once, ahead of the consumer; `key` as
// RestoreOptions::key.
Result<std::unique_ptr<ArchiveReader>> OpenArchive(std::shared_ptr<SnapshotReader> reader,
                                                   const std::string& archive, size_t jobs,
                                                   std::shared_ptr<const CryptKey> key = nullptr);
// As Datastore::Restore and Datastore::RestoreSnapshot.
Result<RestoreSummary> Restore(std::shared_ptr<SnapshotReader> reader, const std::string& archive,
                               const std::string& target, const RestoreOptions& options,
                               TarObserver* observer);
Result<std::vector<RestoreSummary>> RestoreSnapshot(std::shared_ptr<SnapshotReader> reader,
                                                    const std::string& target,
                                                    const RestoreOptions& options,
                                                    TarObserver* observer);

}  // namespace chunkvault
