// Extraction: libarchive parses the stream; everything is written here,
// never by a path that could follow a symlink.
//
// Every node is created, replaced and given its metadata through
// descriptors: its directory's, opened beneath the target's descriptor
// with no symlink on the way (beneath.h), or its own. So a stream that
// makes "m" a symlink to "/etc" after, or before, "m/f" cannot put "f"
// anywhere but below the target, whatever order the writer threads run
// in, and an overwritten target's own symlinks are not followed either: a
// path through one fails that entry. Hard links may point only at
// entries this restore created.
//
// Regular files go to FileWriterPool, written in parallel (small ones
// whole, large ones in pieces). Directories, symlinks, hard links and
// special files are made here, in stream order; a directory is created
// before any entry inside it is handed over, and directories' metadata
// (mode, owner, times, xattrs, ACLs, flags) is applied last, deepest
// first, after every file in them is written. A hard link waits until
// every file handed over is written.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "archive/beneath.h"
#include "archive/file_writer_pool.h"
#include "archive/node_metadata.h"
#include "archive/posix_acl.h"
#include "archive/tar.h"
#include "util/fd.h"

namespace chunkvault {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

// A stored path may only name something below the target: relative, and no
// ".." component.
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

// "./a//b/./c" -> "a/b/c": the form symlinks are remembered and looked up in.
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

// Files up to this size are handed to the writer pool whole; larger ones
// go in pieces of about kPieceSize.
constexpr uint64_t kMaxWholeFile = 4 << 20;
constexpr uint64_t kPieceSize = 4 << 20;
// File data queued for the pool, at most.
constexpr uint64_t kPoolBytes = 64 << 20;

// Owner names to local ids, as libarchive's standard lookup does: the
// name wins where this system knows it, else the stored id. Cached: a tree
// has few owners.
class OwnerLookup {
 public:
  uid_t Uid(const char* name, uid_t fallback) {
    return Find(users_, name, fallback, [](const char* n, uid_t* id) {
      struct passwd pw, *found = nullptr;
      char buf[4096];
      if (::getpwnam_r(n, &pw, buf, sizeof buf, &found) == 0 && found) *id = pw.pw_uid;
    });
  }
  gid_t Gid(const char* name, gid_t fallback) {
    return Find(groups_, name, fallback, [](const char* n, gid_t* id) {
      struct group gr, *found = nullptr;
      char buf[4096];
      if (::getgrnam_r(n, &gr, buf, sizeof buf, &found) == 0 && found) *id = gr.gr_gid;
    });
  }

 private:
  // `resolve` overwrites the fallback where the system knows the name.
  template <class Id, class Resolve>
  static Id Find(std::map<std::string, Id>& cache, const char* name, Id fallback,
                 Resolve resolve) {
    if (name == nullptr || *name == 0) return fallback;
    auto [it, added] = cache.try_emplace(name, fallback);
    if (added) resolve(name, &it->second);
    return it->second;
  }

  std::map<std::string, uid_t> users_;
  std::map<std::string, gid_t> groups_;
};

class TarExtractor {
 public:
  TarExtractor(TarSource& source, TarObserver* observer) : source_(source), observer_(observer) {}

