// kvstore: a typed, embedded key-value store. Include this header and use KVStore<Key, Value>.
//
//   auto store = kvstore::KVStore<std::string, int64_t>::Open("/tmp/db").value();
//   store->Set("apples", 3);
//   absl::StatusOr<int64_t> n = store->Get("apples");
//
// Keys and values are C++ values; the Serializer policy turns them into bytes (keys so that byte
// order is key order), the Filter policy lets a read skip segments that cannot hold a key. Writes
// are durable once acknowledged (WAL), and survive power loss with WriteOptions::sync.
// A KVStore is safe to use from many threads.
//
// Lifecycle, from any thread:
//  - Close() may be called at any moment, from any thread, any number of times. From the moment it
//    starts, every new call fails with FailedPrecondition ("store is closed"): Set, Delete, Write,
//    Get, GetInto, Flush, Compact, Verify, Checkpoint, WaitForBackgroundWork; NewIterator and Scan
//    give an iterator or range that is never valid and whose status() says so; GetProperty gives
//    nullopt.
//  - Calls already in flight finish or fail cleanly: writes queued before Close are applied and
//    acknowledged (the WAL is synced before Close returns); a Compact() stops at its next record and
//    returns FailedPrecondition (its inputs stay); a Flush() waiting for its MemTable returns
//    FailedPrecondition (the WAL still holds the data). Close waits for every one of them, and for
//    the background threads, before it releases the directory: after Close returns, nothing
//    touches the directory, and another process may open it.
//  - Concurrent Close() calls all wait for the first and return its outcome. The destructor calls
//    Close(); destroying the store while another thread is still inside one of its calls is the
//    one thing not allowed (as for any C++ object).
//  - Iterators and Ranges may outlive Close() and the store object: they hold what they read (no
//    dangling reads), but once the store is closed they stop: Seek*, Next and Prev leave them
//    invalid with FailedPrecondition in status().
//  - A Snapshot may outlive the store; reading at it from another store, or from a later opening
//    of the same directory, fails with FailedPrecondition (its sequence numbers mean nothing
//    there); an empty (moved-from or default) Snapshot is InvalidArgument.
#ifndef KVSTORE_KVSTORE_H_
#define KVSTORE_KVSTORE_H_

#include <atomic>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/block_codec.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/engine.h"
#include "kvstore/internal/typed_codec.h"
#include "kvstore/internal/typed_iterator.h"
#include "kvstore/options.h"
#include "kvstore/serializer.h"
#include "kvstore/status.h"

namespace kvstore {

namespace internal {

// Default-serializer types are checked by their own concepts first, so a bad key type reports
// the sentence below rather than a failed requirement deep inside the serializer.
template <typename S, typename K, typename V>
constexpr bool CheckTypes() {
  if constexpr (std::is_same_v<S, DefaultSerializer>) {
    static_assert(DefaultKey<K>,
                  "kvstore::KVStore: the Key type is not supported by DefaultSerializer. Keys may "
                  "be std::string, an integer, float, double, bool, or a std::pair/std::tuple of "
                  "these; for other types pass your own Serializer policy.");
    static_assert(DefaultValue<V>,
                  "kvstore::KVStore: the Value type is not supported by DefaultSerializer. Values "
                  "may be what keys may be, or any trivially copyable struct; for other types "
                  "pass your own Serializer policy.");
    return DefaultKey<K> && DefaultValue<V>;
  } else {
    static_assert(SerializerFor<S, K, V>,
                  "kvstore::KVStore: the Serializer policy must provide static EncodeKey(const "
                  "Key&, std::string*), DecodeKey(absl::string_view, Key*) -> absl::Status, "
                  "EncodeValue(const Value&, std::string*) and DecodeValue(absl::string_view, "
                  "Value*) -> absl::Status.");
    return SerializerFor<S, K, V>;
  }
}

}  // namespace internal

template <typename Key, typename Value, typename Serializer = DefaultSerializer,
          typename Filter = BloomFilter<10>, typename Compression = NoCompression>
class KVStore {
  static_assert(internal::CheckTypes<Serializer, Key, Value>());
  static_assert(CompressionPolicy<Compression>,
                "kvstore::KVStore: the Compression policy must be NoCompression or provide "
                "kCodecId, Name(), Compress(absl::string_view, std::string*) -> bool and "
                "Decompress(absl::string_view, char*, size_t) -> bool; see kvstore/compression.h.");
  static_assert(FilterPolicy<Filter>,
                "kvstore::KVStore: the Filter policy must provide static Name(), "
                "Build(absl::Span<const uint64_t>, std::string*) and "
                "MayContain(absl::string_view, uint64_t) -> bool; see BloomFilter.");

  using Engine = internal::Engine<Filter>;

 public:
  using key_type = Key;
  using mapped_type = Value;

  class Range;

