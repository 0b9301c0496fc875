// Must not compile: the prefix's element type (int64_t) is not the key's first element
// (std::string). The build must stop with ScanPrefix's static_assert, and only with it.
#include <cstdint>
#include <string>
#include <tuple>

#include "kvstore/database.h"

inline constexpr kvstore::TableDef<std::tuple<std::string, int64_t>, int32_t> kOrders{"orders"};

void Scan(kvstore::Database<>& db) {
  auto orders = db.OpenTable(kOrders).value();
  for (const auto& [key, value] : orders.ScanPrefix(std::tuple<int64_t>(7))) {
  }
}
