// Turns typed keys and values into bytes for kvstore. Key bytes compare (unsigned memcmp, then
// length) exactly as the keys compare with operator<, so the store orders, searches and
// range-scans encoded keys without decoding them; value bytes only need to round-trip. The
// serializer is a policy type with static functions: DefaultSerializer below is the reference
// one, and its comments are the contract a custom serializer follows.
//
// Key format (stable: it is what sits on disk and decides the order):
//   unsigned integer   big-endian, fixed width
//   signed integer     sign bit flipped, then big-endian (so negatives sort first)
//   bool               one byte, 0x00 or 0x01
//   float, double      IEEE bits; negative: all bits flipped, otherwise the sign bit flipped;
//                      big-endian. -inf < negatives < 0.0 < positives < +inf. -0.0 is stored
//                      as +0.0, as operator== calls them equal: one key, found, scanned and
//                      replaced by either spelling (also inside tuples); a key read back is
//                      +0.0. The bytes of -0.0 are refused when decoding (no key has them).
//   std::string        top level: the raw bytes (a prefix sorts before its extensions).
//                      Inside a pair/tuple: 0x00 escaped as 0x00 0xFF, then 0x00 0x01 as the
//                      terminator, which keeps the element self-delimiting and ordered.
//   pair, tuple        the elements' encodings one after another (lexicographic order).
// Value format (never compared, only decoded):
//   integers, floats   little-endian, fixed width; bool one byte 0x00 or 0x01
//   std::string        top level: the raw bytes; inside a pair/tuple: varint length + bytes
//   trivially copyable struct   its sizeof(T) object bytes (padding included, as it was)
//   pair, tuple        the elements' encodings one after another
// Decoding is strict: every byte string that decodes is exactly what encoding the result gives.
#ifndef KVSTORE_SERIALIZER_H_
#define KVSTORE_SERIALIZER_H_

#include <bit>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace kvstore {
namespace internal {

// The float encodings copy IEEE-754 bit patterns; long double is left out because its size and
// layout differ between platforms.
static_assert(std::numeric_limits<float>::is_iec559 && sizeof(float) == 4);
static_assert(std::numeric_limits<double>::is_iec559 && sizeof(double) == 8);

template <typename T>
struct IsPairOrTuple : std::false_type {};
template <typename A, typename B>
struct IsPairOrTuple<std::pair<A, B>> : std::true_type {};
template <typename... Ts>
struct IsPairOrTuple<std::tuple<Ts...>> : std::true_type {};

// std::integral<const int> holds, but a const element could not be decoded into.
template <typename T>
inline constexpr bool kIsUnqualified = std::is_same_v<T, std::remove_cv_t<T>>;

template <typename T>
inline constexpr bool kIsDefaultInteger =
    std::integral<T> && !std::same_as<T, bool> && kIsUnqualified<T>;

template <typename T>
inline constexpr bool kIsDefaultFloat = std::same_as<T, float> || std::same_as<T, double>;

template <typename T>
inline constexpr bool kIsDefaultScalar = std::same_as<T, std::string> || std::same_as<T, bool> ||
                                         kIsDefaultInteger<T> || kIsDefaultFloat<T>;

// Views are trivially copyable, but their bytes are a pointer to memory that is long gone by the
// time the value is read back.
template <typename T>
inline constexpr bool kIsStringView =
    std::same_as<T, std::string_view> || std::same_as<T, absl::string_view>;

template <typename T>
inline constexpr bool kIsDefaultPod = std::is_class_v<T> && std::is_trivially_copyable_v<T> &&
                                      kIsUnqualified<T> && !IsPairOrTuple<T>::value &&
                                      !kIsStringView<T>;

template <typename T>
struct IsDefaultKeyType : std::bool_constant<kIsDefaultScalar<T>> {};
template <typename A, typename B>
struct IsDefaultKeyType<std::pair<A, B>>
    : std::bool_constant<IsDefaultKeyType<A>::value && IsDefaultKeyType<B>::value> {};
template <typename... Ts>
struct IsDefaultKeyType<std::tuple<Ts...>>
    : std::bool_constant<(IsDefaultKeyType<Ts>::value && ...)> {};

template <typename T>
struct IsDefaultValueType : std::bool_constant<kIsDefaultScalar<T> || kIsDefaultPod<T>> {};
template <typename A, typename B>
struct IsDefaultValueType<std::pair<A, B>>
    : std::bool_constant<IsDefaultValueType<A>::value && IsDefaultValueType<B>::value> {};
template <typename... Ts>
struct IsDefaultValueType<std::tuple<Ts...>>
    : std::bool_constant<(IsDefaultValueType<Ts>::value && ...)> {};

}  // namespace internal

