// Store-level tests of KVStore: typed round trips, key order, overwrites and deletes across the
// MemTable, segments and reopen, snapshots, iterators, batches, scans, compaction, locking, and
// how bad inputs and damaged files are reported. The randomized model test and the concurrency
// test live in model_test.cc and concurrency_test.cc.
#include <sys/mount.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kvstore/kvstore.h"
#include "testing/string_only_filter.h"
#include "testing/test_util.h"

namespace kvstore {
namespace {

namespace fs = std::filesystem;
using ::kvstore::testing::NewTempDir;
using ::testing::HasSubstr;

// ---- Helpers -------------------------------------------------------------------------------

// Values compare by their encoding: it tells -0.0 from +0.0 and one NaN from another, and works
// for structs, which have no operator==.
template <typename V>
std::string ValueBytes(const V& v) {
  std::string out;
  DefaultSerializer::EncodeValue(v, &out);
  return out;
}

// Every entry of the store, walking forward (or backward, then reversed into key order).
template <typename Store>
std::vector<std::pair<typename Store::key_type, typename Store::mapped_type>> ScanAll(
    const Store& store, const ReadOptions& options = {}, bool backward = false) {
  std::vector<std::pair<typename Store::key_type, typename Store::mapped_type>> out;
  auto it = store.NewIterator(options);
  if (backward) {
    for (it->SeekToLast(); it->Valid(); it->Prev()) out.emplace_back(it->key(), it->value());
    std::reverse(out.begin(), out.end());
  } else {
    for (it->SeekToFirst(); it->Valid(); it->Next()) out.emplace_back(it->key(), it->value());
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// Checks the store against `model` by Get on every key of `probes` (present or not) and by
// iterating both ways.
template <typename Store, typename K, typename V>
void ExpectStoreEquals(const Store& store, const std::map<K, V>& model,
                       const std::vector<K>& probes, const ReadOptions& options = {}) {
  for (const K& key : probes) {
    absl::StatusOr<V> got = store.Get(key, options);
    auto want = model.find(key);
    if (want == model.end()) {
      EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << ::testing::PrintToString(key);
    } else {
      ASSERT_TRUE(got.ok()) << ::testing::PrintToString(key) << ": " << got.status();
      EXPECT_EQ(ValueBytes(*got), ValueBytes(want->second)) << ::testing::PrintToString(key);
    }
  }
  const std::vector<std::pair<K, V>> expected(model.begin(), model.end());
  for (bool backward : {false, true}) {
    const auto actual = ScanAll(store, options, backward);
    ASSERT_EQ(actual.size(), expected.size()) << (backward ? "backward" : "forward");
    for (size_t i = 0; i < actual.size(); ++i) {
      EXPECT_EQ(actual[i].first, expected[i].first) << i << (backward ? " backward" : " forward");
      EXPECT_EQ(ValueBytes(actual[i].second), ValueBytes(expected[i].second)) << i;
    }
  }
}

uint64_t Property(const auto& store, absl::string_view name) {
  std::optional<std::string> value = store.GetProperty(name);
  EXPECT_TRUE(value.has_value()) << name;
  return value.has_value() ? std::stoull(*value) : 0;
}

// Files of `dir` whose names end in `ext`, sorted by name (so by file number).
std::vector<fs::path> FilesWithExtension(const std::string& dir, const std::string& ext) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ext) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void WriteFile(const fs::path& path, const std::string& contents) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
}

std::string Key(int i) { return absl::StrCat("key", 100000 + i); }

// ---- Typed round trips ---------------------------------------------------------------------

// A trivially copyable struct without padding, so its bytes are all meaningful.
struct Pod {
  int32_t a;
  uint16_t b;
  uint8_t c[2];
  double d;
};
static_assert(sizeof(Pod) == 16 && std::is_trivially_copyable_v<Pod>);

template <typename T>
std::vector<T> IntegerSamples() {
  using L = std::numeric_limits<T>;
  std::set<T> s = {L::min(), static_cast<T>(L::min() + 1), T{0}, T{1}, T{2}, T{0x7f},
                   static_cast<T>(L::max() - 1), L::max()};
  if constexpr (std::is_signed_v<T>) s.insert({T{-1}, T{-2}, static_cast<T>(-0x7f)});
  if constexpr (sizeof(T) > 1) s.insert({T{0x80}, T{0xff}, T{0x100}});
  return std::vector<T>(s.begin(), s.end());
}

template <typename T>
std::vector<T> FloatKeySamples() {
  using L = std::numeric_limits<T>;
  return {-L::infinity(), L::lowest(), T(-1e10), T(-1.5), T(-1), -L::min(), -L::denorm_min(),
          T(0), L::denorm_min(), L::min(), T(1), T(1.5), T(1e10), L::max(), L::infinity()};
}

// Sample keys: distinct under operator<. Sample values may also hold what keys may not.
template <typename T>
struct Samples {
  static std::vector<T> Keys() {
    if constexpr (std::is_same_v<T, bool>) {
      return {false, true};
    } else if constexpr (std::is_floating_point_v<T>) {
      return FloatKeySamples<T>();
    } else {
      return IntegerSamples<T>();
    }
  }
  static std::vector<T> Values() {
    std::vector<T> v = Keys();
    if constexpr (std::is_floating_point_v<T>) {
      using L = std::numeric_limits<T>;
      v.push_back(T(-0.0));
      v.push_back(L::quiet_NaN());
      v.push_back(-L::quiet_NaN());
      v.push_back(L::signaling_NaN());
    }
    return v;
  }
};

std::string S(const char* s, size_t n) { return std::string(s, n); }

template <>
struct Samples<std::string> {
  static std::vector<std::string> Keys() {
    return {"a", S("a\0", 2), "ab", "abc", "b", S("\0", 1), S("\0\0", 2), S("\0a", 2), "\x01",
            "\x7f", "\x80", "\xff", "\xff\xff", std::string(1000, 'z'),
            std::string(kMaxKeyBytes, 'q')};  // The largest key accepted.
  }
  static std::vector<std::string> Values() {
    std::string all_bytes;
    for (int c = 0; c < 256; ++c) all_bytes.push_back(static_cast<char>(c));
    return {"", S("\0", 1), S("a\0b\0", 4), "hello", all_bytes, std::string(100000, 'x')};
  }
};

template <>
struct Samples<std::pair<std::string, int32_t>> {
  static std::vector<std::pair<std::string, int32_t>> Keys() {
    return {{"", std::numeric_limits<int32_t>::min()}, {"", 0}, {"a", -1}, {"a", 5},
            {S("a\0", 2), 0}, {S("a\0\0", 3), -3}, {"ab", -7}, {"\xff", 0}};
  }
  static std::vector<std::pair<std::string, int32_t>> Values() { return Keys(); }
};

template <>
struct Samples<std::tuple<int64_t, std::string, double>> {
  using T = std::tuple<int64_t, std::string, double>;
  static std::vector<T> Keys() {
    return {T{-5, "x", 1.0},  T{-5, "x", 2.0}, T{-5, "xy", -3.0}, T{-1, "", -1e300},
            T{0, "", 0.0},    T{0, S("\0", 1), -1.0}, T{0, "a", -2.0}, T{7, "b", 0.5},
            T{std::numeric_limits<int64_t>::max(), "\xff", std::numeric_limits<double>::infinity()}};
  }
  static std::vector<T> Values() { return Keys(); }
};

template <>
struct Samples<std::tuple<bool, uint8_t, int16_t>> {
  using T = std::tuple<bool, uint8_t, int16_t>;
  static std::vector<T> Keys() {
    return {T{false, 0, -1}, T{false, 0, 0}, T{false, 255, -32768}, T{true, 0, 32767},
            T{true, 1, 0}};
  }
  static std::vector<T> Values() { return Keys(); }
};

template <>
struct Samples<Pod> {
  static std::vector<Pod> Values() {
    return {Pod{0, 0, {0, 0}, 0.0}, Pod{-1, 65535, {1, 255}, -0.0},
            Pod{123456, 7, {'a', 0}, std::numeric_limits<double>::quiet_NaN()}};
  }
};

template <>
struct Samples<std::pair<Pod, std::string>> {
  static std::vector<std::pair<Pod, std::string>> Values() {
    return {{Pod{1, 2, {3, 4}, 5.0}, ""}, {Pod{-1, 0, {0, 0}, -1.0}, S("x\0y", 3)}};
  }
};

template <>
struct Samples<std::tuple<std::string, std::string, int8_t>> {
  using T = std::tuple<std::string, std::string, int8_t>;
  static std::vector<T> Values() {
    return {T{"", "", 0}, T{"a", "", -1}, T{"", "b", 1}, T{S("\0", 1), std::string(300, 'v'), 127}};
  }
};

// Every integer type std::integral knows (int64_t is long here; long long is another type).
using KeyTypes =
    ::testing::Types<std::string, bool, char, signed char, unsigned char, short, unsigned short,
                     int, unsigned, long, unsigned long, long long, unsigned long long, wchar_t,
                     char8_t, char16_t, char32_t, float, double, std::pair<std::string, int32_t>,
                     std::tuple<int64_t, std::string, double>, std::tuple<bool, uint8_t, int16_t>>;

using ValueTypes =
    ::testing::Types<std::string, bool, char, signed char, unsigned char, short, unsigned short,
                     int, unsigned, long, unsigned long, long long, unsigned long long, wchar_t,
                     char8_t, char16_t, char32_t, float, double, std::pair<std::string, int32_t>,
                     std::tuple<int64_t, std::string, double>, Pod, std::pair<Pod, std::string>,
                     std::tuple<std::string, std::string, int8_t>>;

template <typename T>
class KeyTypeTest : public ::testing::Test {};
TYPED_TEST_SUITE(KeyTypeTest, KeyTypes);

template <typename T>
class ValueTypeTest : public ::testing::Test {};
TYPED_TEST_SUITE(ValueTypeTest, ValueTypes);

// Keys go in shuffled, half of them into a segment and half into the WAL; Get finds each, Seek
// lands on each, and iteration both ways yields them in operator< order, before and after reopen.
TYPED_TEST(KeyTypeTest, RoundTripAndOrderThroughIterator) {
  using K = TypeParam;
  using Store = KVStore<K, int64_t>;
  std::vector<K> keys = Samples<K>::Keys();
  std::vector<K> sorted = keys;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(std::adjacent_find(sorted.begin(), sorted.end(),
                               [](const K& a, const K& b) { return !(a < b); }),
            sorted.end())
      << "samples must be distinct";
  std::vector<int> order(keys.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int>(i);
  std::shuffle(order.begin(), order.end(), std::mt19937(42));

  std::map<K, int64_t> model;
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (size_t n = 0; n < order.size(); ++n) {
      const K& key = keys[order[n]];
      KV_ASSERT_OK(store->Set(key, -1));  // Overwritten below: only the newest may show.
      if (n == order.size() / 2) KV_ASSERT_OK(store->Flush());
    }
    for (size_t n = 0; n < order.size(); ++n) {
      KV_ASSERT_OK(store->Set(keys[order[n]], order[n]));
      model[keys[order[n]]] = order[n];
      if (n == order.size() / 3) KV_ASSERT_OK(store->Flush());
    }
    ExpectStoreEquals(*store, model, keys);
    auto it = store->NewIterator();
    for (size_t i = 0; i < sorted.size(); ++i) {
      it->Seek(sorted[i]);
      ASSERT_TRUE(it->Valid());
      EXPECT_EQ(it->key(), sorted[i]);
    }
  }
  auto store = ValueOrDie(Store::Open(dir));
  ExpectStoreEquals(*store, model, keys);
  const auto entries = ScanAll(*store);
  ASSERT_EQ(entries.size(), sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) EXPECT_EQ(entries[i].first, sorted[i]) << i;
}

// Values come back bit for bit from the MemTable, a segment and the WAL after reopen.
TYPED_TEST(ValueTypeTest, RoundTrip) {
  using V = TypeParam;
  using Store = KVStore<std::string, V>;
  const std::vector<V> values = Samples<V>::Values();
  std::map<std::string, V> model;
  std::vector<std::string> keys;
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (size_t i = 0; i < values.size(); ++i) {
      keys.push_back(Key(static_cast<int>(i)));
      KV_ASSERT_OK(store->Set(keys.back(), values[i]));
      model.emplace(keys.back(), values[i]);
      auto got = store->Get(keys.back());
      KV_ASSERT_OK(got.status());
      EXPECT_EQ(ValueBytes(*got), ValueBytes(values[i])) << i;
      if (i == values.size() / 2) KV_ASSERT_OK(store->Flush());
    }
    ExpectStoreEquals(*store, model, keys);
  }
  auto store = ValueOrDie(Store::Open(dir));
  ExpectStoreEquals(*store, model, keys);
  KV_ASSERT_OK(store->Compact());
  ExpectStoreEquals(*store, model, keys);
}

// ---- Key order: the documented examples ----------------------------------------------------

template <typename K>
std::vector<K> KeysInStoreOrder(const std::vector<K>& inserted) {
  auto store = ValueOrDie(KVStore<K, int32_t>::Open(NewTempDir()));
  for (const K& k : inserted) EXPECT_TRUE(store->Set(k, 0).ok());
  std::vector<K> keys;
  for (const auto& [k, v] : ScanAll(*store)) keys.push_back(k);
  return keys;
}

TEST(KeyOrderTest, SignedIntegersNegativesFirst) {
  EXPECT_EQ(KeysInStoreOrder<int32_t>({5, -1, 0, std::numeric_limits<int32_t>::min(), -100, 100,
                                       std::numeric_limits<int32_t>::max(), 1}),
            (std::vector<int32_t>{std::numeric_limits<int32_t>::min(), -100, -1, 0, 1, 5, 100,
                                  std::numeric_limits<int32_t>::max()}));
  EXPECT_EQ(KeysInStoreOrder<int64_t>({1, -1, -2, 2, 0}), (std::vector<int64_t>{-2, -1, 0, 1, 2}));
}

TEST(KeyOrderTest, DoublesIncludingNegativesAndInfinities) {
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_EQ(KeysInStoreOrder<double>({1.5, -2.25, inf, -inf, 0.0, -1e-300, 1e-300, -7.0, 3.0}),
            (std::vector<double>{-inf, -7.0, -2.25, -1e-300, 0.0, 1e-300, 1.5, 3.0, inf}));
}

// serializer.h: -0.0 and +0.0 are distinct keys, -0.0 first, each keeping its own value.
// -0.0 == 0.0, so they are one key (stored as 0.0): either spelling sets, finds and deletes it.
TEST(KeyOrderTest, NegativeZeroIsTheSameKeyAsPositiveZero) {
  auto store = ValueOrDie((KVStore<double, std::string>::Open(NewTempDir())));
  KV_ASSERT_OK(store->Set(0.0, "positive"));
  KV_ASSERT_OK(store->Set(-0.0, "negative"));
  KV_ASSERT_OK(store->Set(-1.0, "minus one"));
  EXPECT_EQ(ValueOrDie(store->Get(0.0)), "negative");
  EXPECT_EQ(ValueOrDie(store->Get(-0.0)), "negative");
  const auto entries = ScanAll(*store);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].second, "minus one");
  EXPECT_TRUE(entries[1].first == 0.0 && !std::signbit(entries[1].first));
  EXPECT_EQ(entries[1].second, "negative");
  KV_ASSERT_OK(store->Delete(-0.0));
  EXPECT_EQ(store->Get(0.0).status().code(), absl::StatusCode::kNotFound);
}

