// TreeWalker: walks a directory tree on its own thread, ahead of the tar
// writer, so that the metadata and data reads of upcoming files overlap
// with chunking instead of waiting behind it.
//
// Entries come out in byte-sorted pre-order (a directory, then its
// children), the order the tar stream uses. Regular files arrive already
// open with read-ahead requested (POSIX_FADV_WILLNEED on their first
// kReadAhead bytes), and with whatever the `prepare` hook added on the
// walker's thread (the tar writer reads the rest of the metadata there:
// in trees of small files the per-file system calls, not the data, set
// the pace, and this puts them beside the writer instead of before it).
// The queue is bounded by entries and by bytes of file data asked for, so
// the walker stays a bounded distance ahead. Descriptors held: one per
// queued regular file (at most kMaxEntries) and one per directory level
// being walked.
//
// Thread-safety: one consumer thread calls Next(); `prepare` runs on the
// walker's thread only.
#pragma once

#include <sys/stat.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "util/fd.h"
#include "util/thread_annotations.h"

struct archive_entry;  // libarchive's

namespace chunkvault {

struct ArchiveEntryFree {
  void operator()(struct archive_entry* e) const;  // archive_entry_free
};

struct WalkEntry {
  std::string path;  // as given to the walker: root + "/" + relative path
  std::string rel;   // "." or "./a/b"
  struct stat st {};
  UniqueFd fd;          // regular files only
  std::string warning;  // non-empty: not readable; skip it with this message
  // Set by the tar writer's prepare hook: the libarchive entry, and a
  // problem to report about an entry that is stored all the same.
  std::unique_ptr<struct archive_entry, ArchiveEntryFree> meta;
  std::string note;
};

class TreeWalker {
 public:
  static constexpr size_t kMaxEntries = 256;
  static constexpr uint64_t kMaxBytes = 64u << 20;
  static constexpr uint64_t kReadAhead = 8u << 20;

  // Called for each readable entry (no warning) before it is queued.
  using Prepare = std::function<void(WalkEntry&)>;

  // `root` must have been checked to be a directory.
  explicit TreeWalker(std::string root, Prepare prepare = nullptr);
  ~TreeWalker();  // stops the walk
  TreeWalker(const TreeWalker&) = delete;
  TreeWalker& operator=(const TreeWalker&) = delete;

  // The next entry, or nullopt when the walk is complete.
  std::optional<WalkEntry> Next() CV_EXCLUDES(mu_);

 private:
  void Run();
  // Queues an entry; false if the walk was stopped.
  bool Push(WalkEntry entry) CV_EXCLUDES(mu_);
  // Looks at `name` in the directory open as `dir_fd` (AT_FDCWD for the
  // root); `path` is the same file as the user names it.
  WalkEntry Describe(int dir_fd, const char* name, const std::string& path,
                     const std::string& rel);

  const std::string root_;
  const Prepare prepare_;
  // Room for the walker again: at most half the entries and bytes queued.
  bool LowWater() const CV_REQUIRES(mu_) {
    return queue_.size() <= kMaxEntries / 2 && queued_bytes_ <= kMaxBytes / 2;
  }

  std::mutex mu_;
  // Each side sleeps on its own variable and is woken only when it can go
  // on for a while (the walker at low water, the reader when an entry
  // arrives in an empty queue): waking per entry cost two futex calls and
  // a context switch for each of 76k files.
  std::condition_variable not_empty_, not_full_;
  bool reader_waiting_ CV_GUARDED_BY(mu_) = false;
  bool walker_waiting_ CV_GUARDED_BY(mu_) = false;
  std::deque<WalkEntry> queue_ CV_GUARDED_BY(mu_);
  uint64_t queued_bytes_ CV_GUARDED_BY(mu_) = 0;
  bool done_ CV_GUARDED_BY(mu_) = false;
  bool stop_ CV_GUARDED_BY(mu_) = false;
  std::thread thread_;  // last: started once everything above exists
};

}  // namespace chunkvault
