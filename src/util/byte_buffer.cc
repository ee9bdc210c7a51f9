#include "util/byte_buffer.h"

#include <sys/mman.h>

#include <new>

namespace chunkvault {

void BufferMemoryDeleter::operator()(uint8_t* p) const {
  if (mapped != 0) ::munmap(p, mapped);
  else delete[] p;
}

BufferMemory AllocateBufferMemory(size_t size) {
  if (size < kHugePage) return BufferMemory(new uint8_t[size]);
  // Map one huge page more than needed and unmap what lies before the
  // first aligned address and after the end.
  const size_t length = (size + kHugePage - 1) & ~(kHugePage - 1);
  void* raw = ::mmap(nullptr, length + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  const auto start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + kHugePage - 1) & ~uintptr_t(kHugePage - 1);
  if (aligned != start) ::munmap(raw, aligned - start);
  if (const size_t after = start + length + kHugePage - (aligned + length); after != 0)
    ::munmap(reinterpret_cast<void*>(aligned + length), after);
  auto* p = reinterpret_cast<uint8_t*>(aligned);
  ::madvise(p, length, MADV_HUGEPAGE);  // advice: failure (THP not built in) changes nothing
  return BufferMemory(p, BufferMemoryDeleter{length});
}

}  // namespace chunkvault
