// Ordered reads over a whole store: each source (a MemTable, a segment, or a sorted run of
// segments) yields, per key, its newest version visible at the read's sequence number; a
// MergedSource combines them, newest source first, so each key appears once with the version that
// wins.
#ifndef KVSTORE_INTERNAL_MERGE_H_
#define KVSTORE_INTERNAL_MERGE_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/memtable.h"
#include "kvstore/internal/run.h"
#include "kvstore/internal/segment.h"

namespace kvstore::internal {

// One key at a time, in key order, each key's newest version visible at a fixed sequence.
// key() and value() stay valid until the source moves.
class KeySource {
 public:
  virtual ~KeySource() = default;
  virtual void SeekToFirst() = 0;
  virtual void SeekToLast() = 0;
  virtual void Seek(absl::string_view key) = 0;        // first key >= `key`
  virtual void SeekBefore(absl::string_view key) = 0;  // last key < `key`
  virtual void Next() = 0;
  virtual void Prev() = 0;
  virtual bool Valid() const = 0;
  virtual absl::string_view key() const = 0;
  virtual EntryKind kind() const = 0;
  virtual absl::string_view value() const = 0;
  virtual absl::Status status() const { return absl::OkStatus(); }
};

class MemTableSource final : public KeySource {
 public:
  MemTableSource(std::shared_ptr<const MemTable> mem, uint64_t sequence)
      : mem_(std::move(mem)), view_(mem_->Sorted()), sequence_(sequence) {}

  void SeekToFirst() override { SettleForward(0); }
  void SeekToLast() override { SettleBackward(static_cast<ptrdiff_t>(view_->size()) - 1); }
  void Seek(absl::string_view key) override { SettleForward(LowerBound(key)); }
  void SeekBefore(absl::string_view key) override {
    SettleBackward(static_cast<ptrdiff_t>(LowerBound(key)) - 1);
  }
  void Next() override { SettleForward(index_ + 1); }
  void Prev() override { SettleBackward(static_cast<ptrdiff_t>(index_) - 1); }
  bool Valid() const override { return version_ != nullptr; }
  absl::string_view key() const override { return (*view_)[index_]->key(); }
  EntryKind kind() const override { return version_->kind(); }
  absl::string_view value() const override { return version_->value(); }

 private:
  size_t LowerBound(absl::string_view key) const {
    auto it = std::lower_bound(view_->begin(), view_->end(), key,
                               [](const MemTable::KeyEntry* e, absl::string_view k) {
                                 return e->key() < k;
                               });
    return static_cast<size_t>(it - view_->begin());
  }
  void SettleForward(size_t i) {
    for (; i < view_->size(); ++i) {
      if ((version_ = (*view_)[i]->VisibleAt(sequence_)) != nullptr) {
        index_ = i;
        return;
      }
    }
    version_ = nullptr;
  }
  void SettleBackward(ptrdiff_t i) {
    for (; i >= 0; --i) {
      if ((version_ = (*view_)[i]->VisibleAt(sequence_)) != nullptr) {
        index_ = static_cast<size_t>(i);
        return;
      }
    }
    version_ = nullptr;
  }

  std::shared_ptr<const MemTable> mem_;
  std::shared_ptr<const MemTable::SortedView> view_;
  uint64_t sequence_;
  size_t index_ = 0;
  const MemTable::Version* version_ = nullptr;
};

template <typename Filter>
class SegmentSource final : public KeySource {
 public:
  SegmentSource(std::shared_ptr<const Segment<Filter>> segment, uint64_t sequence, bool verify)
      : cursor_(std::move(segment), verify), sequence_(sequence) {}

  void SeekToFirst() override {
    cursor_.SeekToFirst();
    SettleForward();
  }
  void SeekToLast() override {
    cursor_.SeekToLast();
    SettleBackward();
  }
  void Seek(absl::string_view key) override {
    cursor_.Seek(key, LookupTag(sequence_));
    SettleForward();
  }
  void SeekBefore(absl::string_view key) override {
    // The oldest version of the last key below `key` sits just before the newest of `key`.
    cursor_.Seek(key, LookupTag(kMaxSequence));
    if (cursor_.Valid()) {
      cursor_.Prev();
    } else if (cursor_.status().ok()) {
      cursor_.SeekToLast();
    }
    SettleBackward();
  }
  void Next() override {
    cursor_.NextKey();
    SettleForward();
  }
  void Prev() override {
    current_.assign(key().data(), key().size());
    while (cursor_.Valid() && cursor_.record().key == current_) cursor_.Prev();
    SettleBackward();
  }
  bool Valid() const override { return valid_; }
  absl::string_view key() const override { return cursor_.record().key; }
  EntryKind kind() const override { return TagKind(cursor_.record().tag); }
  absl::string_view value() const override { return cursor_.record().value; }
  absl::Status status() const override { return cursor_.status(); }

