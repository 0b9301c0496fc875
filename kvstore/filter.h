// Filter policies: per-segment summaries of the key set that let a read skip a segment without
// touching its index or data. BloomFilter is the default; NoFilter turns filtering off.
#ifndef KVSTORE_FILTER_H_
#define KVSTORE_FILTER_H_

#include <algorithm>
#include <array>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"

namespace kvstore {

// What the storage engine requires of a filter policy. BloomFilter documents each member.
template <typename F>
concept FilterPolicy = requires(absl::Span<const uint64_t> hashes, std::string* out,
                                absl::string_view filter, uint64_t hash) {
  { F::Name() } -> std::convertible_to<absl::string_view>;
  F::Build(hashes, out);
  { F::MayContain(filter, hash) } -> std::same_as<bool>;
};

namespace internal::bloom {

// On-disk layout (all filters written by BloomFilter<N>, whatever N):
//
//   block[0] .. block[num_blocks-1]   64 bytes each; bit b of a block is byte b/8, bit b%8
//   k                                 1 byte, probes per key, 1..kMaxProbes
//   num_blocks                        4 bytes, little-endian, at least 1
//
// The trailer makes a filter self-describing, so reading it needs neither the BitsPerKey it was
// built with nor the key count, and anything that does not parse exactly is detectably malformed.
// Changing how a hash maps to bits silently turns old filters into false negatives: that needs a
// new Name() version, not an edit.
inline constexpr size_t kBlockBytes = 64;  // one cache line: a query costs one miss
inline constexpr size_t kBlockBits = kBlockBytes * 8;
inline constexpr size_t kTrailerBytes = 1 + 4;
inline constexpr int kMaxProbes = 16;

// Probes per key for a given budget. The textbook optimum is ln(2) * bits_per_key, but keys do
// not spread evenly over blocks and the fuller blocks pay for extra probes; measured on 100k
// XXH3 keys, one probe fewer per 8 bits/key matches the best k at every width within noise
// (e.g. 10 bits/key: k=6 gives 0.96% against 0.97% for k=7).
constexpr int ProbesFor(int bits_per_key) {
  const int k = (bits_per_key * 69 + 50) / 100 - bits_per_key / 8;
  return std::clamp(k, 1, kMaxProbes);
}

// Blocks for num_keys keys, saturating at what the 4-byte trailer field can say. Zero keys still
// get one (empty) block, so that a trailer claiming zero blocks is malformed: otherwise any 5 bytes
// ending in four zeros, such as a filter cut short, would parse as "contains nothing".
constexpr uint32_t NumBlocks(size_t num_keys, int bits_per_key) {
  constexpr uint64_t kMaxBlocks = UINT32_MAX;
  if (num_keys > kMaxBlocks * kBlockBits / static_cast<uint64_t>(bits_per_key)) return kMaxBlocks;
  const uint64_t bits = static_cast<uint64_t>(num_keys) * bits_per_key;  // < 2^41: no overflow
  return static_cast<uint32_t>(std::max<uint64_t>((bits + kBlockBits - 1) / kBlockBits, 1));
}

// The block comes from the high half of the hash by multiply-shift (uniform for any block count,
// no division); the probes come from the low half, so the two choices are independent.
inline size_t BlockIndex(uint64_t hash, uint32_t num_blocks) {
  return static_cast<size_t>(((hash >> 32) * num_blocks) >> 32);
}

// Successive probes multiply the low half by an odd constant and take the top 9 bits. Unlike
// double hashing (h + i*delta mod 512), whose probe sets depend on only 18 bits of the hash, every
// probe depends on all 32: measured, 15% fewer false positives at 10 bits/key, half at 16.
inline uint32_t NextProbe(uint32_t& state) {
  state *= 0x9e3779b9u;
  return state >> 23;  // 32 - log2(kBlockBits)
}

inline uint32_t LoadLittleEndian32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(p[i])) << (8 * i);
  return v;
}

template <int N>
constexpr auto MakeBloomName() {
  struct Name {
    std::array<char, 16> chars{};
    size_t size = 0;
  } name;
  auto append = [&name](const char* s) {
    while (*s != '\0') name.chars[name.size++] = *s++;
  };
  const char digits[] = {static_cast<char>('0' + N / 10), static_cast<char>('0' + N % 10), '\0'};
  append("bloom");
  append(N >= 10 ? digits : digits + 1);
  append(".v1");
  return name;
}

}  // namespace internal::bloom

// A cache-line-blocked Bloom filter with BitsPerKey bits of filter per key: each key sets k bits
// inside one 64-byte block, so a query reads one cache line. It trades a slightly higher false
// positive rate than a classic Bloom filter of the same size (about 0.96% against 0.82% at 10
// bits/key) for one memory access per query. The gap grows with the width, as the uneven load of
// blocks comes to dominate (0.0054% against 0.001% at 24 bits/key).
//
// This is the reference FilterPolicy; every policy provides the same static members.
template <int BitsPerKey>
struct BloomFilter {
  static_assert(BitsPerKey >= 1 && BitsPerKey <= 64,
                "BloomFilter<BitsPerKey>: BitsPerKey must be between 1 and 64; use NoFilter to "
                "store no filter at all");

