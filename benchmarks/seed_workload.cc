// The README's first benchmark: 10,000 keys set, read back and deleted on a fresh store, with
// LevelDB and RocksDB doing the same in the same run for comparison.
//
//   tools/bazel run //benchmarks:seed_workload
//   tools/bazel run //benchmarks:seed_workload -- --peers=false --runs=11
//
// The keys and values are made first (untimed); then three timed phases run on a freshly opened
// store: Set all, Get all (each value compared with the one set), Delete all, each in the same
// random order. Writes do not sync, as each engine's default. Every run uses a new directory;
// the figures are those of the run with the median total time. The process exits non-zero if
// any Get returned a wrong value, found nothing, or a deleted key was still found.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmarks/engine.h"
#include "benchmarks/key_order.h"
#include "benchmarks/scratch_dir.h"
#include "tools/datagen/datagen.h"

ABSL_FLAG(uint64_t, keys, 10000, "Keys to set, get and delete");
ABSL_FLAG(uint64_t, key_size, 16, "Bytes per key");
ABSL_FLAG(uint64_t, value_size, 100, "Bytes per value");
ABSL_FLAG(int, runs, 5, "Runs per engine, each on a fresh store; the median run is reported");
ABSL_FLAG(bool, peers, true, "Also run LevelDB and RocksDB for comparison");
ABSL_FLAG(uint64_t, seed, 301, "Seed of keys, values and order");
ABSL_FLAG(std::string, db_dir, "", "Where the stores are created; default $TMPDIR or /tmp");
ABSL_FLAG(std::string, json, "", "Also write the figures to this file as JSON");

