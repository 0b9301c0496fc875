// Fuzz target: segment_mutation.h's harness over segments of compressed blocks. The first byte
// picks the codec: Snappy or LZ4 with tiny value groups (many parts to a block, so a lookup
// decompresses one of several), Snappy and LZ4 as shipped, or Zstd (blocks compressed whole).
// The rest is segment_mutation_fuzzer's input.
#include <cstddef>
#include <cstdint>

#include "kvstore/compression.h"
#include "kvstore/internal/block_codec.h"
#include "testing/fuzz/fuzz_util.h"
#include "testing/fuzz/segment_mutation.h"

namespace kvstore::fuzz {
namespace {

struct TinyGroupSnappy : Snappy {
  static constexpr size_t kValueGroupBytes = 24;
};
struct TinyGroupLz4 : Lz4 {
  static constexpr size_t kValueGroupBytes = 24;
};

const internal::BlockCodec* PickCodec(uint8_t byte) {
  switch (byte % 5) {
    case 0: return internal::CodecFor<TinyGroupSnappy>();
    case 1: return internal::CodecFor<TinyGroupLz4>();
    case 2: return internal::CodecFor<Snappy>();
    case 3: return internal::CodecFor<Lz4>();
    default: return internal::CodecFor<Zstd<>>();
  }
}

}  // namespace
}  // namespace kvstore::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  kvstore::fuzz::mutation::FuzzOne(kvstore::fuzz::AsView(data + 1, size - 1),
                                   kvstore::fuzz::PickCodec(data[0]));
  return 0;
}
