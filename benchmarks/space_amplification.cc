// Space and write amplification under sustained overwrites: writes `--write_mb` of random
// overwrites into a store whose live data is `--live_mb`, waits for compaction to catch up, and
// reports the store's file bytes over the live bytes (space amplification) and the bytes written
// to disk over the bytes written by the user (write amplification). Then two phases that only
// give space back if compaction weighs what deletions and small values free (issue 14): every
// value is shrunk to --shrink_value_size bytes, then every key is deleted; after each the store is
// left idle (no Flush, no Compact) until kvstore.total-bytes falls below 3x the live data plus
// 1 MiB, or --settle_s passes. Exits 1 if either phase misses that bound.
//
//   tools/bazel run //benchmarks:space_amplification -- --live_mb=100 --write_mb=2048
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/match.h"
#include "benchmarks/flag_parsing.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/kvstore.h"
#include "tools/datagen/datagen.h"

namespace {

using kvstore::bench::ParseFlag;

struct Flags {
  uint64_t live_mb = 100;
  uint64_t write_mb = 2048;
  uint64_t key_size = 16;
  uint64_t value_size = 100;
  uint64_t shrink_value_size = 10;
  uint64_t settle_s = 60;
  std::string dir;  // Parent of the store's own directory; empty: $TMPDIR, else /tmp.
};

uint64_t DirectoryBytes(const std::string& dir) {
  uint64_t bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.is_regular_file()) bytes += entry.file_size();
  }
  return bytes;
}

uint64_t Property(const kvstore::KVStore<std::string, std::string>& store, const char* name) {
  uint64_t v = 0;
  auto p = store.GetProperty(name);
  if (p.has_value()) (void)absl::SimpleAtoi(*p, &v);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    if (ParseFlag(argv[i], "live_mb", &flags.live_mb) ||
        ParseFlag(argv[i], "write_mb", &flags.write_mb) ||
        ParseFlag(argv[i], "key_size", &flags.key_size) ||
        ParseFlag(argv[i], "value_size", &flags.value_size) ||
        ParseFlag(argv[i], "shrink_value_size", &flags.shrink_value_size) ||
        ParseFlag(argv[i], "settle_s", &flags.settle_s)) {
      continue;
    }
    if (absl::StartsWith(argv[i], "--dir=")) {
      flags.dir = argv[i] + 6;
      continue;
    }
    std::fprintf(stderr, "unknown flag %s\nflags: --live_mb --write_mb --key_size --value_size --shrink_value_size --settle_s --dir\n", argv[i]);
    return 2;
  }
  // A directory of this process's own, removed on exit: two runs at once (two CI jobs sharing
  // /tmp) must not delete each other's store.
  auto scratch = kvstore::bench::ScratchDir::Create(flags.dir);
  if (!scratch.ok()) {
    std::fprintf(stderr, "%s\n", scratch.status().ToString().c_str());
    return 1;
  }
  const std::string dir = (*scratch)->Child("store");

  const uint64_t record_bytes = flags.key_size + flags.value_size;
  kvstore::datagen::Spec spec;
  spec.count = flags.live_mb * 1000000 / record_bytes;
  spec.key_size = flags.key_size;
  spec.value_size = flags.value_size;
  spec.distribution = kvstore::datagen::Distribution::kUniform;
  if (absl::Status s = kvstore::datagen::Validate(spec); !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  kvstore::datagen::Generator gen(spec);

  auto store = kvstore::KVStore<std::string, std::string>::Open(dir);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", std::string(store.status().message()).c_str());
    return 1;
  }
  const auto start = std::chrono::steady_clock::now();
  std::string key, value;
  // Load every key once, so the live data is exactly `count` records from the start.
  for (uint64_t i = 0; i < spec.count; ++i) {
    gen.Key(i, &key);
    gen.Value(i, &value);
    if (absl::Status s = (*store)->Set(key, value); !s.ok()) {
      std::fprintf(stderr, "set: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  const uint64_t overwrites = flags.write_mb * 1000000 / record_bytes;
  for (uint64_t n = 0; n < overwrites; ++n) {
    const uint64_t i = gen.NextIndex();
    gen.Key(i, &key);
    gen.Value(i, &value, n + 1);
    if (absl::Status s = (*store)->Set(key, value); !s.ok()) {
      std::fprintf(stderr, "set: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  const double write_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  (void)(*store)->Flush();
  (void)(*store)->WaitForBackgroundWork();
  const double settle_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  const uint64_t live_bytes = spec.count * record_bytes;
  const uint64_t file_bytes = DirectoryBytes(dir);
  const uint64_t user = Property(**store, "kvstore.user-bytes-written");
  const uint64_t flushed = Property(**store, "kvstore.flush-bytes-written");
  const uint64_t compacted = Property(**store, "kvstore.compaction-bytes-written");
  std::printf("live data:            %.1f MB (%llu keys of %llu+%llu bytes)\n", live_bytes / 1e6,
              static_cast<unsigned long long>(spec.count),
              static_cast<unsigned long long>(flags.key_size),
              static_cast<unsigned long long>(flags.value_size));
  std::printf("written by the user:  %.1f MB in %llu writes, %.1f s (%.0f writes/s)\n", user / 1e6,
              static_cast<unsigned long long>(spec.count + overwrites), write_seconds,
              (spec.count + overwrites) / write_seconds);
  std::printf("store files:          %.1f MB in %s segments after compaction caught up (%.1f s)\n",
              file_bytes / 1e6, (*store)->GetProperty("kvstore.num-segments")->c_str(),
              settle_seconds);
  std::printf("space amplification:  %.2fx (files / live data)\n",
              static_cast<double>(file_bytes) / static_cast<double>(live_bytes));
  std::printf("write amplification:  %.2fx ((WAL + flush + compaction bytes) / user bytes)\n",
              static_cast<double>(user + flushed + compacted) / static_cast<double>(user));
  std::printf("compactions:          %s\n", (*store)->GetProperty("kvstore.compactions")->c_str());

  // Waits, without Flush or Compact, until the segments fall below the bound; prints the result.
  auto settle = [&](const char* phase, uint64_t live) {
    const uint64_t bound = 3 * live + (1 << 20);
    const auto phase_start = std::chrono::steady_clock::now();
    uint64_t total = Property(**store, "kvstore.total-bytes");
    double seconds = 0;
    while (total >= bound && seconds < static_cast<double>(flags.settle_s)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      total = Property(**store, "kvstore.total-bytes");
      seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - phase_start).count();
    }
    std::printf("%-21s %.2f MB of segments for %.2f MB live after %.1f s idle (bound 3x + 1 MiB "
                "= %.2f MB): %s\n",
                phase, total / 1e6, live / 1e6, seconds, bound / 1e6,
                total < bound ? "met" : "MISSED");
    return total < bound;
  };
  bool met = true;
  std::string small_value(flags.shrink_value_size, 's');
  for (uint64_t i = 0; i < spec.count; ++i) {
    gen.Key(i, &key);
    if (absl::Status s = (*store)->Set(key, small_value); !s.ok()) {
      std::fprintf(stderr, "set: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  met &= settle("shrink-heavy:", spec.count * (flags.key_size + flags.shrink_value_size));
  for (uint64_t i = 0; i < spec.count; ++i) {
    gen.Key(i, &key);
    if (absl::Status s = (*store)->Delete(key); !s.ok()) {
      std::fprintf(stderr, "delete: %s\n", std::string(s.message()).c_str());
      return 1;
    }
  }
  met &= settle("delete-heavy:", 0);
  (void)(*store)->Close();
  return met ? 0 : 1;
}
