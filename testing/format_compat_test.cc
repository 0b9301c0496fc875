// Stores written by an older build stay readable: testdata/format4 holds two small stores
// written in format version 4 (one without compression, one with Snappy) by the build of
// 3eabebd, and testdata/format5 two in version 5 (Snappy and LZ4, whose blocks version 6
// compresses in parts) by the build of 8dfe040, all with the generator that OldStoreModel below
// mirrors. This build must read every version in them, segments and WAL, then write, compact and
// reopen them in its own version, and Repair must salvage them when damaged.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "kvstore/compression.h"
#include "kvstore/kvstore.h"
#include "kvstore/repair.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/segment.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

namespace fs = std::filesystem;

template <typename Compression>
using Store = KVStore<std::string, std::string, DefaultSerializer, BloomFilter<10>, Compression>;

std::string Key(int i) {
  char key[16];
  std::snprintf(key, sizeof key, "key%05d", i);
  return key;
}

std::string Value(int i, int generation) {
  std::string v = absl::StrCat("value ", i, " generation ", generation, ";");
  while (v.size() < 64) v += v;
  return v.substr(0, 64);
}

// What the generator wrote: three generations of Sets over 400 keys, each followed by Deletes of
// every 37th key; generation 0 was compacted, generation 1 flushed, generation 2 left in the WAL.
std::map<std::string, std::string> OldStoreModel() {
  std::map<std::string, std::string> model;
  for (int generation = 0; generation < 3; ++generation) {
    for (int i = generation; i < 400; i += 1 + generation) model[Key(i)] = Value(i, generation);
    for (int i = 7 * generation; i < 400; i += 37) model.erase(Key(i));
  }
  return model;
}

// A writable copy of a store in testdata (runfiles are read-only).
std::string CopyOfTestStore(uint32_t version, const std::string& name) {
  const std::string dir = testing::NewTempDir(absl::StrCat("format", version, "_", name));
  fs::remove_all(dir);
  fs::copy(absl::StrCat("testing/testdata/format", version, "/", name), dir,
           fs::copy_options::recursive);
  for (const auto& entry : fs::directory_iterator(dir)) {
    fs::permissions(entry.path(), fs::perms::owner_read | fs::perms::owner_write);
  }
  return dir;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void FlipByte(const std::string& path, uint64_t offset) {
  std::string contents = ReadWholeFile(path);
  ASSERT_LT(offset, contents.size());
  contents[offset] ^= 0x40;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
}

// The format version in the footer of every segment of `dir`, by file name.
std::map<std::string, uint32_t> SegmentVersions(const std::string& dir) {
  std::map<std::string, uint32_t> versions;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".seg") continue;
    const std::string contents = ReadWholeFile(entry.path());
    versions[entry.path().filename()] = internal::DecodeFixed32(
        contents.data() + contents.size() - internal::kSegmentFooterBytes + 32);
  }
  return versions;
}

template <typename Compression>
void ExpectContents(Store<Compression>& store, const std::map<std::string, std::string>& model) {
  for (int i = 0; i < 420; ++i) {
    auto value = store.Get(Key(i));
    auto it = model.find(Key(i));
    if (it == model.end()) {
      EXPECT_TRUE(absl::IsNotFound(value.status())) << Key(i) << ": " << value.status();
    } else {
      ASSERT_TRUE(value.ok()) << Key(i) << ": " << value.status();
      EXPECT_EQ(*value, it->second) << Key(i);
    }
  }
  std::map<std::string, std::string> scanned;
  auto it = store.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) scanned[it->key()] = it->value();
  ASSERT_TRUE(it->status().ok()) << it->status();
  EXPECT_EQ(scanned, model);
}

