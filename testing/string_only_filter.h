// A filter policy written only to FilterPolicy's letter, as a user's own may be: Build takes a
// std::string and nothing else, so the engine must build its filter in a std::string rather
// than in memory it maps itself. For tests of that path.
#ifndef KVSTORE_TESTING_STRING_ONLY_FILTER_H_
#define KVSTORE_TESTING_STRING_ONLY_FILTER_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kvstore/filter.h"

namespace kvstore::testing {

// BloomFilter<10>'s bytes under a name of its own.
struct StringOnlyBloomFilter {
  static absl::string_view Name() { return "string-only-bloom10"; }
  static void Build(absl::Span<const uint64_t> hashes, std::string* out) {
    BloomFilter<10>::Build(hashes, out);
  }
  static bool MayContain(absl::string_view filter, uint64_t hash) {
    return BloomFilter<10>::MayContain(filter, hash);
  }
};
static_assert(FilterPolicy<StringOnlyBloomFilter>);

}  // namespace kvstore::testing

#endif  // KVSTORE_TESTING_STRING_ONLY_FILTER_H_
