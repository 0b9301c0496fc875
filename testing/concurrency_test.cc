// Concurrency test: two writers, several readers (Get, iterators, snapshots) and the background
// flush and compaction threads (a 4 KiB MemTable keeps them busy) run together for a few seconds.
//
// Each writer owns a disjoint key range and writes increasing versions per key (value = version
// and a filler derived from key and version, so a torn or misattributed value shows). Around each
// write it publishes `attempted` (before) and `committed` (after), which bounds what a reader may
// see: a read that starts after a write returned sees at least that version, and nobody sees a
// version not yet attempted. Readers check those bounds, that versions never go backwards, that
// iterators yield sorted unique keys, and that reads through a snapshot repeat exactly. At the end
// the store must equal the writers' models, before and after a reopen.
//
// Runs ~3 s (KVSTORE_CONCURRENCY_SECONDS=<s> for longer). Meant to pass under --config=tsan.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/no_sync_env.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using Value = std::pair<int64_t, std::string>;  // Version, filler.
using Store = KVStore<std::string, Value>;

constexpr int kWriters = 2;
constexpr int kReaders = 4;
constexpr int kKeysPerWriter = 200;
// Keys below this are only ever set (so versions must be monotonic); the others are also deleted.
constexpr int kStableKeys = 150;
constexpr int kTotalKeys = kWriters * kKeysPerWriter;

std::string KeyName(int k) { return absl::StrFormat("w%d-%04d", k / kKeysPerWriter, k % kKeysPerWriter); }
int KeyIndex(const std::string& name) {
  return (name[1] - '0') * kKeysPerWriter + std::stoi(name.substr(3));
}
bool IsStable(int k) { return k % kKeysPerWriter < kStableKeys; }
std::string Filler(int k, int64_t version) {
  return std::string(static_cast<size_t>((version * 7 + k) % 61), static_cast<char>('a' + (version + k) % 26));
}

class ConcurrencyTest : public ::testing::Test {
 protected:
  struct KeyState {
    std::atomic<int64_t> attempted{0};
    std::atomic<int64_t> committed{0};
  };

  // Records a failure from any thread (the first few are reported after the threads join).
  void Fail(std::string message) {
    failed_.store(true);
    std::lock_guard<std::mutex> lock(errors_mu_);
    if (errors_.size() < 20) errors_.push_back(std::move(message));
  }
  bool failed() const { return failed_.load(std::memory_order_relaxed); }

  // The value must be one a writer produced for this key.
  bool CheckWellFormed(int k, const Value& v, const char* who) {
    if (v.first <= 0 || v.second != Filler(k, v.first)) {
      Fail(absl::StrCat(who, ": malformed value for ", KeyName(k), ": version ", v.first,
                        " filler of ", v.second.size(), " bytes"));
      return false;
    }
    return true;
  }

  // Checks a value read for key k against the bounds loaded before (lb) and after (ub) the read,
  // and against what this thread saw before (last_seen).
  void CheckVersion(int k, std::optional<int64_t> seen, int64_t lb, int64_t ub,
                    std::vector<int64_t>* last_seen, const char* who) {
    if (!seen.has_value()) {
      if (IsStable(k) && lb > 0) Fail(absl::StrCat(who, ": ", KeyName(k), " missing; committed ", lb));
      return;
    }
    if (*seen > ub) Fail(absl::StrCat(who, ": ", KeyName(k), " version ", *seen, " > attempted ", ub));
    if (!IsStable(k)) return;
    if (*seen < lb) Fail(absl::StrCat(who, ": ", KeyName(k), " version ", *seen, " < committed ", lb));
    if (*seen < (*last_seen)[k]) {
      Fail(absl::StrCat(who, ": ", KeyName(k), " went back from ", (*last_seen)[k], " to ", *seen));
    }
    (*last_seen)[k] = std::max((*last_seen)[k], *seen);
  }

