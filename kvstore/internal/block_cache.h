// A bounded cache of decompressed data blocks (Options::block_cache_bytes), shared by every
// segment of one store. Only compressed blocks pass through it: raw blocks are read in place from
// the mapped file, where the kernel's page cache already keeps them. A block is cached whole (part
// 0, for iterators) or, if compressed in parts, part by part (1 + the part's index, for lookups).
#ifndef KVSTORE_INTERNAL_BLOCK_CACHE_H_
#define KVSTORE_INTERNAL_BLOCK_CACHE_H_

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

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
    const uint64_t hash = HashOf(key);
    Shard& shard = shards_[hash % kShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    const uint32_t found = shard.Find(key, hash);
    if (found == kNone) {
      ++shard.misses;
      if (admit != nullptr) {
        uint32_t& slot = shard.recent_misses[(hash / kShards) % kRecentMissSlots];
        const uint32_t tag = static_cast<uint32_t>(hash >> 32) | 1;
        *admit = slot == tag;
        slot = *admit ? 0 : tag;
      }
      return nullptr;
    }
    shard.MoveToFront(found);
    ++shard.hits;
    return shard.entries[found].block;
  }

  // Adds a block (replacing one cached under the same key) and returns a handle to it. A block
  // larger than a shard is returned uncached.
  Handle Insert(uint64_t segment, uint64_t block, std::string bytes, uint32_t part = 0) {
    auto handle = std::make_shared<const std::string>(std::move(bytes));
    const size_t charge = Charge(*handle);
    if (charge > shard_capacity_) return handle;
    const Key key{segment, block, part};
    const uint64_t hash = HashOf(key);
    Shard& shard = shards_[hash % kShards];
    std::lock_guard<std::mutex> lock(shard.mu);
    if (const uint32_t old = shard.Find(key, hash); old != kNone) shard.Remove(old);
    shard.Add(key, hash, handle, charge);
    while (shard.usage > shard_capacity_) shard.Remove(shard.lru_tail);
    return handle;
  }

  // Whether a lookup of a block part is worth making. While few recent part lookups hit (a
  // working set far larger than the cache, as with uniformly random reads), a lookup and the
  // insert after its miss cost more than decompressing the part again (Snappy readrandom of 1M
  // keys with the default 8 MiB: +24% to +42% ops/s without them). Then only every
  // kPartSampleEvery-th lookup is made; those keep the hit rate measured, so lookups resume
  // when it rises (a hot set that fits).
  bool PartLookupWorthMaking() {
    const uint32_t probes = part_probes_.load(std::memory_order_relaxed);
    if (probes < kPartMinProbes ||
        part_hits_.load(std::memory_order_relaxed) * kPartMinHitShare >= probes) {
      return true;
    }
    // Counters of a heuristic: a lost update between threads does no harm, a locked one costs.
    const uint32_t skips = part_skips_.load(std::memory_order_relaxed) + 1;
    part_skips_.store(skips, std::memory_order_relaxed);
    return skips % kPartSampleEvery == 0;
  }
  // Counts a part lookup made, for PartLookupWorthMaking. Recent ones weigh most: both counts
  // are halved every kPartDecayProbes.
  void CountPartLookup(bool hit) {
    uint32_t probes = part_probes_.load(std::memory_order_relaxed) + 1;
    uint32_t hits = part_hits_.load(std::memory_order_relaxed) + (hit ? 1 : 0);
    if (probes >= kPartDecayProbes) {
      probes /= 2;
      hits /= 2;
    }
    part_probes_.store(probes, std::memory_order_relaxed);
    part_hits_.store(hits, std::memory_order_relaxed);
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
  uint64_t hits() const { return Sum(&Shard::hits); }
  uint64_t misses() const { return Sum(&Shard::misses); }

 private:
  static constexpr size_t kShards = 16;
  static constexpr size_t kRecentMissSlots = 1024;
  static constexpr uint32_t kNone = UINT32_MAX;
  static constexpr uint32_t kPartMinProbes = 256;
  static constexpr uint32_t kPartMinHitShare = 8;  // Lookups worth making: 1 in 8 hits or more.
  static constexpr uint32_t kPartSampleEvery = 16;
  static constexpr uint32_t kPartDecayProbes = 4096;

  struct Key {
    uint64_t segment;
    uint64_t block;
    uint32_t part;
    bool operator==(const Key& o) const {
      return segment == o.segment && block == o.block && part == o.part;
    }
  };
  // Mixed, so that every bit depends on all three: the shard, the recent-miss slot and the index
  // use different bits.
  static uint64_t HashOf(const Key& k) {
    uint64_t h = (k.segment * 0x9E3779B97F4A7C15ULL) ^ (k.block * 0xC2B2AE3D27D4EB4FULL) ^
                 ((k.part + 1) * 0x165667B19E3779F9ULL);
    h ^= h >> 29;
    h *= 0xBF58476D1CE4E5B9ULL;
    h ^= h >> 32;
    return h;
  }

  // A cached block, linked into its shard's LRU list by index.
  struct Entry {
    Key key;
    Handle block;
    size_t charge = 0;
    uint32_t tag = 0;  // The hash's top half, as in its slot.
    uint32_t newer = kNone, older = kNone;
  };
  // An index slot: the entry's tag beside its number, so that a probe reads the entry only when
  // the tags match. With one slot per 8 bytes, a miss costs about one cache line.
  struct Slot {
    uint32_t tag;
    uint32_t entry;  // kNone: empty.
  };

  // One lock's worth of the cache: entries in a vector (reused through a free list), an LRU list
  // through them, and an open-addressing index (linear probing, at most half full). Lookups under
  // reads spread over a large store mostly miss; a chained hash map made each miss a walk of cold
  // nodes, and each insert and eviction an allocation and a free.
  struct Shard {
    mutable std::mutex mu;
    std::vector<Entry> entries;
    std::vector<uint32_t> free_entries;
    std::vector<Slot> slots;  // A power of two in size, or empty.
    uint32_t lru_head = kNone;  // Most recently used.
    uint32_t lru_tail = kNone;
    size_t usage = 0;
    // Counted under the lock: an atomic counter beside it cost a second locked instruction a lookup.
    uint64_t hits = 0;
    uint64_t misses = 0;
    // A lookup that passes `admit` inserts what it missed only if it missed it recently before:
    // under reads spread evenly over much more than the cache holds, inserting every block would
    // cost an allocation and an eviction per read for almost no hits, while a block read again soon
    // gets in on its second read. Tags of recent misses, one per slot, newest wins.
    uint32_t recent_misses[kRecentMissSlots] = {};

    size_t Mask() const { return slots.size() - 1; }

    uint32_t Find(const Key& key, uint64_t hash) const {
      if (slots.empty()) return kNone;
      const uint32_t tag = static_cast<uint32_t>(hash >> 32);
      for (size_t i = tag & Mask();; i = (i + 1) & Mask()) {
        const Slot& slot = slots[i];
        if (slot.entry == kNone) return kNone;
        if (slot.tag == tag && entries[slot.entry].key == key) return slot.entry;
      }
    }

    void Add(const Key& key, uint64_t hash, Handle block, size_t charge) {
      if (2 * (Live() + 1) > slots.size()) Grow();
      uint32_t e;
      if (free_entries.empty()) {
        e = static_cast<uint32_t>(entries.size());
        entries.emplace_back();
      } else {
        e = free_entries.back();
        free_entries.pop_back();
      }
      Entry& entry = entries[e];
      entry.key = key;
      entry.block = std::move(block);
      entry.charge = charge;
      entry.tag = static_cast<uint32_t>(hash >> 32);
      PlaceInIndex(e);
      LinkAtFront(e);
      usage += charge;
    }

    void Remove(uint32_t e) {
      Entry& entry = entries[e];
      // Backward-shift deletion: later slots of the probe run move up into the hole, unless their
      // home lies after it, so that no probe meets an empty slot before its entry.
      size_t hole = entry.tag & Mask();
      while (slots[hole].entry != e) hole = (hole + 1) & Mask();
      for (size_t next = (hole + 1) & Mask(); slots[next].entry != kNone; next = (next + 1) & Mask()) {
        const size_t home = slots[next].tag & Mask();
        // Whether home lies cyclically in (hole, next]: then the entry must stay.
        const bool stays = hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
        if (!stays) {
          slots[hole] = slots[next];
          hole = next;
        }
      }
      slots[hole].entry = kNone;
      Unlink(e);
      usage -= entry.charge;
      entry.block.reset();  // Readers may still hold it.
      free_entries.push_back(e);
    }

    void MoveToFront(uint32_t e) {
      if (lru_head == e) return;
      Unlink(e);
      LinkAtFront(e);
    }

   private:
    size_t Live() const { return entries.size() - free_entries.size(); }

    void PlaceInIndex(uint32_t e) {
      size_t i = entries[e].tag & Mask();
      while (slots[i].entry != kNone) i = (i + 1) & Mask();
      slots[i] = Slot{entries[e].tag, e};
    }

    void Grow() {
      slots.assign(std::max<size_t>(64, 2 * slots.size()), Slot{0, kNone});
      for (uint32_t e = lru_head; e != kNone; e = entries[e].older) PlaceInIndex(e);
    }

    void LinkAtFront(uint32_t e) {
      entries[e].older = lru_head;
      entries[e].newer = kNone;
      if (lru_head != kNone) entries[lru_head].newer = e;
      lru_head = e;
      if (lru_tail == kNone) lru_tail = e;
    }

    void Unlink(uint32_t e) {
      Entry& entry = entries[e];
      (entry.newer != kNone ? entries[entry.newer].older : lru_head) = entry.older;
      (entry.older != kNone ? entries[entry.older].newer : lru_tail) = entry.newer;
      entry.newer = entry.older = kNone;
    }
  };

  // A block's bytes plus what the cache spends to hold it.
  static size_t Charge(const std::string& block) { return block.size() + 96; }

  uint64_t Sum(uint64_t Shard::*counter) const {
    uint64_t total = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard<std::mutex> lock(shard.mu);
      total += shard.*counter;
    }
    return total;
  }

  const size_t shard_capacity_;
  Shard shards_[kShards];
  std::atomic<uint32_t> part_probes_{0}, part_hits_{0}, part_skips_{0};
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_BLOCK_CACHE_H_
