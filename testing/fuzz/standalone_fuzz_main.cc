// A main() for fuzz targets built without libFuzzer (gcc, or any build but --config=fuzz): runs
// LLVMFuzzerTestOneInput once over each file named on the command line, and over every file in
// each directory named. The corpus tests use it to replay the seed corpus as a regression test.
// Arguments starting with '-' (libFuzzer flags) are ignored, so the same command line works for
// both builds.
#include <sys/resource.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "testing/sanitizers.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

bool RunFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    return false;
  }
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // An allocation of exactly the input's size, as libFuzzer passes it, so that AddressSanitizer
  // (under --config=asan) reports a read one byte past the end.
  std::unique_ptr<uint8_t[]> copy(new uint8_t[bytes.size()]);
  std::copy(bytes.begin(), bytes.end(), copy.get());
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
  return true;
}

// libFuzzer fails an input that allocates more than 2 GB (-malloc_limit_mb); a plain build would
// often get the memory and pass. Without a sanitizer (they reserve terabytes of address space for
// shadow memory), a 4 GB cap on the address space makes such an allocation throw std::bad_alloc
// here too, so an out-of-memory regression input keeps failing if its bug comes back.
void LimitAddressSpace() {
  if (KVSTORE_SANITIZED) return;
  constexpr rlim_t kLimit = rlim_t{4} << 30;
  struct rlimit limit;
  if (getrlimit(RLIMIT_AS, &limit) == 0 && (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > kLimit)) {
    limit.rlim_cur = kLimit;
    setrlimit(RLIMIT_AS, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  LimitAddressSpace();
  std::vector<std::filesystem::path> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.empty() || arg[0] == '-') continue;
    std::error_code error;
    if (std::filesystem::is_directory(arg, error)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
    } else {
      files.emplace_back(arg);
    }
  }
  if (files.empty()) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIR... (no inputs given)\n", argv[0]);
    return 2;
  }
  size_t ran = 0;
  for (const auto& file : files) {
    if (!RunFile(file)) return 1;
    ++ran;
  }
  std::printf("%s: ran %zu inputs, all passed\n", std::filesystem::path(argv[0]).filename().c_str(), ran);
  return 0;
}
