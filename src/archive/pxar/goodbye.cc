#include "archive/pxar/goodbye.h"

#include <algorithm>
#include <bit>

namespace chunkvault::pxar {
namespace {

// Places sorted[o, o+n) below slot i, with e = floor(log2(n)) at the top:
// the largest complete tree's worth goes left, so the array fills slot by
// slot without holes (pxar's binary_tree_array, same shape).
void PlaceSubtree(std::vector<size_t>& out, size_t n, size_t o, unsigned e, size_t i) {
  const size_t p = size_t{1} << e;
  const size_t t = p + p / 2 - 1;
  const size_t m = n > t ? p - 1 : p - 1 - (t - n);
  out[i] = o + m;
  if (m > 0) PlaceSubtree(out, m, o, e - 1, 2 * i + 1);
  if (m + 1 < n) PlaceSubtree(out, n - m - 1, o + m + 1, e - 1, 2 * i + 2);
}

}  // namespace

std::vector<size_t> TreeOrder(size_t n) {
  std::vector<size_t> out(n);
  if (n > 0) PlaceSubtree(out, n, 0, unsigned(std::bit_width(n) - 1), 0);
  return out;
}

Bytes EncodeGoodbye(std::vector<GoodbyeItem> items, uint64_t goodbye_offset,
                    uint64_t entry_offset) {
  std::stable_sort(items.begin(), items.end(),
                   [](const GoodbyeItem& a, const GoodbyeItem& b) { return a.hash < b.hash; });
  const std::vector<size_t> order = TreeOrder(items.size());
  Bytes out;
  out.reserve((items.size() + 1) * kGoodbyeItemSize);
  for (size_t source : order) {
    AppendLe64(out, items[source].hash);
    AppendLe64(out, goodbye_offset - items[source].offset);
    AppendLe64(out, items[source].size);
  }
  AppendLe64(out, kGoodbyeTailMarker);
  AppendLe64(out, goodbye_offset - entry_offset);
  AppendLe64(out, kHeaderSize + (items.size() + 1) * kGoodbyeItemSize);
  return out;
}

Result<std::vector<GoodbyeItem>> ParseGoodbye(ByteView content) {
  if (content.size() % kGoodbyeItemSize != 0 || content.empty())
    return Fail(ErrorCode::kCorrupt, "goodbye table of " + std::to_string(content.size()) +
                                         " bytes, not a whole number of 24-byte items");
  std::vector<GoodbyeItem> out(content.size() / kGoodbyeItemSize);
  for (size_t i = 0; i < out.size(); ++i) {
    const uint8_t* p = content.data() + i * kGoodbyeItemSize;
    out[i] = GoodbyeItem{LoadLe64(p), LoadLe64(p + 8), LoadLe64(p + 16)};
  }
  return out;
}

std::vector<size_t> FindInGoodbye(const std::vector<GoodbyeItem>& table, uint64_t hash) {
  std::vector<size_t> found;
  const size_t n = table.empty() ? 0 : table.size() - 1;  // the tail is not in the tree
  std::vector<size_t> todo = {0};
  while (!todo.empty()) {
    const size_t i = todo.back();
    todo.pop_back();
    if (i >= n) continue;
    if (hash < table[i].hash) {
      todo.push_back(2 * i + 1);
    } else if (hash > table[i].hash) {
      todo.push_back(2 * i + 2);
    } else {
      found.push_back(i);
      todo.push_back(2 * i + 1);
      todo.push_back(2 * i + 2);
    }
  }
  return found;
}

}  // namespace chunkvault::pxar