TEST(KeyOrderTest, StringPrefixSortsBeforeItsExtensions) {
  EXPECT_EQ(KeysInStoreOrder<std::string>({"abc", "b", "ab", S("a\0", 2), "a", "\xff", "aa"}),
            (std::vector<std::string>{"a", S("a\0", 2), "aa", "ab", "abc", "b", "\xff"}));
}

TEST(KeyOrderTest, TuplesAreLexicographic) {
  using T = std::tuple<int32_t, std::string>;
  EXPECT_EQ(KeysInStoreOrder<T>({T{1, "a"}, T{-1, "zz"}, T{1, ""}, T{0, "b"}, T{1, S("a\0", 2)},
                                 T{1, "ab"}}),
            (std::vector<T>{T{-1, "zz"}, T{0, "b"}, T{1, ""}, T{1, "a"}, T{1, S("a\0", 2)},
                            T{1, "ab"}}));
}

// ---- Overwrites and deletes across the MemTable, segments and reopen ------------------------

TEST(StoreTest, OverwriteAndDeleteAcrossMemTableSegmentsAndReopen) {
  Options options;
  options.memtable_bytes = 4096;
  options.background_compaction = false;  // Keep every segment, so shadowing is exercised.
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  std::map<std::string, std::string> model;
  std::vector<std::string> probes;
  constexpr int kKeys = 600;
  for (int i = 0; i < kKeys; ++i) probes.push_back(Key(i));
  {
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < kKeys; ++i) {
      KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("first-", i, std::string(i % 50, '.'))));
      model[Key(i)] = absl::StrCat("first-", i, std::string(i % 50, '.'));
    }
    KV_ASSERT_OK(store->Flush());
    for (int i = 0; i < kKeys; i += 2) {
      KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("second-", i)));
      model[Key(i)] = absl::StrCat("second-", i);
    }
    for (int i = 0; i < kKeys; i += 3) {
      KV_ASSERT_OK(store->Delete(Key(i)));
      model.erase(Key(i));
    }
    KV_ASSERT_OK(store->Delete("never-written"));
    ExpectStoreEquals(*store, model, probes);
    KV_ASSERT_OK(store->WaitForBackgroundWork());
    EXPECT_GE(Property(*store, "kvstore.num-segments"), 3u) << *store->GetProperty("kvstore.segments");
    // Resurrect some deleted keys; these live in the MemTable and the WAL only.
    for (int i = 0; i < kKeys; i += 9) {
      KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("third-", i)));
      model[Key(i)] = absl::StrCat("third-", i);
    }
    ExpectStoreEquals(*store, model, probes);
  }
  {
    auto store = ValueOrDie(Store::Open(dir, options));
    ExpectStoreEquals(*store, model, probes);
    for (int i = 1; i < kKeys; i += 5) {
      KV_ASSERT_OK(store->Delete(Key(i)));
      model.erase(Key(i));
    }
    KV_ASSERT_OK(store->Flush());
    ExpectStoreEquals(*store, model, probes);
  }
  auto store = ValueOrDie(Store::Open(dir, options));
  ExpectStoreEquals(*store, model, probes);
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(Property(*store, "kvstore.num-segments"), 1u);
  ExpectStoreEquals(*store, model, probes);
}

// A store that is never compacted piles up runs: with 40 of them, every key still reads its
// newest version, whichever run holds it, and deletions in newer runs still hide older versions.
TEST(StoreTest, GetReadsTheNewestVersionAcrossFortyRuns) {
  Options options;
  options.background_compaction = false;  // Every flush stays a run of its own.
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  constexpr int kRuns = 40, kKeys = 400;
  std::map<std::string, std::string> model;
  std::vector<std::string> probes;
  for (int i = 0; i < kKeys; ++i) probes.push_back(Key(i));
  probes.push_back("absent");
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int run = 0; run < kRuns; ++run) {
    // The first and last keys make every flush span the whole key range, so none joins another run.
    for (int i : {0, kKeys - 1}) {
      KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("run-", run)));
      model[Key(i)] = absl::StrCat("run-", run);
    }
    for (int i = run; i < kKeys; i += kRuns) {
      if ((i / kRuns) % 3 == 2) {
        KV_ASSERT_OK(store->Delete(Key(i)));
        model.erase(Key(i));
      } else {
        KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("key-", i, "-run-", run)));
        model[Key(i)] = absl::StrCat("key-", i, "-run-", run);
      }
    }
    // Older versions of the keys the next runs will write, so that newer runs shadow them.
    for (int i = run + 1; i < kKeys; i += kRuns) {
      KV_ASSERT_OK(store->Set(Key(i), absl::StrCat("stale-", run)));
      model[Key(i)] = absl::StrCat("stale-", run);
    }
    KV_ASSERT_OK(store->Flush());
  }
  EXPECT_EQ(Property(*store, "kvstore.num-runs"), static_cast<uint64_t>(kRuns));
  ExpectStoreEquals(*store, model, probes);
  store.reset();
  store = ValueOrDie(Store::Open(dir, options));
  ExpectStoreEquals(*store, model, probes);
}

