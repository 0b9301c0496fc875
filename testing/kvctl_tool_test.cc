// kvctl, the binary, on real stores: every subcommand's output and exit status, a store of tuple
// keys, a Database store, a store another process holds open and keeps writing, a damaged store,
// JSON that parses, and dump -> load round trips.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "kvstore/compression.h"
#include "kvstore/database.h"
#include "kvstore/kvstore.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

struct Result {
  int exit_code;
  std::string out;  // Standard output.
  std::string err;  // Standard error.
};

std::string Quote(const std::string& arg) {
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Result Kvctl(const std::vector<std::string>& args, const std::string& stdout_file = "") {
  static int counter = 0;
  const std::string base = testing::NewTempDir("kvctl_out") + std::to_string(counter++);
  const std::string out = stdout_file.empty() ? base + ".out" : stdout_file;
  std::string command = "tools/kvctl/kvctl";
  for (const std::string& arg : args) command += " " + Quote(arg);
  command += " >" + out + " 2>" + base + ".err </dev/null";
  const int status = std::system(command.c_str());
  Result result{WIFEXITED(status) ? WEXITSTATUS(status) : -1, ReadFile(out),
                ReadFile(base + ".err")};
  return result;
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

using CityKey = std::tuple<std::string, int32_t>;
using CityStore = KVStore<CityKey, double>;

// Oslo, Bergen and "Tromsø" over three years, one flushed segment and some writes in the WAL.
std::string MakeCityStore() {
  const std::string dir = testing::NewTempDir("cities");
  auto store = ValueOrDie(CityStore::Open(dir));
  double t = 0.5;
  for (const char* city : {"Bergen", "Oslo", "Troms\xc3\xb8"}) {
    for (int32_t year = 2022; year <= 2024; ++year) {
      EXPECT_TRUE(store->Set({city, year}, t).ok());
      t += 1;
    }
  }
  EXPECT_TRUE(store->Flush().ok());
  EXPECT_TRUE(store->Set({"Oslo", 2025}, -0.0).ok());
  EXPECT_TRUE(store->Set({"Oslo\"quoted\n", -1}, 1e300).ok());
  EXPECT_TRUE(store->Delete({"Bergen", 2022}).ok());
  EXPECT_TRUE(store->Close().ok());
  return dir;
}

TEST(KvctlTest, ReadsStoresOfEveryCompressionPolicy) {
  const std::string dir = testing::NewTempDir("zstd");
  {
    using ZstdStore = KVStore<int64_t, std::string, DefaultSerializer, BloomFilter<10>, Zstd<>>;
    auto store = ValueOrDie(ZstdStore::Open(dir));
    for (int64_t i = 0; i < 2000; ++i) {
      ASSERT_TRUE(store->Set(i, std::string(100, static_cast<char>('a' + i % 26))).ok());
    }
    ASSERT_TRUE(store->Flush().ok());
  }
  Result r = Kvctl({"count", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "2000\n");
  r = Kvctl({"get", dir, "27"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\"" + std::string(100, 'b') + "\"\n");
  r = Kvctl({"verify", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
}

TEST(KvctlTest, HelpUsageAndUnknownCommands) {
  Result r = Kvctl({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(Contains(r.out, "checkpoint DIR DEST")) << r.out;
  for (const char* command : {"info", "scan", "get", "count", "verify", "compact", "repair",
                              "checkpoint", "dump", "load"}) {
    r = Kvctl({command, "--help"});
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_TRUE(Contains(r.out, std::string("usage: kvctl ") + command)) << r.out;
  }
  r = Kvctl({});
  EXPECT_EQ(r.exit_code, 2);
  r = Kvctl({"frobnicate"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown command")) << r.err;
  r = Kvctl({"scan"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "expected 1 argument")) << r.err;
  r = Kvctl({"scan", "/x", "--bogus"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(Contains(r.err, "unknown option --bogus")) << r.err;
  r = Kvctl({"info", testing::NewTempDir("nothing_here")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no kvstore store")) << r.err;
}

TEST(KvctlTest, InfoOfATupleKeyStore) {
  const std::string dir = MakeCityStore();
  Result r = Kvctl({"info", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "types:          std::tuple<std::string, int32_t> -> double"))
      << r.out;
  EXPECT_TRUE(Contains(r.out, "signature \"tuple<str,i32>->f64\"")) << r.out;
  EXPECT_TRUE(Contains(r.out, "filter:         bloom10.v1")) << r.out;
  EXPECT_TRUE(Contains(r.out, "keys (\"Bergen\", 2022) .. (\"Troms\xc3\xb8\", 2024)")) << r.out;
  EXPECT_TRUE(Contains(r.out, "kvstore.num-entries")) << r.out;
  EXPECT_TRUE(Contains(r.out, "wal:")) << r.out;
}

TEST(KvctlTest, ScanGetCountOnTupleKeys) {
  const std::string dir = MakeCityStore();
  Result r = Kvctl({"count", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "10\n");  // 9 + 2 - 1 deleted.

  r = Kvctl({"scan", dir, "--prefix", "(\"Oslo\")"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "(\"Oslo\", 2022) -> 3.5\n(\"Oslo\", 2023) -> 4.5\n(\"Oslo\", 2024) -> 5.5\n"
            "(\"Oslo\", 2025) -> -0\n");
  r = Kvctl({"scan", dir, "--prefix", "\"Oslo\"", "--reverse", "--limit", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "(\"Oslo\", 2025) -> -0\n(\"Oslo\", 2024) -> 5.5\n");
  r = Kvctl({"scan", dir, "--from", "(\"Oslo\", 2024)", "--to", "(\"Troms\xc3\xb8\", 2023)",
             "--format", "tsv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "(\"Oslo\", 2024)\t5.5\n(\"Oslo\", 2025)\t-0\n(\"Oslo\\\"quoted\\n\", -1)\t1e+300\n"
            "(\"Troms\xc3\xb8\", 2022)\t6.5\n");

  r = Kvctl({"get", dir, "(\"Oslo\\\"quoted\\n\", -1)"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "1e+300\n");
  r = Kvctl({"get", dir, "(\"Bergen\", 2022)"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "not found")) << r.err;
  r = Kvctl({"get", dir, "Oslo"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "std::tuple<std::string, int32_t>")) << r.err;
  r = Kvctl({"scan", dir, "--prefix", "(\"Oslo\", \"x\")"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "int32_t")) << r.err;
  r = Kvctl({"scan", dir, "--format", "xml"});
  EXPECT_EQ(r.exit_code, 1);
}

TEST(KvctlTest, JsonOutputParses) {
  const std::string dir = MakeCityStore();
  const std::string json = testing::NewTempDir("json") + ".json";
  Result r = Kvctl({"scan", dir, "--format", "json"}, json);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string check =
      "python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); "
      "assert len(d)==10, len(d); assert d[0]==dict(key=[\"Bergen\",2023],value=1.5), d[0]; "
      "assert [\"Oslo\\\"quoted\\n\",-1] in [e[\"key\"] for e in d]; "
      "assert d[-1][\"key\"]==[\"Troms\\u00f8\",2024]' " +
      json;
  EXPECT_EQ(std::system(check.c_str()), 0) << ReadFile(json);
  const std::string empty = testing::NewTempDir("json") + ".json";
  r = Kvctl({"scan", dir, "--format", "json", "--prefix", "\"Paris\""}, empty);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(
      std::system(("python3 -c 'import json,sys; assert json.load(open(sys.argv[1]))==[]' " + empty)
                      .c_str()),
      0)
      << ReadFile(empty);
}

TEST(KvctlTest, DumpLoadRoundTripsAndCheckpointCopies) {
  const std::string dir = MakeCityStore();
  const std::string dump = testing::NewTempDir("dump") + ".tsv";
  Result r = Kvctl({"dump", dir}, dump);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(ReadFile(dump).rfind("# kvctl dump v1 types: tuple<str,i32>->f64\n", 0) == 0);

  const std::string copy = testing::NewTempDir("loaded");
  r = Kvctl({"load", copy, dump});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "loaded 10 records")) << r.out;
  {
    auto store = ValueOrDie(CityStore::Open(copy));  // Typed like the original.
    EXPECT_EQ(ValueOrDie(store->Get({"Oslo\"quoted\n", -1})), 1e300);
    EXPECT_TRUE(std::signbit(ValueOrDie(store->Get({"Oslo", 2025}))));
  }
  const std::string dump2 = testing::NewTempDir("dump") + ".tsv";
  r = Kvctl({"dump", copy}, dump2);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dump2), ReadFile(dump));

  // Loading into a store of other types is refused, naming both.
  const std::string other = testing::NewTempDir("other");
  { auto s = ValueOrDie((KVStore<int64_t, int64_t>::Open(other))); }
  r = Kvctl({"load", other, dump});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "int64_t -> int64_t")) << r.err;

  const std::string checkpoint = testing::NewTempDir("kvctl_cp");
  r = Kvctl({"checkpoint", dir, checkpoint});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string dump3 = testing::NewTempDir("dump") + ".tsv";
  r = Kvctl({"dump", checkpoint}, dump3);
  EXPECT_EQ(ReadFile(dump3), ReadFile(dump));
  r = Kvctl({"checkpoint", dir, checkpoint});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "not empty")) << r.err;
}

TEST(KvctlTest, LoadsDatagenTsvAndBinary) {
  const std::string tsv = testing::NewTempDir("records") + ".tsv";
  std::ofstream(tsv) << "key1\tvalue1\nkey2\tvalue2\n";
  const std::string bin = testing::NewTempDir("records") + ".bin";
  {
    std::ofstream out(bin, std::ios::binary);
    for (const auto& [k, v] :
         {std::pair<std::string, std::string>{"b1", std::string("x\0y", 3)}, {"b2", ""}}) {
      const uint32_t kn = k.size(), vn = v.size();
      out.write(reinterpret_cast<const char*>(&kn), 4);
      out << k;
      out.write(reinterpret_cast<const char*>(&vn), 4);
      out << v;
    }
  }
  const std::string dir = testing::NewTempDir("datagen_store");
  Result r = Kvctl({"load", dir, tsv});
  EXPECT_EQ(r.exit_code, 1);  // No dump header: the format must be named.
  EXPECT_TRUE(Contains(r.err, "--format tsv")) << r.err;
  r = Kvctl({"load", dir, tsv, "--format", "tsv"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Kvctl({"load", dir, bin, "--format=binary"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto store = ValueOrDie((KVStore<std::string, std::string>::Open(dir)));
  EXPECT_EQ(ValueOrDie(store->Get("key2")), "value2");
  EXPECT_EQ(ValueOrDie(store->Get("b1")), std::string("x\0y", 3));
  EXPECT_EQ(ValueOrDie(store->Get("b2")), "");
}

TEST(KvctlTest, DatabaseTables) {
  const std::string dir = testing::NewTempDir("kvctl_db");
  {
    auto db = ValueOrDie(Database<>::Open(dir));
    auto users = ValueOrDie(db->OpenTable(TableDef<std::string, int64_t>{"users"}));
    auto visits =
        ValueOrDie(db->OpenTable(TableDef<std::pair<int32_t, bool>, std::string>{"visits"}));
    KV_ASSERT_OK(users.Set("ada", 36));
    KV_ASSERT_OK(users.Set("bob", -7));
    KV_ASSERT_OK(visits.Set({-3, true}, "x"));
  }
  Result r = Kvctl({"info", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "users (id 1): std::string -> int64_t")) << r.out;
  EXPECT_TRUE(Contains(r.out, "visits (id 2): std::pair<int32_t, bool> -> std::string")) << r.out;
  r = Kvctl({"scan", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "--table NAME (tables: users, visits)")) << r.err;
  r = Kvctl({"scan", dir, "--table", "users"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\"ada\" -> 36\n\"bob\" -> -7\n");
  r = Kvctl({"get", dir, "(-3, true)", "--table", "visits"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "\"x\"\n");
  r = Kvctl({"count", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "users\t2\nvisits\t1\ntotal\t3\n");
  // A table dumps and loads back by name; its types must match the target table's.
  const std::string dump = testing::NewTempDir("db_dump") + ".tsv";
  r = Kvctl({"dump", dir, "--table", "users"}, dump);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(ReadFile(dump), "# kvctl dump v1 types: str->i64\n\"ada\"\t36\n\"bob\"\t-7\n");
  std::ofstream(dump, std::ios::app) << "\"cy\"\t1\n";
  r = Kvctl({"load", dir, dump, "--table", "users"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = Kvctl({"count", dir, "--table", "users"});
  EXPECT_EQ(r.out, "3\n");
  r = Kvctl({"load", dir, dump, "--table", "visits"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "std::pair<int32_t, bool> -> std::string")) << r.err;
  r = Kvctl({"scan", dir, "--table", "nope"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "no table \"nope\"")) << r.err;
}

TEST(KvctlTest, VerifyReportsDamageAndRepairSalvages) {
  const std::string dir = testing::NewTempDir("kvctl_damaged");
  {
    auto store = ValueOrDie((KVStore<std::string, std::string>::Open(dir)));
    for (int i = 0; i < 2000; ++i) {
      KV_ASSERT_OK(store->Set("key" + std::to_string(i), std::string(100, 'a' + i % 26)));
    }
    KV_ASSERT_OK(store->Flush());
  }
  Result r = Kvctl({"verify", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "intact")) << r.out;
  std::string segment;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == ".seg") segment = entry.path().string();
  }
  ASSERT_FALSE(segment.empty());
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(100);
    char c;
    f.get(c);
    f.seekp(100);
    f.put(static_cast<char>(c ^ 0x20));
  }
  r = Kvctl({"verify", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, std::filesystem::path(segment).filename().string())) << r.err;
  EXPECT_TRUE(Contains(r.err, "checksum mismatch")) << r.err;
  r = Kvctl({"repair", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "repaired; the store opens")) << r.out;
  r = Kvctl({"verify", dir});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST(KvctlTest, CompactMergesSegmentsAndNeedsTheLock) {
  const std::string dir = testing::NewTempDir("kvctl_compact");
  {
    Options options;
    options.background_compaction = false;
    auto store = ValueOrDie((KVStore<int32_t, int32_t>::Open(dir, options)));
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 100; ++i) KV_ASSERT_OK(store->Set(i, round));
      KV_ASSERT_OK(store->Flush());
    }
  }
  Result r = Kvctl({"compact", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(Contains(r.out, "3 segments")) << r.out;
  EXPECT_TRUE(Contains(r.out, "-> 1 segments")) << r.out;
  r = Kvctl({"scan", dir, "--from", "-5", "--to", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "0 -> 2\n1 -> 2\n");
  auto holder = ValueOrDie((KVStore<int32_t, int32_t>::Open(dir)));
  r = Kvctl({"compact", dir});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(Contains(r.err, "already open")) << r.err;
}

// A child process holds the store open and keeps writing (synced), reporting what it has
// written; inspection commands read it meanwhile, each seeing a consistent state.
TEST(KvctlTest, InspectsAStoreAnotherProcessHoldsOpenAndWrites) {
  const std::string dir = testing::NewTempDir("kvctl_live");
  int acks[2];
  ASSERT_EQ(::pipe(acks), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(acks[0]);
    Options options;
    options.memtable_bytes = 64 * 1024;
    auto store = KVStore<int64_t, int64_t>::Open(dir, options);
    if (!store.ok()) ::_exit(3);
    for (int64_t i = 0;; ++i) {
      KVStore<int64_t, int64_t>::WriteBatch batch;
      batch.Set(i, i * 10);
      batch.Set(-1, i);  // The counter: keys 0..counter exist.
      WriteOptions sync;
      sync.sync = i % 500 == 0;
      if (!(*store)->Write(batch, sync).ok()) ::_exit(4);
      if (i % 500 == 0 && ::write(acks[1], &i, sizeof(i)) != sizeof(i)) ::_exit(0);
    }
  }
  ::close(acks[1]);
  int64_t acked = 0;
  for (int round = 0; round < 4; ++round) {
    ASSERT_EQ(::read(acks[0], &acked, sizeof(acked)), static_cast<ssize_t>(sizeof(acked)));
    Result info = Kvctl({"info", dir});
    EXPECT_EQ(info.exit_code, 0) << info.err;
    EXPECT_TRUE(Contains(info.out, "int64_t -> int64_t")) << info.out;
    Result verify = Kvctl({"verify", dir});
    EXPECT_EQ(verify.exit_code, 0) << verify.err;
    Result count = Kvctl({"count", dir});
    ASSERT_EQ(count.exit_code, 0) << count.err;
    EXPECT_GE(std::stoll(count.out), acked + 2);  // Keys 0..acked and the counter.
    Result get = Kvctl({"get", dir, std::to_string(acked)});
    EXPECT_EQ(get.exit_code, 0) << get.err;
    EXPECT_EQ(get.out, std::to_string(acked * 10) + "\n");
    const std::string dest = testing::NewTempDir("kvctl_live_cp");
    Result cp = Kvctl({"checkpoint", dir, dest});
    ASSERT_EQ(cp.exit_code, 0) << cp.err;
    auto copy = ValueOrDie(KVStore<int64_t, int64_t>::Open(dest));
    const int64_t counter = ValueOrDie(copy->Get(-1));
    EXPECT_GE(counter, acked);
    int64_t n = 0;
    auto it = copy->NewIterator();
    for (it->Seek(0); it->Valid(); it->Next(), ++n) ASSERT_EQ(it->key(), n);
    EXPECT_EQ(n, counter + 1);
  }
  ::kill(child, SIGKILL);
  int status;
  ::waitpid(child, &status, 0);
}

}  // namespace
}  // namespace kvstore
