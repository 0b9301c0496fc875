// Segments: the immutable sorted files a MemTable is flushed into and compaction merges.
//
// A segment holds versions of keys in key order, newest version first, cut into data blocks of
// about Options::block_bytes; then its filter, its index (the last version of every block) and a
// fixed-size footer. Every part carries its own checksum. The filter and the index are loaded into
// memory when the segment opens, so a lookup costs one filter probe and, only if the filter says
// "maybe", one block read. Byte-level layout: docs/format.md.
#ifndef KVSTORE_INTERNAL_SEGMENT_H_
#define KVSTORE_INTERNAL_SEGMENT_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/block_cache.h"
#include "kvstore/internal/block_codec.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/large_allocator.h"
#include "kvstore/status.h"

namespace kvstore::internal {

inline constexpr uint64_t kSegmentMagic = 0x314745536b76736bULL;  // "kvskSEG1" little-endian
inline constexpr size_t kSegmentFooterBytes = 8 * 4 + 4 + 8 + 8;
inline constexpr size_t kBlockTrailerBytes = 4 + 4 + 8;  // prefix length, record count, checksum
// The high bit of a block's record count: its record offsets are fixed32, not fixed16.
inline constexpr uint32_t kWideOffsetsFlag = uint32_t{1} << 31;
// In the same word, bit 30 marks a compressed block; no raw block has 2^30 records. A compressed
// block is the codec's output for the block's compact form (records, prefix, fixed32 prefix
// length, fixed32 count word: the offsets and fingerprints are rebuilt from the records when it
// is read, as 6 bytes a record that would barely compress), then fixed32 the output's size,
// fixed32 the compact form's size, fixed32 (this flag | codec id) and the checksum of all that.
// The word sits where a raw block's record count does, and the sizes let a scan that finds the
// trailer (Repair) find the block's start.
inline constexpr uint32_t kCompressedBlockFlag = uint32_t{1} << 30;
inline constexpr size_t kCompressedTrailerBytes = 4 + 4 + 4 + 8;
// The largest raw block a compressed block may claim (a damaged size must not become a huge
// allocation); a block is about Options::block_bytes plus one record.
inline constexpr uint32_t kMaxRawBlockBytes = uint32_t{1} << 30;

// How a segment reads compressed blocks: the store's codec (null: NoCompression) and the cache
// of decompressed blocks (null: none).
struct BlockDecoding {
  const BlockCodec* codec = nullptr;
  std::shared_ptr<BlockCache> cache;
};

// Bytes `a` and `b` have in common at their start.
inline size_t SharedPrefixLength(absl::string_view a, absl::string_view b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// How `key` sorts against keys that all start with `common`: negative if before all of them,
// positive if after all of them, 0 if it starts with `common` too.
inline int CompareWithSharedPrefix(absl::string_view key, absl::string_view common) {
  const int c = key.substr(0, common.size()).compare(common);
  return c != 0 ? c : (key.size() < common.size() ? -1 : 0);
}

// a == b, for the few bytes of a key after its block's prefix. Reads only those bytes: memcmp's
// wide loads reach past them into the value that follows, which a scan would otherwise never
// touch (measured: a cache miss per entry with 1000-byte values, a quarter of a scan's time).
inline bool SameShortBytes(absl::string_view a, absl::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.size() > 16) return a == b;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

// Key bytes [from, from + n) (n <= 8) as a big-endian number, missing bytes as zeros: numbers
// taken at the same offset order like the keys, ties aside.
inline uint64_t KeyBytesAsNumber(absl::string_view key, size_t from, size_t n) {
  uint64_t number = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t at = from + i;
    number = (number << 8) | (at < key.size() ? static_cast<uint8_t>(key[at]) : 0);
  }
  return number;
}

// The 4 key bytes after the `shared` bytes every key of a block has in common, as a big-endian
// number, zero-padded. For keys with that common prefix, fingerprints order like the keys (a
// smaller fingerprint means a smaller key), so a block is searched in its dense fingerprint array
// and only records with the searched fingerprint are read: one cache line of records, not one per
// step of a binary search.
inline uint32_t KeyFingerprint(absl::string_view key, size_t shared) {
  if (key.size() >= shared + 4) {  // Every block read computes one per record: no loop then.
    const auto* p = reinterpret_cast<const uint8_t*>(key.data() + shared);
    return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  }
  return static_cast<uint32_t>(KeyBytesAsNumber(key, shared, 4));
}

// Salts keep a checksum of one part of a file from validating as another part.
inline constexpr uint64_t kDataBlockSalt = 0xD;
inline constexpr uint64_t kFilterSalt = 0xF;
inline constexpr uint64_t kIndexSalt = 0x1;
inline constexpr uint64_t kFooterSalt = 0xE;

// What a segment says about itself; also what the manifest records for it.
struct SegmentInfo {
  uint64_t number = 0;
  uint64_t file_bytes = 0;
  uint64_t num_entries = 0;
  uint64_t num_deletions = 0;
  uint64_t min_sequence = 0;
  uint64_t max_sequence = 0;
  std::string smallest_key;
  std::string largest_key;
};

// Whether a stored data block (checksum included) is compressed.
inline bool IsCompressedBlock(absl::string_view stored) {
  return stored.size() >= kCompressedTrailerBytes &&
         (DecodeFixed32(stored.data() + stored.size() - 12) & kCompressedBlockFlag) != 0;
}

// In a compact form's count word, bit 30 (never set in a raw block's) says its records are split
// in two columns: first every record's head (key length, value length, key bytes, tag), then
// every value. Compressors then meet like with like: the heads of a block share most of their
// bytes, and values share theirs with other values (measured on 100-byte values that compress to
// half: files 2.0% smaller with Snappy, 2.8% with LZ4, 6.7% with Zstd).
inline constexpr uint32_t kSplitColumnsFlag = uint32_t{1} << 30;

// In a compressed block's trailer word, bit 29 marks a block compressed in parts (format 6, for
// codecs with kValueGroupBytes): the head part (every record's head, then the prefix, fixed32
// prefix length and fixed32 count word, as a split compact form ends) and then the values in
// groups of about `group bytes`, each part compressed on its own (or stored raw if that does not
// shrink it by an eighth). Before the parts, a directory: varint the head part's size, varint
// group bytes, varint the number of parts, then per part varint (stored size << 1 | compressed).
// A lookup then reads the heads and decompresses one group of values, not the whole block.
inline constexpr uint32_t kPartedBlockFlag = uint32_t{1} << 29;

// Asks the CPU for every cache line of `bytes`.
inline void PrefetchBytes(absl::string_view bytes) {
  for (size_t i = 0; i < bytes.size(); i += 64) __builtin_prefetch(bytes.data() + i);
  if (!bytes.empty()) __builtin_prefetch(bytes.data() + bytes.size() - 1);
}

// Whether a stored compressed block (checksum included) is compressed in parts.
inline bool IsPartedBlock(absl::string_view stored) {
  return (DecodeFixed32(stored.data() + stored.size() - 12) & kPartedBlockFlag) != 0;
}

// Cuts a block's values, in order, into groups: a group ends with the value that brings it to
// `group_bytes` or more, and the last group holds what is left. The writer and every reader cut
// alike, so a group's size is known from the heads without being stored.
class ValueGroupCutter {
 public:
  explicit ValueGroupCutter(uint64_t group_bytes) : group_bytes_(group_bytes) {}
  // Adds the next value: the size of the group it completes, or 0 while its group goes on.
  uint64_t Add(uint64_t value_size) {
    filled_ += value_size;
    if (filled_ < group_bytes_) return 0;
    const uint64_t group = filled_;
    filled_ = 0;
    return group;
  }
  // The bytes of the group still open: after the last value, the last group's size (0: none).
  uint64_t open() const { return filled_; }

 private:
  uint64_t group_bytes_;
  uint64_t filled_ = 0;
};

// Parses the next record head of a split compact form's heads column: its key bytes (after the
// block's prefix), value size and tag. False if it does not parse.
inline bool NextRecordHead(absl::string_view* heads, absl::string_view* key_suffix,
                           uint64_t* value_size, uint64_t* tag) {
  uint64_t suffix_size;
  if (!GetVarint64(heads, &suffix_size) || !GetVarint64(heads, value_size) ||
      suffix_size > heads->size()) {
    return false;
  }
  *key_suffix = heads->substr(0, suffix_size);
  heads->remove_prefix(suffix_size);
  return GetVarint64(heads, tag);
}

// Where the parts of a block compressed in parts lie (see kPartedBlockFlag).
struct PartedBlockLayout {
  struct Part {
    absl::string_view stored;
    bool compressed;
  };
  uint64_t head_size = 0;    // The head part's size, decompressed.
  uint64_t group_bytes = 0;  // For ValueGroupCutter.
  std::vector<Part> parts;   // The head part, then each group of values.
};

// Parses the directory of a parted block's payload (the stored block without its trailer). False
// if it does not parse, or its parts do not tile the payload after it.
inline bool ParsePartedBlock(absl::string_view payload, PartedBlockLayout* layout) {
  layout->parts.clear();
  uint64_t count;
  if (!GetVarint64(&payload, &layout->head_size) || !GetVarint64(&payload, &layout->group_bytes) ||
      !GetVarint64(&payload, &count) || layout->group_bytes == 0 || layout->head_size < 8 ||
      layout->head_size > kMaxRawBlockBytes || count == 0 || count > payload.size()) {
    return false;
  }
  uint64_t total = 0;
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t entry;
    if (!GetVarint64(&payload, &entry)) return false;
    layout->parts.push_back({absl::string_view(nullptr, entry >> 1), (entry & 1) != 0});
    total += entry >> 1;
    if (total > payload.size()) return false;
  }
  if (total != payload.size()) return false;
  for (PartedBlockLayout::Part& part : layout->parts) {
    const size_t size = part.stored.size();
    part.stored = payload.substr(0, size);
    payload.remove_prefix(size);
  }
  return layout->parts[0].compressed || layout->parts[0].stored.size() == layout->head_size;
}

