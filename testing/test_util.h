// Helpers shared by kvstore's tests: status assertions and fresh scratch directories.
#ifndef KVSTORE_TESTING_TEST_UTIL_H_
#define KVSTORE_TESTING_TEST_UTIL_H_

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <system_error>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gtest/gtest.h"

#define KV_ASSERT_OK(expr)                                  \
  do {                                                      \
    const ::absl::Status kv_test_status_ = (expr);          \
    ASSERT_TRUE(kv_test_status_.ok()) << kv_test_status_;  \
  } while (0)

#define KV_EXPECT_OK(expr)                                  \
  do {                                                      \
    const ::absl::Status kv_test_status_ = (expr);          \
    EXPECT_TRUE(kv_test_status_.ok()) << kv_test_status_;  \
  } while (0)

// `auto x = KV_ASSERT_OK_AND_VALUE(expr)` is not expressible with gtest's void-returning
// ASSERTs; tests use ValueOrDie on results they have just asserted OK.
template <typename T>
T ValueOrDie(absl::StatusOr<T> v) {
  if (!v.ok()) {
    ADD_FAILURE() << v.status();
    std::abort();
  }
  return std::move(v).value();
}

namespace kvstore::testing {

// A new empty directory under the test's temporary directory, unique per call.
inline std::string NewTempDir(const std::string& name = "store") {
  static int counter = 0;
  const char* base = std::getenv("TEST_TMPDIR");
  std::filesystem::path dir = std::filesystem::path(base != nullptr ? base : "/tmp") /
                              (name + "_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Like NewTempDir, but on a RAM-backed filesystem (/dev/shm) when there is one: for tests that
// simulate power loss themselves or only need files to outlive a process, where the disk's
// metadata syncs would only make them slow. Remove the directory when done (it holds memory).
inline std::string NewRamTempDir(const std::string& name = "store") {
  std::error_code error;
  if (!std::filesystem::is_directory("/dev/shm", error) || ::access("/dev/shm", W_OK) != 0) {
    return NewTempDir(name);
  }
  static int counter = 0;
  // Not the pid alone: Bazel's sandbox gives every test process its own PID namespace, so tests
  // running at once (--runs_per_test, or two test targets) have the same pids.
  static const unsigned process_tag = std::random_device{}();
  std::filesystem::path dir = std::filesystem::path("/dev/shm") /
                              ("kvstore_" + name + "_" + std::to_string(::getpid()) + "_" +
                               std::to_string(process_tag) + "_" + std::to_string(counter++));
  std::filesystem::remove_all(dir, error);
  return dir.string();
}

}  // namespace kvstore::testing

#endif  // KVSTORE_TESTING_TEST_UTIL_H_
