// The write-ahead log: each record is one batch of writes, appended before the write is
// acknowledged and replayed into the MemTable when the store opens.
//
// Record layout (docs/format.md): fixed32 payload length, fixed64 checksum of the payload salted
// with its length, then the payload. No record is ever split, so a reader never has to join pieces.
#ifndef KVSTORE_INTERNAL_WAL_H_
#define KVSTORE_INTERNAL_WAL_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/hash.h"

namespace kvstore::internal {

inline constexpr size_t kWalHeaderBytes = 12;

// Appends records to a WAL file. Not thread-safe: the store serializes writers.
class LogWriter {
 public:
  explicit LogWriter(std::unique_ptr<WritableFile> file) : file_(std::move(file)) {}

  // Appends one record and hands it to the OS; with `sync`, also waits until it is durable.
  absl::Status AddRecord(absl::string_view payload, bool sync) {
    return AddRecord(absl::string_view(), payload, sync);
  }

  // One record whose payload is `head` (at most kMaxHeadBytes) followed by `rest`, written from
  // the two pieces: a large batch goes to the file without being copied once more.
  static constexpr size_t kMaxHeadBytes = 32;
  absl::Status AddRecord(absl::string_view head, absl::string_view rest, bool sync) {
    const size_t size = head.size() + rest.size();
    // The reader takes a zero length for damage (power-loss zeros), and the length field has 32
    // bits: either record would make every record after it unrecoverable.
    if (size == 0 || size > UINT32_MAX || head.size() > kMaxHeadBytes) {
      return absl::InvalidArgumentError(absl::StrCat("WAL record payload of ", size, " bytes (",
                                                     head.size(), " in front; must be 1..2^32-1)"));
    }
    char header[kWalHeaderBytes + kMaxHeadBytes];
    EncodeFixed32(header, static_cast<uint32_t>(size));
    EncodeFixed64(header + 4, Checksum(head, rest, size));
    if (!head.empty()) std::memcpy(header + kWalHeaderBytes, head.data(), head.size());
    absl::Status s =
        file_->AppendPair(absl::string_view(header, kWalHeaderBytes + head.size()), rest);
    if (s.ok()) s = sync ? file_->Sync() : file_->Flush();
    return s;
  }

  absl::Status Sync() { return file_->Sync(); }
  absl::Status Close() { return file_->Close(); }

 private:
  std::unique_ptr<WritableFile> file_;
};

// Reads the records of a WAL file held in memory.
//
// Recovery policy ("tolerate a torn tail"): a crash can only cut the last append short, and a
// power loss can also lose unsynced pages. So damage ends the log cleanly, with everything before
// it kept, when it has one of the shapes those leave; any other damage followed by a valid record
// is in the middle of the log, and skipping it would silently lose acknowledged writes: that is
// reported as DataLoss. The shapes (docs/format.md, "Reading a WAL back"):
//  - Zeros to the end of the file: space the writer reserved ahead (fallocate) and never used.
//    They are not damage, and not counted in dropped_tail_bytes().
//  - A torn last record: the written bytes end inside the extent the record's header claims, and
//    that extent lies within the file (the mapped WAL reserves space ahead, so a torn record is
//    followed by zeros). The writer fills a record front to back and nothing after it, so whatever
//    the torn payload holds (a value may hold bytes that look like WAL records) is not looked at.
//    A log written by appends (an Env without a mapped WAL) ends where the writing stopped: its
//    torn record claims more than the file holds, and is a torn tail unless valid records that
//    reach the end start inside it, which a corrupted length field would also show (DataLoss).
//  - A hole: a whole 4 KiB page of zeros between the damage and the next valid record, which only
//    out-of-order writeback of unsynced pages leaves; what follows was never synced (a sync writes
//    every page before it), so it may be dropped with the hole.
// Every check is linear in the file's size: the search for a valid record after damage first
// follows header lengths backwards from the end (a real record is followed by records up to the
// written end), and only candidates that chain to the end have their checksum computed.
class LogReader {
 public:
  LogReader(absl::string_view contents, std::string file_name)
      : contents_(contents), file_name_(std::move(file_name)) {}

  // Sets *payload to the next record's payload; false at the end of the log or on error
  // (status() tells which).
  bool Next(absl::string_view* payload) {
    if (!status_.ok() || offset_ >= contents_.size()) return false;
    if (ValidRecordAt(offset_, payload)) {
      offset_ += kWalHeaderBytes + payload->size();
      good_bytes_ = offset_;
      return true;
    }
    OnDamage();
    return false;
  }

