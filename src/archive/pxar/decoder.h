// The pxar decoder: reads an archive front to back, entry by entry, and
// checks it as it goes. Everything it reads is untrusted: item sizes
// against the format's limits, the grammar (what may follow what), file
// names, every directory's goodbye table against the entries actually
// read (hashes, offsets, sizes, tree order), hard links against the
// files before them, payload refs against the PAYLOAD headers they point
// at. The first fault stops it with kCorrupt naming the offset; memory
// stays proportional to one directory's entries and the archive's depth.
//
// Entries come in pre-order, a directory before its contents and a
// kDirectoryEnd after them; the root (path "") first, its end last.
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "archive/pxar/format.h"
#include "archive/pxar/input.h"

namespace chunkvault::pxar {

enum class EntryKind {
  kDirectory,
  kFile,
  kSymlink,
  kHardlink,
  kDevice,
  kFifo,
  kSocket,
  kDirectoryEnd
};

struct Entry {
  EntryKind kind = EntryKind::kDirectory;
  Bytes path;                             // from the root, '/'-separated; empty for the root
  Metadata metadata;                      // all but hard links and directory ends
  uint64_t size = 0;                      // a regular file's data
  std::optional<PayloadRef> payload_ref;  // a file in a split archive
  Bytes link_target;                      // a symlink's target, a hard link's target path
  uint64_t device_major = 0, device_minor = 0;
  uint64_t offset = 0;  // its FILENAME's position (the root: 0)
  uint64_t link_offset = 0;  // a hard link's: its target's FILENAME
  // A directory found through a goodbye table (Accessor): where its range
  // ends, its GOODBYE item included. 0 otherwise.
  uint64_t end = 0;

  ByteView name() const;  // the path's last component
};

// Limits a well-formed archive never reaches, which keep a hostile one
// from exhausting memory.
inline constexpr size_t kMaxDirectoryEntries = size_t{1} << 24;
inline constexpr size_t kMaxArchivePath = 65536;
inline constexpr size_t kMaxPrelude = 16u << 20;
// Xattrs and ACL entries of one entry (Linux allows 64 KiB of xattr names).
inline constexpr size_t kMaxMetadataItems = size_t{1} << 16;

class Decoder {
 public:
  // `payload`: the payload stream of a split archive, or null (entries
  // and metadata can be read without it; file data cannot). A
  // sequential payload stream is checked from its start marker on; a
  // random-access one only where refs point.
  Decoder(Input& meta, Input* payload) : meta_(meta), payload_(payload) {}

  // Part of an archive (Accessor): the entry whose FILENAME is at
  // `offset`, in the directory whose path is `parent` of an archive of
  // `version`. With `whole`, a directory's contents and end follow it;
  // else only the entry. Then Next() gives nullopt. Hard links are
  // checked only to point backwards: their targets may lie outside.
  Decoder(Input& meta, Input* payload, uint64_t offset, Bytes parent, int version, bool whole);

  // The next entry; nullopt after the root's kDirectoryEnd.
  Result<std::optional<Entry>> Next();

  // A decoder of the regular file that hard link `link` (from Next())
  // names, as an archive's part (above): for reading it where the link is
  // restored without its target. Needs a random-access metadata input;
  // kCorrupt if no regular file is there.
  Result<std::unique_ptr<Decoder>> HardlinkTarget(const Entry& link);

  // The data of the file Next() returned last, in pieces of at most
  // `max` bytes; empty once it is all read. Data not read is skipped.
  Result<ByteView> ReadFileData(size_t max = 1u << 20);
  // What keeps the last piece alive after the next call (Input::Keep).
  std::shared_ptr<const void> KeepFileData();

  int version() const { return version_; }
  const std::optional<Bytes>& prelude() const { return prelude_; }
  // Bytes of the metadata stream consumed so far.
  uint64_t position() const { return pos_; }

 private:
  struct Header {
    uint64_t type = 0, full_size = 0;
    uint64_t content_size() const { return full_size - kHeaderSize; }
  };
  // What the goodbye table of the directory must say of a child.
  struct Child {
    uint64_t hash, offset, size;
    uint64_t alt_size;  // a split archive's fresh file: size with its data
  };
  struct Dir {
    std::vector<Child> children;
    uint64_t entry_offset = 0;     // its ENTRY
    uint64_t filename_offset = 0;  // its FILENAME (the root: 0)
    uint64_t hash = 0;             // of its name
    size_t path_size = 0;          // of the parent's path_
  };

  Result<Header> ReadHeader();
  Result<Bytes> ReadContent(const Header& h);
  Status ReadExact(Input& in, uint64_t offset, uint8_t* out, size_t n);
  // ENTRY and the items after it, up to the first that is not metadata
  // (left in pending_).
  Status ReadMetadata(const Header& entry, Metadata& meta);
  // Reads what follows a FILENAME (or the root's metadata) into `e`.
  Status ReadEntry(Entry& e, uint64_t filename_offset);
  Status ReadGoodbye(const Header& h);
  Status SkipFileData();
  Status StartPayload();
  Status CheckPayloadRef();
  std::unexpected<Error> Corrupt(std::string what, uint64_t at);
  Result<Header> NextHeader();

  Input& meta_;
  Input* const payload_;
  uint64_t pos_ = 0;
  int version_ = 1;
  std::optional<Bytes> prelude_;
  std::optional<Header> pending_;  // read ahead, not yet consumed
  uint64_t pending_at_ = 0;
  std::vector<Dir> dirs_;
  Bytes path_;                          // of the directory being read
  std::vector<uint64_t> file_offsets_;  // FILENAMEs of regular files, ascending
  bool started_ = false, done_ = false, failed_ = false;
  enum class Scope { kArchive, kSubtree, kEntry };
  Scope scope_ = Scope::kArchive;
  uint64_t root_entry_offset_ = 0;
  // The current file's data: where it is and how much is left; a split
  // archive's ref is checked against its PAYLOAD header when first read.
  Input* data_in_ = nullptr;
  uint64_t data_pos_ = 0, data_left_ = 0;
  PayloadRef data_ref_;
  bool data_checked_ = true;
  Bytes data_path_;
  bool payload_started_ = false;
};

}  // namespace chunkvault::pxar
