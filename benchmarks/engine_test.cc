// Every linked adapter must honour BenchEngine's contract, or the benchmarks compare different
// things: the same calls are made on each engine and must give the same answers.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmarks/engine.h"
#include "benchmarks/key_order.h"
#include "benchmarks/scratch_dir.h"
#include "gtest/gtest.h"
#include "tools/datagen/datagen.h"

namespace kvstore::bench {
namespace {

class EngineTest : public testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<ScratchDir>> scratch = ScratchDir::Create("");
    ASSERT_TRUE(scratch.ok()) << scratch.status();
    scratch_ = *std::move(scratch);
    engine_ = NewEngine(GetParam());
    ASSERT_NE(engine_, nullptr);
    ASSERT_TRUE(engine_->Open(scratch_->Child("db"), BenchOptions{}).ok());
  }

  void Reopen() {
    ASSERT_TRUE(engine_->Close().ok());
    engine_ = NewEngine(GetParam());
    ASSERT_TRUE(engine_->Open(scratch_->Child("db"), BenchOptions{}).ok());
  }

  std::unique_ptr<ScratchDir> scratch_;
  std::unique_ptr<BenchEngine> engine_;
};

TEST_P(EngineTest, NameMatchesRegistration) { EXPECT_EQ(engine_->Name(), GetParam()); }

TEST_P(EngineTest, PutGetDelete) {
  std::string value;
  absl::StatusOr<bool> found = engine_->Get("absent", &value);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_FALSE(*found);

  ASSERT_TRUE(engine_->Put("key", "first", false).ok());
  ASSERT_TRUE(engine_->Put("key", "second", true).ok());
  found = engine_->Get("key", &value);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ(value, "second");

  ASSERT_TRUE(engine_->Delete("key", false).ok());
  found = engine_->Get("key", &value);
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(*found);
  EXPECT_TRUE(engine_->Delete("never-written", false).ok());
}

TEST_P(EngineTest, BatchAppliesPutsAndDeletesInOrder) {
  ASSERT_TRUE(engine_->Put("gone", "x", false).ok());
  const std::vector<BatchOp> ops = {
      {"a", "1"}, {"b", "2"}, {"a", "3"}, {"gone", "", /*is_delete=*/true}, {"b", "", true}};
  ASSERT_TRUE(engine_->Write(ops, /*sync=*/true).ok());
  Reopen();
  std::string value;
  absl::StatusOr<bool> found = engine_->Get("a", &value);
  ASSERT_TRUE(found.ok() && *found);
  EXPECT_EQ(value, "3");
  for (const char* key : {"b", "gone"}) {
    found = engine_->Get(key, &value);
    ASSERT_TRUE(found.ok());
    EXPECT_FALSE(*found) << key;
  }
}

TEST_P(EngineTest, SettledDataSurvivesReopenAndIteratesInOrder) {
  datagen::Spec spec;
  spec.count = 2000;
  const datagen::Generator generator(spec);
  for (uint64_t index : ShuffledIndexes(spec)) {
    ASSERT_TRUE(engine_->Put(generator.Key(index), generator.Value(index), false).ok());
  }
  std::string how;
  ASSERT_TRUE(engine_->Settle(&how).ok());
  EXPECT_FALSE(how.empty());
  Reopen();

  std::string value;
  for (uint64_t i = 0; i < spec.count; ++i) {
    absl::StatusOr<bool> found = engine_->Get(generator.Key(i), &value);
    ASSERT_TRUE(found.ok() && *found) << i;
    ASSERT_EQ(value, generator.Value(i)) << i;
    found = engine_->Get(generator.MissingKey(i), &value);
    ASSERT_TRUE(found.ok());
    ASSERT_FALSE(*found) << i;
  }

  if (!engine_->SupportsIterator()) GTEST_SKIP() << GetParam() << " has no iterator";
  std::unique_ptr<BenchIterator> it = engine_->NewIterator();
  uint64_t n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    ASSERT_LT(n, spec.count);
    ASSERT_EQ(it->key(), generator.Key(n));
    ASSERT_EQ(it->value(), generator.Value(n));
  }
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(n, spec.count);

  it->Seek(generator.MissingKey(41));  // between keys 41 and 42
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), generator.Key(42));
  it.reset();
}

TEST_P(EngineTest, ReportsIndexAndFilterMemory) {
  datagen::Spec spec;
  spec.count = 5000;
  const datagen::Generator generator(spec);
  for (uint64_t i = 0; i < spec.count; ++i) {
    ASSERT_TRUE(engine_->Put(generator.Key(i), generator.Value(i), false).ok());
  }
  std::string how;
  ASSERT_TRUE(engine_->Settle(&how).ok());
  Reopen();
  std::string value;
  ASSERT_TRUE(engine_->Get(generator.Key(17), &value).ok());
  const EngineMemory memory = engine_->Memory();
  ASSERT_TRUE(memory.index_filter_bytes.has_value()) << GetParam();
  EXPECT_FALSE(memory.index_filter_source.empty());
  // A 10 bits/key filter alone is 1.25 bytes per key; an index adds some, never 100x that.
  EXPECT_GE(*memory.index_filter_bytes, spec.count);
  EXPECT_LE(*memory.index_filter_bytes, 100 * spec.count);
}

INSTANTIATE_TEST_SUITE_P(Linked, EngineTest, testing::ValuesIn(RegisteredEngines()),
                         [](const testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(RegistryTest, KvstoreComesFirstThenItsPeers) {
  const std::vector<std::string> engines = RegisteredEngines();
  EXPECT_EQ(engines, (std::vector<std::string>{"kvstore", "leveldb", "rocksdb"}));
  EXPECT_EQ(NewEngine("no-such-engine"), nullptr);
  EXPECT_FALSE(EngineNote("rocksdb").empty());
}

TEST(KeyOrderTest, ShuffledIndexesIsAReproduciblePermutation) {
  datagen::Spec spec;
  spec.count = 10000;
  std::vector<uint64_t> order = ShuffledIndexes(spec);
  EXPECT_EQ(order, ShuffledIndexes(spec));
  EXPECT_FALSE(std::is_sorted(order.begin(), order.end()));
  std::sort(order.begin(), order.end());
  for (uint64_t i = 0; i < spec.count; ++i) ASSERT_EQ(order[i], i);
}

}  // namespace
}  // namespace kvstore::bench
