#include "tools/datagen/datagen.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace kvstore::datagen {
namespace {

Spec MakeSpec(uint64_t count, Distribution distribution, uint64_t seed = 301) {
  Spec spec;
  spec.count = count;
  spec.distribution = distribution;
  spec.seed = seed;
  return spec;
}

std::vector<uint64_t> Draw(const Spec& spec, size_t n) {
  Generator generator(spec);
  std::vector<uint64_t> out(n);
  for (uint64_t& index : out) index = generator.NextIndex();
  return out;
}

bool IsPrintable(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c > ' ' && c < 127; });
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::string(dir != nullptr ? dir : "/tmp") + "/" + name;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Indexes that exercise every digit-carry boundary, for keys of any width.
std::vector<uint64_t> InterestingIndexes(uint64_t count) {
  std::vector<uint64_t> out;
  for (uint64_t p = 1; p <= count / 10 + 1 && p != 0; p *= 10) {
    for (uint64_t d : {p - 1, p, p + 1, 2 * p - 1, 2 * p}) {
      if (d < count) out.push_back(d);
    }
  }
  for (uint64_t i = 0; i < 1000 && i < count; ++i) out.push_back(i);
  out.push_back(count - 1);
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

TEST(GeneratorTest, KeysHaveFixedLengthAndSortLikeTheirIndex) {
  for (size_t key_size : {8, 9, 16, 21, 40}) {
    SCOPED_TRACE(key_size);
    Spec spec;
    spec.key_size = key_size;
    // The largest key space the width allows: key_size - 1 digits.
    spec.count = key_size > 20 ? UINT64_MAX : 1;
    for (size_t i = 1; i < key_size && key_size <= 20; ++i) spec.count *= 10;
    ASSERT_TRUE(Validate(spec).ok()) << Validate(spec);
    Generator generator(spec);

    const std::vector<uint64_t> indexes = InterestingIndexes(spec.count);
    std::string previous;
    for (uint64_t index : indexes) {
      const std::string key = generator.Key(index);
      ASSERT_EQ(key.size(), key_size) << index;
      ASSERT_TRUE(IsPrintable(key)) << key;
      if (!previous.empty()) {
        ASSERT_LT(previous, key) << index;
      }
      previous = key;
    }
  }
}

TEST(GeneratorTest, KeyIsZeroPaddedDecimalWithSpareDigit) {
  Generator generator(Spec{});
  EXPECT_EQ(generator.Key(0), "0000000000000000");
  EXPECT_EQ(generator.Key(123), "0000000000001230");
  EXPECT_EQ(generator.MissingKey(123), "0000000000001235");
  EXPECT_EQ(generator.Key(999999), "0000000009999990");
}

TEST(GeneratorTest, KeyReusesTheCallersBuffer) {
  Generator generator(Spec{});
  std::string key;
  key.reserve(64);
  const char* buffer = key.data();
  for (uint64_t i = 0; i < 1000; ++i) {
    generator.Key(i * 7919, &key);
    generator.MissingKey(i, &key);
  }
  EXPECT_EQ(key.data(), buffer);
}

TEST(GeneratorTest, MissingKeySortsStrictlyBetweenNeighboursAndIsNeverAKey) {
  Spec spec;
  spec.key_size = 8;
  spec.count = 9999999;  // so that Key(count), the last upper neighbour, still fits
  Generator generator(spec);
  std::set<std::string> keys;
  for (uint64_t index : InterestingIndexes(spec.count)) keys.insert(generator.Key(index));

  for (uint64_t index : InterestingIndexes(spec.count)) {
    const std::string missing = generator.MissingKey(index);
    const std::string key = generator.Key(index);
    const std::string next = generator.Key(index + 1);
    ASSERT_EQ(missing.size(), key.size());
    ASSERT_LT(key, missing);
    ASSERT_LT(missing, next);
    ASSERT_EQ(missing.substr(0, missing.size() - 1), key.substr(0, key.size() - 1));
    ASSERT_EQ(keys.count(missing), 0u) << missing;
    ASSERT_TRUE(IsPrintable(missing));
  }
}

TEST(GeneratorTest, ValuesAreDeterministicPrintableAndVaried) {
  Spec spec;
  spec.value_size = 1000;
  Generator generator(spec);
  const std::string value = generator.Value(42);
  EXPECT_EQ(value.size(), 1000u);
  EXPECT_TRUE(IsPrintable(value));
  EXPECT_EQ(value, Generator(spec).Value(42));
  EXPECT_NE(value, generator.Value(43));
  EXPECT_NE(value, generator.Value(42, /*version=*/1));
  spec.seed = 302;
  EXPECT_NE(value, Generator(spec).Value(42));

  // About as incompressible as random text: all 64 characters, none much more common than others.
  std::map<char, int> histogram;
  for (uint64_t index = 0; index < 100; ++index) {
    for (char c : generator.Value(index)) ++histogram[c];
  }
  EXPECT_EQ(histogram.size(), 64u);
  for (const auto& [c, n] : histogram) EXPECT_NEAR(n, 100 * 1000 / 64, 400) << c;

  spec.value_size = 0;
  EXPECT_EQ(Generator(spec).Value(1), "");
}

TEST(GeneratorTest, ValueOutParamMatchesReturnedValue) {
  Spec spec;
  spec.value_size = 37;
  Generator generator(spec);
  std::string value = "left over from before, longer than the value";
  generator.Value(5, &value, 3);
  EXPECT_EQ(value, generator.Value(5, 3));
}

TEST(GeneratorTest, SameSeedSameStreamOtherSeedOtherStream) {
  for (Distribution distribution : {Distribution::kUniform, Distribution::kZipfian}) {
    SCOPED_TRACE(DistributionName(distribution));
    const std::vector<uint64_t> a = Draw(MakeSpec(1000000, distribution, 7), 1000);
    EXPECT_EQ(a, Draw(MakeSpec(1000000, distribution, 7), 1000));
    EXPECT_NE(a, Draw(MakeSpec(1000000, distribution, 8), 1000));
  }
}

TEST(GeneratorTest, CopiesContinueTheSameStream) {
  Generator generator(MakeSpec(1000, Distribution::kZipfian));
  for (int i = 0; i < 10; ++i) generator.NextIndex();
  Generator copy = generator;
  for (int i = 0; i < 100; ++i) ASSERT_EQ(generator.NextIndex(), copy.NextIndex());
}

TEST(GeneratorTest, SequentialCountsUpAndWraps) {
  EXPECT_EQ(Draw(MakeSpec(4, Distribution::kSequential), 10),
            (std::vector<uint64_t>{0, 1, 2, 3, 0, 1, 2, 3, 0, 1}));
  EXPECT_EQ(Draw(MakeSpec(1, Distribution::kSequential), 3), (std::vector<uint64_t>{0, 0, 0}));
}

TEST(GeneratorTest, UniformCoversTheRangeEvenly) {
  constexpr uint64_t kCount = 100;
  constexpr size_t kDraws = 200000;
  std::vector<int> histogram(kCount);
  for (uint64_t index : Draw(MakeSpec(kCount, Distribution::kUniform), kDraws)) {
    ASSERT_LT(index, kCount);
    ++histogram[index];
  }
  const double expected = static_cast<double>(kDraws) / kCount;
  double chi_square = 0;
  for (int n : histogram) chi_square += (n - expected) * (n - expected) / expected;
  // 99 degrees of freedom: mean 99, standard deviation 14. Far out means a biased generator.
  EXPECT_LT(chi_square, 200) << "uniform draws are not uniform";

  // A bound that is not a power of two, and one near the top of the range.
  for (uint64_t index : Draw(MakeSpec(3, Distribution::kUniform), 1000)) ASSERT_LT(index, 3u);
  const uint64_t huge = (uint64_t{1} << 63) + 12345;
  Spec spec = MakeSpec(huge, Distribution::kUniform);
  spec.key_size = 24;
  for (uint64_t index : Draw(spec, 1000)) ASSERT_LT(index, huge);
}

// Frequencies of the distinct indexes drawn, most frequent first.
std::vector<std::pair<int, uint64_t>> SortedFrequencies(const std::vector<uint64_t>& draws) {
  std::map<uint64_t, int> counts;
  for (uint64_t index : draws) ++counts[index];
  std::vector<std::pair<int, uint64_t>> out;
  for (const auto& [index, n] : counts) out.emplace_back(n, index);
  std::sort(out.rbegin(), out.rend());
  return out;
}

TEST(GeneratorTest, ZipfianIsSkewedAndScattered) {
  constexpr uint64_t kCount = 10000;
  constexpr size_t kDraws = 200000;
  const std::vector<uint64_t> draws = Draw(MakeSpec(kCount, Distribution::kZipfian), kDraws);
  for (uint64_t index : draws) ASSERT_LT(index, kCount);

  const auto frequencies = SortedFrequencies(draws);
  ASSERT_GE(frequencies.size(), kCount / 100);
  size_t top = 0;
  int hot_in_first_tenth = 0;
  for (size_t i = 0; i < kCount / 100; ++i) {
    top += frequencies[i].first;
    if (frequencies[i].second < kCount / 10) ++hot_in_first_tenth;
  }
  // Theory for theta 0.99: the top 1% of ranks get about 53% of the draws.
  EXPECT_GT(static_cast<double>(top) / kDraws, 0.45);
  EXPECT_LT(static_cast<double>(top) / kDraws, 0.60);
  // Scattered: about a tenth of the hot keys, not all of them, sit in the first tenth.
  EXPECT_LT(hot_in_first_tenth, 30);
}

TEST(GeneratorTest, ZipfianMatchesTheDistribution) {
  constexpr uint64_t kCount = 1000;
  constexpr size_t kDraws = 300000;
  for (double theta : {0.1, 0.5, 0.99, 1.0, 1.5, 3.0}) {
    SCOPED_TRACE(theta);
    Spec spec = MakeSpec(kCount, Distribution::kZipfian);
    spec.zipf_theta = theta;
    double normalizer = 0;
    for (uint64_t k = 1; k <= kCount; ++k) normalizer += std::pow(k, -theta);
    const auto frequencies = SortedFrequencies(Draw(spec, kDraws));
    for (int rank = 1; rank <= 3; ++rank) {
      const double expected = std::pow(rank, -theta) / normalizer;
      const double observed = static_cast<double>(frequencies[rank - 1].first) / kDraws;
      EXPECT_NEAR(observed, expected, 0.05 * expected + 0.001) << "rank " << rank;
    }
  }
}

TEST(GeneratorTest, ZipfianHandlesTinyAndHugeKeySpaces) {
  for (uint64_t index : Draw(MakeSpec(1, Distribution::kZipfian), 100)) ASSERT_EQ(index, 0u);
  std::set<uint64_t> seen;
  for (uint64_t index : Draw(MakeSpec(2, Distribution::kZipfian), 100)) {
    ASSERT_LT(index, 2u);
    seen.insert(index);
  }
  EXPECT_EQ(seen.size(), 2u);

  for (uint64_t count : {uint64_t{1} << 50, uint64_t{UINT64_MAX}}) {
    Spec spec = MakeSpec(count, Distribution::kZipfian);
    spec.key_size = 24;
    for (double theta : {0.5, 0.99, 1.0, 2.0}) {
      spec.zipf_theta = theta;
      for (uint64_t index : Draw(spec, 10000)) ASSERT_LT(index, spec.count);
    }
  }
}

TEST(GeneratorTest, CompressionRatioRepeatsTheDrawnPrefix) {
  Spec spec;
  spec.value_size = 100;
  spec.compression_ratio = 0.5;
  Generator half(spec);
  Generator full{Spec{}};
  const std::string v = half.Value(7);
  ASSERT_EQ(v.size(), 100u);
  EXPECT_EQ(v.substr(0, 50), v.substr(50));
  EXPECT_EQ(v.substr(0, 50), full.Value(7).substr(0, 50));  // The same stream, cut short.
  EXPECT_NE(half.Value(8), v);
  spec.compression_ratio = 0.25;
  spec.value_size = 1000;
  const std::string q = Generator(spec).Value(1);
  for (size_t i = 250; i < q.size(); ++i) ASSERT_EQ(q[i], q[i - 250]);
  spec.compression_ratio = 0.0;
  EXPECT_TRUE(absl::IsInvalidArgument(Validate(spec)));
  spec.compression_ratio = 1.5;
  EXPECT_TRUE(absl::IsInvalidArgument(Validate(spec)));
}

TEST(ValidateTest, AcceptsDefaults) { EXPECT_TRUE(Validate(Spec{}).ok()); }

void ExpectInvalid(const Spec& spec, absl::string_view field) {
  const absl::Status status = Validate(spec);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), field)) << status;
}

