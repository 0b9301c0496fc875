// Tests of kvstore::Repair (kvstore/repair.h) and tools/repair: every kind of damage it is meant
// for (a data block, a segment's index or footer, the middle of a WAL, the MANIFEST), what it keeps
// and what it reports dropped, the originals moved to lost/, the lock, a power cut at every step of
// a repair, the bound on scanning damaged bytes, and the command-line tool. Each test reads the
// repaired store back and compares it with what was written.
#include "kvstore/repair.h"

#include <sys/wait.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/hash.h"
#include "kvstore/kvstore.h"
#include "testing/fault_injection_env.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

namespace fs = std::filesystem;
using Store = KVStore<std::string, std::string>;
using Model = std::map<std::string, std::string>;

std::string Key(int i) { return absl::StrFormat("key%05d", i); }
std::string Value(int i, int version = 0) {
  return absl::StrCat("value ", i, " version ", version, " ", std::string(80, 'a' + i % 26));
}

Model ReadAll(const Store& store) {
  Model out;
  auto it = store.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key()] = it->value();
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// The first difference between two models, or "" if they are equal (a failure prints one line,
// not two thousand).
std::string Difference(const Model& expected, const Model& actual) {
  for (const auto& [key, value] : expected) {
    auto it = actual.find(key);
    if (it == actual.end()) return absl::StrCat("missing ", key);
    if (it->second != value) return absl::StrCat(key, " is \"", it->second, "\", not \"", value, "\"");
  }
  for (const auto& [key, value] : actual) {
    if (expected.count(key) == 0) return absl::StrCat("unexpected ", key);
  }
  return "";
}

// Opens `dir`, checks every checksum and that it holds exactly `expected`.
void ExpectStoreHolds(const std::string& dir, const Model& expected) {
  auto store = Store::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  KV_EXPECT_OK((*store)->Verify());
  EXPECT_EQ(Difference(expected, ReadAll(**store)), "");
  KV_EXPECT_OK((*store)->Close());
}

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<std::string> NamesEndingIn(const std::string& dir, const std::string& suffix) {
  std::vector<std::string> names;
  for (const std::string& name : Names(dir)) {
    if (absl::EndsWith(name, suffix)) names.push_back(name);
  }
  return names;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << contents;
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string contents = ReadFile(path);
  ASSERT_LT(offset, contents.size()) << path;
  contents[offset] ^= 0x5a;
  WriteFile(path, contents);
}

// Offset and length (header included) of every record of a WAL file, by its length fields.
std::vector<std::pair<uint64_t, uint64_t>> WalRecords(const std::string& path) {
  const std::string contents = ReadFile(path);
  std::vector<std::pair<uint64_t, uint64_t>> records;
  uint64_t offset = 0;
  while (offset + 12 <= contents.size()) {
    const uint32_t length = internal::DecodeFixed32(contents.data() + offset);
    if (length == 0) break;
    records.emplace_back(offset, 12 + length);
    offset += 12 + length;
  }
  return records;
}

// The footer's fields of a segment: filter offset, index offset, index size.
struct Footer {
  uint64_t size, filter_offset, index_offset, index_size;
};
Footer ReadFooter(const std::string& path) {
  const std::string contents = ReadFile(path);
  const char* f = contents.data() + contents.size() - 52;
  return {contents.size(), internal::DecodeFixed64(f), internal::DecodeFixed64(f + 16),
          internal::DecodeFixed64(f + 24)};
}

// Prints a report into the test's log, as tools/repair would.
void Show(const absl::StatusOr<RepairReport>& report) {
  if (report.ok()) std::printf("%s", report->ToString().c_str());
}

