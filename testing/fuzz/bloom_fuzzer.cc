// Fuzz target: BloomFilter<10>::MayContain on arbitrary bytes, and Build followed by queries.
//
// The whole input is used twice:
//   * as a filter: the first 8 bytes are the hash to query, the rest the filter bytes (a filter
//     is read from a segment file, so it may be anything). MayContain must read only inside the
//     filter and answer true for anything malformed;
//   * as up to 512 key hashes (8 bytes each): a filter built from them must contain each of them,
//     queried through BloomFilter<10> and through other widths (a filter is self-describing).
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kvstore/filter.h"
#include "kvstore/internal/coding.h"
#include "testing/fuzz/fuzz_util.h"

namespace kvstore::fuzz {
namespace {

// True when MayContain must answer "maybe" whatever the hash: the trailer does not describe the
// bytes before it (filter.h, MayContain).
bool Malformed(absl::string_view filter) {
  if (filter.size() < internal::bloom::kTrailerBytes) return true;
  const size_t block_bytes = filter.size() - internal::bloom::kTrailerBytes;
  const int probes = static_cast<uint8_t>(filter[block_bytes]);
  const uint64_t blocks = internal::DecodeFixed32(filter.data() + block_bytes + 1);
  return probes < 1 || probes > internal::bloom::kMaxProbes || blocks == 0 ||
         blocks * internal::bloom::kBlockBytes != block_bytes;
}

void QueryArbitraryFilter(absl::string_view in) {
  if (in.size() < 8) return;
  const uint64_t hash = internal::DecodeFixed64(in.data());
  const absl::string_view filter = in.substr(8);
  const bool malformed = Malformed(filter);
  const uint64_t queries[] = {hash, ~hash, hash * uint64_t{0x9e3779b97f4a7c15}};
  for (uint64_t h : queries) {
    const bool maybe = BloomFilter<10>::MayContain(filter, h);
    if (malformed) FUZZ_CHECK(maybe);
    FUZZ_CHECK(BloomFilter<3>::MayContain(filter, h) == maybe);
  }
}

template <int N>
void BuildAndQuery(const std::vector<uint64_t>& hashes) {
  // Build appends to what *out holds already.
  std::string out = "prefix";
  BloomFilter<N>::Build(absl::Span<const uint64_t>(hashes), &out);
  FUZZ_CHECK(out.size() == 6 + BloomFilter<N>::ApproximateBytes(hashes.size()));
  FUZZ_CHECK(absl::string_view(out).substr(0, 6) == "prefix");
  const ExactBuffer filter(absl::string_view(out).substr(6));
  FUZZ_CHECK(!Malformed(filter.view()));
  for (uint64_t h : hashes) {
    FUZZ_CHECK(BloomFilter<N>::MayContain(filter.view(), h));
    FUZZ_CHECK(BloomFilter<10>::MayContain(filter.view(), h));
  }
}

}  // namespace
}  // namespace kvstore::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view in = kvstore::fuzz::AsView(data, size);
  kvstore::fuzz::QueryArbitraryFilter(in);

  std::vector<uint64_t> hashes;
  for (size_t i = 0; i + 8 <= in.size() && hashes.size() < 512; i += 8) {
    hashes.push_back(kvstore::internal::DecodeFixed64(in.data() + i));
  }
  kvstore::fuzz::BuildAndQuery<10>(hashes);
  kvstore::fuzz::BuildAndQuery<1>(hashes);
  kvstore::fuzz::BuildAndQuery<64>(hashes);
  return 0;
}
