// Randomized model test: a seeded mix of every operation a KVStore offers, each checked against a
// std::map (and a copy of the map per live snapshot and per long-lived iterator). The MemTable is
// tiny and the compaction trigger low, so flushes and background compactions run all the time,
// under the reads and across reopens. Syncs are skipped (NoSyncEnv): durability is not the
// subject here, and fsync latency would dominate the run time.
//
// Deterministic for a given seed. By default each key type runs kDefaultSeeds seeds of
// kDefaultOps operations (a few seconds in opt, well under a minute under ASan). For longer runs:
//   KVSTORE_MODEL_OPS=<n>    operations per seed
//   KVSTORE_MODEL_SEED=<s>   run only seed <s> (to reproduce a failure, which prints its seed)
// e.g. tools/bazel test //testing:model_test --test_env=KVSTORE_MODEL_OPS=200000
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/no_sync_env.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

constexpr int kDefaultOps = 4000;
constexpr int kDefaultSeeds = 2;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

// Key spaces small enough that keys are overwritten and deleted often, with the awkward cases:
// embedded zeros, 0xff bytes, prefixes of other keys, negative numbers, extremes.
template <typename K>
struct KeySpace;

template <>
struct KeySpace<std::string> {
  static const std::vector<std::string>& All() {
    static const auto* keys = [] {
      auto* v = new std::vector<std::string>;
      const char alphabet[] = {'\0', 'a', 'b', '\xff'};
      std::vector<std::string> level = {""};
      for (int len = 1; len <= 4; ++len) {
        std::vector<std::string> next;
        for (const std::string& s : level) {
          for (char c : alphabet) next.push_back(s + c);
        }
        v->insert(v->end(), next.begin(), next.end());
        level = std::move(next);
      }
      return v;
    }();
    return *keys;
  }
  static std::string Describe(const std::string& k) { return absl::StrCat("\"", absl::CHexEscape(k), "\""); }
};

template <>
struct KeySpace<std::tuple<int32_t, std::string>> {
  using K = std::tuple<int32_t, std::string>;
  static const std::vector<K>& All() {
    static const auto* keys = [] {
      auto* v = new std::vector<K>;
      std::vector<int32_t> ints = {std::numeric_limits<int32_t>::min(),
                                   std::numeric_limits<int32_t>::max()};
      for (int32_t i = -15; i <= 15; ++i) ints.push_back(i);
      const std::vector<std::string> strings = {"", std::string(1, '\0'), std::string(2, '\0'),
                                                "a", std::string("a\0", 2), "aa", "ab", "\xff",
                                                "\xff\xff", std::string("\0a", 2)};
      for (int32_t i : ints) {
        for (const std::string& s : strings) v->emplace_back(i, s);
      }
      return v;
    }();
    return *keys;
  }
  static std::string Describe(const K& k) {
    return absl::StrCat("(", std::get<0>(k), ", \"", absl::CHexEscape(std::get<1>(k)), "\")");
  }
};

template <>
struct KeySpace<int64_t> {
  static const std::vector<int64_t>& All() {
    static const auto* keys = [] {
      auto* v = new std::vector<int64_t>;
      for (int64_t i = -200; i <= 200; ++i) v->push_back(i * 37);
      v->push_back(std::numeric_limits<int64_t>::min());
      v->push_back(std::numeric_limits<int64_t>::min() + 1);
      v->push_back(std::numeric_limits<int64_t>::max());
      return v;
    }();
    return *keys;
  }
  static std::string Describe(int64_t k) { return absl::StrCat(k); }
};

template <typename K>
class ModelTest : public ::testing::Test {
 protected:
  using Store = KVStore<K, std::string>;
  using Model = std::map<K, std::string>;
  using Rng = std::mt19937_64;

  // An iterator kept across other operations, with the state it must keep showing.
  struct LiveIterator {
    std::unique_ptr<typename Store::Iterator> it;
    std::shared_ptr<const Model> model;
    typename Model::const_iterator pos;
  };

