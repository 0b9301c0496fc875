// Compression side by side: kvstore's Compression policies against LevelDB with Snappy and
// RocksDB with LZ4 and Zstd, one engine after another in the same run, on the same data.
//
//   tools/bazel run -c opt //benchmarks:compression -- [--num=1000000] [--compression_ratio=0.5]
//       [--reads=1000000] [--dir=/tmp] [--only=kvstore/snappy,leveldb/snappy]
//
// Keys: datagen's 16-byte keys in random order; values: 100 bytes that compress to about
// --compression_ratio (datagen --compression_ratio). Per engine and codec: fillrandom (ops/s),
// the size on disk once everything is compacted (manual full compaction, so every engine's
// figure is its data compressed and nothing else), and readrandom of present keys (ops/s).
// 4 KiB blocks and 10-bit Bloom filters everywhere.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/compression.h"
#include "kvstore/kvstore.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "tools/datagen/datagen.h"

namespace {

using Clock = std::chrono::steady_clock;

// What the benchmark needs of a store, bound at open.
struct Store {
  std::function<bool(const std::string&, const std::string&)> put;
  std::function<bool(const std::string&, std::string*)> get;
  std::function<bool()> compact;  // Full compaction; returns once it is done.
  std::function<void()> close;
};

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

template <typename Compression>
Store OpenKvstore(const std::string& dir) {
  using KV = kvstore::KVStore<std::string, std::string, kvstore::DefaultSerializer,
                              kvstore::BloomFilter<10>, Compression>;
  auto opened = KV::Open(dir);
  if (!opened.ok()) {
    std::fprintf(stderr, "kvstore open: %s\n", opened.status().ToString().c_str());
    std::exit(1);
  }
  std::shared_ptr<KV> store(std::move(*opened));
  return Store{
      [store](const std::string& k, const std::string& v) { return store->Set(k, v).ok(); },
      [store](const std::string& k, std::string* v) { return store->GetInto(k, v).ok(); },
      [store] { return store->Compact().ok() && store->WaitForBackgroundWork().ok(); },
      [store] { store->Close().IgnoreError(); }};
}

Store OpenLevelDb(const std::string& dir, leveldb::CompressionType compression) {
  std::shared_ptr<const leveldb::FilterPolicy> filter(leveldb::NewBloomFilterPolicy(10));
  leveldb::Options options;
  options.create_if_missing = true;
  options.compression = compression;
  options.filter_policy = filter.get();
  leveldb::DB* raw = nullptr;
  leveldb::Status s = leveldb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "leveldb open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::shared_ptr<leveldb::DB> db(raw);
  return Store{
      [db](const std::string& k, const std::string& v) {
        return db->Put(leveldb::WriteOptions(), k, v).ok();
      },
      [db, filter](const std::string& k, std::string* v) {
        return db->Get(leveldb::ReadOptions(), k, v).ok();
      },
      [db] {
        db->CompactRange(nullptr, nullptr);
        return true;
      },
      [] {}};
}

Store OpenRocksDb(const std::string& dir, rocksdb::CompressionType compression) {
  rocksdb::BlockBasedTableOptions table_options;
  table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = compression;
  options.bottommost_compression = compression;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir, &raw);
  if (!s.ok()) {
    std::fprintf(stderr, "rocksdb open: %s\n", s.ToString().c_str());
    std::exit(1);
  }
  std::shared_ptr<rocksdb::DB> db(raw);
  return Store{
      [db](const std::string& k, const std::string& v) {
        return db->Put(rocksdb::WriteOptions(), k, v).ok();
      },
      [db](const std::string& k, std::string* v) {
        return db->Get(rocksdb::ReadOptions(), k, v).ok();
      },
      [db] {
        rocksdb::CompactRangeOptions options;
        options.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
        return db->CompactRange(options, nullptr, nullptr).ok();
      },
      [db] { db->Close().PermitUncheckedError(); }};
}

struct Result {
  double fill_ops = 0;
  uint64_t disk_bytes = 0;
  double read_ops = 0;
};

