// I/O errors: a store runs on a FaultInjectionEnv that fails one kind of operation (write, flush,
// sync, read, rename, open, directory sync, removal) once at its Nth occurrence or at random, or
// runs out of space. The failing call must return an error that says what failed; the store then
// keeps working or refuses writes (with an error, and for good once it said so), serves exactly
// the acknowledged writes meanwhile, and after a reopen on a healthy env holds every
// acknowledged write (a failed one may or may not be there).
//
// Then real full disks: a 1 MiB tmpfs (needs root and a mount namespace) and RLIMIT_FSIZE in a
// child process. (A read-only store directory is covered by store_test.cc, ReadOnlyFilesystem.)
//
// KVSTORE_FAULT_CASES sets the number of injected-fault cases; KVSTORE_FAULT_SEED the first seed.
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/fault_injection_env.h"
#include "testing/test_util.h"
#include "testing/workload.h"

namespace kvstore::testing {
namespace {

namespace fs = std::filesystem;

uint64_t EnvNumber(const char* name, uint64_t default_value) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : default_value;
}

// The words the store uses when it refuses writes for good (until reopened).
bool SaysRefusedUntilReopened(const absl::Status& s) {
  return absl::StrContains(s.message(), "until reopened");
}

// What one case injects.
struct FaultPlan {
  FaultKind kind = FaultKind::kWrite;
  bool out_of_space = false;  // ENOSPC after `space` bytes instead of `kind` failing.
  uint64_t space = 0;
  bool random = false;  // Each operation with `probability`, else the `n`th one.
  double probability = 0;
  uint64_t n = 0;
  int error = EIO;
  bool during_open = false;  // Armed before Open, so the open itself may fail.

  void Arm(FaultInjectionEnv& env, uint64_t seed) const {
    if (out_of_space) {
      env.SetSpaceLimit(space);
    } else if (random) {
      env.FailRandomly(kind, probability, seed, error);
    } else {
      env.FailNth(kind, n, error);
    }
  }

