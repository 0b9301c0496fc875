// kvstore::Database: many typed tables in one store, with atomic batches across tables, one
// snapshot for all tables, and serializable optimistic transactions.
//
//   inline constexpr kvstore::TableDef<std::string, User> kUsers{"users"};
//   auto db = kvstore::Database<>::Open("/tmp/db").value();
//   auto users = db->OpenTable(kUsers).value();      // a cheap copyable handle
//   users.Set("ada", user);
//   absl::Status s = db->RunTransaction([&](kvstore::Transaction& txn) -> absl::Status {
//     KV_ASSIGN_OR_RETURN(User u, txn.Get(users, "ada"));
//     return txn.Set(users, "ada", u);
//   });
//
// Layout: one engine (internal::Engine) opened with the type signature "kvstore.database/1", so a
// KVStore cannot open a database directory, nor a Database a KVStore directory. Every stored key
// is a 4-byte big-endian table id followed by the table's Serializer key bytes, so a table is one
// contiguous key range and ids never collide. Table id 0 is the catalog:
//   00000000 'T' <name>      -> 4-byte id + type signature   (a live table)
//   00000000 'N'             -> 4-byte next id               (ids are never reused)
//   00000000 'D' <4-byte id> -> ""                           (a dropped table whose keys are
//                                                             still being deleted; resumed at open)
// Catalog changes are engine writes, so they are as crash-safe as data.
//
// Transactions (optimistic, serializable): a transaction reads at an engine snapshot taken when it
// begins, buffers its writes (its reads and scans see them), and records the keys it read and the
// key ranges it scanned. Commit takes the database's commit lock exclusively, checks that nothing
// written through the database after its snapshot touched a key it read or wrote or a range it
// scanned (else Aborted), queues its buffer as one engine batch (one WAL record) and releases the
// lock; the write then shares a WAL record and a sync with other writes. Every write queued later
// gets a later sequence number, and commits validated while it is in flight check its keys.
// Plain writes (Table::Set/Delete, Database::Write) hold the commit lock shared across their
// engine write and the recording of their keys, so none slips past a commit's validation.
// Written keys are recorded only while some transaction is active, and pruned once no active
// transaction began before them. Read-only transactions never abort.
//
// Lifecycle: Table handles and Transactions hold the database's shared state, never a dangling
// pointer; after Close() (or once the Database is destroyed) every call on them fails with
// FailedPrecondition. A handle of a dropped table fails with FailedPrecondition too.
//
// Lock order: commit_gate_ (held only to acquire commit_mu_), commit_mu_ (shared or exclusive),
// then catalog_mu_, then history_mu_, then the engine's own locks (see engine.h). The engine
// never calls back into the database.
#ifndef KVSTORE_DATABASE_H_
#define KVSTORE_DATABASE_H_

#include <algorithm>
#include <atomic>
#include <concepts>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/filter.h"
#include "kvstore/internal/block_codec.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/engine.h"
#include "kvstore/internal/typed_codec.h"
#include "kvstore/internal/typed_iterator.h"
#include "kvstore/kvstore.h"
#include "kvstore/options.h"
#include "kvstore/serializer.h"
#include "kvstore/status.h"

namespace kvstore {

// Names a table and its types. constexpr-constructible from a string literal:
//   inline constexpr TableDef<std::string, int64_t> kAccounts{"accounts"};
template <typename Key, typename Value, typename Serializer = DefaultSerializer>
struct TableDef {
  static_assert(internal::CheckTypes<Serializer, Key, Value>());
  using key_type = Key;
  using mapped_type = Value;
  using serializer_type = Serializer;

  constexpr TableDef(const char* table_name) : name(table_name) {}
  constexpr explicit TableDef(std::string_view table_name) : name(table_name) {}

  std::string_view name;
};

// What ListTables reports for each table.
struct TableInfo {
  std::string name;
  std::string type_signature;
  bool operator==(const TableInfo&) const = default;
};

template <typename Key, typename Value, typename Serializer>
class Table;
class Transaction;
class Batch;
template <typename Filter, typename Compression>
class Database;

namespace internal {

inline constexpr char kDatabaseTypeSignature[] = "kvstore.database/1";
inline constexpr size_t kTablePrefixBytes = 4;
inline constexpr uint32_t kCatalogTableId = 0;

inline std::string TablePrefix(uint32_t id) {
  std::string out;
  SerializerBytes::AppendBigEndian<uint32_t>(id, &out);
  return out;
}

// The signature a table records: TypeSignatureWith<S, K, V>(), the serializer's names for its
// encodings. Two cases would let another serializer pass for the one a table was made with, so
// they add the serializer's C++ type name: a serializer other than DefaultSerializer that gives
// DefaultSerializer's names (one derived from it, say), and a serializer that names nothing.
template <typename S, typename K, typename V>
std::string TableTypeSignature() {
  std::string signature = TypeSignatureWith<S, K, V>();
  if (!signature.empty()) {
    if constexpr (!std::is_same_v<S, DefaultSerializer> && DefaultKey<K> && DefaultValue<V>) {
      if (signature == TypeSignatureWith<DefaultSerializer, K, V>()) {
        signature = absl::StrCat(signature, " (serializer ", typeid(S).name(), ")");
      }
    }
    return signature;
  }
  return absl::StrCat("unnamed<", typeid(S).name(), ",", typeid(K).name(), ",", typeid(V).name(),
                      ">");
}

class DatabaseShared;

// One table of an open database; shared by every handle of it.
struct TableState {
  const DatabaseShared* owner = nullptr;
  uint32_t id = 0;
  std::string name;
  std::string type_signature;
  std::string prefix;  // TablePrefix(id)
  std::string upper;   // PrefixSuccessor(prefix): every key of the table is in [prefix, upper)
  std::atomic<bool> dropped{false};
};

inline constexpr char kDatabaseClosedMessage[] = "database is closed";

inline absl::Status DatabaseClosedError() {
  return absl::FailedPreconditionError(kDatabaseClosedMessage);
}

inline absl::Status TableDroppedError(const TableState& table) {
  return absl::FailedPreconditionError(absl::StrCat("table \"", table.name, "\" was dropped"));
}

// The state of one transaction while it is active.
struct TxnState {
  Snapshot snapshot;
  uint64_t sequence = 0;
  std::set<std::string, std::less<>> reads;
  std::map<std::string, std::optional<std::string>, std::less<>> writes;
  std::vector<std::pair<std::string, std::string>> ranges;  // scanned [lo, hi)
  std::vector<std::shared_ptr<TableState>> tables_written;
  absl::Status error;  // The first rejected Set/Delete; Commit then fails with it.
};

// Everything a Database, its table handles and its transactions share. The engine is reached
// through the virtual hooks (DatabaseSharedImpl<Filter> below), so that handles, batches and
// transactions need no Filter parameter.
class DatabaseShared {
 public:
  virtual ~DatabaseShared() = default;

  virtual absl::Status EngineWrite(const BatchRep* batch, const WriteOptions& options) = 0;
  // Engine::WriteOrdered.
  virtual absl::Status EngineWriteOrdered(const BatchRep* batch, const WriteOptions& options,
                                          absl::FunctionRef<void()> on_queued,
                                          uint64_t* sequence) = 0;
  virtual absl::Status EngineGet(absl::string_view key, const ReadOptions& options,
                                 absl::FunctionRef<absl::Status(absl::string_view)> on_value) const = 0;
  virtual std::unique_ptr<KeySource> EngineSource(const ReadOptions& options) const = 0;
  virtual Snapshot EngineSnapshot() const = 0;
  virtual uint64_t EngineLastSequence() const = 0;
  virtual std::shared_ptr<const std::atomic<bool>> EngineClosedFlag() const = 0;
  virtual absl::Status EngineClose() = 0;

