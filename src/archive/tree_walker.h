// TreeWalker: walks a directory tree ahead of the tar writer, so that the
// metadata and data reads of upcoming files overlap with chunking instead
// of waiting behind it.
//
// Entries come out in byte-sorted pre-order (a directory, then its
// children), the order the tar stream uses. Two kinds of threads make
// them: one lister reads the directories (names and d_type, enough to
// know where to descend) and queues a slot per entry in that order; a few
// describers fill the slots in parallel: open what was listed as a
// regular file and fstat the descriptor (lstat anything else), request
// read-ahead (POSIX_FADV_WILLNEED on a file's first kReadAhead bytes),
// and whatever the `prepare` hook adds (the tar writer reads the
// rest of the metadata there, through the walker's descriptors:
// EntryAccess). In trees of small files the per-file
// system calls, not the data, set the pace: describing on several threads
// keeps them beside the writer instead of before it when the metadata is
// cached, and keeps several inode reads in flight when it is not.
//
// The queue is bounded by entries and by bytes of file data asked for, so
// the walk stays a bounded distance ahead. The lister queues entries in
// batches and the reader takes the ready entries at the front in
// batches: one lock per batch, not per entry. Descriptors held: one per
// regular file queued or taken (at most kMaxEntries + kPushBatch +
// kTakeBatch), one per directory that an entry not yet described lies in
// or is (at most kMaxEntries + 2 x kPushBatch), and one per directory
// level being listed: kMaxDescriptors and the depth, well under the
// usual limit of 1024.
//
// A directory's own entry is described through the descriptor its listing
// uses, so an entry and the children listed under it are the same
// directory even if the path is replaced meanwhile.
//
// Thread-safety: one consumer thread calls Next(); `prepare` runs on the
// describer threads, each with its own index in [0, kDescribers), one
// entry at a time per index.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <any>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

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
  // Regular files only. May be O_NONBLOCK (the walker opens a name listed
  // as a regular file so, in case it has become a FIFO meanwhile), which
  // regular files on local file systems ignore; a reader that gets EAGAIN
  // clears it.
  UniqueFd fd;
  std::string warning;  // non-empty: not readable; skip it with this message
  // Set by the tar writer's prepare hook: the libarchive entry, and a
  // problem to report about an entry that is stored all the same.
  std::unique_ptr<struct archive_entry, ArchiveEntryFree> meta;
  std::string note;
  // Whatever else the prepare hook made of the entry (the pxar writer's
  // metadata).
  std::any extra;
};

// How the describer calling the prepare hook can reach the entry: valid
// during the call only. Relative to descriptors, so that an entry is the
// one listed even if a path to it is replaced meanwhile, and reachable
// when its path is longer than PATH_MAX.
struct EntryAccess {
  int fd = -1;            // its own: a regular file's (WalkEntry::fd) or a directory's
  int dir_fd = AT_FDCWD;  // the directory it was listed in; AT_FDCWD: the root
  const char* name = "";  // its name there (the root: its path)
};

class TreeWalker {
 public:
  static constexpr size_t kMaxEntries = 256;
  static constexpr uint64_t kMaxBytes = 64u << 20;
  static constexpr uint64_t kReadAhead = 8u << 20;
  // Measured on two cores, the benchmark dataset (76k files) with the page
  // cache dropped: 7.1 s with the one walker thread of before, 6.2 s with
  // three describers, no better with six; no change with everything cached.
  static constexpr unsigned kDescribers = 3;
  // The lister queues slots this many at a time, one lock for them all
  // (the lock is the walk's one meeting point: per entry, its contention
  // cost futex calls and wake-ups on every thread).
  static constexpr size_t kPushBatch = 8;
  // The reader takes at most this many ready slots at a time: each holds
  // an open file.
  static constexpr size_t kTakeBatch = 32;
  // Descriptors open at once, besides one per directory level being
  // listed (see above).
  static constexpr size_t kMaxDescriptors = 2 * kMaxEntries + 3 * kPushBatch + kTakeBatch;

  // Called for each readable entry (no warning) before it is handed out,
  // with the index of the describer thread calling it.
  using Prepare = std::function<void(WalkEntry&, const EntryAccess&, unsigned describer)>;

  // Whether the contents of a directory below the root, open as `fd`,
  // are walked (its own entry is handed out either way). Called by the
  // lister thread.
  using Descend = std::function<bool(int fd, const struct stat& st)>;

