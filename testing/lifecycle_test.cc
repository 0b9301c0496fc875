// Regression tests for the defects an outside review found (issue 14), one or more per defect,
// each failing before its fix: calls racing Close(), space never reclaimed after deletions, WAL
// files piling up, torn WAL tails that refused to open or took quadratic time, oversized batches,
// -0.0 and NaN keys, objects that outlive their store, and option and file-name overflows.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore::testing {
namespace {

namespace fs = std::filesystem;
using Store = KVStore<std::string, std::string>;

std::string Key(int i) { return absl::StrCat("key", 1000000 + i); }

uint64_t Property(const Store& store, const char* name) {
  return std::stoull(store.GetProperty(name).value());
}

int CountFiles(const std::string& dir, const std::string& extension) {
  int n = 0;
  for (const auto& entry : fs::directory_iterator(dir)) n += entry.path().extension() == extension;
  return n;
}

// Whether `status` is OK or says the store is closed: the two outcomes of a call racing Close().
bool OkOrClosed(const absl::Status& status) {
  return status.ok() || absl::IsFailedPrecondition(status);
}

// Runs `child` in a forked process that ends with _exit (no Close, no destructor): what a crash
// leaves, as far as the files are concerned (the OS keeps what was written).
template <typename Fn>
void RunAndCrash(Fn&& child) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    child();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
}

// ---- 1, 2, 10: the lifecycle around Close() ---------------------------------------------------

// Defect 1: a user-called Compact() racing Close() dereferenced the closed store's version.
TEST(LifecycleTest, CompactRacingCloseNeverCrashes) {
  for (int round = 0; round < 12; ++round) {
    const std::string dir = NewTempDir("compact_close");
    Options options;
    options.memtable_bytes = 16 << 10;
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 3000; ++i) KV_ASSERT_OK(store->Set(Key(i % 700), std::string(40, 'v')));
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    std::atomic<int> bad{0};
    for (int t = 0; t < 2; ++t) {
      threads.emplace_back([&] {
        while (!stop.load()) {
          const absl::Status s = store->Compact();
          if (!OkOrClosed(s)) bad.fetch_add(1);
          if (!s.ok()) break;
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500 * round));
    KV_EXPECT_OK(store->Close());
    stop.store(true);
    for (auto& t : threads) t.join();
    EXPECT_EQ(bad.load(), 0);
    EXPECT_TRUE(absl::IsFailedPrecondition(store->Compact()));
    store.reset();
    auto reopened = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 700; ++i) ASSERT_TRUE(reopened->Get(Key(i)).ok()) << i;
  }
}

// Defect 2: a second concurrent Close() returned at once, before the first had finished (with a
// status not set yet), and destroying the store then found joinable threads.
TEST(LifecycleTest, ConcurrentClosesWaitForTheFirstAndAgree) {
  for (int round = 0; round < 20; ++round) {
    const std::string dir = NewTempDir("double_close");
    auto store = ValueOrDie(Store::Open(dir));
    for (int i = 0; i < 500; ++i) KV_ASSERT_OK(store->Set(Key(i), "v"));
    std::vector<absl::Status> results(4);
    std::vector<int> refused(4, 0);  // Not vector<bool>: its bits share bytes across threads.
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        results[t] = store->Close();
        refused[t] = absl::IsFailedPrecondition(store->Set("x", "y"));
      });
    }
    for (auto& t : threads) t.join();
    for (int t = 0; t < 4; ++t) {
      KV_EXPECT_OK(results[t]);
      EXPECT_TRUE(refused[t]);
    }
    store.reset();  // Must not terminate on joinable threads.
    auto reopened = ValueOrDie(Store::Open(dir));
    EXPECT_EQ(reopened->Get(Key(7)).value(), "v");
  }
}