// GetInto reads into the caller's value: found in the MemTable or a segment, its old contents are
// replaced (a string keeps its buffer); not found, the value is left as it was.
TEST(StoreTest, GetIntoReusesTheCallersValue) {
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(NewTempDir()));
  KV_ASSERT_OK(store->Set("flushed", std::string(300, 'f')));
  KV_ASSERT_OK(store->Flush());
  KV_ASSERT_OK(store->Set("fresh", "short"));
  std::string value(1000, 'x');
  KV_ASSERT_OK(store->GetInto("flushed", &value));
  EXPECT_EQ(value, std::string(300, 'f'));
  const char* buffer = value.data();
  KV_ASSERT_OK(store->GetInto("fresh", &value));
  EXPECT_EQ(value, "short");
  EXPECT_EQ(value.data(), buffer);
  EXPECT_TRUE(absl::IsNotFound(store->GetInto("absent", &value)));
  EXPECT_EQ(value, "short");
  KV_ASSERT_OK(store->Delete("fresh"));
  EXPECT_TRUE(absl::IsNotFound(store->GetInto("fresh", &value)));

  auto typed = ValueOrDie(KVStore<int32_t, double>::Open(NewTempDir()));
  KV_ASSERT_OK(typed->Set(7, 2.5));
  double d = 0;
  KV_ASSERT_OK(typed->GetInto(7, &d));
  EXPECT_EQ(d, 2.5);
}

template <typename It>
concept HasViews = requires(const It& i) {
  i.key_view();
  i.value_view();
};

// String keys and values are stored as they are: an iterator lends views of them without copying,
// and copies them into key() and value() only when asked. Other types have no views.
TEST(StoreTest, IteratorViewsOfStringKeysAndValues) {
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(NewTempDir()));
  KV_ASSERT_OK(store->Set("a", std::string(2000, 'x')));
  KV_ASSERT_OK(store->Flush());
  KV_ASSERT_OK(store->Set("b", "in the memtable"));
  KV_ASSERT_OK(store->Set(std::string("c\0d", 3), ""));
  auto it = store->NewIterator();
  std::vector<std::pair<std::string, std::string>> seen;
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    seen.emplace_back(std::string(it->key_view()), std::string(it->value_view()));
    EXPECT_EQ(it->key(), seen.back().first);
    EXPECT_EQ(it->value(), seen.back().second);
  }
  KV_ASSERT_OK(it->status());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].second, std::string(2000, 'x'));
  EXPECT_EQ(seen[1].second, "in the memtable");
  EXPECT_EQ(seen[2].first, std::string("c\0d", 3));
  // value() without key() first, and a key after moving back.
  it->SeekToLast();
  EXPECT_EQ(it->value(), "");
  it->Prev();
  EXPECT_EQ(it->value(), "in the memtable");
  EXPECT_EQ(it->key(), "b");

  static_assert(!HasViews<KVStore<int32_t, double>::Iterator>);
  static_assert(!HasViews<KVStore<std::string, double>::Iterator>);
  static_assert(HasViews<Store::Iterator>);
}

// Options::memtable_bytes counts what the MemTable holds: a small MemTable takes many writes
// before it flushes, not one (the arena's 256 KiB blocks once made every write a flush).
TEST(StoreTest, SmallMemTableHoldsManyWritesBeforeFlushing) {
  Options options;
  options.memtable_bytes = 64 * 1024;
  options.background_compaction = false;
  auto store = ValueOrDie((KVStore<std::string, std::string>::Open(NewTempDir(), options)));
  for (int i = 0; i < 200; ++i) KV_ASSERT_OK(store->Set(Key(i), std::string(50, 'v')));
  EXPECT_EQ(Property(*store, "kvstore.flushes"), 0u);
  EXPECT_EQ(Property(*store, "kvstore.num-segments"), 0u);
  EXPECT_LE(Property(*store, "kvstore.memtable-bytes"), options.memtable_bytes);
  for (int i = 200; i < 2000; ++i) KV_ASSERT_OK(store->Set(Key(i), std::string(50, 'v')));
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  const uint64_t segments = Property(*store, "kvstore.num-segments");
  EXPECT_GE(segments, 1u);
  EXPECT_LE(segments, 4u);  // About 2000 * 80 bytes over 64 KiB MemTables.
}

// ---- Snapshots -----------------------------------------------------------------------------

TEST(StoreTest, SnapshotSeesOldStateThroughOverwritesDeletesFlushAndCompact) {
  Options options;
  options.memtable_bytes = 4096;
  auto store = ValueOrDie((KVStore<int32_t, std::string>::Open(NewTempDir(), options)));
  std::map<int32_t, std::string> before, after;
  std::vector<int32_t> probes;
  for (int i = 0; i < 300; ++i) probes.push_back(i);
  for (int i = 0; i < 200; ++i) {
    KV_ASSERT_OK(store->Set(i, absl::StrCat("v1-", i)));
    before[i] = absl::StrCat("v1-", i);
  }
  KV_ASSERT_OK(store->Flush());
  for (int i = 200; i < 250; ++i) {  // Some of the old state lives in the MemTable only.
    KV_ASSERT_OK(store->Set(i, absl::StrCat("v1-", i)));
    before[i] = absl::StrCat("v1-", i);
  }
  Snapshot snapshot = store->GetSnapshot();
  EXPECT_EQ(Property(*store, "kvstore.live-snapshots"), 1u);
  ReadOptions at_snapshot;
  at_snapshot.snapshot = &snapshot;
  after = before;
  for (int i = 0; i < 300; ++i) {
    if (i % 4 == 0) {
      KV_ASSERT_OK(store->Delete(i));
      after.erase(i);
    } else if (i % 4 == 1) {
      KV_ASSERT_OK(store->Set(i, absl::StrCat("v2-", i)));
      after[i] = absl::StrCat("v2-", i);
    }
  }
  ExpectStoreEquals(*store, before, probes, at_snapshot);
  ExpectStoreEquals(*store, after, probes);
  KV_ASSERT_OK(store->Flush());
  ExpectStoreEquals(*store, before, probes, at_snapshot);
  KV_ASSERT_OK(store->Compact());
  ExpectStoreEquals(*store, before, probes, at_snapshot);
  ExpectStoreEquals(*store, after, probes);
  // A second round of overwrites, compacted while the snapshot lives, must not disturb it.
  for (int i = 0; i < 300; i += 2) {
    KV_ASSERT_OK(store->Set(i, absl::StrCat("v3-", i)));
    after[i] = absl::StrCat("v3-", i);
  }
  KV_ASSERT_OK(store->Compact());
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  ExpectStoreEquals(*store, before, probes, at_snapshot);
  ExpectStoreEquals(*store, after, probes);

  // Released, it no longer holds old versions: a compaction drops them.
  const uint64_t entries_with_snapshot = Property(*store, "kvstore.num-entries");
  snapshot = Snapshot();
  EXPECT_EQ(Property(*store, "kvstore.live-snapshots"), 0u);
  KV_ASSERT_OK(store->Compact());
  EXPECT_LT(Property(*store, "kvstore.num-entries"), entries_with_snapshot);
  EXPECT_EQ(Property(*store, "kvstore.num-entries"), after.size());
  ExpectStoreEquals(*store, after, probes);
}

TEST(StoreTest, SnapshotsAtEveryStepStayRepeatable) {
  Options options;
  options.memtable_bytes = 4096;
  options.compaction_trigger = 2;
  auto store = ValueOrDie((KVStore<std::string, int64_t>::Open(NewTempDir(), options)));
  std::vector<std::string> probes;
  for (int i = 0; i < 50; ++i) probes.push_back(Key(i));
  std::map<std::string, int64_t> model;
  std::vector<std::pair<Snapshot, std::map<std::string, int64_t>>> snapshots;
  std::mt19937 rng(7);
  for (int step = 0; step < 40; ++step) {
    for (int n = 0; n < 30; ++n) {
      const std::string& key = probes[rng() % probes.size()];
      if (rng() % 3 == 0) {
        KV_ASSERT_OK(store->Delete(key));
        model.erase(key);
      } else {
        KV_ASSERT_OK(store->Set(key, step * 1000 + n));
        model[key] = step * 1000 + n;
      }
    }
    snapshots.emplace_back(store->GetSnapshot(), model);
    if (step % 5 == 0) KV_ASSERT_OK(store->Flush());
    if (step % 13 == 0) KV_ASSERT_OK(store->Compact());
    if (step % 7 == 0) snapshots.erase(snapshots.begin() + static_cast<ptrdiff_t>(rng() % snapshots.size()));
  }
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  for (const auto& [snapshot, state] : snapshots) {
    ReadOptions options;
    options.snapshot = &snapshot;
    ExpectStoreEquals(*store, state, probes, options);
  }
  ExpectStoreEquals(*store, model, probes);
}

// Handles may outlive the store: releasing one later must be harmless.
// An iterator and a snapshot may outlive the store (no dangling reads), but the iterator stops
// reading once the store is gone: it says so, rather than serve a store that no longer exists.
TEST(StoreTest, SnapshotAndIteratorMayOutliveTheStore) {
  Snapshot snapshot;
  std::unique_ptr<KVStore<std::string, std::string>::Iterator> it;
  {
    auto store = ValueOrDie((KVStore<std::string, std::string>::Open(NewTempDir())));
    KV_ASSERT_OK(store->Set("a", "1"));
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Set("b", "2"));
    snapshot = store->GetSnapshot();
    it = store->NewIterator();
    it->SeekToFirst();
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), "a");
  }
  EXPECT_TRUE(snapshot.valid());
  it->Next();
  EXPECT_FALSE(it->Valid());
  EXPECT_EQ(it->status().code(), absl::StatusCode::kFailedPrecondition) << it->status();
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
}

// ---- Iterators -----------------------------------------------------------------------------

TEST(StoreTest, IteratorIsStableWhileWritesFlushesAndCompactionsGoOn) {
  Options options;
  options.memtable_bytes = 4096;
  options.compaction_trigger = 2;
  auto store = ValueOrDie((KVStore<int32_t, std::string>::Open(NewTempDir(), options)));
  std::map<int32_t, std::string> model;
  for (int i = 0; i < 400; i += 2) {
    KV_ASSERT_OK(store->Set(i, absl::StrCat("old-", i)));
    model[i] = absl::StrCat("old-", i);
    if (i == 200) KV_ASSERT_OK(store->Flush());
  }
  auto it = store->NewIterator();
  auto back = store->NewIterator();
  it->SeekToFirst();
  back->SeekToLast();
  auto expect_forward = model.begin();
  auto expect_backward = model.rbegin();
  for (int round = 0; expect_forward != model.end(); ++round) {
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), expect_forward->first);
    EXPECT_EQ(it->value(), expect_forward->second);
    ASSERT_TRUE(back->Valid());
    EXPECT_EQ(back->key(), expect_backward->first);
    EXPECT_EQ(back->value(), expect_backward->second);
    // Churn: insert between and around, overwrite and delete ahead of both iterators.
    for (int j = 0; j < 20; ++j) {
      const int k = (round * 37 + j * 11) % 420 - 10;
      if (j % 3 == 0) {
        KV_ASSERT_OK(store->Delete(k));
      } else {
        KV_ASSERT_OK(store->Set(k, absl::StrCat("new-", round, "-", k)));
      }
    }
    if (round % 25 == 0) KV_ASSERT_OK(store->Flush());
    if (round % 60 == 0) KV_ASSERT_OK(store->Compact());
    it->Next();
    back->Prev();
    ++expect_forward;
    ++expect_backward;
  }
  EXPECT_FALSE(it->Valid());
  EXPECT_FALSE(back->Valid());
  KV_EXPECT_OK(it->status());
  KV_EXPECT_OK(back->status());
  // And seeking an old iterator still reads the old state.
  it->Seek(101);
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 102);
  EXPECT_EQ(it->value(), "old-102");
}

