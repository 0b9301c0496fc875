// Peak memory side by side on the workload of issue 16: kvstore against LevelDB, each in a
// process of its own (a process's peak never goes down), at two record shapes.
//
//   tools/bazel run -c opt //benchmarks:peak_memory -- [--scale=1.0] [--synced=10000]
//       [--shape=16/100|24/400] [--engine=kvstore|leveldb] [--phases]
//
// --phases prints, after each phase, its wall time, the peak so far, the resident anonymous and
// mapped-file memory, what malloc hands out and holds free, and the size of the store's files (to
// stderr).
// The workload, in one process: fill N keys in key order into a first store and close it; then
// in a second store fill N in random order, overwrite all N, read N present and N missing keys,
// scan everything, delete 10%, and make `--synced` synced Sets. Shapes: 1,000,000 keys of 16
// bytes with 100-byte values, and 500,000 keys of 24 bytes with 400-byte values (times --scale).
// Reported: peak RSS (VmHWM) and the anonymous memory resident at the end, before the last
// close (RssAnon: heap and stacks, not mapped files). Default options for both engines, 10-bit Bloom filters, no
// compression; LevelDB's 8 MiB block cache is its default.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmarks/process_memory.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/kvstore.h"
#include "leveldb/db.h"
#include "leveldb/filter_policy.h"
#include "leveldb/write_batch.h"
#include "tools/datagen/datagen.h"

namespace {

// One engine's operations, as the workload uses them.
class Engine {
 public:
  virtual ~Engine() = default;
  virtual bool Open(const std::string& dir) = 0;
  virtual void Close() = 0;
  virtual bool Set(const std::string& k, const std::string& v, bool sync) = 0;
  virtual bool Get(const std::string& k, std::string* v) = 0;  // false if missing
  virtual bool Delete(const std::string& k) = 0;
  virtual uint64_t ScanAll() = 0;
  // For --phases: what the engine's files look like to a read (empty if it cannot say).
  virtual std::string Layout() { return ""; }
};

class KvEngine final : public Engine {
 public:
  using Store = kvstore::KVStore<std::string, std::string>;
  bool Open(const std::string& dir) override {
    auto s = Store::Open(dir);
    if (!s.ok()) return false;
    store_ = std::move(*s);
    return true;
  }
  void Close() override { store_.reset(); }
  bool Set(const std::string& k, const std::string& v, bool sync) override {
    return store_->Set(k, v, {.sync = sync}).ok();
  }
  bool Get(const std::string& k, std::string* v) override { return store_->GetInto(k, v).ok(); }
  bool Delete(const std::string& k) override { return store_->Delete(k).ok(); }
  uint64_t ScanAll() override {
    uint64_t n = 0;
    auto it = store_->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }
  // Runs and segments a lookup may visit, and how many segment reads got past the filters so far.
  std::string Layout() override {
    if (store_ == nullptr) return "";
    auto property = [&](const char* name) { return store_->GetProperty(name).value_or("?"); };
    return "runs " + property("kvstore.num-runs") + ", segments " + property("kvstore.num-segments") +
           ", segment reads " + property("kvstore.segment-reads");
  }

 private:
  std::unique_ptr<Store> store_;
};

class LevelEngine final : public Engine {
 public:
  bool Open(const std::string& dir) override {
    filter_.reset(leveldb::NewBloomFilterPolicy(10));
    leveldb::Options options;
    options.create_if_missing = true;
    options.compression = leveldb::kNoCompression;
    options.filter_policy = filter_.get();
    leveldb::DB* db = nullptr;
    if (!leveldb::DB::Open(options, dir, &db).ok()) return false;
    db_.reset(db);
    return true;
  }
  void Close() override { db_.reset(); }
  bool Set(const std::string& k, const std::string& v, bool sync) override {
    leveldb::WriteOptions options;
    options.sync = sync;
    return db_->Put(options, k, v).ok();
  }
  bool Get(const std::string& k, std::string* v) override {
    return db_->Get(leveldb::ReadOptions(), k, v).ok();
  }
  bool Delete(const std::string& k) override { return db_->Delete(leveldb::WriteOptions(), k).ok(); }
  uint64_t ScanAll() override {
    uint64_t n = 0;
    std::unique_ptr<leveldb::Iterator> it(db_->NewIterator(leveldb::ReadOptions()));
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
    return n;
  }

