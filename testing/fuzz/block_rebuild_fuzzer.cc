// Fuzz target: RebuildBlock, which turns the compact form a compressed block decompresses to
// (records, whole or split in heads and values, prefix, prefix length, count word) back into a
// whole data block. Its input comes from a codec, so from whatever bytes the file held: it must
// refuse what does not parse and never read outside the input. What it accepts must parse as a
// Block whose every record reads, and must carry the input's prefix and trailer words (the split
// flag cleared), its whole records unchanged, and a split form's values in order.
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
  const uint32_t compact_word = DecodeFixed32(compact.data() + size - 4);
  const bool split = (compact_word & kSplitColumnsFlag) != 0;
  const char* trailer = rebuilt.data() + rebuilt.size() - kBlockTrailerBytes;
  FUZZ_CHECK(absl::string_view(trailer, 4) == compact.substr(size - 8, 4));
  FUZZ_CHECK(DecodeFixed32(trailer + 4) == (compact_word & ~kSplitColumnsFlag));
  // Whole records come back byte for byte; split ones interleaved, so only as long, with the
  // same prefix, and their values in the order of the values column, which ends the records.
  if (!split) FUZZ_CHECK(rebuilt.substr(0, size - 8) == compact.substr(0, size - 8));
  const size_t prefix_size = DecodeFixed32(compact.data() + size - 8);
  FUZZ_CHECK(rebuilt.substr(size - 8 - prefix_size, prefix_size) ==
             compact.substr(size - 8 - prefix_size, prefix_size));
  auto block = Block::Parse(raw);
  FUZZ_CHECK(block.ok());
  size_t values_size = 0;
  for (uint32_t i = 0; i < block->size(); ++i) {
    StoredRecord record;
    FUZZ_CHECK(block->Get(i, &record));
    values_size += record.value.size();
  }
  const size_t records_end = size - 8 - prefix_size;
  FUZZ_CHECK(values_size <= records_end);
  size_t value_at = records_end - values_size;
  for (uint32_t i = 0; i < block->size(); ++i) {
    StoredRecord record;
    FUZZ_CHECK(block->Get(i, &record));
    if (split) FUZZ_CHECK(compact.substr(value_at, record.value.size()) == record.value);
    value_at += record.value.size();
    uint32_t position;
    const std::string key = std::string(block->prefix()) + std::string(record.key_suffix);
    FUZZ_CHECK(block->LowerBound(key, record.tag, &position));
  }
  return 0;
}
