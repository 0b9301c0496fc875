// kvstore::Database: typed tables in one store, batches and snapshots across tables, ScanPrefix,
// DropTable/ListTables, the lifecycle after Close, and a model test against std::maps.
#include "kvstore/database.h"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using ::kvstore::testing::NewTempDir;
using namespace std::string_literals;

struct User {
  int32_t age;
  double score;
};

using OrderKey = std::tuple<std::string, int64_t>;

inline constexpr TableDef<std::string, User> kUsers{"users"};
inline constexpr TableDef<OrderKey, std::string> kOrders{"orders"};
inline constexpr TableDef<std::string, int64_t> kAccounts{"accounts"};

TEST(DatabaseTest, TypedTablesSetGetDelete) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto users = db->OpenTable(kUsers).value();
  auto orders = db->OpenTable(kOrders).value();
  KV_ASSERT_OK(users.Set("ada", User{36, 1.5}));
  KV_ASSERT_OK(orders.Set({"ada", 7}, "book"));
  User u = users.Get("ada").value();
  EXPECT_EQ(u.age, 36);
  EXPECT_EQ(u.score, 1.5);
  User into{};
  KV_ASSERT_OK(users.GetInto("ada", &into));
  EXPECT_EQ(into.age, 36);
  EXPECT_EQ(orders.Get({"ada", 7}).value(), "book");
  EXPECT_TRUE(absl::IsNotFound(users.Get("bob").status()));
  KV_ASSERT_OK(users.Delete("ada"));
  EXPECT_TRUE(absl::IsNotFound(users.Get("ada").status()));
  // Tables do not see each other's keys.
  auto accounts = db->OpenTable(kAccounts).value();
  KV_ASSERT_OK(accounts.Set("ada", 5));
  EXPECT_TRUE(absl::IsNotFound(users.Get("ada").status()));
  // Handles are cheap copies of one table.
  auto copy = accounts;
  EXPECT_EQ(copy.Get("ada").value(), 5);
  KV_ASSERT_OK(db->Close());
}

TEST(DatabaseTest, TypeMismatchIsFailedPrecondition) {
  const std::string dir = NewTempDir();
  {
    auto db = Database<>::Open(dir).value();
    ASSERT_TRUE(db->OpenTable(kAccounts).ok());
    constexpr TableDef<std::string, int32_t> kOther{"accounts"};
    auto other = db->OpenTable(kOther);
    ASSERT_TRUE(absl::IsFailedPrecondition(other.status())) << other.status();
    EXPECT_NE(other.status().message().find("str->i64"), std::string::npos) << other.status();
    EXPECT_NE(other.status().message().find("str->i32"), std::string::npos) << other.status();
  }
  {
    auto db = Database<>::Open(dir).value();  // The catalog survives reopening.
    constexpr TableDef<int64_t, int64_t> kOther{"accounts"};
    auto other = db->OpenTable(kOther);
    ASSERT_TRUE(absl::IsFailedPrecondition(other.status())) << other.status();
    EXPECT_NE(other.status().message().find("i64->i64"), std::string::npos) << other.status();
    EXPECT_TRUE(db->OpenTable(kAccounts).ok());
  }
}

struct OtherSerializer : DefaultSerializer {};
struct NamedSerializer : DefaultSerializer {
  template <typename T>
  static std::string KeySignature() {
    return "my" + DefaultSerializer::KeySignature<T>();
  }
  template <typename T>
  static std::string ValueSignature() {
    return "my" + DefaultSerializer::ValueSignature<T>();
  }
};

TEST(DatabaseTest, OtherSerializerIsFailedPrecondition) {
  auto db = Database<>::Open(NewTempDir()).value();
  ASSERT_TRUE(db->OpenTable(kAccounts).ok());
  constexpr TableDef<std::string, int64_t, OtherSerializer> kOther{"accounts"};
  auto other = db->OpenTable(kOther);
  EXPECT_TRUE(absl::IsFailedPrecondition(other.status())) << other.status();
  // A serializer with names of its own records exactly those.
  constexpr TableDef<std::string, int64_t, NamedSerializer> kNamed{"named"};
  auto named = db->OpenTable(kNamed).value();
  EXPECT_EQ(named.type_signature(), "mystr->myi64");
  EXPECT_EQ(named.type_signature(),
            (internal::TypeSignatureWith<NamedSerializer, std::string, int64_t>()));
  constexpr TableDef<std::string, int64_t> kNamedAsDefault{"named"};
  auto refused = db->OpenTable(kNamedAsDefault);
  ASSERT_TRUE(absl::IsFailedPrecondition(refused.status())) << refused.status();
  EXPECT_NE(refused.status().message().find("mystr->myi64"), std::string::npos);
  EXPECT_NE(refused.status().message().find("str->i64"), std::string::npos);
}

