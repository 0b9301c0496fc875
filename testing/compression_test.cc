// Compression policies (kvstore/compression.h): every codec round-trips through flush,
// compaction and reopen; blocks that do not shrink stay raw; a store opened with a policy that
// cannot read its blocks reports FailedPrecondition, damaged compressed blocks DataLoss; the
// block cache stays within Options::block_cache_bytes and keeps blocks alive for iterators.
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/compression.h"
#include "kvstore/database.h"
#include "kvstore/kvstore.h"
#include "kvstore/repair.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

using ::kvstore::testing::NewTempDir;

template <typename Compression>
using Store = KVStore<std::string, std::string, DefaultSerializer, BloomFilter<10>, Compression>;

std::string Key(int i) { return absl::StrCat("key", 100000000 + i); }

// About half of each value repeats: every codec shrinks it, none to nothing.
std::string CompressibleValue(int i) {
  std::mt19937 rng(i);
  std::string v;
  while (v.size() < 200) {
    if (rng() % 2 == 0) {
      absl::StrAppend(&v, "the same words again ");
    } else {
      v.push_back(static_cast<char>('a' + rng() % 26));
    }
  }
  return v;
}

std::string RandomValue(int i) {
  std::mt19937_64 rng(i);
  std::string v(200, '\0');
  for (char& c : v) c = static_cast<char>(rng());
  return v;
}

uint64_t SegmentBytes(const auto& store) {
  return std::stoull(store->GetProperty("kvstore.segment-bytes").value());
}

constexpr int kKeys = 8000;

// The store's one segment file (FillAndFlush writes one).
std::string OnlySegment(const std::string& dir) {
  std::string segment;
  for (const auto& name : ValueOrDie(Env::Default()->GetChildren(dir))) {
    if (absl::EndsWith(name, ".seg")) segment = dir + "/" + name;
  }
  EXPECT_FALSE(segment.empty()) << dir;
  return segment;
}

void FlipBits(const std::string& path, std::streamoff offset, char mask) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(offset);
  char c;
  f.get(c);
  f.seekp(offset);
  f.put(static_cast<char>(c ^ mask));
}

template <typename Compression>
std::string FillAndFlush(bool compressible, Options options = {}) {
  const std::string dir = NewTempDir();
  auto store = ValueOrDie(Store<Compression>::Open(dir, options));
  for (int i = 0; i < kKeys; ++i) {
    KV_EXPECT_OK(store->Set(Key(i), compressible ? CompressibleValue(i) : RandomValue(i)));
  }
  KV_EXPECT_OK(store->Flush());
  KV_EXPECT_OK(store->Close());
  return dir;
}

template <typename Compression>
class CodecTest : public ::testing::Test {};
using Codecs = ::testing::Types<Snappy, Lz4, Zstd<>, Zstd<1>>;
TYPED_TEST_SUITE(CodecTest, Codecs);

TYPED_TEST(CodecTest, RoundTripsThroughFlushCompactionAndReopen) {
  const std::string dir = NewTempDir();
  Options options;
  options.memtable_bytes = 256 << 10;  // Several segments, so compaction merges some.
  std::map<std::string, std::string> model;
  {
    auto store = ValueOrDie(Store<TypeParam>::Open(dir, options));
    for (int i = 0; i < kKeys; ++i) {
      model[Key(i)] = CompressibleValue(i);
      KV_ASSERT_OK(store->Set(Key(i), model[Key(i)]));
    }
    for (int i = 0; i < kKeys; i += 3) {
      model.erase(Key(i));
      KV_ASSERT_OK(store->Delete(Key(i)));
    }
    KV_ASSERT_OK(store->Compact());
    EXPECT_EQ(store->GetProperty("kvstore.compression").value(), std::string(TypeParam::Name()));
    KV_ASSERT_OK(store->Close());
  }
  auto store = ValueOrDie(Store<TypeParam>::Open(dir, options));
  KV_EXPECT_OK(store->Verify());
  for (int i = 0; i < kKeys; ++i) {
    auto v = store->Get(Key(i));
    if (model.count(Key(i))) {
      ASSERT_TRUE(v.ok()) << Key(i) << ": " << v.status();
      ASSERT_EQ(*v, model[Key(i)]);
    } else {
      ASSERT_TRUE(absl::IsNotFound(v.status())) << v.status();
    }
  }
  auto it = model.begin();
  for (const auto& [k, v] : store->Scan("")) {
    ASSERT_NE(it, model.end());
    ASSERT_EQ(k, it->first);
    ASSERT_EQ(v, it->second);
    ++it;
  }
  EXPECT_EQ(it, model.end());
  // Backwards too: a cursor moving to the previous block decompresses it.
  auto iter = store->NewIterator();
  size_t n = 0;
  for (iter->SeekToLast(); iter->Valid(); iter->Prev()) ++n;
  KV_EXPECT_OK(iter->status());
  EXPECT_EQ(n, model.size());
}

