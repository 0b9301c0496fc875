// Group commit: the queue writers wait in. The writer at the front leads: it writes its own batch
// together with those queued behind it (one WAL record, one fdatasync for all synced ones), then
// hands the outcome to each of them and the lead to the next. Operations that must run with no
// write in progress (a MemTable switch for Flush, Close) queue here too, and are never grouped.
#ifndef KVSTORE_INTERNAL_WRITE_QUEUE_H_
#define KVSTORE_INTERNAL_WRITE_QUEUE_H_

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>

#include "absl/status/status.h"
#include "kvstore/internal/batch.h"

namespace kvstore::internal {

class WriteQueue {
 public:
  struct Writer {
    Writer(const BatchRep* b, bool s) : batch(b), sync(s) {}
    const BatchRep* batch;  // nullptr: an exclusive operation (flush, close), never grouped.
    bool sync;
    bool done = false;
    absl::Status status;
    uint64_t sequence = 0;  // After a successful write: the last sequence number of its group.
    std::condition_variable cv;
  };

  // Queues `w` and waits until it leads, or until a leader has written it (then nullptr, and
  // w->status is the outcome). A leader gets the batch to write for itself and the writers behind
  // it up to `*last`, and must call Finish.
  const BatchRep* Lead(Writer* w, Writer** last) {
    std::unique_lock<std::mutex> lock(mu_);
    writers_.push_back(w);
    return WaitToLeadLocked(lock, w, last);
  }

  // Lead, split in two: Enqueue fixes w's place in the write order (its sequence numbers come
  // after those of every writer queued before it), so a caller can release its own locks before
  // waiting in WaitToLead.
  void Enqueue(Writer* w) {
    std::lock_guard<std::mutex> lock(mu_);
    writers_.push_back(w);
  }
  const BatchRep* WaitToLead(Writer* w, Writer** last) {
    std::unique_lock<std::mutex> lock(mu_);
    return WaitToLeadLocked(lock, w, last);
  }

  // Called by a leader: hands `s` (and `sequence`, the group's last sequence number) to every
  // writer of its group and the lead to the next writer.
  void Finish(Writer* leader, Writer* last, const absl::Status& s, uint64_t sequence = 0) {
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(leader, last, s, sequence);
  }

  // Runs `fn` while no write is in progress, in queue order with the writes.
  template <typename Fn>
  absl::Status RunExclusive(Fn&& fn) {
    Writer w(nullptr, false);
    std::unique_lock<std::mutex> lock(mu_);
    writers_.push_back(&w);
    while (&w != writers_.front()) w.cv.wait(lock);
    lock.unlock();
    absl::Status s = fn();
    lock.lock();
    FinishLocked(&w, &w, s);
    return s;
  }

  // RunExclusive, but only if no write is queued or in progress; OK without running `fn`
  // otherwise. For a thread that must never wait behind a writer (one that may wait for it).
  template <typename Fn>
  absl::Status TryRunExclusive(Fn&& fn) {
    Writer w(nullptr, false);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!writers_.empty()) return absl::OkStatus();
      writers_.push_back(&w);
    }
    absl::Status s = fn();
    std::lock_guard<std::mutex> lock(mu_);
    FinishLocked(&w, &w, s);
    return s;
  }

 private:
  const BatchRep* WaitToLeadLocked(std::unique_lock<std::mutex>& lock, Writer* w, Writer** last) {
    while (!w->done && w != writers_.front()) w->cv.wait(lock);
    if (w->done) return nullptr;
    *last = w;
    return BuildGroup(last);
  }

  // With mu_ held: the leader's batch and those of the writers queued behind it, up to a size
  // bound so one writer's latency stays bounded. A non-synced leader does not take synced writers
  // (they would be acknowledged without a sync).
  const BatchRep* BuildGroup(Writer** last) {
    Writer* leader = writers_.front();
    const size_t first_bytes = leader->batch->ApproximateBytes();
    const size_t max_bytes = first_bytes <= (128 << 10) ? first_bytes + (128 << 10) : (1 << 20);
    size_t bytes = first_bytes;
    const BatchRep* group = leader->batch;
    for (auto it = writers_.begin() + 1; it != writers_.end(); ++it) {
      Writer* w = *it;
      if (w->batch == nullptr || (w->sync && !leader->sync)) break;
      bytes += w->batch->ApproximateBytes();
      if (bytes > max_bytes) break;
      if (group == leader->batch) {
        group_batch_ = *leader->batch;
        group = &group_batch_;
      }
      group_batch_.Append(*w->batch);
      *last = w;
    }
    return group;
  }

  void FinishLocked(Writer* leader, Writer* last, const absl::Status& s, uint64_t sequence = 0) {
    for (;;) {
      Writer* ready = writers_.front();
      writers_.pop_front();
      ready->sequence = sequence;
      if (ready != leader) {
        // Each writer gets a status of its own rather than a share of the leader's: the two
        // threads would otherwise free one reference-counted rep between them, with the count
        // dropped inside Debian's uninstrumented libabsl_status, which tsan takes for a race.
        ready->status = s.ok() ? absl::OkStatus() : absl::Status(s.code(), s.message());
        ready->done = true;
        ready->cv.notify_one();
      }
      if (ready == last) break;
    }
    if (!writers_.empty()) writers_.front()->cv.notify_one();
  }

  std::mutex mu_;                // queue_mu_ in engine.h's lock order.
  std::deque<Writer*> writers_;  // Guarded by mu_; the front one is the leader.
  BatchRep group_batch_;         // Used only by the leader.
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_WRITE_QUEUE_H_
