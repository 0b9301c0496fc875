// Tests of sorted runs (kvstore/internal/run.h): finding the one segment of a run that may hold a
// key, where a flushed segment may join a run, reading a run as one source or one cursor, and
// putting a compaction's output in place of its input runs.
#include "kvstore/internal/run.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/merge.h"
#include "kvstore/internal/segment.h"
#include "testing/test_util.h"

namespace kvstore::internal {
namespace {

using SegmentT = Segment<BloomFilter<10>>;
using TestRun = SegmentRun<BloomFilter<10>>;

// Segment `number` holding keys first..last (step 2, so odd numbers fall between keys), all
// written at sequence `sequence`.
std::shared_ptr<const SegmentT> MakeSegment(const std::string& dir, uint64_t number, int first,
                                            int last, uint64_t sequence) {
  auto file = ValueOrDie(Env::Default()->NewWritableFile(SegmentFileName(dir, number)));
  SegmentBuilder<BloomFilter<10>> builder(file.get(), 256);
  for (int k = first; k <= last; k += 2) {
    EXPECT_TRUE(builder.Add(absl::StrFormat("k%04d", k), PackTag(sequence, EntryKind::kValue),
                            absl::StrFormat("v%d", k))
                    .ok());
  }
  EXPECT_TRUE(builder.Finish().ok());
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_TRUE(file->Close().ok());
  return ValueOrDie(SegmentT::Open(Env::Default(), dir, number));
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("run");
    ASSERT_TRUE(Env::Default()->CreateDir(dir_).ok());
    // Three segments with gaps between their ranges; the middle one written last (sequence 30).
    run_ = {MakeSegment(dir_, 1, 0, 98, 10), MakeSegment(dir_, 2, 200, 298, 30),
            MakeSegment(dir_, 3, 400, 498, 20)};
  }

  std::vector<std::string> Keys(KeySource* source, bool backward) {
    std::vector<std::string> keys;
    for (backward ? source->SeekToLast() : source->SeekToFirst(); source->Valid();
         backward ? source->Prev() : source->Next()) {
      keys.emplace_back(source->key());
    }
    EXPECT_TRUE(source->status().ok());
    return keys;
  }