// Decompresses `compressed`, written by codec `id`, into exactly `raw_size` bytes at `dest` with
// the store's `codec` (which may read several codecs; see BlockCodec::decompress_codec).
inline bool DecompressWith(const BlockCodec& codec, uint8_t id, absl::string_view compressed,
                           char* dest, size_t raw_size) {
  return codec.decompress_codec != nullptr ? codec.decompress_codec(id, compressed, dest, raw_size)
                                           : codec.decompress(compressed, dest, raw_size);
}

// Decompresses (or copies, if stored raw) one part of a parted block into exactly `raw_size`
// bytes at `dest`.
inline bool DecodeBlockPart(const BlockCodec& codec, uint8_t id, const PartedBlockLayout::Part& part,
                            size_t raw_size, char* dest) {
  if (!part.compressed) {
    if (part.stored.size() != raw_size) return false;
    std::memcpy(dest, part.stored.data(), raw_size);
    return true;
  }
  return DecompressWith(codec, id, part.stored, dest, raw_size);
}

// The raw block (records, prefix, offsets, fingerprints, trailer, a zero checksum) of a compact form
// (records, whole or split in columns, prefix, fixed32 prefix length, fixed32 count word). False
// if the records do not parse as exactly `count` records filling their space.
inline bool RebuildBlock(absl::string_view compact, std::string* raw) {
  if (compact.size() < 8) return false;
  const uint32_t shared = DecodeFixed32(compact.data() + compact.size() - 8);
  const uint32_t compact_word = DecodeFixed32(compact.data() + compact.size() - 4);
  const bool split = (compact_word & kSplitColumnsFlag) != 0;
  const uint32_t word = compact_word & ~kSplitColumnsFlag;
  const uint64_t count = word & ~kWideOffsetsFlag;
  const bool wide = (word & kWideOffsetsFlag) != 0;
  if (count == 0 || shared > compact.size() - 8 || count > compact.size()) return false;
  const size_t records_end = compact.size() - 8 - shared;
  // The raw block has the compact form's records and prefix, at the same size, then the tables.
  const size_t offset_bytes = wide ? 4 : 2;
  raw->resize(records_end + shared + count * (offset_bytes + 4) + kBlockTrailerBytes);
  char* const offsets = raw->data() + records_end + shared;
  char* const fingerprints = offsets + count * offset_bytes;
  // Pass 1 walks the heads, writing each record's offset and fingerprint; a split form's values
  // start where its heads end, known only after it. Whole records are copied at once.
  struct SplitRecord {
    uint32_t head_end;  // In compact.
    uint32_t value_size;
  };
  thread_local std::vector<SplitRecord> split_records;
  split_records.clear();
  absl::string_view in = compact.substr(0, records_end);
  uint64_t offset = 0;  // Of the record in the raw block.
  for (uint64_t i = 0; i < count; ++i) {
    if (!wide && offset > 0xffff) return false;
    if (wide) {
      EncodeFixed32(offsets + 4 * i, static_cast<uint32_t>(offset));
    } else {
      offsets[2 * i] = static_cast<char>(offset);
      offsets[2 * i + 1] = static_cast<char>(offset >> 8);
    }
    const size_t head_start = records_end - in.size();
    absl::string_view key_suffix;
    uint64_t value_size, tag;
    if (!NextRecordHead(&in, &key_suffix, &value_size, &tag) || value_size > records_end) return false;
    EncodeFixed32(fingerprints + 4 * i, KeyFingerprint(key_suffix, 0));
    if (split) {
      split_records.push_back(
          {static_cast<uint32_t>(records_end - in.size()), static_cast<uint32_t>(value_size)});
    } else {
      if (value_size > in.size()) return false;
      in.remove_prefix(value_size);
    }
    offset += records_end - in.size() - head_start + (split ? value_size : 0);
  }
  // Every record parsed and their sizes add up to the records' space: the values column, if
  // any, is what remains after the heads.
  if (offset != records_end) return false;
  char* out = raw->data();
  if (split) {
    const char* head = compact.data();
    const char* value = compact.data() + split_records.back().head_end;
    for (const SplitRecord& record : split_records) {
      const size_t head_size = compact.data() + record.head_end - head;
      std::memcpy(out, head, head_size);
      out += head_size;
      head += head_size;
      std::memcpy(out, value, record.value_size);
      out += record.value_size;
      value += record.value_size;
    }
    std::memcpy(out, compact.data() + records_end, shared);
  } else {
    std::memcpy(out, compact.data(), records_end + shared);
  }
  char* trailer = raw->data() + raw->size() - kBlockTrailerBytes;
  EncodeFixed32(trailer, shared);
  EncodeFixed32(trailer + 4, word);
  // The checksum is left zero: the stored bytes it came from were verified, and nothing checks a
  // rebuilt block's (hashing it cost 6% of a read that decompresses).
  EncodeFixed64(trailer + 8, 0);
  return true;
}

// Checks a stored compressed block's trailer against the store's codec (null: NoCompression):
// FailedPrecondition if the codec cannot read the block's, DataLoss (naming the block by what())
// if the trailer does not hold together. Sets the compact form's size and the block's codec id.
inline absl::Status CheckCompressedTrailer(absl::string_view stored, const BlockCodec* codec,
                                           absl::FunctionRef<std::string()> what,
                                           uint32_t* compact_size, uint8_t* id) {
  const size_t size = stored.size();
  if (size < kCompressedTrailerBytes ||
      DecodeFixed32(stored.data() + size - 20) != size - kCompressedTrailerBytes) {
    return absl::DataLossError(absl::StrCat(what(), ": compressed block does not fill its extent"));
  }
  *compact_size = DecodeFixed32(stored.data() + size - 16);
  *id = static_cast<uint8_t>(DecodeFixed32(stored.data() + size - 12) & 0xff);
  if (codec == nullptr || (codec->decompress_codec == nullptr && codec->id != *id)) {
    return absl::FailedPreconditionError(absl::StrCat(
        what(), " is compressed with ", CodecName(*id), ", and this store was opened with compression \"",
        codec == nullptr ? "none" : std::string(codec->name),
        "\"; open it with the Compression policy it was written with (kvstore/compression.h)"));
  }
  if (*compact_size < 8 || *compact_size > kMaxRawBlockBytes) {
    return absl::DataLossError(absl::StrCat(what(), ": compressed block claims a size of ", *compact_size));
  }
  return absl::OkStatus();
}

// The compact form (split in columns) of a block compressed in parts, into *compact. False if the
// parts do not decompress or do not add up to the block the heads describe.
inline bool DecompressParts(absl::string_view payload, const BlockCodec& codec, uint8_t id,
                            uint32_t compact_size, std::string* compact) {
  thread_local PartedBlockLayout layout;
  thread_local std::string head;
  if (!ParsePartedBlock(payload, &layout) || layout.head_size > compact_size) return false;
  head.resize(layout.head_size);
  if (!DecodeBlockPart(codec, id, layout.parts[0], head.size(), head.data())) return false;
  const uint32_t shared = DecodeFixed32(head.data() + head.size() - 8);
  const uint32_t word = DecodeFixed32(head.data() + head.size() - 4);
  if (shared > head.size() - 8 || (word & kSplitColumnsFlag) == 0) return false;
  // The compact form: the heads, the values (the groups, in order), the head part's tail.
  const size_t heads_size = head.size() - 8 - shared;
  const size_t values_size = compact_size - head.size();
  compact->resize(compact_size);
  std::memcpy(compact->data(), head.data(), heads_size);
  std::memcpy(compact->data() + heads_size + values_size, head.data() + heads_size, head.size() - heads_size);
  absl::string_view heads(head.data(), heads_size);
  ValueGroupCutter cutter(layout.group_bytes);
  size_t part = 1, filled = 0;
  auto decode_group = [&](uint64_t group_size) {
    if (part >= layout.parts.size() || group_size > values_size - filled) return false;
    if (!DecodeBlockPart(codec, id, layout.parts[part], group_size, compact->data() + heads_size + filled)) {
      return false;
    }
    ++part;
    filled += group_size;
    return true;
  };
  const uint64_t count = word & ~(kSplitColumnsFlag | kWideOffsetsFlag);
  for (uint64_t i = 0; i < count; ++i) {
    absl::string_view key_suffix;
    uint64_t value_size, tag;
    if (!NextRecordHead(&heads, &key_suffix, &value_size, &tag)) return false;
    if (const uint64_t group = cutter.Add(value_size); group != 0 && !decode_group(group)) return false;
  }
  if (cutter.open() != 0 && !decode_group(cutter.open())) return false;
  // RebuildBlock checks that the heads parse as `count` records filling the records' space.
  return heads.empty() && part == layout.parts.size() && filled == values_size;
}

// Decompresses a stored compressed block, whose checksum has been verified, into *raw (the raw
// block; see RebuildBlock). FailedPrecondition if `codec` (null: NoCompression) is not the one
// the block names; DataLoss, with what() naming the block, if it does not decompress.
inline absl::Status DecompressBlock(absl::string_view stored, const BlockCodec* codec,
                                    absl::FunctionRef<std::string()> what, std::string* raw) {
  uint32_t compact_size;
  uint8_t id;
  KV_RETURN_IF_ERROR(CheckCompressedTrailer(stored, codec, what, &compact_size, &id));
  thread_local std::string compact;
  const absl::string_view payload = stored.substr(0, stored.size() - kCompressedTrailerBytes);
  if (IsPartedBlock(stored)) {
    if (!DecompressParts(payload, *codec, id, compact_size, &compact)) {
      return absl::DataLossError(absl::StrCat(what(), " does not decompress with ", codec->name));
    }
  } else {
    compact.resize(compact_size);
    if (!DecompressWith(*codec, id, payload, compact.data(), compact_size)) {
      return absl::DataLossError(absl::StrCat(what(), " does not decompress with ", codec->name));
    }
  }
  if (!RebuildBlock(compact, raw)) {
    return absl::DataLossError(absl::StrCat(what(), ": decompressed records do not parse"));
  }
  return absl::OkStatus();
}

