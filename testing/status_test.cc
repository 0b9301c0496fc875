#include "kvstore/status.h"

#include "gtest/gtest.h"

namespace kvstore {
namespace {

absl::StatusOr<int> Half(int n) {
  if (n % 2 != 0) return absl::InvalidArgumentError("odd");
  return n / 2;
}

absl::Status Quarter(int n, int* out) {
  KV_ASSIGN_OR_RETURN(int half, Half(n));
  KV_ASSIGN_OR_RETURN(*out, Half(half));
  return absl::OkStatus();
}

absl::Status FailIfOdd(int n) {
  KV_RETURN_IF_ERROR(Half(n).status());
  return absl::OkStatus();
}

TEST(StatusMacrosTest, AssignOrReturnBindsValueOrPropagatesError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  absl::Status status = Quarter(6, &out);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "odd");
}

TEST(StatusMacrosTest, ReturnIfErrorPropagates) {
  EXPECT_TRUE(FailIfOdd(4).ok());
  EXPECT_EQ(FailIfOdd(3).code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvstore
