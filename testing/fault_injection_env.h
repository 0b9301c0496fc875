// An Env for tests that fails file operations on purpose and simulates power loss.
//
// FaultInjectionEnv forwards every call to a POSIX Env (Env::Default()) and adds two things:
//
// * Injected errors: the Nth operation of a kind from now, or each one with a seeded probability,
//   fails with an errno-style status; Appends can run out of space (ENOSPC after N bytes).
// * A model of what a power loss keeps. Per file, the bytes appended and the bytes a Sync made
//   durable; per directory, the entries as the last SyncDir left them. CutPower() makes every
//   mutating call fail from then on (a dead machine writes nothing), and DropUnsyncedData() then
//   rewrites the directories to what the disk would hold after the cut: files truncated to their
//   synced length, files whose creation no SyncDir covered deleted, renames and removals no SyncDir
//   covered undone (a replaced or removed file comes back with its synced contents).
//
// The model is pessimistic where POSIX allows it: a failed Sync makes every later Sync of that
// file a no-op that reports success (Linux "fsyncgate": the dirty pages may be gone), and
// truncating a file on create is durable while its new data is not. Directories themselves are
// assumed durable once created, and files the env has not seen being written (found on disk the
// first time their directory is touched) count as fully durable.
#ifndef KVSTORE_TESTING_FAULT_INJECTION_ENV_H_
#define KVSTORE_TESTING_FAULT_INJECTION_ENV_H_

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/status.h"

namespace kvstore::testing {

// The kinds of operation faults can target. kWrite is WritableFile::Append; kOpen is creating a
// file (NewWritableFile, NewLogFile) or opening one for reading (NewRandomAccessFile); kRead is a
// read of an open file or ReadFileToString.
enum class FaultKind { kWrite, kFlush, kSync, kRead, kRename, kOpen, kSyncDir, kRemove };
inline constexpr int kNumFaultKinds = 8;

inline absl::string_view FaultKindName(FaultKind kind) {
  static constexpr absl::string_view kNames[kNumFaultKinds] = {
      "write", "flush", "sync", "read", "rename", "open", "syncdir", "remove"};
  return kNames[static_cast<int>(kind)];
}

class FaultInjectionEnv final : public EnvWrapper {
 public:
  // The model alone decides what survives a power loss, so by default Sync and SyncDir do not
  // reach the disk (that only makes tests slow); `real_syncs` passes them through.
  explicit FaultInjectionEnv(Env* base = Env::Default(), bool real_syncs = false)
      : EnvWrapper(base), base_(base), real_syncs_(real_syncs) {}
  FaultInjectionEnv(const FaultInjectionEnv&) = delete;
  FaultInjectionEnv& operator=(const FaultInjectionEnv&) = delete;

  // ---- Injected errors --------------------------------------------------------------------

  // The `n`th operation of `kind` from now (1 = the next one) fails with errno `error`.
  void FailNth(FaultKind kind, uint64_t n, int error = EIO) {
    std::lock_guard<std::mutex> lock(mu_);
    Rule& rule = rules_[Index(kind)];
    rule.fail_at = counts_[Index(kind)] + n;
    rule.error = error;
  }

  // Every operation of `kind` fails with probability `p` (1.0: all of them), drawn from a
  // generator seeded with `seed` (which decisions fail still depends on thread interleaving).
  void FailRandomly(FaultKind kind, double p, uint64_t seed, int error = EIO) {
    std::lock_guard<std::mutex> lock(mu_);
    Rule& rule = rules_[Index(kind)];
    rule.probability = p;
    rule.error = error;
    rng_.seed(seed);
  }

  // Appends fail with ENOSPC once `bytes` more bytes have been appended; the append that
  // crosses the limit writes the part that fits first, like a short write().
  void SetSpaceLimit(uint64_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    space_left_ = bytes;
    space_limited_ = true;
  }

  // Stops injecting errors (space limit included); a planned power cut stays planned.
  void ClearFaults() {
    std::lock_guard<std::mutex> lock(mu_);
    for (Rule& rule : rules_) {
      rule.fail_at = 0;
      rule.probability = 0;
    }
    space_limited_ = false;
  }

