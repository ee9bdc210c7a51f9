// Extraction: libarchive parses the stream; regular files go to a pool of
// writer threads, everything else is written by libarchive's disk writer
// on this thread.
//
// Where the target was empty (no overwriting), the only symlinks below it
// are those this restore creates. They are remembered, and an entry whose
// path (or hard link target) goes through one is refused: that is what
// ARCHIVE_EXTRACT_SECURE_SYMLINKS checks by an lstat of every component of
// every path, which made restoring 87k files cost 600k extra system calls.
// With that check in hand, plain regular files (no ACLs, file flags or
// set-id bits) are written by FileWriterPool, in parallel: small ones
// whole, large ones in pieces. Directories are created here, before any
// entry inside them is handed over (the stream lists a directory before
// its contents), and their times and modes are applied at the end, after
// every file in them is written. A hard link waits until every file handed over is written.
//
// Overwriting restores go the careful way: one thread, libarchive checking
// every path component, since the target may hold symlinks of its own.
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <unordered_set>

#include "archive/file_writer_pool.h"
#include "archive/tar.h"
#include "util/fd.h"

namespace chunkvault {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
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
    // Whatever is below an overwritten target is unknown: see the top.
    const bool pooled = !options.overwrite;
    if (pooled) {
      target_fd_.reset(::open(target.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!target_fd_) return FailErrno(errno, "open restore target " + target);
      pool_.emplace(target_fd_.get(), std::max<size_t>(1, options.jobs), kPoolBytes);
      ::clock_gettime(CLOCK_REALTIME, &start_);
      // Files directly below a set-group-ID target take its group.
      struct stat st;
      if (::fstat(target_fd_.get(), &st) == 0 && (st.st_mode & S_ISGID) != 0)
        setgid_dirs_.insert("");
    }

    in_.reset(archive_read_new());
    out_.reset(archive_write_disk_new());
    if (!in_ || !out_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_read_support_format_tar(in_.get());
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_ACL |
                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    if (!pooled) flags |= ARCHIVE_EXTRACT_SECURE_SYMLINKS;
    // Not ARCHIVE_EXTRACT_NO_OVERWRITE: libarchive then skips existing files
    // silently, a restore that reports success with old data in place.
    // Instead a non-empty target is refused up front unless overwriting.
    if (options.overwrite) flags |= ARCHIVE_EXTRACT_UNLINK;
    if (options.restore_owner) flags |= ARCHIVE_EXTRACT_OWNER;
    archive_write_disk_set_options(out_.get(), flags);
    archive_write_disk_set_standard_lookup(out_.get());
    if (archive_read_open(in_.get(), this, nullptr, &ReadCallback, nullptr) != ARCHIVE_OK)
      return ReadError("open tar stream");

    const std::string prefix = target.back() == '/' ? target : target + "/";
    for (;;) {
      struct archive_entry* entry = nullptr;
      int r = archive_read_next_header(in_.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r == ARCHIVE_WARN) Warn(std::string("tar stream: ") + archive_error_string(in_.get()));
      else if (r != ARCHIVE_OK) return ReadError("read tar header");
      CV_RETURN_IF_ERROR(ExtractEntry(entry, prefix));
      ReportPoolWarnings();
    }
    if (pool_) {
      Status written = pool_->Finish();
      ReportPoolWarnings();
      CV_RETURN_IF_ERROR(written);
    }
    // Directory times and permissions are applied last, by close.
    if (archive_write_close(out_.get()) != ARCHIVE_OK)
      return Fail(ErrorCode::kIo, std::string("finish restore into ") + target + ": " +
                                      archive_error_string(out_.get()));
    if (root_) CV_RETURN_IF_ERROR(ApplyRoot(target));
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

  // The target exists before its own entry (".") arrives, and libarchive
  // sets an existing directory's mode and times at once, before the
  // children change its mtime (or a read-only mode blocks them). So the
  // root's mode and mtime are applied here, after everything else.
  struct RootAttrs {
    mode_t perm;
    struct timespec mtime;
  };

  Status ApplyRoot(const std::string& target) {
    if (::chmod(target.c_str(), root_->perm) != 0) return FailErrno(errno, "chmod " + target);
    const struct timespec times[2] = {{0, UTIME_OMIT}, root_->mtime};
    if (::utimensat(AT_FDCWD, target.c_str(), times, 0) != 0)
      return FailErrno(errno, "set mtime of " + target);
    return {};
  }

  void ReportPoolWarnings() {
    if (!pool_) return;
    for (const std::string& w : pool_->TakeWarnings()) Warn(w);
  }

  // Pooled mode: refuses a path that goes through a symlink this restore
  // created (the only kind there is below an empty target).
  Status CheckNoSymlinkOnPath(const std::string& path, const std::string& what) {
    if (symlinks_.empty()) return {};
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      if (symlinks_.contains(path.substr(0, slash)))
        return Fail(ErrorCode::kCorrupt, what + " goes through the symlink '" +
                                             path.substr(0, slash) + "' and would land outside "
                                             "the target");
    }
    return {};
  }

  // A regular file the pool may write (see the top).
  bool Poolable(struct archive_entry* entry) {
    if (!pool_ || archive_entry_filetype(entry) != AE_IFREG) return false;
    if (archive_entry_hardlink(entry) != nullptr) return false;
    if ((archive_entry_perm(entry) & 07000) != 0) return false;
    if (archive_entry_acl_types(entry) != 0) return false;
    unsigned long set = 0, clear = 0;
    archive_entry_fflags(entry, &set, &clear);
    return set == 0 && clear == 0;
  }

  Status SubmitToPool(struct archive_entry* entry, const std::string& rel) {
    RestoreFile f;
    f.name = rel;
    f.perm = archive_entry_perm(entry) & 0777;
    f.atime = archive_entry_atime_is_set(entry)
                  ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)}
                  : start_;
    f.mtime = archive_entry_mtime_is_set(entry)
                  ? timespec{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}
                  : start_;
    if (options_.restore_owner) {
      const uid_t uid = owners_.Uid(archive_entry_uname(entry), uid_t(archive_entry_uid(entry)));
      const gid_t gid = owners_.Gid(archive_entry_gname(entry), gid_t(archive_entry_gid(entry)));
      // A new file is ours already, unless a set-group-ID directory hands
      // it its own group: chown only where that changes something.
      if (uid != euid_ || gid != egid_ || SetgidParent(rel)) f.owner.emplace(uid, gid);
    }
    archive_entry_xattr_reset(entry);
    const char* key = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(entry, &key, &value, &size) == ARCHIVE_OK) {
      auto* v = static_cast<const uint8_t*>(value);
      f.xattrs.emplace_back(key, Bytes(v, v + size));
    }
    f.size = uint64_t(archive_entry_size(entry));
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

  bool SetgidParent(const std::string& rel) const {
    size_t slash = rel.rfind('/');
    return setgid_dirs_.contains(slash == std::string::npos ? "" : rel.substr(0, slash));
  }

  Status ExtractEntry(struct archive_entry* entry, const std::string& prefix) {
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!SafeRelative(name))
      return Fail(ErrorCode::kCorrupt, "tar entry '" + name + "' would land outside the target");
    const std::string rel = Normalize(name);
    if (pool_) CV_RETURN_IF_ERROR(CheckNoSymlinkOnPath(rel, "tar entry '" + name + "'"));
    if ((name == "." || name == "./") && archive_entry_filetype(entry) == AE_IFDIR) {
      root_ = RootAttrs{mode_t(archive_entry_perm(entry)),
                        {archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}};
      archive_entry_set_perm(entry, 0700);
      archive_entry_unset_mtime(entry);
    }
    archive_entry_copy_pathname(entry, (prefix + name).c_str());
    const char* link = archive_entry_hardlink(entry);
    if (link != nullptr) {
      if (!SafeRelative(link))
        return Fail(ErrorCode::kCorrupt,
                    "tar hard link '" + name + "' points outside the target: " + link);
      if (pool_) {
        const std::string target_rel = Normalize(link);
        CV_RETURN_IF_ERROR(
            CheckNoSymlinkOnPath(target_rel, "tar hard link '" + name + "' -> '" + link + "'"));
        // A hard link to a symlink is a symlink too.
        if (symlinks_.contains(target_rel)) symlinks_.insert(rel);
        // Its target may still be queued.
        CV_RETURN_IF_ERROR(pool_->Finish());
      }
      archive_entry_copy_hardlink(entry, (prefix + link).c_str());
      ++stats_.hardlinks;
    }
    const mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFREG) ++stats_.files;
    else if (type == AE_IFDIR) ++stats_.dirs;
    else if (type == AE_IFLNK) ++stats_.symlinks;
    else ++stats_.others;
    if (observer_) observer_->OnEntry(name, uint64_t(archive_entry_size(entry)));
    if (Poolable(entry)) return SubmitToPool(entry, rel);
    if (pool_ && type == AE_IFLNK) symlinks_.insert(rel);
    if (type == AE_IFDIR && (archive_entry_perm(entry) & S_ISGID) != 0) setgid_dirs_.insert(rel);

    int r = archive_write_header(out_.get(), entry);
    if (r == ARCHIVE_WARN) {
      Warn(name + ": " + archive_error_string(out_.get()));
    } else if (r != ARCHIVE_OK) {
      return Fail(ErrorCode::kIo, "restore " + name + ": " + archive_error_string(out_.get()));
    }
    if (archive_entry_size(entry) > 0 && link == nullptr) CV_RETURN_IF_ERROR(CopyData(name));
    r = archive_write_finish_entry(out_.get());
    if (r == ARCHIVE_WARN) {
      Warn(name + ": " + archive_error_string(out_.get()));
    } else if (r != ARCHIVE_OK) {
      return Fail(ErrorCode::kIo, "restore " + name + ": " + archive_error_string(out_.get()));
    }
    return {};
  }

  Status CopyData(const std::string& name) {
    return ReadData(name, [&](uint64_t offset, const uint8_t* p, size_t n) -> Status {
      if (archive_write_data_block(out_.get(), p, n, la_int64_t(offset)) != ARCHIVE_OK)
        return Fail(ErrorCode::kIo, "write " + name + ": " + archive_error_string(out_.get()));
      return {};
    });
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

  TarSource& source_;
  Piece pieces_[2];  // the newest first
  TarObserver* observer_;
  ExtractOptions options_;
  UniqueFd target_fd_;
  struct timespec start_ = {0, 0};  // atime of files whose entry has none
  std::unordered_set<std::string> symlinks_;  // created so far (pooled mode)
  std::unordered_set<std::string> setgid_dirs_;  // their files take the directory's group
  OwnerLookup owners_;
  // Who new files belong to; asked once, not per file (two system calls
  // each, 147,000 of them in a restore of the benchmark dataset).
  const uid_t euid_ = ::geteuid();
  const gid_t egid_ = ::getegid();
  Status source_error_;
  TarStats stats_;
  std::optional<RootAttrs> root_;
  std::unique_ptr<struct archive, ReadDeleter> in_;
  std::unique_ptr<struct archive, WriteDeleter> out_;
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
