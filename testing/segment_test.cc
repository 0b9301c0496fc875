// Tests of segments: SegmentBuilder writes, Segment<Filter> reads back every version at every
// snapshot, cursors walk across block boundaries, and damaged or foreign files are refused with
// an error that names them. A corrupted segment may fail, but never answers with a wrong value.
#include "kvstore/internal/segment.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "testing/string_only_filter.h"
#include "testing/test_util.h"

namespace kvstore::internal {
namespace {

struct Entry {
  std::string key;
  uint64_t tag;
  std::string value;

  uint64_t sequence() const { return TagSequence(tag); }
  bool operator==(const Entry&) const = default;
};

// What the reader should see: the newest entry of `key` at or below `sequence`, or nullptr.
const Entry* Expected(const std::vector<Entry>& entries, absl::string_view key, uint64_t sequence) {
  auto it = std::lower_bound(entries.begin(), entries.end(), key,
                             [](const Entry& e, absl::string_view k) { return e.key < k; });
  for (; it != entries.end() && it->key == key; ++it) {
    if (it->sequence() <= sequence) return &*it;  // Newest first within a key.
  }
  return nullptr;
}

// Keys "key00000", "key00002", ... (odd numbers are absent keys between present ones) plus a few
// binary keys, each with one to three versions (some tombstones) with sequence numbers interleaved
// across keys, in segment order.
std::vector<Entry> MakeEntries(uint32_t seed, int num_keys) {
  std::mt19937_64 rng(seed);
  std::set<std::string> keys;
  for (int i = 0; i < num_keys; ++i) keys.insert(absl::StrFormat("key%05d", 2 * i));
  keys.insert(std::string("key00002\0", 9));
  keys.insert(std::string("key00002\xff", 9));
  keys.insert(std::string("\xff\xfe", 2));
  std::vector<int> version_counts;
  int total = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    version_counts.push_back(1 + static_cast<int>(rng() % 3));
    total += version_counts.back();
  }
  std::vector<uint64_t> sequences(total);
  for (int i = 0; i < total; ++i) sequences[i] = 100 + 2 * i;  // Gaps: seq-1 is never written.
  std::shuffle(sequences.begin(), sequences.end(), rng);

  std::vector<Entry> entries;
  size_t next = 0, k = 0;
  for (const std::string& key : keys) {
    std::vector<uint64_t> seqs(sequences.begin() + next,
                               sequences.begin() + next + version_counts[k]);
    next += version_counts[k++];
    std::sort(seqs.rbegin(), seqs.rend());
    for (uint64_t seq : seqs) {
      const bool deletion = rng() % 5 == 0;
      std::string value;
      if (!deletion) {
        value = absl::StrCat(key, "@", seq, ":");
        value.append(rng() % 60, static_cast<char>('a' + rng() % 26));
      }
      entries.push_back(
          {key, PackTag(seq, deletion ? EntryKind::kDeletion : EntryKind::kValue), value});
    }
  }
  return entries;
}

std::string ReadFile(const std::string& name) {
  std::string contents;
  EXPECT_TRUE(Env::Default()->ReadFileToString(name, &contents).ok());
  return contents;
}

void WriteFile(const std::string& name, absl::string_view contents) {
  auto file = ValueOrDie(Env::Default()->NewWritableFile(name));
  EXPECT_TRUE(file->Append(contents).ok());
  EXPECT_TRUE(file->Close().ok());
}

template <typename Filter>
SegmentInfo BuildSegment(const std::string& dir, uint64_t number, const std::vector<Entry>& entries,
                         size_t block_bytes) {
  auto file = ValueOrDie(Env::Default()->NewWritableFile(SegmentFileName(dir, number)));
  SegmentBuilder<Filter> builder(file.get(), block_bytes);
  for (const Entry& e : entries) EXPECT_TRUE(builder.Add(e.key, e.tag, e.value).ok());
  EXPECT_EQ(builder.num_entries(), entries.size());
  SegmentInfo info = ValueOrDie(builder.Finish());
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_TRUE(file->Close().ok());
  return info;
}

// The footer's fields, to aim corruption at one part of the file.
struct Layout {
  uint64_t filter_offset, filter_size, index_offset, index_size;
};
Layout ReadLayout(absl::string_view file) {
  const char* f = file.data() + file.size() - kSegmentFooterBytes;
  return {DecodeFixed64(f), DecodeFixed64(f + 8), DecodeFixed64(f + 16), DecodeFixed64(f + 24)};
}

bool Mentions(const absl::Status& s, absl::string_view text) {
  return s.message().find(text) != absl::string_view::npos;
}

// An Env whose files are copied into the caller's scratch on every read (StableViews() false),
// to cover the path where block checksums are verified on every read.
class CopyingFile final : public RandomAccessFile {
 public:
  explicit CopyingFile(std::string contents) : contents_(std::move(contents)) {}
  absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                    char* scratch) const override {
    if (offset > contents_.size()) return absl::OutOfRangeError("read past end of file");
    lowest_read_ = std::min(lowest_read_, offset);
    n = std::min<uint64_t>(n, contents_.size() - offset);
    std::memcpy(scratch, contents_.data() + offset, n);
    *result = absl::string_view(scratch, n);
    return absl::OkStatus();
  }
  uint64_t Size() const override { return contents_.size(); }
  // The lowest offset read since the last ResetLowestRead (not thread-safe: tests read alone).
  uint64_t lowest_read() const { return lowest_read_; }
  void ResetLowestRead() const { lowest_read_ = ~uint64_t{0}; }

 private:
  std::string contents_;
  mutable uint64_t lowest_read_ = ~uint64_t{0};
};

class CopyingEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& p) override {
    return base_->NewWritableFile(p);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& p) override {
    std::string contents;
    KV_RETURN_IF_ERROR(base_->ReadFileToString(p, &contents));
    return std::make_unique<CopyingFile>(std::move(contents));
  }
  absl::Status ReadFileToString(const std::string& p, std::string* c) override {
    return base_->ReadFileToString(p, c);
  }
  bool FileExists(const std::string& p) override { return base_->FileExists(p); }
  bool IsDirectory(const std::string& p) override { return base_->IsDirectory(p); }
  absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& d) override {
    return base_->GetChildren(d);
  }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& p) override {
    return base_->GetFileSize(p);
  }
  absl::Status RemoveFile(const std::string& p) override { return base_->RemoveFile(p); }
  absl::Status RenameFile(const std::string& f, const std::string& t) override {
    return base_->RenameFile(f, t);
  }
  absl::Status CreateDir(const std::string& d) override { return base_->CreateDir(d); }
  absl::Status SyncDir(const std::string& d) override { return base_->SyncDir(d); }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& p) override {
    return base_->LockFile(p);
  }

 private:
  Env* base_ = Env::Default();
};

