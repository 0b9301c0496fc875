// KVStore/Database::Checkpoint: the copy opens as a store with the same contents, shares segment
// files by hard links, misses later writes, holds every write acknowledged before it and a
// prefix-consistent state under concurrent writers, and works on read-only opens.
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kvstore/database.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using Store = KVStore<std::string, std::string>;

std::map<std::string, std::string> Contents(const Store& store) {
  std::map<std::string, std::string> out;
  auto it = store.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key()] = it->value();
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

std::vector<std::filesystem::path> Segments(const std::string& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") out.push_back(entry.path());
  }
  return out;
}

// A store with two sorted runs, a deletion of a flushed key, and unflushed writes.
std::unique_ptr<Store> FilledStore(const std::string& dir) {
  Options options;
  options.idle_flush_ms = 0;
  options.background_compaction = false;
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int i = 0; i < 500; ++i) EXPECT_TRUE(store->Set("k" + std::to_string(i), "a").ok());
  EXPECT_TRUE(store->Flush().ok());
  for (int i = 0; i < 500; i += 2) EXPECT_TRUE(store->Set("k" + std::to_string(i), "b").ok());
  EXPECT_TRUE(store->Flush().ok());
  EXPECT_TRUE(store->Delete("k1").ok());
  EXPECT_TRUE(store->Set("k3", "memtable").ok());
  EXPECT_TRUE(store->Set("new", "memtable").ok());
  return store;
}

