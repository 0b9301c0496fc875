// The encoded form of a batch of writes: the payload of one WAL record. A single Set is a batch
// of one, so every write takes the same path and a batch is atomic by construction.
//
// Layout: fixed64 first sequence number, fixed32 count, then per operation one kind byte and a
// length-prefixed key, plus a length-prefixed value for kValue.
#ifndef KVSTORE_INTERNAL_BATCH_H_
#define KVSTORE_INTERNAL_BATCH_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/byte_buffer.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/status.h"

namespace kvstore::internal {

class BatchRep {
 public:
  static constexpr size_t kHeaderBytes = 12;

  BatchRep() { Clear(); }

  void Clear() {
    rep_.assign(kHeaderBytes, '\0');
    count_ = 0;
  }

  void Put(absl::string_view key, absl::string_view value) {
    rep_.push_back(static_cast<char>(EntryKind::kValue));
    PutLengthPrefixed(&rep_, key);
    PutLengthPrefixed(&rep_, value);
    SetCount(count_ + 1);
  }

  void Delete(absl::string_view key) {
    rep_.push_back(static_cast<char>(EntryKind::kDeletion));
    PutLengthPrefixed(&rep_, key);
    SetCount(count_ + 1);
  }

  // Appends every operation of `other`, keeping their order.
  void Append(const BatchRep& other) {
    rep_.append(other.body());
    SetCount(count_ + other.count_);
  }

  void SetSequence(uint64_t sequence) { EncodeFixed64(rep_.data(), sequence); }

  // The header the batch would carry with `sequence` as its first sequence number: what a
  // writer that must not change the batch (another thread may be writing it too) writes in front
  // of body() to make the same payload as SetSequence(sequence) then payload().
  void EncodeHeader(uint64_t sequence, char header[kHeaderBytes]) const {
    EncodeFixed64(header, sequence);
    EncodeFixed32(header + 8, count_);
  }
  // The operations, without the header.
  absl::string_view body() const { return rep_.view().substr(kHeaderBytes); }

  uint32_t count() const { return count_; }
  bool empty() const { return count_ == 0; }
  absl::string_view payload() const { return rep_.view(); }
  size_t ApproximateBytes() const { return rep_.size(); }

  // Calls handler(sequence, kind, key, value) for each operation of an encoded payload, after
  // checking the whole payload parses. A payload that does not parse is DataLoss, so a
  // record is applied entirely or not at all.
  template <typename Handler>
  static absl::Status ForEach(absl::string_view payload, Handler&& handler) {
    KV_RETURN_IF_ERROR(Walk(payload, [](uint64_t, EntryKind, absl::string_view,
                                               absl::string_view) {}));
    return Walk(payload, handler);
  }

  // ForEach for a batch this process just encoded (it parses by construction): one pass.
  template <typename Handler>
  absl::Status ForEachEncodedHere(Handler&& handler) const {
    return Walk(rep_.view(), handler);
  }
  // The same with `first_sequence` as the first operation's sequence number (see EncodeHeader).
  template <typename Handler>
  absl::Status ForEachEncodedHere(uint64_t first_sequence, Handler&& handler) const {
    return WalkBody(first_sequence, count_, body(), handler);
  }

 private:
  void SetCount(uint32_t count) {
    count_ = count;
    EncodeFixed32(rep_.data() + 8, count);
  }

  template <typename Handler>
  static absl::Status Walk(absl::string_view payload, Handler&& handler) {
    uint64_t sequence;
    uint32_t count;
    if (!GetFixed64(&payload, &sequence) || !GetFixed32(&payload, &count)) {
      return absl::DataLossError("batch shorter than its header");
    }
    return WalkBody(sequence, count, payload, handler);
  }

  template <typename Handler>
  static absl::Status WalkBody(uint64_t sequence, uint32_t count, absl::string_view payload,
                               Handler&& handler) {
    for (uint32_t i = 0; i < count; ++i) {
      if (payload.empty()) return absl::DataLossError(absl::StrCat("batch ends after ", i, " of ", count, " operations"));
      const uint8_t kind = static_cast<uint8_t>(payload.front());
      payload.remove_prefix(1);
      absl::string_view key, value;
      if (!IsValidKind(kind)) return absl::DataLossError(absl::StrCat("batch operation ", i, " has unknown kind ", kind));
      if (!GetLengthPrefixed(&payload, &key)) return absl::DataLossError(absl::StrCat("batch operation ", i, " has a bad key length"));
      if (kind == static_cast<uint8_t>(EntryKind::kValue) && !GetLengthPrefixed(&payload, &value)) {
        return absl::DataLossError(absl::StrCat("batch operation ", i, " has a bad value length"));
      }
      handler(sequence + i, static_cast<EntryKind>(kind), key, value);
    }
    if (!payload.empty()) return absl::DataLossError("batch has bytes after its last operation");
    return absl::OkStatus();
  }

  ByteBuffer rep_;
  uint32_t count_ = 0;
};

// A batch is written as one WAL record, whose length field has 32 bits. A batch that does not fit
// is refused before anything is written, so the store stays writable (InvalidArgument).
inline constexpr size_t kMaxBatchBytes = UINT32_MAX;

inline absl::Status CheckBatchBytes(size_t bytes) {
  if (bytes <= kMaxBatchBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("write batch of ", bytes,
                                                 " bytes exceeds the limit of ", kMaxBatchBytes,
                                                 " bytes (one WAL record); split it"));
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_BATCH_H_
