#include "archive/pxar/tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/exclude_rules.h"
#include "archive/file_data.h"
#include "archive/pxar/encoder.h"
#include "archive/pxar/fs_metadata.h"
#include "archive/tree_walker.h"
#include "util/thread_annotations.h"

namespace chunkvault::pxar {
namespace {

// What a describer thread makes of an entry (WalkEntry::extra).
struct Prepared {
  Metadata meta;
  Bytes symlink_target;
};

class TreeWriter {
 public:
  TreeWriter(const TreeWriteOptions& options, StreamSink& meta, StreamSink* payload,
             TarObserver* observer, CatalogWriter* catalog)
      : options_(options),
        encoder_(meta, payload),
        split_(payload != nullptr),
        observer_(observer),
        catalog_(catalog) {}

  Result<TarStats> Run(const std::string& root) {
    struct stat st;
    if (::lstat(root.c_str(), &st) != 0) return FailErrno(errno, "backup source " + root);
    if (!S_ISDIR(st.st_mode))
      return Fail(ErrorCode::kInvalidArgument, "backup source " + root + " is not a directory");
    struct statfs fs;
    if (::statfs(root.c_str(), &fs) != 0) return FailErrno(errno, "backup source " + root);
    if (IsVirtualFileSystem(int64_t(fs.f_type)))
      return Fail(ErrorCode::kInvalidArgument,
                  "backup source " + root + " is a virtual file system (not backed up)");
    root_dev_ = st.st_dev;
    for (const std::string& path : options_.include_devices) {
      struct stat mount;
      if (::stat(path.c_str(), &mount) != 0) return FailErrno(errno, "--include-dev " + path);
      devices_.insert(mount.st_dev);
    }

    std::vector<PathPattern> patterns;
    std::string pattern_lines;  // as PBS stores them
    for (const std::string& text : options_.excludes) {
      CV_ASSIGN_OR_RETURN(PathPattern p, WithContext(PathPattern::Parse(text), "--exclude"));
      patterns.push_back(std::move(p));
      pattern_lines += text + "\n";
    }
    std::optional<Bytes> prelude;
    if (split_ && !patterns.empty()) {
      const std::string json = nlohmann::json{{"exclude-patterns", pattern_lines}}.dump();
      prelude = Bytes(json.begin(), json.end());
    }
    ExcludeRules rules(std::move(patterns));
    TreeWalker walker(
        root, [this](WalkEntry& w, const EntryAccess& at, unsigned) { Prepare(w, at); },
        [this](int fd, const struct stat& dir) { return Descend(fd, dir); }, &rules);
    std::optional<WalkEntry> top = walker.Next();
    if (!top) return Fail(ErrorCode::kInternal, "the tree walker lost the root");
    if (!top->warning.empty()) return Fail(ErrorCode::kIo, top->warning);
    if (!top->note.empty()) Warn(top->note);
    CV_RETURN_IF_ERROR(encoder_.Begin(std::any_cast<Prepared&>(top->extra).meta, prelude));
    ++stats_.dirs;
    std::vector<std::string> open = {"."};  // directories entered, by rel
    while (std::optional<WalkEntry> e = walker.Next()) {
      if (!e->warning.empty()) {
        Warn(e->warning);
        continue;
      }
      if (!e->note.empty()) Warn(e->note);
      const std::string& rel = e->rel;
      while (open.size() > 1 && !(rel.starts_with(open.back()) && rel.size() > open.back().size() &&
                                  rel[open.back().size()] == '/')) {
        CV_RETURN_IF_ERROR(EndDirectory());
        open.pop_back();
      }
      const size_t slash = rel.rfind('/');
      if (rel.compare(0, slash, open.back()) != 0 || slash != open.back().size())
        continue;  // below a directory that was skipped
      CV_RETURN_IF_ERROR(Add(*e, AsBytes(std::string_view(rel).substr(slash + 1))));
      if (S_ISDIR(e->st.st_mode)) open.push_back(rel);
    }
    for (; open.size() > 1; open.pop_back()) CV_RETURN_IF_ERROR(EndDirectory());
    if (!split_ && !pattern_lines.empty()) CV_RETURN_IF_ERROR(AddExcludeFile(pattern_lines));
    CV_RETURN_IF_ERROR(encoder_.Finish());
    return stats_;
  }

 private:
  void Warn(const std::string& message) {
    ++stats_.warnings;
    if (observer_) observer_->OnWarning(message);
  }

  // PBS's record of the command line's patterns in a unified archive: a
  // last root file, the caller's, mode 0600, time 0.
  Status AddExcludeFile(const std::string& lines) {
    Metadata m;
    m.stat.mode = kModeReg | 0600;
    m.stat.uid = ::getuid();
    m.stat.gid = ::getgid();
    if (catalog_)
      CV_RETURN_IF_ERROR(catalog_->AddFile(AsBytes(".pxarexclude-cli"), lines.size(), 0));
    CV_RETURN_IF_ERROR(encoder_.BeginFile(AsBytes(".pxarexclude-cli"), m, lines.size()));
    CV_RETURN_IF_ERROR(encoder_.WriteFileData(AsBytes(lines)));
    return encoder_.EndFile();
  }

  // On a describer thread.
  void Prepare(WalkEntry& w, const EntryAccess& at) {
    Prepared p;
    const bool opened = S_ISREG(w.st.st_mode) || S_ISDIR(w.st.st_mode);
    std::string note;
    p.meta = ReadFsMetadata(w.st, opened ? at.fd : -1, MagicOf(w.st.st_dev, at), &note);
    if (!note.empty()) w.note = "incomplete metadata of " + w.path + ": " + note;
    if (S_ISLNK(w.st.st_mode)) {
      char buf[kMaxPathLen + 1];
      const ssize_t n = ::readlinkat(at.dir_fd, at.name, buf, sizeof buf);
      if (n <= 0 || size_t(n) > kMaxPathLen) {
        w.warning = "cannot read symlink " + w.path + ": " +
                    (n < 0 ? std::strerror(errno) : "target too long") + " (skipped)";
        return;
      }
      p.symlink_target.assign(buf, buf + n);
    }
    w.extra = std::move(p);
  }

