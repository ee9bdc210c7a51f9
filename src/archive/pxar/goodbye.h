// Goodbye tables: the index at the end of each pxar directory, one item
// per entry (its name's hash, where its FILENAME is, its size) and a tail
// item, laid out as an implicit binary search tree over the hashes (slot
// i's children are 2i+1 and 2i+2), so that a reader finds a name in a
// directory of n entries with log2(n) reads.
//
// Thread-safety: plain functions.
#pragma once

#include <cstdint>
#include <vector>

#include "archive/pxar/format.h"

namespace chunkvault::pxar {

// For n items sorted by hash, which sorted index goes to each slot of the
// tree: n=5 gives {3, 1, 4, 0, 2}.
std::vector<size_t> TreeOrder(size_t n);

// The GOODBYE item's content for a directory whose entries' FILENAMEs
// are at the absolute positions items[i].offset, whose own ENTRY is at
// `entry_offset` (the root's: 0, as PBS writes it), with the GOODBYE
// header at `goodbye_offset`: items sorted by hash (stably: equal hashes
// keep their order), offsets made relative to the GOODBYE header, in tree
// order, then the tail item.
Bytes EncodeGoodbye(std::vector<GoodbyeItem> items, uint64_t goodbye_offset, uint64_t entry_offset);

// The items of a GOODBYE item's content (tail included); kCorrupt if its
// size is not a multiple of the item size.
Result<std::vector<GoodbyeItem>> ParseGoodbye(ByteView content);

// The slots of `table` (tail excluded) whose hash is `hash`, found by
// walking the tree from slot 0; equal hashes may sit on either side of
// one another, so both sides of a match are searched.
std::vector<size_t> FindInGoodbye(const std::vector<GoodbyeItem>& table, uint64_t hash);

}  // namespace chunkvault::pxar