TYPED_TEST(CodecTest, ShrinksCompressibleBlocksAndKeepsOthersRaw) {
  auto raw = ValueOrDie(Store<NoCompression>::Open(FillAndFlush<NoCompression>(true)));
  auto compressed = ValueOrDie(Store<TypeParam>::Open(FillAndFlush<TypeParam>(true)));
  EXPECT_LT(SegmentBytes(compressed), SegmentBytes(raw) * 7 / 10)
      << TypeParam::Name() << ": " << SegmentBytes(compressed) << " vs " << SegmentBytes(raw);

  // Random values do not shrink: stored raw, so no bigger than without compression.
  auto raw_random = ValueOrDie(Store<NoCompression>::Open(FillAndFlush<NoCompression>(false)));
  auto random = ValueOrDie(Store<TypeParam>::Open(FillAndFlush<TypeParam>(false)));
  EXPECT_EQ(SegmentBytes(random), SegmentBytes(raw_random));
  EXPECT_EQ(ValueOrDie(random->Get(Key(7))), RandomValue(7));
}

TEST(CompressionTest, AStoreOpenedWithAnotherPolicyReportsBothNames) {
  const std::string dir = FillAndFlush<Lz4>(true);
  absl::Status status = Store<NoCompression>::Open(dir).value()->Get(Key(1)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find("compressed with lz4"), std::string::npos) << status;
  EXPECT_NE(status.message().find("\"none\""), std::string::npos) << status;
  status = Store<Snappy>::Open(dir).value()->Get(Key(1)).status();
  EXPECT_TRUE(absl::IsFailedPrecondition(status)) << status;
  EXPECT_NE(status.message().find("\"snappy\""), std::string::npos) << status;
  auto scan_store = Store<Zstd<>>::Open(dir).value();
  auto range = scan_store->Scan("");
  for (const auto& entry : range) (void)entry;
  EXPECT_TRUE(absl::IsFailedPrecondition(range.status())) << range.status();
  scan_store.reset();
  // Nothing was harmed: the right policy reads everything.
  auto store = Store<Lz4>::Open(dir).value();
  EXPECT_EQ(store->Get(Key(1)).value(), CompressibleValue(1));
  KV_EXPECT_OK(store->Verify());
}

TEST(CompressionTest, ReadAnyCompressionReadsEveryCodecAndWritesRaw) {
  const std::string dir = NewTempDir();
  Options options;
  options.memtable_bytes = 64 << 10;
  // Segments of three codecs in one store, none compacted away.
  options.compaction_trigger = 100;
  for (int part = 0; part < 3; ++part) {
    auto write = [&](auto store) {
      for (int i = part * 1000; i < (part + 1) * 1000; ++i) {
        KV_ASSERT_OK(store->Set(Key(i), CompressibleValue(i)));
      }
      KV_ASSERT_OK(store->Flush());
    };
    if (part == 0) write(Store<Snappy>::Open(dir, options).value());
    if (part == 1) write(Store<Lz4>::Open(dir, options).value());
    if (part == 2) write(Store<Zstd<>>::Open(dir, options).value());
  }
  auto store = Store<ReadAnyCompression>::Open(dir, options).value();
  KV_EXPECT_OK(store->Verify());
  for (int i = 0; i < 3000; i += 7) ASSERT_EQ(store->Get(Key(i)).value(), CompressibleValue(i));
  KV_ASSERT_OK(store->Compact());  // Rewritten raw: now any policy reads it.
  store.reset();
  auto raw = Store<NoCompression>::Open(dir, options).value();
  KV_EXPECT_OK(raw->Verify());
  EXPECT_EQ(raw->Get(Key(2999)).value(), CompressibleValue(2999));
}

TEST(CompressionTest, AnUncompressedStoreTakesAPolicyLater) {
  const std::string dir = FillAndFlush<NoCompression>(true);
  {
    auto store = Store<Zstd<>>::Open(dir).value();  // Old blocks raw, new ones compressed.
    for (int i = kKeys; i < 2 * kKeys; ++i) KV_ASSERT_OK(store->Set(Key(i), CompressibleValue(i)));
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Compact());  // Rewrites everything compressed.
  }
  auto store = Store<Zstd<>>::Open(dir).value();
  for (int i = 0; i < 2 * kKeys; i += 97) {
    ASSERT_EQ(store->Get(Key(i)).value(), CompressibleValue(i));
  }
  KV_EXPECT_OK(store->Verify());
}

