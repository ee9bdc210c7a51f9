// The pxar encoder: items in, archive bytes out, byte for byte as PBS's
// pxar crate writes them (docs/pxar.md). It knows nothing of the file
// system: the caller walks the tree and hands over names, metadata and
// file data, entries of a directory in the order they are to be stored
// (PBS's client sorts them by the bytes of their names).
//
// Version 2 (split; payload sink given): the metadata stream starts with
// FORMAT_VERSION and holds PAYLOAD_REFs; the payload stream holds a start
// marker, a PAYLOAD header and the data of each file, and a tail marker,
// and is told of each file's start (StreamSink::SuggestCut) so that its
// chunks can end there. Version 1 (unified): one stream, file data in it.
//
// Usage: Begin(root), then entries; BeginDirectory .. EndDirectory
// nest; a file is BeginFile, its data (exactly the size given), EndFile;
// Finish() ends the root. An error leaves the encoder unusable.
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "archive/pxar/format.h"
#include "archive/stream_sink.h"

namespace chunkvault::pxar {

class Encoder {
 public:
  // `payload` null: version 1.
  Encoder(StreamSink& meta, StreamSink* payload) : meta_(meta), payload_(payload) {}

  // The archive's root directory; a prelude (version 2 only) is opaque
  // bytes right after FORMAT_VERSION (PBS: its exclude patterns as JSON).
  Status Begin(const Metadata& root, const std::optional<Bytes>& prelude = std::nullopt);

  Status BeginDirectory(ByteView name, const Metadata& meta);
  Status EndDirectory();

  // A regular file of `size` bytes; its data follows through FileSpace /
  // CommitFileData or WriteFileData. Returns the entry's position, which
  // hard links to it name (AddHardlink).
  Result<uint64_t> BeginFile(ByteView name, const Metadata& meta, uint64_t size);
  Status WriteFileData(ByteView data);
  // Room for the file's next bytes (at most what is left of it); empty
  // once the file is complete.
  std::span<uint8_t> FileSpace();
  Status CommitFileData(size_t n);
  Status EndFile();  // the file's data must be complete

  // A regular file whose data is already in the payload stream at `ref`
  // (split archives; at or after payload_position(), refs in order).
  Result<uint64_t> AddPayloadRef(ByteView name, const Metadata& meta, PayloadRef ref);
  // Moves the payload position past `n` bytes the caller put into the
  // payload stream itself.
  void AdvancePayload(uint64_t n) { payload_pos_ += n; }
  // Chunks of an earlier payload stream, whole, at the payload position
  // (StreamSink::InjectChunks), which moves past them.
  Status InjectChunks(std::span<const ReusedChunk> chunks);

  Status AddSymlink(ByteView name, const Metadata& meta, ByteView target);
  Status AddDevice(ByteView name, const Metadata& meta, uint64_t major, uint64_t minor);
  // A FIFO or socket: only its metadata.
  Status AddSpecial(ByteView name, const Metadata& meta);
  // Another name of the regular file stored at `target_offset` (as
  // BeginFile returned it), whose path from the root is `target_path`.
  Status AddHardlink(ByteView name, ByteView target_path, uint64_t target_offset);

  // Ends the root directory and the payload stream.
  Status Finish();

  int version() const { return payload_ ? 2 : 1; }
  uint64_t position() const { return pos_; }
  uint64_t payload_position() const { return payload_pos_; }

 private:
  struct Dir {
    std::vector<GoodbyeItem> items;  // offsets absolute until written
    uint64_t entry_offset = 0;       // its ENTRY (the root: 0)
    uint64_t filename_offset = 0;    // its FILENAME (not the root)
    uint64_t hash = 0;
  };

  Status Check();
  Status WriteMeta(ByteView bytes);
  Status WritePayload(ByteView bytes);
  // FILENAME, then ENTRY and the metadata items (if `meta`), then one
  // item of `type` with `content` (if type != 0); adds the goodbye item.
  Result<uint64_t> AddEntry(ByteView name, const Metadata* meta, uint64_t type, ByteView content);
  std::unexpected<Error> Fail(ErrorCode code, std::string message);

  StreamSink& meta_;
  StreamSink* const payload_;
  std::vector<Dir> dirs_;
  uint64_t pos_ = 0;          // bytes written to meta_
  uint64_t payload_pos_ = 0;  // position in the payload stream
  std::optional<uint64_t> last_ref_;  // refs go strictly forwards, as PBS checks
  // The file being written: its data still due, and its goodbye item.
  std::optional<GoodbyeItem> file_;
  uint64_t file_left_ = 0;
  bool begun_ = false, finished_ = false, failed_ = false;
};

// The bytes of an entry's metadata items: ENTRY, then XATTR, the ACL
// items, FCAPS and QUOTA_PROJID, in the order PBS writes them.
Bytes EncodeMetadata(const Metadata& meta);

}  // namespace chunkvault::pxar