TEST(DatabaseTest, KVStoreAndDatabaseRefuseEachOthersDirectories) {
  const std::string kv_dir = NewTempDir();
  { auto store = KVStore<std::string, int64_t>::Open(kv_dir).value(); }
  EXPECT_TRUE(absl::IsFailedPrecondition(Database<>::Open(kv_dir).status()));
  const std::string db_dir = NewTempDir();
  { auto db = Database<>::Open(db_dir).value(); }
  EXPECT_TRUE(absl::IsFailedPrecondition(KVStore<std::string, int64_t>::Open(db_dir).status()));
}

TEST(DatabaseTest, BatchIsAtomicAcrossTables) {
  const std::string dir = NewTempDir();
  {
    auto db = Database<>::Open(dir).value();
    auto users = db->OpenTable(kUsers).value();
    auto orders = db->OpenTable(kOrders).value();
    KV_ASSERT_OK(orders.Set({"ada", 7}, "old"));
    Batch batch;
    batch.Set(users, "ada", User{1, 2});
    batch.Delete(orders, {"ada", 7});
    batch.Set(orders, {"ada", 8}, "new");
    EXPECT_EQ(batch.size(), 3u);
    const uint64_t records_before = std::stoull(*db->GetProperty("kvstore.wal-records"));
    KV_ASSERT_OK(db->Write(batch, {.sync = true}));
    EXPECT_EQ(std::stoull(*db->GetProperty("kvstore.wal-records")), records_before + 1);
    // A batch with a rejected operation applies nothing.
    Batch bad;
    bad.Set(users, "bob", User{3, 4});
    bad.Set(users, std::string(kMaxKeyBytes + 1, 'x'), User{});
    EXPECT_TRUE(absl::IsInvalidArgument(db->Write(bad)));
    EXPECT_TRUE(absl::IsNotFound(users.Get("bob").status()));
  }
  auto db = Database<>::Open(dir).value();
  auto users = db->OpenTable(kUsers).value();
  auto orders = db->OpenTable(kOrders).value();
  EXPECT_EQ(users.Get("ada").value().age, 1);
  EXPECT_TRUE(absl::IsNotFound(orders.Get({"ada", 7}).status()));
  EXPECT_EQ(orders.Get({"ada", 8}).value(), "new");
}

TEST(DatabaseTest, BatchOfAnotherDatabaseIsRefused) {
  auto db1 = Database<>::Open(NewTempDir()).value();
  auto db2 = Database<>::Open(NewTempDir()).value();
  auto a1 = db1->OpenTable(kAccounts).value();
  auto a2 = db2->OpenTable(kAccounts).value();
  Batch mixed;
  mixed.Set(a1, "x", 1);
  mixed.Set(a2, "x", 1);
  EXPECT_TRUE(absl::IsInvalidArgument(mixed.status()));
  Batch other;
  other.Set(a2, "x", 1);
  EXPECT_TRUE(absl::IsInvalidArgument(db1->Write(other)));
}