TEST(CheckpointTest, CopyOpensWithSameContentsSharesSegmentsAndMissesLaterWrites) {
  const std::string dir = testing::NewTempDir("cp_src");
  const std::string dest = testing::NewTempDir("cp_dest");
  auto store = FilledStore(dir);
  const auto expected = Contents(*store);
  ASSERT_EQ(expected.size(), 500u);  // 499 of k*, plus "new".
  KV_ASSERT_OK(store->Checkpoint(dest));
  KV_ASSERT_OK(store->Set("after", "x"));
  KV_ASSERT_OK(store->Delete("k0"));

  const auto segments = Segments(dest);
  ASSERT_EQ(segments.size(), 2u);
  for (const auto& segment : segments) {
    struct stat a, b;
    ASSERT_EQ(::stat(segment.c_str(), &a), 0);
    ASSERT_EQ(::stat((dir / segment.filename()).c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << "not a hard link: " << segment;
  }
  KV_ASSERT_OK(store->Close());
  std::filesystem::remove_all(dir);  // The copy needs nothing of the source.

  auto copy = ValueOrDie(Store::Open(dest));
  EXPECT_EQ(Contents(*copy), expected);
  EXPECT_TRUE(absl::IsNotFound(copy->Get("after").status()));
  KV_EXPECT_OK(copy->Verify());
  KV_ASSERT_OK(copy->Set("more", "y"));  // A normal, writable store.
  KV_ASSERT_OK(copy->Close());
  copy = ValueOrDie(Store::Open(dest));
  EXPECT_EQ(ValueOrDie(copy->Get("more")), "y");
  EXPECT_EQ(ValueOrDie(copy->Get("k3")), "memtable");
}

TEST(CheckpointTest, RefusesNonEmptyTargetsAndClosedStores) {
  const std::string dir = testing::NewTempDir("cp_src");
  auto store = FilledStore(dir);
  const std::string busy = testing::NewTempDir("cp_busy");
  std::filesystem::create_directories(busy);
  std::ofstream(busy + "/file") << "x";
  absl::Status s = store->Checkpoint(busy);
  EXPECT_TRUE(absl::IsAlreadyExists(s)) << s;
  EXPECT_TRUE(absl::IsAlreadyExists(store->Checkpoint(busy + "/file")));
  EXPECT_TRUE(absl::IsAlreadyExists(store->Checkpoint(dir)));  // Itself.
  EXPECT_TRUE(absl::IsInvalidArgument(store->Checkpoint("")));

  const std::string empty = testing::NewTempDir("cp_empty");
  std::filesystem::create_directories(empty);
  KV_EXPECT_OK(store->Checkpoint(empty));

  KV_ASSERT_OK(store->Close());
  const std::string after_close = testing::NewTempDir("cp_closed");
  s = store->Checkpoint(after_close);
  EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
  EXPECT_FALSE(std::filesystem::exists(after_close));
}

TEST(CheckpointTest, ReadOnlyOpenCheckpointsItsSnapshotAndWritesNothingInTheSource) {
  const std::string dir = testing::NewTempDir("cp_ro");
  std::map<std::string, std::string> expected;
  {
    auto store = FilledStore(dir);
    expected = Contents(*store);
    KV_ASSERT_OK(store->Close());
  }
  auto reader = ValueOrDie(Store::OpenReadOnly(dir));
  auto writer = ValueOrDie(Store::Open(dir));  // Writes after the read-only open.
  KV_ASSERT_OK(writer->Set("later", "z"));
  KV_ASSERT_OK(writer->Compact());  // Deletes the segments the reader has open: it copies them.
  const std::string dest = testing::NewTempDir("cp_ro_dest");
  KV_ASSERT_OK(reader->Checkpoint(dest));
  KV_ASSERT_OK(reader->Close());
  KV_ASSERT_OK(writer->Close());
  auto copy = ValueOrDie(Store::Open(dest));
  EXPECT_EQ(Contents(*copy), expected);
}

// Where /dev/shm is another file system than the test's scratch space, links fail (EXDEV) and
// the segments are copied.
TEST(CheckpointTest, CopiesAcrossFileSystems) {
  const std::string dir = testing::NewTempDir("cp_xdev");
  const std::string dest = testing::NewRamTempDir("cp_xdev");
  std::filesystem::create_directories(dir);
  struct stat a, b;
  if (::stat(dir.c_str(), &a) != 0 || ::stat("/dev/shm", &b) != 0 || a.st_dev == b.st_dev ||
      dest.rfind("/dev/shm", 0) != 0) {
    GTEST_SKIP() << "no second file system to checkpoint onto";
  }
  auto store = FilledStore(dir);
  const auto expected = Contents(*store);
  KV_ASSERT_OK(store->Checkpoint(dest));
  for (const auto& segment : Segments(dest)) {
    struct stat st;
    ASSERT_EQ(::stat(segment.c_str(), &st), 0);
    EXPECT_EQ(st.st_nlink, 1u);
  }
  auto copy = ValueOrDie(Store::Open(dest));
  EXPECT_EQ(Contents(*copy), expected);
  KV_EXPECT_OK(copy->Verify());
  KV_ASSERT_OK(copy->Close());
  std::filesystem::remove_all(dest);
}

// Four writers, each writing (w, 0), (w, 1), ... in order, with a small MemTable so that flushes
// and compactions run throughout. Each checkpoint must hold, for every writer, exactly a prefix
// (w, 0..n) of its writes, with n at least the last write acknowledged before the checkpoint.
TEST(CheckpointTest, ConcurrentWritersGiveAPrefixConsistentCheckpoint) {
  using IntStore = KVStore<std::tuple<int32_t, int32_t>, int32_t>;
  constexpr int kWriters = 4;
  const std::string dir = testing::NewTempDir("cp_conc");
  Options options;
  options.memtable_bytes = 32 * 1024;
  options.compaction_trigger = 2;
  auto store = ValueOrDie(IntStore::Open(dir, options));
  std::atomic<int32_t> acked[kWriters];
  for (auto& a : acked) a = -1;
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int32_t i = 0; !stop.load() && i < 1000000; ++i) {
        if (!store->Set({w, i}, i).ok()) return;
        acked[w].store(i);
      }
    });
  }
  std::vector<std::string> checkpoints;
  std::vector<std::vector<int32_t>> acked_before;
  for (int c = 0; c < 6; ++c) {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    std::vector<int32_t>& before = acked_before.emplace_back();
    for (auto& a : acked) before.push_back(a.load());
    checkpoints.push_back(testing::NewTempDir("cp_conc_dest"));
    KV_ASSERT_OK(store->Checkpoint(checkpoints.back()));
  }
  stop = true;
  for (auto& t : writers) t.join();
  KV_ASSERT_OK(store->Close());
  for (size_t c = 0; c < checkpoints.size(); ++c) {
    auto copy = ValueOrDie(IntStore::Open(checkpoints[c]));
    std::vector<int32_t> next(kWriters, 0);
    auto it = copy->NewIterator();
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const auto [w, i] = it->key();
      ASSERT_TRUE(w >= 0 && w < kWriters);
      ASSERT_EQ(i, next[w]) << "checkpoint " << c << ": writer " << w << " has a gap";
      ASSERT_EQ(it->value(), i);
      ++next[w];
    }
    KV_ASSERT_OK(it->status());
    for (int w = 0; w < kWriters; ++w) {
      EXPECT_GE(next[w] - 1, acked_before[c][w]) << "checkpoint " << c << " writer " << w;
    }
  }
  // The writers were running: the checkpoints were taken among writes, not before or after.
  EXPECT_GT(acked_before.back()[0], acked_before.front()[0]);
}

TEST(CheckpointTest, DatabaseCheckpointKeepsTablesAndTransactions) {
  const std::string dir = testing::NewTempDir("cp_db");
  const std::string dest = testing::NewTempDir("cp_db_dest");
  constexpr TableDef<std::string, int64_t> kAccounts{"accounts"};
  auto db = ValueOrDie(Database<>::Open(dir));
  auto accounts = ValueOrDie(db->OpenTable(kAccounts));
  KV_ASSERT_OK(db->RunTransaction([&](Transaction& txn) -> absl::Status {
    KV_RETURN_IF_ERROR(txn.Set(accounts, "a", 60));
    return txn.Set(accounts, "b", 40);
  }));
  KV_ASSERT_OK(db->Checkpoint(dest));
  KV_ASSERT_OK(accounts.Set("a", 0));
  auto copy = ValueOrDie(Database<>::Open(dest));
  auto copied = ValueOrDie(copy->OpenTable(kAccounts));
  EXPECT_EQ(ValueOrDie(copied.Get("a")), 60);
  EXPECT_EQ(ValueOrDie(copied.Get("b")), 40);
}

}  // namespace
}  // namespace kvstore