  void Run(uint64_t seed, int ops) {
    SCOPED_TRACE(absl::StrCat("seed ", seed, " (rerun with KVSTORE_MODEL_SEED=", seed, ")"));
    rng_.seed(seed);
    dir_ = kvstore::testing::NewTempDir("model");
    options_.memtable_bytes = 8 * 1024;
    options_.compaction_trigger = 2 + static_cast<int>(seed % 3);
    options_.block_bytes = 512;
    options_.segment_bytes = seed % 2 == 0 ? 4096 : 64 << 20;  // Compaction in many steps, or one.
    options_.paranoid_checks = seed % 4 == 3;
    options_.env = kvstore::testing::NoSyncEnv::Get();  // Hundreds of flushes: skip the fsyncs.
    model_.clear();
    snapshots_.clear();
    live_.reset();
    log_.clear();
    store_ = ValueOrDie(Store::Open(dir_, options_));

    for (int op = 0; op < ops; ++op) {
      Step(op);
      if (::testing::Test::HasFailure()) {
        std::string recent;
        for (const std::string& line : log_) absl::StrAppend(&recent, "  ", line, "\n");
        ADD_FAILURE() << "failed at operation " << op << "; the last operations:\n" << recent;
        return;
      }
      if (op % 500 == 499) CheckAll("periodic full check");
    }
    KV_ASSERT_OK(store_->WaitForBackgroundWork());
    CheckAll("final");
    KV_ASSERT_OK(store_->Verify());
    Reopen();
    CheckAll("final after reopen");
    live_.reset();
    snapshots_.clear();
    store_.reset();
  }

 private:
  const K& RandomKey() {
    const auto& all = KeySpace<K>::All();
    return all[rng_() % all.size()];
  }

  std::string RandomValue() {
    const uint64_t r = rng_() % 100;
    const size_t size = r < 80 ? rng_() % 40 : r < 98 ? 40 + rng_() % 400 : 1000 + rng_() % 4000;
    std::string v(size, '\0');
    for (char& c : v) c = static_cast<char>(rng_() % 4 == 0 ? 0 : rng_());
    return v;
  }

  void Log(std::string line) {
    log_.push_back(std::move(line));
    if (log_.size() > 40) log_.pop_front();
  }

