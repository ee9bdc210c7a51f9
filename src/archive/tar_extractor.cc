#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <memory>
#include <optional>
#include <string_view>

#include "archive/tar.h"

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

class TarExtractor {
 public:
  TarExtractor(const std::function<Result<ByteView>()>& next, TarObserver* observer)
      : next_(next), observer_(observer) {}

  Result<TarStats> Run(const std::string& target, const ExtractOptions& options) {
    if (::mkdir(target.c_str(), 0700) != 0) {
      if (errno != EEXIST) return FailErrno(errno, "create restore target " + target);
      CV_RETURN_IF_ERROR(CheckExistingTarget(target, options.overwrite));
    }

    in_.reset(archive_read_new());
    out_.reset(archive_write_disk_new());
    if (!in_ || !out_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_read_support_format_tar(in_.get());
    int flags = ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_ACL |
                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_FFLAGS | ARCHIVE_EXTRACT_SECURE_NODOTDOT |
                ARCHIVE_EXTRACT_SECURE_SYMLINKS;
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
    Result<ByteView> piece = x->next_();
    if (!piece) {
      x->source_error_ = std::unexpected(std::move(piece).error());
      archive_set_error(a, EIO, "archive source failed");
      return -1;
    }
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

  Status ExtractEntry(struct archive_entry* entry, const std::string& prefix) {
    const std::string name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!SafeRelative(name))
      return Fail(ErrorCode::kCorrupt, "tar entry '" + name + "' would land outside the target");
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
      archive_entry_copy_hardlink(entry, (prefix + link).c_str());
      ++stats_.hardlinks;
    }
    const mode_t type = archive_entry_filetype(entry);
    if (type == AE_IFREG) ++stats_.files;
    else if (type == AE_IFDIR) ++stats_.dirs;
    else if (type == AE_IFLNK) ++stats_.symlinks;
    else ++stats_.others;
    if (observer_) observer_->OnEntry(name, uint64_t(archive_entry_size(entry)));

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
    for (;;) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(in_.get(), &buf, &size, &offset);
      if (r == ARCHIVE_EOF) return {};
      if (r != ARCHIVE_OK) return ReadError("read data of " + name);
      if (archive_write_data_block(out_.get(), buf, size, offset) != ARCHIVE_OK)
        return Fail(ErrorCode::kIo, "write " + name + ": " + archive_error_string(out_.get()));
      stats_.bytes += size;
    }
  }

  const std::function<Result<ByteView>()>& next_;
  TarObserver* observer_;
  Status source_error_;
  TarStats stats_;
  std::optional<RootAttrs> root_;
  std::unique_ptr<struct archive, ReadDeleter> in_;
  std::unique_ptr<struct archive, WriteDeleter> out_;
};

}  // namespace

Result<TarStats> ExtractTar(const std::function<Result<ByteView>()>& next,
                            const std::string& target, const ExtractOptions& options,
                            TarObserver* observer) {
  TarExtractor extractor(next, observer);
  return extractor.Run(target, options);
}

}  // namespace chunkvault