const RepairReport::File* FindFile(const RepairReport& report, const std::string& name) {
  for (const RepairReport::File& f : report.files) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// A store whose keys 0..n-1 are all in one segment (a single flush), and nothing in a WAL.
Model WriteOneSegment(const std::string& dir, int n) {
  Model model;
  auto store = ValueOrDie(Store::Open(dir));
  for (int i = 0; i < n; ++i) {
    EXPECT_TRUE(store->Set(Key(i), Value(i)).ok());
    model[Key(i)] = Value(i);
  }
  EXPECT_TRUE(store->Flush().ok());
  EXPECT_TRUE(store->Close().ok());
  return model;
}

std::string OnlySegment(const std::string& dir) {
  const std::vector<std::string> segments = NamesEndingIn(dir, ".seg");
  EXPECT_EQ(segments.size(), 1u);
  return segments.empty() ? "" : segments.front();
}

// After a repair of damage to one block: every key is either intact or gone, the ones gone are
// one run of consecutive keys (one block's), and as many as the report says were dropped.
void ExpectOneBlockLost(const std::string& dir, const Model& written, uint64_t reported_dropped) {
  auto store = ValueOrDie(Store::Open(dir));
  KV_EXPECT_OK(store->Verify());
  const Model actual = ReadAll(*store);
  KV_EXPECT_OK(store->Close());
  std::vector<int> missing;
  int i = 0;
  for (const auto& [key, value] : written) {
    auto it = actual.find(key);
    if (it == actual.end()) {
      missing.push_back(i);
    } else {
      EXPECT_EQ(it->second, value) << key;
    }
    ++i;
  }
  EXPECT_EQ(actual.size() + missing.size(), written.size());
  ASSERT_FALSE(missing.empty());
  EXPECT_EQ(missing.size(), reported_dropped);
  EXPECT_EQ(missing.back() - missing.front() + 1, static_cast<int>(missing.size()))
      << "the keys lost are not one block's";
  EXPECT_LT(missing.size(), 100u) << "more than a block's worth lost";
}

// (a) An undamaged store (several segments and sorted runs, overwrites, deletions, writes still in
// the WAL) repairs with every record: nothing dropped, the same contents, the types kept.
TEST(RepairTest, UndamagedStoreKeepsEverything) {
  const std::string dir = testing::NewTempDir("repair_intact");
  Model model;
  {
    Options options;
    options.memtable_bytes = 64 << 10;  // Several flushes, and compactions.
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 3000; ++i) {
      KV_ASSERT_OK(store->Set(Key(i), Value(i)));
      model[Key(i)] = Value(i);
    }
    for (int i = 0; i < 3000; i += 6) {
      KV_ASSERT_OK(store->Set(Key(i), Value(i, 1)));
      model[Key(i)] = Value(i, 1);
    }
    for (int i = 1; i < 3000; i += 10) {
      KV_ASSERT_OK(store->Delete(Key(i)));
      model.erase(Key(i));
    }
    KV_ASSERT_OK(store->WaitForBackgroundWork());
    // The last writes stay in the WAL only.
    for (int i = 3000; i < 3050; ++i) {
      KV_ASSERT_OK(store->Set(Key(i), Value(i)));
      model[Key(i)] = Value(i);
    }
    KV_ASSERT_OK(store->Set(Key(0), Value(0, 2)));
    model[Key(0)] = Value(0, 2);
    KV_ASSERT_OK(store->Close());
  }
  ASSERT_FALSE(NamesEndingIn(dir, ".seg").empty());
  ASSERT_FALSE(NamesEndingIn(dir, ".wal").empty());

  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  EXPECT_TRUE(report->manifest_readable);
  EXPECT_EQ(report->records_dropped, 0u) << report->ToString();
  EXPECT_TRUE(report->records_dropped_exact);
  EXPECT_EQ(report->bytes_dropped, 0u);
  EXPECT_GT(report->records_kept, model.size());
  EXPECT_EQ(report->records_written + report->duplicates, report->records_kept);
  for (const RepairReport::File& f : report->files) {
    EXPECT_TRUE(f.dropped.empty()) << f.name;
    EXPECT_EQ(f.records_dropped, 0u) << f.name;
  }
  const std::string signature =
      internal::TypeSignatureWith<DefaultSerializer, std::string, std::string>();
  EXPECT_EQ(report->type_signature, signature);
  ExpectStoreHolds(dir, model);
  // The type signature survived: the store still refuses to open as other types.
  auto as_other_types = KVStore<std::string, int64_t>::Open(dir);
  EXPECT_EQ(as_other_types.status().code(), absl::StatusCode::kFailedPrecondition);
}

