// Tests of PosixEnv: file round trips, directory operations, errors that name their path, and the
// store lock, which must refuse a second holder in this process and in another one.
#include "kvstore/env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

class EnvTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::NewTempDir("env");
    KV_ASSERT_OK(env_->CreateDir(dir_));
  }

  void WriteFile(const std::string& path, absl::string_view contents) {
    auto file = ValueOrDie(env_->NewWritableFile(path));
    KV_ASSERT_OK(file->Append(contents));
    KV_ASSERT_OK(file->Close());
  }

  std::vector<std::string> Children() {
    std::vector<std::string> names = ValueOrDie(env_->GetChildren(dir_));
    std::sort(names.begin(), names.end());
    return names;
  }

  Env* env_ = Env::Default();
  std::string dir_;
};

bool Mentions(const absl::Status& s, absl::string_view text) {
  return absl::StrContains(s.message(), text);
}

TEST_F(EnvTest, DefaultIsOneInstance) { EXPECT_EQ(Env::Default(), Env::Default()); }

// Appends of every size (below, at and above the 64 KiB buffer), flushed and synced at random
// points, read back through the mapped RandomAccessFile and through ReadFileToString.
TEST_F(EnvTest, WriteThenReadBack) {
  const std::string path = dir_ + "/data";
  std::mt19937_64 rng(601);
  std::string expected;
  {
    auto file = ValueOrDie(env_->NewWritableFile(path));
    for (size_t size : {0, 1, 100, 65535, 65536, 65537, 200000, 3, 70000}) {
      std::string chunk(size, '\0');
      for (char& c : chunk) c = static_cast<char>(rng());
      KV_ASSERT_OK(file->Append(chunk));
      expected += chunk;
      if (rng() % 2) KV_ASSERT_OK(file->Flush());
    }
    KV_ASSERT_OK(file->Sync());
    KV_ASSERT_OK(file->Append("tail"));
    expected += "tail";
    KV_ASSERT_OK(file->Flush());
    // Flushed bytes are visible to readers before Close.
    EXPECT_EQ(ValueOrDie(env_->GetFileSize(path)), expected.size());
    KV_ASSERT_OK(file->Close());
    KV_ASSERT_OK(file->Close());  // Closing twice is harmless.
  }
  EXPECT_TRUE(env_->FileExists(path));
  EXPECT_FALSE(env_->IsDirectory(path));
  EXPECT_EQ(ValueOrDie(env_->GetFileSize(path)), expected.size());

  std::string contents;
  KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, expected);

  auto file = ValueOrDie(env_->NewRandomAccessFile(path));
  EXPECT_EQ(file->Size(), expected.size());
  std::string scratch(expected.size(), '\0');
  for (int i = 0; i < 50; ++i) {
    const uint64_t offset = rng() % expected.size();
    const size_t n = rng() % 100000;
    absl::string_view result;
    KV_ASSERT_OK(file->Read(offset, n, &result, scratch.data()));
    EXPECT_EQ(result, absl::string_view(expected).substr(offset, n));
  }
  absl::string_view result;
  KV_ASSERT_OK(file->Read(expected.size(), 10, &result, scratch.data()));
  EXPECT_TRUE(result.empty());
  EXPECT_FALSE(file->Read(expected.size() + 1, 10, &result, scratch.data()).ok());
}

// The WAL's file (mapped in chunks, large appends written with pwritev beside the chunks): small
// appends that cross chunk boundaries, large ones (also as pairs) that leave offset_ inside a page
// and discard a chunk the helper prepared, syncs between them, then Close trims the reservation.
TEST_F(EnvTest, LogFileMixesMappedAndDirectAppends) {
  const std::string path = dir_ + "/log";
  std::mt19937_64 rng(603);
  std::string expected;
  auto random_bytes = [&](size_t n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng() % 255 + 1);
    return bytes;
  };
  {
    auto file = ValueOrDie(env_->NewLogFile(path));
    for (int i = 0; i < 400; ++i) {
      const int kind = static_cast<int>(rng() % 10);
      if (kind < 6) {  // Small: through the map.
        std::string bytes = random_bytes(rng() % 9000 + 1);
        KV_ASSERT_OK(file->Append(bytes));
        expected += bytes;
      } else if (kind < 8) {  // Large: pwritev.
        std::string bytes = random_bytes(32 * 1024 + rng() % 200000);
        KV_ASSERT_OK(file->Append(bytes));
        expected += bytes;
      } else {  // A pair, small or large as a whole.
        std::string header = random_bytes(12);
        std::string payload = random_bytes(rng() % 2 ? rng() % 100 + 1 : 40000 + rng() % 9000);
        KV_ASSERT_OK(file->AppendPair(header, payload));
        expected += header + payload;
      }
      if (rng() % 16 == 0) KV_ASSERT_OK(file->Sync());
      if (rng() % 32 == 0) {  // Visible to readers before Close, whichever way it was written.
        std::string contents;
        KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
        ASSERT_GE(contents.size(), expected.size());
        ASSERT_EQ(contents.substr(0, expected.size()), expected) << "after append " << i;
      }
    }
    KV_ASSERT_OK(file->Close());
  }
  std::string contents;
  KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
  EXPECT_EQ(contents.size(), expected.size());
  EXPECT_TRUE(contents == expected);
}

// WillNotNeed drops pages from the process, never bytes from the file: views taken before and
// reads after see the same contents (the pages come back from the OS cache).
TEST_F(EnvTest, WillNotNeedKeepsContents) {
  const std::string path = dir_ + "/mapped";
  std::string expected(3 * 1024 * 1024 + 123, '\0');
  std::mt19937_64 rng(602);
  for (char& c : expected) c = static_cast<char>(rng());
  {
    auto file = ValueOrDie(env_->NewWritableFile(path));
    KV_ASSERT_OK(file->Append(expected));
    KV_ASSERT_OK(file->Close());
  }
  auto file = ValueOrDie(env_->NewRandomAccessFile(path));
  std::string scratch(expected.size(), '\0');
  absl::string_view before;
  KV_ASSERT_OK(file->Read(0, expected.size(), &before, scratch.data()));
  ASSERT_EQ(before, expected);
  file->WillNotNeed(0, 1024 * 1024 + 7);
  file->WillNotNeed(2 * 1024 * 1024 - 5, 10 * 1024 * 1024);  // Past the end: clipped.
  file->WillNotNeed(expected.size() + 1, 100);                 // Beyond: nothing.
  EXPECT_EQ(before, expected);
  absl::string_view after;
  KV_ASSERT_OK(file->Read(0, expected.size(), &after, scratch.data()));
  EXPECT_EQ(after, expected);
}

TEST_F(EnvTest, UnflushedBytesReachTheFileAtClose) {
  const std::string path = dir_ + "/buffered";
  auto file = ValueOrDie(env_->NewWritableFile(path));
  KV_ASSERT_OK(file->Append("abc"));
  EXPECT_EQ(ValueOrDie(env_->GetFileSize(path)), 0u);  // Still in the user-space buffer.
  file.reset();  // The destructor closes, which flushes.
  std::string contents;
  KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "abc");
}

TEST_F(EnvTest, NewWritableFileTruncates) {
  const std::string path = dir_ + "/f";
  WriteFile(path, "a long first version");
  WriteFile(path, "short");
  std::string contents;
  KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "short");
}

TEST_F(EnvTest, EmptyFile) {
  const std::string path = dir_ + "/empty";
  WriteFile(path, "");
  auto file = ValueOrDie(env_->NewRandomAccessFile(path));
  EXPECT_EQ(file->Size(), 0u);
  absl::string_view result;
  char scratch[1];
  KV_EXPECT_OK(file->Read(0, 1, &result, scratch));
  EXPECT_TRUE(result.empty());
  std::string contents = "stale";
  KV_ASSERT_OK(env_->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "");
}

TEST_F(EnvTest, GetChildrenRemoveAndRename) {
  EXPECT_TRUE(Children().empty());
  WriteFile(dir_ + "/a", "A");
  WriteFile(dir_ + "/b", "B");
  KV_ASSERT_OK(env_->CreateDir(dir_ + "/sub"));
  EXPECT_EQ(Children(), (std::vector<std::string>{"a", "b", "sub"}));

  // Rename replaces an existing target.
  KV_ASSERT_OK(env_->RenameFile(dir_ + "/a", dir_ + "/b"));
  EXPECT_EQ(Children(), (std::vector<std::string>{"b", "sub"}));
  std::string contents;
  KV_ASSERT_OK(env_->ReadFileToString(dir_ + "/b", &contents));
  EXPECT_EQ(contents, "A");

  KV_ASSERT_OK(env_->RemoveFile(dir_ + "/b"));
  EXPECT_FALSE(env_->FileExists(dir_ + "/b"));
  EXPECT_EQ(Children(), std::vector<std::string>{"sub"});
  KV_EXPECT_OK(env_->SyncDir(dir_));
}

TEST_F(EnvTest, CreateDir) {
  const std::string sub = dir_ + "/sub";
  KV_ASSERT_OK(env_->CreateDir(sub));
  EXPECT_TRUE(env_->IsDirectory(sub));
  KV_EXPECT_OK(env_->CreateDir(sub));  // Exists already as a directory: fine.

  WriteFile(dir_ + "/file", "x");
  absl::Status s = env_->CreateDir(dir_ + "/file");
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(Mentions(s, dir_ + "/file")) << s;

  s = env_->CreateDir(dir_ + "/missing/child");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Mentions(s, dir_ + "/missing/child")) << s;
}

