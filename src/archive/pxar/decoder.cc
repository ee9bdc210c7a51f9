#include "archive/pxar/decoder.h"

#include <algorithm>
#include <cstdio>
#include <numeric>

#include "archive/pxar/goodbye.h"

namespace chunkvault::pxar {
namespace {

// A stored path for messages: bytes that could upset a terminal escaped.
std::string Printable(ByteView path) {
  std::string out;
  for (uint8_t c : path) {
    if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += char(c);
    }
  }
  return out;
}

// A NUL-terminated string item's bytes without the NUL, or nullopt if
// it is empty, unterminated or holds another NUL.
std::optional<Bytes> CString(const Bytes& content) {
  if (content.size() < 2 || content.back() != 0) return std::nullopt;
  if (std::find(content.begin(), content.end() - 1, 0) != content.end() - 1) return std::nullopt;
  return Bytes(content.begin(), content.end() - 1);
}

bool IsMetadataItem(uint64_t type) {
  switch (type) {
    case kXattr:
    case kAclUser:
    case kAclGroup:
    case kAclGroupObj:
    case kAclDefault:
    case kAclDefaultUser:
    case kAclDefaultGroup:
    case kFcaps:
    case kQuotaProjid:
      return true;
    default:
      return false;
  }
}

// Contents of a fixed size, by type (~0: any size up to the format's limit).
uint64_t FixedContentSize(uint64_t type) {
  switch (type) {
    case kFormatVersion:
    case kAclGroupObj:
    case kQuotaProjid:
      return 8;
    case kAclUser:
    case kAclGroup:
    case kAclDefaultUser:
    case kAclDefaultGroup:
    case kDevice:
    case kPayloadRef:
      return 16;
    case kAclDefault:
      return 32;
    case kEntry:
      return kStatSize;
    case kEntryV1:
      return kStatV1Size;
    case kPayloadTailMarker:
    case kPayloadStartMarker:
      return 0;
    default:
      return ~uint64_t{0};
  }
}

}  // namespace

Decoder::Decoder(Input& meta, Input* payload, uint64_t offset, Bytes parent, int version,
                 bool whole)
    : meta_(meta),
      payload_(payload),
      pos_(offset),
      version_(version),
      path_(std::move(parent)),
      started_(true),
      scope_(whole ? Scope::kSubtree : Scope::kEntry) {
  dirs_.emplace_back();  // the parent: collects the entry, checks nothing
}

Result<std::unique_ptr<Decoder>> Decoder::HardlinkTarget(const Entry& link) {
  if (link.kind != EntryKind::kHardlink) return Fail(ErrorCode::kInternal, "not a hard link");
  if (!meta_.random_access())
    return Fail(ErrorCode::kUnsupported,
                "pxar: the target of hard link '" + Printable(link.path) +
                    "' lies behind, and this archive is read in one pass");
  const auto slash = std::find(link.link_target.rbegin(), link.link_target.rend(), '/');
  Bytes parent(link.link_target.begin(), slash.base());
  if (!parent.empty()) parent.pop_back();
  return std::make_unique<Decoder>(meta_, payload_, link.link_offset, std::move(parent), version_,
                                   /*whole=*/false);
}

ByteView Entry::name() const {
  const auto slash = std::find(path.rbegin(), path.rend(), '/');
  return ByteView(path).subspan(size_t(path.rend() - slash));
}

std::unexpected<Error> Decoder::Corrupt(std::string what, uint64_t at) {
  failed_ = true;
  std::string where = "offset " + std::to_string(at);
  if (!path_.empty()) where += " (in " + Printable(path_) + ")";
  return Fail(ErrorCode::kCorrupt, "pxar: " + what + " at " + where);
}

Status Decoder::ReadExact(Input& in, uint64_t offset, uint8_t* out, size_t n) {
  while (n > 0) {
    CV_ASSIGN_OR_RETURN(ByteView piece, in.ReadAt(offset, n));
    if (piece.empty()) {
      failed_ = true;
      return Fail(ErrorCode::kCorrupt,
                  "pxar: the " + std::string(&in == &meta_ ? "archive" : "payload stream") +
                      " ends at offset " + std::to_string(offset) + ", inside an item");
    }
    std::copy(piece.begin(), piece.end(), out);
    out += piece.size();
    offset += piece.size();
    n -= piece.size();
  }
  return {};
}

