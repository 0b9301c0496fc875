// Tests of the manifest: its encoding round trips, any damage to it is detected, and it is
// replaced atomically on disk.
#include "kvstore/internal/manifest.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "gtest/gtest.h"
#include "kvstore/env.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "testing/test_util.h"

namespace kvstore::internal {
namespace {

constexpr char kName[] = "dir/MANIFEST";

Manifest Sample() {
  Manifest m;
  m.type_signature = std::string("std::string->int64\0\xff", 21);
  m.filter_name = "bloom10.v1";
  m.next_file_number = 0x0102030405060708ULL;
  m.log_number = 41;
  m.last_sequence = kMaxSequence;
  m.runs = {{9}, {7, 3}, {0xffffffffffffffffULL}};
  m.clips = {{7, std::string("key\0\xff", 5)}, {0xffffffffffffffffULL, "z"}};
  return m;
}

void ExpectSame(const Manifest& a, const Manifest& b) {
  EXPECT_EQ(a.format_version, b.format_version);
  EXPECT_EQ(a.type_signature, b.type_signature);
  EXPECT_EQ(a.filter_name, b.filter_name);
  EXPECT_EQ(a.next_file_number, b.next_file_number);
  EXPECT_EQ(a.log_number, b.log_number);
  EXPECT_EQ(a.last_sequence, b.last_sequence);
  EXPECT_EQ(a.runs, b.runs);
  EXPECT_EQ(a.clips, b.clips);
}

TEST(ManifestTest, RoundTrip) {
  const Manifest m = Sample();
  Manifest decoded;
  KV_ASSERT_OK(Manifest::Decode(m.Encode(), kName, &decoded));
  ExpectSame(decoded, m);
}

TEST(ManifestTest, RoundTripOfDefaultAndLarge) {
  Manifest empty;
  Manifest decoded;
  decoded.runs = {{1, 2}, {3}};  // Decode replaces, not appends.
  decoded.filter_name = "stale";
  decoded.clips = {{1, "stale"}};
  KV_ASSERT_OK(Manifest::Decode(empty.Encode(), kName, &decoded));
  ExpectSame(decoded, empty);

  Manifest large;
  large.type_signature = std::string(1000, 's');
  for (uint64_t i = 0; i < 5000; ++i) large.runs.push_back({i * 7919});
  large.runs.push_back({});
  for (uint64_t i = 0; i < 5000; ++i) large.runs.back().push_back(i * 31);
  KV_ASSERT_OK(Manifest::Decode(large.Encode(), kName, &decoded));
  ExpectSame(decoded, large);
}

// Any single flipped bit, anywhere, is DataLoss or (in the version field) FailedPrecondition.
TEST(ManifestTest, EveryBitFlipIsDetected) {
  const std::string encoded = Sample().Encode();
  for (size_t offset = 0; offset < encoded.size(); ++offset) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string damaged = encoded;
      damaged[offset] ^= static_cast<char>(1 << bit);
      Manifest m;
      const absl::Status s = Manifest::Decode(damaged, kName, &m);
      ASSERT_FALSE(s.ok()) << "offset " << offset << " bit " << bit;
      EXPECT_TRUE(s.code() == absl::StatusCode::kDataLoss ||
                  s.code() == absl::StatusCode::kFailedPrecondition)
          << s;
      EXPECT_TRUE(absl::StrContains(s.message(), kName)) << s;
    }
  }
}

TEST(ManifestTest, EveryByteValueAtEveryOffsetIsDetected) {
  Manifest small;
  small.filter_name = "none";
  small.runs = {{1}};
  const std::string encoded = small.Encode();
  for (size_t offset = 0; offset < encoded.size(); ++offset) {
    for (int delta = 1; delta < 256; ++delta) {
      std::string damaged = encoded;
      damaged[offset] = static_cast<char>(damaged[offset] + delta);
      Manifest m;
      ASSERT_FALSE(Manifest::Decode(damaged, kName, &m).ok())
          << "offset " << offset << " delta " << delta;
    }
  }
}

TEST(ManifestTest, TruncationAndExtensionAreDetected) {
  const std::string encoded = Sample().Encode();
  for (size_t length = 0; length < encoded.size(); ++length) {
    Manifest m;
    const absl::Status s = Manifest::Decode(encoded.substr(0, length), kName, &m);
    ASSERT_EQ(s.code(), absl::StatusCode::kDataLoss) << "length " << length << ": " << s;
    EXPECT_TRUE(absl::StrContains(s.message(), kName)) << s;
  }
  for (absl::string_view extra : {absl::string_view("\0", 1), absl::string_view("12345678")}) {
    Manifest m;
    EXPECT_EQ(Manifest::Decode(encoded + std::string(extra), kName, &m).code(),
              absl::StatusCode::kDataLoss);
  }
}

