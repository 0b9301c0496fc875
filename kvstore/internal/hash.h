// The one hash kvstore uses for keys (filters) and checksums (WAL records, segment blocks,
// manifest): xxHash's XXH3, header-only.
#ifndef KVSTORE_INTERNAL_HASH_H_
#define KVSTORE_INTERNAL_HASH_H_

#include <cstdint>

#include "absl/strings/string_view.h"

#ifndef XXH_INLINE_ALL
#define XXH_INLINE_ALL
#endif
#include "xxhash.h"

// From libxxhash (xxh_x86dispatch.h, which cannot be included next to XXH_INLINE_ALL).
extern "C" XXH64_hash_t XXH3_64bits_withSeed_dispatch(const void* input, size_t length,
                                                      XXH64_hash_t seed);
extern "C" XXH_errorcode XXH3_64bits_update_dispatch(XXH3_state_t* state, const void* input,
                                                     size_t length);

namespace kvstore::internal {

// Hash of an encoded key, as handed to Filter policies.
inline uint64_t HashKey(absl::string_view encoded_key) {
  return XXH3_64bits(encoded_key.data(), encoded_key.size());
}

inline constexpr uint64_t kChecksumSeed = 0x6b7673746f7265ULL;
// Inputs from this length on are hashed by libxxhash's dispatched code (see Checksum).
inline constexpr size_t kDispatchedHashBytes = 256;

// Checksum of bytes on disk; `salt` folds in a field stored beside them (a length, a kind). A
// distinct seed keeps a checksum from ever equalling a key hash of the same bytes, so a misplaced
// field cannot pass for the other.
//
// Long inputs (blocks, large records) go through libxxhash's run-time dispatch, which uses the
// widest vector unit the CPU has: measured 96 ns for 4 KiB with AVX-512 against 289 ns for the
// inline code of a build for any x86-64 (SSE2). Both compute the same XXH3, so files do not
// depend on the CPU that wrote them. Short inputs stay inline, where a call costs more than it saves.
inline uint64_t Checksum(absl::string_view bytes, uint64_t salt = 0) {
  const uint64_t seed = kChecksumSeed ^ salt;
  if (bytes.size() >= kDispatchedHashBytes) {
    return XXH3_64bits_withSeed_dispatch(bytes.data(), bytes.size(), seed);
  }
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), seed);
}

// Checksum of `first` followed by `second`, as if they were one string: for a record written from
// two pieces without first copying them together. Long pieces take the dispatched update, as
// long inputs do above (the inline header and libxxhash are the same xxHash release, so they
// agree on XXH3_state_t).
inline uint64_t Checksum(absl::string_view first, absl::string_view second, uint64_t salt) {
  if (first.empty()) return Checksum(second, salt);
  if (second.empty()) return Checksum(first, salt);
  XXH3_state_t state;
  XXH3_INITSTATE(&state);  // reset_withSeed reads the seed it had before.
  XXH3_64bits_reset_withSeed(&state, kChecksumSeed ^ salt);
  for (const absl::string_view piece : {first, second}) {
    if (piece.size() >= kDispatchedHashBytes) {
      XXH3_64bits_update_dispatch(&state, piece.data(), piece.size());
    } else {
      XXH3_64bits_update(&state, piece.data(), piece.size());
    }
  }
  return XXH3_64bits_digest(&state);
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_HASH_H_