TEST(ValidateTest, NamesTheBadField) {
  Spec spec;
  spec.count = 0;
  ExpectInvalid(spec, "count");

  spec = Spec{};
  spec.key_size = 7;
  ExpectInvalid(spec, "key_size");
  spec.key_size = kMaxKeySize + 1;
  ExpectInvalid(spec, "key_size");

  spec = Spec{};
  spec.key_size = 8;
  spec.count = 10000000;  // 7 digits are left for the index: exactly enough
  EXPECT_TRUE(Validate(spec).ok());
  spec.count = 10000001;
  ExpectInvalid(spec, "count");

  spec = Spec{};
  spec.value_size = kMaxValueSize + 1;
  ExpectInvalid(spec, "value_size");

  spec = MakeSpec(100, Distribution::kZipfian);
  for (double theta : {0.0, -1.0, 11.0, std::nan("")}) {
    spec.zipf_theta = theta;
    ExpectInvalid(spec, "zipf_theta");
  }
  spec.distribution = Distribution::kUniform;  // theta is not used, so not checked
  EXPECT_TRUE(Validate(spec).ok());
}

TEST(ParseTest, AcceptsTheNamesAndRejectsOthers) {
  EXPECT_EQ(ParseDistribution("uniform").value(), Distribution::kUniform);
  EXPECT_EQ(ParseDistribution("sequential").value(), Distribution::kSequential);
  EXPECT_EQ(ParseDistribution("zipfian").value(), Distribution::kZipfian);
  EXPECT_EQ(ParseFormat("tsv").value(), Format::kTsv);
  EXPECT_EQ(ParseFormat("binary").value(), Format::kBinary);

  for (absl::string_view bad : {"", "Uniform", "zipf", "uniform "}) {
    const auto parsed = ParseDistribution(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), "distribution"));
  }
  for (absl::string_view bad : {"", "csv", "TSV"}) {
    const auto parsed = ParseFormat(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(parsed.status().message(), "format"));
  }
  for (Distribution d : {Distribution::kUniform, Distribution::kSequential,
                         Distribution::kZipfian}) {
    EXPECT_EQ(ParseDistribution(DistributionName(d)).value(), d);
  }
}