// Every call during and after Close either succeeds (it got in first) or fails with
// FailedPrecondition, whatever it is; none crashes, and the directory holds still afterwards.
TEST(LifecycleTest, EveryCallRacingCloseSucceedsOrFailsCleanly) {
  for (int round = 0; round < 8; ++round) {
    const std::string dir = NewTempDir("race_close");
    Options options;
    options.memtable_bytes = 8 << 10;
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 2000; ++i) KV_ASSERT_OK(store->Set(Key(i % 300), std::string(30, 'a')));
    std::atomic<int> bad{0};
    std::atomic<bool> stop{false};
    auto check = [&](const absl::Status& s) {
      if (!OkOrClosed(s) && !absl::IsNotFound(s)) bad.fetch_add(1);
    };
    std::vector<std::thread> threads;
    threads.emplace_back([&] {
      for (int i = 0; !stop.load(); ++i) check(store->Set(Key(i % 300), "w"));
    });
    threads.emplace_back([&] {
      for (int i = 0; !stop.load(); ++i) check(store->Get(Key(i % 300)).status());
    });
    threads.emplace_back([&] {
      while (!stop.load()) {
        check(store->Flush());
        check(store->WaitForBackgroundWork());
        check(store->Verify());
      }
    });
    threads.emplace_back([&] {
      while (!stop.load()) {
        auto it = store->NewIterator();
        int n = 0;
        for (it->SeekToFirst(); it->Valid() && n < 50; it->Next()) ++n;
        check(it->status());
        for (const auto& [k, v] : store->Scan(Key(10), Key(20))) (void)k;
        store->GetProperty("kvstore.total-bytes");
        Snapshot snapshot = store->GetSnapshot();
        ReadOptions at;
        at.snapshot = &snapshot;
        check(store->Get(Key(3), at).status());
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + 3 * round));
    KV_EXPECT_OK(store->Close());
    // After Close returns nothing touches the directory: list it, wait, list it again.
    std::map<std::string, uintmax_t> before;
    for (const auto& e : fs::directory_iterator(dir)) before[e.path().filename()] = e.file_size();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    stop.store(true);
    for (auto& t : threads) t.join();
    std::map<std::string, uintmax_t> after;
    for (const auto& e : fs::directory_iterator(dir)) after[e.path().filename()] = e.file_size();
    EXPECT_EQ(before, after);
    EXPECT_EQ(bad.load(), 0);
  }
}

// Defect 10: after Close, iterators and scans showed an empty store with OK status.
TEST(LifecycleTest, EveryCallAfterCloseFailsWithFailedPrecondition) {
  const std::string dir = NewTempDir("after_close");
  auto store = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(store->Set("a", "1"));
  KV_ASSERT_OK(store->Set("b", "2"));
  auto before = store->NewIterator();  // Made before Close, used after.
  before->SeekToFirst();
  ASSERT_TRUE(before->Valid());
  auto range = store->Scan("a");
  KV_ASSERT_OK(store->Close());

  EXPECT_TRUE(absl::IsFailedPrecondition(store->Set("c", "3")));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Delete("a")));
  Store::WriteBatch batch;
  batch.Set("d", "4");
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Write(batch)));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Get("a").status()));
  std::string value;
  EXPECT_TRUE(absl::IsFailedPrecondition(store->GetInto("a", &value)));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Flush()));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Compact()));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->Verify()));
  EXPECT_TRUE(absl::IsFailedPrecondition(store->WaitForBackgroundWork()));
  KV_EXPECT_OK(store->Close());  // Idempotent: the first Close's outcome.

  auto it = store->NewIterator();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status())) << it->status();
  auto scan = store->Scan("a", "z");
  EXPECT_EQ(scan.begin(), scan.end());
  EXPECT_TRUE(absl::IsFailedPrecondition(scan.status())) << scan.status();

  before->Next();
  EXPECT_FALSE(before->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(before->status())) << before->status();
  int n = 0;
  for (const auto& entry : range) {
    (void)entry;
    ++n;
  }
  EXPECT_LE(n, 1);  // The Range had read its first entry before Close.
  EXPECT_TRUE(absl::IsFailedPrecondition(range.status())) << range.status();
}

