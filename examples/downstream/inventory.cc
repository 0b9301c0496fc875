// A downstream program: counts items per (shelf, item) in a kvstore.
#include <cstdint>
#include <iostream>
#include <string>
#include <utility>

#include "kvstore/kvstore.h"

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/kvstore-inventory";
  using Store = kvstore::KVStore<std::pair<int32_t, std::string>, int64_t>;
  auto store = Store::Open(dir);
  if (!store.ok()) {
    std::cerr << store.status() << "\n";
    return 1;
  }
  (*store)->Set({1, "bolts"}, 120).IgnoreError();
  (*store)->Set({1, "nuts"}, 300).IgnoreError();
  (*store)->Set({2, "washers"}, 75).IgnoreError();
  for (const auto& [key, count] : (*store)->Scan({1, ""})) {
    std::cout << "shelf " << key.first << " " << key.second << ": " << count << "\n";
  }
  return 0;
}
