#include "tools/kvctl/typed_text.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kvstore/serializer.h"
#include "kvstore/status.h"

namespace kvstore::kvctl {
namespace {

using Kind = TypeDesc::Kind;
using internal::KeyCodec;
using internal::ValueCodec;

// Calls fn(T{}) with the C++ type of a scalar TypeDesc (not pod, pair, tuple or bytes).
template <typename Fn>
absl::Status WithScalarType(const TypeDesc& type, Fn&& fn) {
  switch (type.kind) {
    case Kind::kBool:
      return fn(bool{});
    case Kind::kFloat:
      return fn(float{});
    case Kind::kDouble:
      return fn(double{});
    case Kind::kString:
      return fn(std::string{});
    case Kind::kInt:
      switch (type.size) {
        case 1:
          return fn(int8_t{});
        case 2:
          return fn(int16_t{});
        case 4:
          return fn(int32_t{});
        case 8:
          return fn(int64_t{});
      }
      break;
    case Kind::kUint:
      switch (type.size) {
        case 1:
          return fn(uint8_t{});
        case 2:
          return fn(uint16_t{});
        case 4:
          return fn(uint32_t{});
        case 8:
          return fn(uint64_t{});
      }
      break;
    default:
      break;
  }
  return absl::InternalError("not a scalar type");
}

// ---- Signatures ---------------------------------------------------------------------------

class SignatureParser {
 public:
  explicit SignatureParser(absl::string_view in) : in_(in) {}

  absl::StatusOr<TypeDesc> ParseAll() {
    auto type = Parse();
    if (type.ok() && pos_ != in_.size()) return Error("unexpected text after the type");
    return type;
  }

 private:
  absl::StatusOr<TypeDesc> Parse() {
    TypeDesc type;
    if (Eat("bool")) {
      type.kind = Kind::kBool;
    } else if (Eat("str")) {
      type.kind = Kind::kString;
    } else if (Eat("f32")) {
      type.kind = Kind::kFloat;
    } else if (Eat("f64")) {
      type.kind = Kind::kDouble;
    } else if (Eat("pod<")) {
      type.kind = Kind::kPod;
      size_t end = in_.find('>', pos_);
      if (end == absl::string_view::npos ||
          !absl::SimpleAtoi(in_.substr(pos_, end - pos_), &type.size) || type.size == 0) {
        return Error("pod<N> needs a positive size");
      }
      pos_ = end + 1;
    } else if (Eat("pair<") || Eat("tuple<")) {
      const bool pair = in_[pos_ - 2] == 'r';
      type.kind = pair ? Kind::kPair : Kind::kTuple;
      if (!Eat(">")) {
        for (;;) {
          auto element = Parse();
          if (!element.ok()) return element.status();
          type.elements.push_back(*std::move(element));
          if (Eat(">")) break;
          if (!Eat(",")) return Error("expected ',' or '>'");
        }
      }
      if (pair && type.elements.size() != 2) return Error("a pair has two elements");
    } else if (Eat("i") || Eat("u")) {
      type.kind = in_[pos_ - 1] == 'i' ? Kind::kInt : Kind::kUint;
      for (size_t bits : {8, 16, 32, 64}) {
        if (Eat(absl::StrCat(bits))) {
          type.size = bits / 8;
          return type;
        }
      }
      return Error("integer width must be 8, 16, 32 or 64");
    } else {
      return Error("unknown type");
    }
    return type;
  }

  bool Eat(absl::string_view token) {
    if (in_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("type signature \"", in_, "\" at offset ", pos_, ": ", what));
  }

  absl::string_view in_;
  size_t pos_ = 0;
};

// ---- Formatting ---------------------------------------------------------------------------

// Length of the valid UTF-8 sequence at the start of `s` (0 if there is none). Overlong forms,
// surrogates and code points above U+10FFFF are not valid.
size_t Utf8SequenceLength(absl::string_view s) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(s[i]); };
  const uint8_t b0 = byte(0);
  if (b0 < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    n = 2, cp = b0 & 0x1f;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3, cp = b0 & 0x0f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4, cp = b0 & 0x07;
  } else {
    return 0;
  }
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    if ((byte(i) & 0xc0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i) & 0x3f);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10ffff ||
      (cp >= 0xd800 && cp <= 0xdfff)) {
    return 0;
  }
  return n;
}