template <typename Filter>
class SegmentTest : public ::testing::Test {
 protected:
  using SegmentT = Segment<Filter>;
  static constexpr uint64_t kNumber = 12;
  static constexpr size_t kBlockBytes = 256;

  void SetUp() override {
    dir_ = testing::NewTempDir("segment");
    ASSERT_TRUE(Env::Default()->CreateDir(dir_).ok());
    entries_ = MakeEntries(501, 300);
    info_ = BuildSegment<Filter>(dir_, kNumber, entries_, kBlockBytes);
    name_ = SegmentFileName(dir_, kNumber);
  }

  std::shared_ptr<SegmentT> OpenSegment(Env* env = Env::Default()) {
    return ValueOrDie(SegmentT::Open(env, dir_, kNumber));
  }

  // Sequences worth probing for `e`'s key: at, just below and just above each version.
  std::vector<uint64_t> ProbeSequences(const Entry& e) const {
    return {0, e.sequence() - 1, e.sequence(), e.sequence() + 1, kMaxSequence};
  }

  // Checks one lookup: an error must be DataLoss naming the file, success must be the truth.
  void CheckGet(const SegmentT& segment, absl::string_view key, uint64_t sequence, bool verify,
                bool allow_error) {
    std::string scratch;
    bool found = true;
    Record record;
    const absl::Status s = segment.Get(key, sequence, verify, &scratch, &found, &record);
    if (!s.ok()) {
      ASSERT_TRUE(allow_error) << s;
      ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
      ASSERT_TRUE(Mentions(s, SegmentFileName(dir_, segment.info().number))) << s;
      return;
    }
    const Entry* want = Expected(entries_, key, sequence);
    ASSERT_EQ(found, want != nullptr) << "key " << key << " at " << sequence;
    if (want == nullptr) return;
    ASSERT_EQ(record.key, want->key);
    ASSERT_EQ(record.tag, want->tag) << "key " << key << " at " << sequence;
    ASSERT_EQ(record.value, want->value);
  }

  void CheckEveryGet(const SegmentT& segment, bool verify) {
    for (const Entry& e : entries_) {
      for (uint64_t seq : ProbeSequences(e)) {
        ASSERT_NO_FATAL_FAILURE(CheckGet(segment, e.key, seq, verify, /*allow_error=*/false));
      }
    }
    for (int i = 0; i < 600; i += 7) {  // Absent keys between, before and after present ones.
      CheckGet(segment, absl::StrFormat("key%05d", 2 * i + 1), kMaxSequence, verify, false);
    }
    for (absl::string_view absent : {absl::string_view(""), absl::string_view("a"),
                                     absl::string_view("key"), absl::string_view("key0000"),
                                     absl::string_view("key00000\0", 9),
                                     absl::string_view("\xff\xff", 2), absl::string_view("zzz")}) {
      CheckGet(segment, absent, kMaxSequence, verify, false);
    }
  }

  std::string dir_;
  std::string name_;
  std::vector<Entry> entries_;
  SegmentInfo info_;
};

using ::kvstore::testing::StringOnlyBloomFilter;
static_assert(!kFilterBuildsIntoMidBlockString<StringOnlyBloomFilter>);
static_assert(kFilterBuildsIntoMidBlockString<BloomFilter<10>>);
static_assert(kFilterBuildsIntoMidBlockString<NoFilter>);

using Filters = ::testing::Types<BloomFilter<10>, NoFilter, StringOnlyBloomFilter>;
TYPED_TEST_SUITE(SegmentTest, Filters);

TYPED_TEST(SegmentTest, InfoDescribesContents) {
  auto segment = this->OpenSegment();
  const SegmentInfo& info = segment->info();
  EXPECT_EQ(info.number, this->kNumber);
  EXPECT_EQ(info.num_entries, this->entries_.size());
  uint64_t deletions = 0, min_seq = kMaxSequence, max_seq = 0;
  for (const Entry& e : this->entries_) {
    deletions += TagKind(e.tag) == EntryKind::kDeletion;
    min_seq = std::min(min_seq, e.sequence());
    max_seq = std::max(max_seq, e.sequence());
  }
  EXPECT_GT(deletions, 0u);
  EXPECT_EQ(info.num_deletions, deletions);
  EXPECT_EQ(info.min_sequence, min_seq);
  EXPECT_EQ(info.max_sequence, max_seq);
  EXPECT_EQ(info.smallest_key, this->entries_.front().key);
  EXPECT_EQ(info.largest_key, this->entries_.back().key);
  EXPECT_EQ(info.file_bytes, ValueOrDie(Env::Default()->GetFileSize(this->name_)));
  // What the builder reported is what the reader finds.
  EXPECT_EQ(this->info_.num_entries, info.num_entries);
  EXPECT_EQ(this->info_.file_bytes, info.file_bytes);
  EXPECT_EQ(this->info_.smallest_key, info.smallest_key);
  EXPECT_EQ(this->info_.largest_key, info.largest_key);
  EXPECT_GT(segment->num_blocks(), 20u);
  EXPECT_EQ(segment->file_name(), this->name_);
  KV_EXPECT_OK(segment->Verify());
}

TYPED_TEST(SegmentTest, GetEveryKeyAtEverySequence) {
  auto segment = this->OpenSegment();
  this->CheckEveryGet(*segment, /*verify=*/false);
  this->CheckEveryGet(*segment, /*verify=*/false);  // Blocks now trusted from the first pass.
  this->CheckEveryGet(*segment, /*verify=*/true);
}

