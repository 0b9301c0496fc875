// The harness of segment_mutation_fuzzer (plain blocks) and compressed_segment_fuzzer (blocks of
// each codec, whole and in parts): a valid segment built in the harness, damaged by fuzzer-chosen
// edits, with its checksums recomputed afterwards so the damage reaches the footer, index, filter
// and block parsers instead of stopping at a checksum mismatch. With no effective edit, the
// segment must read back exactly as built (a round trip of SegmentBuilder and Segment).
//
// Input:
//   byte 0   number of distinct keys, modulo 48
//   byte 1   block size = 1 + 8 * byte (one record per block up to ~2 KiB blocks)
//   byte 2   seed of the keys and values (MakeVersions)
//   byte 3   below 0xF0 every checksum is recomputed; 0xF0 | mask leaves some stale:
//            bit 0 data blocks, bit 1 filter, bit 2 index, bit 3 footer
//   then edits, each: op, region, 16-bit little-endian offset, then op-specific bytes.
//   Regions are the parts of the original file: 0 data, 1 filter, 2 index, 3 footer, 4 all; the
//   offset is taken modulo the region's size.
#ifndef KVSTORE_TESTING_FUZZ_SEGMENT_MUTATION_H_
#define KVSTORE_TESTING_FUZZ_SEGMENT_MUTATION_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "kvstore/internal/block_cache.h"
#include "kvstore/internal/block_codec.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/segment.h"
#include "testing/fuzz/fuzz_util.h"
#include "testing/fuzz/segment_fuzz_util.h"

