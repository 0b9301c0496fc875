// Compaction in bounded steps: a compaction writes segments of about Options::segment_bytes and
// installs each as it is written, deleting the inputs it has merged past and clipping the ones it
// is inside of. Checked here: the contents are the same after every step, after a failure at any
// point of a compaction and after a power cut at any point of one; and the disk never holds a
// second copy of what is being merged.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kvstore/env.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/kvstore.h"
#include "kvstore/repair.h"
#include "testing/fault_injection_env.h"
#include "testing/test_util.h"

namespace kvstore::testing {
namespace {

namespace fs = std::filesystem;
using Store = KVStore<std::string, std::string>;
using Model = std::map<std::string, std::string>;

constexpr int kKeys = 4000;
constexpr uint64_t kSegmentBytes = 64 * 1024;

std::string Key(int i) { return absl::StrFormat("key%05d", i); }

Options SmallStoreOptions(Env* env) {
  Options options;
  options.env = env;
  options.memtable_bytes = 1 << 20;  // Flushed by hand, one run per round.
  options.segment_bytes = kSegmentBytes;
  options.background_compaction = false;
  return options;
}

// Background compaction on small MemTables, merging eagerly, in steps of the smallest segments.
Options EagerStepOptions(size_t memtable_bytes) {
  Options options;
  options.memtable_bytes = memtable_bytes;
  options.compaction_trigger = 2;
  options.compaction_size_ratio = 1.5;
  options.segment_bytes = 4096;
  options.block_bytes = 512;
  return options;
}

// Three runs, newest first: C, random overwrites of a quarter of the keys (one segment spanning
// them all); A, in four segments of a thousand keys each (flushed in key order, so each joined the
// run), deleting a third of the keys and overwriting a third; B, every key's first value. At the
// bottom a compaction drops A's deletions with B's values, so once it has merged past a segment of
// A and deleted it, B's values below that point are garbage that only the clip keeps unread.
Model FillRuns(Store& store, uint32_t seed) {
  std::mt19937 rng(seed);
  Model model;
  auto set = [&](int i, int round) {
    const std::string v =
        absl::StrCat("v", round, "-", i, "-", std::string(60 + rng() % 80, 'a' + round));
    EXPECT_TRUE(store.Set(Key(i), v).ok());
    model[Key(i)] = v;
  };
  std::vector<int> order(kKeys);
  for (int i = 0; i < kKeys; ++i) order[i] = i;
  std::shuffle(order.begin(), order.end(), rng);
  for (int i : order) set(i, 0);
  EXPECT_TRUE(store.Flush().ok());
  for (int chunk = 0; chunk < 4; ++chunk) {
    for (int i = chunk * kKeys / 4; i < (chunk + 1) * kKeys / 4; ++i) {
      if (i % 3 == 0) {
        EXPECT_TRUE(store.Delete(Key(i)).ok());
        model.erase(Key(i));
      } else if (i % 3 == 1) {
        set(i, 1);
      }
    }
    EXPECT_TRUE(store.Flush().ok());
  }
  for (int i : order) {
    if (rng() % 4 == 0) set(i, 2);
  }
  EXPECT_TRUE(store.Flush().ok());
  return model;
}

// Every way of reading agrees with `model`: Gets of present and deleted keys, a forward and a
// backward scan, and seeks into the middle.
void ExpectHolds(const Store& store, const Model& model) {
  for (int i = 0; i < kKeys; ++i) {
    auto got = store.Get(Key(i));
    auto want = model.find(Key(i));
    if (want == model.end()) {
      ASSERT_TRUE(absl::IsNotFound(got.status())) << Key(i) << ": " << got.status();
    } else {
      ASSERT_TRUE(got.ok()) << Key(i) << ": " << got.status();
      ASSERT_EQ(*got, want->second) << Key(i);
    }
  }
  auto it = store.NewIterator();
  auto want = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
    ASSERT_NE(want, model.end()) << "extra key " << it->key();
    ASSERT_EQ(it->key(), want->first);
    ASSERT_EQ(it->value(), want->second);
  }
  KV_ASSERT_OK(it->status());
  ASSERT_EQ(want, model.end()) << "missing key " << want->first;
  auto back = model.rbegin();
  for (it->SeekToLast(); it->Valid(); it->Prev(), ++back) {
    ASSERT_NE(back, model.rend());
    ASSERT_EQ(it->key(), back->first);
  }
  KV_ASSERT_OK(it->status());
  ASSERT_EQ(back, model.rend());
  for (int i = 1; i < kKeys; i += 397) {
    it->Seek(Key(i));
    auto expected = model.lower_bound(Key(i));
    ASSERT_EQ(it->Valid(), expected != model.end());
    if (it->Valid()) ASSERT_EQ(it->key(), expected->first);
  }
}

// Writes `ops` random Sets and Deletes (one in `delete_one_in`) of keys 0..kKeys into `store` and
// `model`, calling `every_10000` after each ten thousand.
template <typename Check = void (*)(int)>
void WriteRandomly(Store& store, Model* model, uint32_t seed, int ops, int delete_one_in,
                   Check every_10000 = [](int) {}) {
  std::mt19937 rng(seed);
  for (int op = 0; op < ops; ++op) {
    const int i = static_cast<int>(rng() % kKeys);
    if (rng() % delete_one_in == 0) {
      ASSERT_TRUE(store.Delete(Key(i)).ok());
      model->erase(Key(i));
    } else {
      const std::string v = absl::StrCat(op, std::string(rng() % 120, 'v'));
      ASSERT_TRUE(store.Set(Key(i), v).ok());
      (*model)[Key(i)] = v;
    }
    if (op % 10000 == 9999) ASSERT_NO_FATAL_FAILURE(every_10000(op));
  }
}

size_t ClipsInManifest(const std::string& dir) {
  internal::Manifest manifest;
  EXPECT_TRUE(internal::ReadManifest(Env::Default(), dir, &manifest).ok());
  return manifest.clips.size();
}

TEST(BoundedCompactionTest, OutputIsSplitIntoBoundedSegmentsOfOneRun) {
  const std::string dir = NewTempDir("bounded");
  auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(Env::Default())));
  const Model model = FillRuns(*store, 1);
  EXPECT_EQ(store->GetProperty("kvstore.num-runs"), "3");
  EXPECT_EQ(store->GetProperty("kvstore.num-segments"), "6");
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(store->GetProperty("kvstore.num-runs"), "1");
  const int segments = std::stoi(*store->GetProperty("kvstore.num-segments"));
  EXPECT_GE(segments, 4);
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".seg") continue;
    // The segment ends at the first key boundary past the target: one block, filter and index over.
    EXPECT_LE(entry.file_size(), kSegmentBytes + 16 * 1024) << entry.path();
  }
  EXPECT_EQ(ClipsInManifest(dir), 0u);
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, SmallStoreOptions(Env::Default())));
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  KV_ASSERT_OK(store->Verify());
}

