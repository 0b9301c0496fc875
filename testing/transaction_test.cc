// kvstore::Transaction: serializable optimistic transactions over the tables of a Database.
// Anomalies (write skew, phantoms, lost updates) must abort; reads see the transaction's own
// writes; rollback and destruction discard; read-only transactions never abort; and a bank of
// concurrent transfers keeps its total at every snapshot.
#include <atomic>
#include <cstdint>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/database.h"
#include "testing/test_util.h"

namespace kvstore {

struct DatabaseTestPeer {
  static size_t HistorySize(Database<>& db) { return db.shared_->HistorySize(); }
};

namespace {

using ::kvstore::testing::NewTempDir;

inline constexpr TableDef<std::string, int64_t> kAccounts{"accounts"};
inline constexpr TableDef<std::string, int64_t> kSavings{"savings"};

class TransactionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = Database<>::Open(NewTempDir()).value();
    accounts_ = db_->OpenTable(kAccounts).value();
  }
  std::unique_ptr<Database<>> db_;
  Table<std::string, int64_t> accounts_;
};

TEST_F(TransactionTest, WriteSkewAborts) {
  // Invariant a + b >= 0; each transaction checks it, then withdraws from a different account.
  KV_ASSERT_OK(accounts_.Set("a", 50));
  KV_ASSERT_OK(accounts_.Set("b", 50));
  Transaction t1 = db_->BeginTransaction();
  Transaction t2 = db_->BeginTransaction();
  for (Transaction* t : {&t1, &t2}) {
    ASSERT_EQ(t->Get(accounts_, "a").value() + t->Get(accounts_, "b").value(), 100);
  }
  KV_ASSERT_OK(t1.Set(accounts_, "a", -50));
  KV_ASSERT_OK(t2.Set(accounts_, "b", -50));
  KV_EXPECT_OK(t1.Commit());
  EXPECT_TRUE(absl::IsAborted(t2.Commit()));
  EXPECT_EQ(accounts_.Get("a").value() + accounts_.Get("b").value(), 0);
}

TEST_F(TransactionTest, PhantomAborts) {
  KV_ASSERT_OK(accounts_.Set("m1", 1));
  Transaction scanner = db_->BeginTransaction();
  auto rows = scanner.Scan(accounts_, "m", "n");
  KV_ASSERT_OK(rows.status());
  ASSERT_EQ(rows.size(), 1u);
  // Another transaction inserts into the scanned range.
  Transaction inserter = db_->BeginTransaction();
  KV_ASSERT_OK(inserter.Set(accounts_, "m2", 2));
  KV_ASSERT_OK(inserter.Commit());
  KV_ASSERT_OK(scanner.Set(accounts_, "count", static_cast<int64_t>(rows.size())));
  EXPECT_TRUE(absl::IsAborted(scanner.Commit()));

  // An insert outside the scanned range does not conflict.
  Transaction s2 = db_->BeginTransaction();
  ASSERT_EQ(s2.Scan(accounts_, "m", "n").size(), 2u);
  KV_ASSERT_OK(accounts_.Set("z", 1));  // A plain write outside the range.
  KV_ASSERT_OK(s2.Set(accounts_, "count", 2));
  KV_EXPECT_OK(s2.Commit());

  // A plain write inside the range does.
  Transaction s3 = db_->BeginTransaction();
  ASSERT_EQ(s3.Scan(accounts_, "m").size(), 3u);  // m1, m2, z
  KV_ASSERT_OK(accounts_.Set("m3", 3));
  KV_ASSERT_OK(s3.Set(accounts_, "count", 2));
  EXPECT_TRUE(absl::IsAborted(s3.Commit()));
}