// Reads a segment's index entries in order: each block's last key and tag, and where the block
// lies. Format 5 writes an entry as varint the bytes its key shares with the previous entry's,
// the rest length-prefixed, varint tag, varint block size: blocks tile the data, so a block
// starts where the one before ends. (Format 4 wrote the key whole, fixed64 tag, fixed64 offset
// and fixed32 size: 37 bytes a block for 16-byte keys, against about 8.)
class IndexEntryReader {
 public:
  IndexEntryReader(absl::string_view entries, uint32_t version) : in_(entries), version_(version) {}

  // The fewest bytes an entry takes: a block count that would need more is corruption, and must
  // not become a huge allocation.
  static size_t MinEntryBytes(uint32_t version) { return version == 4 ? 1 + 8 + 8 + 4 : 4; }

  // False if the next entry does not parse. *key stays valid until the next call.
  bool Next(absl::string_view* key, uint64_t* tag, uint64_t* offset, uint64_t* size) {
    if (version_ == 4) {
      uint32_t size32;
      if (!GetLengthPrefixed(&in_, key) || !GetFixed64(&in_, tag) || !GetFixed64(&in_, offset) ||
          !GetFixed32(&in_, &size32)) {
        return false;
      }
      *size = size32;
      return true;
    }
    uint64_t shared;
    absl::string_view rest;
    if (!GetVarint64(&in_, &shared) || shared > key_.size() || !GetLengthPrefixed(&in_, &rest) ||
        !GetVarint64(&in_, tag) || !GetVarint64(&in_, size) || *size > kMaxBlockExtent) {
      return false;
    }
    key_.resize(shared);
    key_.append(rest.data(), rest.size());
    *key = key_;
    *offset = next_offset_;
    next_offset_ += *size;
    return true;
  }

  bool done() const { return in_.empty(); }

 private:
  // Larger than any block; keeps the running offset far from overflow.
  static constexpr uint64_t kMaxBlockExtent = uint64_t{1} << 48;

  absl::string_view in_;
  uint32_t version_;
  std::string key_;
  uint64_t next_offset_ = 0;
};

// Whether a filter policy builds into a MidBlockString too, not only into a std::string (which is
// all FilterPolicy asks for), so that a large filter can be built in a mapping of its own.
template <typename Filter>
inline constexpr bool kFilterBuildsIntoMidBlockString =
    requires(absl::Span<const uint64_t> hashes, MidBlockString* out) { Filter::Build(hashes, out); };

// Writes a segment. Versions must arrive in order (key ascending, newest first).
template <typename Filter>
class SegmentBuilder {
 public:
  // `expected_keys`, if known, sizes the key hash list once (a merge of large inputs would
  // otherwise regrow it, copying, to twice its size).
  // With a `codec`, each data block that shrinks by at least an eighth is stored compressed.
  SegmentBuilder(WritableFile* file, size_t block_bytes, size_t expected_keys = 0,
                 const BlockCodec* codec = nullptr)
      : file_(file), block_bytes_(block_bytes), codec_(codec) {
    key_hashes_.reserve(expected_keys);
  }

  absl::Status Add(absl::string_view key, uint64_t tag, absl::string_view value) {
    const bool new_key = info_.num_entries == 0 || key != last_key_;
    if (new_key) key_hashes_.push_back(HashKey(key));
    record_offsets_.push_back(static_cast<uint32_t>(block_.size()));
    PutVarint64(&block_, key.size());
    PutVarint64(&block_, value.size());
    record_keys_.push_back({static_cast<uint32_t>(block_.size()), static_cast<uint32_t>(key.size())});
    record_value_sizes_.push_back(static_cast<uint32_t>(value.size()));
    block_.append(key.data(), key.size());
    PutVarint64(&block_, tag);
    block_.append(value.data(), value.size());

    if (info_.num_entries == 0) {
      info_.smallest_key.assign(key.data(), key.size());
      info_.min_sequence = info_.max_sequence = TagSequence(tag);
    }
    info_.min_sequence = std::min(info_.min_sequence, TagSequence(tag));
    info_.max_sequence = std::max(info_.max_sequence, TagSequence(tag));
    ++info_.num_entries;
    if (TagKind(tag) == EntryKind::kDeletion) ++info_.num_deletions;
    if (new_key) last_key_.assign(key.data(), key.size());
    last_tag_ = tag;
    if (block_.size() >= block_bytes_) return FinishBlock();
    return absl::OkStatus();
  }

  uint64_t num_entries() const { return info_.num_entries; }
  uint64_t bytes_written() const { return offset_ + block_.size(); }

  // Writes filter, index and footer. The caller syncs and closes the file.
  absl::StatusOr<SegmentInfo> Finish() {
    KV_RETURN_IF_ERROR(FinishBlock());
    info_.largest_key = last_key_;

    const uint64_t filter_offset = offset_;
    using FilterBytes =
        std::conditional_t<kFilterBuildsIntoMidBlockString<Filter>, MidBlockString, std::string>;
    KV_ASSIGN_OR_RETURN(const uint64_t filter_size, WriteFilter<FilterBytes>());

    MidBlockString index;
    PutLengthPrefixed(&index, Filter::Name());
    PutFixed64(&index, info_.num_entries);
    PutFixed64(&index, info_.num_deletions);
    PutFixed64(&index, info_.min_sequence);
    PutFixed64(&index, info_.max_sequence);
    PutLengthPrefixed(&index, info_.smallest_key);
    PutLengthPrefixed(&index, info_.largest_key);
    PutFixed32(&index, num_blocks_);
    index += index_entries_;
    PutFixed64(&index, Checksum(index, kIndexSalt));
    const uint64_t index_offset = offset_;
    KV_RETURN_IF_ERROR(Write(index));

    std::string footer;
    PutFixed64(&footer, filter_offset);
    PutFixed64(&footer, filter_size);
    PutFixed64(&footer, index_offset);
    PutFixed64(&footer, index.size());
    PutFixed32(&footer, kFormatVersion);
    PutFixed64(&footer, kSegmentMagic);
    PutFixed64(&footer, Checksum(footer, kFooterSalt));
    KV_RETURN_IF_ERROR(Write(footer));
    info_.file_bytes = offset_;
    return info_;
  }

 private:
  absl::Status FinishBlock() {
    if (record_offsets_.empty()) return absl::OkStatus();
    auto key_at = [this](const std::pair<uint32_t, uint32_t>& k) {
      return absl::string_view(block_.data() + k.first, k.second);
    };
    // Keys are sorted, so what the first and the last share, every key of the block shares. It is
    // stored once, and each record keeps only the bytes after it: keys with a common beginning
    // (zero-padded numbers, a table name) then cost their distinct bytes only.
    const size_t shared = SharedPrefixLength(key_at(record_keys_.front()), key_at(record_keys_.back()));
    fingerprints_.clear();
    for (const auto& k : record_keys_) fingerprints_.push_back(KeyFingerprint(key_at(k), shared));
    if (shared > 0) StripSharedPrefix(shared);
    const size_t records_and_prefix = block_.size();
    const bool wide = record_offsets_.back() > 0xffff;
    for (uint32_t offset : record_offsets_) {
      if (wide) {
        PutFixed32(&block_, offset);
      } else {
        PutFixed16(&block_, static_cast<uint16_t>(offset));
      }
    }
    for (uint32_t fingerprint : fingerprints_) PutFixed32(&block_, fingerprint);
    PutFixed32(&block_, static_cast<uint32_t>(shared));
    PutFixed32(&block_, static_cast<uint32_t>(record_offsets_.size()) | (wide ? kWideOffsetsFlag : 0));
    PutFixed64(&block_, Checksum(block_, kDataBlockSalt));
    const std::string& stored = Compress(records_and_prefix);

    const size_t shared_with_previous = SharedPrefixLength(previous_index_key_, last_key_);
    PutVarint64(&index_entries_, shared_with_previous);
    PutLengthPrefixed(&index_entries_, absl::string_view(last_key_).substr(shared_with_previous));
    PutVarint64(&index_entries_, last_tag_);
    PutVarint64(&index_entries_, stored.size());
    previous_index_key_ = last_key_;
    ++num_blocks_;

    KV_RETURN_IF_ERROR(Write(stored));
    block_.clear();
    record_offsets_.clear();
    record_keys_.clear();
    record_value_sizes_.clear();
    return absl::OkStatus();
  }

  // The block as stored: compressed_ if the codec shrank block_ by an eighth or more (what
  // LevelDB asks too: less is not worth a decompression per read), else block_ itself.
  // `records_and_prefix`: where block_'s offsets start.
  const std::string& Compress(size_t records_and_prefix) {
    if (codec_ == nullptr || block_.size() > kMaxRawBlockBytes) return block_;
    // The compact form: the records split in heads and values, the prefix, then the trailer's
    // two words.
    const char* trailer = block_.data() + block_.size() - kBlockTrailerBytes;
    const uint32_t shared = DecodeFixed32(trailer), word = DecodeFixed32(trailer + 4);
    const size_t records_end = records_and_prefix - shared;
    compact_.clear();
    values_.clear();
    for (size_t i = 0; i < record_offsets_.size(); ++i) {
      const size_t end = i + 1 < record_offsets_.size() ? record_offsets_[i + 1] : records_end;
      const size_t value_start = end - record_value_sizes_[i];
      compact_.append(block_.data() + record_offsets_[i], value_start - record_offsets_[i]);
      values_.append(block_.data() + value_start, record_value_sizes_[i]);
    }
    if (codec_->value_group_bytes > 0) return CompressInParts(records_end, shared, word);
    compact_ += values_;
    compact_.append(block_.data() + records_end, shared);
    PutFixed32(&compact_, shared);
    PutFixed32(&compact_, word | kSplitColumnsFlag);
    compressed_.clear();
    if (!codec_->compress(compact_, &compressed_) ||
        compressed_.size() + kCompressedTrailerBytes > block_.size() - block_.size() / 8) {
      return block_;
    }
    PutFixed32(&compressed_, static_cast<uint32_t>(compressed_.size()));
    PutFixed32(&compressed_, static_cast<uint32_t>(compact_.size()));
    PutFixed32(&compressed_, kCompressedBlockFlag | codec_->id);
    PutFixed64(&compressed_, Checksum(compressed_, kDataBlockSalt));
    return compressed_;
  }

