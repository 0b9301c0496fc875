// An allocator for kvstore's large buffers (a segment builder's key hashes, filter and index, a
// segment's parsed index): blocks from a threshold on are mapped and unmapped directly instead of
// coming from malloc.
//
// Why not malloc: glibc serves a large block with mmap only until it frees one; then it raises its
// mmap threshold to that block's size (up to 32 MiB) and its trim threshold to twice that, so the
// next large blocks come from the calling thread's arena, and a thread arena never gives back the
// free top of its heap below the trim threshold. Measured: after one compaction of 1,000,000 keys
// (8 MB of key hashes) the compaction thread's arena kept 9 MiB resident for the rest of the
// process. kvstore used to call malloc_trim(0) after every flush and compaction instead, but that
// gives back the free heap of the whole process, the application's too, whose next allocations
// then fault their pages in again (docs/memory.md, "the heap trim").
#ifndef KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_
#define KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <new>
#include <string>
#include <vector>

namespace kvstore::internal {

// Size from which kvstore's large buffers take a mapping of their own rather than malloc's memory
// (this allocator, ByteBuffer), for the glibc behaviour described above.
inline constexpr size_t kOwnMappingBytes = size_t{1} << 20;

// The same for the blocks that flushes and compactions allocate and free over and over (a segment
// builder's key hashes, filter and index, a segment's parsed index, which a compaction's views
// copy). Far below glibc's initial mmap threshold (128 KiB) because a segment keeps its parsed
// index for its whole life: in malloc's background arenas, those blocks sat among the builders'
// freed ones and pinned the holes between them. At 128 KiB the arenas held 13 MiB free after the
// last compaction of 3,000,000 keys, and at 16 KiB 2-4 MiB; the issue workload's anonymous memory
// fell by 3.6-6.3 MiB at both shapes, with the same times (docs/memory.md).
// Not for a write batch's buffer (ByteBuffer) nor a MemTable's list of keys: those are on the
// writer's path, where a fresh mapping's first touch of each page costs microseconds on some VMs,
// and what they leave in malloc's arenas was measured at under 2 MiB.
inline constexpr size_t kOwnMappingMidBytes = size_t{16} << 10;

template <typename T, size_t kOwnFromBytes = kOwnMappingBytes>
class LargeBlockAllocator {
 public:
  using value_type = T;
  static constexpr size_t kLargeBytes = kOwnFromBytes;
  template <typename U>
  struct rebind {
    using other = LargeBlockAllocator<U, kOwnFromBytes>;
  };

  LargeBlockAllocator() = default;
  template <typename U>
  LargeBlockAllocator(const LargeBlockAllocator<U, kOwnFromBytes>&) noexcept {}  // NOLINT: rebinding

  T* allocate(size_t n) {
    if (n > max_size()) throw std::bad_array_new_length();
    const size_t bytes = n * sizeof(T);
    if (bytes < kLargeBytes) return static_cast<T*>(::operator new(bytes));
    void* block = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (block == MAP_FAILED) throw std::bad_alloc();
    return static_cast<T*>(block);
  }

  void deallocate(T* p, size_t n) noexcept {
    const size_t bytes = n * sizeof(T);
    if (bytes < kLargeBytes) {
      ::operator delete(p);
    } else {
      ::munmap(p, bytes);
    }
  }

  static constexpr size_t max_size() { return ~size_t{0} / sizeof(T); }

  template <typename U>
  bool operator==(const LargeBlockAllocator<U, kOwnFromBytes>&) const noexcept {
    return true;
  }
};

// Containers whose blocks from kOwnMappingMidBytes on are mappings of their own.
template <typename T>
using MidBlockVector = std::vector<T, LargeBlockAllocator<T, kOwnMappingMidBytes>>;
using MidBlockString =
    std::basic_string<char, std::char_traits<char>, LargeBlockAllocator<char, kOwnMappingMidBytes>>;

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_