TEST_F(TransactionTest, LostUpdateAborts) {
  KV_ASSERT_OK(accounts_.Set("c", 0));
  Transaction t1 = db_->BeginTransaction();
  Transaction t2 = db_->BeginTransaction();
  const int64_t v1 = t1.Get(accounts_, "c").value();
  const int64_t v2 = t2.Get(accounts_, "c").value();
  KV_ASSERT_OK(t1.Set(accounts_, "c", v1 + 1));
  KV_ASSERT_OK(t2.Set(accounts_, "c", v2 + 1));
  KV_EXPECT_OK(t1.Commit());
  EXPECT_TRUE(absl::IsAborted(t2.Commit()));
  EXPECT_EQ(accounts_.Get("c").value(), 1);
  // A plain write after the read aborts too.
  Transaction t3 = db_->BeginTransaction();
  const int64_t v3 = t3.Get(accounts_, "c").value();
  KV_ASSERT_OK(accounts_.Set("c", 10));
  KV_ASSERT_OK(t3.Set(accounts_, "c", v3 + 1));
  EXPECT_TRUE(absl::IsAborted(t3.Commit()));
  // A read of a missing key is tracked too (an insert conflicts).
  Transaction t4 = db_->BeginTransaction();
  EXPECT_TRUE(absl::IsNotFound(t4.Get(accounts_, "new").status()));
  KV_ASSERT_OK(accounts_.Set("new", 1));
  KV_ASSERT_OK(t4.Set(accounts_, "other", 1));
  EXPECT_TRUE(absl::IsAborted(t4.Commit()));
}

TEST_F(TransactionTest, ReadYourWritesInGetAndScan) {
  KV_ASSERT_OK(accounts_.Set("a", 1));
  KV_ASSERT_OK(accounts_.Set("b", 2));
  KV_ASSERT_OK(accounts_.Set("c", 3));
  Transaction txn = db_->BeginTransaction();
  KV_ASSERT_OK(txn.Set(accounts_, "b", 20));
  KV_ASSERT_OK(txn.Delete(accounts_, "c"));
  KV_ASSERT_OK(txn.Set(accounts_, "d", 4));
  EXPECT_EQ(txn.Get(accounts_, "b").value(), 20);
  EXPECT_TRUE(absl::IsNotFound(txn.Get(accounts_, "c").status()));
  std::vector<std::pair<std::string, int64_t>> got;
  for (const auto& [key, value] : txn.Scan(accounts_, "a", "z")) got.emplace_back(key, value);
  EXPECT_EQ(got, (std::vector<std::pair<std::string, int64_t>>{{"a", 1}, {"b", 20}, {"d", 4}}));
  // The result also reads as a StatusOr of the rows.
  auto count_rows = [&]() -> absl::StatusOr<size_t> {
    KV_ASSIGN_OR_RETURN(auto rows, txn.Scan(accounts_, "a", "c"));
    return rows.size();
  };
  EXPECT_EQ(count_rows().value(), 2u);
  EXPECT_EQ(txn.Scan(accounts_, "b").value().front().second, 20);
  EXPECT_EQ(txn.Scan(accounts_, "b")->size(), 2u);
  // Nothing is visible outside before the commit.
  EXPECT_EQ(accounts_.Get("b").value(), 2);
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("d").status()));
  KV_ASSERT_OK(txn.Commit());
  EXPECT_EQ(accounts_.Get("b").value(), 20);
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("c").status()));
  EXPECT_EQ(accounts_.Get("d").value(), 4);
  EXPECT_TRUE(absl::IsFailedPrecondition(txn.Commit()));  // Finished.
}

