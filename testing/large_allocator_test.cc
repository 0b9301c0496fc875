// Tests for LargeBlockAllocator and the containers built on it: contents survive growth past the
// threshold, and blocks from the threshold on stay out of malloc's heap (so that freeing them
// returns their memory to the OS at once, with no trim of the process's heap).
#include "kvstore/internal/large_allocator.h"

#include <malloc.h>

#include <cstdint>
#include <string>
#include <utility>

#include "gtest/gtest.h"
#include "testing/sanitizers.h"

namespace kvstore::internal {
namespace {

// Bytes malloc has handed out, its own mappings included.
size_t MallocInUse() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

TEST(LargeBlockAllocatorTest, VectorKeepsItsContentsAsItGrowsPastTheThreshold) {
  MidBlockVector<uint64_t> values;
  const uint64_t n = 4 * kOwnMappingMidBytes / sizeof(uint64_t);  // Grows through the threshold.
  for (uint64_t i = 0; i < n; ++i) values.push_back(i * 7);
  for (uint64_t i = 0; i < n; ++i) ASSERT_EQ(values[i], i * 7) << i;
  MidBlockVector<uint64_t> copy = values;
  values.clear();
  values.shrink_to_fit();
  ASSERT_EQ(copy.size(), n);
  EXPECT_EQ(copy.back(), (n - 1) * 7);
  MidBlockVector<uint64_t> moved = std::move(copy);
  EXPECT_EQ(moved.size(), n);
}

TEST(LargeBlockAllocatorTest, StringKeepsItsContentsAsItGrowsPastTheThreshold) {
  MidBlockString bytes;
  std::string expected;
  for (int i = 0; expected.size() < 3 * kOwnMappingMidBytes; ++i) {
    const std::string piece = std::to_string(i) + ",";
    bytes.append(piece.data(), piece.size());
    expected += piece;
  }
  EXPECT_EQ(std::string(bytes.data(), bytes.size()), expected);
  MidBlockString copy = bytes;
  copy += bytes;
  EXPECT_EQ(copy.size(), 2 * expected.size());
}

TEST(LargeBlockAllocatorTest, BlocksFromTheThresholdOnAreNotMallocs) {
  // The sanitizers bring allocators of their own.
  if (KVSTORE_SANITIZED) GTEST_SKIP() << "needs glibc's malloc statistics";
  const size_t before = MallocInUse();
  {
    MidBlockVector<char> large(2 * kOwnMappingMidBytes, 'x');
    EXPECT_LT(MallocInUse(), before + kOwnMappingMidBytes)
        << "a block of " << large.size() << " bytes came from malloc";
  }
  {
    MidBlockVector<char> small(kOwnMappingMidBytes / 2, 'x');
    EXPECT_GE(MallocInUse(), before + small.size()) << "a small block should come from malloc";
  }
}

}  // namespace
}  // namespace kvstore::internal