TEST(StoreTest, PrevSeekToLastAndDirectionChanges) {
  Options options;
  options.memtable_bytes = 4096;
  options.background_compaction = false;
  auto store = ValueOrDie((KVStore<int32_t, int32_t>::Open(NewTempDir(), options)));
  {
    auto it = store->NewIterator();
    it->SeekToLast();
    EXPECT_FALSE(it->Valid());
    it->SeekToFirst();
    EXPECT_FALSE(it->Valid());
    it->Seek(0);
    EXPECT_FALSE(it->Valid());
    KV_EXPECT_OK(it->status());
  }
  // Keys 0..99 spread over two segments and the MemTable, with deletions in each layer that
  // shadow live keys below them, including the first and the last key.
  std::map<int32_t, int32_t> model;
  for (int i = 0; i < 100; ++i) {
    KV_ASSERT_OK(store->Set(i, i));
    model[i] = i;
  }
  KV_ASSERT_OK(store->Flush());
  for (int i = 0; i < 100; i += 7) {
    KV_ASSERT_OK(store->Delete(i));
    model.erase(i);
  }
  KV_ASSERT_OK(store->Set(1000, 1000));
  model[1000] = 1000;
  KV_ASSERT_OK(store->Flush());
  for (int i = 99; i >= 90; --i) {
    KV_ASSERT_OK(store->Delete(i));
    model.erase(i);
  }
  KV_ASSERT_OK(store->Delete(1000));
  model.erase(1000);
  KV_ASSERT_OK(store->Set(50, -50));
  model[50] = -50;

  auto it = store->NewIterator();
  it->SeekToLast();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 89);
  for (auto m = model.rbegin(); m != model.rend(); ++m) {
    ASSERT_TRUE(it->Valid());
    EXPECT_EQ(it->key(), m->first);
    EXPECT_EQ(it->value(), m->second);
    it->Prev();
  }
  EXPECT_FALSE(it->Valid());
  it->Prev();  // Stays invalid.
  EXPECT_FALSE(it->Valid());
  it->SeekToFirst();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 1);  // 0 is deleted.

  // Zig-zag: every Next then Prev must come back to the same key, and vice versa.
  std::mt19937 rng(3);
  for (int step = 0; step < 300; ++step) {
    const int target = static_cast<int>(rng() % 110) - 5;
    it->Seek(target);
    auto m = model.lower_bound(target);
    if (m == model.end()) {
      EXPECT_FALSE(it->Valid()) << target;
      continue;
    }
    ASSERT_TRUE(it->Valid());
    ASSERT_EQ(it->key(), m->first);
    const int moves = static_cast<int>(rng() % 6);
    for (int j = 0; j < moves && it->Valid(); ++j) {
      if (rng() % 2 == 0) {
        it->Next();
        ++m;
      } else {
        it->Prev();
        if (m == model.begin()) {
          m = model.end();
        } else {
          --m;
        }
      }
      if (m == model.end()) {
        EXPECT_FALSE(it->Valid());
      } else {
        ASSERT_TRUE(it->Valid()) << "expected " << m->first;
        EXPECT_EQ(it->key(), m->first);
        EXPECT_EQ(it->value(), m->second);
      }
    }
  }
  it->Seek(2000);
  EXPECT_FALSE(it->Valid());
  it->Next();
  EXPECT_FALSE(it->Valid());
  KV_EXPECT_OK(it->status());
}

// ---- Scan ----------------------------------------------------------------------------------

TEST(StoreTest, ScanIsHalfOpen) {
  auto store = ValueOrDie((KVStore<int32_t, std::string>::Open(NewTempDir())));
  for (int i = 0; i < 100; i += 2) KV_ASSERT_OK(store->Set(i, absl::StrCat(i)));
  KV_ASSERT_OK(store->Flush());
  KV_ASSERT_OK(store->Delete(14));
  KV_ASSERT_OK(store->Set(15, "15"));
  auto keys_in = [&](auto range) {
    std::vector<int32_t> keys;
    for (const auto& [k, v] : range) {
      EXPECT_EQ(v, absl::StrCat(k));
      keys.push_back(k);
    }
    EXPECT_TRUE(range.status().ok()) << range.status();
    return keys;
  };
  EXPECT_EQ(keys_in(store->Scan(10, 20)), (std::vector<int32_t>{10, 12, 15, 16, 18}));
  EXPECT_EQ(keys_in(store->Scan(9, 19)), (std::vector<int32_t>{10, 12, 15, 16, 18}));
  EXPECT_EQ(keys_in(store->Scan(10, 11)), (std::vector<int32_t>{10}));
  EXPECT_EQ(keys_in(store->Scan(10, 10)), (std::vector<int32_t>{}));
  EXPECT_EQ(keys_in(store->Scan(20, 10)), (std::vector<int32_t>{}));
  EXPECT_EQ(keys_in(store->Scan(14, 15)), (std::vector<int32_t>{}));  // Only a deleted key.
  EXPECT_EQ(keys_in(store->Scan(95, 1000)), (std::vector<int32_t>{96, 98}));
  EXPECT_EQ(keys_in(store->Scan(95)), (std::vector<int32_t>{96, 98}));
  EXPECT_EQ(keys_in(store->Scan(-5, 3)), (std::vector<int32_t>{0, 2}));
  EXPECT_EQ(keys_in(store->Scan(1000)), (std::vector<int32_t>{}));
  EXPECT_EQ(keys_in(store->Scan(std::numeric_limits<int32_t>::min())).size(), 50u);

  // Through a snapshot, a scan sees the old state.
  Snapshot snapshot = store->GetSnapshot();
  KV_ASSERT_OK(store->Set(11, "11"));
  KV_ASSERT_OK(store->Delete(12));
  ReadOptions at_snapshot;
  at_snapshot.snapshot = &snapshot;
  EXPECT_EQ(keys_in(store->Scan(10, 20, at_snapshot)), (std::vector<int32_t>{10, 12, 15, 16, 18}));
  EXPECT_EQ(keys_in(store->Scan(10, 20)), (std::vector<int32_t>{10, 11, 15, 16, 18}));
}

TEST(StoreTest, ScanOfStringPrefixRange) {
  auto store = ValueOrDie((KVStore<std::string, int32_t>::Open(NewTempDir())));
  for (const char* k : {"a", "ab", "ab\x01", "abc", "abd", "ac", "b"}) KV_ASSERT_OK(store->Set(k, 1));
  std::vector<std::string> keys;
  for (const auto& [k, v] : store->Scan("ab", "ac")) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"ab", "ab\x01", "abc", "abd"}));
}

// ---- WriteBatch ----------------------------------------------------------------------------

TEST(StoreTest, WriteBatchIsAtomic) {
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(store->Set("keep", "old"));
  KV_ASSERT_OK(store->Set("doomed", "old"));
  const uint64_t sequence = Property(*store, "kvstore.last-sequence");

  Store::WriteBatch bad;
  bad.Set("keep", "new");
  bad.Delete("doomed");
  bad.Set("fresh", "new");
  bad.Set(std::string(kMaxKeyBytes + 1, 'k'), "too long a key");
  bad.Set("after", "the rejected one");
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  const absl::Status s = store->Write(bad);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds the limit"));
  EXPECT_EQ(Property(*store, "kvstore.last-sequence"), sequence);
  EXPECT_EQ(ValueOrDie(store->Get("keep")), "old");
  EXPECT_EQ(ValueOrDie(store->Get("doomed")), "old");
  EXPECT_EQ(store->Get("fresh").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("after").status().code(), absl::StatusCode::kNotFound);

  Store::WriteBatch empty_key;
  empty_key.Set("x", "y");
  empty_key.Delete("");
  EXPECT_EQ(store->Write(empty_key).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Get("x").status().code(), absl::StatusCode::kNotFound);

  // Cleared, the batch is usable again; operations on one key apply in order.
  bad.Clear();
  KV_EXPECT_OK(bad.status());
  EXPECT_EQ(bad.size(), 0u);
  KV_EXPECT_OK(store->Write(bad));  // Empty: nothing to do.
  bad.Set("keep", "new");
  bad.Delete("doomed");
  bad.Set("fresh", "1");
  bad.Delete("fresh");
  bad.Delete("again");
  bad.Set("again", "2");
  EXPECT_EQ(bad.size(), 6u);
  KV_ASSERT_OK(store->Write(bad));
  EXPECT_EQ(Property(*store, "kvstore.last-sequence"), sequence + 6);
  auto check = [](const Store& st) {
    EXPECT_EQ(ValueOrDie(st.Get("keep")), "new");
    EXPECT_EQ(st.Get("doomed").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(st.Get("fresh").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(ValueOrDie(st.Get("again")), "2");
  };
  check(*store);
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir));
  check(*store);
  KV_ASSERT_OK(store->Flush());
  check(*store);
}

