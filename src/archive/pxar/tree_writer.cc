#include "archive/pxar/tree_writer.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>

#include "archive/exclude_rules.h"
#include "archive/file_data.h"
#include "archive/pxar/accessor.h"
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
        previous_(payload != nullptr ? options.previous : nullptr),
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
        [this](int fd, const struct stat& dir) { return Descend(fd, dir); }, &rules,
        /*read_ahead=*/previous_ == nullptr);
    std::optional<WalkEntry> top = walker.Next();
    if (!top) return Fail(ErrorCode::kInternal, "the tree walker lost the root");
    if (!top->warning.empty()) return Fail(ErrorCode::kIo, top->warning);
    if (!top->note.empty()) Warn(top->note);
    CV_RETURN_IF_ERROR(encoder_.Begin(std::any_cast<Prepared&>(top->extra).meta, prelude));
    ++stats_.dirs;
    if (previous_) OpenPrevious();
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
        CV_RETURN_IF_ERROR(LeaveDirectory());
        open.pop_back();
      }
      const size_t slash = rel.rfind('/');
      if (rel.compare(0, slash, open.back()) != 0 || slash != open.back().size())
        continue;  // below a directory that was skipped
      if (S_ISDIR(e->st.st_mode)) open.push_back(rel);
      const Bytes leaf(rel.begin() + long(slash) + 1, rel.end());
      CV_RETURN_IF_ERROR(Add(std::move(*e), leaf));
    }
    for (; open.size() > 1; open.pop_back()) CV_RETURN_IF_ERROR(LeaveDirectory());
    if (previous_) {
      CV_RETURN_IF_ERROR(Flush(/*keep_last=*/false, std::nullopt));
      stats_.reuse.padding = injected_ - frontier_.referenced;
    }
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

  // An entry as the walk hands it out: counted and shown, then encoded,
  // or held back while metadata change detection gathers a run of
  // reusable files.
  Status Add(WalkEntry w, ByteView name) {
    const struct stat& st = w.st;
    if (observer_) observer_->OnEntry(w.rel, S_ISREG(st.st_mode) ? uint64_t(st.st_size) : 0);
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        ++stats_.dirs;
        break;
      case S_IFREG:
        ++stats_.files;
        break;
      case S_IFLNK:
        ++stats_.symlinks;
        break;
      case S_IFCHR:
      case S_IFBLK:
      case S_IFIFO:
      case S_IFSOCK:
        ++stats_.others;
        break;
      default:
        Warn("skipped " + w.path + ": unknown file type");
        return {};
    }
    if (!previous_) return Encode(w, name, {});
    // A directory's previous table is looked up in its parent's, before
    // anything below it.
    if (S_ISDIR(st.st_mode)) prev_dirs_.push_back(EnterPrevious(name));
    return AddDetectingChanges(std::move(w), name);
  }

  // Writes an entry. A regular file is a hard link to an earlier one, a
  // reference into reused payload chunks (fate.reuse_at), or read.
  struct Fate {
    std::optional<uint64_t> reuse_at;  // where its PAYLOAD header goes in the new stream
    bool known = false;                // the previous archive had it
  };
  Status Encode(WalkEntry& w, ByteView name, const Fate& fate) {
    const Prepared& p = std::any_cast<Prepared&>(w.extra);
    const struct stat& st = w.st;
    CV_RETURN_IF_ERROR(AddToCatalog(st, name));
    switch (st.st_mode & S_IFMT) {
      case S_IFDIR:
        return encoder_.BeginDirectory(name, p.meta);
      case S_IFREG:
        return AddFile(w, name, p.meta, fate);
      case S_IFLNK:
        return encoder_.AddSymlink(name, p.meta, p.symlink_target);
      case S_IFCHR:
      case S_IFBLK:
        return encoder_.AddDevice(name, p.meta, major(st.st_rdev), minor(st.st_rdev));
      default:  // FIFOs and sockets (Add let nothing else through)
        return encoder_.AddSpecial(name, p.meta);
    }
  }

  Status AddFile(WalkEntry& w, ByteView name, const Metadata& meta, const Fate& fate) {
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
    stats_.bytes += size;
    if (catalog_) CV_RETURN_IF_ERROR(catalog_->AddFile(name, size, st.st_mtim.tv_sec));
    uint64_t offset = 0;
    if (fate.reuse_at) {
      CV_ASSIGN_OR_RETURN(offset, encoder_.AddPayloadRef(name, meta, {*fate.reuse_at, size}));
      ++stats_.reuse.files_reused;
      stats_.reuse.bytes_reused += size;
    } else {
      if (!w.fd && !Reopen(w)) return {};
      CV_ASSIGN_OR_RETURN(offset, encoder_.BeginFile(name, meta, size));
      CV_RETURN_IF_ERROR(CopyFileData(
          w.fd.get(), w.path, size, [this] { return encoder_.FileSpace(); },
          [this](std::span<uint8_t> piece) { return encoder_.CommitFileData(piece.size()); },
          [this](const std::string& m) { Warn(m); }));
      CV_RETURN_IF_ERROR(encoder_.EndFile());
      struct stat after;
      if (::fstat(w.fd.get(), &after) == 0 &&
          (after.st_size != st.st_size || after.st_mtim.tv_sec != st.st_mtim.tv_sec ||
           after.st_mtim.tv_nsec != st.st_mtim.tv_nsec))
        Warn(w.path + " changed while being read (stored as read)");
      if (previous_) {
        ++(fate.known ? stats_.reuse.files_reencoded : stats_.reuse.files_new);
        stats_.reuse.bytes_read += size;
      }
    }
    w.fd.reset();
    if (st.st_nlink > 1) links_.emplace(inode, std::pair(path, offset));
    return {};
  }

  // A held file to be read after all, whose descriptor was given back:
  // opened again by path, and only if it is still the file listed.
  bool Reopen(WalkEntry& w) {
    const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;
    UniqueFd fd(::open(w.path.c_str(), flags | O_NOATIME));
    if (!fd && errno == EPERM) fd.reset(::open(w.path.c_str(), flags));
    struct stat now;
    if (!fd || ::fstat(fd.get(), &now) != 0 || now.st_dev != w.st.st_dev ||
        now.st_ino != w.st.st_ino || !S_ISREG(now.st_mode)) {
      Warn("cannot read " + w.path + ": " +
           (fd ? std::string("replaced since it was listed") : std::strerror(errno)) +
           " (skipped)");
      return false;
    }
    w.fd = std::move(fd);
    return true;
  }

  Status LeaveDirectory() {
    if (previous_) {
      prev_dirs_.pop_back();
      if (holding_) {
        held_.push_back(Held{true, {}, {}, false, std::nullopt});
        return {};
      }
    }
    return EndDirectory();
  }

  // ---- Metadata change detection, as PBS's client does it (reuse.h) ----
  //
  // A reusable file is held back, and everything after it, while the
  // previous payload ranges of the files held stay contiguous. A flush
  // then plans the run (PlanRun): its files are written as references
  // into the previous chunks holding them, which join the new payload
  // stream whole; where that would carry too much padding, the files of
  // its first or last chunk, or all of them, are read instead. The last
  // chunk may be kept back for a run continuing in it.

  struct Held {
    bool dir_end = false;
    WalkEntry w;
    Bytes name;
    bool known = false;              // the previous archive had it
    std::optional<uint64_t> old_at;  // reusable: its range's start in the previous stream
  };
  // Entries held at most: a run's chunks are judged together, and a run
  // cut short by the limit goes on in the chunk kept back.
  // A reusable file gives its descriptor back when held (it is opened
  // again if it must be read after all); other regular files keep theirs,
  // at most kMaxHeldFds besides the walker's (TreeWalker::kMaxDescriptors).
  static constexpr size_t kMaxHeld = 65536;
  static constexpr size_t kMaxHeldFds = 256;

  Status AddDetectingChanges(WalkEntry w, ByteView name) {
    // The run goes on after this flush: the bytes after it are the next's.
    if (held_entries_ >= kMaxHeld || held_fds_ >= kMaxHeldFds)
      CV_RETURN_IF_ERROR(Flush(/*keep_last=*/true, range_end_));
    const struct stat& st = w.st;
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1 && !held_links_.emplace(st.st_dev, st.st_ino).second) {
        Hold(std::move(w), name, false, std::nullopt);  // a hard link to a file seen before
        return {};
      }
      const Previously prev = Compare(w, name);
      if (prev.reusable) {
        const auto [start, end] = *prev.range;
        if (range_end_ == 0) range_end_ = start;
        if (range_end_ != start) {
          // The bytes up to the next range are nobody's.
          CV_RETURN_IF_ERROR(Flush(/*keep_last=*/true, start));
        }
        range_end_ = end;
        Hold(std::move(w), name, true, start);
        return {};
      }
      // A changed file's old data right after the run is nobody's now.
      std::optional<uint64_t> follow;
      if (prev.range && prev.range->first >= range_end_) follow = prev.range->second;
      CV_RETURN_IF_ERROR(Flush(/*keep_last=*/false, follow));
      return Encode(w, name, Fate{std::nullopt, prev.known});
    }
    if (holding_) {
      Hold(std::move(w), name, false, std::nullopt);
      return {};
    }
    return Encode(w, name, {});
  }

  void Hold(WalkEntry w, ByteView name, bool known, std::optional<uint64_t> old_at) {
    holding_ = true;
    ++held_entries_;
    if (old_at) w.fd.reset();
    if (w.fd) ++held_fds_;
    held_.push_back(Held{false, std::move(w), Bytes(name.begin(), name.end()), known, old_at});
  }

  // What the previous archive says of file `w`.
  struct Previously {
    bool known = false;  // it had an entry of that name
    // That entry's payload range [start, end) in the previous stream (its
    // PAYLOAD header and data), if it was a file.
    std::optional<std::pair<uint64_t, uint64_t>> range;
    // Its metadata and size are the same, and its chunks usable.
    bool reusable = false;
  };
  Previously Compare(const WalkEntry& w, ByteView name) {
    Previously out;
    std::optional<Entry> prev = FindPrevious(name);
    out.known = prev.has_value();
    if (!prev || prev->kind != EntryKind::kFile || !prev->payload_ref) return out;
    const uint64_t at = prev->payload_ref->offset;
    constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
    if (at > kMax - kHeaderSize || prev->payload_ref->size > kMax - kHeaderSize - at)
      return out;  // no such range: a hostile archive
    const uint64_t end = at + kHeaderSize + prev->payload_ref->size;
    out.range = std::pair(at, end);
    if (prev->payload_ref->size != uint64_t(w.st.st_size) ||
        prev->metadata != std::any_cast<const Prepared&>(w.extra).meta)
      return out;
    // Refs must go strictly forwards; an archive of an older PBS client
    // may hold some that do not (or overlap): those files are read.
    if (last_reused_end_ && at < *last_reused_end_) return out;
    if (!ChunksUsable(at, end)) return out;
    last_reused_end_ = end;
    out.reusable = true;
    return out;
  }

  // Whether every previous payload chunk holding [start, end) may be
  // reused: each asked once (PreviousArchive::usable marks it used).
  bool ChunksUsable(uint64_t start, uint64_t end) {
    const std::vector<uint64_t>& ends = previous_->payload_ends;
    if (chunk_usable_.empty()) chunk_usable_.assign(ends.size(), 0);
    for (size_t i = size_t(std::upper_bound(ends.begin(), ends.end(), start) - ends.begin());
         i < ends.size(); ++i) {
      if (chunk_usable_[i] == 0)
        chunk_usable_[i] = !previous_->usable || previous_->usable(previous_->payload_digests[i])
                               ? 1
                               : -1;
      if (chunk_usable_[i] < 0) return false;
      if (ends[i] >= end) return true;
    }
    return false;  // past the index: ChunksOfRange will say so
  }

  // Writes the entries held: plans the run of reusable files among them
  // (PlanRun; `follow` as there), then writes what comes before the files
  // reused, the references and their chunks, and what comes after.
  Status Flush(bool keep_last, std::optional<uint64_t> follow) {
    std::vector<Held> held = std::move(held_);
    held_.clear();
    holding_ = false;
    held_entries_ = 0;
    held_fds_ = 0;
    std::vector<uint64_t> bounds;
    std::vector<size_t> at;  // held_ index of each file of the run
    for (size_t i = 0; i < held.size(); ++i) {
      if (!held[i].old_at) continue;
      bounds.push_back(*held[i].old_at);
      at.push_back(i);
    }
    bounds.push_back(range_end_);
    RunPlan plan;
    if (at.empty()) {
      plan.reuse = false;
    } else {
      CV_ASSIGN_OR_RETURN(plan, PlanRun(*previous_, bounds, frontier_, follow));
    }
    if (!plan.reuse) {
      CV_RETURN_IF_ERROR(PlaceKept());
      return Replay(held, 0, held.size(), std::nullopt);
    }
    const size_t n = at.size();
    const size_t mid_begin = plan.head == 0 ? 0 : at[plan.head];
    const size_t mid_end = plan.tail == 0 ? held.size() : at[n - plan.tail];
    std::vector<IndexedChunk>& chunks = plan.chunks.chunks;
    if (!plan.continues_kept) CV_RETURN_IF_ERROR(PlaceKept());
    CV_RETURN_IF_ERROR(Replay(held, 0, mid_begin, std::nullopt));
    // Where the first chunk starts in the new stream.
    const uint64_t base = encoder_.payload_position();
    CV_RETURN_IF_ERROR(Replay(held, mid_begin, mid_end, base - chunks.front().Start()));
    const IndexedChunk last = chunks.back();
    const bool keep = keep_last && plan.tail == 0;
    if (keep) chunks.pop_back();
    CV_RETURN_IF_ERROR(Inject(chunks));
    const unsigned placed_before = frontier_.chunk == last.index ? frontier_.placed : 0;
    frontier_ = ReuseFrontier{last.index,
                              keep,
                              placed_before + (keep ? 0 : 1),
                              plan.counted_to,
                              frontier_.padding + plan.padding,
                              frontier_.referenced + bounds[n - plan.tail] - bounds[plan.head]};
    kept_ = keep ? std::optional(last) : std::nullopt;
    return Replay(held, mid_end, held.size(), std::nullopt);
  }

  // Places the chunk kept back where the stream is now.
  Status PlaceKept() {
    if (!kept_) return {};
    CV_RETURN_IF_ERROR(Inject({*kept_}));
    kept_.reset();
    frontier_.kept = false;
    ++frontier_.placed;
    return {};
  }

  // Writes held entries [from, to): the reusable files as references at
  // their previous offset plus `shift` (mod 2^64), or read if no shift.
  Status Replay(std::vector<Held>& held, size_t from, size_t to, std::optional<uint64_t> shift) {
    for (size_t i = from; i < to; ++i) {
      Held& h = held[i];
      if (h.dir_end) {
        CV_RETURN_IF_ERROR(EndDirectory());
        continue;
      }
      Fate fate{std::nullopt, h.known};
      if (h.old_at && shift) fate.reuse_at = *h.old_at + *shift;
      CV_RETURN_IF_ERROR(Encode(h.w, h.name, fate));
    }
    return {};
  }

  Status Inject(const std::vector<IndexedChunk>& chunks) {
    std::vector<ReusedChunk> reused;
    reused.reserve(chunks.size());
    for (const IndexedChunk& c : chunks) {
      reused.push_back(ReusedChunk{c.digest, c.size});
      injected_ += c.size;
    }
    stats_.reuse.chunks_reused += chunks.size();
    return encoder_.InjectChunks(reused);
  }

  void OpenPrevious() {
    if (Status checked = CheckPayloadIndex(*previous_); !checked) {
      PreviousFailed(checked.error());
    } else if (auto opened = Accessor::Open(*previous_->meta, previous_->meta_size); !opened) {
      PreviousFailed(opened.error());
    } else {
      accessor_.emplace(std::move(*opened));
    }
    prev_dirs_.push_back(accessor_ ? EnterPrevious(accessor_->root()) : std::nullopt);
  }

  // The previous archive's table of directory `name` in the current one.
  std::optional<Accessor::Directory> EnterPrevious(ByteView name) {
    if (!previous_) return std::nullopt;
    std::optional<Entry> e = FindPrevious(name);
    if (!e || e->kind != EntryKind::kDirectory) return std::nullopt;
    return EnterPrevious(*e);
  }
  std::optional<Accessor::Directory> EnterPrevious(const Entry& dir) {
    if (!accessor_) return std::nullopt;
    auto table = accessor_->OpenDirectory(dir);
    if (!table) {
      PreviousFailed(table.error());
      return std::nullopt;
    }
    return std::move(*table);
  }

  std::optional<Entry> FindPrevious(ByteView name) {
    if (!accessor_ || prev_dirs_.empty() || !prev_dirs_.back()) return std::nullopt;
    auto found = accessor_->Find(*prev_dirs_.back(), name);
    if (!found) {
      PreviousFailed(found.error());
      return std::nullopt;
    }
    return std::move(*found);
  }

  // From here on every file is read; what was decided stands (its chunks
  // were checked when it was).
  void PreviousFailed(const Error& e) {
    // Told, not counted as a warning: the archive is complete.
    if (observer_)
      observer_->OnWarning("the previous archive cannot be read (" + e.message() +
         "): files from here on are read, not reused");
    accessor_.reset();
    for (auto& d : prev_dirs_) d.reset();
  }

  const TreeWriteOptions& options_;
  const PreviousArchive* const previous_;
  Encoder encoder_;
  const bool split_;
  TarObserver* const observer_;
  CatalogWriter* const catalog_;
  TarStats stats_;
  dev_t root_dev_ = 0;
  std::set<dev_t> devices_;  // entered besides the root's
  std::map<std::pair<dev_t, ino_t>, std::pair<std::string, uint64_t>> links_;  // path, offset
  // Metadata change detection: the previous archive's directory tables
  // along the walk (the root's first; nullopt where it has none), the
  // entries held and the range of previous payload they reuse.
  std::optional<Accessor> accessor_;
  std::vector<std::optional<Accessor::Directory>> prev_dirs_;
  std::vector<Held> held_;
  bool holding_ = false;
  size_t held_entries_ = 0, held_fds_ = 0;
  uint64_t range_end_ = 0;  // of the run held: its files' previous range ends here
  ReuseFrontier frontier_;
  std::optional<IndexedChunk> kept_;  // the frontier's chunk, while kept back
  std::optional<uint64_t> last_reused_end_;
  uint64_t injected_ = 0;             // previous payload bytes placed in the new stream
  std::vector<int8_t> chunk_usable_;  // per previous payload chunk: 0 not asked, 1 yes, -1 no
  std::set<std::pair<dev_t, ino_t>> held_links_;
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