// Types DefaultSerializer encodes as keys: std::string, integers (char types included), float,
// double, bool, and std::pair/std::tuple of these, nested at will.
template <typename T>
concept DefaultKey = internal::IsDefaultKeyType<T>::value;

// Types DefaultSerializer encodes as values: every DefaultKey type, trivially copyable structs
// (stored as their object bytes), and std::pair/std::tuple of these.
template <typename T>
concept DefaultValue = internal::IsDefaultValueType<T>::value;

namespace internal {

// Each check is the one place that names the problem when a type is not supported. Callers put
// it in an `if constexpr`, so a rejected type instantiates nothing else and the build log shows
// this one sentence instead of a cascade from the codecs.
template <typename T>
constexpr bool CheckDefaultKeyType() {
  static_assert(DefaultKey<T>,
                "kvstore::DefaultSerializer: key type must be std::string, an integer, float, "
                "double, bool, or a std::pair/std::tuple of these");
  return DefaultKey<T>;
}

template <typename T>
constexpr bool CheckDefaultValueType() {
  static_assert(DefaultValue<T>,
                "kvstore::DefaultSerializer: value type must be std::string, an integer, float, "
                "double, bool, a trivially copyable struct, or a std::pair/std::tuple of these");
  return DefaultValue<T>;
}

// The encoding names recorded in a store; they must never change for an existing encoding.
template <typename T>
struct TypeSignatureOf {
  static std::string Get() {
    if constexpr (std::same_as<T, bool>) {
      return "bool";
    } else if constexpr (std::same_as<T, std::string>) {
      return "str";
    } else if constexpr (std::same_as<T, float>) {
      return "f32";
    } else if constexpr (std::same_as<T, double>) {
      return "f64";
    } else if constexpr (kIsDefaultInteger<T>) {
      // From sign and width rather than the type's name: the bytes depend only on those, so
      // int32_t and wchar_t (on Linux) are rightly interchangeable, and a plain char gets the
      // signature of whatever signedness the platform gives it.
      return absl::StrCat(std::is_signed_v<T> ? "i" : "u", sizeof(T) * 8);
    } else {
      return absl::StrCat("pod<", sizeof(T), ">");
    }
  }
};

template <typename A, typename B>
struct TypeSignatureOf<std::pair<A, B>> {
  static std::string Get() {
    return absl::StrCat("pair<", TypeSignatureOf<A>::Get(), ",", TypeSignatureOf<B>::Get(), ">");
  }
};

template <typename... Ts>
struct TypeSignatureOf<std::tuple<Ts...>> {
  static std::string Get() {
    return absl::StrCat(
        "tuple<", absl::StrJoin(std::vector<std::string>{TypeSignatureOf<Ts>::Get()...}, ","),
        ">");
  }
};

// Fixed-width and varint byte codings; members of a struct so that their short names stay out
// of kvstore::internal, which other components share.
struct SerializerBytes {
  template <typename U>
  static void AppendBigEndian(U v, std::string* out) {
    char buf[sizeof(U)];
    for (size_t i = 0; i < sizeof(U); ++i) {
      buf[i] = static_cast<char>(v >> (8 * (sizeof(U) - 1 - i)));
    }
    out->append(buf, sizeof(U));
  }

  template <typename U>
  static U ReadBigEndian(const char* p) {
    U v = 0;
    for (size_t i = 0; i < sizeof(U); ++i) {
      v = static_cast<U>((v << 8) | static_cast<uint8_t>(p[i]));
    }
    return v;
  }

  template <typename U>
  static void AppendLittleEndian(U v, std::string* out) {
    char buf[sizeof(U)];
    for (size_t i = 0; i < sizeof(U); ++i) buf[i] = static_cast<char>(v >> (8 * i));
    out->append(buf, sizeof(U));
  }

  template <typename U>
  static U ReadLittleEndian(const char* p) {
    U v = 0;
    for (size_t i = 0; i < sizeof(U); ++i) {
      v = static_cast<U>(v | (static_cast<U>(static_cast<uint8_t>(p[i])) << (8 * i)));
    }
    return v;
  }