  Result<TarStats> Run(const std::string& target, const ExtractOptions& options) {
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
    if (::fstat(target_fd_.get(), &st) == 0 && (st.st_mode & S_ISGID) != 0)
      setgid_dirs_.insert("");

    in_.reset(archive_read_new());
    if (!in_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_read_support_format_tar(in_.get());
    if (archive_read_open(in_.get(), this, nullptr, &ReadCallback, nullptr) != ARCHIVE_OK)
      return ReadError("open tar stream");

    for (;;) {
      struct archive_entry* entry = nullptr;
      int r = archive_read_next_header(in_.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r == ARCHIVE_WARN) Warn(std::string("tar stream: ") + archive_error_string(in_.get()));
      else if (r != ARCHIVE_OK) return ReadError("read tar header");
      CV_RETURN_IF_ERROR(ExtractEntry(entry));
      ReportPoolWarnings();
    }
    Status written = pool_->Finish();
    ReportPoolWarnings();
    CV_RETURN_IF_ERROR(written);
    CV_RETURN_IF_ERROR(WithContext(ApplyDirectoryMetadata(), "finish restore into " + target));
    return stats_;
  }

 private:
  static Status CheckExistingTarget(const std::string& target, bool overwrite) {
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

  static la_ssize_t ReadCallback(struct archive* a, void* self, const void** buf) {
    auto* x = static_cast<TarExtractor*>(self);
    Result<ByteView> piece = x->source_.Next();
    if (!piece) {
      x->source_error_ = std::unexpected(std::move(piece).error());
      archive_set_error(a, EIO, "archive source failed");
      return -1;
    }
    // The last two pieces stay lendable: libarchive hands out data from
    // the newest, or from its own buffer when a block spans two.
    x->pieces_[1] = std::move(x->pieces_[0]);
    x->pieces_[0] = Piece{*piece, x->source_.Keep()};
    *buf = piece->data();
    return static_cast<la_ssize_t>(piece->size());
  }

  // The source's own error if it caused the failure.
  std::unexpected<Error> ReadError(const std::string& what) {
    if (!source_error_) return std::unexpected(source_error_.error());
    const char* msg = archive_error_string(in_.get());
    return Fail(ErrorCode::kCorrupt, what + ": " + (msg ? msg : "libarchive error"));
  }

  void Warn(const std::string& message) {
    ++stats_.warnings;
    if (observer_) observer_->OnWarning(message);
  }

  WarnFn WarnAbout(const std::string& name) {
    return [this, name](const std::string& w) { Warn(name + ": " + w); };
  }

  void ReportPoolWarnings() {
    for (const std::string& w : pool_->TakeWarnings()) Warn(w);
  }

  bool SetgidParent(const std::string& rel) const {
    size_t slash = rel.rfind('/');
    return setgid_dirs_.contains(slash == std::string::npos ? "" : rel.substr(0, slash));
  }

  NodeMetadata MetadataOf(struct archive_entry* entry, const std::string& name,
                          const std::string& rel) {
    NodeMetadata m;
    m.perm = archive_entry_perm(entry) & 07777;
    m.atime = archive_entry_atime_is_set(entry)
                  ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)}
                  : start_;
    m.mtime = archive_entry_mtime_is_set(entry)
                  ? timespec{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}
                  : start_;
    if (options_.restore_owner) {
      const uid_t uid = owners_.Uid(archive_entry_uname(entry), uid_t(archive_entry_uid(entry)));
      const gid_t gid = owners_.Gid(archive_entry_gname(entry), gid_t(archive_entry_gid(entry)));
      // A new node is ours already, unless a set-group-ID directory hands
      // it its own group: chown only where that changes something.
      if (uid != euid_ || gid != egid_ || SetgidParent(rel)) m.owner.emplace(uid, gid);
    }
    archive_entry_xattr_reset(entry);
    const char* key = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK) {
      auto* v = static_cast<const uint8_t*>(value);
      m.xattrs.emplace_back(key, Bytes(v, v + size));
    }
    if (archive_entry_acl_types(entry) != 0) {
      bool unsupported = false;
      m.acls = PosixAclXattrsOf(entry, ids_, &unsupported);
      if (unsupported) Warn(name + ": NFSv4 ACL entries cannot be restored here; left out");
    }
    archive_entry_fflags(entry, &m.fflags_set, &m.fflags_clear);
    return m;
  }