// While a compaction merges a segment away its lookups read with pread (no pages left mapped):
// the same answers as through the mapping, shared with the views a merge step clips, and every
// read verified, even of a block an earlier read through the mapping had verified.
TYPED_TEST(SegmentTest, UnmappedLookupsAnswerAsMappedOnesAndVerifyEveryRead) {
  auto segment = this->OpenSegment();
  this->CheckEveryGet(*segment, /*verify=*/false);  // Every block read is now trusted.
  EXPECT_FALSE(segment->unmapped_lookups());
  segment->SetUnmappedLookups(true);
  ASSERT_TRUE(segment->unmapped_lookups());
  auto view = segment->ClippedBelow("key00300");
  EXPECT_TRUE(view->unmapped_lookups());
  this->CheckEveryGet(*segment, /*verify=*/false);
  this->CheckEveryGet(*segment, /*verify=*/true);
  // A cursor passing through releases what it passed, and still reads every version in order.
  {
    typename TestFixture::SegmentT::Cursor cursor(segment);
    size_t n = 0;
    for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next()) {
      ASSERT_LT(n, this->entries_.size());
      EXPECT_EQ(cursor.record().key, this->entries_[n].key);
      EXPECT_EQ(cursor.record().value, this->entries_[n].value);
      ++n;
    }
    KV_EXPECT_OK(cursor.status());
    EXPECT_EQ(n, this->entries_.size());
  }
  // One byte of the first block damaged on disk, in place: a lookup reports it.
  {
    const int fd = ::open(this->name_.c_str(), O_WRONLY);
    ASSERT_GE(fd, 0);
    const char damaged = '\x5a' ^ this->entries_.front().key[3];
    ASSERT_EQ(::pwrite(fd, &damaged, 1, 5), 1);
    ::close(fd);
  }
  std::string scratch;
  bool found = false;
  Record record;
  const absl::Status damaged =
      segment->Get(this->entries_.front().key, kMaxSequence, false, &scratch, &found, &record);
  EXPECT_EQ(damaged.code(), absl::StatusCode::kDataLoss) << damaged;
  EXPECT_TRUE(Mentions(damaged, this->name_)) << damaged;
  segment->SetUnmappedLookups(false);
  EXPECT_FALSE(segment->unmapped_lookups());
  EXPECT_FALSE(view->unmapped_lookups());
}

// At most kMaxUnmappedFiles segments in the process hold a file for unmapped lookups; past that,
// lookups keep the mapping (still right), and a segment gone frees its place.
TYPED_TEST(SegmentTest, UnmappedLookupsHoldABoundedNumberOfFiles) {
  using SegmentT = typename TestFixture::SegmentT;
  std::vector<std::shared_ptr<SegmentT>> segments;
  for (int i = 0; i < SegmentT::kMaxUnmappedFiles; ++i) {
    segments.push_back(this->OpenSegment());
    segments.back()->SetUnmappedLookups(true);
    ASSERT_TRUE(segments.back()->unmapped_lookups()) << i;
  }
  auto one_more = this->OpenSegment();
  one_more->SetUnmappedLookups(true);
  EXPECT_FALSE(one_more->unmapped_lookups());
  this->CheckEveryGet(*one_more, /*verify=*/false);
  segments.front()->SetUnmappedLookups(false);  // Off, but its file stays until it is gone.
  one_more->SetUnmappedLookups(true);
  EXPECT_FALSE(one_more->unmapped_lookups());
  segments.erase(segments.begin());
  one_more->SetUnmappedLookups(true);
  EXPECT_TRUE(one_more->unmapped_lookups());
  this->CheckEveryGet(*one_more, /*verify=*/false);
}

// Without stable views (nothing mapped) there is nothing to turn off.
TYPED_TEST(SegmentTest, UnmappedLookupsNeedAMappedFile) {
  CopyingEnv copying;
  auto segment = this->OpenSegment(&copying);
  segment->SetUnmappedLookups(true);
  EXPECT_FALSE(segment->unmapped_lookups());
  this->CheckEveryGet(*segment, /*verify=*/false);
}

// A clipped view (what a compaction in progress leaves of an input) holds exactly the versions
// of keys at or after its clip, through every way of reading, with stable views or without.
TYPED_TEST(SegmentTest, ClippedViewHoldsNothingBelowItsClip) {
  CopyingEnv copying;
  for (Env* env : {Env::Default(), static_cast<Env*>(&copying)}) {
    auto whole = this->OpenSegment(env);
    // A present key, a key between two present ones, and the smallest and the largest.
    for (const std::string& clip : {std::string("key00300"), std::string("key00301"),
                                   this->entries_.front().key, this->entries_.back().key}) {
      SCOPED_TRACE(clip);
      auto view = whole->ClippedBelow(clip);
      ASSERT_TRUE(view->clipped());
      ASSERT_FALSE(whole->clipped());
      EXPECT_EQ(view->info().smallest_key, clip);
      EXPECT_EQ(view->info().largest_key, whole->info().largest_key);
      EXPECT_LE(view->info().num_entries, whole->info().num_entries);
      std::vector<Entry> kept;
      for (const Entry& e : this->entries_) {
        if (e.key >= clip) kept.push_back(e);
      }
      ASSERT_FALSE(kept.empty());
      // No read through the view goes below BytesBelowClip() (whose pages a compaction step
      // releases from the process), checked where reads go through Read.
      const auto* tracked = dynamic_cast<const CopyingFile*>(&view->file());
      if (tracked != nullptr) tracked->ResetLowestRead();
      if (clip == this->entries_.front().key) EXPECT_EQ(view->BytesBelowClip(), 0u);
      if (clip == "key00300") EXPECT_GT(view->BytesBelowClip(), 0u);
      EXPECT_EQ(whole->BytesBelowClip(), 0u);
      // Gets: versions at or after the clip as the whole segment has them, none below it.
      for (const Entry& e : this->entries_) {
        std::string scratch;
        bool found = true;
        Record record;
        KV_ASSERT_OK(view->Get(e.key, kMaxSequence, false, &scratch, &found, &record));
        const Entry* want = e.key >= clip ? Expected(kept, e.key, kMaxSequence) : nullptr;
        ASSERT_EQ(found, want != nullptr) << e.key;
        if (want != nullptr) EXPECT_EQ(record.tag, want->tag);
      }
      // Forward from the first, and from a seek below the clip: exactly `kept`.
      for (int seek_below : {0, 1}) {
        typename TestFixture::SegmentT::Cursor cursor(view);
        if (seek_below) {
          cursor.Seek("", LookupTag(kMaxSequence));
        } else {
          cursor.SeekToFirst();
        }
        std::vector<Entry> seen;
        for (; cursor.Valid(); cursor.Next()) {
          seen.push_back({std::string(cursor.record().key), cursor.record().tag,
                          std::string(cursor.record().value)});
        }
        KV_ASSERT_OK(cursor.status());
        EXPECT_EQ(seen, kept);
      }
      // Backward from the last: stops at the clip.
      typename TestFixture::SegmentT::Cursor cursor(view);
      size_t count = 0;
      for (cursor.SeekToLast(); cursor.Valid(); cursor.Prev()) {
        ASSERT_GE(cursor.record().key, clip);
        ++count;
      }
      KV_ASSERT_OK(cursor.status());
      EXPECT_EQ(count, kept.size());
      if (tracked != nullptr) EXPECT_GE(tracked->lowest_read(), view->BytesBelowClip());
      KV_EXPECT_OK(view->Verify());  // The file itself is whole.
    }
  }
}

