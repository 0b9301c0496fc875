#include <cstdint>
#include <iostream>
#include <string>
#include <tuple>

#include "kvstore/kvstore.h"

int main(int argc, char** argv) {
  using Key = std::tuple<std::string, int32_t>;  // (city, year): ordered like the tuple
  const std::string dir = argc > 1 ? argv[1] : "/tmp/kvstore-quickstart";
  auto store = kvstore::KVStore<Key, double>::Open(dir).value();
  store->Set({"Oslo", 2024}, 6.9).IgnoreError();
  store->Set({"Oslo", 2025}, 7.4).IgnoreError();
  store->Set({"Lima", 2025}, 19.4, {.sync = true}).IgnoreError();   // durable on return
  std::cout << "Oslo 2025: " << store->Get({"Oslo", 2025}).value() << "\n";
  store->Delete({"Oslo", 2024}).IgnoreError();
  for (const auto& [key, celsius] : store->Scan({"A", 0}, {"P", 0})) {
    std::cout << std::get<0>(key) << " " << std::get<1>(key) << ": " << celsius << "\n";
  }
  return store->Close().ok() ? 0 : 1;
}
