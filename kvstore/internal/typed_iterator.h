// The typed iterator and range behind KVStore::Iterator / KVStore::Range and Table::Iterator /
// Table::Range: one implementation that walks an internal::KeySource, skips deletions, decodes
// keys and values with the Serializer, and stops once its store (or database) is closed.
//
// A table's iterator walks only the keys that start with the table's prefix (its 4-byte id) and
// strips it before decoding; a KVStore's iterator has an empty prefix and walks every key.
// Users include kvstore.h (or database.h) and name the wrappers, not these templates.
#ifndef KVSTORE_INTERNAL_TYPED_ITERATOR_H_
#define KVSTORE_INTERNAL_TYPED_ITERATOR_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/merge.h"
#include "kvstore/serializer.h"

namespace kvstore::internal {

// Whether serializer S stores T as its own bytes (S::kStoresAsIs<T>; a policy may leave it out).
template <typename S, typename T>
concept StoresAsIs = requires { requires S::template kStoresAsIs<T>; };

// The smallest string greater than every string that starts with `prefix`; empty if none (all
// bytes 0xFF).
inline std::string PrefixSuccessor(std::string prefix) {
  while (!prefix.empty() && static_cast<uint8_t>(prefix.back()) == 0xFF) prefix.pop_back();
  if (!prefix.empty()) prefix.back() = static_cast<char>(static_cast<uint8_t>(prefix.back()) + 1);
  return prefix;
}

template <typename Key, typename Value, typename Serializer, typename Iter>
class TypedRange;

// Walks the keys of a source that start with `prefix`, in key order. It reads the store as it
// was when the source was created, whatever is written, flushed or compacted meanwhile.
template <typename Key, typename Value, typename Serializer>
class TypedIterator {
 public:
  void SeekToFirst() {
    if (StoreClosed()) return;
    if (prefix_.empty()) {
      source_->SeekToFirst();
    } else {
      source_->Seek(prefix_);
    }
    Settle(true);
  }
  void SeekToLast() {
    if (StoreClosed()) return;
    if (prefix_.empty()) {
      source_->SeekToLast();
    } else {
      source_->SeekBefore(upper_);
    }
    Settle(false);
  }
  // Positions at the first key >= `target`. A target the serializer refuses (a NaN) leaves the
  // iterator invalid, with InvalidArgument in status().
  void Seek(const Key& target) {
    if (StoreClosed()) return;
    if (absl::Status s = ValidateKeyWith<Serializer>(target); !s.ok()) {
      status_ = std::move(s);
      valid_ = false;
      return;
    }
    std::string k = prefix_;
    Serializer::EncodeKey(target, &k);
    source_->Seek(k);
    Settle(true);
  }
  void Next() {
    if (!valid_ || StoreClosed()) return;
    source_->Next();
    Settle(true);
  }
  void Prev() {
    if (!valid_ || StoreClosed()) return;
    source_->Prev();
    Settle(false);
  }
  bool Valid() const { return valid_; }
  const Key& key() const {
    if constexpr (kKeyAsIs) {
      if (valid_ && !key_ready_) {
        const absl::string_view bytes = StoredKey();
        key_.assign(bytes.data(), bytes.size());
        key_ready_ = true;
      }
    }
    return key_;
  }
  const Value& value() const {
    if constexpr (kValueAsIs) {
      if (valid_ && !value_ready_) {
        const absl::string_view bytes = source_->value();
        value_.assign(bytes.data(), bytes.size());
        value_ready_ = true;
      }
    }
    return value_;
  }
  // Where the serializer stores the key (or value) type as its own bytes (DefaultSerializer with
  // std::string): the current key (or value) as stored, neither decoded nor copied, valid until
  // the iterator moves. A scan that reads only some values, or only their sizes, then copies
  // none of the others.
  template <typename K = Key>
    requires StoresAsIs<Serializer, K>
  absl::string_view key_view() const {
    return StoredKey();
  }
  template <typename V = Value>
    requires StoresAsIs<Serializer, V>
  absl::string_view value_view() const {
    return source_->value();
  }
  // OK unless reading failed (corruption is reported here, never returned as data), or the
  // store was closed (FailedPrecondition: an iterator stops reading when its store closes).
  absl::Status status() const { return status_.ok() ? source_->status() : status_; }

 protected:
  // `closed` is the store's closed flag; once it is set, moves fail with
  // FailedPrecondition(`closed_message`), a string literal. Only keys starting with `prefix` are
  // visited, and the prefix is stripped before decoding.
  TypedIterator(std::unique_ptr<KeySource> source, std::shared_ptr<const std::atomic<bool>> closed,
                const char* closed_message, std::string prefix)
      : source_(std::move(source)),
        closed_(std::move(closed)),
        closed_message_(closed_message),
        prefix_(std::move(prefix)),
        upper_(PrefixSuccessor(prefix_)) {}

 private:
  template <typename, typename, typename, typename>
  friend class TypedRange;

  static constexpr bool kKeyAsIs = StoresAsIs<Serializer, Key>;
  static constexpr bool kValueAsIs = StoresAsIs<Serializer, Value>;

