// Writes the seed corpus of every fuzz target: a handful of small valid inputs each, so the
// fuzzers start from the real formats and the corpus tests replay them.
//
//   tools/bazel run //testing/fuzz:make_seed_corpus -- "$PWD/testing/fuzz/corpus"
//
// Files are named after what they hold and are overwritten; other files in the directories
// (such as regression inputs from crashes) are left alone.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "kvstore/filter.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/wal.h"
#include "kvstore/serializer.h"
#include "testing/fuzz/fuzz_util.h"
#include "testing/fuzz/segment_fuzz_util.h"

namespace kvstore::fuzz {
namespace {

namespace fs = std::filesystem;

class CorpusWriter {
 public:
  explicit CorpusWriter(fs::path root) : root_(std::move(root)) {}

  void Write(const std::string& target, const std::string& name, absl::string_view bytes) {
    const fs::path dir = root_ / target;
    fs::create_directories(dir);
    std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    FUZZ_CHECK(out.good());
    ++files_;
    bytes_ += bytes.size();
  }

  size_t files() const { return files_; }
  size_t bytes() const { return bytes_; }

 private:
  fs::path root_;
  size_t files_ = 0;
  size_t bytes_ = 0;
};

// A batch payload: Put for a non-empty value, Delete otherwise.
std::string Batch(uint64_t sequence, const std::vector<std::pair<std::string, std::string>>& ops) {
  internal::BatchRep batch;
  for (const auto& [key, value] : ops) {
    if (value.empty()) {
      batch.Delete(key);
    } else {
      batch.Put(key, value);
    }
  }
  batch.SetSequence(sequence);
  return std::string(batch.payload());
}

std::string Log(const std::vector<std::string>& payloads) {
  std::string log;
  internal::LogWriter writer(std::make_unique<StringSink>(&log));
  for (const std::string& payload : payloads) FUZZ_CHECK_OK(writer.AddRecord(payload, false));
  return log;
}

void WalSeeds(CorpusWriter& out) {
  const std::string b1 = Batch(1, {{"apple", "red"}});
  const std::string b2 = Batch(2, {{"banana", "yellow"}, {"apple", ""}, {std::string("k\0z", 3), "v"}});
  const std::string b3 = Batch(5, {{"cherry", std::string(40, 'c')}});
  const std::string log = Log({b1, b2, b3});
  const std::string raw(1, '\x00');
  out.Write("wal_fuzzer", "log_one_record", raw + Log({b1}));
  out.Write("wal_fuzzer", "log_three_records", raw + log);
  out.Write("wal_fuzzer", "log_torn_tail", raw + log.substr(0, log.size() - 7));
  // A mapped WAL after a crash: the space reserved past the last record reads as zeros.
  out.Write("wal_fuzzer", "log_zero_tail", raw + log + std::string(64, '\0'));
  std::string damaged = log;
  damaged[internal::kWalHeaderBytes + 3] ^= 0x10;  // inside the first payload
  out.Write("wal_fuzzer", "log_damaged_middle", raw + damaged);
  out.Write("wal_fuzzer", "log_empty", raw);

  // Written mode: damage, record, position, then length-prefixed payloads.
  auto written = [](uint8_t damage, uint8_t record, uint8_t position,
                    const std::vector<std::string>& payloads) {
    std::string in = {'\x01', static_cast<char>(damage), static_cast<char>(record),
                      static_cast<char>(position)};
    for (const std::string& p : payloads) {
      FUZZ_CHECK(p.size() < 256);
      in.push_back(static_cast<char>(p.size()));
      in += p;
    }
    return in;
  };
  out.Write("wal_fuzzer", "written_intact", written(0, 0, 0, {b1, b2, b3}));
  out.Write("wal_fuzzer", "written_torn", written(9, 0, 0, {b1, b2}));
  out.Write("wal_fuzzer", "written_flip_first", written(0x83, 0, 20, {b1, b2, b3}));
  out.Write("wal_fuzzer", "written_not_batches", written(0, 0, 0, {"x", std::string(12, '\0')}));
}

void SegmentSeeds(CorpusWriter& out) {
  struct Shape {
    const char* name;
    uint64_t seed;
    size_t keys;
    size_t block_bytes;
  };
  const Shape shapes[] = {
      {"segment_empty", 1, 0, 4096},
      {"segment_one_key", 2, 1, 4096},
      {"segment_one_block", 3, 8, 4096},
      {"segment_small_blocks", 4, 12, 96},
      {"segment_block_per_record", 5, 6, 1},
  };
  for (const Shape& s : shapes) {
    out.Write("segment_fuzzer", s.name, BuildSegment(MakeVersions(s.seed, s.keys), s.block_bytes));
  }

  // segment_mutation_fuzzer: keys, block size / 8, seed, stale mask; then edits
  // (op, region, offset lo, offset hi, arguments).
  auto params = [](uint8_t keys, uint8_t block, uint8_t seed, uint8_t stale) {
    return std::string{static_cast<char>(keys), static_cast<char>(block), static_cast<char>(seed),
                       static_cast<char>(stale)};
  };
  const std::string m = "segment_mutation_fuzzer";
  out.Write(m, "intact", params(10, 16, 1, 0));
  out.Write(m, "intact_small_blocks", params(24, 2, 2, 0));
  out.Write(m, "intact_empty", params(0, 0, 3, 0));
  out.Write(m, "set_data_byte", params(10, 16, 4, 0) + std::string("\x00\x00\x05\x00\x7f", 5));
  out.Write(m, "xor_filter_byte", params(10, 16, 5, 0) + std::string("\x01\x01\x10\x00\x04", 5));
  out.Write(m, "varint_in_index", params(10, 4, 6, 0) +
                                      std::string("\x04\x02\x00\x00\x20\x00\x00\x00\x00\x00\x00\x00", 12));
  out.Write(m, "fixed64_in_footer", params(6, 16, 7, 0) +
                                        std::string("\x03\x03\x08\x00\x00\x00\x00\x01\x00\x00\x00\x00", 12));
  out.Write(m, "insert_in_data", params(6, 4, 8, 0) + std::string("\x05\x00\x03\x00\x03" "abc", 8));
  out.Write(m, "erase_in_index", params(6, 4, 9, 0) + std::string("\x06\x02\x0c\x00\x05", 5));
  out.Write(m, "truncate", params(6, 4, 10, 0) + std::string("\x07\x04\x40\x00", 4));
  out.Write(m, "stale_block_checksum", params(6, 4, 11, 0xF1) + std::string("\x01\x00\x02\x00\x01", 5));

  // compressed_segment_fuzzer: a codec byte (0 Snappy and 1 LZ4 in tiny value groups, 2 Snappy,
  // 3 LZ4, 4 Zstd), then segment_mutation_fuzzer's input.
  const std::string c = "compressed_segment_fuzzer";
  const char* const codecs[] = {"tiny_snappy", "tiny_lz4", "snappy", "lz4", "zstd"};
  for (char codec = 0; codec < 5; ++codec) {
    const std::string name = codecs[static_cast<int>(codec)];
    out.Write(c, name + "_intact", codec + params(16, 40, 12, 0));
    out.Write(c, name + "_intact_small_blocks", codec + params(30, 8, 13, 0));
    out.Write(c, name + "_set_data_byte", codec + params(16, 40, 14, 0) + std::string("\x00\x00\x09\x00\x7f", 5));
    out.Write(c, name + "_xor_data_byte", codec + params(30, 8, 15, 0) + std::string("\x01\x00\x30\x00\x04", 5));
    out.Write(c, name + "_insert_in_data", codec + params(16, 40, 16, 0) + std::string("\x05\x00\x04\x00\x02" "zz", 7));
  }
}

template <typename K>
std::string KeyPair(const K& a, const K& b) {
  std::string ea, eb;
  DefaultSerializer::EncodeKey(a, &ea);
  DefaultSerializer::EncodeKey(b, &eb);
  FUZZ_CHECK(ea.size() < 256);
  return std::string(1, static_cast<char>(ea.size())) + ea + eb;
}

template <typename V>
std::string Value(const V& v) {
  std::string e;
  DefaultSerializer::EncodeValue(v, &e);
  return e;
}

void SerializerSeeds(CorpusWriter& out) {
  using Tuple = std::tuple<std::string, int32_t, double>;
  using Pair = std::pair<std::string, std::string>;
  const double inf = std::numeric_limits<double>::infinity();
  const std::string s = "serializer_fuzzer";
  out.Write(s, "key_int64", KeyPair<int64_t>(-5, 7));
  out.Write(s, "key_double_zeros", KeyPair<double>(-0.0, 0.0));
  out.Write(s, "key_double", KeyPair<double>(1.5, -inf));
  out.Write(s, "key_tuple", KeyPair<Tuple>({std::string("a\0b", 3), 3, 2.5}, {"a", -1, -0.0}));
  out.Write(s, "key_pair", KeyPair<Pair>({"k", "v"}, {std::string("k\0", 2), ""}));
  out.Write(s, "value_tuple", Value<Tuple>({"name", 42, 0.25}));
  out.Write(s, "value_pair", Value<Pair>({"left", std::string(130, 'r')}));
  struct Pod {  // the layout of serializer_fuzzer.cc's Pod
    int32_t id;
    uint16_t flags;
    double score;
    char tag[3];
  };
  Pod pod{};  // zeroed, padding included
  pod.id = 7;
  pod.flags = 3;
  pod.score = -1.5;
  out.Write(s, "value_pod", Value(pod));
  out.Write(s, "value_pod_and_string", Value(std::make_pair(pod, std::string("note"))));
}

void ManifestSeeds(CorpusWriter& out) {
  internal::Manifest m;
  out.Write("manifest_fuzzer", "default", std::string(1, '\0') + m.Encode());
  m.type_signature = "str->i64";
  m.filter_name = "bloom10.v1";
  m.next_file_number = 12;
  m.log_number = 10;
  m.last_sequence = 4096;
  m.runs = {{9}, {5, 3}};
  const std::string full = m.Encode();
  out.Write("manifest_fuzzer", "three_segments", std::string(1, '\0') + full);
  // Sealed mode: the harness appends the checksum.
  out.Write("manifest_fuzzer", "sealed_three_segments", "\x01" + full.substr(0, full.size() - 8));
  out.Write("manifest_fuzzer", "bad_magic", std::string(1, '\0') + std::string(28, 'M'));
}

void BloomSeeds(CorpusWriter& out) {
  Rng rng(99);
  auto filter_of = [&](size_t n) {
    std::vector<uint64_t> hashes;
    for (size_t i = 0; i < n; ++i) hashes.push_back(rng.Next());
    std::string query;
    internal::PutFixed64(&query, n > 0 ? hashes[0] : rng.Next());
    BloomFilter<10>::Build(absl::Span<const uint64_t>(hashes), &query);
    return query;
  };
  out.Write("bloom_fuzzer", "no_keys", filter_of(0));
  out.Write("bloom_fuzzer", "one_key", filter_of(1));
  out.Write("bloom_fuzzer", "two_blocks", filter_of(80));
  out.Write("bloom_fuzzer", "short", std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x06\x01", 10));
}

}  // namespace
}  // namespace kvstore::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  kvstore::fuzz::CorpusWriter out(argv[1]);
  kvstore::fuzz::WalSeeds(out);
  kvstore::fuzz::SegmentSeeds(out);
  kvstore::fuzz::SerializerSeeds(out);
  kvstore::fuzz::ManifestSeeds(out);
  kvstore::fuzz::BloomSeeds(out);
  std::printf("wrote %zu files, %zu bytes, under %s\n", out.files(), out.bytes(), argv[1]);
  return 0;
}
