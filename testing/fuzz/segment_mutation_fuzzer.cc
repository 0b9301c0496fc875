// Fuzz target: segment_mutation.h's harness over segments of plain (uncompressed) blocks.
#include <cstddef>
#include <cstdint>

#include "testing/fuzz/fuzz_util.h"
#include "testing/fuzz/segment_mutation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvstore::fuzz::mutation::FuzzOne(kvstore::fuzz::AsView(data, size), /*codec=*/nullptr);
  return 0;
}
