// db_bench-style suite: every workload of workloads.h against every linked engine (kvstore,
// LevelDB, RocksDB), side by side in one run.
//
//   tools/bazel run //benchmarks:db_bench                       # 1M keys, all engines
//   tools/bazel run //benchmarks:db_bench -- --num=20000        # a quick smoke pass
//   tools/bazel run //benchmarks:db_bench -- --engine=leveldb --benchmark_filter=read
//
// Google Benchmark's own flags (--benchmark_filter, --benchmark_format=json,
// --benchmark_out=FILE, ...) work as usual. Peak RSS is reported only with a single --engine,
// since it is the high-water mark of the whole process; benchmarks/report runs one process per
// engine for that reason. Exits non-zero when any benchmark failed (e.g. a read returned a
// wrong value).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "benchmark/benchmark.h"
#include "benchmarks/engine.h"
#include "benchmarks/workloads.h"

ABSL_FLAG(std::string, engine, "all",
          "Engines to run, comma-separated (kvstore, leveldb, rocksdb), or 'all' linked ones");
ABSL_FLAG(uint64_t, num, 1000000, "Keys in the store; operations of the fill/delete workloads");
ABSL_FLAG(uint64_t, key_size, 16, "Bytes per key");
ABSL_FLAG(uint64_t, value_size, 100, "Bytes per value");
ABSL_FLAG(uint64_t, reads, 0, "Operations of the read and mixed workloads (0: --num)");
ABSL_FLAG(uint64_t, sync_writes, 0, "Operations of fillsync (0: max(100, num/1000))");
ABSL_FLAG(uint64_t, seeks, 0, "Seeks of seekrandom (0: max(100, num/10))");
ABSL_FLAG(int, scan_length, 100, "Entries read after each seek of seekrandom");
ABSL_FLAG(uint64_t, seed, 301, "Seed of keys, values and access patterns");
ABSL_FLAG(double, zipf_theta, 0.99, "Skew of readzipfian");
ABSL_FLAG(uint64_t, write_buffer_bytes, 0,
          "MemTable (write buffer) size for every engine; 0: each engine's default "
          "(kvstore 8 MiB, LevelDB 4 MiB, RocksDB 64 MiB)");
ABSL_FLAG(bool, engine_stats, false,
          "After every workload, print the engine's own statistics (flushes, compactions, stalls) "
          "to stderr");
ABSL_FLAG(uint64_t, slow_spot_entries, 0,
          "Entries bulk-loaded (24-byte keys, 150-byte values) before each slow_* workload; "
          "0: min(--num, 1000000)");
ABSL_FLAG(bool, slow_spots, true, "Run the slow_* workloads");
ABSL_FLAG(bool, list_engines, false, "Print the linked engines, one a line, and exit");
ABSL_FLAG(std::string, db_dir, "",
          "Where the stores are created (a private subdirectory, removed at exit); "
          "default $TMPDIR or /tmp");

namespace kvstore::bench {
namespace {

// Google Benchmark answers --help with its own flags and exits: print this binary's first.
void PrintOwnFlagsIfHelp(int argc, char** argv) {
  bool help = false;
  for (int i = 1; i < argc; ++i) {
    help = help || std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0;
  }
  if (!help) return;
  std::vector<const absl::CommandLineFlag*> own;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->Filename().find("benchmarks/db_bench") != std::string::npos) own.push_back(flag);
  }
  std::sort(own.begin(), own.end(), [](const absl::CommandLineFlag* a,
                                       const absl::CommandLineFlag* b) {
    return a->Name() < b->Name();
  });
  std::printf("db_bench: db_bench-style workloads for kvstore, LevelDB and RocksDB side by side.\n"
              "Flags:\n");
  for (const absl::CommandLineFlag* flag : own) {
    std::printf("  --%s  %s (default: %s)\n", std::string(flag->Name()).c_str(),
                flag->Help().c_str(), flag->DefaultValue().c_str());
  }
  std::printf("Google Benchmark's flags:\n");
}