 private:
  // Versions of a key are newest first, so moving forward the first visible one is the newest.
  void SettleForward() {
    while (cursor_.Valid() && TagSequence(cursor_.record().tag) > sequence_) cursor_.Next();
    valid_ = cursor_.Valid();
  }
  // Moving backward, a key's versions come oldest first: remember the last visible one seen.
  void SettleBackward() {
    while (cursor_.Valid()) {
      current_.assign(cursor_.record().key.data(), cursor_.record().key.size());
      bool found = false;
      std::pair<size_t, uint32_t> newest_visible;
      while (cursor_.Valid() && cursor_.record().key == current_) {
        if (TagSequence(cursor_.record().tag) <= sequence_) {
          found = true;
          newest_visible = cursor_.position();
        }
        cursor_.Prev();
      }
      if (!cursor_.status().ok()) break;
      if (found) {
        cursor_.SetPosition(newest_visible);
        valid_ = cursor_.Valid();
        return;
      }
    }
    valid_ = false;
  }

  typename Segment<Filter>::Cursor cursor_;
  uint64_t sequence_;
  bool valid_ = false;
  std::string current_;  // The key being stepped over; a member so stepping does not allocate.
};

// A sorted run of several segments as one source: their key ranges are disjoint and in order, so
// the run is read one segment after another, each through its own SegmentSource, made when the
// read reaches it.
template <typename Filter>
class RunSource final : public KeySource {
 public:
  RunSource(SegmentRun<Filter> run, uint64_t sequence, bool verify)
      : run_(std::move(run)), sequence_(sequence), verify_(verify) {}

  void SeekToFirst() override {
    Open(0)->SeekToFirst();
    SettleForward();
  }
  void SeekToLast() override {
    Open(run_.size() - 1)->SeekToLast();
    SettleBackward();
  }
  void Seek(absl::string_view key) override {
    // Past the last segment's keys, the last segment's own Seek leaves it invalid.
    Open(std::min(FirstSegmentAtOrAfter(run_, key), run_.size() - 1))->Seek(key);
    SettleForward();
  }
  void SeekBefore(absl::string_view key) override {
    const size_t i = FirstSegmentAtOrAfter(run_, key);
    Open(std::min(i, run_.size() - 1))->SeekBefore(key);
    SettleBackward();
  }
  void Next() override {
    source_->Next();
    SettleForward();
  }
  void Prev() override {
    source_->Prev();
    SettleBackward();
  }
  bool Valid() const override { return source_ != nullptr && source_->Valid(); }
  absl::string_view key() const override { return source_->key(); }
  EntryKind kind() const override { return source_->kind(); }
  absl::string_view value() const override { return source_->value(); }
  absl::Status status() const override {
    return source_ != nullptr ? source_->status() : absl::OkStatus();
  }

 private:
  KeySource* Open(size_t i) {
    if (source_ == nullptr || index_ != i) {
      source_ = std::make_unique<SegmentSource<Filter>>(run_[i], sequence_, verify_);
      index_ = i;
    }
    return source_.get();
  }
  // A segment may end, or hold nothing visible at the sequence: go on to the next one.
  void SettleForward() {
    while (!source_->Valid() && source_->status().ok() && index_ + 1 < run_.size()) {
      Open(index_ + 1)->SeekToFirst();
    }
  }
  void SettleBackward() {
    while (!source_->Valid() && source_->status().ok() && index_ > 0) Open(index_ - 1)->SeekToLast();
  }

  const SegmentRun<Filter> run_;  // Never empty.
  const uint64_t sequence_;
  const bool verify_;
  size_t index_ = 0;
  std::unique_ptr<KeySource> source_;  // Null until the first seek.
};

// Merges sources given newest first: for a key several sources hold, the newest source wins.
// Deleted keys are yielded too (kind() == kDeletion); the user-facing iterator skips them.
class MergedSource final : public KeySource {
 public:
  explicit MergedSource(std::vector<std::unique_ptr<KeySource>> sources)
      : sources_(std::move(sources)) {}

