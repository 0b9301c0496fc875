// Process crash: a child process writes a deterministic stream of Sets, Deletes and batches
// (WriteOptions::sync = false) into a store with a tiny MemTable, so flushes and compactions run
// all the time, and reports each acknowledged write's index through a pipe. The parent kills it
// with SIGKILL at a random moment, reopens the store and checks that it holds exactly the
// acknowledged writes, plus possibly the one write in flight (all of a batch or none of it).
// The next child reopens the same store and continues the stream, so the state accumulates.
//
// A kill cannot catch a missing fsync (the OS keeps what was written): power_loss_test.cc does.
//
// KVSTORE_CRASH_CYCLES sets the number of kills (default 200); KVSTORE_CRASH_SEED the seed.
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"
#include "testing/workload.h"

namespace kvstore::testing {
namespace {

using Clock = std::chrono::steady_clock;

uint64_t EnvNumber(const char* name, uint64_t default_value) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::strtoull(value, nullptr, 10) : default_value;
}

// The child: opens the store and writes ops first_op, first_op + 1, ... until killed, writing
// each op's index to `ack_fd` once the store has acknowledged it. Never returns.
[[noreturn]] void RunWriter(const std::string& dir, const Options& options, uint64_t seed,
                            uint64_t first_op, int ack_fd) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // Never outlive a parent that died.
  auto opened = StringStore::Open(dir, options);
  if (!opened.ok()) {
    std::fprintf(stderr, "writer: open failed: %s\n", opened.status().ToString().c_str());
    ::_exit(2);
  }
  StringStore& store = **opened;
  for (uint64_t i = first_op;; ++i) {
    const absl::Status s = WriteOp(store, MakeOp(seed, i), WriteOptions());
    if (!s.ok()) {
      std::fprintf(stderr, "writer: op %llu failed: %s\n", static_cast<unsigned long long>(i),
                   s.ToString().c_str());
      ::_exit(3);
    }
    if (::write(ack_fd, &i, sizeof(i)) != sizeof(i)) ::_exit(4);
  }
}

// Reads acknowledged op indices from `fd` until `deadline` (or end of file with a far one).
// Returns false at end of file. Indices must arrive in order, starting at *next.
bool ReadAcks(int fd, Clock::time_point deadline, uint64_t* next, std::string* pending,
              std::string* error) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return true;
    struct pollfd p = {fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)) + 1);
    if (ready < 0 && errno != EINTR) {
      *error = std::strerror(errno);
      return false;
    }
    if (ready <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    pending->append(buf, static_cast<size_t>(n));
    size_t used = 0;
    for (; used + 8 <= pending->size(); used += 8) {
      uint64_t index;
      std::memcpy(&index, pending->data() + used, 8);
      if (index != *next && error->empty()) {
        *error = absl::StrCat("acknowledgement of op ", index, " where ", *next, " was expected");
      }
      *next = index + 1;
    }
    pending->erase(0, used);
  }
}

TEST(CrashTest, KillNineNeverLosesAnAcknowledgedWrite) {
  const uint64_t cycles = EnvNumber("KVSTORE_CRASH_CYCLES", 200);
  const uint64_t seed = EnvNumber("KVSTORE_CRASH_SEED", 42);
  const std::string dir = NewRamTempDir("crash");
  std::mt19937_64 rng(seed);

  State expected;          // The store after ops [0, next_op).
  uint64_t next_op = 0;    // The next child starts here (re-running the op in flight, if any).
  uint64_t acknowledged = 0, in_flight_applied = 0, early_kills = 0;
  const auto start = Clock::now();
  for (uint64_t cycle = 0; cycle < cycles; ++cycle) {
    SCOPED_TRACE(absl::StrCat("cycle ", cycle, ", seed ", seed, " (KVSTORE_CRASH_SEED)"));
    Options options;
    options.memtable_bytes = 4096 + rng() % 12288;
    options.compaction_trigger = 2 + static_cast<int>(rng() % 3);
    options.block_bytes = 256 + rng() % 1024;
    // Compactions then go in many bounded steps (taken from the draws above, so that a seed
    // replays the same operations as before segment_bytes existed).
    options.segment_bytes = 4096 * (1 + options.memtable_bytes % 8);

    int fds[2];
    ASSERT_EQ(::pipe2(fds, O_CLOEXEC), 0) << std::strerror(errno);
    // No store is open in this process now, so the child inherits no held lock. Returning free
    // heap to the OS first saves the child most of its copy-on-write faults.
    ::malloc_trim(0);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0) << std::strerror(errno);
    if (pid == 0) {
      ::close(fds[0]);
      RunWriter(dir, options, seed, next_op, fds[1]);
    }
    ::close(fds[1]);

    // Mostly kill a few ms into the writing; sometimes during the open (recovery) itself.
    uint64_t next_ack = next_op;
    std::string pending, error;
    const bool early = rng() % 8 == 0;
    early_kills += early;
    const auto delay = std::chrono::microseconds(rng() % (early ? 3000 : 6000));
    if (!early) {
      // Wait for the first acknowledgement, so that most cycles write something.
      const auto give_up = Clock::now() + std::chrono::seconds(30);
      while (next_ack == next_op && Clock::now() < give_up &&
             ReadAcks(fds[0], Clock::now() + std::chrono::milliseconds(1), &next_ack, &pending,
                      &error)) {
      }
    }
    const auto kill_at = Clock::now() + delay;
    ReadAcks(fds[0], kill_at, &next_ack, &pending, &error);
    ::kill(pid, SIGKILL);
    while (ReadAcks(fds[0], Clock::now() + std::chrono::seconds(60), &next_ack, &pending, &error)) {
    }
    ::close(fds[0]);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "the writer stopped by itself (exit status " << WEXITSTATUS(status)
        << "); see its message above";
    ASSERT_TRUE(error.empty()) << error;
    ASSERT_TRUE(pending.empty()) << "torn acknowledgement";

    // Acknowledged: [next_op, next_ack). In flight: next_ack, maybe applied.
    State with_acked = expected;
    for (uint64_t i = next_op; i < next_ack; ++i) ApplyOp(MakeOp(seed, i), &with_acked);
    State with_in_flight = with_acked;
    ApplyOp(MakeOp(seed, next_ack), &with_in_flight);

    auto reopened = StringStore::Open(dir);
    ASSERT_TRUE(reopened.ok()) << "reopen after kill -9 failed: " << reopened.status();
    std::unique_ptr<StringStore> store = std::move(reopened).value();
    KV_ASSERT_OK(store->Verify());
    State actual;
    KV_ASSERT_OK(ReadState(*store, &actual));
    if (actual != with_acked) {
      ASSERT_EQ(actual, with_in_flight)
          << "ops " << next_op << ".." << next_ack << " acknowledged, " << next_ack
          << " in flight; versus the acknowledged ones: " << DescribeDiff(with_acked, actual);
      ++in_flight_applied;
    }
    KV_ASSERT_OK(store->Close());
    acknowledged += next_ack - next_op;
    expected = std::move(with_acked);
    next_op = next_ack;
  }
  std::filesystem::remove_all(dir);
  std::printf(
      "kill -9 cycles: %llu (%llu during open), writes acknowledged: %llu, in-flight writes "
      "found applied: %llu, final keys: %zu, losses: 0, %.1f s\n",
      static_cast<unsigned long long>(cycles), static_cast<unsigned long long>(early_kills),
      static_cast<unsigned long long>(acknowledged),
      static_cast<unsigned long long>(in_flight_applied), expected.size(),
      std::chrono::duration<double>(Clock::now() - start).count());
}

}  // namespace
}  // namespace kvstore::testing
