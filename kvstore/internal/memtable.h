// The MemTable: recent writes held in memory until they are flushed to a segment.
//
// Writes go to a hash index (one bucket, compared by hash before key), which is what makes a write
// cost little more than its WAL append. Order is needed only by iterators and by the flush, so the
// sorted view of the keys is built lazily, by sorting only the keys added since the last view and
// merging them in. Each key keeps its versions newest first, so a snapshot reads the first version
// at or below its sequence number.
//
// Threading: one writer at a time (the store serializes writes); any number of concurrent readers.
// Versions and keys live in an arena and never move, so readers hold plain pointers to them.
#ifndef KVSTORE_INTERNAL_MEMTABLE_H_
#define KVSTORE_INTERNAL_MEMTABLE_H_

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <new>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"

namespace kvstore::internal {

// Arena blocks of freed MemTables, kept for the next MemTable of any store in the process.
//
// Why keep them: on a VM with shadow page tables (the paravirtualized guests this project is
// measured on) the first access to each page of a new mapping traps to the hypervisor: measured
// 5-6 us per 4 KiB page even when MAP_POPULATE has faulted it in, against 0.2 us to write a page
// the process has used before. Fresh blocks cost a MemTable of 1000-byte values about 1.5 us per
// write. Why that costs no peak memory: only blocks of freed MemTables are kept, at most
// kMaxCachedBytes (one default MemTable), and a new MemTable takes from the cache before mapping
// anything, so cached blocks stand in for blocks that would otherwise be mapped again.
class ArenaBlockCache {
 public:
  static constexpr size_t kBlockBytes = 256 * 1024;
  static constexpr size_t kMaxCachedBytes = 8 << 20;

  static ArenaBlockCache& Default() {
    // Never destroyed, so that a MemTable freed during static destruction can still give back.
    static ArenaBlockCache* const cache = new ArenaBlockCache;
    return *cache;
  }

  // A block of kBlockBytes: a cached one if any, else a new mapping, faulted in by one call.
  // `*fresh` (if given) tells which: a new mapping holds zeros, a cached block what it last held.
  char* Take(bool* fresh = nullptr) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!blocks_.empty()) {
        char* block = blocks_.back();
        blocks_.pop_back();
        if (fresh != nullptr) *fresh = false;
        return block;
      }
    }
    if (fresh != nullptr) *fresh = true;
    return Map(kBlockBytes);
  }

  // Takes back a block from Take, to keep or to unmap.
  void Give(char* block) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (blocks_.size() < kMaxCachedBytes / kBlockBytes) {
        blocks_.push_back(block);
        return;
      }
    }
    ::munmap(block, kBlockBytes);
  }

  size_t cached_bytes() const {
    std::lock_guard<std::mutex> lock(mu_);
    return blocks_.size() * kBlockBytes;
  }

  // Maps `bytes` of zeroed memory (MAP_POPULATE: one system call instead of a fault per page).
  static char* Map(size_t bytes) {
    void* block = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    if (block == MAP_FAILED) throw std::bad_alloc();  // As new would: the store cannot hold the write.
    return static_cast<char*>(block);
  }

 private:
  ArenaBlockCache() { blocks_.reserve(kMaxCachedBytes / kBlockBytes); }

  mutable std::mutex mu_;
  std::vector<char*> blocks_;  // Reserved up front: Give never allocates.
};