  static void AppendVarint(uint64_t v, std::string* out) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out->append(buf, n);
  }

  // Only the shortest form is accepted, so that a decoded value re-encodes to the same bytes.
  static absl::Status ReadVarint(absl::string_view* in, uint64_t* v) {
    uint64_t result = 0;
    for (size_t i = 0; i < 10 && i < in->size(); ++i) {
      const uint8_t byte = static_cast<uint8_t>((*in)[i]);
      if (i == 9 && byte > 1) return absl::InvalidArgumentError("varint overflows 64 bits");
      result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        if (byte == 0 && i > 0) return absl::InvalidArgumentError("varint is not minimal");
        in->remove_prefix(i + 1);
        *v = result;
        return absl::OkStatus();
      }
    }
    return absl::InvalidArgumentError(in->size() >= 10 ? "varint overflows 64 bits"
                                                        : "truncated varint");
  }

  template <typename T>
  static absl::Status Truncated(absl::string_view in) {
    return absl::InvalidArgumentError(absl::StrCat("truncated ", TypeSignatureOf<T>::Get(),
                                                   " (needs ", sizeof(T), " bytes, ", in.size(),
                                                   " left)"));
  }

  static absl::Status BadBool(uint8_t byte) {
    return absl::InvalidArgumentError(
        absl::StrCat("bool byte is 0x", absl::Hex(byte, absl::kZeroPad2), ", not 0x00 or 0x01"));
  }
};

// The unsigned integer holding an integer's or a float's bits, and the exact conversions both
// ways (modular for signed integers, bit for bit for floats).
template <typename T>
struct FixedWidth {
  using U = std::make_unsigned_t<T>;
  static U ToBits(T v) { return static_cast<U>(v); }
  static T FromBits(U bits) { return static_cast<T>(bits); }
};
template <>
struct FixedWidth<float> {
  using U = uint32_t;
  static U ToBits(float v) { return std::bit_cast<U>(v); }
  static float FromBits(U bits) { return std::bit_cast<float>(bits); }
};
template <>
struct FixedWidth<double> {
  using U = uint64_t;
  static U ToBits(double v) { return std::bit_cast<U>(v); }
  static double FromBits(U bits) { return std::bit_cast<double>(bits); }
};

// KeyCodec<T> and ValueCodec<T> encode one element in its self-delimiting form, the form used
// inside pairs and tuples: Encode appends to *out; Decode consumes its bytes from the front of
// *in. Only DefaultSerializer's top level treats a lone std::string differently.
template <typename T>
struct KeyCodec;

template <typename T>
  requires kIsDefaultInteger<T>
struct KeyCodec<T> {
  using U = typename FixedWidth<T>::U;
  // Flipping the sign bit maps [min, max] onto [0, 2^N - 1] in order.
  static constexpr U kFlip =
      std::is_signed_v<T> ? static_cast<U>(U{1} << (sizeof(U) * 8 - 1)) : U{0};

  static void Encode(T v, std::string* out) {
    SerializerBytes::AppendBigEndian<U>(static_cast<U>(FixedWidth<T>::ToBits(v) ^ kFlip), out);
  }
  static absl::Status Decode(absl::string_view* in, T* out) {
    if (in->size() < sizeof(U)) return SerializerBytes::Truncated<T>(*in);
    *out = FixedWidth<T>::FromBits(
        static_cast<U>(SerializerBytes::ReadBigEndian<U>(in->data()) ^ kFlip));
    in->remove_prefix(sizeof(U));
    return absl::OkStatus();
  }
};

template <typename T>
  requires kIsDefaultFloat<T>
struct KeyCodec<T> {
  using U = typename FixedWidth<T>::U;
  static constexpr U kSign = U{1} << (sizeof(U) * 8 - 1);

  // Flipping every bit of a negative reverses its magnitude order and puts it below all
  // positives, whose flipped sign bit lifts them above. NaNs (refused by ValidateKey) land
  // beyond the infinities and still round-trip bit for bit.
  static void Encode(T v, std::string* out) {
    if (v == T{0}) v = T{0};  // -0.0 == 0.0: one key, or a scan and a lookup would disagree.
    const U bits = FixedWidth<T>::ToBits(v);
    SerializerBytes::AppendBigEndian<U>((bits & kSign) ? static_cast<U>(~bits) : (bits ^ kSign),
                                        out);
  }
  static absl::Status Decode(absl::string_view* in, T* out) {
    if (in->size() < sizeof(U)) return SerializerBytes::Truncated<T>(*in);
    const U bits = SerializerBytes::ReadBigEndian<U>(in->data());
    if (bits == static_cast<U>(~kSign)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the encoding of -0.0 as a ", TypeSignatureOf<T>::Get(), " key (keys store it as 0.0)"));
    }
    *out = FixedWidth<T>::FromBits((bits & kSign) ? (bits ^ kSign) : static_cast<U>(~bits));
    in->remove_prefix(sizeof(U));
    return absl::OkStatus();
  }
};