// A compaction that fails at any of its file operations leaves the store as it was in contents,
// now and after reopening; some failures leave it with steps installed and inputs clipped, and the
// next compaction finishes from there.
TEST(BoundedCompactionTest, AFailureAtAnyPointLeavesTheContentsWhole) {
  size_t cases_with_clips = 0, cases = 0;
  for (FaultKind kind : {FaultKind::kOpen, FaultKind::kWrite, FaultKind::kRename, FaultKind::kSync,
                         FaultKind::kSyncDir, FaultKind::kRemove}) {
    for (uint64_t n = 1; n <= 40; n += (n < 12 ? 1 : 7)) {
      SCOPED_TRACE(absl::StrCat(FaultKindName(kind), " #", n));
      const std::string dir = NewRamTempDir("bounded_fault");
      FaultInjectionEnv env;
      Model model;
      {
        auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
        model = FillRuns(*store, static_cast<uint32_t>(n));
        env.FailNth(kind, n);
        const absl::Status compacted = store->Compact();
        env.ClearFaults();
        if (!compacted.ok()) {
          ASSERT_FALSE(compacted.message().empty());
        }
        ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
        store->Close().IgnoreError();
      }
      ++cases;
      if (ClipsInManifest(dir) > 0) {
        ++cases_with_clips;
        // Repair keeps what the clips say: a clipped segment's keys below its clip (merged into
        // the output, where some were dropped) must not come back.
        if (cases_with_clips % 3 == 1) {
          const std::string copy = dir + "_repaired";
          fs::remove_all(copy);
          fs::copy(dir, copy, fs::copy_options::recursive);
          KV_ASSERT_OK(Repair(copy).status());
          auto repaired = ValueOrDie(Store::Open(copy, SmallStoreOptions(Env::Default())));
          ASSERT_NO_FATAL_FAILURE(ExpectHolds(*repaired, model));
          KV_ASSERT_OK(repaired->Close());
          fs::remove_all(copy);
        }
      }
      auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(Env::Default())));
      ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
      KV_ASSERT_OK(store->Verify());
      KV_ASSERT_OK(store->Compact());
      ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
      EXPECT_EQ(ClipsInManifest(dir), 0u);
      KV_ASSERT_OK(store->Close());
      fs::remove_all(dir);
    }
  }
  // The cases stopped compactions between steps, not only before the first or after the last.
  std::printf("%zu failure cases, %zu of them stopped between steps\n", cases, cases_with_clips);
  EXPECT_GE(cases_with_clips, cases / 4) << cases_with_clips << " of " << cases;
}

