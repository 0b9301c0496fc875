#include <cstdint>
#include <cstdlib>
#include <string>

#include "gtest/gtest.h"
#include "kvstore/kvstore.h"

TEST(DownstreamTest, TypedStoreRoundTripsAndReopens) {
  const std::string dir = std::string(std::getenv("TEST_TMPDIR")) + "/store";
  {
    auto store = kvstore::KVStore<std::string, int64_t>::Open(dir).value();
    ASSERT_TRUE(store->Set("widgets", 42).ok());
    ASSERT_TRUE(store->Flush().ok());
    ASSERT_TRUE(store->Set("gadgets", -1).ok());
  }
  auto store = kvstore::KVStore<std::string, int64_t>::Open(dir).value();
  EXPECT_EQ(store->Get("widgets").value(), 42);
  EXPECT_EQ(store->Get("gadgets").value(), -1);
  EXPECT_EQ(store->Get("sprockets").status().code(), absl::StatusCode::kNotFound);
}
