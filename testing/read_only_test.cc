// Options::read_only / OpenReadOnly: nothing in the directory changes (names, sizes, mtimes,
// contents), a torn WAL tail is the end of the log, every write is refused, and a store that
// another process is writing reads as a consistent prefix of its writes.
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "gtest/gtest.h"
#include "kvstore/database.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/wal.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using Store = KVStore<std::string, std::string>;

// Everything observable about a directory's files.
struct FileState {
  uintmax_t size;
  int64_t mtime_ns;
  std::string contents;
  bool operator==(const FileState&) const = default;
};

std::map<std::string, FileState> DirState(const std::string& dir) {
  std::map<std::string, FileState> state;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    struct stat st;
    EXPECT_EQ(::stat(entry.path().c_str(), &st), 0);
    std::ifstream in(entry.path(), std::ios::binary);
    std::string contents((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    state[entry.path().filename().string()] = {
        static_cast<uintmax_t>(st.st_size),
        static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec, contents};
  }
  return state;
}

std::string NewestWal(const std::string& dir) {
  std::string newest;
  uint64_t best = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    uint64_t number = 0;
    if (internal::ParseFileName(entry.path().filename().string(), &number) ==
            internal::FileKind::kWal &&
        number >= best) {
      best = number;
      newest = entry.path().string();
    }
  }
  return newest;
}

// Writes a record header claiming 100 payload bytes, and 5 of them, after the WAL's last
// record (into its reserved zeros, or past its end once Close trimmed them): what a crash, or a
// reader racing the writer, sees of a record being appended.
void AppendTornRecord(const std::string& wal) {
  std::fstream f(wal, std::ios::in | std::ios::out | std::ios::binary);
  std::string contents((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  size_t end = contents.find_last_not_of('\0');
  end = end == std::string::npos ? 0 : end + 1;
  std::string torn;
  internal::PutFixed32(&torn, 100);
  torn.append(internal::kWalHeaderBytes - 4, '\x5a');
  torn.append("abcde");
  f.seekp(static_cast<std::streamoff>(end));
  f.write(torn.data(), static_cast<std::streamsize>(torn.size()));
}

TEST(ReadOnlyTest, ChangesNothingAndReadsSegmentsWalAndTornTail) {
  const std::string dir = testing::NewTempDir("ro");
  {
    Options options;
    options.idle_flush_ms = 0;
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 100; ++i) KV_ASSERT_OK(store->Set("flushed" + std::to_string(i), "v"));
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Delete("flushed7"));
    KV_ASSERT_OK(store->Set("in_wal", "w"));
    KV_ASSERT_OK(store->Close());
  }
  const std::string wal = NewestWal(dir);
  ASSERT_FALSE(wal.empty());
  AppendTornRecord(wal);
  const auto before = DirState(dir);

  auto store = ValueOrDie(Store::OpenReadOnly(dir));
  EXPECT_EQ(ValueOrDie(store->Get("flushed3")), "v");
  EXPECT_EQ(ValueOrDie(store->Get("in_wal")), "w");
  EXPECT_TRUE(absl::IsNotFound(store->Get("flushed7").status()));
  EXPECT_GT(std::stoull(*store->GetProperty("kvstore.wal-tail-bytes-dropped")), 0u);
  int n = 0;
  auto it = store->NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++n;
  KV_EXPECT_OK(it->status());
  EXPECT_EQ(n, 100);  // 99 flushed + in_wal.
  KV_EXPECT_OK(store->Verify());
  KV_EXPECT_OK(store->WaitForBackgroundWork());

  auto refused = [](const absl::Status& s) {
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_NE(s.message().find("read-only"), absl::string_view::npos) << s;
  };
  refused(store->Set("x", "y"));
  refused(store->Delete("in_wal"));
  Store::WriteBatch batch;
  batch.Set("a", "b");
  refused(store->Write(batch));
  refused(store->Flush());
  refused(store->Compact());
  KV_EXPECT_OK(store->Close());
  EXPECT_EQ(DirState(dir), before);

  // A normal open afterwards still sees the same data (and drops the torn tail itself).
  auto writable = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(ValueOrDie(writable->Get("in_wal")), "w");
}