  void Writer(int w) {
    std::mt19937_64 rng(1000 + w);
    std::vector<int64_t> version(kKeysPerWriter, 0);
    auto& model = models_[w];
    uint64_t ops = 0;
    while (!stop_.load() && !failed()) {
      const uint64_t r = rng() % 100;
      if (r < 60) {
        const int i = static_cast<int>(rng() % kKeysPerWriter);
        const int k = w * kKeysPerWriter + i;
        if (!IsStable(k) && rng() % 3 == 0) {
          if (absl::Status s = store_->Delete(KeyName(k)); !s.ok()) return Fail(s.ToString());
          model[k] = std::nullopt;
        } else {
          const int64_t v = ++version[i];
          keys_[k].attempted.store(v);
          if (absl::Status s = store_->Set(KeyName(k), Value(v, Filler(k, v))); !s.ok()) {
            return Fail(s.ToString());
          }
          keys_[k].committed.store(v);
          model[k] = v;
        }
      } else if (r < 97) {
        Store::WriteBatch batch;
        std::vector<std::pair<int, int64_t>> written;
        const int n = 2 + static_cast<int>(rng() % 8);
        for (int j = 0; j < n; ++j) {
          const int i = static_cast<int>(rng() % kKeysPerWriter);
          const int k = w * kKeysPerWriter + i;
          if (!IsStable(k) && rng() % 3 == 0) {
            batch.Delete(KeyName(k));
            written.emplace_back(k, 0);
          } else {
            const int64_t v = ++version[i];
            keys_[k].attempted.store(v);
            batch.Set(KeyName(k), Value(v, Filler(k, v)));
            written.emplace_back(k, v);
          }
        }
        if (absl::Status s = store_->Write(batch); !s.ok()) return Fail(s.ToString());
        for (const auto& [k, v] : written) {
          if (v == 0) {
            model[k] = std::nullopt;
          } else {
            keys_[k].committed.store(v);  // In order: a later write of k in the batch wins.
            model[k] = v;
          }
        }
      } else if (w == 0 && r < 99) {
        if (absl::Status s = store_->Flush(); !s.ok()) return Fail(s.ToString());
      } else if (w == 1 && r == 99 && rng() % 4 == 0) {
        if (absl::Status s = store_->Compact(); !s.ok()) return Fail(s.ToString());
      }
      ++ops;
    }
    writer_ops_.fetch_add(ops);
  }