  // What the walk leaves out (exclude_rules.h), asked by the lister
  // thread: entering a directory (before its names are read; a non-empty
  // return is handed out as a warning), leaving it, and about each name
  // (`rel` as WalkEntry::rel) before anything else is done with it.
  class Filter {
   public:
    virtual ~Filter() = default;
    virtual std::string EnterDirectory(int fd, const std::string& rel) = 0;
    virtual void LeaveDirectory(const std::string& rel) = 0;
    virtual bool Skip(const std::string& rel, bool is_dir) = 0;
  };

  // `root` must have been checked to be a directory; `filter` (may be
  // null) must outlive the walker. Without `read_ahead`, no file's data
  // is asked for ahead (most of them will not be read: metadata change
  // detection).
  explicit TreeWalker(std::string root, Prepare prepare = nullptr, Descend descend = nullptr,
                      Filter* filter = nullptr, bool read_ahead = true);
  ~TreeWalker();  // stops the walk
  TreeWalker(const TreeWalker&) = delete;
  TreeWalker& operator=(const TreeWalker&) = delete;

  // The next entry, or nullopt when the walk is complete.
  std::optional<WalkEntry> Next() CV_EXCLUDES(mu_);

 private:
  using SharedFd = std::shared_ptr<const UniqueFd>;
  // An entry from the moment the lister finds it until Next() hands it out.
  struct Slot {
    SharedFd parent;  // the directory holding `name`; null: the root, by path
    SharedFd self;    // a directory's own descriptor, if the lister opened it
    std::string name;
    bool listed_regular = false;  // its directory listing said so (d_type)
    WalkEntry entry;  // path and rel from the lister, the rest from a describer
    uint64_t bytes = 0;  // read-ahead asked for, counted in queued_bytes_
    bool ready = false;  // described (or a warning from the start)
  };

  void List();
  void DescribeLoop(unsigned index);
  void Describe(Slot& slot, unsigned index) CV_EXCLUDES(mu_);
  // Moves the ready slots at the queue's front (up to kTakeBatch) to
  // handed_, waiting for one if there is none; false when the walk is
  // complete.
  bool TakeReady() CV_EXCLUDES(mu_);
  // Queues the slots of `batch` (and empties it); false if the walk was
  // stopped.
  bool Push(std::vector<std::unique_ptr<Slot>>& batch) CV_EXCLUDES(mu_);
  // Wakes an idle describer if a slot waits for one: before the lister
  // may block (reading a directory, a full queue) or ends.
  void WakeDescriber() CV_EXCLUDES(mu_);
  // Skips the slots that came ready (warnings); true if one is left to take.
  bool Untaken() CV_REQUIRES(mu_);
  // Room for the lister again: at most half the entries queued.
  bool LowWater() const CV_REQUIRES(mu_) { return queue_.size() <= kMaxEntries / 2; }
  // Describers are woken once this many slots wait (or sooner, see
  // WakeDescriber), not per slot.
  static constexpr size_t kWakeBatch = 8;

  const std::string root_;
  const Prepare prepare_;
  const Descend descend_;
  Filter* const filter_;
  const bool read_ahead_;

  // Lock order: mu_ alone; no system call or hook runs under it.
  std::mutex mu_;
  // Each side sleeps on its own variable and is woken only when it can go
  // on (the lister at low water, the reader when the front entry is
  // ready, a describer when there is a slot to take or read-ahead room):
  // waking per entry cost two futex calls and a context switch for each
  // of 76k files.
  std::condition_variable reader_cv_, lister_cv_, describer_cv_, budget_cv_;
  bool reader_waiting_ CV_GUARDED_BY(mu_) = false;
  bool lister_waiting_ CV_GUARDED_BY(mu_) = false;
  unsigned idle_describers_ CV_GUARDED_BY(mu_) = 0;    // waiting for a slot
  unsigned budget_describers_ CV_GUARDED_BY(mu_) = 0;  // waiting for read-ahead room
  std::deque<std::unique_ptr<Slot>> queue_ CV_GUARDED_BY(mu_);
  size_t taken_ CV_GUARDED_BY(mu_) = 0;  // queue_'s first slots, taken by describers
  uint64_t queued_bytes_ CV_GUARDED_BY(mu_) = 0;
  bool listed_ CV_GUARDED_BY(mu_) = false;  // the lister has queued everything
  bool stop_ CV_GUARDED_BY(mu_) = false;
  // Ready slots Next() took from the queue in one go; only Next() uses it.
  std::deque<std::unique_ptr<Slot>> handed_;
  // Last: started once everything above exists.
  std::vector<std::thread> describers_;
  std::thread lister_;
};

}  // namespace chunkvault
