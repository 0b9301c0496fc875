// typed_text against DefaultSerializer itself: for every type it supports, the bytes the
// serializer writes print as the expected text and JSON, and that text parses back to the same
// bytes (as a key and as a value).
#include "tools/kvctl/typed_text.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <tuple>
#include <utility>

#include "gtest/gtest.h"
#include "kvstore/serializer.h"

namespace kvstore::kvctl {
namespace {

template <typename T>
TypeDesc TypeOf() {
  auto type = ParseTypeSignature(internal::TypeSignatureOf<T>::Get());
  EXPECT_TRUE(type.ok()) << type.status();
  return type.ok() ? *type : TypeDesc();
}

template <typename T>
std::string KeyBytes(const T& v) {
  std::string out;
  DefaultSerializer::EncodeKey(v, &out);
  return out;
}

template <typename T>
std::string ValueBytes(const T& v) {
  std::string out;
  DefaultSerializer::EncodeValue(v, &out);
  return out;
}

std::string Format(const TypeDesc& type, Role role, const std::string& bytes, Format format) {
  std::string out;
  absl::Status s = FormatEncoded(type, role, bytes, format, &out);
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

// `v` prints as `text` both as a key and as a value, and `text` parses back to its bytes.
template <typename T>
void ExpectText(const T& v, const std::string& text, const std::string& json = "") {
  const TypeDesc type = TypeOf<T>();
  if constexpr (DefaultKey<T>) {
    const std::string key = KeyBytes(v);
    EXPECT_EQ(Format(type, Role::kKey, key, Format::kText), text);
    std::string parsed;
    absl::Status s = ParseText(type, Role::kKey, text, &parsed);
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ(Hex(parsed), Hex(key)) << text;
    if (!json.empty()) {
      EXPECT_EQ(Format(type, Role::kKey, key, Format::kJson), json);
    }
  }
  const std::string value = ValueBytes(v);
  EXPECT_EQ(Format(type, Role::kValue, value, Format::kText), text);
  std::string parsed;
  absl::Status s = ParseText(type, Role::kValue, text, &parsed);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(Hex(parsed), Hex(value)) << text;
  if (!json.empty()) {
    EXPECT_EQ(Format(type, Role::kValue, value, Format::kJson), json);
  }
}

TEST(TypedTextTest, SignaturesAndCppNames) {
  EXPECT_EQ(CppTypeName(TypeOf<std::tuple<std::string, int32_t>>()),
            "std::tuple<std::string, int32_t>");
  EXPECT_EQ(CppTypeName(TypeOf<std::pair<uint8_t, std::tuple<bool, float>>>()),
            "std::pair<uint8_t, std::tuple<bool, float>>");
  const StoreTypes types = ParseStoreSignature("tuple<str,i32>->f64");
  EXPECT_TRUE(types.described);
  EXPECT_EQ(CppTypeName(types), "std::tuple<std::string, int32_t> -> double");
  struct Pod16 {
    int64_t a, b;
  };
  EXPECT_EQ(CppTypeName(TypeOf<Pod16>()), "struct of 16 bytes");
  EXPECT_FALSE(ParseStoreSignature("").described);
  EXPECT_FALSE(ParseStoreSignature("str->i64 (serializer 5MySer)").described);
  EXPECT_FALSE(ParseTypeSignature("i24").ok());
  EXPECT_FALSE(ParseTypeSignature("tuple<str").ok());
  EXPECT_FALSE(ParseTypeSignature("pair<str>").ok());
}

TEST(TypedTextTest, Integers) {
  ExpectText<int8_t>(-128, "-128");
  ExpectText<int16_t>(-5, "-5");
  ExpectText<int32_t>(std::numeric_limits<int32_t>::min(), "-2147483648");
  ExpectText<int64_t>(std::numeric_limits<int64_t>::max(), "9223372036854775807",
                      "9223372036854775807");
  ExpectText<uint8_t>(255, "255");
  ExpectText<uint16_t>(0, "0");
  ExpectText<uint32_t>(4000000000u, "4000000000");
  ExpectText<uint64_t>(std::numeric_limits<uint64_t>::max(), "18446744073709551615");
  ExpectText<bool>(true, "true", "true");
  ExpectText<bool>(false, "false");
}

TEST(TypedTextTest, Floats) {
  ExpectText<double>(1.5, "1.5", "1.5");
  ExpectText<double>(-2.25, "-2.25");
  ExpectText<double>(0.1, "0.1");
  ExpectText<double>(1e300, "1e+300");
  ExpectText<float>(3.25f, "3.25");
  ExpectText<float>(-0.1f, "-0.1");
  ExpectText<double>(std::numeric_limits<double>::infinity(), "inf", "\"inf\"");
  ExpectText<double>(-std::numeric_limits<double>::infinity(), "-inf", "\"-inf\"");
  ExpectText<float>(-std::numeric_limits<float>::infinity(), "-inf");
  // -0.0: a value keeps its sign; a key stores it as 0.0 (one key for both).
  const TypeDesc f64 = TypeOf<double>();
  EXPECT_EQ(Format(f64, Role::kValue, ValueBytes(-0.0), Format::kText), "-0");
  EXPECT_EQ(Format(f64, Role::kKey, KeyBytes(-0.0), Format::kText), "0");
  std::string parsed;
  ASSERT_TRUE(ParseText(f64, Role::kKey, "-0", &parsed).ok());
  EXPECT_EQ(parsed, KeyBytes(0.0));
  // NaN: a value prints and parses; a key refuses it, as the store does.
  const double nan = std::numeric_limits<double>::quiet_NaN();
  EXPECT_EQ(Format(f64, Role::kValue, ValueBytes(nan), Format::kText), "nan");
  EXPECT_EQ(Format(f64, Role::kValue, ValueBytes(nan), Format::kJson), "\"nan\"");
  parsed.clear();
  ASSERT_TRUE(ParseText(f64, Role::kValue, "nan", &parsed).ok());
  double back;
  ASSERT_TRUE(DefaultSerializer::DecodeValue(parsed, &back).ok());
  EXPECT_TRUE(std::isnan(back));
  absl::Status s = ParseText(f64, Role::kKey, "nan", &parsed);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("NaN"), absl::string_view::npos) << s;
}

TEST(TypedTextTest, Strings) {
  ExpectText<std::string>("", "\"\"", "\"\"");
  ExpectText<std::string>("Oslo", "\"Oslo\"", "\"Oslo\"");
  ExpectText<std::string>("say \"hi\"\\", "\"say \\\"hi\\\"\\\\\"", "\"say \\\"hi\\\"\\\\\"");
  ExpectText<std::string>("line1\nline2\ttab\r", "\"line1\\nline2\\ttab\\r\"",
                          "\"line1\\nline2\\ttab\\r\"");
  ExpectText<std::string>(std::string("a\0b", 3), "\"a\\x00b\"", "\"a\\u0000b\"");
  ExpectText<std::string>("Blåbær ✓", "\"Blåbær ✓\"", "\"Blåbær ✓\"");
  // Not UTF-8: escaped bytes in text, hex in JSON.
  ExpectText<std::string>(
      "\xff\xfe"
      "a\xc3",
      "\"\\xff\\xfea\\xc3\"", "{\"hex\": \"fffe61c3\"}");
  // A bare string key is taken as it is; a value must be quoted.
  const TypeDesc str = TypeOf<std::string>();
  std::string parsed;
  ASSERT_TRUE(ParseText(str, Role::kKey, "plain key", &parsed).ok());
  EXPECT_EQ(parsed, "plain key");
  EXPECT_FALSE(ParseText(str, Role::kValue, "plain", &parsed).ok());
  EXPECT_FALSE(ParseText(str, Role::kKey, "\"unterminated", &parsed).ok());
  EXPECT_FALSE(ParseText(str, Role::kKey, "\"bad \\q escape\"", &parsed).ok());
}

TEST(TypedTextTest, TuplesPairsAndNesting) {
  ExpectText(std::make_tuple(std::string("Oslo"), int32_t{2024}), "(\"Oslo\", 2024)",
             "[\"Oslo\", 2024]");
  ExpectText(std::make_pair(std::string(""), -1.5), "(\"\", -1.5)");
  ExpectText(std::make_tuple(std::make_pair(int8_t{-1}, std::string("a\"b")),
                             std::make_tuple(true, uint64_t{7}), std::string("\n")),
             "((-1, \"a\\\"b\"), (true, 7), \"\\n\")", "[[-1, \"a\\\"b\"], [true, 7], \"\\n\"]");
  // Strings with zero bytes inside tuple keys (escaped on disk as 00 ff).
  ExpectText(std::make_tuple(std::string("a\0", 2), int16_t{-3}), "(\"a\\x00\", -3)");
  // Spaces are free between elements.
  const TypeDesc type = TypeOf<std::tuple<std::string, int32_t>>();
  std::string parsed;
  ASSERT_TRUE(ParseText(type, Role::kKey, "  ( \"Oslo\" ,2024 )  ", &parsed).ok());
  EXPECT_EQ(parsed, KeyBytes(std::make_tuple(std::string("Oslo"), int32_t{2024})));
}

TEST(TypedTextTest, PodsAndBytes) {
  struct Point {
    int32_t x, y;
  };
  const Point p{1, -1};
  ExpectText(p, "pod<8>:01000000ffffffff", "{\"pod\": 8, \"hex\": \"01000000ffffffff\"}");
  const TypeDesc bytes = TypeDesc::Bytes();
  EXPECT_EQ(Format(bytes, Role::kKey, std::string("\x00\xff", 2), Format::kText), "0x00ff");
  EXPECT_EQ(Format(bytes, Role::kValue, "", Format::kJson), "{\"hex\": \"\"}");
  std::string parsed;
  ASSERT_TRUE(ParseText(bytes, Role::kKey, "0x00FF", &parsed).ok());
  EXPECT_EQ(parsed, std::string("\x00\xff", 2));
  EXPECT_FALSE(ParseText(bytes, Role::kKey, "0x0", &parsed).ok());
  EXPECT_FALSE(ParseText(TypeOf<Point>(), Role::kValue, "pod<8>:0100", &parsed).ok());
}

TEST(TypedTextTest, ErrorsNameTheExpectedType) {
  std::string parsed;
  absl::Status s = ParseText(TypeOf<int32_t>(), Role::kKey, "\"text\"", &parsed);
  EXPECT_NE(s.message().find("int32_t"), absl::string_view::npos) << s;
  s = ParseText(TypeOf<int8_t>(), Role::kKey, "300", &parsed);
  EXPECT_NE(s.message().find("out of range"), absl::string_view::npos) << s;
  s = ParseText(TypeOf<std::tuple<std::string, int32_t>>(), Role::kKey, "(\"Oslo\")", &parsed);
  EXPECT_NE(s.message().find("std::tuple<std::string, int32_t>"), absl::string_view::npos) << s;
  s = ParseText(TypeOf<std::tuple<std::string, int32_t>>(), Role::kKey, "(\"Oslo\", 1, 2)",
                &parsed);
  EXPECT_FALSE(s.ok());
  s = ParseText(TypeOf<bool>(), Role::kValue, "yes", &parsed);
  EXPECT_NE(s.message().find("true or false"), absl::string_view::npos) << s;
  s = ParseText(TypeOf<int64_t>(), Role::kKey, "5 6", &parsed);
  EXPECT_FALSE(s.ok());
  // Stored bytes that do not decode are reported, not printed.
  std::string out;
  s = FormatEncoded(TypeOf<int32_t>(), Role::kKey, "abc", Format::kText, &out);
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.message().find("int32_t"), absl::string_view::npos) << s;
}

TEST(TypedTextTest, KeyPrefixes) {
  using Key = std::tuple<std::string, int32_t, double>;
  const TypeDesc type = TypeOf<Key>();
  const std::string full = KeyBytes(Key{"Oslo", 2024, 1.5});
  std::string prefix;
  ASSERT_TRUE(ParseKeyPrefix(type, "(\"Oslo\")", &prefix).ok());
  EXPECT_EQ(full.substr(0, prefix.size()), prefix);
  EXPECT_NE(KeyBytes(Key{"Oslo2", 2024, 1.5}).substr(0, prefix.size()), prefix);
  prefix.clear();
  ASSERT_TRUE(ParseKeyPrefix(type, "\"Oslo\"", &prefix).ok());  // The first element alone.
  EXPECT_EQ(full.substr(0, prefix.size()), prefix);
  prefix.clear();
  ASSERT_TRUE(ParseKeyPrefix(type, "(\"Oslo\", 2024)", &prefix).ok());
  EXPECT_EQ(full.substr(0, prefix.size()), prefix);
  EXPECT_NE(KeyBytes(Key{"Oslo", 2025, 1.5}).substr(0, prefix.size()), prefix);
  EXPECT_FALSE(ParseKeyPrefix(type, "(\"Oslo\", 2024, 1.5, 2)", &prefix).ok());
  prefix.clear();
  ASSERT_TRUE(ParseKeyPrefix(TypeOf<std::string>(), "ab", &prefix).ok());
  EXPECT_EQ(prefix, "ab");
  absl::Status s = ParseKeyPrefix(TypeOf<int32_t>(), "5", &prefix);
  EXPECT_NE(s.message().find("int32_t"), absl::string_view::npos) << s;
}

}  // namespace
}  // namespace kvstore::kvctl