  // Compress's work for a codec with value groups (see kPartedBlockFlag), once compact_ holds the
  // heads and values_ the values.
  const std::string& CompressInParts(size_t records_end, uint32_t shared, uint32_t word) {
    compact_.append(block_.data() + records_end, shared);
    PutFixed32(&compact_, shared);
    PutFixed32(&compact_, word | kSplitColumnsFlag);
    parts_.clear();
    part_sizes_.clear();
    bool any_compressed = false;
    auto add_part = [&](absl::string_view part) {
      const size_t start = parts_.size();
      const bool compressed = codec_->compress(part, &parts_) &&
                              parts_.size() - start <= part.size() - part.size() / 8;
      if (!compressed) {
        parts_.resize(start);
        parts_.append(part.data(), part.size());
      }
      part_sizes_.push_back(((parts_.size() - start) << 1) | (compressed ? 1 : 0));
      any_compressed |= compressed;
    };
    add_part(compact_);
    ValueGroupCutter cutter(codec_->value_group_bytes);
    size_t group_start = 0;
    for (uint32_t value_size : record_value_sizes_) {
      if (const uint64_t group = cutter.Add(value_size); group != 0) {
        add_part(absl::string_view(values_).substr(group_start, group));
        group_start += group;
      }
    }
    if (cutter.open() != 0) add_part(absl::string_view(values_).substr(group_start));
    if (!any_compressed) return block_;
    compressed_.clear();
    PutVarint64(&compressed_, compact_.size());
    PutVarint64(&compressed_, codec_->value_group_bytes);
    PutVarint64(&compressed_, part_sizes_.size());
    for (uint64_t entry : part_sizes_) PutVarint64(&compressed_, entry);
    compressed_ += parts_;
    if (compressed_.size() + kCompressedTrailerBytes > block_.size() - block_.size() / 8) return block_;
    PutFixed32(&compressed_, static_cast<uint32_t>(compressed_.size()));
    PutFixed32(&compressed_, static_cast<uint32_t>(compact_.size() + values_.size()));
    PutFixed32(&compressed_, kCompressedBlockFlag | kPartedBlockFlag | codec_->id);
    PutFixed64(&compressed_, Checksum(compressed_, kDataBlockSalt));
    return compressed_;
  }

  // Rewrites the records in block_ with their keys' first `shared` bytes left out, followed by
  // those bytes once (the block's prefix), and updates record_offsets_ to match.
  void StripSharedPrefix(size_t shared) {
    stripped_.clear();
    for (size_t i = 0; i < record_offsets_.size(); ++i) {
      const auto [key_offset, key_size] = record_keys_[i];
      // The record's header: the key length (written anew, shorter), then the value length.
      absl::string_view header(block_.data() + record_offsets_[i], key_offset - record_offsets_[i]);
      uint64_t old_key_size = 0;
      GetVarint64(&header, &old_key_size);
      const size_t record_end = i + 1 < record_offsets_.size() ? record_offsets_[i + 1] : block_.size();
      record_offsets_[i] = static_cast<uint32_t>(stripped_.size());
      PutVarint64(&stripped_, key_size - shared);
      stripped_.append(header.data(), header.size());
      // The key's distinct bytes, then its tag and value as they were.
      stripped_.append(block_.data() + key_offset + shared, record_end - key_offset - shared);
    }
    stripped_.append(block_.data() + record_keys_.front().first, shared);
    block_.swap(stripped_);
  }

  // Builds and writes the filter and its checksum; returns the bytes written. The checksum goes
  // in a write of its own: appended to the filter, it would grow the filter's buffer to twice its
  // size, copying it.
  template <typename Bytes>
  absl::StatusOr<uint64_t> WriteFilter() {
    Bytes filter;
    Filter::Build(absl::Span<const uint64_t>(key_hashes_), &filter);
    std::string checksum;
    PutFixed64(&checksum, Checksum(filter, kFilterSalt));
    KV_RETURN_IF_ERROR(Write(filter));
    KV_RETURN_IF_ERROR(Write(checksum));
    return filter.size() + checksum.size();
  }

  absl::Status Write(absl::string_view bytes) {
    KV_RETURN_IF_ERROR(file_->Append(bytes));
    offset_ += bytes.size();
    return absl::OkStatus();
  }

  WritableFile* file_;
  size_t block_bytes_;
  const BlockCodec* codec_;
  uint64_t offset_ = 0;
  std::string block_;
  std::string compact_;     // block_'s compact form, the compressor's input
  std::string compressed_;  // block_ compressed, when it is stored so
  std::string values_;      // the values of block_'s records, for the compact form
  std::string parts_;       // a block compressed in parts, after its directory
  std::vector<uint64_t> part_sizes_;  // its parts' directory entries
  std::vector<uint32_t> record_offsets_;
  std::vector<std::pair<uint32_t, uint32_t>> record_keys_;  // offset and size of each key in block_
  std::vector<uint32_t> record_value_sizes_;                // the size of each record's value
  std::vector<uint32_t> fingerprints_;                      // of the block being finished
  std::string stripped_;                                    // block_ without the shared prefix
  MidBlockString index_entries_;
  std::string previous_index_key_;  // The last key of the block before, in index_entries_
  uint32_t num_blocks_ = 0;
  MidBlockVector<uint64_t> key_hashes_;
  std::string last_key_;
  uint64_t last_tag_ = 0;
  SegmentInfo info_;
};

// One record of a data block, parsed.
struct Record {
  absl::string_view key;
  uint64_t tag = 0;
  absl::string_view value;
};

// One record of a data block as stored: its key without the prefix all keys of the block share.
struct StoredRecord {
  absl::string_view key_suffix;
  uint64_t tag = 0;
  absl::string_view value;
};

// A verified data block: records addressed by position.
class Block {
 public:
  Block() = default;

  // `bytes` must be a whole block whose checksum has been verified.
  static absl::StatusOr<Block> Parse(absl::string_view bytes) {
    Block block;
    if (bytes.size() < kBlockTrailerBytes) return absl::DataLossError("block too short");
    const size_t trailer = bytes.size() - kBlockTrailerBytes;
    const uint32_t count_word = DecodeFixed32(bytes.data() + trailer + 4);
    const uint64_t count = count_word & ~kWideOffsetsFlag;
    const uint64_t shared = DecodeFixed32(bytes.data() + trailer);
    block.offset_bytes_ = (count_word & kWideOffsetsFlag) != 0 ? 4 : 2;
    // 64-bit sums: neither a count nor a prefix length read from a damaged block can wrap them.
    const uint64_t tables = shared + count * (block.offset_bytes_ + 4);
    if (count == 0 || tables > trailer) return absl::DataLossError("bad record count");
    block.records_end_ = trailer - static_cast<size_t>(tables);
    block.prefix_ = bytes.substr(block.records_end_, static_cast<size_t>(shared));
    block.offsets_ = block.prefix_.data() + shared;
    block.fingerprints_ = block.offsets_ + count * block.offset_bytes_;
    block.count_ = static_cast<uint32_t>(count);
    block.data_ = bytes.data();
    return block;
  }

  uint32_t size() const { return count_; }

  // The bytes every key of the block starts with.
  absl::string_view prefix() const { return prefix_; }

  // Parses record i; false if the record does not fit its block.
  bool Get(uint32_t i, StoredRecord* record) const {
    const uint32_t offset = OffsetAt(i);
    if (offset >= records_end_) return false;
    absl::string_view in(data_ + offset, records_end_ - offset);
    uint64_t suffix_size, value_size;
    if (!GetVarint64(&in, &suffix_size) || !GetVarint64(&in, &value_size)) return false;
    if (suffix_size > in.size()) return false;
    record->key_suffix = in.substr(0, suffix_size);
    in.remove_prefix(suffix_size);
    if (!GetVarint64(&in, &record->tag) || value_size > in.size()) return false;
    record->value = in.substr(0, value_size);
    return true;
  }

  // Asks the CPU for record i's first bytes ahead of reading it.
  void Prefetch(uint32_t i) const {
    const uint32_t offset = OffsetAt(i);
    if (offset < records_end_) __builtin_prefetch(data_ + offset);
  }

  // Whether `record` (one of this block's) is a version of `key`.
  bool IsVersionOf(const StoredRecord& record, absl::string_view key) const {
    return key.size() == prefix_.size() + record.key_suffix.size() &&
           key.substr(prefix_.size()) == record.key_suffix && absl::StartsWith(key, prefix_);
  }

