// How a segment's data blocks are compressed: the run-time face of a Compression policy
// (kvstore/compression.h). The engine holds one BlockCodec, or none for NoCompression, and never
// names a compression library itself, so a program links only the libraries its policies name.
#ifndef KVSTORE_INTERNAL_BLOCK_CODEC_H_
#define KVSTORE_INTERNAL_BLOCK_CODEC_H_

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kvstore {

// The default policy: blocks are stored as they are and read in place from the mapped file.
struct NoCompression {
  static constexpr uint8_t kCodecId = 0;
  static constexpr absl::string_view Name() { return "none"; }
};

// What a Compression policy provides. kCodecId is recorded in every block it compresses, so it
// must be unique and never change: 1 Snappy, 2 LZ4, 3 Zstd. Compress appends the compressed form
// of `raw` to `out` (false: store the block raw); Decompress fills exactly `raw_size` bytes.
// A policy may also set `static constexpr size_t kValueGroupBytes`: a block is then compressed in
// parts (its keys apart, its values in groups of about that many bytes), so a lookup decompresses
// its value's group, not the whole block. Worth it for fast codecs whose ratio barely depends on
// how much they see at once; a policy without it compresses each block whole.
template <typename C>
concept CompressionPolicy =
    std::same_as<C, NoCompression> ||
    requires(absl::string_view raw, std::string* out, char* dest, size_t raw_size) {
      { C::kCodecId } -> std::convertible_to<uint8_t>;
      { C::Name() } -> std::convertible_to<absl::string_view>;
      { C::Compress(raw, out) } -> std::same_as<bool>;
      { C::Decompress(raw, dest, raw_size) } -> std::same_as<bool>;
    };

namespace internal {

// The name of a codec id as recorded in a block, for error messages.
inline std::string CodecName(uint8_t id) {
  switch (id) {
    case 0: return "none";
    case 1: return "snappy";
    case 2: return "lz4";
    case 3: return "zstd";
    default: return absl::StrCat("unknown codec ", id);
  }
}

// A Compression policy as function pointers, so segments need no policy parameter.
struct BlockCodec {
  uint8_t id;
  absl::string_view name;
  bool (*compress)(absl::string_view raw, std::string* out);
  bool (*decompress)(absl::string_view compressed, char* dest, size_t raw_size);
  // Set for a codec that reads blocks of several codecs (ReadAnyCompression): `decompress` is
  // then unused, and any block whose codec this accepts is read.
  bool (*decompress_codec)(uint8_t id, absl::string_view compressed, char* dest,
                           size_t raw_size) = nullptr;
  // The policy's kValueGroupBytes; 0: blocks are compressed whole.
  size_t value_group_bytes = 0;
};

template <typename C>
constexpr size_t ValueGroupBytesOf() {
  if constexpr (requires { C::kValueGroupBytes; }) {
    return C::kValueGroupBytes;
  } else {
    return 0;
  }
}

template <typename C>
inline constexpr BlockCodec kBlockCodec = [] {
  if constexpr (requires { &C::DecompressCodec; }) {
    return BlockCodec{C::kCodecId, C::Name(), &C::Compress, nullptr, &C::DecompressCodec,
                      ValueGroupBytesOf<C>()};
  } else {
    return BlockCodec{C::kCodecId, C::Name(), &C::Compress, &C::Decompress, nullptr,
                      ValueGroupBytesOf<C>()};
  }
}();

// The codec of a policy; null for NoCompression.
template <typename C>
constexpr const BlockCodec* CodecFor() {
  if constexpr (std::same_as<C, NoCompression>) {
    return nullptr;
  } else {
    return &kBlockCodec<C>;
  }
}

}  // namespace internal
}  // namespace kvstore

#endif  // KVSTORE_INTERNAL_BLOCK_CODEC_H_