  // The current key's bytes after the prefix.
  absl::string_view StoredKey() const { return source_->key().substr(prefix_.size()); }

  // True (and the iterator invalid, with FailedPrecondition) once the store has been closed.
  bool StoreClosed() {
    if (!closed_->load(std::memory_order_acquire)) return false;
    if (status_.ok()) status_ = absl::FailedPreconditionError(closed_message_);
    valid_ = false;
    return true;
  }

  // Positions at the first key >= the encoded `target` (prefix included).
  void SeekBytes(absl::string_view target) {
    if (StoreClosed()) return;
    source_->Seek(target);
    Settle(true);
  }

  // Skips deletions in the direction of travel, then decodes the current entry (what is stored
  // as is, any bytes, is copied out only when asked for).
  void Settle(bool forward) {
    while (source_->Valid() && source_->kind() == EntryKind::kDeletion) {
      forward ? source_->Next() : source_->Prev();
    }
    valid_ = source_->Valid() && status_.ok() &&
             (prefix_.empty() || absl::StartsWith(source_->key(), prefix_));
    key_ready_ = value_ready_ = false;
    if (!valid_) return;
    absl::Status s;
    if constexpr (!kKeyAsIs) s = Serializer::DecodeKey(StoredKey(), &key_);
    if constexpr (!kValueAsIs) {
      if (s.ok()) s = Serializer::DecodeValue(source_->value(), &value_);
    }
    if (!s.ok()) {
      status_ = absl::DataLossError(absl::StrCat("cannot decode stored entry: ", s.message()));
      valid_ = false;
    }
  }

  std::unique_ptr<KeySource> source_;
  std::shared_ptr<const std::atomic<bool>> closed_;
  const char* closed_message_;
  std::string prefix_;
  std::string upper_;  // PrefixSuccessor(prefix_)
  mutable Key key_{};
  mutable Value value_{};
  mutable bool key_ready_ = false;
  mutable bool value_ready_ = false;
  bool valid_ = false;
  absl::Status status_;
};

// A half-open range [lo, hi) of encoded keys (prefix included) for range-for loops with
// structured bindings: `for (const auto& [k, v] : range)`. Iter derives from
// TypedIterator<Key, Value, Serializer>.
template <typename Key, typename Value, typename Serializer, typename Iter>
class TypedRange {
 public:
  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = std::pair<const Key&, const Value&>;
    using difference_type = std::ptrdiff_t;

    value_type operator*() const { return {range_->it_->key(), range_->it_->value()}; }
    iterator& operator++() {
      range_->it_->Next();
      range_->CheckEnd();
      return *this;
    }
    bool operator==(const iterator& other) const { return done() == other.done(); }
    bool operator!=(const iterator& other) const { return !(*this == other); }

   private:
    friend class TypedRange;
    explicit iterator(TypedRange* range) : range_(range) {}
    bool done() const { return range_ == nullptr || range_->at_end_ || !range_->it_->Valid(); }
    TypedRange* range_;
  };

  iterator begin() { return iterator(this); }
  iterator end() { return iterator(nullptr); }
  // OK unless the scan stopped early on an error, or a bound was refused (InvalidArgument: a
  // NaN bound, which has no place in the key order).
  absl::Status status() const { return it_->status(); }

 protected:
  using Base = TypedIterator<Key, Value, Serializer>;

  // Keys from `lo` (validated and encoded by the iterator's Seek) to before `*hi` (none if null).
  // Both bounds compare as the stored keys do, by their encodings: keys that encode alike (-0.0
  // and 0.0) are one key for the start and the end of a scan alike.
  TypedRange(std::unique_ptr<Iter> it, const Key& lo, const Key* hi) : it_(std::move(it)) {
    if (hi != nullptr) {
      if (absl::Status s = ValidateKeyWith<Serializer>(*hi); !s.ok()) {
        Stop(std::move(s));
        return;
      }
      std::string hi_bytes = AsBase().prefix_;
      Serializer::EncodeKey(*hi, &hi_bytes);
      hi_bytes_.emplace(std::move(hi_bytes));
    }
    it_->Seek(lo);
    CheckEnd();
  }
  // Starts at the encoded `lo` and stops before the encoded `hi` (both include the prefix).
  TypedRange(std::unique_ptr<Iter> it, absl::string_view lo, std::string hi)
      : it_(std::move(it)), hi_bytes_(std::move(hi)) {
    AsBase().SeekBytes(lo);
    CheckEnd();
  }
  // An empty range whose status() is `error`.
  TypedRange(std::unique_ptr<Iter> it, absl::Status error) : it_(std::move(it)) {
    Stop(std::move(error));
  }

 private:
  Base& AsBase() { return *it_; }

  void Stop(absl::Status error) {
    AsBase().status_ = std::move(error);
    AsBase().valid_ = false;
    at_end_ = true;
  }

  void CheckEnd() {
    if (it_->Valid() && hi_bytes_.has_value() && !(AsBase().source_->key() < *hi_bytes_)) {
      at_end_ = true;
    }
  }

  std::unique_ptr<Iter> it_;
  std::optional<std::string> hi_bytes_;
  bool at_end_ = false;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_TYPED_ITERATOR_H_
