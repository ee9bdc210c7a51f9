#include "archive/pxar/encoder.h"

#include <algorithm>
#include <utility>

#include "archive/pxar/goodbye.h"

namespace chunkvault::pxar {
namespace {

void AppendItem(Bytes& out, uint64_t type, ByteView content) {
  AppendHeader(out, type, content.size());
  out.insert(out.end(), content.begin(), content.end());
}

void AppendU64Item(Bytes& out, uint64_t type, std::initializer_list<uint64_t> values) {
  AppendHeader(out, type, 8 * values.size());
  for (uint64_t v : values) AppendLe64(out, v);
}

Status Discard(Result<uint64_t> r) {
  if (!r) return std::unexpected(std::move(r).error());
  return {};
}

// A string item's content: the bytes and a NUL.
Bytes WithNul(ByteView bytes) {
  Bytes out(bytes.begin(), bytes.end());
  out.push_back(0);
  return out;
}

}  // namespace

Bytes EncodeMetadata(const Metadata& meta) {
  Bytes out;
  const Stat& s = meta.stat;
  AppendHeader(out, kEntry, kStatSize);
  AppendLe64(out, s.mode);
  AppendLe64(out, s.flags);
  AppendLe64(out, uint64_t(s.uid) | uint64_t(s.gid) << 32);
  AppendLe64(out, uint64_t(s.mtime_secs));
  AppendLe64(out, s.mtime_nanos);  // and the 4 bytes of padding, zero
  for (const Xattr& x : meta.xattrs) {
    Bytes content = WithNul(x.name);
    content.insert(content.end(), x.value.begin(), x.value.end());
    AppendItem(out, kXattr, content);
  }
  const Acl& acl = meta.acl;
  for (const AclUser& u : acl.users) AppendU64Item(out, kAclUser, {u.uid, u.permissions});
  for (const AclGroup& g : acl.groups) AppendU64Item(out, kAclGroup, {g.gid, g.permissions});
  if (acl.group_obj) AppendU64Item(out, kAclGroupObj, {*acl.group_obj});
  if (acl.default_acl) {
    const AclDefault& d = *acl.default_acl;
    AppendU64Item(out, kAclDefault, {d.user_obj, d.group_obj, d.other, d.mask});
  }
  for (const AclUser& u : acl.default_users)
    AppendU64Item(out, kAclDefaultUser, {u.uid, u.permissions});
  for (const AclGroup& g : acl.default_groups)
    AppendU64Item(out, kAclDefaultGroup, {g.gid, g.permissions});
  if (meta.fcaps) AppendItem(out, kFcaps, *meta.fcaps);
  if (meta.quota_project_id) AppendU64Item(out, kQuotaProjid, {*meta.quota_project_id});
  return out;
}

std::unexpected<Error> Encoder::Fail(ErrorCode code, std::string message) {
  failed_ = true;
  return chunkvault::Fail(code, "pxar encoder: " + std::move(message));
}

Status Encoder::Check() {
  if (failed_) return chunkvault::Fail(ErrorCode::kInternal, "pxar encoder: used after an error");
  if (!begun_ || finished_ || dirs_.empty())
    return Fail(ErrorCode::kInternal, "no directory is open");
  if (file_) return Fail(ErrorCode::kInternal, "a file's data is incomplete");
  return {};
}

Status Encoder::WriteMeta(ByteView bytes) {
  Status s = meta_.Write(bytes);
  if (!s) failed_ = true;
  pos_ += bytes.size();
  return s;
}

Status Encoder::WritePayload(ByteView bytes) {
  Status s = payload_->Write(bytes);
  if (!s) failed_ = true;
  payload_pos_ += bytes.size();
  return s;
}

Status Encoder::Begin(const Metadata& root, const std::optional<Bytes>& prelude) {
  if (begun_) return Fail(ErrorCode::kInternal, "Begin called twice");
  if (!root.stat.is_dir()) return Fail(ErrorCode::kInvalidArgument, "the root is not a directory");
  if (prelude && !payload_)
    return Fail(ErrorCode::kInvalidArgument, "a prelude needs a split (version 2) archive");
  begun_ = true;
  Bytes out;
  if (payload_) {
    Bytes marker;
    AppendHeader(marker, kPayloadStartMarker, 0);
    CV_RETURN_IF_ERROR(WritePayload(marker));
    AppendU64Item(out, kFormatVersion, {2});
    if (prelude) AppendItem(out, kPrelude, *prelude);
  }
  const Bytes meta = EncodeMetadata(root);
  out.insert(out.end(), meta.begin(), meta.end());
  dirs_.push_back(Dir{});  // the root's tail points at byte 0, as PBS writes it
  return WriteMeta(out);
}

Result<uint64_t> Encoder::AddEntry(ByteView name, const Metadata* meta, uint64_t type,
                                   ByteView content) {
  CV_RETURN_IF_ERROR(Check());
  if (Status s = CheckFilename(name); !s)
    return Fail(ErrorCode::kInvalidArgument, s.error().message());
  const uint64_t start = pos_;
  Bytes out;
  AppendItem(out, kFilename, WithNul(name));
  if (meta != nullptr) {
    const Bytes m = EncodeMetadata(*meta);
    out.insert(out.end(), m.begin(), m.end());
  }
  if (type != 0) AppendItem(out, type, content);
  CV_RETURN_IF_ERROR(WriteMeta(out));
  dirs_.back().items.push_back(GoodbyeItem{HashFilename(name), start, pos_ - start});
  return start;
}

Status Encoder::BeginDirectory(ByteView name, const Metadata& meta) {
  CV_RETURN_IF_ERROR(Check());
  if (!meta.stat.is_dir()) return Fail(ErrorCode::kInvalidArgument, "not a directory's metadata");
  if (Status s = CheckFilename(name); !s)
    return Fail(ErrorCode::kInvalidArgument, s.error().message());
  Dir dir;
  dir.filename_offset = pos_;
  dir.hash = HashFilename(name);
  Bytes out;
  AppendItem(out, kFilename, WithNul(name));
  dir.entry_offset = pos_ + out.size();
  const Bytes m = EncodeMetadata(meta);
  out.insert(out.end(), m.begin(), m.end());
  CV_RETURN_IF_ERROR(WriteMeta(out));
  dirs_.push_back(std::move(dir));
  return {};
}

Status Encoder::EndDirectory() {
  CV_RETURN_IF_ERROR(Check());
  if (dirs_.size() == 1) return Fail(ErrorCode::kInternal, "EndDirectory at the root (Finish)");
  Dir dir = std::move(dirs_.back());
  dirs_.pop_back();
  const uint64_t goodbye_offset = pos_;
  Bytes out;
  AppendItem(out, kGoodbye, EncodeGoodbye(std::move(dir.items), goodbye_offset, dir.entry_offset));
  CV_RETURN_IF_ERROR(WriteMeta(out));
  dirs_.back().items.push_back(
      GoodbyeItem{dir.hash, dir.filename_offset, pos_ - dir.filename_offset});
  return {};
}

Result<uint64_t> Encoder::BeginFile(ByteView name, const Metadata& meta, uint64_t size) {
  CV_RETURN_IF_ERROR(Check());
  if (!meta.stat.is_regular()) return Fail(ErrorCode::kInvalidArgument, "not a file's metadata");
  Bytes header;
  AppendHeader(header, kPayload, size);
  uint64_t start;
  if (payload_) {
    Status cut = payload_->SuggestCut();
    if (!cut) {
      failed_ = true;
      return std::unexpected(cut.error());
    }
    Bytes ref;
    AppendLe64(ref, payload_pos_);
    AppendLe64(ref, size);
    CV_ASSIGN_OR_RETURN(start, AddEntry(name, &meta, kPayloadRef, ref));
    CV_RETURN_IF_ERROR(WritePayload(header));
  } else {
    CV_ASSIGN_OR_RETURN(start, AddEntry(name, &meta, 0, {}));
    CV_RETURN_IF_ERROR(WriteMeta(header));
  }
  // The goodbye size counts the data too, even where it is in the
  // payload stream (as PBS writes it).
  GoodbyeItem item = dirs_.back().items.back();
  dirs_.back().items.pop_back();
  item.size = pos_ - start + size;
  file_ = item;
  file_left_ = size;
  return start;
}

Status Encoder::WriteFileData(ByteView data) {
  while (!data.empty()) {
    std::span<uint8_t> room = FileSpace();
    if (room.empty()) return Fail(ErrorCode::kInternal, "more file data than the size given");
    const size_t n = std::min(room.size(), data.size());
    std::copy_n(data.data(), n, room.data());
    CV_RETURN_IF_ERROR(CommitFileData(n));
    data = data.subspan(n);
  }
  return {};
}

std::span<uint8_t> Encoder::FileSpace() {
  if (!file_ || failed_ || file_left_ == 0) return {};
  std::span<uint8_t> room = payload_ ? payload_->Space() : meta_.Space();
  return room.first(size_t(std::min<uint64_t>(room.size(), file_left_)));
}

Status Encoder::CommitFileData(size_t n) {
  if (!file_ || n > file_left_) return Fail(ErrorCode::kInternal, "file data past the file's size");
  Status s = payload_ ? payload_->Commit(n) : meta_.Commit(n);
  if (!s) {
    failed_ = true;
    return s;
  }
  (payload_ ? payload_pos_ : pos_) += n;
  file_left_ -= n;
  return {};
}

Status Encoder::EndFile() {
  if (!file_) return Fail(ErrorCode::kInternal, "no file is open");
  if (file_left_ != 0)
    return Fail(ErrorCode::kInternal, std::to_string(file_left_) + " bytes of the file missing");
  dirs_.back().items.push_back(*file_);
  file_.reset();
  return {};
}

Status Encoder::InjectChunks(std::span<const ReusedChunk> chunks) {
  CV_RETURN_IF_ERROR(Check());
  if (!payload_) return Fail(ErrorCode::kInvalidArgument, "reused chunks need a split archive");
  if (file_) return Fail(ErrorCode::kInternal, "chunks injected inside a file's data");
  Status s = payload_->InjectChunks(chunks);
  if (!s) {
    failed_ = true;
    return s;
  }
  for (const ReusedChunk& c : chunks) payload_pos_ += c.size;
  return {};
}

Result<uint64_t> Encoder::AddPayloadRef(ByteView name, const Metadata& meta, PayloadRef ref) {
  CV_RETURN_IF_ERROR(Check());
  if (!payload_) return Fail(ErrorCode::kInvalidArgument, "payload refs need a split archive");
  if (!meta.stat.is_regular()) return Fail(ErrorCode::kInvalidArgument, "not a file's metadata");
  if (ref.offset < payload_pos_ || (last_ref_ && ref.offset <= *last_ref_))
    return Fail(ErrorCode::kInvalidArgument,
                "payload ref at " + std::to_string(ref.offset) + ", behind the payload position " +
                    std::to_string(payload_pos_) + " or the last ref");
  last_ref_ = ref.offset;
  Bytes content;
  AppendLe64(content, ref.offset);
  AppendLe64(content, ref.size);
  return AddEntry(name, &meta, kPayloadRef, content);
}

Status Encoder::AddSymlink(ByteView name, const Metadata& meta, ByteView target) {
  if (!meta.stat.is_symlink()) return Fail(ErrorCode::kInvalidArgument, "not a symlink's metadata");
  if (target.empty() || target.size() > kMaxPathLen)
    return Fail(ErrorCode::kInvalidArgument,
                "symlink target of " + std::to_string(target.size()) + " bytes");
  return Discard(AddEntry(name, &meta, kSymlink, WithNul(target)));
}

Status Encoder::AddDevice(ByteView name, const Metadata& meta, uint64_t major, uint64_t minor) {
  if (!meta.stat.is_device()) return Fail(ErrorCode::kInvalidArgument, "not a device's metadata");
  Bytes content;
  AppendLe64(content, major);
  AppendLe64(content, minor);
  return Discard(AddEntry(name, &meta, kDevice, content));
}

Status Encoder::AddSpecial(ByteView name, const Metadata& meta) {
  if (!meta.stat.is_fifo() && !meta.stat.is_socket())
    return Fail(ErrorCode::kInvalidArgument, "not a FIFO's or socket's metadata");
  return Discard(AddEntry(name, &meta, 0, {}));
}

Status Encoder::AddHardlink(ByteView name, ByteView target_path, uint64_t target_offset) {
  CV_RETURN_IF_ERROR(Check());
  if (target_offset >= pos_)
    return Fail(ErrorCode::kInvalidArgument, "a hard link must point at an earlier file");
  if (target_path.empty() || target_path.size() > kMaxPathLen)
    return Fail(ErrorCode::kInvalidArgument,
                "hard link target of " + std::to_string(target_path.size()) + " bytes");
  Bytes content;
  AppendLe64(content, pos_ - target_offset);
  const Bytes path = WithNul(target_path);
  content.insert(content.end(), path.begin(), path.end());
  return Discard(AddEntry(name, nullptr, kHardlink, content));
}

Status Encoder::Finish() {
  CV_RETURN_IF_ERROR(Check());
  if (dirs_.size() != 1)
    return Fail(ErrorCode::kInternal, std::to_string(dirs_.size() - 1) + " directories still open");
  Dir root = std::move(dirs_.back());
  dirs_.pop_back();
  const uint64_t goodbye_offset = pos_;
  Bytes out;
  AppendItem(out, kGoodbye, EncodeGoodbye(std::move(root.items), goodbye_offset, 0));
  CV_RETURN_IF_ERROR(WriteMeta(out));
  if (payload_) {
    Bytes marker;
    AppendHeader(marker, kPayloadTailMarker, 0);
    CV_RETURN_IF_ERROR(WritePayload(marker));
  }
  finished_ = true;
  return {};
}

}  // namespace chunkvault::pxar
