// A directory archive (pxar) opened for reading parts of it: listing a
// directory, finding paths, restoring some of them, or the whole tree as
// a tar stream. Listing and finding read only the metadata stream (of a
// split archive, the small .mpxar), and the chunks it is read through
// are fetched as they are needed; restoring some files fetches only the
// payload chunks that hold them.
//
// Made by Datastore::OpenTreeArchive or OpenTreeArchive (any
// SnapshotReader, a server's included). Everything read is checked as a
// restore checks it (chunk CRC, digest and size; the archive's structure).
//
// Thread-safety: one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/crypt.h"
#include "chunkvault/restore.h"
#include "chunkvault/snapshot_reader.h"
#include "chunkvault/status.h"
#include "chunkvault/tar_observer.h"

namespace chunkvault {

struct TreeEntry {
  enum class Type { kDirectory, kFile, kSymlink, kHardlink, kDevice, kFifo, kSocket };
  std::string path;  // from the archive's root ("" the root), raw bytes
  Type type = Type::kFile;
  uint32_t mode = 0;  // st_mode, type bits included (a hard link: 0)
  uint32_t uid = 0, gid = 0;
  uint64_t size = 0;  // regular files
  int64_t mtime = 0;
  uint32_t mtime_nanos = 0;
  std::string link_target;  // symlinks; hard links: the target's path
  uint64_t device_major = 0, device_minor = 0;
};

// Chunks fetched so far, by stream.
struct TreeArchiveReads {
  uint64_t metadata_chunks = 0, payload_chunks = 0;
};

class TreeArchive {
 public:
  virtual ~TreeArchive() = default;

  // The entry at `path` ("" or "/" the root).
  virtual Result<TreeEntry> Stat(const std::string& path) = 0;
  // The entries of the directory at `path`, sorted by name.
  virtual Result<std::vector<TreeEntry>> List(const std::string& path) = 0;
  // Every entry (the root's children and below) whose path matches one of
  // `patterns` (path_pattern semantics: a glob, anchored if it holds a
  // '/'), in archive order; `found` returns false to stop.
  virtual Status Find(const std::vector<std::string>& patterns,
                      const std::function<bool(const TreeEntry&)>& found) = 0;
  // Restores into `target` the entries matching `includes` (a matched
  // directory with everything below it, and the directories on the way);
  // all of the tree if `includes` is empty.
  virtual Result<RestoreSummary> Restore(const std::vector<std::string>& includes,
                                         const std::string& target, const RestoreOptions& options,
                                         TarObserver* observer) = 0;
  // The whole tree as a pax tar stream, piece by piece to `out`.
  virtual Result<TarStats> WriteTar(const std::function<Status(ByteView)>& out) = 0;

  virtual TreeArchiveReads reads() const = 0;
};

// `archive`: "NAME.pxar" or a file of it; `jobs` chunks read at once in
// whole-tree reads; `key` as RestoreOptions::key.
Result<std::unique_ptr<TreeArchive>> OpenTreeArchive(std::shared_ptr<SnapshotReader> reader,
                                                     const std::string& archive, size_t jobs,
                                                     std::shared_ptr<const CryptKey> key = nullptr);

}  // namespace chunkvault
