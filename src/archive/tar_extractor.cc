// Extraction of tar streams: libarchive parses the stream, TreeRestorer
// (tree_restorer.h) makes every node, confined below the target.
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

#include "archive/posix_acl.h"
#include "archive/tar.h"
#include "archive/tree_restorer.h"

namespace chunkvault {
namespace {

struct ReadDeleter {
  void operator()(struct archive* a) const { archive_read_free(a); }
};

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
  TarExtractor(TarSource& source, TarObserver* observer) : source_(source), restorer_(observer) {}

  Result<TarStats> Run(const std::string& target, const ExtractOptions& options) {
    CV_RETURN_IF_ERROR(restorer_.Open(target, options));
    in_.reset(archive_read_new());
    if (!in_) return Fail(ErrorCode::kInternal, "libarchive: out of memory");
    archive_read_support_format_tar(in_.get());
    if (archive_read_open(in_.get(), this, nullptr, &ReadCallback, nullptr) != ARCHIVE_OK)
      return ReadError("open tar stream");

    for (;;) {
      struct archive_entry* entry = nullptr;
      int r = archive_read_next_header(in_.get(), &entry);
      if (r == ARCHIVE_EOF) break;
      if (r == ARCHIVE_WARN)
        restorer_.Warn(std::string("tar stream: ") + archive_error_string(in_.get()));
      else if (r != ARCHIVE_OK)
        return ReadError("read tar header");
      CV_RETURN_IF_ERROR(ExtractEntry(entry));
    }
    return WithContext(restorer_.Finish(), "restore into " + target);
  }

 private:
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

  NodeMetadata MetadataOf(struct archive_entry* entry, const std::string& name) {
    NodeMetadata m;
    m.perm = archive_entry_perm(entry) & 07777;
    m.atime = archive_entry_atime_is_set(entry)
                  ? timespec{archive_entry_atime(entry), archive_entry_atime_nsec(entry)}
                  : restorer_.start();
    m.mtime = archive_entry_mtime_is_set(entry)
                  ? timespec{archive_entry_mtime(entry), archive_entry_mtime_nsec(entry)}
                  : restorer_.start();
    if (restorer_.options().restore_owner)
      m.owner.emplace(owners_.Uid(archive_entry_uname(entry), uid_t(archive_entry_uid(entry))),
                      owners_.Gid(archive_entry_gname(entry), gid_t(archive_entry_gid(entry))));
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
      if (unsupported)
        restorer_.Warn(name + ": NFSv4 ACL entries cannot be restored here; left out");
    }
    archive_entry_fflags(entry, &m.fflags_set, &m.fflags_clear);
    return m;
  }

  Status ExtractEntry(struct archive_entry* entry) {
    using Type = RestoreNode::Type;
    RestoreNode node;
    node.name = archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "";
    if (!SafeRelative(node.name))
      return Fail(ErrorCode::kCorrupt,
                  "tar entry '" + node.name + "' would land outside the target");
    node.rel = Normalize(node.name);
    node.size = uint64_t(archive_entry_size(entry));
    if (const char* link = archive_entry_hardlink(entry)) {
      if (!SafeRelative(link))
        return Fail(ErrorCode::kCorrupt,
                    "tar hard link '" + node.name + "' points outside the target: " + link);
      node.type = Type::kHardlink;
      node.link = Normalize(link);
      return restorer_.Add(std::move(node), nullptr);
    }
    switch (archive_entry_filetype(entry)) {
      case AE_IFREG:
        node.type = Type::kFile;
        break;
      case AE_IFDIR:
        node.type = Type::kDirectory;
        break;
      case AE_IFLNK:
        node.type = Type::kSymlink;
        node.link = archive_entry_symlink(entry) ? archive_entry_symlink(entry) : "";
        break;
      case AE_IFIFO:
        node.type = Type::kFifo;
        break;
      case AE_IFCHR:
        node.type = Type::kCharDevice;
        break;
      case AE_IFBLK:
        node.type = Type::kBlockDevice;
        break;
      default:
        restorer_.Warn(node.name + ": entries of this type (" +
                       std::to_string(archive_entry_filetype(entry)) +
                       ") cannot be restored; left out");
        return {};
    }
    node.rdev = archive_entry_rdev(entry);
    node.meta = MetadataOf(entry, node.name);
    const std::string name = node.name;
    return restorer_.Add(std::move(node),
                         [&](const TakeData& take) { return ReadData(name, take); });
  }

  // Feeds the current entry's data blocks to `take`, lent where the
  // stream piece they lie in can be kept.
  Status ReadData(const std::string& name, const TakeData& take) {
    for (;;) {
      const void* buf = nullptr;
      size_t n = 0;
      la_int64_t offset = 0;
      int r = archive_read_data_block(in_.get(), &buf, &n, &offset);
      if (r == ARCHIVE_EOF) return {};
      if (r != ARCHIVE_OK) return ReadError("read data of " + name);
      const auto* p = static_cast<const uint8_t*>(buf);
      CV_RETURN_IF_ERROR(take(uint64_t(offset), p, n, Lender(p, n)));
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

  TarSource& source_;
  Piece pieces_[2];  // the newest first
  OwnerLookup owners_;
  IdLookup ids_{[this](const char* n, uid_t id) { return owners_.Uid(n, id); },
                [this](const char* n, gid_t id) { return owners_.Gid(n, id); }};
  Status source_error_;
  std::unique_ptr<struct archive, ReadDeleter> in_;
  TreeRestorer restorer_;  // last: its writers finish before the stream goes
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
