// Runs //testing/stress:stress for a short seeded round of each mode: run mode (4 threads x 3000
// operations, Close + reopen every 1500 operations, every operation kind at least once) and crash
// mode (10 kill -9 cycles). The binary scales the counts down by 4 in sanitizer builds.
// KVSTORE_STRESS_SEED overrides the seeds.
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

extern char** environ;

namespace {

std::string StressBinary() {
  const char* srcdir = std::getenv("TEST_SRCDIR");
  const char* workspace = std::getenv("TEST_WORKSPACE");
  return absl::StrCat(srcdir != nullptr ? srcdir : ".", "/",
                      workspace != nullptr ? workspace : "kvstore", "/testing/stress/stress");
}

std::string ScratchDir(const std::string& name) {
  const char* tmp = std::getenv("TEST_TMPDIR");
  return absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/stress_", name, "_", ::getpid());
}

std::string Seed(const char* fallback) {
  const char* seed = std::getenv("KVSTORE_STRESS_SEED");
  return seed != nullptr && *seed != '\0' ? seed : fallback;
}

// Runs the stress binary with `args`; its output goes to the test log. Returns the exit status.
int RunStress(std::vector<std::string> args) {
  args.insert(args.begin(), StressBinary());
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (::posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return WEXITSTATUS(status);
}

TEST(StressTest, RunModeWithConcurrentReopens) {
  EXPECT_EQ(RunStress({"--mode=run", "--seed=" + Seed("1"), "--threads=4", "--ops=3000",
                       "--keys=2000", "--value_size=64", "--reopen_every=1500",
                       "--dir=" + ScratchDir("run")}),
            0)
      << "see the violations printed above";
}

TEST(StressTest, CrashModeKillNine) {
  EXPECT_EQ(RunStress({"--mode=crash", "--seed=" + Seed("2"), "--threads=4", "--keys=2000",
                       "--value_size=64", "--reopen_every=3000", "--crash_cycles=10",
                       "--crash_max_delay_ms=100", "--dir=" + ScratchDir("crash")}),
            0)
      << "see the violations printed above";
}

}  // namespace