  bool closed() const { return closed_.load(std::memory_order_acquire); }

  absl::Status CheckOpen() const {
    return closed() ? DatabaseClosedError() : absl::OkStatus();
  }

  absl::Status CheckTable(const TableState& table) const {
    if (closed()) return DatabaseClosedError();
    if (table.owner != this) {
      return absl::InvalidArgumentError(
          absl::StrCat("table \"", table.name, "\" belongs to another database"));
    }
    if (table.dropped.load(std::memory_order_acquire)) return TableDroppedError(table);
    return absl::OkStatus();
  }

  // A write that is not a transaction's commit: Table::Set/Delete, Database::Write.
  absl::Status WritePlain(const BatchRep* batch, const WriteOptions& options,
                          const std::vector<const TableState*>& tables) {
    std::shared_lock<std::shared_mutex> lock = SharedCommitLock();
    for (const TableState* table : tables) KV_RETURN_IF_ERROR(CheckTable(*table));
    KV_RETURN_IF_ERROR(EngineWrite(batch, options));
    RecordWrite(*batch, nullptr);
    return absl::OkStatus();
  }

  // ---- Transactions --------------------------------------------------------------------------

  // Registers a transaction as active and takes its snapshot.
  std::unique_ptr<TxnState> BeginTxn() {
    auto state = std::make_unique<TxnState>();
    std::lock_guard<std::mutex> lock(history_mu_);
    state->snapshot = EngineSnapshot();
    state->sequence = state->snapshot.sequence();
    active_.insert(state->sequence);
    return state;
  }

  void EndTxn(const TxnState& state) {
    std::lock_guard<std::mutex> lock(history_mu_);
    auto it = active_.find(state.sequence);
    if (it != active_.end()) active_.erase(it);
    PruneLocked();
  }

  // Validates and writes; the caller ends the transaction (EndTxn) whatever the outcome.
  //
  // The commit lock is held only to validate, to register the commit as in flight (its writes
  // count as newer than every snapshot) and to queue the batch in the engine's write order. The
  // write itself happens after the lock is released, so commits (synced ones too) share WAL
  // records and syncs with other writes, and the next commit validates meanwhile. That is safe
  // because every later commit validates against the in-flight writes, and every later write is
  // ordered after this one.
  absl::Status CommitTxn(TxnState& state, const WriteOptions& options) {
    KV_RETURN_IF_ERROR(state.error);
    if (state.writes.empty()) return absl::OkStatus();  // Read-only: never aborts.
    BatchRep batch;
    for (const auto& [key, value] : state.writes) {
      if (value.has_value()) {
        batch.Put(key, *value);
      } else {
        batch.Delete(key);
      }
    }
    KV_RETURN_IF_ERROR(CheckBatchBytes(batch.ApproximateBytes()));
    std::unique_lock<std::shared_mutex> lock;
    for (;;) {
      lock = ExclusiveCommitLock();
      KV_RETURN_IF_ERROR(CheckOpen());
      uint64_t in_flight;
      KV_RETURN_IF_ERROR(Validate(state, &in_flight));
      if (in_flight == 0) break;
      lock.unlock();
      WaitForCommit(in_flight);
    }
    for (const auto& table : state.tables_written) KV_RETURN_IF_ERROR(CheckTable(*table));
    InFlightCommit commit{.txn = &state};
    AddInFlight(&commit);
    uint64_t sequence = 0;
    absl::Status s = EngineWriteOrdered(
        &batch, options, [&lock] { lock.unlock(); }, &sequence);
    FinishInFlight(commit, s.ok(), sequence);
    return s;
  }

  // ---- Catalog -------------------------------------------------------------------------------

  absl::StatusOr<std::shared_ptr<TableState>> OpenTable(std::string_view name,
                                                        const std::string& signature) {
    if (name.empty()) return absl::InvalidArgumentError("a table name must not be empty");
    std::shared_lock<std::shared_mutex> commit_lock = SharedCommitLock();
    KV_RETURN_IF_ERROR(CheckOpen());
    std::lock_guard<std::mutex> lock(catalog_mu_);
    auto it = tables_.find(name);
    if (it != tables_.end()) {
      if (it->second->type_signature != signature) {
        return absl::FailedPreconditionError(absl::StrCat(
            "table \"", std::string(name), "\" holds key/value types \"", it->second->type_signature,
            "\" but was opened as \"", signature, "\""));
      }
      return it->second;
    }
    if (next_id_ == UINT32_MAX) return absl::ResourceExhaustedError("no table ids left");
    const uint32_t id = next_id_;
    BatchRep batch;
    std::string value = TablePrefix(id);
    value.append(signature);
    batch.Put(CatalogKey('T', name), value);
    batch.Put(CatalogKey('N', ""), TablePrefix(id + 1));
    KV_RETURN_IF_ERROR(EngineWrite(&batch, {}));
    next_id_ = id + 1;
    auto table = NewTableState(id, std::string(name), signature);
    tables_.emplace(table->name, table);
    return table;
  }

  absl::Status DropTable(std::string_view name) {
    std::shared_ptr<TableState> table;
    {
      std::unique_lock<std::shared_mutex> commit_lock = ExclusiveCommitLock();
      KV_RETURN_IF_ERROR(CheckOpen());
      std::lock_guard<std::mutex> lock(catalog_mu_);
      auto it = tables_.find(name);
      if (it == tables_.end()) {
        return absl::NotFoundError(absl::StrCat("no table \"", std::string(name), "\""));
      }
      table = it->second;
      BatchRep batch;
      batch.Delete(CatalogKey('T', name));
      batch.Put(CatalogKey('D', table->prefix), "");
      KV_RETURN_IF_ERROR(EngineWrite(&batch, {}));
      table->dropped.store(true, std::memory_order_release);
      tables_.erase(it);
      // Every key of the table counts as written now: a transaction that read any of them, or
      // scanned the table, and began before the drop, aborts.
      std::lock_guard<std::mutex> history_lock(history_mu_);
      if (!active_.empty()) {
        HistoryEntry entry;
        entry.ranges.emplace_back(table->prefix, table->upper);
        AddHistoryLocked(EngineLastSequence(), std::move(entry));
      }
    }
    return FinishDrop(table->id);
  }

  std::vector<TableInfo> ListTables() const {
    std::lock_guard<std::mutex> lock(catalog_mu_);
    std::vector<TableInfo> out;
    if (closed()) return out;
    for (const auto& [name, table] : tables_) out.push_back({name, table->type_signature});
    return out;
  }