  // Probes per key; also stored in each filter's trailer, which is what MayContain reads.
  static constexpr int kNumProbes = internal::bloom::ProbesFor(BitsPerKey);

  // Identifies the filter format in segment footers, so a reader can tell which policy wrote a
  // segment's filter. It never changes for a given layout; a new layout needs a new version suffix.
  static constexpr absl::string_view Name() { return {kName.chars.data(), kName.size}; }

  // Appends to *out (never clears it: the engine builds the filter in place inside a segment
  // buffer) a filter for the keys with these hashes, as given by internal::HashKey. Duplicate
  // hashes are harmless. Appends exactly ApproximateBytes(hashes.size()) bytes.
  //
  // `Bytes` is std::string, which every policy must accept, or any string of chars with another
  // allocator: the engine builds large filters in memory it maps itself when a policy takes that
  // (a compaction's filter runs to megabytes; freed back to malloc, it would raise glibc's mmap
  // and trim thresholds, see internal/large_allocator.h).
  template <typename Bytes = std::string>
  static void Build(absl::Span<const uint64_t> hashes, Bytes* out) {
    namespace bloom = internal::bloom;
    const uint32_t num_blocks = bloom::NumBlocks(hashes.size(), BitsPerKey);
    const size_t start = out->size();
    out->resize(start + num_blocks * bloom::kBlockBytes + bloom::kTrailerBytes, '\0');
    uint8_t* blocks = reinterpret_cast<uint8_t*>(out->data() + start);
    for (uint64_t hash : hashes) {
      uint8_t* block = blocks + bloom::BlockIndex(hash, num_blocks) * bloom::kBlockBytes;
      uint32_t state = static_cast<uint32_t>(hash);
      for (int i = 0; i < kNumProbes; ++i) {
        const uint32_t bit = bloom::NextProbe(state);
        block[bit / 8] |= static_cast<uint8_t>(1u << (bit % 8));
      }
    }
    uint8_t* trailer = blocks + num_blocks * bloom::kBlockBytes;
    trailer[0] = static_cast<uint8_t>(kNumProbes);
    for (int i = 0; i < 4; ++i) trailer[1 + i] = static_cast<uint8_t>(num_blocks >> (8 * i));
  }

  // False means no key with this hash was in the set the filter was built from; true means it may
  // have been. The filter of an empty set (one block of zeros) answers false for every hash. Bytes
  // that are not a well-formed filter (empty, truncated, a trailer that disagrees with the size,
  // claims zero blocks or asks for 0 or more than 16 probes) answer true: a damaged filter may
  // cost a lookup but never hides a key. Reads only within `filter` and allocates nothing, so it
  // is safe on untrusted bytes. Filters built by any BloomFilter<N> can be queried through any
  // other.
  static bool MayContain(absl::string_view filter, uint64_t hash) {
    namespace bloom = internal::bloom;
    if (filter.size() < bloom::kTrailerBytes) return true;
    const size_t block_bytes = filter.size() - bloom::kTrailerBytes;
    const char* trailer = filter.data() + block_bytes;
    const int num_probes = static_cast<uint8_t>(trailer[0]);
    const uint32_t num_blocks = bloom::LoadLittleEndian32(trailer + 1);
    if (num_probes < 1 || num_probes > bloom::kMaxProbes) return true;
    if (num_blocks == 0 || uint64_t{num_blocks} * bloom::kBlockBytes != block_bytes) return true;

    const uint8_t* block = reinterpret_cast<const uint8_t*>(filter.data()) +
                           bloom::BlockIndex(hash, num_blocks) * bloom::kBlockBytes;
    uint32_t state = static_cast<uint32_t>(hash);
    for (int i = 0; i < num_probes; ++i) {
      const uint32_t bit = bloom::NextProbe(state);
      if ((block[bit / 8] & (1u << (bit % 8))) == 0) return false;
    }
    return true;
  }

  // Bytes Build appends for num_keys hashes, for memory and file-size accounting before building.
  static constexpr size_t ApproximateBytes(size_t num_keys) {
    return size_t{internal::bloom::NumBlocks(num_keys, BitsPerKey)} *
               internal::bloom::kBlockBytes +
           internal::bloom::kTrailerBytes;
  }

 private:
  static constexpr auto kName = internal::bloom::MakeBloomName<BitsPerKey>();
};

// Stores no filter: every read consults the segment's index. For workloads that rarely miss, where
// a filter costs memory and build time and saves nothing.
struct NoFilter {
  static constexpr absl::string_view Name() { return "none"; }
  template <typename Bytes = std::string>
  static void Build(absl::Span<const uint64_t> /*hashes*/, Bytes* /*out*/) {}
  static bool MayContain(absl::string_view /*filter*/, uint64_t /*hash*/) { return true; }
  static constexpr size_t ApproximateBytes(size_t /*num_keys*/) { return 0; }
};

static_assert(FilterPolicy<BloomFilter<10>>);
static_assert(FilterPolicy<NoFilter>);

}  // namespace kvstore

#endif  // KVSTORE_FILTER_H_
