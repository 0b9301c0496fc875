// Bigger than memory: a random fill of --num keys (50M by default, about 6 GB of 16-byte keys and
// 100-byte values) into each engine in turn, then random reads of the filled store. A thread
// samples the store directory's size every --sample_ms through the fill and until background work
// settles, so the benchmark can tell how much disk the engine needed beyond its data: the peak
// during the fill over the live data (the keys and values written, counted once) is the figure.
//
//   tools/bazel run -c opt //benchmarks:large_fill -- [--num=50000000] [--reads=1000000]
//       [--engines=kvstore,leveldb] [--dir=/var/tmp] [--out=DIR]
//
// With --out, writes DIR/disk_usage.dat (engine, seconds, bytes), DIR/disk_usage.md (the table)
// and, where gnuplot is installed, DIR/disk_usage.png (disk use over time, every engine).
// Keys are a permutation of [0, num) so each is written once; every Get checks its value.
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "benchmarks/flag_parsing.h"
#include "benchmarks/engine.h"
#include "benchmarks/scratch_dir.h"

namespace kvstore::bench {
namespace {

struct Flags {
  uint64_t num = 50'000'000;
  uint64_t reads = 1'000'000;
  uint64_t value_size = 100;
  uint64_t sample_ms = 500;
  std::string engines = "kvstore,leveldb";
  std::string dir;  // Parent of the scratch directories; empty: $TMPDIR or /tmp.
  std::string out;
};

// A bijection of [0, n): an odd multiplier and an offset mod the next power of two, walked until
// the result falls below n (each step is a bijection of the power-of-two range, so the walk ends
// and no two inputs meet).
class Permutation {
 public:
  explicit Permutation(uint64_t n) : n_(n) {
    while (mask_ < n - 1) mask_ = (mask_ << 1) | 1;
  }
  uint64_t operator()(uint64_t i) const {
    do {
      i = (i * 0x9E3779B97F4A7C15ULL + 0x632BE59BD9B4E019ULL) & mask_;
      i ^= i >> 17 & mask_;  // An xorshift of the high bits into the low ones is a bijection too.
    } while (i >= n_);
    return i;
  }

 private:
  uint64_t n_;
  uint64_t mask_ = 0;
};

std::string KeyOf(uint64_t index) { return absl::StrFormat("%016" PRIu64, index); }

// Values: a window into one megabyte of random bytes, its offset a function of the key, so a read
// can check what it got without keeping the values.
class Values {
 public:
  explicit Values(uint64_t size) : size_(size) {
    std::mt19937_64 rng(301);
    pool_.resize(1 << 20);
    for (char& c : pool_) c = static_cast<char>(' ' + rng() % 95);
  }
  absl::string_view For(uint64_t index) const {
    return absl::string_view(pool_).substr((index * 7919) % (pool_.size() - size_), size_);
  }

 private:
  uint64_t size_;
  std::string pool_;
};

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir, ec)) {
    if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
  }
  return bytes;
}

// Samples a directory's size on its own thread until stopped.
class DiskSampler {
 public:
  DiskSampler(std::string dir, uint64_t period_ms)
      : dir_(std::move(dir)), start_(std::chrono::steady_clock::now()) {
    thread_ = std::thread([this, period_ms] {
      while (!stop_.load()) {
        Sample();
        std::this_thread::sleep_for(std::chrono::milliseconds(period_ms));
      }
    });
  }
  ~DiskSampler() { Stop(); }
  void Stop() {
    if (thread_.joinable()) {
      stop_ = true;
      thread_.join();
      Sample();
    }
  }
  // The largest sample taken up to now.
  uint64_t Peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }
  std::vector<std::pair<double, uint64_t>> samples() const {
    std::lock_guard<std::mutex> lock(mu_);
    return samples_;
  }

 private:
  void Sample() {
    const uint64_t bytes = DirectoryBytes(dir_);
    const double t = Seconds();
    std::lock_guard<std::mutex> lock(mu_);
    samples_.emplace_back(t, bytes);
    peak_ = std::max(peak_, bytes);
  }

  const std::string dir_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  uint64_t peak_ = 0;
  std::vector<std::pair<double, uint64_t>> samples_;
  std::thread thread_;
};

