// A bounded cache of decompressed data blocks (Options::block_cache_bytes), shared by every
// segment of one store. Only compressed blocks pass through it: raw blocks are read in place from
// the mapped file, where the kernel's page cache already keeps them.
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

  Handle Lookup(uint64_t segment, uint64_t block) {
    Shard& shard = ShardFor(segment, block);
    std::lock_guard<std::mutex> lock(shard.mu);
    auto it = shard.index.find(Key{segment, block});
    if (it == shard.index.end()) {
      misses_.fetch_add(1, std::memory_order_relaxed);
      return nullptr;
    }
    shard.lru.splice(shard.lru.begin(), shard.lru, it->second);  // Now the most recent.
    hits_.fetch_add(1, std::memory_order_relaxed);
    return it->second->block;
  }

  // Adds a block (replacing one cached under the same key) and returns a handle to it. A block
  // larger than a shard is returned uncached.
  Handle Insert(uint64_t segment, uint64_t block, std::string bytes) {
    auto handle = std::make_shared<const std::string>(std::move(bytes));
    const size_t charge = Charge(*handle);
    if (charge > shard_capacity_) return handle;
    Shard& shard = ShardFor(segment, block);
    std::lock_guard<std::mutex> lock(shard.mu);
    const Key key{segment, block};
    if (auto it = shard.index.find(key); it != shard.index.end()) {
      shard.usage -= Charge(*it->second->block);
      shard.lru.erase(it->second);
      shard.index.erase(it);
    }
    shard.lru.push_front(Entry{key, handle});
    shard.index.emplace(key, shard.lru.begin());
    shard.usage += charge;
    while (shard.usage > shard_capacity_) {
      const Entry& oldest = shard.lru.back();
      shard.usage -= Charge(*oldest.block);
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

  struct Key {
    uint64_t segment;
    uint64_t block;
    bool operator==(const Key& o) const { return segment == o.segment && block == o.block; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return static_cast<size_t>((k.segment * 0x9E3779B97F4A7C15ULL) ^ (k.block + 0x632BE59BD9B4E019ULL));
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
  };

  // A block's bytes plus what the cache spends to hold it.
  static size_t Charge(const std::string& block) { return block.size() + 96; }

  Shard& ShardFor(uint64_t segment, uint64_t block) {
    return shards_[KeyHash()(Key{segment, block}) % kShards];
  }

  const size_t shard_capacity_;
  Shard shards_[kShards];
  std::atomic<uint64_t> hits_{0};
  std::atomic<uint64_t> misses_{0};
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_BLOCK_CACHE_H_
