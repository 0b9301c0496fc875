// What the two segment fuzz targets share: making a valid segment from a seed, and reading a
// segment every way the engine does (open, point lookups, cursor walks both ways, Verify).
#ifndef KVSTORE_TESTING_FUZZ_SEGMENT_FUZZ_UTIL_H_
#define KVSTORE_TESTING_FUZZ_SEGMENT_FUZZ_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kvstore/filter.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/segment.h"
#include "testing/fuzz/fuzz_util.h"

namespace kvstore::fuzz {

using FuzzFilter = BloomFilter<10>;
using FuzzSegment = internal::Segment<FuzzFilter>;

inline constexpr char kSegmentDir[] = "fuzz";
inline constexpr uint64_t kSegmentNumber = 7;

inline std::string FuzzSegmentFileName() {
  return internal::SegmentFileName(kSegmentDir, kSegmentNumber);
}

// One version of a key as a segment stores it.
struct Version {
  std::string key;
  uint64_t tag = 0;
  std::string value;
};

// Versions of `num_keys` distinct keys in segment order (key ascending, newest first): one to
// three versions per key, some of them deletions, values mostly short and sometimes longer than a
// small block. Every sequence number is distinct. `compressible` values repeat a few bytes, so a
// codec shrinks them.
inline std::vector<Version> MakeVersions(uint64_t seed, size_t num_keys, bool compressible = false) {
  Rng rng(seed);
  std::set<std::string> keys;
  while (keys.size() < num_keys) {
    if (rng.Uniform(3) == 0) {
      keys.insert("key" + std::to_string(rng.Uniform(1000)));
    } else {
      keys.insert(rng.Bytes(rng.Uniform(13)));  // any bytes, the empty key included
    }
  }
  uint64_t sequence = 1 + rng.Uniform(1000);
  std::vector<Version> versions;
  for (const std::string& key : keys) {
    const uint64_t n = 1 + rng.Uniform(3);
    sequence += n;
    for (uint64_t i = 0; i < n; ++i) {
      const bool deletion = rng.Uniform(5) == 0;
      const size_t value_bytes = rng.Uniform(8) == 0 ? rng.Uniform(300) : rng.Uniform(24);
      std::string value;
      if (!deletion) {
        value = rng.Bytes(compressible ? std::min<size_t>(value_bytes, 3) : value_bytes);
        while (value.size() < value_bytes) value += value.substr(0, value_bytes - value.size());
      }
      versions.push_back(Version{
          key,
          internal::PackTag(sequence - i,
                            deletion ? internal::EntryKind::kDeletion : internal::EntryKind::kValue),
          std::move(value)});
    }
  }
  return versions;
}

// The bytes of a segment holding `versions`, written by SegmentBuilder with `codec` (null: none).
inline std::string BuildSegment(const std::vector<Version>& versions, size_t block_bytes,
                                const internal::BlockCodec* codec = nullptr) {
  std::string file;
  StringSink sink(&file);
  internal::SegmentBuilder<FuzzFilter> builder(&sink, block_bytes, 0, codec);
  for (const Version& v : versions) FUZZ_CHECK_OK(builder.Add(v.key, v.tag, v.value));
  absl::StatusOr<internal::SegmentInfo> info = builder.Finish();
  FUZZ_CHECK_OK(info.status());
  FUZZ_CHECK(info->file_bytes == file.size());
  FUZZ_CHECK(info->num_entries == versions.size());
  return file;
}

inline bool SameRecord(const internal::Record& r, const Version& v) {
  return r.key == v.key && r.tag == v.tag && r.value == v.value;
}

// Opens `file` as segment kSegmentNumber and reads it every way the engine does. Any bytes may
// fail to open or read, but must never crash. With `expected` (the versions the file was built
// from, unmodified), everything must succeed and return exactly those versions.
//
// `stable_views` serves the file like a memory map (views into it, block checksums verified once
// and cached unless `verify`); without, like pread (copies into the reader's scratch).
// `decoding` reads compressed blocks.
inline void ExerciseSegment(absl::string_view file, bool stable_views, bool verify,
                            const std::vector<Version>* expected,
                            internal::BlockDecoding decoding = {}) {
  OneFileEnv env(FuzzSegmentFileName(), file, stable_views);
  absl::StatusOr<std::shared_ptr<FuzzSegment>> opened =
      FuzzSegment::Open(&env, kSegmentDir, kSegmentNumber, std::move(decoding));
  if (expected != nullptr) FUZZ_CHECK_OK(opened.status());
  if (!opened.ok()) return;
  const std::shared_ptr<const FuzzSegment> segment = *std::move(opened);
  const internal::SegmentInfo& info = segment->info();
  FUZZ_CHECK(info.file_bytes == file.size());
  Touch(info.smallest_key);
  Touch(info.largest_key);

  // Versions to look up: the segment's extremes, an absent key, and (below) the first records;
  // each at the newest sequence number, at the oldest, and at one of its own.
  std::vector<std::pair<std::string, uint64_t>> lookups = {
      {info.smallest_key, info.min_sequence},
      {info.largest_key, info.max_sequence},
      {info.largest_key + '\xff', info.max_sequence},
      {"", internal::kMaxSequence},
  };

  // The first error of any read below: once Verify has passed, there must be none.
  absl::Status read_error;
  auto note = [&read_error](const absl::Status& s) { read_error.Update(s); };

  // Forward walk: every version in order.
  FuzzSegment::Cursor cursor(segment, verify);
  size_t n = 0;
  for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next(), ++n) {
    const internal::Record& r = cursor.record();
    Touch(r.key);
    Touch(r.value);
    FUZZ_CHECK(internal::IsValidKind(static_cast<uint8_t>(r.tag & 0xff)));
    if (n < 8) lookups.emplace_back(std::string(r.key), internal::TagSequence(r.tag));
    if (expected != nullptr) {
      FUZZ_CHECK(n < expected->size());
      FUZZ_CHECK(SameRecord(r, (*expected)[n]));
    }
  }
  note(cursor.status());
  if (expected != nullptr) {
    FUZZ_CHECK_OK(cursor.status());
    FUZZ_CHECK(n == expected->size());
    FUZZ_CHECK(info.num_entries == n);
  }

