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

namespace kvstore::internal {

// Hash of an encoded key, as handed to Filter policies.
inline uint64_t HashKey(absl::string_view encoded_key) {
  return XXH3_64bits(encoded_key.data(), encoded_key.size());
}

// Checksum of bytes on disk; `salt` folds in a field stored beside them (a length, a kind). A distinct seed keeps a checksum from ever equalling a key hash of
// the same bytes, so a misplaced field cannot pass for the other.
inline uint64_t Checksum(absl::string_view bytes, uint64_t salt = 0) {
  return XXH3_64bits_withSeed(bytes.data(), bytes.size(), 0x6b7673746f7265ULL ^ salt);
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_HASH_H_