TYPED_TEST(SegmentTest, GetWithoutStableViews) {
  CopyingEnv env;
  auto segment = this->OpenSegment(&env);
  this->CheckEveryGet(*segment, /*verify=*/false);
  KV_EXPECT_OK(segment->Verify());
}

TYPED_TEST(SegmentTest, FilterAdmitsEveryKey) {
  auto segment = this->OpenSegment();
  for (const Entry& e : this->entries_) EXPECT_TRUE(segment->MayContain(HashKey(e.key))) << e.key;
  int negatives = 0;
  for (int i = 0; i < 1000; ++i) negatives += !segment->MayContain(HashKey(absl::StrCat("no", i)));
  if (std::is_same_v<TypeParam, NoFilter>) {
    EXPECT_EQ(negatives, 0);
  } else {
    EXPECT_GT(negatives, 950);  // About 1% false positives at 10 bits per key.
  }
}

template <typename SegmentT>
std::vector<Entry> ScanForward(typename SegmentT::Cursor* c) {
  std::vector<Entry> out;
  for (c->SeekToFirst(); c->Valid(); c->Next()) {
    out.push_back({std::string(c->record().key), c->record().tag, std::string(c->record().value)});
  }
  return out;
}

TYPED_TEST(SegmentTest, CursorWalksForwardAndBackward) {
  using Cursor = typename TestFixture::SegmentT::Cursor;
  for (bool stable : {true, false}) {
    CopyingEnv copying;
    auto segment = stable ? this->OpenSegment() : this->OpenSegment(&copying);
    Cursor c(segment);
    EXPECT_EQ(ScanForward<typename TestFixture::SegmentT>(&c), this->entries_);
    KV_EXPECT_OK(c.status());

    std::vector<Entry> backward;
    for (c.SeekToLast(); c.Valid(); c.Prev()) {
      backward.push_back(
          {std::string(c.record().key), c.record().tag, std::string(c.record().value)});
    }
    KV_EXPECT_OK(c.status());
    std::reverse(backward.begin(), backward.end());
    EXPECT_EQ(backward, this->entries_);
  }
}

// At every record, Prev then Next (and Next then Prev) comes back to it, including at the first
// and last record of each block; position()/SetPosition return to a record.
TYPED_TEST(SegmentTest, CursorStepsAcrossBlockBoundaries) {
  using Cursor = typename TestFixture::SegmentT::Cursor;
  auto segment = this->OpenSegment();
  Cursor c(segment, /*verify=*/true);
  const std::vector<Entry>& entries = this->entries_;
  c.SeekToFirst();
  std::set<size_t> blocks_seen;
  for (size_t i = 0; i < entries.size(); ++i) {
    ASSERT_TRUE(c.Valid());
    ASSERT_EQ(c.record().key, entries[i].key);
    ASSERT_EQ(c.record().tag, entries[i].tag);
    const auto here = c.position();
    blocks_seen.insert(here.first);
    if (i > 0) {
      c.Prev();
      ASSERT_TRUE(c.Valid());
      ASSERT_EQ(c.record().tag, entries[i - 1].tag);
      c.Next();
      ASSERT_EQ(c.position(), here);
    }
    if (i + 1 < entries.size()) {
      c.Next();
      ASSERT_TRUE(c.Valid());
      ASSERT_EQ(c.record().tag, entries[i + 1].tag);
      c.SetPosition(here);
      ASSERT_TRUE(c.Valid());
      ASSERT_EQ(c.record().tag, entries[i].tag);
    }
    c.Next();
  }
  EXPECT_FALSE(c.Valid());
  EXPECT_EQ(blocks_seen.size(), segment->num_blocks());
  c.SeekToFirst();
  c.Prev();
  EXPECT_FALSE(c.Valid());
  KV_EXPECT_OK(c.status());
}

// NextKey lands on the newest version of each key in turn, whether its older versions end in the
// same block or in the next one (blocks of 256 bytes hold a few records each).
TYPED_TEST(SegmentTest, CursorNextKeySkipsOlderVersions) {
  using Cursor = typename TestFixture::SegmentT::Cursor;
  auto segment = this->OpenSegment();
  std::vector<Entry> newest;
  for (const Entry& e : this->entries_) {
    if (newest.empty() || newest.back().key != e.key) newest.push_back(e);
  }
  ASSERT_LT(newest.size(), this->entries_.size());  // Some keys have older versions.
  Cursor c(segment, /*verify=*/true);
  std::vector<Entry> seen;
  for (c.SeekToFirst(); c.Valid(); c.NextKey()) {
    seen.push_back({std::string(c.record().key), c.record().tag, std::string(c.record().value)});
  }
  KV_EXPECT_OK(c.status());
  EXPECT_EQ(seen, newest);
}