template <>
struct KeyCodec<bool> {
  static void Encode(bool v, std::string* out) { out->push_back(v ? '\x01' : '\x00'); }
  static absl::Status Decode(absl::string_view* in, bool* out) {
    if (in->empty()) return SerializerBytes::Truncated<bool>(*in);
    const uint8_t byte = static_cast<uint8_t>(in->front());
    if (byte > 1) return SerializerBytes::BadBool(byte);
    *out = byte == 1;
    in->remove_prefix(1);
    return absl::OkStatus();
  }
};

// The escape keeps the order: a 0x00 content byte becomes 0x00 0xFF, above the terminator
// 0x00 0x01, and every other content byte is above 0x00; so a string sorts before its
// extensions, and the elements after it are compared only when the strings are equal.
template <>
struct KeyCodec<std::string> {
  static void Encode(const std::string& s, std::string* out) {
    absl::string_view rest = s;
    for (size_t zero; (zero = rest.find('\0')) != absl::string_view::npos;) {
      out->append(rest.data(), zero);
      out->append("\x00\xff", 2);
      rest.remove_prefix(zero + 1);
    }
    out->append(rest.data(), rest.size());
    out->append("\x00\x01", 2);
  }
  static absl::Status Decode(absl::string_view* in, std::string* out) {
    out->clear();
    absl::string_view rest = *in;
    for (;;) {
      const size_t zero = rest.find('\0');
      if (zero == absl::string_view::npos || zero + 1 == rest.size()) {
        return absl::InvalidArgumentError("string is missing its 0x00 0x01 terminator");
      }
      out->append(rest.data(), zero);
      const uint8_t escaped = static_cast<uint8_t>(rest[zero + 1]);
      rest.remove_prefix(zero + 2);
      if (escaped == 0x01) break;
      if (escaped != 0xff) {
        return absl::InvalidArgumentError(absl::StrCat(
            "bad escape 0x00 0x", absl::Hex(escaped, absl::kZeroPad2), " in string"));
      }
      out->push_back('\0');
    }
    *in = rest;
    return absl::OkStatus();
  }
};

// A pair or tuple coded element by element, each with `Codec` (KeyCodec or ValueCodec); decoding
// stops at the first element that fails.
template <template <typename> class Codec, typename T>
struct ElementwiseCodec {
  static void Encode(const T& v, std::string* out) {
    EncodeElements(v, out, std::make_index_sequence<std::tuple_size_v<T>>());
  }
  static absl::Status Decode(absl::string_view* in, T* out) {
    return DecodeElements(in, out, std::make_index_sequence<std::tuple_size_v<T>>());
  }

 private:
  template <size_t... I>
  static void EncodeElements([[maybe_unused]] const T& v, [[maybe_unused]] std::string* out,
                             std::index_sequence<I...>) {
    (Codec<std::tuple_element_t<I, T>>::Encode(std::get<I>(v), out), ...);
  }
  template <size_t... I>
  static absl::Status DecodeElements([[maybe_unused]] absl::string_view* in,
                                     [[maybe_unused]] T* out, std::index_sequence<I...>) {
    absl::Status status;
    static_cast<void>(
        ((status = Codec<std::tuple_element_t<I, T>>::Decode(in, &std::get<I>(*out))).ok() &&
         ...));
    return status;
  }
};

template <typename T>
  requires IsPairOrTuple<T>::value
struct KeyCodec<T> : ElementwiseCodec<KeyCodec, T> {};

template <typename T>
struct ValueCodec;

template <typename T>
  requires(kIsDefaultInteger<T> || kIsDefaultFloat<T>)
struct ValueCodec<T> {
  using U = typename FixedWidth<T>::U;