  // Reads the catalog and finishes drops a crash interrupted; called once at open.
  absl::Status LoadCatalog(bool finish_drops = true) {
    const std::string lo = TablePrefix(kCatalogTableId);
    const std::string hi = PrefixSuccessor(lo);
    std::vector<uint32_t> pending_drops;
    {
      std::unique_ptr<KeySource> source = EngineSource({});
      for (source->Seek(lo); source->Valid() && source->key() < hi; source->Next()) {
        if (source->kind() == EntryKind::kDeletion) continue;
        absl::string_view key = source->key().substr(kTablePrefixBytes);
        absl::string_view value = source->value();
        if (key.empty()) return absl::DataLossError("empty catalog key");
        const char kind = key.front();
        key.remove_prefix(1);
        if (kind == 'N' && value.size() == 4) {
          next_id_ = std::max(next_id_, SerializerBytes::ReadBigEndian<uint32_t>(value.data()));
        } else if (kind == 'T' && value.size() >= 4) {
          const uint32_t id = SerializerBytes::ReadBigEndian<uint32_t>(value.data());
          auto table = NewTableState(id, std::string(key), std::string(value.substr(4)));
          tables_.emplace(table->name, table);
          next_id_ = std::max(next_id_, id + 1);
        } else if (kind == 'D' && key.size() == 4) {
          const uint32_t id = SerializerBytes::ReadBigEndian<uint32_t>(key.data());
          pending_drops.push_back(id);
          next_id_ = std::max(next_id_, id + 1);
        } else {
          return absl::DataLossError("unrecognized catalog entry");
        }
      }
      KV_RETURN_IF_ERROR(source->status());
    }
    if (!finish_drops) return absl::OkStatus();
    for (uint32_t id : pending_drops) KV_RETURN_IF_ERROR(FinishDrop(id));
    return absl::OkStatus();
  }

  absl::Status CloseShared() {
    closed_.store(true, std::memory_order_release);
    { std::unique_lock<std::shared_mutex> wait_for_writes = ExclusiveCommitLock(); }
    return EngineClose();
  }

  // For tests: how many written-key records are kept for validation.
  size_t HistorySize() const {
    std::lock_guard<std::mutex> lock(history_mu_);
    return history_.size();
  }

  // Bounds the memory the validation history may hold (the keys written since the oldest active
  // transaction began). Past it, the oldest records are forgotten, and a transaction that began
  // before them cannot be validated: its Commit fails with Aborted (RunTransaction retries it
  // with a new snapshot). Read-only transactions are not affected.
  void SetHistoryLimitBytes(size_t bytes) {
    std::lock_guard<std::mutex> lock(history_mu_);
    history_limit_bytes_ = bytes;
    EnforceHistoryLimitLocked();
  }
  static constexpr size_t kDefaultHistoryLimitBytes = size_t{256} << 20;

 private:
  struct HistoryEntry {
    std::vector<std::string> keys;
    std::vector<std::pair<std::string, std::string>> ranges;  // [lo, hi) written as a whole
    size_t bytes = 0;  // What the entry costs, roughly, for history_limit_bytes_.
  };
  using HistoryMap = std::multimap<uint64_t, HistoryEntry>;

  static size_t EntryBytes(const HistoryEntry& entry) {
    size_t bytes = sizeof(HistoryEntry) + 64;
    for (const std::string& key : entry.keys) bytes += key.size() + sizeof(std::string);
    for (const auto& [lo, hi] : entry.ranges) bytes += lo.size() + hi.size() + 2 * sizeof(std::string);
    return bytes;
  }

  // With history_mu_ held: adds an entry and keeps the history within its limit.
  void AddHistoryLocked(uint64_t sequence, HistoryEntry entry) {
    entry.bytes = EntryBytes(entry);
    history_bytes_ += entry.bytes;
    history_.emplace(sequence, std::move(entry));
    EnforceHistoryLimitLocked();
  }

  void EraseHistoryLocked(HistoryMap::const_iterator it) {
    history_bytes_ -= it->second.bytes;
    history_.erase(it);
  }

  void EnforceHistoryLimitLocked() {
    while (history_bytes_ > history_limit_bytes_ && !history_.empty()) {
      forgotten_through_ = std::max(forgotten_through_, history_.begin()->first);
      EraseHistoryLocked(history_.begin());
    }
  }

  // A commit whose write is in flight: validated, queued, not yet visible. Every commit validated
  // meanwhile checks its writes as newer than any snapshot. Lives on the committer's stack.
  struct InFlightCommit {
    uint64_t id = 0;
    const TxnState* txn = nullptr;
  };

  void AddInFlight(InFlightCommit* commit) {
    std::lock_guard<std::mutex> lock(history_mu_);
    commit->id = ++last_commit_id_;
    in_flight_.push_back(commit);
  }

  // Waits until the commit `id` (in flight when it was seen) has written or failed.
  void WaitForCommit(uint64_t id) {
    std::unique_lock<std::mutex> lock(history_mu_);
    commit_done_cv_.wait(lock, [&] {
      return std::none_of(in_flight_.begin(), in_flight_.end(),
                          [id](const InFlightCommit* c) { return c->id == id; });
    });
  }

  // Ends the commit's flight. If it wrote, and another transaction is active (one that began
  // before the write became visible may have to validate against it), its keys go into the
  // history under the sequence the write became visible at.
  void FinishInFlight(const InFlightCommit& commit, bool written, uint64_t sequence) {
    std::lock_guard<std::mutex> lock(history_mu_);
    in_flight_.erase(std::find(in_flight_.begin(), in_flight_.end(), &commit));
    commit_done_cv_.notify_all();
    if (!written || active_.size() <= 1) return;
    HistoryEntry entry;
    entry.keys.reserve(commit.txn->writes.size());
    for (const auto& [key, value] : commit.txn->writes) entry.keys.push_back(key);
    AddHistoryLocked(sequence, std::move(entry));
  }

  static std::string CatalogKey(char kind, std::string_view rest) {
    std::string key = TablePrefix(kCatalogTableId);
    key.push_back(kind);
    key.append(rest);
    return key;
  }

  std::shared_ptr<TableState> NewTableState(uint32_t id, std::string name, std::string signature) {
    auto table = std::make_shared<TableState>();
    table->owner = this;
    table->id = id;
    table->name = std::move(name);
    table->type_signature = std::move(signature);
    table->prefix = TablePrefix(id);
    table->upper = PrefixSuccessor(table->prefix);
    return table;
  }

  // Deletes every key of a dropped table (compaction then reclaims the space), then its marker.
  // Nobody writes the table's keys meanwhile: every writer checks `dropped` under commit_mu_.
  absl::Status FinishDrop(uint32_t id) {
    const std::string lo = TablePrefix(id);
    const std::string hi = PrefixSuccessor(lo);
    constexpr size_t kChunk = 1000;
    std::unique_ptr<KeySource> source = EngineSource({});
    source->Seek(lo);
    for (;;) {
      BatchRep batch;
      for (; source->Valid() && source->key() < hi && batch.count() < kChunk; source->Next()) {
        if (source->kind() == EntryKind::kDeletion) continue;
        batch.Delete(source->key());
      }
      KV_RETURN_IF_ERROR(source->status());
      if (batch.empty()) break;
      std::shared_lock<std::shared_mutex> lock = SharedCommitLock();
      KV_RETURN_IF_ERROR(EngineWrite(&batch, {}));
    }
    BatchRep batch;
    batch.Delete(CatalogKey('D', lo));
    std::shared_lock<std::shared_mutex> lock = SharedCommitLock();
    return EngineWrite(&batch, {});
  }

