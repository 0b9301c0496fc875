// kvstore stress tool, in the spirit of RocksDB's db_stress + db_crashtest, with Jepsen-style
// checking of every read against a model that allows both outcomes of writes in flight.
//
//   stress --mode=run   --dir=D --seed=S --threads=4 --ops=5000 --reopen_every=2000
//   stress --mode=crash --dir=D --seed=S --crash_cycles=100
//
// Run mode: --threads threads issue random operations against a KVStore<std::string,
// std::string> and a KVStore<std::tuple<int32_t, double, std::string>, TypedValue> compressed
// with Lz4: Set, Delete,
// WriteBatch (2-16 ops, 100-600 ops, and batches holding a rejected op), Get, GetInto, iterator
// walks (Seek/SeekToFirst/SeekToLast then Next/Prev, changing direction), Scan ranges, snapshots
// (read, then re-read later and compare), Flush, Compact, WaitForBackgroundWork, Verify,
// GetProperty, and Close + reopen racing all of them (plain, two concurrent Close() calls, Close
// while a helper thread hammers Flush/Compact/iterators on the same store, Close of a store
// another thread is reopening). Threads hold a shared_ptr to the store they call, so a Close()
// runs while they are inside calls to it, and the store object dies with its last user.
//
// Model (model.h): each key is written by one thread only; every read is checked against the
// versions acknowledged before it started and attempted before it ended. A scan or walk also
// checks that every key it stepped over is allowed to be absent: a key its own thread wrote and
// that must exist cannot be skipped. FailedPrecondition is the only acceptable error, and only
// from a store whose Close() has started; a write that got it is known not applied; a call made
// after Close() returned must fail with it (an iterator must report it in status()).
//
// Crash mode: the parent runs the same workload in a child process (fork + exec of this binary),
// which streams an intent before each write and an acknowledgement after it over a pipe; the
// parent kills the child with SIGKILL at a random (seeded) moment, reopens the store, and checks
// that every acknowledged write is there unless overwritten by a write in flight, that nothing
// else is (no value that was never written, no failed write), and that each batch in flight was
// applied whole or not at all. The state carries over from cycle to cycle.
//
// Exits 0 if no violation was found, 1 otherwise (each violation is printed with the seed, the
// thread, the operation and the store generation).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <shared_mutex>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kvstore/kvstore.h"
#include "testing/sanitizers.h"
#include "testing/stress/model.h"

ABSL_FLAG(std::string, dir, "", "Directory for the stores (created; the two stores go in "
                                "DIR/string and DIR/typed). Default: a new directory under /tmp.");
ABSL_FLAG(uint64_t, seed, 0, "Seed of everything random; 0 picks one from the clock (printed).");
ABSL_FLAG(int, threads, 4, "Worker threads.");
ABSL_FLAG(int64_t, ops, 5000, "Operations per thread (run mode); 0: no limit, see --duration_s.");
ABSL_FLAG(double, duration_s, 0, "Stop after this many seconds (run mode); 0: no time limit.");
ABSL_FLAG(int, keys, 10000, "Keys in the string store's key space.");
ABSL_FLAG(int, typed_keys, -1, "Keys in the typed (tuple key) store; -1: keys/4; 0: no typed store.");
ABSL_FLAG(int, value_size, 100, "Typical value size in bytes (values vary from 0 to 20x, rarely 256 KiB).");
ABSL_FLAG(int64_t, reopen_every, 2000,
          "Every this many operations (counted over all threads) one thread closes the store "
          "under the others and reopens it; 0: never.");
ABSL_FLAG(std::string, mode, "run", "run | crash (child is internal).");
ABSL_FLAG(int, crash_cycles, 20, "Crash mode: kill -9 / reopen / check cycles.");
ABSL_FLAG(int, crash_max_delay_ms, 150, "Crash mode: longest run of a child after its first write.");
ABSL_FLAG(int, max_batch, 16, "Largest ordinary WriteBatch (big batches have 100-600 ops).");
ABSL_FLAG(int, max_violations, 20, "Stop after this many violations.");
ABSL_FLAG(double, hang_s, 120, "Report a hang (and abort) when one call takes longer than this.");
ABSL_FLAG(bool, sanitizer_scale, true,
          "In a sanitizer build, divide --ops, --reopen_every and --crash_cycles by 4 (every "
          "operation kind still runs).");
ABSL_FLAG(bool, verbose, false, "Print each reopen and crash cycle.");
ABSL_FLAG(bool, keep_dir, false, "Keep the directory at the end (it is removed on success otherwise).");
// Internal: the crash-mode child.
ABSL_FLAG(int, cycle, 0, "internal: crash cycle of a child");
ABSL_FLAG(int, ack_fd, -1, "internal: the child's acknowledgement pipe");
ABSL_FLAG(std::string, state_file, "", "internal: the child's initial expected state");


namespace kvstore::stress {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- Operation kinds and counters ------------------------------------------------------------

enum Kind : int {
  kGet,
  kGetInto,
  kWrite,
  kBatch,
  kBigBatch,
  kBadBatch,
  kIterate,
  kScan,
  kSnapshot,
  kSnapshotRecheck,
  kFlush,
  kCompact,
  kWaitForBackgroundWork,
  kVerify,
  kProperty,
  kReopen,
  kReopenDoubleClose,
  kReopenRacingWork,
  kCloseStale,
  kQuiet,
  kNumKinds
};

constexpr const char* kKindNames[kNumKinds] = {
    "get",          "get_into",          "write",         "batch",
    "big_batch",    "bad_batch",         "iterate",       "scan",
    "snapshot",     "snapshot_recheck",  "flush",         "compact",
    "wait_for_bg",  "verify",            "property",      "reopen",
    "reopen_double_close", "reopen_racing_work", "close_stale", "quiet"};

bool IsReopenKind(int k) { return k >= kReopen && k <= kCloseStale; }

struct Counters {
  std::atomic<uint64_t> ok[2][kNumKinds] = {};
  std::atomic<uint64_t> closed[2][kNumKinds] = {};
  std::atomic<uint64_t> writes_acknowledged{0}, writes_failed_closed{0}, writes_rejected{0};
  std::atomic<uint64_t> reads_checked{0}, absent_checked{0}, helper_calls{0};
  std::atomic<uint64_t> reopens{0};
  std::atomic<uint64_t> quiet_flushes{0};  // Flushes that ran while no operation did (idle flushes).
};

// ---- Configuration ----------------------------------------------------------------------------

struct Config {
  std::string dir;
  uint64_t seed = 0;
  int threads = 4;
  int64_t ops = 0;
  double duration_s = 0;
  int keys = 0;
  int typed_keys = 0;
  int value_size = 100;
  int64_t reopen_every = 0;
  int max_batch = 16;
  int max_violations = 20;
  double hang_s = 120;
  bool verbose = false;
  // Crash-mode child only.
  bool child = false;
  int cycle = 0;
  int ack_fd = -1;
  std::string command_line;
};

// Random store options for each open: small MemTables (flushes all the time), small blocks,
// aggressive or lazy compaction, sometimes no background compaction, low stall thresholds.
Options RandomOptions(std::mt19937_64& rng, std::string* description) {
  Options o;
  static constexpr size_t kMemtables[] = {4096, 8192, 32 << 10, 128 << 10, 1 << 20, 4 << 20};
  o.memtable_bytes = kMemtables[rng() % 6];
  static constexpr size_t kBlocks[] = {256, 512, 1024, 4096};
  o.block_bytes = kBlocks[rng() % 4];
  o.compaction_trigger = 2 + static_cast<int>(rng() % 3);
  o.compaction_size_ratio = 1.5 + static_cast<double>(rng() % 5);
  o.max_space_amplification = 0.2 + static_cast<double>(rng() % 9) * 0.1;
  if (rng() % 4 == 0) {
    o.slowdown_segments = o.compaction_trigger + 1;
    o.stop_segments = o.compaction_trigger + 3;
  }
  o.background_compaction = rng() % 10 != 0;
  o.paranoid_checks = rng() % 5 == 0;
  static constexpr uint32_t kIdleFlush[] = {0, 1, 5, 50, 1000};
  o.idle_flush_ms = kIdleFlush[rng() % 5];
  static constexpr uint64_t kSegments[] = {4096, 16 << 10, 256 << 10, 64 << 20};
  o.segment_bytes = kSegments[rng() % 4];
  *description = absl::StrFormat(
      "memtable_bytes=%zu block_bytes=%zu compaction_trigger=%d size_ratio=%.1f space_amp=%.1f "
      "slowdown=%d stop=%d background_compaction=%d paranoid_checks=%d idle_flush_ms=%u segment_bytes=%llu",
      o.memtable_bytes, o.block_bytes, o.compaction_trigger, o.compaction_size_ratio,
      o.max_space_amplification, o.slowdown_segments, o.stop_segments, o.background_compaction,
      o.paranoid_checks, o.idle_flush_ms, static_cast<unsigned long long>(o.segment_bytes));
  return o;
}

// ---- Violations -------------------------------------------------------------------------------

// What a thread is doing, for violation reports and the hang watchdog.
struct OpContext {
  int thread = 0;
  uint64_t index = 0;
  int kind = 0;
  const char* space = "";
  uint64_t generation = 0;
  std::string detail;
};

class Reporter {
 public:
  explicit Reporter(const Config& config) : config_(config) {}

  void Violation(const OpContext& op, const std::string& message) {
    const int n = count_.fetch_add(1) + 1;
    std::lock_guard<std::mutex> lock(mu_);
    if (n <= config_.max_violations) {
      const std::string where =
          op.thread < 0
              ? absl::StrCat("checking the ", op.space, " store", op.detail.empty() ? "" : ", ", op.detail)
              : absl::StrCat("thread ", op.thread, ", op #", op.index, " ", kKindNames[op.kind], " on the ",
                             op.space, " store (generation ", op.generation, ")",
                             op.detail.empty() ? "" : ": ", op.detail);
      std::fprintf(stderr, "\n*** VIOLATION %d (seed %" PRIu64 "%s): %s\n    %s\n    reproduce: %s\n", n,
                   config_.seed,
                   config_.child ? absl::StrCat(", crash cycle ", config_.cycle).c_str() : "",
                   where.c_str(), message.c_str(), config_.command_line.c_str());
      std::fflush(stderr);
    }
    if (config_.child) ::_exit(3);  // The parent reports it.
  }
  int count() const { return count_.load(); }
  bool stop() const { return count_.load() >= config_.max_violations; }

 private:
  const Config& config_;
  std::atomic<int> count_{0};
  std::mutex mu_;
};

// ---- Crash-mode messages ---------------------------------------------------------------------

enum MessageType : uint32_t { kIntent = 1, kAck = 2, kFail = 3 };
constexpr uint32_t kMagic = 0x5354524d;

struct MessageHeader {
  uint32_t magic;
  uint32_t type;
  uint32_t thread;
  uint32_t count;
  uint64_t op_id;
};
struct MessageEntry {
  uint32_t space;
  uint32_t key;
  uint64_t version;
};
static_assert(sizeof(MessageHeader) == 24 && sizeof(MessageEntry) == 16);

// ---- Iterator walks ---------------------------------------------------------------------------

enum WalkStart : int { kStartSeek, kStartFirst, kStartLast };

// What one iterator showed: for each sorted position, unknown / present (with its version) /
// absent (stepped over), and the sequence of positions it stood on.
struct WalkResult {
  std::vector<uint8_t> state;  // 0 unknown, 1 present, 2 absent.
  std::vector<uint64_t> version;
  std::vector<int64_t> positions;  // -1: not valid.
  std::vector<uint64_t> versions;
  std::string error;  // Structural problem (order, garbage); only meaningful if status is OK.
  absl::Status status;

  void Init(size_t n) {
    state.assign(n, 0);
    version.assign(n, 0);
  }
  void Fail(std::string e) {
    if (error.empty()) error = std::move(e);
  }
  void MarkAbsent(size_t from, size_t to, const char* how) {
    for (size_t p = from; p < to && p < state.size(); ++p) {
      if (state[p] == 1) {
        Fail(absl::StrCat(how, " stepped over sorted position ", p,
                          ", which the same iterator returned before"));
      }
      if (state[p] == 0) state[p] = 2;
    }
  }
  void MarkPresent(size_t p, uint64_t v) {
    if (state[p] == 2) {
      Fail(absl::StrCat("sorted position ", p, " returned after the same iterator stepped over it"));
    } else if (state[p] == 1 && version[p] != v) {
      Fail(absl::StrCat("sorted position ", p, " returned as version ", version[p], " then ", v,
                        " by the same iterator"));
    }
    state[p] = 1;
    version[p] = v;
  }
};

template <typename Traits>
struct Walker;

// ---- A store and its model -------------------------------------------------------------------

template <typename Traits>
class Space {
 public:
  using Key = typename Traits::Key;
  using Value = typename Traits::Value;
  using Store = KVStore<Key, Value, DefaultSerializer, BloomFilter<10>, typename Traits::Compression>;
  using Iterator = typename Store::Iterator;

