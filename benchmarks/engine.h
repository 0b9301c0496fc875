// The one interface every store is benchmarked through: kvstore and its peers (LevelDB, RocksDB)
// each get an adapter in its own target, and the workloads are written once against this
// interface, so every figure is a ratio measured with the same code around each engine.
//
// Adapters register themselves by name when their target is linked (see REGISTER_BENCH_ENGINE):
// a binary benchmarks exactly the engines it links, and the library never depends on a peer.
#ifndef KVSTORE_BENCHMARKS_ENGINE_H_
#define KVSTORE_BENCHMARKS_ENGINE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstore::bench {

// Settings applied alike to every engine, so that comparisons are fair: Bloom filters with the
// same bits per key, no compression (set by each adapter), and each engine's own default write
// buffer unless write_buffer_bytes says otherwise.
struct BenchOptions {
  int bloom_bits_per_key = 10;
  size_t write_buffer_bytes = 0;  // 0: the engine's default
};

// A forward iterator over the whole store in key order. Valid only while its engine is open.
class BenchIterator {
 public:
  virtual ~BenchIterator() = default;
  virtual void SeekToFirst() = 0;
  virtual void Seek(absl::string_view target) = 0;  // first key >= target
  virtual void Next() = 0;                          // REQUIRES: Valid()
  virtual bool Valid() const = 0;
  virtual absl::string_view key() const = 0;    // REQUIRES: Valid()
  virtual absl::string_view value() const = 0;  // REQUIRES: Valid()
  virtual absl::Status status() const = 0;
};

// One operation of a batch (BenchEngine::Write): a Put of `value`, or a Delete of `key`.
struct BatchOp {
  absl::string_view key;
  absl::string_view value;
  bool is_delete = false;
};

// What an engine says about its own memory. A figure the engine cannot give stays empty (the
// report prints n/a); `*_source` says where a figure came from, e.g. the property name or
// "estimate: ...", so a reader can judge it.
struct EngineMemory {
  std::optional<uint64_t> index_filter_bytes;
  std::string index_filter_source;
  std::optional<uint64_t> reported_bytes;  // the engine's own overall figure, if any
  std::string reported_source;
};

// One store behind the benchmark. All methods may be called from several threads at once once
// Open() has returned, except Open() and Close() themselves.
class BenchEngine {
 public:
  virtual ~BenchEngine() = default;

  virtual absl::string_view Name() const = 0;

  // Opens (creating if missing) the store in `dir`.
  virtual absl::Status Open(const std::string& dir, const BenchOptions& options) = 0;
  // Closes the store; its files stay in the directory. Iterators must be gone.
  virtual absl::Status Close() = 0;

  virtual absl::Status Put(absl::string_view key, absl::string_view value, bool sync) = 0;
  // true and *value set when found, false when absent, an error otherwise.
  virtual absl::StatusOr<bool> Get(absl::string_view key, std::string* value) = 0;
  virtual absl::Status Delete(absl::string_view key, bool sync) = 0;
  // Applies `ops` atomically, in order, with the engine's own batch (one log record).
  virtual absl::Status Write(const std::vector<BatchOp>& ops, bool sync) = 0;

  // Engines that cannot iterate (yet) return false and nullptr; the workloads that need an
  // iterator are then not registered for them, rather than reported with a made-up number.
  virtual bool SupportsIterator() const = 0;
  virtual std::unique_ptr<BenchIterator> NewIterator() = 0;

  // Moves everything written into the engine's files and merges them as far as the engine
  // can, so reads start from a settled store. `*how` says what was done (e.g. "flush only:
  // no Compact()"), for the report.
  virtual absl::Status Settle(std::string* how) = 0;

  // Waits until the engine's background flushes and compactions have caught up (no manual
  // compaction), so that a timed phase does not start in another phase's backlog. An engine
  // with no way to tell returns at once.
  virtual absl::Status WaitForBackgroundWork() { return absl::OkStatus(); }

  // Call while open, after the store has been read from (so tables are loaded).
  virtual EngineMemory Memory() = 0;

  // The engine's own account of its work so far (flushes, compactions, stalls), as text for a
  // person reading a benchmark's log; "" if it keeps none.
  virtual std::string Stats() { return ""; }
};

using EngineFactory = std::function<std::unique_ptr<BenchEngine>()>;

// Adds an engine under `name`; `note` is printed next to its figures (e.g. build caveats).
// Returns true so that it can initialize a namespace-scope constant.
bool RegisterEngine(const std::string& name, const std::string& note, EngineFactory factory);

// Names of the linked engines: kvstore first, then its peers in a fixed order.
std::vector<std::string> RegisteredEngines();

// A new, unopened engine, or nullptr if no engine of that name is linked.
std::unique_ptr<BenchEngine> NewEngine(absl::string_view name);

// The note registered with the engine, or "".
std::string EngineNote(absl::string_view name);

// Registers ENGINE_CLASS (default-constructible) under NAME when the adapter's target is linked.
// Adapter targets set alwayslink = True so that this registration is not dropped by the linker.
#define REGISTER_BENCH_ENGINE(IDENT, NAME, NOTE, ENGINE_CLASS)                   \
  [[maybe_unused]] static const bool kvstore_bench_engine_registered_##IDENT =   \
      ::kvstore::bench::RegisterEngine(NAME, NOTE, [] {                         \
        return std::unique_ptr<::kvstore::bench::BenchEngine>(new ENGINE_CLASS); \
      })

// Note for RocksDB figures, shared by every output that prints them.
inline constexpr char kRocksDbBuildNote[] =
    "Debian's librocksdb 7.8.3 is built without -DNDEBUG (its assertions stay on), about 1.4x "
    "slower than a release build on CPU-bound work: LevelDB is the honest anchor";

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_ENGINE_H_
