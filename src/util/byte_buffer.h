// ByteBuffer: an owned byte array whose bytes start uninitialised.
//
// For memory that is about to be filled by read() or a copy: a std::vector
// would zero every byte first, one more pass over memory per chunk on the
// backup path. The capacity is fixed at construction; size() says how much
// of it holds data.
//
// Thread-safety: none; move it between threads.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "chunkvault/bytes.h"
#include "util/thread_annotations.h"

namespace chunkvault {

class BufferPool;

// The memory of a buffer. Large buffers (kHugePage and more: chunks) get a
// mapping of their own, aligned to kHugePage and advised for transparent
// huge pages: the kernel then maps a chunk's memory 2 MiB at a time
// instead of faulting it in 4 KiB by 4 KiB. A backup refills the tail of
// every larger-than-usual chunk's buffer after the pool trimmed it (see
// BufferPool); with small pages that cost it some 47,000 page faults and
// 1% of its CPU on the benchmark dataset. Where transparent huge pages are
// off, the advice does nothing. Smaller buffers come from new[].
struct BufferMemoryDeleter {
  size_t mapped = 0;  // bytes of the own mapping; 0 for memory from new[]
  void operator()(uint8_t* p) const;
};
using BufferMemory = std::unique_ptr<uint8_t[], BufferMemoryDeleter>;

inline constexpr size_t kHugePage = size_t(2) << 20;

// `size` bytes, uninitialised; throws std::bad_alloc when out of memory.
BufferMemory AllocateBufferMemory(size_t size);

class ByteBuffer {
 public:
  ByteBuffer() = default;
  explicit ByteBuffer(size_t capacity)
      : data_(AllocateBufferMemory(capacity)), capacity_(capacity) {}
  ByteBuffer(ByteBuffer&& o) noexcept { *this = std::move(o); }
  ByteBuffer& operator=(ByteBuffer&& o) noexcept;
  ~ByteBuffer() { Release(); }

  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  bool empty() const { return size_ == 0; }
  ByteView view() const { return ByteView(data_.get(), size_); }
  // The room after the data.
  std::span<uint8_t> spare() { return std::span<uint8_t>(data_.get() + size_, capacity_ - size_); }

  // Declares the first n bytes to hold data (n <= capacity).
  void set_size(size_t n) {
    assert(n <= capacity_);
    size_ = n;
  }

 private:
  friend class BufferPool;
  void Release();

  BufferMemory data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
  std::shared_ptr<BufferPool> home_;  // where the memory goes back to, if anywhere
};

// Buffers of one size that go back to the pool when destroyed, wherever
// that happens (a worker thread, usually), and come out again with their
// pages still mapped. Without it a backup gave every chunk fresh memory
// and the kernel a page fault per 4 KiB of it, which cost more than the
// copy the buffers were made to save. At most `max_free` idle buffers are
// kept; memory in use is bounded by whoever holds the buffers. An idle
// buffer keeps at most `resident` bytes of pages: the rest is given back
// (MADV_DONTNEED), so that buffers sized for the rare largest chunk do not
// each hold that much memory once one such chunk has passed through.
//
// Thread-safety: Get() and the return of buffers from any thread.
class BufferPool : public std::enable_shared_from_this<BufferPool> {
 public:
  static std::shared_ptr<BufferPool> Make(size_t buffer_size, size_t max_free, size_t resident) {
    return std::shared_ptr<BufferPool>(new BufferPool(buffer_size, max_free, resident));
  }

  // An empty buffer of buffer_size() bytes of capacity.
  ByteBuffer Get() {
    ByteBuffer b;
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        b.data_ = std::move(free_.back());
        free_.pop_back();
      }
    }
    if (!b.data_) b.data_ = AllocateBufferMemory(buffer_size_);
    b.capacity_ = buffer_size_;
    b.home_ = shared_from_this();
    return b;
  }

  size_t buffer_size() const { return buffer_size_; }

 private:
  friend class ByteBuffer;
  BufferPool(size_t buffer_size, size_t max_free, size_t resident)
      : buffer_size_(buffer_size), max_free_(max_free), resident_(resident) {}

  void Put(BufferMemory data) {
    {
      std::lock_guard lock(mu_);
      if (free_.size() >= max_free_) return;  // freed
    }
    TrimPages(data.get());  // outside the lock: a system call
    std::lock_guard lock(mu_);
    if (free_.size() < max_free_) free_.push_back(std::move(data));
  }

  // Gives back the whole pages beyond the first resident_ bytes.
  void TrimPages(uint8_t* data) const {
    static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const uintptr_t from = (reinterpret_cast<uintptr_t>(data) + resident_ + page - 1) & ~(page - 1);
    const uintptr_t to = (reinterpret_cast<uintptr_t>(data) + buffer_size_) & ~(page - 1);
    if (from < to) ::madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
  }

  const size_t buffer_size_;
  const size_t max_free_;
  const size_t resident_;
  std::mutex mu_;
  std::vector<BufferMemory> free_ CV_GUARDED_BY(mu_);
};

inline ByteBuffer& ByteBuffer::operator=(ByteBuffer&& o) noexcept {
  if (this != &o) {
    Release();
    data_ = std::move(o.data_);
    size_ = std::exchange(o.size_, 0);
    capacity_ = std::exchange(o.capacity_, 0);
    home_ = std::move(o.home_);
  }
  return *this;
}

inline void ByteBuffer::Release() {
  if (home_ && data_) home_->Put(std::move(data_));
  data_.reset();
  home_.reset();
  size_ = capacity_ = 0;
}

}  // namespace chunkvault