TYPED_TEST(SegmentTest, CursorSeek) {
  using Cursor = typename TestFixture::SegmentT::Cursor;
  auto segment = this->OpenSegment();
  Cursor c(segment);
  const std::vector<Entry>& entries = this->entries_;
  // Seeking to each version lands on it exactly.
  for (const Entry& e : entries) {
    c.Seek(e.key, e.tag);
    ASSERT_TRUE(c.Valid());
    ASSERT_EQ(c.record().key, e.key);
    ASSERT_EQ(c.record().tag, e.tag);
  }
  // Seeking to (key, LookupTag(s)) lands on the first version at or after it in segment order:
  // the visible version of the key if there is one, else a later key.
  auto first_at_or_after = [&](absl::string_view key, uint64_t tag) -> const Entry* {
    for (const Entry& e : entries) {
      if (CompareVersions(e.key, e.tag, key, tag) >= 0) return &e;
    }
    return nullptr;
  };
  std::vector<std::pair<std::string, uint64_t>> targets;
  for (const Entry& e : entries) {
    for (uint64_t s : this->ProbeSequences(e)) targets.emplace_back(e.key, LookupTag(s));
  }
  for (int i = 0; i < 700; i += 3) targets.emplace_back(absl::StrFormat("key%05d", i), LookupTag(1000));
  targets.emplace_back("", 0);
  targets.emplace_back(std::string("\xff\xff", 2), kMaxSequence);
  for (const auto& [key, tag] : targets) {
    c.Seek(key, tag);
    const Entry* want = first_at_or_after(key, tag);
    ASSERT_EQ(c.Valid(), want != nullptr) << key;
    if (want == nullptr) continue;
    ASSERT_EQ(c.record().key, want->key);
    ASSERT_EQ(c.record().tag, want->tag);
    // From a seek, the walk continues in order.
    c.Next();
    const size_t next = static_cast<size_t>(want - entries.data()) + 1;
    ASSERT_EQ(c.Valid(), next < entries.size());
    if (next < entries.size()) {
      ASSERT_EQ(c.record().tag, entries[next].tag);
    }
  }
  KV_EXPECT_OK(c.status());
}

TYPED_TEST(SegmentTest, EmptySegment) {
  BuildSegment<TypeParam>(this->dir_, 99, {}, 256);
  auto segment = ValueOrDie(TestFixture::SegmentT::Open(Env::Default(), this->dir_, 99));
  EXPECT_EQ(segment->num_blocks(), 0u);
  EXPECT_EQ(segment->info().num_entries, 0u);
  std::string scratch;
  bool found = true;
  Record record;
  KV_EXPECT_OK(segment->Get("a", kMaxSequence, true, &scratch, &found, &record));
  EXPECT_FALSE(found);
  typename TestFixture::SegmentT::Cursor c(segment);
  c.SeekToFirst();
  EXPECT_FALSE(c.Valid());
  c.SeekToLast();
  EXPECT_FALSE(c.Valid());
  c.Seek("a", 0);
  EXPECT_FALSE(c.Valid());
  KV_EXPECT_OK(c.status());
  KV_EXPECT_OK(segment->Verify());
}

// One block per record, and one record bigger than a block: block cuts do not lose records.
TYPED_TEST(SegmentTest, TinyAndHugeBlocks) {
  for (size_t block_bytes : {size_t{1}, size_t{1} << 20}) {
    BuildSegment<TypeParam>(this->dir_, 50, this->entries_, block_bytes);
    auto segment = ValueOrDie(TestFixture::SegmentT::Open(Env::Default(), this->dir_, 50));
    EXPECT_EQ(segment->num_blocks(), block_bytes == 1 ? this->entries_.size() : 1u);
    typename TestFixture::SegmentT::Cursor c(segment);
    EXPECT_EQ(ScanForward<typename TestFixture::SegmentT>(&c), this->entries_);
    for (const Entry& e : this->entries_) {
      this->CheckGet(*segment, e.key, e.sequence(), false, false);
    }
  }
}

// A flipped byte anywhere (data, filter, index, footer) is caught by Open, Get, a cursor or Verify,
// as DataLoss or FailedPrecondition naming the file; a lookup or cursor that succeeds returns the
// truth. Every byte of a segment is under some checksum, so Open or Verify must fail.
TYPED_TEST(SegmentTest, FlippedBytesAreDetectedNeverMisread) {
  using SegmentT = typename TestFixture::SegmentT;
  const std::string original = ReadFile(this->name_);
  const Layout layout = ReadLayout(original);
  std::mt19937_64 rng(502);
  std::vector<size_t> offsets;
  auto sample = [&](uint64_t begin, uint64_t end, int n) {
    for (int i = 0; i < n && begin < end; ++i) offsets.push_back(begin + rng() % (end - begin));
  };
  sample(0, layout.filter_offset, 150);
  sample(layout.filter_offset, layout.filter_offset + layout.filter_size, 50);
  sample(layout.index_offset, layout.index_offset + layout.index_size, 80);
  sample(original.size() - kSegmentFooterBytes, original.size(), 52);
  const std::vector<Entry>& entries = this->entries_;

  int open_failures = 0;
  uint64_t number = 1000;
  for (size_t offset : offsets) {
    SCOPED_TRACE(absl::StrCat("offset ", offset, " of ", original.size()));
    std::string damaged = original;
    damaged[offset] ^= static_cast<char>(1 + rng() % 255);
    // A new file each time: rewriting one in place is slow on ext4 (it flushes on close).
    const std::string name = SegmentFileName(this->dir_, ++number);
    WriteFile(name, damaged);
    auto opened = SegmentT::Open(Env::Default(), this->dir_, number);
    if (!opened.ok()) {
      ++open_failures;
      const absl::Status& s = opened.status();
      EXPECT_TRUE(s.code() == absl::StatusCode::kDataLoss ||
                  s.code() == absl::StatusCode::kFailedPrecondition)
          << s;
      EXPECT_TRUE(Mentions(s, name)) << s;
      continue;
    }
    std::shared_ptr<SegmentT> segment = *std::move(opened);
    for (size_t i = 0; i < entries.size(); i += 3) {
      ASSERT_NO_FATAL_FAILURE(this->CheckGet(*segment, entries[i].key, kMaxSequence, false, true));
      ASSERT_NO_FATAL_FAILURE(
          this->CheckGet(*segment, entries[i].key, entries[i].sequence(), false, true));
    }
    typename SegmentT::Cursor c(segment);
    size_t i = 0;
    for (c.SeekToFirst(); c.Valid(); c.Next(), ++i) {
      ASSERT_LT(i, entries.size());
      ASSERT_EQ(c.record().key, entries[i].key);
      ASSERT_EQ(c.record().tag, entries[i].tag);
      ASSERT_EQ(c.record().value, entries[i].value);
    }
    if (c.status().ok()) {
      EXPECT_EQ(i, entries.size());
    } else {
      EXPECT_EQ(c.status().code(), absl::StatusCode::kDataLoss) << c.status();
      EXPECT_TRUE(Mentions(c.status(), name)) << c.status();
    }
    const absl::Status verified = segment->Verify();
    EXPECT_EQ(verified.code(), absl::StatusCode::kDataLoss) << verified;
    EXPECT_TRUE(Mentions(verified, name)) << verified;
  }
  // Damage outside the data blocks is caught when the segment opens.
  EXPECT_GE(open_failures, static_cast<int>(offsets.size()) - 150);
}

