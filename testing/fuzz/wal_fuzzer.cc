// Fuzz target: the WAL reader (LogReader) and the batch decoder (BatchRep::ForEach) on each record
// it returns, the way the engine replays a log when a store opens.
//
// Input: byte 0 selects the mode.
//   even  the rest is a WAL file, read as it is.
//   odd   the rest is  damage, record, position  then payloads, each a length byte and that
//         many bytes. The harness writes them with LogWriter (so every checksum is right), damages
//         the log as byte 1 says, reads it back and checks the recovery policy of wal.h:
//           0          no damage: every payload comes back, status OK.
//           1..127     the last record is cut short by that many bytes (a torn write): every
//                      payload but the last comes back, then OK, or DataLoss if the torn bytes
//                      happen to hold a valid record.
//           128..255   one bit of record (byte 2 mod count) at (byte 3 mod its size) is flipped:
//                      the records before it come back; DataLoss if a valid record follows it.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/wal.h"
#include "testing/fuzz/fuzz_util.h"

namespace kvstore::fuzz {
namespace {

using internal::BatchRep;
using internal::EntryKind;
using internal::kWalHeaderBytes;
using internal::LogReader;

struct Operation {
  uint64_t sequence;
  EntryKind kind;
  std::string key;
  std::string value;
  bool operator==(const Operation&) const = default;
};

absl::Status Decode(absl::string_view payload, std::vector<Operation>* ops) {
  return BatchRep::ForEach(payload, [ops](uint64_t sequence, EntryKind kind, absl::string_view key,
                                          absl::string_view value) {
    ops->push_back(Operation{sequence, kind, std::string(key), std::string(value)});
  });
}

// Decodes one record's payload. A batch is applied entirely or not at all; one that parses says
// what its header says, and encodes back (with shortest varints) to a batch with the same
// operations.
void CheckBatch(absl::string_view payload) {
  std::vector<Operation> ops;
  const absl::Status s = Decode(payload, &ops);
  if (!s.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(s));
    FUZZ_CHECK(ops.empty());
    return;
  }
  FUZZ_CHECK(payload.size() >= BatchRep::kHeaderBytes);
  const uint64_t first = internal::DecodeFixed64(payload.data());
  FUZZ_CHECK(ops.size() == internal::DecodeFixed32(payload.data() + 8));
  BatchRep rebuilt;
  for (size_t i = 0; i < ops.size(); ++i) {
    FUZZ_CHECK(ops[i].sequence == first + i);
    if (ops[i].kind == EntryKind::kValue) {
      rebuilt.Put(ops[i].key, ops[i].value);
    } else {
      FUZZ_CHECK(ops[i].kind == EntryKind::kDeletion);
      FUZZ_CHECK(ops[i].value.empty());
      rebuilt.Delete(ops[i].key);
    }
  }
  rebuilt.SetSequence(first);
  FUZZ_CHECK(rebuilt.count() == ops.size());
  FUZZ_CHECK(rebuilt.payload().size() <= payload.size());
  std::vector<Operation> again;
  FUZZ_CHECK_OK(Decode(rebuilt.payload(), &again));
  FUZZ_CHECK(again == ops);
}

struct ReadResult {
  std::vector<absl::string_view> payloads;
  absl::Status status;
};

// Reads a whole log as the engine does, checking what holds for any bytes: records are
// contiguous from offset 0, good and dropped bytes add up, and the reader stays stopped.
ReadResult ReadLog(absl::string_view contents) {
  LogReader reader(contents, "000007.wal");
  ReadResult result;
  absl::string_view payload;
  size_t end = 0;
  while (reader.Next(&payload)) {
    FUZZ_CHECK(!payload.empty());
    FUZZ_CHECK(payload.data() == contents.data() + end + kWalHeaderBytes);
    FUZZ_CHECK(payload.size() <= contents.size() - end - kWalHeaderBytes);
    end += kWalHeaderBytes + payload.size();
    CheckBatch(payload);
    result.payloads.push_back(payload);
  }
  FUZZ_CHECK(!reader.Next(&payload));
  result.status = reader.status();
  FUZZ_CHECK(reader.good_bytes() == end);
  if (result.status.ok()) {
    // What follows the dropped bytes is zeros: space reserved ahead, not counted as dropped.
    const size_t dropped_end = reader.good_bytes() + reader.dropped_tail_bytes();
    FUZZ_CHECK(dropped_end <= contents.size());
    FUZZ_CHECK(contents.substr(dropped_end).find_first_not_of('\0') == absl::string_view::npos);
  } else {
    FUZZ_CHECK(absl::IsDataLoss(result.status));
    FUZZ_CHECK(reader.dropped_tail_bytes() == 0);
  }
  return result;
}

bool SamePayloads(const std::vector<absl::string_view>& read,
                  const std::vector<std::string>& written, size_t count) {
  if (read.size() != count) return false;
  for (size_t i = 0; i < count; ++i) {
    if (read[i] != written[i]) return false;
  }
  return true;
}

void FuzzWrittenLog(absl::string_view in) {
  if (in.size() < 3) return;
  const uint8_t damage = static_cast<uint8_t>(in[0]);
  const uint8_t record_choice = static_cast<uint8_t>(in[1]);
  const uint8_t position_choice = static_cast<uint8_t>(in[2]);
  in.remove_prefix(3);

  std::vector<std::string> payloads;
  while (!in.empty()) {
    const size_t n = std::min<size_t>(static_cast<uint8_t>(in[0]), in.size() - 1);
    // LogWriter refuses empty payloads: a zero length is what the reader takes for damage.
    if (n > 0) payloads.emplace_back(in.substr(1, n));
    in.remove_prefix(1 + n);
  }

  std::string log;
  internal::LogWriter writer(std::make_unique<StringSink>(&log));
  std::vector<size_t> starts;
  for (const std::string& payload : payloads) {
    starts.push_back(log.size());
    FUZZ_CHECK_OK(writer.AddRecord(payload, /*sync=*/false));
  }
  const size_t count = payloads.size();
  auto record_size = [&](size_t i) { return kWalHeaderBytes + payloads[i].size(); };

  if (damage == 0 || count == 0) {
    const ExactBuffer contents(log);
    const ReadResult r = ReadLog(contents.view());
    FUZZ_CHECK_OK(r.status);
    FUZZ_CHECK(SamePayloads(r.payloads, payloads, count));
    return;
  }
  if (damage < 128) {
    const size_t cut = std::min<size_t>(damage, record_size(count - 1));
    log.resize(log.size() - cut);
    const ExactBuffer contents(log);
    const ReadResult r = ReadLog(contents.view());
    FUZZ_CHECK(r.status.ok() || absl::IsDataLoss(r.status));
    FUZZ_CHECK(SamePayloads(r.payloads, payloads, count - 1));
    return;
  }
  const size_t victim = record_choice % count;
  const size_t position = position_choice % record_size(victim);
  log[starts[victim] + position] ^= static_cast<char>(1u << (damage & 7));
  const ExactBuffer contents(log);
  const ReadResult r = ReadLog(contents.view());
  FUZZ_CHECK(SamePayloads(r.payloads, payloads, victim));
  // Damage before a valid record is never skipped silently, but for one shape the reader cannot
  // tell from a torn write (wal.h): a length that now claims to end in the zeros the log ends with.
  const size_t written_end = log.find_last_not_of('\0') + 1;
  const uint64_t claimed_end =
      starts[victim] + kWalHeaderBytes + uint64_t{internal::DecodeFixed32(log.data() + starts[victim])};
  const bool looks_torn = position < 4 && claimed_end > written_end && claimed_end <= log.size();
  if (victim + 1 < count && !looks_torn) FUZZ_CHECK(absl::IsDataLoss(r.status));
}

}  // namespace
}  // namespace kvstore::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest = kvstore::fuzz::AsView(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    kvstore::fuzz::ReadLog(rest);
  } else {
    kvstore::fuzz::FuzzWrittenLog(rest);
  }
  return 0;
}