  // One opened store. Threads copy the shared_ptr and call into it with no lock held, so a
  // Close() by one thread races the calls of the others; the store is destroyed with its last user.
  struct Instance {
    std::unique_ptr<Store> store;
    uint64_t generation = 0;
    std::string options;
    std::atomic<bool> close_started{false};
    std::atomic<bool> close_returned{false};
  };

  Space(const Config& config, std::string dir, size_t n, uint32_t index)
      : config_(config), dir_(std::move(dir)), index_(index),
        expected_(config.seed, Traits::kSalt, n) {
    keys_.reserve(n);
    for (size_t i = 0; i < n; ++i) keys_.push_back(Traits::MakeKey(i));
    sorted_.resize(n);
    for (size_t i = 0; i < n; ++i) sorted_[i] = static_cast<uint32_t>(i);
    std::sort(sorted_.begin(), sorted_.end(),
              [this](uint32_t a, uint32_t b) { return keys_[a] < keys_[b]; });
    position_.resize(n);
    for (size_t p = 0; p < n; ++p) position_[sorted_[p]] = static_cast<uint32_t>(p);
    for (size_t p = 1; p < n; ++p) {
      if (!(keys_[sorted_[p - 1]] < keys_[sorted_[p]])) {
        std::fprintf(stderr, "stress: the %s key space has equal keys (%zu, %zu)\n", Traits::kName,
                     static_cast<size_t>(sorted_[p - 1]), static_cast<size_t>(sorted_[p]));
        std::abort();
      }
    }
    owned_.resize(config.threads);
    for (size_t i = 0; i < n; ++i) owned_[i % config.threads].push_back(static_cast<uint32_t>(i));
    held_.resize(config.threads);
    held_iterators_.resize(config.threads);
  }

  const char* name() const { return Traits::kName; }
  uint32_t index() const { return index_; }
  const std::string& dir() const { return dir_; }
  size_t size() const { return keys_.size(); }
  const Key& key(size_t i) const { return keys_[i]; }
  size_t position(size_t i) const { return position_[i]; }
  size_t at(size_t p) const { return sorted_[p]; }
  size_t LowerBound(const Key& target) const {
    return std::lower_bound(sorted_.begin(), sorted_.end(), target,
                            [this](uint32_t i, const Key& t) { return keys_[i] < t; }) -
           sorted_.begin();
  }
  const std::vector<uint32_t>& owned(int thread) const { return owned_[thread]; }
  ExpectedState& expected() { return expected_; }
  Value MakeValue(uint64_t i, uint64_t v) const {
    return Traits::MakeValue(config_.seed, i, v, static_cast<size_t>(config_.value_size));
  }

  std::shared_ptr<Instance> Current() {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void Publish(std::shared_ptr<Instance> instance) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(instance);
  }
  std::mutex& reopen_mu() { return reopen_mu_; }

  absl::StatusOr<std::shared_ptr<Instance>> Open(std::mt19937_64& rng, uint64_t generation) {
    auto instance = std::make_shared<Instance>();
    const Options options = RandomOptions(rng, &instance->options);
    absl::StatusOr<std::unique_ptr<Store>> opened = Store::Open(dir_, options);
    if (!opened.ok()) return opened.status();
    instance->store = std::move(opened).value();
    instance->generation = generation;
    return instance;
  }

  // Snapshots a thread holds to re-read later (only that thread touches its list).
  struct HeldSnapshot {
    std::shared_ptr<Instance> instance;
    std::unique_ptr<Snapshot> snapshot;
    std::vector<uint32_t> get_keys;
    std::vector<std::optional<uint64_t>> get_results;  // nullopt: absent
    int walk_start = 0;
    Key walk_target;
    std::vector<bool> walk_steps;
    std::vector<int64_t> walk_positions;
    std::vector<uint64_t> walk_versions;
  };
  std::deque<HeldSnapshot>& held(int thread) { return held_[thread]; }

  // Iterators a thread holds to walk further later.
  struct HeldIterator {
    std::shared_ptr<Instance> instance;
    std::unique_ptr<Iterator> iterator;
    WalkResult result;
    Walker<Traits> walker;
    std::vector<bool> rest;
    std::vector<uint64_t> cb, pa;
    std::string description;
  };
  std::deque<std::unique_ptr<HeldIterator>>& held_iterators(int thread) {
    return held_iterators_[thread];
  }

 private:
  const Config& config_;
  const std::string dir_;
  const uint32_t index_;
  std::vector<Key> keys_;
  std::vector<uint32_t> sorted_;    // Sorted position -> key index.
  std::vector<uint32_t> position_;  // Key index -> sorted position.
  std::vector<std::vector<uint32_t>> owned_;
  ExpectedState expected_;
  std::mutex mu_;
  std::shared_ptr<Instance> current_;
  std::mutex reopen_mu_;
  std::vector<std::deque<HeldSnapshot>> held_;
  std::vector<std::deque<std::unique_ptr<HeldIterator>>> held_iterators_;
};

using StringStoreSpace = Space<StringSpace>;
using TypedStoreSpace = Space<TypedSpace>;

// ---- Shared context ---------------------------------------------------------------------------

class Stress {
 public:
  explicit Stress(const Config& config) : config_(config), reporter_(config) {
    string_ = std::make_unique<StringStoreSpace>(config, config.dir + "/string", config.keys, 0);
    if (config.typed_keys > 0) {
      typed_ = std::make_unique<TypedStoreSpace>(config, config.dir + "/typed", config.typed_keys, 1);
    }
    progress_ = std::make_unique<Progress[]>(config.threads + 1);
    num_progress_ = config.threads + 1;
  }

  const Config& config() const { return config_; }
  Reporter& reporter() { return reporter_; }
  Counters& counters() { return counters_; }
  StringStoreSpace& string_space() { return *string_; }
  TypedStoreSpace* typed_space() { return typed_.get(); }

  // Crash-mode child: one message per write intent / acknowledgement / failure.
  void Announce(MessageType type, int thread, uint64_t op_id, uint32_t space,
                const std::vector<std::pair<uint32_t, uint64_t>>& entries) {
    if (config_.ack_fd < 0) return;
    std::string buf(sizeof(MessageHeader) + entries.size() * sizeof(MessageEntry), '\0');
    MessageHeader h{kMagic, type, static_cast<uint32_t>(thread),
                    static_cast<uint32_t>(entries.size()), op_id};
    std::memcpy(buf.data(), &h, sizeof(h));
    for (size_t j = 0; j < entries.size(); ++j) {
      MessageEntry e{space, entries[j].first, entries[j].second};
      std::memcpy(buf.data() + sizeof(h) + j * sizeof(e), &e, sizeof(e));
    }
    std::lock_guard<std::mutex> lock(announce_mu_);
    size_t done = 0;
    while (done < buf.size()) {
      const ssize_t n = ::write(config_.ack_fd, buf.data() + done, buf.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) ::_exit(4);
      done += static_cast<size_t>(n);
    }
  }

  // The hang watchdog's view of each thread (the last slot is for helpers).
  struct Progress {
    std::atomic<int64_t> started_ms{0};  // 0: idle.
    std::atomic<int> kind{0};
    std::atomic<uint64_t> index{0};
  };
  Progress& progress(int thread) { return progress_[std::min<size_t>(thread, num_progress_ - 1)]; }

  std::atomic<uint64_t> global_ops{0};
  // Every operation runs under a shared lock of this; the "quiet" operation takes it exclusively
  // for a few ms, so that the stores see no write and their idle flushes run.
  std::shared_mutex quiet_mu;

 private:
  const Config& config_;
  Reporter reporter_;
  Counters counters_;
  std::unique_ptr<StringStoreSpace> string_;
  std::unique_ptr<TypedStoreSpace> typed_;
  std::mutex announce_mu_;
  std::unique_ptr<Progress[]> progress_;
  size_t num_progress_ = 0;
};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch())
      .count();
}

// ---- Iterator walks: moving and checking ------------------------------------------------------

// Reads the iterator's current entry: key index and version, after checking the bytes.
template <typename Traits>
int64_t Observe(Space<Traits>& sp, typename Space<Traits>::Iterator& it, bool use_views,
                WalkResult* r) {
  if (!it.Valid()) return -1;
  typename Traits::Key key;
  typename Traits::Value value;
  if constexpr (std::is_same_v<Traits, StringSpace>) {
    if (use_views) {
      key = std::string(it.key_view());
      value = std::string(it.value_view());
      if (it.key() != key || it.value() != value) r->Fail("key_view/value_view differ from key()/value()");
    } else {
      key = it.key();
      value = it.value();
    }
  } else {
    key = it.key();
    value = it.value();
  }
  if (!Traits::Canonical(key)) r->Fail(absl::StrCat("key ", Traits::Describe(key), " returned with -0.0 in it"));
  uint64_t i = 0, v = 0;
  if (!Traits::DecodeValue(value, &i, &v) || i >= sp.size()) {
    r->Fail(absl::StrCat("garbage entry: key ", Traits::Describe(key), " has a value that is no value of ours"));
    return -1;
  }
  if (!(sp.key(i) == key)) {
    r->Fail(absl::StrCat("key ", Traits::Describe(key), " holds a value of key #", i, " ",
                         Traits::Describe(sp.key(i))));
    return -1;
  }
  if (!ValuesEqual(value, sp.MakeValue(i, v))) {
    r->Fail(absl::StrCat("key #", i, " ", Traits::Describe(key), ": the value of version ", v,
                         " has the wrong bytes"));
    return -1;
  }
  const size_t p = sp.position(i);
  r->MarkPresent(p, v);
  r->positions.push_back(static_cast<int64_t>(p));
  r->versions.push_back(v);
  return static_cast<int64_t>(p);
}

// Moves an iterator and records what each move showed (a walk may be resumed later: held
// iterators keep their Walker).
template <typename Traits>
struct Walker {
  Space<Traits>* sp;
  WalkResult* r;
  bool use_views = false;
  int64_t cur = -1;  // Sorted position the iterator stands on, -1 if not valid.

  void RecordInvalid(int64_t p) {
    if (p < 0) {
      r->positions.push_back(-1);
      r->versions.push_back(0);
    }
  }

  void Start(typename Space<Traits>::Iterator& it, int start, const typename Traits::Key& target) {
    const size_t n = sp->size();
    if (start == kStartLast) {
      it.SeekToLast();
      cur = Observe(*sp, it, use_views, r);
      RecordInvalid(cur);
      r->MarkAbsent(cur < 0 ? 0 : cur + 1, n, "SeekToLast");
      return;
    }
    size_t lower = 0;
    if (start == kStartSeek) {
      it.Seek(target);
      lower = sp->LowerBound(target);
    } else {
      it.SeekToFirst();
    }
    cur = Observe(*sp, it, use_views, r);
    RecordInvalid(cur);
    if (cur < 0) {
      r->MarkAbsent(lower, n, "Seek");
    } else if (static_cast<size_t>(cur) < lower) {
      r->Fail(absl::StrCat("Seek landed on sorted position ", cur, ", before the target (", lower, ")"));
    } else {
      r->MarkAbsent(lower, cur, "Seek");
    }
  }

  // One Next (forward) or Prev; false once the iterator is not valid.
  bool Step(typename Space<Traits>::Iterator& it, bool forward) {
    if (cur < 0 || !r->error.empty()) return false;
    const size_t n = sp->size();
    int64_t q;
    if (forward) {
      it.Next();
      q = Observe(*sp, it, use_views, r);
      RecordInvalid(q);
      if (q < 0) {
        r->MarkAbsent(cur + 1, n, "Next");
      } else if (q <= cur) {
        r->Fail(absl::StrCat("Next went from sorted position ", cur, " to ", q));
      } else {
        r->MarkAbsent(cur + 1, q, "Next");
      }
    } else {
      it.Prev();
      q = Observe(*sp, it, use_views, r);
      RecordInvalid(q);
      if (q < 0) {
        r->MarkAbsent(0, cur, "Prev");
      } else if (q >= cur) {
        r->Fail(absl::StrCat("Prev went from sorted position ", cur, " to ", q));
      } else {
        r->MarkAbsent(q + 1, cur, "Prev");
      }
    }
    cur = q;
    return cur >= 0;
  }
};