// A manifest whose checksum is right but whose fields do not add up is still refused.
TEST(ManifestTest, WellChecksummedButMalformedIsDataLoss) {
  const std::string encoded = Sample().Encode();
  std::string body = encoded.substr(0, encoded.size() - 8);
  body.resize(body.size() - 8);  // Drop the last segment number; its run still counts it.
  PutFixed64(&body, Checksum(body, kManifestSalt));
  Manifest m;
  const absl::Status s = Manifest::Decode(body, kName, &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;

  // A run of no segments, sealed with a valid checksum.
  Manifest empty_run = Sample();
  empty_run.runs.push_back({});
  const absl::Status empty = Manifest::Decode(empty_run.Encode(), kName, &m);
  EXPECT_EQ(empty.code(), absl::StatusCode::kDataLoss) << empty;
  EXPECT_TRUE(absl::StrContains(empty.message(), "run 3")) << empty;
}

TEST(ManifestTest, OtherFormatVersionIsFailedPrecondition) {
  std::string encoded = Sample().Encode();
  EncodeFixed32(encoded.data() + 8, kFormatVersion + 1);
  EncodeFixed64(encoded.data() + encoded.size() - 8,
                Checksum(absl::string_view(encoded).substr(0, encoded.size() - 8), kManifestSalt));
  Manifest m;
  const absl::Status s = Manifest::Decode(encoded, kName, &m);
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "format version")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), kName)) << s;
}

std::vector<std::string> Children(const std::string& dir) {
  std::vector<std::string> names = ValueOrDie(Env::Default()->GetChildren(dir));
  std::sort(names.begin(), names.end());
  return names;
}

TEST(ManifestTest, WriteFileAtomicallyReplacesAndLeavesNoTemporary) {
  Env* env = Env::Default();
  const std::string dir = testing::NewTempDir("manifest");
  KV_ASSERT_OK(env->CreateDir(dir));
  const std::string path = dir + "/FILE";
  KV_ASSERT_OK(WriteFileAtomically(env, dir, path, "first contents"));
  std::string contents;
  KV_ASSERT_OK(env->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "first contents");
  EXPECT_EQ(Children(dir), std::vector<std::string>{"FILE"});

  // A stale temporary from a crash is overwritten, not appended to, and is gone afterwards.
  {
    auto stale = ValueOrDie(env->NewWritableFile(TempFileName(path)));
    KV_ASSERT_OK(stale->Append(std::string(10000, 'x')));
    KV_ASSERT_OK(stale->Close());
  }
  KV_ASSERT_OK(WriteFileAtomically(env, dir, path, "new"));
  KV_ASSERT_OK(env->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "new");
  EXPECT_EQ(Children(dir), std::vector<std::string>{"FILE"});

  KV_ASSERT_OK(WriteFileAtomically(env, dir, path, ""));
  KV_ASSERT_OK(env->ReadFileToString(path, &contents));
  EXPECT_EQ(contents, "");
}

TEST(ManifestTest, WriteFileAtomicallyIntoMissingDirectoryFails) {
  Env* env = Env::Default();
  const std::string dir = testing::NewTempDir("manifest_missing");
  const absl::Status s = WriteFileAtomically(env, dir, dir + "/FILE", "x");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), dir)) << s;
}

TEST(ManifestTest, WriteAndReadManifest) {
  Env* env = Env::Default();
  const std::string dir = testing::NewTempDir("manifest_rw");
  KV_ASSERT_OK(env->CreateDir(dir));
  Manifest m;
  EXPECT_EQ(ReadManifest(env, dir, &m).code(), absl::StatusCode::kNotFound);

  const Manifest first = Sample();
  KV_ASSERT_OK(WriteManifest(env, dir, first));
  KV_ASSERT_OK(ReadManifest(env, dir, &m));
  ExpectSame(m, first);

  Manifest second = Sample();
  second.runs = {{12}};
  second.last_sequence = 5;
  KV_ASSERT_OK(WriteManifest(env, dir, second));
  Manifest read;
  KV_ASSERT_OK(ReadManifest(env, dir, &read));
  ExpectSame(read, second);
  EXPECT_EQ(Children(dir), std::vector<std::string>{"MANIFEST"});

  // Damage on disk is reported naming the file.
  std::string contents;
  KV_ASSERT_OK(env->ReadFileToString(ManifestFileName(dir), &contents));
  contents[contents.size() / 2] ^= 0x10;
  {
    auto file = ValueOrDie(env->NewWritableFile(ManifestFileName(dir)));
    KV_ASSERT_OK(file->Append(contents));
    KV_ASSERT_OK(file->Close());
  }
  const absl::Status s = ReadManifest(env, dir, &read);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), ManifestFileName(dir))) << s;
}

}  // namespace
}  // namespace kvstore::internal