  static void Encode(T v, std::string* out) {
    SerializerBytes::AppendLittleEndian<U>(FixedWidth<T>::ToBits(v), out);
  }
  static absl::Status Decode(absl::string_view* in, T* out) {
    if (in->size() < sizeof(U)) return SerializerBytes::Truncated<T>(*in);
    *out = FixedWidth<T>::FromBits(SerializerBytes::ReadLittleEndian<U>(in->data()));
    in->remove_prefix(sizeof(U));
    return absl::OkStatus();
  }
};

template <>
struct ValueCodec<bool> : KeyCodec<bool> {};

template <>
struct ValueCodec<std::string> {
  static void Encode(const std::string& s, std::string* out) {
    SerializerBytes::AppendVarint(s.size(), out);
    out->append(s);
  }
  static absl::Status Decode(absl::string_view* in, std::string* out) {
    uint64_t size = 0;
    if (absl::Status status = SerializerBytes::ReadVarint(in, &size); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("string length: ", status.message()));
    }
    if (size > in->size()) {
      return absl::InvalidArgumentError(absl::StrCat("string length ", size, " exceeds the ",
                                                     in->size(), " bytes left"));
    }
    out->assign(in->data(), static_cast<size_t>(size));
    in->remove_prefix(static_cast<size_t>(size));
    return absl::OkStatus();
  }
};

template <typename T>
  requires kIsDefaultPod<T>
struct ValueCodec<T> {
  static void Encode(const T& v, std::string* out) {
    out->append(reinterpret_cast<const char*>(std::addressof(v)), sizeof(T));
  }
  static absl::Status Decode(absl::string_view* in, T* out) {
    if (in->size() < sizeof(T)) return SerializerBytes::Truncated<T>(*in);
    std::memcpy(static_cast<void*>(out), in->data(), sizeof(T));
    in->remove_prefix(sizeof(T));
    return absl::OkStatus();
  }
};

template <typename T>
  requires IsPairOrTuple<T>::value
struct ValueCodec<T> : ElementwiseCodec<ValueCodec, T> {};

// Decodes a whole key or value: the element form, then nothing may be left over. Errors name
// what was decoded and its type, since the codecs below only know their own piece.
template <typename Codec, typename T>
absl::Status DecodeWhole(absl::string_view in, T* out, const char* what) {
  absl::Status status = Codec::Decode(&in, out);
  if (status.ok() && !in.empty()) {
    status = absl::InvalidArgumentError(absl::StrCat(in.size(), " bytes left over after the encoding"));
  }
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat("kvstore::DefaultSerializer: bad ", what, " of type ",
                                                 TypeSignatureOf<T>::Get(), ": ",
                                                 status.message()));
}

template <typename T>
bool KeyHasNaN(const T& key) {
  if constexpr (kIsDefaultFloat<T>) {
    return std::isnan(key);
  } else if constexpr (IsPairOrTuple<T>::value) {
    return std::apply([](const auto&... element) { return (KeyHasNaN(element) || ...); }, key);
  } else {
    return false;
  }
}

}  // namespace internal

// The reference serializer policy. A custom one provides the same four Encode/Decode functions
// (see SerializerFor); ValidateKey and the two Signature functions are optional hooks.
//
// A type it cannot encode stops the build with one static_assert naming the supported types.
// Note that SerializerFor only checks the shape of the calls, which these templates have for
// every type; DefaultKey and DefaultValue answer precisely.
struct DefaultSerializer {
  // Types whose encoding is their own bytes: a lone std::string, as a key or a value. A reader
  // may then use the stored bytes as the value itself, without decoding or copying them.
  template <typename T>
  static constexpr bool kStoresAsIs = std::same_as<T, std::string>;

  // Appends the order-preserving encoding of `key` to *out (callers pass an empty string).
  template <typename T>
  static void EncodeKey(const T& key, std::string* out) {
    if constexpr (internal::CheckDefaultKeyType<T>()) {
      if constexpr (std::same_as<T, std::string>) {
        out->append(key);  // A lone string needs no terminator: the key's length delimits it.
      } else {
        internal::KeyCodec<T>::Encode(key, out);
      }
    }
  }

  // Parses bytes made by EncodeKey<T>; InvalidArgument for any other bytes (wrong length, bad
  // escape, missing terminator, trailing bytes), and then *out holds an unspecified value.
  template <typename T>
  static absl::Status DecodeKey(absl::string_view in, T* out) {
    if constexpr (!internal::CheckDefaultKeyType<T>()) {
      return absl::OkStatus();  // Unreachable: the check above has failed the build.
    } else if constexpr (std::same_as<T, std::string>) {
      out->assign(in.data(), in.size());
      return absl::OkStatus();
    } else {
      return internal::DecodeWhole<internal::KeyCodec<T>>(in, out, "key");
    }
  }

