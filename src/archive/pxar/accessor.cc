#include "archive/pxar/accessor.h"

#include <algorithm>

#include "archive/pxar/goodbye.h"

namespace chunkvault::pxar {
namespace {

std::unexpected<Error> Corrupt(const std::string& what, uint64_t at) {
  return Fail(ErrorCode::kCorrupt, "pxar: " + what + " at offset " + std::to_string(at));
}

Result<Bytes> ReadBytes(Input& in, uint64_t offset, uint64_t n) {
  Bytes out;
  out.reserve(size_t(n));
  while (out.size() < n) {
    CV_ASSIGN_OR_RETURN(ByteView piece, in.ReadAt(offset + out.size(), size_t(n - out.size())));
    if (piece.empty()) return Corrupt("the archive ends inside an item", offset + out.size());
    out.insert(out.end(), piece.begin(), piece.end());
  }
  return out;
}

}  // namespace

Result<Accessor> Accessor::Open(Input& meta, uint64_t size) {
  Accessor a(meta, size);
  Decoder d(meta, nullptr);
  CV_ASSIGN_OR_RETURN(std::optional<Entry> root, d.Next());
  if (!root) return Fail(ErrorCode::kInternal, "pxar: no root entry");
  a.version_ = d.version();
  a.root_ = std::move(*root);
  a.root_.end = size;
  return a;
}

Status Accessor::ReadGoodbye(const Entry& dir, std::vector<GoodbyeItem>& items, uint64_t& at) {
  const uint64_t end = dir.end;
  if (end < dir.offset + kHeaderSize + kGoodbyeItemSize || end > size_)
    return Corrupt("a directory range too small for its goodbye table", dir.offset);
  CV_ASSIGN_OR_RETURN(Bytes raw, ReadBytes(*meta_, end - kGoodbyeItemSize, kGoodbyeItemSize));
  const GoodbyeItem tail{LoadLe64(raw.data()), LoadLe64(raw.data() + 8), LoadLe64(raw.data() + 16)};
  const uint64_t full = tail.size;
  if (tail.hash != kGoodbyeTailMarker || full < kHeaderSize + kGoodbyeItemSize ||
      (full - kHeaderSize) % kGoodbyeItemSize != 0 || full > end - dir.offset)
    return Corrupt("a goodbye table without a valid tail", end - kGoodbyeItemSize);
  const uint64_t n = (full - kHeaderSize) / kGoodbyeItemSize - 1;
  if (n > kMaxDirectoryEntries)
    return Corrupt("a directory of more than " + std::to_string(kMaxDirectoryEntries) + " entries",
                   end - full);
  at = end - full;
  CV_ASSIGN_OR_RETURN(Bytes table, ReadBytes(*meta_, at, full));
  if (LoadLe64(table.data()) != kGoodbye || LoadLe64(table.data() + 8) != full)
    return Corrupt("no GOODBYE item where a directory's tail points", at);
  CV_ASSIGN_OR_RETURN(items, ParseGoodbye(ByteView(table).subspan(kHeaderSize)));
  items.pop_back();  // the tail
  return {};
}

Result<Entry> Accessor::EntryAt(const Entry& dir, uint64_t goodbye_at, const GoodbyeItem& item) {
  if (item.offset == 0 || item.offset >= goodbye_at - dir.offset)
    return Corrupt("a goodbye table item pointing outside its directory", goodbye_at);
  const uint64_t at = goodbye_at - item.offset;
  Decoder d(*meta_, nullptr, at, dir.path, version_, /*whole=*/false);
  CV_ASSIGN_OR_RETURN(std::optional<Entry> e, d.Next());
  if (!e) return Fail(ErrorCode::kInternal, "pxar: no entry read");
  if (HashFilename(e->name()) != item.hash)
    return Corrupt("a goodbye table item whose hash is not its entry's name's", goodbye_at);
  if (e->kind == EntryKind::kDirectory) {
    if (item.size > goodbye_at - at)
      return Corrupt("a directory reaching past its parent's goodbye table", at);
    e->end = at + item.size;
  }
  return std::move(*e);
}

Result<std::vector<Entry>> Accessor::List(const Entry& dir) {
  if (dir.kind != EntryKind::kDirectory || dir.end == 0)
    return Fail(ErrorCode::kInvalidArgument, "pxar: not a directory found by the accessor");
  std::vector<GoodbyeItem> items;
  uint64_t at = 0;
  CV_RETURN_IF_ERROR(ReadGoodbye(dir, items, at));
  std::vector<Entry> out;
  out.reserve(items.size());
  for (const GoodbyeItem& item : items) {
    CV_ASSIGN_OR_RETURN(Entry e, EntryAt(dir, at, item));
    out.push_back(std::move(e));
  }
  std::sort(out.begin(), out.end(), [](const Entry& a, const Entry& b) { return a.path < b.path; });
  return out;
}

Result<Accessor::Directory> Accessor::OpenDirectory(const Entry& dir) {
  if (dir.kind != EntryKind::kDirectory || dir.end == 0)
    return Fail(ErrorCode::kInvalidArgument, "pxar: not a directory found by the accessor");
  Directory d;
  d.entry = dir;
  CV_RETURN_IF_ERROR(ReadGoodbye(dir, d.items, d.goodbye_at));
  d.items.push_back({});  // FindInGoodbye skips the last item, the tail
  return d;
}

Result<std::optional<Entry>> Accessor::Find(const Directory& dir, ByteView name) {
  for (size_t slot : FindInGoodbye(dir.items, HashFilename(name))) {
    CV_ASSIGN_OR_RETURN(Entry e, EntryAt(dir.entry, dir.goodbye_at, dir.items[slot]));
    if (std::ranges::equal(e.name(), name)) return std::optional<Entry>(std::move(e));
  }
  return std::optional<Entry>();
}

Result<Entry> Accessor::Lookup(ByteView path) {
  Entry current = root_;
  std::string_view rest = AsString(path);
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    const std::string_view name = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (name.empty() || name == ".") continue;
    const std::string so_far(AsString(current.path));
    if (current.kind != EntryKind::kDirectory)
      return Fail(ErrorCode::kNotFound, "'" + so_far + "' is not a directory");
    CV_ASSIGN_OR_RETURN(Directory dir, OpenDirectory(current));
    CV_ASSIGN_OR_RETURN(std::optional<Entry> found, Find(dir, AsBytes(name)));
    if (!found)
      return Fail(ErrorCode::kNotFound, "no '" + std::string(name) + "' in " +
                                            (so_far.empty() ? "the archive's root" : so_far));
    current = std::move(*found);
  }
  return current;
}

std::unique_ptr<Decoder> Accessor::Subtree(const Entry& entry, Input* payload) {
  if (entry.path.empty()) return std::make_unique<Decoder>(*meta_, payload);
  const ByteView name = entry.name();
  Bytes parent(entry.path.begin(), entry.path.end() - long(name.size()));
  if (!parent.empty()) parent.pop_back();  // the '/'
  return std::make_unique<Decoder>(*meta_, payload, entry.offset, std::move(parent), version_,
                                   /*whole=*/true);
}

}  // namespace chunkvault::pxar