  std::string ToString() const {
    if (out_of_space) return absl::StrCat("out of space after ", space, " bytes");
    return absl::StrCat(
        FaultKindName(kind), " fails (", std::strerror(error), ") ",
        random ? absl::StrCat("with probability ", probability) : absl::StrCat("at #", n),
        during_open ? ", armed before open" : "");
  }
};

FaultPlan PlanFault(std::mt19937_64& rng) {
  struct Range {
    FaultKind kind;
    uint64_t max_n;
  };
  static constexpr Range kRanges[] = {
      {FaultKind::kWrite, 500},  {FaultKind::kFlush, 300}, {FaultKind::kSync, 60},
      {FaultKind::kRead, 300},   {FaultKind::kRename, 12}, {FaultKind::kOpen, 30},
      {FaultKind::kSyncDir, 12}, {FaultKind::kRemove, 10},
  };
  FaultPlan plan;
  if (rng() % 9 == 0) {
    plan.out_of_space = true;
    plan.space = 2048 + rng() % (256 << 10);
    return plan;
  }
  const Range& r = kRanges[rng() % std::size(kRanges)];
  plan.kind = r.kind;
  plan.random = rng() % 3 == 0;
  plan.probability = 0.002 + static_cast<double>(rng() % 1000) / 1000 * 0.05;
  plan.n = 1 + rng() % r.max_n;
  static constexpr int kErrors[] = {EIO, EIO, ENOSPC, EACCES};
  plan.error = kErrors[rng() % std::size(kErrors)];
  plan.during_open = rng() % 5 == 0;
  return plan;
}

struct Totals {
  uint64_t sessions = 0;
  uint64_t injected_faults = 0;
  uint64_t injected_in_unmapped_opens = 0;
  uint64_t failed_opens = 0;
  uint64_t failed_writes = 0;
  uint64_t acknowledged_writes = 0;
  uint64_t stores_refusing_writes = 0;
  uint64_t failed_reads = 0;
};

class InjectedFaultTest : public ::testing::Test {
 protected:
  // One store session under `plan`, then a reopen on a healthy env. `model` is what the store
  // held before and becomes what it holds after.
  void RunSession(const std::string& dir, std::mt19937_64& rng, uint64_t seed, uint64_t* next_op,
                  State* model) {
    const FaultPlan plan = PlanFault(rng);
    SCOPED_TRACE(plan.ToString());
    ++totals_.sessions;
    FaultInjectionEnv env;
    Options options;
    options.env = &env;
    options.memtable_bytes = 4096 + rng() % 12288;
    options.compaction_trigger = 2 + static_cast<int>(rng() % 3);
    options.block_bytes = 256 + rng() % 1024;
    // Compactions then go in many bounded steps (taken from the draws above, so that a seed
    // replays the same operations as before segment_bytes existed).
    options.segment_bytes = 4096 * (1 + options.memtable_bytes % 8);
    if (plan.during_open) plan.Arm(env, seed);

    std::vector<Op> ops;
    std::vector<bool> acked;
    errors_seen_ = 0;
    {
      auto opened = StringStore::Open(dir, options);
      if (!opened.ok()) {
        ASSERT_GT(env.InjectedFaults(), 0u) << "open failed with no fault injected: "
                                            << opened.status();
        ASSERT_FALSE(opened.status().message().empty());
        ++totals_.failed_opens;
        ++errors_seen_;
      } else {
        std::unique_ptr<StringStore> store = std::move(opened).value();
        if (!plan.during_open) plan.Arm(env, seed);
        State live = *model;  // What the running store must serve: the acknowledged writes.
        absl::Status refusal;  // Set once the store said it refuses writes until reopened.
        const size_t writes = 50 + rng() % 300;
        for (size_t i = 0; i < writes; ++i) {
          ops.push_back(MakeOp(seed, (*next_op)++));
          WriteOptions write_options;
          write_options.sync = rng() % 4 == 0;
          const absl::Status s = WriteOp(*store, ops.back(), write_options);
          acked.push_back(s.ok());
          if (s.ok()) {
            ASSERT_TRUE(refusal.ok()) << "a write succeeded after the store refused writes "
                                      << "until reopened: " << refusal;
            ApplyOp(ops.back(), &live);
            ++totals_.acknowledged_writes;
          } else {
            ASSERT_FALSE(s.message().empty()) << s;
            ++totals_.failed_writes;
            ++errors_seen_;
            if (SaysRefusedUntilReopened(s) && refusal.ok()) refusal = s;
          }
          if (rng() % 16 == 0) {
            ASSERT_NO_FATAL_FAILURE(CheckOneRead(*store, live, rng));
          }
          if (rng() % 64 == 0) {
            const absl::Status flushed = store->Flush();
            ASSERT_TRUE(flushed.ok() || !flushed.message().empty());
            errors_seen_ += !flushed.ok();
          }
        }
        if (!refusal.ok()) ++totals_.stores_refusing_writes;
        // Background work still running may meet the fault too; it reports here.
        errors_seen_ += !store->WaitForBackgroundWork().ok();
        // With the faults gone, the running store serves exactly what it acknowledged.
        env.ClearFaults();
        State served;
        KV_ASSERT_OK(ReadState(*store, &served));
        ASSERT_EQ(served, live) << DescribeDiff(live, served);
        errors_seen_ += !store->Close().ok();
      }
    }
    totals_.injected_faults += env.InjectedFaults();
    totals_.injected_in_unmapped_opens += env.InjectedFaultsInUnmappedOpens();
    // A failed removal of an obsolete file is harmless and ignored by design, and so is a failed
    // second open of a segment for reads without its mapping (lookups keep the mapping); any
    // other injected fault must reach the caller as an error somewhere (a failed sync nobody
    // hears of is how data is lost silently).
    const uint64_t faults_to_report = env.InjectedFaults() - env.InjectedFaultsInUnmappedOpens();
    if (plan.out_of_space || plan.kind != FaultKind::kRemove) {
      ASSERT_TRUE(faults_to_report == 0 || errors_seen_ > 0)
          << faults_to_report << " injected faults to report (and "
          << env.InjectedFaultsInUnmappedOpens()
          << " in opens for unmapped reads), yet every call succeeded";
    }

    auto reopened = StringStore::Open(dir);
    ASSERT_TRUE(reopened.ok()) << "reopen on a healthy env failed: " << reopened.status();
    std::unique_ptr<StringStore> store = std::move(reopened).value();
    KV_ASSERT_OK(store->Verify());
    State actual;
    KV_ASSERT_OK(ReadState(*store, &actual));
    std::string why;
    ASSERT_TRUE(AcknowledgedOpsPresent(*model, ops, acked, actual, &why))
        << "an acknowledged write is missing after reopen: " << why;
    KV_ASSERT_OK(store->Close());
    *model = std::move(actual);
  }