TEST(CompressionTest, DamagedCompressedBlocksAreDataLossNotData) {
  const std::string dir = FillAndFlush<Snappy>(true);
  FlipBits(OnlySegment(dir), 100, 0x40);  // Inside the first block's compressed bytes.
  auto store = Store<Snappy>::Open(dir).value();
  EXPECT_TRUE(absl::IsDataLoss(store->Get(Key(0)).status()));
  EXPECT_TRUE(absl::IsDataLoss(store->Verify()));
  EXPECT_EQ(store->Get(Key(kKeys - 1)).value(), CompressibleValue(kKeys - 1));  // Other blocks.
}

TEST(CompressionTest, RepairKeepsCompressedBlocksAndRefusesAnotherPolicy) {
  const std::string dir = FillAndFlush<Lz4>(true);
  const std::string segment = OnlySegment(dir);
  // Repair with a policy that cannot read the blocks: refused, nothing moved.
  auto wrong = Repair<BloomFilter<10>, Snappy>(dir);
  EXPECT_TRUE(absl::IsFailedPrecondition(wrong.status())) << wrong.status();
  EXPECT_NE(wrong.status().message().find("lz4"), std::string::npos) << wrong.status();
  EXPECT_TRUE(Env::Default()->FileExists(segment));
  FlipBits(segment, 5000, 0x01);  // Inside some block after the first.
  auto report = Repair<BloomFilter<10>, Lz4>(dir);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_GT(report->records_dropped, 0u);
  EXPECT_GT(report->records_written, static_cast<uint64_t>(kKeys) * 9 / 10);
  auto store = Store<Lz4>::Open(dir).value();
  KV_EXPECT_OK(store->Verify());
  int found = 0;
  for (const auto& [k, v] : store->Scan("")) {
    ASSERT_EQ(v, CompressibleValue(std::stoi(k.substr(3)) - 100000000));
    ++found;
  }
  EXPECT_EQ(static_cast<uint64_t>(found), report->records_written);
}

TEST(CompressionTest, BlockCacheStaysWithinItsBudgetAndPinsBlocksForIterators) {
  Options options;
  options.block_cache_bytes = 64 << 10;
  const std::string dir = FillAndFlush<Zstd<>>(true);
  auto store = Store<Zstd<>>::Open(dir, options).value();
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kKeys; i += 7) ASSERT_EQ(store->Get(Key(i)).value(), CompressibleValue(i));
  }
  EXPECT_LE(std::stoull(store->GetProperty("kvstore.block-cache-bytes").value()), 64u << 10);
  EXPECT_GT(std::stoull(store->GetProperty("kvstore.block-cache-hits").value()), 0u);
  // Two iterators far apart: each holds its block while the other and Gets evict it.
  auto a = store->NewIterator();
  auto b = store->NewIterator();
  a->SeekToFirst();
  b->Seek(Key(kKeys / 2));
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(a->Valid() && b->Valid());
    ASSERT_EQ(a->key(), Key(i));
    ASSERT_EQ(a->value(), CompressibleValue(i));
    ASSERT_EQ(b->value(), CompressibleValue(kKeys / 2 + i));
    ASSERT_EQ(store->Get(Key(kKeys - 1 - i)).value(), CompressibleValue(kKeys - 1 - i));
    a->Next();
    b->Next();
  }
  // No cache at all: every read decompresses.
  store.reset();
  options.block_cache_bytes = 0;
  store = Store<Zstd<>>::Open(dir, options).value();
  EXPECT_EQ(store->Get(Key(3)).value(), CompressibleValue(3));
  EXPECT_EQ(store->GetProperty("kvstore.block-cache-bytes").value(), "0");
}

// Snappy with tiny value groups: blocks of many parts, so lookups pick one group of several.
struct TinyGroupSnappy : Snappy {
  static constexpr size_t kValueGroupBytes = 64;
};

template <typename Compression>
class PartedBlockTest : public ::testing::Test {};
using PartedCodecs = ::testing::Types<Snappy, Lz4, TinyGroupSnappy>;
TYPED_TEST_SUITE(PartedBlockTest, PartedCodecs);

// Values of every size a group meets: empty, one byte, within a group, larger than a group and
// larger than a block.
std::string SizedValue(int i, int version) {
  static constexpr size_t kSizes[] = {0, 1, 17, 63, 64, 65, 300, 1500, 5000};
  std::string v = absl::StrCat("v", version, "-", i, ":");
  const size_t size = kSizes[(i + version) % std::size(kSizes)];
  while (v.size() < size) absl::StrAppend(&v, "repeat ", i % 7, " ");
  return v.substr(0, size);
}