// A power cut at any point of a compaction: what the disk keeps opens with the same contents.
TEST(BoundedCompactionTest, APowerCutAtAnyPointLeavesTheContentsWhole) {
  size_t cases_with_clips = 0;
  for (FaultKind kind : {FaultKind::kRename, FaultKind::kSyncDir, FaultKind::kSync}) {
    for (uint64_t n = 1; n <= 24; n += (n < 8 ? 1 : 4)) {
      SCOPED_TRACE(absl::StrCat("power cut after ", FaultKindName(kind), " #", n));
      const std::string dir = NewRamTempDir("bounded_power");
      FaultInjectionEnv env;
      Model model;
      {
        auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
        model = FillRuns(*store, static_cast<uint32_t>(100 + n));
        env.CutPowerAfter(kind, n);
        store->Compact().IgnoreError();
        store->Close().IgnoreError();
      }
      KV_ASSERT_OK(env.DropUnsyncedData());
      env.RestorePower();
      if (ClipsInManifest(dir) > 0) ++cases_with_clips;
      auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(Env::Default())));
      ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
      KV_ASSERT_OK(store->Verify());
      KV_ASSERT_OK(store->Close());
      fs::remove_all(dir);
    }
  }
  EXPECT_GT(cases_with_clips, 0u);
}

// Background compactions in many small steps while one writer keeps writing, deleting and
// reading back: every read agrees with what was written.
TEST(BoundedCompactionTest, BackgroundStepsKeepEveryWrite) {
  const std::string dir = NewRamTempDir("bounded_background");
  Options options = EagerStepOptions(32 << 10);
  options.max_space_amplification = 0.9;
  options.idle_flush_ms = 5;
  auto store = ValueOrDie(Store::Open(dir, options));
  Model model;
  ASSERT_NO_FATAL_FAILURE(WriteRandomly(*store, &model, 11, 60000, 4, [&](int op) {
    SCOPED_TRACE(absl::StrCat("after op ", op));
    ExpectHolds(*store, model);
  }));
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, options));
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
}

// Compact() calls racing background compactions that go in steps, while a writer writes: a
// background compaction must pick its inputs after a Compact() that ran before it, never from a
// version the Compact() has since rearranged (that erased runs, found by the stress tool).
TEST(BoundedCompactionTest, CompactCallsRacingBackgroundCompactionsKeepEveryWrite) {
  const std::string dir = NewRamTempDir("bounded_race");
  const Options options = EagerStepOptions(8 << 10);
  auto store = ValueOrDie(Store::Open(dir, options));
  std::atomic<bool> writing{true};
  std::thread compactor([&] {
    while (writing.load()) {
      ASSERT_TRUE(store->Compact().ok());
    }
  });
  Model model;
  WriteRandomly(*store, &model, 5, 30000, 5);
  writing = false;
  compactor.join();
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, options));
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
}