  // Appends the encoding of `value` to *out (callers pass an empty string).
  template <typename T>
  static void EncodeValue(const T& value, std::string* out) {
    if constexpr (internal::CheckDefaultValueType<T>()) {
      if constexpr (std::same_as<T, std::string>) {
        out->append(value);
      } else {
        internal::ValueCodec<T>::Encode(value, out);
      }
    }
  }

  // Parses bytes made by EncodeValue<T>; InvalidArgument for any other bytes (a struct's size
  // must match exactly), and then *out holds an unspecified value.
  template <typename T>
  static absl::Status DecodeValue(absl::string_view in, T* out) {
    if constexpr (!internal::CheckDefaultValueType<T>()) {
      return absl::OkStatus();  // Unreachable: the check above has failed the build.
    } else if constexpr (std::same_as<T, std::string>) {
      out->assign(in.data(), in.size());
      return absl::OkStatus();
    } else {
      return internal::DecodeWhole<internal::ValueCodec<T>>(in, out, "value");
    }
  }

  // Called by the store before it writes a key. A NaN anywhere in the key is refused: it is
  // neither less than, greater than nor equal to anything, so it has no place in the order.
  template <typename T>
  static absl::Status ValidateKey(const T& key) {
    if constexpr (!internal::CheckDefaultKeyType<T>()) {
      return absl::OkStatus();  // Unreachable: the check above has failed the build.
    } else {
      if (!internal::KeyHasNaN(key)) return absl::OkStatus();
      return absl::InvalidArgumentError(absl::StrCat(
          "kvstore::DefaultSerializer: a key of type ", KeySignature<T>(),
          " contains a NaN, which has no place in the key order"));
    }
  }

  // Short stable names of the encodings ("i32", "u64", "f64", "bool", "str", "pod<16>",
  // "tuple<i32,str>", "pair<str,f64>"), recorded by a store so that reopening it with types of
  // another encoding is refused. Built from widths and signedness, never from RTTI names, which
  // differ between compilers.
  template <typename T>
  static std::string KeySignature() {
    if constexpr (!internal::CheckDefaultKeyType<T>()) {
      return {};  // Unreachable: the check above has failed the build.
    } else {
      return internal::TypeSignatureOf<T>::Get();
    }
  }

  template <typename T>
  static std::string ValueSignature() {
    if constexpr (!internal::CheckDefaultValueType<T>()) {
      return {};  // Unreachable: the check above has failed the build.
    } else {
      return internal::TypeSignatureOf<T>::Get();
    }
  }
};

// What the store requires of a serializer policy S for keys K and values V.
template <typename S, typename K, typename V>
concept SerializerFor = requires(const K& key, K* key_out, const V& value, V* value_out,
                                 std::string* bytes, absl::string_view in) {
  S::EncodeKey(key, bytes);
  { S::DecodeKey(in, key_out) } -> std::same_as<absl::Status>;
  S::EncodeValue(value, bytes);
  { S::DecodeValue(in, value_out) } -> std::same_as<absl::Status>;
};

namespace internal {

// S::ValidateKey(key) if S has that hook; a serializer without it accepts every key.
template <typename S, typename K>
absl::Status ValidateKeyWith(const K& key) {
  if constexpr (requires {
                  { S::ValidateKey(key) } -> std::convertible_to<absl::Status>;
                }) {
    return S::ValidateKey(key);
  } else {
    return absl::OkStatus();
  }
}

// "<key signature>-><value signature>" if S names its encodings; empty when it does not, which
// a store takes as "unknown, not checked".
template <typename S, typename K, typename V>
std::string TypeSignatureWith() {
  if constexpr (requires {
                  { S::template KeySignature<K>() } -> std::convertible_to<std::string>;
                  { S::template ValueSignature<V>() } -> std::convertible_to<std::string>;
                }) {
    return absl::StrCat(S::template KeySignature<K>(), "->", S::template ValueSignature<V>());
  } else {
    return std::string();
  }
}

}  // namespace internal
}  // namespace kvstore

#endif  // KVSTORE_SERIALIZER_H_