TYPED_TEST(SegmentTest, TruncatedFileFailsToOpen) {
  using SegmentT = typename TestFixture::SegmentT;
  const std::string original = ReadFile(this->name_);
  const Layout layout = ReadLayout(original);
  std::vector<size_t> lengths = {0,
                                 1,
                                 kSegmentFooterBytes - 1,
                                 kSegmentFooterBytes,
                                 kSegmentFooterBytes + 1,
                                 layout.filter_offset,
                                 layout.index_offset,
                                 layout.index_offset + layout.index_size,
                                 original.size() - kSegmentFooterBytes - 1,
                                 original.size() - 8,
                                 original.size() - 1};
  std::mt19937_64 rng(503);
  for (int i = 0; i < 40; ++i) lengths.push_back(rng() % original.size());
  uint64_t number = 1000;
  for (size_t length : lengths) {
    SCOPED_TRACE(length);
    const std::string name = SegmentFileName(this->dir_, ++number);
    WriteFile(name, absl::string_view(original).substr(0, length));
    auto opened = SegmentT::Open(Env::Default(), this->dir_, number);
    ASSERT_FALSE(opened.ok());
    EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << opened.status();
    EXPECT_TRUE(Mentions(opened.status(), name)) << opened.status();
  }
}

TYPED_TEST(SegmentTest, MissingFileIsNotFound) {
  auto opened = TestFixture::SegmentT::Open(Env::Default(), this->dir_, 777);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kNotFound) << opened.status();
  EXPECT_TRUE(Mentions(opened.status(), SegmentFileName(this->dir_, 777))) << opened.status();
}

TYPED_TEST(SegmentTest, OtherFormatVersionIsRefused) {
  std::string contents = ReadFile(this->name_);
  char* footer = contents.data() + contents.size() - kSegmentFooterBytes;
  EncodeFixed32(footer + 32, kFormatVersion + 1);
  EncodeFixed64(footer + 44,
                Checksum(absl::string_view(footer, kSegmentFooterBytes - 8), kFooterSalt));
  WriteFile(this->name_, contents);
  auto opened = TestFixture::SegmentT::Open(Env::Default(), this->dir_, this->kNumber);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kFailedPrecondition) << opened.status();
  EXPECT_TRUE(Mentions(opened.status(), "format version")) << opened.status();
  EXPECT_TRUE(Mentions(opened.status(), this->name_)) << opened.status();
}

// Keys whose differences lie past a long common prefix, keys that are prefixes of one another and
// keys equal in the 4 fingerprinted bytes but not after: lookups and seeks (which search each
// block's fingerprints, past the prefix the block's keys share) find exactly what a model does.
TEST(SegmentSearchTest, SharedPrefixesAndFingerprintTies) {
  const std::string dir = testing::NewTempDir("segment_search");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  std::set<std::string> keys;
  const std::string table(40, 't');  // A long prefix every key has, like a table name.
  for (int i = 0; i < 400; i += 2) keys.insert(table + absl::StrFormat("%012d", i));
  for (int i = 0; i < 40; ++i) {
    keys.insert(table + "row" + std::string(i % 7, '\0'));      // Prefixes of one another.
    keys.insert(table + "same" + absl::StrFormat("%06d", 3 * i));  // Ties in 4 bytes, then apart.
  }
  std::vector<Entry> entries;
  uint64_t sequence = 10;
  for (const std::string& key : keys) {
    entries.push_back({key, PackTag(sequence + 1, EntryKind::kValue), key + "@new"});
    entries.push_back({key, PackTag(sequence, EntryKind::kValue), key + "@old"});
    sequence += 2;
  }
  std::vector<std::string> probes(keys.begin(), keys.end());
  for (int i = 1; i < 400; i += 2) probes.push_back(table + absl::StrFormat("%012d", i));
  for (int i = 0; i < 40; ++i) probes.push_back(table + "same" + absl::StrFormat("%06d", 3 * i + 1));
  for (const char* other : {"", "t", "tttt", "u", "\xff"}) probes.push_back(other);
  probes.push_back(table);
  probes.push_back(table + "row" + std::string(9, '\0'));
  probes.push_back(table + "zzz");

  uint64_t number = 0;
  for (size_t block_bytes : {size_t{1}, size_t{200}, size_t{4096}, size_t{1} << 20}) {
    SCOPED_TRACE(block_bytes);
    BuildSegment<BloomFilter<10>>(dir, ++number, entries, block_bytes);
    auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, number));
    KV_EXPECT_OK(segment->Verify());
    Segment<BloomFilter<10>>::Cursor cursor(segment);
    for (const std::string& key : probes) {
      for (uint64_t at : {uint64_t{0}, uint64_t{200}, kMaxSequence}) {
        std::string scratch;
        bool found = false;
        Record record;
        KV_ASSERT_OK(segment->Get(key, at, false, &scratch, &found, &record));
        const Entry* want = Expected(entries, key, at);
        ASSERT_EQ(found, want != nullptr) << key << " at " << at;
        if (want != nullptr) {
          ASSERT_EQ(record.value, want->value);
        }

        cursor.Seek(key, LookupTag(at));
        auto first = std::find_if(entries.begin(), entries.end(), [&](const Entry& e) {
          return CompareVersions(e.key, e.tag, key, LookupTag(at)) >= 0;
        });
        ASSERT_EQ(cursor.Valid(), first != entries.end()) << key;
        if (first != entries.end()) {
          ASSERT_EQ(cursor.record().key, first->key);
          ASSERT_EQ(cursor.record().tag, first->tag);
        }
      }
    }
    KV_EXPECT_OK(cursor.status());
  }
}