// An Env whose renames (one per segment written, one per manifest) take a few milliseconds once
// `slow` is set, so that a merge of many small segments takes long beside a flush.
class SlowRenameEnv final : public EnvWrapper {
 public:
  SlowRenameEnv() : EnvWrapper(Env::Default()) {}
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (slow.load()) std::this_thread::sleep_for(std::chrono::milliseconds(3));
    return EnvWrapper::RenameFile(from, to);
  }
  std::atomic<bool> slow{false};
};

// While a merge of large runs goes on, a writer's flushes add runs in front of it. They are merged
// between its steps (with nothing merging them, they reached slowdown_segments and every write
// slept until the long merge ended), and nothing is lost by merging them there.
TEST(BoundedCompactionTest, RunsFlushedDuringALongMergeAreMergedBetweenItsSteps) {
  const std::string dir = NewRamTempDir("bounded_between_steps");
  SlowRenameEnv env;
  Options options;
  options.env = &env;
  options.memtable_bytes = 16 << 10;
  options.segment_bytes = 4096;
  options.block_bytes = 512;
  options.idle_flush_ms = 0;
  auto store = ValueOrDie(Store::Open(dir, options));
  Model model;
  ASSERT_NO_FATAL_FAILURE(WriteRandomly(*store, &model, 21, 8000, 1 << 30));
  KV_ASSERT_OK(store->Compact());
  env.slow = true;
  uint32_t seed = 22;
  while (std::stoull(*store->GetProperty("kvstore.compactions-between-steps")) == 0) {
    ASSERT_LT(seed, 60u) << "no merge between steps after 380,000 writes";
    ASSERT_NO_FATAL_FAILURE(WriteRandomly(*store, &model, seed++, 10000, 7));
  }
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  std::printf("%s merges between steps of %s compactions; %s write slowdowns, %s write stops\n",
              store->GetProperty("kvstore.compactions-between-steps")->c_str(),
              store->GetProperty("kvstore.compactions")->c_str(),
              store->GetProperty("kvstore.write-slowdowns")->c_str(),
              store->GetProperty("kvstore.write-stops")->c_str());
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  env.slow = false;
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, options));
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
}

// An Env that gives lookups in shadowed runs PosixEnv's unmapped (pread) files, counting them
// and their reads, and counts how often a whole mapped file is released.
class CountingUnmappedEnv final : public EnvWrapper {
 public:
  CountingUnmappedEnv() : EnvWrapper(Env::Default()) {}
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    auto file = target()->NewRandomAccessFile(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<RandomAccessFile>(new CountingFile(std::move(*file), nullptr, &releases));
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewUnmappedRandomAccessFile(
      const std::string& path) override {
    if (fail_opens) return absl::UnavailableError(absl::StrCat("refused for the test: ", path));
    auto file = target()->NewUnmappedRandomAccessFile(path);
    if (!file.ok()) return file.status();
    opened.fetch_add(1);
    return std::unique_ptr<RandomAccessFile>(new CountingFile(std::move(*file), &reads, nullptr));
  }

  std::atomic<bool> fail_opens{false};
  std::atomic<int> opened{0};
  std::atomic<int> reads{0};
  std::atomic<int> releases{0};  // WillNotNeed of a whole mapped file.

 private:
  // Counts its reads and its whole-file releases, into either counter given.
  class CountingFile final : public RandomAccessFileWrapper {
   public:
    CountingFile(std::unique_ptr<RandomAccessFile> target, std::atomic<int>* reads,
                 std::atomic<int>* releases)
        : RandomAccessFileWrapper(std::move(target)), reads_(reads), releases_(releases) {}
    absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                      char* scratch) const override {
      if (reads_ != nullptr) reads_->fetch_add(1);
      return RandomAccessFileWrapper::Read(offset, n, result, scratch);
    }
    void WillNotNeed(uint64_t offset, uint64_t n) const override {
      if (releases_ != nullptr && offset == 0 && n == Size()) releases_->fetch_add(1);
      RandomAccessFileWrapper::WillNotNeed(offset, n);
    }

   private:
    std::atomic<int>* const reads_;
    std::atomic<int>* const releases_;
  };
};