Result<Decoder::Header> Decoder::ReadHeader() {
  uint8_t raw[kHeaderSize];
  pending_at_ = pos_;
  CV_RETURN_IF_ERROR(ReadExact(meta_, pos_, raw, sizeof raw));
  Header h{LoadLe64(raw), LoadLe64(raw + 8)};
  if (h.full_size < kHeaderSize)
    return Corrupt(TypeName(h.type) + " item of size " + std::to_string(h.full_size), pos_);
  if (h.content_size() > MaxContentSize(h.type))
    return Corrupt(TypeName(h.type) + " item of " + std::to_string(h.content_size()) +
                       " bytes (at most " + std::to_string(MaxContentSize(h.type)) + ")",
                   pos_);
  const uint64_t fixed = FixedContentSize(h.type);
  if (fixed != ~uint64_t{0} && h.content_size() != fixed)
    return Corrupt(TypeName(h.type) + " item of " + std::to_string(h.content_size()) +
                       " bytes (it has " + std::to_string(fixed) + ")",
                   pos_);
  pos_ += kHeaderSize;
  return h;
}

// The header read ahead, if any, else the next one; its position is
// pending_at_ either way.
Result<Decoder::Header> Decoder::NextHeader() {
  if (pending_) {
    Header h = *pending_;
    pending_.reset();
    return h;
  }
  return ReadHeader();
}

Result<Bytes> Decoder::ReadContent(const Header& h) {
  Bytes out(size_t(h.content_size()));
  CV_RETURN_IF_ERROR(ReadExact(meta_, pos_, out.data(), out.size()));
  pos_ += out.size();
  return out;
}

Status Decoder::ReadMetadata(const Header& entry, Metadata& meta) {
  const uint64_t at = pending_at_;
  CV_ASSIGN_OR_RETURN(Bytes c, ReadContent(entry));
  Stat& s = meta.stat;
  s.mode = LoadLe64(c.data());
  s.flags = LoadLe64(c.data() + 8);
  s.uid = LoadLe32(c.data() + 16);
  s.gid = LoadLe32(c.data() + 20);
  if (entry.type == kEntry) {
    s.mtime_secs = int64_t(LoadLe64(c.data() + 24));
    s.mtime_nanos = LoadLe32(c.data() + 32);
    if (s.mtime_nanos >= 1000000000)
      return Corrupt("ENTRY with " + std::to_string(s.mtime_nanos) + " nanoseconds", at);
  } else {
    const uint64_t ns = LoadLe64(c.data() + 24);
    s.mtime_secs = int64_t(ns / 1000000000);
    s.mtime_nanos = uint32_t(ns % 1000000000);
  }
  for (size_t items = 0;; ++items) {
    CV_ASSIGN_OR_RETURN(Header h, ReadHeader());
    const uint64_t item_at = pending_at_;
    if (!IsMetadataItem(h.type)) {
      pending_ = h;
      return {};
    }
    if (items == kMaxMetadataItems)
      return Corrupt(
          "an entry with more than " + std::to_string(kMaxMetadataItems) + " xattr and ACL items",
          item_at);
    CV_ASSIGN_OR_RETURN(Bytes v, ReadContent(h));
    auto once = [&](bool already) -> Status {
      if (already) return Corrupt("a second " + TypeName(h.type) + " item", item_at);
      return {};
    };
    Acl& acl = meta.acl;
    switch (h.type) {
      case kXattr: {
        const auto nul = std::find(v.begin(), v.end(), 0);
        if (nul == v.end() || nul == v.begin())
          return Corrupt("XATTR without a name and its NUL", item_at);
        meta.xattrs.push_back(Xattr{Bytes(v.begin(), nul), Bytes(nul + 1, v.end())});
        break;
      }
      case kAclUser:
        acl.users.push_back({LoadLe64(v.data()), LoadLe64(v.data() + 8)});
        break;
      case kAclGroup:
        acl.groups.push_back({LoadLe64(v.data()), LoadLe64(v.data() + 8)});
        break;
      case kAclDefaultUser:
        acl.default_users.push_back({LoadLe64(v.data()), LoadLe64(v.data() + 8)});
        break;
      case kAclDefaultGroup:
        acl.default_groups.push_back({LoadLe64(v.data()), LoadLe64(v.data() + 8)});
        break;
      case kAclGroupObj:
        CV_RETURN_IF_ERROR(once(acl.group_obj.has_value()));
        acl.group_obj = LoadLe64(v.data());
        break;
      case kAclDefault:
        CV_RETURN_IF_ERROR(once(acl.default_acl.has_value()));
        acl.default_acl = AclDefault{LoadLe64(v.data()), LoadLe64(v.data() + 8),
                                     LoadLe64(v.data() + 16), LoadLe64(v.data() + 24)};
        break;
      case kFcaps:
        CV_RETURN_IF_ERROR(once(meta.fcaps.has_value()));
        meta.fcaps = std::move(v);
        break;
      case kQuotaProjid:
        CV_RETURN_IF_ERROR(once(meta.quota_project_id.has_value()));
        meta.quota_project_id = LoadLe64(v.data());
        break;
    }
  }
}