  void Step(int op) {
    const uint64_t r = rng_() % 1000;
    if (r < 300) {
      const K& key = RandomKey();
      std::string value = RandomValue();
      Log(absl::StrCat(op, ": Set ", KeySpace<K>::Describe(key), " (", value.size(), " bytes)"));
      WriteOptions wo;
      wo.sync = rng_() % 100 == 0;
      KV_ASSERT_OK(store_->Set(key, value, wo));
      model_[key] = std::move(value);
    } else if (r < 400) {
      const K& key = RandomKey();
      Log(absl::StrCat(op, ": Delete ", KeySpace<K>::Describe(key)));
      KV_ASSERT_OK(store_->Delete(key));
      model_.erase(key);
    } else if (r < 470) {
      typename Store::WriteBatch batch;
      Model next = model_;
      const int n = 1 + static_cast<int>(rng_() % 12);
      for (int i = 0; i < n; ++i) {
        const K& key = RandomKey();
        if (rng_() % 3 == 0) {
          batch.Delete(key);
          next.erase(key);
        } else {
          std::string value = RandomValue();
          batch.Set(key, value);
          next[key] = std::move(value);
        }
      }
      Log(absl::StrCat(op, ": Write batch of ", n));
      KV_ASSERT_OK(store_->Write(batch));
      model_ = std::move(next);
    } else if (r < 670) {
      const K& key = RandomKey();
      const int s = PickSnapshot();
      Log(absl::StrCat(op, ": Get ", KeySpace<K>::Describe(key), s >= 0 ? " at a snapshot" : ""));
      CheckGet(key, s);
    } else if (r < 730) {
      const int s = PickSnapshot();
      Log(absl::StrCat(op, ": iterator walk", s >= 0 ? " at a snapshot" : ""));
      ReadOptions ro;
      const Model* m = &model_;
      if (s >= 0) {
        ro.snapshot = &snapshots_[s].first;
        m = &snapshots_[s].second;
      }
      LiveIterator walk{store_->NewIterator(ro), nullptr, m->end()};
      Walk(&walk, *m, 5 + static_cast<int>(rng_() % 30));
    } else if (r < 760) {
      K lo = RandomKey(), hi = RandomKey();
      if (hi < lo) std::swap(lo, hi);
      Log(absl::StrCat(op, ": Scan [", KeySpace<K>::Describe(lo), ", ", KeySpace<K>::Describe(hi), ")"));
      auto range = store_->Scan(lo, hi);
      auto m = model_.lower_bound(lo);
      for (const auto& [k, v] : range) {
        ASSERT_TRUE(m != model_.end() && m->first < hi) << "extra key " << KeySpace<K>::Describe(k);
        EXPECT_EQ(k, m->first);
        EXPECT_EQ(v, m->second);
        ++m;
      }
      KV_EXPECT_OK(range.status());
      EXPECT_TRUE(m == model_.end() || !(m->first < hi))
          << "missing key " << KeySpace<K>::Describe(m->first);
    } else if (r < 840) {
      // The long-lived iterator: created, stepped while other operations go on, dropped.
      if (live_ == nullptr || rng_() % 20 == 0) {
        Log(absl::StrCat(op, ": new long-lived iterator"));
        auto model = std::make_shared<const Model>(model_);
        live_ = std::make_unique<LiveIterator>(
            LiveIterator{store_->NewIterator(), model, model->end()});
      } else {
        Log(absl::StrCat(op, ": long-lived iterator steps"));
      }
      Walk(live_.get(), *live_->model, 1 + static_cast<int>(rng_() % 5));
    } else if (r < 870) {
      if (snapshots_.size() < 4) {
        Log(absl::StrCat(op, ": GetSnapshot"));
        snapshots_.emplace_back(store_->GetSnapshot(), model_);
      }
    } else if (r < 900) {
      if (!snapshots_.empty()) {
        const size_t i = rng_() % snapshots_.size();
        Log(absl::StrCat(op, ": release snapshot ", i));
        CheckSnapshotScan(static_cast<int>(i));
        snapshots_.erase(snapshots_.begin() + static_cast<ptrdiff_t>(i));
      }
    } else if (r < 940) {
      Log(absl::StrCat(op, ": Flush"));
      KV_ASSERT_OK(store_->Flush());
    } else if (r < 955) {
      Log(absl::StrCat(op, ": Compact"));
      KV_ASSERT_OK(store_->Compact());
    } else if (r < 970) {
      Log(absl::StrCat(op, ": WaitForBackgroundWork"));
      KV_ASSERT_OK(store_->WaitForBackgroundWork());
    } else if (r < 980) {
      Log(absl::StrCat(op, ": Verify"));
      KV_ASSERT_OK(store_->Verify());
    } else if (r < 992) {
      Log(absl::StrCat(op, ": reopen"));
      Reopen();
      CheckAll("after reopen");
    } else {
      Log(absl::StrCat(op, ": full check"));
      CheckAll("full check");
    }
  }

  // A live snapshot's index, or -1 for the latest state.
  int PickSnapshot() {
    if (snapshots_.empty() || rng_() % 3 != 0) return -1;
    return static_cast<int>(rng_() % snapshots_.size());
  }

