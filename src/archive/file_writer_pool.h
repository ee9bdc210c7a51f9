// FileWriterPool: the regular files of a restore, written on worker threads.
//
// A restore of a directory tree is bound by creating files, not by reading
// chunks: tens of thousands of small files cost an openat, a write, an
// fchmod, a futimens and a close each, nearly all of it kernel time. One
// thread doing that leaves the other cores idle, so the extractor hands
// every regular file (data and metadata) to this pool and goes on parsing
// the stream; directories, links and special files it makes itself.
//
// A small file goes over whole: a worker creates, writes and finishes it.
// A large one is created at once by Begin() and handed over in pieces
// (Append), which workers write in parallel at their offsets; whichever
// piece completes last after End() finishes the file (owner, xattrs, mode,
// times, close). So a large file does not hold up the stream either.
//
// Files are created beneath the target directory's descriptor without
// following any symlink (beneath.h), with O_EXCL; an existing
// non-directory or empty directory of the same name is replaced, as tar
// does. A symlink on a file's path, even one the extractor created a
// moment ago, fails that file: nothing is written outside the target.
//
// Memory: Submit() blocks while more than `max_bytes` of file data is
// queued or being written (a single larger file still goes through).
// Borrowed data also keeps the stream pieces it lies in alive: the files
// in flight cover a stretch of the stream, so that adds at most a piece
// at either end.
// Errors: the first failure, naming the file, is kept; Submit() and
// Finish() return it, and no further file is written after it.
// Thread-safety: Submit, Finish and TakeWarnings from one thread.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <memory>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "archive/node_metadata.h"
#include "chunkvault/bytes.h"
#include "chunkvault/status.h"
#include "util/fd.h"
#include "util/thread_annotations.h"
#include "util/thread_pool.h"

namespace chunkvault {

// A file's data (or a piece of it) on its way to a writer thread: extents
// at file offsets, each either borrowed from a piece of the tar stream that
// `keep` holds alive (no copy: most data is read this way) or copied into
// `own` (data libarchive assembled in its own buffer).
struct FileData {
  struct Extent {
    uint64_t offset;          // in the file
    size_t length;
    const uint8_t* borrowed;  // the bytes, or null: they are in `own` at own_pos
    size_t own_pos;
  };
  std::vector<Extent> extents;
  Bytes own;
  std::vector<std::shared_ptr<const void>> keep;

  void Add(uint64_t offset, const uint8_t* p, size_t n);  // copies
  void Borrow(uint64_t offset, const uint8_t* p, size_t n, const std::shared_ptr<const void>& owner);
  const uint8_t* DataOf(const Extent& e) const { return e.borrowed ? e.borrowed : own.data() + e.own_pos; }
  uint64_t size() const { return size_; }  // data bytes, borrowed and copied
  bool empty() const { return size_ == 0; }
  uint64_t end() const { return extents.empty() ? 0 : extents.back().offset + extents.back().length; }

 private:
  // Appends an extent, or lengthens the last one where the new bytes
  // follow it both in the file and in memory.
  void Push(uint64_t offset, size_t n, const uint8_t* borrowed, size_t own_pos);

  uint64_t size_ = 0;
};

struct RestoreFile {
  std::string name;  // relative to the target, normalized: created and named in messages
  NodeMetadata meta;
  FileData content;   // whole files only (Submit)
  uint64_t size = 0;  // the final size (a sparse file may end in a hole)
};

class FileWriterPool {
 public:
  // `target_dir`: an open descriptor of the restore target.
  FileWriterPool(int target_dir, size_t threads, uint64_t max_bytes);
  ~FileWriterPool();  // waits for queued files

  // A whole file.
  Status Submit(RestoreFile file) CV_EXCLUDES(mu_);

  // A large file in pieces: Begin, Append for each piece (any offsets,
  // each once), End. The handle is the caller's until End.
  struct LargeFile;
  Result<std::shared_ptr<LargeFile>> Begin(RestoreFile file) CV_EXCLUDES(mu_);
  Status Append(const std::shared_ptr<LargeFile>& file, FileData piece) CV_EXCLUDES(mu_);
  // `data_end`: where the last piece's data ends (the size, but for a
  // trailing hole).
  Status End(std::shared_ptr<LargeFile> file, uint64_t data_end) CV_EXCLUDES(mu_);

  // Waits until every submitted file is written; the first error.
  Status Finish() CV_EXCLUDES(mu_);
  // Problems that did not stop the restore (an xattr the filesystem
  // refuses), for the caller to report on its own thread.
  std::vector<std::string> TakeWarnings() CV_EXCLUDES(mu_);

 private:
  Status Reserve(uint64_t bytes) CV_EXCLUDES(mu_);  // waits for room in the budget
  bool Failed() CV_EXCLUDES(mu_);
  void Done(uint64_t bytes, Status result, const std::string& name) CV_EXCLUDES(mu_);
  Result<UniqueFd> Create(const std::string& name, mode_t perm);
  void AddWarning(const std::string& name, const std::string& message) CV_EXCLUDES(mu_);
  Status WriteWhole(const RestoreFile& file);
  Status Complete(int fd, const RestoreFile& file, uint64_t data_end);  // metadata, close
  void Release(const std::shared_ptr<LargeFile>& file);  // one reference fewer

  const int dir_;
  const uint64_t max_bytes_;
  const mode_t umask_;
  std::mutex mu_;
  std::condition_variable room_;  // in-flight bytes went down
  uint64_t in_flight_ CV_GUARDED_BY(mu_) = 0;
  Status error_ CV_GUARDED_BY(mu_);
  std::vector<std::string> warnings_ CV_GUARDED_BY(mu_);
  ThreadPool pool_;  // last: joined first
};

}  // namespace chunkvault