// Runs a walk: a start, then Next (true) / Prev (false) steps until the iterator is invalid.
template <typename Traits>
void ExecuteWalk(Space<Traits>& sp, typename Space<Traits>::Iterator& it, int start,
                 const typename Traits::Key& target, const std::vector<bool>& steps,
                 bool use_views, WalkResult* r) {
  r->Init(sp.size());
  Walker<Traits> w{&sp, r, use_views};
  w.Start(it, start, target);
  for (bool forward : steps) {
    if (!w.Step(it, forward)) break;
  }
  r->status = it.status();
}

// Checks what a walk or scan saw against the model; "" if all of it is allowed.
template <typename Traits>
std::string CheckAgainstModel(Space<Traits>& sp, const WalkResult& r, const std::vector<uint64_t>& cb,
                              const std::vector<uint64_t>& pa, Counters& counters) {
  uint64_t checked = 0, absent = 0;
  for (size_t p = 0; p < r.state.size(); ++p) {
    if (r.state[p] == 0) continue;
    const size_t i = sp.at(p);
    std::string why = r.state[p] == 1 ? sp.expected().CheckPresent(i, r.version[p], cb[i], pa[i])
                                      : sp.expected().CheckAbsent(i, cb[i], pa[i]);
    if (r.state[p] == 1) {
      ++checked;
    } else {
      ++absent;
    }
    if (!why.empty()) {
      return absl::StrCat("key #", i, " ", Traits::Describe(sp.key(i)), " (sorted position ", p,
                          ") ", r.state[p] == 1 ? "returned: " : "stepped over: ", why,
                          "; acknowledged before: ", cb[i], ", attempted by the end: ", pa[i]);
    }
  }
  counters.reads_checked.fetch_add(checked, std::memory_order_relaxed);
  counters.absent_checked.fetch_add(absent, std::memory_order_relaxed);
  return "";
}

std::string DescribeTrail(const WalkResult& r, size_t max = 12) {
  std::string out;
  const size_t from = r.positions.size() > max ? r.positions.size() - max : 0;
  for (size_t j = from; j < r.positions.size(); ++j) {
    absl::StrAppend(&out, j == from ? "" : " ", r.positions[j] < 0 ? std::string("end")
                                                                   : absl::StrCat(r.positions[j], "@v", r.versions[j]));
  }
  return absl::StrCat("[", from > 0 ? "... " : "", out, "]");
}

// ---- Workers ----------------------------------------------------------------------------------

class Worker {
 public:
  Worker(Stress* s, int id, uint64_t salt)
      : s_(s), id_(id), rng_(Hash(s->config().seed, static_cast<uint64_t>(s->config().cycle), id, salt)) {}

  // Run mode (and crash-mode child): the thread's loop.
  void Run(int64_t max_ops, Clock::time_point deadline) {
    const Config& c = s_->config();
    for (int64_t n = 0; max_ops <= 0 || n < max_ops; ++n) {
      if (s_->reporter().stop()) break;
      if (Clock::now() >= deadline) break;
      int kind;
      bool typed = false;
      // The first operations of each thread run every kind once (thread 0 also every reopen
      // kind, thread 1 every data kind on the typed store), so even a short run covers them all.
      // (Not in a crash-mode child: it lives a few ms, and should spend them writing.)
      const int forced_reopens = id_ == 0 && c.reopen_every > 0 ? kNumKinds - kReopen : 0;  // + quiet
      const int forced_typed = id_ == 1 % c.threads && s_->typed_space() != nullptr ? kReopen : 0;
      if (c.child) {
        kind = PickKind();
        typed = s_->typed_space() != nullptr && rng_() % 100 < 15;
        if (c.reopen_every > 0 &&
            (s_->global_ops.fetch_add(1) + 1) % static_cast<uint64_t>(c.reopen_every) == 0) {
          kind = kReopen + static_cast<int>(rng_() % (kNumKinds - kReopen));
        }
      } else if (n < kReopen) {
        kind = static_cast<int>(n);
      } else if (n < kReopen + forced_reopens) {
        kind = static_cast<int>(n);  // The reopen kinds, then quiet.
      } else if (n < kReopen + forced_reopens + forced_typed) {
        kind = static_cast<int>(n - kReopen - forced_reopens);
        typed = true;
      } else {
        kind = PickKind();
        typed = s_->typed_space() != nullptr && rng_() % 100 < 15;
        if (c.reopen_every > 0 &&
            (s_->global_ops.fetch_add(1) + 1) % static_cast<uint64_t>(c.reopen_every) == 0) {
          static constexpr int kVariants[] = {kReopen, kReopen, kReopenDoubleClose,
                                              kReopenRacingWork, kCloseStale};
          kind = kVariants[rng_() % 5];
          typed = s_->typed_space() != nullptr && rng_() % 4 == 0;
        }
      }
      RunOne(kind, typed, static_cast<uint64_t>(n));
    }
    // Release held snapshots and iterators (checking them first).
    while (!s_->string_space().held(id_).empty() || !s_->string_space().held_iterators(id_).empty()) {
      RunOne(kSnapshotRecheck, false, ~0ull);
    }
    if (s_->typed_space() != nullptr) {
      while (!s_->typed_space()->held(id_).empty() || !s_->typed_space()->held_iterators(id_).empty()) {
        RunOne(kSnapshotRecheck, true, ~0ull);
      }
    }
  }

  void RunOne(int kind, bool typed, uint64_t index) {
    op_ = OpContext();
    op_.thread = id_;
    op_.index = index;
    op_.kind = kind;
    auto& progress = s_->progress(id_);
    progress.kind.store(kind);
    progress.index.store(index);
    progress.started_ms.store(NowMs());
    if (kind == kQuiet) {
      std::unique_lock<std::shared_mutex> quiet(s_->quiet_mu);
      if (typed) {
        DoQuiet(*s_->typed_space());
      } else {
        DoQuiet(s_->string_space());
      }
    } else {
      std::shared_lock<std::shared_mutex> shared(s_->quiet_mu);
      if (typed) {
        Dispatch(*s_->typed_space(), kind);
      } else {
        Dispatch(s_->string_space(), kind);
      }
    }
    progress.started_ms.store(0);
  }

  // Calls other than writes on `instance` until `done` and at least a few after its Close()
  // returned: run by a helper thread while another thread closes the store.
  template <typename Traits>
  void HammerDuringClose(Space<Traits>& sp, std::shared_ptr<typename Space<Traits>::Instance> inst,
                         const std::atomic<bool>& done) {
    int after_close = 0;
    for (uint64_t n = 0; after_close < 4; ++n) {
      if (done.load()) ++after_close;
      op_ = OpContext();
      op_.thread = id_;
      op_.index = n;
      op_.space = sp.name();
      op_.generation = inst->generation;
      op_.detail = "helper racing Close()";
      static constexpr int kKinds[] = {kFlush, kCompact, kWaitForBackgroundWork, kIterate, kGet,
                                       kScan, kSnapshot, kProperty, kVerify};
      op_.kind = kKinds[rng_() % 9];
      auto& progress = s_->progress(id_);
      progress.kind.store(op_.kind);
      progress.started_ms.store(NowMs());
      DispatchOn(sp, inst, op_.kind);
      progress.started_ms.store(0);
      s_->counters().helper_calls.fetch_add(1, std::memory_order_relaxed);
    }
  }

 private:
  int PickKind() {
    // Weights per kind (reopens come from --reopen_every, plus rare stale closes).
    static constexpr int kWeights[kNumKinds] = {
        200,  // get
        50,   // get_into
        200,  // write
        100,  // batch
        6,    // big_batch
        4,    // bad_batch
        90,   // iterate
        60,   // scan
        25,   // snapshot
        25,   // snapshot_recheck
        8,    // flush
        2,    // compact
        4,    // wait_for_bg
        1,    // verify
        20,   // property
        0, 0, 0, 0,
        1};   // quiet
    static const int kTotal = [] {
      int t = 0;
      for (int w : kWeights) t += w;
      return t;
    }();
    int r = static_cast<int>(rng_() % kTotal);
    for (int k = 0; k < kNumKinds; ++k) {
      if (r < kWeights[k]) return k;
      r -= kWeights[k];
    }
    return kGet;
  }

  template <typename Traits>
  void Dispatch(Space<Traits>& sp, int kind) {
    op_.space = sp.name();
    if (IsReopenKind(kind)) {
      DoReopen(sp, kind);
      return;
    }
    DispatchOn(sp, sp.Current(), kind);
  }

  template <typename Traits>
  void DispatchOn(Space<Traits>& sp, std::shared_ptr<typename Space<Traits>::Instance> inst, int kind) {
    op_.space = sp.name();
    op_.generation = inst->generation;
    switch (kind) {
      case kGet:
      case kGetInto:
        return DoGet(sp, *inst, kind == kGetInto);
      case kWrite:
        return DoWrite(sp, *inst, 1, false);
      case kBatch:
        return DoWrite(sp, *inst, 2 + static_cast<int>(rng_() % (s_->config().max_batch - 1)), false);
      case kBigBatch:
        return DoWrite(sp, *inst, 100 + static_cast<int>(rng_() % 501), false);
      case kBadBatch:
        return DoWrite(sp, *inst, 1 + static_cast<int>(rng_() % 8), true);
      case kIterate:
        return DoIterate(sp, inst);
      case kScan:
        return DoScan(sp, *inst);
      case kSnapshot:
        return DoSnapshot(sp, inst);
      case kSnapshotRecheck:
        if (rng_() % 2 == 0) return ResumeHeldIterator(sp);
        return DoSnapshotRecheck(sp);
      case kFlush:
      case kCompact:
      case kWaitForBackgroundWork:
      case kVerify:
        return DoMaintenance(sp, *inst, kind);
      case kProperty:
        return DoProperty(sp, *inst);
      default:
        return;
    }
  }

  void Violation(const std::string& message) { s_->reporter().Violation(op_, message); }

  // Classifies a call's status. FailedPrecondition is accepted only once Close() has started on
  // that store; a call that started after Close() returned must fail with it. `not_found_ok` for
  // reads of one key. Returns 0 OK, 1 closed, 2 not found, -1 violation.
  template <typename Instance>
  int Classify(const absl::Status& s, const Instance& inst, bool closed_before, bool not_found_ok,
               const char* call) {
    const int space = op_.space == std::string(TypedSpace::kName) ? 1 : 0;
    if (s.code() == absl::StatusCode::kFailedPrecondition) {
      if (!inst.close_started.load()) {
        Violation(absl::StrCat(call, " failed with ", s.ToString(), " but nobody closed the store"));
        return -1;
      }
      s_->counters().closed[space][op_.kind].fetch_add(1, std::memory_order_relaxed);
      return 1;
    }
    if (closed_before) {
      Violation(absl::StrCat(call, " on a store whose Close() had returned gave ", s.ToString(),
                             " instead of FailedPrecondition"));
      return -1;
    }
    if (s.ok()) {
      s_->counters().ok[space][op_.kind].fetch_add(1, std::memory_order_relaxed);
      return 0;
    }
    if (not_found_ok && s.code() == absl::StatusCode::kNotFound) {
      s_->counters().ok[space][op_.kind].fetch_add(1, std::memory_order_relaxed);
      return 2;
    }
    Violation(absl::StrCat(call, " failed: ", s.ToString()));
    return -1;
  }

  template <typename Traits>
  size_t RandomKey(Space<Traits>& sp) {
    // Mostly any key; a third of the time one of this thread's own (exact expectations).
    const auto& own = sp.owned(std::min(id_, s_->config().threads - 1));
    if (rng_() % 3 == 0 && !own.empty() && id_ < s_->config().threads) return own[rng_() % own.size()];
    return rng_() % sp.size();
  }

  // ---- Get / GetInto

