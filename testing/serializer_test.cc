#include "kvstore/serializer.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kvstore {
namespace {

using S = DefaultSerializer;
using ::testing::HasSubstr;

// Value-only types: trivially copyable structs without padding, so that their bytes are fully
// determined by their fields.
struct Point {
  int32_t x;
  int32_t y;
  double weight;
};
struct Bytes3 {
  char b[3];
};

// ---------------------------------------------------------------------------------------------
// Compile-time contract.

static_assert(DefaultKey<std::tuple<int, std::string>>);
static_assert(!DefaultKey<std::vector<int>>);
static_assert(DefaultValue<Point>);
static_assert(!DefaultKey<Point>);

static_assert(DefaultKey<std::string> && DefaultKey<bool> && DefaultKey<char> &&
              DefaultKey<char8_t> && DefaultKey<wchar_t> && DefaultKey<uint64_t> &&
              DefaultKey<float> && DefaultKey<double>);
static_assert(DefaultKey<std::pair<std::string, std::tuple<int8_t, std::pair<bool, double>>>>);
static_assert(DefaultKey<std::tuple<>>);
static_assert(!DefaultKey<long double>);
static_assert(!DefaultKey<int*> && !DefaultValue<int*>);
static_assert(!DefaultKey<const int>);
static_assert(!DefaultKey<std::pair<const std::string, int>>);
static_assert(!DefaultKey<std::tuple<int, Point>> && DefaultValue<std::tuple<int, Point>>);
static_assert(!DefaultKey<std::string_view> && !DefaultValue<std::string_view>);
static_assert(!DefaultValue<absl::string_view>);
static_assert(!DefaultValue<std::vector<int>>);
static_assert(DefaultValue<std::array<uint16_t, 4>> && DefaultValue<Bytes3>);
static_assert(DefaultValue<std::pair<std::string, Point>>);

static_assert(SerializerFor<DefaultSerializer, std::string, Point>);
static_assert(SerializerFor<DefaultSerializer, std::tuple<int, std::string>, std::string>);

// A serializer with only the required functions, for int64_t keys and values.
struct DecimalSerializer {
  static void EncodeKey(int64_t key, std::string* out) { out->append(std::to_string(key)); }
  static absl::Status DecodeKey(absl::string_view in, int64_t* key) {
    *key = std::stoll(std::string(in));
    return absl::OkStatus();
  }
  static void EncodeValue(int64_t value, std::string* out) { EncodeKey(value, out); }
  static absl::Status DecodeValue(absl::string_view in, int64_t* value) {
    return DecodeKey(in, value);
  }
};
static_assert(SerializerFor<DecimalSerializer, int64_t, int64_t>);

struct BoolDecodingSerializer {
  static void EncodeKey(int64_t, std::string*) {}
  static bool DecodeKey(absl::string_view, int64_t*) { return true; }
  static void EncodeValue(int64_t, std::string*) {}
  static absl::Status DecodeValue(absl::string_view, int64_t*) { return absl::OkStatus(); }
};
static_assert(!SerializerFor<BoolDecodingSerializer, int64_t, int64_t>);
static_assert(!SerializerFor<DecimalSerializer, std::string, int64_t>);

struct NonNegativeSerializer : DecimalSerializer {
  static absl::Status ValidateKey(int64_t key) {
    return key < 0 ? absl::InvalidArgumentError("negative") : absl::OkStatus();
  }
};

// Names its keys but not its values, so the pair of signatures is unknown.
struct KeySignatureOnlySerializer : DecimalSerializer {
  template <typename T>
  static std::string KeySignature() {
    return "decimal";
  }
};

struct SignedSerializer : DecimalSerializer {
  template <typename T>
  static std::string KeySignature() {
    return "decimal";
  }
  template <typename T>
  static std::string ValueSignature() {
    return "decimal-value";
  }
};

// ---------------------------------------------------------------------------------------------
// Helpers.

template <typename T>
std::string KeyBytes(const T& key) {
  std::string out;
  S::EncodeKey(key, &out);
  return out;
}

template <typename T>
std::string ValueBytes(const T& value) {
  std::string out;
  S::EncodeValue(value, &out);
  return out;
}

template <typename T>
absl::Status DecodeKeyStatus(absl::string_view bytes) {
  T out{};
  return S::DecodeKey(bytes, &out);
}

template <typename T>
absl::Status DecodeValueStatus(absl::string_view bytes) {
  T out{};
  return S::DecodeValue(bytes, &out);
}

std::string Hex(absl::string_view bytes) { return absl::BytesToHexString(bytes); }

double L_denorm() { return std::numeric_limits<double>::denorm_min(); }

// The order the key bytes are compared in: unsigned memcmp, then length.
bool BytesLess(const std::string& a, const std::string& b) {
  const int c = std::memcmp(a.data(), b.data(), std::min(a.size(), b.size()));
  return c < 0 || (c == 0 && a.size() < b.size());
}

template <typename T>
concept TupleLike = requires { std::tuple_size<T>::value; };

// operator< (-0.0 and +0.0 are one key, as operator== says).
template <typename T>
bool OrderLess(const T& a, const T& b);

template <typename T, size_t I = 0>
bool TupleOrderLess(const T& a, const T& b) {
  if constexpr (I == std::tuple_size_v<T>) {
    return false;
  } else {
    if (OrderLess(std::get<I>(a), std::get<I>(b))) return true;
    if (OrderLess(std::get<I>(b), std::get<I>(a))) return false;
    return TupleOrderLess<T, I + 1>(a, b);
  }
}

template <typename T>
bool OrderLess(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a < b;
  } else if constexpr (TupleLike<T>) {
    return TupleOrderLess(a, b);
  } else {
    return a < b;
  }
}

