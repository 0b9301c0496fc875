// kvstore_verify: checks every checksum of a store directory (manifest, segments, WALs) without
// opening it for writing, and reports each damaged file. Exit status: 0 intact, 1 damaged or
// unreadable, 2 usage.
#include <cstdio>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "kvstore/filter.h"
#include "kvstore/internal/engine.h"
#include "kvstore/internal/manifest.h"

namespace {

// Segments name the filter policy they were built with; pick the matching instantiation.
template <int... Bits>
absl::Status VerifyWithFilter(kvstore::Env* env, const std::string& dir, const std::string& name,
                              std::integer_sequence<int, Bits...>) {
  if (name == kvstore::NoFilter::Name()) return kvstore::internal::VerifyStoreFiles<kvstore::NoFilter>(env, dir);
  absl::Status result = absl::UnimplementedError(
      absl::StrCat("store uses filter \"", name, "\", which this tool does not know"));
  (void)((name == kvstore::BloomFilter<Bits + 1>::Name()
              ? (result = kvstore::internal::VerifyStoreFiles<kvstore::BloomFilter<Bits + 1>>(env, dir), true)
              : false) ||
         ...);
  return result;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: verify STORE_DIR\n");
    return 2;
  }
  std::string dir = argv[1];
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd != nullptr && dir[0] != '/') {
    dir = std::string(cwd) + "/" + dir;
  }
  kvstore::Env* env = kvstore::Env::Default();
  kvstore::internal::Manifest manifest;
  absl::Status s = kvstore::internal::ReadManifest(env, dir, &manifest);
  if (s.ok()) {
    s = VerifyWithFilter(env, dir, manifest.filter_name, std::make_integer_sequence<int, 64>());
  }
  if (!s.ok()) {
    std::fprintf(stderr, "%s: damaged or unreadable\n", dir.c_str());
    for (absl::string_view problem : absl::StrSplit(s.message(), "; ")) {
      std::fprintf(stderr, "  %.*s\n", static_cast<int>(problem.size()), problem.data());
    }
    return 1;
  }
  std::printf("%s: intact (%zu segments in %zu sorted runs, types \"%s\", filter \"%s\")\n",
              dir.c_str(), manifest.SegmentNumbers().size(), manifest.runs.size(),
              manifest.type_signature.c_str(), manifest.filter_name.c_str());
  return 0;
}