  template <typename Traits>
  void DoGet(Space<Traits>& sp, typename Space<Traits>::Instance& inst, bool into) {
    const size_t i = RandomKey(sp);
    op_.detail = absl::StrCat("key #", i, " ", Traits::Describe(sp.key(i)));
    ReadOptions ro;
    ro.verify_checksums = rng_() % 10 == 0;
    const bool closed_before = inst.close_returned.load();
    const uint64_t cb = sp.expected().Committed(i);
    absl::Status status;
    typename Traits::Value value{};
    if (into) {
      // NotFound must leave the value as it was.
      typename Traits::Value before = sp.MakeValue(i, 0x5e5e5e5e5eULL);
      value = before;
      status = inst.store->GetInto(Traits::Alias(sp.key(i), rng_()), &value, ro);
      if (status.code() == absl::StatusCode::kNotFound && !ValuesEqual(value, before)) {
        Violation("GetInto returned NotFound but changed the value");
      }
    } else {
      absl::StatusOr<typename Traits::Value> got = inst.store->Get(Traits::Alias(sp.key(i), rng_()), ro);
      status = got.status();
      if (got.ok()) value = *std::move(got);
    }
    const uint64_t pa = sp.expected().Pending(i);
    const int outcome = Classify(status, inst, closed_before, true, into ? "GetInto" : "Get");
    std::string why;
    if (outcome == 0) {
      uint64_t vi = 0, v = 0;
      if (!Traits::DecodeValue(value, &vi, &v) || vi != i) {
        why = "returned a value that belongs to no version of this key";
      } else if (!ValuesEqual(value, sp.MakeValue(i, v))) {
        why = absl::StrCat("returned version ", v, " with the wrong bytes");
      } else {
        why = sp.expected().CheckPresent(i, v, cb, pa);
      }
      s_->counters().reads_checked.fetch_add(1, std::memory_order_relaxed);
    } else if (outcome == 2) {
      why = sp.expected().CheckAbsent(i, cb, pa);
      s_->counters().absent_checked.fetch_add(1, std::memory_order_relaxed);
    }
    if (!why.empty()) {
      Violation(absl::StrCat(into ? "GetInto" : "Get", ": ", why, "; acknowledged before: ", cb,
                             ", attempted by the end: ", pa));
    }
  }

  // ---- Writes

