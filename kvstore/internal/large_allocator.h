// An allocator for large, short-lived buffers of background work (a segment builder's key hashes):
// blocks of kLargeBytes or more are mapped and unmapped directly instead of coming from malloc.
//
// Why not malloc: glibc serves a large block with mmap only until it frees one; then it raises its
// mmap threshold to that block's size (up to 32 MiB) and its trim threshold to twice that, so the
// next large blocks come from the calling thread's arena, and a thread arena never gives back the
// free top of its heap below the trim threshold (malloc_trim does not shrink it either). Measured:
// after one compaction of 1,000,000 keys (8 MB of key hashes) the compaction thread's arena kept
// 9 MiB resident for the rest of the process.
#ifndef KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_
#define KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_

#include <sys/mman.h>

#include <cstddef>
#include <new>

namespace kvstore::internal {

// Size from which kvstore's large buffers take a mapping of their own rather than malloc's memory
// (this allocator, ByteBuffer), for the glibc behaviour described above.
inline constexpr size_t kOwnMappingBytes = size_t{1} << 20;

template <typename T>
class LargeBlockAllocator {
 public:
  using value_type = T;
  static constexpr size_t kLargeBytes = kOwnMappingBytes;

  LargeBlockAllocator() = default;
  template <typename U>
  LargeBlockAllocator(const LargeBlockAllocator<U>&) noexcept {}  // NOLINT: rebinding converts.

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
  bool operator==(const LargeBlockAllocator<U>&) const noexcept {
    return true;
  }
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_LARGE_ALLOCATOR_H_
