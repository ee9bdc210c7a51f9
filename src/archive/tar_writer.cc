#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <vector>

#include "archive/file_data.h"
#include "archive/tar.h"
#include "archive/tar_names.h"
#include "archive/tree_walker.h"
#include "util/byte_buffer.h"

namespace chunkvault {
namespace {

struct ArchiveDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct DiskDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ResolverDeleter {
  void operator()(struct archive_entry_linkresolver* r) const {
    archive_entry_linkresolver_free(r);
  }
};
using EntryPtr = std::unique_ptr<struct archive_entry, ArchiveEntryFree>;

// Reads each entry's metadata with libarchive's disk reader, on a describer
// thread of the tree walker (its prepare hook), ahead of the tar writer.
class MetadataReader {
 public:
  Status Open() {
    disk_.reset(archive_read_disk_new());
    plain_disk_.reset(archive_read_disk_new());
    if (!disk_ || !plain_disk_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    // Holes are stored as zeros (Read): without NO_SPARSE libarchive
    // would still look for them, six lseek calls per file. plain_disk_
    // reads entries without extended attributes (HasXattrs).
    archive_read_disk_set_standard_lookup(disk_.get());
    archive_read_disk_set_behavior(disk_.get(), ARCHIVE_READDISK_NO_SPARSE);
    archive_read_disk_set_standard_lookup(plain_disk_.get());
    archive_read_disk_set_behavior(
        plain_disk_.get(),
        ARCHIVE_READDISK_NO_SPARSE | ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_XATTR);
    proc_fds_ = ::access("/proc/self/fd", X_OK) == 0;
    return {};
  }

  // Sets w.meta, or w.warning if the entry must be skipped. Sockets are
  // left alone: the writer skips them with its own message.
  void Read(WalkEntry& w, const EntryAccess& at) {
    if (S_ISSOCK(w.st.st_mode)) return;
    EntryPtr entry(archive_entry_new());
    archive_entry_copy_pathname(entry.get(), w.rel.c_str());
    archive_entry_copy_sourcepath(entry.get(), SourcePath(w, at).c_str());
    struct archive* disk = HasXattrs(at) ? disk_.get() : plain_disk_.get();
    int r = archive_read_disk_entry_from_file(disk, entry.get(), at.fd, &w.st);
    if (r < ARCHIVE_WARN) {
      w.warning = "cannot read metadata of " + w.path + ": " + archive_error_string(disk) +
                  " (skipped)";
      return;
    }
    if (r == ARCHIVE_WARN)
      w.note = "incomplete metadata of " + w.path + ": " + archive_error_string(disk);
    // Times that change without the content changing would make every
    // backup's stream different.
    archive_entry_unset_atime(entry.get());
    archive_entry_unset_ctime(entry.get());
    archive_entry_unset_birthtime(entry.get());
    // Holes are stored as zeros: simpler and the chunk store dedups them.
    archive_entry_sparse_clear(entry.get());
    if (DropNonAsciiAclNames(entry.get()) > 0 && w.note.empty())
      w.note = "ACL of " + w.path + " names a non-ASCII user or group: stored by numeric id";
    w.meta.reset(entry.release());
  }

 private:
  // The path libarchive reads what it has no descriptor for by: a
  // symlink's target, a device's extended attributes, a directory's
  // default ACL; with a descriptor (`at.fd`) it uses that for the rest.
  // Through /proc/self/fd, relative to the walker's descriptors: the
  // entry listed, not whatever its path holds by now, and within
  // PATH_MAX however deep the tree (by its full path, a symlink deeper
  // than that could not be read and was left out). The full path where
  // /proc is not mounted.
  std::string SourcePath(const WalkEntry& w, const EntryAccess& at) const {
    if (!proc_fds_) return w.path;
    if (at.fd >= 0) return "/proc/self/fd/" + std::to_string(at.fd);
    if (at.dir_fd != AT_FDCWD) return "/proc/self/fd/" + std::to_string(at.dir_fd) + "/" + at.name;
    return w.path;
  }

  // Whether the entry may have extended attributes or ACLs. Linux keeps
  // ACLs in extended attributes (system.posix_acl_*, system.nfs4_acl), so
  // an empty list means neither: one listxattr call then spares
  // libarchive's ACL lookup (three calls for a file, five for a
  // directory) and its own listxattr. Unsure (an error, no descriptor: a
  // symlink, a device) means yes.
  static bool HasXattrs(const EntryAccess& at) {
    return at.fd < 0 || ::flistxattr(at.fd, nullptr, 0) != 0;
  }

  std::unique_ptr<struct archive, DiskDeleter> disk_;
  std::unique_ptr<struct archive, DiskDeleter> plain_disk_;
  bool proc_fds_ = false;  // /proc/self/fd can be used (Open)
};

class TarWriter {
 public:
  TarWriter(StreamSink& sink, TarObserver* observer) : sink_(sink), observer_(observer) {}

