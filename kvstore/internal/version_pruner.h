// VersionPruner: which versions of a key a flush or a compaction writes, given the live snapshots.
#ifndef KVSTORE_INTERNAL_VERSION_PRUNER_H_
#define KVSTORE_INTERNAL_VERSION_PRUNER_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "kvstore/internal/format.h"

namespace kvstore::internal {

// Decides which versions of one key a flush or compaction keeps: the newest, plus for every live
// snapshot the newest version that snapshot sees. A deletion that ends up as the oldest version
// kept is dropped too when nothing older exists anywhere (`bottommost`).
class VersionPruner {
 public:
  VersionPruner(std::vector<uint64_t> snapshots, bool bottommost)
      : snapshots_(std::move(snapshots)), bottommost_(bottommost) {}

  // Call with each key's versions newest first. True if this version must be written.
  bool Keep(absl::string_view key, uint64_t tag, bool is_last_version_of_key) {
    const uint64_t sequence = TagSequence(tag);
    if (!have_key_ || key != key_) {
      key_.assign(key.data(), key.size());
      have_key_ = true;
      newer_sequence_ = kMaxSequence + 1;
    }
    // Needed iff some reader (the latest state, or a snapshot) sees exactly this version:
    // a snapshot s with sequence <= s < the next newer version's sequence.
    bool needed = newer_sequence_ == kMaxSequence + 1;
    if (!needed) {
      auto it = std::lower_bound(snapshots_.begin(), snapshots_.end(), sequence);
      needed = it != snapshots_.end() && *it < newer_sequence_;
    }
    newer_sequence_ = sequence;
    if (!needed) return false;
    // At the bottom a deletion only hides the older versions kept with it, and an older version
    // is kept only for a snapshot below the deletion's sequence (see `needed`). Without such a
    // snapshot nothing older survives, so neither need the deletion.
    if (bottommost_ && TagKind(tag) == EntryKind::kDeletion &&
        (is_last_version_of_key || snapshots_.empty() || snapshots_.front() >= sequence)) {
      return false;
    }
    return true;
  }

  // The tag to write for a version Keep kept. At the bottom, a value no snapshot predates is
  // written with sequence 0, as LevelDB does: no reader can tell it from any older state (at most
  // one such version per key is kept, its last), and its tag then takes one byte instead of four
  // or five, about 5% of a segment of small records.
  uint64_t TagToWrite(uint64_t tag) const {
    if (bottommost_ && TagKind(tag) == EntryKind::kValue &&
        (snapshots_.empty() || TagSequence(tag) <= snapshots_.front())) {
      return PackTag(0, EntryKind::kValue);
    }
    return tag;
  }

 private:
  std::vector<uint64_t> snapshots_;
  bool bottommost_;
  bool have_key_ = false;
  std::string key_;
  uint64_t newer_sequence_ = 0;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_VERSION_PRUNER_H_