// Every failing call says which path it failed on.
TEST_F(EnvTest, ErrorsNameThePath) {
  const std::string missing = dir_ + "/missing";
  const std::string in_missing_dir = dir_ + "/nodir/file";

  auto w = env_->NewWritableFile(in_missing_dir);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kNotFound) << w.status();
  EXPECT_TRUE(Mentions(w.status(), in_missing_dir)) << w.status();

  auto r = env_->NewRandomAccessFile(missing);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound) << r.status();
  EXPECT_TRUE(Mentions(r.status(), missing)) << r.status();

  std::string contents;
  absl::Status s = env_->ReadFileToString(missing, &contents);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Mentions(s, missing)) << s;

  auto children = env_->GetChildren(missing);
  EXPECT_EQ(children.status().code(), absl::StatusCode::kNotFound) << children.status();
  EXPECT_TRUE(Mentions(children.status(), missing)) << children.status();

  auto size = env_->GetFileSize(missing);
  EXPECT_EQ(size.status().code(), absl::StatusCode::kNotFound) << size.status();
  EXPECT_TRUE(Mentions(size.status(), missing)) << size.status();

  s = env_->RemoveFile(missing);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Mentions(s, missing)) << s;

  s = env_->RenameFile(missing, dir_ + "/target");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Mentions(s, missing)) << s;
  EXPECT_TRUE(Mentions(s, dir_ + "/target")) << s;

  s = env_->SyncDir(missing);
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(Mentions(s, missing)) << s;

  auto lock = env_->LockFile(in_missing_dir);
  EXPECT_EQ(lock.status().code(), absl::StatusCode::kNotFound) << lock.status();
  EXPECT_TRUE(Mentions(lock.status(), in_missing_dir)) << lock.status();

  EXPECT_FALSE(env_->FileExists(missing));
  EXPECT_FALSE(env_->IsDirectory(missing));
}

TEST_F(EnvTest, LockRefusedTwiceInOneProcessAndFreedByRelease) {
  const std::string path = dir_ + "/LOCK";
  auto first = env_->LockFile(path);
  KV_ASSERT_OK(first.status());
  EXPECT_TRUE(env_->FileExists(path));

  auto second = env_->LockFile(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_TRUE(Mentions(second.status(), path)) << second.status();
  // The same file by another spelling of its path is the same lock.
  auto third = env_->LockFile(dir_ + "/./LOCK");
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();

  // A lock on another file is independent.
  auto other = env_->LockFile(dir_ + "/OTHER");
  KV_EXPECT_OK(other.status());

  first->reset();
  auto again = env_->LockFile(path);
  KV_EXPECT_OK(again.status());
  // A refused attempt must not have released or damaged the holder's lock.
  auto refused = env_->LockFile(path);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  again->reset();
  KV_EXPECT_OK(env_->LockFile(path).status());
}

// The child is forked before this process takes the lock, so it has its own (empty) table of
// locked paths and only flock() can refuse it. Exit codes tell the parent what the child saw.
TEST_F(EnvTest, LockRefusedAcrossProcesses) {
  const std::string path = dir_ + "/LOCK";
  int to_child[2], to_parent[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(to_parent), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(to_child[1]);
    ::close(to_parent[0]);
    char c;
    if (::read(to_child[0], &c, 1) != 1) ::_exit(10);  // Parent holds the lock now.
    auto refused = Env::Default()->LockFile(path);
    if (refused.ok()) ::_exit(11);
    if (refused.status().code() != absl::StatusCode::kFailedPrecondition) ::_exit(12);
    if (!absl::StrContains(refused.status().message(), "another process")) ::_exit(13);
    if (::write(to_parent[1], "r", 1) != 1) ::_exit(14);
    if (::read(to_child[0], &c, 1) != 1) ::_exit(15);  // Parent has released it.
    auto taken = Env::Default()->LockFile(path);
    if (!taken.ok()) ::_exit(16);
    ::_exit(0);
  }
  ::close(to_child[0]);
  ::close(to_parent[1]);
  auto lock = env_->LockFile(path);
  KV_EXPECT_OK(lock.status());
  ASSERT_EQ(::write(to_child[1], "l", 1), 1);
  char c;
  EXPECT_EQ(::read(to_parent[0], &c, 1), 1);  // The child was refused.
  if (lock.ok()) lock->reset();
  ASSERT_EQ(::write(to_child[1], "u", 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ::close(to_child[1]);
  ::close(to_parent[0]);
  ASSERT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace kvstore