// (b) A flipped byte in a data block: Open works but the block fails its checksum; Repair drops
// that block's records only, says where, and the store verifies afterwards.
TEST(RepairTest, DamagedDataBlockLosesOnlyThatBlock) {
  const std::string dir = testing::NewTempDir("repair_block");
  const Model model = WriteOneSegment(dir, 2000);
  const std::string segment = OnlySegment(dir);
  const uint64_t flipped = 50000;
  ASSERT_LT(flipped, ReadFooter(dir + "/" + segment).filter_offset);
  FlipByte(dir + "/" + segment, flipped);
  {
    auto store = ValueOrDie(Store::Open(dir));
    EXPECT_EQ(store->Verify().code(), absl::StatusCode::kDataLoss);
  }

  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  const RepairReport::File* f = FindFile(*report, segment);
  ASSERT_NE(f, nullptr) << report->ToString();
  ASSERT_EQ(f->dropped.size(), 1u) << report->ToString();
  EXPECT_LE(f->dropped[0].offset, flipped);
  EXPECT_GT(f->dropped[0].offset + f->dropped[0].length, flipped);
  EXPECT_LE(f->dropped[0].length, 8192u);
  EXPECT_TRUE(absl::StrContains(f->dropped[0].reason, "checksum mismatch")) << f->dropped[0].reason;
  EXPECT_TRUE(f->records_dropped_exact);
  EXPECT_EQ(f->records_kept + f->records_dropped, 2000u);
  EXPECT_EQ(report->records_dropped, f->records_dropped);
  ExpectOneBlockLost(dir, model, f->records_dropped);
}

// (c) A damaged footer or index makes Open fail. Blocks are found without them: with the footer
// damaged, the index by its checksum; with the index damaged, by scanning block after block.
TEST(RepairTest, DamagedFooterOrIndexKeepsEveryBlock) {
  for (const bool footer : {true, false}) {
    SCOPED_TRACE(footer ? "footer" : "index");
    const std::string dir = testing::NewTempDir("repair_index");
    const Model model = WriteOneSegment(dir, 2000);
    const std::string segment = OnlySegment(dir);
    const Footer layout = ReadFooter(dir + "/" + segment);
    FlipByte(dir + "/" + segment,
             footer ? layout.size - 20 : layout.index_offset + layout.index_size / 2);
    EXPECT_EQ(Store::Open(dir).status().code(), absl::StatusCode::kDataLoss);

    auto report = Repair(dir);
    ASSERT_TRUE(report.ok()) << report.status();
    Show(report);
    const RepairReport::File* f = FindFile(*report, segment);
    ASSERT_NE(f, nullptr);
    EXPECT_EQ(f->records_kept, 2000u) << report->ToString();
    EXPECT_EQ(f->records_dropped, 0u);
    EXPECT_TRUE(f->records_dropped_exact) << report->ToString();
    // What was dropped is the damaged part, which holds no records.
    ASSERT_EQ(f->dropped.size(), 1u) << report->ToString();
    EXPECT_TRUE(absl::StrContains(f->dropped[0].reason, "holds no records"));
    EXPECT_TRUE(absl::StrContains(f->note, footer ? "index found" : "scanning")) << f->note;
    ExpectStoreHolds(dir, model);
  }
}

// A damaged footer and a damaged block: the index, found by its checksum, still says where every
// other block is.
TEST(RepairTest, DamagedFooterAndBlockLosesOnlyTheBlock) {
  const std::string dir = testing::NewTempDir("repair_footer_block");
  const Model model = WriteOneSegment(dir, 2000);
  const std::string segment = OnlySegment(dir);
  FlipByte(dir + "/" + segment, ReadFooter(dir + "/" + segment).size - 20);
  FlipByte(dir + "/" + segment, 50000);
  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  const RepairReport::File* f = FindFile(*report, segment);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->records_dropped_exact) << report->ToString();
  ExpectOneBlockLost(dir, model, f->records_dropped);
}