  Status ExtractEntry(struct archive_entry* entry) {
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!SafeRelative(name))
      return Fail(ErrorCode::kCorrupt, "tar entry '" + name + "' would land outside the target");
    const std::string rel = Normalize(name);
    const char* link = archive_entry_hardlink(entry);
    if (link != nullptr && !SafeRelative(link))
      return Fail(ErrorCode::kCorrupt,
                  "tar hard link '" + name + "' points outside the target: " + link);
    const mode_t type = archive_entry_filetype(entry);
    if (rel.empty() && (type != AE_IFDIR || link != nullptr))
      return Fail(ErrorCode::kCorrupt, "tar entry '" + name + "' names the target itself, which "
                                       "is a directory");
    if (type == AE_IFREG) ++stats_.files;
    else if (type == AE_IFDIR) ++stats_.dirs;
    else if (type == AE_IFLNK) ++stats_.symlinks;
    else ++stats_.others;
    if (observer_) observer_->OnEntry(name, uint64_t(archive_entry_size(entry)));
    // A repeated name replaces what this restore made there, which the
    // pool may still be writing: that is finished first, so the stream's
    // last entry of a name wins, as in tar.
    if (restored_.contains(rel)) CV_RETURN_IF_ERROR(pool_->Finish());
    if (link != nullptr) return WithContext(MakeHardLink(rel, link), "restore " + name);
    NodeMetadata meta = MetadataOf(entry, name, rel);
    Status made;
    switch (type) {
      case AE_IFREG:
        return SubmitToPool(entry, rel, std::move(meta));
      case AE_IFDIR:
        made = MakeDirectory(rel, std::move(meta));
        break;
      case AE_IFLNK: {
        const char* to = archive_entry_symlink(entry);
        made = MakeLeaf(name, rel, true, meta, [&](int dir, const char* leaf) {
          return ::symlinkat(to ? to : "", dir, leaf);
        });
        break;
      }
      case AE_IFIFO:
      case AE_IFCHR:
      case AE_IFBLK: {
        const dev_t dev = archive_entry_rdev(entry);
        made = MakeLeaf(name, rel, false, meta, [&](int dir, const char* leaf) {
          return ::mknodat(dir, leaf, type | 0600, dev);
        });
        break;
      }
      default:
        Warn(name + ": entries of this type (" + std::to_string(type) +
             ") cannot be restored; left out");
        return {};
    }
    return WithContext(std::move(made), "restore " + name);
  }

  // The target's own entry waits for the end; any other directory is
  // made now (replacing a non-directory of its name) and given its
  // metadata at the end.
  Status MakeDirectory(const std::string& rel, NodeMetadata meta) {
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
  Status MakeLeaf(const std::string& name, const std::string& rel, bool is_symlink,
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

  Status MakeHardLink(const std::string& rel, const char* link) {
    const std::string from = Normalize(link);
    if (!restored_.contains(from))
      return Fail(ErrorCode::kCorrupt, std::string("hard link to '") + link +
                                           "', which this restore has not created: refused");
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
    if (r != 0) return FailErrno(errno, std::string("link to ") + link);
    ++stats_.hardlinks;
    restored_.insert(rel);
    return {};
  }

  // Directories' metadata, deepest first (a child's path sorts after its
  // parent's), the target's own last. A directory a later entry replaced
  // (by a file, a symlink) has none to get.
  Status ApplyDirectoryMetadata() {
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      const auto& [rel, meta] = *it;
      const std::string name = rel.empty() ? "." : rel;
      auto fd = OpenBeneath(target_fd_.get(), rel, O_RDONLY | O_DIRECTORY);
      if (!fd && ReplacedByANonDirectory(rel)) continue;
      if (!fd) return std::unexpected(std::move(fd).error().Context("directory " + name));
      CV_RETURN_IF_ERROR(WithContext(
          ApplyToOpenNode(fd->get(), meta, kUnknownPerm, WarnAbout(name)), "directory " + name));
    }
    return {};
  }

  bool ReplacedByANonDirectory(const std::string& rel) {
    if (rel.empty()) return false;
    auto parent = OpenParentBeneath(target_fd_.get(), rel, false);
    struct stat st;
    return parent && ::fstatat(parent->fd, parent->leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           !S_ISDIR(st.st_mode);
  }

  Status SubmitToPool(struct archive_entry* entry, const std::string& rel, NodeMetadata meta) {
    RestoreFile f;
    f.name = rel;
    f.meta = std::move(meta);
    f.size = uint64_t(archive_entry_size(entry));
    restored_.insert(rel);
    if (f.size <= kMaxWholeFile) {
      CV_RETURN_IF_ERROR(ReadData(rel, [&](uint64_t offset, const uint8_t* p, size_t n) {
        Take(f.content, offset, p, n);
        return Status();
      }));
      return pool_->Submit(std::move(f));
    }
    // Large: created now, written in pieces by the pool.
    CV_ASSIGN_OR_RETURN(auto large, pool_->Begin(std::move(f)));
    FileData piece;
    uint64_t data_end = 0;
    CV_RETURN_IF_ERROR(ReadData(rel, [&](uint64_t offset, const uint8_t* p, size_t n) -> Status {
      Take(piece, offset, p, n);
      data_end = offset + n;
      if (piece.size() < kPieceSize) return {};
      return pool_->Append(large, std::exchange(piece, FileData()));
    }));
    if (!piece.empty()) CV_RETURN_IF_ERROR(pool_->Append(large, std::move(piece)));
    return pool_->End(std::move(large), data_end);
  }

  // Adds a data block to `data`: borrowed from the stream if it lies in a
  // piece that can be kept, else copied.
  void Take(FileData& data, uint64_t offset, const uint8_t* p, size_t n) const {
    if (const std::shared_ptr<const void>* keep = Lender(p, n)) data.Borrow(offset, p, n, *keep);
    else data.Add(offset, p, n);
  }

  // Feeds the current entry's data blocks (offset, bytes) to `take`.
  Status ReadData(const std::string& name,
                  const std::function<Status(uint64_t, const uint8_t*, size_t)>& take) {
    for (;;) {
      const void* buf = nullptr;
      size_t n = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(in_.get(), &buf, &n, &offset);
      if (r == ARCHIVE_EOF) return {};
      if (r != ARCHIVE_OK) return ReadError("read data of " + name);
      stats_.bytes += n;
      CV_RETURN_IF_ERROR(take(uint64_t(offset), static_cast<const uint8_t*>(buf), n));
    }
  }

  // A piece of the stream and what keeps it alive (null: not lendable).
  struct Piece {
    ByteView bytes;
    std::shared_ptr<const void> keep;
  };
  // The piece that holds [p, p+n), if it can be lent out.
  const std::shared_ptr<const void>* Lender(const uint8_t* p, size_t n) const {
    // Compared as integers: the pointers may belong to unrelated objects.
    const auto at = reinterpret_cast<uintptr_t>(p);
    for (const Piece& piece : pieces_) {
      const auto begin = reinterpret_cast<uintptr_t>(piece.bytes.data());
      if (piece.keep && at >= begin && at + n <= begin + piece.bytes.size()) return &piece.keep;
    }
    return nullptr;
  }

  // A directory's mode before its metadata is applied is not tracked:
  // chmod always.
  static constexpr mode_t kUnknownPerm = mode_t(-1);

  TarSource& source_;
  Piece pieces_[2];  // the newest first
  TarObserver* observer_;
  ExtractOptions options_;
  UniqueFd target_fd_;
  struct timespec start_ = {0, 0};  // atime of files whose entry has none
  std::unordered_set<std::string> restored_;  // non-directories made so far (hard link targets)
  std::map<std::string, NodeMetadata> dirs_;  // made so far ("" the target), metadata to apply
  std::unordered_set<std::string> setgid_dirs_;  // their files take the directory's group
  OwnerLookup owners_;
  IdLookup ids_{[this](const char* n, uid_t id) { return owners_.Uid(n, id); },
                [this](const char* n, gid_t id) { return owners_.Gid(n, id); }};
  // Who new files belong to; asked once, not per file (two system calls
  // each, 147,000 of them in a restore of the benchmark dataset).
  const uid_t euid_ = ::geteuid();
  const gid_t egid_ = ::getegid();
  Status source_error_;
  TarStats stats_;
  std::unique_ptr<struct archive, ReadDeleter> in_;
  std::optional<FileWriterPool> pool_;  // last: its writers finish first
};

}  // namespace

Result<TarStats> ExtractTar(TarSource& source, const std::string& target,
                            const ExtractOptions& options, TarObserver* observer) {
  TarExtractor extractor(source, observer);
  return extractor.Run(target, options);
}

Result<TarStats> ExtractTar(const std::function<Result<ByteView>()>& next,
                            const std::string& target, const ExtractOptions& options,
                            TarObserver* observer) {
  struct FunctionSource final : TarSource {
    explicit FunctionSource(const std::function<Result<ByteView>()>& fn) : fn(fn) {}
    Result<ByteView> Next() override { return fn(); }
    const std::function<Result<ByteView>()>& fn;
  } source(next);
  return ExtractTar(source, target, options, observer);
}

}  // namespace chunkvault