  void CheckGet(const K& key, int snapshot) {
    ReadOptions ro;
    const Model* m = &model_;
    if (snapshot >= 0) {
      ro.snapshot = &snapshots_[snapshot].first;
      m = &snapshots_[snapshot].second;
    }
    absl::StatusOr<std::string> got = store_->Get(key, ro);
    auto want = m->find(key);
    if (want == m->end()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound)
          << KeySpace<K>::Describe(key) << ": " << got.status();
    } else {
      ASSERT_TRUE(got.ok()) << KeySpace<K>::Describe(key) << ": " << got.status();
      EXPECT_EQ(*got, want->second) << KeySpace<K>::Describe(key);
    }
  }

  // Random moves of `w`, compared move by move with the same moves over `m`.
  void Walk(LiveIterator* w, const Model& m, int steps) {
    auto& it = *w->it;
    for (int i = 0; i < steps; ++i) {
      switch (rng_() % 6) {
        case 0:
          it.SeekToFirst();
          w->pos = m.begin();
          break;
        case 1:
          it.SeekToLast();
          w->pos = m.empty() ? m.end() : std::prev(m.end());
          break;
        case 2: {
          const K& target = RandomKey();
          it.Seek(target);
          w->pos = m.lower_bound(target);
          break;
        }
        case 3:
        case 4:
          it.Next();
          if (w->pos != m.end()) ++w->pos;
          break;
        default:
          it.Prev();
          if (w->pos != m.end()) w->pos = w->pos == m.begin() ? m.end() : std::prev(w->pos);
          break;
      }
      KV_ASSERT_OK(it.status());
      ASSERT_EQ(it.Valid(), w->pos != m.end())
          << (w->pos != m.end() ? "missing " + KeySpace<K>::Describe(w->pos->first)
                                : "extra " + KeySpace<K>::Describe(it.key()));
      if (it.Valid()) {
        ASSERT_EQ(it.key(), w->pos->first)
            << KeySpace<K>::Describe(it.key()) << " vs " << KeySpace<K>::Describe(w->pos->first);
        ASSERT_EQ(it.value(), w->pos->second) << KeySpace<K>::Describe(it.key());
      }
    }
  }

  void CheckScan(const Model& m, const ReadOptions& ro, const std::string& what) {
    SCOPED_TRACE(what);
    auto it = store_->NewIterator(ro);
    auto expected = m.begin();
    for (it->SeekToFirst(); it->Valid(); it->Next(), ++expected) {
      ASSERT_TRUE(expected != m.end()) << "extra " << KeySpace<K>::Describe(it->key());
      ASSERT_EQ(it->key(), expected->first)
          << KeySpace<K>::Describe(it->key()) << " vs " << KeySpace<K>::Describe(expected->first);
      ASSERT_EQ(it->value(), expected->second);
    }
    KV_ASSERT_OK(it->status());
    ASSERT_TRUE(expected == m.end()) << "missing " << KeySpace<K>::Describe(expected->first);
    auto back = m.rbegin();
    for (it->SeekToLast(); it->Valid(); it->Prev(), ++back) {
      ASSERT_TRUE(back != m.rend()) << "extra " << KeySpace<K>::Describe(it->key());
      ASSERT_EQ(it->key(), back->first);
    }
    KV_ASSERT_OK(it->status());
    ASSERT_TRUE(back == m.rend());
  }

  void CheckSnapshotScan(int s) {
    ReadOptions ro;
    ro.snapshot = &snapshots_[s].first;
    CheckScan(snapshots_[s].second, ro, "snapshot scan");
  }

  void CheckAll(const std::string& what) {
    CheckScan(model_, ReadOptions(), what);
    for (const K& key : KeySpace<K>::All()) {
      CheckGet(key, -1);
      if (::testing::Test::HasFailure()) return;
    }
    for (size_t s = 0; s < snapshots_.size(); ++s) CheckSnapshotScan(static_cast<int>(s));
  }

  // Snapshots belong to the closed store and go with it. A long-lived iterator outlives it, but
  // stops reading: it says the store is closed, and is replaced.
  void Reopen() {
    snapshots_.clear();
    KV_ASSERT_OK(store_->Close());
    if (live_ != nullptr) {
      live_->it->SeekToFirst();
      ASSERT_FALSE(live_->it->Valid());
      ASSERT_TRUE(absl::IsFailedPrecondition(live_->it->status())) << live_->it->status();
      live_.reset();
    }
    store_.reset();
    store_ = ValueOrDie(Store::Open(dir_, options_));
  }

  Rng rng_;
  std::string dir_;
  Options options_;
  std::unique_ptr<Store> store_;
  Model model_;
  std::vector<std::pair<Snapshot, Model>> snapshots_;
  std::unique_ptr<LiveIterator> live_;
  std::deque<std::string> log_;
};

using KeyTypes = ::testing::Types<std::string, std::tuple<int32_t, std::string>, int64_t>;
TYPED_TEST_SUITE(ModelTest, KeyTypes);

TYPED_TEST(ModelTest, RandomOperationsMatchAStdMap) {
  const int ops = EnvInt("KVSTORE_MODEL_OPS", kDefaultOps);
  const int only_seed = EnvInt("KVSTORE_MODEL_SEED", 0);
  if (only_seed != 0) {
    this->Run(static_cast<uint64_t>(only_seed), ops);
    return;
  }
  for (uint64_t seed = 1; seed <= kDefaultSeeds && !::testing::Test::HasFailure(); ++seed) {
    this->Run(seed, ops);
  }
}

}  // namespace
}  // namespace kvstore
