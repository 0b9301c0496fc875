// LevelDB behind the benchmark interface: no compression, a 10 bits/key Bloom filter, everything
// else at LevelDB's defaults (4 MiB write buffer, 8 MiB block cache, 4 KiB blocks).
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "benchmarks/engine.h"
#include "leveldb/db.h"
#include "leveldb/env.h"
#include "leveldb/filter_policy.h"
#include "leveldb/iterator.h"
#include "leveldb/options.h"
#include "leveldb/write_batch.h"

namespace kvstore::bench {
namespace {

leveldb::Slice ToSlice(absl::string_view s) { return leveldb::Slice(s.data(), s.size()); }
absl::string_view ToView(const leveldb::Slice& s) { return absl::string_view(s.data(), s.size()); }

absl::Status FromLevelDb(const leveldb::Status& status) {
  if (status.ok()) return absl::OkStatus();
  if (status.IsNotFound()) return absl::NotFoundError(status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(status.ToString());
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(status.ToString());
  return absl::InternalError(absl::StrCat("leveldb: ", status.ToString()));
}

// Reads a varint64 from [*p, end); false if truncated.
bool GetVarint64(const char** p, const char* end, uint64_t* value) {
  uint64_t result = 0;
  for (int shift = 0; shift <= 63 && *p < end; shift += 7) {
    const uint64_t byte = static_cast<unsigned char>(*(*p)++);
    result |= (byte & 127) << shift;
    if ((byte & 128) == 0) {
      *value = result;
      return true;
    }
  }
  return false;
}

bool ReadAt(std::FILE* file, uint64_t offset, size_t n, std::string* out) {
  out->resize(n);
  return std::fseek(file, static_cast<long>(offset), SEEK_SET) == 0 &&
         std::fread(out->data(), 1, n, file) == n;
}

// Sizes of the index block and the filter block of one LevelDB table file, read from the file
// itself following LevelDB's documented table format (doc/table_format.md): a 48-byte footer
// holds the BlockHandles (varint64 offset, size) of the metaindex and index blocks; the
// metaindex block maps "filter.<policy>" to the filter block's handle. These blocks are what
// an open table keeps in memory (heap or mmap) for every lookup; LevelDB reports neither.
bool TableIndexAndFilterBytes(const std::string& path, uint64_t* bytes) {
  constexpr size_t kFooterSize = 48;
  constexpr size_t kBlockTrailerSize = 5;  // compression type + crc32c
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> file(std::fopen(path.c_str(), "rb"),
                                                        &std::fclose);
  if (file == nullptr || std::fseek(file.get(), 0, SEEK_END) != 0) return false;
  const long size = std::ftell(file.get());
  if (size < static_cast<long>(kFooterSize)) return false;
  std::string footer;
  if (!ReadAt(file.get(), size - kFooterSize, kFooterSize, &footer)) return false;
  const char* p = footer.data();
  const char* end = p + footer.size();
  uint64_t meta_offset, meta_size, index_offset, index_size;
  if (!GetVarint64(&p, end, &meta_offset) || !GetVarint64(&p, end, &meta_size) ||
      !GetVarint64(&p, end, &index_offset) || !GetVarint64(&p, end, &index_size)) {
    return false;
  }
  uint64_t total = index_size + kBlockTrailerSize;

  // The metaindex block: entries of (shared, non_shared, value_size varint32s, key delta,
  // value), then restart offsets and their count (fixed32 each). Its few keys share no prefix
  // in practice, but the delta encoding is followed anyway.
  std::string meta;
  if (!ReadAt(file.get(), meta_offset, meta_size, &meta) || meta.size() < 4) return false;
  const uint32_t num_restarts = static_cast<unsigned char>(meta[meta.size() - 4]) |
                                static_cast<unsigned char>(meta[meta.size() - 3]) << 8 |
                                static_cast<unsigned char>(meta[meta.size() - 2]) << 16 |
                                static_cast<uint32_t>(static_cast<unsigned char>(meta[meta.size() - 1])) << 24;
  if (meta.size() < 4 + 4 * static_cast<uint64_t>(num_restarts)) return false;
  p = meta.data();
  end = meta.data() + meta.size() - 4 - 4 * num_restarts;
  std::string key;
  while (p < end) {
    uint64_t shared, non_shared, value_size;
    if (!GetVarint64(&p, end, &shared) || !GetVarint64(&p, end, &non_shared) ||
        !GetVarint64(&p, end, &value_size) || shared > key.size() ||
        non_shared + value_size > static_cast<uint64_t>(end - p)) {
      return false;
    }
    key.resize(shared);
    key.append(p, non_shared);
    p += non_shared;
    const char* value = p;
    p += value_size;
    if (absl::StartsWith(key, "filter.")) {
      uint64_t filter_offset, filter_size;
      if (!GetVarint64(&value, p, &filter_offset) || !GetVarint64(&value, p, &filter_size)) {
        return false;
      }
      total += filter_size + kBlockTrailerSize;
    }
  }
  *bytes = total;
  return true;
}

class LevelDbIterator final : public BenchIterator {
 public:
  explicit LevelDbIterator(leveldb::Iterator* it) : it_(it) {}
  void SeekToFirst() override { it_->SeekToFirst(); }
  void Seek(absl::string_view target) override { it_->Seek(ToSlice(target)); }
  void Next() override { it_->Next(); }
  bool Valid() const override { return it_->Valid(); }
  absl::string_view key() const override { return ToView(it_->key()); }
  absl::string_view value() const override { return ToView(it_->value()); }
  absl::Status status() const override { return FromLevelDb(it_->status()); }

 private:
  std::unique_ptr<leveldb::Iterator> it_;
};

class LevelDbEngine final : public BenchEngine {
 public:
  ~LevelDbEngine() override { Close().IgnoreError(); }

  absl::string_view Name() const override { return "leveldb"; }

  absl::Status Open(const std::string& dir, const BenchOptions& options) override {
    if (db_ != nullptr) return absl::FailedPreconditionError("leveldb: already open");
    filter_.reset(leveldb::NewBloomFilterPolicy(options.bloom_bits_per_key));
    leveldb::Options db_options;
    db_options.create_if_missing = true;
    db_options.compression = leveldb::kNoCompression;
    db_options.filter_policy = filter_.get();
    if (options.write_buffer_bytes != 0) db_options.write_buffer_size = options.write_buffer_bytes;
    leveldb::DB* db = nullptr;
    leveldb::Status status = leveldb::DB::Open(db_options, dir, &db);
    if (!status.ok()) return FromLevelDb(status);
    db_.reset(db);
    dir_ = dir;
    return absl::OkStatus();
  }

  absl::Status Close() override {
    db_.reset();
    return absl::OkStatus();
  }

  absl::Status Put(absl::string_view key, absl::string_view value, bool sync) override {
    leveldb::WriteOptions options;
    options.sync = sync;
    return FromLevelDb(db_->Put(options, ToSlice(key), ToSlice(value)));
  }

  absl::StatusOr<bool> Get(absl::string_view key, std::string* value) override {
    leveldb::Status status = db_->Get(leveldb::ReadOptions(), ToSlice(key), value);
    if (status.ok()) return true;
    if (status.IsNotFound()) return false;
    return FromLevelDb(status);
  }

  absl::Status Delete(absl::string_view key, bool sync) override {
    leveldb::WriteOptions options;
    options.sync = sync;
    return FromLevelDb(db_->Delete(options, ToSlice(key)));
  }

  absl::Status Write(const std::vector<BatchOp>& ops, bool sync) override {
    leveldb::WriteBatch batch;
    for (const BatchOp& op : ops) {
      if (op.is_delete) {
        batch.Delete(ToSlice(op.key));
      } else {
        batch.Put(ToSlice(op.key), ToSlice(op.value));
      }
    }
    leveldb::WriteOptions options;
    options.sync = sync;
    return FromLevelDb(db_->Write(options, &batch));
  }

  bool SupportsIterator() const override { return true; }
  std::unique_ptr<BenchIterator> NewIterator() override {
    return std::make_unique<LevelDbIterator>(db_->NewIterator(leveldb::ReadOptions()));
  }

  absl::Status Settle(std::string* how) override {
    // Compacting the whole key range first writes the memtable out, then merges every level.
    db_->CompactRange(nullptr, nullptr);
    *how = "CompactRange(all)";
    return absl::OkStatus();
  }

  // LevelDB says nothing of pending compactions: wait until level 0 is below its compaction
  // trigger (4 files) and the per-level statistics, updated as each compaction ends, have not
  // changed for a second (a compaction of LevelDB's 2 MiB tables takes well under that), at most
  // a minute.
  absl::Status WaitForBackgroundWork() override {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    std::string stats, previous;
    auto stable_since = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() < deadline) {
      std::string level0;
      db_->GetProperty("leveldb.stats", &stats);
      db_->GetProperty("leveldb.num-files-at-level0", &level0);
      const auto now = std::chrono::steady_clock::now();
      if (stats != previous || level0.empty() || std::stoi(level0) >= 4) stable_since = now;
      if (now - stable_since >= std::chrono::seconds(1)) return absl::OkStatus();
      previous = stats;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return absl::OkStatus();
  }

  EngineMemory Memory() override {
    EngineMemory memory;
    std::string value;
    if (db_->GetProperty("leveldb.approximate-memory-usage", &value)) {
      memory.reported_bytes = std::stoull(value);
      memory.reported_source = "leveldb.approximate-memory-usage (block cache + memtables)";
    }
    std::vector<std::string> children;
    if (leveldb::Env::Default()->GetChildren(dir_, &children).ok()) {
      uint64_t total = 0;
      bool ok = true;
      for (const std::string& child : children) {
        if (!absl::EndsWith(child, ".ldb") && !absl::EndsWith(child, ".sst")) continue;
        uint64_t bytes = 0;
        ok = ok && TableIndexAndFilterBytes(dir_ + "/" + child, &bytes);
        total += bytes;
      }
      if (ok) {
        memory.index_filter_bytes = total;
        memory.index_filter_source =
            "index + filter blocks of all table files (read from their footers; "
            "LevelDB keeps them in memory per open table)";
      }
    }
    return memory;
  }

  std::string Stats() override {
    std::string stats;
    return db_->GetProperty("leveldb.stats", &stats) ? stats : "";
  }

 private:
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;  // declared after filter_: destroyed before it
  std::string dir_;
};

}  // namespace

REGISTER_BENCH_ENGINE(leveldb, "leveldb", "", LevelDbEngine);

}  // namespace kvstore::bench