// A damaged index and a damaged block: blocks are found by scanning, and the scan resumes after
// the damaged block at the next block that verifies (blocks are contiguous, and a block's trailer
// is recognised without knowing where the block starts): only that block is lost.
TEST(RepairTest, DamagedIndexAndBlockLosesOnlyTheBlock) {
  const std::string dir = testing::NewTempDir("repair_index_block");
  const Model model = WriteOneSegment(dir, 2000);
  const std::string segment = OnlySegment(dir);
  const Footer layout = ReadFooter(dir + "/" + segment);
  FlipByte(dir + "/" + segment, layout.index_offset + layout.index_size / 2);
  FlipByte(dir + "/" + segment, 50000);
  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  const RepairReport::File* f = FindFile(*report, segment);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->records_dropped_exact);  // No index to count them; the trailer's count is used.
  EXPECT_FALSE(report->records_dropped_exact);
  ASSERT_EQ(f->dropped.size(), 2u);  // The index, and the block.
  ExpectOneBlockLost(dir, model, f->records_dropped);
}

// The same with the damaged block's trailer hit: its end is no longer recognisable, so the scan
// resumes one block later, and two consecutive blocks are lost (the report's count is then only
// a lower bound).
TEST(RepairTest, DamagedIndexAndBlockTrailerLosesTwoBlocks) {
  // Where block boundaries lie: from a repair of the same store with the block damaged.
  const std::string probe = testing::NewTempDir("repair_probe");
  WriteOneSegment(probe, 2000);
  FlipByte(probe + "/" + OnlySegment(probe), 50000);
  auto probed = Repair(probe);
  ASSERT_TRUE(probed.ok()) << probed.status();
  const RepairReport::File* probed_file = FindFile(*probed, "000003.seg");
  ASSERT_NE(probed_file, nullptr);
  ASSERT_EQ(probed_file->dropped.size(), 1u);
  const uint64_t block_end = probed_file->dropped[0].offset + probed_file->dropped[0].length;

  const std::string dir = testing::NewTempDir("repair_index_trailer");
  const Model model = WriteOneSegment(dir, 2000);
  const std::string segment = OnlySegment(dir);
  ASSERT_EQ(segment, "000003.seg");
  const Footer layout = ReadFooter(dir + "/" + segment);
  FlipByte(dir + "/" + segment, layout.index_offset + layout.index_size / 2);
  FlipByte(dir + "/" + segment, block_end - 12);  // The block's record count.
  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  const RepairReport::File* f = FindFile(*report, segment);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->records_dropped_exact);
  auto store = ValueOrDie(Store::Open(dir));
  KV_EXPECT_OK(store->Verify());
  const Model actual = ReadAll(*store);
  for (const auto& [key, value] : actual) {  // What is there is right.
    ASSERT_TRUE(model.count(key) == 1 && model.at(key) == value) << key;
  }
  const uint64_t lost = model.size() - actual.size();
  EXPECT_GE(lost, f->records_dropped);
  EXPECT_GT(lost, probed_file->records_dropped);  // The block after it too...
  EXPECT_LT(lost, 3 * probed_file->records_dropped);  // ...but no more.
}

// (d) A flipped byte in the middle record of a WAL: Open refuses (DataLoss). Repair keeps the
// records before and after it, drops exactly its bytes, and later writes still win.
TEST(RepairTest, MidLogWalDamageKeepsRecordsAroundIt) {
  const std::string dir = testing::NewTempDir("repair_wal");
  Model model;
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (int i = 0; i < 21; ++i) {
      KV_ASSERT_OK(store->Set(Key(i), Value(i)));
      model[Key(i)] = Value(i);
      if (i == 3 || i == 15) {  // Two versions of one key, on either side of the damage.
        KV_ASSERT_OK(store->Set("shared", Value(i)));
        model["shared"] = Value(i);
      }
    }
    KV_ASSERT_OK(store->Close());
  }
  std::string wal;
  for (const std::string& name : NamesEndingIn(dir, ".wal")) {
    if (!WalRecords(dir + "/" + name).empty()) wal = name;
  }
  ASSERT_FALSE(wal.empty());
  const auto records = WalRecords(dir + "/" + wal);
  ASSERT_EQ(records.size(), 23u);
  // Record 11 is Set(Key(10)): records 0-3 are keys 0-3, then "shared", then keys 4...
  const auto [offset, length] = records[11];
  FlipByte(dir + "/" + wal, offset + length / 2);
  model.erase(Key(10));
  EXPECT_EQ(Store::Open(dir).status().code(), absl::StatusCode::kDataLoss);

  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  const RepairReport::File* f = FindFile(*report, wal);
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(f->dropped.size(), 1u) << report->ToString();
  EXPECT_EQ(f->dropped[0].offset, offset);
  EXPECT_EQ(f->dropped[0].length, length);
  EXPECT_EQ(f->records_kept, 22u);
  EXPECT_EQ(f->records_dropped, 1u);
  EXPECT_FALSE(f->records_dropped_exact);  // A damaged record's operation count is unknown.
  ExpectStoreHolds(dir, model);
  auto store = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(store->Get(Key(10)).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("shared").value(), Value(15));
}

