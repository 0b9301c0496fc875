// The write-ahead log: each record is one batch of writes, appended before the write is
// acknowledged and replayed into the MemTable when the store opens.
//
// Record layout (docs/format.md): fixed32 payload length, fixed64 checksum of the payload salted
// with its length, then the payload. No record is ever split, so a reader never has to join pieces.
#ifndef KVSTORE_INTERNAL_WAL_H_
#define KVSTORE_INTERNAL_WAL_H_

#include <cstdint>
#include <memory>
#include <string>

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
    // The reader takes a zero length for damage (power-loss zeros), and the length field has 32
    // bits: either record would make every record after it unrecoverable.
    if (payload.empty() || payload.size() > UINT32_MAX) {
      return absl::InvalidArgumentError(
          absl::StrCat("WAL record payload of ", payload.size(), " bytes (must be 1..2^32-1)"));
    }
    char header[kWalHeaderBytes];
    EncodeFixed32(header, static_cast<uint32_t>(payload.size()));
    EncodeFixed64(header + 4, Checksum(payload, payload.size()));
    absl::Status s = file_->Append(absl::string_view(header, sizeof(header)));
    if (s.ok()) s = file_->Append(payload);
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
// Recovery policy ("tolerate a corrupted tail"): a crash can only cut the last append short, and a
// power loss can leave garbage or zeros after the last synced byte. So a record that is truncated
// or fails its checksum ends the log cleanly, with everything before it kept, provided no valid
// record follows it. If a valid record does follow, the damage is in the middle of the log and
// skipping it would silently lose acknowledged writes: that is reported as DataLoss.
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
      return true;
    }
    // Damage at offset_: a torn tail only if nothing valid follows.
    for (size_t probe = offset_ + 1; probe + kWalHeaderBytes <= contents_.size(); ++probe) {
      absl::string_view ignored;
      if (ValidRecordAt(probe, &ignored)) {
        status_ = absl::DataLossError(absl::StrCat(
            "corruption in ", file_name_, " at offset ", offset_,
            ": a damaged record is followed by valid records at offset ", probe));
        return false;
      }
    }
    dropped_tail_bytes_ = contents_.size() - offset_;
    offset_ = contents_.size();
    return false;
  }

  const absl::Status& status() const { return status_; }
  // Bytes of a torn or damaged final record that were dropped.
  size_t dropped_tail_bytes() const { return dropped_tail_bytes_; }
  // Offset just past the last good record.
  size_t good_bytes() const { return offset_ - dropped_tail_bytes_; }

 private:
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
  size_t dropped_tail_bytes_ = 0;
  absl::Status status_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_WAL_H_