  // Records the keys of a batch just written, if a transaction (other than `self`) may have to
  // validate against it. The sequence recorded is at least the batch's own (exact under the
  // exclusive lock); an overestimate can only cause a spurious abort, never a missed conflict.
  void RecordWrite(const BatchRep& batch, const TxnState* self) {
    std::lock_guard<std::mutex> lock(history_mu_);
    const size_t others = active_.size() - (self != nullptr ? 1 : 0);
    if (others == 0) return;
    HistoryEntry entry;
    entry.keys.reserve(batch.count());
    batch
        .ForEachEncodedHere([&entry](uint64_t, EntryKind, absl::string_view key,
                                     absl::string_view) { entry.keys.emplace_back(key); })
        .IgnoreError();
    AddHistoryLocked(EngineLastSequence(), std::move(entry));
  }

  // Drops records no active transaction can conflict with (written at or before every snapshot).
  void PruneLocked() {
    if (active_.empty()) {
      history_.clear();
      history_bytes_ = 0;
      return;
    }
    while (!history_.empty() && history_.begin()->first <= *active_.begin()) {
      EraseHistoryLocked(history_.begin());
    }
  }

  static bool InRanges(const TxnState& state, absl::string_view key) {
    for (const auto& [lo, hi] : state.ranges) {
      if (key >= lo && key < hi) return true;
    }
    return false;
  }

  // Aborted if anything written after the transaction's snapshot touched what it read or wrote.
  //
  // A conflict with a commit still in flight (validated, its write not yet visible) is not final: that write may
  // have become visible before this transaction began. Then *in_flight is that commit's id and
  // the result OK; the caller waits for it (WaitForCommit) and validates again. Aborting at once
  // instead turned a committer that lost the CPU mid-write into a storm of retries that all
  // aborted against it.
  absl::Status Validate(const TxnState& state, uint64_t* in_flight) {
    *in_flight = 0;
    std::lock_guard<std::mutex> lock(history_mu_);
    if (state.sequence < forgotten_through_) {
      return absl::AbortedError(
          "transaction conflict: it began so long ago that the writes since then outgrew the "
          "validation history (see Database::SetHistoryLimitBytes)");
    }
    auto touches = [&state](const std::string& key) {
      return state.reads.count(key) != 0 || state.writes.count(key) != 0 || InRanges(state, key);
    };
    for (const InFlightCommit* commit : in_flight_) {
      for (const auto& [key, value] : commit->txn->writes) {
        if (touches(key)) {
          *in_flight = commit->id;
          break;
        }
      }
      if (*in_flight != 0) break;
    }
    for (auto it = history_.upper_bound(state.sequence); it != history_.end(); ++it) {
      for (const std::string& key : it->second.keys) {
        if (touches(key)) {
          *in_flight = 0;
          return absl::AbortedError(
              "transaction conflict: a key it read, wrote or scanned was written after it began");
        }
      }
      for (const auto& [lo, hi] : it->second.ranges) {
        auto r = state.reads.lower_bound(lo);
        auto w = state.writes.lower_bound(lo);
        bool hit = (r != state.reads.end() && *r < hi) || (w != state.writes.end() && w->first < hi);
        for (const auto& [slo, shi] : state.ranges) hit = hit || (slo < hi && lo < shi);
        if (hit) {
          return absl::AbortedError(
              "transaction conflict: a table it used was dropped after it began");
        }
      }
    }
    return absl::OkStatus();
  }

  // commit_mu_ is taken through these two. glibc's rwlock prefers readers, so a steady stream of
  // plain writes (shared) could starve commits (exclusive) forever; a committer holds gate_ while
  // it waits, and a plain write passes through gate_ first, so new readers queue behind it.
  std::shared_lock<std::shared_mutex> SharedCommitLock() {
    { std::lock_guard<std::mutex> gate(commit_gate_); }
    return std::shared_lock<std::shared_mutex>(commit_mu_);
  }
  std::unique_lock<std::shared_mutex> ExclusiveCommitLock() {
    std::lock_guard<std::mutex> gate(commit_gate_);
    // A commit holds the lock for about a microsecond: spinning that long is cheaper than the
    // futex sleep and wake-up a blocked committer pays (on 2 cores, 2 committing threads ran at
    // less than half of one).
    for (int spin = 0; spin < kCommitLockSpins; ++spin) {
      if (commit_mu_.try_lock()) return std::unique_lock<std::shared_mutex>(commit_mu_, std::adopt_lock);
      CpuRelax();
    }
    return std::unique_lock<std::shared_mutex>(commit_mu_);
  }
  static constexpr int kCommitLockSpins = 800;
  static void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }

  std::atomic<bool> closed_{false};
  std::mutex commit_gate_;  // Taken only to acquire commit_mu_, never held with it otherwise.
  std::shared_mutex commit_mu_;

  mutable std::mutex catalog_mu_;
  std::map<std::string, std::shared_ptr<TableState>, std::less<>> tables_;  // catalog_mu_
  uint32_t next_id_ = 1;                                                     // catalog_mu_

  mutable std::mutex history_mu_;
  std::multiset<uint64_t> active_;                  // snapshot sequences of active transactions
  HistoryMap history_;                              // writes recorded for validation, by sequence
  size_t history_bytes_ = 0;                        // the sum of history_'s entry bytes
  size_t history_limit_bytes_ = kDefaultHistoryLimitBytes;
  uint64_t forgotten_through_ = 0;  // entries up to this sequence were dropped over the limit
  uint64_t last_commit_id_ = 0;
  std::vector<const InFlightCommit*> in_flight_;
  std::condition_variable commit_done_cv_;  // signalled when a commit leaves in_flight_
};

template <typename Filter>
class DatabaseSharedImpl final : public DatabaseShared {
 public:
  explicit DatabaseSharedImpl(std::unique_ptr<Engine<Filter>> engine) : engine_(std::move(engine)) {}
  ~DatabaseSharedImpl() override { engine_->Close().IgnoreError(); }

  absl::Status EngineWrite(const BatchRep* batch, const WriteOptions& options) override {
    return engine_->Write(batch, options);
  }
  absl::Status EngineWriteOrdered(const BatchRep* batch, const WriteOptions& options,
                                  absl::FunctionRef<void()> on_queued,
                                  uint64_t* sequence) override {
    return engine_->WriteOrdered(batch, options, on_queued, sequence);
  }
  absl::Status EngineGet(absl::string_view key, const ReadOptions& options,
                         absl::FunctionRef<absl::Status(absl::string_view)> on_value) const override {
    return engine_->Get(key, options, on_value);
  }
  std::unique_ptr<KeySource> EngineSource(const ReadOptions& options) const override {
    return engine_->NewSource(options);
  }
  Snapshot EngineSnapshot() const override { return engine_->GetSnapshot(); }
  uint64_t EngineLastSequence() const override { return engine_->LastSequence(); }
  std::shared_ptr<const std::atomic<bool>> EngineClosedFlag() const override {
    return engine_->closed_flag();
  }
  absl::Status EngineClose() override { return engine_->Close(); }

  Engine<Filter>* engine() const { return engine_.get(); }