// Exact sameness: bit for bit for floats and structs, so that -0.0 and NaN payloads count.
template <typename T>
bool Same(const T& a, const T& b);

template <typename T, size_t... I>
bool SameElements(const T& a, const T& b, std::index_sequence<I...>) {
  return (Same(std::get<I>(a), std::get<I>(b)) && ...);
}

template <typename T>
bool Same(const T& a, const T& b) {
  if constexpr (std::is_floating_point_v<T> ||
                (std::is_class_v<T> && std::is_trivially_copyable_v<T> && !TupleLike<T>)) {
    return std::memcmp(&a, &b, sizeof(T)) == 0;
  } else if constexpr (TupleLike<T>) {
    return SameElements(a, b, std::make_index_sequence<std::tuple_size_v<T>>());
  } else {
    return a == b;
  }
}

// Value generators: edge values, plus random ones drawn to collide often (small alphabets,
// small magnitudes) so that equal prefixes and equal elements are common.
template <typename T>
struct Gen;

template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool>)
struct Gen<T> {
  static std::vector<T> Edges() {
    using L = std::numeric_limits<T>;
    std::vector<T> edges = {L::min(), static_cast<T>(L::min() + 1), T{0}, T{1},
                            static_cast<T>(L::max() - 1), L::max()};
    if constexpr (std::is_signed_v<T>) edges.push_back(static_cast<T>(-1));
    for (uint64_t v : {0x7fULL, 0x80ULL, 0xffULL, 0x100ULL, 0x7fffULL, 0x8000ULL, 0xffffULL,
                       0x10000ULL, 0x7fffffffULL, 0x80000000ULL, 0xffffffffULL}) {
      if (v <= static_cast<uint64_t>(L::max())) {
        edges.push_back(static_cast<T>(v));
        if constexpr (std::is_signed_v<T>) edges.push_back(static_cast<T>(-static_cast<T>(v)));
      }
    }
    return edges;
  }
  static T Random(std::mt19937_64& rng) {
    if (rng() % 2 == 0) return static_cast<T>(rng());
    return static_cast<T>(static_cast<int64_t>(rng() % 512) - 256);
  }
};

template <>
struct Gen<bool> {
  static std::vector<bool> Edges() { return {false, true}; }
  static bool Random(std::mt19937_64& rng) { return rng() % 2 == 1; }
};

template <typename T>
  requires std::floating_point<T>
struct Gen<T> {
  static std::vector<T> Edges() {
    using L = std::numeric_limits<T>;
    const T largest_denormal = std::nextafter(L::min(), T{0});
    std::vector<T> edges = {L::infinity(), L::max(), T{1}, L::epsilon(), L::min(),
                            largest_denormal, L::denorm_min(), T{0}, T{0.5}, T{2}};
    const size_t positives = edges.size();
    for (size_t i = 0; i < positives; ++i) edges.push_back(-edges[i]);
    return edges;
  }
  static T Random(std::mt19937_64& rng) {
    if (rng() % 2 == 0) return static_cast<T>(static_cast<int>(rng() % 21) - 10) / 4;
    using U = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
    for (;;) {
      const T v = std::bit_cast<T>(static_cast<U>(rng()));
      if (!std::isnan(v)) return v;
    }
  }
};

template <>
struct Gen<std::string> {
  static std::vector<std::string> Edges() {
    using namespace std::string_literals;
    return {""s,     "\0"s,     "\0\0"s,   "\x01"s, "\xff"s, "\xff\xff"s,           "a"s,
            "a\0"s,  "a\0b"s,   "a\x01"s,  "ab"s,   "b"s,    std::string(300, '\0'), "\0\xff"s,
            "\0\x01"s, "a\0\xff"s};
  }
  static std::string Random(std::mt19937_64& rng) {
    static constexpr char kAlphabet[] = {'\x00', '\x01', '\x02', 'a',    'b',
                                         '\x7f', '\x80', '\xfe', '\xff'};
    std::string s(rng() % 9, '\0');
    for (char& c : s) c = kAlphabet[rng() % sizeof(kAlphabet)];
    return s;
  }
};

template <typename T>
T Pick(std::mt19937_64& rng) {
  if (rng() % 2 == 0) {
    const std::vector<T> edges = Gen<T>::Edges();
    return edges[rng() % edges.size()];
  }
  return Gen<T>::Random(rng);
}

template <typename A, typename B>
struct Gen<std::pair<A, B>> {
  static std::vector<std::pair<A, B>> Edges() { return {std::pair<A, B>()}; }
  // Braced initialisation evaluates left to right, which keeps the sequence deterministic.
  static std::pair<A, B> Random(std::mt19937_64& rng) {
    return std::pair<A, B>{Pick<A>(rng), Pick<B>(rng)};
  }
};

template <typename... Ts>
struct Gen<std::tuple<Ts...>> {
  static std::vector<std::tuple<Ts...>> Edges() { return {std::tuple<Ts...>()}; }
  static std::tuple<Ts...> Random([[maybe_unused]] std::mt19937_64& rng) {
    return std::tuple<Ts...>{Pick<Ts>(rng)...};
  }
};

template <>
struct Gen<Point> {
  static std::vector<Point> Edges() { return {Point{}, Point{INT32_MIN, INT32_MAX, -0.0}}; }
  static Point Random(std::mt19937_64& rng) {
    return Point{Pick<int32_t>(rng), Pick<int32_t>(rng), Pick<double>(rng)};
  }
};

template <>
struct Gen<Bytes3> {
  static std::vector<Bytes3> Edges() { return {Bytes3{}, Bytes3{{'\xff', '\0', '\xff'}}}; }
  static Bytes3 Random(std::mt19937_64& rng) {
    return Bytes3{{static_cast<char>(rng()), static_cast<char>(rng()), static_cast<char>(rng())}};
  }
};

template <>
struct Gen<std::array<uint16_t, 4>> {
  static std::vector<std::array<uint16_t, 4>> Edges() { return {{}, {0xffff, 0, 1, 0x8000}}; }
  static std::array<uint16_t, 4> Random(std::mt19937_64& rng) {
    return {Pick<uint16_t>(rng), Pick<uint16_t>(rng), Pick<uint16_t>(rng), Pick<uint16_t>(rng)};
  }
};

template <typename T>
std::vector<T> Sample(size_t random_count, uint64_t seed = 20240611) {
  std::mt19937_64 rng(seed);
  std::vector<T> values = Gen<T>::Edges();
  for (size_t i = 0; i < random_count; ++i) values.push_back(Gen<T>::Random(rng));
  return values;
}

// Byte strings near valid encodings (truncated, extended, with a byte changed) and random ones
// over bytes the formats treat specially: a small deterministic fuzz of the decoders.
std::vector<std::string> FuzzInputs(const std::vector<std::string>& valid, uint64_t seed) {
  std::mt19937_64 rng(seed);
  static constexpr char kBytes[] = {'\x00', '\x01', '\x02', '\x7f', '\x80', '\xfe', '\xff', 'a'};
  auto random_byte = [&rng] {
    return rng() % 2 == 0 ? kBytes[rng() % sizeof(kBytes)] : static_cast<char>(rng());
  };
  std::vector<std::string> inputs;
  for (const std::string& bytes : valid) {
    inputs.push_back(bytes);
    inputs.push_back(bytes.substr(0, rng() % (bytes.size() + 1)));
    inputs.push_back(bytes + random_byte());
    if (!bytes.empty()) {
      std::string changed = bytes;
      changed[rng() % changed.size()] = random_byte();
      inputs.push_back(changed);
      std::string cut = bytes;
      cut.erase(rng() % cut.size(), 1);
      inputs.push_back(cut);
    }
  }
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) c = random_byte();
    inputs.push_back(s);
  }
  return inputs;
}

// ---------------------------------------------------------------------------------------------
// Keys, over every supported kind of key type.

template <typename T>
class KeyTest : public ::testing::Test {};

using KeyTypes = ::testing::Types<
    int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, char, char8_t,
    char16_t, char32_t, wchar_t, bool, float, double, std::string, std::pair<int, std::string>,
    std::pair<std::string, std::string>, std::tuple<std::string, int64_t, double>,
    std::tuple<std::string, std::string>,
    std::tuple<std::pair<std::string, int8_t>, std::tuple<bool, std::string>, float>,
    std::tuple<>>;
TYPED_TEST_SUITE(KeyTest, KeyTypes);

TYPED_TEST(KeyTest, RoundTripsEdgeAndRandomValues) {
  for (const TypeParam& key : Sample<TypeParam>(2000)) {
    const std::string bytes = KeyBytes(key);
    TypeParam decoded{};
    ASSERT_TRUE(S::DecodeKey(bytes, &decoded).ok()) << Hex(bytes);
    // Bit for bit, but for -0.0, which comes back as the equal 0.0 (one key).
    ASSERT_TRUE(Same(decoded, key) || decoded == key)
        << ::testing::PrintToString(key) << " " << Hex(bytes);
    ASSERT_EQ(KeyBytes(decoded), bytes);
  }
}

TYPED_TEST(KeyTest, EncodedOrderIsKeyOrder) {
  std::vector<TypeParam> keys = Sample<TypeParam>(3000);
  std::sort(keys.begin(), keys.end(), OrderLess<TypeParam>);
  ASSERT_TRUE(std::is_sorted(keys.begin(), keys.end()));  // By plain operator< too.

  std::vector<std::string> encoded;
  for (const TypeParam& key : keys) encoded.push_back(KeyBytes(key));
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    const TypeParam& a = keys[i];
    const TypeParam& b = keys[i + 1];
    const std::string& ea = encoded[i];
    const std::string& eb = encoded[i + 1];
    ASSERT_FALSE(BytesLess(eb, ea)) << ::testing::PrintToString(a) << " vs "
                                    << ::testing::PrintToString(b);
    if (OrderLess(a, b)) {
      ASSERT_TRUE(BytesLess(ea, eb)) << ::testing::PrintToString(a) << " < "
                                     << ::testing::PrintToString(b) << ": " << Hex(ea)
                                     << " vs " << Hex(eb);
    } else {
      ASSERT_EQ(ea, eb) << ::testing::PrintToString(a) << " == " << ::testing::PrintToString(b);
    }
  }

  // Arbitrary pairs, both ways: the byte order is exactly the key order.
  std::mt19937_64 rng(7);
  for (int n = 0; n < 20000; ++n) {
    const size_t i = rng() % keys.size();
    const size_t j = rng() % keys.size();
    ASSERT_EQ(BytesLess(encoded[i], encoded[j]), OrderLess(keys[i], keys[j]))
        << ::testing::PrintToString(keys[i]) << " vs " << ::testing::PrintToString(keys[j]);
    ASSERT_EQ(BytesLess(encoded[j], encoded[i]), OrderLess(keys[j], keys[i]));
    if (keys[i] < keys[j]) {
      ASSERT_TRUE(BytesLess(encoded[i], encoded[j]));
    }
  }
}

