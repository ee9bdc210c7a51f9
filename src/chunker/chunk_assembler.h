// ChunkAssembler: cuts a byte stream into chunks, each in its own buffer,
// with the content-defined chunker.
//
// Bytes arrive in two ways. Write() copies them in. Space() and Commit()
// let the producer read() file data straight into the chunk being built,
// so that the bulk of a backup is written to memory once, by the kernel.
// At each cut the finished chunk goes to `emit`; bytes that were read past
// the cut are moved into the next chunk's buffer (at most one read's worth).
//
// Buffers hold the chunker's largest chunk, so a chunk never moves while
// it grows; their bytes start uninitialised, and they come from a pool, so
// the memory of a chunk that has been stored is reused without the kernel
// mapping fresh pages for it.
//
// Thread-safety: one thread; `emit` runs on it.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>

#include "chunker/chunker.h"
#include "util/byte_buffer.h"

namespace chunkvault {

class ChunkAssembler {
 public:
  using Emit = std::function<Status(ByteBuffer chunk)>;

  // `max_in_flight`: how many emitted chunks the consumer may hold at
  // once; that many buffers are kept for reuse.
  ChunkAssembler(size_t avg, size_t max_in_flight, Emit emit);

  // Appends a copy of `data` to the stream.
  Status Write(ByteView data);
  // Room for the next stream bytes in the current chunk's buffer; never
  // empty. Valid until the next call of any other method.
  std::span<uint8_t> Space();
  // The first `n` bytes of the last Space() hold the next stream bytes.
  Status Commit(size_t n);
  // A file starts here (pxar's payload stream): the current chunk ends
  // here if it holds at least the chunker's minimum, else the suggestion
  // is dropped (PBS's payload chunker, with every byte before the
  // suggestion scanned already).
  Status SuggestCut();
  // Ends the current chunk here whatever its size (emitted if it holds
  // any bytes), then counts `n` stream bytes that the consumer puts in by
  // other means (chunks reused whole).
  Status CutAndSkip(uint64_t n);
  // Emits the last chunk if it holds any bytes. Call once, at the end.
  Status Finish();

  // Stream bytes so far.
  uint64_t offset() const { return offset_; }

 private:
  BuzhashChunker chunker_;
  const Emit emit_;
  const std::shared_ptr<BufferPool> pool_;
  ByteBuffer current_;  // the chunk being cut; capacity 0 until needed
  uint64_t offset_ = 0;
};

}  // namespace chunkvault
