// The storage engine behind KVStore, working on encoded keys and values.
//
// Data path: a write is one WAL append and one MemTable insert. A full MemTable becomes immutable
// and a background thread flushes it to a new segment, then records the segment in the manifest:
// in the newest sorted run if its keys overlap none of that run's segments, else as a new run
// (run.h). A read looks in the MemTable, the immutable MemTable, then the runs newest first: in
// each, at most one segment holds the key, and its filter is asked before its data is touched.
// Compaction merges adjacent runs of similar sizes (size-tiered) into one run of bounded segments,
// dropping versions no reader can see, and installs each segment as it goes (RunCompaction).
//
// Threads: writers (serialized), readers (any number), one flush thread, one compaction thread.
// Writers queue on queue_mu_ (write_queue.h); the one at the front is the leader and alone
// touches the WAL and the MemTable's write side. Locks, always taken in this order: queue_mu_
// (never held across I/O), compaction_mu_ (one compaction at a time), manifest_mu_ (one manifest
// edit at a time, held across its I/O), mu_ (the current state; held only for pointer swaps,
// never across I/O, so reads never wait on a flush or compaction), and old_log_mu_ last (a leaf).
#ifndef KVSTORE_INTERNAL_ENGINE_H_
#define KVSTORE_INTERNAL_ENGINE_H_

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/checkpoint.h"
#include "kvstore/internal/compaction_picker.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/memtable.h"
#include "kvstore/internal/merge.h"
#include "kvstore/internal/run.h"
#include "kvstore/internal/segment.h"
#include "kvstore/internal/wal.h"
#include "kvstore/internal/store_files.h"
#include "kvstore/internal/version_pruner.h"
#include "kvstore/internal/write_queue.h"
#include "kvstore/options.h"
#include "kvstore/snapshot.h"
#include "kvstore/status.h"

namespace kvstore::internal {

template <typename Filter>
class Engine {
 public:
  using SegmentT = Segment<Filter>;
  using Run = SegmentRun<Filter>;

  // The live sorted runs, newest first. Immutable once published.
  struct Version {
    std::vector<Run> runs;

    std::vector<std::shared_ptr<const SegmentT>> Segments() const {
      std::vector<std::shared_ptr<const SegmentT>> segments;
      for (const Run& run : runs) segments.insert(segments.end(), run.begin(), run.end());
      return segments;
    }
  };

  // Everything a read needs, taken together under mu_ so it is consistent.
  struct View {
    std::shared_ptr<const MemTable> mem;
    std::shared_ptr<const MemTable> imm;  // May be null.
    std::shared_ptr<const Version> version;
  };

  struct Stats {
    std::atomic<uint64_t> user_bytes_written{0};
    std::atomic<uint64_t> flush_bytes_written{0};
    std::atomic<uint64_t> compaction_bytes_written{0};
    std::atomic<uint64_t> compaction_bytes_read{0};
    std::atomic<uint64_t> flushes{0};
    std::atomic<uint64_t> compactions{0};
    std::atomic<uint64_t> compactions_between_steps{0};  // Of those, by MergeNewerRunsBetweenSteps.
    std::atomic<uint64_t> filter_negatives{0};  // Segment reads a filter saved.
    std::atomic<uint64_t> segment_reads{0};
    std::atomic<uint64_t> write_slowdowns{0};
    std::atomic<uint64_t> write_stops{0};
    std::atomic<uint64_t> wal_records{0};  // Fewer than writes when writes were grouped.
  };

  ~Engine() { Close().IgnoreError(); }

  // `codec` compresses new blocks and reads compressed ones (null: NoCompression).
  static absl::StatusOr<std::unique_ptr<Engine>> Open(const std::string& dir, const Options& options,
                                                      const std::string& type_signature,
                                                      const BlockCodec* codec = nullptr) {
    auto engine = std::unique_ptr<Engine>(new Engine(dir, options, type_signature, codec));
    if (options.read_only) {
      KV_RETURN_IF_ERROR(engine->RecoverReadOnly());
      return engine;  // No background threads: nothing may be written.
    }
    KV_RETURN_IF_ERROR(engine->Recover());
    engine->flush_thread_ = std::thread([e = engine.get()] { e->FlushLoop(); });
    engine->compaction_thread_ = std::thread([e = engine.get()] { e->CompactionLoop(); });
    return engine;
  }

  // Applies a batch atomically: one WAL record, then every operation into the MemTable.
  //
  // Group commit: writers queue up; the one at the front leads, appends its batch together with
  // those queued behind it as one WAL record (one write(), one fdatasync for all synced ones),
  // applies them to the MemTable, and wakes the others with the shared outcome.
  absl::Status Write(const BatchRep* batch, const WriteOptions& options) {
    if (batch->empty()) return absl::OkStatus();
    KV_RETURN_IF_ERROR(CheckBatchBytes(batch->ApproximateBytes()));
    WriteQueue::Writer w(batch, options.sync);
    WriteQueue::Writer* last = &w;
    const BatchRep* group = write_queue_.Lead(&w, &last);
    if (group == nullptr) return w.status;  // Written by another leader.
    return LeadGroup(&w, last, group);
  }

  // Write, for a caller that must fix the batch's place in the write order under a lock of its
  // own but need not hold that lock while the write happens (a transaction's commit): calls
  // `on_queued` once the batch is queued (every later write gets later sequence numbers), then
  // waits for the write. On success *sequence is a sequence number at or after the batch's own
  // and before any other write's that became visible later. Not called when the batch is refused
  // before it is queued (empty or too big).
  template <typename OnQueued>
  absl::Status WriteOrdered(const BatchRep* batch, const WriteOptions& options, OnQueued&& on_queued,
                            uint64_t* sequence) {
    if (batch->empty()) return absl::OkStatus();
    KV_RETURN_IF_ERROR(CheckBatchBytes(batch->ApproximateBytes()));
    WriteQueue::Writer w(batch, options.sync);
    WriteQueue::Writer* last = &w;
    write_queue_.Enqueue(&w);
    on_queued();
    const BatchRep* group = write_queue_.WaitToLead(&w, &last);
    absl::Status s = group == nullptr ? w.status : LeadGroup(&w, last, group);
    *sequence = w.sequence;
    return s;
  }

  // Calls on_value(value) with the newest visible value of `key` and returns what it returns;
  // NotFound if the key has no live value. `value` is valid only during the call.
  template <typename OnValue>
  absl::Status Get(absl::string_view key, const ReadOptions& options, OnValue&& on_value) const {
    const std::shared_ptr<const View> view = CurrentView();
    if (view == nullptr) return ClosedError();
    if (options.snapshot != nullptr) KV_RETURN_IF_ERROR(CheckSnapshot(*options.snapshot));
    const uint64_t sequence = ReadSequence(options);
    for (const MemTable* mem : {view->mem.get(), view->imm.get()}) {
      // An empty MemTable costs no lock. Whatever a read at `sequence` must see was counted
      // before `sequence` was published (AppendAndApply), so it is not missed here.
      if (mem == nullptr || mem->empty()) continue;
      if (const MemTable::Version* v = mem->Find(key, sequence)) {
        if (v->kind() == EntryKind::kDeletion) return NotFound();
        return on_value(v->value());
      }
    }
    const uint64_t hash = HashKey(key);
    std::string scratch;
    for (const Run& run : view->version->runs) {
      const SegmentT* segment = SegmentForKey(run, key);
      if (segment == nullptr) continue;
      if (!segment->MayContain(hash)) {
        stats_.filter_negatives.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      stats_.segment_reads.fetch_add(1, std::memory_order_relaxed);
      bool found;
      Record record;
      KV_RETURN_IF_ERROR(segment->Get(key, sequence, options.verify_checksums ||
                                                         options_.paranoid_checks,
                                      &scratch, &found, &record));
      if (!found) continue;
      if (TagKind(record.tag) == EntryKind::kDeletion) return NotFound();
      return on_value(record.value);
    }
    return NotFound();
  }

  // A source over the whole store at the read's sequence number, for iterators.
  // A closed store, or a snapshot of another store, gives a source that reports the error.
  std::unique_ptr<KeySource> NewSource(const ReadOptions& options) const {
    const std::shared_ptr<const View> view = CurrentView();
    if (view == nullptr) return std::make_unique<ErrorSource>(ClosedError());
    if (options.snapshot != nullptr) {
      if (absl::Status s = CheckSnapshot(*options.snapshot); !s.ok()) {
        return std::make_unique<ErrorSource>(std::move(s));
      }
    }
    const uint64_t sequence = ReadSequence(options);
    std::vector<std::unique_ptr<KeySource>> sources;
    sources.push_back(std::make_unique<MemTableSource>(view->mem, sequence));
    if (view->imm != nullptr) sources.push_back(std::make_unique<MemTableSource>(view->imm, sequence));
    const bool verify = options.verify_checksums || options_.paranoid_checks;
    for (const Run& run : view->version->runs) {
      if (run.size() == 1) {
        sources.push_back(std::make_unique<SegmentSource<Filter>>(run.front(), sequence, verify));
      } else {
        sources.push_back(std::make_unique<RunSource<Filter>>(run, sequence, verify));
      }
    }
    return std::make_unique<MergedSource>(std::move(sources));
  }

  // Set once the store is closed; shared with iterators, which may outlive it, so that they stop
  // reading (FailedPrecondition) instead of serving a store that no longer exists.
  std::shared_ptr<const std::atomic<bool>> closed_flag() const { return closed_flag_; }

  // OK if `snapshot` was taken from this store while open; a snapshot of another store (or of an
  // earlier opening of this directory) names sequence numbers that mean nothing here.
  absl::Status CheckSnapshot(const Snapshot& snapshot) const {
    if (!snapshot.valid()) {
      return absl::InvalidArgumentError("snapshot is empty (moved from, or never taken)");
    }
    if (snapshot.registry_ != snapshots_) {
      return absl::FailedPreconditionError(
          "snapshot was taken from another store, or before this store was reopened");
    }
    return absl::OkStatus();
  }

  Snapshot GetSnapshot() const {
    // Under mu_, like the flush and compaction reading the live snapshots: either they see this
    // snapshot, or it is taken after they started and needs none of the versions they drop.
    std::lock_guard<std::mutex> lock(mu_);
    return Snapshot(snapshots_, last_sequence_.load(std::memory_order_acquire));
  }

  // Flushes the MemTable to a segment and waits until the segment is recorded in the manifest.
  absl::Status Flush() {
    KV_ASSIGN_OR_RETURN(UserOperation op, BeginUserOperation());
    KV_RETURN_IF_ERROR(RunExclusive([this]() -> absl::Status {
      KV_RETURN_IF_ERROR(WritableState());
      KV_RETURN_IF_ERROR(WaitForImmutableFlush());
      if (mem_->empty()) return absl::OkStatus();
      return SwitchMemTable();
    }));
    return WaitForImmutableFlush();
  }

  // Flushes, then merges every run into one, dropping every version no reader needs.
  absl::Status Compact() {
    KV_ASSIGN_OR_RETURN(UserOperation op, BeginUserOperation());
    KV_RETURN_IF_ERROR(Flush());
    std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
    std::shared_ptr<const Version> version;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_) return ClosedError();
      version = version_;
    }
    // A lone segment is rewritten too: without deletions it may still hold old versions that
    // were kept for snapshots released since, and nothing on disk tells that it does not.
    if (version->runs.empty()) return absl::OkStatus();
    absl::Status s = RunCompaction(version->runs);
    if (absl::IsCancelled(s)) return ClosedError();
    return s;
  }