TYPED_TEST(KeyTest, TruncatedOrExtendedEncodings) {
  if constexpr (std::is_same_v<TypeParam, std::string>) {
    // A top-level string is any bytes, so each prefix is a valid, shorter string.
    const std::string bytes = KeyBytes(std::string("ab\0\xff", 4));
    for (size_t n = 0; n <= bytes.size(); ++n) {
      std::string out;
      ASSERT_TRUE(S::DecodeKey(bytes.substr(0, n), &out).ok());
      ASSERT_EQ(out, bytes.substr(0, n));
    }
  } else {
    for (const TypeParam& key : Sample<TypeParam>(200)) {
      const std::string bytes = KeyBytes(key);
      for (size_t n = 0; n < bytes.size(); ++n) {
        const absl::Status status = DecodeKeyStatus<TypeParam>(bytes.substr(0, n));
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument)
            << Hex(bytes.substr(0, n)) << " " << status;
      }
      for (const char extra : {'\x00', '\x01', '\xff'}) {
        const absl::Status status = DecodeKeyStatus<TypeParam>(bytes + extra);
        ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << Hex(bytes + extra);
        ASSERT_THAT(status.message(), HasSubstr("left over"));
      }
    }
  }
}

TYPED_TEST(KeyTest, WhateverDecodesReencodesToTheSameBytes) {
  std::vector<std::string> valid;
  for (const TypeParam& key : Sample<TypeParam>(300)) valid.push_back(KeyBytes(key));
  for (const std::string& bytes : FuzzInputs(valid, 99)) {
    TypeParam decoded{};
    const absl::Status status = S::DecodeKey(bytes, &decoded);
    if (status.ok()) {
      ASSERT_EQ(Hex(KeyBytes(decoded)), Hex(bytes));
    } else {
      ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      ASSERT_THAT(status.message(), HasSubstr(S::KeySignature<TypeParam>()));
    }
  }
}

TYPED_TEST(KeyTest, ValidateKeyAcceptsEveryNonNaNKey) {
  for (const TypeParam& key : Sample<TypeParam>(200)) {
    ASSERT_TRUE(S::ValidateKey(key).ok()) << ::testing::PrintToString(key);
    ASSERT_TRUE((internal::ValidateKeyWith<S, TypeParam>(key).ok()));
  }
}

TYPED_TEST(KeyTest, KeyAndValueSignaturesAgree) {
  EXPECT_FALSE(S::KeySignature<TypeParam>().empty());
  EXPECT_EQ(S::KeySignature<TypeParam>(), S::ValueSignature<TypeParam>());
}

// ---------------------------------------------------------------------------------------------
// Values, over every supported kind of value type.

template <typename T>
class ValueTest : public ::testing::Test {};

using ValueTypes = ::testing::Types<
    int8_t, int16_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t, char, char8_t,
    char16_t, char32_t, wchar_t, bool, float, double, std::string, Point, Bytes3,
    std::array<uint16_t, 4>, std::pair<std::string, std::string>, std::pair<int, std::string>,
    std::tuple<std::string, Point, int32_t, std::string>,
    std::tuple<bool, double, std::pair<std::string, uint8_t>>, std::tuple<>>;
TYPED_TEST_SUITE(ValueTest, ValueTypes);

TYPED_TEST(ValueTest, RoundTripsEdgeAndRandomValues) {
  for (const TypeParam& value : Sample<TypeParam>(2000)) {
    const std::string bytes = ValueBytes(value);
    TypeParam decoded{};
    ASSERT_TRUE(S::DecodeValue(bytes, &decoded).ok()) << Hex(bytes);
    ASSERT_TRUE(Same(decoded, value)) << Hex(bytes);
    ASSERT_EQ(ValueBytes(decoded), bytes);
  }
}

TYPED_TEST(ValueTest, TruncatedOrExtendedEncodings) {
  if constexpr (std::is_same_v<TypeParam, std::string>) {
    // A top-level string is any bytes, so each prefix is a valid, shorter string.
    const std::string bytes = ValueBytes(std::string("ab\0\xff", 4));
    for (size_t n = 0; n <= bytes.size(); ++n) {
      std::string out;
      ASSERT_TRUE(S::DecodeValue(bytes.substr(0, n), &out).ok());
      ASSERT_EQ(out, bytes.substr(0, n));
    }
  } else {
    for (const TypeParam& value : Sample<TypeParam>(200)) {
      const std::string bytes = ValueBytes(value);
      for (size_t n = 0; n < bytes.size(); ++n) {
        ASSERT_EQ(DecodeValueStatus<TypeParam>(bytes.substr(0, n)).code(),
                  absl::StatusCode::kInvalidArgument)
            << Hex(bytes.substr(0, n));
      }
      const absl::Status status = DecodeValueStatus<TypeParam>(bytes + '\0');
      ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      ASSERT_THAT(status.message(), HasSubstr("left over"));
    }
  }
}

