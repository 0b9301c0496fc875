// kvstore::Snapshot: one point in time to read a store (or every table of a Database) at, through
// ReadOptions::snapshot. Taken with GetSnapshot(); it may outlive its store, and then reads nothing.
#ifndef KVSTORE_SNAPSHOT_H_
#define KVSTORE_SNAPSHOT_H_

#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <utility>
#include <vector>

namespace kvstore {

namespace internal {

template <typename Filter>
class Engine;

// Sequence numbers of live snapshots. Shared with Snapshot handles, which may outlive the store.
class SnapshotRegistry {
 public:
  void Add(uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    live_.insert(sequence);
  }
  void Remove(uint64_t sequence) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = live_.find(sequence);
    if (it != live_.end()) live_.erase(it);
  }
  std::vector<uint64_t> Sorted() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::vector<uint64_t>(live_.begin(), live_.end());
  }
  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return live_.size();
  }

 private:
  mutable std::mutex mu_;
  std::multiset<uint64_t> live_;
};

}  // namespace internal

// A consistent point-in-time view for reads (ReadOptions::snapshot). Movable; releasing it
// (destroying it) lets compaction drop the versions only it could see.
class Snapshot {
 public:
  Snapshot() = default;
  Snapshot(Snapshot&& other) noexcept
      : registry_(std::move(other.registry_)), sequence_(other.sequence_) {}
  Snapshot& operator=(Snapshot&& other) noexcept {
    if (this != &other) {
      Release();
      registry_ = std::move(other.registry_);
      sequence_ = other.sequence_;
    }
    return *this;
  }
  ~Snapshot() { Release(); }

  uint64_t sequence() const { return sequence_; }
  bool valid() const { return registry_ != nullptr; }

 private:
  template <typename>
  friend class internal::Engine;
  Snapshot(std::shared_ptr<internal::SnapshotRegistry> registry, uint64_t sequence)
      : registry_(std::move(registry)), sequence_(sequence) {
    registry_->Add(sequence_);
  }
  void Release() {
    if (registry_ != nullptr) registry_->Remove(sequence_);
    registry_.reset();
  }

  std::shared_ptr<internal::SnapshotRegistry> registry_;
  uint64_t sequence_ = 0;
};

}  // namespace kvstore

#endif  // KVSTORE_SNAPSHOT_H_