  template <typename Traits>
  void DoWrite(Space<Traits>& sp, typename Space<Traits>::Instance& inst, int n, bool bad) {
    if (id_ >= s_->config().threads) return;  // Helpers own no keys.
    const auto& own = sp.owned(id_);
    if (own.empty()) return;
    ExpectedState& ex = sp.expected();
    std::vector<std::pair<uint32_t, uint64_t>> entries;
    entries.reserve(n);
    // Ascending runs sometimes (sequential fills make flushes join the newest sorted run).
    const bool sequential = n > 1 && rng_() % 4 == 0;
    size_t cursor = rng_() % own.size();
    for (int j = 0; j < n; ++j) {
      const uint32_t i = sequential ? own[(cursor++) % own.size()] : own[rng_() % own.size()];
      entries.emplace_back(i, ex.TakeVersion(i));
    }
    const bool single = n == 1 && !bad && rng_() % 4 != 0;
    WriteOptions wo;
    wo.sync = rng_() % 50 == 0;
    op_.detail = absl::StrCat(single ? "" : "batch of ", single ? "" : absl::StrCat(n, " ops "),
                              "key #", entries[0].first, " v", entries[0].second,
                              bad ? " (+ an oversized key)" : "", wo.sync ? " sync" : "");
    // Versions a later op of the same batch overwrites can never be seen.
    std::map<uint32_t, uint64_t> last;
    for (const auto& [i, v] : entries) {
      auto [it, inserted] = last.emplace(i, v);
      if (!inserted) {
        ex.Supersede(i, it->second);
        it->second = v;
      }
    }
    const uint64_t op_id = (static_cast<uint64_t>(id_) << 48) | ++write_ops_;
    s_->Announce(kIntent, id_, op_id, sp.index(), entries);
    for (const auto& [i, v] : entries) ex.Begin(i, v);
    const bool closed_before = inst.close_returned.load();
    absl::Status status;
    if (single) {
      const auto [i, v] = entries[0];
      const typename Traits::Key key = Traits::Alias(sp.key(i), rng_());
      status = ex.IsDeletion(i, v) ? inst.store->Delete(key, wo) : inst.store->Set(key, sp.MakeValue(i, v), wo);
    } else {
      typename Space<Traits>::Store::WriteBatch batch;
      const size_t bad_at = bad ? rng_() % (entries.size() + 1) : SIZE_MAX;
      for (size_t j = 0; j <= entries.size(); ++j) {
        if (j == bad_at) {
          if constexpr (std::is_same_v<Traits, StringSpace>) {
            batch.Set(std::string(kMaxKeyBytes + 1 + rng_() % 100, 'o'), "oversized");
          } else {
            batch.Set(typename Traits::Key(1, std::nan(""), "nan"), typename Traits::Value{});
          }
        }
        if (j == entries.size()) break;
        const auto [i, v] = entries[j];
        if (ex.IsDeletion(i, v)) {
          batch.Delete(Traits::Alias(sp.key(i), rng_()));
        } else {
          batch.Set(Traits::Alias(sp.key(i), rng_()), sp.MakeValue(i, v));
        }
      }
      if (batch.size() != entries.size() && !bad) {
        Violation(absl::StrCat("WriteBatch::size() is ", batch.size(), " after ", entries.size(), " ops"));
      }
      if (bad && batch.status().code() != absl::StatusCode::kInvalidArgument) {
        Violation(absl::StrCat("a batch holding an invalid key has status ", batch.status().ToString()));
      }
      status = inst.store->Write(batch, wo);
    }
    if (bad) {
      // The batch must be refused whole, whatever the store's state.
      if (status.code() != absl::StatusCode::kInvalidArgument) {
        Violation(absl::StrCat("Write of a batch holding an invalid key returned ", status.ToString(),
                               " instead of InvalidArgument"));
      }
      for (const auto& [i, v] : last) ex.Fail(i, v);
      s_->Announce(kFail, id_, op_id, sp.index(), entries);
      s_->counters().writes_rejected.fetch_add(1, std::memory_order_relaxed);
      const int space = sp.index();
      s_->counters().ok[space][op_.kind].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    const int outcome = Classify(status, inst, closed_before, false, single ? "Set/Delete" : "Write");
    if (outcome == 0) {
      s_->Announce(kAck, id_, op_id, sp.index(), entries);
      for (const auto& [i, v] : last) ex.Commit(i, v);
      s_->counters().writes_acknowledged.fetch_add(1, std::memory_order_relaxed);
    } else if (outcome == 1) {
      s_->Announce(kFail, id_, op_id, sp.index(), entries);
      for (const auto& [i, v] : last) ex.Fail(i, v);
      s_->counters().writes_failed_closed.fetch_add(1, std::memory_order_relaxed);
    }
    // After any other error the write may or may not have been applied: it stays pending.
  }

  // ---- Iterators and scans

  template <typename Traits>
  void PlanWalk(Space<Traits>& sp, int* start, typename Traits::Key* target, std::vector<bool>* steps) {
    const uint64_t r = rng_() % 10;
    *start = r < 5 ? kStartSeek : r < 7 ? kStartFirst : kStartLast;
    if (*start == kStartSeek) {
      const uint64_t t = rng_() % 50;
      if (t == 0) {
        *target = Traits::Smallest();
      } else if (t == 1) {
        *target = Traits::Largest();
      } else {
        *target = Traits::TargetNear(sp.key(RandomKey(sp)), rng_());
      }
    }
    bool forward = *start != kStartLast;
    if (*start == kStartSeek && rng_() % 3 == 0) forward = false;
    const size_t length = rng_() % 20 == 0 ? sp.size() + 2 : 1 + rng_() % 40;
    steps->clear();
    for (size_t j = 0; j < length; ++j) {
      if (rng_() % 10 == 0) forward = !forward;
      steps->push_back(forward);
    }
  }

  template <typename Traits>
  void DoIterate(Space<Traits>& sp, std::shared_ptr<typename Space<Traits>::Instance> inst_ptr) {
    auto& inst = *inst_ptr;
    int start;
    typename Traits::Key target{};
    std::vector<bool> steps;
    PlanWalk(sp, &start, &target, &steps);
    op_.detail = absl::StrCat(start == kStartSeek ? absl::StrCat("Seek(", Traits::Describe(target), ")")
                                                  : start == kStartFirst ? "SeekToFirst" : "SeekToLast",
                              " + ", steps.size(), " steps");
    ReadOptions ro;
    ro.verify_checksums = rng_() % 10 == 0;
    const bool closed_before = inst.close_returned.load();
    sp.expected().LoadCommitted(&cb_);
    auto it = inst.store->NewIterator(ro);
    // It reads the store as of its creation: nothing attempted after this can be in it.
    sp.expected().LoadPending(&pa_);
    const bool hold = rng_() % 8 == 0 && id_ < s_->config().threads;
    if (hold) {
      // Walk part of the way now, the rest in a later operation of this thread (after flushes,
      // compactions, a Close of the store...).
      auto h = std::make_unique<typename Space<Traits>::HeldIterator>();
      h->instance = inst_ptr;
      h->result.Init(sp.size());
      h->walker = Walker<Traits>{&sp, &h->result, rng_() % 2 == 0};
      h->walker.Start(*it, start, target);
      const size_t now = steps.size() / 2;
      for (size_t j = 0; j < now && h->walker.Step(*it, steps[j]); ++j) {
      }
      h->rest.assign(steps.begin() + std::min(now, steps.size()), steps.end());
      h->cb = cb_;
      h->pa = pa_;
      h->description = op_.detail;
      h->iterator = std::move(it);
      auto& held = sp.held_iterators(id_);
      held.push_back(std::move(h));
      if (held.size() > 2) ResumeHeldIterator(sp);
      s_->counters().ok[sp.index()][op_.kind].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    WalkResult r;
    ExecuteWalk(sp, *it, start, target, steps, rng_() % 2 == 0, &r);
    const int outcome = Classify(r.status, inst, closed_before, false, "iterator status()");
    if (outcome != 0) return;
    if (!r.error.empty()) return Violation(absl::StrCat("iterator: ", r.error, " trail ", DescribeTrail(r)));
    const std::string why = CheckAgainstModel(sp, r, cb_, pa_, s_->counters());
    if (!why.empty()) {
      Violation(absl::StrCat("iterator: ", why, "; trail ", DescribeTrail(r),
                             inst.close_started.load() ? " (Close() had started on this store)" : ""));
    }
  }

  // Finishes the walk of the oldest iterator this thread holds. If its store was closed since, a
  // move must leave it invalid with FailedPrecondition.
  template <typename Traits>
  void ResumeHeldIterator(Space<Traits>& sp) {
    auto& held = sp.held_iterators(id_);
    if (held.empty()) return;
    std::unique_ptr<typename Space<Traits>::HeldIterator> h = std::move(held.front());
    held.pop_front();
    auto& inst = *h->instance;
    const int saved_kind = op_.kind;
    op_.kind = kIterate;
    op_.generation = inst.generation;
    op_.detail = absl::StrCat("held iterator, ", h->description);
    const bool closed_before = inst.close_returned.load();
    auto& it = *h->iterator;
    bool moved = false;
    for (bool forward : h->rest) {
      moved = true;
      if (!h->walker.Step(it, forward)) break;
    }
    if (!moved || (closed_before && h->walker.cur < 0)) {
      // Make one more move, so that a closed store is seen: a Seek near where it stood.
      const size_t p = h->walker.cur >= 0 ? static_cast<size_t>(h->walker.cur) : rng_() % sp.size();
      h->walker.Start(it, kStartSeek, sp.key(sp.at(p)));
    }
    h->result.status = it.status();
    if (closed_before && it.Valid()) {
      Violation("a held iterator is still valid after its store's Close() returned");
    }
    const int outcome = Classify(h->result.status, inst, closed_before, false, "held iterator status()");
    op_.kind = saved_kind;
    if (outcome != 0) return;
    if (!h->result.error.empty()) {
      return Violation(absl::StrCat("held iterator: ", h->result.error, " trail ", DescribeTrail(h->result)));
    }
    const std::string why = CheckAgainstModel(sp, h->result, h->cb, h->pa, s_->counters());
    if (!why.empty()) {
      Violation(absl::StrCat("held iterator: ", why, "; trail ", DescribeTrail(h->result),
                             inst.close_started.load() ? " (Close() had started on this store)" : ""));
    }
  }

  template <typename Traits>
  void DoScan(Space<Traits>& sp, typename Space<Traits>::Instance& inst) {
    const size_t n = sp.size();
    size_t a = rng_() % n, b = rng_() % n;
    if (a > b) std::swap(a, b);
    if (b - a > 400) b = a + rng_() % 400;
    const typename Traits::Key lo = rng_() % 2 ? Traits::Alias(sp.key(sp.at(a)), rng_())
                                               : Traits::TargetNear(sp.key(sp.at(a)), rng_());
    const typename Traits::Key hi = Traits::Alias(sp.key(sp.at(b)), rng_());
    const bool open_ended = rng_() % 5 == 0;
    const size_t limit = 1 + rng_() % 100;
    op_.detail = absl::StrCat("Scan(", Traits::Describe(lo), open_ended ? "" : ", ",
                              open_ended ? "" : Traits::Describe(hi), ")",
                              open_ended ? absl::StrCat(" first ", limit) : "");
    ReadOptions ro;
    ro.verify_checksums = rng_() % 10 == 0;
    const bool closed_before = inst.close_returned.load();
    sp.expected().LoadCommitted(&cb_);
    WalkResult r;
    r.Init(n);
    const size_t lower = sp.LowerBound(lo);
    const size_t upper = open_ended ? n : sp.LowerBound(hi);
    int64_t last = -1;
    size_t count = 0;
    bool stopped_early = false;
    auto visit = [&](const typename Traits::Key& key, const typename Traits::Value& value) {
      if (!Traits::Canonical(key)) r.Fail(absl::StrCat("key ", Traits::Describe(key), " returned with -0.0 in it"));
      uint64_t i = 0, v = 0;
      if (!Traits::DecodeValue(value, &i, &v) || i >= n || !(sp.key(i) == key) ||
          !ValuesEqual(value, sp.MakeValue(i, v))) {
        r.Fail(absl::StrCat("garbage entry at key ", Traits::Describe(key)));
        return;
      }
      const int64_t p = static_cast<int64_t>(sp.position(i));
      if (static_cast<size_t>(p) < lower || static_cast<size_t>(p) >= upper) {
        r.Fail(absl::StrCat("key ", Traits::Describe(key), " is outside the scanned range"));
      }
      if (p <= last) r.Fail(absl::StrCat("keys out of order: sorted position ", last, " then ", p));
      r.MarkAbsent(last < 0 ? lower : last + 1, p, "Scan");
      r.MarkPresent(p, v);
      r.positions.push_back(p);
      r.versions.push_back(v);
      last = p;
    };
    absl::Status status;
    if (open_ended) {
      auto range = inst.store->Scan(lo, ro);
      sp.expected().LoadPending(&pa_);
      for (const auto& [key, value] : range) {
        visit(key, value);
        if (++count >= limit) {
          stopped_early = true;
          break;
        }
      }
      status = range.status();
    } else {
      auto range = inst.store->Scan(lo, hi, ro);
      sp.expected().LoadPending(&pa_);
      for (const auto& [key, value] : range) visit(key, value);
      status = range.status();
    }
    if (!stopped_early) r.MarkAbsent(last < 0 ? lower : last + 1, upper, "Scan end");
    const int outcome = Classify(status, inst, closed_before, false, "Scan status()");
    if (outcome != 0) return;
    if (!r.error.empty()) return Violation(absl::StrCat("scan: ", r.error));
    const std::string why = CheckAgainstModel(sp, r, cb_, pa_, s_->counters());
    if (!why.empty()) {
      Violation(absl::StrCat("scan of sorted positions [", lower, ", ", upper, "): ", why,
                             inst.close_started.load() ? " (Close() had started on this store)" : ""));
    }
  }

  // ---- Snapshots

  template <typename Traits>
  void DoSnapshot(Space<Traits>& sp, std::shared_ptr<typename Space<Traits>::Instance> inst) {
    using Held = typename Space<Traits>::HeldSnapshot;
    Held h;
    h.instance = inst;
    const bool closed_before = inst->close_returned.load();
    sp.expected().LoadCommitted(&cb_);
    h.snapshot = std::make_unique<Snapshot>(inst->store->GetSnapshot());
    sp.expected().LoadPending(&pa_);  // Nothing attempted after GetSnapshot returned is in it.
    ReadOptions ro;
    ro.snapshot = h.snapshot.get();
    WalkResult r;
    r.Init(sp.size());
    bool closed = false;
    const int gets = 1 + static_cast<int>(rng_() % 8);
    for (int g = 0; g < gets && !closed; ++g) {
      const size_t i = RandomKey(sp);
      absl::StatusOr<typename Traits::Value> got = inst->store->Get(sp.key(i), ro);
      const int outcome = Classify(got.status(), *inst, closed_before, true, "Get at a snapshot");
      if (outcome < 0) return;
      if (outcome == 1) {
        closed = true;
        break;
      }
      h.get_keys.push_back(static_cast<uint32_t>(i));
      if (outcome == 2) {
        h.get_results.push_back(std::nullopt);
        if (r.state[sp.position(i)] == 1) r.Fail(absl::StrCat("key #", i, " found then not found"));
        r.state[sp.position(i)] = 2;
        continue;
      }
      uint64_t vi = 0, v = 0;
      if (!Traits::DecodeValue(*got, &vi, &v) || vi != i || !ValuesEqual(*got, sp.MakeValue(i, v))) {
        return Violation(absl::StrCat("Get at a snapshot: garbage value for key #", i));
      }
      h.get_results.push_back(v);
      r.MarkPresent(sp.position(i), v);
    }
    if (closed) return;
    PlanWalk(sp, &h.walk_start, &h.walk_target, &h.walk_steps);
    if (h.walk_steps.size() > 60) h.walk_steps.resize(60);
    op_.detail = absl::StrCat("snapshot at sequence ", h.snapshot->sequence(), ", ", gets, " gets + a walk of ",
                              h.walk_steps.size(), " steps");
    auto it = inst->store->NewIterator(ro);
    WalkResult w;
    ExecuteWalk(sp, *it, h.walk_start, h.walk_target, h.walk_steps, false, &w);
    const int outcome = Classify(w.status, *inst, closed_before, false, "iterator at a snapshot");
    if (outcome != 0) return;
    if (!w.error.empty()) return Violation(absl::StrCat("iterator at a snapshot: ", w.error));
    // The Gets and the walk read the same point in time.
    for (size_t p = 0; p < w.state.size(); ++p) {
      if (w.state[p] == 0 || r.state[p] == 0) continue;
      if (w.state[p] != r.state[p] || (w.state[p] == 1 && w.version[p] != r.version[p])) {
        return Violation(absl::StrCat("snapshot: Get and iterator disagree on key #", sp.at(p)));
      }
    }
    std::string why = CheckAgainstModel(sp, r, cb_, pa_, s_->counters());
    if (why.empty()) why = CheckAgainstModel(sp, w, cb_, pa_, s_->counters());
    if (!why.empty()) {
      return Violation(absl::StrCat("snapshot read: ", why,
                                    inst->close_started.load() ? " (Close() had started on this store)" : ""));
    }
    h.walk_positions = w.positions;
    h.walk_versions = w.versions;
    if (id_ >= s_->config().threads) return;  // Helpers hold no snapshots.
    auto& held = sp.held(id_);
    held.push_back(std::move(h));
    if (held.size() > 3) DoSnapshotRecheck(sp);
  }

  // Reads a held snapshot again: the same Gets and the same walk must give the same answers.
  template <typename Traits>
  void DoSnapshotRecheck(Space<Traits>& sp) {
    if (id_ >= s_->config().threads) return;
    auto& held = sp.held(id_);
    if (held.empty()) return;
    auto h = std::move(held.front());
    held.pop_front();
    CheckForeignSnapshot(sp, h);
    auto& inst = *h.instance;
    op_.generation = inst.generation;
    op_.detail = absl::StrCat("snapshot at sequence ", h.snapshot->sequence(), ", ", h.get_keys.size(),
                              " gets + a walk of ", h.walk_steps.size(), " steps");
    ReadOptions ro;
    ro.snapshot = h.snapshot.get();
    const bool closed_before = inst.close_returned.load();
    for (size_t g = 0; g < h.get_keys.size(); ++g) {
      const size_t i = h.get_keys[g];
      absl::StatusOr<typename Traits::Value> got = inst.store->Get(sp.key(i), ro);
      const int outcome = Classify(got.status(), inst, closed_before, true, "Get at a held snapshot");
      if (outcome < 0 || outcome == 1) return;
      std::optional<uint64_t> now;
      if (outcome == 0) {
        uint64_t vi = 0, v = 0;
        if (!Traits::DecodeValue(*got, &vi, &v) || vi != i || !ValuesEqual(*got, sp.MakeValue(i, v))) {
          return Violation(absl::StrCat("Get at a held snapshot: garbage value for key #", i));
        }
        now = v;
      }
      if (now != h.get_results[g]) {
        return Violation(absl::StrCat(
            "snapshot not stable: Get of key #", i, " ", Traits::Describe(sp.key(i)), " gave ",
            h.get_results[g] ? absl::StrCat("version ", *h.get_results[g]) : "absent", " and now ",
            now ? absl::StrCat("version ", *now) : "absent",
            inst.close_started.load() ? " (Close() had started on this store)" : ""));
      }
    }
    auto it = inst.store->NewIterator(ro);
    WalkResult w;
    ExecuteWalk(sp, *it, h.walk_start, h.walk_target, h.walk_steps, false, &w);
    const int outcome = Classify(w.status, inst, closed_before, false, "iterator at a held snapshot");
    if (outcome != 0) return;
    if (w.positions != h.walk_positions || w.versions != h.walk_versions) {
      WalkResult before;
      before.positions = h.walk_positions;
      before.versions = h.walk_versions;
      Violation(absl::StrCat("snapshot not stable: the same walk gave ", DescribeTrail(before), " then ",
                             DescribeTrail(w),
                             inst.close_started.load() ? " (Close() had started on this store)" : ""));
    }
  }

  // A snapshot of an earlier opening read on the current one: FailedPrecondition, by Get and by
  // iterator (its sequence numbers mean nothing there). An empty Snapshot: InvalidArgument (or
  // FailedPrecondition if the store is closed).
  template <typename Traits>
  void CheckForeignSnapshot(Space<Traits>& sp, typename Space<Traits>::HeldSnapshot& h) {
    auto current = sp.Current();
    if (current == nullptr) return;
    Snapshot empty;
    const bool foreign = current != h.instance;
    ReadOptions ro;
    ro.snapshot = foreign ? h.snapshot.get() : &empty;
    const absl::StatusCode want =
        foreign ? absl::StatusCode::kFailedPrecondition : absl::StatusCode::kInvalidArgument;
    const char* what = foreign ? "a snapshot of an earlier opening of the store" : "an empty Snapshot";
    const size_t i = RandomKey(sp);
    absl::StatusOr<typename Traits::Value> got = current->store->Get(sp.key(i), ro);
    auto acceptable = [&](const absl::Status& st) {
      return st.code() == want ||
             (st.code() == absl::StatusCode::kFailedPrecondition && current->close_started.load());
    };
    if (!acceptable(got.status())) {
      Violation(absl::StrCat("Get at ", what, " returned ", got.status().ToString(), " instead of ",
                             absl::StatusCodeToString(want)));
    }
    auto it = current->store->NewIterator(ro);
    it->SeekToFirst();
    if (it->Valid() || !acceptable(it->status())) {
      Violation(absl::StrCat("iterator at ", what, ": ", it->Valid() ? "valid, " : "",
                             "status ", it->status().ToString(), " instead of ",
                             absl::StatusCodeToString(want)));
    }
  }

  // ---- Flush, Compact, WaitForBackgroundWork, Verify, GetProperty

  template <typename Traits>
  void DoMaintenance(Space<Traits>& sp, typename Space<Traits>::Instance& inst, int kind) {
    const bool closed_before = inst.close_returned.load();
    absl::Status s;
    switch (kind) {
      case kFlush:
        s = inst.store->Flush();
        break;
      case kCompact:
        s = inst.store->Compact();
        break;
      case kWaitForBackgroundWork:
        s = inst.store->WaitForBackgroundWork();
        break;
      default:
        s = inst.store->Verify();
        break;
    }
    Classify(s, inst, closed_before, false, kKindNames[kind]);
  }

  template <typename Traits>
  void DoProperty(Space<Traits>& sp, typename Space<Traits>::Instance& inst) {
    static constexpr const char* kNumeric[] = {
        "kvstore.num-segments",        "kvstore.total-bytes",        "kvstore.memtable-bytes",
        "kvstore.index-filter-bytes",  "kvstore.num-entries",        "kvstore.user-bytes-written",
        "kvstore.flush-bytes-written", "kvstore.compaction-bytes-written",
        "kvstore.compaction-bytes-read", "kvstore.flushes",           "kvstore.compactions",
        "kvstore.filter-negatives",    "kvstore.segment-reads",      "kvstore.write-slowdowns",
        "kvstore.write-stops",         "kvstore.live-snapshots",     "kvstore.last-sequence",
        "kvstore.wal-records",         "kvstore.wal-tail-bytes-dropped"};
    constexpr size_t kCount = sizeof(kNumeric) / sizeof(kNumeric[0]);
    const uint64_t r = rng_() % (kCount + 3);
    const char* name = r < kCount ? kNumeric[r]
                       : r == kCount ? "kvstore.segments"
                       : r == kCount + 1 ? "kvstore.write-amplification"
                                         : "kvstore.no-such-property";
    op_.detail = name;
    std::optional<std::string> value = inst.store->GetProperty(name);
    const int space = sp.index();
    if (r == kCount + 2) {
      if (value.has_value()) Violation(absl::StrCat("unknown property has value \"", *value, "\""));
      s_->counters().ok[space][kProperty].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (!value.has_value()) {
      if (!inst.close_started.load()) Violation("known property returned nullopt on an open store");
      s_->counters().closed[space][kProperty].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    s_->counters().ok[space][kProperty].fetch_add(1, std::memory_order_relaxed);
    if (r < kCount) {
      uint64_t number;
      if (!absl::SimpleAtoi(*value, &number)) {
        return Violation(absl::StrCat("property value \"", *value, "\" is not a number"));
      }
      if (std::string(name) == "kvstore.last-sequence") {
        uint64_t& seen = last_sequence_[std::make_pair(sp.index(), inst.generation)];
        if (number < seen) {
          Violation(absl::StrCat("kvstore.last-sequence went back from ", seen, " to ", number));
        }
        seen = std::max(seen, number);
      }
    } else if (r == kCount + 1) {
      double wa;
      if (!absl::SimpleAtod(*value, &wa) || wa < 0) {
        Violation(absl::StrCat("write-amplification \"", *value, "\""));
      }
    }
  }

  // ---- Quiet: no other thread runs an operation meanwhile

  // Sleeps past the store's idle_flush_ms (its idle flush may switch MemTables now), reads a few
  // keys while the idle flush may run, and sometimes closes and reopens the store meanwhile.
  template <typename Traits>
  void DoQuiet(Space<Traits>& sp) {
    op_.space = sp.name();
    auto inst = sp.Current();
    op_.generation = inst->generation;
    const int ms = 2 + static_cast<int>(rng_() % 40);
    op_.detail = absl::StrCat(ms, " ms without other operations");
    auto flushes = [&inst]() -> uint64_t {
      uint64_t n = 0;
      if (auto v = inst->store->GetProperty("kvstore.flushes")) absl::SimpleAtoi(*v, &n);
      return n;
    };
    // Let a flush already under way finish first, so that what follows is the idle flush's.
    if (!inst->close_started.load()) inst->store->WaitForBackgroundWork().IgnoreError();
    const uint64_t before = flushes();
    const auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < until) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1 + rng_() % 5));
      DoGet(sp, *inst, false);
    }
    const uint64_t after = flushes();
    if (after > before) s_->counters().quiet_flushes.fetch_add(after - before, std::memory_order_relaxed);
    if (rng_() % 3 == 0) {
      DoReopen(sp, kReopen);  // Close racing the idle flush, if one runs.
    } else {
      s_->counters().ok[sp.index()][kQuiet].fetch_add(1, std::memory_order_relaxed);
    }
  }