// Write takes the batch by const reference and does not copy it: threads may write one batch
// at once (grouped into one WAL record or not), each write getting sequence numbers of its own,
// and the batch is left as it was, to be written again.
TEST(StoreTest, OneConstBatchWrittenByManyThreadsAtOnce) {
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(dir));
  Store::WriteBatch batch;
  for (int i = 0; i < 2000; ++i) batch.Set(absl::StrCat("k", i), std::string(i % 300, 'v'));
  batch.Delete("k0");
  const Store::WriteBatch& shared = batch;
  const uint64_t before = Property(*store, "kvstore.last-sequence");
  constexpr int kThreads = 4, kWritesEach = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int w = 0; w < kWritesEach; ++w) {
        if (!store->Write(shared, WriteOptions{.sync = (w + t) % 10 == 0}).ok()) ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Property(*store, "kvstore.last-sequence"), before + kThreads * kWritesEach * 2001);
  EXPECT_EQ(batch.size(), 2001u);
  auto check = [](const Store& st) {
    EXPECT_EQ(st.Get("k0").status().code(), absl::StatusCode::kNotFound);
    EXPECT_EQ(ValueOrDie(st.Get("k1")), std::string(1, 'v'));
    EXPECT_EQ(ValueOrDie(st.Get("k1999")), std::string(1999 % 300, 'v'));
  };
  check(*store);
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir));  // From the WAL records alone.
  check(*store);
  KV_ASSERT_OK(store->Write(batch));
  check(*store);
}

// A snapshot or iterator never sees half a batch.
TEST(StoreTest, WriteBatchIsAllOrNothingForReaders) {
  using Store = KVStore<int32_t, int64_t>;
  Options options;
  options.memtable_bytes = 4096;
  auto store = ValueOrDie(Store::Open(NewTempDir(), options));
  for (int64_t round = 1; round <= 200; ++round) {
    Store::WriteBatch batch;
    for (int k = 0; k < 20; ++k) batch.Set(k, round);
    KV_ASSERT_OK(store->Write(batch));
    if (round % 40 == 0) KV_ASSERT_OK(store->Flush());
    Snapshot snapshot = store->GetSnapshot();
    ReadOptions options;
    options.snapshot = &snapshot;
    for (const auto& [k, v] : ScanAll(*store, options)) EXPECT_EQ(v, round) << k;
  }
}

// ---- Compaction ----------------------------------------------------------------------------

// The sequence number of each version in the store's only segment, key by key in order.
std::vector<std::vector<uint64_t>> SequencesInOnlySegment(const std::string& dir) {
  const std::vector<fs::path> segments = FilesWithExtension(dir, ".seg");
  EXPECT_EQ(segments.size(), 1u);
  if (segments.size() != 1) return {};
  const uint64_t number = std::stoull(segments[0].stem().string());
  auto segment = ValueOrDie(internal::Segment<BloomFilter<10>>::Open(Env::Default(), dir, number));
  std::vector<std::vector<uint64_t>> out;
  std::string last_key;
  internal::Segment<BloomFilter<10>>::Cursor cursor(segment, /*verify=*/true);
  for (cursor.SeekToFirst(); cursor.Valid(); cursor.Next()) {
    if (out.empty() || cursor.record().key != last_key) {
      out.emplace_back();
      last_key = std::string(cursor.record().key);
    }
    out.back().push_back(internal::TagSequence(cursor.record().tag));
  }
  KV_EXPECT_OK(cursor.status());
  return out;
}

TEST(StoreTest, BottomSegmentWritesValuesNoSnapshotPredatesWithSequenceZero) {
  Options options;
  options.background_compaction = false;
  const std::string dir = NewTempDir();
  using Store = KVStore<int32_t, std::string>;
  std::map<int32_t, std::string> old_state, latest;
  std::vector<int32_t> probes;
  for (int i = 0; i < 100; ++i) probes.push_back(i);
  {
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < 100; ++i) {
      KV_ASSERT_OK(store->Set(i, absl::StrCat("v1-", i)));
      old_state[i] = absl::StrCat("v1-", i);
    }
    Snapshot snapshot = store->GetSnapshot();
    ReadOptions at_snapshot;
    at_snapshot.snapshot = &snapshot;
    latest = old_state;
    for (int i = 0; i < 50; ++i) {
      KV_ASSERT_OK(store->Set(i, absl::StrCat("v2-", i)));
      latest[i] = absl::StrCat("v2-", i);
    }
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Compact());
    // What the snapshot sees keeps no sequence; what is newer than the snapshot keeps its own.
    const std::vector<std::vector<uint64_t>> with_snapshot = SequencesInOnlySegment(dir);
    ASSERT_EQ(with_snapshot.size(), 100u);
    for (int i = 0; i < 100; ++i) {
      SCOPED_TRACE(i);
      if (i < 50) {
        ASSERT_EQ(with_snapshot[i].size(), 2u);
        EXPECT_GT(with_snapshot[i][0], 0u);
        EXPECT_EQ(with_snapshot[i][1], 0u);
      } else {
        EXPECT_THAT(with_snapshot[i], ::testing::ElementsAre(0u));
      }
    }
    ExpectStoreEquals(*store, old_state, probes, at_snapshot);
    ExpectStoreEquals(*store, latest, probes);

    snapshot = Snapshot();
    KV_ASSERT_OK(store->Compact());
    for (const std::vector<uint64_t>& versions : SequencesInOnlySegment(dir)) {
      EXPECT_THAT(versions, ::testing::ElementsAre(0u));
    }
    ExpectStoreEquals(*store, latest, probes);
  }
  // After a reopen, new writes still win over the versions stored with sequence 0.
  auto store = ValueOrDie(Store::Open(dir, options));
  ExpectStoreEquals(*store, latest, probes);
  KV_ASSERT_OK(store->Set(7, "v3"));
  latest[7] = "v3";
  KV_ASSERT_OK(store->Flush());
  ExpectStoreEquals(*store, latest, probes);
  KV_ASSERT_OK(store->Compact());
  ExpectStoreEquals(*store, latest, probes);
  KV_ASSERT_OK(store->Verify());
}

TEST(StoreTest, CompactDropsSpaceAndKeepsData) {
  Options options;
  options.memtable_bytes = 16 * 1024;
  options.background_compaction = false;
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  std::map<std::string, std::string> model;
  std::vector<std::string> probes;
  constexpr int kKeys = 3000;
  for (int i = 0; i < kKeys; ++i) probes.push_back(Key(i));
  uint64_t full_bytes;
  {
    auto store = ValueOrDie(Store::Open(dir, options));
    for (int i = 0; i < kKeys; ++i) {
      const std::string value(100, static_cast<char>('a' + i % 26));
      KV_ASSERT_OK(store->Set(Key(i), value));
      model[Key(i)] = value;
    }
    KV_ASSERT_OK(store->Flush());
    full_bytes = Property(*store, "kvstore.total-bytes");
    EXPECT_GT(full_bytes, kKeys * 100u);
    for (int i = 0; i < kKeys; ++i) {
      if (i % 10 == 0) {
        KV_ASSERT_OK(store->Set(Key(i), "short"));
        model[Key(i)] = "short";
      } else if (i % 10 != 1) {
        KV_ASSERT_OK(store->Delete(Key(i)));
        model.erase(Key(i));
      }
    }
    KV_ASSERT_OK(store->Flush());
    EXPECT_GT(Property(*store, "kvstore.total-bytes"), full_bytes);
    KV_ASSERT_OK(store->Compact());
    EXPECT_EQ(Property(*store, "kvstore.num-segments"), 1u);
    // 10% of the keys at 100 bytes, 10% at 5 bytes: well under a quarter of the original.
    EXPECT_LT(Property(*store, "kvstore.total-bytes"), full_bytes / 4);
    // Deleted keys leave nothing behind, not even their deletions.
    EXPECT_EQ(Property(*store, "kvstore.num-entries"), model.size());
    ExpectStoreEquals(*store, model, probes);
    KV_ASSERT_OK(store->Verify());
  }
  auto store = ValueOrDie(Store::Open(dir, options));
  ExpectStoreEquals(*store, model, probes);
  // Old segment files are gone from the directory too.
  EXPECT_EQ(FilesWithExtension(dir, ".seg").size(), 1u);

  // Deleting everything and compacting leaves an empty store.
  for (const auto& [k, v] : model) KV_ASSERT_OK(store->Delete(k));
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(Property(*store, "kvstore.total-bytes"), 0u);
  ExpectStoreEquals(*store, std::map<std::string, std::string>(), probes);
}

// Resident bytes of this process's mappings of files whose path contains `name` (from
// /proc/self/smaps; 0 if none is mapped).
uint64_t MappedResidentBytes(const std::string& name) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool in_file = false;
  uint64_t kib = 0;
  while (std::getline(smaps, line)) {
    if (line.rfind("Rss:", 0) == 0) {
      if (in_file) kib += std::stoull(line.substr(4));
    } else if (!line.empty() && line.find(':') > line.find(' ')) {  // A mapping's header line.
      in_file = line.find(name) != std::string::npos;
    }
  }
  return kib * 1024;
}

// An Env whose mapped files stand for readers running beside a compaction: whenever part of a
// file is released but not all of what follows it (a compaction's cursor dropping what it has
// merged), every page of the file is read again at once, as concurrent Gets would.
class RereadingEnv final : public EnvWrapper {
 public:
  RereadingEnv() : EnvWrapper(Env::Default()) {}
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    KV_ASSIGN_OR_RETURN(auto base, target()->NewRandomAccessFile(path));
    return std::make_unique<RereadingFile>(std::move(base));
  }

 private:
  class RereadingFile final : public RandomAccessFileWrapper {
   public:
    using RandomAccessFileWrapper::RandomAccessFileWrapper;
    void WillNotNeed(uint64_t offset, uint64_t n) const override {
      RandomAccessFileWrapper::WillNotNeed(offset, n);
      if (offset + n >= Size() || !StableViews()) return;
      absl::string_view all;
      if (!Read(0, Size(), &all, nullptr).ok()) return;
      uint64_t sum = 0;
      for (size_t at = 0; at < all.size(); at += 4096) sum += static_cast<uint8_t>(all[at]);
      touched_.fetch_add(sum, std::memory_order_relaxed);  // Keeps the reads.
    }

   private:
    mutable std::atomic<uint64_t> touched_{0};
  };
};