  void GetReader(int id) {
    std::mt19937_64 rng(2000 + id);
    std::vector<int64_t> last_seen(kTotalKeys, 0);
    while (!stop_.load() && !failed()) {
      const int k = static_cast<int>(rng() % kTotalKeys);
      const int64_t lb = keys_[k].committed.load();
      absl::StatusOr<Value> got = store_->Get(KeyName(k));
      const int64_t ub = keys_[k].attempted.load();
      std::optional<int64_t> seen;
      if (got.ok()) {
        if (!CheckWellFormed(k, *got, "Get")) return;
        seen = got->first;
      } else if (got.status().code() != absl::StatusCode::kNotFound) {
        return Fail(absl::StrCat("Get ", KeyName(k), ": ", got.status().ToString()));
      }
      CheckVersion(k, seen, lb, ub, &last_seen, "Get");
      reader_ops_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Whole scans (both directions) and short seeks; each iterator reads one point in time.
  void IteratorReader(int id) {
    std::mt19937_64 rng(3000 + id);
    std::vector<int64_t> last_seen(kTotalKeys, 0), lb(kTotalKeys), ub(kTotalKeys);
    while (!stop_.load() && !failed()) {
      for (int k = 0; k < kTotalKeys; ++k) lb[k] = keys_[k].committed.load();
      auto it = store_->NewIterator();
      std::vector<std::optional<int64_t>> seen(kTotalKeys);
      const uint64_t mode = rng() % 3;
      std::string previous;
      bool first = true;
      int count = 0;
      auto visit = [&](bool forward) {
        const std::string& key = it->key();
        if (!first && (forward ? !(previous < key) : !(key < previous))) {
          Fail(absl::StrCat("iterator: keys out of order: \"", previous, "\" then \"", key, "\""));
        }
        first = false;
        previous = key;
        const int k = KeyIndex(key);
        if (CheckWellFormed(k, it->value(), "iterator")) seen[k] = it->value().first;
        ++count;
      };
      if (mode == 0) {
        for (it->SeekToFirst(); it->Valid() && !failed(); it->Next()) visit(true);
      } else if (mode == 1) {
        for (it->SeekToLast(); it->Valid() && !failed(); it->Prev()) visit(false);
      } else {
        const int start = static_cast<int>(rng() % kTotalKeys);
        it->Seek(KeyName(start));
        for (int n = 0; n < 30 && it->Valid() && !failed(); ++n, it->Next()) visit(true);
      }
      if (!it->status().ok()) return Fail(absl::StrCat("iterator: ", it->status().ToString()));
      for (int k = 0; k < kTotalKeys; ++k) ub[k] = keys_[k].attempted.load();
      if (mode != 2) {
        for (int k = 0; k < kTotalKeys; ++k) CheckVersion(k, seen[k], lb[k], ub[k], &last_seen, "iterator");
      } else {
        for (int k = 0; k < kTotalKeys; ++k) {
          if (seen[k].has_value()) CheckVersion(k, seen[k], lb[k], ub[k], &last_seen, "seek");
        }
      }
      reader_ops_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  // Reads through a snapshot twice, with the store changing in between: same answers both times,
  // by Get and by iterator, and consistent with the bounds at the time the snapshot was taken.
  void SnapshotReader(int id) {
    std::mt19937_64 rng(4000 + id);
    std::vector<int64_t> last_seen(kTotalKeys, 0), lb(kTotalKeys), ub(kTotalKeys);
    while (!stop_.load() && !failed()) {
      for (int k = 0; k < kTotalKeys; ++k) lb[k] = keys_[k].committed.load();
      Snapshot snapshot = store_->GetSnapshot();
      for (int k = 0; k < kTotalKeys; ++k) ub[k] = keys_[k].attempted.load();
      ReadOptions at;
      at.snapshot = &snapshot;
      auto read_all = [&](std::vector<std::optional<int64_t>>* out) {
        auto it = store_->NewIterator(at);
        for (it->SeekToFirst(); it->Valid(); it->Next()) {
          const int k = KeyIndex(it->key());
          if (!CheckWellFormed(k, it->value(), "snapshot iterator")) return;
          (*out)[k] = it->value().first;
        }
        if (!it->status().ok()) Fail(absl::StrCat("snapshot iterator: ", it->status().ToString()));
      };
      std::vector<std::optional<int64_t>> first(kTotalKeys), again(kTotalKeys);
      read_all(&first);
      std::vector<int> probes;
      std::vector<std::optional<int64_t>> got_first;
      for (int n = 0; n < 20; ++n) {
        const int k = static_cast<int>(rng() % kTotalKeys);
        absl::StatusOr<Value> got = store_->Get(KeyName(k), at);
        std::optional<int64_t> v;
        if (got.ok() && CheckWellFormed(k, *got, "snapshot Get")) v = got->first;
        if (!got.ok() && got.status().code() != absl::StatusCode::kNotFound) {
          return Fail(absl::StrCat("snapshot Get: ", got.status().ToString()));
        }
        if (v != first[k]) {
          Fail(absl::StrCat("snapshot: Get and iterator disagree on ", KeyName(k)));
        }
        probes.push_back(k);
        got_first.push_back(v);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 20));
      read_all(&again);
      for (int k = 0; k < kTotalKeys; ++k) {
        if (first[k] != again[k]) {
          Fail(absl::StrCat("snapshot read not repeatable for ", KeyName(k), ": ",
                            first[k].value_or(-1), " then ", again[k].value_or(-1)));
        }
        CheckVersion(k, first[k], lb[k], ub[k], &last_seen, "snapshot");
      }
      for (size_t n = 0; n < probes.size(); ++n) {
        absl::StatusOr<Value> got = store_->Get(KeyName(probes[n]), at);
        const std::optional<int64_t> v = got.ok() ? std::optional<int64_t>(got->first) : std::nullopt;
        if (v != got_first[n]) Fail(absl::StrCat("snapshot Get not repeatable for ", KeyName(probes[n])));
      }
      reader_ops_.fetch_add(1, std::memory_order_relaxed);
    }
  }

  void ExpectStoreMatchesModels(const char* when) {
    SCOPED_TRACE(when);
    std::map<std::string, int64_t> expected;
    for (int w = 0; w < kWriters; ++w) {
      for (const auto& [k, v] : models_[w]) {
        if (v.has_value()) expected[KeyName(k)] = *v;
      }
    }
    for (int k = 0; k < kTotalKeys; ++k) {
      absl::StatusOr<Value> got = store_->Get(KeyName(k));
      auto want = expected.find(KeyName(k));
      if (want == expected.end()) {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << KeyName(k);
      } else {
        ASSERT_TRUE(got.ok()) << KeyName(k) << ": " << got.status();
        EXPECT_EQ(got->first, want->second) << KeyName(k);
        EXPECT_EQ(got->second, Filler(k, want->second)) << KeyName(k);
      }
    }
    std::map<std::string, int64_t> scanned;
    auto it = store_->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) scanned[it->key()] = it->value().first;
    KV_EXPECT_OK(it->status());
    EXPECT_EQ(scanned, expected);
  }

  std::unique_ptr<Store> store_;
  std::vector<KeyState> keys_ = std::vector<KeyState>(kTotalKeys);
  std::map<int, std::optional<int64_t>> models_[kWriters];
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> writer_ops_{0};
  std::atomic<uint64_t> reader_ops_{0};
  std::mutex errors_mu_;
  std::vector<std::string> errors_;
};

TEST_F(ConcurrencyTest, ReadersSeeMonotonicConsistentStateWhileWritersAndCompactionRun) {
  const char* env_seconds = std::getenv("KVSTORE_CONCURRENCY_SECONDS");
  const double seconds = env_seconds != nullptr ? std::atof(env_seconds) : 3.0;
  Options options;
  options.memtable_bytes = 4096;
  options.compaction_trigger = 2;
  options.block_bytes = 512;
  options.segment_bytes = 4096;  // Compactions install many steps while readers read.
  options.env = kvstore::testing::NoSyncEnv::Get();  // Flushes all the time: skip the fsyncs.
  const std::string dir = kvstore::testing::NewTempDir("concurrency");
  store_ = ValueOrDie(Store::Open(dir, options));

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) threads.emplace_back([this, w] { Writer(w); });
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([this, r] {
      switch (r % 3) {
        case 0:
          return GetReader(r);
        case 1:
          return IteratorReader(r);
        default:
          return SnapshotReader(r);
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline && !failed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  stop_.store(true);
  for (auto& t : threads) t.join();
  for (const std::string& e : errors_) ADD_FAILURE() << e;
  ASSERT_FALSE(failed());

  KV_ASSERT_OK(store_->WaitForBackgroundWork());
  const uint64_t flushes = std::stoull(*store_->GetProperty("kvstore.flushes"));
  const uint64_t compactions = std::stoull(*store_->GetProperty("kvstore.compactions"));
  std::printf("writer ops %llu, reader ops %llu, flushes %llu, compactions %llu, write stops %s\n",
              static_cast<unsigned long long>(writer_ops_.load()),
              static_cast<unsigned long long>(reader_ops_.load()),
              static_cast<unsigned long long>(flushes), static_cast<unsigned long long>(compactions),
              store_->GetProperty("kvstore.write-stops")->c_str());
  EXPECT_GT(writer_ops_.load(), 100u);
  EXPECT_GT(reader_ops_.load(), 10u);
  EXPECT_GT(flushes, 2u);
  EXPECT_GT(compactions, 0u);
  ExpectStoreMatchesModels("after the run");
  KV_ASSERT_OK(store_->Verify());
  KV_ASSERT_OK(store_->Close());
  store_ = ValueOrDie(Store::Open(dir, options));
  ExpectStoreMatchesModels("after reopen");
}

}  // namespace
}  // namespace kvstore