TEST_F(TransactionTest, ScanPrefixSeesOwnWritesAndIsTracked) {
  constexpr TableDef<std::tuple<std::string, int32_t>, int32_t> kOrders{"orders"};
  auto orders = db_->OpenTable(kOrders).value();
  KV_ASSERT_OK(orders.Set({"ada", 1}, 1));
  KV_ASSERT_OK(orders.Set({"ada", 2}, 2));
  KV_ASSERT_OK(orders.Set({"adb", 1}, 3));
  Transaction txn = db_->BeginTransaction();
  KV_ASSERT_OK(txn.Set(orders, {"ada", 3}, 30));
  KV_ASSERT_OK(txn.Delete(orders, {"ada", 1}));
  std::vector<int32_t> values;
  for (const auto& [key, value] : txn.ScanPrefix(orders, std::tuple<std::string>("ada"))) {
    values.push_back(value);
  }
  EXPECT_EQ(values, (std::vector<int32_t>{2, 30}));
  KV_ASSERT_OK(orders.Set({"adb", 9}, 9));  // Outside the prefix: no conflict.
  Transaction other = db_->BeginTransaction();
  KV_ASSERT_OK(other.Commit());
  KV_ASSERT_OK(txn.Commit());
  Transaction t2 = db_->BeginTransaction();
  EXPECT_EQ(t2.ScanPrefix(orders, "ada").size(), 2u);
  KV_ASSERT_OK(orders.Set({"ada", 7}, 7));  // Inside: a phantom.
  KV_ASSERT_OK(t2.Set(orders, {"x", 0}, 0));
  EXPECT_TRUE(absl::IsAborted(t2.Commit()));
}

TEST_F(TransactionTest, RollbackAndDestructionDiscard) {
  {
    Transaction txn = db_->BeginTransaction();
    KV_ASSERT_OK(txn.Set(accounts_, "x", 1));
    txn.Rollback();
    EXPECT_TRUE(absl::IsFailedPrecondition(txn.Commit()));
  }
  {
    Transaction txn = db_->BeginTransaction();
    KV_ASSERT_OK(txn.Set(accounts_, "y", 1));
  }
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("x").status()));
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("y").status()));
  // RunTransaction rolls back on an error of the function and returns it.
  absl::Status s = db_->RunTransaction([&](Transaction& txn) -> absl::Status {
    KV_RETURN_IF_ERROR(txn.Set(accounts_, "z", 1));
    return absl::InternalError("changed my mind");
  });
  EXPECT_TRUE(absl::IsInternal(s));
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("z").status()));
}

TEST_F(TransactionTest, ReadOnlyNeverAborts) {
  KV_ASSERT_OK(accounts_.Set("a", 1));
  Transaction reader = db_->BeginTransaction();
  EXPECT_EQ(reader.Get(accounts_, "a").value(), 1);
  KV_ASSERT_OK(accounts_.Set("a", 2));
  EXPECT_EQ(reader.Get(accounts_, "a").value(), 1);  // Its snapshot.
  EXPECT_EQ(reader.Scan(accounts_, "").size(), 1u);
  KV_ASSERT_OK(accounts_.Set("b", 2));
  KV_EXPECT_OK(reader.Commit());
}

TEST_F(TransactionTest, BlindWriteWriteConflictAborts) {
  Transaction t1 = db_->BeginTransaction();
  Transaction t2 = db_->BeginTransaction();
  KV_ASSERT_OK(t1.Set(accounts_, "k", 1));
  KV_ASSERT_OK(t2.Set(accounts_, "k", 2));
  KV_EXPECT_OK(t1.Commit());
  EXPECT_TRUE(absl::IsAborted(t2.Commit()));
}

TEST_F(TransactionTest, DroppedTableAbortsReaders) {
  auto savings = db_->OpenTable(kSavings).value();
  KV_ASSERT_OK(savings.Set("a", 1));
  Transaction txn = db_->BeginTransaction();
  EXPECT_EQ(txn.Get(savings, "a").value(), 1);
  KV_ASSERT_OK(db_->DropTable("savings"));
  KV_ASSERT_OK(txn.Set(accounts_, "a", 1));
  EXPECT_TRUE(absl::IsAborted(txn.Commit()));
}