// Iterators, ranges and snapshots that outlive the store object itself stay safe to use and to
// destroy (asan checks that nothing reads freed memory).
TEST(LifecycleTest, ObjectsOutlivingTheStoreFailCleanly) {
  const std::string dir = NewTempDir("outlive");
  auto store = ValueOrDie(Store::Open(dir));
  for (int i = 0; i < 100; ++i) KV_ASSERT_OK(store->Set(Key(i), "v"));
  KV_ASSERT_OK(store->Flush());
  Snapshot snapshot = store->GetSnapshot();
  auto it = store->NewIterator();
  it->SeekToFirst();
  store.reset();
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status()));
  it->SeekToLast();
  EXPECT_FALSE(it->Valid());
  it.reset();
  EXPECT_TRUE(snapshot.valid());  // Destroyed after the store: releases nothing of it.
}

// Defect 11: a Snapshot of a closed store, passed to the reopened store, read newer data.
TEST(LifecycleTest, SnapshotOfAnotherOpeningIsRefused) {
  const std::string dir = NewTempDir("old_snapshot");
  auto store = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(store->Set("k", "old"));
  Snapshot old_snapshot = store->GetSnapshot();
  store.reset();
  auto reopened = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(reopened->Set("k", "new"));
  ReadOptions at;
  at.snapshot = &old_snapshot;
  EXPECT_TRUE(absl::IsFailedPrecondition(reopened->Get("k", at).status()));
  auto it = reopened->NewIterator(at);
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status()));

  Snapshot empty;
  at.snapshot = &empty;
  EXPECT_TRUE(absl::IsInvalidArgument(reopened->Get("k", at).status()));
  Snapshot own = reopened->GetSnapshot();
  at.snapshot = &own;
  EXPECT_EQ(reopened->Get("k", at).value(), "new");
}

// ---- 3: space given back ------------------------------------------------------------------------

// Defect 3: with every value deleted (or shrunk), background compaction never ran: the space rule
// weighed bytes, and deletions weigh nothing. Now the store gets below 3x the live data + 1 MiB
// by itself once writes stop (no Compact()).
class ReclaimTest : public ::testing::TestWithParam<bool> {};

