// BlockCache: hits and misses, replacement, admission on a second miss, the byte bound, LRU
// eviction, and handles that outlive eviction.
#include "kvstore/internal/block_cache.h"

#include <cstdint>
#include <algorithm>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <tuple>

#include "gtest/gtest.h"

namespace kvstore::internal {
namespace {

std::string Bytes(uint64_t segment, uint64_t block, uint32_t part, size_t size) {
  std::string s = std::to_string(segment) + "/" + std::to_string(block) + "/" + std::to_string(part) + ":";
  s.resize(size, 'x');
  return s;
}

TEST(BlockCacheTest, FindsWhatItHoldsAndMissesWhatItDoesNot) {
  BlockCache cache(1 << 20);
  EXPECT_EQ(cache.Lookup(1, 2), nullptr);
  cache.Insert(1, 2, Bytes(1, 2, 0, 100));
  cache.Insert(1, 2, Bytes(1, 2, 3, 100), 3);
  ASSERT_NE(cache.Lookup(1, 2), nullptr);
  EXPECT_EQ(*cache.Lookup(1, 2), Bytes(1, 2, 0, 100));
  EXPECT_EQ(*cache.Lookup(1, 2, 3), Bytes(1, 2, 3, 100));
  EXPECT_EQ(cache.Lookup(1, 2, 4), nullptr);
  EXPECT_EQ(cache.Lookup(2, 1), nullptr);
  EXPECT_EQ(cache.hits(), 3u);
  EXPECT_EQ(cache.misses(), 3u);
  // Replacing keeps one copy's charge.
  const size_t before = cache.usage();
  cache.Insert(1, 2, Bytes(1, 2, 0, 150));
  EXPECT_EQ(*cache.Lookup(1, 2), Bytes(1, 2, 0, 150));
  EXPECT_EQ(cache.usage(), before + 50);
}

TEST(BlockCacheTest, AdmitsOnTheSecondRecentMiss) {
  BlockCache cache(1 << 20);
  bool admit = true;
  EXPECT_EQ(cache.Lookup(7, 9, 1, &admit), nullptr);
  EXPECT_FALSE(admit);
  EXPECT_EQ(cache.Lookup(7, 9, 1, &admit), nullptr);
  EXPECT_TRUE(admit);
  // The slot was spent: a third miss starts over.
  EXPECT_EQ(cache.Lookup(7, 9, 1, &admit), nullptr);
  EXPECT_FALSE(admit);
}

TEST(BlockCacheTest, HandlesOutliveEviction) {
  BlockCache cache(16 * 400);  // 400 bytes a shard.
  BlockCache::Handle held = cache.Insert(1, 0, Bytes(1, 0, 0, 200));
  for (uint64_t b = 1; b < 2000; ++b) cache.Insert(1, b, Bytes(1, b, 0, 200));
  EXPECT_EQ(*held, Bytes(1, 0, 0, 200));
  EXPECT_LE(cache.usage(), 16u * 400);
  // A block larger than a shard is handed back, not cached.
  BlockCache::Handle big = cache.Insert(2, 0, Bytes(2, 0, 0, 1000));
  EXPECT_EQ(*big, Bytes(2, 0, 0, 1000));
  EXPECT_EQ(cache.Lookup(2, 0), nullptr);
}

// Random inserts, replacements and lookups over a key space much larger than the cache, in sizes
// that vary, so that entries are evicted and their index slots reused all the time: what the cache
// returns is always the bytes last inserted under the key, its usage stays within the bound, and
// the keys touched most recently are always found (their shard holds far more than they charge).
TEST(BlockCacheTest, AlwaysReturnsTheLastBytesInsertedAndKeepsTheMostRecent) {
  constexpr size_t kCapacity = 16 * (64 << 10);
  constexpr size_t kRecent = 10;  // At most 10 * 2,100 bytes: a third of a shard.
  using Key = std::tuple<uint64_t, uint64_t, uint32_t>;
  BlockCache cache(kCapacity);
  std::map<Key, std::string> last;
  std::deque<Key> recent;
  std::mt19937_64 rng(42);
  uint64_t found = 0;
  for (int i = 0; i < 100000; ++i) {
    const uint64_t segment = rng() % 4, block = rng() % 1000;
    const uint32_t part = static_cast<uint32_t>(rng() % 5);
    const Key key{segment, block, part};
    bool touched = false;
    if (rng() % 3 == 0) {
      std::string bytes = Bytes(segment, block, part, 20 + rng() % 2000) + std::to_string(i);
      last[key] = bytes;
      ASSERT_EQ(*cache.Insert(segment, block, bytes, part), bytes);
      touched = true;
    } else if (BlockCache::Handle h = cache.Lookup(segment, block, part)) {
      ASSERT_EQ(*h, last.at(key));
      ++found;
      touched = true;
    }
    if (touched) {
      recent.erase(std::remove(recent.begin(), recent.end(), key), recent.end());
      recent.push_back(key);
      if (recent.size() > kRecent) recent.pop_front();
    }
    for (const auto& [s, b, p] : recent) {
      BlockCache::Handle h = cache.Lookup(s, b, p);
      ASSERT_NE(h, nullptr) << "op " << i << ": " << s << "/" << b << "/" << p << " was evicted";
      ASSERT_EQ(*h, last.at({s, b, p}));
    }
    ASSERT_LE(cache.usage(), kCapacity);
  }
  EXPECT_GT(found, 1000u);
}

// The recency order: in a cache that holds N equal blocks per shard, touching a block keeps it
// while N newer inserts to its shard would evict it. Shards are unknown, so every key is touched
// between rounds: the blocks touched most recently survive, the untouched do not.
TEST(BlockCacheTest, EvictsTheLeastRecentlyUsed) {
  constexpr size_t kBlock = 1000, kCharge = kBlock + 96;
  BlockCache cache(16 * 4 * kCharge);  // Four blocks a shard.
  // Fill well past the bound, touching key 0 after every insert: it must never be evicted.
  cache.Insert(0, 0, Bytes(0, 0, 0, kBlock));
  for (uint64_t b = 1; b < 500; ++b) {
    cache.Insert(0, b, Bytes(0, b, 0, kBlock));
    ASSERT_NE(cache.Lookup(0, 0), nullptr) << "after inserting block " << b;
  }
  // The last inserted of each shard stay; early ones are gone.
  EXPECT_NE(cache.Lookup(0, 499), nullptr);
  int early = 0;
  for (uint64_t b = 1; b < 100; ++b) early += cache.Lookup(0, b) != nullptr;
  EXPECT_EQ(early, 0);
  EXPECT_LE(cache.usage(), 16 * 4 * kCharge);
  EXPECT_GE(cache.usage(), 16 * 2 * kCharge);  // Shards fill, spread by the hash.
}

// Part lookups stop, but for a sample, while they rarely hit, and resume once the sampled ones
// hit often again.
TEST(BlockCacheTest, PartLookupsPauseWhileTheyRarelyHitAndResumeWhenTheyDo) {
  BlockCache cache(1 << 20);
  for (int i = 0; i < 255; ++i) {
    ASSERT_TRUE(cache.PartLookupWorthMaking()) << i;  // Too few counted to judge.
    cache.CountPartLookup(false);
  }
  cache.CountPartLookup(false);
  int made = 0;
  for (int i = 0; i < 160; ++i) made += cache.PartLookupWorthMaking() ? 1 : 0;
  EXPECT_EQ(made, 10);  // Every 16th.
  // The sampled lookups start to hit: once 1 in 8 counted does, every lookup is made again.
  for (int i = 0; i < 36; ++i) cache.CountPartLookup(true);  // 36 hits of 292: under 1 in 8.
  made = 0;
  for (int i = 0; i < 16; ++i) made += cache.PartLookupWorthMaking() ? 1 : 0;
  EXPECT_EQ(made, 1);
  cache.CountPartLookup(true);  // 37 of 293.
  for (int i = 0; i < 50; ++i) EXPECT_TRUE(cache.PartLookupWorthMaking());
  // Old counts fade: after many hits, a long run of misses pauses lookups again.
  for (int i = 0; i < 5000; ++i) cache.CountPartLookup(true);
  for (int i = 0; i < 20000; ++i) cache.CountPartLookup(false);
  made = 0;
  for (int i = 0; i < 160; ++i) made += cache.PartLookupWorthMaking() ? 1 : 0;
  EXPECT_EQ(made, 10);
}

}  // namespace
}  // namespace kvstore::internal
