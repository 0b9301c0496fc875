// Tests of the MemTable: snapshot visibility, the lazily merged sorted view, bytewise key order,
// memory accounting, and readers running beside the writer.
#include "kvstore/internal/memtable.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "kvstore/internal/format.h"

namespace kvstore::internal {
namespace {

std::vector<std::string> Keys(const MemTable::SortedView& view) {
  std::vector<std::string> keys;
  for (const MemTable::KeyEntry* e : view) keys.emplace_back(e->key());
  return keys;
}

// The value of `key` visible at `sequence`, "<deleted>" for a tombstone, "<none>" if absent.
std::string Visible(const MemTable& mem, absl::string_view key, uint64_t sequence) {
  const MemTable::Version* v = mem.Find(key, sequence);
  if (v == nullptr) return "<none>";
  if (v->kind() == EntryKind::kDeletion) return "<deleted>";
  return std::string(v->value());
}

TEST(MemTableTest, EmptyTable) {
  MemTable mem;
  EXPECT_TRUE(mem.empty());
  EXPECT_EQ(mem.num_versions(), 0u);
  EXPECT_EQ(mem.Find("a", kMaxSequence), nullptr);
  EXPECT_TRUE(mem.Sorted()->empty());
}

TEST(MemTableTest, SnapshotSeesNewestVersionAtOrBelowItsSequence) {
  MemTable mem;
  mem.Add(10, EntryKind::kValue, "k", "v10");
  mem.Add(20, EntryKind::kValue, "k", "v20");
  mem.Add(30, EntryKind::kDeletion, "k", "");
  mem.Add(40, EntryKind::kValue, "k", "v40");
  mem.Add(25, EntryKind::kValue, "other", "o25");

  EXPECT_EQ(Visible(mem, "k", 0), "<none>");
  EXPECT_EQ(Visible(mem, "k", 9), "<none>");
  EXPECT_EQ(Visible(mem, "k", 10), "v10");
  EXPECT_EQ(Visible(mem, "k", 19), "v10");
  EXPECT_EQ(Visible(mem, "k", 20), "v20");
  EXPECT_EQ(Visible(mem, "k", 29), "v20");
  EXPECT_EQ(Visible(mem, "k", 30), "<deleted>");
  EXPECT_EQ(Visible(mem, "k", 39), "<deleted>");
  EXPECT_EQ(Visible(mem, "k", 40), "v40");
  EXPECT_EQ(Visible(mem, "k", kMaxSequence), "v40");
  EXPECT_EQ(Visible(mem, "other", 24), "<none>");
  EXPECT_EQ(Visible(mem, "other", 25), "o25");
  EXPECT_EQ(Visible(mem, "absent", kMaxSequence), "<none>");

  const MemTable::Version* v = mem.Find("k", 35);
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(v->sequence(), 30u);
  EXPECT_EQ(v->kind(), EntryKind::kDeletion);
  EXPECT_EQ(v->value(), "");

  EXPECT_EQ(mem.num_versions(), 5u);
  EXPECT_EQ(mem.num_deletions(), 1u);
  EXPECT_FALSE(mem.empty());
}

// The versions of a key form a chain, newest first, that a reader can walk.
TEST(MemTableTest, OverwriteChainNewestFirst) {
  MemTable mem;
  for (uint64_t s = 1; s <= 100; ++s) mem.Add(s, EntryKind::kValue, "key", std::to_string(s));
  const MemTable::Version* v = mem.Find("key", kMaxSequence);
  for (uint64_t s = 100; s >= 1; --s) {
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->sequence(), s);
    EXPECT_EQ(v->value(), std::to_string(s));
    v = v->older;
  }
  EXPECT_EQ(v, nullptr);
  for (uint64_t s = 1; s <= 100; ++s) EXPECT_EQ(Visible(mem, "key", s), std::to_string(s));
  // One key, however many versions.
  EXPECT_EQ(mem.Sorted()->size(), 1u);
  EXPECT_EQ((*mem.Sorted())[0]->newest()->sequence(), 100u);
}

TEST(MemTableTest, ValuesOfEveryShapeRoundTrip) {
  MemTable mem;
  std::mt19937_64 rng(401);
  std::map<std::string, std::string> expected;
  uint64_t seq = 0;
  // Empty values, values beyond the arena's large-allocation threshold (64 KiB) and whole blocks.
  for (size_t size : {0, 1, 7, 8, 9, 1000, 65535, 65536, 65537, 300000}) {
    std::string value(size, '\0');
    for (char& c : value) c = static_cast<char>(rng());
    const std::string key = "size" + std::to_string(size);
    mem.Add(++seq, EntryKind::kValue, key, value);
    expected[key] = value;
  }
  for (const auto& [key, value] : expected) EXPECT_EQ(Visible(mem, key, seq), value) << key;
}

TEST(MemTableTest, SortedViewIsBytewiseUnsigned) {
  MemTable mem;
  const std::vector<std::string> keys = {
      std::string("\xff", 1),         std::string("\xff\xff", 2), std::string("a\0b", 3),
      std::string("a\0", 2),          "a",                        "",
      std::string("\x80", 1),        std::string("\x7f", 1),     std::string("\0", 1),
      std::string("\0\0", 2),         "ab",                       std::string("a\xff", 2),
      std::string("a\x01", 2)};
  uint64_t seq = 0;
  for (const std::string& k : keys) mem.Add(++seq, EntryKind::kValue, k, k + "-value");

  std::vector<std::string> expected = keys;
  // std::string compares char_traits<char>, which is unsigned (memcmp) bytewise order.
  std::sort(expected.begin(), expected.end());
  ASSERT_EQ(expected.front(), "");
  ASSERT_EQ(expected.back(), std::string("\xff\xff", 2));
  EXPECT_EQ(Keys(*mem.Sorted()), expected);

  // Keys that differ only after a zero byte are distinct keys.
  for (const std::string& k : keys) EXPECT_EQ(Visible(mem, k, seq), k + "-value");
  EXPECT_EQ(Visible(mem, std::string("a\0c", 3), seq), "<none>");
}

// A view taken earlier is unchanged by later writes; a new view holds every key, sorted.
TEST(MemTableTest, IncrementalMergeOfSortedViews) {
  MemTable mem;
  std::mt19937_64 rng(402);
  std::vector<std::string> all;
  std::vector<std::shared_ptr<const MemTable::SortedView>> views;
  std::vector<std::vector<std::string>> snapshots;
  uint64_t seq = 0;
  for (int round = 0; round < 6; ++round) {
    for (int i = 0; i < 200; ++i) {
      std::string key = "k" + std::to_string(rng() % 5000);
      if (std::find(all.begin(), all.end(), key) == all.end()) all.push_back(key);
      mem.Add(++seq, EntryKind::kValue, key, "v");
    }
    auto view = mem.Sorted();
    std::vector<std::string> expected = all;
    std::sort(expected.begin(), expected.end());
    ASSERT_EQ(Keys(*view), expected) << "round " << round;
    // Without writes in between, the same view comes back.
    EXPECT_EQ(mem.Sorted(), view);
    views.push_back(view);
    snapshots.push_back(expected);
  }
  for (size_t i = 0; i < views.size(); ++i) EXPECT_EQ(Keys(*views[i]), snapshots[i]) << i;
}

TEST(MemTableTest, OldViewSeesNewVersionsOfItsKeysButNotNewKeys) {
  MemTable mem;
  mem.Add(1, EntryKind::kValue, "b", "b1");
  mem.Add(2, EntryKind::kValue, "d", "d2");
  auto view = mem.Sorted();
  mem.Add(3, EntryKind::kValue, "a", "a3");
  mem.Add(4, EntryKind::kValue, "b", "b4");
  mem.Add(5, EntryKind::kValue, "c", "c5");
  EXPECT_EQ(Keys(*view), (std::vector<std::string>{"b", "d"}));
  // The view holds the key entries; readers filter versions by their snapshot.
  EXPECT_EQ((*view)[0]->VisibleAt(1)->value(), "b1");
  EXPECT_EQ((*view)[0]->VisibleAt(4)->value(), "b4");
  EXPECT_EQ(Keys(*mem.Sorted()), (std::vector<std::string>{"a", "b", "c", "d"}));
}

TEST(MemTableTest, MemoryUsageGrows) {
  MemTable mem;
  const size_t initial = mem.ApproximateMemoryUsage();
  size_t last = initial;
  uint64_t seq = 0;
  const std::string value(1000, 'v');
  for (int i = 0; i < 2000; ++i) {
    mem.Add(++seq, EntryKind::kValue, "key" + std::to_string(i), value);
    const size_t now = mem.ApproximateMemoryUsage();
    ASSERT_GE(now, last);
    last = now;
  }
  // At least the bytes written are accounted for.
  EXPECT_GE(last - initial, 2000u * value.size());
  // Overwrites grow it too: old versions stay until the MemTable is dropped.
  for (int i = 0; i < 1000; ++i) mem.Add(++seq, EntryKind::kValue, "key0", value);
  EXPECT_GE(mem.ApproximateMemoryUsage() - last, 1000u * value.size() / 2);
  // A big value is charged at once.
  const size_t before_big = mem.ApproximateMemoryUsage();
  mem.Add(++seq, EntryKind::kValue, "big", std::string(1 << 20, 'b'));
  EXPECT_GE(mem.ApproximateMemoryUsage() - before_big, size_t{1} << 20);
}

// One writer adds versions with increasing sequence numbers while readers look keys up and take
// sorted views. A reader that has seen sequence s for a key must never later see an older one,
// and whatever it sees must be a version that was written (value encodes key and sequence).
// A freed MemTable's arena blocks wait in the process's cache (up to one default MemTable's worth)
// and the next MemTable takes them before mapping new ones.
TEST(MemTableTest, FreedArenaBlocksServeTheNextMemTable) {
  ArenaBlockCache& cache = ArenaBlockCache::Default();
  const std::string value(1000, 'v');
  {
    MemTable mem;
    for (int i = 0; i < 2000; ++i) mem.Add(i + 1, EntryKind::kValue, absl::StrCat("key", i), value);
  }
  const size_t cached = cache.cached_bytes();
  EXPECT_GE(cached, 2 * ArenaBlockCache::kBlockBytes);
  EXPECT_LE(cached, ArenaBlockCache::kMaxCachedBytes);
  {
    MemTable mem(64 << 10);  // Small enough for its hash index to share the first block.
    mem.Add(1, EntryKind::kValue, "key", value);
    EXPECT_EQ(cache.cached_bytes(), cached - ArenaBlockCache::kBlockBytes);
    EXPECT_EQ(mem.Find("key", kMaxSequence)->value(), value);
  }
  EXPECT_EQ(cache.cached_bytes(), cached);
}

// The hash index is sized once from the capacity: many more keys than buckets still find
// themselves (longer chains), and a MemTable of the default 8 MiB takes its buckets in whole
// arena blocks.
// A batch's operations through a BatchInserter end as they would one Add after another: in
// order, also for a key repeated within the inserter's look-ahead, and every new key once in the
// sorted view after Finish.
TEST(MemTableTest, BatchInserterMatchesAddOneAtATime) {
  std::mt19937_64 rng(21);
  MemTable batched(64 << 10), single(64 << 10);
  batched.Add(1, EntryKind::kValue, "old", "1");
  single.Add(1, EntryKind::kValue, "old", "1");
  std::vector<std::tuple<uint64_t, EntryKind, std::string, std::string>> ops;
  for (uint64_t seq = 2; seq < 3000; ++seq) {
    // Few distinct keys, so that repeats fall inside and outside the look-ahead.
    const std::string key = rng() % 4 == 0 ? "old" : absl::StrCat("k", rng() % 700);
    const EntryKind kind = rng() % 5 == 0 ? EntryKind::kDeletion : EntryKind::kValue;
    ops.emplace_back(seq, kind, key, kind == EntryKind::kValue ? absl::StrCat("v", seq) : "");
  }
  {
    MemTable::BatchInserter inserter(&batched);
    for (const auto& [seq, kind, key, value] : ops) inserter.Add(seq, kind, key, value);
    // Before Finish, some operations may still be queued; the destructor finishes too.
  }
  for (const auto& [seq, kind, key, value] : ops) single.Add(seq, kind, key, value);
  EXPECT_EQ(batched.num_versions(), single.num_versions());
  EXPECT_EQ(batched.num_deletions(), single.num_deletions());
  const std::vector<std::string> keys = Keys(*single.Sorted());
  EXPECT_EQ(Keys(*batched.Sorted()), keys);
  for (const std::string& key : keys) {
    for (uint64_t at : {uint64_t{1}, uint64_t{500}, uint64_t{1500}, kMaxSequence}) {
      EXPECT_EQ(Visible(batched, key, at), Visible(single, key, at)) << key << " at " << at;
    }
  }

  // Three operations, fewer than the look-ahead, and Finish called twice.
  MemTable small;
  MemTable::BatchInserter inserter(&small);
  inserter.Add(1, EntryKind::kValue, "b", "1");
  inserter.Add(2, EntryKind::kValue, "a", "2");
  inserter.Add(3, EntryKind::kDeletion, "b", "");
  inserter.Finish();
  inserter.Finish();
  EXPECT_EQ(Keys(*small.Sorted()), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(Visible(small, "b", 2), "1");
  EXPECT_EQ(Visible(small, "b", 3), "<deleted>");
  EXPECT_EQ(small.num_versions(), 3u);
}

TEST(MemTableTest, HashIndexOfFixedSizeHoldsAnyNumberOfKeys) {
  MemTable small(4096);  // 64 buckets.
  for (int i = 0; i < 5000; ++i) small.Add(i + 1, EntryKind::kValue, absl::StrCat("k", i), "v");
  for (int i = 0; i < 5000; ++i) {
    const MemTable::Version* v = small.Find(absl::StrCat("k", i), kMaxSequence);
    ASSERT_NE(v, nullptr) << i;
    EXPECT_EQ(v->sequence(), static_cast<uint64_t>(i + 1));
  }
  EXPECT_EQ(small.Find("k5000", kMaxSequence), nullptr);
  MemTable large;
  EXPECT_GE(large.ApproximateMemoryUsage(), (8u << 20) / 128 * sizeof(void*));
  large.Add(1, EntryKind::kValue, "key", "value");
  EXPECT_EQ(large.Find("key", kMaxSequence)->value(), "value");
}

TEST(MemTableTest, ConcurrentReadersWhileOneWriterAdds) {
  MemTable mem;
  constexpr int kKeys = 64;
  constexpr uint64_t kWrites = 40000;
  std::atomic<uint64_t> published{0};  // Every version up to this sequence has been added.
  std::atomic<bool> done{false};
  auto key_of = [](uint64_t i) { return "key" + std::to_string(i % kKeys); };

  std::thread writer([&] {
    for (uint64_t s = 1; s <= kWrites; ++s) {
      const std::string key = key_of(s);
      mem.Add(s, s % 7 == 0 ? EntryKind::kDeletion : EntryKind::kValue, key,
              s % 7 == 0 ? "" : key + "@" + std::to_string(s));
      published.store(s, std::memory_order_release);
    }
    done.store(true, std::memory_order_release);
  });

  std::atomic<int> failures{0};
  auto reader = [&](uint64_t seed) {
    std::mt19937_64 rng(seed);
    std::vector<uint64_t> seen(kKeys, 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(700);
    while (!done.load(std::memory_order_acquire) && std::chrono::steady_clock::now() < deadline) {
      const uint64_t k = rng() % kKeys;
      const uint64_t snapshot = published.load(std::memory_order_acquire);
      const std::string key = key_of(k);
      const MemTable::Version* v = mem.Find(key, kMaxSequence);
      if (v != nullptr) {
        const uint64_t s = v->sequence();
        // Monotonic: never older than what this reader saw before.
        if (s < seen[k] || s % kKeys != k) failures.fetch_add(1);
        if (v->kind() == EntryKind::kValue && v->value() != key + "@" + std::to_string(s)) {
          failures.fetch_add(1);
        }
        seen[k] = std::max(seen[k], s);
      }
      // Everything published before the lookup is visible: the newest version at the snapshot
      // is exactly the last write of that key at or below it.
      if (snapshot >= (k == 0 ? kKeys : k)) {
        const uint64_t expected = snapshot - ((snapshot - k) % kKeys);
        const MemTable::Version* at = mem.Find(key, snapshot);
        if (at == nullptr || at->sequence() != expected) failures.fetch_add(1);
      }
      if (rng() % 64 == 0) {
        auto view = mem.Sorted();
        for (size_t i = 1; i < view->size(); ++i) {
          if (!((*view)[i - 1]->key() < (*view)[i]->key())) failures.fetch_add(1);
        }
      }
    }
  };
  std::thread r1(reader, 1), r2(reader, 2);
  writer.join();
  r1.join();
  r2.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(mem.num_versions(), kWrites);
  EXPECT_EQ(mem.Sorted()->size(), static_cast<size_t>(kKeys));
  for (uint64_t k = 0; k < kKeys; ++k) {
    const uint64_t last = kWrites - ((kWrites - k) % kKeys);
    EXPECT_EQ(mem.Find(key_of(k), kMaxSequence)->sequence(), last);
  }
}

}  // namespace
}  // namespace kvstore::internal