TEST_P(ReclaimTest, DeletedOrShrunkDataIsReclaimedWithoutCompact) {
  const bool shrink = GetParam();
  const std::string dir = NewTempDir("reclaim");
  Options options;
  options.idle_flush_ms = 50;
  auto store = ValueOrDie(Store::Open(dir, options));
  const std::string big(1000, 'x');
  for (int i = 0; i < 20000; ++i) KV_ASSERT_OK(store->Set(Key(i), big));
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  ASSERT_GT(Property(*store, "kvstore.total-bytes"), 10u << 20);
  uint64_t live = 0;
  for (int i = 0; i < 20000; ++i) {
    if (shrink) {
      KV_ASSERT_OK(store->Set(Key(i), "tiny value"));
      live += Key(i).size() + 10;
    } else {
      KV_ASSERT_OK(store->Delete(Key(i)));
    }
  }
  const uint64_t bound = 3 * live + (1 << 20);
  uint64_t total = 0;
  for (int wait = 0; wait < 300; ++wait) {  // Up to 15 s; it takes a few idle periods.
    KV_ASSERT_OK(store->WaitForBackgroundWork());
    total = Property(*store, "kvstore.total-bytes");
    if (total < bound) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_LT(total, bound) << store->GetProperty("kvstore.segments").value();
  for (int i = 0; i < 20000; i += 997) {
    if (shrink) {
      EXPECT_EQ(store->Get(Key(i)).value(), "tiny value");
    } else {
      EXPECT_TRUE(absl::IsNotFound(store->Get(Key(i)).status()));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(DeleteAndShrink, ReclaimTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Shrink" : "Delete"; });

// A store that is written to now and then (nothing worth reclaiming) is not flushed when idle:
// idle flushes must not turn sparse writes into a segment each.
TEST(ReclaimTest, SparseWritesAreNotFlushedWhenIdle) {
  const std::string dir = NewTempDir("sparse");
  Options options;
  options.idle_flush_ms = 20;
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int i = 0; i < 1000; ++i) KV_ASSERT_OK(store->Set(Key(i), std::string(100, 'a')));
  KV_ASSERT_OK(store->Flush());
  const uint64_t flushes = Property(*store, "kvstore.flushes");
  for (int i = 0; i < 5; ++i) {
    KV_ASSERT_OK(store->Set(Key(i), "b"));
    std::this_thread::sleep_for(std::chrono::milliseconds(60));
  }
  EXPECT_EQ(Property(*store, "kvstore.flushes"), flushes);
}

// Idle flushes race writers that restart at that very moment: the flush thread must never wait
// in the writers' queue behind a writer that waits for it to flush (a deadlock: this test hung).
TEST(ReclaimTest, IdleFlushesRacingBurstsOfWritesNeverDeadlock) {
  Options options;
  options.idle_flush_ms = 1;
  options.memtable_bytes = 64 << 10;
  auto store = ValueOrDie(Store::Open(NewTempDir("idle_race"), options));
  const std::string value(100 << 10, 'v');
  std::mt19937 rng(5);
  for (int round = 0; round < 300; ++round) {
    for (int i = 0; i < 3; ++i) KV_ASSERT_OK(store->Set(Key(rng() % 40), value));
    KV_ASSERT_OK(store->Delete(Key(rng() % 40)));
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
  }
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  KV_ASSERT_OK(store->Close());
}

// ---- 4, 5, 6, 7, 12: opening after crashes -------------------------------------------------------

// Defect 4: every open without writes left one more WAL, and all of them were replayed each time.
TEST(RecoveryTest, OpeningWithoutWritesLeavesNoWalBehind) {
  const std::string dir = NewTempDir("reopen_loop");
  {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set("k", "v"));
  }
  for (int i = 0; i < 100; ++i) {
    auto store = ValueOrDie(Store::Open(dir));
    ASSERT_EQ(store->Get("k").value(), "v");
  }
  EXPECT_LE(CountFiles(dir, ".wal"), 1);
}

// Defect 5: after a crash the reserved zeros of the mapped WAL were reported as a torn tail
// (65,428 bytes for 3 intact writes), and each crash-open leaked a WAL.
TEST(RecoveryTest, CrashLeavesNoTornTailAndNoWalBehind) {
  const std::string dir = NewTempDir("crash_zeros");
  for (int crash = 0; crash < 10; ++crash) {
    RunAndCrash([&] {
      auto store = Store::Open(dir);
      if (!store.ok()) ::_exit(2);
      for (int i = 0; i < 3; ++i) {
        if (!(*store)->Set(Key(crash * 3 + i), "v").ok()) ::_exit(3);
      }
      ::_exit(0);  // No Close: the WAL keeps its reserved zeros.
    });
    auto store = ValueOrDie(Store::Open(dir));
    EXPECT_EQ(store->GetProperty("kvstore.wal-tail-bytes-dropped").value(), "0");
    for (int i = 0; i < (crash + 1) * 3; ++i) ASSERT_TRUE(store->Get(Key(i)).ok()) << i;
  }
  EXPECT_LE(CountFiles(dir, ".wal"), 1);
}

// The WAL file the crashed child was writing, and the offset of `needle` in it.
std::pair<std::string, size_t> FindInWals(const std::string& dir, const std::string& needle) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".wal") continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string contents((std::istreambuf_iterator<char>(in)), {});
    const size_t at = contents.find(needle);
    if (at != std::string::npos) return {entry.path().string(), at};
  }
  return {"", std::string::npos};
}