// A compaction's inputs leave the process's RSS when the output replaces them, even while an
// iterator still holds them (and so their mappings), and even where reads touched them again
// behind the compaction: otherwise they stay resident beside the output that later reads touch.
TEST(StoreTest, CompactionInputsLeaveTheRssOnceReplaced) {
  RereadingEnv env;
  Options options;
  options.env = &env;
  options.background_compaction = false;
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(dir, options));
  constexpr int kKeys = 4000;
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < kKeys; ++i) KV_ASSERT_OK(store->Set(Key(i), std::string(1000, 'a' + round)));
    KV_ASSERT_OK(store->Flush());
  }
  std::vector<std::string> inputs;  // As /proc/self/smaps names them.
  for (const fs::path& file : FilesWithExtension(dir, ".seg")) {
    inputs.push_back(fs::canonical(file).string());
  }
  ASSERT_EQ(inputs.size(), 2u);
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(ValueOrDie(store->Get(Key(i))), std::string(1000, 'b'));
  uint64_t before = 0;
  for (const std::string& input : inputs) before += MappedResidentBytes(input);
  ASSERT_GT(before, 2u << 20);  // Else this test would show nothing.
  auto it = store->NewIterator();  // Holds both inputs mapped through the compaction.
  KV_ASSERT_OK(store->Compact());
  ASSERT_EQ(FilesWithExtension(dir, ".seg").size(), 1u);
  for (const std::string& input : inputs) {
    EXPECT_LE(MappedResidentBytes(input), 8u << 10) << input;  // At most the partial last page.
  }
  // The iterator reads them still, from the OS's cache.
  int n = 0;
  for (it->SeekToFirst(); it->Valid(); it->Next(), ++n) {
    ASSERT_EQ(it->value(), std::string(1000, 'b'));
  }
  EXPECT_EQ(n, kKeys);
}

TEST(StoreTest, BackgroundCompactionKeepsSegmentCountDown) {
  Options options;
  options.memtable_bytes = 4096;
  options.compaction_trigger = 2;
  using Store = KVStore<int32_t, std::string>;
  const std::string dir = NewTempDir();
  std::map<int32_t, std::string> model;
  std::vector<int32_t> probes;
  for (int i = 0; i < 500; ++i) probes.push_back(i);
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int round = 0; round < 20; ++round) {
    for (int i = round; i < 500; i += 7) {
      KV_ASSERT_OK(store->Set(i, absl::StrCat(round, ":", std::string(i % 40, 'x'))));
      model[i] = absl::StrCat(round, ":", std::string(i % 40, 'x'));
    }
  }
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  EXPECT_GT(Property(*store, "kvstore.flushes"), 5u);
  EXPECT_GT(Property(*store, "kvstore.compactions"), 0u);
  EXPECT_LT(Property(*store, "kvstore.num-segments"), 10u);
  ExpectStoreEquals(*store, model, probes);
  KV_ASSERT_OK(store->Verify());
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, options));
  ExpectStoreEquals(*store, model, probes);
}

// Data written in key order is flushed segment after segment into one sorted run: nothing is
// compacted, yet a read consults one segment, and iterators, reopen and Verify see one store.
TEST(StoreTest, WritesInKeyOrderJoinOneSortedRunWithoutCompaction) {
  Options options;
  options.memtable_bytes = 16 * 1024;
  using Store = KVStore<int32_t, std::string>;
  const std::string dir = NewTempDir();
  std::map<int32_t, std::string> model;
  std::vector<int32_t> probes;
  auto store = ValueOrDie(Store::Open(dir, options));
  for (int32_t i = 0; i < 4000; ++i) {
    KV_ASSERT_OK(store->Set(2 * i, std::string(50, static_cast<char>('a' + i % 26))));
    model[2 * i] = std::string(50, static_cast<char>('a' + i % 26));
  }
  for (int32_t i = -1; i < 8002; ++i) probes.push_back(i);  // Odd keys fall between segments' keys.
  KV_ASSERT_OK(store->Flush());
  KV_ASSERT_OK(store->WaitForBackgroundWork());
  EXPECT_GT(Property(*store, "kvstore.num-segments"), 10u);
  EXPECT_EQ(Property(*store, "kvstore.num-runs"), 1u) << *store->GetProperty("kvstore.segments");
  EXPECT_EQ(Property(*store, "kvstore.compactions"), 0u);
  ExpectStoreEquals(*store, model, probes);
  auto it = store->NewIterator();
  it->Seek(4001);
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 4002);
  it->Prev();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), 4000);
  it.reset();
  KV_ASSERT_OK(store->Verify());

  // Overwrites across the run's range start a new run on top of it.
  for (int32_t i = 0; i < 8000; i += 100) {
    KV_ASSERT_OK(store->Set(i, "new"));
    model[i] = "new";
  }
  KV_ASSERT_OK(store->Delete(4000));
  model.erase(4000);
  KV_ASSERT_OK(store->Flush());
  EXPECT_EQ(Property(*store, "kvstore.num-runs"), 2u) << *store->GetProperty("kvstore.segments");
  ExpectStoreEquals(*store, model, probes);
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir, options));
  EXPECT_EQ(Property(*store, "kvstore.num-runs"), 2u);
  ExpectStoreEquals(*store, model, probes);
  KV_ASSERT_OK(store->Compact());
  EXPECT_EQ(Property(*store, "kvstore.num-runs"), 1u);
  EXPECT_EQ(Property(*store, "kvstore.num-segments"), 1u);
  ExpectStoreEquals(*store, model, probes);
}

// A flush whose keys overlap no segment has nothing older to shadow, and may drop its tombstones;
// one whose range overlaps an older segment must keep them, whichever run it lands in.
TEST(StoreTest, DeletionOfAKeyInAnOlderSegmentOutlivesItsFlush) {
  Options options;
  options.background_compaction = false;
  using Store = KVStore<std::string, std::string>;
  const std::string dir = NewTempDir();
  auto store = ValueOrDie(Store::Open(dir, options));
  KV_ASSERT_OK(store->Set("b", "1"));
  KV_ASSERT_OK(store->Set("d", "1"));
  KV_ASSERT_OK(store->Flush());
  // c lies in the first segment's range [b, d], so this flush must keep the tombstone of d.
  KV_ASSERT_OK(store->Set("c", "2"));
  KV_ASSERT_OK(store->Delete("d"));
  KV_ASSERT_OK(store->Delete("zz"));
  KV_ASSERT_OK(store->Flush());
  // Beyond every key written before: nothing to shadow, the tombstone of zzzz may go.
  KV_ASSERT_OK(store->Set("zzz", "3"));
  KV_ASSERT_OK(store->Delete("zzzz"));
  KV_ASSERT_OK(store->Flush());
  for (int reopen = 0; reopen < 2; ++reopen) {
    EXPECT_EQ(store->Get("b").value(), "1");
    EXPECT_EQ(store->Get("c").value(), "2");
    EXPECT_EQ(store->Get("zzz").value(), "3");
    EXPECT_TRUE(absl::IsNotFound(store->Get("d").status()));
    EXPECT_TRUE(absl::IsNotFound(store->Get("zzzz").status()));
    EXPECT_EQ(ScanAll(*store).size(), 3u);
    KV_ASSERT_OK(store->Close());
    store = ValueOrDie(Store::Open(dir, options));
  }
}

// A manifest whose run lists segments out of key order (or overlapping) is refused at open:
// lookups would search the run wrongly.
TEST(StoreTest, ManifestWithOverlappingSegmentsInARunIsRefused) {
  Options options;
  options.background_compaction = false;
  using Store = KVStore<std::string, std::string>;
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(Store::Open(dir, options));
    KV_ASSERT_OK(store->Set("a", "1"));
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Set("b", "2"));
    KV_ASSERT_OK(store->Flush());
    ASSERT_EQ(Property(*store, "kvstore.num-runs"), 1u);
    KV_ASSERT_OK(store->Close());
  }
  internal::Manifest manifest;
  KV_ASSERT_OK(internal::ReadManifest(Env::Default(), dir, &manifest));
  ASSERT_EQ(manifest.runs.size(), 1u);
  ASSERT_EQ(manifest.runs[0].size(), 2u);
  std::swap(manifest.runs[0][0], manifest.runs[0][1]);
  KV_ASSERT_OK(internal::WriteManifest(Env::Default(), dir, manifest));
  auto reopened = Store::Open(dir, options);
  ASSERT_FALSE(reopened.ok());
  EXPECT_EQ(reopened.status().code(), absl::StatusCode::kDataLoss) << reopened.status();
  EXPECT_THAT(reopened.status().message(), HasSubstr("sorted run")) << reopened.status();
}

// ---- Opening: locks and options ------------------------------------------------------------

TEST(OpenTest, SecondOpenInTheSameProcessIsRefusedUntilClose) {
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, int32_t>;
  auto first = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(first->Set("a", 1));
  for (const std::string& spelling :
       {dir, dir + "/", dir + "/.", absl::StrCat(dir, "/../", fs::path(dir).filename().string())}) {
    auto second = Store::Open(spelling);
    EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition)
        << spelling << ": " << second.status();
    EXPECT_THAT(std::string(second.status().message()), HasSubstr("already open"));
  }
  // The refused opens disturbed nothing.
  KV_ASSERT_OK(first->Set("b", 2));
  EXPECT_EQ(ValueOrDie(first->Get("a")), 1);
  KV_ASSERT_OK(first->Close());
  KV_ASSERT_OK(first->Close());  // Idempotent.
  EXPECT_EQ(first->Set("c", 3).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(first->Get("a").status().code(), absl::StatusCode::kFailedPrecondition);

  auto reopened = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(ValueOrDie(reopened->Get("a")), 1);
  EXPECT_EQ(ValueOrDie(reopened->Get("b")), 2);
  reopened.reset();  // The destructor releases the lock too.
  first.reset();
  reopened = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(ValueOrDie(reopened->Get("b")), 2);
}

TEST(OpenTest, CreateIfMissingAndErrorIfExists) {
  using Store = KVStore<std::string, int32_t>;
  const std::string dir = NewTempDir();
  Options no_create;
  no_create.create_if_missing = false;
  auto missing = Store::Open(dir, no_create);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr(dir));
  EXPECT_FALSE(fs::exists(dir));  // Nothing created.

  fs::create_directories(dir);  // An empty directory is not a store either.
  missing = Store::Open(dir, no_create);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound) << missing.status();

  Options exclusive;
  exclusive.error_if_exists = true;
  {
    auto store = ValueOrDie(Store::Open(dir, exclusive));  // New: fine.
    KV_ASSERT_OK(store->Set("a", 1));
  }
  auto exists = Store::Open(dir, exclusive);
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kAlreadyExists) << exists.status();
  EXPECT_THAT(std::string(exists.status().message()), HasSubstr(dir));

  auto store = ValueOrDie(Store::Open(dir, no_create));  // Existing: fine.
  EXPECT_EQ(ValueOrDie(store->Get("a")), 1);
}

TEST(OpenTest, PathThatIsARegularFileIsRefused) {
  const std::string dir = NewTempDir();
  fs::create_directories(fs::path(dir).parent_path());
  WriteFile(dir, "not a store");
  auto store = KVStore<std::string, int32_t>::Open(dir);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr("not a directory"));
  EXPECT_EQ(ReadFile(dir), "not a store");
}

