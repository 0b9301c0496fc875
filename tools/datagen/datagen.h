// Deterministic keys, values and access patterns for kvstore's tests and benchmarks, and the
// record files the `datagen` tool writes. Everything is derived from a Spec, so two runs with the
// same Spec produce the same bytes: benchmark numbers are comparable across machines and runs.
#ifndef KVSTORE_TOOLS_DATAGEN_DATAGEN_H_
#define KVSTORE_TOOLS_DATAGEN_DATAGEN_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstore::datagen {

enum class Distribution { kUniform, kSequential, kZipfian };
enum class Format { kTsv, kBinary };

struct Spec {
  uint64_t count = 1000000;  // size of the key space / number of records
  size_t key_size = 16;      // bytes per key (>= 8 enforced by Validate)
  size_t value_size = 100;   // bytes per value
  Distribution distribution = Distribution::kUniform;
  uint64_t seed = 301;
  double zipf_theta = 0.99;  // only read for kZipfian; any value in (0, 10], 1 included
  // In (0, 1]. Below 1, a value is its first value_size * compression_ratio bytes repeated (as
  // db_bench's generator does), so a block compressor shrinks it to about that fraction.
  double compression_ratio = 1.0;
};

// Upper bounds that keep a record's lengths within the binary format's fixed32 fields and a
// single record within reasonable memory.
inline constexpr size_t kMaxKeySize = size_t{1} << 20;
inline constexpr size_t kMaxValueSize = size_t{64} << 20;

// OK, or InvalidArgument naming the first bad field. The key space must fit the key: a key holds
// key_size - 1 decimal digits of the index, so count <= 10^(key_size - 1).
absl::Status Validate(const Spec& spec);

// The names the command line uses: "uniform" | "sequential" | "zipfian", and "tsv" | "binary".
absl::StatusOr<Distribution> ParseDistribution(absl::string_view name);
absl::StatusOr<Format> ParseFormat(absl::string_view name);
absl::string_view DistributionName(Distribution distribution);
absl::string_view FormatName(Format format);

// Keys, values and the index stream of one Spec. Key() and Value() are const and may be called
// from several threads at once; NextIndex() advances private state, so give each thread its own
// Generator (copies are independent and continue the same stream).
class Generator {
 public:
  explicit Generator(const Spec& spec);  // spec must be valid (see Validate)

  // Key number `index` of the key space [0, count): the index as zero-padded decimal digits
  // followed by '0', exactly key_size bytes, so Key(i) < Key(j) bytewise iff i < j. The trailing
  // digit leaves room for MissingKey. Does not allocate when *out has key_size capacity.
  // Any index < count works; one too wide for the key wraps (keeps its low digits) rather than
  // overrunning the buffer.
  void Key(uint64_t index, std::string* out) const;
  std::string Key(uint64_t index) const;

  // Key(index) with its trailing '0' replaced by '5': never a key, strictly between Key(index) and
  // Key(index + 1), same length and digits, so only a filter (not a key range) can tell it is
  // absent.
  void MissingKey(uint64_t index, std::string* out) const;
  std::string MissingKey(uint64_t index) const;

  // value_size bytes derived from (seed, index, version), drawn uniformly from 64 printable
  // characters (no tab, newline or space): about 6 bits of entropy per byte, so compressors gain
  // only what they gain on random text. A new version gives an unrelated value, for overwrites.
  // With compression_ratio R < 1, the first value_size * R bytes are drawn so and then repeated.
  void Value(uint64_t index, std::string* out, uint64_t version = 0) const;
  std::string Value(uint64_t index, uint64_t version = 0) const;

  // The next key index in [0, count): sequential 0, 1, 2, ... wrapping to 0; uniform; or
  // zipfian with zipf_theta, where the popular ranks are scattered over the key space by a seeded
  // permutation, not clustered at index 0. The stream depends only on the Spec.
  uint64_t NextIndex();

  const Spec& spec() const { return spec_; }

 private:
  uint64_t NextRandom();
  uint64_t NextBelow(uint64_t bound);  // uniform in [0, bound), bound > 0
  double NextUnitInterval();           // uniform in [0, 1)
  uint64_t NextZipfRank();             // in [1, count], rank 1 most popular
  uint64_t ScrambleRank(uint64_t rank) const;

  Spec spec_;
  uint64_t key_limit_;  // 10^(key_size - 1), or 0 when every uint64_t fits
  uint64_t rng_[4];
  uint64_t next_sequential_ = 0;
  uint64_t value_seed_;

  // Zipfian by rejection-inversion (Hörmann & Derflinger 1996): O(1) setup for any count, where
  // the classic zeta precomputation costs O(count). Names follow the paper: h(x) = x^-theta and
  // H its antiderivative; see datagen.cc.
  double zipf_h_x1_ = 0;  // H(1.5) - 1
  double zipf_h_n_ = 0;   // H(count + 0.5)
  double zipf_s_ = 0;     // accept-without-test threshold

  // Permutation of [0, 2^scramble_bits_) used with cycle-walking to map ranks onto [0, count).
  int scramble_bits_ = 1;
  uint64_t scramble_mask_ = 1;
  uint64_t scramble_keys_[3] = {0, 0, 0};
};

// Writes spec.count records to `path`, replacing it: the indexes come from a fresh Generator's
// NextIndex(), each value is Value(index) (version 0), so a reader can check every record.
//   tsv:    "key\tvalue\n" per record.
//   binary: per record fixed32 key_len, key, fixed32 value_len, value (little-endian).
// `progress(done, total)` is called now and then and once at the end, when it is non-empty.
// Errors name the path and the system's reason, including failed writes (e.g. a full disk) and a
// failed close.
absl::Status WriteRecords(const Spec& spec, Format format, const std::string& path,
                          const std::function<void(uint64_t done, uint64_t total)>& progress = {});

}  // namespace kvstore::datagen

#endif  // KVSTORE_TOOLS_DATAGEN_DATAGEN_H_
