#include "kvstore/kvstore.h"

#include <cstdint>
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

}  // namespace
}  // namespace kvstore
