// Tests of the write-ahead log (LogWriter, LogReader) and of the batch encoding it carries
// (BatchRep): round trips, and the recovery policy "tolerate a corrupted tail, report damage
// anywhere else" at every byte of the records concerned.
#include "kvstore/internal/wal.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "kvstore/env.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/byte_buffer.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "testing/test_util.h"

namespace kvstore::internal {
namespace {

constexpr char kFileName[] = "dir/000007.wal";

// A WritableFile that appends to a string the test owns, so it can cut and flip the log's bytes.
class StringSink final : public WritableFile {
 public:
  explicit StringSink(std::string* contents) : contents_(contents) {}
  absl::Status Append(absl::string_view data) override {
    if (closed_) return absl::FailedPreconditionError("append after close");
    contents_->append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Close() override {
    closed_ = true;
    return absl::OkStatus();
  }

 private:
  std::string* contents_;
  bool closed_ = false;
};

std::string RandomBytes(std::mt19937_64& rng, size_t n) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

// Every payload the reader returns, then its final state.
struct ReadResult {
  std::vector<std::string> payloads;
  absl::Status status;
  size_t dropped_tail_bytes = 0;
  size_t good_bytes = 0;
};

ReadResult ReadAll(absl::string_view contents) {
  LogReader reader(contents, kFileName);
  ReadResult result;
  absl::string_view payload;
  while (reader.Next(&payload)) result.payloads.emplace_back(payload);
  // Once it has stopped, the reader stays stopped.
  EXPECT_FALSE(reader.Next(&payload));
  result.status = reader.status();
  result.dropped_tail_bytes = reader.dropped_tail_bytes();
  result.good_bytes = reader.good_bytes();
  return result;
}

// Writes `payloads` as a log; `ends[i]` is set to the offset just past record i.
std::string WriteLog(const std::vector<std::string>& payloads, std::vector<size_t>* ends = nullptr) {
  std::string contents;
  LogWriter writer(std::make_unique<StringSink>(&contents));
  for (const std::string& p : payloads) {
    EXPECT_TRUE(writer.AddRecord(p, /*sync=*/false).ok());
    if (ends != nullptr) ends->push_back(contents.size());
  }
  EXPECT_TRUE(writer.Close().ok());
  return contents;
}

// Payload sizes that straddle the header size, the writer's 64 KiB buffer and powers of two.
std::vector<std::string> ManyPayloads(std::mt19937_64& rng) {
  std::vector<size_t> sizes = {1,    2,    7,     8,     11,    12,    13,     100,
                               255,  256,  257,   4095,  4096,  4097,  65535,  65536,
                               65537, 65548, 100 * 1024 - 1, 100 * 1024};
  for (int i = 0; i < 200; ++i) sizes.push_back(1 + rng() % 300);
  for (int i = 0; i < 20; ++i) sizes.push_back(1 + rng() % (100 * 1024));
  std::shuffle(sizes.begin(), sizes.end(), rng);
  std::vector<std::string> payloads;
  for (size_t n : sizes) payloads.push_back(RandomBytes(rng, n));
  return payloads;
}

TEST(LogTest, RoundTripManySizesInMemory) {
  std::mt19937_64 rng(301);
  const std::vector<std::string> payloads = ManyPayloads(rng);
  const std::string contents = WriteLog(payloads);
  size_t expected_bytes = 0;
  for (const std::string& p : payloads) expected_bytes += kWalHeaderBytes + p.size();
  ASSERT_EQ(contents.size(), expected_bytes);

  const ReadResult r = ReadAll(contents);
  KV_EXPECT_OK(r.status);
  EXPECT_EQ(r.payloads, payloads);
  EXPECT_EQ(r.dropped_tail_bytes, 0u);
  EXPECT_EQ(r.good_bytes, contents.size());
}

TEST(LogTest, RoundTripThroughPosixFile) {
  std::mt19937_64 rng(302);
  const std::vector<std::string> payloads = ManyPayloads(rng);
  Env* env = Env::Default();
  const std::string dir = testing::NewTempDir("wal");
  KV_ASSERT_OK(env->CreateDir(dir));
  const std::string name = WalFileName(dir, 7);
  {
    LogWriter writer(ValueOrDie(env->NewWritableFile(name)));
    for (size_t i = 0; i < payloads.size(); ++i) {
      KV_ASSERT_OK(writer.AddRecord(payloads[i], /*sync=*/i % 50 == 0));
    }
    KV_ASSERT_OK(writer.Sync());
    KV_ASSERT_OK(writer.Close());
  }
  std::string contents;
  KV_ASSERT_OK(env->ReadFileToString(name, &contents));
  const ReadResult r = ReadAll(contents);
  KV_EXPECT_OK(r.status);
  EXPECT_EQ(r.payloads, payloads);
}

TEST(LogTest, EmptyLogHasNoRecords) {
  const ReadResult r = ReadAll("");
  KV_EXPECT_OK(r.status);
  EXPECT_TRUE(r.payloads.empty());
  EXPECT_EQ(r.dropped_tail_bytes, 0u);
  EXPECT_EQ(r.good_bytes, 0u);
}

// The format says a payload is never empty, and the reader treats a zero length as damage (so that
// zeros left by a power loss never parse as records). The writer must therefore refuse an empty
// payload: writing one would make every later record of the log unrecoverable.
TEST(LogTest, WriterRefusesEmptyPayload) {
  std::string contents;
  LogWriter writer(std::make_unique<StringSink>(&contents));
  KV_ASSERT_OK(writer.AddRecord("first", false));
  const size_t before = contents.size();
  EXPECT_EQ(writer.AddRecord("", false).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(contents.size(), before);
  KV_ASSERT_OK(writer.AddRecord("second", false));
  const ReadResult r = ReadAll(contents);
  KV_EXPECT_OK(r.status);
  EXPECT_EQ(r.payloads, (std::vector<std::string>{"first", "second"}));
}

// A record of length zero, even with a matching checksum, is not a record.
TEST(LogTest, ZeroLengthRecordIsDamage) {
  std::string zero_record;
  PutFixed32(&zero_record, 0);
  PutFixed64(&zero_record, Checksum("", 0));
  const std::string good = WriteLog({"abc"});

  ReadResult r = ReadAll(good + zero_record);  // At the tail: a torn tail.
  KV_EXPECT_OK(r.status);
  EXPECT_EQ(r.payloads, std::vector<std::string>{"abc"});
  EXPECT_EQ(r.dropped_tail_bytes, zero_record.size());

  r = ReadAll(good + zero_record + good);  // In the middle: damage.
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
  EXPECT_EQ(r.payloads, std::vector<std::string>{"abc"});
}

TEST(LogTest, TornTailAtEveryOffsetOfLastRecordIsDropped) {
  std::mt19937_64 rng(303);
  const std::vector<std::string> payloads = {RandomBytes(rng, 40), RandomBytes(rng, 1),
                                             RandomBytes(rng, 700), RandomBytes(rng, 300)};
  std::vector<size_t> ends;
  const std::string contents = WriteLog(payloads, &ends);
  const size_t last_start = ends[ends.size() - 2];
  const std::vector<std::string> kept(payloads.begin(), payloads.end() - 1);
  for (size_t cut = last_start; cut < contents.size(); ++cut) {
    SCOPED_TRACE(cut);
    const ReadResult r = ReadAll(absl::string_view(contents).substr(0, cut));
    KV_ASSERT_OK(r.status);
    ASSERT_EQ(r.payloads, kept);
    // Zero bytes at the cut count as reserved space, not as dropped.
    const size_t written = std::max(contents.find_last_not_of('\0', cut - 1) + 1, last_start);
    EXPECT_EQ(r.dropped_tail_bytes, written - last_start);
    EXPECT_EQ(r.good_bytes, last_start);
  }
}

TEST(LogTest, TornTailOfOnlyRecordLeavesEmptyLog) {
  const std::string contents = WriteLog({std::string(50, 'x')});
  for (size_t cut = 1; cut < contents.size(); ++cut) {
    const ReadResult r = ReadAll(absl::string_view(contents).substr(0, cut));
    KV_ASSERT_OK(r.status);
    EXPECT_TRUE(r.payloads.empty());
    EXPECT_EQ(r.dropped_tail_bytes, contents.find_last_not_of('\0', cut - 1) + 1);
    EXPECT_EQ(r.good_bytes, 0u);
  }
}

TEST(LogTest, ZerosAfterValidRecordsAreDropped) {
  std::mt19937_64 rng(304);
  const std::vector<std::string> payloads = {RandomBytes(rng, 10), RandomBytes(rng, 5000),
                                             RandomBytes(rng, 3)};
  const std::string contents = WriteLog(payloads);
  for (size_t zeros : {1, 4, 11, 12, 13, 100, 4096, 65536}) {
    SCOPED_TRACE(zeros);
    const ReadResult r = ReadAll(contents + std::string(zeros, '\0'));
    KV_ASSERT_OK(r.status);
    EXPECT_EQ(r.payloads, payloads);
    // Space reserved ahead of the writes, not a torn tail.
    EXPECT_EQ(r.dropped_tail_bytes, 0u);
    EXPECT_EQ(r.good_bytes, contents.size());
  }
}

TEST(LogTest, ZerosAfterTornRecordAreDropped) {
  std::mt19937_64 rng(305);
  std::vector<size_t> ends;
  const std::string contents = WriteLog({RandomBytes(rng, 64), RandomBytes(rng, 512)}, &ends);
  const std::string damaged = contents.substr(0, ends[0] + 200) + std::string(4096, '\0');
  const ReadResult r = ReadAll(damaged);
  KV_ASSERT_OK(r.status);
  ASSERT_EQ(r.payloads.size(), 1u);
  const size_t written = damaged.find_last_not_of('\0') + 1;
  EXPECT_EQ(r.dropped_tail_bytes, written - ends[0]);
}

TEST(LogTest, GarbageAfterValidRecordsIsDropped) {
  std::mt19937_64 rng(306);
  const std::vector<std::string> payloads = {RandomBytes(rng, 33), RandomBytes(rng, 1000)};
  const std::string contents = WriteLog(payloads);
  for (int trial = 0; trial < 50; ++trial) {
    std::string garbage = RandomBytes(rng, 1 + rng() % 2000);
    garbage.back() = 'g';  // Trailing zeros would be reserved space, not counted as dropped.
    const ReadResult r = ReadAll(contents + garbage);
    KV_ASSERT_OK(r.status);
    EXPECT_EQ(r.payloads, payloads);
    EXPECT_EQ(r.dropped_tail_bytes, garbage.size());
  }
}

// A flipped byte anywhere in a record that valid records follow is reported, naming the file, and
// the reader returns nothing from the damaged record onwards.
TEST(LogTest, FlippedByteInMiddleRecordIsDataLoss) {
  std::mt19937_64 rng(307);
  const std::vector<std::string> payloads = {RandomBytes(rng, 20), RandomBytes(rng, 150),
                                             RandomBytes(rng, 30), RandomBytes(rng, 90)};
  std::vector<size_t> ends;
  const std::string contents = WriteLog(payloads, &ends);
  for (size_t damaged_record : {0, 1, 2}) {
    const size_t start = damaged_record == 0 ? 0 : ends[damaged_record - 1];
    const std::vector<std::string> kept(payloads.begin(), payloads.begin() + damaged_record);
    for (size_t offset = start; offset < ends[damaged_record]; ++offset) {
      SCOPED_TRACE(offset);
      std::string damaged = contents;
      damaged[offset] ^= static_cast<char>(1 + rng() % 255);
      const ReadResult r = ReadAll(damaged);
      ASSERT_EQ(r.status.code(), absl::StatusCode::kDataLoss) << r.status;
      EXPECT_NE(r.status.message().find(kFileName), absl::string_view::npos) << r.status;
      ASSERT_EQ(r.payloads, kept);
      EXPECT_EQ(r.good_bytes, start);
    }
  }
}

TEST(LogTest, FlippedByteInLastRecordIsTornTail) {
  std::mt19937_64 rng(308);
  const std::vector<std::string> payloads = {RandomBytes(rng, 20), RandomBytes(rng, 150),
                                             RandomBytes(rng, 200)};
  std::vector<size_t> ends;
  const std::string contents = WriteLog(payloads, &ends);
  const size_t last_start = ends[ends.size() - 2];
  const std::vector<std::string> kept(payloads.begin(), payloads.end() - 1);
  for (size_t offset = last_start; offset < contents.size(); ++offset) {
    SCOPED_TRACE(offset);
    std::string damaged = contents;
    damaged[offset] ^= static_cast<char>(1 + rng() % 255);
    const ReadResult r = ReadAll(damaged);
    KV_ASSERT_OK(r.status);
    ASSERT_EQ(r.payloads, kept);
    EXPECT_EQ(r.dropped_tail_bytes, contents.size() - last_start);
  }
}

// Regression: a torn last record whose payload holds bytes that are themselves valid WAL records
// (a value that is a copy of a log) is a torn tail, not mid-log damage. The mapped WAL leaves
// reserved zeros after it; a log cut where the writing stopped is a torn tail too unless records
// inside the torn one chain exactly to the cut.
TEST(LogTest, TornRecordHoldingValidRecordsIsTornTail) {
  std::mt19937_64 rng(309);
  const std::vector<std::string> inner = {RandomBytes(rng, 100), RandomBytes(rng, 3000),
                                          RandomBytes(rng, 17)};
  const std::string embedded_log = WriteLog(inner);
  const std::string value = RandomBytes(rng, 64) + embedded_log + RandomBytes(rng, 5000);
  std::vector<size_t> ends;
  const std::string contents = WriteLog({"first", value}, &ends);
  const size_t inner_start = ends[0] + kWalHeaderBytes + 64;
  // Cut right after each embedded record, and inside them.
  for (size_t cut : {inner_start + embedded_log.size(), inner_start + 112, inner_start + 200,
                     contents.size() - 1}) {
    for (size_t zeros : {size_t{0}, size_t{8192}}) {
      const bool at_embedded_boundary =
          cut == inner_start + embedded_log.size() || cut == inner_start + 112;
      if (zeros == 0 && at_embedded_boundary) continue;
      SCOPED_TRACE(absl::StrCat("cut ", cut, " zeros ", zeros));
      const ReadResult r = ReadAll(contents.substr(0, cut) + std::string(zeros, '\0'));
      KV_ASSERT_OK(r.status);
      EXPECT_EQ(r.payloads, std::vector<std::string>{"first"});
      EXPECT_EQ(r.good_bytes, ends[0]);
    }
  }
}

// Regression: telling a torn tail from damage is linear in the log's size. A torn 16 MiB record
// of random bytes holds thousands of plausible record lengths; checking each by its checksum
// took 41 s for 4 MiB.
TEST(LogTest, TornHugeRecordIsDecidedInLinearTime) {
  std::mt19937_64 rng(310);
  const std::string value = RandomBytes(rng, 16 << 20);
  std::vector<size_t> ends;
  const std::string contents = WriteLog({"first", value}, &ends);
  for (size_t zeros : {size_t{0}, size_t{1} << 20}) {
    const std::string torn = contents.substr(0, contents.size() / 2) + std::string(zeros, '\0');
    const ReadResult r = ReadAll(torn);
    KV_ASSERT_OK(r.status);
    EXPECT_EQ(r.payloads, std::vector<std::string>{"first"});
  }
  // The same record, whole but with a flipped byte, and valid records after it: damage.
  std::string damaged = WriteLog({"first", value, "after"});
  damaged[ends[0] + 1000] ^= 1;
  EXPECT_EQ(ReadAll(damaged).status.code(), absl::StatusCode::kDataLoss);
}

// After a power loss, pages of a WAL written through a mapping may have reached the disk out of
// order: a page of zeros (never written back) before records that were. Those records were never
// synced (a sync writes every page before them), so the log ends at the hole.
TEST(LogTest, HoleOfZeroPagesBeforeUnsyncedRecordsEndsTheLog) {
  std::mt19937_64 rng(311);
  std::vector<std::string> payloads;
  for (int i = 0; i < 40; ++i) payloads.push_back(RandomBytes(rng, 500));
  std::vector<size_t> ends;
  std::string contents = WriteLog(payloads, &ends);
  std::fill(contents.begin() + 8192, contents.begin() + 12288, '\0');  // The third page lost.
  const ReadResult r = ReadAll(contents + std::string(4096, '\0'));
  KV_ASSERT_OK(r.status);
  const size_t kept = std::upper_bound(ends.begin(), ends.end(), 8192) - ends.begin();
  EXPECT_EQ(r.payloads, std::vector<std::string>(payloads.begin(), payloads.begin() + kept));
  EXPECT_EQ(r.good_bytes, ends[kept - 1]);
}

// A torn record followed by a whole one (a writer that appended after a crash) is damage to be
// reported, never a record glued together from pieces.
TEST(LogTest, ReaderNeverJoinsRecords) {
  const std::string a = WriteLog({"aaaa"});
  const std::string b = WriteLog({"bbbbbbbb"});
  const ReadResult r = ReadAll(a.substr(0, a.size() - 2) + b);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_TRUE(r.payloads.empty());
}

// ---- BatchRep ------------------------------------------------------------------------------

using Op = std::tuple<uint64_t, EntryKind, std::string, std::string>;

absl::Status Collect(absl::string_view payload, std::vector<Op>* ops) {
  return BatchRep::ForEach(payload, [ops](uint64_t seq, EntryKind kind, absl::string_view key,
                                          absl::string_view value) {
    ops->emplace_back(seq, kind, std::string(key), std::string(value));
  });
}

TEST(BatchRepTest, EmptyBatch) {
  BatchRep batch;
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.count(), 0u);
  EXPECT_EQ(batch.payload().size(), BatchRep::kHeaderBytes);
  std::vector<Op> ops;
  KV_EXPECT_OK(Collect(batch.payload(), &ops));
  EXPECT_TRUE(ops.empty());
}

TEST(BatchRepTest, PutDeleteRoundTrip) {
  BatchRep batch;
  const std::string binary_key("\0\xff\x80k", 4);
  const std::string binary_value("\xff\0\0v\x01", 5);
  const std::string big_value(200000, 'v');  // Length prefix of three varint bytes.
  batch.Put("a", "1");
  batch.Delete("b");
  batch.Put(binary_key, binary_value);
  batch.Put("", "");
  batch.Delete("");
  batch.Put("big", big_value);
  batch.SetSequence(kMaxSequence - 10);
  EXPECT_EQ(batch.count(), 6u);
  EXPECT_FALSE(batch.empty());
  EXPECT_EQ(batch.ApproximateBytes(), batch.payload().size());

  std::vector<Op> ops;
  KV_ASSERT_OK(Collect(batch.payload(), &ops));
  const uint64_t s = kMaxSequence - 10;
  const std::vector<Op> expected = {
      {s, EntryKind::kValue, "a", "1"},           {s + 1, EntryKind::kDeletion, "b", ""},
      {s + 2, EntryKind::kValue, binary_key, binary_value},
      {s + 3, EntryKind::kValue, "", ""},         {s + 4, EntryKind::kDeletion, "", ""},
      {s + 5, EntryKind::kValue, "big", big_value}};
  EXPECT_EQ(ops, expected);
}

TEST(BatchRepTest, SetSequenceCanBeChangedAndClearResets) {
  BatchRep batch;
  batch.Put("k", "v");
  batch.SetSequence(5);
  batch.SetSequence(42);
  std::vector<Op> ops;
  KV_ASSERT_OK(Collect(batch.payload(), &ops));
  ASSERT_EQ(ops.size(), 1u);
  EXPECT_EQ(std::get<0>(ops[0]), 42u);

  batch.Clear();
  EXPECT_TRUE(batch.empty());
  EXPECT_EQ(batch.payload(), std::string(BatchRep::kHeaderBytes, '\0'));
  batch.Delete("x");
  batch.SetSequence(9);
  ops.clear();
  KV_ASSERT_OK(Collect(batch.payload(), &ops));
  EXPECT_EQ(ops, (std::vector<Op>{{9, EntryKind::kDeletion, "x", ""}}));
}

TEST(BatchRepTest, AppendKeepsOrder) {
  BatchRep a, b;
  a.Put("a1", "x");
  a.Delete("a2");
  b.Put("b1", "y");
  b.Put("b2", "z");
  b.Delete("b3");
  b.SetSequence(1000);  // The appended batch's own sequence number is not carried over.
  a.Append(b);
  a.SetSequence(10);
  EXPECT_EQ(a.count(), 5u);
  std::vector<Op> ops;
  KV_ASSERT_OK(Collect(a.payload(), &ops));
  const std::vector<Op> expected = {{10, EntryKind::kValue, "a1", "x"},
                                    {11, EntryKind::kDeletion, "a2", ""},
                                    {12, EntryKind::kValue, "b1", "y"},
                                    {13, EntryKind::kValue, "b2", "z"},
                                    {14, EntryKind::kDeletion, "b3", ""}};
  EXPECT_EQ(ops, expected);

  // Appending an empty batch changes nothing; appending a batch to itself doubles it.
  a.Append(BatchRep());
  EXPECT_EQ(a.count(), 5u);
  a.Append(a);
  EXPECT_EQ(a.count(), 10u);
  ops.clear();
  KV_ASSERT_OK(Collect(a.payload(), &ops));
  ASSERT_EQ(ops.size(), 10u);
  EXPECT_EQ(std::get<2>(ops[7]), "b1");
  EXPECT_EQ(std::get<0>(ops[9]), 19u);
}

// Every proper prefix of a valid payload, and the payload with bytes appended, is DataLoss, and
// the handler is never called: a batch is applied entirely or not at all.
TEST(BatchRepTest, TruncatedOrExtendedPayloadIsDataLossWithoutCalls) {
  BatchRep batch;
  batch.Put("alpha", "one");
  batch.Delete("beta");
  batch.Put("gamma", std::string(300, 'g'));
  batch.SetSequence(7);
  const std::string payload(batch.payload());
  int calls = 0;
  auto count_calls = [&calls](uint64_t, EntryKind, absl::string_view, absl::string_view) {
    ++calls;
  };
  for (size_t cut = 0; cut < payload.size(); ++cut) {
    SCOPED_TRACE(cut);
    EXPECT_EQ(BatchRep::ForEach(payload.substr(0, cut), count_calls).code(),
              absl::StatusCode::kDataLoss);
  }
  EXPECT_EQ(BatchRep::ForEach(payload + "x", count_calls).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 0);
  KV_EXPECT_OK(BatchRep::ForEach(payload, count_calls));
  EXPECT_EQ(calls, 3);
}

TEST(BatchRepTest, BadKindAfterValidOperationsIsDataLossWithoutCalls) {
  BatchRep batch;
  batch.Put("k1", "v1");
  batch.Put("k2", "v2");
  std::string payload(batch.payload());
  const size_t second_kind = BatchRep::kHeaderBytes + 1 + 3 + 3;
  ASSERT_EQ(payload[second_kind], static_cast<char>(EntryKind::kValue));
  payload[second_kind] = 2;
  int calls = 0;
  const absl::Status s = BatchRep::ForEach(
      payload, [&calls](uint64_t, EntryKind, absl::string_view, absl::string_view) { ++calls; });
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_EQ(calls, 0);
}

TEST(BatchRepTest, CountLargerThanOperationsIsDataLoss) {
  BatchRep batch;
  batch.Put("k", "v");
  std::string payload(batch.payload());
  EncodeFixed32(payload.data() + 8, 0xffffffffu);
  int calls = 0;
  EXPECT_EQ(BatchRep::ForEach(payload, [&calls](uint64_t, EntryKind, absl::string_view,
                                                absl::string_view) { ++calls; })
                .code(),
            absl::StatusCode::kDataLoss);
  EXPECT_EQ(calls, 0);
}

// Random bytes and single-byte flips of a valid payload either parse completely or are DataLoss
// with no handler call; they never crash or read out of bounds (run under ASan).
TEST(BatchRepTest, GarbageNeverPartiallyApplied) {
  std::mt19937_64 rng(309);
  BatchRep batch;
  for (int i = 0; i < 20; ++i) {
    if (i % 3 == 0) {
      batch.Delete("key" + std::to_string(i));
    } else {
      batch.Put("key" + std::to_string(i), RandomBytes(rng, rng() % 40));
    }
  }
  const std::string valid(batch.payload());
  std::vector<std::string> inputs;
  for (int i = 0; i < 300; ++i) inputs.push_back(RandomBytes(rng, rng() % 100));
  for (size_t offset = BatchRep::kHeaderBytes; offset < valid.size(); ++offset) {
    std::string flipped = valid;
    flipped[offset] ^= static_cast<char>(1 + rng() % 255);
    inputs.push_back(flipped);
  }
  for (const std::string& input : inputs) {
    uint32_t calls = 0;
    const absl::Status s = BatchRep::ForEach(
        input, [&calls](uint64_t, EntryKind, absl::string_view, absl::string_view) { ++calls; });
    if (s.ok()) {
      ASSERT_GE(input.size(), BatchRep::kHeaderBytes);
      EXPECT_EQ(calls, DecodeFixed32(input.data() + 8));
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      EXPECT_EQ(calls, 0u);
    }
  }
}

// A batch survives the trip through a log record.
TEST(BatchRepTest, ThroughLog) {
  BatchRep batch;
  batch.Put("x", "1");
  batch.Delete("y");
  batch.SetSequence(100);
  const std::string log = WriteLog({std::string(batch.payload())});
  LogReader reader(log, kFileName);
  absl::string_view payload;
  ASSERT_TRUE(reader.Next(&payload));
  std::vector<Op> ops;
  KV_ASSERT_OK(Collect(payload, &ops));
  EXPECT_EQ(ops, (std::vector<Op>{{100, EntryKind::kValue, "x", "1"},
                                  {101, EntryKind::kDeletion, "y", ""}}));
}

// The engine writes a batch it must not change (a caller's const batch, maybe written by another
// thread at once) as the header it encodes beside it, then the body, and the WAL checksums the two
// pieces as one: the record must be byte for byte the one SetSequence and payload() make.
TEST(BatchRepTest, HeaderBesideTheBodyMakesThePayload) {
  BatchRep batch;
  batch.Put("a", "1");
  batch.Delete("b");
  batch.Put("c", std::string(300, 'v'));
  char header[BatchRep::kHeaderBytes];
  batch.EncodeHeader(77, header);
  const std::string pieces = std::string(header, sizeof(header)) + std::string(batch.body());
  BatchRep copy = batch;
  copy.SetSequence(77);
  EXPECT_EQ(pieces, copy.payload());

  std::vector<Op> walked;
  KV_ASSERT_OK(batch.ForEachEncodedHere(77, [&](uint64_t seq, EntryKind kind, absl::string_view k,
                                                absl::string_view v) {
    walked.emplace_back(seq, kind, std::string(k), std::string(v));
  }));
  std::vector<Op> expected;
  KV_ASSERT_OK(Collect(copy.payload(), &expected));
  EXPECT_EQ(walked, expected);
}

TEST(ChecksumTest, TwoPiecesChecksumAsOne) {
  std::mt19937_64 rng(11);
  const std::string bytes = RandomBytes(rng, 70000);
  for (size_t size : {0, 1, 12, 255, 256, 257, 4096, 70000}) {
    const absl::string_view whole = absl::string_view(bytes).substr(0, size);
    // Cuts on both sides of the length where a piece's update switches to the dispatched one.
    for (size_t cut : {size_t{0}, size_t{1}, size_t{12}, size_t{255}, size_t{256}, size_t{4097},
                       size / 2, size - std::min<size_t>(size, 255), size}) {
      if (cut > size) continue;
      EXPECT_EQ(Checksum(whole.substr(0, cut), whole.substr(cut), size), Checksum(whole, size))
          << size << " cut at " << cut;
    }
  }
}

TEST(LogWriterTest, RecordFromTwoPiecesIsTheRecordOfTheirConcatenation) {
  std::mt19937_64 rng(12);
  std::string two, one;
  LogWriter from_pieces(std::make_unique<StringSink>(&two));
  LogWriter whole(std::make_unique<StringSink>(&one));
  for (size_t size : {size_t{1}, size_t{12}, size_t{300}, size_t{40000}, size_t{200000}}) {
    const std::string payload = RandomBytes(rng, size);
    const size_t head = std::min<size_t>(size, BatchRep::kHeaderBytes);
    KV_ASSERT_OK(from_pieces.AddRecord(absl::string_view(payload).substr(0, head),
                                       absl::string_view(payload).substr(head), false));
    KV_ASSERT_OK(whole.AddRecord(payload, false));
  }
  KV_ASSERT_OK(from_pieces.Close());
  KV_ASSERT_OK(whole.Close());
  EXPECT_EQ(two, one);
  EXPECT_EQ(ReadAll(two).payloads.size(), 5u);
  // A head longer than the writer takes in front is refused, and nothing is written.
  std::string refused;
  LogWriter writer(std::make_unique<StringSink>(&refused));
  EXPECT_EQ(writer.AddRecord(std::string(LogWriter::kMaxHeadBytes + 1, 'h'), "rest", false).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(writer.AddRecord("", "", false).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(refused.empty());
}

TEST(ByteBufferTest, GrowsPastTheMappedSizeKeepingItsBytes) {
  ByteBuffer buffer;
  std::string expected;
  std::mt19937_64 rng(13);
  while (expected.size() < 3 * ByteBuffer::kLargeBytes) {
    const std::string piece = RandomBytes(rng, 1 + rng() % 5000);
    buffer.append(piece.data(), piece.size());
    buffer.push_back('|');
    expected += piece;
    expected += '|';
    ASSERT_EQ(buffer.size(), expected.size());
  }
  EXPECT_GE(buffer.capacity(), ByteBuffer::kLargeBytes);
  EXPECT_EQ(buffer.view(), expected);

  ByteBuffer copy = buffer;
  EXPECT_EQ(copy.view(), expected);
  ByteBuffer moved = std::move(copy);
  EXPECT_EQ(moved.view(), expected);
  copy = moved;  // Assigning to a moved-from buffer works.
  EXPECT_EQ(copy.view(), expected);

  // Cleared, it keeps its memory for the next batch.
  const size_t capacity = buffer.capacity();
  buffer.clear();
  EXPECT_TRUE(buffer.empty());
  EXPECT_EQ(buffer.capacity(), capacity);
  buffer.assign(5, 'z');
  EXPECT_EQ(buffer.view(), "zzzzz");
  EXPECT_EQ(buffer.capacity(), capacity);
}

TEST(ByteBufferTest, AppendingItsOwnBytesSurvivesGrowth) {
  ByteBuffer buffer;
  buffer.append("abc", 3);
  std::string expected = "abc";
  // Each append reads bytes the growth it causes moves (past the mapped size, mremap moves too).
  while (expected.size() < 2 * ByteBuffer::kLargeBytes) {
    buffer.append(buffer.data(), buffer.size());
    expected += expected;
    ASSERT_EQ(buffer.view(), expected);
  }
  buffer.append(buffer.data() + 1, 2);
  expected += "bc";
  EXPECT_EQ(buffer.view(), expected);
}

TEST(BatchRepTest, AppendingItselfDoublesIt) {
  BatchRep batch;
  batch.Put("k", "v");
  batch.Append(batch);
  batch.SetSequence(1);
  std::vector<Op> ops;
  KV_ASSERT_OK(Collect(batch.payload(), &ops));
  EXPECT_EQ(ops, (std::vector<Op>{{1, EntryKind::kValue, "k", "v"}, {2, EntryKind::kValue, "k", "v"}}));
}

}  // namespace
}  // namespace kvstore::internal
