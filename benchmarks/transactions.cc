// Transactions side by side: kvstore::Database against RocksDB's OptimisticTransactionDB.
//
//   tools/bazel run -c opt //benchmarks:transactions -- [--seconds=1] [--dir=/tmp]
//
// Bank transfers: each transaction reads two accounts (in two tables: kvstore tables, key
// prefixes in RocksDB), moves an amount and commits; an aborted transfer is retried. Run at 1, 2
// and 4 threads, over many accounts (little contention) and over 16 (much contention); reported
// as commits/s and aborts per commit. Then synced transfers at 1, 4 and 16 threads (commits share
// WAL records and syncs). Then, on one thread, an uncontended read-modify-write transaction per
// op against a plain write per op. No sync unless said, 10-bit Bloom filters, no compression.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/database.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/utilities/optimistic_transaction_db.h"
#include "rocksdb/utilities/transaction.h"

namespace {

using Clock = std::chrono::steady_clock;

inline constexpr kvstore::TableDef<std::string, int64_t> kChecking{"checking"};
inline constexpr kvstore::TableDef<std::string, int64_t> kSavings{"savings"};

std::string AccountName(uint64_t i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "acct%08llu", static_cast<unsigned long long>(i));
  return buf;
}

std::atomic<bool> g_failed{false};  // An operation failed: the run exits with status 1.

struct Result {
  double commits_per_sec = 0;
  double aborts_per_commit = 0;
};

// Runs `op(thread, rng)` (which returns the number of aborts of one committed transaction) on
// `threads` threads for `seconds`.
Result RunThreads(int threads, double seconds, const std::function<int(int, std::mt19937_64&)>& op) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commits{0}, aborts{0};
  std::vector<std::thread> workers;
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(t * 7919 + 1);
      uint64_t c = 0, a = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        const int n = op(t, rng);
        if (n < 0) {
          g_failed = true;
          break;
        }
        a += n;
        ++c;
      }
      commits += c;
      aborts += a;
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& w : workers) w.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  Result r;
  r.commits_per_sec = commits.load() / elapsed;
  r.aborts_per_commit = commits.load() ? static_cast<double>(aborts.load()) / commits.load() : 0;
  return r;
}

// ---- kvstore ------------------------------------------------------------------------------

struct KvBank {
  std::unique_ptr<kvstore::Database<>> db;
  kvstore::Table<std::string, int64_t> checking, savings;

  explicit KvBank(const std::string& dir, uint64_t accounts) {
    db = kvstore::Database<>::Open(dir).value();
    checking = db->OpenTable(kChecking).value();
    savings = db->OpenTable(kSavings).value();
    for (uint64_t i = 0; i < accounts; ++i) {
      kvstore::Batch batch;
      batch.Set(checking, AccountName(i), 1000);
      batch.Set(savings, AccountName(i), 1000);
      db->Write(batch).IgnoreError();
    }
  }

  int Transfer(uint64_t accounts, std::mt19937_64& rng, bool sync = false) {
    const bool from_checking = rng() & 1, to_checking = rng() & 1;
    const std::string from = AccountName(rng() % accounts), to = AccountName(rng() % accounts);
    const int64_t amount = rng() % 100;
    auto& src = from_checking ? checking : savings;
    auto& dst = to_checking ? checking : savings;
    for (int attempt = 0;; ++attempt) {
      kvstore::Transaction txn = db->BeginTransaction();
      absl::Status s = [&]() -> absl::Status {
        KV_ASSIGN_OR_RETURN(int64_t a, txn.Get(src, from));
        KV_RETURN_IF_ERROR(txn.Set(src, from, a - amount));
        KV_ASSIGN_OR_RETURN(int64_t b, txn.Get(dst, to));
        KV_RETURN_IF_ERROR(txn.Set(dst, to, b + amount));
        return txn.Commit({.sync = sync});
      }();
      if (s.ok()) return attempt;
      if (!absl::IsAborted(s)) {
        std::fprintf(stderr, "kvstore transfer: %s\n", s.ToString().c_str());
        return -1;
      }
    }
  }
};

// ---- RocksDB ------------------------------------------------------------------------------

struct RocksBank {
  std::unique_ptr<rocksdb::OptimisticTransactionDB> db;

  static std::string Encode(int64_t v) { return std::string(reinterpret_cast<char*>(&v), 8); }
  static int64_t Decode(const std::string& s) {
    int64_t v = 0;
    std::memcpy(&v, s.data(), std::min<size_t>(8, s.size()));
    return v;
  }

