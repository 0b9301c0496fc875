#include "kvstore/filter.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <memory_resource>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "kvstore/internal/hash.h"

namespace kvstore {
namespace {

// Hashes of n distinct keys; distinct prefixes give disjoint key sets.
std::vector<uint64_t> KeyHashes(const std::string& prefix, int n) {
  std::vector<uint64_t> hashes;
  hashes.reserve(n);
  for (int i = 0; i < n; ++i) hashes.push_back(internal::HashKey(prefix + std::to_string(i)));
  return hashes;
}

template <typename Filter>
std::string BuildFilter(absl::Span<const uint64_t> hashes) {
  std::string out;
  Filter::Build(hashes, &out);
  return out;
}

// A heap copy of exactly bytes.size() bytes, so that AddressSanitizer flags any read past the end
// (a std::string would hide it behind its capacity or its inline buffer).
class ExactCopy {
 public:
  explicit ExactCopy(absl::string_view bytes)
      : size_(bytes.size()), data_(new char[bytes.size()]) {
    std::copy(bytes.begin(), bytes.end(), data_.get());
  }
  absl::string_view view() const { return {data_.get(), size_}; }

 private:
  size_t size_;
  std::unique_ptr<char[]> data_;
};

template <typename Filter>
double FalsePositiveRate(absl::string_view filter, absl::Span<const uint64_t> absent) {
  int positives = 0;
  for (uint64_t hash : absent) positives += Filter::MayContain(filter, hash);
  return static_cast<double>(positives) / absent.size();
}

template <typename Filter>
double MeasureFalsePositiveRate() {
  const std::string filter = BuildFilter<Filter>(KeyHashes("present-", 100000));
  const double rate = FalsePositiveRate<Filter>(filter, KeyHashes("absent-", 100000));
  const std::string name(Filter::Name());
  std::printf("%s: false positive rate %.3f%% (%.2f bits/key)\n", name.c_str(), 100 * rate,
              filter.size() * 8.0 / 100000);
  return rate;
}

// --- The contract, at compile time. ---

struct MissingMayContain {
  static absl::string_view Name() { return "bad"; }
  static void Build(absl::Span<const uint64_t>, std::string*) {}
};
struct MayContainReturnsInt {
  static absl::string_view Name() { return "bad"; }
  static void Build(absl::Span<const uint64_t>, std::string*) {}
  static int MayContain(absl::string_view, uint64_t) { return 1; }
};

static_assert(FilterPolicy<BloomFilter<10>>);
static_assert(FilterPolicy<BloomFilter<1>>);
static_assert(FilterPolicy<BloomFilter<64>>);
static_assert(FilterPolicy<NoFilter>);
static_assert(!FilterPolicy<MissingMayContain>);
static_assert(!FilterPolicy<MayContainReturnsInt>);
static_assert(!FilterPolicy<int>);

TEST(FilterNameTest, NamesAreStable) {
  EXPECT_EQ(BloomFilter<10>::Name(), "bloom10.v1");
  EXPECT_EQ(BloomFilter<6>::Name(), "bloom6.v1");
  EXPECT_EQ(BloomFilter<64>::Name(), "bloom64.v1");
  EXPECT_EQ(NoFilter::Name(), "none");
}

// --- Properties every BloomFilter width must have. ---

template <typename Filter>
class BloomFilterTest : public testing::Test {};

using BloomFilters = testing::Types<BloomFilter<1>, BloomFilter<6>, BloomFilter<10>,
                                    BloomFilter<16>, BloomFilter<64>>;
TYPED_TEST_SUITE(BloomFilterTest, BloomFilters);

TYPED_TEST(BloomFilterTest, NoFalseNegatives) {
  const std::vector<uint64_t> hashes = KeyHashes("key-", 100000);
  const std::string filter = BuildFilter<TypeParam>(hashes);
  const ExactCopy copy(filter);
  int missed = 0;
  for (uint64_t hash : hashes) missed += !TypeParam::MayContain(copy.view(), hash);
  EXPECT_EQ(missed, 0);
}

TYPED_TEST(BloomFilterTest, EmptySetContainsNothing) {
  const std::string filter = BuildFilter<TypeParam>({});
  EXPECT_EQ(filter.size(), 64u + 5u) << "the empty filter is one block of zeros";
  EXPECT_EQ(filter.size(), TypeParam::ApproximateBytes(0));
  const ExactCopy copy(filter);
  for (uint64_t hash : KeyHashes("absent-", 1000)) {
    EXPECT_FALSE(TypeParam::MayContain(copy.view(), hash));
  }
}

TYPED_TEST(BloomFilterTest, SingleKey) {
  const uint64_t hash = internal::HashKey("only");
  const std::string filter = BuildFilter<TypeParam>({hash});
  EXPECT_EQ(filter.size(), 64u + 5u);
  const ExactCopy copy(filter);
  EXPECT_TRUE(TypeParam::MayContain(copy.view(), hash));
  // At most 16 of 512 bits are set, so almost every other key misses.
  EXPECT_LT(FalsePositiveRate<TypeParam>(copy.view(), KeyHashes("absent-", 10000)), 0.01);
}

TYPED_TEST(BloomFilterTest, BuildAppendsExactlyApproximateBytes) {
  for (int n : {0, 1, 2, 51, 52, 53, 1000, 12345}) {
    const std::vector<uint64_t> hashes = KeyHashes("k", n);
    std::string out = "segment bytes before the filter";
    const size_t before = out.size();
    TypeParam::Build(hashes, &out);
    EXPECT_EQ(out.substr(0, before), "segment bytes before the filter");
    EXPECT_EQ(out.size() - before, TypeParam::ApproximateBytes(n)) << n << " keys";
    const absl::string_view filter = absl::string_view(out).substr(before);
    for (uint64_t hash : hashes) ASSERT_TRUE(TypeParam::MayContain(filter, hash));
  }
}

// The engine builds large filters in strings with an allocator of its own; the bytes must be the
// ones a std::string gets.
TYPED_TEST(BloomFilterTest, BuildsTheSameBytesIntoAStringWithAnotherAllocator) {
  const std::vector<uint64_t> hashes = KeyHashes("k", 20000);
  std::pmr::string other = "prefix";
  TypeParam::Build(hashes, &other);
  EXPECT_EQ(absl::string_view(other.data(), other.size()), "prefix" + BuildFilter<TypeParam>(hashes));
}

TYPED_TEST(BloomFilterTest, FiltersBuiltBackToBackInOneBufferStayIndependent) {
  const std::vector<uint64_t> first = KeyHashes("first-", 300);
  const std::vector<uint64_t> second = KeyHashes("second-", 300);
  std::string out;
  TypeParam::Build(first, &out);
  const size_t split = out.size();
  TypeParam::Build(second, &out);
  const absl::string_view all(out);
  for (uint64_t hash : first) ASSERT_TRUE(TypeParam::MayContain(all.substr(0, split), hash));
  for (uint64_t hash : second) ASSERT_TRUE(TypeParam::MayContain(all.substr(split), hash));
}

// Truncation must never turn a stored key into a "certainly absent": a cut filter's size no longer
// matches its trailer, and malformed means true.
TYPED_TEST(BloomFilterTest, TruncatedFilterMayContainEverything) {
  const std::vector<uint64_t> hashes = KeyHashes("key-", 100);
  const std::string filter = BuildFilter<TypeParam>(hashes);
  for (size_t size = 0; size < filter.size(); ++size) {
    const ExactCopy copy(absl::string_view(filter).substr(0, size));
    for (uint64_t hash : hashes) ASSERT_TRUE(TypeParam::MayContain(copy.view(), hash)) << size;
    const ExactCopy tail(absl::string_view(filter).substr(filter.size() - size));
    for (uint64_t hash : hashes) ASSERT_TRUE(TypeParam::MayContain(tail.view(), hash)) << size;
  }
}

// --- False positive rates. ---

TEST(BloomFilterRateTest, TenBitsPerKeyIsBelowOneAndAHalfPercent) {
  EXPECT_LT(MeasureFalsePositiveRate<BloomFilter<10>>(), 0.015);
}

TEST(BloomFilterRateTest, MoreBitsPerKeyMeansFewerFalsePositives) {
  const double rate6 = MeasureFalsePositiveRate<BloomFilter<6>>();
  const double rate10 = MeasureFalsePositiveRate<BloomFilter<10>>();
  const double rate16 = MeasureFalsePositiveRate<BloomFilter<16>>();
  // Loose ceilings around the measured rates (5.8%, 1.0%, 0.08%) against a broken probe scheme.
  EXPECT_LT(rate6, 0.08);
  EXPECT_GT(rate6, 0.03);
  EXPECT_LT(rate16, 0.003);
  EXPECT_LT(rate16, rate10);
  EXPECT_LT(rate10, rate6);
}

// --- The on-disk layout. ---

TEST(BloomFilterFormatTest, TrailerHoldsProbesAndBlockCount) {
  const std::string filter = BuildFilter<BloomFilter<10>>(KeyHashes("key-", 1000));
  // 1000 keys * 10 bits = 10000 bits -> 20 blocks of 512 bits.
  ASSERT_EQ(filter.size(), 20u * 64u + 5u);
  const absl::string_view trailer = absl::string_view(filter).substr(20 * 64);
  EXPECT_EQ(static_cast<uint8_t>(trailer[0]), BloomFilter<10>::kNumProbes);
  EXPECT_EQ(trailer.substr(1), absl::string_view("\x14\x00\x00\x00", 4));
}

TEST(BloomFilterFormatTest, ProbeCountsAreTheMeasuredOptima) {
  EXPECT_EQ(BloomFilter<1>::kNumProbes, 1);
  EXPECT_EQ(BloomFilter<6>::kNumProbes, 4);
  EXPECT_EQ(BloomFilter<10>::kNumProbes, 6);
  EXPECT_EQ(BloomFilter<16>::kNumProbes, 9);
  EXPECT_EQ(BloomFilter<64>::kNumProbes, 16);
}

// Filters outlive the code that wrote them: any change to how hashes map to bits must fail here
// and come with a new Name() version instead of silently breaking segments already on disk.
TEST(BloomFilterFormatTest, LayoutIsPinned) {
  const std::string filter = BuildFilter<BloomFilter<10>>(KeyHashes("key-", 1000));
  EXPECT_EQ(internal::Checksum(filter), 289372882264647627u);
}

TEST(BloomFilterFormatTest, AnyWidthReadsAnyOther) {
  const std::vector<uint64_t> hashes = KeyHashes("key-", 5000);
  const std::string filter = BuildFilter<BloomFilter<6>>(hashes);
  for (uint64_t hash : hashes) ASSERT_TRUE(BloomFilter<16>::MayContain(filter, hash));
}

// --- Malformed bytes: true and in bounds, whatever they are. ---

std::string WithTrailer(size_t block_bytes, uint8_t probes, uint32_t num_blocks) {
  std::string bytes(block_bytes, '\0');
  bytes.push_back(static_cast<char>(probes));
  for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<char>(num_blocks >> (8 * i)));
  return bytes;
}

TEST(BloomFilterMalformedTest, BadTrailersMayContainEverything) {
  const std::vector<std::string> malformed = {
      "",
      "x",
      "abcd",
      WithTrailer(64, 0, 1),           // no probes
      WithTrailer(64, 17, 1),          // more probes than any writer uses
      WithTrailer(64, 255, 1),
      WithTrailer(64, 6, 2),           // claims more blocks than present
      WithTrailer(128, 6, 1),          // claims fewer
      WithTrailer(0, 6, 0),            // zero blocks: Build never writes it
      WithTrailer(64, 6, 0),
      WithTrailer(0, 6, 1),
      WithTrailer(64, 6, UINT32_MAX),  // block count * 64 overflows 32 bits
      WithTrailer(0, 6, 1u << 26),     // 2^26 * 64 is 0 in 32-bit arithmetic
      WithTrailer(63, 6, 1),
  };
  for (const std::string& bytes : malformed) {
    const ExactCopy copy(bytes);
    for (uint64_t hash : KeyHashes("any-", 200)) {
      ASSERT_TRUE(BloomFilter<10>::MayContain(copy.view(), hash)) << bytes.size() << " bytes";
    }
  }
}

TEST(BloomFilterMalformedTest, RandomBytesStayInBounds) {
  std::mt19937_64 rng(20220623);
  const std::vector<uint64_t> hashes = KeyHashes("any-", 64);
  int answered = 0;
  for (size_t size = 0; size <= 600; ++size) {
    for (int trial = 0; trial < 8; ++trial) {
      std::string bytes(size, '\0');
      for (char& c : bytes) c = static_cast<char>(rng());
      // Half the time, make the trailer consistent so the probe path runs on garbage blocks.
      if (trial % 2 == 1 && size >= 5) {
        const size_t blocks = (size - 5) / 64;
        bytes = bytes.substr(0, blocks * 64) +
                WithTrailer(0, static_cast<uint8_t>(1 + rng() % 16), blocks);
      }
      const ExactCopy copy(bytes);
      for (uint64_t hash : hashes) answered += BloomFilter<10>::MayContain(copy.view(), hash);
    }
  }
  EXPECT_GT(answered, 0);
}

// --- NoFilter. ---

TEST(NoFilterTest, BuildsNothingAndMayContainEverything) {
  const std::vector<uint64_t> hashes = KeyHashes("key-", 1000);
  std::string out = "prefix";
  NoFilter::Build(hashes, &out);
  EXPECT_EQ(out, "prefix");
  EXPECT_EQ(NoFilter::ApproximateBytes(1000), 0u);
  for (uint64_t hash : KeyHashes("absent-", 1000)) {
    EXPECT_TRUE(NoFilter::MayContain("", hash));
    EXPECT_TRUE(NoFilter::MayContain("garbage", hash));
  }
}

}  // namespace
}  // namespace kvstore