template <typename Compression>
void ReadsAndUpgrades(uint32_t old_version, const std::string& name) {
  const std::string dir = CopyOfTestStore(old_version, name);
  for (const auto& [file, version] : SegmentVersions(dir)) EXPECT_EQ(version, old_version) << file;
  std::map<std::string, std::string> model = OldStoreModel();
  {
    Options read_only;
    read_only.read_only = true;
    auto store = Store<Compression>::Open(dir, read_only);
    ASSERT_TRUE(store.ok()) << store.status();
    ExpectContents(**store, model);
  }
  {
    auto store = Store<Compression>::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ExpectContents(**store, model);
    for (int i = 0; i < 420; i += 3) {
      ASSERT_TRUE((*store)->Set(Key(i), Value(i, 3)).ok());
      model[Key(i)] = Value(i, 3);
    }
    ASSERT_TRUE((*store)->Delete(Key(5)).ok());
    model.erase(Key(5));
    ASSERT_TRUE((*store)->Flush().ok());
    // A run of each version, read together.
    ExpectContents(**store, model);
    ASSERT_TRUE((*store)->Compact().ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  for (const auto& [file, version] : SegmentVersions(dir)) {
    EXPECT_EQ(version, internal::kFormatVersion) << file;
  }
  internal::Manifest manifest;
  ASSERT_TRUE(internal::ReadManifest(Env::Default(), dir, &manifest).ok());
  EXPECT_EQ(manifest.format_version, internal::kFormatVersion);
  auto store = Store<Compression>::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectContents(**store, model);
}

// Repair salvages an old segment whose footer is damaged (its index, found by its checksum, is
// parsed in each version from the newest down until one fits: version 4's entries differ) or
// whose index is (its blocks are found by scanning), and loses nothing.
template <typename Compression>
void RepairsOldStore(uint32_t old_version, const std::string& name) {
  for (const bool footer : {true, false}) {
    SCOPED_TRACE(footer ? "footer" : "index");
    const std::string dir = CopyOfTestStore(old_version, name);
    const std::string segment = dir + "/000004.seg";
    const std::string contents = ReadWholeFile(segment);
    const char* f = contents.data() + contents.size() - internal::kSegmentFooterBytes;
    const uint64_t index_offset = internal::DecodeFixed64(f + 16);
    const uint64_t index_size = internal::DecodeFixed64(f + 24);
    FlipByte(segment, footer ? contents.size() - 20 : index_offset + index_size / 2);
    EXPECT_EQ(Store<Compression>::Open(dir).status().code(), absl::StatusCode::kDataLoss);

    auto report = Repair<BloomFilter<10>, Compression>(dir);
    ASSERT_TRUE(report.ok()) << report.status();
    bool found = false;
    for (const RepairReport::File& file : report->files) {
      if (file.name != "000004.seg") continue;
      found = true;
      EXPECT_EQ(file.records_dropped, 0u) << report->ToString();
      EXPECT_TRUE(absl::StrContains(file.note, footer ? "index found" : "scanning")) << file.note;
    }
    EXPECT_TRUE(found) << report->ToString();
    auto store = Store<Compression>::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ExpectContents(**store, OldStoreModel());
  }
}

TEST(FormatCompatTest, RepairsAnUncompressedFormat4Store) { RepairsOldStore<NoCompression>(4, "none"); }

TEST(FormatCompatTest, RepairsASnappyFormat4Store) { RepairsOldStore<Snappy>(4, "snappy"); }

TEST(FormatCompatTest, RepairsASnappyFormat5Store) { RepairsOldStore<Snappy>(5, "snappy"); }

TEST(FormatCompatTest, RepairsAnLz4Format5Store) { RepairsOldStore<Lz4>(5, "lz4"); }

TEST(FormatCompatTest, ReadsAndUpgradesAnUncompressedFormat4Store) {
  ReadsAndUpgrades<NoCompression>(4, "none");
}

TEST(FormatCompatTest, ReadsAndUpgradesASnappyFormat4Store) { ReadsAndUpgrades<Snappy>(4, "snappy"); }

TEST(FormatCompatTest, ReadsAndUpgradesASnappyFormat5Store) { ReadsAndUpgrades<Snappy>(5, "snappy"); }

TEST(FormatCompatTest, ReadsAndUpgradesAnLz4Format5Store) { ReadsAndUpgrades<Lz4>(5, "lz4"); }

// After the upgrade, the Snappy and LZ4 stores' compacted blocks are compressed in parts.
TEST(FormatCompatTest, UpgradedBlocksAreCompressedInParts) {
  const std::string dir = CopyOfTestStore(5, "lz4");
  {
    auto store = Store<Lz4>::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Compact().ok());
    ASSERT_TRUE((*store)->Close().ok());
  }
  int parted = 0, blocks = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() != ".seg") continue;
    auto segment = internal::Segment<BloomFilter<10>>::Open(
        Env::Default(), dir, std::stoull(entry.path().stem().string()),
        internal::BlockDecoding{internal::CodecFor<Lz4>(), nullptr});
    ASSERT_TRUE(segment.ok()) << segment.status();
    for (size_t b = 0; b < (*segment)->num_blocks(); ++b) {
      auto storage = (*segment)->StorageOfBlock(b);
      ASSERT_TRUE(storage.ok()) << storage.status();
      ++blocks;
      using BlockStorage = internal::Segment<BloomFilter<10>>::BlockStorage;
      if (*storage == BlockStorage::kCompressedInParts) ++parted;
    }
  }
  EXPECT_GT(blocks, 0);
  EXPECT_EQ(parted, blocks);
  auto store = Store<Lz4>::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  ExpectContents(**store, OldStoreModel());
}

}  // namespace
}  // namespace kvstore