// Bump allocator for MemTable contents: one allocation per write, freed all at once.
//
// Blocks are mapped directly rather than taken from malloc, so that a freed MemTable's memory goes
// where this class says (ArenaBlockCache, or back to the OS) rather than staying in malloc's
// arenas for good. An allocation larger than a quarter block gets a mapping of its own, returned
// to the OS when the MemTable is freed.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (const auto& [block, bytes] : blocks_) {
      if (bytes == kBlockBytes) {
        ArenaBlockCache::Default().Give(block);
      } else {
        ::munmap(block, bytes);
      }
    }
  }

  char* Allocate(size_t bytes) {
    bytes = (bytes + 7) & ~size_t{7};
    // Counts what is handed out, not the blocks reserved: a MemTable smaller than one block
    // (Options::memtable_bytes may be as small as 4 KiB) would otherwise be "full" after its
    // first write, and every write would become a flush of its own. One writer: a plain store.
    usage_.store(usage_.load(std::memory_order_relaxed) + bytes, std::memory_order_relaxed);
    if (bytes > remaining_) {
      if (bytes > kBlockBytes / 4) return NewBlock(bytes);  // Large: own block, keep the current.
      ptr_ = NewBlock(kBlockBytes);
      remaining_ = kBlockBytes;
    }
    char* result = ptr_;
    ptr_ += bytes;
    remaining_ -= bytes;
    return result;
  }

  size_t MemoryUsage() const { return usage_.load(std::memory_order_relaxed); }

  // A whole block of zeros for the caller's own layout, freed with the arena and not counted in
  // MemoryUsage (the caller accounts for what it uses of it).
  char* AllocateZeroedBlock(size_t bytes_used) {
    blocks_.reserve(blocks_.size() + 1);
    bool fresh = false;
    char* block = ArenaBlockCache::Default().Take(&fresh);
    blocks_.emplace_back(block, kBlockBytes);
    if (!fresh) std::memset(block, 0, bytes_used);  // A new mapping is zero, and left untouched.
    return block;
  }

 private:
  static constexpr size_t kBlockBytes = ArenaBlockCache::kBlockBytes;

  char* NewBlock(size_t bytes) {
    blocks_.reserve(blocks_.size() + 1);  // So that the block is never lost if this throws.
    char* block = bytes == kBlockBytes ? ArenaBlockCache::Default().Take() : ArenaBlockCache::Map(bytes);
    blocks_.emplace_back(block, bytes);
    return block;
  }

  std::vector<std::pair<char*, size_t>> blocks_;
  char* ptr_ = nullptr;
  size_t remaining_ = 0;
  std::atomic<size_t> usage_{0};
};

class MemTable {
 public:
  struct Version {
    const Version* older;
    uint64_t tag;
    uint32_t value_size;

    uint64_t sequence() const { return TagSequence(tag); }
    EntryKind kind() const { return TagKind(tag); }
    absl::string_view value() const {
      return absl::string_view(reinterpret_cast<const char*>(this + 1), value_size);
    }
  };

  class KeyEntry {
   public:
    absl::string_view key() const {
      return absl::string_view(reinterpret_cast<const char*>(this + 1), key_size_);
    }
    const Version* newest() const { return newest_.load(std::memory_order_acquire); }
    // The newest version at or below `sequence`, or nullptr.
    const Version* VisibleAt(uint64_t sequence) const {
      const Version* v = newest();
      while (v != nullptr && v->sequence() > sequence) v = v->older;
      return v;
    }

   private:
    friend class MemTable;
    std::atomic<const Version*> newest_{nullptr};
    KeyEntry* next_ = nullptr;  // In the same hash bucket; set before the entry is published.
    uint32_t key_size_ = 0;
    uint32_t hash_high_ = 0;  // The key hash's upper half: most mismatches need no key compare.
  };

  using SortedView = std::vector<const KeyEntry*>;

  // `capacity_bytes` (Options::memtable_bytes) sizes the hash index once, for good.
  explicit MemTable(size_t capacity_bytes = kDefaultCapacityBytes) {
    size_t buckets = kMinBuckets;
    while (buckets < kMaxBuckets && buckets * kBytesPerBucket < capacity_bytes) buckets *= 2;
    bucket_mask_ = buckets - 1;
    const size_t bytes = buckets * sizeof(KeyEntry*);
    if (bytes <= kBucketsPerChunk * sizeof(KeyEntry*) / 4) {
      // Small: from the arena's current block, which is shared with the data (and counts it).
      char* chunk = arena_.Allocate(bytes);
      std::memset(chunk, 0, bytes);
      chunks_.push_back(reinterpret_cast<KeyEntry**>(chunk));
    } else {
      index_bytes_ = bytes;  // Blocks of its own, which the arena does not count.
      for (size_t done = 0; done < buckets; done += kBucketsPerChunk) {
        const size_t n = std::min(kBucketsPerChunk, buckets - done);
        chunks_.push_back(
            reinterpret_cast<KeyEntry**>(arena_.AllocateZeroedBlock(n * sizeof(KeyEntry*))));
      }
    }
  }
  MemTable(const MemTable&) = delete;
  MemTable& operator=(const MemTable&) = delete;

  void Add(uint64_t sequence, EntryKind kind, absl::string_view key, absl::string_view value) {
    const uint64_t hash = HashKey(key);
    if (KeyEntry* entry = Insert(sequence, kind, key, value, hash)) {
      std::lock_guard<std::mutex> lock(view_mu_);
      AddToViewLocked(entry);
    }
  }