// A run whose keys newer runs mostly hold again is read with pread (its mapped pages would stay
// resident for reads that rarely need them), answering as before; once a compaction leaves one
// run, lookups use the mapping again.
TEST(BoundedCompactionTest, LookupsInAShadowedRunReadWithoutTheMapping) {
  const std::string dir = NewRamTempDir("bounded_shadowed_lookups");
  CountingUnmappedEnv env;
  auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
  const Model model = FillRuns(*store, 31);  // The first run: 2/3 of its keys written again.
  EXPECT_GT(env.opened.load(), 0);
  // No compaction has run: the whole mapping was let go when the run was marked (pages reads had
  // made resident there would otherwise stay until the segment goes).
  EXPECT_GT(env.releases.load(), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  const int reads_while_shadowed = env.reads.load();
  EXPECT_GT(reads_while_shadowed, 0);  // Keys only the first run holds.
  KV_ASSERT_OK(store->Compact());
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  EXPECT_EQ(env.reads.load(), reads_while_shadowed);
  KV_ASSERT_OK(store->Close());
}

// The second open is only a way to keep pages out of the process: when it fails, lookups read
// the shadowed run through its mapping, and no call fails.
TEST(BoundedCompactionTest, ShadowedRunThatCannotBeOpenedAgainStaysMapped) {
  const std::string dir = NewRamTempDir("bounded_shadowed_open_fails");
  CountingUnmappedEnv env;
  env.fail_opens = true;
  auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
  const Model model = FillRuns(*store, 31);
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  EXPECT_EQ(env.opened.load(), 0);
  EXPECT_EQ(env.reads.load(), 0);
  KV_ASSERT_OK(store->Close());
  env.fail_opens = false;  // At the next Open the run is shadowed still, and opened again.
  store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
  EXPECT_GT(env.opened.load(), 0);
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  KV_ASSERT_OK(store->Close());
}

// Without a filter to tell, no run is taken for shadowed.
TEST(BoundedCompactionTest, RunsStayMappedWithoutAFilter) {
  const std::string dir = NewRamTempDir("bounded_shadowed_nofilter");
  CountingUnmappedEnv env;
  using Unfiltered = KVStore<std::string, std::string, DefaultSerializer, NoFilter>;
  auto store = ValueOrDie(Unfiltered::Open(dir, SmallStoreOptions(&env)));
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < kKeys; ++i) KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("v", round, i)));
    KV_ASSERT_OK(store->Flush());
  }
  for (int i = 0; i < kKeys; i += 97) EXPECT_EQ(ValueOrDie(store->Get(Key(i))), absl::StrCat("v2", i));
  EXPECT_EQ(env.opened.load(), 0);
  KV_ASSERT_OK(store->Close());
}

// Runs of keys that newer runs do not write again stay mapped.
TEST(BoundedCompactionTest, RunsOfDistinctKeysStayMapped) {
  const std::string dir = NewRamTempDir("bounded_distinct_runs");
  CountingUnmappedEnv env;
  auto store = ValueOrDie(Store::Open(dir, SmallStoreOptions(&env)));
  Model model;
  for (int round = 0; round < 4; ++round) {
    for (int i = round; i < kKeys; i += 4) {
      const std::string v = absl::StrCat("v", i, std::string(100, 'x'));
      KV_ASSERT_OK(store->Set(Key(i), v));
      model[Key(i)] = v;
    }
    KV_ASSERT_OK(store->Flush());
  }
  ASSERT_NO_FATAL_FAILURE(ExpectHolds(*store, model));
  EXPECT_EQ(env.opened.load(), 0);
  EXPECT_EQ(env.reads.load(), 0);
  KV_ASSERT_OK(store->Close());
}