// Zeroes `path` from `from` to its last nonzero byte: a record torn there by a crash.
void TearAt(const std::string& path, size_t from) {
  std::fstream file(path, std::ios::in | std::ios::out | std::ios::binary);
  std::string contents((std::istreambuf_iterator<char>(file)), {});
  const size_t end = contents.find_last_not_of('\0') + 1;
  ASSERT_LT(from, end);
  file.seekp(static_cast<std::streamoff>(from));
  const std::string zeros(end - from, '\0');
  file.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));
}

// Defect 6: a torn last record whose value held a valid WAL record made Open fail with DataLoss:
// the search for a valid record after the damage started inside the torn record's payload.
TEST(RecoveryTest, TornRecordWhoseValueHoldsAWalRecordOpens) {
  const std::string dir = NewTempDir("torn_embedded");
  // A value that is itself a small WAL: records with valid headers and checksums.
  std::string embedded;
  {
    class Sink final : public WritableFile {
     public:
      explicit Sink(std::string* out) : out_(out) {}
      absl::Status Append(absl::string_view data) override {
        out_->append(data.data(), data.size());
        return absl::OkStatus();
      }
      absl::Status Flush() override { return absl::OkStatus(); }
      absl::Status Sync() override { return absl::OkStatus(); }
      absl::Status Close() override { return absl::OkStatus(); }

     private:
      std::string* out_;
    };
    internal::LogWriter writer(std::make_unique<Sink>(&embedded));
    for (int i = 0; i < 5; ++i) {
      internal::BatchRep batch;
      batch.Put(absl::StrCat("inner", i), std::string(200, 'i'));
      batch.SetSequence(1000 + i);
      KV_ASSERT_OK(writer.AddRecord(batch.payload(), false));
    }
  }
  const std::string marker = "<<value starts here>>";
  const std::string value = marker + embedded + std::string(3000, 'z');
  RunAndCrash([&] {
    auto store = Store::Open(dir);
    if (!store.ok()) ::_exit(2);
    if (!(*store)->Set("before", "1").ok() || !(*store)->Set("big", value).ok()) ::_exit(3);
    ::_exit(0);
  });
  const auto [wal, at] = FindInWals(dir, marker);
  ASSERT_NE(at, std::string::npos);
  TearAt(wal, at + marker.size() + embedded.size());  // Torn right after the embedded records.
  auto store = Store::Open(dir);
  KV_ASSERT_OK(store.status());
  EXPECT_EQ((*store)->Get("before").value(), "1");
  EXPECT_TRUE(absl::IsNotFound((*store)->Get("big").status()));
  EXPECT_TRUE(absl::IsNotFound((*store)->Get("inner0").status()));
  EXPECT_GT(Property(**store, "kvstore.wal-tail-bytes-dropped"), 0u);
}

// Defect 7: deciding a torn tail was quadratic: a torn 4 MiB binary value took 41 s to open. A
// torn 32 MiB value must open at once (a quadratic search would take hours; no timing asserted).
TEST(RecoveryTest, TornHugeBinaryValueOpens) {
  const std::string dir = NewTempDir("torn_huge");
  std::mt19937_64 rng(7);
  std::string value(32 << 20, '\0');
  for (char& c : value) c = static_cast<char>(rng());
  const std::string marker = "<<huge>>";
  RunAndCrash([&] {
    auto store = Store::Open(dir);
    if (!store.ok()) ::_exit(2);
    if (!(*store)->Set("before", "1").ok() || !(*store)->Set("huge", marker + value).ok()) {
      ::_exit(3);
    }
    ::_exit(0);
  });
  const auto [wal, at] = FindInWals(dir, marker);
  ASSERT_NE(at, std::string::npos);
  TearAt(wal, at + (16 << 20));
  auto store = Store::Open(dir);
  KV_ASSERT_OK(store.status());
  EXPECT_EQ((*store)->Get("before").value(), "1");
  EXPECT_TRUE(absl::IsNotFound((*store)->Get("huge").status()));
}

