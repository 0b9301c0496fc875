// Typed keys and values to and from the bytes the engine stores, with the checks every write
// path shares (KVStore, Database tables, batches and transactions): the serializer's own key
// validation, the key and value size limits, and DataLoss for stored bytes that do not decode.
#ifndef KVSTORE_INTERNAL_TYPED_CODEC_H_
#define KVSTORE_INTERNAL_TYPED_CODEC_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/options.h"
#include "kvstore/serializer.h"
#include "kvstore/status.h"

namespace kvstore::internal {

// Sets *out to `prefix` (a table's id; empty for a KVStore) followed by the key's encoding.
template <typename Serializer, typename Key>
absl::Status EncodeKeyChecked(absl::string_view prefix, const Key& key, std::string* out) {
  KV_RETURN_IF_ERROR(ValidateKeyWith<Serializer>(key));
  out->assign(prefix.data(), prefix.size());
  Serializer::EncodeKey(key, out);
  if (out->size() == prefix.size()) {
    return absl::InvalidArgumentError("empty key: keys must encode to 1 or more bytes");
  }
  if (out->size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "key of ", out->size() - prefix.size(), " bytes",
        prefix.empty() ? "" : absl::StrCat(" (plus a ", prefix.size(), "-byte table id)"),
        " exceeds the limit of ", kMaxKeyBytes));
  }
  return absl::OkStatus();
}

template <typename Serializer, typename Value>
absl::Status EncodeValueChecked(const Value& value, std::string* out) {
  out->clear();
  Serializer::EncodeValue(value, out);
  if (out->size() > kMaxValueBytes) {
    return absl::InvalidArgumentError(absl::StrCat("value of ", out->size(),
                                                   " bytes exceeds the limit of ", kMaxValueBytes));
  }
  return absl::OkStatus();
}

// Stored bytes that do not decode are corruption: DataLoss, never a value.
template <typename Serializer, typename Value>
absl::Status DecodeStoredValue(absl::string_view bytes, Value* value) {
  absl::Status s = Serializer::DecodeValue(bytes, value);
  if (!s.ok()) return absl::DataLossError(absl::StrCat("cannot decode stored value: ", s.message()));
  return absl::OkStatus();
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_TYPED_CODEC_H_
