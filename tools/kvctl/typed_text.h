// Keys and values as text, for a program that learns their types only at run time (kvctl): a
// store records "<key signature>-><value signature>" (serializer.h, TypeSignatureOf), and this
// turns that signature into a TypeDesc, stored bytes into text (or JSON), and text back into the
// bytes DefaultSerializer writes. The scalar codecs are DefaultSerializer's own (serializer.h),
// so the two can never disagree; only the dispatch on the run-time type is here.
//
// Text form (what `kvctl scan` prints, `kvctl dump` writes, and keys on its command line use):
//   str      "Oslo"  with \" \\ \n \r \t and \xNN for other control bytes and bytes that are not
//            UTF-8 (valid UTF-8 is printed as is); a top-level string key may also be given bare
//   integers -5   floats: shortest round-trip digits, -0, nan, inf, -inf   bool: true / false
//   pair, tuple  ("Oslo", 2024)   (nested alike)
//   pod<N>   pod<16>:00ff...  (a trivially copyable struct: its N bytes in hex)
//   bytes    0x00ff...        (a store whose serializer does not describe its types)
// JSON form: strings as JSON strings ({"hex": ...} when not UTF-8), numbers as numbers (NaN and
// infinities as the strings "nan", "inf", "-inf"), pairs and tuples as arrays, pod<N> as
// {"pod": N, "hex": ...}, bytes as {"hex": ...}.
#ifndef KVSTORE_TOOLS_KVCTL_TYPED_TEXT_H_
#define KVSTORE_TOOLS_KVCTL_TYPED_TEXT_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstore::kvctl {

struct TypeDesc {
  enum class Kind { kBool, kInt, kUint, kFloat, kDouble, kString, kPod, kPair, kTuple, kBytes };
  Kind kind = Kind::kBytes;
  size_t size = 0;                 // Bytes of an integer (1, 2, 4, 8) or of a pod.
  std::vector<TypeDesc> elements;  // Of a pair or tuple.

  static TypeDesc Bytes() { return TypeDesc(); }
  bool operator==(const TypeDesc&) const = default;
};

// A key (ordered encoding) or a value: the same type is encoded differently in each.
enum class Role { kKey, kValue };
enum class Format { kText, kJson };

struct StoreTypes {
  TypeDesc key;
  TypeDesc value;
  bool described = false;  // False: raw bytes (no signature, or a custom serializer).
};

// One type signature ("tuple<str,i32>"); InvalidArgument naming the position otherwise.
absl::StatusOr<TypeDesc> ParseTypeSignature(absl::string_view signature);

// A store's (or a table's) "K->V" signature. An empty one, or one a custom serializer made
// (DefaultSerializer's names with " (serializer ...)" after them, or names not in the grammar), is
// bytes -> bytes, not an error: such a store is still shown, in hex.
StoreTypes ParseStoreSignature(absl::string_view signature);

// The C++ spelling: "std::tuple<std::string, int32_t>", "double", "struct of 16 bytes", "bytes".
std::string CppTypeName(const TypeDesc& type);
// "K -> V" in C++ spelling.
std::string CppTypeName(const StoreTypes& types);

// Appends the text (or JSON) of the stored bytes `encoded` of a `role` of type `type` to *out.
// InvalidArgument if the bytes are not a valid encoding of that type.
absl::Status FormatEncoded(const TypeDesc& type, Role role, absl::string_view encoded,
                           Format format, std::string* out);

// Parses the text form of a `role` of `type` and appends its stored encoding to *out.
// InvalidArgument naming the expected type (in C++ spelling) and where the text went wrong.
absl::Status ParseText(const TypeDesc& type, Role role, absl::string_view text, std::string* out);

// Parses a key prefix and appends the stored bytes every key with that prefix starts with: the
// first elements of a pair or tuple key ("(\"Oslo\")", or the first element alone), the start of
// a string key, or the first bytes of a bytes key. InvalidArgument for other key types.
absl::Status ParseKeyPrefix(const TypeDesc& type, absl::string_view text, std::string* out);

// Lower-case hex of `bytes`.
std::string Hex(absl::string_view bytes);

}  // namespace kvstore::kvctl

#endif  // KVSTORE_TOOLS_KVCTL_TYPED_TEXT_H_
