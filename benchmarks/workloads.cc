#include "benchmarks/workloads.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstdio>
#include <functional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "benchmarks/key_order.h"
#include "benchmarks/process_memory.h"

namespace kvstore::bench {
namespace {

using benchmark::Counter;
using benchmark::State;
using datagen::Distribution;

enum class Start { kEmpty, kPrepared, kBulkLoaded };

// Shapes of the slow-spot workloads (see workloads.h).
constexpr size_t kSlowKeySize = 24;
constexpr size_t kSlowValueSize = 150;
constexpr uint64_t kSlowBatch = 1000;
uint64_t SlowEntries(const SuiteConfig& c) {
  return c.slow_spot_entries != 0 ? c.slow_spot_entries : std::min<uint64_t>(c.num, 1000000);
}
// 200,000 of 1M: the sorted inserts, and the key range scanned for every-other-key deletes.
uint64_t SlowRange(const SuiteConfig& c) { return std::max<uint64_t>(2, SlowEntries(c) / 5); }

datagen::Spec SpecOf(const SuiteConfig& config) {
  datagen::Spec spec;
  spec.count = config.num;
  spec.key_size = config.key_size;
  spec.value_size = config.value_size;
  spec.seed = config.seed;
  spec.zipf_theta = config.zipf_theta;
  return spec;
}

// Keys of the slow spots: the bulk-loaded ones, then the ones the sorted inserts add.
datagen::Spec SlowSpec(const SuiteConfig& config) {
  datagen::Spec spec = SpecOf(config);
  spec.count = SlowEntries(config) + SlowRange(config);
  spec.key_size = kSlowKeySize;
  spec.value_size = kSlowValueSize;
  return spec;
}

uint64_t Reads(const SuiteConfig& c) { return c.reads != 0 ? c.reads : c.num; }
uint64_t SyncWrites(const SuiteConfig& c) {
  return std::min(c.num, c.sync_writes != 0 ? c.sync_writes : std::max<uint64_t>(100, c.num / 1000));
}
uint64_t Seeks(const SuiteConfig& c) {
  return c.seeks != 0 ? c.seeks : std::max<uint64_t>(100, c.num / 10);
}

std::atomic<int> failures{0};

void Fail(State& state, const std::string& message) {
  failures.fetch_add(1, std::memory_order_relaxed);
  state.SkipWithError(message.c_str());
}

bool Ok(State& state, const absl::Status& status, absl::string_view what) {
  if (status.ok()) return true;
  Fail(state, absl::StrCat(what, ": ", status.ToString()));
  return false;
}

void SetRates(State& state, uint64_t ops, uint64_t bytes) {
  state.counters["ops/s"] = Counter(static_cast<double>(ops), Counter::kIsRate);
  if (bytes != 0) state.counters["bytes/s"] = Counter(static_cast<double>(bytes), Counter::kIsRate);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

struct Suite::Run {
  // Set by thread 0 before the timed loop and read by the other threads only inside it: the
  // benchmark library's barrier at the start of the loop orders the two.
  std::unique_ptr<BenchEngine> engine;
  std::string dir;
  uint64_t heap_before_open = 0;
};

// What one thread of a running workload sees.
struct ThreadEnv {
  const SuiteConfig& config;
  const datagen::Generator& keys;
  const std::vector<uint64_t>& shuffled;
  Suite::Run& run;
  int thread;
  int threads;
  uint64_t harness_rss;  // resident before any store was opened
  const datagen::Generator& slow_keys;  // keys and values of the slow-spot workloads

  BenchEngine* engine() const { return run.engine.get(); }
  size_t entry_bytes() const { return config.key_size + config.value_size; }

  // This thread's own stream of key indexes: independent of the order the store was filled in
  // and of the other threads' streams.
  datagen::Generator Stream(Distribution distribution) const {
    datagen::Spec spec = SpecOf(config);
    spec.distribution = distribution;
    spec.seed = config.seed + 7919 * static_cast<uint64_t>(thread + 1);
    return datagen::Generator(spec);
  }
};

using Body = void (*)(State&, ThreadEnv&);

struct Suite::Workload {
  const char* name;
  Start start;
  bool needs_iterator;
  int threads;
  uint64_t (*ops)(const SuiteConfig&);  // all threads together
  Body body;
};

namespace {

// One operation's data.
struct Op {
  uint64_t index = 0;
  std::string key;
  std::string value;  // to write, or the value a read must return
};

// The operations of one thread, made ahead in batches while the timer is paused, so that the
// timed loop measures the engine and not the data generator (a value costs ~60 ns to make).
// Construct before the timed loop; call Next() exactly once per iteration.
class OpStream {
 public:
  using Make = std::function<void(uint64_t op, Op* out)>;

  OpStream(State& state, Make make) : ops_(state.max_iterations), make_(std::move(make)) {
    Refill();
  }

  const Op& Next(State& state) {
    if (pos_ == filled_) {
      state.PauseTiming();
      Refill();
      state.ResumeTiming();
    }
    return batch_[pos_++];
  }

 private:
  static constexpr uint64_t kBatch = 1024;  // ~120 KiB of keys and values: stays in cache

  void Refill() {
    filled_ = std::min<uint64_t>(kBatch, ops_ - made_);
    for (uint64_t i = 0; i < filled_; ++i) make_(made_++, &batch_[i]);
    pos_ = 0;
  }

  const uint64_t ops_;
  Make make_;
  std::vector<Op> batch_ = std::vector<Op>(kBatch);
  uint64_t made_ = 0;
  uint64_t filled_ = 0;
  uint64_t pos_ = 0;
};

// Latencies in nanoseconds, 16 buckets per power of two (each within 1/16 of its values), in a
// fixed array so that recording allocates nothing and costs a few instructions; the maximum is
// kept exactly.
class LatencyHistogram {
 public:
  void Record(uint64_t ns) {
    ++buckets_[Bucket(ns)];
    ++count_;
    max_ = std::max(max_, ns);
  }

  // The upper bound of the bucket holding the q-quantile (never above the maximum); 0 if empty.
  uint64_t Quantile(double q) const {
    const uint64_t rank = std::max<uint64_t>(1, static_cast<uint64_t>(q * count_ + 0.999999));
    uint64_t seen = 0;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      seen += buckets_[b];
      if (seen >= rank) return std::min(UpperBound(b), max_);
    }
    return max_;
  }
  uint64_t max() const { return max_; }

  // p50_us, p99_us, p999_us and max_us.
  void Report(State& state) const {
    if (count_ == 0) return;
    state.counters["p50_us"] = Quantile(0.5) / 1e3;
    state.counters["p99_us"] = Quantile(0.99) / 1e3;
    state.counters["p999_us"] = Quantile(0.999) / 1e3;
    state.counters["max_us"] = max_ / 1e3;
  }

 private:
  static constexpr int kSub = 16;
  static size_t Bucket(uint64_t v) {
    if (v < kSub) return v;
    const int e = std::bit_width(v) - 1;  // >= 4
    return (e - 3) * kSub + ((v >> (e - 4)) & (kSub - 1));
  }
  static uint64_t UpperBound(size_t b) {
    if (b < kSub) return b;
    const int e = static_cast<int>(b / kSub) + 3;
    return ((kSub + b % kSub + 1) << (e - 4)) - 1;
  }

  std::array<uint64_t, 61 * kSub> buckets_{};
  uint64_t count_ = 0;
  uint64_t max_ = 0;
};

// Writes Key(index) with Value(index, version) for the indexes `next_index` yields, timing each
// write (two clock reads, ~40 ns, against writes of a microsecond or more).
void Write(State& state, ThreadEnv& env, std::function<uint64_t()> next_index, uint64_t version,
           bool sync) {
  BenchEngine* engine = env.engine();
  OpStream ops(state, [&env, next_index, version](uint64_t, Op* op) mutable {
    op->index = next_index();
    env.keys.Key(op->index, &op->key);
    env.keys.Value(op->index, &op->value, version);
  });
  uint64_t writes = 0;
  uint64_t clock_steps_back = 0;
  LatencyHistogram latency;
  for (auto _ : state) {
    const Op& op = ops.Next(state);
    const auto start = std::chrono::steady_clock::now();
    const absl::Status status = engine->Put(op.key, op.value, sync);
    const int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                           std::chrono::steady_clock::now() - start).count();
    // On a VM whose vCPUs' clocks drift apart, a thread that moves between them can read an end
    // before its start: 10,000 writes of one 10M-key pass did (kvm-clock, December 5). Such a
    // pass's latencies are not to be trusted, and the report says so from this counter.
    if (ns < 0) ++clock_steps_back;
    latency.Record(ns < 0 ? 0 : static_cast<uint64_t>(ns));
    if (!Ok(state, status, "Put")) break;
    ++writes;
  }
  SetRates(state, writes, writes * env.entry_bytes());
  latency.Report(state);
  state.counters["clock_steps_back"] = static_cast<double>(clock_steps_back);
}

void FillSeq(State& state, ThreadEnv& env) {
  Write(state, env, [i = uint64_t{0}]() mutable { return i++; }, 0, /*sync=*/false);
}

// Every key once, in random order.
void FillRandom(State& state, ThreadEnv& env) {
  Write(state, env, [&env, i = uint64_t{0}]() mutable { return env.shuffled[i++]; }, 0, false);
}

void FillSync(State& state, ThreadEnv& env) {
  Write(state, env, [&env, i = uint64_t{0}]() mutable { return env.shuffled[i++]; }, 0,
        /*sync=*/true);
}

// Random present keys with repetition, as db_bench's overwrite, each with a new value.
void Overwrite(State& state, ThreadEnv& env) {
  Write(state, env, [stream = env.Stream(Distribution::kUniform)]() mutable {
    return stream.NextIndex();
  }, /*version=*/1, false);
}

// Reads present keys drawn from `distribution`; each value must be the one written.
void ReadPresent(State& state, ThreadEnv& env, Distribution distribution) {
  BenchEngine* engine = env.engine();
  OpStream ops(state, [&env, stream = env.Stream(distribution)](uint64_t, Op* op) mutable {
    op->index = stream.NextIndex();
    env.keys.Key(op->index, &op->key);
    env.keys.Value(op->index, &op->value);
  });
  std::string value;
  uint64_t reads = 0, bytes = 0;
  for (auto _ : state) {
    const Op& op = ops.Next(state);
    absl::StatusOr<bool> found = engine->Get(op.key, &value);
    if (!Ok(state, found.status(), "Get")) break;
    if (!*found) {
      Fail(state, absl::StrCat("Get(", op.key, ") found nothing, but every key was written"));
      break;
    }
    if (value != op.value) {
      Fail(state, absl::StrCat("Get(", op.key, ") returned a value that was never written"));
      break;
    }
    ++reads;
    bytes += op.key.size() + value.size();
  }
  SetRates(state, reads, bytes);
}

void ReadRandom(State& state, ThreadEnv& env) { ReadPresent(state, env, Distribution::kUniform); }
void ReadZipfian(State& state, ThreadEnv& env) { ReadPresent(state, env, Distribution::kZipfian); }

// Keys that sort between two stored keys (same length and digits, another last byte): no key
// range rules them out, only a filter or a search of the data can.
void ReadMissing(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  OpStream ops(state, [&env, stream = env.Stream(Distribution::kUniform)](uint64_t, Op* op) mutable {
    op->index = stream.NextIndex();
    env.keys.MissingKey(op->index, &op->key);
  });
  std::string value;
  uint64_t reads = 0;
  for (auto _ : state) {
    const Op& op = ops.Next(state);
    absl::StatusOr<bool> found = engine->Get(op.key, &value);
    if (!Ok(state, found.status(), "Get")) break;
    if (*found) {
      Fail(state, absl::StrCat("Get(", op.key, ") found a key that was never written"));
      break;
    }
    ++reads;
  }
  SetRates(state, reads, 0);
}

// One operation: a new iterator, a Seek to a random present key, then scan_length entries
// (fewer near the end of the key space).
void SeekRandom(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  OpStream ops(state, [&env, stream = env.Stream(Distribution::kUniform)](uint64_t, Op* op) mutable {
    op->index = stream.NextIndex();
    env.keys.Key(op->index, &op->key);
  });
  const int scan_length = env.config.scan_length;
  uint64_t seeks = 0, entries = 0, bytes = 0;
  for (auto _ : state) {
    const Op& op = ops.Next(state);
    std::unique_ptr<BenchIterator> it = engine->NewIterator();
    it->Seek(op.key);
    if (!it->Valid() || it->key() != op.key) {
      Fail(state, absl::StrCat("Seek(", op.key, ") did not land on that key: ",
                               it->status().ToString()));
      break;
    }
    int n = 0;
    for (; n < scan_length && it->Valid(); ++n, it->Next()) {
      bytes += it->key().size() + it->value().size();
    }
    if (!Ok(state, it->status(), "iterator")) break;
    ++seeks;
    entries += n;
  }
  SetRates(state, seeks, bytes);
  state.counters["entries/s"] = Counter(static_cast<double>(entries), Counter::kIsRate);
}

// One operation: one entry of a full scan in key order. Every 1024th entry is checked against
// the key and value written there; all of them are counted.
void ReadSeq(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  std::unique_ptr<BenchIterator> it = engine->NewIterator();
  it->SeekToFirst();
  std::string key, value;
  uint64_t entries = 0, bytes = 0;
  for (auto _ : state) {
    if (!it->Valid()) {
      Fail(state, absl::StrCat("scan ended after ", entries, " entries, expected ",
                               env.config.num, ": ", it->status().ToString()));
      break;
    }
    if ((entries & 1023) == 0) {
      env.keys.Key(entries, &key);
      env.keys.Value(entries, &value);
      if (it->key() != key || it->value() != value) {
        Fail(state, absl::StrCat("entry ", entries, " of the scan is ", it->key(),
                                 " with a wrong key or value; expected ", key));
        break;
      }
    }
    bytes += it->key().size() + it->value().size();
    ++entries;
    it->Next();
  }
  if (!state.error_occurred()) {
    if (it->Valid()) {
      Fail(state, absl::StrCat("scan found more than the ", env.config.num, " entries written"));
    } else {
      Ok(state, it->status(), "iterator");
    }
  }
  SetRates(state, entries, bytes);
}

// Every key once, in random order; afterwards (untimed) a sample must be gone.
void DeleteRandom(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  OpStream ops(state, [&env](uint64_t op_number, Op* op) {
    op->index = env.shuffled[op_number];
    env.keys.Key(op->index, &op->key);
  });
  uint64_t deletes = 0;
  for (auto _ : state) {
    const Op& op = ops.Next(state);
    if (!Ok(state, engine->Delete(op.key, false), "Delete")) break;
    ++deletes;
  }
  SetRates(state, deletes, deletes * env.config.key_size);
  std::string key, value;
  for (uint64_t i = 0; i < std::min<uint64_t>(deletes, 1000) && !state.error_occurred(); ++i) {
    env.keys.Key(env.shuffled[i], &key);
    absl::StatusOr<bool> found = engine->Get(key, &value);
    if (!Ok(state, found.status(), "Get after Delete")) break;
    if (*found) Fail(state, absl::StrCat("Get(", key, ") still finds a deleted key"));
  }
}

// 90% Get, 10% Put of random present keys, on env.threads threads sharing one store. Each
// thread writes its own value version, so a read returns version 0 or some thread's version.
void Mixed(State& state, ThreadEnv& env) {
  const uint64_t my_version = 1 + env.thread;
  OpStream ops(state, [&env, my_version, stream = env.Stream(Distribution::kUniform)](
                          uint64_t op_number, Op* op) mutable {
    op->index = stream.NextIndex();
    env.keys.Key(op->index, &op->key);
    // A write's new value, or the value a read most likely returns.
    env.keys.Value(op->index, &op->value, op_number % 10 == 9 ? my_version : 0);
  });
  std::string value, other;
  uint64_t done = 0, bytes = 0;
  for (auto _ : state) {
    BenchEngine* engine = env.engine();
    if (engine == nullptr) {  // thread 0's set-up failed and said so
      Fail(state, "no store to run on");
      break;
    }
    const Op& op = ops.Next(state);
    if (done % 10 == 9) {
      if (!Ok(state, engine->Put(op.key, op.value, false), "Put")) break;
    } else {
      absl::StatusOr<bool> found = engine->Get(op.key, &value);
      if (!Ok(state, found.status(), "Get")) break;
      if (!*found) {
        Fail(state, absl::StrCat("Get(", op.key, ") found nothing, but every key was written"));
        break;
      }
      // An overwritten key (about one read in ten) costs a value generation in the timed loop.
      bool written = value == op.value;
      for (int version = 1; version <= env.threads && !written; ++version) {
        env.keys.Value(op.index, &other, version);
        written = value == other;
      }
      if (!written) {
        Fail(state, absl::StrCat("Get(", op.key, ") returned a value that was never written"));
        break;
      }
    }
    ++done;
    bytes += op.key.size() + op.value.size();
  }
  SetRates(state, done, bytes);
}

// Not timed: the memory an opened, warmed store holds. Peak RSS is reported only when the
// process runs a single engine, since it is a high-water mark of the whole process.
void Memory(State& state, ThreadEnv& env) {
  for (auto _ : state) {
  }
  BenchEngine* engine = env.engine();
  const double keys = static_cast<double>(env.config.num);
  const uint64_t heap = HeapAllocatedBytes();
  const uint64_t before = env.run.heap_before_open;
  state.counters["heap_bytes_per_key"] = heap > before ? (heap - before) / keys : 0.0;
  const EngineMemory memory = engine->Memory();
  std::string label;
  if (memory.index_filter_bytes.has_value()) {
    state.counters["index_filter_bytes_per_key"] = *memory.index_filter_bytes / keys;
    label = absl::StrCat("index/filter: ", memory.index_filter_source);
  } else {
    label = "index/filter: n/a";
  }
  if (memory.reported_bytes.has_value()) {
    state.counters["engine_reported_bytes"] = static_cast<double>(*memory.reported_bytes);
    absl::StrAppend(&label, "; reported: ", memory.reported_source);
  }
  if (env.config.report_peak_rss) {
    if (auto peak = PeakRssBytes()) state.counters["peak_rss_bytes"] = static_cast<double>(*peak);
    state.counters["harness_rss_bytes"] = static_cast<double>(env.harness_rss);
    if (auto anon = RssAnonBytes()) state.counters["rss_anon_bytes"] = static_cast<double>(*anon);
  }
  state.SetLabel(label.c_str());
}

// The slow spots. Each reports phase_ms, the wall time of the whole phase, and page_faults, the
// faults the process took in it (the engine's and the harness's own allocations alike: what a
// phase costs in faults depends on how much freed memory the process still holds); their keys
// and values are made before the timer starts.
class PhaseClock {
 public:
  PhaseClock() : faults_(PageFaults()), start_(std::chrono::steady_clock::now()) {}