TEST_F(TransactionTest, RunTransactionRetriesAndGivesUp) {
  KV_ASSERT_OK(accounts_.Set("c", 0));
  int calls = 0;
  // The first attempt is made to conflict; the second succeeds.
  absl::Status s = db_->RunTransaction([&](Transaction& txn) -> absl::Status {
    KV_ASSIGN_OR_RETURN(int64_t c, txn.Get(accounts_, "c"));
    if (++calls == 1) KV_RETURN_IF_ERROR(accounts_.Set("c", 100));
    return txn.Set(accounts_, "c", c + 1);
  });
  KV_EXPECT_OK(s);
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(accounts_.Get("c").value(), 101);
  calls = 0;
  s = db_->RunTransaction(
      [&](Transaction& txn) -> absl::Status {
        ++calls;
        KV_ASSIGN_OR_RETURN(int64_t c, txn.Get(accounts_, "c"));
        KV_RETURN_IF_ERROR(accounts_.Set("c", c + 5));  // Always conflicts.
        return txn.Set(accounts_, "c", c + 1);
      },
      3);
  EXPECT_TRUE(absl::IsAborted(s));
  EXPECT_EQ(calls, 3);
  calls = 0;
  s = db_->RunTransaction(2, [&](Transaction&) -> absl::Status {
    ++calls;
    return absl::AbortedError("retry me");
  });
  EXPECT_TRUE(absl::IsAborted(s));
  EXPECT_EQ(calls, 2);
}

TEST_F(TransactionTest, HistoryIsPrunedWhenNoTransactionIsActive) {
  EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 0u);  // Nothing recorded without transactions.
  KV_ASSERT_OK(accounts_.Set("x", 1));
  EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 0u);
  {
    Transaction txn = db_->BeginTransaction();
    for (int i = 0; i < 100; ++i) KV_ASSERT_OK(accounts_.Set(std::to_string(i), i));
    EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 100u);
    Transaction later = db_->BeginTransaction();
    KV_ASSERT_OK(accounts_.Set("y", 1));
    EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 101u);
    txn.Rollback();  // `later` began after the first 100: only "y" is kept for it.
    EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 1u);
  }
  // No transaction is active: the records are gone, and writes are no longer recorded.
  EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 0u);
  for (int i = 0; i < 100; ++i) KV_ASSERT_OK(accounts_.Set(std::to_string(i), i));
  EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 0u);
  Transaction txn = db_->BeginTransaction();
  KV_ASSERT_OK(txn.Set(accounts_, "0", 1));
  KV_EXPECT_OK(txn.Commit());
}

TEST_F(TransactionTest, HistoryOverItsLimitAbortsOnlyTransactionsOlderThanIt) {
  db_->SetHistoryLimitBytes(16 << 10);
  KV_ASSERT_OK(accounts_.Set("a", 1));
  Transaction old = db_->BeginTransaction();
  KV_ASSERT_OK(old.Get(accounts_, "a").status());
  KV_ASSERT_OK(old.Set(accounts_, "b", 2));
  Transaction reader = db_->BeginTransaction();
  KV_ASSERT_OK(reader.Get(accounts_, "a").status());
  // Writes of other keys, far more than the limit: the history keeps at most about the limit.
  for (int i = 0; i < 2000; ++i) {
    KV_ASSERT_OK(accounts_.Set(absl::StrCat("filler", i), i));
  }
  EXPECT_LT(DatabaseTestPeer::HistorySize(*db_), 2000u);
  Transaction fresh = db_->BeginTransaction();
  KV_ASSERT_OK(fresh.Get(accounts_, "a").status());
  KV_ASSERT_OK(fresh.Set(accounts_, "c", 3));

  absl::Status s = old.Commit();
  EXPECT_TRUE(absl::IsAborted(s)) << s;
  EXPECT_NE(s.message().find("validation history"), std::string::npos) << s;
  KV_EXPECT_OK(reader.Commit());  // Read-only: never aborts.
  KV_EXPECT_OK(fresh.Commit());   // Began after what was forgotten.
  EXPECT_TRUE(absl::IsNotFound(accounts_.Get("b").status()));
  EXPECT_EQ(accounts_.Get("c").value(), 3);

  // RunTransaction retries at a new snapshot, which is validated normally.
  KV_EXPECT_OK(db_->RunTransaction([&](Transaction& txn) -> absl::Status {
    KV_ASSIGN_OR_RETURN(int64_t a, txn.Get(accounts_, "a"));
    return txn.Set(accounts_, "b", a + 1);
  }));
  EXPECT_EQ(accounts_.Get("b").value(), 2);
}