  // A Get of a random key must agree with `live`, or fail with an error that says something.
  void CheckOneRead(const StringStore& store, const State& live, std::mt19937_64& rng) {
    const std::string key = absl::StrFormat("key%05d", rng() % WorkloadOptions().num_keys);
    const absl::StatusOr<std::string> got = store.Get(key);
    auto it = live.find(key);
    if (got.ok()) {
      ASSERT_NE(it, live.end()) << key << " was deleted but reads " << Abbreviate(*got);
      ASSERT_EQ(*got, it->second) << key;
    } else if (got.status().code() == absl::StatusCode::kNotFound) {
      ASSERT_EQ(it, live.end()) << key << " is there but reads NotFound";
    } else {
      ASSERT_FALSE(got.status().message().empty());
      ++totals_.failed_reads;
      ++errors_seen_;
    }
  }

  Totals totals_;
  uint64_t errors_seen_ = 0;  // Errors the current session's calls returned.
};

TEST_F(InjectedFaultTest, ErrorsAreReportedAndNoAcknowledgedWriteIsLost) {
  const uint64_t cases = EnvNumber("KVSTORE_FAULT_CASES", 200);
  const uint64_t first_seed = EnvNumber("KVSTORE_FAULT_SEED", 1);
  constexpr int kSessionsPerCase = 2;
  for (uint64_t seed = first_seed; seed < first_seed + cases; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with KVSTORE_FAULT_SEED=", seed,
                              " KVSTORE_FAULT_CASES=1)"));
    const std::string dir = NewRamTempDir("fault");
    std::mt19937_64 rng(seed);
    uint64_t next_op = 0;
    State model;
    for (int session = 0; session < kSessionsPerCase; ++session) {
      RunSession(dir, rng, seed, &next_op, &model);
      if (HasFailure()) return;
    }
    fs::remove_all(dir);
  }
  std::printf(
      "fault sessions: %llu, injected faults: %llu (%llu in opens for unmapped reads), "
      "failed opens: %llu, failed writes: %llu, stores refusing writes: %llu, failed reads: %llu, "
      "acknowledged writes: %llu, losses: 0\n",
      static_cast<unsigned long long>(totals_.sessions),
      static_cast<unsigned long long>(totals_.injected_faults),
      static_cast<unsigned long long>(totals_.injected_in_unmapped_opens),
      static_cast<unsigned long long>(totals_.failed_opens),
      static_cast<unsigned long long>(totals_.failed_writes),
      static_cast<unsigned long long>(totals_.stores_refusing_writes),
      static_cast<unsigned long long>(totals_.failed_reads),
      static_cast<unsigned long long>(totals_.acknowledged_writes));
}

// ---- Real full disks ---------------------------------------------------------------------