  std::chrono::steady_clock::time_point start() const { return start_; }

  void Report(State& state) const {
    state.counters["phase_ms"] = Seconds(start_) * 1e3;
    state.counters["page_faults"] = static_cast<double>(PageFaults() - faults_);
  }

 private:
  uint64_t faults_;
  std::chrono::steady_clock::time_point start_;
};

// One batch of Sets per iteration, each key written before with a new value.
struct Batches {
  std::vector<std::vector<std::string>> keys, values;
  std::vector<BatchOp> ops;  // views into keys/values of the batch being written

  const std::vector<BatchOp>& Ops(size_t batch) {
    ops.clear();
    for (size_t i = 0; i < keys[batch].size(); ++i) ops.push_back({keys[batch][i], values[batch][i]});
    return ops;
  }
};

void RunBatches(State& state, ThreadEnv& env, Batches& batches, bool sync) {
  BenchEngine* engine = env.engine();
  size_t batch = 0;
  uint64_t entries = 0;
  const PhaseClock clock;
  for (auto _ : state) {
    const std::vector<BatchOp>& ops = batches.Ops(batch++);
    if (!Ok(state, engine->Write(ops, sync), "Write")) break;
    entries += ops.size();
  }
  clock.Report(state);
  SetRates(state, entries, entries * (kSlowKeySize + kSlowValueSize));
}

// 20 synced batches of 1,000 Sets of present keys (random, new values).
void SlowSyncedBatches(State& state, ThreadEnv& env) {
  datagen::Generator stream = env.Stream(Distribution::kUniform);
  const uint64_t entries = SlowEntries(env.config);
  Batches batches;
  for (uint64_t b = 0; b < state.max_iterations; ++b) {
    batches.keys.emplace_back(kSlowBatch);
    batches.values.emplace_back(kSlowBatch);
    for (uint64_t i = 0; i < kSlowBatch; ++i) {
      const uint64_t index = stream.NextIndex() % entries;
      env.slow_keys.Key(index, &batches.keys[b][i]);
      env.slow_keys.Value(index, &batches.values[b][i], 1);
    }
  }
  RunBatches(state, env, batches, /*sync=*/true);
}

// New keys (after every bulk-loaded one) in ascending order, in unsynced batches of 1,000.
void SlowSortedInserts(State& state, ThreadEnv& env) {
  const uint64_t first = SlowEntries(env.config);
  const uint64_t total = SlowRange(env.config);
  Batches batches;
  for (uint64_t b = 0; b < state.max_iterations; ++b) {
    const uint64_t n = std::min(kSlowBatch, total - b * kSlowBatch);
    batches.keys.emplace_back(n);
    batches.values.emplace_back(n);
    for (uint64_t i = 0; i < n; ++i) {
      env.slow_keys.Key(first + b * kSlowBatch + i, &batches.keys[b][i]);
      env.slow_keys.Value(first + b * kSlowBatch + i, &batches.values[b][i]);
    }
  }
  RunBatches(state, env, batches, /*sync=*/false);
  // Untimed: the last key inserted is there.
  std::string key, value, expected;
  env.slow_keys.Key(first + total - 1, &key);
  env.slow_keys.Value(first + total - 1, &expected);
  absl::StatusOr<bool> found = env.engine()->Get(key, &value);
  if (!state.error_occurred() && Ok(state, found.status(), "Get") && (!*found || value != expected)) {
    Fail(state, absl::StrCat("Get(", key, ") does not return the value inserted"));
  }
}

// One iteration: count every entry with an iterator (SeekToFirst, then Next only), right after
// the bulk load, with the engine's background work as it is.
void SlowCountUncompacted(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  const uint64_t expected = SlowEntries(env.config);
  uint64_t count = 0;
  const PhaseClock clock;
  for (auto _ : state) {
    std::unique_ptr<BenchIterator> it = engine->NewIterator();
    count = 0;
    for (it->SeekToFirst(); it->Valid(); it->Next()) ++count;
    if (!Ok(state, it->status(), "iterator")) break;
  }
  clock.Report(state);
  SetRates(state, count, 0);
  if (!state.error_occurred() && count != expected) {
    Fail(state, absl::StrCat("counted ", count, " entries, but ", expected, " were loaded"));
  }
}

// One iteration: find a key range of SlowRange() entries from the first quarter of the keys by
// iteration (Seek, then Next), and delete every other key of it in one unsynced batch.
void SlowDeleteRange(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  const uint64_t range = SlowRange(env.config);
  const uint64_t first = SlowEntries(env.config) / 4;
  std::string seek_key;
  env.slow_keys.Key(first, &seek_key);
  std::vector<std::string> keys;
  keys.reserve(range / 2 + 1);
  std::vector<BatchOp> ops;
  ops.reserve(range / 2 + 1);
  const PhaseClock clock;
  auto iterated = clock.start();
  for (auto _ : state) {
    std::unique_ptr<BenchIterator> it = engine->NewIterator();
    uint64_t n = 0;
    for (it->Seek(seek_key); it->Valid() && n < range; it->Next(), ++n) {
      if (n % 2 == 0) keys.emplace_back(it->key());
    }
    if (!Ok(state, it->status(), "iterator")) break;
    it.reset();
    iterated = std::chrono::steady_clock::now();
    for (const std::string& key : keys) ops.push_back({key, "", /*is_delete=*/true});
    if (!Ok(state, engine->Write(ops, /*sync=*/false), "Write")) break;
  }
  clock.Report(state);
  // The two halves apart, since they stress different paths (a merging scan, a huge batch).
  state.counters["scan_ms"] =
      std::chrono::duration<double, std::milli>(iterated - clock.start()).count();
  state.counters["batch_ms"] = Seconds(iterated) * 1e3;
  SetRates(state, ops.size(), 0);
  // Untimed: the first key of the range is gone, the second is still there.
  std::string key, value;
  for (uint64_t i = 0; i < 2 && !state.error_occurred(); ++i) {
    env.slow_keys.Key(first + i, &key);
    absl::StatusOr<bool> found = engine->Get(key, &value);
    if (!Ok(state, found.status(), "Get after the deletes")) break;
    if (*found != (i == 1)) {
      Fail(state, absl::StrCat("Get(", key, ") ", *found ? "finds a deleted key" : "finds nothing"));
    }
  }
}

// Single synced Sets of present keys (random, new values), one per iteration.
void SlowSyncedSets(State& state, ThreadEnv& env) {
  BenchEngine* engine = env.engine();
  datagen::Generator stream = env.Stream(Distribution::kUniform);
  const uint64_t entries = SlowEntries(env.config);
  std::vector<std::string> keys(state.max_iterations), values(state.max_iterations);
  for (uint64_t i = 0; i < keys.size(); ++i) {
    const uint64_t index = stream.NextIndex() % entries;
    env.slow_keys.Key(index, &keys[i]);
    env.slow_keys.Value(index, &values[i], 1);
  }
  size_t i = 0;
  const PhaseClock clock;
  for (auto _ : state) {
    if (!Ok(state, engine->Put(keys[i], values[i], /*sync=*/true), "Put")) break;
    ++i;
  }
  clock.Report(state);
  SetRates(state, i, i * (kSlowKeySize + kSlowValueSize));
}

uint64_t SlowSyncedBatchCount(const SuiteConfig&) { return 20; }
uint64_t SlowSortedInsertBatches(const SuiteConfig& c) {
  return (SlowRange(c) + kSlowBatch - 1) / kSlowBatch;
}
uint64_t SlowSyncedSetCount(const SuiteConfig&) { return 200; }

uint64_t Num(const SuiteConfig& c) { return c.num; }
uint64_t One(const SuiteConfig&) { return 1; }

const Suite::Workload kWorkloads[] = {
    {"fillseq", Start::kEmpty, false, 1, Num, FillSeq},
    {"fillrandom", Start::kEmpty, false, 1, Num, FillRandom},
    {"overwrite", Start::kPrepared, false, 1, Num, Overwrite},
    {"fillsync", Start::kEmpty, false, 1, SyncWrites, FillSync},
    {"readrandom", Start::kPrepared, false, 1, Reads, ReadRandom},
    {"readmissing", Start::kPrepared, false, 1, Reads, ReadMissing},
    {"readzipfian", Start::kPrepared, false, 1, Reads, ReadZipfian},
    {"seekrandom", Start::kPrepared, true, 1, Seeks, SeekRandom},
    {"readseq", Start::kPrepared, true, 1, Num, ReadSeq},
    {"deleterandom", Start::kPrepared, false, 1, Num, DeleteRandom},
    {"mixed_t1", Start::kPrepared, false, 1, Reads, Mixed},
    {"mixed_t2", Start::kPrepared, false, 2, Reads, Mixed},
    {"memory", Start::kPrepared, false, 1, One, Memory},
    {"slow_synced_batches", Start::kBulkLoaded, false, 1, SlowSyncedBatchCount, SlowSyncedBatches},
    {"slow_count_uncompacted", Start::kBulkLoaded, true, 1, One, SlowCountUncompacted},
    {"slow_sorted_inserts", Start::kBulkLoaded, false, 1, SlowSortedInsertBatches,
     SlowSortedInserts},
    {"slow_delete_range", Start::kBulkLoaded, true, 1, One, SlowDeleteRange},
    {"slow_synced_sets", Start::kBulkLoaded, false, 1, SlowSyncedSetCount, SlowSyncedSets},
};

}  // namespace

Suite::Suite(const SuiteConfig& config, std::unique_ptr<ScratchDir> scratch)
    : config_(config),
      scratch_(std::move(scratch)),
      keys_(SpecOf(config)),
      shuffled_(ShuffledIndexes(SpecOf(config))),
      slow_entries_(SlowEntries(config)),
      slow_keys_(SlowSpec(config)),
      harness_rss_(RssBytes().value_or(0)) {
  if (config.run_slow_spots) {
    datagen::Spec spec = SlowSpec(config);
    spec.count = slow_entries_;
    slow_shuffled_ = ShuffledIndexes(spec);
  }
}

Suite::~Suite() = default;

int Suite::Failures() { return failures.load(std::memory_order_relaxed); }

absl::StatusOr<std::unique_ptr<Suite>> Suite::Create(const SuiteConfig& config) {
  if (config.num == 0) return absl::InvalidArgumentError("--num must be positive");
  if (config.scan_length <= 0) return absl::InvalidArgumentError("--scan_length must be positive");
  datagen::Spec spec = SpecOf(config);
  spec.distribution = Distribution::kZipfian;
  absl::Status valid = datagen::Validate(spec);
  if (!valid.ok()) return valid;
  absl::StatusOr<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Create(config.db_dir);
  if (!scratch.ok()) return scratch.status();
  return std::unique_ptr<Suite>(new Suite(config, *std::move(scratch)));
}

absl::Status Suite::Register(const std::vector<std::string>& engines) {
  std::map<std::string, bool> iterates;
  for (const std::string& name : engines) {
    std::unique_ptr<BenchEngine> engine = NewEngine(name);
    if (engine == nullptr) return absl::NotFoundError(absl::StrCat("no engine named ", name));
    iterates[name] = engine->SupportsIterator();
  }
  for (const Workload& workload : kWorkloads) {
    if (workload.start == Start::kBulkLoaded && !config_.run_slow_spots) continue;
    for (const std::string& engine : engines) {
      const std::string name = absl::StrCat(workload.name, "/", engine);
      if (workload.needs_iterator && !iterates[engine]) {
        skipped_.push_back(absl::StrCat(name, ": the engine has no iterator"));
        continue;
      }
      // One Run per registration, alive as long as the lambda that uses it.
      auto run = std::make_shared<Run>();
      const Workload* w = &workload;
      const uint64_t per_thread = std::max<uint64_t>(1, workload.ops(config_) / workload.threads);
      benchmark::RegisterBenchmark(name.c_str(),
                                   [this, engine, w, run](State& state) {
                                     RunBenchmark(state, engine, *w, run.get());
                                   })
          ->Iterations(static_cast<benchmark::IterationCount>(per_thread))
          ->Threads(workload.threads)
          ->UseRealTime()
          // CPU time of every thread of the process, so an engine's background flushes and
          // compactions during the workload count as its cost ("CPU" column, per operation).
          ->MeasureProcessCPUTime();
    }
  }
  return absl::OkStatus();
}

void Suite::RunBenchmark(State& state, const std::string& engine, const Workload& workload,
                         Run* run) {
  if (state.thread_index() == 0) {
    absl::Status status = SetUp(engine, workload, run);
    if (!status.ok()) {
      run->engine.reset();
      Fail(state, absl::StrCat("set-up: ", status.ToString()));
      for (auto _ : state) {
      }
      TearDown(run, workload.name).IgnoreError();
      return;
    }
  }
  ThreadEnv env{config_,          keys_,           shuffled_,   *run,
                state.thread_index(), state.threads(), harness_rss_, slow_keys_};
  workload.body(state, env);
  if (state.thread_index() == 0) {
    absl::Status status = TearDown(run, workload.name);
    if (!status.ok() && !state.error_occurred()) Fail(state, absl::StrCat("close: ", status.ToString()));
  }
}

BenchOptions Suite::Options() const {
  BenchOptions options;
  options.write_buffer_bytes = config_.write_buffer_bytes;
  return options;
}

absl::Status Suite::SetUp(const std::string& engine, const Workload& workload, Run* run) {
  run->dir = scratch_->Child(absl::StrCat(engine, "-", workload.name, "-", next_dir_++));
  if (workload.start == Start::kPrepared) {
    absl::StatusOr<std::string> prepared = PreparedStore(engine);
    if (!prepared.ok()) return prepared.status();
    absl::Status copied = CopyTreeDurably(*prepared, run->dir);
    if (!copied.ok()) return copied;
  }
  run->heap_before_open = HeapAllocatedBytes();
  run->engine = NewEngine(engine);
  if (run->engine == nullptr) return absl::NotFoundError(absl::StrCat("no engine named ", engine));
  absl::Status opened = run->engine->Open(run->dir, Options());
  if (!opened.ok()) return opened;
  if (workload.start == Start::kPrepared) return Warm(run->engine.get());
  if (workload.start == Start::kBulkLoaded) return BulkLoad(run->engine.get());
  return absl::OkStatus();
}

absl::Status Suite::BulkLoad(BenchEngine* engine) {
  std::vector<std::string> keys(kSlowBatch), values(kSlowBatch);
  std::vector<BatchOp> ops;
  for (uint64_t done = 0; done < slow_shuffled_.size();) {
    const uint64_t n = std::min<uint64_t>(kSlowBatch, slow_shuffled_.size() - done);
    ops.clear();
    for (uint64_t i = 0; i < n; ++i) {
      slow_keys_.Key(slow_shuffled_[done + i], &keys[i]);
      slow_keys_.Value(slow_shuffled_[done + i], &values[i]);
      ops.push_back({keys[i], values[i]});
    }
    absl::Status status = engine->Write(ops, /*sync=*/false);
    if (!status.ok()) return status;
    done += n;
  }
  // Each engine's compaction of the load would otherwise run through the timed phase: the phase
  // would measure how far behind that engine happened to be (LevelDB's writes stop for seconds at
  // times), not the phase.
  return engine->WaitForBackgroundWork();
}

absl::Status Suite::TearDown(Run* run, const std::string& what) {
  absl::Status status = absl::OkStatus();
  if (run->engine != nullptr && config_.engine_stats) {
    std::fprintf(stderr, "%s after %s:\n%s\n", std::string(run->engine->Name()).c_str(),
                 what.c_str(), run->engine->Stats().c_str());
  }
  if (run->engine != nullptr) status = run->engine->Close();
  run->engine.reset();
  absl::Status removed = RemoveTree(run->dir);
  return status.ok() ? removed : status;
}

absl::StatusOr<std::string> Suite::PreparedStore(const std::string& engine_name) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = prepared_.find(engine_name);
  if (it != prepared_.end()) return it->second;