  // Checks every checksum of every live file.
  // Reports every damaged file (manifest, live segments, WALs still needed), not just the first.
  absl::Status Verify() const {
    KV_ASSIGN_OR_RETURN(UserOperation op, BeginUserOperation());
    // No manifest edit meanwhile: one would delete the files of the manifest being checked.
    std::lock_guard<std::mutex> manifest_lock(manifest_mu_);
    return VerifyStoreFiles<Filter>(env_, dir_, decoding_);
  }

  // Writes a copy of the store as of now into `dest` (new, or an empty directory), durable when
  // this returns; see checkpoint.h for its files. The cut is taken with writes held back (a
  // moment when no write is half applied), and the MemTables go into the copy as a new WAL of
  // their newest versions rather than by flushing first or copying the WAL files: a flush would
  // write a segment here and delay every write behind it, and a WAL being appended to has no
  // cut point a reader can see (nor, on a read-only open, the bytes this open replayed), while
  // the MemTables hold exactly the state at the cut in at most two MemTables' worth of bytes.
  // Writes wait until the copy is written; manifest edits (whose file deletions would race the
  // links) wait too, and flushes and compactions otherwise go on.
  absl::Status Checkpoint(const std::string& dest) {
    KV_ASSIGN_OR_RETURN(UserOperation op, BeginUserOperation());
    KV_RETURN_IF_ERROR(PrepareCheckpointDir(env_, dest));
    return RunExclusive([&]() -> absl::Status {
      std::lock_guard<std::mutex> manifest_lock(manifest_mu_);
      std::shared_ptr<const View> view;
      Manifest manifest;
      uint64_t sequence;
      {
        std::lock_guard<std::mutex> lock(mu_);
        view = view_;
        manifest = manifest_;
        sequence = last_sequence_.load(std::memory_order_acquire);
      }
      if (view == nullptr) return ClosedError();
      return WriteCheckpoint<Filter>(env_, dest, view->version->runs, view->imm.get(),
                                     view->mem.get(), manifest, sequence);
    });
  }

  // Lifecycle (kvstore.h states it for users): from the moment Close starts, new calls fail with
  // FailedPrecondition; compactions stop at their next record and flushes being waited for are
  // abandoned (their WAL still holds the data); Close then waits for every call in flight (user
  // Flush, Compact and Verify calls, the writes queued before it, the background threads) before
  // it syncs the WAL and releases the directory's lock, so nothing touches the directory after.
  // Concurrent Close calls all wait for the first and return its outcome.
  absl::Status Close() {
    std::lock_guard<std::mutex> close_lock(close_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return close_status_;
      closed_ = true;
      writes_refused_.store(true, std::memory_order_release);
      shutting_down_ = true;
      closed_flag_->store(true, std::memory_order_release);
    }
    work_cv_.notify_all();
    done_cv_.notify_all();
    if (flush_thread_.joinable()) flush_thread_.join();
    if (compaction_thread_.joinable()) compaction_thread_.join();
    {
      std::unique_lock<std::mutex> lock(mu_);
      done_cv_.wait(lock, [this] { return user_operations_ == 0; });
    }
    // Waits for writes in flight; later ones see closed_ and fail.
    absl::Status s = RunExclusive([this]() -> absl::Status {
      absl::Status synced;
      if (FatalError().ok()) {
        if (log_ != nullptr) synced = SyncBeforeSyncedWrite();  // As for a synced write.
      } else {
        std::lock_guard<std::mutex> lock(old_log_mu_);
        if (old_log_ != nullptr) DropOldWalLocked();
      }
      if (log_ != nullptr) {
        if (synced.ok() && FatalError().ok()) synced = log_->Sync();
        absl::Status closed = log_->Close();
        if (synced.ok()) synced = closed;
        log_.reset();
      }
      return synced;
    });
    {
      std::lock_guard<std::mutex> lock(mu_);
      view_.reset();
      mem_.reset();
      imm_.reset();
      version_.reset();
      close_status_ = s;
    }
    lock_.reset();
    return s;
  }

  // Named statistics; see KVStore::GetProperty for the names.
  std::optional<std::string> GetProperty(absl::string_view name) const {
    const std::shared_ptr<const View> view = CurrentView();
    if (view == nullptr) return std::nullopt;
    const std::vector<std::shared_ptr<const SegmentT>> segments = view->version->Segments();
    if (name == "kvstore.num-segments") return absl::StrCat(segments.size());
    if (name == "kvstore.num-runs") return absl::StrCat(view->version->runs.size());
    if (name == "kvstore.segment-bytes" || name == "kvstore.total-bytes") {
      uint64_t bytes = 0;
      for (const auto& s : segments) bytes += s->info().file_bytes;
      return absl::StrCat(bytes);
    }
    if (name == "kvstore.segments") {
      std::string out;
      for (size_t r = 0; r < view->version->runs.size(); ++r) {
        for (const auto& s : view->version->runs[r]) {
          absl::StrAppend(&out, "run ", r, ": ", s->info().number, " ", s->info().file_bytes,
                          " bytes ", s->info().num_entries, " entries\n");
        }
      }
      return out;
    }
    if (name == "kvstore.memtable-bytes") {
      return absl::StrCat(view->mem->ApproximateMemoryUsage() +
                          (view->imm ? view->imm->ApproximateMemoryUsage() : 0));
    }
    if (name == "kvstore.block-cache-bytes") {
      return absl::StrCat(decoding_.cache ? decoding_.cache->usage() : 0);
    }
    if (name == "kvstore.block-cache-hits") {
      return absl::StrCat(decoding_.cache ? decoding_.cache->hits() : 0);
    }
    if (name == "kvstore.block-cache-misses") {
      return absl::StrCat(decoding_.cache ? decoding_.cache->misses() : 0);
    }
    if (name == "kvstore.compression") {
      return std::string(decoding_.codec != nullptr ? decoding_.codec->name : "none");
    }
    if (name == "kvstore.index-filter-bytes") {
      uint64_t bytes = 0;
      for (const auto& s : segments) bytes += s->MemoryUsage();
      return absl::StrCat(bytes);
    }
    if (name == "kvstore.num-entries") {
      uint64_t n = view->mem->num_versions() + (view->imm ? view->imm->num_versions() : 0);
      for (const auto& s : segments) n += s->info().num_entries;
      return absl::StrCat(n);
    }
    if (name == "kvstore.live-snapshots") return absl::StrCat(snapshots_->size());
    if (name == "kvstore.last-sequence") {
      return absl::StrCat(last_sequence_.load(std::memory_order_acquire));
    }
    auto stat = [](const std::atomic<uint64_t>& v) { return absl::StrCat(v.load()); };
    if (name == "kvstore.user-bytes-written") return stat(stats_.user_bytes_written);
    if (name == "kvstore.flush-bytes-written") return stat(stats_.flush_bytes_written);
    if (name == "kvstore.compaction-bytes-written") return stat(stats_.compaction_bytes_written);
    if (name == "kvstore.compaction-bytes-read") return stat(stats_.compaction_bytes_read);
    if (name == "kvstore.flushes") return stat(stats_.flushes);
    if (name == "kvstore.compactions") return stat(stats_.compactions);
    if (name == "kvstore.compactions-between-steps") return stat(stats_.compactions_between_steps);
    if (name == "kvstore.filter-negatives") return stat(stats_.filter_negatives);
    if (name == "kvstore.segment-reads") return stat(stats_.segment_reads);
    if (name == "kvstore.write-slowdowns") return stat(stats_.write_slowdowns);
    if (name == "kvstore.write-stops") return stat(stats_.write_stops);
    if (name == "kvstore.wal-records") return stat(stats_.wal_records);
    if (name == "kvstore.wal-tail-bytes-dropped") return absl::StrCat(wal_tail_bytes_dropped_);
    if (name == "kvstore.write-amplification") {
      const double user = static_cast<double>(stats_.user_bytes_written.load());
      const double disk = static_cast<double>(stats_.user_bytes_written.load() +
                                              stats_.flush_bytes_written.load() +
                                              stats_.compaction_bytes_written.load());
      return absl::StrCat(user > 0 ? disk / user : 0.0);
    }
    return std::nullopt;
  }

