// Block compression policies, the fifth template parameter of KVStore and Database:
//
//   kvstore::KVStore<std::string, Doc, kvstore::DefaultSerializer, kvstore::BloomFilter<10>,
//                    kvstore::Zstd<>>
//
// NoCompression (the default) keeps blocks raw and reads them in place from the mapped file.
// Snappy, Lz4 and Zstd<Level> compress each data block on its own; a block that does not shrink
// by an eighth is stored raw. Snappy and Lz4 compress a block in parts (its keys, then its values
// in groups of kValueGroupBytes), so a lookup decompresses one group, not the whole block; Zstd,
// chosen for size, compresses blocks whole. Decompressed blocks are kept in a cache of
// Options::block_cache_bytes. Every block records its codec, so a store opened with a policy that
// cannot read one of its blocks reports FailedPrecondition naming both, never garbage.
//
// Each policy needs its Debian package (libsnappy-dev, liblz4-dev, libzstd-dev; tools/bazel
// installs all three). //kvstore puts the libraries on the link line --as-needed, so a program
// depends on one only if it names its policy; //kvstore:snappy, :lz4 and :zstd name one each.
#ifndef KVSTORE_COMPRESSION_H_
#define KVSTORE_COMPRESSION_H_

#include <lz4.h>
#include <snappy.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "kvstore/internal/block_codec.h"

namespace kvstore {

// Google's Snappy, as LevelDB uses by default: fast, modest ratio.
struct Snappy {
  static constexpr uint8_t kCodecId = 1;
  static constexpr absl::string_view Name() { return "snappy"; }
  // A lookup decompresses its value's group of about 512 bytes, not the 4 KiB block
  // (block_codec.h): readrandom 5% faster than with 1 KiB groups, files 0.4% larger (62.78
  // against 62.51 MB for 1M 100-byte values).
  static constexpr size_t kValueGroupBytes = 512;
  static bool Compress(absl::string_view raw, std::string* out) {
    const size_t start = out->size();
    out->resize(start + snappy::MaxCompressedLength(raw.size()));
    size_t n = 0;
    snappy::RawCompress(raw.data(), raw.size(), out->data() + start, &n);
    out->resize(start + n);
    return true;
  }
  static bool Decompress(absl::string_view compressed, char* dest, size_t raw_size) {
    size_t n = 0;
    if (!snappy::GetUncompressedLength(compressed.data(), compressed.size(), &n) || n != raw_size) {
      return false;
    }
    return snappy::RawUncompress(compressed.data(), compressed.size(), dest);
  }
};

// LZ4 (fast mode): about Snappy's ratio, faster to decompress.
struct Lz4 {
  static constexpr uint8_t kCodecId = 2;
  static constexpr absl::string_view Name() { return "lz4"; }
  // Larger than Snappy's: LZ4 ends every part with a few bytes of literals, and 1 KiB groups made
  // files 0.7% larger than 2 KiB ones (62.94 against 62.48 MB for 1M 100-byte values).
  static constexpr size_t kValueGroupBytes = 2048;
  static bool Compress(absl::string_view raw, std::string* out) {
    if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return false;
    const size_t start = out->size();
    const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
    out->resize(start + static_cast<size_t>(bound));
    const int n = LZ4_compress_default(raw.data(), out->data() + start,
                                       static_cast<int>(raw.size()), bound);
    if (n <= 0) {
      out->resize(start);
      return false;
    }
    out->resize(start + static_cast<size_t>(n));
    return true;
  }
  static bool Decompress(absl::string_view compressed, char* dest, size_t raw_size) {
    if (compressed.size() > static_cast<size_t>(INT32_MAX) || raw_size > INT32_MAX) return false;
    const int n = LZ4_decompress_safe(compressed.data(), dest, static_cast<int>(compressed.size()),
                                      static_cast<int>(raw_size));
    return n >= 0 && static_cast<size_t>(n) == raw_size;
  }
};

// Zstandard at `Level` (1 fastest .. 19 smallest; 3 is zstd's own default).
template <int Level = 3>
struct Zstd {
  static_assert(Level >= 1 && Level <= 22, "kvstore::Zstd<Level>: Level must be in 1..22");
  static constexpr uint8_t kCodecId = 3;
  static constexpr absl::string_view Name() { return "zstd"; }
  static bool Compress(absl::string_view raw, std::string* out) {
    // A context per thread: creating one per block would cost more than compressing 4 KiB.
    thread_local std::unique_ptr<ZSTD_CCtx, size_t (*)(ZSTD_CCtx*)> cctx(ZSTD_createCCtx(),
                                                                         &ZSTD_freeCCtx);
    if (cctx == nullptr) return false;
    const size_t start = out->size();
    out->resize(start + ZSTD_compressBound(raw.size()));
    const size_t n = ZSTD_compressCCtx(cctx.get(), out->data() + start, out->size() - start,
                                       raw.data(), raw.size(), Level);
    if (ZSTD_isError(n)) {
      out->resize(start);
      return false;
    }
    out->resize(start + n);
    return true;
  }
  static bool Decompress(absl::string_view compressed, char* dest, size_t raw_size) {
    thread_local std::unique_ptr<ZSTD_DCtx, size_t (*)(ZSTD_DCtx*)> dctx(ZSTD_createDCtx(),
                                                                         &ZSTD_freeDCtx);
    if (dctx == nullptr) return false;
    const size_t n =
        ZSTD_decompressDCtx(dctx.get(), dest, raw_size, compressed.data(), compressed.size());
    return !ZSTD_isError(n) && n == raw_size;
  }
};

// For tools that read stores written with any policy (kvctl, a backup reader): reads blocks of
// every codec above, links all three libraries, and writes new blocks raw. Open a store with it
// only to read it, or to rewrite it uncompressed.
struct ReadAnyCompression {
  static constexpr uint8_t kCodecId = 0xff;  // Never recorded: Compress stores every block raw.
  static constexpr absl::string_view Name() { return "any (reads snappy, lz4, zstd; writes raw)"; }
  static bool Compress(absl::string_view, std::string*) { return false; }
  static bool Decompress(absl::string_view, char*, size_t) { return false; }
  static bool DecompressCodec(uint8_t id, absl::string_view compressed, char* dest,
                              size_t raw_size) {
    switch (id) {
      case Snappy::kCodecId: return Snappy::Decompress(compressed, dest, raw_size);
      case Lz4::kCodecId: return Lz4::Decompress(compressed, dest, raw_size);
      case Zstd<>::kCodecId: return Zstd<>::Decompress(compressed, dest, raw_size);
      default: return false;
    }
  }
};

static_assert(CompressionPolicy<Snappy> && CompressionPolicy<Lz4> && CompressionPolicy<Zstd<>> &&
              CompressionPolicy<ReadAnyCompression>);

}  // namespace kvstore

#endif  // KVSTORE_COMPRESSION_H_