TYPED_TEST(ValueTest, WhateverDecodesReencodesToTheSameBytes) {
  std::vector<std::string> valid;
  for (const TypeParam& value : Sample<TypeParam>(300)) valid.push_back(ValueBytes(value));
  for (const std::string& bytes : FuzzInputs(valid, 123)) {
    TypeParam decoded{};
    const absl::Status status = S::DecodeValue(bytes, &decoded);
    if (status.ok()) {
      ASSERT_EQ(Hex(ValueBytes(decoded)), Hex(bytes));
    } else {
      ASSERT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
      ASSERT_THAT(status.message(), HasSubstr(S::ValueSignature<TypeParam>()));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The format, byte for byte: it is on disk, so a change here breaks existing stores.

TEST(KeyFormatTest, IntegersAreBigEndianWithTheSignBitFlipped) {
  EXPECT_EQ(Hex(KeyBytes(int32_t{0})), "80000000");
  EXPECT_EQ(Hex(KeyBytes(int32_t{1})), "80000001");
  EXPECT_EQ(Hex(KeyBytes(int32_t{-1})), "7fffffff");
  EXPECT_EQ(Hex(KeyBytes(std::numeric_limits<int64_t>::min())), "0000000000000000");
  EXPECT_EQ(Hex(KeyBytes(std::numeric_limits<int64_t>::max())), "ffffffffffffffff");
  EXPECT_EQ(Hex(KeyBytes(int8_t{-128})), "00");
  EXPECT_EQ(Hex(KeyBytes(uint16_t{0x1234})), "1234");
  EXPECT_EQ(Hex(KeyBytes(std::numeric_limits<uint64_t>::max())), "ffffffffffffffff");
  EXPECT_EQ(Hex(KeyBytes(uint64_t{0x0102030405060708})), "0102030405060708");
  EXPECT_EQ(Hex(KeyBytes(true)), "01");
  EXPECT_EQ(Hex(KeyBytes(false)), "00");
}

TEST(KeyFormatTest, FloatsAreOrderedIeeeBits) {
  EXPECT_EQ(Hex(KeyBytes(0.0)), "8000000000000000");
  EXPECT_EQ(Hex(KeyBytes(-0.0)), "8000000000000000");  // Stored as 0.0.
  EXPECT_EQ(Hex(KeyBytes(1.0)), "bff0000000000000");
  EXPECT_EQ(Hex(KeyBytes(-1.0)), "400fffffffffffff");
  EXPECT_EQ(Hex(KeyBytes(std::numeric_limits<float>::infinity())), "ff800000");
  EXPECT_EQ(Hex(KeyBytes(-std::numeric_limits<float>::infinity())), "007fffff");
}

TEST(KeyFormatTest, StringsAreRawAtTopLevelAndEscapedInsideTuples) {
  using namespace std::string_literals;
  EXPECT_EQ(KeyBytes("a\0b"s), "a\0b"s);
  EXPECT_EQ(KeyBytes(""s), "");
  EXPECT_EQ(Hex(KeyBytes(std::make_pair("a\0b"s, int32_t{1}))), "6100ff62000180000001");
  EXPECT_EQ(Hex(KeyBytes(std::make_tuple(""s, ""s))), "00010001");
  EXPECT_EQ(Hex(KeyBytes(std::make_tuple("\0"s))), "00ff0001");
}

TEST(KeyFormatTest, EncodeAppends) {
  std::string out = "xy";
  S::EncodeKey(uint8_t{7}, &out);
  S::EncodeValue(std::string("z"), &out);
  EXPECT_EQ(out, "xy\x07z");
}

TEST(ValueFormatTest, FixedWidthLittleEndianAndLengthPrefixedStrings) {
  using namespace std::string_literals;
  EXPECT_EQ(Hex(ValueBytes(int32_t{1})), "01000000");
  EXPECT_EQ(Hex(ValueBytes(int16_t{-2})), "feff");
  EXPECT_EQ(Hex(ValueBytes(uint64_t{0x0102030405060708})), "0807060504030201");
  EXPECT_EQ(Hex(ValueBytes(1.0)), "000000000000f03f");
  EXPECT_EQ(Hex(ValueBytes(true)), "01");
  EXPECT_EQ(ValueBytes("a\0\xff"s), "a\0\xff"s);
  EXPECT_EQ(Hex(ValueBytes(std::make_pair("ab"s, ""s))), "02616200");
  const std::string long_string(200, 'x');
  EXPECT_EQ(ValueBytes(std::make_tuple(long_string)), "\xc8\x01" + long_string);
  const Point p{1, -1, 2.5};
  EXPECT_EQ(ValueBytes(p), std::string(reinterpret_cast<const char*>(&p), sizeof(p)));
}

// ---------------------------------------------------------------------------------------------
// Edge values and the order cases that matter most.

TEST(KeyEdgeTest, IntegerExtremesRoundTrip) {
  auto round_trip = [](auto v) {
    decltype(v) out{};
    EXPECT_TRUE(S::DecodeKey(KeyBytes(v), &out).ok());
    EXPECT_EQ(out, v);
    decltype(v) value_out{};
    EXPECT_TRUE(S::DecodeValue(ValueBytes(v), &value_out).ok());
    EXPECT_EQ(value_out, v);
  };
  round_trip(std::numeric_limits<int64_t>::min());
  round_trip(std::numeric_limits<int64_t>::max());
  round_trip(int64_t{0});
  round_trip(int64_t{-1});
  round_trip(std::numeric_limits<uint64_t>::max());
  round_trip(std::numeric_limits<int8_t>::min());
  round_trip(std::numeric_limits<uint32_t>::max());
  round_trip(std::numeric_limits<char>::min());
  round_trip(std::numeric_limits<wchar_t>::min());
}

TEST(KeyEdgeTest, DoublesSortFromMinusInfinityToPlusInfinity) {
  using L = std::numeric_limits<double>;
  const std::vector<double> ascending = {
      -L::infinity(), L::lowest(), -1.0, -L::min(), -std::nextafter(L::min(), 0.0),
      -L::denorm_min(), 0.0, L::denorm_min(), std::nextafter(L::min(), 0.0), L::min(),
      L::epsilon(), 1.0, L::max(), L::infinity()};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    EXPECT_TRUE(BytesLess(KeyBytes(ascending[i]), KeyBytes(ascending[i + 1])))
        << ascending[i] << " vs " << ascending[i + 1];
  }
  for (double v : ascending) {
    double out = 1234;
    ASSERT_TRUE(S::DecodeKey(KeyBytes(v), &out).ok());
    EXPECT_TRUE(Same(out, v)) << v;
  }
}

// Regression: -0.0 == 0.0, so they are one key. Kept apart, a scan (by bytes) and its end test
// (by operator<) disagreed, and -0.0 fell in neither Scan(-1, 0) nor Scan(0, 1).
TEST(KeyEdgeTest, SignedZerosAreOneKey) {
  EXPECT_EQ(KeyBytes(-0.0), KeyBytes(0.0));
  EXPECT_EQ(KeyBytes(-0.0f), KeyBytes(0.0f));
  EXPECT_EQ(KeyBytes(std::make_tuple(std::string("a"), -0.0, 1)),
            KeyBytes(std::make_tuple(std::string("a"), 0.0, 1)));
  EXPECT_TRUE(BytesLess(KeyBytes(-L_denorm()), KeyBytes(-0.0)));
  double out = 1;
  ASSERT_TRUE(S::DecodeKey(KeyBytes(-0.0), &out).ok());
  EXPECT_FALSE(std::signbit(out));
  EXPECT_EQ(out, 0.0);
  // The old encoding of -0.0 is not a key any more: decoding it fails, never yields a second zero.
  std::string minus_zero_bytes("\x7f\xff\xff\xff\xff\xff\xff\xff", 8);
  EXPECT_FALSE(S::DecodeKey(minus_zero_bytes, &out).ok());
  float value_out = 0;
  ASSERT_TRUE(S::DecodeValue(ValueBytes(-0.0f), &value_out).ok());
  EXPECT_TRUE(std::signbit(value_out));
}

TEST(KeyEdgeTest, NaNRoundTripsBitForBitThoughValidateKeyRefusesIt) {
  const double nan = std::bit_cast<double>(uint64_t{0xfff8000000000123});
  double out = 0;
  ASSERT_TRUE(S::DecodeKey(KeyBytes(nan), &out).ok());
  EXPECT_EQ(std::bit_cast<uint64_t>(out), 0xfff8000000000123u);
  ASSERT_TRUE(S::DecodeValue(ValueBytes(nan), &out).ok());
  EXPECT_EQ(std::bit_cast<uint64_t>(out), 0xfff8000000000123u);
}

TEST(KeyEdgeTest, StringsWithZerosAndHighBytes) {
  using namespace std::string_literals;
  const std::vector<std::string> ascending = {""s,      "\0"s,    "\0\0"s, "\0\x01"s, "\x01"s,
                                              "a"s,     "a\0"s,   "a\0\0"s, "a\0b"s,  "a\x01"s,
                                              "a\xff"s, "b"s,     "\xff"s,  "\xff\0"s};
  for (size_t i = 0; i + 1 < ascending.size(); ++i) {
    ASSERT_LT(ascending[i], ascending[i + 1]);
    EXPECT_TRUE(BytesLess(KeyBytes(ascending[i]), KeyBytes(ascending[i + 1])));
    EXPECT_TRUE(BytesLess(KeyBytes(std::make_tuple(ascending[i], 0)),
                          KeyBytes(std::make_tuple(ascending[i + 1], -1))))
        << Hex(ascending[i]);
  }
  for (const std::string& s : ascending) {
    std::string key_out = "junk", value_out = "junk";
    ASSERT_TRUE(S::DecodeKey(KeyBytes(s), &key_out).ok());
    ASSERT_TRUE(S::DecodeValue(ValueBytes(s), &value_out).ok());
    EXPECT_EQ(key_out, s);
    EXPECT_EQ(value_out, s);
    std::tuple<std::string, std::string> nested;
    ASSERT_TRUE(S::DecodeKey(KeyBytes(std::make_tuple(s, s)), &nested).ok());
    EXPECT_EQ(nested, std::make_tuple(s, s));
  }
}

TEST(KeyEdgeTest, StringElementsAreSelfDelimiting) {
  using namespace std::string_literals;
  using Pair = std::pair<std::string, std::string>;
  using Tuple = std::tuple<std::string, std::string>;
  // Each pair: first < second by operator<, and the bytes must agree.
  const std::vector<std::pair<Tuple, Tuple>> cases = {
      {{"a", "b"}, {"a\0"s, ""}},  {{"a", "\xff"}, {"a\0"s, ""}}, {{"a", "zzz"}, {"ab", ""}},
      {{"", "\0"s}, {"\0"s, ""}},  {{"a\0"s, "\xff"}, {"a\0\0"s, ""}},
      {{"a", ""}, {"a", "\0"s}},   {{"a\0b"s, ""}, {"a\x01", ""}}};
  for (const auto& [low, high] : cases) {
    ASSERT_LT(low, high);
    EXPECT_TRUE(BytesLess(KeyBytes(low), KeyBytes(high)))
        << Hex(KeyBytes(low)) << " vs " << Hex(KeyBytes(high));
  }
  const Pair with_zero{"a\0b"s, ""};
  const Pair without{"a", "zz"};
  ASSERT_LT(without, with_zero);
  EXPECT_TRUE(BytesLess(KeyBytes(without), KeyBytes(with_zero)));
  Pair out;
  ASSERT_TRUE(S::DecodeKey(KeyBytes(with_zero), &out).ok());
  EXPECT_EQ(out, with_zero);
  ASSERT_TRUE(S::DecodeValue(ValueBytes(with_zero), &out).ok());
  EXPECT_EQ(out, with_zero);
}

TEST(KeyEdgeTest, NestedTuplesRoundTripAndCompareLexicographically) {
  using Key = std::tuple<std::pair<std::string, int8_t>, std::tuple<bool, std::string>, float>;
  const Key a{{"x", -1}, {true, std::string("\0", 1)}, 1.5f};
  const Key b{{"x", -1}, {true, std::string("\0\0", 2)}, -3.0f};
  ASSERT_LT(a, b);
  EXPECT_TRUE(BytesLess(KeyBytes(a), KeyBytes(b)));
  Key out;
  ASSERT_TRUE(S::DecodeKey(KeyBytes(b), &out).ok());
  EXPECT_EQ(out, b);
}

// ---------------------------------------------------------------------------------------------
// Strict decoding: each kind of bad input is refused with a message that says what is wrong.

TEST(DecodeErrorTest, Keys) {
  using namespace std::string_literals;
  struct Case {
    absl::Status status;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {DecodeKeyStatus<int32_t>("abc"), "bad key of type i32: truncated i32 (needs 4 bytes, 3 left)"},
      {DecodeKeyStatus<int32_t>(""), "truncated i32"},
      {DecodeKeyStatus<int32_t>("abcde"), "1 bytes left over"},
      {DecodeKeyStatus<double>("1234567"), "truncated f64"},
      {DecodeKeyStatus<uint64_t>(""), "truncated u64"},
      {DecodeKeyStatus<bool>("\x02"), "bool byte is 0x02"},
      {DecodeKeyStatus<bool>(""), "truncated bool"},
      {DecodeKeyStatus<std::pair<std::string, int>>("abc"), "missing its 0x00 0x01 terminator"},
      {DecodeKeyStatus<std::pair<std::string, int>>("a\0"s), "terminator"},
      {DecodeKeyStatus<std::pair<std::string, int>>("a\0\x02\0\x01\x80\0\0\0"s),
       "bad escape 0x00 0x02"},
      {DecodeKeyStatus<std::pair<std::string, int>>("a\0\x01\x80\0\0"s), "truncated i32"},
      {DecodeKeyStatus<std::pair<std::string, int>>("a\0\x01\x80\0\0\0\0"s), "left over"},
      {DecodeKeyStatus<std::tuple<std::string, std::string>>("a\0\x01"s), "terminator"},
      {DecodeKeyStatus<std::tuple<std::string, std::string>>("a\0\x01\0\x01\0\x01"s),
       "2 bytes left over"},
      {DecodeKeyStatus<std::tuple<>>("x"), "bad key of type tuple<>"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_THAT(c.status.message(), HasSubstr(c.expected));
  }
}

TEST(DecodeErrorTest, Values) {
  using namespace std::string_literals;
  using Strings = std::pair<std::string, std::string>;
  struct Case {
    absl::Status status;
    std::string expected;
  };
  const std::vector<Case> cases = {
      {DecodeValueStatus<int64_t>("1234567"), "truncated i64 (needs 8 bytes, 7 left)"},
      {DecodeValueStatus<float>("12345"), "1 bytes left over"},
      {DecodeValueStatus<bool>("\x02"), "bool byte is 0x02"},
      {DecodeValueStatus<Point>(std::string(15, 'p')), "truncated pod<16>"},
      {DecodeValueStatus<Point>(std::string(17, 'p')), "bad value of type pod<16>: 1 bytes left"},
      {DecodeValueStatus<Bytes3>(""), "truncated pod<3>"},
      {DecodeValueStatus<Strings>(""), "truncated varint"},
      {DecodeValueStatus<Strings>("\x80"), "truncated varint"},
      {DecodeValueStatus<Strings>("\x80\x00"s), "varint is not minimal"},
      {DecodeValueStatus<Strings>(std::string(11, '\xff')), "varint overflows 64 bits"},
      {DecodeValueStatus<Strings>(std::string(9, '\xff') + "\x02"), "varint overflows"},
      {DecodeValueStatus<Strings>(std::string(9, '\xff') + "\x01"),
       "string length 18446744073709551615 exceeds the 0 bytes left"},
      {DecodeValueStatus<Strings>("\x05" "ab"), "string length 5 exceeds the 2 bytes left"},
      {DecodeValueStatus<Strings>("\x01" "a"), "truncated varint"},
      {DecodeValueStatus<Strings>("\x01" "a\x00x"s), "1 bytes left over"},
      {DecodeValueStatus<std::tuple<std::string, Point>>("\x00"s + std::string(10, 'p')),
       "bad value of type tuple<str,pod<16>>: truncated pod<16>"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(c.status.code(), absl::StatusCode::kInvalidArgument) << c.expected;
    EXPECT_THAT(c.status.message(), HasSubstr(c.expected));
  }
}

TEST(DecodeErrorTest, TopLevelStringsAcceptAnyBytes) {
  using namespace std::string_literals;
  for (const std::string& bytes : {""s, "\0"s, "\0\xff"s, "\0\x02"s, "\xff\xfe\x80"s}) {
    std::string out = "junk";
    ASSERT_TRUE(S::DecodeKey(bytes, &out).ok());
    EXPECT_EQ(out, bytes);
    out = "junk";
    ASSERT_TRUE(S::DecodeValue(bytes, &out).ok());
    EXPECT_EQ(out, bytes);
  }
}

// ---------------------------------------------------------------------------------------------
// ValidateKey.

TEST(ValidateKeyTest, RefusesNaNAnywhereInTheKey) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const float nanf = std::numeric_limits<float>::quiet_NaN();
  const absl::Status status = S::ValidateKey(nan);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(status.message(), HasSubstr("NaN"));
  EXPECT_THAT(status.message(), HasSubstr("f64"));
  EXPECT_EQ(S::ValidateKey(-nan).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(S::ValidateKey(nanf).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(S::ValidateKey(std::numeric_limits<double>::signaling_NaN()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(S::ValidateKey(std::make_tuple(std::string("a"), nan)).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(S::ValidateKey(std::make_pair(1, std::make_tuple(std::string("a"), nanf))).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(S::ValidateKey(std::make_pair(1, std::make_tuple(std::string("a"), nanf))).message(),
              HasSubstr("pair<i32,tuple<str,f32>>"));
  EXPECT_EQ((internal::ValidateKeyWith<S>(std::make_pair(nan, 1))).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ValidateKeyTest, AcceptsInfinitiesZerosAndNonFloatKeys) {
  EXPECT_TRUE(S::ValidateKey(std::numeric_limits<double>::infinity()).ok());
  EXPECT_TRUE(S::ValidateKey(-std::numeric_limits<float>::infinity()).ok());
  EXPECT_TRUE(S::ValidateKey(-0.0).ok());
  EXPECT_TRUE(S::ValidateKey(std::string("\0", 1)).ok());
  EXPECT_TRUE(S::ValidateKey(std::make_tuple(1, 2.0, std::string("x"))).ok());
  EXPECT_TRUE(S::ValidateKey(std::tuple<>()).ok());
}

TEST(ValidateKeyTest, ValidateKeyWithUsesTheHookOnlyWhenPresent) {
  EXPECT_TRUE(internal::ValidateKeyWith<DecimalSerializer>(int64_t{-5}).ok());
  EXPECT_TRUE(internal::ValidateKeyWith<NonNegativeSerializer>(int64_t{5}).ok());
  const absl::Status status = internal::ValidateKeyWith<NonNegativeSerializer>(int64_t{-5});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "negative");
}

// ---------------------------------------------------------------------------------------------
// Signatures.

TEST(SignatureTest, ScalarNames) {
  EXPECT_EQ(S::KeySignature<int8_t>(), "i8");
  EXPECT_EQ(S::KeySignature<int16_t>(), "i16");
  EXPECT_EQ(S::KeySignature<int32_t>(), "i32");
  EXPECT_EQ(S::KeySignature<int64_t>(), "i64");
  EXPECT_EQ(S::KeySignature<uint8_t>(), "u8");
  EXPECT_EQ(S::KeySignature<uint16_t>(), "u16");
  EXPECT_EQ(S::KeySignature<uint32_t>(), "u32");
  EXPECT_EQ(S::KeySignature<uint64_t>(), "u64");
  EXPECT_EQ(S::KeySignature<float>(), "f32");
  EXPECT_EQ(S::KeySignature<double>(), "f64");
  EXPECT_EQ(S::KeySignature<bool>(), "bool");
  EXPECT_EQ(S::KeySignature<std::string>(), "str");
  EXPECT_EQ(S::KeySignature<char>(), std::is_signed_v<char> ? "i8" : "u8");
  EXPECT_EQ(S::KeySignature<char8_t>(), "u8");
  EXPECT_EQ(S::KeySignature<char16_t>(), "u16");
  EXPECT_EQ(S::KeySignature<char32_t>(), "u32");
  // Named by the encoding, not the type: same bytes, same name.
  EXPECT_EQ(S::KeySignature<long long>(), S::KeySignature<int64_t>());
}

TEST(SignatureTest, CompositeAndStructNames) {
  EXPECT_EQ((S::KeySignature<std::tuple<int32_t, std::string>>()), "tuple<i32,str>");
  EXPECT_EQ((S::KeySignature<std::pair<std::string, double>>()), "pair<str,f64>");
  EXPECT_EQ((S::KeySignature<std::tuple<>>()), "tuple<>");
  EXPECT_EQ((S::KeySignature<std::tuple<std::pair<std::string, int8_t>,
                                        std::tuple<bool, std::string>, float>>()),
            "tuple<pair<str,i8>,tuple<bool,str>,f32>");
  EXPECT_EQ(S::ValueSignature<Point>(), "pod<16>");
  EXPECT_EQ(S::ValueSignature<Bytes3>(), "pod<3>");
  EXPECT_EQ((S::ValueSignature<std::array<uint16_t, 4>>()), "pod<8>");
  EXPECT_EQ((S::ValueSignature<std::tuple<std::string, Point, int32_t, std::string>>()),
            "tuple<str,pod<16>,i32,str>");
}

TEST(SignatureTest, TypeSignatureWith) {
  EXPECT_EQ((internal::TypeSignatureWith<S, std::string, Point>()), "str->pod<16>");
  EXPECT_EQ((internal::TypeSignatureWith<S, std::tuple<int32_t, std::string>, double>()),
            "tuple<i32,str>->f64");
  EXPECT_EQ((internal::TypeSignatureWith<SignedSerializer, int64_t, int64_t>()),
            "decimal->decimal-value");
  EXPECT_EQ((internal::TypeSignatureWith<DecimalSerializer, int64_t, int64_t>()), "");
  EXPECT_EQ((internal::TypeSignatureWith<KeySignatureOnlySerializer, int64_t, int64_t>()), "");
}

}  // namespace
}  // namespace kvstore