  // The file system type of device `dev`, asked once per device.
  int64_t MagicOf(dev_t dev, const EntryAccess& at) {
    std::lock_guard lock(mu_);
    auto it = magic_.find(dev);
    if (it != magic_.end()) return it->second;
    struct statfs fs;
    const int fd = at.fd >= 0 ? at.fd : at.dir_fd;
    const int64_t magic = ::fstatfs(fd, &fs) == 0 ? int64_t(fs.f_type) : 0;
    magic_.emplace(dev, magic);
    return magic;
  }

  // On the lister thread.
  bool Descend(int fd, const struct stat& dir) {
    if (dir.st_dev == root_dev_) return true;
    if (!options_.all_file_systems && !devices_.contains(dir.st_dev)) return false;
    struct statfs fs;
    return ::fstatfs(fd, &fs) == 0 && !IsVirtualFileSystem(int64_t(fs.f_type));
  }

  Status EndDirectory() {
    if (catalog_) CV_RETURN_IF_ERROR(catalog_->EndDirectory());
    return encoder_.EndDirectory();
  }

  // PBS's catalog entry of an entry (a file's is made by AddFile).
  Status AddToCatalog(const struct stat& st, ByteView name) {
    if (!catalog_) return {};
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        return catalog_->StartDirectory(name);
      case S_IFLNK:
        return catalog_->AddOther(name, 'l');
      case S_IFBLK:
        return catalog_->AddOther(name, 'b');
      case S_IFCHR:
        return catalog_->AddOther(name, 'c');
      case S_IFIFO:
        return catalog_->AddOther(name, 'p');
      case S_IFSOCK:
        return catalog_->AddOther(name, 's');
      default:
        return {};
    }
  }

  Status Add(WalkEntry& w, ByteView name) {
    const Prepared& p = std::any_cast<Prepared&>(w.extra);
    const struct stat& st = w.st;
    if (observer_) observer_->OnEntry(w.rel, S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0);
    CV_RETURN_IF_ERROR(AddToCatalog(st, name));
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        ++stats_.dirs;
        return encoder_.BeginDirectory(name, p.meta);
      case S_IFREG:
        ++stats_.files;
        return AddFile(w, name, p.meta);
      case S_IFLNK:
        ++stats_.symlinks;
        return encoder_.AddSymlink(name, p.meta, p.symlink_target);
      case S_IFCHR:
      case S_IFBLK:
        ++stats_.others;
        return encoder_.AddDevice(name, p.meta, major(st.st_rdev), minor(st.st_rdev));
      case S_IFIFO:
      case S_IFSOCK:
        ++stats_.others;
        return encoder_.AddSpecial(name, p.meta);
      default:
        Warn("skipped " + w.path + ": unknown file type");
        return {};
    }
  }

  Status AddFile(WalkEntry& w, ByteView name, const Metadata& meta) {
    const struct stat& st = w.st;
    const std::string path(w.rel.substr(2));  // from the root, no "./"
    const std::pair<dev_t, ino_t> inode(st.st_dev, st.st_ino);
    if (st.st_nlink > 1) {
      auto link = links_.find(inode);
      if (link != links_.end()) {
        ++stats_.hardlinks;
        if (catalog_) CV_RETURN_IF_ERROR(catalog_->AddOther(name, 'h'));
        return encoder_.AddHardlink(name, AsBytes(link->second.first), link->second.second);
      }
    }
    const uint64_t size = uint64_t(st.st_size);
    if (catalog_) CV_RETURN_IF_ERROR(catalog_->AddFile(name, size, st.st_mtim.tv_sec));
    CV_ASSIGN_OR_RETURN(uint64_t offset, encoder_.BeginFile(name, meta, size));
    CV_RETURN_IF_ERROR(CopyFileData(
        w.fd.get(), w.path, size, [this] { return encoder_.FileSpace(); },
        [this](std::span<uint8_t> piece) { return encoder_.CommitFileData(piece.size()); },
        [this](const std::string& m) { Warn(m); }));
    CV_RETURN_IF_ERROR(encoder_.EndFile());
    stats_.bytes += size;
    struct stat after;
    if (::fstat(w.fd.get(), &after) == 0 &&
        (after.st_size != st.st_size || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
         after.st_mtim.tv_nsec != st.st_mtim.tv_nsec))
      Warn(w.path + " changed while being read (stored as read)");
    w.fd.reset();
    if (st.st_nlink > 1) links_.emplace(inode, std::pair(path, offset));
    return {};
  }

  const TreeWriteOptions& options_;
  Encoder encoder_;
  const bool split_;
  TarObserver* const observer_;
  CatalogWriter* const catalog_;
  TarStats stats_;
  dev_t root_dev_ = 0;
  std::set<dev_t> devices_;  // entered besides the root's
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, uint64_t>> links_;  // path, offset
  std::mutex mu_;
  std::map<dev_t, int64_t> magic_ CV_GUARDED_BY(mu_);
};

}  // namespace

Result<TarStats> WriteTree(const std::string& root, const TreeWriteOptions& options,
                           StreamSink& meta, StreamSink* payload, TarObserver* observer,
                           CatalogWriter* catalog) {
  TreeWriter writer(options, meta, payload, observer, catalog);
  return writer.Run(root);
}

}  // namespace chunkvault::pxar
