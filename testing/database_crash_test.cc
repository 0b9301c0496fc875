// Process crash with multi-table batches: a child process writes batches (each touching three
// tables, and committing transactions that do the same) into a Database with a tiny MemTable and
// is killed with SIGKILL at a random moment, or _exit(0)s at a random batch. The parent reopens
// the database and checks that every batch is all or nothing, and that the batches present are a
// prefix of those written. The next child continues from there.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <random>
#include <string>
#include <thread>

#include "gtest/gtest.h"
#include "kvstore/database.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

inline constexpr TableDef<int64_t, int64_t> kA{"a"};
inline constexpr TableDef<int64_t, std::string> kB{"b"};
inline constexpr TableDef<std::tuple<int64_t, int32_t>, int64_t> kC{"c"};

Options SmallOptions() {
  Options options;
  options.memtable_bytes = 32 << 10;
  return options;
}

// Batch i (a Batch for even i, a transaction for odd i): a[i] = i, b[i] = "v<i>xxx...",
// c[(i, 0)] = -i, c[(i, 1)] = 1, and it deletes c[(i - 1, 1)], which batch i - 1 set.
[[noreturn]] void RunWriter(const std::string& dir, int64_t first, int64_t exit_at) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  auto db = Database<>::Open(dir, SmallOptions());
  if (!db.ok()) {
    std::fprintf(stderr, "writer: open failed: %s\n", db.status().ToString().c_str());
    ::_exit(2);
  }
  auto a = (*db)->OpenTable(kA).value();
  auto b = (*db)->OpenTable(kB).value();
  auto c = (*db)->OpenTable(kC).value();
  for (int64_t i = first;; ++i) {
    if (i == exit_at) ::_exit(0);
    absl::Status s;
    if (i % 2 == 0) {
      Batch batch;
      batch.Set(a, i, i);
      batch.Set(b, i, "v" + std::to_string(i) + std::string(200, 'x'));
      batch.Set(c, {i, 0}, -i);
      batch.Set(c, {i, 1}, 1);
      if (i > 0) batch.Delete(c, {i - 1, 1});
      s = (*db)->Write(batch);
    } else {
      s = (*db)->RunTransaction([&](Transaction& txn) -> absl::Status {
        KV_RETURN_IF_ERROR(txn.Set(a, i, i));
        KV_RETURN_IF_ERROR(txn.Set(b, i, "v" + std::to_string(i) + std::string(200, 'x')));
        KV_RETURN_IF_ERROR(txn.Set(c, {i, 0}, -i));
        KV_RETURN_IF_ERROR(txn.Set(c, {i, 1}, 1));
        return txn.Delete(c, {i - 1, 1});
      });
    }
    if (!s.ok()) {
      std::fprintf(stderr, "writer: batch %lld failed: %s\n", static_cast<long long>(i),
                   s.ToString().c_str());
      ::_exit(3);
    }
  }
}

