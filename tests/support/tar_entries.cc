#include "support/tar_entries.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>

namespace chunkvault::testing {

Entry File(std::string name, std::string data) {
  return {std::move(name), AE_IFREG, std::move(data), "", ""};
}
Entry Dir(std::string name) { return {std::move(name), AE_IFDIR, "", "", ""}; }
Entry Symlink(std::string name, std::string to) {
  return {std::move(name), AE_IFLNK, "", std::move(to), ""};
}
Entry Hardlink(std::string name, std::string to) {
  return {std::move(name), AE_IFREG, "", "", std::move(to)};
}

Bytes TarOfEntries(const std::vector<Entry>& entries) {
  Bytes out;
  struct archive* a = archive_write_new();
  archive_write_set_format_pax(a);
  archive_write_open2(
      a, &out, nullptr,
      [](struct archive*, void* p, const void* buf, size_t n) -> la_ssize_t {
        auto* o = static_cast<Bytes*>(p);
        auto* b = static_cast<const uint8_t*>(buf);
        o->insert(o->end(), b, b + n);
        return la_ssize_t(n);
      },
      nullptr, nullptr);
  for (const Entry& x : entries) {
    struct archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, x.name.c_str());
    archive_entry_set_filetype(e, x.type);
    archive_entry_set_perm(e, x.perm != 0 ? x.perm : x.type == AE_IFDIR ? 0755 : 0644);
    if (x.type == AE_IFLNK) archive_entry_set_symlink(e, x.link.c_str());
    if (!x.hardlink.empty()) archive_entry_set_hardlink(e, x.hardlink.c_str());
    const bool has_data = x.type == AE_IFREG && x.hardlink.empty();
    archive_entry_set_size(e, has_data ? la_int64_t(x.data.size()) : 0);
    archive_write_header(a, e);
    if (has_data) archive_write_data(a, x.data.data(), x.data.size());
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

Result<TarStats> ExtractBytes(const Bytes& data, const std::string& target, size_t step,
                              ExtractOptions opts, TarObserver* observer) {
  size_t pos = 0;
  return ExtractTar(
      [&]() -> Result<ByteView> {
        size_t n = std::min(step, data.size() - pos);
        ByteView piece(data.data() + pos, n);
        pos += n;
        return piece;
      },
      target, opts, observer);
}

}  // namespace chunkvault::testing