  // Writes applied together by Write(): after a crash, all of them or none are in the store.
  class WriteBatch {
   public:
    // The encodings go through buffers kept with the batch: a batch of thousands of operations
    // would otherwise allocate and free two strings per operation.
    void Set(const Key& key, const Value& value) {
      if (!Accept(EncodeKeyChecked(key, &key_)) || !Accept(EncodeValueChecked(value, &value_))) {
        return;
      }
      rep_.Put(key_, value_);
    }
    void Delete(const Key& key) {
      if (!Accept(EncodeKeyChecked(key, &key_))) return;
      rep_.Delete(key_);
    }
    void Clear() {
      rep_.Clear();
      status_ = absl::OkStatus();
    }
    // Number of operations in the batch.
    size_t size() const { return rep_.count(); }
    // OK unless an operation was rejected (e.g. an oversized key); Write() then applies nothing.
    const absl::Status& status() const { return status_; }

   private:
    friend class KVStore;
    bool Accept(absl::Status s) {
      if (!s.ok() && status_.ok()) status_ = std::move(s);
      return status_.ok();
    }
    internal::BatchRep rep_;
    absl::Status status_;
    std::string key_, value_;  // Scratch for Set and Delete.
  };

  // Walks the store in key order. It reads the store as it was when the iterator was created,
  // whatever is written, flushed or compacted meanwhile. Seek(target) positions at the first key
  // >= `target`; a target the serializer refuses (a NaN) leaves the iterator invalid, with
  // InvalidArgument in status(). status() is OK unless reading failed (corruption is reported
  // there, never returned as data), or the store was closed (FailedPrecondition: an iterator
  // stops reading when its store closes). Where the serializer stores the key (or value) type as
  // its own bytes (DefaultSerializer with std::string), key_view() (value_view()) gives the
  // current key (value) as stored, neither decoded nor copied, valid until the iterator moves.
  // See internal::TypedIterator.
  class Iterator : public internal::TypedIterator<Key, Value, Serializer> {
   private:
    friend class KVStore;
    Iterator(std::unique_ptr<internal::KeySource> source,
             std::shared_ptr<const std::atomic<bool>> store_closed)
        : internal::TypedIterator<Key, Value, Serializer>(std::move(source),
                                                          std::move(store_closed),
                                                          "store is closed", std::string()) {}
  };

  // A half-open key range [lo, hi) for range-for loops: `for (const auto& [k, v] : s->Scan(a, b))`.
  // Both bounds compare as the stored keys do, by their encodings: keys that encode alike (-0.0
  // and 0.0) are one key for the start and the end of a scan alike. status() is OK unless the
  // scan stopped early on an error, or a bound was refused (InvalidArgument: a NaN bound).
  class Range : public internal::TypedRange<Key, Value, Serializer, Iterator> {
   private:
    friend class KVStore;
    Range(std::unique_ptr<Iterator> it, const Key& lo, const Key* hi)
        : internal::TypedRange<Key, Value, Serializer, Iterator>(std::move(it), lo, hi) {}
  };

  // Opens the store in `dir`, creating it if missing (Options::create_if_missing). Fails if
  // another KVStore, in this process or another, has it open.
  static absl::StatusOr<std::unique_ptr<KVStore>> Open(const std::string& dir,
                                                      const Options& options = {}) {
    KV_ASSIGN_OR_RETURN(
        auto engine,
        Engine::Open(dir, options, internal::TypeSignatureWith<Serializer, Key, Value>(),
                     internal::CodecFor<Compression>()));
    return std::unique_ptr<KVStore>(new KVStore(std::move(engine)));
  }

  // Opens the store in `dir` for reading only (Options::read_only): nothing in the directory is
  // written or locked, so a store another process holds open may be read; it is read as it was
  // at this open. Writes fail with FailedPrecondition. NotFound if `dir` holds no store.
  static absl::StatusOr<std::unique_ptr<KVStore>> OpenReadOnly(const std::string& dir,
                                                              Options options = {}) {
    options.read_only = true;
    return Open(dir, options);
  }

  ~KVStore() { Close().IgnoreError(); }

  absl::Status Set(const Key& key, const Value& value, const WriteOptions& options = {}) {
    thread_local internal::BatchRep batch;
    thread_local std::string k, v;
    k.clear();
    v.clear();
    KV_RETURN_IF_ERROR(EncodeKeyChecked(key, &k));
    KV_RETURN_IF_ERROR(EncodeValueChecked(value, &v));
    batch.Clear();
    batch.Put(k, v);
    return engine_->Write(&batch, options);
  }

  // NotFound if the store holds no value for `key`.
  absl::StatusOr<Value> Get(const Key& key, const ReadOptions& options = {}) const {
    thread_local std::string k;
    k.clear();
    KV_RETURN_IF_ERROR(EncodeKeyChecked(key, &k));
    Value value{};
    KV_RETURN_IF_ERROR(engine_->Get(k, options, [&value](absl::string_view bytes) {
      return internal::DecodeStoredValue<Serializer>(bytes, &value);
    }));
    return value;
  }