 private:
  std::unique_ptr<Engine<Filter>> engine_;
};

// Prefix types: ScanPrefix(p) on a table with key K takes p whose elements equal K's leading
// elements (a std::tuple of them, or the first element alone); a std::string key takes a string.
template <typename T>
struct TupleOf {
  using type = std::tuple<T>;
};
template <typename... Ts>
struct TupleOf<std::tuple<Ts...>> {
  using type = std::tuple<Ts...>;
};
template <typename A, typename B>
struct TupleOf<std::pair<A, B>> {
  using type = std::tuple<A, B>;
};

// A prefix element matches a key element of the same type; a std::string key element also takes
// anything that converts to a string view (a string literal). No numeric conversions: an int
// where the key holds an int64_t has another encoding, so it is refused at compile time.
template <typename KeyElement, typename PrefixElement>
constexpr bool ElementMatches() {
  using P = std::decay_t<PrefixElement>;
  if constexpr (std::is_same_v<KeyElement, std::string>) {
    return std::is_same_v<P, std::string> || std::is_convertible_v<const P&, std::string_view>;
  } else {
    return std::is_same_v<KeyElement, P>;
  }
}

template <typename KeyTuple, typename PrefixTuple, size_t... I>
constexpr bool LeadingElementsMatch(std::index_sequence<I...>) {
  return (ElementMatches<std::tuple_element_t<I, KeyTuple>, std::tuple_element_t<I, PrefixTuple>>() &&
          ...);
}

// The tuple of the first N element types of KeyTuple.
template <typename KeyTuple, typename Seq>
struct LeadingTupleImpl;
template <typename KeyTuple, size_t... I>
struct LeadingTupleImpl<KeyTuple, std::index_sequence<I...>> {
  using type = std::tuple<std::tuple_element_t<I, KeyTuple>...>;
};
template <typename KeyTuple, size_t N>
using LeadingTuple = typename LeadingTupleImpl<KeyTuple, std::make_index_sequence<N>>::type;

template <typename Key, typename Prefix>
constexpr bool IsKeyPrefix() {
  if constexpr (std::is_same_v<Key, std::string>) {
    return std::is_convertible_v<const Prefix&, std::string_view>;
  } else if constexpr (IsPairOrTuple<Key>::value) {
    using KeyTuple = typename TupleOf<Key>::type;
    using PrefixTuple = typename TupleOf<std::decay_t<const Prefix>>::type;
    if constexpr (std::tuple_size_v<PrefixTuple> > std::tuple_size_v<KeyTuple>) {
      return false;
    } else {
      return LeadingElementsMatch<KeyTuple, PrefixTuple>(
          std::make_index_sequence<std::tuple_size_v<PrefixTuple>>());
    }
  } else {
    return false;
  }
}

}  // namespace internal

// A handle of one table: cheap to copy (two shared pointers). Its calls behave as KVStore's, on
// the table's keys only. After the database is closed (or the table dropped) every call fails
// with FailedPrecondition; iterators stop as KVStore's do.
template <typename Key, typename Value, typename Serializer = DefaultSerializer>
class Table {
 public:
  using key_type = Key;
  using mapped_type = Value;
  using serializer_type = Serializer;

  class Range;

  // Walks the table's keys in order, as KVStore::Iterator walks a store's (see
  // internal::TypedIterator); after Close() it stops with FailedPrecondition.
  class Iterator : public internal::TypedIterator<Key, Value, Serializer> {
   private:
    friend class Table;
    Iterator(std::unique_ptr<internal::KeySource> source,
             std::shared_ptr<const std::atomic<bool>> closed, const internal::TableState& table)
        : internal::TypedIterator<Key, Value, Serializer>(
              std::move(source), std::move(closed), internal::kDatabaseClosedMessage,
              table.prefix) {}
  };

  // Keys in [lo, hi) of the table, for range-for loops with structured bindings.
  class Range : public internal::TypedRange<Key, Value, Serializer, Iterator> {
   private:
    friend class Table;
    using Base = internal::TypedRange<Key, Value, Serializer, Iterator>;
    // Starts at the encoded `lo` and stops before the encoded `hi` (both include the prefix).
    Range(std::unique_ptr<Iterator> it, const std::string& lo, std::string hi)
        : Base(std::move(it), absl::string_view(lo), std::move(hi)) {}
    Range(std::unique_ptr<Iterator> it, absl::Status error) : Base(std::move(it), std::move(error)) {}
  };

  Table() = default;

  const std::string& name() const { return table_->name; }
  const std::string& type_signature() const { return table_->type_signature; }

  absl::Status Set(const Key& key, const Value& value, const WriteOptions& options = {}) {
    KV_RETURN_IF_ERROR(CheckUsable());
    std::string k, v;
    KV_RETURN_IF_ERROR(internal::EncodeKeyChecked<Serializer>(table_->prefix, key, &k));
    KV_RETURN_IF_ERROR(internal::EncodeValueChecked<Serializer>(value, &v));
    internal::BatchRep batch;
    batch.Put(k, v);
    return db_->WritePlain(&batch, options, {table_.get()});
  }

  absl::Status Delete(const Key& key, const WriteOptions& options = {}) {
    KV_RETURN_IF_ERROR(CheckUsable());
    std::string k;
    KV_RETURN_IF_ERROR(internal::EncodeKeyChecked<Serializer>(table_->prefix, key, &k));
    internal::BatchRep batch;
    batch.Delete(k);
    return db_->WritePlain(&batch, options, {table_.get()});
  }

  absl::StatusOr<Value> Get(const Key& key, const ReadOptions& options = {}) const {
    Value value{};
    KV_RETURN_IF_ERROR(GetInto(key, &value, options));
    return value;
  }

