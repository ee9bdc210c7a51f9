#include "archive/pxar/to_tar.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/sysmacros.h>

#include <memory>

#include "archive/pxar/fs_metadata.h"
#include "archive/tar_names.h"

namespace chunkvault::pxar {
namespace {

struct WriteDeleter {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

constexpr char kCapability[] = "security.capability";

std::string TarName(const Bytes& path) {
  return path.empty() ? "." : "./" + std::string(AsString(path));
}

class TarConverter {
 public:
  TarConverter(Decoder& decoder, const std::function<Status(ByteView)>& out)
      : decoder_(decoder), out_(out) {}

  Result<TarStats> Run() {
    archive_.reset(archive_write_new());
    if (!archive_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_write_set_format_pax(archive_.get());
    CV_RETURN_IF_ERROR(PinTarNamesToAscii(archive_.get()));
    archive_write_set_bytes_per_block(archive_.get(), 0);
    if (archive_write_open2(archive_.get(), this, nullptr, &WriteCallback, nullptr, nullptr) !=
        ARCHIVE_OK)
      return ArchiveError("start tar stream");
    for (;;) {
      CV_ASSIGN_OR_RETURN(std::optional<Entry> e, decoder_.Next());
      if (!e) break;
      if (e->kind == EntryKind::kDirectoryEnd) continue;
      CV_RETURN_IF_ERROR(Add(*e));
    }
    if (archive_write_close(archive_.get()) != ARCHIVE_OK) return ArchiveError("finish tar stream");
    CV_RETURN_IF_ERROR(out_error_);
    return stats_;
  }

 private:
  // The sink's error is kept and libarchive hears success (see tar_writer.cc).
  static la_ssize_t WriteCallback(struct archive*, void* self, const void* buf, size_t len) {
    auto* c = static_cast<TarConverter*>(self);
    if (c->out_error_) c->out_error_ = c->out_(ByteView(static_cast<const uint8_t*>(buf), len));
    return static_cast<la_ssize_t>(len);
  }

  std::unexpected<Error> ArchiveError(const std::string& what) {
    if (!out_error_) return std::unexpected(out_error_.error());
    const char* msg = archive_error_string(archive_.get());
    return Fail(ErrorCode::kIo, what + ": " + (msg ? msg : "libarchive error"));
  }

  Status Add(const Entry& e) {
    std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
    struct archive_entry* a = entry.get();
    archive_entry_copy_pathname(a, TarName(e.path).c_str());
    if (e.kind == EntryKind::kHardlink) {
      // A link to the first name: tar's hard link entry, no data.
      archive_entry_set_filetype(a, AE_IFREG);
      archive_entry_copy_hardlink(a, TarName(e.link_target).c_str());
      ++stats_.files;
      ++stats_.hardlinks;
      return WriteHeader(a, e);
    }
    const Metadata& m = e.metadata;
    archive_entry_set_mode(a, mode_t(m.stat.mode));
    archive_entry_set_uid(a, m.stat.uid);
    archive_entry_set_gid(a, m.stat.gid);
    archive_entry_set_mtime(a, time_t(m.stat.mtime_secs), long(m.stat.mtime_nanos));
    for (const Xattr& x : m.xattrs)
      archive_entry_xattr_add_entry(a, std::string(AsString(x.name)).c_str(), x.value.data(),
                                    x.value.size());
    if (m.fcaps) archive_entry_xattr_add_entry(a, kCapability, m.fcaps->data(), m.fcaps->size());
    for (const auto& [name, value] : AclXattrs(m.acl, m.stat.mode))
      archive_entry_xattr_add_entry(a, name.c_str(), value.data(), value.size());
    if (const uint64_t chattr = ChattrFromFlags(m.stat.flags); chattr != 0)
      archive_entry_set_fflags(a, static_cast<unsigned long>(chattr), 0);
    switch (e.kind) {
      case EntryKind::kDirectory:
        ++stats_.dirs;
        break;
      case EntryKind::kSymlink:
        ++stats_.symlinks;
        archive_entry_copy_symlink(a, std::string(AsString(e.link_target)).c_str());
        break;
      case EntryKind::kDevice:
        ++stats_.others;
        archive_entry_set_rdev(a, makedev(unsigned(e.device_major), unsigned(e.device_minor)));
        break;
      case EntryKind::kFifo:
      case EntryKind::kSocket:
        ++stats_.others;
        break;
      case EntryKind::kFile:
        ++stats_.files;
        archive_entry_set_size(a, la_int64_t(e.size));
        break;
      default:
        break;
    }
    if (e.kind == EntryKind::kSocket) return {};  // tar has no sockets
    CV_RETURN_IF_ERROR(WriteHeader(a, e));
    if (e.kind != EntryKind::kFile) return {};
    for (;;) {
      CV_ASSIGN_OR_RETURN(ByteView piece, decoder_.ReadFileData());
      if (piece.empty()) break;
      const la_ssize_t n = archive_write_data(archive_.get(), piece.data(), piece.size());
      CV_RETURN_IF_ERROR(out_error_);
      if (n < 0 || size_t(n) != piece.size()) return ArchiveError("write tar data");
      stats_.bytes += piece.size();
    }
    return {};
  }

  Status WriteHeader(struct archive_entry* a, const Entry& e) {
    const int r = archive_write_header(archive_.get(), a);
    CV_RETURN_IF_ERROR(out_error_);
    if (r == ARCHIVE_WARN) {
      const char* msg = archive_error_string(archive_.get());
      if (msg == nullptr || !IsRawNameNotice(msg)) ++stats_.warnings;
    } else if (r != ARCHIVE_OK) {
      return ArchiveError("write tar header of " + TarName(e.path));
    }
    return {};
  }

  Decoder& decoder_;
  const std::function<Status(ByteView)>& out_;
  Status out_error_;
  TarStats stats_;
  std::unique_ptr<struct archive, WriteDeleter> archive_;
};

}  // namespace

Result<TarStats> WriteAsTar(Decoder& decoder, const std::function<Status(ByteView)>& out) {
  TarConverter converter(decoder, out);
  return converter.Run();
}

}  // namespace chunkvault::pxar