Result<std::optional<Entry>> Decoder::Next() {
  if (failed_) return Fail(ErrorCode::kInternal, "pxar: decoder used after an error");
  if (done_) return std::optional<Entry>();
  CV_RETURN_IF_ERROR(SkipFileData());
  Entry e;
  if (!started_) {
    started_ = true;
    CV_ASSIGN_OR_RETURN(Header h, NextHeader());
    if (h.type == kFormatVersion) {
      CV_ASSIGN_OR_RETURN(Bytes v, ReadContent(h));
      const uint64_t version = LoadLe64(v.data());
      if (version != 1 && version != 2)
        return Corrupt("format version " + std::to_string(version) + " (1 and 2 are known)", 0);
      version_ = int(version);
      CV_ASSIGN_OR_RETURN(h, NextHeader());
      if (h.type == kPrelude) {
        if (version_ != 2) return Corrupt("a PRELUDE in a version 1 archive", pending_at_);
        if (h.content_size() > kMaxPrelude)
          return Corrupt("PRELUDE of " + std::to_string(h.content_size()) + " bytes", pending_at_);
        CV_ASSIGN_OR_RETURN(Bytes p, ReadContent(h));
        prelude_ = std::move(p);
        CV_ASSIGN_OR_RETURN(h, NextHeader());
      }
    }
    if (h.type != kEntry && h.type != kEntryV1)
      return Corrupt("the archive starts with " + TypeName(h.type) + ", not with an ENTRY",
                     pending_at_);
    root_entry_offset_ = pending_at_;
    CV_RETURN_IF_ERROR(ReadMetadata(h, e.metadata));
    if (!e.metadata.stat.is_dir()) return Corrupt("the root is not a directory", 0);
    e.kind = EntryKind::kDirectory;
    Dir root;
    root.entry_offset = root_entry_offset_;
    dirs_.push_back(std::move(root));
    return std::optional<Entry>(std::move(e));
  }

  CV_ASSIGN_OR_RETURN(Header h, NextHeader());
  const uint64_t at = pending_at_;
  if (h.type == kGoodbye) {
    e.kind = EntryKind::kDirectoryEnd;
    e.path = path_;
    e.offset = dirs_.back().filename_offset;
    CV_RETURN_IF_ERROR(ReadGoodbye(h));
    if (scope_ != Scope::kArchive && dirs_.size() == 1) done_ = true;
    if (dirs_.empty()) {
      CV_ASSIGN_OR_RETURN(ByteView rest, meta_.ReadAt(pos_, 1));
      if (!rest.empty()) return Corrupt("bytes after the root directory's end", pos_);
      done_ = true;
    }
    return std::optional<Entry>(std::move(e));
  }
  if (h.type != kFilename)
    return Corrupt(TypeName(h.type) + " where a FILENAME or GOODBYE belongs", at);
  CV_ASSIGN_OR_RETURN(Bytes content, ReadContent(h));
  const std::optional<Bytes> name = CString(content);
  if (!name) return Corrupt("FILENAME that is not one NUL-terminated name", at);
  if (Status s = CheckFilename(*name); !s) return Corrupt(s.error().message(), at);
  if (dirs_.back().children.size() >= kMaxDirectoryEntries)
    return Corrupt("a directory of more than " + std::to_string(kMaxDirectoryEntries) + " entries",
                   at);
  e.path = path_;
  if (!e.path.empty()) e.path.push_back('/');
  e.path.insert(e.path.end(), name->begin(), name->end());
  if (e.path.size() > kMaxArchivePath)
    return Corrupt("a path longer than " + std::to_string(kMaxArchivePath) + " bytes", at);
  e.offset = at;
  CV_RETURN_IF_ERROR(ReadEntry(e, at));
  // Part of an archive: it ends with this entry, or with its end.
  if (scope_ == Scope::kEntry || (scope_ == Scope::kSubtree && dirs_.size() == 1)) done_ = true;
  return std::optional<Entry>(std::move(e));
}

