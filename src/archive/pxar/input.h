// Where the pxar decoder's bytes come from: a stream read by offset,
// sequentially (an archive's chunks in order) or at random (in memory, or
// through an index's chunks, to read a part of an archive).
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string>
#include <vector>

#include "chunkvault/bytes.h"
#include "chunkvault/status.h"

namespace chunkvault::pxar {

class Input {
 public:
  virtual ~Input() = default;
  // Up to `max` (> 0) of the bytes from `offset` on, at least one unless
  // the stream ends there; valid until the next call. A sequential input
  // refuses an offset before the start of what it returned last.
  virtual Result<ByteView> ReadAt(uint64_t offset, size_t max) = 0;
  // What keeps the bytes last returned alive after the next call, if
  // anything does (a chunk shared with other threads), else null.
  virtual std::shared_ptr<const void> Keep() { return nullptr; }
  // Whether reading far from the last read costs no more than reading on
  // (memory, an index's chunks fetched on demand).
  virtual bool random_access() const { return true; }
};

// Bytes in memory, which the caller keeps alive.
class MemoryInput final : public Input {
 public:
  explicit MemoryInput(ByteView data) : data_(data) {}
  Result<ByteView> ReadAt(uint64_t offset, size_t max) override;

 private:
  ByteView data_;
};

// A stream that arrives in pieces, in order: `next` returns the next piece
// (valid until it is called again; empty at the end) and `keep` what keeps
// the piece last returned alive (may be null). Skipping forward drops
// pieces unread.
class SequentialInput final : public Input {
 public:
  using Next = std::function<Result<ByteView>()>;
  using KeepFn = std::function<std::shared_ptr<const void>()>;
  explicit SequentialInput(Next next, KeepFn keep = nullptr)
      : next_(std::move(next)), keep_(std::move(keep)) {}
  Result<ByteView> ReadAt(uint64_t offset, size_t max) override;
  std::shared_ptr<const void> Keep() override { return keep_ ? keep_() : nullptr; }
  bool random_access() const override { return false; }

 private:
  Next next_;
  KeepFn keep_;
  ByteView piece_;
  uint64_t piece_start_ = 0;  // the stream offset of piece_'s first byte
  bool ended_ = false;
};

// A stream stored as an index's chunks, read at random: chunk i ends at
// ends[i] and has digest digests[i]; `fetch` gives a chunk's bytes by its
// digest (checked and decoded) when first read, and one whose size
// differs from the index's is kCorrupt, naming it. The few most recently
// read are kept, by digest, so reading on through a chunk, or a chunk
// the index repeats close by, fetches it once.
class ChunkedInput : public Input {
 public:
  using Fetch = std::function<Result<Bytes>(const Digest& digest)>;
  // Errors are prefixed with `context` (which archive of which snapshot).
  ChunkedInput(std::vector<uint64_t> ends, std::vector<Digest> digests, Fetch fetch,
               std::string context);

  Result<ByteView> ReadAt(uint64_t offset, size_t max) override;
  std::shared_ptr<const void> Keep() override { return last_; }

  uint64_t size() const { return ends_.empty() ? 0 : ends_.back(); }
  uint64_t chunks_fetched() const { return fetched_; }

 private:
  static constexpr size_t kKept = 4;
  struct Kept {
    Digest digest;
    std::shared_ptr<const Bytes> data;
  };

  const std::vector<uint64_t> ends_;
  const std::vector<Digest> digests_;
  const Fetch fetch_;
  const std::string context_;
  uint64_t fetched_ = 0;
  std::list<Kept> kept_;  // most recently read first
  std::shared_ptr<const Bytes> last_;
};

}  // namespace chunkvault::pxar