// Defect 12: the MemTable's hash index was sized from the reopening's smaller memtable_bytes, so
// replaying a large WAL into it walked ever longer chains (400k keys: 132 s). A guard against that
// blowup, not a speed target: linear replay takes about a second here.
TEST(RecoveryTest, ReopeningWithSmallerMemTableReplaysInLinearTime) {
  const std::string dir = NewTempDir("small_reopen");
  Options big;
  big.memtable_bytes = size_t{1} << 30;
  {
    auto store = ValueOrDie(Store::Open(dir, big));
    Store::WriteBatch batch;
    for (int i = 0; i < 400000; ++i) {
      batch.Set(Key(i), "v");
      if (batch.size() == 1000) {
        KV_ASSERT_OK(store->Write(batch));
        batch.Clear();
      }
    }
    ASSERT_EQ(Property(*store, "kvstore.num-segments"), 0u);  // All of it only in the WAL.
  }
  Options small;
  small.memtable_bytes = 4096;
  const auto start = std::chrono::steady_clock::now();
  auto store = ValueOrDie(Store::Open(dir, small));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_LT(seconds, 30.0);
  EXPECT_EQ(store->Get(Key(399999)).value(), "v");
}

// Defect 13: a small MemTable's hash index was counted twice in kvstore.memtable-bytes: a
// quarter of a 4 KiB budget gone before the first write.
TEST(MemoryTest, SmallMemTableCountsItsIndexOnce) {
  Options options;
  options.memtable_bytes = 4096;
  auto store = ValueOrDie(Store::Open(NewTempDir("small_index"), options));
  EXPECT_LE(Property(*store, "kvstore.memtable-bytes"), 4096u / 8);
}

// ---- 8: oversized batches ------------------------------------------------------------------------

// Defect 8: a WriteBatch over 4 GiB passed every check, then became a sticky fatal error. It is
// refused alone, before anything is written.
TEST(BatchLimitTest, BatchOverTheWalRecordLimitIsInvalidArgument) {
  KV_EXPECT_OK(internal::CheckBatchBytes(internal::kMaxBatchBytes));
  EXPECT_TRUE(absl::IsInvalidArgument(internal::CheckBatchBytes(internal::kMaxBatchBytes + 1)));
}

// The same with a real batch of 4 GiB and more: needs about 4.3 GiB of memory (Write does not
// copy the batch; 4.2 GiB peak RSS measured), so it runs only with KVSTORE_HUGE_TESTS=1.
TEST(BatchLimitTest, RealBatchOver4GiBIsRefusedAndTheStoreStaysWritable) {
  if (std::getenv("KVSTORE_HUGE_TESTS") == nullptr) GTEST_SKIP() << "set KVSTORE_HUGE_TESTS=1";
  auto store = ValueOrDie(Store::Open(NewTempDir("huge_batch")));
  Store::WriteBatch batch;
  const std::string value(kMaxValueBytes, 'h');
  for (int i = 0; batch.size() < 65; ++i) batch.Set(Key(i), value);
  const absl::Status s = store->Write(batch);
  EXPECT_TRUE(absl::IsInvalidArgument(s)) << s;
  KV_EXPECT_OK(store->Set("after", "ok"));
  EXPECT_EQ(store->Get("after").value(), "ok");
}

// ---- 9: equal keys, NaN bounds -------------------------------------------------------------------