Status Decoder::ReadEntry(Entry& e, uint64_t filename_offset) {
  const uint64_t hash = HashFilename(e.name());
  CV_ASSIGN_OR_RETURN(Header h, NextHeader());
  const uint64_t at = pending_at_;
  Dir& parent = dirs_.back();
  auto add_child = [&](uint64_t extra) {
    // A FIFO or socket ends where the header read after it begins.
    const uint64_t end = pending_ ? pending_at_ : pos_;
    const uint64_t span = end - filename_offset;
    parent.children.push_back(Child{hash, filename_offset, span, span + extra});
  };
  if (h.type == kHardlink) {
    CV_ASSIGN_OR_RETURN(Bytes c, ReadContent(h));
    if (c.size() < 10) return Corrupt("HARDLINK without a target", at);
    const uint64_t back = LoadLe64(c.data());
    const std::optional<Bytes> target = CString(Bytes(c.begin() + 8, c.end()));
    if (!target) return Corrupt("HARDLINK whose target is not one NUL-terminated path", at);
    if (back == 0 || back > filename_offset ||
        (scope_ == Scope::kArchive &&
         !std::binary_search(file_offsets_.begin(), file_offsets_.end(), filename_offset - back)))
      return Corrupt("HARDLINK pointing at no earlier regular file", at);
    e.kind = EntryKind::kHardlink;
    e.link_target = *target;
    e.link_offset = filename_offset - back;
    add_child(0);
    return {};
  }
  if (h.type != kEntry && h.type != kEntryV1)
    return Corrupt(TypeName(h.type) + " after a FILENAME (an ENTRY or HARDLINK belongs there)", at);
  CV_RETURN_IF_ERROR(ReadMetadata(h, e.metadata));
  const Stat& st = e.metadata.stat;
  if (st.is_dir()) {
    e.kind = EntryKind::kDirectory;
    Dir d;
    d.entry_offset = at;
    d.filename_offset = filename_offset;
    d.hash = hash;
    d.path_size = path_.size();
    dirs_.push_back(std::move(d));
    path_ = e.path;
    return {};
  }
  if (st.is_fifo() || st.is_socket()) {
    e.kind = st.is_fifo() ? EntryKind::kFifo : EntryKind::kSocket;
    add_child(0);
    return {};
  }
  CV_ASSIGN_OR_RETURN(Header body, NextHeader());
  const uint64_t body_at = pending_at_;
  if (st.is_regular()) {
    e.kind = EntryKind::kFile;
    file_offsets_.push_back(filename_offset);
    data_path_ = e.path;
    if (body.type == kPayload) {
      if (version_ == 2) return Corrupt("PAYLOAD in a split archive's metadata", body_at);
      e.size = body.content_size();
      data_in_ = &meta_;
      data_pos_ = pos_;
      data_left_ = e.size;
      data_checked_ = true;
      pos_ += e.size;  // read (or skipped) through data_pos_
      add_child(0);
      return {};
    }
    if (body.type == kPayloadRef) {
      if (version_ != 2) return Corrupt("PAYLOAD_REF in a version 1 archive", body_at);
      CV_ASSIGN_OR_RETURN(Bytes c, ReadContent(body));
      e.payload_ref = PayloadRef{LoadLe64(c.data()), LoadLe64(c.data() + 8)};
      e.size = e.payload_ref->size;
      data_ref_ = *e.payload_ref;
      data_in_ = nullptr;
      data_left_ = e.size;
      data_checked_ = false;
      add_child(e.size);
      return {};
    }
    return Corrupt(
        "a regular file with " + TypeName(body.type) + " (PAYLOAD or PAYLOAD_REF belongs)",
        body_at);
  }
  if (st.is_symlink()) {
    if (body.type != kSymlink)
      return Corrupt("a symlink with " + TypeName(body.type) + " (SYMLINK belongs)", body_at);
    CV_ASSIGN_OR_RETURN(Bytes c, ReadContent(body));
    const std::optional<Bytes> target = CString(c);
    if (!target) return Corrupt("SYMLINK that is not one NUL-terminated path", body_at);
    e.kind = EntryKind::kSymlink;
    e.link_target = *target;
    add_child(0);
    return {};
  }
  if (st.is_device()) {
    if (body.type != kDevice)
      return Corrupt("a device with " + TypeName(body.type) + " (DEVICE belongs)", body_at);
    CV_ASSIGN_OR_RETURN(Bytes c, ReadContent(body));
    e.kind = EntryKind::kDevice;
    e.device_major = LoadLe64(c.data());
    e.device_minor = LoadLe64(c.data() + 8);
    add_child(0);
    return {};
  }
  char mode[32];
  std::snprintf(mode, sizeof mode, "%llo", static_cast<unsigned long long>(st.mode));
  return Corrupt(std::string("an ENTRY of unknown file type (mode ") + mode + ")", at);
}

