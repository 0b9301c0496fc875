// kvstore behind the benchmark interface, as a user holds it: KVStore<std::string, std::string>
// with its default Serializer and BloomFilter<10>, default Options.
//
// Optional parts of the store's API (iterators, compaction, properties) are found with
// `requires` on the store type, so this adapter builds against any stage of the library and a
// workload needing a missing part is left out rather than measured with a stand-in.
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "benchmarks/engine.h"
#include "kvstore/kvstore.h"

namespace kvstore::bench {
namespace {

using Store = KVStore<std::string, std::string>;

template <typename S>
concept HasIterator = requires(const S& store) {
  store.NewIterator()->Seek(std::string());
  store.NewIterator()->SeekToFirst();
  store.NewIterator()->Next();
  store.NewIterator()->Valid();
  store.NewIterator()->key();
  store.NewIterator()->value();
  store.NewIterator()->status();
};

// Views of the stored bytes, as LevelDB's and RocksDB's iterators hand out slices.
template <typename It>
concept HasViews = requires(const It& it) {
  { it.key_view() } -> std::same_as<absl::string_view>;
  { it.value_view() } -> std::same_as<absl::string_view>;
};

template <typename S>
concept HasGetInto = requires(const S& store, std::string* value) {
  { store.GetInto(std::string(), value) } -> std::same_as<absl::Status>;
};

template <typename S>
concept HasCompact = requires(S& store) {
  { store.Compact() } -> std::same_as<absl::Status>;
};

template <typename S>
concept HasWaitForBackgroundWork = requires(S& store) {
  { store.WaitForBackgroundWork() } -> std::same_as<absl::Status>;
};

template <typename S>
concept HasProperties = requires(const S& store) {
  { store.GetProperty(absl::string_view()) } -> std::same_as<std::optional<std::string>>;
};

// The typed API takes `const std::string&`: reuse one buffer per thread so that the adapter
// adds a copy, not an allocation, per call.
const std::string& Buffered(absl::string_view bytes, int slot) {
  thread_local std::string buffers[2];
  buffers[slot].assign(bytes.data(), bytes.size());
  return buffers[slot];
}

template <typename S>
class KvStoreIterator final : public BenchIterator {
 public:
  explicit KvStoreIterator(std::unique_ptr<typename S::Iterator> it) : it_(std::move(it)) {}
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Seek(absl::string_view target) override { it_->Seek(Buffered(target, 0)); }
  void Next() override { it_->Next(); }
  bool Valid() const override { return it_->Valid(); }
  absl::string_view key() const override {
    if constexpr (HasViews<typename S::Iterator>) return it_->key_view();
    return it_->key();
  }
  absl::string_view value() const override {
    if constexpr (HasViews<typename S::Iterator>) return it_->value_view();
    return it_->value();
  }
  absl::Status status() const override { return it_->status(); }

 private:
  std::unique_ptr<typename S::Iterator> it_;
};

class KvStoreEngine final : public BenchEngine {
 public:
  ~KvStoreEngine() override { Close().IgnoreError(); }

  absl::string_view Name() const override { return "kvstore"; }

  absl::Status Open(const std::string& dir, const BenchOptions& options) override {
    if (store_ != nullptr) return absl::FailedPreconditionError("kvstore: already open");
    if (options.bloom_bits_per_key != 10) {
      return absl::InvalidArgumentError("kvstore: the adapter is built with BloomFilter<10>");
    }
    Options store_options;
    if (options.write_buffer_bytes != 0) store_options.memtable_bytes = options.write_buffer_bytes;
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir, store_options);
    if (!store.ok()) return store.status();
    store_ = *std::move(store);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (store_ == nullptr) return absl::OkStatus();
    absl::Status status = store_->Close();
    store_.reset();
    return status;
  }

  absl::Status Put(absl::string_view key, absl::string_view value, bool sync) override {
    WriteOptions options;
    options.sync = sync;
    return store_->Set(Buffered(key, 0), Buffered(value, 1), options);
  }