  // Position of the first record at or after (key, tag); size() if none. False if a record it
  // had to read does not parse.
  bool LowerBound(absl::string_view key, uint64_t tag, uint32_t* position) const {
    const int c = CompareWithSharedPrefix(key, prefix_);
    if (c != 0) {
      *position = c > 0 ? count_ : 0;
      return true;
    }
    const absl::string_view suffix = key.substr(prefix_.size());
    const uint32_t fingerprint = KeyFingerprint(suffix, 0);
    uint32_t lo = 0, hi = count_;
    while (lo < hi) {
      const uint32_t mid = lo + (hi - lo) / 2;
      if (FingerprintAt(mid) < fingerprint) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    // Only records with the same fingerprint can be equal to the key or straddle it.
    for (; lo < count_ && FingerprintAt(lo) == fingerprint; ++lo) {
      StoredRecord r;
      if (!Get(lo, &r)) return false;
      if (CompareVersions(r.key_suffix, r.tag, suffix, tag) >= 0) break;
    }
    *position = lo;
    return true;
  }

  // Whether record i's stored fingerprint and the block's prefix agree with its key and
  // `last_key` (as LowerBound relies on); for Verify.
  bool ConsistentAt(uint32_t i, const StoredRecord& record, absl::string_view last_key) const {
    return absl::StartsWith(last_key, prefix_) &&
           FingerprintAt(i) == KeyFingerprint(record.key_suffix, 0) &&
           (i == 0 || FingerprintAt(i - 1) <= FingerprintAt(i));
  }

 private:
  uint32_t OffsetAt(uint32_t i) const {
    return offset_bytes_ == 2 ? DecodeFixed16(offsets_ + size_t{i} * 2)
                              : DecodeFixed32(offsets_ + size_t{i} * 4);
  }
  uint32_t FingerprintAt(uint32_t i) const { return DecodeFixed32(fingerprints_ + size_t{i} * 4); }

  const char* data_ = nullptr;
  absl::string_view prefix_;
  const char* offsets_ = nullptr;
  const char* fingerprints_ = nullptr;
  size_t records_end_ = 0;
  uint32_t count_ = 0;
  uint32_t offset_bytes_ = 2;
};

// Files open in the process for Segment::SetUnmappedLookups, of segments of every Filter.
inline std::atomic<int> open_unmapped_segment_files{0};

// An open segment, shared by readers, iterators and compactions.
template <typename Filter>
class Segment {
 public:
  static absl::StatusOr<std::shared_ptr<Segment>> Open(Env* env, const std::string& dir,
                                                       uint64_t number,
                                                       BlockDecoding decoding = {}) {
    auto segment = std::shared_ptr<Segment>(new Segment);
    segment->env_ = env;
    segment->name_ = SegmentFileName(dir, number);
    segment->info_.number = number;
    segment->decoding_ = std::move(decoding);
    KV_ASSIGN_OR_RETURN(segment->file_, env->NewRandomAccessFile(segment->name_));
    KV_RETURN_IF_ERROR(segment->Load());
    return segment;
  }
  // Not copied or moved: filter_ may point into filter_storage_ (see ClippedBelow).
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  // This segment without its keys below `lower`, which must lie in its key range: what is left of
  // a compaction's input once the compaction's output holds everything before `lower`. The view
  // shares the file; info().smallest_key becomes `lower`, and no read, seek or step backwards
  // yields a key below it. (A key below it may have been dropped from the output, a deletion at
  // the bottom for one, so it must not be found here either.) num_entries is estimated by blocks.
  std::shared_ptr<const Segment> ClippedBelow(absl::string_view lower) const {
    auto view = std::shared_ptr<Segment>(new Segment);
    view->env_ = env_;
    view->name_ = name_;
    view->file_ = file_;
    view->unmapped_lookups_ = unmapped_lookups_;
    view->stable_views_ = stable_views_;
    view->info_ = info_;
    view->filter_storage_ = filter_storage_;
    view->filter_ = filter_storage_.empty() ? filter_ : absl::string_view(view->filter_storage_);
    view->index_keys_ = index_keys_;
    view->entries_ = entries_;
    view->sampled_prefixes_ = sampled_prefixes_;
    view->block_keys_ = block_keys_;
    view->index_shared_ = index_shared_;
    view->verified_ = verified_;
    view->decoding_ = decoding_;
    view->clipped_ = true;
    view->info_.smallest_key.assign(lower.data(), lower.size());
    const size_t n = num_blocks();
    if (n > 0) {
      const size_t first = std::min(FindBlock(lower, ~uint64_t{0}), n);
      view->info_.num_entries = info_.num_entries * (n - first) / n;
    }
    return view;
  }
  // Whether `lower` is a key ClippedBelow accepts: above the smallest key, at most the largest.
  bool CanClipBelow(absl::string_view lower) const {
    return info_.smallest_key < lower && !(info_.largest_key < lower);
  }
  // Whether this is a view made by ClippedBelow: it holds no key below info().smallest_key.
  bool clipped() const { return clipped_; }
  // For a clipped view, the file bytes before the block that holds its first key: the view never
  // reads them (0 otherwise).
  uint64_t BytesBelowClip() const {
    if (!clipped_ || num_blocks() == 0) return 0;
    return BlockOffset(std::min(FindBlock(info_.smallest_key, ~uint64_t{0}), num_blocks() - 1));
  }

  // While on, point lookups (Get) read this segment's blocks with Env::NewUnmappedRandomAccessFile
  // (pread) instead of through the mapping, verifying each read; iterators still read the
  // mapping, releasing the pages they have passed as a compaction's own cursors do (see
  // Cursor::LoadBlock). The engine turns it on for the segments of runs that newer runs largely
  // shadow (Engine::MarkShadowedRuns): every page a lookup touches in a mapping stays in the
  // process's RSS until the segment is unmapped, and the kernel maps the 64 KiB around each page
  // that faults. The views ClippedBelow makes share it. If the file cannot be opened again, or
  // kMaxUnmappedFiles are open in the process (each holds a descriptor until its segment is
  // gone: many shadowed segments must not use up the descriptors the store needs for its own
  // files), lookups keep the mapping.
  static constexpr int kMaxUnmappedFiles = 256;
  void SetUnmappedLookups(bool on) const {
    UnmappedLookups& u = *unmapped_lookups_;
    if (!on) {
      u.file.store(nullptr, std::memory_order_release);
      return;
    }
    if (!stable_views_ || env_ == nullptr) return;  // Lookups map nothing now.
    std::lock_guard<std::mutex> lock(u.mu);
    if (u.owned == nullptr) {
      if (open_unmapped_segment_files.fetch_add(1) >= kMaxUnmappedFiles) {
        open_unmapped_segment_files.fetch_sub(1);
        return;
      }
      auto opened = env_->NewUnmappedRandomAccessFile(name_);
      if (!opened.ok() || (*opened)->Size() != file_->Size()) {
        open_unmapped_segment_files.fetch_sub(1);
        return;
      }
      u.owned = std::move(*opened);
    }
    // What reads through the mapping made resident would stay so until the segment goes.
    if (u.file.exchange(u.owned.get(), std::memory_order_acq_rel) == nullptr) {
      file_->WillNotNeed(0, file_->Size());
    }
  }
  bool unmapped_lookups() const {
    return unmapped_lookups_->file.load(std::memory_order_acquire) != nullptr;
  }

  const SegmentInfo& info() const { return info_; }
  const std::string& file_name() const { return name_; }
  // The open file: readable even after another process deletes the name (Checkpoint copies it).
  const RandomAccessFile& file() const { return *file_; }
  size_t num_blocks() const { return block_keys_.size(); }
  // The last key of block b (from the index, in memory).
  absl::string_view BlockLastKey(size_t b) const {
    return absl::string_view(index_keys_.data() + block_keys_[b].key_offset, block_keys_[b].key_size);
  }

  // Bytes this segment keeps in memory for lookups: its filter and its index.
  size_t MemoryUsage() const {
    return filter_.size() + index_keys_.capacity() + entries_.capacity() * sizeof(BlockEntry) +
           sampled_prefixes_.capacity() * sizeof(uint64_t) + block_keys_.capacity() * sizeof(BlockKey);
  }

  bool MayContain(uint64_t key_hash) const { return Filter::MayContain(filter_, key_hash); }

  // Finds the newest version of `key` at or below `sequence`. On success `*found` tells whether
  // the segment has one; `record` views `key` and memory that lives as long as this segment, or
  // `*scratch`.
  absl::Status Get(absl::string_view key, uint64_t sequence, bool verify, std::string* scratch,
                   bool* found, Record* record) const {
    *found = false;
    if (clipped_ && key < info_.smallest_key) return absl::OkStatus();
    const uint64_t target = LookupTag(sequence);
    const size_t b = FindBlock(key, target);
    if (b == num_blocks()) return absl::OkStatus();
    BlockCache::Handle pin;
    StoredRecord r;
    absl::string_view stored;
    KV_RETURN_IF_ERROR(ReadStoredBlock(b, verify, scratch, &stored,
                                       unmapped_lookups_->file.load(std::memory_order_acquire)));
    if (IsCompressedBlock(stored) && IsPartedBlock(stored)) {
      bool has_version;
      KV_RETURN_IF_ERROR(FindInParts(b, stored, key, target, verify, scratch, &has_version, &r, &pin));
      if (!has_version) return absl::OkStatus();
    } else {
      if (IsCompressedBlock(stored)) {
        KV_ASSIGN_OR_RETURN(pin, Decompress(b, stored, verify));
        stored = *pin;
      }
      auto block = Block::Parse(stored);
      if (!block.ok()) return Corruption(absl::StrCat("block ", b, ": ", block.status().message()));
      uint32_t lo;
      if (!block->LowerBound(key, target, &lo)) {
        return Corruption(absl::StrCat("bad record in block ", b));
      }
      if (lo == block->size()) return absl::OkStatus();
      if (!block->Get(lo, &r)) return Corruption(absl::StrCat("bad record in block ", b));
      if (!block->IsVersionOf(r, key)) return absl::OkStatus();
    }
    if (!IsValidKind(static_cast<uint8_t>(r.tag & 0xff))) {
      return Corruption(absl::StrCat("unknown entry kind in block ", b));
    }
    record->key = key;
    record->tag = r.tag;
    record->value = r.value;
    if (pin != nullptr) {  // A decompressed block, which `pin` alone keeps: the value must outlive it.
      scratch->assign(r.value.data(), r.value.size());
      record->value = *scratch;
    }
    *found = true;
    return absl::OkStatus();
  }