// A block whose fingerprints disagree with its keys (checksum recomputed, so only Verify's own
// check can tell) fails Verify: a passing Verify promises that lookups find what is stored.
TEST(SegmentSearchTest, VerifyChecksFingerprints) {
  const std::string dir = testing::NewTempDir("segment_fingerprint");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  const std::vector<Entry> entries = MakeEntries(505, 20);
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 1 << 20);  // One block.
  const std::string name = SegmentFileName(dir, 1);
  std::string contents = ReadFile(name);
  const Layout layout = ReadLayout(contents);
  const size_t block_size = layout.filter_offset;
  const uint32_t count = DecodeFixed32(contents.data() + block_size - 12) & ~kWideOffsetsFlag;
  // The first fingerprint: the fingerprints end where the block's trailer starts.
  char* fingerprint = contents.data() + block_size - kBlockTrailerBytes - 4 * size_t{count};
  EncodeFixed32(fingerprint, DecodeFixed32(fingerprint) ^ 0x01000000);
  EncodeFixed64(contents.data() + block_size - 8,
                Checksum(absl::string_view(contents.data(), block_size - 8), kDataBlockSalt));
  WriteFile(name, contents);
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  const absl::Status s = segment->Verify();
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(Mentions(s, "fingerprint")) << s;
  EXPECT_TRUE(Mentions(s, name)) << s;
}

// The newest value of `key` in `segment`, or nullopt if it has none (a lookup error fails the test).
template <typename SegmentT>
std::optional<std::string> LookUp(const SegmentT& segment, absl::string_view key) {
  std::string scratch;
  bool found = false;
  Record record;
  const absl::Status s = segment.Get(key, kMaxSequence, false, &scratch, &found, &record);
  EXPECT_TRUE(s.ok()) << s;
  if (!s.ok() || !found) return std::nullopt;
  return std::string(record.value);
}

// Keys with a long common beginning cost their distinct bytes only: the block stores the prefix
// its keys share once (format version 4), and every lookup and cursor still sees whole keys.
TEST(SegmentFormatTest, BlocksStoreTheKeyPrefixTheyShareOnce) {
  const std::string dir = testing::NewTempDir("segment_prefix");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  const std::string table(64, 't');
  std::vector<Entry> entries;
  for (int i = 0; i < 2000; ++i) {
    entries.push_back({absl::StrFormat("%s%06d", table, i), PackTag(i + 1, EntryKind::kValue),
                       absl::StrCat("v", i)});
  }
  const SegmentInfo info = BuildSegment<BloomFilter<10>>(dir, 1, entries, 4096);
  // Whole keys alone would take 2000 * 70 bytes; their distinct bytes take a fraction of that.
  EXPECT_LT(info.file_bytes, entries.size() * table.size() / 2) << info.file_bytes;
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  KV_EXPECT_OK(segment->Verify());
  for (const Entry& e : entries) EXPECT_EQ(LookUp(*segment, e.key), e.value) << e.key;
  // Keys that share the block prefix but are absent, and keys shorter than it.
  for (const std::string& absent : {table + "0000005", table + "00000", table, std::string("t")}) {
    EXPECT_EQ(LookUp(*segment, absent), std::nullopt) << absent;
  }
  Segment<BloomFilter<10>>::Cursor cursor(segment, /*verify=*/true);
  size_t i = 0;
  for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next(), ++i) {
    ASSERT_LT(i, entries.size());
    ASSERT_EQ(cursor.record().key, entries[i].key);
    ASSERT_EQ(cursor.record().value, entries[i].value);
  }
  KV_EXPECT_OK(cursor.status());
  EXPECT_EQ(i, entries.size());
}

// Lookups first search every 16th block's key prefix, then the blocks between; keys whose first
// 8 bytes after the segment's common prefix are the same across hundreds of blocks fall back to
// whole keys. Every key and every gap between keys is found where it belongs.
TEST(SegmentFormatTest, LookupsAcrossManyBlocksWithEqualPrefixes) {
  const std::string dir = testing::NewTempDir("segment_ties");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  std::vector<Entry> entries;
  for (const char* head : {"a", "b"}) {
    for (int i = 0; i < 1500; ++i) {
      entries.push_back({absl::StrFormat("%sXXXXXXXX%06d", head, 2 * i),
                         PackTag(entries.size() + 1, EntryKind::kValue), absl::StrCat("v", i)});
    }
  }
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 256);
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  ASSERT_GT(segment->num_blocks(), 200u);
  Segment<BloomFilter<10>>::Cursor cursor(segment);
  for (size_t i = 0; i < entries.size(); ++i) {
    const Entry& e = entries[i];
    ASSERT_EQ(LookUp(*segment, e.key), e.value) << e.key;
    // The odd number after each key is absent, and seeks to the next key.
    std::string gap = e.key;
    gap.back() = static_cast<char>(gap.back() + 1);
    ASSERT_EQ(LookUp(*segment, gap), std::nullopt) << gap;
    cursor.Seek(gap, LookupTag(kMaxSequence));
    if (i + 1 < entries.size()) {
      ASSERT_TRUE(cursor.Valid()) << gap;
      ASSERT_EQ(cursor.record().key, entries[i + 1].key);
    } else {
      ASSERT_FALSE(cursor.Valid());
    }
  }
}

// A segment whose parsed index is larger than kOwnMappingMidBytes, so that its blocks are mappings
// of their own (MidBlockString, MidBlockVector): lookups, a cursor and a clipped view, which copies
// the index, all still see every key.
TEST(SegmentFormatTest, IndexLargerThanTheOwnMappingThresholdRoundTrips) {
  const std::string dir = testing::NewTempDir("segment_large_index");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  std::vector<Entry> entries;
  for (int i = 0; i < 30000; ++i) {
    entries.push_back({absl::StrFormat("%08d-%031d", 2 * i, i), PackTag(i + 1, EntryKind::kValue),
                       absl::StrCat("v", i)});
  }
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 256);
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  // The index's keys alone: a last key of 40 bytes per block.
  ASSERT_GT(segment->num_blocks() * 40, kOwnMappingMidBytes);
  for (size_t i = 0; i < entries.size(); i += 7) {
    ASSERT_EQ(LookUp(*segment, entries[i].key), entries[i].value) << entries[i].key;
  }
  const Entry& middle = entries[entries.size() / 2];
  ASSERT_TRUE(segment->CanClipBelow(middle.key));
  auto clipped = segment->ClippedBelow(middle.key);
  Segment<BloomFilter<10>>::Cursor cursor(clipped);
  cursor.Seek(middle.key, LookupTag(kMaxSequence));
  for (size_t i = entries.size() / 2; i < entries.size(); ++i, cursor.Next()) {
    ASSERT_TRUE(cursor.Valid()) << i;
    ASSERT_EQ(cursor.record().key, entries[i].key);
    ASSERT_EQ(cursor.record().value, entries[i].value);
  }
  EXPECT_FALSE(cursor.Valid());
  segment.reset();  // The view keeps what it copied.
  EXPECT_EQ(LookUp(*clipped, entries.back().key), entries.back().value);
}

