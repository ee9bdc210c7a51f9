// Random access to a pxar metadata stream through its goodbye tables, as
// PBS's accessor reads it: a path is found, and a directory listed, by
// reading the tables and the entries they point at, not the archive from
// its start. Every entry read is checked as the decoder checks it, and
// every table item against the entry it points at (its name's hash, its
// bounds).
//
// Thread-safety: one thread (the input is not shared).
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "archive/pxar/decoder.h"

namespace chunkvault::pxar {

class Accessor {
 public:
  // `meta` (random access) holds `size` bytes: a whole metadata stream,
  // or a unified archive.
  static Result<Accessor> Open(Input& meta, uint64_t size);

  const Entry& root() const { return root_; }
  int version() const { return version_; }

  // The entry at `path` (components separated by '/'; "" the root);
  // kNotFound names the first component that is missing.
  Result<Entry> Lookup(ByteView path);
  // The entries of directory `dir` (from Lookup, List or root()), sorted
  // by name; each directory's `end` set.
  Result<std::vector<Entry>> List(const Entry& dir);
  // A directory's goodbye table, read once for many lookups.
  struct Directory {
    Entry entry;
    std::vector<GoodbyeItem> items;  // tree order, then an empty slot for the tail
    uint64_t goodbye_at = 0;
  };
  Result<Directory> OpenDirectory(const Entry& dir);
  // The entry named `name` in `dir`, if there is one.
  Result<std::optional<Entry>> Find(const Directory& dir, ByteView name);

  // A decoder of `entry` and, for a directory, everything below it
  // (file data from `payload`).
  std::unique_ptr<Decoder> Subtree(const Entry& entry, Input* payload);

 private:
  Accessor(Input& meta, uint64_t size) : meta_(&meta), size_(size) {}
  // The goodbye table of the directory whose range ends at `end`, tail
  // excluded, and where it starts.
  Status ReadGoodbye(const Entry& dir, std::vector<GoodbyeItem>& items, uint64_t& at);
  // The entry a goodbye item of `dir` points at.
  Result<Entry> EntryAt(const Entry& dir, uint64_t goodbye_at, const GoodbyeItem& item);

  Input* meta_;
  uint64_t size_;
  int version_ = 1;
  Entry root_;
};

}  // namespace chunkvault::pxar