  absl::Status GetInto(const Key& key, Value* value, const ReadOptions& options = {}) const {
    KV_RETURN_IF_ERROR(CheckUsable());
    std::string k;
    KV_RETURN_IF_ERROR(internal::EncodeKeyChecked<Serializer>(table_->prefix, key, &k));
    return db_->EngineGet(k, options, [value](absl::string_view bytes) {
      return internal::DecodeStoredValue<Serializer>(bytes, value);
    });
  }

  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options = {}) const {
    if (absl::Status s = CheckUsable(); !s.ok()) {
      return std::unique_ptr<Iterator>(new Iterator(std::make_unique<internal::ErrorSource>(s),
                                                    ClosedFlag(), *TableOrEmpty()));
    }
    return std::unique_ptr<Iterator>(
        new Iterator(db_->EngineSource(options), db_->EngineClosedFlag(), *table_));
  }

  // Keys in [lo, hi), in order.
  Range Scan(const Key& lo, const Key& hi, const ReadOptions& options = {}) const {
    std::string lo_bytes, hi_bytes;
    if (absl::Status s = EncodeBounds(lo, &hi, &lo_bytes, &hi_bytes); !s.ok()) {
      return Range(NewIterator(options), std::move(s));
    }
    return Range(NewIterator(options), lo_bytes, std::move(hi_bytes));
  }
  // Keys >= lo, in order.
  Range Scan(const Key& lo, const ReadOptions& options = {}) const {
    std::string lo_bytes, hi_bytes;
    if (absl::Status s = EncodeBounds(lo, nullptr, &lo_bytes, &hi_bytes); !s.ok()) {
      return Range(NewIterator(options), std::move(s));
    }
    return Range(NewIterator(options), lo_bytes, std::move(hi_bytes));
  }

  // Every key whose leading elements equal `prefix`: for a tuple (or pair) key, a std::tuple of
  // its leading element types (or the first element alone); for a std::string key, a string (a
  // byte prefix).
  template <typename Prefix>
  Range ScanPrefix(const Prefix& prefix, const ReadOptions& options = {}) const {
    static_assert(std::is_same_v<Serializer, DefaultSerializer>,
                  "kvstore::Table::ScanPrefix needs DefaultSerializer (whose tuple encodings are "
                  "self-delimiting, so a prefix of the key is a prefix of its bytes)");
    static_assert(internal::IsKeyPrefix<Key, Prefix>(),
                  "kvstore::Table::ScanPrefix: the prefix must be a std::tuple of the key's "
                  "leading element types, in order (e.g. std::tuple<std::string> for a "
                  "std::tuple<std::string, int64_t> key), or a string for a std::string key");
    if (absl::Status s = CheckUsable(); !s.ok()) return Range(NewIterator(options), std::move(s));
    if constexpr (!std::is_same_v<Serializer, DefaultSerializer> ||
                  !internal::IsKeyPrefix<Key, Prefix>()) {
      // Refused above; nothing more is instantiated, so the static_assert is the only message.
      return Range(NewIterator(options), absl::InvalidArgumentError("bad prefix type"));
    } else {
      std::string lo;
      if (absl::Status s = EncodePrefix(prefix, &lo); !s.ok()) {
        return Range(NewIterator(options), std::move(s));
      }
      std::string hi = internal::PrefixSuccessor(lo);
      return Range(NewIterator(options), lo, std::move(hi));
    }
  }

 private:
  template <typename, typename, typename>
  friend class Table;
  friend class Batch;
  friend class Transaction;
  template <typename, typename>
  friend class Database;

  Table(std::shared_ptr<internal::DatabaseShared> db, std::shared_ptr<internal::TableState> table)
      : db_(std::move(db)), table_(std::move(table)) {}

  absl::Status CheckUsable() const {
    if (db_ == nullptr) return absl::FailedPreconditionError("table handle is empty");
    return db_->CheckTable(*table_);
  }

  std::shared_ptr<const std::atomic<bool>> ClosedFlag() const {
    if (db_ != nullptr) return db_->EngineClosedFlag();
    static const auto never = std::make_shared<const std::atomic<bool>>(false);
    return never;
  }
  std::shared_ptr<internal::TableState> TableOrEmpty() const {
    return table_ != nullptr ? table_ : std::make_shared<internal::TableState>();
  }

  // The table prefix and the encoding of a prefix ScanPrefix accepted (IsKeyPrefix) into *out.
  template <typename Prefix>
  absl::Status EncodePrefix(const Prefix& prefix, std::string* out) const {
    *out = table_->prefix;
    if constexpr (std::is_same_v<Key, std::string>) {
      const std::string_view bytes(prefix);
      out->append(bytes.data(), bytes.size());
    } else {
      using PrefixTuple = typename internal::TupleOf<std::decay_t<const Prefix>>::type;
      using Lead = internal::LeadingTuple<typename internal::TupleOf<Key>::type,
                                          std::tuple_size_v<PrefixTuple>>;
      const Lead tuple = std::apply([](const auto&... e) { return Lead(e...); },
                                    PrefixTuple(prefix));
      KV_RETURN_IF_ERROR(internal::ValidateKeyWith<Serializer>(tuple));
      internal::KeyCodec<Lead>::Encode(tuple, out);
    }
    return absl::OkStatus();
  }

  absl::Status EncodeBounds(const Key& lo, const Key* hi, std::string* lo_bytes,
                            std::string* hi_bytes) const {
    KV_RETURN_IF_ERROR(CheckUsable());
    KV_RETURN_IF_ERROR(internal::ValidateKeyWith<Serializer>(lo));
    *lo_bytes = table_->prefix;
    Serializer::EncodeKey(lo, lo_bytes);
    if (hi == nullptr) {
      *hi_bytes = table_->upper;
    } else {
      KV_RETURN_IF_ERROR(internal::ValidateKeyWith<Serializer>(*hi));
      *hi_bytes = table_->prefix;
      Serializer::EncodeKey(*hi, hi_bytes);
    }
    return absl::OkStatus();
  }

  std::shared_ptr<internal::DatabaseShared> db_;
  std::shared_ptr<internal::TableState> table_;
};

// Writes to any tables of one database, applied together by Database::Write: after a crash, all
// of them or none (one WAL record).
class Batch {
 public:
  template <typename K, typename V, typename S>
  void Set(const Table<K, V, S>& table, const std::type_identity_t<K>& key,
           const std::type_identity_t<V>& value) {
    std::string k, v;
    if (!Accept(table.CheckUsable()) || !Accept(Use(table)) ||
        !Accept(internal::EncodeKeyChecked<S>(table.table_->prefix, key, &k)) ||
        !Accept(internal::EncodeValueChecked<S>(value, &v))) {
      return;
    }
    rep_.Put(k, v);
  }
  template <typename K, typename V, typename S>
  void Delete(const Table<K, V, S>& table, const std::type_identity_t<K>& key) {
    std::string k;
    if (!Accept(table.CheckUsable()) || !Accept(Use(table)) ||
        !Accept(internal::EncodeKeyChecked<S>(table.table_->prefix, key, &k))) {
      return;
    }
    rep_.Delete(k);
  }
  void Clear() {
    rep_.Clear();
    status_ = absl::OkStatus();
    tables_.clear();
    db_.reset();
  }
  size_t size() const { return rep_.count(); }
  // OK unless an operation was rejected; Database::Write then applies nothing.
  const absl::Status& status() const { return status_; }

 private:
  template <typename, typename>
  friend class Database;

  bool Accept(absl::Status s) {
    if (!s.ok() && status_.ok()) status_ = std::move(s);
    return status_.ok();
  }
  template <typename K, typename V, typename S>
  absl::Status Use(const Table<K, V, S>& table) {
    if (db_ == nullptr) db_ = table.db_;
    if (db_ != table.db_) {
      return absl::InvalidArgumentError("a batch may hold writes to tables of one database only");
    }
    for (const auto& t : tables_) {
      if (t == table.table_) return absl::OkStatus();
    }
    tables_.push_back(table.table_);
    return absl::OkStatus();
  }

  internal::BatchRep rep_;
  absl::Status status_;
  std::shared_ptr<internal::DatabaseShared> db_;
  std::vector<std::shared_ptr<internal::TableState>> tables_;
};

// Rows a transaction's Scan returned: iterate it (`for (const auto& [k, v] : rows)`), or use it
// as a StatusOr of the vector of rows (ok(), status(), value()).
template <typename Key, typename Value>
class ScanResult {
 public:
  using Rows = std::vector<std::pair<Key, Value>>;
  explicit ScanResult(absl::Status status) : status_(std::move(status)) {}
  explicit ScanResult(Rows rows) : rows_(std::move(rows)) {}

  bool ok() const { return status_.ok(); }
  const absl::Status& status() const& { return status_; }
  absl::Status status() && { return std::move(status_); }
  const Rows& value() const& { return rows_; }
  Rows value() && { return std::move(rows_); }
  const Rows& operator*() const { return rows_; }
  const Rows* operator->() const { return &rows_; }
  typename Rows::const_iterator begin() const { return rows_.begin(); }
  typename Rows::const_iterator end() const { return rows_.end(); }
  size_t size() const { return rows_.size(); }
  bool empty() const { return rows_.empty(); }

 private:
  absl::Status status_;
  Rows rows_;
};

// A serializable optimistic transaction (see the top of this file). Reads see the database as
// of BeginTransaction plus the transaction's own writes; Commit applies the writes atomically or
// fails with Aborted if a conflicting write committed meanwhile. Destroying an uncommitted
// transaction rolls it back. Movable, not copyable; must not be used from two threads at once.
class Transaction {
 public:
  Transaction(Transaction&& other) noexcept = default;
  Transaction& operator=(Transaction&& other) noexcept {
    if (this != &other) {
      Rollback();
      db_ = std::move(other.db_);
      state_ = std::move(other.state_);
    }
    return *this;
  }
  ~Transaction() { Rollback(); }