// Defect 9: key -0.0 landed in neither Scan(-1, 0) nor Scan(0, 1): the scan started by bytes and
// ended by operator<. -0.0 is stored as 0.0, also inside tuples.
TEST(KeyRuleTest, MinusZeroIsZeroForSetGetAndScan) {
  auto store = ValueOrDie((KVStore<double, int>::Open(NewTempDir("minus_zero"))));
  KV_ASSERT_OK(store->Set(-0.0, 1));
  EXPECT_EQ(store->Get(0.0).value(), 1);
  EXPECT_EQ(store->Get(-0.0).value(), 1);
  int in_negative = 0, in_positive = 0;
  for (const auto& entry : store->Scan(-1.0, 0.0)) in_negative += entry.second;
  for (const auto& entry : store->Scan(0.0, 1.0)) in_positive += entry.second;
  EXPECT_EQ(in_negative, 0);
  EXPECT_EQ(in_positive, 1);
  int to_minus_zero = 0;
  for (const auto& entry : store->Scan(-1.0, -0.0)) to_minus_zero += entry.second;
  EXPECT_EQ(to_minus_zero, 0);
  KV_ASSERT_OK(store->Set(0.0, 2));  // The same key: replaced.
  int count = 0;
  for (const auto& [key, value] : store->Scan(-1.0)) {
    ++count;
    EXPECT_FALSE(std::signbit(key));
    EXPECT_EQ(value, 2);
  }
  EXPECT_EQ(count, 1);

  using TupleKey = std::tuple<std::string, double>;
  auto tuples = ValueOrDie((KVStore<TupleKey, int>::Open(NewTempDir("minus_zero_tuple"))));
  KV_ASSERT_OK(tuples->Set({"a", -0.0}, 5));
  EXPECT_EQ(tuples->Get({"a", 0.0}).value(), 5);
  int found = 0;
  for (const auto& entry : tuples->Scan({"a", 0.0}, {"a", 1.0})) found += entry.second;
  EXPECT_EQ(found, 5);
}

TEST(KeyRuleTest, NaNScanBoundsAreInvalidArgument) {
  auto store = ValueOrDie((KVStore<double, int>::Open(NewTempDir("nan_bounds"))));
  KV_ASSERT_OK(store->Set(1.0, 1));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_TRUE(absl::IsInvalidArgument(store->Set(nan, 1)));
  auto check = [](auto range) {
    EXPECT_EQ(range.begin(), range.end());
    EXPECT_TRUE(absl::IsInvalidArgument(range.status())) << range.status();
  };
  check(store->Scan(nan, 2.0));
  check(store->Scan(0.0, nan));
  check(store->Scan(nan));
  auto it = store->NewIterator();
  it->Seek(nan);
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsInvalidArgument(it->status()));
  EXPECT_EQ(store->Get(1.0).value(), 1);
}

// ---- Options and file names at their limits -----------------------------------------------------

TEST(LimitsTest, OptionsNearIntMaxAndNaNRatiosAreSanitized) {
  Options options;
  options.compaction_trigger = std::numeric_limits<int>::max();
  options.slowdown_segments = std::numeric_limits<int>::max();
  options.stop_segments = std::numeric_limits<int>::max();
  options.compaction_size_ratio = std::numeric_limits<double>::quiet_NaN();
  options.max_space_amplification = std::numeric_limits<double>::quiet_NaN();
  options.memtable_bytes = std::numeric_limits<size_t>::max();
  auto store = ValueOrDie(Store::Open(NewTempDir("int_max"), options));
  for (int i = 0; i < 100; ++i) KV_ASSERT_OK(store->Set(Key(i), "v"));
  KV_ASSERT_OK(store->Flush());
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(store->Get(Key(42)).value(), "v");
}

// A file whose name holds a number beyond any the store gives is not the store's: it must not
// wrap the next file number around (which would reuse the numbers of live files).
TEST(LimitsTest, HugeFileNumbersInTheDirectoryAreIgnored) {
  const std::string dir = NewTempDir("huge_names");
  {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set("a", "1"));
    KV_ASSERT_OK(store->Flush());
  }
  for (const char* name : {"18446744073709551615.wal", "99999999999999999999999.seg",
                           "18446744073709551615.seg"}) {
    std::ofstream(fs::path(dir) / name) << "not ours";
  }
  for (int i = 0; i < 3; ++i) {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set(absl::StrCat("b", i), "2"));
    KV_ASSERT_OK(store->Flush());
    EXPECT_EQ(store->Get("a").value(), "1");
  }
  auto store = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(store->Get("b2").value(), "2");
}

}  // namespace
}  // namespace kvstore::testing