Status Decoder::ReadGoodbye(const Header& h) {
  const uint64_t at = pending_at_;
  Dir d = std::move(dirs_.back());
  dirs_.pop_back();
  const size_t n = d.children.size();
  if (h.content_size() != (n + 1) * kGoodbyeItemSize)
    return Corrupt("goodbye table of " + std::to_string(h.content_size()) + " bytes for " +
                       std::to_string(n) + " entries",
                   at);
  // What the table must hold, in tree order; equal hashes (a collision
  // or a repeated name) have no fixed order, so then as a set.
  std::vector<size_t> sorted(n);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::stable_sort(sorted.begin(), sorted.end(),
                   [&](size_t a, size_t b) { return d.children[a].hash < d.children[b].hash; });
  bool ties = false;
  for (size_t i = 1; i < n; ++i)
    ties = ties || d.children[sorted[i]].hash == d.children[sorted[i - 1]].hash;
  const std::vector<size_t> order = TreeOrder(n);
  auto fits = [&](const Child& c, const GoodbyeItem& item) {
    return item.hash == c.hash && item.offset == at - c.offset &&
           (item.size == c.size || item.size == c.alt_size);
  };
  std::vector<GoodbyeItem> table;  // only with ties
  constexpr size_t kBatch = 4096;
  Bytes buf;
  for (size_t i = 0; i < n + 1;) {
    const size_t m = std::min(kBatch, n + 1 - i);
    buf.resize(m * kGoodbyeItemSize);
    CV_RETURN_IF_ERROR(ReadExact(meta_, pos_, buf.data(), buf.size()));
    pos_ += buf.size();
    CV_ASSIGN_OR_RETURN(std::vector<GoodbyeItem> items, ParseGoodbye(buf));
    for (const GoodbyeItem& item : items) {
      if (i == n) {
        const bool root = dirs_.empty();
        if (item.hash != kGoodbyeTailMarker || item.size != h.full_size ||
            (item.offset != at - d.entry_offset && !(root && item.offset == at)))
          return Corrupt("goodbye table with a wrong tail item", at);
      } else if (ties) {
        table.push_back(item);
      } else if (!fits(d.children[sorted[order[i]]], item)) {
        return Corrupt("goodbye table item " + std::to_string(i) +
                           " that does not match the directory's entries",
                       at);
      }
      ++i;
    }
  }
  if (ties) {
    auto key = [](const GoodbyeItem& g) { return std::pair(g.hash, g.offset); };
    std::sort(table.begin(), table.end(),
              [&](const GoodbyeItem& a, const GoodbyeItem& b) { return key(a) < key(b); });
    std::vector<size_t> by_offset = sorted;
    std::sort(by_offset.begin(), by_offset.end(), [&](size_t a, size_t b) {
      const Child &x = d.children[a], &y = d.children[b];
      return std::pair(x.hash, at - x.offset) < std::pair(y.hash, at - y.offset);
    });
    for (size_t i = 0; i < n; ++i)
      if (!fits(d.children[by_offset[i]], table[i]))
        return Corrupt("goodbye table that does not match the directory's entries", at);
  }
  if (!dirs_.empty()) {
    dirs_.back().children.push_back(
        Child{d.hash, d.filename_offset, pos_ - d.filename_offset, pos_ - d.filename_offset});
    path_.resize(d.path_size);
  }
  return {};
}

