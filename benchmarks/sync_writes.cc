// Synced writes (WriteOptions::sync = true) from 1, 2, 4 and 8 threads, next to the machine's raw
// fdatasync rate for small appends. Group commit lets concurrent synced writers share one
// fdatasync, so synced writes/s should grow with threads past the raw rate.
//
//   tools/bazel run //benchmarks:sync_writes
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "benchmark/benchmark.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/kvstore.h"
#include "tools/datagen/datagen.h"

namespace {

// This process's own directory ($TMPDIR or /tmp), made by main and removed on exit: two runs at
// once (two CI jobs sharing /tmp) must not delete each other's files.
const kvstore::bench::ScratchDir* g_scratch = nullptr;

std::string ScratchDir(const std::string& name) { return g_scratch->Child(name); }

// The floor: append 116 bytes and fdatasync, one thread.
void BM_RawFdatasync(benchmark::State& state) {
  const std::string path = ScratchDir("raw");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
  if (fd < 0) {
    state.SkipWithError("cannot create scratch file");
    return;
  }
  const std::string record(116, 'x');
  for (auto _ : state) {
    if (::write(fd, record.data(), record.size()) != static_cast<ssize_t>(record.size()) ||
        ::fdatasync(fd) != 0) {
      state.SkipWithError("write or fdatasync failed");
      break;
    }
  }
  ::close(fd);
  ::unlink(path.c_str());
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
}
BENCHMARK(BM_RawFdatasync)->UseRealTime();

using Store = kvstore::KVStore<std::string, std::string>;
std::unique_ptr<Store> g_store;
std::atomic<uint64_t> g_next_index{0};

void BM_KVStoreSyncedSet(benchmark::State& state) {
  if (state.thread_index() == 0) {
    std::filesystem::remove_all(ScratchDir("kvstore"));
    g_store = Store::Open(ScratchDir("kvstore")).value();
  }
  kvstore::datagen::Spec spec;
  spec.count = 1000000;
  const kvstore::datagen::Generator gen(spec);
  std::string key, value;
  kvstore::WriteOptions sync;
  sync.sync = true;
  for (auto _ : state) {
    const uint64_t i = g_next_index.fetch_add(1, std::memory_order_relaxed) % spec.count;
    gen.Key(i, &key);
    gen.Value(i, &value);
    if (!g_store->Set(key, value, sync).ok()) {
      state.SkipWithError("synced Set failed");
      break;
    }
  }
  state.counters["ops/s"] = benchmark::Counter(static_cast<double>(state.iterations()),
                                               benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    // Fewer WAL records than writes means synced writers shared an fdatasync.
    state.counters["wal_records"] = static_cast<double>(
        std::stoull(g_store->GetProperty("kvstore.wal-records").value_or("0")));
    g_store.reset();  // All threads have left the loop: Google Benchmark waits for them there.
    std::filesystem::remove_all(ScratchDir("kvstore"));
  }
}
BENCHMARK(BM_KVStoreSyncedSet)->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  auto scratch = kvstore::bench::ScratchDir::Create("");
  if (!scratch.ok()) {
    std::fprintf(stderr, "%s\n", scratch.status().ToString().c_str());
    return 1;
  }
  g_scratch = scratch->get();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