namespace kvstore::bench {
namespace {

// kvstore's target for the whole workload on the reference machine (2 vCPU).
constexpr double kTargetMs = 15.0;

using Clock = std::chrono::steady_clock;

double Ms(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

struct RunResult {
  double open_ms = 0, set_ms = 0, get_ms = 0, delete_ms = 0;
  double total_ms() const { return set_ms + get_ms + delete_ms; }
};

struct Data {
  std::vector<std::string> keys;    // in the order every phase uses
  std::vector<std::string> values;  // values[i] belongs to keys[i]
};

Data MakeData(uint64_t count, size_t key_size, size_t value_size, uint64_t seed) {
  datagen::Spec spec;
  spec.count = count;
  spec.key_size = key_size;
  spec.value_size = value_size;
  spec.seed = seed;
  datagen::Generator generator(spec);
  Data data;
  for (uint64_t index : ShuffledIndexes(spec)) {
    data.keys.push_back(generator.Key(index));
    data.values.push_back(generator.Value(index));
  }
  return data;
}

// One run on a fresh store in `dir`. A wrong read is an error (DataLoss), not a slow run.
absl::StatusOr<RunResult> RunOnce(const std::string& engine_name, const std::string& dir,
                                  const Data& data) {
  std::unique_ptr<BenchEngine> engine = NewEngine(engine_name);
  RunResult result;
  const size_t n = data.keys.size();
  auto t0 = Clock::now();
  absl::Status status = engine->Open(dir, BenchOptions{});
  if (!status.ok()) return status;
  auto t1 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    status = engine->Put(data.keys[i], data.values[i], /*sync=*/false);
    if (!status.ok()) return status;
  }
  auto t2 = Clock::now();
  std::string value;
  size_t wrong = 0;
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<bool> found = engine->Get(data.keys[i], &value);
    if (!found.ok()) return found.status();
    wrong += !*found || value != data.values[i];
  }
  auto t3 = Clock::now();
  for (size_t i = 0; i < n; ++i) {
    status = engine->Delete(data.keys[i], /*sync=*/false);
    if (!status.ok()) return status;
  }
  auto t4 = Clock::now();
  result.open_ms = Ms(t0, t1);
  result.set_ms = Ms(t1, t2);
  result.get_ms = Ms(t2, t3);
  result.delete_ms = Ms(t3, t4);
  if (wrong != 0) {
    return absl::DataLossError(absl::StrCat(engine_name, ": ", wrong, " of ", n,
                                            " Gets returned a wrong value or nothing"));
  }
  // Untimed: every deleted key must be gone.
  for (size_t i = 0; i < n; ++i) {
    absl::StatusOr<bool> found = engine->Get(data.keys[i], &value);
    if (!found.ok()) return found.status();
    if (*found) {
      return absl::DataLossError(
          absl::StrCat(engine_name, ": Get(", data.keys[i], ") still finds a deleted key"));
    }
  }
  status = engine->Close();
  if (!status.ok()) return status;
  return result;
}

std::string Rate(size_t ops, double ms) {
  const double per_second = ops / (ms / 1000.0);
  if (per_second >= 1e6) return absl::StrFormat("%.2fM", per_second / 1e6);
  return absl::StrFormat("%.0fk", per_second / 1e3);
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage("Set, Get and Delete 10,000 keys on a fresh store, with peers");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "seed_workload: unexpected argument %s\n", rest[1]);
    return 2;
  }
  const uint64_t count = absl::GetFlag(FLAGS_keys);
  const int runs = std::max(1, absl::GetFlag(FLAGS_runs));
  datagen::Spec spec;
  spec.count = count;
  spec.key_size = absl::GetFlag(FLAGS_key_size);
  spec.value_size = absl::GetFlag(FLAGS_value_size);
  if (absl::Status valid = datagen::Validate(spec); !valid.ok() || count == 0) {
    std::fprintf(stderr, "seed_workload: %s\n",
                 count == 0 ? "--keys must be positive" : valid.ToString().c_str());
    return 2;
  }

  std::vector<std::string> engines;
  const std::vector<std::string> linked = RegisteredEngines();
  const bool have_kvstore = std::find(linked.begin(), linked.end(), "kvstore") != linked.end();
  if (have_kvstore) engines.push_back("kvstore");
  if (absl::GetFlag(FLAGS_peers)) {
    for (const std::string& name : linked) {
      if (name != "kvstore") engines.push_back(name);
    }
  }
  if (engines.empty()) {
    std::fprintf(stderr, "seed_workload: kvstore is not linked into this build and --peers=false\n");
    return 2;
  }

  absl::StatusOr<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Create(absl::GetFlag(FLAGS_db_dir));
  if (!scratch.ok()) {
    std::fprintf(stderr, "seed_workload: %s\n", scratch.status().ToString().c_str());
    return 2;
  }
  const Data data = MakeData(count, spec.key_size, spec.value_size, absl::GetFlag(FLAGS_seed));

  std::printf("seed_workload: %llu keys (%zu-byte keys, %zu-byte values): Set all, Get all, "
              "Delete all on a fresh store\n",
              static_cast<unsigned long long>(count), spec.key_size, spec.value_size);
  std::printf("no sync; every Get verified; median of %d run%s, each on a new store\n\n", runs,
              runs == 1 ? "" : "s");
  std::printf("%-9s %11s %11s %12s %10s %9s\n", "engine", "Set ops/s", "Get ops/s",
              "Delete ops/s", "total ms", "open ms");

  std::vector<std::pair<std::string, RunResult>> medians;
  int next_dir = 0;
  for (const std::string& name : engines) {
    std::vector<RunResult> results;
    for (int run = 0; run < runs; ++run) {
      const std::string dir = (*scratch)->Child(absl::StrCat(name, "-", next_dir++));
      absl::StatusOr<RunResult> result = RunOnce(name, dir, data);
      RemoveTree(dir).IgnoreError();
      if (!result.ok()) {
        std::fprintf(stderr, "seed_workload: %s\n", result.status().ToString().c_str());
        return 1;
      }
      results.push_back(*result);
    }
    std::sort(results.begin(), results.end(),
              [](const RunResult& a, const RunResult& b) { return a.total_ms() < b.total_ms(); });
    const RunResult& median = results[results.size() / 2];
    medians.emplace_back(name, median);
    const bool noted = !EngineNote(name).empty();
    std::printf("%-9s %11s %11s %12s %10.2f %9.2f\n", (name + (noted ? " *" : "")).c_str(),
                Rate(count, median.set_ms).c_str(), Rate(count, median.get_ms).c_str(),
                Rate(count, median.delete_ms).c_str(), median.total_ms(), median.open_ms);
  }
  for (const std::string& name : engines) {
    const std::string note = EngineNote(name);
    if (!note.empty()) std::printf("* %s: %s\n", name.c_str(), note.c_str());
  }

  std::printf("\n");
  const RunResult* kvstore = nullptr;
  const RunResult* leveldb = nullptr;
  for (const auto& [name, result] : medians) {
    if (name == "kvstore") kvstore = &result;
    if (name == "leveldb") leveldb = &result;
  }
  if (kvstore != nullptr) {
    std::printf("kvstore: %.2f ms for %llu operations (target: under %.0f ms): %s\n",
                kvstore->total_ms(), static_cast<unsigned long long>(3 * count), kTargetMs,
                kvstore->total_ms() < kTargetMs ? "within target" : "OVER TARGET");
    if (leveldb != nullptr) {
      std::printf("LevelDB: %.2f ms, so kvstore is %.2fx LevelDB's speed on this workload\n",
                  leveldb->total_ms(), leveldb->total_ms() / kvstore->total_ms());
    }
  } else {
    std::printf("kvstore is not linked into this build yet: only its peers ran\n");
  }

  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (!json_path.empty()) {
    std::string json = absl::StrFormat(
        "{\n  \"keys\": %d,\n  \"key_size\": %d,\n  \"value_size\": %d,\n  \"runs\": %d,\n"
        "  \"target_ms\": %.1f,\n  \"engines\": {",
        count, spec.key_size, spec.value_size, runs, kTargetMs);
    for (size_t i = 0; i < medians.size(); ++i) {
      const RunResult& r = medians[i].second;
      absl::StrAppendFormat(
          &json,
          "%s\n    \"%s\": {\"set_ops_per_s\": %.1f, \"get_ops_per_s\": %.1f, "
          "\"delete_ops_per_s\": %.1f, \"total_ms\": %.3f, \"open_ms\": %.3f}",
          i == 0 ? "" : ",", medians[i].first, count / (r.set_ms / 1000.0),
          count / (r.get_ms / 1000.0), count / (r.delete_ms / 1000.0), r.total_ms(), r.open_ms);
    }
    json += "\n  }\n}\n";
    std::FILE* file = std::fopen(json_path.c_str(), "w");
    if (file == nullptr || std::fputs(json.c_str(), file) < 0 || std::fclose(file) != 0) {
      std::fprintf(stderr, "seed_workload: cannot write %s\n", json_path.c_str());
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace kvstore::bench

int main(int argc, char** argv) { return kvstore::bench::Main(argc, argv); }