TEST(DatabaseTest, SnapshotAcrossTables) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto users = db->OpenTable(kUsers).value();
  auto accounts = db->OpenTable(kAccounts).value();
  KV_ASSERT_OK(users.Set("ada", User{1, 0}));
  KV_ASSERT_OK(accounts.Set("ada", 100));
  Snapshot snap = db->GetSnapshot();
  KV_ASSERT_OK(users.Set("ada", User{2, 0}));
  KV_ASSERT_OK(accounts.Set("ada", 50));
  KV_ASSERT_OK(accounts.Set("bob", 50));
  EXPECT_EQ(users.Get("ada", {.snapshot = &snap}).value().age, 1);
  EXPECT_EQ(accounts.Get("ada", {.snapshot = &snap}).value(), 100);
  EXPECT_TRUE(absl::IsNotFound(accounts.Get("bob", {.snapshot = &snap}).status()));
  int rows = 0;
  for (const auto& [key, value] : accounts.Scan("", {.snapshot = &snap})) {
    EXPECT_EQ(key, "ada");
    EXPECT_EQ(value, 100);
    ++rows;
  }
  EXPECT_EQ(rows, 1);
  EXPECT_EQ(users.Get("ada").value().age, 2);
}

TEST(DatabaseTest, IteratorAndScanStayInTheirTable) {
  auto db = Database<>::Open(NewTempDir()).value();
  constexpr TableDef<int32_t, int32_t> kA{"a"};
  constexpr TableDef<int32_t, int32_t> kB{"b"};
  constexpr TableDef<int32_t, int32_t> kC{"c"};
  auto a = db->OpenTable(kA).value();
  auto b = db->OpenTable(kB).value();
  auto c = db->OpenTable(kC).value();
  for (int i = 0; i < 10; ++i) {
    KV_ASSERT_OK(a.Set(i, i));
    KV_ASSERT_OK(b.Set(i, 100 + i));
    KV_ASSERT_OK(c.Set(i, 200 + i));
  }
  auto it = b.NewIterator();
  std::vector<int> forward, backward;
  for (it->SeekToFirst(); it->Valid(); it->Next()) forward.push_back(it->value());
  for (it->SeekToLast(); it->Valid(); it->Prev()) backward.push_back(it->value());
  KV_EXPECT_OK(it->status());
  ASSERT_EQ(forward.size(), 10u);
  ASSERT_EQ(backward.size(), 10u);
  EXPECT_EQ(forward.front(), 100);
  EXPECT_EQ(forward.back(), 109);
  EXPECT_EQ(backward.front(), 109);
  it->Seek(5);
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 5);
  int n = 0;
  for (const auto& [k, v] : b.Scan(3, 6)) {
    EXPECT_EQ(v, 100 + k);
    ++n;
  }
  EXPECT_EQ(n, 3);
  n = 0;
  for (const auto& [k, v] : b.Scan(8)) {
    EXPECT_EQ(v, 100 + k);
    ++n;
  }
  EXPECT_EQ(n, 2);
  // An empty table in the middle sees nothing.
  constexpr TableDef<int32_t, int32_t> kEmpty{"empty"};
  auto empty = db->OpenTable(kEmpty).value();
  auto eit = empty.NewIterator();
  eit->SeekToFirst();
  EXPECT_FALSE(eit->Valid());
  eit->SeekToLast();
  EXPECT_FALSE(eit->Valid());
}

