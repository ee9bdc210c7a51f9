#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "archive/tar.h"
#include "archive/tree_walker.h"

namespace chunkvault {
namespace {

constexpr size_t kReadBuffer = 1 << 20;

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct DiskDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
struct ResolverDeleter {
  void operator()(struct archive_entry_linkresolver* r) const {
    archive_entry_linkresolver_free(r);
  }
};
using EntryPtr = std::unique_ptr<struct archive_entry, EntryDeleter>;

std::string ErrnoText(int err) { return std::strerror(err); }

class TarWriter {
 public:
  TarWriter(const std::function<Status(ByteView)>& sink, TarObserver* observer)
      : sink_(sink), observer_(observer) {}

  Result<TarStats> Run(const std::string& root) {
    CV_RETURN_IF_ERROR(Open());
    struct stat st;
    if (::lstat(root.c_str(), &st) != 0) return FailErrno(errno, "backup source " + root);
    if (!S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kInvalidArgument, "backup source " + root + " is not a directory");
    TreeWalker walker(root);
    while (std::optional<WalkEntry> e = walker.Next()) {
      if (!e->warning.empty()) {
        Warn(e->warning);
        continue;
      }
      CV_RETURN_IF_ERROR(AddEntry(*e));
    }
    // Entries the link resolver still holds back (none for the tar
    // strategy, but the API requires draining it).
    struct archive_entry* spare = nullptr;
    struct archive_entry* held = nullptr;
    archive_entry_linkify(resolver_.get(), &held, &spare);
    while (held != nullptr) {
      EntryPtr owned(held);
      CV_RETURN_IF_ERROR(WriteHeader(held, archive_entry_pathname(held)));
      held = nullptr;
      archive_entry_linkify(resolver_.get(), &held, &spare);
    }
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) return ArchiveError("finish tar stream");
    return stats_;
  }

