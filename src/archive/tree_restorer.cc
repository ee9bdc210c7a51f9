#include "archive/tree_restorer.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "archive/beneath.h"

namespace chunkvault {
namespace {

// Files up to this size are handed to the writer pool whole; larger ones
// go in pieces of about kPieceSize.
constexpr uint64_t kMaxWholeFile = 4 << 20;
constexpr uint64_t kPieceSize = 4 << 20;
// File data queued for the pool, at most.
constexpr uint64_t kPoolBytes = 64 << 20;

// A directory's mode before its metadata is applied is not tracked:
// chmod always.
constexpr mode_t kUnknownPerm = mode_t(-1);

Status CheckExistingTarget(const std::string& target, bool overwrite) {
  struct stat st;
  if (::stat(target.c_str(), &st) != 0) return FailErrno(errno, "restore target " + target);
  if (!S_ISDIR(st.st_mode))
    return Fail(ErrorCode::kInvalidArgument, "restore target " + target + " is not a directory");
  if (overwrite) return {};
  DIR* d = ::opendir(target.c_str());
  if (d == nullptr) return FailErrno(errno, "restore target " + target);
  bool empty = true;
  while (struct dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") empty = false;
  }
  ::closedir(d);
  if (!empty)
    return Fail(ErrorCode::kAlreadyExists,
                "restore target " + target + " is not empty (overwriting was not asked for)");
  return {};
}

// Adds a data piece to `data`: borrowed where something keeps it alive,
// else copied.
void Take(FileData& data, uint64_t offset, const uint8_t* p, size_t n,
          const std::shared_ptr<const void>* keep) {
  if (keep != nullptr)
    data.Borrow(offset, p, n, *keep);
  else
    data.Add(offset, p, n);
}

}  // namespace

bool SafeRelative(std::string_view p) {
  if (p.empty() || p.front() == '/') return false;
  while (!p.empty()) {
    size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    if (part == "..") return false;
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return true;
}

std::string Normalize(std::string_view p) {
  std::string out;
  while (!p.empty()) {
    size_t slash = p.find('/');
    std::string_view part = p.substr(0, slash);
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    if (slash == std::string_view::npos) break;
    p.remove_prefix(slash + 1);
  }
  return out;
}

Status TreeRestorer::Open(const std::string& target, const ExtractOptions& options) {
  if (::mkdir(target.c_str(), 0700) != 0) {
    if (errno != EEXIST) return FailErrno(errno, "create restore target " + target);
    CV_RETURN_IF_ERROR(CheckExistingTarget(target, options.overwrite));
  }
  options_ = options;
  // A symlink at the target itself is followed only where the user named it.
  const int nofollow = options.follow_target_symlink ? 0 : O_NOFOLLOW;
  target_fd_.reset(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC | nofollow));
  struct stat link;
  if (!target_fd_ && nofollow && ::lstat(target.c_str(), &link) == 0 && S_ISLNK(link.st_mode))
    return Fail(ErrorCode::kAlreadyExists,
                "restore target " + target + " is a symlink (not followed)");
  if (!target_fd_) return FailErrno(errno, "open restore target " + target);
  pool_.emplace(target_fd_.get(), std::max<size_t>(1, options.jobs), kPoolBytes);
  ::clock_gettime(CLOCK_REALTIME, &start_);
  // Files directly below a set-group-ID target take its group.
  struct stat st;
  if (::fstat(target_fd_.get(), &st) == 0 && (st.st_mode & S_ISGID) != 0) setgid_dirs_.insert("");
  return {};
}

void TreeRestorer::Warn(const std::string& message) {
  ++stats_.warnings;
  if (observer_) observer_->OnWarning(message);
}

WarnFn TreeRestorer::WarnAbout(const std::string& name) {
  return [this, name](const std::string& w) { Warn(name + ": " + w); };
}

void TreeRestorer::ReportPoolWarnings() {
  for (const std::string& w : pool_->TakeWarnings()) Warn(w);
}

bool TreeRestorer::SetgidParent(const std::string& rel) const {
  size_t slash = rel.rfind('/');
  return setgid_dirs_.contains(slash == std::string::npos ? "" : rel.substr(0, slash));
}

Status TreeRestorer::Add(RestoreNode node, const FileDataFn& data) {
  using Type = RestoreNode::Type;
  const std::string& rel = node.rel;
  if (rel.empty() && node.type != Type::kDirectory)
    return Fail(ErrorCode::kCorrupt, "entry '" + node.name +
                                         "' names the target itself, which "
                                         "is a directory");
  switch (node.type) {
    case Type::kFile:
      ++stats_.files;
      break;
    case Type::kHardlink:
      ++stats_.files;
      break;
    case Type::kDirectory:
      ++stats_.dirs;
      break;
    case Type::kSymlink:
      ++stats_.symlinks;
      break;
    default:
      ++stats_.others;
      break;
  }
  if (observer_) observer_->OnEntry(node.name, node.size);
  // A repeated name replaces what this restore made there, which the pool
  // may still be writing: that is finished first.
  if (restored_.contains(rel)) CV_RETURN_IF_ERROR(pool_->Finish());
  const std::string what = "restore " + node.name;
  if (node.type == Type::kHardlink) return WithContext(MakeHardLink(rel, node.link), what);
  // A new node is ours already, unless a set-group-ID directory hands it
  // its own group: chown only where that changes something.
  NodeMetadata& meta = node.meta;
  if (meta.owner && meta.owner->first == euid_ && meta.owner->second == egid_ && !SetgidParent(rel))
    meta.owner.reset();
  Status made;
  switch (node.type) {
    case Type::kFile:
      made = SubmitToPool(node, data);
      break;
    case Type::kDirectory:
      made = MakeDirectory(rel, std::move(meta));
      break;
    case Type::kSymlink:
      made = MakeLeaf(node.name, rel, true, meta, [&](int dir, const char* leaf) {
        return ::symlinkat(node.link.c_str(), dir, leaf);
      });
      break;
    default: {
      const mode_t type = node.type == Type::kFifo         ? S_IFIFO
                          : node.type == Type::kSocket     ? S_IFSOCK
                          : node.type == Type::kCharDevice ? S_IFCHR
                                                           : S_IFBLK;
      made = MakeLeaf(node.name, rel, false, meta, [&](int dir, const char* leaf) {
        return ::mknodat(dir, leaf, type | 0600, node.rdev);
      });
      break;
    }
  }
  ReportPoolWarnings();
  return WithContext(std::move(made), what);
}

Result<TarStats> TreeRestorer::Finish() {
  Status written = pool_->Finish();
  ReportPoolWarnings();
  CV_RETURN_IF_ERROR(written);
  CV_RETURN_IF_ERROR(WithContext(ApplyDirectoryMetadata(), "finish restore"));
  return stats_;
}

// The target's own entry waits for the end; any other directory is made
// now (replacing a non-directory of its name) and given its metadata at
// the end.
Status TreeRestorer::MakeDirectory(const std::string& rel, NodeMetadata meta) {
  if ((meta.perm & S_ISGID) != 0) setgid_dirs_.insert(rel);
  if (!rel.empty()) {
    CV_ASSIGN_OR_RETURN(ParentDir parent, OpenParentBeneath(target_fd_.get(), rel, true));
    if (::mkdirat(parent.fd, parent.leaf.c_str(), 0700) != 0) {
      if (errno != EEXIST) return FailErrno(errno, "create directory");
      struct stat st;
      if (::fstatat(parent.fd, parent.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
        return FailErrno(errno, "create directory");
      if (!S_ISDIR(st.st_mode)) {
        CV_RETURN_IF_ERROR(RemoveInTheWay(parent.fd, parent.leaf));
        if (::mkdirat(parent.fd, parent.leaf.c_str(), 0700) != 0)
          return FailErrno(errno, "create directory");
      }
    }
  }
  dirs_.insert_or_assign(rel, std::move(meta));
  return {};
}

// A symlink or special file: `make(dir, leaf)` creates it (0 or -1 and
// errno); a node of that name already there is replaced.
template <class Make>
Status TreeRestorer::MakeLeaf(const std::string& name, const std::string& rel, bool is_symlink,
                              const NodeMetadata& meta, Make make) {
  CV_ASSIGN_OR_RETURN(ParentDir parent, OpenParentBeneath(target_fd_.get(), rel, true));
  int r = make(parent.fd, parent.leaf.c_str());
  if (r != 0 && errno == EEXIST) {
    CV_RETURN_IF_ERROR(RemoveInTheWay(parent.fd, parent.leaf));
    r = make(parent.fd, parent.leaf.c_str());
  }
  if (r != 0) {
    if (errno == EPERM) {  // a device node, without the privilege to make one
      Warn(name + ": cannot create it here (" + std::strerror(errno) + "); left out");
      return {};
    }
    return FailErrno(errno, "create");
  }
  restored_.insert(rel);
  return ApplyToLeaf(parent.fd, parent.leaf, is_symlink, meta, WarnAbout(name));
}

Status TreeRestorer::MakeHardLink(const std::string& rel, const std::string& from) {
  if (!restored_.contains(from))
    return Fail(ErrorCode::kCorrupt,
                "hard link to '" + from + "', which this restore has not created: refused");
  // Its target may still be queued.
  CV_RETURN_IF_ERROR(pool_->Finish());
  CV_ASSIGN_OR_RETURN(ParentDir src, OpenParentBeneath(target_fd_.get(), from, false));
  CV_ASSIGN_OR_RETURN(ParentDir dst, OpenParentBeneath(target_fd_.get(), rel, true));
  // Flags 0: a link to a symlink links the symlink, never what it names.
  int r = ::linkat(src.fd, src.leaf.c_str(), dst.fd, dst.leaf.c_str(), 0);
  if (r != 0 && errno == EEXIST) {
    CV_RETURN_IF_ERROR(RemoveInTheWay(dst.fd, dst.leaf));
    r = ::linkat(src.fd, src.leaf.c_str(), dst.fd, dst.leaf.c_str(), 0);
  }
  if (r != 0) return FailErrno(errno, "link to " + from);
  ++stats_.hardlinks;
  restored_.insert(rel);
  return {};
}

// Directories' metadata, deepest first (a child's path sorts after its
// parent's), the target's own last. A directory a later entry replaced
// (by a file, a symlink) has none to get.
Status TreeRestorer::ApplyDirectoryMetadata() {
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    const auto& [rel, meta] = *it;
    const std::string name = rel.empty() ? "." : rel;
    auto fd = OpenBeneath(target_fd_.get(), rel, O_RDONLY | O_DIRECTORY);
    if (!fd && ReplacedByANonDirectory(rel)) continue;
    if (!fd) return std::unexpected(std::move(fd).error().Context("directory " + name));
    CV_RETURN_IF_ERROR(WithContext(ApplyToOpenNode(fd->get(), meta, kUnknownPerm, WarnAbout(name)),
                                   "directory " + name));
  }
  return {};
}

bool TreeRestorer::ReplacedByANonDirectory(const std::string& rel) {
  if (rel.empty()) return false;
  auto parent = OpenParentBeneath(target_fd_.get(), rel, false);
  struct stat st;
  return parent && ::fstatat(parent->fd, parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         !S_ISDIR(st.st_mode);
}

Status TreeRestorer::SubmitToPool(RestoreNode& node, const FileDataFn& data) {
  RestoreFile f;
  f.name = node.rel;
  f.meta = std::move(node.meta);
  f.size = node.size;
  restored_.insert(node.rel);
  if (f.size <= kMaxWholeFile) {
    CV_RETURN_IF_ERROR(data([&](uint64_t offset, const uint8_t* p, size_t n,
                                const std::shared_ptr<const void>* keep) -> Status {
      stats_.bytes += n;
      Take(f.content, offset, p, n, keep);
      return {};
    }));
    return pool_->Submit(std::move(f));
  }
  // Large: created now, written in pieces by the pool.
  CV_ASSIGN_OR_RETURN(auto large, pool_->Begin(std::move(f)));
  FileData piece;
  uint64_t data_end = 0;
  CV_RETURN_IF_ERROR(data([&](uint64_t offset, const uint8_t* p, size_t n,
                              const std::shared_ptr<const void>* keep) -> Status {
    stats_.bytes += n;
    Take(piece, offset, p, n, keep);
    data_end = offset + n;
    if (piece.size() < kPieceSize) return {};
    return pool_->Append(large, std::exchange(piece, FileData()));
  }));
  if (!piece.empty()) CV_RETURN_IF_ERROR(pool_->Append(large, std::move(piece)));
  return pool_->End(std::move(large), data_end);
}

}  // namespace chunkvault