TEST(DatabaseTest, ScanPrefixOnTupleKeys) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto orders = db->OpenTable(kOrders).value();
  const std::vector<std::string> names = {"ad", "ada", "ada\x00"s, "ada\xff",  std::string("\x00", 1),
                                          "adb", "\xff\xff", "ada\x00\x01"s, ""};
  for (const std::string& name : names) {
    for (int64_t n : {-1, 0, 7}) KV_ASSERT_OK(orders.Set({name, n}, name + std::to_string(n)));
  }
  for (const std::string& name : names) {
    std::vector<int64_t> seen;
    for (const auto& [key, order] : orders.ScanPrefix(std::tuple<std::string>(name))) {
      EXPECT_EQ(std::get<0>(key), name);
      EXPECT_EQ(order, name + std::to_string(std::get<1>(key)));
      seen.push_back(std::get<1>(key));
    }
    EXPECT_EQ(seen, (std::vector<int64_t>{-1, 0, 7})) << "prefix of " << name.size() << " bytes";
  }
  // The whole key as a prefix, and the first element alone.
  int n = 0;
  for (const auto& row : orders.ScanPrefix(OrderKey{"ada", 7})) (void)row, ++n;
  EXPECT_EQ(n, 1);
  n = 0;
  for (const auto& row : orders.ScanPrefix(std::string("adb"))) (void)row, ++n;
  EXPECT_EQ(n, 3);
  // String literals for a std::string element.
  n = 0;
  for (const auto& row : orders.ScanPrefix(std::make_tuple("adb"))) (void)row, ++n;
  EXPECT_EQ(n, 3);
  n = 0;
  for (const auto& row : orders.ScanPrefix("adb")) (void)row, ++n;
  EXPECT_EQ(n, 3);
  // Two leading elements of a three-element key.
  constexpr TableDef<std::tuple<int32_t, std::string, bool>, int32_t> kThree{"three"};
  auto three = db->OpenTable(kThree).value();
  KV_ASSERT_OK(three.Set({1, "a", false}, 1));
  KV_ASSERT_OK(three.Set({1, "a", true}, 2));
  KV_ASSERT_OK(three.Set({1, "ab", true}, 3));
  KV_ASSERT_OK(three.Set({2, "a", true}, 4));
  std::vector<int32_t> values;
  for (const auto& [key, value] : three.ScanPrefix(std::tuple<int32_t, std::string>(1, "a"))) {
    values.push_back(value);
  }
  EXPECT_EQ(values, (std::vector<int32_t>{1, 2}));
  values.clear();
  for (const auto& [key, value] : three.ScanPrefix(std::tuple<int32_t>(1))) values.push_back(value);
  EXPECT_EQ(values, (std::vector<int32_t>{1, 2, 3}));
}

TEST(DatabaseTest, TuplePrefixEncodingIsAByteprefix) {
  // What ScanPrefix relies on: the encoding of leading elements is a byte prefix of the key's.
  for (const std::string& s : {std::string("a\x00\xff", 3), std::string(), std::string("\xff")}) {
    std::string whole, prefix;
    DefaultSerializer::EncodeKey(std::tuple<std::string, int32_t, std::string>(s, -3, s), &whole);
    internal::KeyCodec<std::tuple<std::string>>::Encode(std::tuple<std::string>(s), &prefix);
    EXPECT_TRUE(absl::StartsWith(whole, prefix));
    std::string two;
    internal::KeyCodec<std::tuple<std::string, int32_t>>::Encode({s, -3}, &two);
    EXPECT_TRUE(absl::StartsWith(whole, two));
  }
}

TEST(DatabaseTest, ScanPrefixOnStringKeys) {
  auto db = Database<>::Open(NewTempDir()).value();
  constexpr TableDef<std::string, int32_t> kNames{"names"};
  constexpr TableDef<std::string, int32_t> kNext{"next"};
  auto names = db->OpenTable(kNames).value();
  auto next = db->OpenTable(kNext).value();
  std::map<std::string, int32_t> model;
  const std::vector<std::string> keys = {
      "a", "ab", "abc", "b", std::string("\x00", 1), std::string("\x00\x00", 2),
      std::string("\x00\xff", 2), "\xff", "\xff\xff", "\xff\x00"s, "a\xff", "a\xff\xff", "b\x00"s};
  int32_t i = 0;
  for (const std::string& k : keys) {
    KV_ASSERT_OK(names.Set(k, i));
    model[k] = i++;
  }
  KV_ASSERT_OK(next.Set(std::string("\x00", 1), 99));  // The next table's keys never leak in.
  KV_ASSERT_OK(next.Set("\xff", 99));
  for (const std::string& prefix : {std::string(), std::string("a"), std::string("\x00", 1),
                                    std::string("\xff"), std::string("\xff\xff"),
                                    std::string("a\xff"), std::string("zz")}) {
    std::vector<std::string> expected, got;
    for (const auto& [k, v] : model) {
      if (absl::StartsWith(k, prefix)) expected.push_back(k);
    }
    auto range = names.ScanPrefix(prefix);
    for (const auto& [k, v] : range) {
      EXPECT_EQ(v, model[k]);
      got.push_back(k);
    }
    KV_EXPECT_OK(range.status());
    EXPECT_EQ(got, expected) << "prefix of " << prefix.size() << " bytes";
  }
}