  // Into the caller's string when the store can (as LevelDB's and RocksDB's adapters read), so
  // that a read does not allocate.
  absl::StatusOr<bool> Get(absl::string_view key, std::string* value) override {
    absl::Status status;
    if constexpr (HasGetInto<Store>) {
      status = store_->GetInto(Buffered(key, 0), value);
    } else {
      absl::StatusOr<std::string> result = store_->Get(Buffered(key, 0));
      if (result.ok()) *value = *std::move(result);
      status = result.status();
    }
    if (status.ok()) return true;
    if (absl::IsNotFound(status)) return false;
    return status;
  }

  absl::Status Delete(absl::string_view key, bool sync) override {
    WriteOptions options;
    options.sync = sync;
    return store_->Delete(Buffered(key, 0), options);
  }

  absl::Status Write(const std::vector<BatchOp>& ops, bool sync) override {
    thread_local Store::WriteBatch batch;
    batch.Clear();
    for (const BatchOp& op : ops) {
      if (op.is_delete) {
        batch.Delete(Buffered(op.key, 0));
      } else {
        batch.Set(Buffered(op.key, 0), Buffered(op.value, 1));
      }
    }
    WriteOptions options;
    options.sync = sync;
    return store_->Write(batch, options);
  }

  bool SupportsIterator() const override { return HasIterator<Store>; }

  std::unique_ptr<BenchIterator> NewIterator() override {
    if constexpr (HasIterator<Store>) {
      return std::make_unique<KvStoreIterator<Store>>(store_->NewIterator());
    } else {
      return nullptr;
    }
  }

  absl::Status Settle(std::string* how) override {
    absl::Status status = store_->Flush();
    if (!status.ok()) return status;
    *how = "Flush";
    if constexpr (HasCompact<Store>) {
      status = store_->Compact();
      if (!status.ok()) return status;
      *how = "Flush + Compact";
    } else {
      *how = "Flush only (the store has no Compact() yet)";
    }
    if constexpr (HasWaitForBackgroundWork<Store>) status = store_->WaitForBackgroundWork();
    return status;
  }

  absl::Status WaitForBackgroundWork() override {
    if constexpr (HasWaitForBackgroundWork<Store>) return store_->WaitForBackgroundWork();
    return absl::OkStatus();
  }

  EngineMemory Memory() override {
    EngineMemory memory;
    if constexpr (HasProperties<Store>) {
      uint64_t bytes = 0;
      std::optional<std::string> value = store_->GetProperty("kvstore.index-filter-bytes");
      if (value.has_value() && absl::SimpleAtoi(*value, &bytes)) {
        memory.index_filter_bytes = bytes;
        memory.index_filter_source = "kvstore.index-filter-bytes";
      }
      value = store_->GetProperty("kvstore.memtable-bytes");
      if (value.has_value() && absl::SimpleAtoi(*value, &bytes)) {
        memory.reported_bytes = bytes;
        memory.reported_source = "kvstore.memtable-bytes";
      }
    }
    return memory;
  }

  std::string Stats() override {
    std::string stats;
    if constexpr (HasProperties<Store>) {
      for (const char* name :
           {"kvstore.num-runs", "kvstore.num-segments", "kvstore.segment-bytes", "kvstore.flushes",
            "kvstore.compactions", "kvstore.compactions-between-steps",
            "kvstore.write-amplification", "kvstore.write-slowdowns", "kvstore.write-stops",
            "kvstore.wal-records", "kvstore.segment-reads", "kvstore.filter-negatives"}) {
        std::optional<std::string> value = store_->GetProperty(name);
        if (value.has_value()) absl::StrAppend(&stats, "  ", name, " ", *value, "\n");
      }
    }
    return stats;
  }

 private:
  std::unique_ptr<Store> store_;
};

}  // namespace

REGISTER_BENCH_ENGINE(kvstore, "kvstore", "", KvStoreEngine);

}  // namespace kvstore::bench