  // ---- Close and reopen

  template <typename Traits>
  void DoReopen(Space<Traits>& sp, int variant) {
    using Instance = typename Space<Traits>::Instance;
    std::shared_ptr<Instance> stale;
    if (variant == kCloseStale) {
      // Close whatever store this thread holds, without the reopen lock: it may be one another
      // thread is closing or has replaced already. Then reopen if nobody has.
      stale = sp.Current();
      op_.generation = stale->generation;
      stale->close_started.store(true);
      const absl::Status s = stale->store->Close();
      if (!s.ok()) Violation(absl::StrCat("Close() returned ", s.ToString()));
      stale->close_returned.store(true);
    }
    std::lock_guard<std::mutex> reopen_lock(sp.reopen_mu());
    std::shared_ptr<Instance> inst = sp.Current();
    if (stale != nullptr && inst != stale) return;  // Someone reopened it already.
    op_.generation = inst->generation;
    uint64_t sequence_before = 0;
    if (auto seq = inst->store->GetProperty("kvstore.last-sequence")) {
      absl::SimpleAtoi(*seq, &sequence_before);
    }
    if (rng_() % 3 == 0) {
      // The directory is locked while the store is open: a second Open must fail, harmlessly.
      auto second = Space<Traits>::Store::Open(sp.dir(), Options());
      if (second.ok()) {
        if (!inst->close_started.load()) {
          Violation("a second Open() of a directory whose store is open succeeded");
        }
        (*second)->Close().IgnoreError();
      }
    }
    inst->close_started.store(true);
    absl::Status s, s2;
    if (variant == kReopenDoubleClose) {
      op_.detail = "two concurrent Close() calls";
      std::thread other([&] { s2 = inst->store->Close(); });
      s = inst->store->Close();
      other.join();
    } else if (variant == kReopenRacingWork) {
      op_.detail = "Close() while a helper calls Flush/Compact/iterators/... on the store";
      std::atomic<bool> done{false};
      Worker helper(s_, s_->config().threads, rng_());
      std::thread t([&] { helper.HammerDuringClose(sp, inst, done); });
      std::this_thread::sleep_for(std::chrono::microseconds(rng_() % 3000));
      s = inst->store->Close();
      inst->close_returned.store(true);
      done.store(true);
      t.join();
    } else {
      s = inst->store->Close();
    }
    inst->close_returned.store(true);
    if (!s.ok()) Violation(absl::StrCat("Close() returned ", s.ToString()));
    if (!s2.ok()) Violation(absl::StrCat("the concurrent Close() returned ", s2.ToString()));
    // Reopen right away: the directory must be free once Close() has returned.
    absl::StatusOr<std::shared_ptr<Instance>> opened;
    for (int attempt = 0;; ++attempt) {
      opened = sp.Open(rng_, inst->generation + 1);
      if (opened.ok()) break;
      if (attempt == 0) {
        Violation(absl::StrCat("Open() right after Close() returned OK failed: ",
                               opened.status().ToString(), " (retrying)"));
      }
      if (attempt > 1000) {
        std::fprintf(stderr, "stress: cannot reopen the %s store: %s\n", sp.name(),
                     opened.status().ToString().c_str());
        std::abort();
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    auto fresh = *std::move(opened);
    if (s_->config().verbose) {
      std::fprintf(stderr, "[thread %d] reopened the %s store (generation %" PRIu64 ", %s): %s\n", id_,
                   sp.name(), fresh->generation, kKindNames[variant], fresh->options.c_str());
    }
    uint64_t sequence_after = 0;
    if (auto seq = fresh->store->GetProperty("kvstore.last-sequence")) {
      absl::SimpleAtoi(*seq, &sequence_after);
    }
    if (sequence_after < sequence_before) {
      Violation(absl::StrCat("kvstore.last-sequence went back from ", sequence_before,
                             " before Close() to ", sequence_after, " after reopening"));
    }
    sp.Publish(fresh);
    s_->counters().reopens.fetch_add(1, std::memory_order_relaxed);  // ok[][variant]: the scan below.
    // A full forward walk of the reopened store.
    op_.generation = fresh->generation;
    sp.expected().LoadCommitted(&cb_);
    auto it = fresh->store->NewIterator();
    WalkResult r;
    ExecuteWalk(sp, *it, kStartFirst, typename Traits::Key{}, std::vector<bool>(sp.size() + 1, true),
                false, &r);
    sp.expected().LoadPending(&pa_);
    if (Classify(r.status, *fresh, false, false, "full scan after reopen") != 0) return;
    if (!r.error.empty()) return Violation(absl::StrCat("full scan after reopen: ", r.error));
    const std::string why = CheckAgainstModel(sp, r, cb_, pa_, s_->counters());
    if (!why.empty()) Violation(absl::StrCat("full scan after reopen: ", why));
  }

  Stress* s_;
  int id_;
  std::mt19937_64 rng_;
  OpContext op_;
  uint64_t write_ops_ = 0;
  std::vector<uint64_t> cb_, pa_;
  std::map<std::pair<uint32_t, uint64_t>, uint64_t> last_sequence_;
};

// ---- Hang watchdog ----------------------------------------------------------------------------

class Watchdog {
 public:
  Watchdog(Stress* s, int slots) : s_(s), slots_(slots) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  void Loop() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::milliseconds(500), [this] { return done_; })) {
      const int64_t now = NowMs();
      for (int t = 0; t < slots_; ++t) {
        auto& p = s_->progress(t);
        const int64_t started = p.started_ms.load();
        if (started != 0 && now - started > s_->config().hang_s * 1000) {
          std::fprintf(stderr,
                       "\n*** VIOLATION (seed %" PRIu64 "): HANG: thread %d has been in op #%" PRIu64
                       " %s for %.0f s\n    reproduce: %s\n",
                       s_->config().seed, t, p.index.load(), kKindNames[p.kind.load()],
                       (now - started) / 1000.0, s_->config().command_line.c_str());
          for (int u = 0; u < slots_; ++u) {
            auto& q = s_->progress(u);
            if (q.started_ms.load() != 0) {
              std::fprintf(stderr, "    thread %d: op #%" PRIu64 " %s for %.1f s\n", u, q.index.load(),
                           kKindNames[q.kind.load()], (now - q.started_ms.load()) / 1000.0);
            }
          }
          std::fflush(stderr);
          std::abort();  // A core / stack dump is the useful output now.
        }
      }
    }
  }

  Stress* s_;
  int slots_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// ---- Whole-store checks -----------------------------------------------------------------------

// With no write in flight: the store must hold exactly the committed versions. Reads every key
// with Get and the whole store with an iterator (forward and backward).
template <typename Traits>
std::string CheckExact(Space<Traits>& sp, typename Space<Traits>::Store& store, Counters& counters) {
  std::vector<uint64_t> committed;
  sp.expected().LoadCommitted(&committed);
  for (int direction = 0; direction < 2; ++direction) {
    auto it = store.NewIterator();
    WalkResult r;
    ExecuteWalk(sp, *it, direction == 0 ? kStartFirst : kStartLast, typename Traits::Key{},
                std::vector<bool>(sp.size() + 1, direction == 0), false, &r);
    if (!r.status.ok()) return absl::StrCat("full scan: ", r.status.ToString());
    if (!r.error.empty()) return absl::StrCat("full scan: ", r.error);
    std::string why = CheckAgainstModel(sp, r, committed, committed, counters);
    if (!why.empty()) return absl::StrCat(direction == 0 ? "forward" : "backward", " full scan: ", why);
  }
  for (size_t i = 0; i < sp.size(); ++i) {
    absl::StatusOr<typename Traits::Value> got = store.Get(sp.key(i));
    std::string why;
    if (got.ok()) {
      uint64_t vi = 0, v = 0;
      if (!Traits::DecodeValue(*got, &vi, &v) || vi != i || !ValuesEqual(*got, sp.MakeValue(i, v))) {
        why = "garbage value";
      } else {
        why = sp.expected().CheckPresent(i, v, committed[i], committed[i]);
      }
    } else if (got.status().code() == absl::StatusCode::kNotFound) {
      why = sp.expected().CheckAbsent(i, committed[i], committed[i]);
    } else {
      why = got.status().ToString();
    }
    if (!why.empty()) {
      return absl::StrCat("Get of key #", i, " ", Traits::Describe(sp.key(i)), ": ", why,
                          " (acknowledged: version ", committed[i], ")");
    }
  }
  return "";
}

template <typename Traits>
bool FinalCheck(Stress& s, Space<Traits>& sp, std::mt19937_64& rng) {
  OpContext op;
  op.thread = -1;
  op.space = sp.name();
  auto inst = sp.Current();
  op.generation = inst->generation;
  if (!inst->close_returned.load()) {
    std::string why = CheckExact(sp, *inst->store, s.counters());
    if (!why.empty()) {
      op.detail = "final check of the store as the threads left it";
      s.reporter().Violation(op, why);
      return false;
    }
    if (absl::Status v = inst->store->Verify(); !v.ok()) {
      s.reporter().Violation(op, absl::StrCat("Verify(): ", v.ToString()));
      return false;
    }
  }
  inst->close_started.store(true);
  if (absl::Status c = inst->store->Close(); !c.ok()) {
    s.reporter().Violation(op, absl::StrCat("final Close(): ", c.ToString()));
  }
  inst->close_returned.store(true);
  inst.reset();
  sp.Publish(nullptr);
  auto reopened = sp.Open(rng, op.generation + 1);
  if (!reopened.ok()) {
    s.reporter().Violation(op, absl::StrCat("final reopen: ", reopened.status().ToString()));
    return false;
  }
  op.generation += 1;
  op.detail = "final check after reopening";
  std::string why = CheckExact(sp, *(*reopened)->store, s.counters());
  if (!why.empty()) {
    s.reporter().Violation(op, why);
    return false;
  }
  if (absl::Status v = (*reopened)->store->Verify(); !v.ok()) {
    s.reporter().Violation(op, absl::StrCat("Verify(): ", v.ToString()));
    return false;
  }
  return (*reopened)->store->Close().ok();
}