TEST(DatabaseTest, DropTableListTablesAndReopen) {
  const std::string dir = NewTempDir();
  {
    auto db = Database<>::Open(dir).value();
    auto users = db->OpenTable(kUsers).value();
    auto orders = db->OpenTable(kOrders).value();
    auto accounts = db->OpenTable(kAccounts).value();
    for (int i = 0; i < 3000; ++i) {
      KV_ASSERT_OK(orders.Set({"x", i}, std::string(100, 'o')));
    }
    KV_ASSERT_OK(accounts.Set("ada", 1));
    EXPECT_EQ(db->ListTables(),
              (std::vector<TableInfo>{{"accounts", "str->i64"},
                                      {"orders", "tuple<str,i64>->str"},
                                      {"users", "str->pod<16>"}}));
    KV_ASSERT_OK(db->DropTable("orders"));
    EXPECT_TRUE(absl::IsNotFound(db->DropTable("orders")));
    EXPECT_TRUE(absl::IsFailedPrecondition(orders.Get({"x", 1}).status()));
    EXPECT_TRUE(absl::IsFailedPrecondition(orders.Set({"x", 1}, "")));
    EXPECT_EQ(db->ListTables().size(), 2u);
    // The name can be used again, with other types, and starts empty.
    constexpr TableDef<int32_t, int32_t> kNewOrders{"orders"};
    auto fresh = db->OpenTable(kNewOrders).value();
    int n = 0;
    for (const auto& kv : fresh.Scan(0)) (void)kv, ++n;
    EXPECT_EQ(n, 0);
    KV_ASSERT_OK(fresh.Set(1, 1));
    // The space comes back once compacted.
    KV_ASSERT_OK(db->Compact());
    EXPECT_LT(std::stoull(*db->GetProperty("kvstore.total-bytes")), 100000u);
  }
  auto db = Database<>::Open(dir).value();
  EXPECT_EQ(db->ListTables(), (std::vector<TableInfo>{{"accounts", "str->i64"},
                                                      {"orders", "i32->i32"},
                                                      {"users", "str->pod<16>"}}));
  constexpr TableDef<int32_t, int32_t> kNewOrders{"orders"};
  auto fresh = db->OpenTable(kNewOrders).value();
  EXPECT_EQ(fresh.Get(1).value(), 1);
  EXPECT_EQ(db->OpenTable(kAccounts).value().Get("ada").value(), 1);
}

