// Where the pxar decoder's bytes come from: a stream read by offset,
// sequentially (an archive's chunks in order) or at random (in memory, or
// through an index, to read a part of an archive).
//
// Thread-safety: one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

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

}  // namespace chunkvault::pxar