// Writes ops from `*next_op` on until one fails (at most `limit`); returns its status.
absl::Status WriteUntilFailure(StringStore& store, uint64_t seed, uint64_t* next_op,
                               std::vector<Op>* ops, std::vector<bool>* acked, size_t limit,
                               const WorkloadOptions& workload = {}) {
  for (size_t i = 0; i < limit; ++i) {
    ops->push_back(MakeOp(seed, (*next_op)++, workload));
    WriteOptions options;
    options.sync = i % 8 == 0;
    const absl::Status s = WriteOp(store, ops->back(), options);
    acked->push_back(s.ok());
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

TEST(DiskFullTest, FullTmpfsRefusesWritesAndKeepsAcknowledgedOnes) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a tmpfs";
  // A private mount namespace: the mount vanishes with this process, whatever happens.
  if (::unshare(CLONE_NEWNS) != 0) {
    GTEST_SKIP() << "cannot make a private mount namespace: " << std::strerror(errno);
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    GTEST_SKIP() << "cannot make mounts private: " << std::strerror(errno);
  }
  const std::string mnt = NewTempDir("full_tmpfs");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=1m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  // A filler file to delete later: then there is room to recover, and for a compaction that
  // rewrites the whole store (it needs as much space again as the store takes).
  const std::string filler = mnt + "/filler";
  {
    FILE* f = std::fopen(filler.c_str(), "w");
    ASSERT_NE(f, nullptr);
    const std::string block(4096, 'f');
    for (int i = 0; i < 144; ++i) std::fwrite(block.data(), 1, block.size(), f);
    ASSERT_EQ(std::fclose(f), 0);
  }

  const std::string dir = mnt + "/store";
  Options options;
  options.memtable_bytes = 32 << 10;
  options.compaction_trigger = 2;
  const uint64_t seed = 7;
  WorkloadOptions workload;
  workload.num_keys = 1 << 20;  // Mostly new keys: the store grows until the disk is full.
  uint64_t next_op = 0;
  std::vector<Op> ops;
  std::vector<bool> acked;
  {
    auto store = ValueOrDie(StringStore::Open(dir, options));
    const absl::Status failed = WriteUntilFailure(*store, seed, &next_op, &ops, &acked, 200000, workload);
    ASSERT_FALSE(failed.ok()) << "1 MiB never filled up";
    EXPECT_EQ(failed.code(), absl::StatusCode::kResourceExhausted) << failed;
    EXPECT_FALSE(failed.message().empty());
    // Later writes may fit (a failed WAL switch is not sticky, a compaction may free space) or
    // fail the same clear way; once the store said it refuses writes, it must keep refusing.
    absl::Status refusal = SaysRefusedUntilReopened(failed) ? failed : absl::OkStatus();
    for (int i = 0; i < 20; ++i) {
      const absl::Status again =
          WriteUntilFailure(*store, seed, &next_op, &ops, &acked, 1, workload);
      EXPECT_TRUE(again.ok() || again.code() == absl::StatusCode::kResourceExhausted) << again;
      EXPECT_TRUE(refusal.ok() || !again.ok()) << "a write succeeded after: " << refusal;
      if (SaysRefusedUntilReopened(again) && refusal.ok()) refusal = again;
    }
    std::printf("full tmpfs: %zu writes acknowledged before: %s\n",
                static_cast<size_t>(std::count(acked.begin(), acked.end(), true)),
                failed.ToString().c_str());
  }
  {
    // Still (nearly) full: the store opens, or says clearly why not (a new WAL needs its first
    // chunk reserved). Whether a write fits depends on what the failed work left behind.
    auto opened = StringStore::Open(dir, options);
    if (!opened.ok()) {
      EXPECT_EQ(opened.status().code(), absl::StatusCode::kResourceExhausted) << opened.status();
    } else {
      State state;
      KV_EXPECT_OK(ReadState(**opened, &state));
      std::string why;
      EXPECT_TRUE(AcknowledgedOpsPresent(State(), ops, acked, state, &why)) << why;
      const absl::Status more = (*opened)->Set("more", std::string(300 << 10, 'm'));
      EXPECT_TRUE(more.ok() || more.code() == absl::StatusCode::kResourceExhausted) << more;
    }
  }
  ASSERT_TRUE(fs::remove(filler));
  auto store = ValueOrDie(StringStore::Open(dir, options));
  KV_ASSERT_OK(store->Verify());
  State actual;
  KV_ASSERT_OK(ReadState(*store, &actual));
  std::string why;
  EXPECT_TRUE(AcknowledgedOpsPresent(State(), ops, acked, actual, &why)) << why;
  KV_EXPECT_OK(store->Set("room", "again"));
  KV_EXPECT_OK(store->WaitForBackgroundWork());
}

// A store whose WAL holds writes must flush them at open (so that later synced writes cannot
// outlive them in a power loss). On a full disk it cannot: it must still open for reading.
TEST(DiskFullTest, StoreWhoseRecoveredWritesCannotBeFlushedOpensForReading) {
  const std::string dir = NewRamTempDir("full_at_open");
  std::vector<Op> ops;
  std::vector<bool> acked;
  uint64_t next_op = 0;
  {
    auto store = ValueOrDie(StringStore::Open(dir));
    KV_ASSERT_OK(WriteUntilFailure(*store, 3, &next_op, &ops, &acked, 200));
  }
  FaultInjectionEnv env;
  env.SetSpaceLimit(0);
  Options options;
  options.env = &env;
  {
    auto store = ValueOrDie(StringStore::Open(dir, options));
    State state;
    KV_ASSERT_OK(ReadState(*store, &state));
    std::string why;
    EXPECT_TRUE(AcknowledgedOpsPresent(State(), ops, acked, state, &why)) << why;
    const absl::Status refused = store->Set("more", "data");
    EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted) << refused;
    EXPECT_TRUE(SaysRefusedUntilReopened(refused)) << refused;
  }
  auto store = ValueOrDie(StringStore::Open(dir));
  State state;
  KV_ASSERT_OK(ReadState(*store, &state));
  std::string why;
  EXPECT_TRUE(AcknowledgedOpsPresent(State(), ops, acked, state, &why)) << why;
  KV_EXPECT_OK(store->Set("more", "data"));
  store.reset();
  fs::remove_all(dir);
}

