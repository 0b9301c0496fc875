// kvstore_repair: rebuilds a damaged store from every record whose checksum holds (kvstore::Repair
// with the default filter), moves the original files into STORE_DIR/lost/, prints what was kept
// and dropped, then opens the repaired store to check it. Exit status: 0 repaired and opens,
// 1 failed, 2 usage.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "kvstore/filter.h"
#include "kvstore/internal/engine.h"
#include "kvstore/options.h"
#include "kvstore/repair.h"

namespace {

constexpr char kUsage[] =
    "usage: repair STORE_DIR\n"
    "\n"
    "Rebuilds the kvstore store in STORE_DIR from every record whose checksum holds: use it when\n"
    "the store no longer opens (a damaged MANIFEST, segment or write-ahead log). The original\n"
    "files are moved into STORE_DIR/lost/; the report lists, file by file, the records kept and\n"
    "the byte ranges dropped. The store must not be open (its LOCK is taken). Stores written\n"
    "with a filter other than the default (bloom, 10 bits per key) are refused.\n"
    "\n"
    "Exit status: 0 repaired (and the repaired store opens), 1 failed, 2 usage.\n";

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (argc != 2 || argv[1][0] == '-') {
    std::fputs(kUsage, stderr);
    return 2;
  }
  std::string dir = argv[1];
  if (const char* cwd = std::getenv("BUILD_WORKING_DIRECTORY"); cwd != nullptr && dir[0] != '/') {
    dir = std::string(cwd) + "/" + dir;
  }
  absl::StatusOr<kvstore::RepairReport> report = kvstore::Repair(dir);
  if (!report.ok()) {
    std::fprintf(stderr, "%s: repair failed: %s\n", dir.c_str(),
                 std::string(report.status().message()).c_str());
    return 1;
  }
  std::fputs(report->ToString().c_str(), stdout);

  // The proof of a repair: the store opens. An empty type signature opens it as any types.
  kvstore::Options options;
  options.create_if_missing = false;
  auto engine = kvstore::internal::Engine<kvstore::BloomFilter<10>>::Open(dir, options, "");
  absl::Status s = engine.ok() ? (*engine)->Close() : engine.status();
  if (!s.ok()) {
    std::fprintf(stderr, "%s: the repaired store does not open: %s\n", dir.c_str(),
                 std::string(s.message()).c_str());
    return 1;
  }
  std::printf("%s: repaired; the store opens\n", dir.c_str());
  return 0;
}
