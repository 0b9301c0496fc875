// `--name=value` flags for the small benchmark binaries that take a handful of them (the
// Google Benchmark ones use its own flags): a flag that does not parse ends the program with
// exit code 2 and a message naming it, as a usage error should.
#ifndef KVSTORE_BENCHMARKS_FLAG_PARSING_H_
#define KVSTORE_BENCHMARKS_FLAG_PARSING_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"

namespace kvstore::bench {

// True if `arg` is `--<name>=...`, with the value stored in `*value`.
inline bool ParseFlag(const char* arg, const char* name, uint64_t* value) {
  const std::string prefix = std::string("--") + name + "=";
  if (!absl::StartsWith(arg, prefix)) return false;
  if (!absl::SimpleAtoi(arg + prefix.size(), value)) {
    std::fprintf(stderr, "bad value in %s (expected a non-negative integer)\n", arg);
    std::exit(2);
  }
  return true;
}

inline bool ParseFlag(const char* arg, const char* name, std::string* value) {
  const std::string prefix = std::string("--") + name + "=";
  if (!absl::StartsWith(arg, prefix)) return false;
  *value = arg + prefix.size();
  return true;
}

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_FLAG_PARSING_H_