  // Like Get, but decodes into `*value`, reusing the memory it holds (a string's buffer), so that a
  // loop of reads allocates nothing once the buffer is large enough. NotFound leaves `*value` as
  // it was; after DataLoss (stored bytes that do not decode) it holds an unspecified value.
  absl::Status GetInto(const Key& key, Value* value, const ReadOptions& options = {}) const {
    thread_local std::string k;
    k.clear();
    KV_RETURN_IF_ERROR(EncodeKeyChecked(key, &k));
    return engine_->Get(k, options, [value](absl::string_view bytes) {
      return internal::DecodeStoredValue<Serializer>(bytes, value);
    });
  }

  // Deleting a key that is not there is not an error.
  absl::Status Delete(const Key& key, const WriteOptions& options = {}) {
    thread_local internal::BatchRep batch;
    thread_local std::string k;
    k.clear();
    KV_RETURN_IF_ERROR(EncodeKeyChecked(key, &k));
    batch.Clear();
    batch.Delete(k);
    return engine_->Write(&batch, options);
  }

  // Applies every operation of `batch`, or none if the batch holds a rejected operation.
  absl::Status Write(const WriteBatch& batch, const WriteOptions& options = {}) {
    KV_RETURN_IF_ERROR(batch.status_);
    KV_RETURN_IF_ERROR(internal::CheckBatchBytes(batch.rep_.ApproximateBytes()));
    return engine_->Write(&batch.rep_, options);
  }

  Snapshot GetSnapshot() const { return engine_->GetSnapshot(); }

  // After Close (or with a snapshot of another store) the iterator is never valid and its
  // status() says why.
  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options = {}) const {
    return std::unique_ptr<Iterator>(
        new Iterator(engine_->NewSource(options), engine_->closed_flag()));
  }

  // Keys in [lo, hi), in order.
  Range Scan(const Key& lo, const Key& hi, const ReadOptions& options = {}) const {
    return Range(NewIterator(options), lo, &hi);
  }
  // Keys >= lo, in order.
  Range Scan(const Key& lo, const ReadOptions& options = {}) const {
    return Range(NewIterator(options), lo, nullptr);
  }

  // Writes the MemTable to a new segment and waits until it is durable.
  absl::Status Flush() { return engine_->Flush(); }

  // Merges all segments into one, dropping overwritten and deleted data no snapshot needs.
  absl::Status Compact() { return engine_->Compact(); }

  // Checks the checksum of every block of every live segment; DataLoss names the damaged file.
  absl::Status Verify() const { return engine_->Verify(); }

  // Writes a consistent copy of the store as of now into `dest_dir`, which must not exist or be
  // empty (else AlreadyExists); it opens as a normal store and is durable when this returns.
  // Segments are hard-linked (copied across file systems), so it is cheap; later writes to this
  // store do not reach it. Writes wait while it is taken. Works on a read-only open too.
  absl::Status Checkpoint(const std::string& dest_dir) { return engine_->Checkpoint(dest_dir); }

  // Waits until background flushes and compactions have caught up.
  absl::Status WaitForBackgroundWork() { return engine_->WaitForBackgroundWork(); }

  // Statistics by name: "kvstore.num-segments", "kvstore.total-bytes", "kvstore.segments",
  // "kvstore.memtable-bytes", "kvstore.index-filter-bytes", "kvstore.num-entries",
  // "kvstore.user-bytes-written", "kvstore.flush-bytes-written",
  // "kvstore.compaction-bytes-written", "kvstore.compaction-bytes-read",
  // "kvstore.write-amplification", "kvstore.flushes", "kvstore.compactions",
  // "kvstore.compactions-between-steps" (of those, merges of newer runs made between two steps of
  // a long merge),
  // "kvstore.filter-negatives" (segment reads a filter saved), "kvstore.segment-reads",
  // "kvstore.write-slowdowns", "kvstore.write-stops", "kvstore.live-snapshots",
  // "kvstore.last-sequence", "kvstore.wal-records" (fewer than writes when writes were grouped),
  // "kvstore.wal-tail-bytes-dropped" (torn WAL tails dropped at open). nullopt for an unknown name.
  std::optional<std::string> GetProperty(absl::string_view name) const {
    return engine_->GetProperty(name);
  }

  // Stops background work, waits for calls in flight, syncs the WAL and releases the directory.
  // Idempotent and safe to race with any call (see the lifecycle at the top of this file); the
  // destructor calls it.
  absl::Status Close() { return engine_->Close(); }

 private:
  explicit KVStore(std::unique_ptr<Engine> engine) : engine_(std::move(engine)) {}

  static absl::Status EncodeKeyChecked(const Key& key, std::string* out) {
    return internal::EncodeKeyChecked<Serializer>({}, key, out);
  }
  static absl::Status EncodeValueChecked(const Value& value, std::string* out) {
    return internal::EncodeValueChecked<Serializer>(value, out);
  }

  std::unique_ptr<Engine> engine_;
};

}  // namespace kvstore

#endif  // KVSTORE_KVSTORE_H_
