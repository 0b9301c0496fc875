// The db_bench-style workloads, written once against BenchEngine and registered with Google
// Benchmark for every engine: fillseq, fillrandom, overwrite, fillsync, readrandom, readmissing,
// readzipfian, seekrandom (+ a scan), readseq, deleterandom, a 90/10 read/write mix on 1 and 2
// threads, and a memory report.
//
// Each benchmark opens its own store in a fresh directory. Workloads that read or modify start
// from a copy of a store prepared once per engine (every key written in random order, then
// settled: flushed and compacted), opened anew and warmed (a Get in every table), so only the
// workload itself is timed. One iteration is one operation (seekrandom: one seek and its scan),
// timed in wall-clock time; "ops/s" and "bytes/s" are rate counters, and the CPU time reported
// is that of the whole process (background threads included) per operation. Every read is
// verified; a wrong or missing value fails the benchmark (SkipWithError) instead of reporting a
// number. The writes of fillseq, fillrandom, overwrite and fillsync are timed one by one too, into
// a log-bucketed histogram: counters p50_us, p99_us, p999_us and max_us.
//
// The slow spots (slow_*) are the phases of an outside workload where kvstore once lost to
// LevelDB, kept here so they stay measured: each starts from a store just bulk-loaded (24-byte
// keys, 150-byte values, 1M entries in random order, in batches of 1,000, nothing compacted by
// hand), once the engine's background work on the load is done (BenchEngine::
// WaitForBackgroundWork), and reports the whole phase's wall time as the counter phase_ms.
#ifndef KVSTORE_BENCHMARKS_WORKLOADS_H_
#define KVSTORE_BENCHMARKS_WORKLOADS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "benchmarks/engine.h"
#include "benchmarks/scratch_dir.h"
#include "tools/datagen/datagen.h"

namespace benchmark {
class State;
}  // namespace benchmark

namespace kvstore::bench {

struct SuiteConfig {
  uint64_t num = 1000000;  // keys in the store, and operations of the fill/delete workloads
  size_t key_size = 16;
  size_t value_size = 100;
  uint64_t reads = 0;        // operations of the read and mixed workloads; 0: num
  uint64_t sync_writes = 0;  // operations of fillsync; 0: max(100, num / 1000)
  uint64_t seeks = 0;        // seeks of seekrandom; 0: max(100, num / 10)
  int scan_length = 100;     // entries read after each seek
  uint64_t seed = 301;
  double zipf_theta = 0.99;
  std::string db_dir;  // parent of the scratch directory; empty: $TMPDIR or /tmp
  // The process runs a single engine, so its peak RSS is that engine's and is reported.
  bool report_peak_rss = false;
  // Print each engine's Stats() to stderr after every workload, before closing it.
  bool engine_stats = false;
  size_t write_buffer_bytes = 0;  // every engine's MemTable size; 0: each engine's default
  // The slow-spot workloads (slow_*), on stores of 24-byte keys and 150-byte values bulk-loaded
  // with this many entries; 0: min(num, 1,000,000). run_slow_spots = false leaves them out.
  uint64_t slow_spot_entries = 0;
  bool run_slow_spots = true;
};

class Suite {
 public:
  // Validates the sizes (through datagen::Validate) and creates the scratch directory.
  static absl::StatusOr<std::unique_ptr<Suite>> Create(const SuiteConfig& config);
  ~Suite();

  // Registers every workload for each engine, workload by workload so that the engines of one
  // workload run next to each other. Workloads an engine cannot run (no iterator yet) are left
  // out and listed by Skipped().
  absl::Status Register(const std::vector<std::string>& engines);
  const std::vector<std::string>& Skipped() const { return skipped_; }

  const SuiteConfig& config() const { return config_; }

  // How many benchmarks failed (a wrong read, an engine error) in this process so far.
  static int Failures();

  // Defined in workloads.cc: a workload's description, and the state of one of its runs.
  struct Workload;
  struct Run;

 private:
  Suite(const SuiteConfig& config, std::unique_ptr<ScratchDir> scratch);

  void RunBenchmark(benchmark::State& state, const std::string& engine, const Workload& workload,
                    Run* run);
  // Opens the store one benchmark runs on, in a fresh directory: empty, or a copy of the
  // engine's prepared store (built on first use), warmed.
  absl::Status SetUp(const std::string& engine, const Workload& workload, Run* run);
  absl::Status TearDown(Run* run, const std::string& what);
  BenchOptions Options() const;
  absl::StatusOr<std::string> PreparedStore(const std::string& engine);
  // Writes the slow spots' entries into an empty store, in random order, in unsynced batches.
  absl::Status BulkLoad(BenchEngine* engine);
  absl::Status Warm(BenchEngine* engine);

  SuiteConfig config_;
  std::unique_ptr<ScratchDir> scratch_;
  datagen::Generator keys_;       // Key() and Value() only: const, shared by all threads
  std::vector<uint64_t> shuffled_;  // every index once, in random order
  uint64_t slow_entries_;             // entries bulk-loaded before each slow-spot workload
  datagen::Generator slow_keys_;      // their keys and values (24 and 150 bytes)
  std::vector<uint64_t> slow_shuffled_;  // [0, slow_entries_) in random order
  uint64_t harness_rss_;            // resident bytes of the harness alone, before any store
  std::vector<std::string> skipped_;
  std::mutex mu_;
  std::map<std::string, std::string> prepared_;  // engine -> directory of its prepared store
  int next_dir_ = 0;
};

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_WORKLOADS_H_
