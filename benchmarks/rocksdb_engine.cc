// RocksDB behind the benchmark interface: no compression at any level, a 10 bits/key Bloom filter
// (full filters, format_version 5), everything else at RocksDB's defaults (64 MiB write buffer,
// 8 MiB block cache, 4 KiB blocks, index and filter blocks held by the table readers).
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "benchmarks/engine.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/iterator.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"

namespace kvstore::bench {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
absl::string_view ToView(const rocksdb::Slice& s) { return absl::string_view(s.data(), s.size()); }

absl::Status FromRocksDb(const rocksdb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  if (status.IsNotFound()) return absl::NotFoundError(status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(status.ToString());
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(status.ToString());
  return absl::InternalError(absl::StrCat("rocksdb: ", status.ToString()));
}

class RocksDbIterator final : public BenchIterator {
 public:
  explicit RocksDbIterator(rocksdb::Iterator* it) : it_(it) {}
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Seek(absl::string_view target) override { it_->Seek(ToSlice(target)); }
  void Next() override { it_->Next(); }
  bool Valid() const override { return it_->Valid(); }
  absl::string_view key() const override { return ToView(it_->key()); }
  absl::string_view value() const override { return ToView(it_->value()); }
  absl::Status status() const override { return FromRocksDb(it_->status()); }

 private:
  std::unique_ptr<rocksdb::Iterator> it_;
};

class RocksDbEngine final : public BenchEngine {
 public:
  ~RocksDbEngine() override { Close().IgnoreError(); }

  absl::string_view Name() const override { return "rocksdb"; }

  absl::Status Open(const std::string& dir, const BenchOptions& options) override {
    if (db_ != nullptr) return absl::FailedPreconditionError("rocksdb: already open");
    rocksdb::BlockBasedTableOptions table_options;
    table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(options.bloom_bits_per_key));
    rocksdb::Options db_options;
    db_options.create_if_missing = true;
    db_options.compression = rocksdb::kNoCompression;
    db_options.bottommost_compression = rocksdb::kNoCompression;
    db_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    if (options.write_buffer_bytes != 0) db_options.write_buffer_size = options.write_buffer_bytes;
    rocksdb::DB* db = nullptr;
    rocksdb::Status status = rocksdb::DB::Open(db_options, dir, &db);
    if (!status.ok()) return FromRocksDb(status);
    db_.reset(db);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (db_ == nullptr) return absl::OkStatus();
    rocksdb::Status status = db_->Close();
    db_.reset();
    return FromRocksDb(status);
  }

  absl::Status Put(absl::string_view key, absl::string_view value, bool sync) override {
    rocksdb::WriteOptions options;
    options.sync = sync;
    return FromRocksDb(db_->Put(options, ToSlice(key), ToSlice(value)));
  }

  absl::StatusOr<bool> Get(absl::string_view key, std::string* value) override {
    rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), ToSlice(key), value);
    if (status.ok()) return true;
    if (status.IsNotFound()) return false;
    return FromRocksDb(status);
  }

  absl::Status Delete(absl::string_view key, bool sync) override {
    rocksdb::WriteOptions options;
    options.sync = sync;
    return FromRocksDb(db_->Delete(options, ToSlice(key)));
  }

  absl::Status Write(const std::vector<BatchOp>& ops, bool sync) override {
    rocksdb::WriteBatch batch;
    for (const BatchOp& op : ops) {
      if (op.is_delete) {
        batch.Delete(ToSlice(op.key));
      } else {
        batch.Put(ToSlice(op.key), ToSlice(op.value));
      }
    }
    rocksdb::WriteOptions options;
    options.sync = sync;
    return FromRocksDb(db_->Write(options, &batch));
  }

  bool SupportsIterator() const override { return true; }
  std::unique_ptr<BenchIterator> NewIterator() override {
    return std::make_unique<RocksDbIterator>(db_->NewIterator(rocksdb::ReadOptions()));
  }

  absl::Status Settle(std::string* how) override {
    rocksdb::Status status = db_->Flush(rocksdb::FlushOptions());
    if (!status.ok()) return FromRocksDb(status);
    status = db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr);
    *how = "Flush + CompactRange(all)";
    return FromRocksDb(status);
  }

  // Until no flush or compaction is pending or running, at most a minute.
  absl::Status WaitForBackgroundWork() override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    while (std::chrono::steady_clock::now() < deadline) {
      uint64_t pending = 1, compactions = 1, flushes = 1;
      db_->GetIntProperty(rocksdb::DB::Properties::kCompactionPending, &pending);
      db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningCompactions, &compactions);
      db_->GetIntProperty(rocksdb::DB::Properties::kNumRunningFlushes, &flushes);
      if (pending == 0 && compactions == 0 && flushes == 0) return absl::OkStatus();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return absl::OkStatus();
  }

  EngineMemory Memory() override {
    EngineMemory memory;
    uint64_t value = 0;
    if (db_->GetIntProperty(rocksdb::DB::Properties::kEstimateTableReadersMem, &value)) {
      memory.index_filter_bytes = value;
      memory.index_filter_source = "rocksdb.estimate-table-readers-mem";
    }
    uint64_t cache = 0, memtables = 0;
    if (db_->GetIntProperty(rocksdb::DB::Properties::kBlockCacheUsage, &cache) &&
        db_->GetIntProperty(rocksdb::DB::Properties::kCurSizeAllMemTables, &memtables)) {
      memory.reported_bytes = cache + memtables;
      memory.reported_source = "rocksdb.block-cache-usage + rocksdb.cur-size-all-mem-tables";
    }
    return memory;
  }

  std::string Stats() override {
    std::string stats;
    return db_->GetProperty(rocksdb::DB::Properties::kLevelStats, &stats) ? stats : "";
  }

 private:
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace

REGISTER_BENCH_ENGINE(rocksdb, "rocksdb", kRocksDbBuildNote, RocksDbEngine);

}  // namespace kvstore::bench