struct Result {
  std::string engine;
  double fill_seconds = 0, settle_seconds = 0, read_seconds = 0;
  uint64_t peak_fill_bytes = 0, peak_bytes = 0, settled_bytes = 0;
  std::vector<std::pair<double, uint64_t>> samples;
};

bool Run(const std::string& name, const Flags& flags, const std::string& parent, Result* result) {
  std::unique_ptr<BenchEngine> engine = NewEngine(name);
  if (engine == nullptr) {
    std::fprintf(stderr, "large_fill: no engine named %s is linked\n", name.c_str());
    return false;
  }
  auto scratch = ScratchDir::Create(parent);
  if (!scratch.ok()) {
    std::fprintf(stderr, "large_fill: %s\n", scratch.status().ToString().c_str());
    return false;
  }
  const std::string dir = (*scratch)->Child(name);
  if (absl::Status s = engine->Open(dir, BenchOptions{}); !s.ok()) {
    std::fprintf(stderr, "large_fill: %s: open: %s\n", name.c_str(), s.ToString().c_str());
    return false;
  }
  result->engine = name;
  const Permutation permutation(flags.num);
  const Values values(flags.value_size);
  DiskSampler sampler(dir, flags.sample_ms);
  for (uint64_t i = 0; i < flags.num; ++i) {
    const uint64_t index = permutation(i);
    if (absl::Status s = engine->Put(KeyOf(index), values.For(index), /*sync=*/false); !s.ok()) {
      std::fprintf(stderr, "large_fill: %s: put %" PRIu64 ": %s\n", name.c_str(), i,
                   s.ToString().c_str());
      return false;
    }
    if ((i + 1) % (flags.num / 10 == 0 ? 1 : flags.num / 10) == 0) {
      std::fprintf(stderr, "large_fill: %s: %" PRIu64 " keys in %.0f s, disk %.2f GB\n",
                   name.c_str(), i + 1, sampler.Seconds(), sampler.Peak() / 1e9);
    }
  }
  result->fill_seconds = sampler.Seconds();
  result->peak_fill_bytes = sampler.Peak();
  if (absl::Status s = engine->WaitForBackgroundWork(); !s.ok()) {
    std::fprintf(stderr, "large_fill: %s: %s\n", name.c_str(), s.ToString().c_str());
    return false;
  }
  result->settle_seconds = sampler.Seconds() - result->fill_seconds;
  sampler.Stop();
  result->peak_bytes = sampler.Peak();
  result->settled_bytes = DirectoryBytes(dir);
  result->samples = sampler.samples();

  std::mt19937_64 rng(17);
  std::string value;
  const auto read_start = std::chrono::steady_clock::now();
  for (uint64_t r = 0; r < flags.reads; ++r) {
    const uint64_t index = rng() % flags.num;
    absl::StatusOr<bool> found = engine->Get(KeyOf(index), &value);
    if (!found.ok() || !*found || value != values.For(index)) {
      std::fprintf(stderr, "large_fill: %s: key %" PRIu64 " reads wrong: %s\n", name.c_str(),
                   index, found.ok() ? (*found ? "other value" : "missing") : found.status().ToString().c_str());
      return false;
    }
  }
  result->read_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - read_start).count();
  std::fprintf(stderr, "large_fill: %s: %s\n", name.c_str(), engine->Stats().c_str());
  return engine->Close().ok();
}

std::string Gb(uint64_t bytes) { return absl::StrFormat("%.2f GB", bytes / 1e9); }

std::string Table(const Flags& flags, const std::vector<Result>& results) {
  const uint64_t live = flags.num * (16 + flags.value_size);
  std::string out = absl::StrFormat(
      "%s keys of 16 bytes with %d-byte values, written once each in random order: %s of live "
      "data. Disk is the store directory, sampled every %d ms.\n\n"
      "| engine | fill ops/s | peak disk during the fill | peak / live data | peak until settled | "
      "after background work settles | readrandom ops/s |\n|---|---:|---:|---:|---:|---:|---:|\n",
      absl::StrCat(flags.num), flags.value_size, Gb(live), flags.sample_ms);
  for (const Result& r : results) {
    absl::StrAppendFormat(&out, "| %s | %.0f | %s | %.2fx | %s (%.2fx) | %s (%.2fx), %.0f s after the fill | %.0f |\n",
                          r.engine, flags.num / r.fill_seconds, Gb(r.peak_fill_bytes),
                          static_cast<double>(r.peak_fill_bytes) / live, Gb(r.peak_bytes),
                          static_cast<double>(r.peak_bytes) / live, Gb(r.settled_bytes),
                          static_cast<double>(r.settled_bytes) / live, r.settle_seconds,
                          flags.reads / r.read_seconds);
  }
  if (results.size() >= 2) {
    const Result& a = results[0];
    for (size_t i = 1; i < results.size(); ++i) {
      const Result& b = results[i];
      absl::StrAppendFormat(&out, "\n%s / %s: fill %.2fx, readrandom %.2fx.", a.engine, b.engine,
                            b.fill_seconds / a.fill_seconds, b.read_seconds / a.read_seconds);
    }
    out += "\n";
  }
  return out;
}

