// Fuzz target: DefaultSerializer::DecodeKey / DecodeValue for several types. Decoding is strict
// (serializer.h): whatever decodes must encode back to exactly the input bytes. For keys, the
// encoded bytes must also order exactly as the keys do.
//
// Input: decoded whole as every type; then split after byte 0 into a = the next (byte 0 mod size)
// bytes and b = the rest, each decoded as every key type, and the order of (a, b) as bytes
// compared with the order of the decoded keys.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kvstore/serializer.h"
#include "testing/fuzz/fuzz_util.h"

namespace kvstore::fuzz {
namespace {

// A value type with padding (after `flags` and at the end), stored as its object bytes.
struct Pod {
  int32_t id;
  uint16_t flags;
  double score;
  char tag[3];
};
static_assert(sizeof(Pod) > sizeof(int32_t) + sizeof(uint16_t) + sizeof(double) + 3,
              "Pod is meant to have padding bytes");

template <typename T>
int Sign(T v) {
  return (v > 0) - (v < 0);
}

// Three-way comparison of keys as operator< orders them, except that -0.0 sorts before +0.0
// (the key encoding keeps them apart; serializer.h). NaN has no place in it and is left out.
template <typename T>
int CompareKeys(const T& a, const T& b);

template <typename T, size_t... I>
int CompareElements(const T& a, const T& b, std::index_sequence<I...>) {
  int c = 0;
  static_cast<void>((((c = CompareKeys(std::get<I>(a), std::get<I>(b))) == 0) && ...));
  return c;
}

template <typename T>
int CompareKeys(const T& a, const T& b) {
  if constexpr (internal::IsPairOrTuple<T>::value) {
    return CompareElements(a, b, std::make_index_sequence<std::tuple_size_v<T>>());
  } else if constexpr (std::is_floating_point_v<T>) {
    if (a == 0 && b == 0) return static_cast<int>(std::signbit(b)) - static_cast<int>(std::signbit(a));
    return (b < a) - (a < b);
  } else {
    return (b < a) - (a < b);
  }
}

template <typename T>
std::optional<T> DecodeKey(absl::string_view in) {
  T key{};
  const absl::Status s = DefaultSerializer::DecodeKey(in, &key);
  if (!s.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(s));
    return std::nullopt;
  }
  std::string encoded;
  DefaultSerializer::EncodeKey(key, &encoded);
  FUZZ_CHECK(encoded == in);
  return key;
}

template <typename T>
void CheckKey(absl::string_view whole, absl::string_view a, absl::string_view b) {
  DecodeKey<T>(whole);
  const std::optional<T> key_a = DecodeKey<T>(a);
  const std::optional<T> key_b = DecodeKey<T>(b);
  if (!key_a || !key_b || internal::KeyHasNaN(*key_a) || internal::KeyHasNaN(*key_b)) return;
  FUZZ_CHECK(CompareKeys(*key_a, *key_b) == Sign(a.compare(b)));
}

template <typename T>
void CheckValue(absl::string_view in) {
  T value{};
  const absl::Status s = DefaultSerializer::DecodeValue(in, &value);
  if (!s.ok()) {
    FUZZ_CHECK(absl::IsInvalidArgument(s));
    return;
  }
  std::string encoded;
  DefaultSerializer::EncodeValue(value, &encoded);
  FUZZ_CHECK(encoded == in);
}

void FuzzOne(absl::string_view in) {
  absl::string_view a, b;
  if (!in.empty()) {
    const size_t split = static_cast<uint8_t>(in[0]) % in.size();
    a = in.substr(1, split);
    b = in.substr(1 + a.size());
  }
  CheckKey<std::string>(in, a, b);
  CheckKey<int64_t>(in, a, b);
  CheckKey<uint16_t>(in, a, b);
  CheckKey<bool>(in, a, b);
  CheckKey<double>(in, a, b);
  CheckKey<float>(in, a, b);
  CheckKey<std::tuple<std::string, int32_t, double>>(in, a, b);
  CheckKey<std::pair<std::string, std::string>>(in, a, b);
  CheckKey<std::pair<std::tuple<int8_t, std::string>, bool>>(in, a, b);
  CheckKey<std::pair<double, uint8_t>>(in, a, b);

  CheckValue<std::string>(in);
  CheckValue<int64_t>(in);
  CheckValue<double>(in);
  CheckValue<bool>(in);
  CheckValue<Pod>(in);
  CheckValue<std::tuple<std::string, int32_t, double>>(in);
  CheckValue<std::pair<std::string, std::string>>(in);
  CheckValue<std::pair<Pod, std::string>>(in);
  CheckValue<std::tuple<bool, std::string, float, std::pair<std::string, uint64_t>>>(in);
}

}  // namespace
}  // namespace kvstore::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  kvstore::fuzz::FuzzOne(kvstore::fuzz::AsView(data, size));
  return 0;
}