// `order` visits every key index once, shuffled.
Result Run(const std::function<Store(const std::string&)>& open, const std::string& dir,
           const kvstore::datagen::Spec& spec, const std::vector<uint64_t>& order, uint64_t reads,
           bool* failed) {
  Result r;
  Store store = open(dir);
  kvstore::datagen::Generator fill(spec);
  std::string key, value;
  auto start = Clock::now();
  for (const uint64_t index : order) {
    fill.Key(index, &key);
    fill.Value(index, &value);
    if (!store.put(key, value)) *failed = true;
  }
  r.fill_ops = spec.count / std::chrono::duration<double>(Clock::now() - start).count();
  if (!store.compact()) *failed = true;
  store.close();
  store = Store();  // Drops the last reference: LevelDB closes only when its DB is deleted.
  r.disk_bytes = DirectoryBytes(dir);

  store = open(dir);
  std::mt19937_64 rng(7);
  start = Clock::now();
  for (uint64_t i = 0; i < reads; ++i) {
    fill.Key(rng() % spec.count, &key);
    if (!store.get(key, &value)) *failed = true;
  }
  r.read_ops = reads / std::chrono::duration<double>(Clock::now() - start).count();
  store.close();
  store = Store();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  kvstore::datagen::Spec spec;
  spec.count = 1000000;
  spec.key_size = 16;
  spec.value_size = 100;
  spec.compression_ratio = 0.5;
  uint64_t reads = 1000000;
  std::string parent;
  std::vector<std::string> only;  // engine/codec pairs to run; empty: all.
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (std::strncmp(a, "--num=", 6) == 0) spec.count = std::strtoull(a + 6, nullptr, 10);
    else if (std::strncmp(a, "--reads=", 8) == 0) reads = std::strtoull(a + 8, nullptr, 10);
    else if (std::strncmp(a, "--compression_ratio=", 20) == 0) spec.compression_ratio = std::atof(a + 20);
    else if (std::strncmp(a, "--dir=", 6) == 0) parent = a + 6;
    else if (std::strncmp(a, "--only=", 7) == 0) only = absl::StrSplit(a + 7, ',', absl::SkipEmpty());
    else {
      std::fprintf(stderr, "unknown flag %s\n", a);
      return 2;
    }
  }
  if (absl::Status s = kvstore::datagen::Validate(spec); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  auto scratch = kvstore::bench::ScratchDir::Create(parent);
  if (!scratch.ok()) {
    std::fprintf(stderr, "%s\n", scratch.status().ToString().c_str());
    return 1;
  }
  struct Config {
    const char* engine;
    const char* codec;
    std::function<Store(const std::string&)> open;
  };
  const std::vector<Config> configs = {
      {"kvstore", "none", [](const std::string& d) { return OpenKvstore<kvstore::NoCompression>(d); }},
      {"leveldb", "none", [](const std::string& d) { return OpenLevelDb(d, leveldb::kNoCompression); }},
      {"kvstore", "snappy", [](const std::string& d) { return OpenKvstore<kvstore::Snappy>(d); }},
      {"leveldb", "snappy", [](const std::string& d) { return OpenLevelDb(d, leveldb::kSnappyCompression); }},
      {"kvstore", "lz4", [](const std::string& d) { return OpenKvstore<kvstore::Lz4>(d); }},
      {"rocksdb", "lz4", [](const std::string& d) { return OpenRocksDb(d, rocksdb::kLZ4Compression); }},
      {"kvstore", "zstd", [](const std::string& d) { return OpenKvstore<kvstore::Zstd<>>(d); }},
      {"rocksdb", "zstd", [](const std::string& d) { return OpenRocksDb(d, rocksdb::kZSTD); }},
  };
  std::printf("Compression: %llu keys of %zu bytes, values of %zu bytes compressing to about %.2f, "
              "filled in random order; %llu random reads\n\n",
              static_cast<unsigned long long>(spec.count), spec.key_size, spec.value_size,
              spec.compression_ratio, static_cast<unsigned long long>(reads));
  std::printf("| engine | codec | fillrandom ops/s | size on disk, compacted (MB) | readrandom ops/s |\n"
              "|---|---|---:|---:|---:|\n");
  std::vector<uint64_t> order(spec.count);
  for (uint64_t i = 0; i < spec.count; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(301));
  bool failed = false;
  int n = 0;
  for (const Config& config : configs) {
    if (!only.empty() && std::find(only.begin(), only.end(),
                                   absl::StrCat(config.engine, "/", config.codec)) == only.end()) {
      continue;
    }
    Result r = Run(config.open, (*scratch)->Child(absl::StrCat("c", n++)), spec, order, reads, &failed);
    std::printf("| %s | %s | %.0f | %.2f | %.0f |\n", config.engine, config.codec, r.fill_ops,
                r.disk_bytes / 1e6, r.read_ops);
    std::fflush(stdout);
  }
  if (failed) std::fprintf(stderr, "some operations failed\n");
  return failed ? 1 : 0;
}
