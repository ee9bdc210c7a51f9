#include "archive/pxar/catalog.h"

#include "archive/pxar/format.h"

namespace chunkvault::pxar {

void AppendCatalogU64(Bytes& out, uint64_t v) {
  while (v >= 128) {
    out.push_back(uint8_t(128 | (v & 127)));
    v >>= 7;
  }
  out.push_back(uint8_t(v));
}

void AppendCatalogI64(Bytes& out, int64_t v) {
  // PBS's form: the magnitude as for u64; a negative one's last byte
  // keeps its high bit, and a 0 byte follows.
  uint64_t d = v < 0 ? uint64_t(-(v + 1)) + 1 : uint64_t(v);
  while (d >= 128) {
    out.push_back(uint8_t(128 | (d & 127)));
    d >>= 7;
  }
  if (v < 0) {
    out.push_back(uint8_t(128 | d));
    out.push_back(0);
  } else {
    out.push_back(uint8_t(d));
  }
}

Result<uint64_t> CatalogWriter::WriteTable(const Dir& dir) {
  if (!started_) {
    started_ = true;
    CV_RETURN_IF_ERROR(out_.Write(ByteView(kCatalogMagic, sizeof kCatalogMagic)));
    pos_ += sizeof kCatalogMagic;
  }
  const uint64_t at = pos_;
  Bytes table;
  AppendCatalogU64(table, dir.entries.size());
  for (const Entry& e : dir.entries) {
    table.push_back(uint8_t(e.type));
    AppendCatalogU64(table, e.name.size());
    table.insert(table.end(), e.name.begin(), e.name.end());
    if (e.type == 'd') {
      AppendCatalogU64(table, at - e.start);
    } else if (e.type == 'f') {
      AppendCatalogU64(table, e.size);
      AppendCatalogI64(table, e.mtime);
    }
  }
  Bytes data;
  AppendCatalogU64(data, table.size());
  data.insert(data.end(), table.begin(), table.end());
  CV_RETURN_IF_ERROR(out_.Write(data));
  pos_ += data.size();
  return at;
}

Status CatalogWriter::StartDirectory(ByteView name) {
  dirs_.push_back(Dir{Bytes(name.begin(), name.end()), {}});
  return {};
}

Status CatalogWriter::EndDirectory() {
  if (dirs_.size() < 2) return Fail(ErrorCode::kInternal, "catalog: no directory to end");
  Dir dir = std::move(dirs_.back());
  dirs_.pop_back();
  // The magic comes first even when the first thing written is a table.
  CV_ASSIGN_OR_RETURN(uint64_t start, WriteTable(dir));
  Entry e{'d', std::move(dir.name)};
  e.start = start;
  dirs_.back().entries.push_back(std::move(e));
  return {};
}

Status CatalogWriter::AddFile(ByteView name, uint64_t size, int64_t mtime) {
  Entry e{'f', Bytes(name.begin(), name.end())};
  e.size = size;
  e.mtime = mtime;
  dirs_.back().entries.push_back(std::move(e));
  return {};
}

Status CatalogWriter::AddOther(ByteView name, char type) {
  dirs_.back().entries.push_back(Entry{type, Bytes(name.begin(), name.end())});
  return {};
}

Status CatalogWriter::Finish() {
  if (dirs_.size() != 1)
    return Fail(ErrorCode::kInternal,
                "catalog: " + std::to_string(dirs_.size() - 1) + " directories still open");
  CV_ASSIGN_OR_RETURN(uint64_t root, WriteTable(dirs_.back()));
  Bytes trailer;
  AppendLe64(trailer, root);
  CV_RETURN_IF_ERROR(out_.Write(trailer));
  pos_ += trailer.size();
  dirs_.clear();
  return {};
}

}  // namespace chunkvault::pxar