struct Record {
  std::string key;
  std::string value;
};

// What WriteRecords promises to write for `spec`.
std::vector<Record> ExpectedRecords(const Spec& spec) {
  Generator generator(spec);
  std::vector<Record> out;
  for (uint64_t i = 0; i < spec.count; ++i) {
    const uint64_t index = generator.NextIndex();
    out.push_back({generator.Key(index), generator.Value(index)});
  }
  return out;
}

uint32_t LittleEndian32(const std::string& data, size_t pos) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(data[pos + i]);
  return v;
}

TEST(WriteRecordsTest, TsvParsesBack) {
  Spec spec = MakeSpec(2000, Distribution::kZipfian);
  spec.key_size = 12;
  spec.value_size = 33;
  const std::string path = TempPath("records.tsv");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  ASSERT_TRUE(WriteRecords(spec, Format::kTsv, path, [&](uint64_t done, uint64_t total) {
                calls.emplace_back(done, total);
              }).ok());

  std::vector<Record> records;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const size_t tab = line.find('\t');
    ASSERT_NE(tab, std::string::npos) << line;
    records.push_back({line.substr(0, tab), line.substr(tab + 1)});
  }
  const std::vector<Record> expected = ExpectedRecords(spec);
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].key, expected[i].key) << i;
    ASSERT_EQ(records[i].value, expected[i].value) << i;
  }
  EXPECT_EQ(ReadFile(path).size(), spec.count * (12 + 1 + 33 + 1));

  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls.back(), std::make_pair(spec.count, spec.count));
  for (size_t i = 1; i < calls.size(); ++i) EXPECT_LT(calls[i - 1].first, calls[i].first);
}