// A store of two flushes (the second overwriting part of the first, in a sorted run of its own)
// and writes in the WAL.
Model WriteLayeredStore(const std::string& dir) {
  Model model;
  Options options;
  options.background_compaction = false;  // Keeps the two runs apart.
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int i = 0; i < 1000; ++i) {
    EXPECT_TRUE(store->Set(Key(i), Value(i)).ok());
    model[Key(i)] = Value(i);
  }
  EXPECT_TRUE(store->Flush().ok());
  for (int i = 0; i < 1500; i += 3) {
    EXPECT_TRUE(store->Set(Key(i), Value(i, 1)).ok());
    model[Key(i)] = Value(i, 1);
  }
  EXPECT_TRUE(store->Delete(Key(1)).ok());
  model.erase(Key(1));
  EXPECT_TRUE(store->Flush().ok());
  for (int i = 0; i < 100; i += 2) {
    EXPECT_TRUE(store->Set(Key(i), Value(i, 2)).ok());
    model[Key(i)] = Value(i, 2);
  }
  EXPECT_TRUE(store->Close().ok());
  return model;
}

// (e) A deleted or garbage MANIFEST: Open refuses; Repair rebuilds from every segment and WAL,
// newest version winning by sequence number, with an empty type signature.
TEST(RepairTest, MissingOrGarbageManifest) {
  for (const bool garbage : {false, true}) {
    SCOPED_TRACE(garbage ? "garbage MANIFEST" : "no MANIFEST");
    const std::string dir = testing::NewTempDir("repair_manifest");
    const Model model = WriteLayeredStore(dir);
    ASSERT_GE(NamesEndingIn(dir, ".seg").size(), 2u);
    if (garbage) {
      std::string bytes = ReadFile(dir + "/MANIFEST");
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 37 + 11);
      WriteFile(dir + "/MANIFEST", bytes);
    } else {
      fs::remove(dir + "/MANIFEST");
    }
    EXPECT_EQ(Store::Open(dir).status().code(), absl::StatusCode::kDataLoss);

    auto report = Repair(dir);
    ASSERT_TRUE(report.ok()) << report.status();
    Show(report);
    EXPECT_FALSE(report->manifest_readable);
    EXPECT_FALSE(report->manifest_problem.empty());
    EXPECT_EQ(report->type_signature, "");
    EXPECT_EQ(report->records_dropped, 0u) << report->ToString();
    ExpectStoreHolds(dir, model);
  }
}

// (f) The originals move into lost/, which Open and later repairs leave alone; a second repair
// does not overwrite what the first one moved there.
TEST(RepairTest, OriginalsMoveToLost) {
  const std::string dir = testing::NewTempDir("repair_lost");
  Model model = WriteLayeredStore(dir);
  std::vector<std::string> originals = Names(dir);
  originals.erase(std::find(originals.begin(), originals.end(), "LOCK"));
  std::map<std::string, std::string> contents;
  for (const std::string& name : originals) contents[name] = ReadFile(dir + "/" + name);

  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  EXPECT_TRUE(report->warnings.empty());
  EXPECT_EQ(report->lost_dir, dir + "/lost");
  EXPECT_EQ(Names(dir + "/lost"), originals);
  for (const std::string& name : originals) {
    EXPECT_EQ(ReadFile(dir + "/lost/" + name), contents[name]) << name;
    const RepairReport::File* f = FindFile(*report, name);
    ASSERT_NE(f, nullptr) << name;
    EXPECT_EQ(f->moved_to, dir + "/lost/" + name);
  }
  std::vector<std::string> repaired = {"LOCK", "MANIFEST", report->new_segment, "lost"};
  std::sort(repaired.begin(), repaired.end());
  EXPECT_EQ(Names(dir), repaired);

  // Open, write, reopen: the engine ignores the lost directory and everything in it.
  {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set("after", "repair"));
    model["after"] = "repair";
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Close());
  }
  ExpectStoreHolds(dir, model);
  EXPECT_EQ(Names(dir + "/lost"), originals);

  auto again = Repair(dir);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(fs::exists(dir + "/lost/MANIFEST.1"));
  EXPECT_EQ(ReadFile(dir + "/lost/MANIFEST"), contents["MANIFEST"]);
  ExpectStoreHolds(dir, model);
}

