// Which sorted runs a background compaction merges (size-tiered, with a space bound that weighs
// what newer entries make garbage of the oldest run).
#ifndef KVSTORE_INTERNAL_COMPACTION_PICKER_H_
#define KVSTORE_INTERNAL_COMPACTION_PICKER_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kvstore/internal/run.h"
#include "kvstore/internal/segment.h"
#include "kvstore/options.h"

namespace kvstore::internal {

// The size-tiered part of PickCompaction, over `runs` (the newest of `total_runs` live runs).
template <typename Filter>
std::vector<SegmentRun<Filter>> PickSizeTiered(const std::vector<SegmentRun<Filter>>& runs,
                                               size_t total_runs, const Options& options) {
  const size_t trigger = static_cast<size_t>(options.compaction_trigger);
  for (size_t start = 0; start + trigger <= runs.size(); ++start) {
    uint64_t lo = RunBytes(runs[start]), hi = lo;
    size_t end = start + 1;
    while (end < runs.size()) {
      const uint64_t size = RunBytes(runs[end]);
      const uint64_t new_lo = std::min(lo, size), new_hi = std::max(hi, size);
      if (static_cast<double>(new_hi) >
          options.compaction_size_ratio * static_cast<double>(std::max<uint64_t>(new_lo, 1))) {
        break;
      }
      lo = new_lo;
      hi = new_hi;
      ++end;
    }
    if (end - start >= trigger) return {runs.begin() + start, runs.begin() + end};
  }
  // Too many runs even so: merge the newest ones rather than let reads degrade.
  if (total_runs >= static_cast<size_t>(options.slowdown_segments) && runs.size() >= trigger) {
    return {runs.begin(), runs.begin() + trigger};
  }
  return {};
}

// Size-tiered over sorted runs: the newest stretch of `compaction_trigger` or more adjacent runs
// whose sizes are within `compaction_size_ratio` of each other. Adjacent, so the merged segment
// keeps their place in the newest-first order. Before that, the space bound: everything, when
// the newer runs' segments that overlap the oldest run outweigh it by more than
// `max_space_amplification`.
template <typename Filter>
std::vector<SegmentRun<Filter>> PickCompaction(const std::vector<SegmentRun<Filter>>& runs,
                                                const Options& options) {
  using Run = SegmentRun<Filter>;
  if (runs.size() >= 2) {
    // Only newer segments whose keys overlap the oldest run's can shadow versions in it: data
    // written beyond the old keys is never merged for space.
    const Run& oldest = runs.back();
    SegmentInfo range;
    range.smallest_key = oldest.front()->info().smallest_key;
    range.largest_key = oldest.back()->info().largest_key;
    uint64_t newer_bytes = 0, newer_entries = 0;
    for (size_t r = 0; r + 1 < runs.size(); ++r) {
      for (const auto& segment : runs[r]) {
        if (!KeyRangesOverlap(segment->info(), range)) continue;
        newer_bytes += segment->info().file_bytes;
        newer_entries += segment->info().num_entries;
      }
    }
    // What the newer segments may make garbage of the oldest run is not their own size: a
    // deletion, or a short value over a long one, weighs little and frees a whole old entry.
    // So each newer entry also counts as one average old entry (deleting or shrinking
    // everything would otherwise never be reclaimed).
    const uint64_t old_bytes = RunBytes(oldest), old_entries = RunEntries(oldest);
    const double shadowed =
        old_entries == 0 ? 0.0
                         : static_cast<double>(std::min(newer_entries, old_entries)) *
                               static_cast<double>(old_bytes) / static_cast<double>(old_entries);
    if (std::max(static_cast<double>(newer_bytes), shadowed) >
        options.max_space_amplification * static_cast<double>(old_bytes)) {
      return runs;
    }
  }
  return PickSizeTiered(runs, runs.size(), options);
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_COMPACTION_PICKER_H_