TEST(WriteRecordsTest, BinaryParsesBack) {
  Spec spec = MakeSpec(3000, Distribution::kUniform, 99);
  spec.value_size = 0;  // empty values are records too
  const std::string path = TempPath("records.bin");
  ASSERT_TRUE(WriteRecords(spec, Format::kBinary, path).ok());
  spec.value_size = 300;  // a longer value and an overwrite of the previous file
  ASSERT_TRUE(WriteRecords(spec, Format::kBinary, path).ok());

  const std::string data = ReadFile(path);
  std::vector<Record> records;
  size_t pos = 0;
  while (pos < data.size()) {
    ASSERT_LE(pos + 4, data.size());
    const uint32_t key_size = LittleEndian32(data, pos);
    pos += 4;
    ASSERT_LE(pos + key_size + 4, data.size());
    std::string key = data.substr(pos, key_size);
    pos += key_size;
    const uint32_t value_size = LittleEndian32(data, pos);
    pos += 4;
    ASSERT_LE(pos + value_size, data.size());
    records.push_back({std::move(key), data.substr(pos, value_size)});
    pos += value_size;
  }
  const std::vector<Record> expected = ExpectedRecords(spec);
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    ASSERT_EQ(records[i].key, expected[i].key) << i;
    ASSERT_EQ(records[i].value, expected[i].value) << i;
  }
}

