// Sorted runs: the unit the store layers its segments in. A run is one or more segments whose key
// ranges are disjoint, in key order, so a key lives in at most one segment of a run. Runs are
// ordered newest first; a newer run shadows older ones. A flush whose keys overlap no segment of
// the newest run joins that run instead of starting a new one: data written in key order then
// stays one run however large it grows, and compaction never has to rewrite it to keep reads fast.
#ifndef KVSTORE_INTERNAL_RUN_H_
#define KVSTORE_INTERNAL_RUN_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/segment.h"

namespace kvstore::internal {

template <typename Filter>
using SegmentRun = std::vector<std::shared_ptr<const Segment<Filter>>>;

inline bool KeyRangesOverlap(const SegmentInfo& a, const SegmentInfo& b) {
  return !(a.largest_key < b.smallest_key || b.largest_key < a.smallest_key);
}

// The segment of `run` whose key range holds `key`, or nullptr.
template <typename Filter>
const Segment<Filter>* SegmentForKey(const SegmentRun<Filter>& run, absl::string_view key) {
  if (run.size() == 1) return run.front().get();  // Its filter and index answer as quickly.
  auto it = std::lower_bound(run.begin(), run.end(), key, [](const auto& segment, absl::string_view k) {
    return segment->info().largest_key < k;
  });
  if (it == run.end() || key < (*it)->info().smallest_key) return nullptr;
  return it->get();
}

// Index of the first segment of `run` whose keys may be at or after `key` (run.size() if none).
template <typename Filter>
size_t FirstSegmentAtOrAfter(const SegmentRun<Filter>& run, absl::string_view key) {
  auto it = std::lower_bound(run.begin(), run.end(), key, [](const auto& segment, absl::string_view k) {
    return segment->info().largest_key < k;
  });
  return static_cast<size_t>(it - run.begin());
}

template <typename Filter>
uint64_t RunBytes(const SegmentRun<Filter>& run) {
  uint64_t bytes = 0;
  for (const auto& segment : run) bytes += segment->info().file_bytes;
  return bytes;
}

template <typename Filter>
uint64_t RunEntries(const SegmentRun<Filter>& run) {
  uint64_t entries = 0;
  for (const auto& segment : run) entries += segment->info().num_entries;
  return entries;
}

// Where `info`'s keys would go in `run`: the index to insert it at, or -1 if it overlaps one of
// the run's segments.
template <typename Filter>
ptrdiff_t InsertionPoint(const SegmentRun<Filter>& run, const SegmentInfo& info) {
  const size_t i = FirstSegmentAtOrAfter(run, info.smallest_key);
  if (i < run.size() && KeyRangesOverlap(run[i]->info(), info)) return -1;
  return static_cast<ptrdiff_t>(i);
}

// The run of `runs` that holds `segment` (runs.end() if none): a merge in progress finds its
// inputs in the live list this way, since runs may have been added in front of them meanwhile.
template <typename Runs, typename SegmentPtr>
auto FindRunHolding(Runs& runs, const SegmentPtr& segment) {
  return std::find_if(runs.begin(), runs.end(), [&](const auto& run) {
    return std::find(run.begin(), run.end(), segment) != run.end();
  });
}

// Puts `replacement` (runs, newest first; none if the merge kept nothing) in place of `inputs`,
// the runs a merge's inputs stood as in the live list. Runs newer than the inputs may have been
// added meanwhile, and flushes may have joined the newest input run: the segments that joined it
// are newer than all the inputs and stay, as a run of their own, in front of the replacement
// (whose key range may span theirs). `runs` must hold the inputs, adjacent, as they were but for
// segments joined to the first.
template <typename SegmentPtr>
void ReplaceMergedRuns(std::vector<std::vector<SegmentPtr>>* runs,
                       const std::vector<std::vector<SegmentPtr>>& inputs,
                       const std::vector<std::vector<SegmentPtr>>& replacement) {
  const std::vector<SegmentPtr>& newest_input = inputs.front();
  auto first = FindRunHolding(*runs, newest_input.front());
  if (first == runs->end()) return;  // Not reached while one compaction runs at a time.
  std::vector<SegmentPtr> joined;
  for (const SegmentPtr& segment : *first) {
    if (std::find(newest_input.begin(), newest_input.end(), segment) == newest_input.end()) {
      joined.push_back(segment);
    }
  }
  auto at = runs->erase(first, first + static_cast<ptrdiff_t>(inputs.size()));
  at = runs->insert(at, replacement.begin(), replacement.end());
  if (!joined.empty()) runs->insert(at, std::move(joined));
}

// Every version of a run, in order, one segment after another (for compaction).
template <typename Filter>
class RunCursor {
 public:
  // As Segment<Filter>::Cursor's flags, for each segment of the run.
  RunCursor(SegmentRun<Filter> run, bool verify, bool release_behind)
      : run_(std::move(run)), verify_(verify), release_behind_(release_behind) {}

  void SeekToFirst() { Open(0); }
  bool Valid() const { return cursor_ != nullptr && cursor_->Valid(); }
  const Record& record() const { return cursor_->record(); }
  absl::Status status() const { return cursor_ != nullptr ? cursor_->status() : absl::OkStatus(); }
  void Next() {
    cursor_->Next();
    if (!cursor_->Valid() && cursor_->status().ok()) Open(index_ + 1);
  }

 private:
  // Positions at the first version of segment i, or the first segment after it that has one.
  void Open(size_t i) {
    for (; i < run_.size(); ++i) {
      cursor_ = std::make_unique<typename Segment<Filter>::Cursor>(run_[i], verify_, release_behind_);
      index_ = i;
      cursor_->SeekToFirst();
      if (cursor_->Valid() || !cursor_->status().ok()) return;
    }
  }

  SegmentRun<Filter> run_;
  bool verify_;
  bool release_behind_;
  size_t index_ = 0;
  std::unique_ptr<typename Segment<Filter>::Cursor> cursor_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_RUN_H_
