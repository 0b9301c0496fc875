#include "kvstore/kvstore.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using testing::NewTempDir;

TEST(KVStoreTest, SetGetDeleteAcrossFlushAndReopen) {
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(KVStore<std::string, int64_t>::Open(dir));
    KV_ASSERT_OK(store->Set("apples", 3));
    KV_ASSERT_OK(store->Set("pears", -7));
    EXPECT_EQ(ValueOrDie(store->Get("apples")), 3);
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Set("apples", 4));
    KV_ASSERT_OK(store->Delete("pears"));
    EXPECT_EQ(ValueOrDie(store->Get("apples")), 4);
    EXPECT_EQ(store->Get("pears").status().code(), absl::StatusCode::kNotFound);
  }
  auto store = ValueOrDie(KVStore<std::string, int64_t>::Open(dir));
  EXPECT_EQ(ValueOrDie(store->Get("apples")), 4);
  EXPECT_EQ(store->Get("pears").status().code(), absl::StatusCode::kNotFound);
}

TEST(KVStoreTest, ReportsTornWalTailDroppedAtOpen) {
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(KVStore<std::string, int64_t>::Open(dir));
    KV_ASSERT_OK(store->Set("kept", 1));
    EXPECT_EQ(store->GetProperty("kvstore.wal-tail-bytes-dropped"), "0");
  }
  // A write cut short: a record header promising more bytes than follow.
  std::string wal;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".wal") wal = entry.path().string();
  }
  ASSERT_FALSE(wal.empty());
  std::ofstream(wal, std::ios::app | std::ios::binary).write("\x40\0\0\0torn", 8);
  auto store = ValueOrDie(KVStore<std::string, int64_t>::Open(dir));
  EXPECT_EQ(ValueOrDie(store->Get("kept")), 1);
  EXPECT_EQ(store->GetProperty("kvstore.wal-tail-bytes-dropped"), "8");
}

}  // namespace
}  // namespace kvstore