int Main(int argc, char** argv) {
  PrintOwnFlagsIfHelp(argc, argv);
  benchmark::Initialize(&argc, argv);
  absl::SetProgramUsageMessage(
      "db_bench-style workloads for kvstore, LevelDB and RocksDB side by side; "
      "Google Benchmark's --benchmark_* flags apply too");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "db_bench: unexpected argument %s\n", rest[1]);
    return 2;
  }

  const std::vector<std::string> linked = RegisteredEngines();
  if (absl::GetFlag(FLAGS_list_engines)) {
    for (const std::string& name : linked) std::printf("%s\n", name.c_str());
    return 0;
  }
  std::vector<std::string> engines;
  const std::string engine_flag = absl::GetFlag(FLAGS_engine);
  if (engine_flag == "all") {
    engines = linked;
  } else {
    for (absl::string_view name : absl::StrSplit(engine_flag, ',', absl::SkipEmpty())) {
      if (NewEngine(name) == nullptr) {
        std::fprintf(stderr, "db_bench: no engine named '%s' is linked (linked: %s)\n",
                     std::string(name).c_str(), absl::StrJoin(linked, ", ").c_str());
        return 2;
      }
      engines.emplace_back(name);
    }
  }
  if (engines.empty()) {
    std::fprintf(stderr, "db_bench: no engine to run\n");
    return 2;
  }

  SuiteConfig config;
  config.engine_stats = absl::GetFlag(FLAGS_engine_stats);
  config.write_buffer_bytes = absl::GetFlag(FLAGS_write_buffer_bytes);
  config.num = absl::GetFlag(FLAGS_num);
  config.key_size = absl::GetFlag(FLAGS_key_size);
  config.value_size = absl::GetFlag(FLAGS_value_size);
  config.reads = absl::GetFlag(FLAGS_reads);
  config.sync_writes = absl::GetFlag(FLAGS_sync_writes);
  config.seeks = absl::GetFlag(FLAGS_seeks);
  config.scan_length = absl::GetFlag(FLAGS_scan_length);
  config.seed = absl::GetFlag(FLAGS_seed);
  config.zipf_theta = absl::GetFlag(FLAGS_zipf_theta);
  config.db_dir = absl::GetFlag(FLAGS_db_dir);
  config.slow_spot_entries = absl::GetFlag(FLAGS_slow_spot_entries);
  config.run_slow_spots = absl::GetFlag(FLAGS_slow_spots);
  config.report_peak_rss = engines.size() == 1;

  absl::StatusOr<std::unique_ptr<Suite>> suite = Suite::Create(config);
  if (!suite.ok()) {
    std::fprintf(stderr, "db_bench: %s\n", suite.status().ToString().c_str());
    return 2;
  }
  absl::Status registered = (*suite)->Register(engines);
  if (!registered.ok()) {
    std::fprintf(stderr, "db_bench: %s\n", registered.ToString().c_str());
    return 2;
  }

  // Recorded in the JSON output's "context", where benchmarks/report reads them.
  benchmark::AddCustomContext("kv_engines", absl::StrJoin(engines, ","));
  benchmark::AddCustomContext("kv_num", absl::StrCat(config.num));
  benchmark::AddCustomContext("kv_key_size", absl::StrCat(config.key_size));
  benchmark::AddCustomContext("kv_value_size", absl::StrCat(config.value_size));
  benchmark::AddCustomContext("kv_skipped", absl::StrJoin((*suite)->Skipped(), "; "));
  std::fprintf(stderr, "db_bench: %llu keys, %zu-byte keys, %zu-byte values; engines: %s\n",
               static_cast<unsigned long long>(config.num), config.key_size, config.value_size,
               absl::StrJoin(engines, ", ").c_str());
  for (const std::string& engine : engines) {
    const std::string note = EngineNote(engine);
    if (!note.empty()) std::fprintf(stderr, "  note on %s: %s\n", engine.c_str(), note.c_str());
  }
  for (const std::string& skipped : (*suite)->Skipped()) {
    std::fprintf(stderr, "  not run: %s\n", skipped.c_str());
  }

  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  if (Suite::Failures() > 0) {
    std::fprintf(stderr, "db_bench: %d benchmark(s) failed\n", Suite::Failures());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace kvstore::bench

int main(int argc, char** argv) { return kvstore::bench::Main(argc, argv); }