// (g) Repair takes the store's lock: it refuses while the store is open and changes nothing.
TEST(RepairTest, RefusesWhileTheStoreIsOpen) {
  const std::string dir = testing::NewTempDir("repair_lock");
  const Model model = WriteLayeredStore(dir);
  Options options;
  options.background_compaction = false;  // Nothing but Repair may change the directory.
  auto store = ValueOrDie(Store::Open(dir, options));
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  const std::vector<std::string> before = Names(dir);
  auto report = Repair(dir);
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition) << report.status();
  EXPECT_EQ(Names(dir), before);
  EXPECT_EQ(Difference(model, ReadAll(*store)), "");
  KV_ASSERT_OK(store->Close());
  store.reset();
  KV_ASSERT_OK(Repair(dir).status());
  ExpectStoreHolds(dir, model);
}

// (h) Tuple keys: a damaged MANIFEST and a damaged WAL record; the repaired store opens as the
// same types and scans in tuple order.
TEST(RepairTest, TupleKeyStore) {
  using Key2 = std::tuple<std::string, int32_t>;
  using TupleStore = KVStore<Key2, double>;
  const std::string dir = testing::NewTempDir("repair_tuple");
  std::map<Key2, double> model;
  std::vector<Key2> wal_order;
  {
    auto store = ValueOrDie(TupleStore::Open(dir));
    const std::vector<std::string> cities = {"Lima", "Oslo", "Rome", "Tokyo"};
    for (int year = -50; year < 150; ++year) {
      for (const std::string& city : cities) {
        KV_ASSERT_OK(store->Set({city, year}, year * 0.5));
        model[{city, year}] = year * 0.5;
      }
    }
    KV_ASSERT_OK(store->Flush());
    for (int year = 150; year < 160; ++year) {
      KV_ASSERT_OK(store->Set({"Oslo", year}, -1.0 * year));
      model[{"Oslo", year}] = -1.0 * year;
      wal_order.push_back({"Oslo", year});
    }
    KV_ASSERT_OK(store->Close());
  }
  FlipByte(dir + "/MANIFEST", 20);
  std::string wal;
  for (const std::string& name : NamesEndingIn(dir, ".wal")) {
    if (!WalRecords(dir + "/" + name).empty()) wal = name;
  }
  ASSERT_FALSE(wal.empty());
  const auto records = WalRecords(dir + "/" + wal);
  ASSERT_EQ(records.size(), wal_order.size());
  FlipByte(dir + "/" + wal, records[5].first + records[5].second - 3);
  model.erase(wal_order[5]);
  EXPECT_FALSE(TupleStore::Open(dir).ok());

  auto report = Repair(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  Show(report);
  EXPECT_FALSE(report->manifest_readable);
  auto store = ValueOrDie(TupleStore::Open(dir));
  KV_EXPECT_OK(store->Verify());
  std::vector<std::pair<Key2, double>> scanned;
  for (const auto& [key, value] : store->Scan({"", INT32_MIN})) scanned.emplace_back(key, value);
  const std::vector<std::pair<Key2, double>> expected(model.begin(), model.end());
  EXPECT_EQ(scanned, expected);
  EXPECT_EQ(store->Get({"Oslo", -50}).value(), -25.0);
  EXPECT_EQ(store->Get(wal_order[5]).status().code(), absl::StatusCode::kNotFound);
}

// A store damaged in a segment block and mid-WAL, for the power-cut test.
Model WriteDamagedStore(const std::string& dir) {
  Model model;
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (int i = 0; i < 300; ++i) {
      EXPECT_TRUE(store->Set(Key(i), Value(i)).ok());
      model[Key(i)] = Value(i);
    }
    EXPECT_TRUE(store->Flush().ok());
    for (int i = 290; i < 310; ++i) {
      EXPECT_TRUE(store->Set(Key(i), Value(i, 1)).ok());
      model[Key(i)] = Value(i, 1);
    }
    EXPECT_TRUE(store->Close().ok());
  }
  FlipByte(dir + "/" + OnlySegment(dir), 9000);
  for (const std::string& name : NamesEndingIn(dir, ".wal")) {
    const auto records = WalRecords(dir + "/" + name);
    if (records.size() == 20) FlipByte(dir + "/" + name, records[10].first + 30);
  }
  return model;
}