// A filter larger than kOwnMappingMidBytes, which BloomFilter builds in a mapping of its own: its
// bytes and checksum are the ones a std::string-only policy writes, and it admits every key.
TEST(SegmentFormatTest, FilterLargerThanTheOwnMappingThresholdMatchesAStringBuiltOne) {
  const std::string dir = testing::NewTempDir("segment_large_filter");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  std::vector<Entry> entries;
  for (int i = 0; i < 120000; ++i) {
    entries.push_back({absl::StrFormat("%09d", i), PackTag(i + 1, EntryKind::kValue), "v"});
  }
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 4096);
  BuildSegment<StringOnlyBloomFilter>(dir, 2, entries, 4096);
  const std::string mapped_built = ReadFile(SegmentFileName(dir, 1));
  const std::string string_built = ReadFile(SegmentFileName(dir, 2));
  const Layout mapped = ReadLayout(mapped_built);
  const Layout string = ReadLayout(string_built);
  ASSERT_GT(mapped.filter_size, kOwnMappingMidBytes);
  ASSERT_EQ(mapped.filter_offset, string.filter_offset);
  ASSERT_EQ(mapped.filter_size, string.filter_size);
  EXPECT_TRUE(absl::string_view(mapped_built).substr(mapped.filter_offset, mapped.filter_size) ==
              absl::string_view(string_built).substr(string.filter_offset, string.filter_size));

  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  KV_EXPECT_OK(segment->Verify());
  int missed = 0;
  for (const Entry& e : entries) missed += !segment->MayContain(HashKey(e.key));
  EXPECT_EQ(missed, 0);
  EXPECT_EQ(LookUp(*segment, entries.back().key), entries.back().value);
}

// A block whose records start past 65535 bytes stores 4-byte record offsets and says so.
TEST(SegmentFormatTest, LargeBlocksUseWideOffsets) {
  const std::string dir = testing::NewTempDir("segment_wide");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  std::vector<Entry> entries;
  for (int i = 0; i < 100; ++i) {
    entries.push_back({absl::StrFormat("k%04d", i), PackTag(i + 1, EntryKind::kValue),
                       std::string(2000 + i, static_cast<char>('a' + i % 26))});
  }
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 1 << 20);  // One block of about 200 KB.
  const std::string contents = ReadFile(SegmentFileName(dir, 1));
  const size_t block_size = ReadLayout(contents).filter_offset;
  const uint32_t count_word = DecodeFixed32(contents.data() + block_size - 12);
  EXPECT_NE(count_word & kWideOffsetsFlag, 0u);
  EXPECT_EQ(count_word & ~kWideOffsetsFlag, entries.size());
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  KV_EXPECT_OK(segment->Verify());
  Segment<BloomFilter<10>>::Cursor cursor(segment);
  size_t i = 0;
  for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next(), ++i) {
    ASSERT_EQ(cursor.record().key, entries[i].key);
    ASSERT_EQ(cursor.record().value, entries[i].value);
    EXPECT_EQ(LookUp(*segment, entries[i].key), entries[i].value);
  }
  EXPECT_EQ(i, entries.size());
}

// A cursor's key lives in the cursor (rebuilt from the block's prefix), so moving the cursor must
// keep its record readable, including a short key held inside the string object itself.
TEST(SegmentFormatTest, MovedCursorKeepsItsRecord) {
  const std::string dir = testing::NewTempDir("segment_move");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  const std::vector<Entry> entries = {{"ab", PackTag(1, EntryKind::kValue), "1"},
                                      {"ac", PackTag(2, EntryKind::kValue), "2"}};
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 4096);
  auto segment = ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1));
  Segment<BloomFilter<10>>::Cursor cursor(segment);
  cursor.Seek("ac", LookupTag(kMaxSequence));
  ASSERT_TRUE(cursor.Valid());
  Segment<BloomFilter<10>>::Cursor moved(std::move(cursor));
  ASSERT_TRUE(moved.Valid());
  EXPECT_EQ(moved.record().key, "ac");
  EXPECT_EQ(moved.record().value, "2");
  moved.Prev();
  ASSERT_TRUE(moved.Valid());
  EXPECT_EQ(moved.record().key, "ab");
}

TEST(SegmentFilterTest, OpeningWithAnotherFilterIsRefused) {
  const std::string dir = testing::NewTempDir("segment_filter");
  KV_ASSERT_OK(Env::Default()->CreateDir(dir));
  const std::vector<Entry> entries = MakeEntries(504, 50);
  BuildSegment<BloomFilter<10>>(dir, 1, entries, 256);
  BuildSegment<NoFilter>(dir, 2, entries, 256);

  auto as_none = Segment<NoFilter>::Open(Env::Default(), dir, 1);
  ASSERT_FALSE(as_none.ok());
  EXPECT_EQ(as_none.status().code(), absl::StatusCode::kFailedPrecondition) << as_none.status();
  EXPECT_TRUE(Mentions(as_none.status(), "bloom10.v1")) << as_none.status();
  EXPECT_TRUE(Mentions(as_none.status(), SegmentFileName(dir, 1))) << as_none.status();

  auto as_bloom = Segment<BloomFilter<10>>::Open(Env::Default(), dir, 2);
  ASSERT_FALSE(as_bloom.ok());
  EXPECT_EQ(as_bloom.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Mentions(as_bloom.status(), "\"none\"")) << as_bloom.status();

  auto as_bloom16 = Segment<BloomFilter<16>>::Open(Env::Default(), dir, 1);
  ASSERT_FALSE(as_bloom16.ok());
  EXPECT_EQ(as_bloom16.status().code(), absl::StatusCode::kFailedPrecondition);

  KV_EXPECT_OK(ValueOrDie(Segment<BloomFilter<10>>::Open(Env::Default(), dir, 1))->Verify());
  KV_EXPECT_OK(ValueOrDie(Segment<NoFilter>::Open(Env::Default(), dir, 2))->Verify());
}

}  // namespace
}  // namespace kvstore::internal