  // Add for the operations of a batch, in order. A key's bucket is asked for kLookahead
  // operations before it is needed, so that a large batch of keys new to the MemTable waits for
  // several cache misses at once rather than one after another; and the keys new to the MemTable
  // join the sorted view under one lock, at Finish, rather than one lock each. Readers need them
  // there only once the batch's sequence numbers are published, after Finish.
  class BatchInserter {
   public:
    explicit BatchInserter(MemTable* mem) : mem_(mem) { fresh_.clear(); }
    BatchInserter(const BatchInserter&) = delete;
    BatchInserter& operator=(const BatchInserter&) = delete;
    ~BatchInserter() { Finish(); }

    void Add(uint64_t sequence, EntryKind kind, absl::string_view key, absl::string_view value) {
      Pending& slot = ring_[queued_ % kLookahead];
      if (queued_ >= kLookahead) InsertPending(slot);
      slot = Pending{sequence, kind, key, value, HashKey(key)};
      __builtin_prefetch(&mem_->Bucket(slot.hash), 1);
      // Half way to its insert, an operation's bucket has arrived: ask for the first entry of its
      // chain, which the insert compares next (a key new to the MemTable walks the whole chain).
      if (queued_ >= kLookahead / 2) {
        const Pending& halfway = ring_[(queued_ - kLookahead / 2) % kLookahead];
        const KeyEntry* head =
            std::atomic_ref<KeyEntry*>(mem_->Bucket(halfway.hash)).load(std::memory_order_relaxed);
        if (head != nullptr) __builtin_prefetch(head);
      }
      ++queued_;
    }

    // Adds what is still queued; called by the destructor if not before.
    void Finish() {
      for (size_t i = queued_ > kLookahead ? queued_ - kLookahead : 0; i < queued_; ++i) {
        InsertPending(ring_[i % kLookahead]);
      }
      queued_ = 0;
      if (fresh_.empty()) return;
      std::lock_guard<std::mutex> lock(mem_->view_mu_);
      for (KeyEntry* entry : fresh_) mem_->AddToViewLocked(entry);
      fresh_.clear();
    }

   private:
    static constexpr size_t kLookahead = 8;
    struct Pending {
      uint64_t sequence;
      EntryKind kind;
      absl::string_view key, value;
      uint64_t hash;
    };
    void InsertPending(const Pending& p) {
      if (KeyEntry* entry = mem_->Insert(p.sequence, p.kind, p.key, p.value, p.hash)) {
        fresh_.push_back(entry);
      }
    }

    MemTable* mem_;
    Pending ring_[kLookahead];
    size_t queued_ = 0;
    // Per thread, kept between batches: only the write leader inserts.
    static inline thread_local std::vector<KeyEntry*> fresh_;
  };

  // The newest version of `key` at or below `sequence`, or nullptr if the MemTable has none.
  const Version* Find(absl::string_view key, uint64_t sequence) const {
    const uint64_t hash = HashKey(key);
    const KeyEntry* entry = FindEntry(Bucket(hash), hash, key);
    return entry != nullptr ? entry->VisibleAt(sequence) : nullptr;
  }

  // The keys in order. The view stays valid (and unchanged) while the caller holds it, whatever
  // is written afterwards; keys added later appear in later views.
  std::shared_ptr<const SortedView> Sorted() const {
    std::lock_guard<std::mutex> lock(view_mu_);
    if (unsorted_.empty() && sorted_ != nullptr) return sorted_;
    auto by_key = [](const KeyEntry* a, const KeyEntry* b) { return a->key() < b->key(); };
    std::sort(unsorted_.begin(), unsorted_.end(), by_key);
    auto merged = std::make_shared<SortedView>();
    const SortedView empty;
    const SortedView& old = sorted_ != nullptr ? *sorted_ : empty;
    merged->reserve(old.size() + unsorted_.size());
    std::merge(old.begin(), old.end(), unsorted_.begin(), unsorted_.end(),
               std::back_inserter(*merged), by_key);
    unsorted_.clear();
    sorted_ = std::move(merged);
    view_bytes_.store((unsorted_.capacity() + sorted_->capacity()) * sizeof(void*),
                      std::memory_order_relaxed);
    return sorted_;
  }

  // Bytes held: keys, values, version headers, the hash index and the sorted view.
  size_t ApproximateMemoryUsage() const {
    return arena_.MemoryUsage() + index_bytes_ + view_bytes_.load(std::memory_order_relaxed);
  }

  uint64_t num_versions() const { return num_versions_.load(std::memory_order_relaxed); }
  uint64_t num_deletions() const { return num_deletions_.load(std::memory_order_relaxed); }
  bool empty() const { return num_versions() == 0; }