  // The value of `key` (NotFound if none); the read is tracked for Commit's validation.
  template <typename K, typename V, typename S>
  absl::StatusOr<V> Get(const Table<K, V, S>& table, const std::type_identity_t<K>& key) {
    KV_RETURN_IF_ERROR(CheckActive(table));
    std::string k;
    KV_RETURN_IF_ERROR(internal::EncodeKeyChecked<S>(table.table_->prefix, key, &k));
    V value{};
    auto own = state_->writes.find(k);
    if (own != state_->writes.end()) {
      if (!own->second.has_value()) return absl::NotFoundError("key not found");
      KV_RETURN_IF_ERROR(internal::DecodeStoredValue<S>(*own->second, &value));
      return value;
    }
    state_->reads.insert(k);
    KV_RETURN_IF_ERROR(db_->EngineGet(k, {.snapshot = &state_->snapshot},
                                      [&value](absl::string_view bytes) {
                                        return internal::DecodeStoredValue<S>(bytes, &value);
                                      }));
    return value;
  }

  template <typename K, typename V, typename S>
  absl::Status Set(const Table<K, V, S>& table, const std::type_identity_t<K>& key,
                   const std::type_identity_t<V>& value) {
    KV_RETURN_IF_ERROR(CheckActive(table));
    std::string k, v;
    absl::Status s = internal::EncodeKeyChecked<S>(table.table_->prefix, key, &k);
    if (s.ok()) s = internal::EncodeValueChecked<S>(value, &v);
    if (!s.ok()) return Reject(std::move(s));
    NoteTable(table);
    state_->writes[std::move(k)] = std::move(v);
    return absl::OkStatus();
  }

  template <typename K, typename V, typename S>
  absl::Status Delete(const Table<K, V, S>& table, const std::type_identity_t<K>& key) {
    KV_RETURN_IF_ERROR(CheckActive(table));
    std::string k;
    if (absl::Status s = internal::EncodeKeyChecked<S>(table.table_->prefix, key, &k); !s.ok()) {
      return Reject(std::move(s));
    }
    NoteTable(table);
    state_->writes[std::move(k)] = std::nullopt;
    return absl::OkStatus();
  }

  // The rows with keys in [lo, hi), this transaction's writes included. The range is tracked:
  // a commit after another transaction wrote inside it (an insert too) aborts.
  template <typename K, typename V, typename S>
  ScanResult<K, V> Scan(const Table<K, V, S>& table, const std::type_identity_t<K>& lo,
                        const std::type_identity_t<K>& hi) {
    std::string lo_bytes, hi_bytes;
    if (absl::Status s = table.EncodeBounds(lo, &hi, &lo_bytes, &hi_bytes); !s.ok()) {
      return ScanResult<K, V>(std::move(s));
    }
    return ScanBytes<K, V, S>(table, lo_bytes, hi_bytes);
  }
  // The rows with keys >= lo.
  template <typename K, typename V, typename S>
  ScanResult<K, V> Scan(const Table<K, V, S>& table, const std::type_identity_t<K>& lo) {
    std::string lo_bytes, hi_bytes;
    if (absl::Status s = table.EncodeBounds(lo, nullptr, &lo_bytes, &hi_bytes); !s.ok()) {
      return ScanResult<K, V>(std::move(s));
    }
    return ScanBytes<K, V, S>(table, lo_bytes, hi_bytes);
  }

  // The rows whose keys start with `prefix` (as Table::ScanPrefix), this transaction's writes
  // included; the range is tracked like Scan's.
  template <typename K, typename V, typename S, typename Prefix>
  ScanResult<K, V> ScanPrefix(const Table<K, V, S>& table, const Prefix& prefix) {
    static_assert(std::is_same_v<S, DefaultSerializer>,
                  "kvstore::Transaction::ScanPrefix needs DefaultSerializer");
    static_assert(internal::IsKeyPrefix<K, Prefix>(),
                  "kvstore::Transaction::ScanPrefix: the prefix must be a std::tuple of the key's "
                  "leading element types, in order (e.g. std::tuple<std::string> for a "
                  "std::tuple<std::string, int64_t> key), or a string for a std::string key");
    if constexpr (!std::is_same_v<S, DefaultSerializer> || !internal::IsKeyPrefix<K, Prefix>()) {
      return ScanResult<K, V>(absl::InvalidArgumentError("bad prefix type"));
    } else {
      if (absl::Status s = CheckActive(table); !s.ok()) return ScanResult<K, V>(std::move(s));
      std::string lo;
      if (absl::Status s = table.EncodePrefix(prefix, &lo); !s.ok()) {
        return ScanResult<K, V>(std::move(s));
      }
      return ScanBytes<K, V, S>(table, lo, internal::PrefixSuccessor(lo));
    }
  }

  // Applies the writes atomically (one WAL record), or fails with Aborted on a conflict (nothing
  // applied; retry from the start). A read-only transaction always commits. The transaction is
  // finished afterwards, whatever the outcome.
  absl::Status Commit(const WriteOptions& options = {}) {
    KV_RETURN_IF_ERROR(CheckActiveNoTable());
    absl::Status s = db_->CommitTxn(*state_, options);
    Finish();
    return s;
  }

  // Discards the writes and finishes the transaction. Idempotent.
  void Rollback() { Finish(); }

  // Whether Commit or Rollback may still be called.
  bool active() const { return state_ != nullptr; }

 private:
  template <typename, typename>
  friend class Database;

  explicit Transaction(std::shared_ptr<internal::DatabaseShared> db) : db_(std::move(db)) {
    if (!db_->closed()) state_ = db_->BeginTxn();
  }

  void Finish() {
    if (state_ == nullptr) return;
    db_->EndTxn(*state_);
    state_.reset();
  }

  absl::Status CheckActiveNoTable() const {
    if (db_ == nullptr) return absl::FailedPreconditionError("transaction was moved from");
    if (db_->closed()) return internal::DatabaseClosedError();
    if (state_ == nullptr) return absl::FailedPreconditionError("transaction is finished");
    return absl::OkStatus();
  }

  template <typename K, typename V, typename S>
  absl::Status CheckActive(const Table<K, V, S>& table) const {
    KV_RETURN_IF_ERROR(CheckActiveNoTable());
    KV_RETURN_IF_ERROR(table.CheckUsable());
    if (table.db_ != db_) {
      return absl::InvalidArgumentError("the table belongs to another database");
    }
    return absl::OkStatus();
  }

  absl::Status Reject(absl::Status s) {
    if (state_->error.ok()) state_->error = s;
    return s;
  }

  template <typename K, typename V, typename S>
  void NoteTable(const Table<K, V, S>& table) {
    for (const auto& t : state_->tables_written) {
      if (t == table.table_) return;
    }
    state_->tables_written.push_back(table.table_);
  }