 private:
  std::unique_ptr<const leveldb::FilterPolicy> filter_;
  std::unique_ptr<leveldb::DB> db_;
};

struct Shape {
  uint64_t keys;
  size_t key_size;
  size_t value_size;
};

// Runs the workload; false if an operation failed or a read found the wrong thing.
// *anon: the anonymous memory resident at the end, before the store is closed.
// With `phases`, prints after each phase, to stderr, where the process's memory stands: its peak
// so far, its resident anonymous and mapped-file memory, and the bytes of the store's files.
bool Workload(Engine& engine, const std::string& dir, const Shape& shape, uint64_t synced,
              bool phases, uint64_t* anon) {
  auto phase_start = std::chrono::steady_clock::now();
  auto trace = [&](const char* phase) {
    if (!phases) return;
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - phase_start).count();
    uint64_t files = 0;
    std::error_code error;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, error)) {
      const uint64_t size = entry.file_size(error);  // A file may go while the walk runs.
      if (!error) files += size;
    }
    std::fprintf(stderr,
                 "  %-10s %6.2f s  peak %6.1f MiB  anon %6.1f  file %6.1f  store files %6.1f MiB\n"
                 "                        malloc: in use %.1f MiB, held free %.1f MiB\n",
                 phase, seconds, kvstore::bench::PeakRssBytes().value_or(0) / 1048576.0,
                 kvstore::bench::RssAnonBytes().value_or(0) / 1048576.0,
                 kvstore::bench::RssFileBytes().value_or(0) / 1048576.0, files / 1048576.0,
                 kvstore::bench::HeapAllocatedBytes() / 1048576.0,
                 kvstore::bench::HeapFreeBytes() / 1048576.0);
    if (const std::string layout = engine.Layout(); !layout.empty()) {
      std::fprintf(stderr, "                        %s\n", layout.c_str());
    }
    phase_start = std::chrono::steady_clock::now();  // The walk above is not the next phase's.
  };
  kvstore::datagen::Spec spec;
  spec.count = shape.keys;
  spec.key_size = shape.key_size;
  spec.value_size = shape.value_size;
  kvstore::datagen::Generator gen(spec);
  std::string key, value, got;
  bool ok = engine.Open(dir + "/ordered");
  for (uint64_t i = 0; ok && i < shape.keys; ++i) {
    gen.Key(i, &key);
    gen.Value(i, &value);
    ok = engine.Set(key, value, false);
  }
  engine.Close();
  trace("ordered");
  if (!ok || !engine.Open(dir + "/random")) return false;
  std::vector<uint64_t> order(shape.keys);
  for (uint64_t i = 0; i < shape.keys; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), std::mt19937_64(1));
  for (uint64_t version : {0, 1}) {  // Fill, then overwrite.
    for (uint64_t i : order) {
      gen.Key(i, &key);
      gen.Value(i, &value, version);
      if (!engine.Set(key, value, false)) return false;
    }
    trace(version == 0 ? "fill" : "overwrite");
  }
  std::mt19937_64 rng(2);
  for (uint64_t n = 0; n < shape.keys; ++n) {
    const uint64_t i = rng() % shape.keys;
    gen.Key(i, &key);
    if (!engine.Get(key, &got) || got != gen.Value(i, 1)) return false;
  }
  trace("read");
  for (uint64_t n = 0; n < shape.keys; ++n) {
    gen.MissingKey(rng() % shape.keys, &key);
    if (engine.Get(key, &got)) return false;
  }
  trace("missing");
  if (engine.ScanAll() != shape.keys) return false;
  trace("scan");
  for (uint64_t i = 0; i < shape.keys; i += 10) {
    gen.Key(i, &key);
    if (!engine.Delete(key)) return false;
  }
  trace("delete");
  for (uint64_t n = 0; n < synced; ++n) {
    gen.Key(rng() % shape.keys, &key);
    if (!engine.Set(key, "synced", true)) return false;
  }
  trace("synced");
  *anon = kvstore::bench::RssAnonBytes().value_or(0);
  engine.Close();
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  double scale = 1.0;
  uint64_t synced = 10000;
  bool phases = false;
  std::string only_shape;  // "16/100" or "24/400"; empty: both
  std::string only_engine;  // "kvstore" or "leveldb"; empty: both
  std::string parent;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--scale=", 8) == 0) {
      scale = std::atof(argv[i] + 8);
    } else if (std::strncmp(argv[i], "--synced=", 9) == 0) {
      synced = std::strtoull(argv[i] + 9, nullptr, 10);
    } else if (std::strcmp(argv[i], "--phases") == 0) {
      phases = true;
    } else if (std::strncmp(argv[i], "--shape=", 8) == 0) {
      only_shape = argv[i] + 8;
    } else if (std::strncmp(argv[i], "--dir=", 6) == 0) {
      parent = argv[i] + 6;
    } else if (std::strncmp(argv[i], "--engine=", 9) == 0) {
      only_engine = argv[i] + 9;
    } else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  auto scratch = kvstore::bench::ScratchDir::Create(parent);
  if (!scratch.ok()) {
    std::fprintf(stderr, "%s\n", scratch.status().ToString().c_str());
    return 1;
  }
  const Shape shapes[] = {
      {static_cast<uint64_t>(1000000 * scale), 16, 100},
      {static_cast<uint64_t>(500000 * scale), 24, 400},
  };
  std::printf("Peak memory, one process per engine and shape (%llu synced Sets each)\n\n",
              static_cast<unsigned long long>(synced));
  std::printf("| keys | key/value bytes | engine | peak RSS (MiB) | anonymous before close (MiB) |\n"
              "|---:|---|---|---:|---:|\n");
  bool failed = false;
  int run = 0;
  for (const Shape& shape : shapes) {
    if (!only_shape.empty() && only_shape != absl::StrCat(shape.key_size, "/", shape.value_size)) {
      continue;
    }
    for (const char* name : {"kvstore", "leveldb"}) {
      if (!only_engine.empty() && only_engine != name) continue;
      const std::string dir = (*scratch)->Child(absl::StrCat("run", run++));
      std::filesystem::create_directories(dir);
      int fds[2];
      if (pipe(fds) != 0) return 1;
      const pid_t pid = fork();
      if (pid == 0) {
        close(fds[0]);
        std::unique_ptr<Engine> engine;
        if (std::strcmp(name, "kvstore") == 0) {
          engine = std::make_unique<KvEngine>();
        } else {
          engine = std::make_unique<LevelEngine>();
        }
        uint64_t anon = 0;
        if (phases) std::fprintf(stderr, "%s, %zu/%zu:\n", name, shape.key_size, shape.value_size);
        const bool ok = Workload(*engine, dir, shape, synced, phases, &anon);
        engine.reset();
        const uint64_t figures[3] = {ok ? 1u : 0u, kvstore::bench::PeakRssBytes().value_or(0), anon};
        if (write(fds[1], figures, sizeof(figures)) != sizeof(figures)) _exit(1);
        _exit(0);
      }
      close(fds[1]);
      uint64_t figures[3] = {0, 0, 0};
      const bool read_all = read(fds[0], figures, sizeof(figures)) == sizeof(figures);
      close(fds[0]);
      int status = 0;
      waitpid(pid, &status, 0);
      if (!read_all || figures[0] != 1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "%s: the workload failed\n", name);
        failed = true;
        continue;
      }
      std::printf("| %llu | %zu/%zu | %s | %.1f | %.1f |\n",
                  static_cast<unsigned long long>(shape.keys), shape.key_size, shape.value_size,
                  name, figures[1] / 1048576.0, figures[2] / 1048576.0);
      std::fflush(stdout);
    }
  }
  return failed ? 1 : 0;
}