Status Decoder::SkipFileData() {
  data_in_ = nullptr;
  data_left_ = 0;
  data_checked_ = true;
  return {};
}

Status Decoder::StartPayload() {
  if (payload_started_ || payload_->random_access()) return {};
  uint8_t raw[kHeaderSize];
  CV_RETURN_IF_ERROR(ReadExact(*payload_, 0, raw, sizeof raw));
  if (LoadLe64(raw) != kPayloadStartMarker || LoadLe64(raw + 8) != kHeaderSize) {
    failed_ = true;
    return Fail(ErrorCode::kCorrupt, "pxar: the payload stream does not start with its marker");
  }
  payload_started_ = true;
  return {};
}

Status Decoder::CheckPayloadRef() {
  if (payload_ == nullptr)
    return Fail(ErrorCode::kInvalidArgument,
                "pxar: file data of a split archive needs its payload stream");
  CV_RETURN_IF_ERROR(StartPayload());
  uint8_t raw[kHeaderSize];
  const uint64_t at = data_ref_.offset;
  CV_RETURN_IF_ERROR(ReadExact(*payload_, at, raw, sizeof raw));
  if (LoadLe64(raw) != kPayload || LoadLe64(raw + 8) != kHeaderSize + data_ref_.size) {
    failed_ = true;
    return Fail(ErrorCode::kCorrupt, "pxar: the payload ref at payload offset " +
                                         std::to_string(at) +
                                         " does not land on a PAYLOAD header of " +
                                         std::to_string(data_ref_.size) + " bytes");
  }
  data_in_ = payload_;
  data_pos_ = at + kHeaderSize;
  data_checked_ = true;
  return {};
}

Result<ByteView> Decoder::ReadFileData(size_t max) {
  if (failed_) return Fail(ErrorCode::kInternal, "pxar: decoder used after an error");
  if (!data_checked_) {
    Status s = CheckPayloadRef();
    if (!s) return std::unexpected(std::move(s).error().Context(Printable(data_path_)));
  }
  if (data_left_ == 0) return ByteView();
  Result<ByteView> read = data_in_->ReadAt(data_pos_, size_t(std::min<uint64_t>(max, data_left_)));
  if (!read) return std::unexpected(std::move(read).error().Context(Printable(data_path_)));
  const ByteView piece = *read;
  if (piece.empty()) {
    failed_ = true;
    return Fail(ErrorCode::kCorrupt, "pxar: " + Printable(data_path_) +
                                         ": the stream ends at offset " +
                                         std::to_string(data_pos_) + ", inside its data");
  }
  data_pos_ += piece.size();
  data_left_ -= piece.size();
  return piece;
}

std::shared_ptr<const void> Decoder::KeepFileData() {
  return data_in_ ? data_in_->Keep() : nullptr;
}

}  // namespace chunkvault::pxar