void PrintSummary(Stress& s, double seconds) {
  Counters& c = s.counters();
  std::printf("%-22s %12s %12s %12s %12s\n", "op", "string ok", "string closed", "typed ok",
              "typed closed");
  uint64_t total = 0;
  for (int k = 0; k < kNumKinds; ++k) {
    std::printf("%-22s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", kKindNames[k],
                c.ok[0][k].load(), c.closed[0][k].load(), c.ok[1][k].load(), c.closed[1][k].load());
    total += c.ok[0][k].load() + c.closed[0][k].load() + c.ok[1][k].load() + c.closed[1][k].load();
  }
  std::printf(
      "ops: %" PRIu64 " in %.1f s; writes acknowledged %" PRIu64 ", failed on a closed store %" PRIu64
      ", rejected batches %" PRIu64 "; values checked %" PRIu64 ", absences checked %" PRIu64
      "; reopens %" PRIu64 ", helper calls racing Close %" PRIu64 ", idle flushes seen %" PRIu64
      "; violations: %d\n",
      total, seconds, c.writes_acknowledged.load(), c.writes_failed_closed.load(),
      c.writes_rejected.load(), c.reads_checked.load(), c.absent_checked.load(), c.reopens.load(),
      c.helper_calls.load(), c.quiet_flushes.load(), s.reporter().count());
  std::fflush(stdout);
}

// Runs the workload threads until their op count / deadline (run mode) or forever (child).
void RunWorkers(Stress& s, int64_t ops, Clock::time_point deadline) {
  Watchdog watchdog(&s, s.config().threads + 1);
  std::vector<std::thread> threads;
  for (int t = 0; t < s.config().threads; ++t) {
    threads.emplace_back([&s, t, ops, deadline] {
      Worker w(&s, t, 0);
      w.Run(ops, deadline);
    });
  }
  for (auto& t : threads) t.join();
}

template <typename Traits>
bool OpenFirst(Stress& s, Space<Traits>& sp, std::mt19937_64& rng) {
  auto opened = sp.Open(rng, 1);
  if (!opened.ok()) {
    std::fprintf(stderr, "stress: cannot open the %s store in %s: %s\n", sp.name(), sp.dir().c_str(),
                 opened.status().ToString().c_str());
    return false;
  }
  if (s.config().verbose) {
    std::fprintf(stderr, "opened the %s store: %s\n", sp.name(), (*opened)->options.c_str());
  }
  sp.Publish(*std::move(opened));
  return true;
}

int RunMode(const Config& config) {
  Stress s(config);
  std::mt19937_64 rng(Hash(config.seed, 0x0be11));
  if (!OpenFirst(s, s.string_space(), rng)) return 2;
  if (s.typed_space() != nullptr && !OpenFirst(s, *s.typed_space(), rng)) return 2;
  const auto start = Clock::now();
  const auto deadline = config.duration_s > 0
                            ? start + std::chrono::microseconds(static_cast<int64_t>(config.duration_s * 1e6))
                            : Clock::time_point::max();
  RunWorkers(s, config.ops, deadline);
  const double seconds = SecondsSince(start);
  if (s.reporter().count() == 0) {
    FinalCheck(s, s.string_space(), rng);
    if (s.typed_space() != nullptr) FinalCheck(s, *s.typed_space(), rng);
  }
  s.string_space().Publish(nullptr);
  if (s.typed_space() != nullptr) s.typed_space()->Publish(nullptr);
  // Every kind ran (the forced first ops guarantee it unless a violation stopped the run).
  if (s.reporter().count() == 0) {
    for (int k = 0; k < kNumKinds; ++k) {
      if (IsReopenKind(k) && config.reopen_every == 0) continue;
      const uint64_t n = s.counters().ok[0][k].load() + s.counters().closed[0][k].load() +
                         s.counters().ok[1][k].load() + s.counters().closed[1][k].load();
      if (n == 0 && k != kSnapshotRecheck) {
        std::fprintf(stderr, "stress: no %s operation ran\n", kKindNames[k]);
      }
    }
  }
  PrintSummary(s, seconds);
  if (s.reporter().count() > 0) {
    std::printf("FAILED: %d violation(s); seed %" PRIu64 "\n", s.reporter().count(), config.seed);
    return 1;
  }
  std::printf("PASSED (seed %" PRIu64 ")\n", config.seed);
  return 0;
}

// ---- Crash mode -------------------------------------------------------------------------------

// The parent's knowledge of one store between cycles: the version each key holds, and the first
// version a new child may use (above every version ever attempted).
struct CrashState {
  std::vector<uint64_t> resolved;
  std::vector<uint64_t> next;
};

bool WriteStateFile(const std::string& path, const std::vector<CrashState>& states) {
  std::string buf;
  for (const CrashState& st : states) {
    const uint64_t n = st.resolved.size();
    buf.append(reinterpret_cast<const char*>(&n), 8);
    buf.append(reinterpret_cast<const char*>(st.resolved.data()), n * 8);
    buf.append(reinterpret_cast<const char*>(st.next.data()), n * 8);
  }
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) return false;
  const bool ok = std::fwrite(buf.data(), 1, buf.size(), f) == buf.size();
  return std::fclose(f) == 0 && ok;
}

bool ReadStateFile(const std::string& path, std::vector<CrashState>* states) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return false;
  for (CrashState& st : *states) {
    uint64_t n = 0;
    if (std::fread(&n, 8, 1, f) != 1 || n != st.resolved.size()) {
      std::fclose(f);
      return false;
    }
    if (std::fread(st.resolved.data(), 8, n, f) != n || std::fread(st.next.data(), 8, n, f) != n) {
      std::fclose(f);
      return false;
    }
  }
  std::fclose(f);
  return true;
}

int ChildMode(const Config& config, const std::string& state_file) {
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  Stress s(config);
  std::vector<CrashState> states(s.typed_space() != nullptr ? 2 : 1);
  states[0].resolved.resize(config.keys);
  states[0].next.resize(config.keys);
  if (states.size() > 1) {
    states[1].resolved.resize(config.typed_keys);
    states[1].next.resize(config.typed_keys);
  }
  if (!ReadStateFile(state_file, &states)) {
    std::fprintf(stderr, "stress child: cannot read %s\n", state_file.c_str());
    return 2;
  }
  for (size_t i = 0; i < states[0].resolved.size(); ++i) {
    s.string_space().expected().Reset(i, states[0].resolved[i], states[0].next[i]);
  }
  if (states.size() > 1) {
    for (size_t i = 0; i < states[1].resolved.size(); ++i) {
      s.typed_space()->expected().Reset(i, states[1].resolved[i], states[1].next[i]);
    }
  }
  std::mt19937_64 rng(Hash(config.seed, config.cycle, 0xc41d));
  if (!OpenFirst(s, s.string_space(), rng)) return 2;
  if (s.typed_space() != nullptr && !OpenFirst(s, *s.typed_space(), rng)) return 2;
  // Runs until killed; 5 minutes at most.
  RunWorkers(s, 0, Clock::now() + std::chrono::minutes(5));
  return s.reporter().count() > 0 ? 3 : 5;
}

// Reads messages from the child until `deadline` or end of file; false at end of file.
bool ReadMessages(int fd, Clock::time_point deadline, std::string* buf) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() < 0) return true;
    struct pollfd p = {fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 1000)) + 1);
    if (ready < 0 && errno != EINTR) return false;
    if (ready <= 0) continue;
    char chunk[65536];
    const ssize_t n = ::read(fd, chunk, sizeof(chunk));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buf->append(chunk, static_cast<size_t>(n));
  }
}

struct ParsedOp {
  uint32_t thread = 0;
  std::vector<MessageEntry> entries;
};

// What the parent observes for one key after reopening: nullopt if absent.
template <typename Traits>
bool ReadWholeStore(typename Space<Traits>::Store& store, Space<Traits>& sp,
                    std::vector<std::optional<uint64_t>>* observed, std::string* error) {
  observed->assign(sp.size(), std::nullopt);
  auto it = store.NewIterator();
  int64_t last = -1;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    uint64_t i = 0, v = 0;
    const typename Traits::Value value = it->value();
    if (!Traits::DecodeValue(value, &i, &v) || i >= sp.size() || !(sp.key(i) == it->key()) ||
        !Traits::Canonical(it->key()) || !ValuesEqual(value, sp.MakeValue(i, v))) {
      *error = absl::StrCat("garbage entry at key ", Traits::Describe(it->key()));
      return false;
    }
    const int64_t p = static_cast<int64_t>(sp.position(i));
    if (p <= last) {
      *error = "iterator keys out of order";
      return false;
    }
    last = p;
    (*observed)[i] = v;
  }
  if (!it->status().ok()) {
    *error = absl::StrCat("iterator: ", it->status().ToString());
    return false;
  }
  for (size_t i = 0; i < sp.size(); ++i) {
    absl::StatusOr<typename Traits::Value> got = store.Get(sp.key(i));
    std::optional<uint64_t> v;
    if (got.ok()) {
      uint64_t vi = 0, vv = 0;
      Traits::DecodeValue(*got, &vi, &vv);
      v = vv;
    } else if (got.status().code() != absl::StatusCode::kNotFound) {
      *error = absl::StrCat("Get of key #", i, ": ", got.status().ToString());
      return false;
    }
    if (v != (*observed)[i]) {
      *error = absl::StrCat("Get and the iterator disagree on key #", i, " ", Traits::Describe(sp.key(i)));
      return false;
    }
  }
  return true;
}

// Checks one store after a kill; updates `state` to what the store now holds. Appends problems.
template <typename Traits>
void CheckAfterCrash(Space<Traits>& sp, typename Space<Traits>::Store& store, uint32_t space,
                     const std::vector<uint64_t>& committed, const std::map<uint64_t, ParsedOp>& in_flight,
                     CrashState* state, std::vector<std::string>* problems, uint64_t* in_flight_applied) {
  std::vector<std::optional<uint64_t>> observed;
  std::string error;
  if (!ReadWholeStore(store, sp, &observed, &error)) {
    problems->push_back(absl::StrCat(sp.name(), " store: ", error));
    return;
  }
  // The in-flight version of each key, if any (the last in its op).
  std::map<uint32_t, uint64_t> flying;
  for (const auto& [id, op] : in_flight) {
    for (const MessageEntry& e : op.entries) {
      if (e.space == space) flying[e.key] = e.version;
    }
  }
  auto matches = [&](size_t i, uint64_t v) {
    const bool deletion = sp.expected().IsDeletion(i, v);
    return observed[i].has_value() ? (!deletion && *observed[i] == v) : deletion;
  };
  for (size_t i = 0; i < sp.size(); ++i) {
    const bool pre = matches(i, committed[i]);
    auto f = flying.find(static_cast<uint32_t>(i));
    const bool post = f != flying.end() && matches(i, f->second);
    if (!pre && !post) {
      problems->push_back(absl::StrCat(
          sp.name(), " store, key #", i, " ", Traits::Describe(sp.key(i)), ": found ",
          observed[i] ? absl::StrCat("version ", *observed[i]) : "nothing", "; acknowledged ",
          committed[i], sp.expected().IsDeletion(i, committed[i]) ? " (a deletion)" : "",
          f != flying.end() ? absl::StrCat(", in flight ", f->second,
                                           sp.expected().IsDeletion(i, f->second) ? " (a deletion)" : "")
                            : ", nothing in flight"));
      continue;
    }
    if (observed[i].has_value()) {
      state->resolved[i] = *observed[i];
    } else {
      state->resolved[i] = pre ? committed[i] : f->second;
    }
  }
  // A batch in flight is applied whole or not at all.
  for (const auto& [id, op] : in_flight) {
    std::map<uint32_t, uint64_t> last;
    for (const MessageEntry& e : op.entries) {
      if (e.space == space) last[e.key] = e.version;
    }
    std::vector<std::string> applied, not_applied;
    for (const auto& [i, v] : last) {
      const bool pre = matches(i, committed[i]);
      const bool post = matches(i, v);
      if (post && !pre) applied.push_back(absl::StrCat("#", i));
      if (pre && !post) not_applied.push_back(absl::StrCat("#", i));
    }
    if (!applied.empty() && not_applied.empty()) ++*in_flight_applied;
    if (!applied.empty() && !not_applied.empty()) {
      problems->push_back(absl::StrCat(sp.name(), " store: a batch in flight (thread ", op.thread, ", ",
                                       op.entries.size(), " ops) was applied in part: keys ",
                                       absl::StrJoin(applied, " "), " applied, keys ",
                                       absl::StrJoin(not_applied, " "), " not"));
    }
  }
}