TEST(OpenTest, MissingParentDirectory) {
  const std::string base = NewTempDir();
  fs::create_directories(base);
  // One missing level is created (create_if_missing)...
  {
    auto store = ValueOrDie((KVStore<std::string, int32_t>::Open(base + "/child")));
    KV_ASSERT_OK(store->Set("a", 1));
  }
  // ...but not a missing parent of it.
  const std::string deep = base + "/missing/child";
  auto store = KVStore<std::string, int32_t>::Open(deep);
  EXPECT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), absl::StatusCode::kNotFound) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(deep));
  EXPECT_FALSE(fs::exists(base + "/missing"));
}

TEST(OpenTest, DifferentKeyOrValueTypesAreRefused) {
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie((KVStore<std::string, int64_t>::Open(dir)));
    KV_ASSERT_OK(store->Set("a", 1));
  }
  auto wrong = KVStore<int32_t, std::string>::Open(dir);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("str->i64"));
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("i32->str"));
  // Same width, other signedness, is another encoding too.
  EXPECT_EQ((KVStore<std::string, uint64_t>::Open(dir)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ((KVStore<std::tuple<std::string>, int64_t>::Open(dir)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  auto store = ValueOrDie((KVStore<std::string, int64_t>::Open(dir)));
  EXPECT_EQ(ValueOrDie(store->Get("a")), 1);
}

TEST(OpenTest, DifferentFilterIsRefused) {
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie((KVStore<std::string, int64_t>::Open(dir)));
    KV_ASSERT_OK(store->Set("a", 1));
    KV_ASSERT_OK(store->Flush());
  }
  auto wrong = KVStore<std::string, int64_t, DefaultSerializer, NoFilter>::Open(dir);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
  EXPECT_THAT(std::string(wrong.status().message()), HasSubstr("filter"));
  auto store = ValueOrDie((KVStore<std::string, int64_t, DefaultSerializer, BloomFilter<10>>::Open(dir)));
  EXPECT_EQ(ValueOrDie(store->Get("a")), 1);
}

// Flushes, a compaction whose filter is larger than the engine's own-mapping threshold, and a
// reopen, with a policy that cannot build into the engine's own buffers.
TEST(OpenTest, UserFilterPolicyThatBuildsIntoStdStringServesEveryKey) {
  using Store = KVStore<uint64_t, std::string, DefaultSerializer, testing::StringOnlyBloomFilter>;
  const std::string dir = NewTempDir();
  constexpr uint64_t kKeys = 60000;  // About 75 KB of filter once compacted.
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (uint64_t k = 0; k < kKeys; ++k) KV_ASSERT_OK(store->Set(2 * k, absl::StrCat("v", k)));
    KV_ASSERT_OK(store->Flush());
    for (uint64_t k = 0; k < kKeys; k += 3) KV_ASSERT_OK(store->Set(2 * k, absl::StrCat("w", k)));
    KV_ASSERT_OK(store->Compact());
  }
  auto store = ValueOrDie(Store::Open(dir));
  for (uint64_t k = 0; k < kKeys; ++k) {
    ASSERT_EQ(ValueOrDie(store->Get(2 * k)), absl::StrCat(k % 3 == 0 ? "w" : "v", k)) << k;
    ASSERT_EQ(store->Get(2 * k + 1).status().code(), absl::StatusCode::kNotFound) << k;
  }
  auto wrong = KVStore<uint64_t, std::string, DefaultSerializer, BloomFilter<10>>::Open(dir);
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kFailedPrecondition) << wrong.status();
}

// ---- Bad inputs ----------------------------------------------------------------------------

TEST(BadInputTest, EmptyOversizedAndNaNKeysAreRejectedAndLoseNothing) {
  const std::string dir = NewTempDir();
  auto store = ValueOrDie((KVStore<std::string, std::string>::Open(dir)));
  KV_ASSERT_OK(store->Set("a", "1"));
  const uint64_t sequence = Property(*store, "kvstore.last-sequence");

  auto expect_invalid = [](const absl::Status& s, const std::string& what) {
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr(what));
  };
  expect_invalid(store->Set("", "x"), "empty key");
  expect_invalid(store->Delete(""), "empty key");
  expect_invalid(store->Get("").status(), "empty key");
  const std::string long_key(kMaxKeyBytes + 1, 'k');
  expect_invalid(store->Set(long_key, "x"), "exceeds the limit");
  expect_invalid(store->Delete(long_key), "exceeds the limit");
  expect_invalid(store->Get(long_key).status(), "exceeds the limit");
  // The boundary itself is accepted.
  KV_ASSERT_OK(store->Set(std::string(kMaxKeyBytes, 'k'), "max"));
  EXPECT_EQ(ValueOrDie(store->Get(std::string(kMaxKeyBytes, 'k'))), "max");
  EXPECT_EQ(Property(*store, "kvstore.last-sequence"), sequence + 1);
  EXPECT_EQ(ValueOrDie(store->Get("a")), "1");

  auto doubles = ValueOrDie((KVStore<double, int32_t>::Open(NewTempDir())));
  KV_ASSERT_OK(doubles->Set(1.0, 1));
  const double nan = std::numeric_limits<double>::quiet_NaN();
  expect_invalid(doubles->Set(nan, 2), "NaN");
  expect_invalid(doubles->Delete(nan), "NaN");
  expect_invalid(doubles->Get(nan).status(), "NaN");
  expect_invalid(doubles->Set(-nan, 2), "NaN");
  EXPECT_EQ(ScanAll(*doubles).size(), 1u);

  using TupleStore = KVStore<std::tuple<int32_t, float>, int32_t>;
  auto tuples = ValueOrDie(TupleStore::Open(NewTempDir()));
  expect_invalid(tuples->Set({1, std::numeric_limits<float>::quiet_NaN()}, 1), "NaN");
  TupleStore::WriteBatch batch;
  batch.Set({1, 1.0f}, 1);
  batch.Set({2, std::numeric_limits<float>::quiet_NaN()}, 2);
  expect_invalid(tuples->Write(batch), "NaN");
  EXPECT_TRUE(ScanAll(*tuples).empty());

  KV_ASSERT_OK(store->Close());
  store = ValueOrDie((KVStore<std::string, std::string>::Open(dir)));
  EXPECT_EQ(ValueOrDie(store->Get("a")), "1");
  EXPECT_EQ(ScanAll(*store).size(), 2u);
}

TEST(BadInputTest, OversizedValueIsRejectedAndLosesNothing) {
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  auto store = ValueOrDie(Store::Open(dir));
  KV_ASSERT_OK(store->Set("a", "1"));
  {
    const std::string huge(kMaxValueBytes + 1, 'v');
    const absl::Status s = store->Set("huge", huge);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_THAT(std::string(s.message()), HasSubstr("exceeds the limit"));
    Store::WriteBatch batch;
    batch.Set("b", "2");
    batch.Set("huge", huge);
    EXPECT_EQ(store->Write(batch).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(store->Get("huge").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->Get("b").status().code(), absl::StatusCode::kNotFound);
  KV_ASSERT_OK(store->Set("c", "3"));  // The store still takes writes.
  KV_ASSERT_OK(store->Close());
  store = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(ValueOrDie(store->Get("a")), "1");
  EXPECT_EQ(ValueOrDie(store->Get("c")), "3");
  EXPECT_EQ(ScanAll(*store).size(), 2u);
}

// The largest value accepted goes through the WAL, a reopen, a flush and a compaction.
TEST(BadInputTest, LargestValueRoundTrips) {
  const std::string dir = NewTempDir();
  using Store = KVStore<std::string, std::string>;
  std::string big(kMaxValueBytes, 'x');
  big[12345] = '\0';
  big.back() = 'y';
  {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set("big", big));
    KV_ASSERT_OK(store->Set("small", "s"));
  }
  auto store = ValueOrDie(Store::Open(dir));
  EXPECT_TRUE(ValueOrDie(store->Get("big")) == big);
  KV_ASSERT_OK(store->Flush());
  EXPECT_TRUE(ValueOrDie(store->Get("big")) == big);
  KV_ASSERT_OK(store->Delete("small"));
  KV_ASSERT_OK(store->Compact());
  EXPECT_TRUE(ValueOrDie(store->Get("big")) == big);
  KV_ASSERT_OK(store->Verify());
}

// Root ignores directory permissions, so a read-only directory needs a read-only mount.
TEST(BadInputTest, ReadOnlyFilesystem) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to mount a read-only tmpfs";
  const std::string mnt = NewTempDir("rofs");
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=4m") != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs here: " << std::strerror(errno);
  }
  struct Unmount {
    std::string dir;
    ~Unmount() { ::umount2(dir.c_str(), MNT_DETACH); }
  } unmount{mnt};
  const std::string dir = mnt + "/store";
  using Store = KVStore<std::string, std::string>;
  {
    auto store = ValueOrDie(Store::Open(dir));
    KV_ASSERT_OK(store->Set("a", "1"));
    KV_ASSERT_OK(store->Flush());
    KV_ASSERT_OK(store->Set("b", "2"));
  }
  ASSERT_EQ(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr), 0)
      << std::strerror(errno);
  auto refused = Store::Open(dir);
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr(dir)) << refused.status();
  auto fresh = Store::Open(mnt + "/other");
  EXPECT_FALSE(fresh.ok());
  EXPECT_THAT(std::string(fresh.status().message()), HasSubstr(mnt + "/other")) << fresh.status();

  ASSERT_EQ(::mount(nullptr, mnt.c_str(), nullptr, MS_REMOUNT, nullptr), 0) << std::strerror(errno);
  auto store = ValueOrDie(Store::Open(dir));
  EXPECT_EQ(ValueOrDie(store->Get("a")), "1");
  EXPECT_EQ(ValueOrDie(store->Get("b")), "2");
}

// ---- Damaged files -------------------------------------------------------------------------

// Size of the WAL record one Set(key, value) of a <string, string> store writes: 12-byte record
// header, 12-byte batch header, kind byte, two one-byte varint lengths (short key and value).
size_t WalRecordBytes(const std::string& key, const std::string& value) {
  return 12 + 12 + 1 + 1 + key.size() + 1 + value.size();
}

class TornWalTest : public ::testing::Test {
 protected:
  using Store = KVStore<std::string, std::string>;
  static constexpr int kKeys = 50;

  static std::string Value(int i) { return absl::StrCat("value-", 1000 + i); }  // Fixed size.