// Lookups into blocks compressed in parts find every version at every snapshot, deletions
// included, with or without checksum verification, and the same as an iterator does.
TYPED_TEST(PartedBlockTest, LookupsSeeEveryVersionAtEverySnapshot) {
  const std::string dir = NewTempDir();
  auto store = ValueOrDie(Store<TypeParam>::Open(dir));
  constexpr int kParts = 600;
  std::vector<Snapshot> snapshots;
  std::vector<std::map<std::string, std::string>> models(1);
  for (int version = 0; version < 3; ++version) {
    std::map<std::string, std::string>& model = models.back();
    for (int i = version; i < kParts; i += 1 + version) {
      model[Key(i)] = SizedValue(i, version);
      KV_ASSERT_OK(store->Set(Key(i), model[Key(i)]));
    }
    for (int i = version; i < kParts; i += 11) {
      model.erase(Key(i));
      KV_ASSERT_OK(store->Delete(Key(i)));
    }
    snapshots.push_back(store->GetSnapshot());
    models.push_back(model);
  }
  models.pop_back();
  KV_ASSERT_OK(store->Compact());  // One segment, every version the snapshots need in it.
  for (size_t s = 0; s < snapshots.size(); ++s) {
    for (const bool verify : {false, true}) {
      ReadOptions options;
      options.snapshot = &snapshots[s];
      options.verify_checksums = verify;
      for (int round = 0; round < 3; ++round) {  // The cache admits a part on its second miss.
        for (int i = 0; i < kParts + 5; ++i) {
          auto v = store->Get(Key(i), options);
          auto it = models[s].find(Key(i));
          if (it == models[s].end()) {
            ASSERT_TRUE(absl::IsNotFound(v.status())) << Key(i) << " at " << s << ": " << v.status();
          } else {
            ASSERT_TRUE(v.ok()) << Key(i) << " at " << s << ": " << v.status();
            ASSERT_EQ(*v, it->second) << Key(i) << " at " << s;
          }
        }
      }
      std::map<std::string, std::string> scanned;
      auto iter = store->NewIterator(options);
      for (iter->SeekToFirst(); iter->Valid(); iter->Next()) scanned[iter->key()] = iter->value();
      KV_ASSERT_OK(iter->status());
      EXPECT_EQ(scanned, models[s]);
    }
  }
  EXPECT_GT(std::stoull(store->GetProperty("kvstore.block-cache-hits").value()), 0u);
  KV_EXPECT_OK(store->Verify());
}

// Damage inside a group of values is reported by the lookup that reads that group, and by Verify;
// lookups into the block's other groups and other blocks still read.
TEST(CompressionTest, DamagedValueGroupIsDataLossNotData) {
  const std::string dir = FillAndFlush<TinyGroupSnappy>(true);
  const std::string segment = OnlySegment(dir);
  FlipBits(segment, 1500, 0x40);  // In the first block's groups, past its heads.
  auto store = Store<TinyGroupSnappy>::Open(dir).value();
  int damaged = 0;
  for (int i = 0; i < kKeys; ++i) {
    auto v = store->Get(Key(i));
    if (v.ok()) {
      ASSERT_EQ(*v, CompressibleValue(i)) << Key(i);
    } else {
      ASSERT_TRUE(absl::IsDataLoss(v.status())) << Key(i) << ": " << v.status();
      ++damaged;
    }
  }
  // The checksum covers the whole block, so every lookup into it sees the damage.
  EXPECT_GT(damaged, 0);
  EXPECT_LT(damaged, 40);
  EXPECT_TRUE(absl::IsDataLoss(store->Verify()));
}

inline constexpr TableDef<std::tuple<std::string, int64_t>, std::string> kDocs{"docs"};

TEST(CompressionTest, DatabaseTakesAPolicy) {
  const std::string dir = NewTempDir();
  {
    auto db = Database<BloomFilter<10>, Snappy>::Open(dir).value();
    auto docs = db->OpenTable(kDocs).value();
    for (int i = 0; i < 5000; ++i) KV_ASSERT_OK(docs.Set({"user", i}, CompressibleValue(i)));
    KV_ASSERT_OK(db->Flush());
  }
  auto db = Database<BloomFilter<10>, Snappy>::Open(dir).value();
  auto docs = db->OpenTable(kDocs).value();
  int n = 0;
  for (const auto& [key, value] : docs.ScanPrefix(std::tuple<std::string>("user"))) {
    ASSERT_EQ(value, CompressibleValue(std::get<1>(key)));
    ++n;
  }
  EXPECT_EQ(n, 5000);
}

}  // namespace
}  // namespace kvstore
