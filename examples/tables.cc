#include <cstdint>
#include <iostream>
#include <string>
#include <tuple>

#include "kvstore/database.h"

struct User {
  int32_t age;
};
inline constexpr kvstore::TableDef<std::string, User> kUsers{"users"};
inline constexpr kvstore::TableDef<std::tuple<std::string, int64_t>, double> kOrders{"orders"};
inline constexpr kvstore::TableDef<std::string, int64_t> kAccounts{"accounts"};

int main(int argc, char** argv) {
  const std::string dir = argc > 1 ? argv[1] : "/tmp/kvstore-tables";
  auto db = kvstore::Database<>::Open(dir).value();
  auto users = db->OpenTable(kUsers).value();
  auto orders = db->OpenTable(kOrders).value();
  auto accounts = db->OpenTable(kAccounts).value();

  kvstore::Batch batch;  // atomic across tables, one WAL record
  batch.Set(users, "ada", User{36});
  batch.Set(orders, {"ada", 1}, 9.5);
  batch.Set(orders, {"ada", 2}, 20.0);
  batch.Set(accounts, "ada", 100);
  batch.Set(accounts, "bob", 0);
  if (!db->Write(batch, {.sync = true}).ok()) return 1;

  for (const auto& [key, total] : orders.ScanPrefix(std::tuple<std::string>("ada"))) {
    std::cout << "order " << std::get<1>(key) << ": " << total << "\n";
  }

  absl::Status s = db->RunTransaction([&](kvstore::Transaction& txn) -> absl::Status {
    KV_ASSIGN_OR_RETURN(int64_t from, txn.Get(accounts, "ada"));   // tracked read
    KV_ASSIGN_OR_RETURN(int64_t to, txn.Get(accounts, "bob"));
    KV_RETURN_IF_ERROR(txn.Set(accounts, "ada", from - 10));
    return txn.Set(accounts, "bob", to + 10);   // commits, or retries on a conflict
  });
  std::cout << "transfer: " << s << ", bob has " << accounts.Get("bob").value() << "\n";
  return s.ok() && db->Close().ok() ? 0 : 1;
}