  // Writes kKeys keys, one WAL record each, and returns the WAL file holding them.
  fs::path WriteAndClose() {
    auto store = ValueOrDie(Store::Open(dir_));
    for (int i = 0; i < kKeys; ++i) KV_EXPECT_OK(store->Set(Key(i), Value(i)));
    KV_EXPECT_OK(store->Close());
    fs::path wal;
    for (const fs::path& p : FilesWithExtension(dir_, ".wal")) {
      if (fs::file_size(p) > 0) wal = p;
    }
    EXPECT_EQ(fs::file_size(wal), kKeys * WalRecordBytes(Key(0), Value(0)));
    return wal;
  }

  // Reopens and checks that exactly the first `intact` keys are there; then that new writes
  // after the recovery survive another reopen.
  void ExpectRecovered(int intact) {
    {
      auto store = ValueOrDie(Store::Open(dir_));
      for (int i = 0; i < kKeys; ++i) {
        auto got = store->Get(Key(i));
        if (i < intact) {
          ASSERT_TRUE(got.ok()) << i << ": " << got.status();
          EXPECT_EQ(*got, Value(i));
        } else {
          EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound) << i;
        }
      }
      KV_ASSERT_OK(store->Set("after", "recovery"));
    }
    auto store = ValueOrDie(Store::Open(dir_));
    EXPECT_EQ(ValueOrDie(store->Get("after")), "recovery");
    EXPECT_EQ(ScanAll(*store).size(), static_cast<size_t>(intact) + 1);
  }

  const std::string dir_ = NewTempDir();
};

TEST_F(TornWalTest, GarbageAppendedAfterTheLastRecord) {
  const fs::path wal = WriteAndClose();
  WriteFile(wal, ReadFile(wal) + std::string("\x13\x00\x00\x00garbage-garbage-garbage", 27));
  ExpectRecovered(kKeys);
}

TEST_F(TornWalTest, ZerosAppendedAfterTheLastRecord) {
  const fs::path wal = WriteAndClose();
  WriteFile(wal, ReadFile(wal) + std::string(4096, '\0'));
  ExpectRecovered(kKeys);
}

TEST_F(TornWalTest, LastRecordCutInTheMiddle) {
  const fs::path wal = WriteAndClose();
  const size_t record = WalRecordBytes(Key(0), Value(0));
  for (size_t cut : {record - 1, record / 2, size_t{13}, size_t{12}, size_t{5}, size_t{1}}) {
    SCOPED_TRACE(cut);
    const std::string pristine = ReadFile(wal);
    fs::resize_file(wal, fs::file_size(wal) - cut);
    // Only the torn write is lost.
    {
      auto store = ValueOrDie(Store::Open(dir_));
      EXPECT_EQ(store->Get(Key(kKeys - 1)).status().code(), absl::StatusCode::kNotFound);
      EXPECT_EQ(ValueOrDie(store->Get(Key(kKeys - 2))), Value(kKeys - 2));
      EXPECT_EQ(ScanAll(*store).size(), static_cast<size_t>(kKeys - 1));
    }
    for (const fs::path& p : FilesWithExtension(dir_, ".wal")) {
      if (p != wal) fs::remove(p);
    }
    WriteFile(wal, pristine);
  }
  fs::resize_file(wal, fs::file_size(wal) - record / 2);
  ExpectRecovered(kKeys - 1);
}

TEST_F(TornWalTest, LastRecordWithFlippedByte) {
  const fs::path wal = WriteAndClose();
  std::string contents = ReadFile(wal);
  contents[contents.size() - 3] ^= 0x40;
  WriteFile(wal, contents);
  ExpectRecovered(kKeys - 1);
}

// Damage followed by good records is not a torn tail: acknowledged writes would vanish.
TEST_F(TornWalTest, DamageInTheMiddleIsReportedNotSkipped) {
  const fs::path wal = WriteAndClose();
  std::string contents = ReadFile(wal);
  contents[WalRecordBytes(Key(0), Value(0)) * 10 + 20] ^= 0x01;
  WriteFile(wal, contents);
  auto store = Store::Open(dir_);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kDataLoss) << store.status();
  EXPECT_THAT(std::string(store.status().message()), HasSubstr(wal.filename().string()));
}

// Reads over a segment with one damaged byte: every Get returns the right value or DataLoss
// naming the file, never a wrong value or a silent NotFound; Verify reports every flip that
// Open did not already refuse; an iterator stops with DataLoss, having yielded only true data.
TEST(CorruptionTest, FlippedSegmentBytesAreReportedNeverReturnedAsData) {
  using Store = KVStore<std::string, std::string>;
  Options options;
  options.background_compaction = false;
  const std::string pristine = NewTempDir("pristine");
  constexpr int kKeys = 400;
  auto value_of = [](int i) { return absl::StrCat("value-", i, std::string(i % 30, '#')); };
  {
    auto store = ValueOrDie(Store::Open(pristine, options));
    for (int i = 0; i < kKeys; ++i) KV_ASSERT_OK(store->Set(Key(i), value_of(i)));
    KV_ASSERT_OK(store->Flush());
  }
  const std::vector<fs::path> segments = FilesWithExtension(pristine, ".seg");
  ASSERT_EQ(segments.size(), 1u);
  const std::string segment_name = segments[0].filename().string();
  const std::string segment = ReadFile(segments[0]);
  ASSERT_GT(segment.size(), 52u);
  // The footer: filter offset and size, index offset and size, version, magic, checksum.
  auto fixed64 = [&](size_t at) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(segment[at + i]);
    return v;
  };
  const size_t footer = segment.size() - 52;
  const size_t filter_offset = fixed64(footer), index_offset = fixed64(footer + 16);
  ASSERT_LT(filter_offset, index_offset);
  ASSERT_GT(filter_offset, 3 * 4096u) << "want several data blocks";

  std::mt19937 rng(20240601);
  auto pick = [&](size_t lo, size_t hi) { return lo + rng() % (hi - lo); };
  std::vector<std::pair<size_t, const char*>> flips;
  for (int i = 0; i < 12; ++i) flips.emplace_back(pick(0, filter_offset), "data");
  for (int i = 0; i < 3; ++i) flips.emplace_back(pick(filter_offset, index_offset), "filter");
  for (int i = 0; i < 3; ++i) flips.emplace_back(pick(index_offset, footer), "index");
  for (int i = 0; i < 3; ++i) flips.emplace_back(pick(footer, segment.size()), "footer");
  flips.emplace_back(0, "data");
  flips.emplace_back(filter_offset - 1, "data");  // The last block's checksum.

  for (const auto& [offset, region] : flips) {
    SCOPED_TRACE(absl::StrCat("flip at ", offset, " in ", region));
    const std::string dir = NewTempDir("damaged");
    fs::copy(pristine, dir, fs::copy_options::recursive);
    std::string damaged = segment;
    damaged[offset] = static_cast<char>(damaged[offset] ^ (1 << (rng() % 8)));
    WriteFile(fs::path(dir) / segment_name, damaged);

    auto opened = Store::Open(dir, options);
    if (!opened.ok()) {
      EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss) << opened.status();
      EXPECT_THAT(std::string(opened.status().message()), HasSubstr(segment_name));
      EXPECT_STRNE(region, "data") << "a data block flip should be found when read";
      continue;
    }
    auto& store = *opened;
    int lost = 0;
    for (int i = 0; i < kKeys; ++i) {
      auto got = store->Get(Key(i));
      if (got.ok()) {
        EXPECT_EQ(*got, value_of(i)) << "wrong data for " << Key(i);
      } else {
        EXPECT_EQ(got.status().code(), absl::StatusCode::kDataLoss) << Key(i) << ": " << got.status();
        EXPECT_THAT(std::string(got.status().message()), HasSubstr(segment_name));
        ++lost;
      }
    }
    EXPECT_GT(lost, 0);
    const absl::Status verified = store->Verify();
    EXPECT_EQ(verified.code(), absl::StatusCode::kDataLoss) << verified;
    EXPECT_THAT(std::string(verified.message()), HasSubstr(segment_name));

    for (bool backward : {false, true}) {
      auto it = store->NewIterator();
      int seen = 0;
      if (backward) {
        for (it->SeekToLast(); it->Valid(); it->Prev(), ++seen) {
          EXPECT_EQ(it->key(), Key(kKeys - 1 - seen));
          EXPECT_EQ(it->value(), value_of(kKeys - 1 - seen));
        }
      } else {
        for (it->SeekToFirst(); it->Valid(); it->Next(), ++seen) {
          EXPECT_EQ(it->key(), Key(seen));
          EXPECT_EQ(it->value(), value_of(seen));
        }
      }
      EXPECT_LT(seen, kKeys);
      EXPECT_EQ(it->status().code(), absl::StatusCode::kDataLoss) << it->status();
    }
  }
}

// With verify_checksums a read re-checks even blocks it has trusted before.
TEST(CorruptionTest, VerifyChecksumsOnReadOption) {
  using Store = KVStore<std::string, std::string>;
  const std::string dir = NewTempDir();
  {
    auto store = ValueOrDie(Store::Open(dir));
    for (int i = 0; i < 100; ++i) KV_ASSERT_OK(store->Set(Key(i), "v"));
    KV_ASSERT_OK(store->Flush());
  }
  const fs::path segment = FilesWithExtension(dir, ".seg").at(0);
  std::string contents = ReadFile(segment);
  contents[10] ^= 0x20;
  WriteFile(segment, contents);
  for (bool paranoid : {false, true}) {
    Options options;
    options.paranoid_checks = paranoid;
    options.background_compaction = false;
    auto store = ValueOrDie(Store::Open(dir, options));
    KV_ASSERT_OK(store->Set(Key(paranoid ? 1 : 2), "w"));  // A second segment: Compact must merge.
    ReadOptions verify;
    verify.verify_checksums = true;
    EXPECT_EQ(store->Get(Key(0), verify).status().code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(store->Get(Key(0)).status().code(), absl::StatusCode::kDataLoss);
    // Compaction reads every block checked and refuses to carry damage forward.
    EXPECT_EQ(store->Compact().code(), absl::StatusCode::kDataLoss);
  }
}

TEST(StoreTest, UnknownPropertyIsNullopt) {
  auto store = ValueOrDie((KVStore<std::string, int32_t>::Open(NewTempDir())));
  EXPECT_FALSE(store->GetProperty("kvstore.no-such-property").has_value());
  EXPECT_TRUE(store->GetProperty("kvstore.num-segments").has_value());
}

}  // namespace
}  // namespace kvstore
