// POSIX pax tar streams of directory trees, written and extracted with
// libarchive.
//
// The writer walks the tree itself, in byte-sorted order, so an unchanged
// tree yields a byte-identical stream (and so deduplicates completely). Each
// entry's metadata comes from libarchive's disk reader: mode, owner (ids and
// names), mtime with nanoseconds, symlink target, xattrs, ACLs, file flags.
// atime and ctime are left out of the headers: they change on every run and
// would defeat deduplication. Hard links are stored once, as tar does.
// Entries are named "." and "./<relative path>".
//
// Thread-safety: each call is independent; sinks and sources are called on
// the calling thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "archive/stream_sink.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "chunkvault/tar_observer.h"

namespace chunkvault {

// Writes the tree under `root` (a directory) as a tar stream into `sink`.
// An error from the sink, or an unreadable root, stops the work and is
// returned; unreadable entries below the root are warnings.
Result<TarStats> WriteTar(const std::string& root, StreamSink& sink, TarObserver* observer);

// The same into a function that takes each piece of the stream in turn.
Result<TarStats> WriteTar(const std::string& root, const std::function<Status(ByteView)>& sink,
                          TarObserver* observer);

struct ExtractOptions {
  // Restore into a non-empty target, replacing files of the same name.
  // Without it a non-empty target is refused before anything is written.
  bool overwrite = false;
  // Restore owners (as root) instead of leaving files to the current user.
  bool restore_owner = false;
  // Threads writing regular files.
  size_t jobs = 1;
  // Whether a symlink at the target itself is followed (see
  // RestoreOptions::follow_target_symlink); below it none ever is.
  bool follow_target_symlink = true;
};

// Where an extracted tar stream comes from.
class TarSource {
 public:
  virtual ~TarSource() = default;
  // The next piece of the stream, or an empty view at its end; valid
  // until the next call. Errors stop the extraction and are returned
  // unchanged.
  virtual Result<ByteView> Next() = 0;
  // What keeps the piece last returned alive after that, if the source
  // can say: file data in it then goes to the writer threads without a
  // copy.
  virtual std::shared_ptr<const void> Keep() { return nullptr; }
};

// Extracts a tar stream into `target` (created if missing; an existing one
// must be an empty directory unless overwriting). Nothing is created,
// changed or linked outside `target`: entries with absolute paths or ".."
// are refused, no symlink below `target` is ever followed (a path through
// one fails), and hard links may point only at entries this restore made.
Result<TarStats> ExtractTar(TarSource& source, const std::string& target,
                            const ExtractOptions& options, TarObserver* observer);

// The same from a function that returns each piece in turn.
Result<TarStats> ExtractTar(const std::function<Result<ByteView>()>& next,
                            const std::string& target, const ExtractOptions& options,
                            TarObserver* observer);

}  // namespace chunkvault