TEST_F(TransactionTest, CommitsInFlightAreValidatedAgainst) {
  // Many threads commit read-modify-writes of one counter: commits now write after releasing
  // the commit lock, so a commit validated while another's write is still in flight must see
  // that write's keys. A lost update would leave the counter short.
  KV_ASSERT_OK(accounts_.Set("counter", 0));
  constexpr int kThreads = 4;
  constexpr int kIncrements = 300;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements; ++i) {
        absl::Status s = db_->RunTransaction(1000, [&](Transaction& txn) -> absl::Status {
          KV_ASSIGN_OR_RETURN(int64_t n, txn.Get(accounts_, "counter"));
          KV_RETURN_IF_ERROR(txn.Set(accounts_, "counter", n + 1));
          // A key of its own too, so groups hold commits of several sizes.
          return txn.Set(accounts_, absl::StrCat("t", t, "-", i), i);
        });
        if (!s.ok()) failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(accounts_.Get("counter").value(), kThreads * kIncrements);
  EXPECT_EQ(DatabaseTestPeer::HistorySize(*db_), 0u);
}

// N threads move money between accounts of two tables by transactions, while readers check at
// snapshots (and in read-only transactions) that the total never changes.
TEST(BankTest, TotalIsConstant) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto checking = db->OpenTable(kAccounts).value();
  auto savings = db->OpenTable(kSavings).value();
  constexpr int kAccountsPerTable = 8;
  constexpr int64_t kInitial = 1000;
  for (int i = 0; i < kAccountsPerTable; ++i) {
    KV_ASSERT_OK(checking.Set(std::to_string(i), kInitial));
    KV_ASSERT_OK(savings.Set(std::to_string(i), kInitial));
  }
  const int64_t total = 2 * kAccountsPerTable * kInitial;
  constexpr int kWriters = 4;
  constexpr int kTransfers = 300;
  std::atomic<int> writers_done{0};
  std::atomic<int64_t> commits{0}, aborts{0};
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      std::mt19937 rng(w);
      for (int i = 0; i < kTransfers; ++i) {
        const bool from_checking = rng() % 2 == 0, to_checking = rng() % 2 == 0;
        const std::string from = std::to_string(rng() % kAccountsPerTable);
        const std::string to = std::to_string(rng() % kAccountsPerTable);
        const int64_t amount = rng() % 50;
        int attempts = 0;
        absl::Status s = db->RunTransaction(
            [&](Transaction& txn) -> absl::Status {
              ++attempts;
              auto& src = from_checking ? checking : savings;
              auto& dst = to_checking ? checking : savings;
              KV_ASSIGN_OR_RETURN(int64_t a, txn.Get(src, from));
              KV_RETURN_IF_ERROR(txn.Set(src, from, a - amount));
              KV_ASSIGN_OR_RETURN(int64_t b, txn.Get(dst, to));
              return txn.Set(dst, to, b + amount);
            },
            1000);
        ASSERT_TRUE(s.ok()) << s;
        commits.fetch_add(1);
        aborts.fetch_add(attempts - 1);
      }
      writers_done.fetch_add(1);
    });
  }
  std::atomic<int> checks{0};
  auto sum_at = [&](const Snapshot* snap) {
    int64_t sum = 0;
    for (auto* table : {&checking, &savings}) {
      for (const auto& [k, v] : table->Scan("", {.snapshot = snap})) sum += v;
    }
    return sum;
  };
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      do {
        if (r == 0) {
          Snapshot snap = db->GetSnapshot();
          ASSERT_EQ(sum_at(&snap), total);
        } else {
          Transaction txn = db->BeginTransaction();
          int64_t sum = 0;
          for (auto* table : {&checking, &savings}) {
            for (const auto& [k, v] : txn.Scan(*table, "")) sum += v;
          }
          ASSERT_EQ(sum, total);
          ASSERT_TRUE(txn.Commit().ok());  // Read-only: never aborts.
        }
        checks.fetch_add(1);
      } while (writers_done.load() < kWriters);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(sum_at(nullptr), total);
  EXPECT_EQ(commits.load(), kWriters * kTransfers);
  EXPECT_GT(checks.load(), 0);
  std::printf("bank: %lld commits, %lld aborts, %d checks\n", static_cast<long long>(commits.load()),
              static_cast<long long>(aborts.load()), checks.load());
}

