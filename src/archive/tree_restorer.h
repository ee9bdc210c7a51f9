// TreeRestorer: makes the nodes of an archive below a restore target —
// for the tar extractor and the pxar extractor alike, so that both are
// confined the same way.
//
// Every node is created, replaced and given its metadata through
// descriptors: its directory's, opened beneath the target's descriptor
// with no symlink on the way (beneath.h), or its own. So an archive that
// makes "m" a symlink to "/etc" after, or before, "m/f" cannot put "f"
// anywhere but below the target, whatever order the writer threads run
// in, and an overwritten target's own symlinks are not followed either: a
// path through one fails that entry. Hard links may point only at
// entries this restore created.
//
// Regular files go to FileWriterPool, written in parallel (small ones
// whole, large ones in pieces). Directories, symlinks, hard links and
// special files are made here, in archive order; a directory is created
// before any entry inside it is handed over, and directories' metadata
// (mode, owner, times, xattrs, ACLs, flags) is applied last, deepest
// first, after every file in them is written. A hard link waits until
// every file handed over is written. A repeated name replaces what the
// restore made there: the archive's last entry of a name wins, as in tar.
//
// Thread-safety: one thread; the observer is called on it.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>

#include "archive/file_writer_pool.h"
#include "archive/node_metadata.h"
#include "archive/tar.h"
#include "util/fd.h"

namespace chunkvault {

// A stored path may only name something below the target: relative, and
// no ".." component.
bool SafeRelative(std::string_view p);
// "./a//b/./c" -> "a/b/c": the form paths are remembered and looked up in.
std::string Normalize(std::string_view p);

struct RestoreNode {
  enum class Type {
    kFile,
    kDirectory,
    kSymlink,
    kHardlink,
    kFifo,
    kSocket,
    kCharDevice,
    kBlockDevice
  };
  Type type = Type::kFile;
  std::string rel;   // normalized, relative to the target ("" the target itself)
  std::string name;  // as stored: for messages and the observer
  // The owner in `meta` is what the archive says; the restorer drops a
  // chown that changes nothing.
  NodeMetadata meta;
  std::string link;  // a symlink's target; a hard link's target (normalized rel)
  dev_t rdev = 0;
  uint64_t size = 0;  // a file's final size
};

// A file's data, piece by piece, to `take(offset, bytes, n, keep)`;
// `keep` (may be null) holds the bytes alive after the call, so that they
// can be written without a copy.
using TakeData = std::function<Status(uint64_t offset, const uint8_t* p, size_t n,
                                      const std::shared_ptr<const void>* keep)>;
using FileDataFn = std::function<Status(const TakeData& take)>;

class TreeRestorer {
 public:
  explicit TreeRestorer(TarObserver* observer) : observer_(observer) {}

  // Creates `target` (0700) or checks the existing one: a directory, and
  // empty unless options.overwrite.
  Status Open(const std::string& target, const ExtractOptions& options);
  // Makes `node`; a file's data comes from `data`.
  Status Add(RestoreNode node, const FileDataFn& data);
  // Waits for the files, applies the directories' metadata.
  Result<TarStats> Finish();

  void Warn(const std::string& message);
  // Whether this restore made a non-directory at `rel` (normalized).
  bool Restored(const std::string& rel) const { return restored_.contains(rel); }
  const ExtractOptions& options() const { return options_; }
  // When the restore began: the access time of what the archive gives none.
  const struct timespec& start() const { return start_; }

 private:
  WarnFn WarnAbout(const std::string& name);
  void ReportPoolWarnings();
  bool SetgidParent(const std::string& rel) const;
  Status MakeDirectory(const std::string& rel, NodeMetadata meta);
  template <class Make>
  Status MakeLeaf(const std::string& name, const std::string& rel, bool is_symlink,
                  const NodeMetadata& meta, Make make);
  Status MakeHardLink(const std::string& rel, const std::string& from);
  Status ApplyDirectoryMetadata();
  bool ReplacedByANonDirectory(const std::string& rel);
  Status SubmitToPool(RestoreNode& node, const FileDataFn& data);

  TarObserver* const observer_;
  ExtractOptions options_;
  UniqueFd target_fd_;
  struct timespec start_ = {0, 0};
  std::unordered_set<std::string> restored_;     // non-directories made so far (hard link targets)
  std::map<std::string, NodeMetadata> dirs_;     // made so far ("" the target), metadata to apply
  std::unordered_set<std::string> setgid_dirs_;  // their files take the directory's group
  // Who new files belong to; asked once, not per file (two system calls
  // each, 147,000 of them in a restore of the benchmark dataset).
  const uid_t euid_ = ::geteuid();
  const gid_t egid_ = ::getegid();
  TarStats stats_;
  std::optional<FileWriterPool> pool_;  // last: its writers finish first
};

}  // namespace chunkvault