  void SeekToFirst() override {
    for (auto& s : sources_) s->SeekToFirst();
    PickForward();
  }
  void SeekToLast() override {
    for (auto& s : sources_) s->SeekToLast();
    PickBackward();
  }
  void Seek(absl::string_view key) override {
    for (auto& s : sources_) s->Seek(key);
    PickForward();
  }
  void SeekBefore(absl::string_view key) override {
    for (auto& s : sources_) s->SeekBefore(key);
    PickBackward();
  }
  void Next() override {
    if (!forward_) {
      // Sources may sit anywhere at or below the current key: put all just past it.
      current_key_.assign(key().data(), key().size());
      const std::string& current = current_key_;
      for (auto& s : sources_) {
        s->Seek(current);
        if (s->Valid() && s->key() == current) s->Next();
      }
      return PickForward();
    }
    // Moving forward, the other sources sit at or past the current key, and heap_ holds the
    // valid ones with the current source on top. Those at the current key are older versions:
    // step them past it first, while the current source's key (viewed, not copied) still holds.
    if (heap_.size() == 1) {  // The others are exhausted (a full scan of one segment, say).
      current_->Next();
      if (current_->Valid()) return;  // keys_ is not read while the heap holds one source.
      return Fail();  // At the end, or failed (status() tells which): nothing current.
    }
    if (heap_.empty()) return;
    const size_t top = heap_.front();
    PopHeap();
    while (!heap_.empty() && keys_[heap_.front()] == keys_[top]) {
      const size_t i = heap_.front();
      PopHeap();
      sources_[i]->Next();
      if (!Refresh(i)) return Fail();
      if (valid_[i]) PushHeap(i);
    }
    sources_[top]->Next();
    if (!Refresh(top)) return Fail();
    if (valid_[top]) PushHeap(top);
    current_ = heap_.empty() ? nullptr : sources_[heap_.front()].get();
  }
  void Prev() override {
    current_key_.assign(key().data(), key().size());
    const std::string& current = current_key_;
    if (forward_) {
      for (auto& s : sources_) s->SeekBefore(current);
    } else {
      for (auto& s : sources_) {
        if (s->Valid() && s->key() == current) s->Prev();
      }
    }
    PickBackward();
  }
  bool Valid() const override { return current_ != nullptr; }
  absl::string_view key() const override { return current_->key(); }
  EntryKind kind() const override { return current_->kind(); }
  absl::string_view value() const override { return current_->value(); }
  absl::Status status() const override {
    for (const auto& s : sources_) {
      if (absl::Status st = s->status(); !st.ok()) return st;
    }
    return absl::OkStatus();
  }

 private:
  // A source that failed is invalid, and skipping it could surface an older version it shadows:
  // so any failure ends the merge (status() reports it).
  void PickForward() {
    forward_ = true;
    current_ = nullptr;
    heap_.clear();
    for (size_t i = 0; i < sources_.size(); ++i) {
      if (!Refresh(i)) return Fail();
      if (valid_[i]) heap_.push_back(i);
    }
    std::make_heap(heap_.begin(), heap_.end(), After{this});
    if (!heap_.empty()) current_ = sources_[heap_.front()].get();
  }
  void PickBackward() {
    forward_ = false;
    current_ = nullptr;
    for (auto& s : sources_) {
      if (!s->Valid()) {
        if (!s->status().ok()) return Fail();
        continue;
      }
      if (current_ == nullptr || s->key() > current_->key()) current_ = s.get();
    }
  }
  void Fail() {
    current_ = nullptr;
    heap_.clear();
  }

  // Records where source i now is (valid_[i], keys_[i]); false if it failed.
  bool Refresh(size_t i) {
    valid_[i] = sources_[i]->Valid();
    if (valid_[i]) {
      keys_[i] = sources_[i]->key();
      return true;
    }
    return sources_[i]->status().ok();
  }

  // Heap order moving forward: smallest key on top, and for equal keys the newest source (the
  // lowest index), whose version wins.
  struct After {
    const MergedSource* merge;
    bool operator()(size_t a, size_t b) const {
      const int c = merge->keys_[a].compare(merge->keys_[b]);
      return c > 0 || (c == 0 && a > b);
    }
  };
  void PopHeap() {
    std::pop_heap(heap_.begin(), heap_.end(), After{this});
    heap_.pop_back();
  }
  void PushHeap(size_t i) {
    heap_.push_back(i);
    std::push_heap(heap_.begin(), heap_.end(), After{this});
  }

  std::vector<std::unique_ptr<KeySource>> sources_;
  KeySource* current_ = nullptr;
  bool forward_ = true;
  // Moving forward: the valid sources as a heap (After), each source's validity and key as of
  // its last move, so that stepping costs about log2(sources) key comparisons and no virtual
  // calls to re-read keys that did not move. A full scan over many sorted runs (an uncompacted
  // store) spends most of its time here.
  std::vector<size_t> heap_;
  std::vector<uint8_t> valid_ = std::vector<uint8_t>(sources_.size(), 0);
  std::vector<absl::string_view> keys_ = std::vector<absl::string_view>(sources_.size());
  std::string current_key_;
};

// A source with no entries that reports why: what an iterator of a closed store, or one asked to
// read at a snapshot of another store, walks.
class ErrorSource final : public KeySource {
 public:
  explicit ErrorSource(absl::Status status) : status_(std::move(status)) {}
  void SeekToFirst() override {}
  void SeekToLast() override {}
  void Seek(absl::string_view) override {}
  void SeekBefore(absl::string_view) override {}
  void Next() override {}
  void Prev() override {}
  bool Valid() const override { return false; }
  absl::string_view key() const override { return {}; }
  EntryKind kind() const override { return EntryKind::kValue; }
  absl::string_view value() const override { return {}; }
  absl::Status status() const override { return status_; }

 private:
  absl::Status status_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_MERGE_H_