// Concurrent increments by transactions lose no update, and concurrent "on call" doctors (write
// skew: each goes off call only if another stays) never leave nobody on call.
TEST(BankTest, ConcurrentIncrementsAndWriteSkew) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto counters = db->OpenTable(kAccounts).value();
  auto oncall = db->OpenTable(kSavings).value();
  KV_ASSERT_OK(counters.Set("n", 0));
  constexpr int kThreads = 4, kIncrements = 200, kRounds = 100;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kIncrements; ++i) {
        ASSERT_TRUE(db->RunTransaction(
                          [&](Transaction& txn) -> absl::Status {
                            KV_ASSIGN_OR_RETURN(int64_t n, txn.Get(counters, "n"));
                            return txn.Set(counters, "n", n + 1);
                          },
                          1 << 20)
                        .ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(counters.Get("n").value(), kThreads * kIncrements);

  for (int round = 0; round < kRounds; ++round) {
    for (int d = 0; d < kThreads; ++d) KV_ASSERT_OK(oncall.Set(std::to_string(d), 1));
    threads.clear();
    for (int d = 0; d < kThreads; ++d) {
      threads.emplace_back([&, d] {
        absl::Status s = db->RunTransaction([&](Transaction& txn) -> absl::Status {
          int64_t on = 0;
          for (const auto& [name, flag] : txn.Scan(oncall, "")) on += flag;
          if (on < 2) return absl::OkStatus();  // Someone else must stay: stay on call.
          return txn.Set(oncall, std::to_string(d), 0);
        }, 1 << 20);
        ASSERT_TRUE(s.ok()) << s;
      });
    }
    for (auto& t : threads) t.join();
    int64_t on = 0;
    for (const auto& [name, flag] : oncall.Scan("")) on += flag;
    ASSERT_EQ(on, 1) << "round " << round;
  }
}

// A steady stream of plain writes from several threads does not starve commits.
TEST(BankTest, CommitsAreNotStarvedByPlainWrites) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto accounts = db->OpenTable(kAccounts).value();
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 3; ++w) {
    writers.emplace_back([&, w] {
      for (int64_t i = 0; !stop.load(); ++i) {
        ASSERT_TRUE(accounts.Set("w" + std::to_string(w), i).ok());
      }
    });
  }
  for (int i = 0; i < 200; ++i) {
    KV_ASSERT_OK(db->RunTransaction([&](Transaction& txn) -> absl::Status {
      absl::StatusOr<int64_t> n = txn.Get(accounts, "n");
      return txn.Set(accounts, "n", n.ok() ? *n + 1 : 1);
    }));
  }
  stop.store(true);
  for (auto& t : writers) t.join();
  EXPECT_EQ(accounts.Get("n").value(), 200);
}

// Plain writes racing transactions, and Close racing everything: no crash, no dangling access.
TEST(BankTest, CloseRacesTransactionsAndWrites) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto accounts = db->OpenTable(kAccounts).value();
  KV_ASSERT_OK(accounts.Set("a", 0));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < 3; ++w) {
    threads.emplace_back([&, w] {
      while (!stop.load()) {
        absl::Status s;
        if (w == 0) {
          s = accounts.Set("a", 1);
        } else {
          s = db->RunTransaction([&](Transaction& txn) -> absl::Status {
            KV_ASSIGN_OR_RETURN(int64_t a, txn.Get(accounts, "a"));
            return txn.Set(accounts, "a", a + 1);
          });
        }
        if (!s.ok()) {
          ASSERT_TRUE(absl::IsFailedPrecondition(s) || absl::IsAborted(s)) << s;
          if (absl::IsFailedPrecondition(s)) return;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  KV_ASSERT_OK(db->Close());
  stop.store(true);
  for (auto& t : threads) t.join();
}

}  // namespace
}  // namespace kvstore
