#include "archive/tree_walker.h"

#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

namespace chunkvault {

void ArchiveEntryFree::operator()(struct archive_entry* e) const { archive_entry_free(e); }

TreeWalker::TreeWalker(std::string root, Prepare prepare, Descend descend, Filter* filter,
                       bool read_ahead)
    : root_(std::move(root)),
      prepare_(std::move(prepare)),
      descend_(std::move(descend)),
      filter_(filter),
      read_ahead_(read_ahead) {
  for (unsigned i = 0; i < kDescribers; ++i)
    describers_.emplace_back([this, i] { DescribeLoop(i); });
  lister_ = std::thread([this] { List(); });
}

TreeWalker::~TreeWalker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  lister_cv_.notify_all();
  describer_cv_.notify_all();
  budget_cv_.notify_all();
  lister_.join();
  for (std::thread& t : describers_) t.join();
}

std::optional<WalkEntry> TreeWalker::Next() {
  if (handed_.empty() && !TakeReady()) return std::nullopt;
  std::unique_ptr<Slot> slot = std::move(handed_.front());
  handed_.pop_front();
  return std::move(slot->entry);
}

bool TreeWalker::TakeReady() {
  std::unique_lock lock(mu_);
  auto can_go = [&] {
    return queue_.empty() ? listed_ : queue_.front()->ready;
  };
  if (!can_go()) {
    // The front may wait for a describer that waits for a batch.
    if (idle_describers_ > 0 && Untaken()) describer_cv_.notify_one();
    reader_waiting_ = true;
    reader_cv_.wait(lock, can_go);
    reader_waiting_ = false;
  }
  // The ready slots at the front, up to kTakeBatch, under one lock.
  while (!queue_.empty() && queue_.front()->ready && handed_.size() < kTakeBatch) {
    if (taken_ > 0) --taken_;  // else it came ready and no describer passed it yet
    queued_bytes_ -= queue_.front()->bytes;
    handed_.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  const bool wake_lister = lister_waiting_ && LowWater();
  // A describer waiting for room may now have it, or hold the new front.
  const bool wake_budget = budget_describers_ > 0;
  lock.unlock();
  if (wake_lister) lister_cv_.notify_one();
  if (wake_budget) budget_cv_.notify_all();
  return !handed_.empty();
}

bool TreeWalker::Untaken() {
  while (taken_ < queue_.size() && queue_[taken_]->ready) ++taken_;
  return taken_ < queue_.size();
}

bool TreeWalker::Push(std::vector<std::unique_ptr<Slot>>& batch) {
  if (batch.empty()) return true;
  std::unique_lock lock(mu_);
  if (queue_.size() >= kMaxEntries) {
    lister_waiting_ = true;
    lock.unlock();
    WakeDescriber();
    lock.lock();
    lister_cv_.wait(lock, [&] { return stop_ || LowWater(); });
    lister_waiting_ = false;
  }
  if (stop_) return false;
  for (std::unique_ptr<Slot>& slot : batch) queue_.push_back(std::move(slot));
  batch.clear();
  const bool wake_describer = idle_describers_ > 0 && Untaken() &&
                              (reader_waiting_ || queue_.size() - taken_ >= kWakeBatch);
  const bool wake_reader = reader_waiting_ && queue_.front()->ready;
  lock.unlock();
  if (wake_describer) describer_cv_.notify_one();
  if (wake_reader) reader_cv_.notify_one();
  return true;
}

void TreeWalker::WakeDescriber() {
  std::unique_lock lock(mu_);
  const bool wake = idle_describers_ > 0 && Untaken();
  lock.unlock();
  if (wake) describer_cv_.notify_all();
}

void TreeWalker::DescribeLoop(unsigned index) {
  for (;;) {
    Slot* slot = nullptr;
    {
      std::unique_lock lock(mu_);
      auto can_go = [&] { return stop_ || Untaken() || listed_; };
      if (!can_go()) {
        ++idle_describers_;
        describer_cv_.wait(lock, can_go);
        --idle_describers_;
      }
      if (stop_ || !Untaken()) return;  // stopped, or listed and all taken
      slot = queue_[taken_++].get();
      // More waiting than this one: pass the wake-up on.
      if (idle_describers_ > 0 && Untaken()) describer_cv_.notify_one();
    }
    // The slot stays in the queue until it is ready: only this thread
    // touches it meanwhile.
    Describe(*slot, index);
  }
}

namespace {

// Opens `name` in `dir_fd` for reading. O_NOATIME: reading for a backup
// should not disturb access times; only the owner (or root) may ask.
UniqueFd OpenForReading(int dir_fd, const char* name, int extra_flags) {
  const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | extra_flags;
  UniqueFd fd(::openat(dir_fd, name, flags | O_NOATIME));
  if (!fd && errno == EPERM) fd.reset(::openat(dir_fd, name, flags));
  return fd;
}

}  // namespace

void TreeWalker::Describe(Slot& s, unsigned index) {
  WalkEntry& e = s.entry;
  const int dir_fd = s.parent ? s.parent->get() : AT_FDCWD;
  if (s.listed_regular) {
    // Listed as a regular file: open it first and stat the descriptor,
    // one path lookup instead of two, and the metadata is that of the
    // inode whose data is read. If the name holds something else by now,
    // it is closed again and described by name below; O_NONBLOCK and
    // O_NOCTTY keep a FIFO from blocking the open and a terminal from
    // becoming ours (CopyData copes with O_NONBLOCK on a regular file).
    UniqueFd fd = OpenForReading(dir_fd, s.name.c_str(), O_NONBLOCK | O_NOCTTY);
    if (fd && ::fstat(fd.get(), &e.st) == 0 && S_ISREG(e.st.st_mode)) e.fd = std::move(fd);
  }
  // e.fd set: a regular file, opened and stat'ed above.
  const int r = e.fd     ? 0
                : s.self ? ::fstat(s.self->get(), &e.st)
                         : ::fstatat(dir_fd, s.name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW);
  if (r != 0) {
    e.warning = "cannot stat " + e.path + ": " + std::strerror(errno) + " (skipped)";
  } else if (S_ISREG(e.st.st_mode)) {
    if (!e.fd) e.fd = OpenForReading(dir_fd, s.name.c_str(), 0);
    if (!e.fd) {
      e.warning = "cannot open " + e.path + ": " + std::strerror(errno) + " (skipped)";
    } else if (e.st.st_size > 0 && read_ahead_) {
      const uint64_t bytes = std::min<uint64_t>(uint64_t(e.st.st_size), kReadAhead);
      {
        // A file too big for the budget still goes once it is the front,
        // so one huge file cannot stall the walk.
        std::unique_lock lock(mu_);
        auto room = [&] {
          return stop_ || queue_.front().get() == &s || queued_bytes_ + bytes <= kMaxBytes;
        };
        if (!room()) {
          ++budget_describers_;
          budget_cv_.wait(lock, room);
          --budget_describers_;
        }
        queued_bytes_ += bytes;
        s.bytes = bytes;
      }
      ::posix_fadvise(e.fd.get(), 0, off_t(bytes), POSIX_FADV_WILLNEED);
    }
  }
  if (e.warning.empty() && prepare_) {
    const int own = e.fd ? e.fd.get() : s.self ? s.self->get() : -1;
    prepare_(e, EntryAccess{own, dir_fd, s.name.c_str()}, index);
  }
  s.parent.reset();
  s.self.reset();
  std::unique_lock lock(mu_);
  s.ready = true;
  const bool wake = reader_waiting_ && queue_.front().get() == &s;
  lock.unlock();
  if (wake) reader_cv_.notify_one();
}

void TreeWalker::List() {
  // Pre-order, depth first, children sorted by name: a stack of directories
  // with the names still to visit (reversed, so the next is at the back).
  // Each directory stays open while its children are looked at: stat and
  // open relative to it spare the kernel a walk of the whole path per file.
  struct Dir {
    std::string path, rel;
    SharedFd fd;
    std::vector<std::pair<std::string, unsigned char>> pending;  // name, d_type
  };
  std::vector<Dir> stack;
  // Slots not queued yet: they go kPushBatch at a time, and before the
  // lister may block (opening or reading a directory) or ends.
  std::vector<std::unique_ptr<Slot>> batch;
  auto add = [&](std::unique_ptr<Slot> slot) {
    batch.push_back(std::move(slot));
    return batch.size() < kPushBatch || Push(batch);
  };
  // A slot for entry `name` of `parent`, for a describer to fill.
  auto entry_slot = [](SharedFd parent, std::string name, std::string path, std::string rel,
                       bool listed_regular = false) {
    auto slot = std::make_unique<Slot>();
    slot->listed_regular = listed_regular;
    slot->parent = std::move(parent);
    slot->name = std::move(name);
    slot->entry.path = std::move(path);
    slot->entry.rel = std::move(rel);
    return slot;
  };
  auto warn = [&](std::string text) {
    auto w = std::make_unique<Slot>();
    w->entry.warning = std::move(text);
    w->ready = true;
    return add(std::move(w));
  };
  // Queues directory `name` of `parent` (null: the root, by path) and
  // reads its names.
  auto enter = [&](const SharedFd& parent, const std::string& name, std::string path,
                   std::string rel) -> bool {
    if (!Push(batch)) return false;
    auto fd = std::make_shared<UniqueFd>(::openat(parent ? parent->get() : AT_FDCWD, name.c_str(),
                                                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    const int open_err = errno;
    auto slot = entry_slot(parent, name, path, rel);
    if (*fd) slot->self = fd;
    batch.push_back(std::move(slot));
    if (!Push(batch)) return false;
    struct stat dir_st;
    if (*fd && parent && descend_ && ::fstat(fd->get(), &dir_st) == 0 &&
        !descend_(fd->get(), dir_st))
      return true;
    WakeDescriber();  // reading the directory may block
    // The listing reads through a duplicate: closedir() closes it.
    const int list_fd = *fd ? ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 0) : -1;
    DIR* h = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
    if (h == nullptr) {
      const int err = *fd ? errno : open_err;
      if (list_fd >= 0) ::close(list_fd);
      return warn("cannot read directory " + path + ": " + std::strerror(err) +
                  " (contents skipped)");
    }
    if (filter_) {
      std::string warning = filter_->EnterDirectory(fd->get(), rel);
      if (!warning.empty() && !warn(std::move(warning))) {
        ::closedir(h);
        return false;
      }
    }
    Dir d{std::move(path), std::move(rel), std::move(fd), {}};
    while (struct dirent* e = ::readdir(h)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        d.pending.emplace_back(e->d_name, e->d_type);
    }
    ::closedir(h);
    std::sort(d.pending.begin(), d.pending.end(), std::greater<>());
    stack.push_back(std::move(d));
    return true;
  };

  bool running = enter(nullptr, root_, root_, ".");
  while (running && !stack.empty()) {
    Dir& d = stack.back();
    if (d.pending.empty()) {
      if (filter_) filter_->LeaveDirectory(d.rel);
      stack.pop_back();
      continue;
    }
    auto [name, type] = std::move(d.pending.back());
    d.pending.pop_back();
    std::string path = d.path + "/" + name;
    std::string rel = d.rel + "/" + name;
    const SharedFd parent = d.fd;  // `d` may move when enter() grows the stack
    bool is_dir = type == DT_DIR;
    if (type == DT_UNKNOWN) {  // file systems without d_type: ask
      struct stat st;
      is_dir = ::fstatat(parent->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
               S_ISDIR(st.st_mode);
    }
    if (filter_ && filter_->Skip(rel, is_dir)) continue;
    if (is_dir) {
      running = enter(parent, name, std::move(path), std::move(rel));
    } else {
      running = add(entry_slot(parent, std::move(name), std::move(path), std::move(rel),
                               type == DT_REG));
    }
  }
  if (running) Push(batch);
  {
    std::lock_guard lock(mu_);
    listed_ = true;
  }
  reader_cv_.notify_all();
  describer_cv_.notify_all();
}

}  // namespace chunkvault