TEST(WriteRecordsTest, UnwritablePathIsAClearError) {
  const Spec spec = MakeSpec(10, Distribution::kSequential);
  for (const std::string& path :
       {std::string("/proc/nonexistent/x"), TempPath("regular_file/x")}) {
    if (path.find("regular_file") != std::string::npos) {
      std::ofstream(TempPath("regular_file")) << "not a directory";
    }
    const absl::Status status = WriteRecords(spec, Format::kTsv, path);
    ASSERT_FALSE(status.ok()) << path;
    EXPECT_TRUE(absl::StrContains(status.message(), path)) << status;
    // The system's reason, not just "failed".
    EXPECT_TRUE(absl::StrContains(status.message(), "No such file or directory") ||
                absl::StrContains(status.message(), "Not a directory"))
        << status;
  }
}

TEST(WriteRecordsTest, FullDiskIsReported) {
  if (std::ifstream("/dev/full").fail()) GTEST_SKIP() << "no /dev/full here";
  const absl::Status status =
      WriteRecords(MakeSpec(100000, Distribution::kSequential), Format::kBinary, "/dev/full");
  ASSERT_FALSE(status.ok());
  EXPECT_TRUE(absl::StrContains(status.message(), "/dev/full")) << status;
  EXPECT_TRUE(absl::StrContains(status.message(), "No space left")) << status;
}

TEST(WriteRecordsTest, RejectsAnInvalidSpec) {
  Spec spec;
  spec.key_size = 4;
  const absl::Status status = WriteRecords(spec, Format::kTsv, TempPath("never_written"));
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(std::ifstream(TempPath("never_written")).fail()) << "validated after opening";
}

}  // namespace
}  // namespace kvstore::datagen