 private:
  // The hash index: chains of KeyEntries, newest first, from bucket heads in arena memory, one
  // bucket per kBytesPerBucket of capacity. Its size is fixed when the MemTable is made, so it
  // never rehashes: a flat_hash_map growing to 10,000 keys copied them 10 times into fresh memory,
  // half the cost of a write in the seed workload. Readers take no lock: an entry is complete
  // before the release store that links it, and never changes its place afterwards.
  static constexpr size_t kDefaultCapacityBytes = 8 << 20;
  static constexpr size_t kBytesPerBucket = 128;
  static constexpr size_t kMinBuckets = 64;
  static constexpr size_t kMaxBuckets = size_t{1} << 22;
  static constexpr size_t kBucketsPerChunk = ArenaBlockCache::kBlockBytes / sizeof(KeyEntry*);

  // Adds a version; returns its key's entry if the key is new to the MemTable (it is then in the
  // hash index, and the caller adds it to the sorted view), else nullptr.
  KeyEntry* Insert(uint64_t sequence, EntryKind kind, absl::string_view key,
                   absl::string_view value, uint64_t hash) {
    char* mem = arena_.Allocate(sizeof(Version) + value.size());
    Version* version = new (mem) Version{nullptr, PackTag(sequence, kind),
                                         static_cast<uint32_t>(value.size())};
    if (!value.empty()) std::memcpy(mem + sizeof(Version), value.data(), value.size());
    CountVersion(kind);
    // Only this (single) writer changes the index; readers follow it without a lock.
    KeyEntry*& bucket = Bucket(hash);
    KeyEntry* entry = FindEntry(bucket, hash, key);
    if (entry != nullptr) {
      version->older = entry->newest_.load(std::memory_order_relaxed);
      entry->newest_.store(version, std::memory_order_release);
      return nullptr;
    }
    char* key_mem = arena_.Allocate(sizeof(KeyEntry) + key.size());
    entry = new (key_mem) KeyEntry;
    entry->key_size_ = static_cast<uint32_t>(key.size());
    entry->hash_high_ = static_cast<uint32_t>(hash >> 32);
    if (!key.empty()) std::memcpy(key_mem + sizeof(KeyEntry), key.data(), key.size());
    entry->newest_.store(version, std::memory_order_relaxed);
    entry->next_ = std::atomic_ref<KeyEntry*>(bucket).load(std::memory_order_relaxed);
    // Publishes the entry, its key and its first version to readers that load the bucket.
    std::atomic_ref<KeyEntry*>(bucket).store(entry, std::memory_order_release);
    return entry;
  }

  void CountVersion(EntryKind kind) {
    // One writer: a plain store, not a locked read-modify-write.
    num_versions_.store(num_versions_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    if (kind == EntryKind::kDeletion) {
      num_deletions_.store(num_deletions_.load(std::memory_order_relaxed) + 1,
                           std::memory_order_relaxed);
    }
  }

  void AddToViewLocked(const KeyEntry* entry) {
    unsorted_.push_back(entry);
    view_bytes_.store(unsorted_.capacity() * sizeof(void*) +
                          (sorted_ != nullptr ? sorted_->capacity() * sizeof(void*) : 0),
                      std::memory_order_relaxed);
  }

  KeyEntry*& Bucket(uint64_t hash) const {
    const size_t i = hash & bucket_mask_;
    return chunks_[i / kBucketsPerChunk][i % kBucketsPerChunk];
  }

  static KeyEntry* FindEntry(KeyEntry*& bucket, uint64_t hash, absl::string_view key) {
    const uint32_t high = static_cast<uint32_t>(hash >> 32);
    for (KeyEntry* e = std::atomic_ref<KeyEntry*>(bucket).load(std::memory_order_acquire);
         e != nullptr; e = e->next_) {
      if (e->hash_high_ == high && e->key() == key) return e;
    }
    return nullptr;
  }

  Arena arena_;
  size_t bucket_mask_ = 0;
  std::vector<KeyEntry**> chunks_;  // The buckets, kBucketsPerChunk to a chunk.
  size_t index_bytes_ = 0;

  mutable std::mutex view_mu_;
  mutable std::vector<const KeyEntry*> unsorted_;         // Guarded by view_mu_.
  mutable std::shared_ptr<const SortedView> sorted_;      // Guarded by view_mu_.
  mutable std::atomic<size_t> view_bytes_{0};

  std::atomic<uint64_t> num_versions_{0};
  std::atomic<uint64_t> num_deletions_{0};
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_MEMTABLE_H_