  template <typename K, typename V, typename S>
  ScanResult<K, V> ScanBytes(const Table<K, V, S>& table, const std::string& lo,
                             const std::string& hi) {
    if (absl::Status s = CheckActive(table); !s.ok()) return ScanResult<K, V>(std::move(s));
    std::map<std::string, std::string, std::less<>> merged;
    if (lo < hi) {
      std::unique_ptr<internal::KeySource> source =
          db_->EngineSource({.snapshot = &state_->snapshot});
      for (source->Seek(lo); source->Valid() && source->key() < hi; source->Next()) {
        if (source->kind() == internal::EntryKind::kDeletion) continue;
        merged.emplace(std::string(source->key()), std::string(source->value()));
      }
      if (absl::Status s = source->status(); !s.ok()) return ScanResult<K, V>(std::move(s));
      for (auto it = state_->writes.lower_bound(lo); it != state_->writes.end() && it->first < hi;
           ++it) {
        if (it->second.has_value()) {
          merged[it->first] = *it->second;
        } else {
          merged.erase(it->first);
        }
      }
      state_->ranges.emplace_back(lo, hi);
    }
    typename ScanResult<K, V>::Rows rows;
    rows.reserve(merged.size());
    for (const auto& [k, v] : merged) {
      auto& row = rows.emplace_back();
      absl::Status s =
          S::DecodeKey(absl::string_view(k).substr(internal::kTablePrefixBytes), &row.first);
      if (s.ok()) s = S::DecodeValue(v, &row.second);
      if (!s.ok()) {
        return ScanResult<K, V>(
            absl::DataLossError(absl::StrCat("cannot decode stored entry: ", s.message())));
      }
    }
    return ScanResult<K, V>(std::move(rows));
  }

  std::shared_ptr<internal::DatabaseShared> db_;
  std::unique_ptr<internal::TxnState> state_;
};

// Many typed tables in one store. Safe to use from many threads.
template <typename Filter = BloomFilter<10>, typename Compression = NoCompression>
class Database {
  static_assert(FilterPolicy<Filter>, "kvstore::Database: Filter must be a filter policy");
  static_assert(CompressionPolicy<Compression>,
                "kvstore::Database: Compression must be NoCompression or a policy of "
                "kvstore/compression.h (Snappy, Lz4, Zstd<Level>)");
  using Shared = internal::DatabaseSharedImpl<Filter>;

 public:
  // Opens the database in `dir`, creating it if missing. A KVStore's directory is refused.
  static absl::StatusOr<std::unique_ptr<Database>> Open(const std::string& dir,
                                                        const Options& options = {}) {
    KV_ASSIGN_OR_RETURN(auto engine,
                        internal::Engine<Filter>::Open(dir, options, internal::kDatabaseTypeSignature,
                                                       internal::CodecFor<Compression>()));
    auto shared = std::make_shared<Shared>(std::move(engine));
    // Read-only, a drop a crash interrupted stays unfinished (its table is not listed).
    KV_RETURN_IF_ERROR(shared->LoadCatalog(/*finish_drops=*/!options.read_only));
    return std::unique_ptr<Database>(new Database(std::move(shared)));
  }

  // Opens the database in `dir` for reading only: see Options::read_only and
  // KVStore::OpenReadOnly. OpenTable of a table that does not exist fails (FailedPrecondition).
  static absl::StatusOr<std::unique_ptr<Database>> OpenReadOnly(const std::string& dir,
                                                                Options options = {}) {
    options.read_only = true;
    return Open(dir, options);
  }

  ~Database() { Close().IgnoreError(); }

  // The table named def.name, created if missing. FailedPrecondition if it exists with other
  // key/value types or another serializer (the message names both signatures).
  template <typename K, typename V, typename S>
  absl::StatusOr<Table<K, V, S>> OpenTable(const TableDef<K, V, S>& def) {
    KV_ASSIGN_OR_RETURN(auto table,
                        shared_->OpenTable(def.name, internal::TableTypeSignature<S, K, V>()));
    return Table<K, V, S>(shared_, std::move(table));
  }

  // Removes the table and deletes its keys (compaction then gives the space back). Its handles
  // fail with FailedPrecondition from now on; its id is never reused. NotFound if there is none.
  absl::Status DropTable(std::string_view name) { return shared_->DropTable(name); }

  // Every table, by name.
  // Empty after Close.
  std::vector<TableInfo> ListTables() const { return shared_->ListTables(); }

  // Bounds the memory that validating transactions may take: the keys written since the oldest
  // active transaction began (default 256 MiB). A transaction older than what is kept fails its
  // Commit with Aborted, and RunTransaction retries it at a new snapshot.
  void SetHistoryLimitBytes(size_t bytes) { shared_->SetHistoryLimitBytes(bytes); }

  // Applies every operation of `batch` (on any tables of this database) atomically.
  absl::Status Write(const Batch& batch, const WriteOptions& options = {}) {
    KV_RETURN_IF_ERROR(shared_->CheckOpen());
    KV_RETURN_IF_ERROR(batch.status_);
    if (batch.rep_.empty()) return absl::OkStatus();
    if (batch.db_ != shared_) {
      return absl::InvalidArgumentError("the batch holds writes to another database's tables");
    }
    KV_RETURN_IF_ERROR(internal::CheckBatchBytes(batch.rep_.ApproximateBytes()));
    std::vector<const internal::TableState*> tables;
    for (const auto& t : batch.tables_) tables.push_back(t.get());
    return shared_->WritePlain(&batch.rep_, options, tables);
  }

  // One point in time for every table: pass it as ReadOptions::snapshot to any table's reads.
  // After Close, an empty Snapshot, which reads refuse (InvalidArgument).
  Snapshot GetSnapshot() const {
    if (shared_->closed()) return Snapshot();
    return shared_->EngineSnapshot();
  }

  Transaction BeginTransaction() { return Transaction(shared_); }

  // Runs `fn` in a transaction and commits it; on Aborted (from the commit, or returned by fn)
  // starts over, up to `max_attempts` times in all. Any other error of fn rolls back and is
  // returned.
  template <typename Fn>
    requires std::invocable<Fn&, Transaction&>
  absl::Status RunTransaction(Fn&& fn, int max_attempts = 10) {
    absl::Status s = absl::AbortedError("RunTransaction: max_attempts < 1");
    for (int attempt = 0; attempt < max_attempts; ++attempt) {
      Transaction txn = BeginTransaction();
      s = fn(txn);
      if (s.ok()) {
        if (txn.active()) s = txn.Commit();
        if (s.ok()) return s;
      }
      txn.Rollback();
      if (!absl::IsAborted(s)) return s;
    }
    return s;
  }
  template <typename Fn>
    requires std::invocable<Fn&, Transaction&>
  absl::Status RunTransaction(int max_attempts, Fn&& fn) {
    return RunTransaction(std::forward<Fn>(fn), max_attempts);
  }

  absl::Status Flush() { return shared_->engine()->Flush(); }
  absl::Status Compact() { return shared_->engine()->Compact(); }
  // A consistent copy of every table as of now (see KVStore::Checkpoint): a committed
  // transaction is in it whole or not at all.
  absl::Status Checkpoint(const std::string& dest_dir) {
    return shared_->engine()->Checkpoint(dest_dir);
  }
  absl::Status WaitForBackgroundWork() { return shared_->engine()->WaitForBackgroundWork(); }
  std::optional<std::string> GetProperty(absl::string_view name) const {
    return shared_->engine()->GetProperty(name);
  }

  // Closes the store; every handle and transaction fails with FailedPrecondition from now on.
  // Idempotent; the destructor calls it.
  absl::Status Close() { return shared_->CloseShared(); }

 private:
  friend struct DatabaseTestPeer;
  explicit Database(std::shared_ptr<Shared> shared) : shared_(std::move(shared)) {}

  std::shared_ptr<Shared> shared_;
};

}  // namespace kvstore

#endif  // KVSTORE_DATABASE_H_
