// Fuzz target: RebuildBlock, which turns the compact form a compressed block decompresses to
// (records, prefix, prefix length, count word) back into a whole data block. Its input comes
// from a codec, so from whatever bytes the file held: it must refuse what does not parse and
// never read outside the input. What it accepts must parse as a Block whose every record reads,
// and must carry the input's records, prefix and trailer words unchanged.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "kvstore/internal/segment.h"
#include "testing/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvstore::internal;
  const absl::string_view compact(reinterpret_cast<const char*>(data), size);
  std::string raw;
  if (!RebuildBlock(compact, &raw)) return 0;
  const absl::string_view rebuilt = raw;
  FUZZ_CHECK(rebuilt.substr(0, size - 8) == compact.substr(0, size - 8));
  FUZZ_CHECK(rebuilt.substr(rebuilt.size() - kBlockTrailerBytes, 8) == compact.substr(size - 8));
  auto block = Block::Parse(raw);
  FUZZ_CHECK(block.ok());
  for (uint32_t i = 0; i < block->size(); ++i) {
    StoredRecord record;
    FUZZ_CHECK(block->Get(i, &record));
    uint32_t position;
    const std::string key = std::string(block->prefix()) + std::string(record.key_suffix);
    FUZZ_CHECK(block->LowerBound(key, record.tag, &position));
  }
  return 0;
}