  // Waits until no flush or compaction is pending or running (for tests and benchmarks).
  absl::Status WaitForBackgroundWork() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] {
      return shutting_down_ || !fatal_.ok() ||
             (imm_ == nullptr && !compaction_busy_ && !idle_flush_pending_ &&
              !CompactionNeededLocked());
    });
    if (shutting_down_) return ClosedError();
    return options_.read_only ? absl::OkStatus() : fatal_;  // No background work read-only.
  }

  const std::string& dir() const { return dir_; }

  // The sequence number of the newest write applied (what a snapshot taken now would read at).
  // Once a Write() returns, this is at least the last sequence number that write was given.
  uint64_t LastSequence() const { return last_sequence_.load(std::memory_order_acquire); }

 private:
  Engine(std::string dir, const Options& options, std::string type_signature,
         const BlockCodec* codec)
      : dir_(std::move(dir)),
        options_(Sanitize(options)),
        env_(options.env != nullptr ? options.env : Env::Default()),
        type_signature_(std::move(type_signature)),
        snapshots_(std::make_shared<SnapshotRegistry>()) {
    decoding_.codec = codec;
    // Only compressed blocks are cached: raw ones are read in place from the mapped file.
    if (codec != nullptr && options_.block_cache_bytes > 0) {
      decoding_.cache = std::make_shared<BlockCache>(options_.block_cache_bytes);
    }
  }

  // Brings every option into the range the engine works in. The bounds leave room for the sums
  // below (no int overflow near INT_MAX), and NaN ratios take the nearest sane value.
  static Options Sanitize(Options options) {
    options.memtable_bytes = std::clamp<size_t>(options.memtable_bytes, 4096, size_t{1} << 40);
    options.block_bytes = std::clamp<size_t>(options.block_bytes, 256, 1 << 20);
    constexpr int kMaxRuns = 1 << 20;
    options.compaction_trigger = std::clamp(options.compaction_trigger, 2, kMaxRuns);
    if (!(options.compaction_size_ratio >= 1.0)) options.compaction_size_ratio = 1.0;
    options.segment_bytes = std::max<uint64_t>(options.segment_bytes, 4096);
    if (!(options.max_space_amplification >= 0.05)) options.max_space_amplification = 0.05;
    options.slowdown_segments =
        std::clamp(options.slowdown_segments, options.compaction_trigger + 1, kMaxRuns + 1);
    options.stop_segments =
        std::clamp(options.stop_segments, options.slowdown_segments + 1, kMaxRuns + 2);
    if (options.read_only) {  // Nothing may be created; no compaction will be waited for.
      options.create_if_missing = false;
      options.error_if_exists = false;
      options.background_compaction = false;
    }
    return options;
  }

  static absl::Status NotFound() { return absl::NotFoundError("key not found"); }
  static absl::Status ClosedError() { return absl::FailedPreconditionError("store is closed"); }

  // A user call that Close must wait for (it may touch the directory or the live version); taken
  // only while the store is open. Movable, so that it can travel in a StatusOr.
  class UserOperation {
   public:
    explicit UserOperation(const Engine* engine) : engine_(engine) {}
    UserOperation(UserOperation&& other) noexcept : engine_(std::exchange(other.engine_, nullptr)) {}
    UserOperation& operator=(UserOperation&&) = delete;
    ~UserOperation() {
      if (engine_ == nullptr) return;
      std::lock_guard<std::mutex> lock(engine_->mu_);
      if (--engine_->user_operations_ == 0) engine_->done_cv_.notify_all();
    }

   private:
    const Engine* engine_;
  };

  absl::StatusOr<UserOperation> BeginUserOperation() const {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return ClosedError();
    ++user_operations_;
    return UserOperation(this);
  }

  uint64_t ReadSequence(const ReadOptions& options) const {
    return options.snapshot != nullptr ? options.snapshot->sequence()
                                       : last_sequence_.load(std::memory_order_acquire);
  }

  std::shared_ptr<const View> CurrentView() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }

  // The runs writes are throttled by. The runs standing for a merge in progress count as the one
  // run it makes of them: merging all of them, its first steps leave as many runs as before, and
  // throttling writers for that would only slow them while nothing else can merge.
  size_t ThrottledRunsLocked() const {
    return version_->runs.size() - std::min(version_->runs.size(), merging_extra_runs_);
  }

  void PublishViewLocked() {
    num_runs_.store(ThrottledRunsLocked(), std::memory_order_release);
    average_entry_bytes_.store(AverageEntryBytesLocked(), std::memory_order_relaxed);
    auto view = std::make_shared<View>();
    view->mem = mem_;
    view->imm = imm_;
    view->version = version_;
    view_ = std::move(view);
  }

  absl::Status FatalError() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fatal_;
  }

  absl::Status SetFatal(absl::Status s) {
    std::lock_guard<std::mutex> lock(mu_);
    SetFatalLocked(s);
    done_cv_.notify_all();
    return s;
  }

  // The first failure wins; writes are refused from now on.
  void SetFatalLocked(absl::Status s) {
    if (fatal_.ok()) fatal_ = std::move(s);
    writes_refused_.store(true, std::memory_order_release);
  }

  absl::Status WritableState() const {
    // Every write asks; the lock is needed only to read why writes are refused.
    if (!writes_refused_.load(std::memory_order_acquire)) return absl::OkStatus();
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return ClosedError();
    return fatal_;
  }

  // ---- Opening -------------------------------------------------------------------------------

  absl::Status Recover() {
    if (env_->FileExists(dir_) && !env_->IsDirectory(dir_)) {
      return absl::FailedPreconditionError(absl::StrCat(dir_, " exists and is not a directory"));
    }
    if (!env_->FileExists(dir_)) {
      if (!options_.create_if_missing) {
        return absl::NotFoundError(absl::StrCat("no store at ", dir_, " (create_if_missing is false)"));
      }
      KV_RETURN_IF_ERROR(env_->CreateDir(dir_));
    }
    if (!options_.read_only) {
      KV_ASSIGN_OR_RETURN(lock_, env_->LockFile(LockFileName(dir_)));
    }
    KV_ASSIGN_OR_RETURN(std::vector<std::string> children, env_->GetChildren(dir_));

    Manifest manifest;
    if (env_->FileExists(ManifestFileName(dir_))) {
      if (options_.error_if_exists) {
        return absl::AlreadyExistsError(absl::StrCat("a store exists at ", dir_, " (error_if_exists is true)"));
      }
      KV_RETURN_IF_ERROR(ReadManifest(env_, dir_, &manifest));
      if (!manifest.type_signature.empty() && !type_signature_.empty() &&
          manifest.type_signature != type_signature_) {
        return absl::FailedPreconditionError(absl::StrCat(
            "store at ", dir_, " holds key/value types \"", manifest.type_signature,
            "\" but was opened as \"", type_signature_, "\""));
      }
      if (manifest.filter_name != Filter::Name()) {
        return absl::FailedPreconditionError(
            absl::StrCat("store at ", dir_, " was written with filter \"", manifest.filter_name,
                         "\"; it is opened with filter \"", Filter::Name(), "\""));
      }
    } else {
      for (const std::string& name : children) {
        uint64_t number;
        const FileKind kind = ParseFileName(name, &number);
        if (kind == FileKind::kSegment || kind == FileKind::kWal) {
          return absl::DataLossError(absl::StrCat(
              dir_, " holds store files (", name, ") but no MANIFEST; refusing to open it as empty"));
        }
      }
      if (!options_.create_if_missing) {
        return absl::NotFoundError(absl::StrCat("no store at ", dir_, " (create_if_missing is false)"));
      }
      manifest.type_signature = type_signature_;
      manifest.filter_name = std::string(Filter::Name());
      KV_RETURN_IF_ERROR(WriteManifest(env_, dir_, manifest));
    }
    // A store without a recorded signature (rebuilt by Repair from no readable manifest) takes
    // the types it is first opened with, recorded by the next manifest written.
    if (manifest.type_signature.empty()) manifest.type_signature = type_signature_;
    // A store of an older readable version gets files of this one from now on, and says so in
    // the next manifest written (read-only opens write none).
    manifest.format_version = kFormatVersion;
    manifest_ = manifest;
    next_file_number_ = manifest.next_file_number;

    auto version = std::make_shared<Version>();
    for (const std::vector<uint64_t>& numbers : manifest.runs) {
      Run& run = version->runs.emplace_back();
      for (uint64_t number : numbers) {
        KV_ASSIGN_OR_RETURN(std::shared_ptr<const SegmentT> segment,
                            SegmentT::Open(env_, dir_, number, decoding_));
        if (auto clip = manifest.clips.find(number); clip != manifest.clips.end()) {
          if (!segment->CanClipBelow(clip->second)) {
            return absl::DataLossError(absl::StrCat("corruption in ", ManifestFileName(dir_),
                                                    ": segment ", number,
                                                    " is clipped outside its key range"));
          }
          segment = segment->ClippedBelow(clip->second);
        }
        // Lookups rely on a run's segments being disjoint and in order: check what the manifest says.
        if (!run.empty() && !(run.back()->info().largest_key < segment->info().smallest_key)) {
          return absl::DataLossError(absl::StrCat(
              "corruption in ", ManifestFileName(dir_), ": segment ", number,
              " overlaps or precedes the segment before it in its sorted run"));
        }
        run.push_back(std::move(segment));
      }
    }
    version_ = std::move(version);
    if (!options_.read_only) MarkShadowedRuns(*version_);

    // Replay every WAL the manifest still needs, oldest first, into one MemTable.
    uint64_t last_sequence = manifest.last_sequence;
    std::vector<uint64_t> wals;
    uint64_t wal_bytes = 0;
    for (const std::string& name : children) {
      // ParseFileName sets `number` only for WALs and segments (MANIFEST, LOCK, *.tmp have none).
      uint64_t number = 0;
      const FileKind kind = ParseFileName(name, &number);
      if (kind == FileKind::kWal && number >= manifest.log_number) {
        wals.push_back(number);
        if (auto size = env_->GetFileSize(WalFileName(dir_, number)); size.ok()) wal_bytes += *size;
      }
      if (kind == FileKind::kWal || kind == FileKind::kSegment) {
        next_file_number_ = std::max(next_file_number_, number + 1);
      }
    }
    std::sort(wals.begin(), wals.end());
    // The MemTable's hash index never grows, so it is sized for everything to replay: WALs written
    // with a larger memtable_bytes than this opening's would otherwise make replay quadratic.
    mem_ = std::make_shared<MemTable>(std::max<uint64_t>(options_.memtable_bytes, wal_bytes));
    for (uint64_t number : wals) KV_RETURN_IF_ERROR(ReplayWal(number, &last_sequence));
    last_sequence_.store(last_sequence, std::memory_order_release);
    if (options_.read_only) {
      std::lock_guard<std::mutex> lock(mu_);
      PublishViewLocked();
      SetFatalLocked(absl::FailedPreconditionError(
          absl::StrCat("store at ", dir_, " is open read-only (Options::read_only): writes, "
                       "Flush, Compact and commits are refused")));
      return absl::OkStatus();
    }

    // New writes go to a new WAL: appending after a torn tail would make it look like damage.
    KV_RETURN_IF_ERROR(NewWal());
    {
      std::lock_guard<std::mutex> lock(mu_);
      PublishViewLocked();
    }
    DeleteObsoleteFiles(/*remove_temporaries=*/true);
    // The replayed writes may exist only in the OS cache (the process that wrote them may have
    // died before a sync), and no later sync covers the old WALs. Flush them to a segment now,
    // as LevelDB does, so that a synced write acknowledged later never survives a power loss
    // that the recovered writes before it do not. With nothing replayed the manifest still moves
    // on to the new WAL, so that the old ones are deleted: opening without writing must not leave
    // one more WAL each time.
    if (!mem_->empty() || !wals.empty()) {
      std::shared_ptr<const MemTable> recovered;
      {
        std::lock_guard<std::mutex> lock(mu_);
        imm_ = std::move(mem_);
        imm_log_number_ = log_number_;
        imm_last_sequence_ = last_sequence;
        mem_ = std::make_shared<MemTable>(options_.memtable_bytes);
        recovered = imm_;
        PublishViewLocked();
      }
      // If that fails (a full disk, say), the store still opens for reading; writes are refused.
      if (absl::Status s = FlushImmutable(recovered); !s.ok()) {
        SetFatal(absl::Status(
                     s.code(), absl::StrCat("cannot flush the writes recovered from the WAL; the "
                                            "store is readable but refuses writes until reopened: ",
                                            s.message())))
            .IgnoreError();
      }
    }
    return absl::OkStatus();
  }

  // Recover without writing. Another process may be writing the store meanwhile: a compaction
  // there may delete a segment between our reading the manifest and opening it, a flush may
  // delete a WAL before we read it (NotFound), and a WAL being appended to may show a record
  // whose later bytes arrived before its earlier ones (DataLoss, gone when read again). Each
  // means the files moved on under us, so recovery starts over from the new manifest.
  absl::Status RecoverReadOnly() {
    absl::Status s;
    for (int attempt = 0; attempt < kReadOnlyOpenAttempts; ++attempt) {
      if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(attempt));
      wal_tail_bytes_dropped_ = 0;
      s = Recover();
      if (!absl::IsNotFound(s) && !absl::IsDataLoss(s)) return s;
      if (!env_->FileExists(ManifestFileName(dir_))) return s;  // No store: nothing to wait for.
    }
    return s;
  }
  static constexpr int kReadOnlyOpenAttempts = 10;

  absl::Status ReplayWal(uint64_t number, uint64_t* last_sequence) {
    MemTable* mem = mem_.get();
    size_t dropped = 0;
    KV_RETURN_IF_ERROR(ForEachWalOperation(
        env_, WalFileName(dir_, number),
        [&](uint64_t seq, EntryKind kind, absl::string_view k, absl::string_view v) {
          mem->Add(seq, kind, k, v);
          *last_sequence = std::max(*last_sequence, seq);
        },
        &dropped));
    wal_tail_bytes_dropped_ += dropped;
    return absl::OkStatus();
  }

  absl::Status NewWal() {
    uint64_t number;
    {
      std::lock_guard<std::mutex> lock(mu_);  // The flush and compaction threads take numbers too.
      number = next_file_number_++;
    }
    KV_ASSIGN_OR_RETURN(auto file, env_->NewLogFile(WalFileName(dir_, number)));
    // The new file's directory entry must be durable before a synced write in it is acknowledged;
    // the first synced write syncs the directory (SyncForSyncedWrite), so that writes without sync
    // never wait for it (the flush's manifest makes it durable anyway).
    wal_dir_synced_ = false;
    if (log_ != nullptr) {
      // A synced write in the new WAL must not outlive a power loss that unsynced writes before
      // it, in the old WAL, do not survive. The old WAL is not synced here, though: that would
      // put an fdatasync of a whole MemTable's worth of log in the path of the writes at every
      // switch. It stays open instead; the first synced write in the new WAL syncs it (SyncOldWal),
      // and once its MemTable is in a durable segment it is closed unsynced (CloseFlushedWal).
      // There is at most one such WAL: a switch waits for the previous MemTable's flush.
      KV_RETURN_IF_ERROR(SyncOldWal());
      std::lock_guard<std::mutex> lock(old_log_mu_);
      old_log_ = std::move(log_);
      old_log_number_ = log_number_;
      have_old_log_.store(true, std::memory_order_release);
    }
    log_ = std::make_unique<LogWriter>(std::move(file));
    std::lock_guard<std::mutex> lock(mu_);  // DeleteObsoleteFiles reads it from other threads.
    log_number_ = number;
    return absl::OkStatus();
  }

  // What a synced write needs durable before its own record: the previous WAL (if still open) and
  // the current WAL's directory entry. Called by the write leader.
  absl::Status SyncBeforeSyncedWrite() {
    KV_RETURN_IF_ERROR(SyncOldWal());
    if (wal_dir_synced_) return absl::OkStatus();
    if (absl::Status s = env_->SyncDir(dir_); !s.ok()) {
      return SetFatal(absl::Status(
          s.code(), absl::StrCat("directory sync failed; the store refuses writes until reopened: ",
                                 s.message())));
    }
    wal_dir_synced_ = true;
    return absl::OkStatus();
  }

  // Makes the previous WAL durable and closes it, if it is still open: before a synced write is
  // acknowledged, and at Close. A failed sync is sticky (the kernel may have dropped the pages).
  absl::Status SyncOldWal() {
    if (!have_old_log_.load(std::memory_order_acquire)) return absl::OkStatus();
    absl::Status synced;
    {
      std::lock_guard<std::mutex> lock(old_log_mu_);
      if (old_log_ == nullptr) return absl::OkStatus();
      synced = old_log_->Sync();
      if (synced.ok()) DropOldWalLocked();
    }
    if (synced.ok()) return synced;
    return SetFatal(absl::Status(
        synced.code(), absl::StrCat("WAL sync failed; the store refuses writes until reopened: ",
                                    synced.message())));
  }

  // Called once a flush has made the writes of WALs below `log_number` durable in a segment: the
  // previous WAL, if still open, need never be synced now.
  void CloseFlushedWal(uint64_t log_number) {
    std::lock_guard<std::mutex> lock(old_log_mu_);
    if (old_log_ != nullptr && old_log_number_ < log_number) DropOldWalLocked();
  }

  void DropOldWalLocked() {
    old_log_->Close().IgnoreError();  // Nothing depends on it any more.
    old_log_.reset();
    have_old_log_.store(false, std::memory_order_release);
  }

  // ---- Writing -------------------------------------------------------------------------------

  // Runs `fn` while no write is in progress, in queue order with the writes.
  template <typename Fn>
  absl::Status RunExclusive(Fn&& fn) {
    return write_queue_.RunExclusive(std::forward<Fn>(fn));
  }

  // Called by the leader: one WAL record for the group, then the MemTable.
  // The leader's part of a write: writes the group it leads and hands every writer the outcome.
  absl::Status LeadGroup(WriteQueue::Writer* leader, WriteQueue::Writer* last,
                        const BatchRep* group) {
    absl::Status s = WritableState();
    if (s.ok()) s = MakeRoomForWrite(group->ApproximateBytes());
    if (s.ok()) s = AppendAndApply(group, leader->sync);
    const uint64_t sequence = s.ok() ? last_sequence_.load(std::memory_order_relaxed) : 0;
    write_queue_.Finish(leader, last, s, sequence);
    return s;
  }

  // The batch is only read: a caller's const batch is written as it stands, with the header
  // (sequence numbers) encoded beside it, not copied to be changed.
  absl::Status AppendAndApply(const BatchRep* group, bool sync) {
    const uint64_t first = last_sequence_.load(std::memory_order_relaxed) + 1;
    char header[BatchRep::kHeaderBytes];
    group->EncodeHeader(first, header);
    // Already sticky on failure, with a message of its own.
    if (sync) KV_RETURN_IF_ERROR(SyncBeforeSyncedWrite());
    absl::Status s =
        log_->AddRecord(absl::string_view(header, sizeof(header)), group->body(), sync);
    if (!s.ok()) {
      // The log may now end in a partial record; appending after it would turn a torn tail into
      // mid-log damage. And after a failed sync the kernel may have dropped the data while a
      // later sync reports success. So refuse all writes until the store is reopened.
      return SetFatal(absl::Status(
          s.code(), absl::StrCat("WAL write failed; the store refuses writes until reopened: ",
                                 s.message())));
    }
    MemTable::BatchInserter inserter(mem_.get());
    s = group->ForEachEncodedHere(
        first, [&inserter](uint64_t seq, EntryKind kind, absl::string_view k,
                           absl::string_view v) { inserter.Add(seq, kind, k, v); });
    inserter.Finish();
    if (!s.ok()) return SetFatal(s);
    AddByOneWriter(stats_.user_bytes_written, group->ApproximateBytes());
    AddByOneWriter(stats_.wal_records, 1);
    last_sequence_.store(first + group->count() - 1, std::memory_order_release);
    return absl::OkStatus();
  }

  // For counters only the write leader changes: a plain store instead of a locked add.
  static void AddByOneWriter(std::atomic<uint64_t>& counter, uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }

  // Called by the write leader. Stall policy: while the immutable MemTable is still being flushed,
  // small writes in the last quarter of the MemTable sleep 1 ms each and a full MemTable waits; with
  // many sorted runs waiting for compaction (each costs a read one more filter probe) each write
  // first sleeps 1 ms (slowing writers gradually so compaction catches up), and at stop_segments
  // runs writes wait.
  absl::Status MakeRoomForWrite(size_t bytes) {
    bool slowed = false;
    for (;;) {
      const size_t runs = num_runs_.load(std::memory_order_acquire);
      if (!slowed && runs >= static_cast<size_t>(options_.slowdown_segments) &&
          runs < static_cast<size_t>(options_.stop_segments) && options_.background_compaction) {
        stats_.write_slowdowns.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        slowed = true;
        continue;
      }
      const size_t usage = mem_->ApproximateMemoryUsage() + bytes;
      const bool full = usage > options_.memtable_bytes;
      // The last quarter of a MemTable filling while the previous one is still being flushed:
      // each write first sleeps 1 ms, giving the flush the CPU, rather than all waiting for it
      // at once when the MemTable is full (a stop of tens of milliseconds for one write). Only
      // for writes small beside the MemTable: a few large ones fill the last quarter anyway, and
      // a millisecond each would be most of their time.
      if (!full && !slowed && bytes < options_.memtable_bytes / 64 &&
          usage > options_.memtable_bytes / 4 * 3 && FlushPending()) {
        stats_.write_slowdowns.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        slowed = true;
        continue;
      }
      if (!full && !DeletionsWorthFlushing()) return absl::OkStatus();
      std::unique_lock<std::mutex> lock(mu_);
      if (imm_ != nullptr ||
          (runs >= static_cast<size_t>(options_.stop_segments) && options_.background_compaction)) {
        if (!full) return absl::OkStatus();  // An early flush is worth no wait.
        stats_.write_stops.fetch_add(1, std::memory_order_relaxed);
        done_cv_.wait(lock, [this] {
          return shutting_down_ || !fatal_.ok() ||
                 (imm_ == nullptr &&
                  (ThrottledRunsLocked() < static_cast<size_t>(options_.stop_segments) ||
                   !options_.background_compaction));
        });
        if (shutting_down_) return absl::FailedPreconditionError("store is closing");
        KV_RETURN_IF_ERROR(fatal_);
        continue;
      }
      lock.unlock();
      return SwitchMemTable();
    }
  }

  bool FlushPending() {
    std::lock_guard<std::mutex> lock(mu_);
    return imm_ != nullptr;
  }

  // Deletions are small in the MemTable and large on disk: once those it holds may free more than
  // a MemTable's worth of segment bytes, it is flushed early, so that a long run of deletions
  // gives space back while it runs (compaction weighs what they shadow, see PickCompaction).
  bool DeletionsWorthFlushing() const {
    return static_cast<double>(mem_->num_deletions()) *
               average_entry_bytes_.load(std::memory_order_relaxed) >
           static_cast<double>(options_.memtable_bytes);
  }

  // Called by the write leader with no immutable MemTable: freezes the MemTable, starts a new WAL.
  absl::Status SwitchMemTable() {
    KV_RETURN_IF_ERROR(NewWal());
    std::lock_guard<std::mutex> lock(mu_);
    imm_ = std::move(mem_);
    imm_log_number_ = log_number_;  // Once imm_ is in a segment, WALs below this are obsolete.
    imm_last_sequence_ = last_sequence_.load(std::memory_order_relaxed);
    mem_ = std::make_shared<MemTable>(options_.memtable_bytes);
    PublishViewLocked();
    // notify_all: the flush and the compaction thread both wait on work_cv_, and a notify_one
    // that wakes only the compaction thread would leave the MemTable unflushed forever.
    work_cv_.notify_all();
    return absl::OkStatus();
  }

  absl::Status WaitForImmutableFlush() {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return imm_ == nullptr || !fatal_.ok() || shutting_down_; });
    if (imm_ != nullptr && fatal_.ok()) return absl::FailedPreconditionError("store is closing");
    return fatal_;
  }

  // ---- Background work -----------------------------------------------------------------------

  bool CompactionNeededLocked() const {
    return options_.background_compaction && !PickCompaction(*version_).empty();
  }

  // Flushes get their own thread so that a long compaction never holds up a full MemTable.
  void FlushLoop() {
    std::unique_lock<std::mutex> lock(mu_);
    const auto flush_ready = [this] { return shutting_down_ || (fatal_.ok() && imm_ != nullptr); };
    const auto idle_period = std::chrono::milliseconds(options_.idle_flush_ms);
    uint64_t sequence_seen = last_sequence_.load(std::memory_order_acquire);
    for (;;) {
      if (options_.idle_flush_ms == 0) {
        work_cv_.wait(lock, flush_ready);
      } else if (!work_cv_.wait_for(lock, idle_period, flush_ready)) {
        const uint64_t sequence = last_sequence_.load(std::memory_order_acquire);
        const bool idle = sequence == sequence_seen;
        sequence_seen = sequence;
        if (idle && fatal_.ok() && IdleFlushWorthwhileLocked()) {
          idle_flush_pending_ = true;
          lock.unlock();
          // Only if no writer is queued: this thread must never wait behind a writer, who may be
          // waiting for this thread to flush. A failure here (say, no space for the new WAL) is
          // the writes' to report, not ours.
          write_queue_.TryRunExclusive([this]() -> absl::Status {
            KV_RETURN_IF_ERROR(WritableState());
            {
              std::lock_guard<std::mutex> state_lock(mu_);
              // A write switched MemTables meanwhile: nothing idle to flush (and this thread is
              // the one that would have to flush it first).
              if (imm_ != nullptr || mem_->empty()) return absl::OkStatus();
            }
            return SwitchMemTable();
          }).IgnoreError();
          lock.lock();
          idle_flush_pending_ = false;
          done_cv_.notify_all();
        }
        continue;
      }
      if (shutting_down_) break;
      std::shared_ptr<const MemTable> imm = imm_;
      lock.unlock();
      absl::Status s = FlushImmutable(imm);
      imm.reset();
      lock.lock();
      if (!s.ok()) {
        SetFatalLocked(absl::Status(s.code(), absl::StrCat("flush failed; the store refuses writes "
                                                           "until reopened: ", s.message())));
      }
      done_cv_.notify_all();
      work_cv_.notify_all();
    }
  }

  // Whether the MemTable of an idle store is worth a flush before it fills: when the versions it
  // holds may free at least kIdleFlushMinBytes on disk once compacted with what they replace
  // (each counted as an average entry of the segments). Deletions and shrinking overwrites sit in
  // a MemTable that fills slowly, and until flushed they reclaim nothing.
  bool IdleFlushWorthwhileLocked() const {
    if (mem_ == nullptr || mem_->empty() || imm_ != nullptr) return false;
    return static_cast<double>(mem_->num_versions()) *
               average_entry_bytes_.load(std::memory_order_relaxed) >=
           static_cast<double>(kIdleFlushMinBytes);
  }
  static constexpr uint64_t kIdleFlushMinBytes = 1 << 20;

  // Bytes on disk per entry, over every live segment (0 when there are none).
  double AverageEntryBytesLocked() const {
    uint64_t bytes = 0, entries = 0;
    for (const Run& run : version_->runs) {
      bytes += RunBytes(run);
      entries += RunEntries(run);
    }
    return entries == 0 ? 0.0 : static_cast<double>(bytes) / static_cast<double>(entries);
  }

  void CompactionLoop() {
    // Compaction is the work that can wait: at a lower CPU priority it takes the cores writers and
    // flushes leave idle instead of slowing them (on 2 cores, three busy threads otherwise share
    // them evenly, and a writer then stalls for its flush). Best effort: an error keeps the default.
    ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), kCompactionNice);
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      work_cv_.wait(lock, [this] {
        return shutting_down_ || (fatal_.ok() && CompactionNeededLocked());
      });
      if (shutting_down_) break;
      compaction_busy_ = true;
      lock.unlock();
      absl::Status s;
      {
        std::lock_guard<std::mutex> compaction_lock(compaction_mu_);
        // Picked only now, under compaction_mu_: a Compact() call may have run while this thread
        // waited for the lock, and runs picked before it may no longer exist as runs. (Its steps
        // leave segments that were live during it in other runs, so their being live is not
        // enough: merging them as the runs they were would erase runs they are no longer.)
        std::vector<Run> inputs;
        {
          std::lock_guard<std::mutex> relock(mu_);
          if (!shutting_down_ && fatal_.ok()) inputs = PickCompaction(*version_);
        }
        if (!inputs.empty()) {
          s = RunCompaction(std::move(inputs), MergeKind::kBackground);
        }
      }
      lock.lock();
      compaction_busy_ = false;
      if (!s.ok() && !(absl::IsCancelled(s) && shutting_down_)) {
        SetFatalLocked(absl::Status(s.code(), absl::StrCat("compaction failed; the store refuses "
                                                           "writes until reopened: ", s.message())));
      }
      done_cv_.notify_all();
    }
  }

  static constexpr int kCompactionNice = 10;

  std::vector<Run> PickCompaction(const Version& version) const {
    return internal::PickCompaction<Filter>(version.runs, options_);
  }

  absl::Status FlushImmutable(const std::shared_ptr<const MemTable>& imm) {
    uint64_t number, log_number, last_sequence;
    bool bottommost = false;
    std::vector<uint64_t> snapshots;
    {
      std::lock_guard<std::mutex> lock(mu_);  // See GetSnapshot.
      number = NewOutputNumberLocked();
      log_number = imm_log_number_;
      last_sequence = imm_last_sequence_;
      snapshots = snapshots_->Sorted();
    }
    std::shared_ptr<const SegmentT> segment;
    if (!imm->empty()) {
      auto view = imm->Sorted();
      // With no older version of any of its keys anywhere, the flush is at the bottom: tombstones
      // and versions only snapshots of nothing would read can go. (Compactions running meanwhile
      // only merge what exists, so no such version can appear.)
      {
        std::lock_guard<std::mutex> lock(mu_);
        SegmentInfo range;
        range.smallest_key = std::string(view->front()->key());
        range.largest_key = std::string(view->back()->key());
        bottommost = true;
        for (const auto& existing : version_->Segments()) {
          if (KeyRangesOverlap(existing->info(), range)) bottommost = false;
        }
      }
      VersionPruner pruner(std::move(snapshots), bottommost);
      absl::StatusOr<std::shared_ptr<const SegmentT>> written = WriteSegment(
          number, view->size(), [&](auto&& emit, auto&& /*bytes_written*/) -> absl::Status {
            for (const MemTable::KeyEntry* entry : *view) {
              for (const MemTable::Version* v = entry->newest(); v != nullptr; v = v->older) {
                if (pruner.Keep(entry->key(), v->tag, v->older == nullptr)) {
                  KV_RETURN_IF_ERROR(emit(entry->key(), pruner.TagToWrite(v->tag), v->value()));
                }
              }
            }
            return absl::OkStatus();
          });
      KV_RETURN_IF_ERROR(written.status());
      segment = *written;
      if (segment != nullptr) stats_.flush_bytes_written.fetch_add(segment->info().file_bytes);
    }
    // Counted before the version is installed, which wakes those waiting for the flush.
    stats_.flushes.fetch_add(1, std::memory_order_relaxed);
    KV_RETURN_IF_ERROR(InstallVersion(
        [&](std::vector<Run>* runs) {
          if (segment == nullptr) return;
          // Into the newest run if it overlaps none of that run's segments: it is newer than
          // everything, and keys it shares with no segment of the run need no order against them.
          if (!runs->empty()) {
            const ptrdiff_t at = InsertionPoint(runs->front(), segment->info());
            if (at >= 0) {
              runs->front().insert(runs->front().begin() + at, segment);
              return;
            }
          }
          runs->insert(runs->begin(), Run{segment});
        },
        log_number, last_sequence, /*flushed=*/true, number));
    return absl::OkStatus();
  }

  // Merges `inputs` (adjacent runs in the live list, newest first) into one run of segments of
  // about options_.segment_bytes each. Each output segment is installed as soon as it is written,
  // in place of what the inputs hold below where the merge has got to: inputs wholly behind it
  // are deleted, and the one segment of each input run it is inside of is clipped there
  // (Segment::ClippedBelow). So a compaction needs disk for about one segment per input run more
  // than its inputs, never for a second copy of them, and a crash or Close in the middle keeps
  // the steps already installed. In a background compaction, runs that flushes have added in
  // front of the inputs meanwhile are merged between two steps when they warrant it
  // (MergeNewerRunsBetweenSteps).
  enum class MergeKind {
    kCompactCall,   // Compact(): all runs, nothing merged between steps.
    kBackground,    // Picked by the background thread; merges newer runs between its steps.
    kBetweenSteps,  // A merge of newer runs between two steps of a kBackground one.
  };
  absl::Status RunCompaction(std::vector<Run> inputs, MergeKind kind = MergeKind::kCompactCall) {
    const bool merge_newer_between_steps = kind == MergeKind::kBackground;
    bool bottommost;
    std::vector<uint64_t> snapshots;
    {
      std::lock_guard<std::mutex> lock(mu_);  // See GetSnapshot.
      bottommost = !version_->runs.empty() && !inputs.empty() &&
                   version_->runs.back().back() == inputs.back().back();
      snapshots = snapshots_->Sorted();
    }
    // Runs merged between steps of this merge are not its own: they leave the count alone.
    const bool outermost = kind != MergeKind::kBetweenSteps;
    absl::Cleanup forget_standing = [&] {
      if (outermost) SetMergingExtraRuns(0);
    };
    uint64_t read_bytes = 0, max_keys = 0;
    std::vector<RunCursor<Filter>> cursors;
    cursors.reserve(inputs.size());
    for (const Run& input : inputs) {
      for (const auto& segment : input) {
        read_bytes += segment->info().file_bytes;
        max_keys += segment->info().num_entries;
      }
      cursors.emplace_back(input, /*verify=*/true, /*release_behind=*/true);
      cursors.back().SeekToFirst();
    }
    // Sized for one output segment (with slack for keys smaller than the average), not all inputs.
    const uint64_t keys_per_segment = std::min<uint64_t>(
        max_keys, static_cast<uint64_t>(static_cast<double>(max_keys) *
                                        static_cast<double>(options_.segment_bytes) /
                                        static_cast<double>(std::max<uint64_t>(read_bytes, 1)) * 1.25) +
                      1024);
    VersionPruner pruner(std::move(snapshots), bottommost);
    std::vector<Run> standing = inputs;  // What stands for the inputs in the live version.
    Run outputs;                         // The output segments installed so far, in key order.
    std::string last_key, resume_key;    // The key merged last; the first key of the next segment.
    bool have_last = false, done = false;
    uint64_t merged = 0;
    while (!done) {
      uint64_t number;
      {
        std::lock_guard<std::mutex> lock(mu_);
        number = NewOutputNumberLocked();
      }
      absl::StatusOr<std::shared_ptr<const SegmentT>> written = WriteSegment(
          number, keys_per_segment, [&](auto&& emit, auto&& bytes_written) -> absl::Status {
            // Versions of one key are ordered newest first across inputs too, because inputs are
            // ordered newest first and sequence numbers grow with time.
            for (;; ++merged) {
              // Close does not wait for a whole compaction: the output being written is dropped.
              if (merged % 1024 == 0 && closed_flag_->load(std::memory_order_acquire)) {
                return absl::CancelledError("compaction abandoned: the store is closing");
              }
              int best = -1;
              for (size_t i = 0; i < cursors.size(); ++i) {
                KV_RETURN_IF_ERROR(cursors[i].status());
                if (!cursors[i].Valid()) continue;
                if (best < 0 || CompareVersions(cursors[i].record().key, cursors[i].record().tag,
                                                cursors[best].record().key,
                                                cursors[best].record().tag) < 0) {
                  best = static_cast<int>(i);
                }
              }
              if (best < 0) {
                done = true;
                return absl::OkStatus();
              }
              const Record record = cursors[best].record();
              // A full segment ends between keys, never between versions of one key: the
              // segments of a run must not share a key.
              const bool new_key = !have_last || record.key != last_key;
              if (new_key && (bytes_written() >= options_.segment_bytes ||
                              (merge_newer_between_steps && merged % 4096 == 0 &&
                               bytes_written() >= options_.segment_bytes / 8 &&
                               NewerRunsWaiting()))) {
                resume_key.assign(record.key.data(), record.key.size());
                return absl::OkStatus();
              }
              if (new_key) last_key.assign(record.key.data(), record.key.size());
              have_last = true;
              const uint64_t tag = record.tag;
              const std::string value(record.value);
              cursors[best].Next();
              KV_RETURN_IF_ERROR(cursors[best].status());
              bool last_of_key = true;
              for (const auto& c : cursors) {
                if (c.Valid() && c.record().key == last_key) last_of_key = false;
              }
              if (pruner.Keep(last_key, tag, last_of_key)) {
                KV_RETURN_IF_ERROR(emit(last_key, pruner.TagToWrite(tag), value));
              }
            }
          });
      if (!written.ok()) return ReleaseOutput(number, written.status());
      std::shared_ptr<const SegmentT> output = *written;
      if (output != nullptr) {
        stats_.compaction_bytes_written.fetch_add(output->info().file_bytes,
                                                  std::memory_order_relaxed);
        outputs.push_back(output);
      }
      // The inputs' new stand-ins: the output so far, then what each input run holds from
      // resume_key on (nothing once the merge is done).
      std::vector<Run> replacement;
      if (!outputs.empty()) replacement.push_back(outputs);
      if (!done) {
        for (const Run& input : inputs) {
          Run rest;
          for (const auto& segment : input) {
            if (segment->info().largest_key < resume_key) continue;  // Merged whole.
            rest.push_back(segment->CanClipBelow(resume_key) ? segment->ClippedBelow(resume_key)
                                                             : segment);
          }
          if (!rest.empty()) replacement.push_back(std::move(rest));
        }
      } else {
        stats_.compaction_bytes_read.fetch_add(read_bytes, std::memory_order_relaxed);
        stats_.compactions.fetch_add(1, std::memory_order_relaxed);  // Before waking waiters.
      }
      KV_RETURN_IF_ERROR(InstallVersion(
          [&](std::vector<Run>* runs) { ReplaceMergedRuns(runs, standing, replacement); }, 0, 0,
          /*flushed=*/false, number));
      standing = std::move(replacement);
      if (outermost && !done) SetMergingExtraRuns(standing.size() - 1);
      if (!done && merge_newer_between_steps) {
        KV_RETURN_IF_ERROR(MergeNewerRunsBetweenSteps(standing));
      }
    }
    return absl::OkStatus();
  }

  // One compaction runs at a time, and a merge of large runs takes many seconds, during which
  // every flush adds a run in front of it: with nothing merging those, they reach
  // slowdown_segments and every write sleeps until the large merge ends (at 10M keys, 17,000 of
  // the fill's writes). So between two steps of a merge, the runs newer than its inputs (those in
  // front of `standing`, what stands for them now) are merged as the size tiers pick them. That
  // is safe in the same thread: the merge in progress finds its inputs by identity, not place,
  // and the newer runs hold only versions newer than any of its inputs (so, as at any merge of
  // runs that are not the oldest, no tombstone is dropped).
  absl::Status MergeNewerRunsBetweenSteps(const std::vector<Run>& standing) {
    std::vector<Run> inputs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (shutting_down_ || !fatal_.ok() || standing.empty()) return absl::OkStatus();
      const std::vector<Run>& runs = version_->runs;
      const auto first_merging = FindRunHolding(runs, standing.front().front());
      inputs = internal::PickSizeTiered<Filter>(std::vector<Run>(runs.begin(), first_merging),
                                                ThrottledRunsLocked(), options_);
    }
    if (inputs.empty()) return absl::OkStatus();
    // Not nested further: these merges are small beside the one they interrupt.
    absl::Status s = RunCompaction(std::move(inputs), MergeKind::kBetweenSteps);
    if (s.ok()) stats_.compactions_between_steps.fetch_add(1, std::memory_order_relaxed);
    return s;
  }

  // Whether enough runs wait in front of the merge in progress (which counts as one run) for the
  // size tiers to pick some: its step then ends early, at an eighth of segment_bytes, so that
  // MergeNewerRunsBetweenSteps merges them before writes slow down for them.
  bool NewerRunsWaiting() const {
    return num_runs_.load(std::memory_order_acquire) >
           static_cast<size_t>(options_.compaction_trigger);
  }

  void SetMergingExtraRuns(size_t extra) {
    std::lock_guard<std::mutex> lock(mu_);
    merging_extra_runs_ = extra;
    num_runs_.store(ThrottledRunsLocked(), std::memory_order_release);
  }

  // Writes a segment from the versions `produce` emits, crash-safely: temporary name, sync,
  // rename. (The directory sync comes with the manifest that names it.) Null if nothing emitted.
  template <typename Produce>
  absl::StatusOr<std::shared_ptr<const SegmentT>> WriteSegment(uint64_t number, size_t max_keys,
                                                               Produce&& produce) {
    const std::string name = SegmentFileName(dir_, number);
    const std::string tmp = TempFileName(name);
    KV_ASSIGN_OR_RETURN(auto file, env_->NewWritableFile(tmp));
    SegmentBuilder<Filter> builder(file.get(), options_.block_bytes, max_keys, decoding_.codec);
    absl::Status s = produce(
        [&](absl::string_view key, uint64_t tag, absl::string_view value) {
          return builder.Add(key, tag, value);
        },
        [&] { return builder.bytes_written(); });
    const bool empty = builder.num_entries() == 0;
    if (s.ok() && !empty) s = builder.Finish().status();
    if (s.ok() && !empty) s = file->Sync();
    absl::Status closed = file->Close();
    if (s.ok()) s = closed;
    if (!s.ok() || empty) {
      env_->RemoveFile(tmp).IgnoreError();
      if (!s.ok()) return s;
      return std::shared_ptr<const SegmentT>();
    }
    KV_RETURN_IF_ERROR(env_->RenameFile(tmp, name));
    KV_ASSIGN_OR_RETURN(auto segment, SegmentT::Open(env_, dir_, number, decoding_));
    return std::shared_ptr<const SegmentT>(std::move(segment));
  }

  // A file number for a new segment, protected from deletion until installed or released.
  uint64_t NewOutputNumberLocked() {
    const uint64_t number = next_file_number_++;
    pending_outputs_.insert(number);
    return number;
  }

  absl::Status ReleaseOutput(uint64_t number, absl::Status status) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_outputs_.erase(number);
    return status;
  }

  // Applies `edit` to the live segment list, makes the new manifest durable, then publishes the
  // new version, then deletes files no longer named. One edit at a time (manifest_mu_).
  template <typename Edit>
  absl::Status InstallVersion(Edit&& edit, uint64_t log_number, uint64_t last_sequence,
                              bool flushed, uint64_t output_number) {
    std::lock_guard<std::mutex> manifest_lock(manifest_mu_);
    auto version = std::make_shared<Version>();
    Manifest manifest;
    {
      std::lock_guard<std::mutex> lock(mu_);
      version->runs = version_->runs;
      manifest = manifest_;
      manifest.next_file_number = next_file_number_;
    }
    edit(&version->runs);
    if (flushed) {
      manifest.log_number = log_number;
      manifest.last_sequence = std::max(manifest.last_sequence, last_sequence);
    }
    manifest.runs.clear();
    manifest.clips.clear();
    for (const Run& run : version->runs) {
      std::vector<uint64_t>& numbers = manifest.runs.emplace_back();
      for (const auto& segment : run) {
        numbers.push_back(segment->info().number);
        if (segment->clipped()) manifest.clips[segment->info().number] = segment->info().smallest_key;
      }
    }
    // If this fails the old manifest stays in force and the new segment file is merely unused;
    // the inputs are untouched. The failure is sticky (set by the caller).
    if (absl::Status s = WriteManifest(env_, dir_, manifest); !s.ok()) {
      return ReleaseOutput(output_number, s);
    }
    std::shared_ptr<const Version> replaced;
    {
      std::lock_guard<std::mutex> lock(mu_);
      pending_outputs_.erase(output_number);
      manifest_ = manifest;
      replaced = std::exchange(version_, version);
      if (flushed) imm_.reset();
      PublishViewLocked();
    }
    done_cv_.notify_all();
    work_cv_.notify_all();  // Both background threads wait on it (see SwitchMemTable).
    ReleaseReplacedSegments(*replaced, *version);
    MarkShadowedRuns(*version);
    if (flushed) CloseFlushedWal(log_number);
    DeleteObsoleteFiles();
    return absl::OkStatus();
  }

  // Lookups in a run whose keys newer runs hold again, a quarter of them or more (compaction debt:
  // overwrites and deletions not yet merged), read it with pread rather than through its mapping
  // (see Segment::SetUnmappedLookups). Such a run's live keys are fewer than its size says, and
  // filter false positives bring it more reads. But every page a read touches in a mapping stays in
  // the RSS, and the kernel maps the 64 KiB around each page that faults, so a few reads made the
  // whole run resident: issue 16's workload peaked at 1.0-1.5 times LevelDB's RSS, with the files
  // at 1.3-2.3 times the live data when the reads began. Measured by sampling, from memory only
  // (filters and indexes, no block reads): the last key of every few blocks of a run (up to
  // kShadowSamples) counts as shadowed if a newer run's filter may hold it, and a run is marked
  // from a quarter shadowed on: at half, issue 16's workload still peaked over LevelDB in four of
  // fourteen runs, at a quarter in none of 22 (docs/memory.md). A marked run's live keys cost a
  // pread each, but mostly they are few. The same filters asked for a scrambled hash give their
  // false positive rate; a run is marked only where that is small, so a filter that rules nothing
  // out (NoFilter) marks nothing. Called with each new version; a run no newer run shadows (the
  // oldest after a full merge, runs of new keys) keeps its mapping.
  static constexpr size_t kShadowSamples = 64;
  void MarkShadowedRuns(const Version& version) const {
    const std::vector<Run>& runs = version.runs;
    for (size_t r = 0; r < runs.size(); ++r) {
      size_t blocks = 0;
      for (const auto& segment : runs[r]) blocks += segment->num_blocks();
      const size_t stride = std::max<size_t>(1, blocks / kShadowSamples);
      size_t sampled = 0, shadowed = 0, false_positives = 0, block = 0;
      for (const auto& segment : runs[r]) {
        for (size_t b = 0; r > 0 && b < segment->num_blocks(); ++b, ++block) {
          if (block % stride != 0) continue;
          const absl::string_view key = segment->BlockLastKey(b);
          if (segment->clipped() && key < segment->info().smallest_key) continue;
          const uint64_t hash = HashKey(key);
          ++sampled;
          if (NewerFiltersMayHold(runs, r, key, hash)) ++shadowed;
          // A hash no key is likely to have: what the same filters answer to it is chance.
          if (NewerFiltersMayHold(runs, r, key, hash * 0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019)) {
            ++false_positives;
          }
        }
      }
      const bool unmapped = sampled >= kShadowSamples / 8 && 4 * shadowed >= sampled &&
                            4 * false_positives <= sampled;
      for (const auto& segment : runs[r]) segment->SetUnmappedLookups(unmapped);
    }
  }

  // Whether the filter of a segment newer than runs[older] that covers `key` may hold `hash`.
  static bool NewerFiltersMayHold(const std::vector<Run>& runs, size_t older,
                                  absl::string_view key, uint64_t hash) {
    for (size_t r = 0; r < older; ++r) {
      const SegmentT* segment = SegmentForKey(runs[r], key);
      if (segment != nullptr && segment->MayContain(hash)) return true;
    }
    return false;
  }

  // Drops from the process the mapped pages of the segments `before` had and `after` has not (a
  // compaction's inputs). The compaction's cursors release what they pass, but reads running
  // beside it fault those pages in again, and they would stay in the RSS, beside the pages reads
  // now touch in the output, until the last holder of the segment lets it go (the compaction
  // thread, at nice 10, or an iterator, for as long as it lives). Measured on issue 16's workload
  // (500,000 keys, 400-byte values): 251 MiB of inputs beside 183 MiB of output, a 526 MiB peak
  // where 330 was typical. An iterator still reading them faults the pages back in from the OS
  // cache.
  // A segment `after` still has as a clipped view (a compaction step) shares its mapping with the
  // view: only the blocks below its clip, which the view never reads, are released.
  static void ReleaseReplacedSegments(const Version& before, const Version& after) {
    std::set<uint64_t> live;
    for (const auto& segment : after.Segments()) {
      live.insert(segment->info().number);
      if (segment->clipped()) segment->file().WillNotNeed(0, segment->BytesBelowClip());
    }
    for (const auto& segment : before.Segments()) {
      if (live.count(segment->info().number) != 0) continue;
      segment->file().WillNotNeed(0, segment->file().Size());
    }
  }

  // Removes WALs the manifest no longer needs and segments it no longer names, except segments
  // being written right now. Open iterators keep their segments readable: a mapping outlives
  // the file's name. Temporaries are removed only at open, when nothing is being written.
  void DeleteObsoleteFiles(bool remove_temporaries = false) {
    // List first, then read what is live: a file listed now got its number before the snapshot
    // below, so it is named there or pending there unless it is truly obsolete. (The other order
    // deletes a flush output whose number was taken between the snapshot and the listing.)
    auto children = env_->GetChildren(dir_);
    if (!children.ok()) return;
    std::set<uint64_t> live;
    uint64_t log_number, current_log;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& run : manifest_.runs) live.insert(run.begin(), run.end());
      live.insert(pending_outputs_.begin(), pending_outputs_.end());
      log_number = manifest_.log_number;
      current_log = log_number_;
    }
    for (const std::string& name : *children) {
      uint64_t number = 0;
      bool obsolete = false;
      switch (ParseFileName(name, &number)) {
        case FileKind::kWal:
          obsolete = number < log_number && number != current_log;
          break;
        case FileKind::kSegment:
          obsolete = live.count(number) == 0;
          break;
        case FileKind::kTemp:
          obsolete = remove_temporaries;
          break;
        default:
          break;
      }
      if (obsolete) env_->RemoveFile(dir_ + "/" + name).IgnoreError();
    }
  }

  const std::string dir_;
  const Options options_;
  Env* const env_;
  const std::string type_signature_;
  BlockDecoding decoding_;  // Set in the constructor only.
  std::shared_ptr<SnapshotRegistry> snapshots_;
  std::unique_ptr<FileLock> lock_;

  WriteQueue write_queue_;  // Its lock, queue_mu_, comes first in the lock order.
  // Used only by the leader:
  std::unique_ptr<LogWriter> log_;
  // The WAL before log_, while it may still need a sync (see NewWal). A leaf lock: nothing else
  // is taken while it is held.
  std::mutex old_log_mu_;
  std::unique_ptr<LogWriter> old_log_;  // Guarded by old_log_mu_.
  bool wal_dir_synced_ = false;         // Whether log_'s directory entry is durable (leader only).
  uint64_t old_log_number_ = 0;         // Guarded by old_log_mu_.
  std::atomic<bool> have_old_log_{false};
  mutable std::mutex manifest_mu_;  // Verify() takes it too.
  std::mutex compaction_mu_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;  // Background thread waits for work.
  // Others wait on it for background work, and Close for user calls, to finish.
  mutable std::condition_variable done_cv_;
  std::shared_ptr<MemTable> mem_;
  std::shared_ptr<MemTable> imm_;
  uint64_t imm_log_number_ = 0;
  uint64_t imm_last_sequence_ = 0;
  std::shared_ptr<const Version> version_;
  std::shared_ptr<const View> view_;
  Manifest manifest_;
  uint64_t next_file_number_ = 1;
  uint64_t log_number_ = 0;
  std::set<uint64_t> pending_outputs_;
  bool compaction_busy_ = false;
  // Runs that stand for the merge in progress beyond the one it will leave (its output so far and
  // the rest of each input); see ThrottledRunsLocked.
  size_t merging_extra_runs_ = 0;
  bool idle_flush_pending_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
  mutable int user_operations_ = 0;  // UserOperations in flight; Close waits for none.
  std::mutex close_mu_;              // Held through Close: a second Close waits for the first.
  // closed_, for iterators (which may outlive the store) and for loops that poll it without mu_.
  const std::shared_ptr<std::atomic<bool>> closed_flag_ = std::make_shared<std::atomic<bool>>(false);
  absl::Status fatal_;
  absl::Status close_status_;
  std::thread flush_thread_;
  std::thread compaction_thread_;

  std::atomic<uint64_t> last_sequence_{0};
  // Mirrors of state under mu_ that every write reads, so that a write takes no lock for them.
  std::atomic<bool> writes_refused_{false};  // Set with fatal_ or closed_, never cleared.
  std::atomic<size_t> num_runs_{0};          // ThrottledRunsLocked() of the published view.
  std::atomic<double> average_entry_bytes_{0};  // AverageEntryBytesLocked() of that view.
  uint64_t wal_tail_bytes_dropped_ = 0;  // Torn WAL tails dropped when this store opened.
  mutable Stats stats_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_ENGINE_H_