bool IsUtf8(absl::string_view s) {
  while (!s.empty()) {
    const size_t n = Utf8SequenceLength(s);
    if (n == 0) return false;
    s.remove_prefix(n);
  }
  return true;
}

void AppendQuoted(absl::string_view s, std::string* out) {
  out->push_back('"');
  while (!s.empty()) {
    const char c = s.front();
    const size_t n = Utf8SequenceLength(s);
    if (n > 1) {
      out->append(s.data(), n);
      s.remove_prefix(n);
      continue;
    }
    s.remove_prefix(1);
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (n == 0 || static_cast<uint8_t>(c) < 0x20 || c == 0x7f) {
          absl::StrAppend(out, "\\x", absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

void AppendJsonString(absl::string_view s, std::string* out) {
  out->push_back('"');
  for (char c : s) {
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:
        if (static_cast<uint8_t>(c) < 0x20) {
          absl::StrAppend(out, "\\u00", absl::Hex(static_cast<uint8_t>(c), absl::kZeroPad2));
        } else {
          out->push_back(c);
        }
    }
  }
  out->push_back('"');
}

template <typename T>
void AppendFloat(T v, Format format, std::string* out) {
  if (std::isnan(v) || std::isinf(v)) {
    const char* name = std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
    absl::StrAppend(out, format == Format::kJson ? absl::StrCat("\"", name, "\"") : name);
    return;
  }
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof(buf), v);  // Shortest round trip.
  out->append(buf, result.ptr);
}

template <typename T>
void AppendScalar(const T& v, Format format, std::string* out) {
  if constexpr (std::is_same_v<T, bool>) {
    out->append(v ? "true" : "false");
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (format == Format::kText) {
      AppendQuoted(v, out);
    } else if (IsUtf8(v)) {
      AppendJsonString(v, out);
    } else {
      absl::StrAppend(out, "{\"hex\": \"", Hex(v), "\"}");
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    AppendFloat(v, format, out);
  } else if constexpr (std::is_signed_v<T>) {
    absl::StrAppend(out, static_cast<int64_t>(v));
  } else {
    absl::StrAppend(out, static_cast<uint64_t>(v));
  }
}

// Consumes one element (the self-delimiting form used inside pairs and tuples, and at the top
// level of everything but a lone string) from the front of *in.
absl::Status FormatElement(const TypeDesc& type, Role role, absl::string_view* in, Format format,
                           std::string* out) {
  switch (type.kind) {
    case Kind::kBytes:
      return absl::InternalError("bytes inside a typed element");
    case Kind::kPod: {
      if (role == Role::kKey) return absl::InvalidArgumentError("a pod cannot be a key");
      if (in->size() < type.size) {
        return absl::InvalidArgumentError(
            absl::StrCat("truncated pod<", type.size, "> (", in->size(), " bytes left)"));
      }
      const std::string hex = Hex(in->substr(0, type.size));
      in->remove_prefix(type.size);
      if (format == Format::kText) {
        absl::StrAppend(out, "pod<", type.size, ">:", hex);
      } else {
        absl::StrAppend(out, "{\"pod\": ", type.size, ", \"hex\": \"", hex, "\"}");
      }
      return absl::OkStatus();
    }
    case Kind::kPair:
    case Kind::kTuple: {
      out->push_back(format == Format::kText ? '(' : '[');
      for (size_t i = 0; i < type.elements.size(); ++i) {
        if (i > 0) out->append(", ");
        KV_RETURN_IF_ERROR(FormatElement(type.elements[i], role, in, format, out));
      }
      out->push_back(format == Format::kText ? ')' : ']');
      return absl::OkStatus();
    }
    default:
      return WithScalarType(type, [&](auto zero) -> absl::Status {
        using T = decltype(zero);
        T v{};
        KV_RETURN_IF_ERROR(role == Role::kKey ? KeyCodec<T>::Decode(in, &v)
                                              : ValueCodec<T>::Decode(in, &v));
        AppendScalar(v, format, out);
        return absl::OkStatus();
      });
  }
}

// ---- Parsing ------------------------------------------------------------------------------

class TextParser {
 public:
  TextParser(absl::string_view text, const TypeDesc& top) : text_(text), top_(top) {}

  // One whole `role` of type top_, then the end of the text.
  absl::Status ParseWhole(Role role, std::string* out) {
    if (top_.kind == Kind::kString) {
      std::string s;
      SkipSpace();
      if (pos_ < text_.size() && text_[pos_] == '"') {
        KV_RETURN_IF_ERROR(ParseString(&s));
      } else if (role == Role::kKey) {
        s = std::string(text_);  // A bare string key, taken as it is.
        pos_ = text_.size();
      } else {
        return Error(top_, "a string in double quotes");
      }
      KV_RETURN_IF_ERROR(ExpectEnd());
      out->append(s);  // A lone string is stored as its own bytes.
      return absl::OkStatus();
    }
    if (top_.kind == Kind::kBytes) {
      KV_RETURN_IF_ERROR(ParseHexBytes(out));
      return ExpectEnd();
    }
    KV_RETURN_IF_ERROR(ParseElement(top_, role, out));
    return ExpectEnd();
  }

  // The first 1..n elements of a pair or tuple key, in parentheses or (the first) alone.
  absl::Status ParsePrefix(std::string* out) {
    switch (top_.kind) {
      case Kind::kString: {
        SkipSpace();
        if (pos_ < text_.size() && text_[pos_] == '"') {
          std::string s;
          KV_RETURN_IF_ERROR(ParseString(&s));
          KV_RETURN_IF_ERROR(ExpectEnd());
          out->append(s);
        } else {
          out->append(text_.data(), text_.size());
        }
        return absl::OkStatus();
      }
      case Kind::kBytes:
        KV_RETURN_IF_ERROR(ParseHexBytes(out));
        return ExpectEnd();
      case Kind::kPair:
      case Kind::kTuple: {
        SkipSpace();
        if (!(pos_ < text_.size() && text_[pos_] == '(')) {
          KV_RETURN_IF_ERROR(ParseElement(top_.elements[0], Role::kKey, out));
          return ExpectEnd();
        }
        ++pos_;
        for (size_t i = 0;; ++i) {
          if (i == top_.elements.size()) return Error(top_, "at most as many elements as the key");
          KV_RETURN_IF_ERROR(ParseElement(top_.elements[i], Role::kKey, out));
          SkipSpace();
          if (Eat(')')) break;
          if (!Eat(',')) return Error(top_, "',' or ')'");
        }
        return ExpectEnd();
      }
      default:
        return absl::InvalidArgumentError(
            absl::StrCat("--prefix needs a string, pair or tuple key; this store's keys are ",
                         CppTypeName(top_)));
    }
  }

 private:
  absl::Status ParseElement(const TypeDesc& type, Role role, std::string* out) {
    SkipSpace();
    switch (type.kind) {
      case Kind::kPair:
      case Kind::kTuple: {
        if (!Eat('(')) return Error(type, "'('");
        for (size_t i = 0; i < type.elements.size(); ++i) {
          if (i > 0) {
            SkipSpace();
            if (!Eat(',')) return Error(type, absl::StrCat(type.elements.size(), " elements"));
          }
          KV_RETURN_IF_ERROR(ParseElement(type.elements[i], role, out));
        }
        SkipSpace();
        if (!Eat(')'))
          return Error(type, absl::StrCat("')' after ", type.elements.size(), " elements"));
        return absl::OkStatus();
      }
      case Kind::kPod: {
        if (role == Role::kKey) return absl::InvalidArgumentError("a pod cannot be a key");
        const std::string head = absl::StrCat("pod<", type.size, ">:");
        if (text_.substr(pos_, head.size()) != head) return Error(type, head + "HEX");
        pos_ += head.size();
        const size_t before = out->size();
        KV_RETURN_IF_ERROR(ParseHexDigits(type, out));
        if (out->size() - before != type.size) {
          return Error(type, absl::StrCat(type.size, " bytes of hex"));
        }
        return absl::OkStatus();
      }
      case Kind::kBytes:
        return absl::InternalError("bytes inside a typed element");
      default:
        break;
    }
    return WithScalarType(type, [&](auto zero) -> absl::Status {
      using T = decltype(zero);
      T v{};
      KV_RETURN_IF_ERROR(ParseScalar(type, &v));
      if constexpr (std::is_floating_point_v<T>) {
        if (role == Role::kKey && std::isnan(v)) {
          return Error(type, "a number: a NaN cannot be a key (it has no place in the key order)");
        }
      }
      if (role == Role::kKey) {
        KeyCodec<T>::Encode(v, out);
      } else {
        ValueCodec<T>::Encode(v, out);
      }
      return absl::OkStatus();
    });
  }

  absl::Status ParseScalar(const TypeDesc& type, bool* v) {
    if (EatWord("true")) {
      *v = true;
    } else if (EatWord("false")) {
      *v = false;
    } else {
      return Error(type, "true or false");
    }
    return absl::OkStatus();
  }

  absl::Status ParseScalar(const TypeDesc& type, std::string* v) {
    if (!(pos_ < text_.size() && text_[pos_] == '"'))
      return Error(type, "a string in double quotes");
    return ParseString(v);
  }

  template <typename T>
  absl::Status ParseScalar(const TypeDesc& type, T* v) {
    const size_t start = pos_;
    while (pos_ < text_.size() && (absl::ascii_isalnum(text_[pos_]) || text_[pos_] == '-' ||
                                   text_[pos_] == '+' || text_[pos_] == '.')) {
      ++pos_;
    }
    std::string token(text_.substr(start, pos_ - start));
    if constexpr (std::is_floating_point_v<T>) {
      std::string lower = absl::AsciiStrToLower(token);
      if (!lower.empty() && lower[0] == '+') lower.erase(0, 1);
      if (lower == "nan" || lower == "-nan") {
        *v = std::numeric_limits<T>::quiet_NaN();
        return absl::OkStatus();
      }
      if (lower == "inf" || lower == "infinity" || lower == "-inf" || lower == "-infinity") {
        *v = lower[0] == '-' ? -std::numeric_limits<T>::infinity()
                             : std::numeric_limits<T>::infinity();
        return absl::OkStatus();
      }
      const auto result = std::from_chars(lower.data(), lower.data() + lower.size(), *v);
      if (lower.empty() || result.ec != std::errc() || result.ptr != lower.data() + lower.size()) {
        pos_ = start;
        return Error(type, "a number");
      }
    } else {
      const char* begin = token.data();
      if (!token.empty() && token[0] == '+') ++begin;
      const auto result = std::from_chars(begin, token.data() + token.size(), *v);
      if (result.ec == std::errc::result_out_of_range) {
        pos_ = start;
        return Error(type, absl::StrCat("a number in range (", token, " is out of range)"));
      }
      if (token.empty() || result.ec != std::errc() || result.ptr != token.data() + token.size()) {
        pos_ = start;
        return Error(type, "an integer");
      }
    }
    return absl::OkStatus();
  }

  absl::Status ParseString(std::string* s) {
    const TypeDesc str{Kind::kString, 0, {}};
    if (!Eat('"')) return Error(str, "'\"'");
    for (;;) {
      if (pos_ >= text_.size()) return Error(str, "a closing '\"'");
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (c != '\\') {
        s->push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return Error(str, "an escape after '\\'");
      const char e = text_[pos_++];
      switch (e) {
        case '"':
          s->push_back('"');
          break;
        case '\\':
          s->push_back('\\');
          break;
        case 'n':
          s->push_back('\n');
          break;
        case 'r':
          s->push_back('\r');
          break;
        case 't':
          s->push_back('\t');
          break;
        case '0':
          s->push_back('\0');
          break;
        case 'x': {
          int hi, lo;
          if (pos_ + 2 > text_.size() || (hi = HexValue(text_[pos_])) < 0 ||
              (lo = HexValue(text_[pos_ + 1])) < 0) {
            return Error(str, "two hex digits after \\x");
          }
          s->push_back(static_cast<char>(hi * 16 + lo));
          pos_ += 2;
          break;
        }
        default:
          --pos_;
          return Error(str, "one of \\\" \\\\ \\n \\r \\t \\0 \\xNN");
      }
    }
  }

  absl::Status ParseHexBytes(std::string* out) {
    SkipSpace();
    if (!(Eat('0') && (Eat('x') || Eat('X')))) return Error(TypeDesc::Bytes(), "0x and hex digits");
    return ParseHexDigits(TypeDesc::Bytes(), out);
  }

  absl::Status ParseHexDigits(const TypeDesc& type, std::string* out) {
    while (pos_ + 1 < text_.size() && HexValue(text_[pos_]) >= 0 &&
           HexValue(text_[pos_ + 1]) >= 0) {
      out->push_back(static_cast<char>(HexValue(text_[pos_]) * 16 + HexValue(text_[pos_ + 1])));
      pos_ += 2;
    }
    if (pos_ < text_.size() && HexValue(text_[pos_]) >= 0)
      return Error(type, "an even number of hex digits");
    return absl::OkStatus();
  }

  static int HexValue(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }

  bool Eat(char c) {
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  bool EatWord(absl::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    if (pos_ + word.size() < text_.size() && absl::ascii_isalnum(text_[pos_ + word.size()])) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  absl::Status ExpectEnd() {
    SkipSpace();
    if (pos_ == text_.size()) return absl::OkStatus();
    return Error(top_, "the end of the text");
  }

  // Names the expected type of the whole text, then the part that failed.
  absl::Status Error(const TypeDesc& type, absl::string_view expected) const {
    std::string msg = absl::StrCat("cannot parse '", text_, "' as ", CppTypeName(top_));
    if (!(type == top_)) absl::StrAppend(&msg, " (in its ", CppTypeName(type), ")");
    absl::StrAppend(&msg, ": expected ", expected, " at offset ", pos_);
    return absl::InvalidArgumentError(msg);
  }

  absl::string_view text_;
  const TypeDesc& top_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<TypeDesc> ParseTypeSignature(absl::string_view signature) {
  return SignatureParser(signature).ParseAll();
}

StoreTypes ParseStoreSignature(absl::string_view signature) {
  StoreTypes types;
  const size_t arrow = signature.find("->");
  if (arrow == absl::string_view::npos) return types;
  auto key = ParseTypeSignature(signature.substr(0, arrow));
  auto value = ParseTypeSignature(signature.substr(arrow + 2));
  if (!key.ok() || !value.ok()) return types;
  types.key = *std::move(key);
  types.value = *std::move(value);
  types.described = true;
  return types;
}

std::string CppTypeName(const TypeDesc& type) {
  switch (type.kind) {
    case Kind::kBool:
      return "bool";
    case Kind::kInt:
      return absl::StrCat("int", type.size * 8, "_t");
    case Kind::kUint:
      return absl::StrCat("uint", type.size * 8, "_t");
    case Kind::kFloat:
      return "float";
    case Kind::kDouble:
      return "double";
    case Kind::kString:
      return "std::string";
    case Kind::kPod:
      return absl::StrCat("struct of ", type.size, " bytes");
    case Kind::kBytes:
      return "bytes";
    case Kind::kPair:
    case Kind::kTuple: {
      std::vector<std::string> names;
      for (const TypeDesc& e : type.elements) names.push_back(CppTypeName(e));
      return absl::StrCat(type.kind == Kind::kPair ? "std::pair<" : "std::tuple<",
                          absl::StrJoin(names, ", "), ">");
    }
  }
  return "?";
}

std::string CppTypeName(const StoreTypes& types) {
  if (!types.described) return "bytes -> bytes (types not recorded by the serializer)";
  return absl::StrCat(CppTypeName(types.key), " -> ", CppTypeName(types.value));
}

absl::Status FormatEncoded(const TypeDesc& type, Role role, absl::string_view encoded,
                           Format format, std::string* out) {
  if (type.kind == Kind::kBytes) {
    if (format == Format::kText) {
      absl::StrAppend(out, "0x", Hex(encoded));
    } else {
      absl::StrAppend(out, "{\"hex\": \"", Hex(encoded), "\"}");
    }
    return absl::OkStatus();
  }
  if (type.kind == Kind::kString) {  // A lone string is stored as its own bytes.
    AppendScalar(std::string(encoded), format, out);
    return absl::OkStatus();
  }
  absl::string_view in = encoded;
  std::string text;
  absl::Status s = FormatElement(type, role, &in, format, &text);
  if (s.ok() && !in.empty()) {
    s = absl::InvalidArgumentError(absl::StrCat(in.size(), " bytes left over"));
  }
  if (!s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("stored ", role == Role::kKey ? "key" : "value",
                                                   " 0x", Hex(encoded), " is not a ",
                                                   CppTypeName(type), ": ", s.message()));
  }
  out->append(text);
  return absl::OkStatus();
}

absl::Status ParseText(const TypeDesc& type, Role role, absl::string_view text, std::string* out) {
  return TextParser(text, type).ParseWhole(role, out);
}

absl::Status ParseKeyPrefix(const TypeDesc& type, absl::string_view text, std::string* out) {
  return TextParser(text, type).ParsePrefix(out);
}

std::string Hex(absl::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    out.push_back(kDigits[static_cast<uint8_t>(c) >> 4]);
    out.push_back(kDigits[static_cast<uint8_t>(c) & 15]);
  }
  return out;
}

}  // namespace kvstore::kvctl