 private:
  static la_ssize_t WriteCallback(struct archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<TarWriter*>(self);
    Status st = w->sink_(ByteView(static_cast<const uint8_t*>(buf), len));
    if (!st) {
      w->sink_error_ = std::move(st);
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  Status Open() {
    archive_.reset(archive_write_new());
    disk_.reset(archive_read_disk_new());
    resolver_.reset(archive_entry_linkresolver_new());
    if (!archive_ || !disk_ || !resolver_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_write_set_format_pax(archive_.get());
    // Store names as the raw bytes the filesystem holds. Converting them to
    // UTF-8 depends on the locale (it fails under "C" for any non-ASCII
    // name); raw bytes restore exactly, whatever the locale.
    archive_write_set_options(archive_.get(), "hdrcharset=BINARY");
    // Hand data to the sink in 64 KiB blocks; no padding of the last block
    // beyond tar's own 512-byte records.
    archive_write_set_bytes_per_block(archive_.get(), 64 * 1024);
    archive_write_set_bytes_in_last_block(archive_.get(), 1);
    archive_read_disk_set_standard_lookup(disk_.get());
    // Holes are stored as zeros (below): without this libarchive would
    // still look for them, six lseek calls per file.
    archive_read_disk_set_behavior(disk_.get(), ARCHIVE_READDISK_NO_SPARSE);
    archive_entry_linkresolver_set_strategy(resolver_.get(), archive_format(archive_.get()));
    if (archive_write_open2(archive_.get(), this, nullptr, &WriteCallback, nullptr, nullptr) !=
        ARCHIVE_OK)
      return ArchiveError("start tar stream");
    return {};
  }

  // A failed libarchive call: the sink's own error if it caused it.
  std::unexpected<Error> ArchiveError(const std::string& what) {
    if (!sink_error_) return std::unexpected(sink_error_.error());
    const char* msg = archive_error_string(archive_.get());
    return Fail(ErrorCode::kIo, what + ": " + (msg ? msg : "libarchive error"));
  }

  void Warn(const std::string& message) {
    ++stats_.warnings;
    if (observer_) observer_->OnWarning(message);
  }

  Status AddEntry(WalkEntry& w) {
    const struct stat& st = w.st;
    if (S_ISSOCK(st.st_mode)) {
      Warn("skipped socket " + w.path + " (tar cannot store sockets)");
      return {};
    }
    EntryPtr entry(archive_entry_new());
    archive_entry_copy_pathname(entry.get(), w.rel.c_str());
    archive_entry_copy_sourcepath(entry.get(), w.path.c_str());
    int r = archive_read_disk_entry_from_file(disk_.get(), entry.get(), w.fd ? w.fd.get() : -1, &st);
    if (r < ARCHIVE_WARN) {
      Warn("cannot read metadata of " + w.path + ": " + archive_error_string(disk_.get()) +
           " (skipped)");
      return {};
    }
    if (r == ARCHIVE_WARN)
      Warn("incomplete metadata of " + w.path + ": " + archive_error_string(disk_.get()));
    // Times that change without the content changing would make every
    // backup's stream different.
    archive_entry_unset_atime(entry.get());
    archive_entry_unset_ctime(entry.get());
    archive_entry_unset_birthtime(entry.get());
    // Holes are stored as zeros: simpler and the chunk store dedups them.
    archive_entry_sparse_clear(entry.get());

    struct archive_entry* e = entry.release();
    struct archive_entry* spare = nullptr;
    archive_entry_linkify(resolver_.get(), &e, &spare);
    if (spare != nullptr) archive_entry_free(spare);
    if (e == nullptr) return {};  // held back by the resolver (not for tar)
    EntryPtr owned(e);
    const bool is_link = archive_entry_hardlink(e) != nullptr;
    CV_RETURN_IF_ERROR(WriteHeader(e, w.path));
    if (S_ISREG(st.st_mode)) {
      ++stats_.files;
      if (is_link) ++stats_.hardlinks;
    } else if (S_ISDIR(st.st_mode)) {
      ++stats_.dirs;
    } else if (S_ISLNK(st.st_mode)) {
      ++stats_.symlinks;
    } else {
      ++stats_.others;
    }
    if (observer_) observer_->OnEntry(w.rel, S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0);
    if (S_ISREG(st.st_mode) && !is_link && archive_entry_size(e) > 0)
      CV_RETURN_IF_ERROR(CopyData(w.fd.get(), w.path, uint64_t(archive_entry_size(e))));
    return {};
  }

  Status WriteHeader(struct archive_entry* e, const std::string& path) {
    int r = archive_write_header(archive_.get(), e);
    if (r == ARCHIVE_WARN) {
      Warn("tar header of " + path + ": " + archive_error_string(archive_.get()));
    } else if (r != ARCHIVE_OK) {
      return ArchiveError("write tar header of " + path);
    }
    return {};
  }

  // Copies exactly `size` bytes: the header already promised that many. A
  // file that shrank meanwhile is padded with zeros, one that grew is cut.
  Status CopyData(int fd, const std::string& path, uint64_t size) {
    if (buffer_.empty()) buffer_.resize(kReadBuffer);
    uint64_t done = 0;
    while (done < size) {
      size_t want = size_t(std::min<uint64_t>(buffer_.size(), size - done));
      ssize_t n = ::read(fd, buffer_.data(), want);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (n < 0) Warn("read error in " + path + ": " + ErrnoText(errno) + " (rest stored as zeros)");
        else Warn(path + " shrank while being read (rest stored as zeros)");
        std::fill(buffer_.begin(), buffer_.end(), 0);
        while (done < size) {
          size_t z = size_t(std::min<uint64_t>(buffer_.size(), size - done));
          CV_RETURN_IF_ERROR(WriteData(buffer_.data(), z, path));
          done += z;
        }
        break;
      }
      CV_RETURN_IF_ERROR(WriteData(buffer_.data(), size_t(n), path));
      done += uint64_t(n);
    }
    stats_.bytes += size;
    return {};
  }

  Status WriteData(const uint8_t* data, size_t len, const std::string& path) {
    la_ssize_t n = archive_write_data(archive_.get(), data, len);
    if (n < 0 || size_t(n) != len) return ArchiveError("write tar data of " + path);
    return {};
  }

  const std::function<Status(ByteView)>& sink_;
  TarObserver* observer_;
  Status sink_error_;
  TarStats stats_;
  std::vector<uint8_t> buffer_;
  std::unique_ptr<struct archive, ArchiveDeleter> archive_;
  std::unique_ptr<struct archive, DiskDeleter> disk_;
  std::unique_ptr<struct archive_entry_linkresolver, ResolverDeleter> resolver_;
};

}  // namespace

Result<TarStats> WriteTar(const std::string& root, const std::function<Status(ByteView)>& sink,
                          TarObserver* observer) {
  TarWriter writer(sink, observer);
  return writer.Run(root);
}

}  // namespace chunkvault