// The child writes under RLIMIT_FSIZE until a write fails, then reports through `fd`: the number
// of acknowledged writes, the failure's status code, and whether a later write succeeded.
[[noreturn]] void WriteUnderFileSizeLimit(const std::string& dir, const Options& options,
                                          rlim_t limit, uint64_t seed, int fd) {
  ::signal(SIGXFSZ, SIG_IGN);  // Then a write past the limit fails with EFBIG instead of killing.
  struct rlimit rl = {limit, limit};
  if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(2);
  uint64_t report[3] = {0, 0, 0};
  {
    auto opened = StringStore::Open(dir, options);
    if (!opened.ok()) ::_exit(3);
    std::vector<Op> ops;
    std::vector<bool> acked;
    uint64_t next_op = 0;
    const absl::Status s = WriteUntilFailure(**opened, seed, &next_op, &ops, &acked, 1000000);
    report[0] = next_op - (s.ok() ? 0 : 1);
    report[1] = static_cast<uint64_t>(s.code());
    for (int i = 0; i < 3; ++i) {
      if (WriteUntilFailure(**opened, seed, &next_op, &ops, &acked, 1).ok()) report[2] = 1;
    }
    if (!s.ok()) std::fprintf(stderr, "writer under RLIMIT_FSIZE: %s\n", s.ToString().c_str());
  }  // Closing the store with the limit still on must not crash either.
  if (::write(fd, report, sizeof(report)) != sizeof(report)) ::_exit(4);
  ::_exit(0);
}

class FileSizeLimitTest : public ::testing::TestWithParam<bool> {};

// Under RLIMIT_FSIZE a write() comes back short, then fails with EFBIG (and so does a space
// reservation past the limit). With a large MemTable the WAL hits the limit; with a tiny one a
// compaction output does.
TEST_P(FileSizeLimitTest, WritesFailClearlyAndAcknowledgedOnesSurvive) {
  const bool wal_hits_limit = GetParam();
  const std::string dir = NewRamTempDir("fsize");
  Options options;
  options.memtable_bytes = wal_hits_limit ? (4 << 20) : 4096;
  options.compaction_trigger = 2;
  // Above the 64 KiB PosixEnv reserves for a WAL at a time, so that the store can open at all.
  const rlim_t limit = wal_hits_limit ? 64 << 10 : 96 << 10;
  const uint64_t seed = wal_hits_limit ? 11 : 12;

  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    WriteUnderFileSizeLimit(dir, options, limit, seed, fds[1]);
  }
  ::close(fds[1]);
  uint64_t report[3] = {0, 0, 0};
  const ssize_t n = ::read(fds[0], report, sizeof(report));
  ::close(fds[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  ASSERT_EQ(n, static_cast<ssize_t>(sizeof(report)));
  const uint64_t acknowledged = report[0];
  EXPECT_EQ(static_cast<absl::StatusCode>(report[1]), absl::StatusCode::kOutOfRange)
      << "EFBIG should surface as OutOfRange (\"File too large\")";
  EXPECT_EQ(report[2], 0u) << "a write succeeded after the store refused writes";
  EXPECT_GT(acknowledged, 10u);

  std::vector<Op> ops;
  std::vector<bool> acked;
  // The failed write and the three refused after it may or may not be there; nothing later is.
  for (uint64_t i = 0; i <= acknowledged + 3; ++i) {
    ops.push_back(MakeOp(seed, i));
    acked.push_back(i < acknowledged);
  }
  auto store = ValueOrDie(StringStore::Open(dir));
  KV_ASSERT_OK(store->Verify());
  State actual;
  KV_ASSERT_OK(ReadState(*store, &actual));
  std::string why;
  EXPECT_TRUE(AcknowledgedOpsPresent(State(), ops, acked, actual, &why)) << why;
  store.reset();
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(WalOrCompaction, FileSizeLimitTest, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "Wal" : "Compaction"; });

}  // namespace
}  // namespace kvstore::testing