TEST(DatabaseCrashTest, BatchesAreAllOrNothing) {
  // Under TEST_TMPDIR, which is private to each run (pids repeat across sandboxed runs).
  const std::string dir = testing::NewTempDir("db_crash");
  std::mt19937_64 rng(7);
  int64_t present = 0;  // Batches 0 .. present - 1 are in the database.
  for (int cycle = 0; cycle < 20; ++cycle) {
    const bool kill = cycle % 2 == 0;
    const int64_t exit_at = kill ? -1 : present + static_cast<int64_t>(rng() % 2000);
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) RunWriter(dir, present, exit_at);
    if (kill) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20 + rng() % 80));
      ::kill(pid, SIGKILL);
    }
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    if (!kill) {
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    }

    auto db = Database<>::Open(dir, SmallOptions()).value();
    auto a = db->OpenTable(kA).value();
    auto b = db->OpenTable(kB).value();
    auto c = db->OpenTable(kC).value();
    int64_t n = 0;
    for (const auto& [k, v] : a.Scan(INT64_MIN)) {
      ASSERT_EQ(k, n) << "batches present are not a prefix";
      ASSERT_EQ(v, n);
      ++n;
    }
    ASSERT_GE(n, present);
    if (!kill) {
      ASSERT_EQ(n, exit_at);
    }
    int64_t nb = 0;
    for (const auto& [k, v] : b.Scan(INT64_MIN)) {
      ASSERT_EQ(k, nb);
      ASSERT_EQ(v.substr(0, v.find('x')), "v" + std::to_string(nb));
      ++nb;
    }
    ASSERT_EQ(nb, n) << "a batch was applied to some tables only";
    int64_t rows = 0;
    for (const auto& [k, v] : c.Scan({INT64_MIN, 0})) {
      const auto& [i, j] = k;
      if (j == 0) {
        ASSERT_EQ(v, -i);
      } else {
        ASSERT_EQ(i, n - 1) << "only the last batch's (i, 1) row survives";
      }
      ++rows;
    }
    ASSERT_EQ(rows, n == 0 ? 0 : n + 1);
    KV_ASSERT_OK(db->Close());
    present = n;
  }
  EXPECT_GT(present, 0);
  std::printf("%lld batches survived 20 crashes\n", static_cast<long long>(present));
  std::filesystem::remove_all(dir);
}

// A crash in the middle of DropTable: after reopening, the table is either still there with all
// its rows (the catalog change was not written) or gone, and then its keys are deleted by the
// open that finds the drop unfinished, so compaction gives the space back.
TEST(DatabaseCrashTest, DropTableFinishesAfterACrash) {
  constexpr TableDef<int64_t, std::string> kBig{"big"};
  constexpr int64_t kRows = 20000;
  std::mt19937_64 rng(11);
  int gone = 0;
  for (int cycle = 0; cycle < 6; ++cycle) {
    const std::string dir = testing::NewTempDir("db_drop_crash");
    {
      auto db = Database<>::Open(dir, SmallOptions()).value();
      auto big = db->OpenTable(kBig).value();
      auto a = db->OpenTable(kA).value();
      KV_ASSERT_OK(a.Set(1, 1));
      for (int64_t i = 0; i < kRows; ++i) KV_ASSERT_OK(big.Set(i, std::string(100, 'b')));
      KV_ASSERT_OK(db->Close());
    }
    const pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      auto db = Database<>::Open(dir, SmallOptions());
      if (!db.ok() || !(*db)->DropTable("big").ok()) ::_exit(2);
      ::_exit(0);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(rng() % 60000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_FALSE(WIFEXITED(status) && WEXITSTATUS(status) != 0) << status;

    auto db = Database<>::Open(dir, SmallOptions()).value();
    EXPECT_EQ(db->OpenTable(kA).value().Get(1).value(), 1);
    const std::vector<TableInfo> tables = db->ListTables();
    const bool listed = std::any_of(tables.begin(), tables.end(),
                                    [](const TableInfo& t) { return t.name == "big"; });
    if (listed) {
      auto big = db->OpenTable(kBig).value();
      int64_t n = 0;
      for (const auto& [k, v] : big.Scan(INT64_MIN)) {
        ASSERT_EQ(k, n++);
        ASSERT_EQ(v.size(), 100u);
      }
      EXPECT_EQ(n, kRows);
    } else {
      ++gone;
      KV_ASSERT_OK(db->Compact());
      EXPECT_LT(std::stoull(*db->GetProperty("kvstore.total-bytes")), 100000u);
      auto fresh = db->OpenTable(kBig).value();  // A new, empty table of that name.
      int n = 0;
      for (const auto& row : fresh.Scan(INT64_MIN)) (void)row, ++n;
      EXPECT_EQ(n, 0);
    }
    KV_ASSERT_OK(db->Close());
    std::filesystem::remove_all(dir);
  }
  std::printf("%d of 6 drops were gone after the crash\n", gone);
}

}  // namespace
}  // namespace kvstore