TEST(DatabaseTest, EveryCallAfterCloseIsFailedPrecondition) {
  auto db = Database<>::Open(NewTempDir()).value();
  auto accounts = db->OpenTable(kAccounts).value();
  KV_ASSERT_OK(accounts.Set("ada", 1));
  auto it = accounts.NewIterator();
  Transaction txn = db->BeginTransaction();
  ASSERT_TRUE(txn.Get(accounts, "ada").ok());
  KV_ASSERT_OK(db->Close());
  KV_ASSERT_OK(db->Close());
  EXPECT_TRUE(absl::IsFailedPrecondition(accounts.Set("ada", 2)));
  EXPECT_TRUE(absl::IsFailedPrecondition(accounts.Get("ada").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(accounts.Delete("ada")));
  int64_t v;
  EXPECT_TRUE(absl::IsFailedPrecondition(accounts.GetInto("ada", &v)));
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status()));
  auto range = accounts.Scan("");
  EXPECT_TRUE(range.begin() == range.end());
  EXPECT_TRUE(absl::IsFailedPrecondition(range.status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn.Get(accounts, "ada").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn.Set(accounts, "ada", 3)));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn.Scan(accounts, "", "z").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn.Commit()));
  Batch batch;
  batch.Set(accounts, "ada", 4);
  EXPECT_TRUE(absl::IsFailedPrecondition(db->Write(batch)));
  EXPECT_TRUE(absl::IsFailedPrecondition(db->OpenTable(kUsers).status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(db->DropTable("accounts")));
  Transaction late = db->BeginTransaction();
  EXPECT_TRUE(absl::IsFailedPrecondition(late.Get(accounts, "ada").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(late.Commit()));
  EXPECT_TRUE(absl::IsFailedPrecondition(
      db->RunTransaction([&](Transaction& t) { return t.Set(accounts, "x", 1); })));
  EXPECT_TRUE(db->ListTables().empty());
  Snapshot snap = db->GetSnapshot();
  EXPECT_FALSE(snap.valid());
  EXPECT_FALSE(accounts.Get("ada", {.snapshot = &snap}).ok());
}

TEST(DatabaseTest, HandlesOutliveTheDatabase) {
  std::optional<Table<std::string, int64_t>> accounts;
  std::optional<Transaction> txn;
  {
    auto db = Database<>::Open(NewTempDir()).value();
    accounts = db->OpenTable(kAccounts).value();
    txn.emplace(db->BeginTransaction());
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(accounts->Get("ada").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn->Set(*accounts, "ada", 1)));
  EXPECT_TRUE(absl::IsFailedPrecondition(txn->Commit()));
  txn.reset();
}

// Several tables, written by single writes, batches and transactions, read at snapshots and
// after reopening, checked against std::maps.
TEST(DatabaseTest, ModelTestOverSeveralTables) {
  const std::string dir = NewTempDir();
  std::mt19937_64 rng(42);
  constexpr int kTables = 3;
  const TableDef<int32_t, std::string> defs[kTables] = {TableDef<int32_t, std::string>("t0"),
                                                        TableDef<int32_t, std::string>("t1"),
                                                        TableDef<int32_t, std::string>("t2")};
  std::map<int32_t, std::string> model[kTables];
  Options options;
  options.memtable_bytes = 16 << 10;  // Flushes and compactions happen.
  for (int round = 0; round < 4; ++round) {
    auto db = Database<>::Open(dir, options).value();
    std::vector<Table<int32_t, std::string>> tables;
    for (const auto& def : defs) tables.push_back(db->OpenTable(def).value());
    auto check = [&](const std::map<int32_t, std::string>* expected, const Snapshot* snap) {
      for (int t = 0; t < kTables; ++t) {
        std::map<int32_t, std::string> got;
        for (const auto& [k, v] : tables[t].Scan(INT32_MIN, {.snapshot = snap})) got[k] = v;
        ASSERT_EQ(got, expected[t]) << "table " << t;
      }
    };
    check(model, nullptr);
    for (int step = 0; step < 400; ++step) {
      const int t = rng() % kTables;
      const int32_t key = rng() % 50;
      const std::string value = std::to_string(rng() % 1000);
      switch (rng() % 5) {
        case 0:
          KV_ASSERT_OK(tables[t].Set(key, value));
          model[t][key] = value;
          break;
        case 1:
          KV_ASSERT_OK(tables[t].Delete(key));
          model[t].erase(key);
          break;
        case 2: {
          Batch batch;
          for (int i = 0; i < 5; ++i) {
            const int tt = rng() % kTables;
            const int32_t kk = rng() % 50;
            if (rng() % 3 == 0) {
              batch.Delete(tables[tt], kk);
              model[tt].erase(kk);
            } else {
              batch.Set(tables[tt], kk, value);
              model[tt][kk] = value;
            }
          }
          KV_ASSERT_OK(db->Write(batch));
          break;
        }
        case 3: {
          // A transaction that moves a value between tables.
          const int to = rng() % kTables;
          KV_ASSERT_OK(db->RunTransaction([&](Transaction& txn) -> absl::Status {
            absl::StatusOr<std::string> v = txn.Get(tables[t], key);
            if (absl::IsNotFound(v.status())) return txn.Set(tables[to], key, value);
            KV_RETURN_IF_ERROR(v.status());
            KV_RETURN_IF_ERROR(txn.Delete(tables[t], key));
            return txn.Set(tables[to], key, *v + "m");
          }));
          auto it = model[t].find(key);
          if (it == model[t].end()) {
            model[to][key] = value;
          } else {
            std::string moved = it->second + "m";
            model[t].erase(it);
            model[to][key] = moved;
          }
          break;
        }
        case 4: {
          Snapshot snap = db->GetSnapshot();
          std::map<int32_t, std::string> frozen[kTables] = {model[0], model[1], model[2]};
          KV_ASSERT_OK(tables[0].Set(1000, "later"));
          model[0][1000] = "later";
          check(frozen, &snap);
          break;
        }
      }
    }
    check(model, nullptr);
    KV_ASSERT_OK(db->Close());
  }
}

}  // namespace
}  // namespace kvstore