  std::string dir_;
  TestRun run_;
};

TEST_F(RunTest, SegmentForKeyFindsTheOneSegmentWhoseRangeHoldsTheKey) {
  EXPECT_EQ(SegmentForKey(run_, "k0000"), run_[0].get());
  EXPECT_EQ(SegmentForKey(run_, "k0097"), run_[0].get());  // In range, absent: its filter answers.
  EXPECT_EQ(SegmentForKey(run_, "k0150"), nullptr);        // Between two segments.
  EXPECT_EQ(SegmentForKey(run_, "k0298"), run_[1].get());
  EXPECT_EQ(SegmentForKey(run_, "k0400"), run_[2].get());
  EXPECT_EQ(SegmentForKey(run_, "a"), nullptr);
  EXPECT_EQ(SegmentForKey(run_, "z"), nullptr);
  const TestRun single = {run_[1]};
  EXPECT_EQ(SegmentForKey(single, "z"), run_[1].get());  // A lone segment is asked directly.
}

TEST_F(RunTest, InsertionPointKeepsTheRunDisjointAndInOrder) {
  auto at = [&](const std::string& smallest, const std::string& largest) {
    SegmentInfo info;
    info.smallest_key = smallest;
    info.largest_key = largest;
    return InsertionPoint(run_, info);
  };
  EXPECT_EQ(at("a", "b"), 0);
  EXPECT_EQ(at("k0100", "k0199"), 1);
  EXPECT_EQ(at("k0300", "k0399"), 2);
  EXPECT_EQ(at("k0500", "z"), 3);
  EXPECT_EQ(at("k0050", "k0060"), -1);   // Inside a segment's range.
  EXPECT_EQ(at("k0098", "k0100"), -1);   // Touches its last key.
  EXPECT_EQ(at("k0100", "k0400"), -1);   // Spans a segment.
}

TEST_F(RunTest, RunSourceReadsTheSegmentsOneAfterAnother) {
  RunSource<BloomFilter<10>> source(run_, kMaxSequence, /*verify=*/true);
  const std::vector<std::string> forward = Keys(&source, false);
  ASSERT_EQ(forward.size(), 150u);
  EXPECT_EQ(forward.front(), "k0000");
  EXPECT_EQ(forward[50], "k0200");
  EXPECT_EQ(forward.back(), "k0498");
  std::vector<std::string> backward = Keys(&source, true);
  std::reverse(backward.begin(), backward.end());
  EXPECT_EQ(backward, forward);

  source.Seek("k0150");  // In a gap: the next segment's first key.
  ASSERT_TRUE(source.Valid());
  EXPECT_EQ(source.key(), "k0200");
  source.Seek("k0499");
  EXPECT_FALSE(source.Valid());
  KV_EXPECT_OK(source.status());
  source.SeekBefore("k0400");  // The previous segment's last key.
  ASSERT_TRUE(source.Valid());
  EXPECT_EQ(source.key(), "k0298");
  source.SeekBefore("k0000");
  EXPECT_FALSE(source.Valid());
  source.SeekBefore("z");
  ASSERT_TRUE(source.Valid());
  EXPECT_EQ(source.key(), "k0498");
}

// At sequence 25 the middle segment (written at 30) holds nothing visible: reads pass over it.
TEST_F(RunTest, RunSourceSkipsASegmentWithNothingVisible) {
  RunSource<BloomFilter<10>> source(run_, 25, /*verify=*/false);
  const std::vector<std::string> forward = Keys(&source, false);
  ASSERT_EQ(forward.size(), 100u);
  EXPECT_EQ(forward[49], "k0098");
  EXPECT_EQ(forward[50], "k0400");
  EXPECT_EQ(Keys(&source, true).size(), 100u);
  source.Seek("k0200");
  ASSERT_TRUE(source.Valid());
  EXPECT_EQ(source.key(), "k0400");
  source.SeekBefore("k0400");
  ASSERT_TRUE(source.Valid());
  EXPECT_EQ(source.key(), "k0098");
}

TEST_F(RunTest, RunCursorWalksEveryVersion) {
  RunCursor<BloomFilter<10>> cursor(run_, /*verify=*/true, /*release_behind=*/true);
  int n = 0;
  std::string last;
  for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next(), ++n) {
    EXPECT_LT(last, std::string(cursor.record().key));
    last = std::string(cursor.record().key);
  }
  KV_EXPECT_OK(cursor.status());
  EXPECT_EQ(n, 150);
}

TEST(ReplaceMergedRunsTest, OutputTakesTheInputsPlace) {
  auto seg = [](int n) { return std::make_shared<int>(n); };
  auto a = seg(1), b = seg(2), c = seg(3), d = seg(4), out = seg(9);
  using Runs = std::vector<std::vector<std::shared_ptr<int>>>;
  Runs runs = {{a}, {b, c}, {d}};
  ReplaceMergedRuns(&runs, Runs{{b, c}, {d}}, Runs{{out}});
  EXPECT_EQ(runs, (Runs{{a}, {out}}));

  // A newer run arrived meanwhile, and a flush joined the newest input run.
  auto e = seg(5), f = seg(6);
  runs = {{e}, {a, f}, {b, c}, {d}};
  ReplaceMergedRuns(&runs, Runs{{a}, {b, c}}, Runs{{out}});
  EXPECT_EQ(runs, (Runs{{e}, {f}, {out}, {d}}));

  // Everything merged away.
  runs = {{a}, {b}};
  ReplaceMergedRuns(&runs, Runs{{a}, {b}}, Runs{});
  EXPECT_TRUE(runs.empty());
}

// A compaction step: the inputs' stand-ins are several runs (the output so far, then what is left
// of each input), and a flush joined the run in front meanwhile.
TEST(ReplaceMergedRunsTest, AStepPutsSeveralRunsInTheInputsPlace) {
  auto seg = [](int n) { return std::make_shared<int>(n); };
  auto out1 = seg(1), out2 = seg(2), rest1 = seg(3), rest2 = seg(4), flushed = seg(5), old = seg(6);
  using Runs = std::vector<std::vector<std::shared_ptr<int>>>;
  Runs runs = {{out1, flushed}, {rest1}, {rest2}, {old}};
  ReplaceMergedRuns(&runs, Runs{{out1}, {rest1}, {rest2}}, Runs{{out1, out2}, {rest2}});
  EXPECT_EQ(runs, (Runs{{flushed}, {out1, out2}, {rest2}, {old}}));
}

}  // namespace
}  // namespace kvstore::internal