TEST(ReadOnlyTest, MissingStoreIsNotFoundAndNothingIsCreated) {
  const std::string dir = testing::NewTempDir("ro_missing");
  auto store = Store::OpenReadOnly(dir);
  EXPECT_TRUE(absl::IsNotFound(store.status())) << store.status();
  EXPECT_FALSE(std::filesystem::exists(dir));
  std::filesystem::create_directories(dir);
  store = Store::OpenReadOnly(dir);
  EXPECT_TRUE(absl::IsNotFound(store.status())) << store.status();
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(ReadOnlyTest, OpensWhileAWriterHoldsTheLockAndSeesTheStateAsOfTheOpen) {
  const std::string dir = testing::NewTempDir("ro_shared");
  auto writer = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(writer->Set("a", "1"));
  EXPECT_FALSE(Store::Open(dir).ok());                 // The writer holds the lock...
  auto reader = ValueOrDie(Store::OpenReadOnly(dir));  // ...which a reader does not take.
  KV_ASSERT_OK(writer->Set("b", "2"));
  EXPECT_EQ(ValueOrDie(reader->Get("a")), "1");
  EXPECT_TRUE(absl::IsNotFound(reader->Get("b").status()));  // A snapshot as of the open.
  KV_ASSERT_OK(writer->Compact());  // Deletes the files the reader opened; it keeps reading.
  EXPECT_EQ(ValueOrDie(reader->Get("a")), "1");
  KV_EXPECT_OK(reader->Close());
  KV_EXPECT_OK(writer->Close());
}

TEST(ReadOnlyTest, DatabaseReadOnlyReadsTablesAndRefusesWritesAndCommits) {
  const std::string dir = testing::NewTempDir("ro_db");
  constexpr TableDef<std::string, int64_t> kCounts{"counts"};
  {
    auto db = ValueOrDie(Database<>::Open(dir));
    auto counts = ValueOrDie(db->OpenTable(kCounts));
    KV_ASSERT_OK(counts.Set("x", 5));
  }
  const auto before = DirState(dir);
  {
    auto db = ValueOrDie(Database<>::OpenReadOnly(dir));
    ASSERT_EQ(db->ListTables().size(), 1u);
    auto counts = ValueOrDie(db->OpenTable(kCounts));
    EXPECT_EQ(ValueOrDie(counts.Get("x")), 5);
    EXPECT_TRUE(absl::IsFailedPrecondition(counts.Set("y", 1)));
    absl::Status s = db->RunTransaction(
        [&](Transaction& txn) -> absl::Status { return txn.Set(counts, "z", 1); });
    EXPECT_TRUE(absl::IsFailedPrecondition(s)) << s;
    EXPECT_FALSE(db->OpenTable(TableDef<std::string, int64_t>{"new"}).ok());
  }
  EXPECT_EQ(DirState(dir), before);
}

// A child process writes key i = i and the counter key -1 = i in one batch, for i = 0, 1, ...,
// with a small MemTable so that it flushes and compacts all the time, and reports on a pipe the
// i it has been acknowledged. The parent opens the store read-only again and again: every open
// must see exactly the keys 0..c with c = the counter, and c at least the acknowledged i.
TEST(ReadOnlyTest, ConcurrentWriterProcessIsSeenAsAConsistentPrefix) {
  const std::string dir = testing::NewTempDir("ro_fork");
  using IntStore = KVStore<int64_t, int64_t>;
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(acks[0]);
    Options options;
    options.memtable_bytes = 64 * 1024;
    options.compaction_trigger = 2;
    auto store = IntStore::Open(dir, options);
    if (!store.ok()) ::_exit(3);
    for (int64_t i = 0; i < 400000; ++i) {
      IntStore::WriteBatch batch;
      batch.Set(i, i);
      batch.Set(-1, i);
      WriteOptions write_options;
      write_options.sync = i % 1000 == 0;
      if (!(*store)->Write(batch, write_options).ok()) ::_exit(4);
      if (i % 1000 == 0 && ::write(acks[1], &i, sizeof(i)) != sizeof(i)) ::_exit(5);
    }
    ::_exit(0);
  }
  ::close(acks[1]);
  int opens = 0;
  int64_t max_seen = -1;
  for (int round = 0; round < 25; ++round) {
    int64_t acked;
    if (::read(acks[0], &acked, sizeof(acked)) != sizeof(acked)) break;  // Child finished.
    auto store = IntStore::OpenReadOnly(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ++opens;
    const int64_t counter = ValueOrDie((*store)->Get(-1));
    EXPECT_GE(counter, acked);
    int64_t expected = 0;
    auto it = (*store)->NewIterator();
    for (it->Seek(0); it->Valid(); it->Next(), ++expected) {
      ASSERT_EQ(it->key(), expected);
      ASSERT_EQ(it->value(), expected);
    }
    KV_ASSERT_OK(it->status());
    EXPECT_EQ(expected, counter + 1) << "keys 0.." << expected - 1 << ", counter " << counter;
    max_seen = std::max(max_seen, counter);
  }
  ::kill(child, SIGKILL);
  int status;
  ::waitpid(child, &status, 0);
  EXPECT_GE(opens, 10);
  EXPECT_GT(max_seen, 0);
}

}  // namespace
}  // namespace kvstore
