// tools/verify on a real store: intact -> exit 0; a flipped byte in a segment -> exit 1 naming
// the damaged file.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

struct Result {
  int exit_code;
  std::string output;
};

Result RunVerify(const std::string& dir) {
  const std::string command = "tools/verify/verify " + dir + " 2>&1";
  Result result{-1, ""};
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(VerifyToolTest, ReportsIntactStoreAndNamesDamagedSegment) {
  const std::string dir = testing::NewTempDir("verify");
  {
    auto store = ValueOrDie(KVStore<std::string, std::string>::Open(dir));
    for (int i = 0; i < 2000; ++i) {
      KV_ASSERT_OK(store->Set("key" + std::to_string(i), std::string(100, 'a' + i % 26)));
    }
    KV_ASSERT_OK(store->Flush());
  }
  Result intact = RunVerify(dir);
  EXPECT_EQ(intact.exit_code, 0) << intact.output;
  EXPECT_NE(intact.output.find("intact"), std::string::npos) << intact.output;

  std::string segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") segment = entry.path().string();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(100);
    char c;
    f.seekg(100);
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x20));
  }
  Result damaged = RunVerify(dir);
  EXPECT_EQ(damaged.exit_code, 1) << damaged.output;
  EXPECT_NE(damaged.output.find(std::filesystem::path(segment).filename().string()),
            std::string::npos)
      << damaged.output;
  EXPECT_NE(damaged.output.find("checksum mismatch"), std::string::npos) << damaged.output;
}

}  // namespace
}  // namespace kvstore