  // Backward walk, bounded for arbitrary bytes, whole for a known segment.
  const size_t back_limit = expected != nullptr ? expected->size() : 64;
  size_t back = 0;
  for (cursor.SeekToLast(); cursor.Valid() && back < back_limit; cursor.Prev(), ++back) {
    Touch(cursor.record().key);
    Touch(cursor.record().value);
    if (expected != nullptr) {
      FUZZ_CHECK(SameRecord(cursor.record(), (*expected)[expected->size() - 1 - back]));
    }
  }
  note(cursor.status());
  if (expected != nullptr) {
    FUZZ_CHECK_OK(cursor.status());
    FUZZ_CHECK(back == expected->size());
  }

  // Point lookups and seeks.
  std::string scratch;
  for (const auto& [key, own_sequence] : lookups) {
    segment->MayContain(internal::HashKey(key));
    for (uint64_t sequence : {internal::kMaxSequence, own_sequence, uint64_t{0}}) {
      bool found = false;
      internal::Record r;
      const absl::Status s = segment->Get(key, sequence, verify, &scratch, &found, &r);
      note(s);
      if (expected != nullptr) FUZZ_CHECK_OK(s);
      if (s.ok() && found) {
        FUZZ_CHECK(r.key == key);
        Touch(r.value);
      }
      cursor.Seek(key, internal::LookupTag(sequence));
      if (cursor.Valid()) Touch(cursor.record().value);
    }
  }
  note(cursor.status());

  if (expected != nullptr) {
    std::set<std::string> present;
    for (const Version& v : *expected) present.insert(v.key);
    for (const Version& v : *expected) {
      // No false negatives in the filter, and each version is found at its own sequence number.
      FUZZ_CHECK(segment->MayContain(internal::HashKey(v.key)));
      bool found = false;
      internal::Record r;
      FUZZ_CHECK_OK(segment->Get(v.key, internal::TagSequence(v.tag), verify, &scratch, &found, &r));
      FUZZ_CHECK(found && SameRecord(r, v));
      cursor.Seek(v.key, internal::LookupTag(internal::TagSequence(v.tag)));
      FUZZ_CHECK(cursor.Valid() && SameRecord(cursor.record(), v));
      const std::string absent = v.key + '\0';
      if (present.count(absent) == 0) {
        FUZZ_CHECK_OK(segment->Get(absent, internal::kMaxSequence, verify, &scratch, &found, &r));
        FUZZ_CHECK(!found);
      }
    }
  }

  // Verify reads everything a lookup or a walk reads and checks what they check: a segment it
  // passes must read without error.
  const absl::Status verified = segment->Verify();
  if (expected != nullptr) FUZZ_CHECK_OK(verified);
  if (verified.ok()) FUZZ_CHECK_OK(read_error);
}

}  // namespace kvstore::fuzz

#endif  // KVSTORE_TESTING_FUZZ_SEGMENT_FUZZ_UTIL_H_