// A power cut after every file operation of a repair, then whatever survives is repaired again:
// the result always holds exactly what an uninterrupted repair keeps. So the originals are never
// harmed before the new state is durable, and a half-done repair is finished by the next one.
TEST(RepairTest, PowerCutAtEveryStepThenRepairAgain) {
  // Not NewRamTempDir: concurrent runs of this test in sandboxes all have the same pid.
  const std::string base = testing::NewTempDir("repair_power");
  const std::string reference = base + "/reference";
  const std::string pristine = base + "/pristine";
  fs::create_directories(base);
  WriteDamagedStore(pristine);
  fs::copy(pristine, reference, fs::copy_options::recursive);
  ASSERT_TRUE(Repair(reference).ok());
  Model expected;
  {
    auto store = ValueOrDie(Store::Open(reference));
    expected = ReadAll(*store);
  }
  ASSERT_GT(expected.size(), 200u);
  ASSERT_LT(expected.size(), 310u);
  std::map<std::string, std::string> originals;
  for (const std::string& name : Names(pristine)) {
    if (name != "LOCK") originals[name] = ReadFile(pristine + "/" + name);
  }

  int cuts = 0;
  for (const testing::FaultKind kind :
       {testing::FaultKind::kOpen, testing::FaultKind::kWrite, testing::FaultKind::kSync,
        testing::FaultKind::kRename, testing::FaultKind::kSyncDir}) {
    for (uint64_t n = 1;; ++n) {
      SCOPED_TRACE(absl::StrCat("power cut after ", testing::FaultKindName(kind), " #", n));
      const std::string dir = absl::StrCat(base, "/cut", cuts);
      fs::copy(pristine, dir, fs::copy_options::recursive);
      testing::FaultInjectionEnv env;
      Options options;
      options.env = &env;
      env.CutPowerAfter(kind, n);
      auto interrupted = Repair(dir, options);
      const bool cut = env.power_cut();
      KV_ASSERT_OK(env.DropUnsyncedData());
      env.RestorePower();
      if (cut) {
        ++cuts;
        // Until the new MANIFEST is in place, the originals are all there, unchanged.
        if (ReadFile(dir + "/MANIFEST") == originals["MANIFEST"]) {
          for (const auto& [name, contents] : originals) {
            EXPECT_EQ(ReadFile(dir + "/" + name), contents) << name;
          }
        }
        auto finished = Repair(dir);
        ASSERT_TRUE(finished.ok()) << finished.status();
      } else {
        ASSERT_TRUE(interrupted.ok()) << interrupted.status();
      }
      ExpectStoreHolds(dir, expected);
      fs::remove_all(dir);
      if (!cut) break;
    }
  }
  std::printf("%d power cuts during a repair, each repaired again\n", cuts);
  EXPECT_GT(cuts, 10);
  fs::remove_all(base);
}

