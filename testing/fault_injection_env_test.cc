// Checks the power-loss model and the fault injection of FaultInjectionEnv itself: the durability
// tests are only as good as it is.
#include "testing/fault_injection_env.h"

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "testing/test_util.h"

namespace kvstore::testing {
namespace {

class FaultInjectionEnvTest : public ::testing::Test {
 protected:
  FaultInjectionEnvTest() : dir_(NewTempDir("fie")) { KV_EXPECT_OK(env_.CreateDir(dir_)); }

  std::string Path(const std::string& name) const { return dir_ + "/" + name; }

  // Creates `name` holding `synced` (made durable by Sync) followed by `unsynced`.
  void Write(const std::string& name, const std::string& synced, const std::string& unsynced = "") {
    auto file = ValueOrDie(env_.NewWritableFile(Path(name)));
    KV_ASSERT_OK(file->Append(synced));
    KV_ASSERT_OK(file->Sync());
    KV_ASSERT_OK(file->Append(unsynced));
    KV_ASSERT_OK(file->Close());
  }

  // The file's contents, or "<missing>".
  std::string Read(const std::string& name) {
    std::string contents;
    if (!Env::Default()->FileExists(Path(name))) return "<missing>";
    KV_EXPECT_OK(Env::Default()->ReadFileToString(Path(name), &contents));
    return contents;
  }

  std::string dir_;
  FaultInjectionEnv env_;
};

TEST_F(FaultInjectionEnvTest, DropTruncatesToSyncedLength) {
  Write("a", "durable", "-lost");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  EXPECT_EQ(Read("a"), "durable-lost");
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("a"), "durable");
}

TEST_F(FaultInjectionEnvTest, DropDeletesFilesWhoseCreationWasNotSyncedInTheDirectory) {
  Write("a", "synced data");
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("a"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, DropUndoesRenameOverAnExistingFile) {
  Write("MANIFEST", "old");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  Write("MANIFEST.tmp", "new");
  KV_ASSERT_OK(env_.RenameFile(Path("MANIFEST.tmp"), Path("MANIFEST")));
  EXPECT_EQ(Read("MANIFEST"), "new");
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("MANIFEST"), "old");
  EXPECT_EQ(Read("MANIFEST.tmp"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, RenameSurvivesOnceTheDirectoryIsSynced) {
  Write("MANIFEST", "old");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  Write("MANIFEST.tmp", "new", "+unsynced");
  KV_ASSERT_OK(env_.RenameFile(Path("MANIFEST.tmp"), Path("MANIFEST")));
  KV_ASSERT_OK(env_.SyncDir(dir_));
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("MANIFEST"), "new");
  EXPECT_EQ(Read("MANIFEST.tmp"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, DropBringsBackARenamedTemporaryWhoseCreationWasSynced) {
  Write("1.seg.tmp", "segment");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  KV_ASSERT_OK(env_.RenameFile(Path("1.seg.tmp"), Path("1.seg")));
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("1.seg.tmp"), "segment");
  EXPECT_EQ(Read("1.seg"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, DropUndoesUnsyncedRemoval) {
  Write("a", "keep me");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  KV_ASSERT_OK(env_.RemoveFile(Path("a")));
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("a"), "keep me");

  KV_ASSERT_OK(env_.RemoveFile(Path("a")));
  KV_ASSERT_OK(env_.SyncDir(dir_));
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("a"), "<missing>");
}

TEST_F(FaultInjectionEnvTest, FilesFoundOnDiskCountAsDurable) {
  Write("a", "x", "y");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  KV_ASSERT_OK(env_.DropUnsyncedData());
  FaultInjectionEnv fresh;
  KV_ASSERT_OK(fresh.RemoveFile(Path("a")));
  KV_ASSERT_OK(fresh.DropUnsyncedData());
  EXPECT_EQ(Read("a"), "x");
}

TEST_F(FaultInjectionEnvTest, AFailedSyncMakesLaterSyncsOfTheFileWorthless) {
  KV_ASSERT_OK(env_.SyncDir(dir_));
  Write("log", "");
  KV_ASSERT_OK(env_.SyncDir(dir_));
  auto file = ValueOrDie(env_.NewWritableFile(Path("log")));
  KV_ASSERT_OK(file->Append("one"));
  KV_ASSERT_OK(file->Sync());
  env_.FailNth(FaultKind::kSync, 1);
  KV_ASSERT_OK(file->Append("two"));
  EXPECT_FALSE(file->Sync().ok());
  KV_ASSERT_OK(file->Append("three"));
  KV_EXPECT_OK(file->Sync());  // Reports success, like Linux after a lost writeback.
  KV_ASSERT_OK(file->Close());
  EXPECT_EQ(env_.InjectedFaults(), 1u);
  KV_ASSERT_OK(env_.DropUnsyncedData());
  EXPECT_EQ(Read("log"), "one");
}

TEST_F(FaultInjectionEnvTest, FailNthFailsExactlyThatOperation) {
  env_.FailNth(FaultKind::kRename, 2, ENOSPC);
  Write("a", "1");
  Write("b", "2");
  KV_EXPECT_OK(env_.RenameFile(Path("a"), Path("c")));
  const absl::Status s = env_.RenameFile(Path("b"), Path("d"));
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find("injected"), absl::string_view::npos) << s;
  KV_EXPECT_OK(env_.RenameFile(Path("b"), Path("d")));
  EXPECT_EQ(env_.Operations(FaultKind::kRename), 3u);
}

TEST_F(FaultInjectionEnvTest, CutPowerAfterLetsThatOperationFinishAndStopsEverythingAfter) {
  env_.CutPowerAfter(FaultKind::kRename, 1);
  Write("a", "1");
  KV_EXPECT_OK(env_.RenameFile(Path("a"), Path("b")));
  EXPECT_TRUE(env_.power_cut());
  EXPECT_EQ(env_.SyncDir(dir_).code(), absl::StatusCode::kUnavailable);
  EXPECT_FALSE(env_.NewWritableFile(Path("c")).ok());
  std::string contents;
  KV_EXPECT_OK(env_.ReadFileToString(Path("b"), &contents));  // Reads still work.
  KV_ASSERT_OK(env_.DropUnsyncedData());
  env_.RestorePower();
  EXPECT_EQ(Read("b"), "<missing>");
  EXPECT_FALSE(env_.power_cut());
}

TEST_F(FaultInjectionEnvTest, SpaceLimitWritesWhatFitsThenFailsWithResourceExhausted) {
  env_.SetSpaceLimit(5);
  auto file = ValueOrDie(env_.NewWritableFile(Path("a")));
  KV_ASSERT_OK(file->Append("abc"));
  EXPECT_EQ(file->Append("defg").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(file->Append("h").code(), absl::StatusCode::kResourceExhausted);
  KV_ASSERT_OK(file->Close());
  EXPECT_EQ(Read("a"), "abcde");
}

TEST_F(FaultInjectionEnvTest, DropRefusesWhileAFileIsOpen) {
  auto file = ValueOrDie(env_.NewWritableFile(Path("a")));
  EXPECT_EQ(env_.DropUnsyncedData().code(), absl::StatusCode::kFailedPrecondition);
  file.reset();
  KV_EXPECT_OK(env_.DropUnsyncedData());
}

}  // namespace
}  // namespace kvstore::testing
