// A bounded cache of decompressed data blocks (Options::block_cache_bytes), shared by every
// segment of one store. Only compressed blocks pass through it: raw blocks are read in place from
// the mapped file, where the kernel's page cache already keeps them. A block is cached whole (part
// 0, for iterators) or, if compressed in parts, part by part (1 + the part's index, for lookups).
#ifndef KVSTORE_INTERNAL_BLOCK_CACHE_H_
#define KVSTORE_INTERNAL_BLOCK_CACHE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

namespace kvstore::internal {

class BlockCache {
 public:
  // A block held by the cache or by a reader; it stays valid while a handle to it exists, even
  // after the cache evicted it.
  using Handle = std::shared_ptr<const std::string>;

  explicit BlockCache(size_t capacity_bytes) : shard_capacity_(capacity_bytes / kShards) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;

  // The cached block, or null. With `admit`, a miss also tells whether the block missed recently
  // before (see Shard::recent_misses): only then is it worth inserting.
  Handle Lookup(uint64_t segment, uint64_t block, uint32_t part = 0, bool* admit = nullptr) {
    const Key key{segment, block, part};
    const size_t hash = KeyHash()(key);
    Shard& shard = shards_[hash % kShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    // Most lookups of reads spread over a large store miss: the counts answer those without the
    // index's chain of cache misses (12% of such a read's time, perf).
    auto it = shard.counts[CountSlot(hash)] == 0 ? shard.index.end() : shard.index.find(key);
    if (it == shard.index.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      if (admit != nullptr) {
        uint32_t& slot = shard.recent_misses[(hash / kShards) % kRecentMissSlots];
        const uint32_t tag = static_cast<uint32_t>(hash >> 32) | 1;
        *admit = slot == tag;
        slot = *admit ? 0 : tag;
      }
      return nullptr;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);  // Now the most recent.
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second->block;
  }

  // Adds a block (replacing one cached under the same key) and returns a handle to it. A block
  // larger than a shard is returned uncached.
  Handle Insert(uint64_t segment, uint64_t block, std::string bytes, uint32_t part = 0) {
    auto handle = std::make_shared<const std::string>(std::move(bytes));
    const size_t charge = Charge(*handle);
    if (charge > shard_capacity_) return handle;
    const Key key{segment, block, part};
    Shard& shard = ShardFor(key);
    std::lock_guard<std::mutex> lock(shard.mu);
    if (auto it = shard.index.find(key); it != shard.index.end()) {
      shard.usage -= Charge(*it->second->block);
      --shard.counts[CountSlot(KeyHash()(key))];
      shard.lru.erase(it->second);
      shard.index.erase(it);
    }
    shard.lru.push_front(Entry{key, handle});
    shard.index.emplace(key, shard.lru.begin());
    ++shard.counts[CountSlot(KeyHash()(key))];
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      const Entry& oldest = shard.lru.back();
      shard.usage -= Charge(*oldest.block);
      --shard.counts[CountSlot(KeyHash()(oldest.key))];
      shard.index.erase(oldest.key);
      shard.lru.pop_back();
    }
    return handle;
  }

  // Bytes of blocks the cache holds (blocks evicted but still held by readers not counted).
  size_t usage() const {
    size_t total = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mu);
      total += shard.usage;
    }
    return total;
  }
  uint64_t hits() const { return hits_.load(std::memory_order_relaxed); }
  uint64_t misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kRecentMissSlots = 1024;
  static constexpr size_t kCountSlots = 4096;

  struct Key {
    uint64_t segment;
    uint64_t block;
    uint32_t part;
    bool operator==(const Key& o) const {
      return segment == o.segment && block == o.block && part == o.part;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      // Mixed, so that every bit depends on all three (shards, slots and the index use different
      // bits).
      uint64_t h = (k.segment * 0x9E3779B97F4A7C15ULL) ^ (k.block * 0xC2B2AE3D27D4EB4FULL) ^
                   ((k.part + 1) * 0x165667B19E3779F9ULL);
      h ^= h >> 29;
      h *= 0xBF58476D1CE4E5B9ULL;
      h ^= h >> 32;
      return static_cast<size_t>(h);
    }
  };
  struct Entry {
    Key key;
    Handle block;
  };
  struct Shard {
    mutable std::mutex mu;
    std::list<Entry> lru;  // Most recently used first.
    std::unordered_map<Key, std::list<Entry>::iterator, KeyHash> index;
    size_t usage = 0;
    // A lookup that passes `admit` inserts what it missed only if it missed it recently before:
    // under reads spread evenly over much more than the cache holds, inserting every block would
    // cost an allocation and an eviction per read for almost no hits, while a block read again soon
    // gets in on its second read. Tags of recent misses, one per slot, newest wins.
    uint32_t recent_misses[kRecentMissSlots] = {};
    // How many cached blocks fall in each slot (by CountSlot of their hash): 0 is a sure miss.
    uint32_t counts[kCountSlots] = {};
  };

  // Bits of the hash that neither the shard nor the recent-miss slot uses.
  static size_t CountSlot(size_t hash) { return (hash >> 24) % kCountSlots; }

  // A block's bytes plus what the cache spends to hold it.
  static size_t Charge(const std::string& block) { return block.size() + 96; }

  Shard& ShardFor(const Key& key) { return shards_[KeyHash()(key) % kShards]; }

  const size_t shard_capacity_;
  Shard shards_[kShards];
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_BLOCK_CACHE_H_