  const absl::Status& status() const { return status_; }
  // Bytes of a torn or damaged final record that were dropped, up to the last nonzero byte (the
  // zeros of reserved space after it are not counted).
  size_t dropped_tail_bytes() const { return dropped_tail_bytes_; }
  // Offset just past the last good record.
  size_t good_bytes() const { return good_bytes_; }

 private:
  static constexpr size_t kPageBytes = 4096;
  // Checksum work allowed when searching for a valid record after damage, per byte searched.
  static constexpr size_t kProbeHashBudgetPerByte = 8;

  // The log's damage at offset_ either ends it (a torn tail) or is reported.
  void OnDamage() {
    const size_t written_end = WrittenEnd();
    offset_ = contents_.size();
    if (written_end <= good_bytes_) return;  // Only reserved zeros: the clean end of the log.
    const size_t damage = good_bytes_;
    dropped_tail_bytes_ = written_end - damage;
    uint64_t claimed_end = UINT64_MAX;  // Past the file: the header is itself torn.
    if (contents_.size() - damage >= kWalHeaderBytes) {
      claimed_end = damage + kWalHeaderBytes + uint64_t{DecodeFixed32(contents_.data() + damage)};
    }
    if (claimed_end > written_end && claimed_end <= contents_.size()) return;  // Torn in place.
    // Damage inside a record whose length is intact: the next record starts where it claims to end.
    absl::string_view ignored;
    size_t next = claimed_end < written_end && ValidRecordAt(claimed_end, &ignored)
                      ? claimed_end
                      : FindChainedRecord(damage + 1, written_end);
    if (next == kNone || HoleBetween(damage, next)) return;
    dropped_tail_bytes_ = 0;
    status_ = absl::DataLossError(absl::StrCat(
        "corruption in ", file_name_, " at offset ", damage,
        next == kUndecided ? ": damage that is not a torn tail (too costly to search further)"
                           : absl::StrCat(": a damaged record is followed by valid records at "
                                          "offset ", next)));
  }

  static constexpr size_t kNone = SIZE_MAX;
  static constexpr size_t kUndecided = SIZE_MAX - 1;

  // One past the last nonzero byte after the good records.
  size_t WrittenEnd() const {
    size_t end = contents_.size();
    while (end > good_bytes_ && contents_[end - 1] == '\0') --end;
    return end;
  }

  // The first offset in [from, written_end) where a valid record starts whose successors, by their
  // header lengths, reach the written end; kNone if there is none, kUndecided if the checksum
  // budget ran out first.
  size_t FindChainedRecord(size_t from, size_t written_end) const {
    if (from >= written_end) return kNone;
    const size_t n = written_end - from;
    std::vector<bool> chains(n, false);  // chains[i]: headers from from + i lead to the end.
    for (size_t i = n; i-- > 0;) {
      const size_t at = from + i;
      if (contents_.size() - at < kWalHeaderBytes) continue;
      const uint32_t length = DecodeFixed32(contents_.data() + at);
      const uint64_t end = at + kWalHeaderBytes + uint64_t{length};
      if (length == 0 || end > contents_.size()) continue;
      chains[i] = end >= written_end || chains[end - from];
    }
    size_t budget = kProbeHashBudgetPerByte * n + (64 << 10);
    for (size_t i = 0; i < n; ++i) {
      if (!chains[i]) continue;
      const size_t length = DecodeFixed32(contents_.data() + from + i);
      if (length > budget) return kUndecided;
      budget -= length;
      absl::string_view ignored;
      if (ValidRecordAt(from + i, &ignored)) return from + i;
    }
    return kNone;
  }

  // Whether a whole page of zeros lies between the damage and the record at `next`.
  bool HoleBetween(size_t damage, size_t next) const {
    for (size_t page = damage / kPageBytes * kPageBytes; page + kPageBytes <= next;
         page += kPageBytes) {
      const absl::string_view bytes = contents_.substr(page, kPageBytes);
      if (bytes.find_first_not_of('\0') == absl::string_view::npos) return true;
    }
    return false;
  }

  bool ValidRecordAt(size_t offset, absl::string_view* payload) const {
    if (contents_.size() - offset < kWalHeaderBytes) return false;
    const char* header = contents_.data() + offset;
    const uint32_t length = DecodeFixed32(header);
    if (length == 0 || length > contents_.size() - offset - kWalHeaderBytes) return false;
    const absl::string_view bytes(header + kWalHeaderBytes, length);
    if (Checksum(bytes, length) != DecodeFixed64(header + 4)) return false;
    *payload = bytes;
    return true;
  }

  absl::string_view contents_;
  std::string file_name_;
  size_t offset_ = 0;
  size_t good_bytes_ = 0;
  size_t dropped_tail_bytes_ = 0;
  absl::Status status_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_WAL_H_