  explicit RocksBank(const std::string& dir, uint64_t accounts) {
    rocksdb::BlockBasedTableOptions table_options;
    table_options.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    rocksdb::Options options;
    options.create_if_missing = true;
    options.compression = rocksdb::kNoCompression;
    options.bottommost_compression = rocksdb::kNoCompression;
    options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table_options));
    rocksdb::OptimisticTransactionDB* raw = nullptr;
    rocksdb::Status s = rocksdb::OptimisticTransactionDB::Open(options, dir, &raw);
    if (!s.ok()) {
      std::fprintf(stderr, "rocksdb open: %s\n", s.ToString().c_str());
      std::exit(1);
    }
    db.reset(raw);
    for (uint64_t i = 0; i < accounts; ++i) {
      rocksdb::WriteBatch batch;
      batch.Put("c" + AccountName(i), Encode(1000));
      batch.Put("s" + AccountName(i), Encode(1000));
      db->Write(rocksdb::WriteOptions(), &batch).PermitUncheckedError();
    }
  }

  int Transfer(uint64_t accounts, std::mt19937_64& rng, bool sync = false) {
    const std::string from = ((rng() & 1) ? "c" : "s") + AccountName(rng() % accounts);
    const std::string to = ((rng() & 1) ? "c" : "s") + AccountName(rng() % accounts);
    const int64_t amount = rng() % 100;
    rocksdb::WriteOptions write_options;
    write_options.sync = sync;
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<rocksdb::Transaction> txn(db->BeginTransaction(write_options));
      std::string a, b;
      rocksdb::Status s = txn->GetForUpdate(rocksdb::ReadOptions(), from, &a);
      if (s.ok()) s = txn->Put(from, Encode(Decode(a) - amount));
      if (s.ok()) s = txn->GetForUpdate(rocksdb::ReadOptions(), to, &b);
      if (s.ok()) s = txn->Put(to, Encode(Decode(b) + amount));
      if (s.ok()) s = txn->Commit();
      if (s.ok()) return attempt;
      if (!s.IsBusy() && !s.IsTryAgain()) {
        std::fprintf(stderr, "rocksdb transfer: %s\n", s.ToString().c_str());
        return -1;
      }
    }
  }
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  std::string parent;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::atof(argv[i] + 10);
    if (std::strncmp(argv[i], "--dir=", 6) == 0) parent = argv[i] + 6;
  }
  auto scratch = kvstore::bench::ScratchDir::Create(parent);
  if (!scratch.ok()) {
    std::fprintf(stderr, "%s\n", scratch.status().ToString().c_str());
    return 1;
  }
  std::printf("Bank transfers (2 reads + 2 writes per transaction, retried on abort), %.1f s each\n\n",
              seconds);
  std::printf("| accounts per table | threads | kvstore commits/s | kvstore aborts/commit | "
              "RocksDB commits/s | RocksDB aborts/commit |\n|---:|---:|---:|---:|---:|---:|\n");
  int run = 0;
  for (uint64_t accounts : {100000u, 16u}) {
    for (int threads : {1, 2, 4}) {
      Result kv, rocks;
      {
        KvBank bank((*scratch)->Child(absl::StrCat("kv", run)), accounts);
        kv = RunThreads(threads, seconds,
                        [&](int, std::mt19937_64& rng) { return bank.Transfer(accounts, rng); });
      }
      {
        RocksBank bank((*scratch)->Child(absl::StrCat("rocks", run)), accounts);
        rocks = RunThreads(threads, seconds,
                           [&](int, std::mt19937_64& rng) { return bank.Transfer(accounts, rng); });
      }
      ++run;
      std::printf("| %llu | %d | %.0f | %.4f | %.0f | %.4f |\n",
                  static_cast<unsigned long long>(accounts), threads, kv.commits_per_sec,
                  kv.aborts_per_commit, rocks.commits_per_sec, rocks.aborts_per_commit);
      std::fflush(stdout);
    }
  }

  // Synced commits: what grouping commits into one WAL record and one fdatasync buys.
  std::printf("\nSynced bank transfers (sync = true), 100000 accounts per table, %.1f s each\n\n",
              seconds);
  std::printf("| threads | kvstore commits/s | RocksDB commits/s | ratio |\n|---:|---:|---:|---:|\n");
  for (int threads : {1, 4, 16}) {
    constexpr uint64_t kAccounts = 100000;
    Result kv, rocks;
    {
      KvBank bank((*scratch)->Child(absl::StrCat("kv-sync", threads)), kAccounts);
      kv = RunThreads(threads, seconds, [&](int, std::mt19937_64& rng) {
        return bank.Transfer(kAccounts, rng, /*sync=*/true);
      });
    }
    {
      RocksBank bank((*scratch)->Child(absl::StrCat("rocks-sync", threads)), kAccounts);
      rocks = RunThreads(threads, seconds, [&](int, std::mt19937_64& rng) {
        return bank.Transfer(kAccounts, rng, /*sync=*/true);
      });
    }
    std::printf("| %d | %.0f | %.0f | %.2f |\n", threads, kv.commits_per_sec, rocks.commits_per_sec,
                kv.commits_per_sec / rocks.commits_per_sec);
    std::fflush(stdout);
  }

  // One thread, 100,000 keys: a transaction per op against a plain write. The read-modify-write
  // transaction also pays for a Get, which a plain write does not; the blind one (set + commit)
  // costs what committing adds to the write itself.
  constexpr uint64_t kKeys = 100000;
  std::printf("\nOne thread, %llu keys: transactions vs plain writes\n\n",
              static_cast<unsigned long long>(kKeys));
  std::printf("| engine | plain writes/s | get + set + commit /s | ratio | set + commit /s | ratio |\n"
              "|---|---:|---:|---:|---:|---:|\n");
  {
    KvBank bank((*scratch)->Child("kv-plain"), kKeys);
    Result plain = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      return bank.checking.Set(AccountName(rng() % kKeys), static_cast<int64_t>(rng())).ok() ? 0 : -1;
    });
    Result txns = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      const std::string key = AccountName(rng() % kKeys);
      kvstore::Transaction txn = bank.db->BeginTransaction();
      auto v = txn.Get(bank.checking, key);
      if (!v.ok() || !txn.Set(bank.checking, key, *v + 1).ok() || !txn.Commit().ok()) return -1;
      return 0;
    });
    Result blind = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      kvstore::Transaction txn = bank.db->BeginTransaction();
      if (!txn.Set(bank.checking, AccountName(rng() % kKeys), static_cast<int64_t>(rng())).ok() ||
          !txn.Commit().ok()) {
        return -1;
      }
      return 0;
    });
    std::printf("| kvstore | %.0f | %.0f | %.2f | %.0f | %.2f |\n", plain.commits_per_sec,
                txns.commits_per_sec, txns.commits_per_sec / plain.commits_per_sec,
                blind.commits_per_sec, blind.commits_per_sec / plain.commits_per_sec);
  }
  {
    RocksBank bank((*scratch)->Child("rocks-plain"), kKeys);
    Result plain = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      return bank.db->Put(rocksdb::WriteOptions(), "c" + AccountName(rng() % kKeys),
                          RocksBank::Encode(static_cast<int64_t>(rng())))
                     .ok()
                 ? 0
                 : -1;
    });
    Result txns = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      const std::string key = "c" + AccountName(rng() % kKeys);
      std::unique_ptr<rocksdb::Transaction> txn(bank.db->BeginTransaction(rocksdb::WriteOptions()));
      std::string v;
      rocksdb::Status s = txn->GetForUpdate(rocksdb::ReadOptions(), key, &v);
      if (s.ok()) s = txn->Put(key, RocksBank::Encode(RocksBank::Decode(v) + 1));
      if (s.ok()) s = txn->Commit();
      return s.ok() ? 0 : -1;
    });
    Result blind = RunThreads(1, seconds, [&](int, std::mt19937_64& rng) {
      std::unique_ptr<rocksdb::Transaction> txn(bank.db->BeginTransaction(rocksdb::WriteOptions()));
      rocksdb::Status s = txn->Put("c" + AccountName(rng() % kKeys),
                                   RocksBank::Encode(static_cast<int64_t>(rng())));
      if (s.ok()) s = txn->Commit();
      return s.ok() ? 0 : -1;
    });
    std::printf("| RocksDB | %.0f | %.0f | %.2f | %.0f | %.2f |\n", plain.commits_per_sec,
                txns.commits_per_sec, txns.commits_per_sec / plain.commits_per_sec,
                blind.commits_per_sec, blind.commits_per_sec / plain.commits_per_sec);
  }
  if (g_failed) std::fprintf(stderr, "some operations failed\n");
  return g_failed ? 1 : 0;
}