void WriteOutputs(const Flags& flags, const std::vector<Result>& results) {
  std::filesystem::create_directories(flags.out);
  const std::string data = flags.out + "/disk_usage.dat";
  {
    std::ofstream f(data);
    for (const Result& r : results) {
      f << "# " << r.engine << ": seconds since the fill began, directory bytes\n";
      for (const auto& [t, bytes] : r.samples) f << t << " " << bytes << "\n";
      f << "\n\n";  // gnuplot's index separator
    }
  }
  std::ofstream(flags.out + "/disk_usage.md") << Table(flags, results);
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0) {
    std::fprintf(stderr, "large_fill: gnuplot not found; no chart\n");
    return;
  }
  const double live_gb = flags.num * (16 + flags.value_size) / 1e9;
  std::string plots;
  for (size_t i = 0; i < results.size(); ++i) {
    absl::StrAppend(&plots, i == 0 ? "" : ", ", "'", data, "' index ", i,
                    " using 1:($2/1e9) with lines lw 2 title '", results[i].engine, "'");
  }
  absl::StrAppendFormat(&plots, ", %f with lines dt 2 lc rgb '#555555' title 'live data', "
                        "%f with lines dt 3 lc rgb '#aa0000' title '1.5x live data'",
                        live_gb, 1.5 * live_gb);
  const std::string script = flags.out + "/disk_usage.gp";
  std::ofstream(script) << "set terminal pngcairo size 1200,600 font 'sans,12' noenhanced\n"
                        << "set output '" << flags.out << "/disk_usage.png'\n"
                        << "set title 'Disk use during a random fill of " << flags.num
                        << " keys, then until background work settles'\n"
                        << "set xlabel 'seconds since the fill began'\nset ylabel 'GB on disk'\n"
                        << "set grid\nset key top left box opaque\nset yrange [0:*]\n"
                        << "plot " << plots << "\n";
  if (std::system(("gnuplot '" + script + "'").c_str()) != 0) {
    std::fprintf(stderr, "large_fill: gnuplot failed\n");
  }
}

}  // namespace
}  // namespace kvstore::bench

int main(int argc, char** argv) {
  using namespace kvstore::bench;
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    if (ParseFlag(argv[i], "num", &flags.num) || ParseFlag(argv[i], "reads", &flags.reads) ||
        ParseFlag(argv[i], "value_size", &flags.value_size) ||
        ParseFlag(argv[i], "sample_ms", &flags.sample_ms) ||
        ParseFlag(argv[i], "engines", &flags.engines) || ParseFlag(argv[i], "dir", &flags.dir) ||
        ParseFlag(argv[i], "out", &flags.out)) {
      continue;
    }
    std::fprintf(stderr,
                 "large_fill: unknown flag %s\nflags: --num --reads --value_size --sample_ms "
                 "--engines=kvstore,leveldb --dir --out\n",
                 argv[i]);
    return 2;
  }
  if (flags.num == 0 || flags.value_size == 0 || flags.value_size > 4096 || flags.sample_ms == 0) {
    std::fprintf(stderr, "large_fill: --num and --sample_ms must be positive, --value_size 1..4096\n");
    return 2;
  }
  std::vector<Result> results;
  for (absl::string_view name : absl::StrSplit(flags.engines, ',', absl::SkipEmpty())) {
    Result result;
    if (!Run(std::string(name), flags, flags.dir, &result)) return 1;
    results.push_back(std::move(result));
  }
  std::printf("%s", Table(flags, results).c_str());
  if (!flags.out.empty()) WriteOutputs(flags, results);
  return 0;
}