  // Walks every version in order; used by iterators and compaction.
  class Cursor {
   public:
    // With `release_behind` (a compaction's single forward pass), the file is told it will not
    // need the blocks the cursor has moved past, a few at a time.
    explicit Cursor(std::shared_ptr<const Segment> segment, bool verify = false,
                    bool release_behind = false)
        : segment_(std::move(segment)), verify_(verify), release_behind_(release_behind) {}
    ~Cursor() {
      if (release_behind_ && segment_ != nullptr) ReleaseBefore(segment_->info_.file_bytes);
    }
    Cursor(Cursor&& other) noexcept
        : segment_(std::move(other.segment_)),
          verify_(other.verify_),
          release_behind_(other.release_behind_),
          released_until_(other.released_until_),
          valid_(other.valid_),
          loaded_(other.loaded_),
          block_index_(other.block_index_),
          record_index_(other.record_index_),
          block_(other.block_),
          record_(other.record_),
          key_(std::move(other.key_)),
          suffix_(other.suffix_),
          boundary_key_(std::move(other.boundary_key_)),
          scratch_(std::move(other.scratch_)),
          pin_(std::move(other.pin_)),
          status_(std::move(other.status_)) {
      record_.key = key_;  // A short key_ keeps its bytes inside the string object, which moved.
    }

    bool Valid() const { return valid_; }
    const Record& record() const { return record_; }
    const absl::Status& status() const { return status_; }

    void SeekToFirst() {
      if (segment_->clipped_) return Seek(segment_->info_.smallest_key, ~uint64_t{0});
      Position(0, 0);
    }
    void SeekToLast() {
      if (segment_->num_blocks() == 0) return Invalidate();
      LoadBlock(segment_->num_blocks() - 1);
      if (status_.ok()) Position(block_index_, block_.size() - 1);
    }
    // First version at or after (key, tag).
    void Seek(absl::string_view key, uint64_t tag) {
      if (segment_->clipped_ && key < segment_->info_.smallest_key) {
        key = segment_->info_.smallest_key;
        tag = ~uint64_t{0};
      }
      const size_t b = segment_->FindBlock(key, tag);
      if (b == segment_->num_blocks()) return Invalidate();
      if (!LoadBlock(b)) return;
      uint32_t lo;
      if (!block_.LowerBound(key, tag, &lo)) {
        status_ = segment_->Corruption(absl::StrCat("bad record in block ", b));
        valid_ = false;
        return;
      }
      Position(b, lo);
    }
    void Next() { Position(block_index_, record_index_ + 1); }
    // Moves past the remaining versions of the current key, to the first version of the next key.
    void NextKey() {
      // Versions of a key are adjacent. Inside a block they share its prefix, so the bytes after
      // it (often a few) tell whether the key changed; only at a block's end is the key copied.
      for (;;) {
        if (record_index_ + 1 < block_.size()) {
          const absl::string_view suffix = suffix_;  // Into the block, which stays loaded.
          Position(block_index_, record_index_ + 1);
          if (!valid_ || !SameShortBytes(suffix_, suffix)) return;
        } else {
          boundary_key_.assign(key_);
          Next();
          if (!valid_ || record_.key != boundary_key_) return;
        }
      }
    }
    void Prev() {
      if (record_index_ > 0) {
        Position(block_index_, record_index_ - 1);
      } else {
        if (block_index_ == 0) return Invalidate();
        if (!LoadBlock(block_index_ - 1)) return;
        Position(block_index_, block_.size() - 1);
      }
      if (valid_ && segment_->clipped_ && record_.key < segment_->info_.smallest_key) Invalidate();
    }

    // Opaque position, to come back to a record seen before.
    std::pair<size_t, uint32_t> position() const { return {block_index_, record_index_}; }
    void SetPosition(std::pair<size_t, uint32_t> p) { Position(p.first, p.second); }

   private:
    // Moves to record `r` of block `b`, rolling over into the next blocks.
    void Position(size_t b, uint32_t r) {
      for (;;) {
        if (b >= segment_->num_blocks()) return Invalidate();
        if ((!loaded_ || block_index_ != b) && !LoadBlock(b)) return;
        if (r < block_.size()) break;
        ++b;
        r = 0;
      }
      record_index_ = r;
      valid_ = ParseAt(r);
      // A cursor usually moves on to the next record: start loading it (with large values it is
      // in another cache line, often another page) while the caller works on this one.
      if (r + 1 < block_.size()) block_.Prefetch(r + 1);
    }

    bool LoadBlock(size_t b) {
      absl::Status s = segment_->ReadBlock(b, verify_, &scratch_, &block_, &pin_);
      if (!s.ok()) {
        status_ = s;
        valid_ = false;
        loaded_ = false;
        return false;
      }
      block_index_ = b;
      loaded_ = true;
      key_.assign(block_.prefix().data(), block_.prefix().size());
      // An iterator passing through a segment that lookups read without the mapping (a shadowed
      // run) releases what it passed too, as a compaction does (see SetUnmappedLookups).
      if (release_behind_ || segment_->unmapped_lookups()) {
        const uint64_t offset = segment_->BlockOffset(b);
        if (offset >= released_until_ + kReleaseBytes) ReleaseBefore(offset);
      }
      return true;
    }

    void ReleaseBefore(uint64_t offset) {
      if (offset <= released_until_) return;
      segment_->file_->WillNotNeed(released_until_, offset - released_until_);
      released_until_ = offset;
    }

    // Parses record r into record_, its key rebuilt in key_ (which holds the block's prefix).
    bool ParseAt(uint32_t r) {
      StoredRecord stored;
      if (block_.Get(r, &stored) && IsValidKind(static_cast<uint8_t>(stored.tag & 0xff))) {
        key_.resize(block_.prefix().size());
        key_.append(stored.key_suffix.data(), stored.key_suffix.size());
        suffix_ = stored.key_suffix;
        record_.key = key_;
        record_.tag = stored.tag;
        record_.value = stored.value;
        return true;
      }
      status_ = segment_->Corruption(absl::StrCat("bad record in block ", block_index_));
      valid_ = false;
      return false;
    }

    void Invalidate() { valid_ = false; }

    static constexpr uint64_t kReleaseBytes = 1 << 20;

    std::shared_ptr<const Segment> segment_;
    bool verify_;
    bool release_behind_;
    uint64_t released_until_ = 0;  // With release_behind_: the file offset released up to.
    bool valid_ = false;
    bool loaded_ = false;
    size_t block_index_ = 0;
    uint32_t record_index_ = 0;
    Block block_;
    Record record_;
    std::string key_;  // The current record's whole key: the block's prefix, then its own bytes.
    absl::string_view suffix_;  // The current record's key bytes after the prefix, in the block.
    std::string boundary_key_;  // NextKey's copy of a block's last key.
    std::string scratch_;
    BlockCache::Handle pin_;  // Keeps block_'s bytes when it was decompressed.
    absl::Status status_;
  };