  const auto start = std::chrono::steady_clock::now();
  const std::string dir = scratch_->Child(absl::StrCat(engine_name, "-prepared"));
  std::unique_ptr<BenchEngine> engine = NewEngine(engine_name);
  if (engine == nullptr) return absl::NotFoundError(absl::StrCat("no engine named ", engine_name));
  absl::Status status = engine->Open(dir, Options());
  std::string key, value;
  for (uint64_t i = 0; status.ok() && i < shuffled_.size(); ++i) {
    keys_.Key(shuffled_[i], &key);
    keys_.Value(shuffled_[i], &value);
    status = engine->Put(key, value, false);
  }
  std::string how;
  if (status.ok()) status = engine->Settle(&how);
  absl::Status closed = engine->Close();
  if (status.ok()) status = closed;
  if (!status.ok()) return status;
  std::fprintf(stderr, "prepared the %s store: %llu keys in random order, then %s (%.1f s)\n",
               engine_name.c_str(), static_cast<unsigned long long>(config_.num), how.c_str(),
               Seconds(start));
  prepared_.emplace(engine_name, dir);
  return dir;
}

// A Get in every table: loads each table's index and filter and fills the page cache with the
// store's files (they are also fresh from the copy), so reads are measured warm.
absl::Status Suite::Warm(BenchEngine* engine) {
  const uint64_t stride = std::max<uint64_t>(1, config_.num / 1024);
  std::string key, value, expected;
  for (uint64_t i = 0; i < config_.num; i += stride) {
    keys_.Key(i, &key);
    absl::StatusOr<bool> found = engine->Get(key, &value);
    if (!found.ok()) return found.status();
    keys_.Value(i, &expected);
    if (!*found || value != expected) {
      return absl::DataLossError(absl::StrCat("warm-up: Get(", key, ") ",
                                              *found ? "returned a wrong value" : "found nothing"));
    }
  }
  return absl::OkStatus();
}

}  // namespace kvstore::bench