// An Env that records the most bytes its directory held, measured after each rename (a segment or
// manifest just completed) and before each removal (inputs not yet deleted).
class DiskUseEnv final : public EnvWrapper {
 public:
  DiskUseEnv(const std::string& dir) : EnvWrapper(Env::Default()), dir_(dir) {}
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    absl::Status s = EnvWrapper::RenameFile(from, to);
    Measure();
    return s;
  }
  absl::Status RemoveFile(const std::string& path) override {
    Measure();
    return EnvWrapper::RemoveFile(path);
  }
  uint64_t peak() const {
    std::lock_guard<std::mutex> lock(mu_);
    return peak_;
  }
  void ResetPeak() {
    std::lock_guard<std::mutex> lock(mu_);
    peak_ = 0;
  }

 private:
  void Measure() {
    uint64_t bytes = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir_, ec)) {
      if (entry.is_regular_file(ec)) bytes += entry.file_size(ec);
    }
    std::lock_guard<std::mutex> lock(mu_);
    peak_ = std::max(peak_, bytes);
  }

  const std::string dir_;
  mutable std::mutex mu_;
  uint64_t peak_ = 0;
};

// Merging a large run of bounded segments (a compaction's output) with a newer flush takes disk
// for about the flush and a segment or two more than the inputs, not for a copy of them all.
// (Before compaction went in steps, the peak here was 1.97x the inputs.)
TEST(BoundedCompactionTest, DiskUseDuringACompactionStaysNearItsInputs) {
  const std::string dir = NewTempDir("bounded_disk");
  DiskUseEnv env(dir);
  Options options = SmallStoreOptions(&env);
  options.segment_bytes = 128 * 1024;
  auto store = ValueOrDie(Store::Open(dir, options));
  std::mt19937 rng(7);
  Model model;
  auto write_run = [&](int keys) {
    for (int i = 0; i < keys; ++i) {
      const std::string key = absl::StrFormat("key%08u", static_cast<unsigned>(rng()));
      const std::string value(100, static_cast<char>('a' + rng() % 26));
      ASSERT_TRUE(store->Set(key, value).ok());
      model[key] = value;
    }
    ASSERT_TRUE(store->Flush().ok());
  };
  for (int run = 0; run < 4; ++run) write_run(8000);
  KV_ASSERT_OK(store->Compact());  // One run of bounded segments.
  const uint64_t large = std::stoull(*store->GetProperty("kvstore.segment-bytes"));
  write_run(4000);  // One segment spanning every key.
  const uint64_t before = std::stoull(*store->GetProperty("kvstore.segment-bytes"));
  env.ResetPeak();
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(store->GetProperty("kvstore.num-runs"), "1");
  const uint64_t after = std::stoull(*store->GetProperty("kvstore.segment-bytes"));
  const uint64_t peak = env.peak();
  std::printf("inputs %llu bytes (a run of %llu), output %llu bytes, peak in the directory %llu "
              "bytes (%.2fx the inputs)\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(large),
              static_cast<unsigned long long>(after), static_cast<unsigned long long>(peak),
              static_cast<double>(peak) / static_cast<double>(before));
  EXPECT_GT(large, 3'000'000u);
  const uint64_t flushed = before - large;
  // The inputs; the flushed segment's share of the output so far (it is deleted only at the end);
  // the output segment being finished and the large run's clipped segment; the WAL and manifest.
  EXPECT_LE(peak, before + flushed + 2 * options.segment_bytes + (128 << 10));
  EXPECT_LT(static_cast<double>(peak), 1.5 * static_cast<double>(before));
  auto it = store->NewIterator();
  auto want = model.begin();
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++want) {
    ASSERT_NE(want, model.end());
    ASSERT_EQ(it->key(), want->first);
    ASSERT_EQ(it->value(), want->second);
  }
  KV_ASSERT_OK(it->status());
  ASSERT_EQ(want, model.end());
}

}  // namespace
}  // namespace kvstore::testing