int CrashMode(const Config& config, int cycles, int max_delay_ms) {
  std::mt19937_64 rng(Hash(config.seed, 0xc7a54));
  Stress s(config);  // For the key spaces and models only.
  std::vector<CrashState> states(s.typed_space() != nullptr ? 2 : 1);
  states[0].resolved.assign(config.keys, 0);
  states[0].next.assign(config.keys, 1);
  if (states.size() > 1) {
    states[1].resolved.assign(config.typed_keys, 0);
    states[1].next.assign(config.typed_keys, 1);
  }
  const std::string state_file = config.dir + ".crash_state";
  uint64_t acknowledged = 0, applied_in_flight = 0, early_kills = 0, failed_closed = 0;
  const auto start = Clock::now();
  int status_code = 0;
  for (int cycle = 0; cycle < cycles && status_code == 0; ++cycle) {
    if (!WriteStateFile(state_file, states)) {
      std::fprintf(stderr, "stress: cannot write %s\n", state_file.c_str());
      return 2;
    }
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return 2;
    std::vector<std::string> args = {
        "/proc/self/exe",
        "--mode=child",
        absl::StrCat("--dir=", config.dir),
        absl::StrCat("--seed=", config.seed),
        absl::StrCat("--cycle=", cycle + 1),
        absl::StrCat("--ack_fd=", fds[1]),
        absl::StrCat("--state_file=", state_file),
        absl::StrCat("--threads=", config.threads),
        absl::StrCat("--keys=", config.keys),
        absl::StrCat("--typed_keys=", config.typed_keys),
        absl::StrCat("--value_size=", config.value_size),
        absl::StrCat("--reopen_every=", config.reopen_every),
        absl::StrCat("--max_batch=", config.max_batch),
        absl::StrCat("--hang_s=", config.hang_s),
        "--sanitizer_scale=false",
        absl::StrCat("--verbose=", config.verbose ? "true" : "false"),
    };
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) return 2;
    if (pid == 0) {
      ::fcntl(fds[1], F_SETFD, 0);  // Keep the write end across exec.
      ::execv("/proc/self/exe", argv.data());
      ::_exit(127);
    }
    ::close(fds[1]);

    std::string buf;
    const bool early = rng() % 8 == 0;
    early_kills += early;
    bool eof = false;
    if (!early) {
      // Wait for the first acknowledgement (or anything), so that most cycles write something.
      const auto give_up = Clock::now() + std::chrono::seconds(60);
      while (buf.size() < sizeof(MessageHeader) * 2 && Clock::now() < give_up && !eof) {
        eof = !ReadMessages(fds[0], Clock::now() + std::chrono::milliseconds(1), &buf);
      }
    }
    const auto delay = std::chrono::microseconds(early ? rng() % 20000 : rng() % (max_delay_ms * 1000 + 1));
    if (!eof) ReadMessages(fds[0], Clock::now() + delay, &buf);
    ::kill(pid, SIGKILL);
    while (ReadMessages(fds[0], Clock::now() + std::chrono::seconds(60), &buf)) {
    }
    ::close(fds[0]);
    int wstatus = 0;
    ::waitpid(pid, &wstatus, 0);
    OpContext op;
    op.thread = -1;
    op.index = static_cast<uint64_t>(cycle);
    op.kind = kReopen;
    op.space = "reopened";
    op.detail = absl::StrCat("after kill -9 of crash cycle ", cycle + 1, " (the child's log is above)");
    if (!(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL)) {
      s.reporter().Violation(op, WIFSIGNALED(wstatus)
                                     ? absl::StrCat("the child died of signal ", WTERMSIG(wstatus),
                                                    " (see its output above)")
                                     : absl::StrCat("the child exited by itself with status ",
                                                    WEXITSTATUS(wstatus), " (see its output above)"));
      status_code = 1;
      break;
    }

    // Replay the messages: acknowledged versions, and the ops still in flight.
    std::vector<std::vector<uint64_t>> committed;
    for (const CrashState& st : states) committed.push_back(st.resolved);
    std::map<uint64_t, ParsedOp> in_flight;
    size_t at = 0;
    while (at + sizeof(MessageHeader) <= buf.size()) {
      MessageHeader h;
      std::memcpy(&h, buf.data() + at, sizeof(h));
      if (h.magic != kMagic) {
        s.reporter().Violation(op, "garbled message from the child");
        return 1;
      }
      const size_t size = sizeof(h) + h.count * sizeof(MessageEntry);
      if (at + size > buf.size()) break;  // Torn by the kill: the write did not start / not acked.
      if (h.type < kIntent || h.type > kFail) {
        s.reporter().Violation(op, "garbled message from the child");
        return 1;
      }
      ParsedOp parsed;
      parsed.thread = h.thread;
      parsed.entries.resize(h.count);
      std::memcpy(parsed.entries.data(), buf.data() + at + sizeof(h), h.count * sizeof(MessageEntry));
      at += size;
      for (const MessageEntry& e : parsed.entries) {
        if (e.space >= states.size() || e.key >= states[e.space].resolved.size()) {
          s.reporter().Violation(op, "garbled message entry from the child");
          return 1;
        }
      }
      if (h.type == kIntent) {
        for (const MessageEntry& e : parsed.entries) {
          CrashState& st = states[e.space];
          st.next[e.key] = std::max(st.next[e.key], e.version + 1);
        }
        in_flight[h.op_id] = std::move(parsed);
      } else if (h.type == kAck) {
        for (const MessageEntry& e : parsed.entries) committed[e.space][e.key] = e.version;
        in_flight.erase(h.op_id);
        ++acknowledged;
      } else {
        in_flight.erase(h.op_id);
        ++failed_closed;
      }
    }

    // Reopen (other options than the child's) and check.
    std::vector<std::string> problems;
    uint64_t applied = 0;
    auto check = [&](auto& sp, uint32_t space) {
      std::string description;
      const Options options = RandomOptions(rng, &description);
      auto opened = std::remove_reference_t<decltype(sp)>::Store::Open(sp.dir(), options);
      if (!opened.ok()) {
        problems.push_back(absl::StrCat("reopen of the ", sp.name(), " store after kill -9: ",
                                        opened.status().ToString()));
        return;
      }
      auto& store = **opened;
      if (absl::Status v = store.Verify(); !v.ok()) {
        problems.push_back(absl::StrCat(sp.name(), " store: Verify(): ", v.ToString()));
      }
      CheckAfterCrash(sp, store, space, committed[space], in_flight, &states[space], &problems, &applied);
      if (absl::Status c = store.Close(); !c.ok()) {
        problems.push_back(absl::StrCat(sp.name(), " store: Close(): ", c.ToString()));
      }
    };
    check(s.string_space(), 0);
    if (s.typed_space() != nullptr) check(*s.typed_space(), 1);
    applied_in_flight += applied;
    if (config.verbose) {
      std::fprintf(stderr, "cycle %d: %s kill after %.1f ms, %zu message bytes, %zu ops in flight\n",
                   cycle + 1, early ? "early" : "", delay.count() / 1000.0, buf.size(), in_flight.size());
    }
    for (const std::string& p : problems) s.reporter().Violation(op, p);
    if (!problems.empty()) status_code = 1;
  }
  std::filesystem::remove(state_file);
  std::printf(
      "crash mode: %d kill -9 cycles (%" PRIu64 " early), writes acknowledged %" PRIu64
      ", writes failed on a closed store %" PRIu64 ", in-flight writes found applied %" PRIu64
      ", %.1f s; violations: %d\n",
      cycles, early_kills, acknowledged, failed_closed, applied_in_flight, SecondsSince(start),
      s.reporter().count());
  if (s.reporter().count() > 0) {
    std::printf("FAILED: %d violation(s); seed %" PRIu64 "\n", s.reporter().count(), config.seed);
    return 1;
  }
  std::printf("PASSED (seed %" PRIu64 ")\n", config.seed);
  return 0;
}

}  // namespace
}  // namespace kvstore::stress

int main(int argc, char** argv) {
  using namespace kvstore::stress;
  absl::SetProgramUsageMessage("kvstore stress test: --mode=run|crash; see testing/stress/stress.cc");
  std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) {
    std::fprintf(stderr, "stress: unexpected argument %s\n", rest[1]);
    return 2;
  }
  const std::string mode = absl::GetFlag(FLAGS_mode);
  Config config;
  config.seed = absl::GetFlag(FLAGS_seed);
  if (config.seed == 0) {
    config.seed = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()) % 1000000007;
  }
  config.threads = std::max(1, absl::GetFlag(FLAGS_threads));
  config.ops = absl::GetFlag(FLAGS_ops);
  config.duration_s = absl::GetFlag(FLAGS_duration_s);
  config.keys = std::max(16, absl::GetFlag(FLAGS_keys));
  config.typed_keys = absl::GetFlag(FLAGS_typed_keys);
  if (config.typed_keys < 0) config.typed_keys = config.keys / 4;
  config.value_size = std::max(1, absl::GetFlag(FLAGS_value_size));
  config.reopen_every = absl::GetFlag(FLAGS_reopen_every);
  config.max_batch = std::max(2, absl::GetFlag(FLAGS_max_batch));
  config.max_violations = std::max(1, absl::GetFlag(FLAGS_max_violations));
  config.hang_s = absl::GetFlag(FLAGS_hang_s);
  config.verbose = absl::GetFlag(FLAGS_verbose);
  config.cycle = absl::GetFlag(FLAGS_cycle);
  config.ack_fd = absl::GetFlag(FLAGS_ack_fd);
  int cycles = absl::GetFlag(FLAGS_crash_cycles);
  if (KVSTORE_SANITIZED && absl::GetFlag(FLAGS_sanitizer_scale) && mode != "child") {
    config.ops = config.ops > 0 ? std::max<int64_t>(config.ops / 4, 100) : 0;
    config.reopen_every = config.reopen_every > 0 ? std::max<int64_t>(config.reopen_every / 4, 50) : 0;
    cycles = std::max(cycles / 4, 3);
    config.duration_s = config.duration_s / 2;
  }
  config.dir = absl::GetFlag(FLAGS_dir);
  if (config.dir.empty()) {
    config.dir = absl::StrCat(std::filesystem::temp_directory_path().string(), "/kvstore_stress_",
                              ::getpid());
  }
  if (mode != "child") {
    std::error_code ec;
    std::filesystem::remove_all(config.dir, ec);
    std::filesystem::create_directories(config.dir, ec);
    if (ec) {
      std::fprintf(stderr, "stress: cannot create %s: %s\n", config.dir.c_str(), ec.message().c_str());
      return 2;
    }
  }
  config.command_line = absl::StrCat(
      "stress --mode=", mode == "child" ? "crash" : mode, " --seed=", config.seed,
      " --threads=", config.threads, " --keys=", config.keys, " --typed_keys=", config.typed_keys,
      " --value_size=", config.value_size, " --reopen_every=", config.reopen_every,
      " --max_batch=", config.max_batch,
      mode == "crash" || mode == "child" ? absl::StrCat(" --crash_cycles=", cycles)
                                         : absl::StrCat(" --ops=", config.ops, config.duration_s > 0
                                                                                  ? absl::StrCat(" --duration_s=", config.duration_s)
                                                                                  : ""),
      KVSTORE_SANITIZED ? " (sanitizer build: counts already scaled; pass --sanitizer_scale=false)" : "");
  int rc;
  if (mode == "run") {
    std::printf("%s\n", config.command_line.c_str());
    std::fflush(stdout);
    rc = RunMode(config);
  } else if (mode == "crash") {
    std::printf("%s\n", config.command_line.c_str());
    std::fflush(stdout);
    rc = CrashMode(config, cycles, std::max(1, absl::GetFlag(FLAGS_crash_max_delay_ms)));
  } else if (mode == "child") {
    config.child = true;
    rc = ChildMode(config, absl::GetFlag(FLAGS_state_file));
  } else {
    std::fprintf(stderr, "stress: --mode must be run or crash\n");
    return 2;
  }
  if (mode != "child" && rc == 0 && !absl::GetFlag(FLAGS_keep_dir)) {
    std::error_code ec;
    std::filesystem::remove_all(config.dir, ec);
  } else if (mode != "child" && rc != 0) {
    std::printf("store directory kept: %s\n", config.dir.c_str());
  }
  return rc;
}
