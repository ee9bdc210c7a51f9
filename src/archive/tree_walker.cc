#include "archive/tree_walker.h"

#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace chunkvault {

void ArchiveEntryFree::operator()(struct archive_entry* e) const { archive_entry_free(e); }

TreeWalker::TreeWalker(std::string root, Prepare prepare)
    : root_(std::move(root)), prepare_(std::move(prepare)), thread_([this] { Run(); }) {}

TreeWalker::~TreeWalker() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  not_full_.notify_all();
  thread_.join();
}

std::optional<WalkEntry> TreeWalker::Next() {
  std::unique_lock lock(mu_);
  reader_waiting_ = true;
  not_empty_.wait(lock, [&] { return !queue_.empty() || done_; });
  reader_waiting_ = false;
  if (queue_.empty()) return std::nullopt;
  WalkEntry e = std::move(queue_.front());
  queue_.pop_front();
  if (e.fd) queued_bytes_ -= std::min<uint64_t>(uint64_t(e.st.st_size), kReadAhead);
  const bool wake = walker_waiting_ && LowWater();
  lock.unlock();
  if (wake) not_full_.notify_one();
  return e;
}

bool TreeWalker::Push(WalkEntry entry) {
  const uint64_t bytes = entry.fd ? std::min<uint64_t>(uint64_t(entry.st.st_size), kReadAhead) : 0;
  std::unique_lock lock(mu_);
  // An entry too big for the byte budget still goes in when the queue is
  // empty, so one huge file cannot stall the walk. Once full, the walker
  // waits for low water.
  auto fits = [&] {
    return queue_.size() < kMaxEntries && (queue_.empty() || queued_bytes_ + bytes <= kMaxBytes);
  };
  if (!fits()) {
    walker_waiting_ = true;
    not_full_.wait(lock, [&] { return stop_ || queue_.empty() || (LowWater() && fits()); });
    walker_waiting_ = false;
  }
  if (stop_) return false;
  queued_bytes_ += bytes;
  queue_.push_back(std::move(entry));
  const bool wake = reader_waiting_;
  lock.unlock();
  if (wake) not_empty_.notify_one();
  return true;
}

WalkEntry TreeWalker::Describe(int dir_fd, const char* name, const std::string& path,
                               const std::string& rel) {
  WalkEntry e;
  e.path = path;
  e.rel = rel;
  if (::fstatat(dir_fd, name, &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
    e.warning = "cannot stat " + path + ": " + std::strerror(errno) + " (skipped)";
    return e;
  }
  if (S_ISREG(e.st.st_mode)) {
    // O_NOATIME: reading for a backup should not disturb access times.
    e.fd.reset(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME));
    if (!e.fd && errno == EPERM) e.fd.reset(::openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!e.fd) {
      e.warning = "cannot open " + path + ": " + std::strerror(errno) + " (skipped)";
      return e;
    }
    if (e.st.st_size > 0)
      ::posix_fadvise(e.fd.get(), 0, off_t(std::min<uint64_t>(uint64_t(e.st.st_size), kReadAhead)),
                      POSIX_FADV_WILLNEED);
  }
  if (prepare_) prepare_(e);
  return e;
}

void TreeWalker::Run() {
  // Pre-order, depth first, children sorted by name: a stack of directories
  // with the names still to visit (reversed, so the next is at the back).
  // Each directory stays open while its children are looked at: stat and
  // open relative to it spare the kernel a walk of the whole path per file.
  struct Dir {
    std::string path, rel;
    UniqueFd fd;
    std::vector<std::string> pending;
  };
  std::vector<Dir> stack;
  auto enter = [&](int parent_fd, const char* name, const std::string& path,
                   const std::string& rel) -> bool {
    Dir d{path, rel, UniqueFd(::openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                                          O_CLOEXEC)), {}};
    // The listing reads through a duplicate: closedir() closes it.
    const int list_fd = d.fd ? ::fcntl(d.fd.get(), F_DUPFD_CLOEXEC, 0) : -1;
    DIR* h = list_fd >= 0 ? ::fdopendir(list_fd) : nullptr;
    if (h == nullptr) {
      const int err = errno;
      if (list_fd >= 0) ::close(list_fd);
      WalkEntry w;
      w.warning = "cannot read directory " + path + ": " + std::strerror(err) +
                  " (contents skipped)";
      return Push(std::move(w));
    }
    while (struct dirent* e = ::readdir(h)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0)
        d.pending.emplace_back(e->d_name);
    }
    ::closedir(h);
    std::sort(d.pending.begin(), d.pending.end(), std::greater<>());
    stack.push_back(std::move(d));
    return true;
  };

  WalkEntry top = Describe(AT_FDCWD, root_.c_str(), root_, ".");
  const bool root_is_dir = top.warning.empty() && S_ISDIR(top.st.st_mode);
  bool running = Push(std::move(top)) && (!root_is_dir || enter(AT_FDCWD, root_.c_str(), root_, "."));
  while (running && !stack.empty()) {
    Dir& d = stack.back();
    if (d.pending.empty()) {
      stack.pop_back();
      continue;
    }
    const std::string name = std::move(d.pending.back());
    d.pending.pop_back();
    const std::string path = d.path + "/" + name;
    const std::string rel = d.rel + "/" + name;
    const int dir_fd = d.fd.get();
    WalkEntry e = Describe(dir_fd, name.c_str(), path, rel);
    const bool is_dir = e.warning.empty() && S_ISDIR(e.st.st_mode);
    // `d` may move when enter() grows the stack; dir_fd stays valid.
    running = Push(std::move(e)) && (!is_dir || enter(dir_fd, name.c_str(), path, rel));
  }
  std::lock_guard lock(mu_);
  done_ = true;
  not_empty_.notify_all();
}

}  // namespace chunkvault
