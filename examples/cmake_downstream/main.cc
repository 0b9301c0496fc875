// A downstream CMake program: writes to a kvstore in a new temporary directory, reads every
// value back (before and after reopening the store), and exits non-zero on any mismatch, so a
// broken package or build fails loudly instead of printing something plausible.
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <iostream>
#include <string>
#include <tuple>

#include "kvstore/kvstore.h"

namespace {

using Key = std::tuple<std::string, int32_t>;
using Store = kvstore::KVStore<Key, double>;

constexpr int kYears = 100;

double Expected(int year) { return year * 0.25; }

// Reads back every value written; returns false after printing what differed.
bool Verify(const Store& store, const char* when) {
  for (int year = 0; year < kYears; ++year) {
    absl::StatusOr<double> value = store.Get({"Oslo", year});
    if (!value.ok() || *value != Expected(year)) {
      std::cerr << "mismatch " << when << " at (Oslo, " << year << "): "
                << (value.ok() ? std::to_string(*value) : value.status().ToString()) << "\n";
      return false;
    }
  }
  return true;
}

}  // namespace

int main() {
  std::string dir_template = (std::filesystem::temp_directory_path() / "kvstore-cmake-XXXXXX").string();
  if (mkdtemp(dir_template.data()) == nullptr) {
    std::cerr << "mkdtemp failed for " << dir_template << "\n";
    return 1;
  }
  const std::string dir = dir_template;
  bool ok = true;
  {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir);
    if (!store.ok()) {
      std::cerr << "open " << dir << ": " << store.status() << "\n";
      return 1;
    }
    for (int year = 0; year < kYears; ++year) {
      absl::Status status = (*store)->Set({"Oslo", year}, Expected(year));
      if (!status.ok()) {
        std::cerr << "set: " << status << "\n";
        return 1;
      }
    }
    ok = Verify(**store, "before reopening");
    absl::Status closed = (*store)->Close();
    if (!closed.ok()) {
      std::cerr << "close: " << closed << "\n";
      ok = false;
    }
  }
  if (ok) {
    absl::StatusOr<std::unique_ptr<Store>> store = Store::Open(dir);
    ok = store.ok() && Verify(**store, "after reopening");
    if (!store.ok()) std::cerr << "reopen " << dir << ": " << store.status() << "\n";
  }
  std::filesystem::remove_all(dir);
  std::cout << (ok ? "cmake_downstream: wrote and read back " : "cmake_downstream: FAILED after ")
            << kYears << " values\n";
  return ok ? 0 : 1;
}
