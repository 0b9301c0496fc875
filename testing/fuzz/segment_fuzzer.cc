// Fuzz target: Segment<BloomFilter<10>>::Open on arbitrary file bytes, then point lookups, cursor
// walks both ways and Verify, with the file served like a memory map and like pread. Bytes that
// do not form a segment must be refused with a status, never crash or read outside the file.
//
// The checksums stop most mutations at the footer; segment_mutation_fuzzer recomputes them to
// reach the parsers behind.
#include <cstddef>
#include <cstdint>

#include "testing/fuzz/fuzz_util.h"
#include "testing/fuzz/segment_fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using kvstore::fuzz::ExerciseSegment;
  const absl::string_view file = kvstore::fuzz::AsView(data, size);
  ExerciseSegment(file, /*stable_views=*/true, /*verify=*/false, /*expected=*/nullptr);
  ExerciseSegment(file, /*stable_views=*/false, /*verify=*/false, /*expected=*/nullptr);
  return 0;
}