namespace kvstore::fuzz {
namespace mutation {

using internal::DecodeFixed32;
using internal::DecodeFixed64;

enum Op : uint8_t {
  kSetByte = 0,     // 1 byte: the new value
  kXorByte = 1,     // 1 byte: the mask
  kPutFixed32 = 2,  // 4 bytes, written as they are
  kPutFixed64 = 3,  // 8 bytes
  kPutVarint = 4,   // 8 bytes: a little-endian value, written as a varint
  kInsert = 5,      // 1 byte n (up to 31), then n bytes inserted
  kErase = 6,       // 1 byte n: bytes erased
  kTruncate = 7,    // nothing: the file ends at the offset
  kNumOps = 8,
};

struct Region {
  uint64_t offset = 0;
  uint64_t size = 0;
};

// Takes `n` bytes from the front of *in; false if there are fewer.
inline bool Take(absl::string_view* in, size_t n, absl::string_view* out) {
  if (in->size() < n) return false;
  *out = in->substr(0, n);
  in->remove_prefix(n);
  return true;
}

inline void Overwrite(std::string* file, uint64_t offset, absl::string_view bytes) {
  if (offset >= file->size()) return;
  const size_t n = std::min<size_t>(bytes.size(), file->size() - offset);
  file->replace(offset, n, bytes.data(), n);
}

inline bool InFile(const std::string& file, uint64_t offset, uint64_t size) {
  return offset <= file.size() && size <= file.size() - offset;
}

// Rewrites the checksum in the last 8 bytes of [offset, offset + size).
inline void Seal(std::string* file, uint64_t offset, uint64_t size, uint64_t salt) {
  if (size < 8 || !InFile(*file, offset, size)) return;
  const absl::string_view body(file->data() + offset, size - 8);
  internal::EncodeFixed64(file->data() + offset + size - 8, internal::Checksum(body, salt));
}

// Makes every checksum the reader will check match the bytes it covers, following the footer
// and index as they are after the edits (a reader goes where they point, not where they were).
inline void RecomputeChecksums(std::string* file, uint8_t keep_stale) {
  if (file->size() < internal::kSegmentFooterBytes) return;
  const uint64_t footer = file->size() - internal::kSegmentFooterBytes;
  const char* f = file->data() + footer;
  const uint64_t filter_offset = DecodeFixed64(f);
  const uint64_t filter_size = DecodeFixed64(f + 8);
  const uint64_t index_offset = DecodeFixed64(f + 16);
  const uint64_t index_size = DecodeFixed64(f + 24);

  if ((keep_stale & 1) == 0 && index_size >= 8 && InFile(*file, index_offset, index_size)) {
    // The same walk as Segment::ParseIndex, to find the blocks.
    absl::string_view in(file->data() + index_offset, index_size - 8);
    absl::string_view bytes;
    uint64_t u64;
    uint32_t count;
    if (internal::GetLengthPrefixed(&in, &bytes) && internal::GetFixed64(&in, &u64) &&
        internal::GetFixed64(&in, &u64) && internal::GetFixed64(&in, &u64) &&
        internal::GetFixed64(&in, &u64) && internal::GetLengthPrefixed(&in, &bytes) &&
        internal::GetLengthPrefixed(&in, &bytes) && internal::GetFixed32(&in, &count)) {
      internal::IndexEntryReader entries(in, DecodeFixed32(f + 32));
      for (uint32_t i = 0; i < count; ++i) {
        uint64_t tag, offset, size;
        if (!entries.Next(&bytes, &tag, &offset, &size)) break;
        Seal(file, offset, size, internal::kDataBlockSalt);
      }
    }
  }
  if ((keep_stale & 2) == 0) Seal(file, filter_offset, filter_size, internal::kFilterSalt);
  if ((keep_stale & 4) == 0) Seal(file, index_offset, index_size, internal::kIndexSalt);
  if ((keep_stale & 8) == 0) Seal(file, footer, internal::kSegmentFooterBytes, internal::kFooterSalt);
}

// Applies the edits described by `in` (see the file comment) to `file`.
inline void ApplyEdits(absl::string_view in, const Region (&regions)[5], std::string* file) {
  absl::string_view head, arg;
  while (Take(&in, 4, &head)) {
    const uint8_t op = static_cast<uint8_t>(head[0]) % kNumOps;
    const Region& region = regions[static_cast<uint8_t>(head[1]) % 5];
    const uint64_t offset16 =
        static_cast<uint8_t>(head[2]) | (uint64_t{static_cast<uint8_t>(head[3])} << 8);
    const uint64_t offset = region.offset + (region.size > 0 ? offset16 % region.size : 0);
    switch (op) {
      case kSetByte:
      case kXorByte: {
        if (!Take(&in, 1, &arg)) return;
        if (offset >= file->size()) break;
        (*file)[offset] = op == kSetByte ? arg[0] : static_cast<char>((*file)[offset] ^ arg[0]);
        break;
      }
      case kPutFixed32:
      case kPutFixed64:
        if (!Take(&in, op == kPutFixed32 ? 4 : 8, &arg)) return;
        Overwrite(file, offset, arg);
        break;
      case kPutVarint: {
        if (!Take(&in, 8, &arg)) return;
        std::string varint;
        internal::PutVarint64(&varint, DecodeFixed64(arg.data()));
        Overwrite(file, offset, varint);
        break;
      }
      case kInsert: {
        if (!Take(&in, 1, &arg)) return;
        const size_t n = static_cast<uint8_t>(arg[0]) % 32;
        if (!Take(&in, n, &arg)) return;
        file->insert(std::min<uint64_t>(offset, file->size()), arg.data(), arg.size());
        break;
      }
      case kErase:
        if (!Take(&in, 1, &arg)) return;
        if (offset < file->size()) file->erase(offset, static_cast<uint8_t>(arg[0]));
        break;
      case kTruncate:
        if (offset < file->size()) file->resize(offset);
        break;
    }
  }
}

// `codec` (null: none) compresses the segment's blocks; values are then made compressible.
inline void FuzzOne(absl::string_view in, const internal::BlockCodec* codec) {
  absl::string_view params;
  if (!Take(&in, 4, &params)) return;
  const size_t num_keys = static_cast<uint8_t>(params[0]) % 48;
  const size_t block_bytes = 1 + 8 * size_t{static_cast<uint8_t>(params[1])};
  const uint64_t seed = static_cast<uint8_t>(params[2]);
  const uint8_t stale = static_cast<uint8_t>(params[3]);
  const uint8_t keep_stale = stale >= 0xF0 ? (stale & 0x0F) : 0;

  const std::vector<Version> versions = MakeVersions(seed, num_keys, /*compressible=*/codec != nullptr);
  const std::string original = BuildSegment(versions, block_bytes, codec);

  // The parts of the file as built, from its footer.
  const uint64_t footer = original.size() - internal::kSegmentFooterBytes;
  const char* f = original.data() + footer;
  const Region regions[5] = {
      {0, DecodeFixed64(f)},                                       // data
      {DecodeFixed64(f), DecodeFixed64(f + 8)},                    // filter
      {DecodeFixed64(f + 16), DecodeFixed64(f + 24)},              // index
      {footer, internal::kSegmentFooterBytes},                     // footer
      {0, original.size()},                                        // all
  };

  std::string file = original;
  ApplyEdits(in, regions, &file);
  RecomputeChecksums(&file, keep_stale);

  const std::vector<Version>* expected = file == original ? &versions : nullptr;
  // Through a small cache (blocks and parts evicted, admitted on a second miss) and without one.
  internal::BlockDecoding cached{codec, codec != nullptr ? std::make_shared<internal::BlockCache>(4096)
                                                         : nullptr};
  ExerciseSegment(file, /*stable_views=*/true, /*verify=*/false, expected, cached);
  ExerciseSegment(file, /*stable_views=*/true, /*verify=*/false, expected, cached);
  ExerciseSegment(file, /*stable_views=*/false, /*verify=*/true, expected, {codec, nullptr});
}

}  // namespace mutation
}  // namespace kvstore::fuzz

#endif  // KVSTORE_TESTING_FUZZ_SEGMENT_MUTATION_H_