// A MANIFEST that cannot be read at all (an I/O error) cannot be copied into lost/, so it is
// moved there; the rest of the repair proceeds as for a damaged one.
TEST(RepairTest, UnreadableManifestIsMovedToLost) {
  const std::string dir = testing::NewTempDir("repair_unreadable");
  const Model model = WriteLayeredStore(dir);
  const std::string manifest = ReadFile(dir + "/MANIFEST");
  testing::FaultInjectionEnv env(Env::Default(), /*real_syncs=*/true);
  env.FailNth(testing::FaultKind::kRead, 1);  // Repair reads the MANIFEST first.
  Options options;
  options.env = &env;
  auto report = Repair(dir, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->manifest_readable);
  EXPECT_EQ(ReadFile(dir + "/lost/MANIFEST"), manifest);
  ExpectStoreHolds(dir, model);
}

// Scanning damaged bytes stays linear: a WAL whose damaged record is followed by a megabyte of
// fake record headers (each plausible, each claiming most of the file, none with a valid
// checksum) would cost a checksum of the rest of the file at each one without the cap.
TEST(RepairTest, ScanOfDamagedWalIsBounded) {
  std::string wal;
  auto add_record = [&wal](uint64_t sequence, const std::string& key, const std::string& value) {
    internal::BatchRep batch;
    batch.Put(key, value);
    batch.SetSequence(sequence);
    const absl::string_view payload = batch.payload();
    internal::PutFixed32(&wal, static_cast<uint32_t>(payload.size()));
    internal::PutFixed64(&wal, internal::Checksum(payload, payload.size()));
    wal.append(payload.data(), payload.size());
  };
  add_record(1, "a", "first");
  const size_t damage = wal.size();
  std::string fake;  // A header claiming 3 MiB, then a batch header of one operation.
  internal::PutFixed32(&fake, 3 << 20);
  internal::PutFixed64(&fake, 12345);
  internal::PutFixed64(&fake, 7);
  internal::PutFixed32(&fake, 1);
  fake.push_back('\1');
  while (wal.size() < damage + (4 << 20)) wal += fake;
  add_record(9, "z", "last");

  RepairReport::File report;
  std::vector<internal::salvage::WalVersion> versions;
  uint64_t max_sequence = 0;
  internal::salvage::SalvageWal(wal, &report, &versions, &max_sequence);
  // The cap (4x the file's size + 1 MiB of checksums) runs out before the last record is reached:
  // its loss is reported, not hidden.
  ASSERT_EQ(versions.size(), 1u);
  EXPECT_EQ(versions[0].key, "a");
  ASSERT_EQ(report.dropped.size(), 1u);
  EXPECT_EQ(report.dropped[0].offset, damage);
  EXPECT_EQ(report.dropped[0].offset + report.dropped[0].length, wal.size());
  EXPECT_TRUE(absl::StrContains(report.dropped[0].reason, "budget")) << report.dropped[0].reason;
}

// tools/repair: usage, a failure, and a damaged store repaired (exit status 0 once it opens).
struct ToolResult {
  int exit_code;
  std::string output;
};

ToolResult RunRepairTool(const std::string& args) {
  const std::string command = "tools/repair/repair " + args + " 2>&1";
  ToolResult result{-1, ""};
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return result;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) result.output.append(buf, n);
  const int status = ::pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

TEST(RepairToolTest, UsageFailureAndRepair) {
  EXPECT_EQ(RunRepairTool("").exit_code, 2);
  const ToolResult help = RunRepairTool("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(help.output, "usage: repair STORE_DIR")) << help.output;
  EXPECT_EQ(RunRepairTool(testing::NewTempDir("repair_tool_none")).exit_code, 1);

  const std::string dir = testing::NewTempDir("repair_tool");
  const Model model = WriteOneSegment(dir, 2000);
  FlipByte(dir + "/" + OnlySegment(dir), 50000);
  const ToolResult repaired = RunRepairTool(dir);
  EXPECT_EQ(repaired.exit_code, 0) << repaired.output;
  EXPECT_TRUE(absl::StrContains(repaired.output, "checksum mismatch")) << repaired.output;
  EXPECT_TRUE(absl::StrContains(repaired.output, "the store opens")) << repaired.output;
  auto store = ValueOrDie(Store::Open(dir));
  KV_EXPECT_OK(store->Verify());
  EXPECT_GT(ReadAll(*store).size(), 1900u);
}

}  // namespace
}  // namespace kvstore