  // Checks every checksum of the file: footer, index, filter and every data block.
  absl::Status Verify() const {
    std::string scratch;
    for (size_t b = 0; b < num_blocks(); ++b) {
      Block block;
      BlockCache::Handle pin;
      KV_RETURN_IF_ERROR(ReadBlock(b, /*verify=*/true, &scratch, &block, &pin));
      for (uint32_t i = 0; i < block.size(); ++i) {
        StoredRecord r;
        // The same test as every read, so that a segment Verify passes reads without error.
        if (!block.Get(i, &r) || !IsValidKind(static_cast<uint8_t>(r.tag & 0xff))) {
          return Corruption(absl::StrCat("bad record in block ", b));
        }
        if (!block.ConsistentAt(i, r, BlockLastKey(b))) {
          return Corruption(absl::StrCat("key fingerprint of record ", i, " in block ", b,
                                         " does not match its key"));
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status Corruption(absl::string_view what) const {
    return absl::DataLossError(absl::StrCat("corruption in ", name_, ": ", what));
  }

  // How block b is stored, read and verified: for tools and tests that check the format.
  enum class BlockStorage { kRaw, kCompressed, kCompressedInParts };
  absl::StatusOr<BlockStorage> StorageOfBlock(size_t b) const {
    std::string scratch;
    absl::string_view stored;
    KV_RETURN_IF_ERROR(ReadStoredBlock(b, /*verify=*/true, &scratch, &stored));
    if (!IsCompressedBlock(stored)) return BlockStorage::kRaw;
    return IsPartedBlock(stored) ? BlockStorage::kCompressedInParts : BlockStorage::kCompressed;
  }

 private:
  // What a lookup needs of a block, in the array FindBlock searches, so that finding a block also
  // brings in where it is: the KeyPrefix of its last key, and its offset (it ends where the next
  // block starts; one more entry holds the end of the data).
  struct BlockEntry {
    uint64_t prefix;
    uint64_t offset;
  };
  // What only prefix ties and iterators need: the block's last key and its tag.
  struct BlockKey {
    uint32_t key_offset;  // into index_keys_
    uint32_t key_size;
    uint64_t last_tag;
  };
  // FindBlock first searches every kSampleStride-th prefix: an array small enough to stay in the
  // CPU's caches, unlike the entries of a segment of a million keys (28,000 blocks), whose last
  // steps of a binary search would each miss the cache.
  static constexpr size_t kSampleStride = 16;

  Segment() = default;

  uint64_t BlockOffset(size_t b) const { return entries_[b].offset; }
  uint64_t BlockSize(size_t b) const { return entries_[b + 1].offset - entries_[b].offset; }

  // The 8 key bytes after the `index_shared_` bytes all keys of the segment share, as a big-endian
  // number, zero-padded. If two prefixes differ, the keys compare the same way, so most steps of a
  // search touch only the dense prefix array. (Keys often share a long prefix, like zero-padded
  // numbers or a table name: the bytes right after it are the ones that tell keys apart.)
  uint64_t KeyPrefix(absl::string_view key) const { return KeyBytesAsNumber(key, index_shared_, 8); }

  // First block whose last version is at or after (key, tag); num_blocks() if none.
  size_t FindBlock(absl::string_view key, uint64_t tag) const {
    // Every key of the segment starts with these bytes.
    const int c = CompareWithSharedPrefix(
        key, absl::string_view(info_.smallest_key).substr(0, index_shared_));
    const size_t n = num_blocks();
    if (c != 0) return c > 0 ? n : 0;
    const uint64_t prefix = KeyPrefix(key);
    // The first block whose prefix is >= the key's lies within one stride after the last sample
    // below the key's prefix.
    const size_t sample = static_cast<size_t>(
        std::lower_bound(sampled_prefixes_.begin(), sampled_prefixes_.end(), prefix) -
        sampled_prefixes_.begin());
    const auto span_begin = entries_.begin() + (sample == 0 ? 0 : (sample - 1) * kSampleStride + 1);
    const auto span_end = entries_.begin() + std::min(sample * kSampleStride, n);
    size_t lo = static_cast<size_t>(
        std::lower_bound(span_begin, span_end, prefix,
                         [](const BlockEntry& e, uint64_t p) { return e.prefix < p; }) -
        entries_.begin());
    // Blocks whose last keys have the same prefix as the key are told apart by their whole keys.
    size_t hi = lo;
    if (hi < n && entries_[hi].prefix == prefix) {
      hi = static_cast<size_t>(
          std::upper_bound(entries_.begin() + lo, entries_.begin() + n, prefix,
                           [](uint64_t p, const BlockEntry& e) { return p < e.prefix; }) -
          entries_.begin());
    }
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (CompareVersions(BlockLastKey(mid), block_keys_[mid].last_tag, key, tag) < 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  // Reads block b into *block. A raw block is viewed in place (in the mapping, or in *scratch); a
  // compressed one is decompressed (or found in the cache) into memory *pin keeps.
  absl::Status ReadBlock(size_t b, bool verify, std::string* scratch, Block* block,
                         BlockCache::Handle* pin) const {
    pin->reset();
    absl::string_view bytes;
    KV_RETURN_IF_ERROR(ReadStoredBlock(b, verify, scratch, &bytes));
    if (IsCompressedBlock(bytes)) {
      KV_ASSIGN_OR_RETURN(*pin, Decompress(b, bytes, verify));
      bytes = **pin;
    }
    auto parsed = Block::Parse(bytes);
    if (!parsed.ok()) return Corruption(absl::StrCat("block ", b, ": ", parsed.status().message()));
    *block = *parsed;
    return absl::OkStatus();
  }

  // Reads block b as stored, checksum included, and verifies it (see ReadBlock for `scratch`);
  // from `unmapped` instead of the segment's file if given (see SetUnmappedLookups).
  absl::Status ReadStoredBlock(size_t b, bool verify, std::string* scratch,
                               absl::string_view* stored,
                               const RandomAccessFile* unmapped = nullptr) const {
    const uint64_t offset = BlockOffset(b), size = BlockSize(b);
    const RandomAccessFile& file = unmapped != nullptr ? *unmapped : *file_;
    const bool stable_views = stable_views_ && unmapped == nullptr;
    // A mapped file returns views into itself: growing (and zeroing) 4 KiB of scratch for every
    // lookup would cost more than the lookup's own work.
    if (!stable_views && scratch->size() < size) scratch->resize(size);
    absl::string_view bytes;
    KV_RETURN_IF_ERROR(file.Read(offset, size, &bytes, scratch->data()));
    if (bytes.size() != size) return Corruption(absl::StrCat("block ", b, " is truncated"));
    // A lookup reads the block's trailer (its count, fingerprints and offsets, the last 256 bytes
    // or so) before anything else: ask for those cache lines together, not one miss after another.
    for (size_t back = 16; back <= 256 && back <= bytes.size(); back += 64) {
      __builtin_prefetch(bytes.data() + bytes.size() - back);
    }
    // With a stable mapping, bytes verified once stay verified; otherwise verify every read.
    const bool trusted = stable_views && !verify && verified_[b].load(std::memory_order_acquire);
    if (!trusted) {
      const size_t body = size - 8;
      if (Checksum(bytes.substr(0, body), kDataBlockSalt) != DecodeFixed64(bytes.data() + body)) {
        return Corruption(absl::StrCat("checksum mismatch in block ", b, " at offset ", offset));
      }
      if (stable_views) verified_[b].store(true, std::memory_order_release);
    }
    *stored = bytes;
    return absl::OkStatus();
  }

  // Get's search of block b, compressed in parts (`stored`, whose checksum passed): reads the
  // heads and decompresses only the group that holds the value. Sets *has_version to whether the
  // block holds the first version at or after (key, target) and it is a version of `key`; then
  // *record views memory of the mapping, `stored`, *scratch or *pin.
  absl::Status FindInParts(size_t b, absl::string_view stored, absl::string_view key, uint64_t target,
                           bool verify, std::string* scratch, bool* has_version, StoredRecord* record,
                           BlockCache::Handle* pin) const {
    *has_version = false;
    auto what = [b] { return absl::StrCat("block ", b); };
    uint32_t compact_size;
    uint8_t id;
    KV_RETURN_IF_ERROR(
        AsSegmentError(CheckCompressedTrailer(stored, decoding_.codec, what, &compact_size, &id)));
    thread_local PartedBlockLayout layout;
    if (!ParsePartedBlock(stored.substr(0, stored.size() - kCompressedTrailerBytes), &layout) ||
        layout.head_size > compact_size) {
      return Corruption(absl::StrCat("block ", b, ": bad parts directory"));
    }
    // The heads are read next, then one group of values: ask for all their cache lines at once,
    // while the heads are searched, not one miss after another.
    PrefetchBytes(stored);
    // A part stored raw is read in place; a compressed one comes from the cache or is decompressed,
    // into the cache if it admits it (see BlockCache::Lookup), else into `buffer`.
    auto part_bytes = [&](size_t part, uint64_t raw_size, BlockCache::Handle* handle,
                          std::string* buffer, absl::string_view* bytes) -> absl::Status {
      if (part >= layout.parts.size()) {
        return Corruption(absl::StrCat("block ", b, ": value group ", part, " is missing"));
      }
      if (!layout.parts[part].compressed) {
        if (layout.parts[part].stored.size() != raw_size) {
          return Corruption(absl::StrCat("block ", b, ": part ", part, " has the wrong size"));
        }
        *bytes = layout.parts[part].stored;
        return absl::OkStatus();
      }
      BlockCache* cache = verify ? nullptr : decoding_.cache.get();
      if (cache != nullptr && !cache->PartLookupWorthMaking()) cache = nullptr;
      bool admit = false;
      if (cache != nullptr) {
        *handle = cache->Lookup(info_.number, b, part + 1, &admit);
        cache->CountPartLookup(*handle != nullptr);
      }
      if (*handle != nullptr) {
        if ((*handle)->size() != raw_size) {
          return Corruption(absl::StrCat("block ", b, ": part ", part, " has the wrong size"));
        }
        *bytes = **handle;
        return absl::OkStatus();
      }
      if (raw_size > kMaxRawBlockBytes) {
        return Corruption(absl::StrCat("block ", b, ": part ", part, " claims ", raw_size, " bytes"));
      }
      std::string admitted;
      std::string* raw = admit ? &admitted : buffer;
      raw->resize(raw_size);
      if (!DecodeBlockPart(*decoding_.codec, id, layout.parts[part], raw_size, raw->data())) {
        return Corruption(absl::StrCat("block ", b, ": part ", part, " does not decompress with ",
                                       decoding_.codec->name));
      }
      if (admit) {
        *handle = cache->Insert(info_.number, b, std::move(admitted), part + 1);
        *bytes = **handle;
      } else {
        *bytes = *buffer;
      }
      return absl::OkStatus();
    };
    thread_local std::string head_buffer, values_buffer;
    BlockCache::Handle head_pin;
    absl::string_view head;
    KV_RETURN_IF_ERROR(part_bytes(0, layout.head_size, &head_pin, &head_buffer, &head));
    const uint32_t shared = DecodeFixed32(head.data() + head.size() - 8);
    const uint32_t word = DecodeFixed32(head.data() + head.size() - 4);
    if (shared > head.size() - 8 || (word & kSplitColumnsFlag) == 0) {
      return Corruption(absl::StrCat("block ", b, ": bad head part"));
    }
    const size_t heads_size = head.size() - 8 - shared;
    if (CompareWithSharedPrefix(key, head.substr(heads_size, shared)) != 0) return absl::OkStatus();
    const absl::string_view suffix = key.substr(shared);
    absl::string_view heads = head.substr(0, heads_size);
    const uint64_t count = word & ~(kSplitColumnsFlag | kWideOffsetsFlag);
    ValueGroupCutter cutter(layout.group_bytes);
    size_t group = 0;
    for (uint64_t i = 0; i < count; ++i) {
      absl::string_view key_suffix;
      uint64_t value_size, tag;
      if (!NextRecordHead(&heads, &key_suffix, &value_size, &tag)) {
        return Corruption(absl::StrCat("bad record in block ", b));
      }
      const uint64_t value_offset = cutter.open();  // In its group.
      uint64_t group_size = cutter.Add(value_size);
      if (CompareVersions(key_suffix, tag, suffix, target) < 0) {
        if (group_size != 0) ++group;
        continue;
      }
      if (key_suffix != suffix) return absl::OkStatus();
      record->key_suffix = suffix;  // Equal, and unlike key_suffix, outlives the head part's pin.
      record->tag = tag;
      record->value = absl::string_view();
      *has_version = true;
      if (value_size == 0) return absl::OkStatus();
      // The group's size: where the cut after this value falls.
      for (uint64_t j = i + 1; group_size == 0 && j < count; ++j) {
        absl::string_view next_suffix;
        uint64_t next_value_size, next_tag;
        if (!NextRecordHead(&heads, &next_suffix, &next_value_size, &next_tag)) {
          return Corruption(absl::StrCat("bad record in block ", b));
        }
        group_size = cutter.Add(next_value_size);
      }
      if (group_size == 0) group_size = cutter.open();
      absl::string_view values;
      KV_RETURN_IF_ERROR(part_bytes(1 + group, group_size, pin, &values_buffer, &values));
      record->value = values.substr(value_offset, value_size);
      if (values.data() == values_buffer.data()) {  // The buffer is the next lookup's.
        scratch->assign(record->value.data(), record->value.size());
        record->value = *scratch;
      }
      return absl::OkStatus();
    }
    return absl::OkStatus();
  }

  // A status about a block (from CheckCompressedTrailer or DecompressBlock) as this segment's:
  // damage is Corruption, anything else (a codec the store cannot read) names the file.
  absl::Status AsSegmentError(const absl::Status& s) const {
    if (s.ok()) return s;
    if (absl::IsDataLoss(s)) return Corruption(s.message());
    return absl::Status(s.code(), absl::StrCat(name_, ": ", s.message()));
  }

  // The raw block of compressed block b (whose stored `bytes` passed their checksum).
  absl::StatusOr<BlockCache::Handle> Decompress(size_t b, absl::string_view bytes, bool verify) const {
    BlockCache* cache = decoding_.cache.get();
    if (cache != nullptr && !verify) {
      if (BlockCache::Handle cached = cache->Lookup(info_.number, b)) return cached;
    }
    std::string raw;
    KV_RETURN_IF_ERROR(AsSegmentError(
        DecompressBlock(bytes, decoding_.codec, [b] { return absl::StrCat("block ", b); }, &raw)));
    if (cache != nullptr) return cache->Insert(info_.number, b, std::move(raw));
    return std::make_shared<const std::string>(std::move(raw));
  }

  // Reads and verifies [offset, offset + size), a region ending in its checksum, and points
  // `*result` at the bytes before the checksum: into the mapping when the file lends stable views
  // (a copy would double the memory the region takes), else into `*storage`.
  absl::Status ReadChecked(uint64_t offset, uint64_t size, uint64_t salt, absl::string_view what,
                           std::string* storage, absl::string_view* result) const {
    if (size < 8 || offset > file_->Size() || size > file_->Size() - offset) {
      return Corruption(absl::StrCat(what, " lies outside the file"));
    }
    char* scratch = nullptr;
    if (!stable_views_) {
      storage->resize(size);
      scratch = storage->data();
    }
    absl::string_view bytes;
    KV_RETURN_IF_ERROR(file_->Read(offset, size, &bytes, scratch));
    if (bytes.size() != size) return Corruption(absl::StrCat(what, " is truncated"));
    if (Checksum(bytes.substr(0, size - 8), salt) != DecodeFixed64(bytes.data() + size - 8)) {
      return Corruption(absl::StrCat("checksum mismatch in ", what));
    }
    if (scratch != nullptr && bytes.data() != scratch) {  // The file lent a view after all.
      storage->assign(bytes.data(), bytes.size());
      bytes = *storage;
    }
    *result = bytes.substr(0, size - 8);
    return absl::OkStatus();
  }

  absl::Status Load() {
    const uint64_t size = file_->Size();
    stable_views_ = file_->StableViews();
    if (size < kSegmentFooterBytes) return Corruption("file too short for a footer");
    std::string footer_storage;
    absl::string_view footer;
    KV_RETURN_IF_ERROR(ReadChecked(size - kSegmentFooterBytes, kSegmentFooterBytes, kFooterSalt,
                                   "footer", &footer_storage, &footer));
    const char* f = footer.data();
    const uint64_t filter_offset = DecodeFixed64(f);
    const uint64_t filter_size = DecodeFixed64(f + 8);
    const uint64_t index_offset = DecodeFixed64(f + 16);
    const uint64_t index_size = DecodeFixed64(f + 24);
    const uint32_t version = DecodeFixed32(f + 32);
    if (DecodeFixed64(f + 36) != kSegmentMagic) return Corruption("bad magic number");
    if (!IsReadableFormatVersion(version)) {
      return absl::FailedPreconditionError(absl::StrCat(
          name_, " has format version ", version, "; this build reads ", ReadableFormatVersions()));
    }
    KV_RETURN_IF_ERROR(
        ReadChecked(filter_offset, filter_size, kFilterSalt, "filter", &filter_storage_, &filter_));
    std::string index_storage;
    absl::string_view index;
    KV_RETURN_IF_ERROR(
        ReadChecked(index_offset, index_size, kIndexSalt, "index", &index_storage, &index));
    KV_RETURN_IF_ERROR(ParseIndex(index, filter_offset, version));
    // The index now lives parsed in memory; its mapped pages would only add to the process's RSS.
    file_->WillNotNeed(index_offset, index_size);
    return absl::OkStatus();
  }

  absl::Status ParseIndex(absl::string_view in, uint64_t data_end, uint32_t version) {
    absl::string_view filter_name, smallest, largest;
    uint32_t count;
    if (!GetLengthPrefixed(&in, &filter_name) || !GetFixed64(&in, &info_.num_entries) ||
        !GetFixed64(&in, &info_.num_deletions) || !GetFixed64(&in, &info_.min_sequence) ||
        !GetFixed64(&in, &info_.max_sequence) || !GetLengthPrefixed(&in, &smallest) ||
        !GetLengthPrefixed(&in, &largest) || !GetFixed32(&in, &count)) {
      return Corruption("index header does not parse");
    }
    if (filter_name != Filter::Name()) {
      return absl::FailedPreconditionError(
          absl::StrCat(name_, " was written with filter \"", filter_name,
                       "\"; this store is opened with filter \"", Filter::Name(), "\""));
    }
    info_.smallest_key.assign(smallest.data(), smallest.size());
    info_.largest_key.assign(largest.data(), largest.size());
    info_.file_bytes = file_->Size();
    index_shared_ = SharedPrefixLength(smallest, largest);
    // A count the index cannot hold must not become a huge allocation (found by
    // segment_mutation_fuzzer).
    if (count > in.size() / IndexEntryReader::MinEntryBytes(version)) {
      return Corruption("index claims more blocks than it holds");
    }
    entries_.reserve(size_t{count} + 1);
    block_keys_.reserve(count);
    sampled_prefixes_.reserve(count / kSampleStride + 1);
    uint64_t expected_offset = 0;
    IndexEntryReader entries(in, version);
    for (uint32_t i = 0; i < count; ++i) {
      absl::string_view key;
      BlockKey k;
      uint64_t offset, block_size;
      if (!entries.Next(&key, &k.last_tag, &offset, &block_size)) {
        return Corruption(absl::StrCat("index entry ", i, " does not parse"));
      }
      // FindBlock relies on every key sharing the prefix of the smallest and the largest.
      if (SharedPrefixLength(key, smallest) < index_shared_) {
        return Corruption(absl::StrCat("index entry ", i, " lies outside the segment's key range"));
      }
      // Blocks tile the data region exactly, in order.
      if (offset != expected_offset || block_size < kBlockTrailerBytes ||
          block_size > data_end - offset) {
        return Corruption(absl::StrCat("index entry ", i, " points outside the data"));
      }
      k.key_offset = static_cast<uint32_t>(index_keys_.size());
      k.key_size = static_cast<uint32_t>(key.size());
      index_keys_.append(key.data(), key.size());
      block_keys_.push_back(k);
      const uint64_t prefix = KeyPrefix(key);
      if (i % kSampleStride == 0) sampled_prefixes_.push_back(prefix);
      entries_.push_back({prefix, offset});
      expected_offset = offset + block_size;
    }
    if (!entries.done() || expected_offset != data_end) {
      return Corruption("index does not cover the data");
    }
    entries_.push_back({~uint64_t{0}, data_end});
    verified_ = std::shared_ptr<std::atomic<bool>[]>(new std::atomic<bool>[block_keys_.size()]());
    return absl::OkStatus();
  }

  // See SetUnmappedLookups. `file` is null while off; `owned` is never replaced once set, so a
  // lookup that loaded `file` may use it until the last view of the segment is gone.
  struct UnmappedLookups {
    ~UnmappedLookups() {
      if (owned != nullptr) open_unmapped_segment_files.fetch_sub(1);
    }
    std::atomic<const RandomAccessFile*> file{nullptr};
    std::mutex mu;
    std::unique_ptr<RandomAccessFile> owned;  // Guarded by mu.
  };

  Env* env_ = nullptr;
  std::string name_;
  std::shared_ptr<RandomAccessFile> file_;  // Shared with views made by ClippedBelow.
  std::shared_ptr<UnmappedLookups> unmapped_lookups_ = std::make_shared<UnmappedLookups>();
  bool stable_views_ = false;
  bool clipped_ = false;
  SegmentInfo info_;
  std::string filter_storage_;  // The filter's bytes, when the file cannot lend stable views.
  absl::string_view filter_;    // Into the mapping or filter_storage_.
  MidBlockString index_keys_;
  MidBlockVector<BlockEntry> entries_;         // One per block, then the end of the data.
  MidBlockVector<uint64_t> sampled_prefixes_;  // entries_[i * kSampleStride].prefix
  MidBlockVector<BlockKey> block_keys_;
  size_t index_shared_ = 0;  // Bytes the smallest and the largest key share.
  std::shared_ptr<std::atomic<bool>[]> verified_;
  BlockDecoding decoding_;
};

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_SEGMENT_H_