  Result<TarStats> Run(const std::string& root) {
    CV_RETURN_IF_ERROR(Open());
    struct stat st;
    if (::lstat(root.c_str(), &st) != 0) return FailErrno(errno, "backup source " + root);
    if (!S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kInvalidArgument, "backup source " + root + " is not a directory");
    TreeWalker walker(root, [this](WalkEntry& w, const EntryAccess& at, unsigned describer) {
      metadata_[describer].Read(w, at);
    });
    while (std::optional<WalkEntry> e = walker.Next()) {
      if (!e->warning.empty()) {
        Warn(e->warning);
        continue;
      }
      if (!e->note.empty()) Warn(e->note);
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
    CV_RETURN_IF_ERROR(sink_error_);
    return stats_;
  }

 private:
  // libarchive writes unbuffered: each piece of the stream arrives here as
  // it is made, file data at the address it was read to (in_place_), which
  // is the sink's own memory. A sink error is kept and reported by the
  // caller; libarchive always hears success, because its own failure paths
  // leak memory (LeakSanitizer caught one in the pax header writer).
  static la_ssize_t WriteCallback(struct archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<TarWriter*>(self);
    if (!w->sink_error_) return static_cast<la_ssize_t>(len);
    const auto* bytes = static_cast<const uint8_t*>(buf);
    Status st;
    if (!w->in_place_.empty() && bytes == w->in_place_.data()) {
      // pax writes a regular file's data in one piece; a split would mean
      // the sink had moved the rest meanwhile.
      st = len == w->in_place_.size()
               ? w->sink_.Commit(len)
               : Fail(ErrorCode::kInternal, "libarchive split a piece of file data");
      w->in_place_ = {};
    } else {
      st = w->sink_.Write(ByteView(bytes, len));
    }
    if (!st) w->sink_error_ = std::move(st);
    return static_cast<la_ssize_t>(len);
  }

  Status Open() {
    for (MetadataReader& m : metadata_) CV_RETURN_IF_ERROR(m.Open());
    archive_.reset(archive_write_new());
    resolver_.reset(archive_entry_linkresolver_new());
    if (!archive_ || !resolver_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_write_set_format_pax(archive_.get());
    // Names as raw bytes, no pax header for plain ones (tar_names.h).
    CV_RETURN_IF_ERROR(PinTarNamesToAscii(archive_.get()));
    // Unbuffered: every piece goes to the sink as it is made (file data
    // without a copy), and no padding beyond tar's own 512-byte records.
    archive_write_set_bytes_per_block(archive_.get(), 0);
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
    if (!w.meta) return Fail(ErrorCode::kInternal, "no metadata was read for " + w.path);
    // The resolver takes the entry over (and may hand back another).
    struct archive_entry* e = w.meta.release();
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
    CV_RETURN_IF_ERROR(sink_error_);
    if (r == ARCHIVE_WARN) {
      const char* msg = archive_error_string(archive_.get());
      if (msg == nullptr || !IsRawNameNotice(msg))
        Warn("tar header of " + path + ": " + (msg ? msg : "libarchive warning"));
    } else if (r != ARCHIVE_OK) {
      return ArchiveError("write tar header of " + path);
    }
    return {};
  }

  // Copies exactly `size` bytes: the header already promised that many.
  // The data is read into the sink's Space() and passes through libarchive
  // (which counts it and pads the entry) at that address.
  Status CopyData(int fd, const std::string& path, uint64_t size) {
    CV_RETURN_IF_ERROR(CopyFileData(
        fd, path, size, [this] { return sink_.Space(); },
        [&](std::span<uint8_t> piece) { return WriteData(piece, path); },
        [this](const std::string& w) { Warn(w); }));
    stats_.bytes += size;
    return {};
  }

  Status WriteData(std::span<uint8_t> region, const std::string& path) {
    in_place_ = region;
    la_ssize_t n = archive_write_data(archive_.get(), region.data(), region.size());
    in_place_ = {};
    CV_RETURN_IF_ERROR(sink_error_);
    if (n < 0 || size_t(n) != region.size()) return ArchiveError("write tar data of " + path);
    return {};
  }

  StreamSink& sink_;
  TarObserver* observer_;
  Status sink_error_;
  std::span<uint8_t> in_place_;  // file data being passed through libarchive
  TarStats stats_;
  std::unique_ptr<struct archive, ArchiveDeleter> archive_;
  // One per describer thread of the walker: libarchive's disk readers
  // (and their user and group name caches) are not thread-safe.
  std::array<MetadataReader, TreeWalker::kDescribers> metadata_;
  std::unique_ptr<struct archive_entry_linkresolver, ResolverDeleter> resolver_;
};

// A StreamSink over a function: file data goes through a buffer of its own.
class FunctionSink final : public StreamSink {
 public:
  explicit FunctionSink(const std::function<Status(ByteView)>& fn) : fn_(fn), buffer_(256 << 10) {}
  Status Write(ByteView data) override { return fn_(data); }
  std::span<uint8_t> Space() override { return buffer_.spare(); }
  Status Commit(size_t n) override { return fn_(ByteView(buffer_.data(), n)); }

 private:
  const std::function<Status(ByteView)>& fn_;
  ByteBuffer buffer_;
};

}  // namespace

Result<TarStats> WriteTar(const std::string& root, StreamSink& sink, TarObserver* observer) {
  TarWriter writer(sink, observer);
  return writer.Run(root);
}

Result<TarStats> WriteTar(const std::string& root, const std::function<Status(ByteView)>& sink,
                          TarObserver* observer) {
  FunctionSink adapter(sink);
  return WriteTar(root, adapter, observer);
}

}  // namespace chunkvault