  // Operations of `kind` seen so far (failed ones included), and errors injected so far.
  uint64_t Operations(FaultKind kind) const {
    std::lock_guard<std::mutex> lock(mu_);
    return counts_[Index(kind)];
  }
  uint64_t InjectedFaults() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_;
  }
  // Of those, the ones that failed NewUnmappedRandomAccessFile. The store may shrug these off
  // without telling anyone: it keeps reading that segment through its mapping.
  uint64_t InjectedFaultsInUnmappedOpens() const {
    std::lock_guard<std::mutex> lock(mu_);
    return injected_in_unmapped_opens_;
  }

  // Keeps a log of the last `n` operations (0: none), for failure messages.
  void KeepLog(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    log_limit_ = n;
  }
  std::string Log() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out;
    for (const std::string& line : log_) absl::StrAppend(&out, line, "\n");
    return out;
  }

  // ---- Power loss -------------------------------------------------------------------------

  // From now on every call that would change a file or a directory fails (reads still work).
  void CutPower() {
    std::lock_guard<std::mutex> lock(mu_);
    power_cut_ = true;
  }

  // Cuts the power right after the `n`th operation of `kind` from now has succeeded: that
  // operation takes effect (and its caller sees success), nothing after it does.
  void CutPowerAfter(FaultKind kind, uint64_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    rules_[Index(kind)].cut_after = counts_[Index(kind)] + n;
  }

  bool power_cut() const {
    std::lock_guard<std::mutex> lock(mu_);
    return power_cut_;
  }

  // Rewrites every directory this env has touched to what survives a power loss at this moment
  // (see the top of this file), then forgets its model: what is on disk now is all durable.
  // Every WritableFile from this env must be closed or destroyed first (destroy the store).
  absl::Status DropUnsyncedData() {
    std::lock_guard<std::mutex> lock(mu_);
    if (open_files_ != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("DropUnsyncedData with ", open_files_, " writable files still open"));
    }
    // Read every surviving file that does not survive in place first: writing or removing
    // anything could destroy a source.
    struct Restore {
      std::string path;
      std::string contents;
    };
    std::vector<Restore> restores;
    for (const auto& [dir, d] : dirs_) {
      for (const auto& [name, id] : d.durable) {
        auto live = d.live.find(name);
        if (live != d.live.end() && live->second == id) continue;
        std::string contents;
        if (absl::Status s = DurableContentsLocked(id, &contents); !s.ok()) return s;
        restores.push_back({Join(dir, name), std::move(contents)});
      }
    }
    for (const auto& [dir, d] : dirs_) {
      for (const auto& [name, id] : d.live) {
        const std::string path = Join(dir, name);
        auto durable = d.durable.find(name);
        if (durable != d.durable.end() && durable->second == id) {
          if (::truncate(path.c_str(), static_cast<off_t>(inodes_[id].synced)) != 0) {
            return absl::ErrnoToStatus(errno, absl::StrCat("DropUnsyncedData: truncate ", path));
          }
        } else if (absl::Status s = base_->RemoveFile(path); !s.ok()) {
          return s;
        }
      }
    }
    for (const Restore& r : restores) {
      if (absl::Status s = WriteWholeFile(r.path, r.contents); !s.ok()) return s;
    }
    dirs_.clear();
    inodes_.clear();
    return absl::OkStatus();
  }

  // Lets mutating calls succeed again (after DropUnsyncedData, or to resume without a drop).
  void RestorePower() {
    std::lock_guard<std::mutex> lock(mu_);
    power_cut_ = false;
    for (Rule& rule : rules_) rule.cut_after = 0;
  }

  // ---- Env --------------------------------------------------------------------------------

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return NewTrackedFile(path, /*log=*/false);
  }

  // The base Env's own log file (PosixEnv's is memory-mapped), tracked like any other.
  absl::StatusOr<std::unique_ptr<WritableFile>> NewLogFile(const std::string& path) override {
    return NewTrackedFile(path, /*log=*/true);
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return OpenForReading(path, /*unmapped=*/false);
  }
  // Counted as kOpen, so that a plan meets the same operations whichever way a segment is read.
  // The base Env's own pread file, so that faults in its reads are injected as in any other.
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewUnmappedRandomAccessFile(
      const std::string& path) override {
    return OpenForReading(path, /*unmapped=*/true);
  }

  absl::Status ReadFileToString(const std::string& path, std::string* contents) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      KV_RETURN_IF_ERROR(BeginLocked(FaultKind::kRead, path, /*mutating=*/false));
    }
    return base_->ReadFileToString(path, contents);
  }

  // FileExists, IsDirectory, GetChildren and GetFileSize change nothing: EnvWrapper forwards them.

  absl::Status RemoveFile(const std::string& path) override {
    std::lock_guard<std::mutex> lock(mu_);
    KV_RETURN_IF_ERROR(BeginLocked(FaultKind::kRemove, path, /*mutating=*/true));
    auto [dir, name] = Split(path);
    Directory& d = TrackDirLocked(dir);
    auto it = d.live.find(name);
    if (it != d.live.end()) KV_RETURN_IF_ERROR(PrepareUnlinkLocked(it->second));
    KV_RETURN_IF_ERROR(base_->RemoveFile(path));
    if (it != d.live.end()) {
      UnlinkLocked(it->second);
      d.live.erase(it);
    }
    SucceededLocked(FaultKind::kRemove);
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard<std::mutex> lock(mu_);
    KV_RETURN_IF_ERROR(BeginLocked(FaultKind::kRename, from, /*mutating=*/true));
    auto [from_dir, from_name] = Split(from);
    auto [to_dir, to_name] = Split(to);
    Directory& fd = TrackDirLocked(from_dir);
    Directory& td = TrackDirLocked(to_dir);
    auto replaced = td.live.find(to_name);
    if (replaced != td.live.end()) KV_RETURN_IF_ERROR(PrepareUnlinkLocked(replaced->second));
    KV_RETURN_IF_ERROR(base_->RenameFile(from, to));
    if (replaced != td.live.end()) {
      UnlinkLocked(replaced->second);
      td.live.erase(replaced);
    }
    if (auto moved = fd.live.find(from_name); moved != fd.live.end()) {
      const uint64_t id = moved->second;
      fd.live.erase(moved);
      td.live[to_name] = id;
      inodes_[id].path = to;
    }
    SucceededLocked(FaultKind::kRename);
    return absl::OkStatus();
  }

  absl::Status CreateDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (power_cut_) return PowerCutError("create directory", dir);
    return base_->CreateDir(dir);
  }

  absl::Status SyncDir(const std::string& dir) override {
    std::lock_guard<std::mutex> lock(mu_);
    KV_RETURN_IF_ERROR(BeginLocked(FaultKind::kSyncDir, dir, /*mutating=*/true));
    Directory& d = TrackDirLocked(dir);
    if (real_syncs_) KV_RETURN_IF_ERROR(base_->SyncDir(dir));
    d.durable = d.live;
    ForgetUnreferencedLocked();
    SucceededLocked(FaultKind::kSyncDir);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (power_cut_) return PowerCutError("lock", path);
    }
    return base_->LockFile(path);
  }

 private:
  struct Rule {
    uint64_t fail_at = 0;    // Operation number that fails; 0 = none.
    double probability = 0;  // Chance that any one operation fails.
    int error = EIO;
    uint64_t cut_after = 0;  // Operation number after which the power is cut; 0 = none.
  };

  // A file as the disk sees it, whatever names it has had.
  struct Inode {
    std::string path;         // Its live name; empty once removed or replaced.
    uint64_t size = 0;        // Bytes appended (or found on disk).
    uint64_t synced = 0;      // Bytes that survive a power loss.
    bool sync_failed = false;  // Later syncs make nothing durable (fsyncgate).
    bool saved = false;       // `contents` holds the synced bytes of a file no longer live.
    std::string contents;
  };

  struct Directory {
    std::map<std::string, uint64_t> live;     // Name -> inode, as the OS sees it now.
    std::map<std::string, uint64_t> durable;  // Name -> inode, as the last SyncDir left it.
  };

  class FaultWritableFile final : public WritableFile {
   public:
    FaultWritableFile(FaultInjectionEnv* env, uint64_t id, std::string path,
                      std::unique_ptr<WritableFile> base)
        : env_(env), id_(id), path_(std::move(path)), base_(std::move(base)) {}
    ~FaultWritableFile() override { Close().IgnoreError(); }

    absl::Status Append(absl::string_view data) override {
      size_t allowed = data.size();
      absl::Status s = env_->BeginAppend(path_, &allowed);
      if (allowed > 0) {
        absl::Status written = base_->Append(data.substr(0, allowed));
        if (written.ok()) env_->Appended(id_, allowed);
        if (s.ok()) s = written;
      }
      if (s.ok()) env_->Succeeded(FaultKind::kWrite);
      return s;
    }

    absl::Status Flush() override {
      KV_RETURN_IF_ERROR(env_->Begin(FaultKind::kFlush, path_, /*mutating=*/true));
      KV_RETURN_IF_ERROR(base_->Flush());
      env_->Succeeded(FaultKind::kFlush);
      return absl::OkStatus();
    }

    absl::Status Sync() override {
      uint64_t size;
      absl::Status s = env_->BeginSync(id_, path_, &size);
      if (s.ok()) s = env_->real_syncs_ ? base_->Sync() : base_->Flush();
      env_->Synced(id_, size, s.ok());
      return s;
    }

    absl::Status Close() override {
      if (base_ == nullptr) return absl::OkStatus();
      // The descriptor is closed even with the power cut; what Close flushes is unsynced anyway.
      absl::Status s = base_->Close();
      base_.reset();
      env_->Closed();
      return s;
    }

   private:
    FaultInjectionEnv* const env_;
    const uint64_t id_;
    const std::string path_;
    std::unique_ptr<WritableFile> base_;
  };

  class FaultRandomAccessFile final : public RandomAccessFileWrapper {
   public:
    FaultRandomAccessFile(FaultInjectionEnv* env, std::string path,
                          std::unique_ptr<RandomAccessFile> base)
        : RandomAccessFileWrapper(std::move(base)), env_(env), path_(std::move(path)) {}

    absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                      char* scratch) const override {
      KV_RETURN_IF_ERROR(env_->Begin(FaultKind::kRead, path_, /*mutating=*/false));
      return RandomAccessFileWrapper::Read(offset, n, result, scratch);
    }

   private:
    FaultInjectionEnv* const env_;
    const std::string path_;
  };

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> OpenForReading(const std::string& path,
                                                                    bool unmapped) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      const uint64_t injected_before = injected_;
      absl::Status s = BeginLocked(FaultKind::kOpen, path, /*mutating=*/false);
      if (unmapped) injected_in_unmapped_opens_ += injected_ - injected_before;
      KV_RETURN_IF_ERROR(s);
    }
    auto file = unmapped ? base_->NewUnmappedRandomAccessFile(path) : base_->NewRandomAccessFile(path);
    if (!file.ok()) return file.status();
    return std::unique_ptr<RandomAccessFile>(
        new FaultRandomAccessFile(this, path, std::move(file).value()));
  }

  // NewWritableFile and NewLogFile: a new file (or a truncated one) the model tracks.
  absl::StatusOr<std::unique_ptr<WritableFile>> NewTrackedFile(const std::string& path, bool log) {
    std::lock_guard<std::mutex> lock(mu_);
    KV_RETURN_IF_ERROR(BeginLocked(FaultKind::kOpen, path, /*mutating=*/true));
    auto [dir, name] = Split(path);
    Directory& d = TrackDirLocked(dir);
    auto file = log ? base_->NewLogFile(path) : base_->NewWritableFile(path);
    if (!file.ok()) return file.status();
    uint64_t id;
    if (auto it = d.live.find(name); it != d.live.end()) {
      id = it->second;  // O_TRUNC keeps the inode; the truncation counts as durable.
      inodes_[id].size = 0;
      inodes_[id].synced = 0;
    } else {
      id = next_id_++;
      inodes_[id].path = path;
      d.live[name] = id;
    }
    ++open_files_;
    SucceededLocked(FaultKind::kOpen);
    return std::unique_ptr<WritableFile>(
        new FaultWritableFile(this, id, path, std::move(file).value()));
  }

  static size_t Index(FaultKind kind) { return static_cast<size_t>(kind); }

  static std::pair<std::string, std::string> Split(const std::string& path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) return {".", path};
    return {path.substr(0, slash), path.substr(slash + 1)};
  }
  static std::string Join(const std::string& dir, const std::string& name) {
    return dir + "/" + name;
  }

  static absl::Status PowerCutError(absl::string_view what, const std::string& path) {
    return absl::UnavailableError(absl::StrCat("power cut (simulated): ", what, " ", path));
  }

  // Counts an operation and decides whether it fails.
  absl::Status BeginLocked(FaultKind kind, const std::string& path, bool mutating) {
    if (mutating && power_cut_) return PowerCutError(FaultKindName(kind), path);
    const uint64_t number = ++counts_[Index(kind)];
    if (log_limit_ > 0) {
      while (log_.size() >= log_limit_) log_.pop_front();
      log_.push_back(absl::StrCat(FaultKindName(kind), " #", number, " ", path));
    }
    const Rule& rule = rules_[Index(kind)];
    const bool fail = number == rule.fail_at ||
                      (rule.probability > 0 &&
                       std::uniform_real_distribution<double>(0, 1)(rng_) < rule.probability);
    if (!fail) return absl::OkStatus();
    ++injected_;
    return absl::ErrnoToStatus(rule.error,
                               absl::StrCat("injected fault: ", FaultKindName(kind), " ", path));
  }

  // Called when the operation counted last for `kind` has succeeded.
  void SucceededLocked(FaultKind kind) {
    const Rule& rule = rules_[Index(kind)];
    if (rule.cut_after != 0 && counts_[Index(kind)] >= rule.cut_after) power_cut_ = true;
  }

  absl::Status Begin(FaultKind kind, const std::string& path, bool mutating) {
    std::lock_guard<std::mutex> lock(mu_);
    return BeginLocked(kind, path, mutating);
  }
  void Succeeded(FaultKind kind) {
    std::lock_guard<std::mutex> lock(mu_);
    SucceededLocked(kind);
  }

  // Decides an append of `*bytes` bytes: an error, and how many bytes to write regardless.
  absl::Status BeginAppend(const std::string& path, size_t* bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (absl::Status s = BeginLocked(FaultKind::kWrite, path, /*mutating=*/true); !s.ok()) {
      *bytes = 0;
      return s;
    }
    if (!space_limited_ || *bytes <= space_left_) {
      if (space_limited_) space_left_ -= *bytes;
      return absl::OkStatus();
    }
    *bytes = static_cast<size_t>(space_left_);
    space_left_ = 0;
    ++injected_;
    return absl::ErrnoToStatus(ENOSPC, absl::StrCat("injected fault: write ", path));
  }

  void Appended(uint64_t id, size_t bytes) {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = inodes_.find(id); it != inodes_.end()) it->second.size += bytes;
  }

  absl::Status BeginSync(uint64_t id, const std::string& path, uint64_t* size) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = inodes_.find(id);
    *size = it != inodes_.end() ? it->second.size : 0;
    return BeginLocked(FaultKind::kSync, path, /*mutating=*/true);
  }

  void Synced(uint64_t id, uint64_t size, bool ok) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = inodes_.find(id);
    if (it == inodes_.end()) return;
    Inode& inode = it->second;
    if (!ok && !power_cut_) inode.sync_failed = true;
    if (ok && !inode.sync_failed) inode.synced = std::max(inode.synced, size);
    if (ok) SucceededLocked(FaultKind::kSync);
  }

  void Closed() {
    std::lock_guard<std::mutex> lock(mu_);
    --open_files_;
  }

  // The model of `dir`, built on first use from what is on disk (all of it counted durable).
  Directory& TrackDirLocked(const std::string& dir) {
    auto [it, inserted] = dirs_.try_emplace(dir);
    if (!inserted) return it->second;
    Directory& d = it->second;
    auto children = base_->GetChildren(dir);
    if (!children.ok()) return d;
    for (const std::string& name : *children) {
      const std::string path = Join(dir, name);
      if (base_->IsDirectory(path)) continue;
      auto size = base_->GetFileSize(path);
      const uint64_t id = next_id_++;
      Inode& inode = inodes_[id];
      inode.path = path;
      inode.size = inode.synced = size.ok() ? *size : 0;
      d.live[name] = id;
      d.durable[name] = id;
    }
    return d;
  }

  bool DurablyNamedLocked(uint64_t id) const {
    for (const auto& [dir, d] : dirs_) {
      for (const auto& [name, durable_id] : d.durable) {
        if (durable_id == id) return true;
      }
    }
    return false;
  }

  // Before the last name of `id` goes away: keep its synced bytes if a power loss would bring
  // the file back.
  absl::Status PrepareUnlinkLocked(uint64_t id) {
    Inode& inode = inodes_[id];
    if (inode.saved || !DurablyNamedLocked(id)) return absl::OkStatus();
    KV_RETURN_IF_ERROR(base_->ReadFileToString(inode.path, &inode.contents));
    if (inode.contents.size() < inode.synced) {
      return absl::InternalError(absl::StrCat("FaultInjectionEnv: ", inode.path, " holds ",
                                              inode.contents.size(), " bytes, fewer than the ",
                                              inode.synced, " synced"));
    }
    inode.contents.resize(inode.synced);
    inode.saved = true;
    return absl::OkStatus();
  }

  void UnlinkLocked(uint64_t id) {
    Inode& inode = inodes_[id];
    inode.path.clear();
    if (!inode.saved) inodes_.erase(id);
  }

  // Drops saved contents no durable directory entry refers to any more.
  void ForgetUnreferencedLocked() {
    for (auto it = inodes_.begin(); it != inodes_.end();) {
      if (it->second.path.empty() && !DurablyNamedLocked(it->first)) {
        it = inodes_.erase(it);
      } else {
        ++it;
      }
    }
  }

  absl::Status DurableContentsLocked(uint64_t id, std::string* contents) {
    auto it = inodes_.find(id);
    if (it == inodes_.end()) {
      return absl::InternalError(absl::StrCat("FaultInjectionEnv: lost track of file #", id));
    }
    const Inode& inode = it->second;
    if (inode.saved) {
      *contents = inode.contents;
      return absl::OkStatus();
    }
    KV_RETURN_IF_ERROR(base_->ReadFileToString(inode.path, contents));
    contents->resize(std::min<size_t>(contents->size(), inode.synced));
    return absl::OkStatus();
  }

  absl::Status WriteWholeFile(const std::string& path, const std::string& contents) {
    auto file = base_->NewWritableFile(path);
    if (!file.ok()) return file.status();
    absl::Status s = (*file)->Append(contents);
    absl::Status closed = (*file)->Close();
    return s.ok() ? closed : s;
  }

  Env* const base_;
  const bool real_syncs_;
  mutable std::mutex mu_;  // Held across directory operations, so the model matches the disk.
  std::array<Rule, kNumFaultKinds> rules_{};
  std::array<uint64_t, kNumFaultKinds> counts_{};
  std::mt19937_64 rng_{0};
  uint64_t injected_ = 0;
  uint64_t injected_in_unmapped_opens_ = 0;
  bool space_limited_ = false;
  uint64_t space_left_ = 0;
  bool power_cut_ = false;
  int open_files_ = 0;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Inode> inodes_;
  std::map<std::string, Directory> dirs_;
  size_t log_limit_ = 0;
  std::deque<std::string> log_;
};

}  // namespace kvstore::testing

#endif  // KVSTORE_TESTING_FAULT_INJECTION_ENV_H_
