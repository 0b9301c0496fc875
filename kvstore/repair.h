// Salvage for a damaged store, like LevelDB's RepairDB. When Open fails with DataLoss (a damaged
// MANIFEST, segment or WAL, or a MANIFEST that is gone), Repair(dir) rebuilds a store that opens
// from every record whose checksum still holds, and moves the original files into DIR/lost/. The
// report says, file by file, what was kept and which byte ranges were dropped and why.
//
//   absl::StatusOr<kvstore::RepairReport> report = kvstore::Repair("/tmp/db");
//   if (report.ok()) std::cout << report->ToString();
//
// Repair takes the store's LOCK, so it refuses to run while the store is open. It changes nothing
// in the store until the rebuilt state is durable, so a crash during a repair leaves either the
// original store or the repaired one (run it again). Steps and limits: docs/format.md, "Salvage".
// `tools/bazel run //tools/repair -- DIR` runs it from the command line.
#ifndef KVSTORE_REPAIR_H_
#define KVSTORE_REPAIR_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/engine.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/segment.h"
#include "kvstore/internal/wal.h"
#include "kvstore/options.h"
#include "kvstore/status.h"

namespace kvstore {

// What Repair found, kept and dropped. "Records" are versions: one per write or deletion of a key
// (a WAL record holding a batch of N operations counts N).
struct RepairReport {
  // Bytes of an original file whose contents did not reach the repaired store.
  struct DroppedRange {
    uint64_t offset = 0;
    uint64_t length = 0;
    std::string reason;
  };

  // One original file of the store.
  struct File {
    std::string name;    // In the store directory: "000012.seg", "000013.wal", "MANIFEST", ...
    std::string kind;    // "segment", "wal", "manifest" or "temporary".
    uint64_t bytes = 0;  // Its size; 0 if it is missing.
    // Whether its records were read into the repaired store. When the MANIFEST is readable, the
    // files it calls obsolete (segments it does not name, WALs below its log number) are not:
    // their data is in the live files, and reading them could bring back overwritten values.
    bool used = false;
    uint64_t records_kept = 0;     // Records whose checksums hold, carried into the new store.
    uint64_t records_dropped = 0;  // Exact if records_dropped_exact, else a lower bound.
    bool records_dropped_exact = true;
    std::vector<DroppedRange> dropped;
    std::string note;      // Why something was dropped or the file was not used; empty if intact.
    std::string moved_to;  // Where the original is now (under lost/); empty if it was not moved.
  };

  std::string dir;
  std::string lost_dir;  // DIR/lost: where the originals went.
  bool manifest_readable = false;
  std::string manifest_problem;  // Why the MANIFEST could not be used, if it could not.
  // What the new MANIFEST records. An empty type signature (the old one was unreadable) lets the
  // store open as any key/value types.
  std::string type_signature;
  std::string filter_name;
  uint64_t last_sequence = 0;
  std::vector<File> files;

  // Totals over the files that were used.
  uint64_t records_kept = 0;
  uint64_t records_dropped = 0;  // Exact if records_dropped_exact, else a lower bound.
  bool records_dropped_exact = true;
  uint64_t bytes_dropped = 0;
  // Records found in more than one file (a segment and the WAL it was flushed from, say): written
  // once, so records_written = records_kept - duplicates.
  uint64_t duplicates = 0;
  uint64_t records_written = 0;
  std::string new_segment;  // The rebuilt store's one segment; empty if nothing was salvaged.
  // Things that went wrong after the repaired store was durable (an original that could not be
  // moved into lost/): the store is repaired, but look at them.
  std::vector<std::string> warnings;

  std::string ToString() const {
    // Paths inside the store directory are shown relative to it.
    auto relative = [this](const std::string& path) {
      return absl::StartsWith(path, dir + "/") ? path.substr(dir.size() + 1) : path;
    };
    std::string out = absl::StrCat("Repair of ", dir, ": ", records_kept, " records kept");
    if (!new_segment.empty()) {
      absl::StrAppend(&out, " (", records_written, " written to ", new_segment);
      if (duplicates > 0) absl::StrAppend(&out, "; ", duplicates, " found in two files, written once");
      absl::StrAppend(&out, ")");
    }
    absl::StrAppend(&out, ", ", records_dropped_exact ? "" : "at least ", records_dropped,
                    " records dropped, ", bytes_dropped, " bytes dropped\n");
    if (manifest_readable) {
      absl::StrAppend(&out, "MANIFEST readable: type signature \"", type_signature,
                      "\" and filter \"", filter_name, "\" kept");
    } else {
      absl::StrAppend(&out, "MANIFEST not usable (", manifest_problem,
                      "): the new one has an empty type signature, so the store opens as any "
                      "key/value types, and filter \"", filter_name, "\"");
    }
    absl::StrAppend(&out, "; last sequence ", last_sequence, "\n");
    for (const File& f : files) {
      absl::StrAppend(&out, "  ", f.name, " (", f.kind, ", ", f.bytes, " bytes): ");
      if (f.kind == "manifest") {
        absl::StrAppend(&out, f.note);
      } else {
        if (f.used) {
          absl::StrAppend(&out, "kept ", f.records_kept, ", dropped ",
                          f.records_dropped_exact ? "" : "at least ", f.records_dropped);
        } else {
          absl::StrAppend(&out, "not used");
        }
        if (!f.note.empty()) absl::StrAppend(&out, "; ", f.note);
      }
      if (!f.moved_to.empty()) absl::StrAppend(&out, "; now ", relative(f.moved_to));
      absl::StrAppend(&out, "\n");
      for (const DroppedRange& r : f.dropped) {
        absl::StrAppend(&out, "      dropped bytes [", r.offset, ", ", r.offset + r.length, ") (",
                        r.length, " bytes): ", r.reason, "\n");
      }
    }
    absl::StrAppend(&out, "The originals are in ", lost_dir, "\n");
    for (const std::string& w : warnings) absl::StrAppend(&out, "WARNING: ", w, "\n");
    return out;
  }
};

namespace internal::salvage {

// Scanning damaged bytes for the next WAL record (or for a segment's index when its footer is
// damaged) is kept linear in the file's size. Every byte offset gets O(1) header checks; a
// candidate that passes them is hashed to check its checksum, and the bytes hashed for candidates
// that turn out not to be records are capped per file at kScanBudgetFactor x the file's size +
// kScanBudgetSlack. Past the cap, the rest of the file is dropped and the report says so (only
// contrived data, such as values holding copies of record headers, gets near it). Segment blocks
// found without an index need no cap: see kEndsTried.
inline constexpr uint64_t kScanBudgetFactor = 4;
inline constexpr uint64_t kScanBudgetSlack = uint64_t{1} << 20;

class ScanBudget {
 public:
  explicit ScanBudget(uint64_t file_bytes)
      : left_(file_bytes * kScanBudgetFactor + kScanBudgetSlack) {}
  bool Allows(uint64_t bytes) const { return bytes <= left_; }
  void Spend(uint64_t bytes) { left_ -= std::min(left_, bytes); }

 private:
  uint64_t left_;
};

inline std::string ExhaustedNote(uint64_t offset) {
  return absl::StrCat("scan budget exhausted at offset ", offset,
                      " (see kScanBudgetFactor in kvstore/repair.h); the rest was not examined");
}

// The last version accepted from one file: versions must come in order (key ascending, newest
// first), as a segment holds them.
struct VersionOrder {
  bool have = false;
  std::string key;
  uint64_t tag = 0;
};

// Checks `bytes` as one data block the way Segment::Verify does (checksum, trailer, every record
// parses with a known kind and a fingerprint that matches its key), and that its versions come
// in order after `*order`. On success advances `*order` and sets `*count` and `*max_sequence`.
//
// A compressed block is decompressed with `codec` first. One whose checksum holds but that names
// another codec is not damage: *foreign_codec is set to the error, which the repair returns
// rather than drop data this build could read with the right policy.
inline bool CheckBlock(absl::string_view bytes, VersionOrder* order, uint32_t* count,
                       uint64_t* max_sequence, std::string* problem, const BlockCodec* codec,
                       absl::Status* foreign_codec) {
  if (bytes.size() < kBlockTrailerBytes) {
    *problem = "too short for a block";
    return false;
  }
  const size_t body = bytes.size() - 8;
  if (Checksum(bytes.substr(0, body), kDataBlockSalt) != DecodeFixed64(bytes.data() + body)) {
    *problem = "checksum mismatch";
    return false;
  }
  std::string raw;
  if (IsCompressedBlock(bytes)) {
    absl::Status s = DecompressBlock(bytes, codec, [] { return std::string("a block"); }, &raw);
    if (absl::IsFailedPrecondition(s)) {
      *foreign_codec = s;
      *problem = std::string(s.message());
      return false;
    }
    if (!s.ok()) {
      *problem = std::string(s.message());
      return false;
    }
    bytes = raw;
  }
  absl::StatusOr<Block> parsed = Block::Parse(bytes);
  if (!parsed.ok()) {
    *problem = std::string(parsed.status().message());
    return false;
  }
  const Block& block = *parsed;
  StoredRecord last;
  if (!block.Get(block.size() - 1, &last)) {
    *problem = "its last record does not parse";
    return false;
  }
  const std::string last_key = absl::StrCat(block.prefix(), last.key_suffix);
  VersionOrder current = *order;  // Committed only if the whole block passes.
  uint64_t max_seq = 0;
  for (uint32_t i = 0; i < block.size(); ++i) {
    StoredRecord r;
    if (!block.Get(i, &r) || !IsValidKind(static_cast<uint8_t>(r.tag & 0xff))) {
      *problem = absl::StrCat("record ", i, " does not parse");
      return false;
    }
    if (!block.ConsistentAt(i, r, last_key)) {
      *problem = absl::StrCat("the fingerprint of record ", i, " does not match its key");
      return false;
    }
    const std::string key = absl::StrCat(block.prefix(), r.key_suffix);
    if (current.have && CompareVersions(current.key, current.tag, key, r.tag) >= 0) {
      *problem = absl::StrCat("record ", i, " is out of order");
      return false;
    }
    current.have = true;
    current.key = key;
    current.tag = r.tag;
    max_seq = std::max(max_seq, TagSequence(r.tag));
  }
  *order = std::move(current);
  *count = block.size();
  *max_sequence = std::max(*max_sequence, max_seq);
  return true;
}

// Whether [s, e) of `data` could be a data block, judged from its trailer in O(1): a plausible
// record count and prefix length, a first record offset of 0 and a last one inside the records,
// with the offset width the writer would have chosen. The tables sit just before the trailer, so
// with s = 0 this tells whether some block could end at e, wherever it starts: a block's trailer
// is recognised without its start, which is what lets a scan resume after a damaged block.
inline bool PlausibleBlock(absl::string_view data, uint64_t s, uint64_t e) {
  // The smallest block: one 3-byte record, one fixed16 offset, one fingerprint, the trailer.
  if (e - s < kBlockTrailerBytes + 3 + 2 + 4) return false;
  if ((DecodeFixed32(data.data() + e - 12) & kCompressedBlockFlag) != 0) {
    // A compressed block: its trailer gives its stored size, a known codec and a sane size for
    // its compact form.
    const uint32_t word = DecodeFixed32(data.data() + e - 12);
    const uint64_t payload = DecodeFixed32(data.data() + e - 20);
    const uint32_t compact_size = DecodeFixed32(data.data() + e - 16);
    const uint32_t codec = word & ~(kCompressedBlockFlag | kPartedBlockFlag);
    return (word & kWideOffsetsFlag) == 0 && codec >= 1 && codec <= 255 &&
           payload + kCompressedTrailerBytes <= e - s &&
           compact_size >= 8 && compact_size <= kMaxRawBlockBytes;
  }
  const char* trailer = data.data() + e - kBlockTrailerBytes;
  const uint64_t shared = DecodeFixed32(trailer);
  const uint32_t word = DecodeFixed32(trailer + 4);
  const uint64_t n = word & ~kWideOffsetsFlag;
  const bool wide = (word & kWideOffsetsFlag) != 0;
  const uint64_t room = e - s - kBlockTrailerBytes;
  if (n == 0 || shared > room) return false;
  const uint64_t tables = shared + n * (wide ? 8 : 6);
  if (tables > room || room - tables < 3 * n) return false;  // A record takes 3 bytes or more.
  const uint64_t records = room - tables;
  const char* offsets = data.data() + s + records + shared;
  auto offset_at = [&](uint64_t i) -> uint64_t {
    return wide ? DecodeFixed32(offsets + i * 4) : DecodeFixed16(offsets + i * 2);
  };
  const uint64_t last = offset_at(n - 1);
  return offset_at(0) == 0 && last < records && (last > 0xffff) == wide;
}

// A segment's index, parsed leniently: what salvage needs (where the blocks are, how many records
// there were) and nothing a lookup needs.
struct SegmentIndex {
  std::string filter_name;
  uint64_t num_entries = 0;
  std::vector<std::pair<uint64_t, uint64_t>> blocks;  // Offset and size of each block.
  uint64_t data_end = 0;
};

// Parses index bytes (without their checksum). Blocks must tile [0, data_end) in order; with
// `exact_end`, data_end must be `data_limit` (the footer's filter offset), else at most it.
inline bool ParseSegmentIndex(absl::string_view in, uint32_t version, uint64_t data_limit,
                              bool exact_end, SegmentIndex* index, std::string* problem) {
  absl::string_view filter_name, smallest, largest;
  uint64_t num_deletions, min_sequence, max_sequence;
  uint32_t count;
  if (!GetLengthPrefixed(&in, &filter_name) || !GetFixed64(&in, &index->num_entries) ||
      !GetFixed64(&in, &num_deletions) || !GetFixed64(&in, &min_sequence) ||
      !GetFixed64(&in, &max_sequence) || !GetLengthPrefixed(&in, &smallest) ||
      !GetLengthPrefixed(&in, &largest) || !GetFixed32(&in, &count) ||
      count > in.size() / IndexEntryReader::MinEntryBytes(version)) {
    *problem = "its header does not parse";
    return false;
  }
  index->filter_name.assign(filter_name.data(), filter_name.size());
  uint64_t expected = 0;
  IndexEntryReader entries(in, version);
  for (uint32_t i = 0; i < count; ++i) {
    absl::string_view key;
    uint64_t tag, offset, size;
    if (!entries.Next(&key, &tag, &offset, &size) || offset != expected ||
        size < kBlockTrailerBytes || size > data_limit - offset) {
      *problem = absl::StrCat("entry ", i, " does not parse or points outside the data");
      return false;
    }
    index->blocks.emplace_back(offset, size);
    expected = offset + size;
  }
  if (!entries.done() || (exact_end && expected != data_limit)) {
    *problem = "it does not cover the data";
    return false;
  }
  index->data_end = expected;
  return true;
}

// What pass 1 learned of one segment; pass 2 reads the kept blocks again, one at a time.
struct SalvagedSegment {
  uint64_t number = 0;
  std::string path;
  int priority = 0;  // Among versions equal in key and tag, the highest priority's is written.
  std::unique_ptr<RandomAccessFile> file;
  std::vector<std::pair<uint64_t, uint64_t>> blocks;  // Offset and size of each block kept.
  std::string foreign_filter;  // The filter its index names, if not the one being repaired with.
  // Keys below `clip` are not read: the MANIFEST clips the segment there (a compaction in progress
  // had merged them into its output, which may have dropped some, deletions at the bottom).
  bool clipped = false;
  std::string clip;
};

// Pass 1 over a segment: keeps every block that verifies. With a readable index the blocks are
// where it says; without one (damaged index or footer) they are found by scanning from offset 0,
// each block ending where its trailer and checksum say, the next starting right after it.
template <typename Filter>
absl::Status SalvageSegment(Env* env, SalvagedSegment* segment, RepairReport::File* report,
                            uint64_t* max_sequence, const BlockCodec* codec) {
  KV_ASSIGN_OR_RETURN(segment->file, env->NewRandomAccessFile(segment->path));
  const RandomAccessFile& file = *segment->file;
  const uint64_t size = file.Size();
  report->bytes = size;
  std::string storage;  // The whole file, when it cannot lend a view of itself (a mapping).
  if (!file.StableViews()) storage.resize(size);
  absl::string_view all;
  KV_RETURN_IF_ERROR(file.Read(0, size, &all, storage.data()));
  if (all.size() != size) {
    return absl::DataLossError(absl::StrCat("short read of ", segment->path));
  }
  std::vector<std::string> notes;
  auto drop = [&](uint64_t offset, uint64_t length, std::string reason) {
    if (length > 0) report->dropped.push_back({offset, length, std::move(reason)});
  };
  ScanBudget budget(size);

  // Footer: where the index is, and where the data ends.
  bool footer_ok = false;
  uint64_t filter_offset = 0, index_offset = 0, index_size = 0;
  uint32_t version = 0;
  std::string footer_problem;
  if (size < kSegmentFooterBytes) {
    footer_problem = "file too short for a footer";
  } else {
    const char* f = all.data() + size - kSegmentFooterBytes;
    filter_offset = DecodeFixed64(f);
    index_offset = DecodeFixed64(f + 16);
    index_size = DecodeFixed64(f + 24);
    version = DecodeFixed32(f + 32);
    if (Checksum(absl::string_view(f, kSegmentFooterBytes - 8), kFooterSalt) !=
        DecodeFixed64(f + kSegmentFooterBytes - 8)) {
      footer_problem = "checksum mismatch in footer";
    } else if (DecodeFixed64(f + 36) != kSegmentMagic) {
      footer_problem = "bad magic number in footer";
    } else if (!IsReadableFormatVersion(version)) {
      // Its checksum holds: a segment of another format, which this build cannot read.
      return absl::FailedPreconditionError(
          absl::StrCat(segment->path, " has format version ", version,
                       "; this build reads and repairs ", ReadableFormatVersions()));
    } else if (filter_offset > size - kSegmentFooterBytes || index_offset < filter_offset ||
               index_offset > size - kSegmentFooterBytes ||
               index_size > size - kSegmentFooterBytes - index_offset || index_size < 8) {
      footer_problem = "footer points outside the file";
    } else {
      footer_ok = true;
    }
  }

  // Index: from the footer, or, with the footer damaged, found by its first bytes (the
  // length-prefixed filter name) and its checksum: a damaged byte moves nothing, so it still ends
  // where the footer begins. Searched backwards, so the real index is met before older bytes.
  std::string index_problem;
  SegmentIndex index;
  bool index_ok = false;
  uint64_t data_limit = size;  // Blocks lie before this.
  if (footer_ok) {
    data_limit = filter_offset;
    absl::string_view bytes = all.substr(index_offset, index_size);
    if (Checksum(bytes.substr(0, index_size - 8), kIndexSalt) !=
        DecodeFixed64(bytes.data() + index_size - 8)) {
      index_problem = "checksum mismatch in index";
    } else if (!ParseSegmentIndex(bytes.substr(0, index_size - 8), version, filter_offset,
                                  /*exact_end=*/true, &index, &index_problem)) {
      index_problem = absl::StrCat("index: ", index_problem);
    } else {
      index_ok = true;
    }
    if (!index_ok) drop(index_offset, index_size, absl::StrCat(index_problem, " (holds no records)"));
  } else {
    notes.push_back(footer_problem);
    std::string needle;
    PutLengthPrefixed(&needle, Filter::Name());
    const uint64_t index_end = size >= kSegmentFooterBytes ? size - kSegmentFooterBytes : 0;
    for (uint64_t q = index_end >= needle.size() + 8 ? index_end - needle.size() - 8 + 1 : 0;
         q-- > 0;) {
      if (std::memcmp(all.data() + q, needle.data(), needle.size()) != 0) continue;
      const uint64_t length = index_end - q;
      if (!budget.Allows(length)) break;
      absl::string_view bytes = all.substr(q, length);
      // Without the footer the version is unknown: the index is taken in whichever readable
      // version parses it, newest first.
      auto parses = [&] {
        for (uint32_t v = kFormatVersion; v >= kOldestReadableFormatVersion; --v) {
          index = SegmentIndex();
          if (ParseSegmentIndex(bytes.substr(0, length - 8), v, q, /*exact_end=*/false, &index,
                                &index_problem)) {
            return true;
          }
        }
        return false;
      };
      if (Checksum(bytes.substr(0, length - 8), kIndexSalt) ==
              DecodeFixed64(bytes.data() + length - 8) &&
          parses()) {
        index_ok = true;
        data_limit = q;
        notes.push_back(absl::StrCat("index found at offset ", q, " by its checksum"));
        drop(index_end, kSegmentFooterBytes, absl::StrCat(footer_problem, " (holds no records)"));
        break;
      }
      index = SegmentIndex();
      budget.Spend(length);
    }
    if (!index_ok) index_problem = "index not found without the footer";
  }

  VersionOrder order;
  uint32_t count = 0;
  std::string problem;
  absl::Status foreign_codec;
  auto check_block = [&](absl::string_view bytes) {
    return CheckBlock(bytes, &order, &count, max_sequence, &problem, codec, &foreign_codec);
  };
  if (index_ok) {
    if (index.filter_name != Filter::Name()) segment->foreign_filter = index.filter_name;
    for (size_t b = 0; b < index.blocks.size(); ++b) {
      const auto [offset, block_size] = index.blocks[b];
      if (check_block(all.substr(offset, block_size))) {
        segment->blocks.emplace_back(offset, block_size);
        report->records_kept += count;
      } else {
        drop(offset, block_size, absl::StrCat("block ", b, ": ", problem));
      }
    }
    // The index counts the segment's records, and its checksum holds: the loss is exact.
    report->records_dropped = index.num_entries - std::min(index.num_entries, report->records_kept);
    report->records_dropped_exact = true;
  } else {
    notes.push_back(absl::StrCat(index_problem,
                                 "; blocks found by scanning from the start of the file, each by "
                                 "its trailer and checksum"));
    // Without footer and index, nothing counts the records the file held.
    if (!footer_ok) report->records_dropped_exact = false;
    // Blocks hold no length up front: a block is framed from where the previous one ended to a
    // position where a trailer could end (see PlausibleBlock), and its checksum decides. A
    // damaged block is skipped by trying the candidate ends after it as starts: blocks are
    // contiguous, so the next block starts where the damaged one ends, whose trailer is among the
    // candidates unless the damage hit it too (then the block after it is lost as well).
    std::vector<uint64_t> ends;
    for (uint64_t e = 1; e <= data_limit; ++e) {
      if (PlausibleBlock(all, 0, e)) ends.push_back(e);
    }
    // Each framing tries the next kEndsTried candidate ends (a value can hold bytes that look like
    // a trailer), so at most kEndsTried x the data's size is hashed in all.
    constexpr size_t kEndsTried = 8;
    auto frame = [&](uint64_t start, size_t first_end, uint64_t* end) {
      for (size_t k = first_end; k < ends.size() && k < first_end + kEndsTried; ++k) {
        if (PlausibleBlock(all, start, ends[k]) && check_block(all.substr(start, ends[k] - start))) {
          *end = ends[k];
          segment->blocks.emplace_back(start, *end - start);
          report->records_kept += count;
          return true;
        }
      }
      return false;
    };
    uint64_t s = 0;
    size_t next_end = 0;  // The first candidate end after s.
    while (s < data_limit) {
      while (next_end < ends.size() && ends[next_end] <= s) ++next_end;
      uint64_t e = 0;
      if (frame(s, next_end, &e)) {
        s = e;
        continue;
      }
      report->records_dropped_exact = false;
      size_t resume = next_end;
      while (resume < ends.size() && !frame(ends[resume], resume + 1, &e)) ++resume;
      if (resume == ends.size()) {
        drop(s, data_limit - s,
             footer_ok ? "no block verifies from here to the end of the data"
                       : "no block verifies from here to the end of the file: the filter, index "
                         "and footer (no records) if every block was found before, else damaged "
                         "data too");
        break;
      }
      // The damaged block's records as its trailer counts them, if the trailer fits the range
      // (one block, its trailer intact); else the range holds one block at least.
      const uint64_t t = ends[resume];
      const uint64_t counted =
          PlausibleBlock(all, s, t)
              ? DecodeFixed32(all.data() + t - kBlockTrailerBytes + 4) & ~kWideOffsetsFlag
              : 0;
      report->records_dropped += std::max<uint64_t>(counted, 1);
      drop(s, t - s,
           counted > 0 ? absl::StrCat("damaged: no block checksum holds (the trailer ending this "
                                      "range counts ", counted, " records)")
                       : "damaged: no block checksum holds, nor does the trailer ending this "
                         "range fit it");
      s = e;
    }
  }
  if (!foreign_codec.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        segment->path, ": ", foreign_codec.message(), "; repair it with that policy "
        "(kvstore::Repair<Filter, Compression>)"));
  }
  report->note = absl::StrJoin(notes, "; ");
  return absl::OkStatus();
}

// One operation salvaged from a WAL, as a version: views into the WAL's contents.
struct WalVersion {
  absl::string_view key;
  uint64_t tag;
  absl::string_view value;
};

// Whether a record at `p` is worth a checksum while scanning damaged bytes: its length fits and
// its payload starts like a batch (a sequence number that fits 56 bits, at least one operation
// and no more than its bytes can hold, a known kind first). O(1).
inline bool PlausibleWalRecord(absl::string_view data, size_t p) {
  const uint64_t length = DecodeFixed32(data.data() + p);
  if (length < BatchRep::kHeaderBytes + 2 || length > data.size() - p - kWalHeaderBytes) {
    return false;
  }
  const char* payload = data.data() + p + kWalHeaderBytes;
  const uint64_t sequence = DecodeFixed64(payload);
  const uint64_t count = DecodeFixed32(payload + 8);
  // An operation takes a kind byte and a key length at least.
  return count > 0 && count <= (length - BatchRep::kHeaderBytes) / 2 && sequence <= kMaxSequence &&
         count - 1 <= kMaxSequence - sequence &&
         IsValidKind(static_cast<uint8_t>(payload[BatchRep::kHeaderBytes]));
}

// Pass 1 over a WAL's contents: keeps every record whose checksum holds and whose batch parses,
// skipping damaged bytes by scanning forward for the next record that verifies.
inline void SalvageWal(absl::string_view data, RepairReport::File* report,
                       std::vector<WalVersion>* versions, uint64_t* max_sequence) {
  report->bytes = data.size();
  ScanBudget budget(data.size());
  // The record at `p`, if its length fits and its checksum holds; failed checks are charged.
  auto record_at = [&](size_t p, absl::string_view* payload) {
    const uint64_t length = DecodeFixed32(data.data() + p);
    if (length == 0 || length > data.size() - p - kWalHeaderBytes) return false;
    const absl::string_view bytes = data.substr(p + kWalHeaderBytes, length);
    if (Checksum(bytes, length) != DecodeFixed64(data.data() + p + 4)) {
      budget.Spend(length);
      return false;
    }
    *payload = bytes;
    return true;
  };
  auto affordable = [&](size_t p) { return budget.Allows(DecodeFixed32(data.data() + p)); };

  size_t offset = 0;
  uint64_t zero_tail = 0;
  while (offset < data.size()) {
    absl::string_view payload;
    if (data.size() - offset >= kWalHeaderBytes && affordable(offset) &&
        record_at(offset, &payload)) {
      const bool has_header = payload.size() >= BatchRep::kHeaderBytes;
      const uint64_t first_sequence = has_header ? DecodeFixed64(payload.data()) : 0;
      const uint64_t count = has_header ? DecodeFixed32(payload.data() + 8) : 0;
      // Tags hold 56-bit sequence numbers: a batch past them cannot be stored.
      absl::Status parsed =
          !has_header || count == 0 || first_sequence > kMaxSequence ||
                  count - 1 > kMaxSequence - first_sequence
              ? absl::DataLossError("no operations, or sequence numbers out of range")
              : BatchRep::ForEach(payload, [](uint64_t, EntryKind, absl::string_view,
                                              absl::string_view) {});
      if (parsed.ok()) {
        BatchRep::ForEach(payload, [&](uint64_t seq, EntryKind kind, absl::string_view key,
                                       absl::string_view value) {
          versions->push_back({key, PackTag(seq, kind), value});
          *max_sequence = std::max(*max_sequence, seq);
        }).IgnoreError();
        report->records_kept += count;
      } else {
        report->dropped.push_back({offset, kWalHeaderBytes + payload.size(),
                                   absl::StrCat("checksum holds but the batch does not parse: ",
                                                parsed.message())});
        report->records_dropped += std::max<uint64_t>(count, 1);
        report->records_dropped_exact = false;
      }
      offset += kWalHeaderBytes + payload.size();
      continue;
    }
    // Damage at `offset`: resume at the next offset where a record verifies.
    const size_t start = offset;
    size_t next = data.size();
    bool exhausted = false;
    for (size_t p = start + 1; p + kWalHeaderBytes <= data.size(); ++p) {
      if (!PlausibleWalRecord(data, p)) continue;
      if (!affordable(p)) {
        exhausted = true;
        break;
      }
      if (record_at(p, &payload)) {
        next = p;
        break;
      }
    }
    const absl::string_view range = data.substr(start, next - start);
    if (next == data.size() && !exhausted &&
        range.find_first_not_of('\0') == absl::string_view::npos) {
      // Space the log had reserved and never written (the writer died): no data.
      zero_tail = range.size();
    } else {
      std::string reason;
      if (exhausted) {
        reason = ExhaustedNote(start);
      } else if (next == data.size()) {
        reason = "a torn or damaged record at the end of the log, nothing valid after it";
      } else {
        reason = absl::StrCat("a damaged record: its checksum fails; the next valid record is at ",
                              next);
      }
      report->dropped.push_back({start, range.size(), std::move(reason)});
      // At least one record's bytes are in the range; how many operations, nothing says.
      report->records_dropped += 1;
      report->records_dropped_exact = false;
    }
    offset = next;
  }
  if (zero_tail > 0) {
    report->note = absl::StrCat(zero_tail, " zero bytes at the end (space reserved, never written)");
  }
}

// A source of versions in order (key ascending, newest first), for the merge of pass 2.
class VersionSource {
 public:
  explicit VersionSource(int priority) : priority_(priority) {}
  virtual ~VersionSource() = default;
  virtual bool Valid() const = 0;
  virtual absl::string_view key() const = 0;
  virtual uint64_t tag() const = 0;
  virtual absl::string_view value() const = 0;
  virtual absl::Status Next() = 0;
  int priority() const { return priority_; }

 private:
  int priority_;
};

// The kept blocks of a segment, reread and verified again one at a time.
class SegmentVersionSource final : public VersionSource {
 public:
  SegmentVersionSource(const SalvagedSegment* segment, const BlockCodec* codec)
      : VersionSource(segment->priority), segment_(segment), codec_(codec) {}

  absl::Status Start() {
    KV_RETURN_IF_ERROR(Load());
    return SkipClipped();
  }
  bool Valid() const override { return valid_; }
  absl::string_view key() const override { return key_; }
  uint64_t tag() const override { return record_.tag; }
  absl::string_view value() const override { return record_.value; }
  absl::Status Next() override {
    KV_RETURN_IF_ERROR(Advance());
    return SkipClipped();
  }

 private:
  absl::Status Advance() {
    if (++index_ < block_.size()) return Parse();
    ++block_index_;
    return Load();
  }
  absl::Status SkipClipped() {
    while (valid_ && segment_->clipped && key_ < segment_->clip) KV_RETURN_IF_ERROR(Advance());
    return absl::OkStatus();
  }

  absl::Status Load() {
    valid_ = false;
    if (block_index_ >= segment_->blocks.size()) return absl::OkStatus();
    const auto [offset, size] = segment_->blocks[block_index_];
    if (!segment_->file->StableViews() && scratch_.size() < size) scratch_.resize(size);
    absl::string_view bytes;
    KV_RETURN_IF_ERROR(segment_->file->Read(offset, size, &bytes, scratch_.data()));
    if (bytes.size() != size ||
        Checksum(bytes.substr(0, size - 8), kDataBlockSalt) != DecodeFixed64(bytes.data() + size - 8)) {
      return absl::DataLossError(absl::StrCat("corruption in ", segment_->path,
                                              ": the block at offset ", offset,
                                              " verified once, then not when read again"));
    }
    if (IsCompressedBlock(bytes)) {
      KV_RETURN_IF_ERROR(DecompressBlock(
          bytes, codec_,
          [this, at = offset] { return absl::StrCat(segment_->path, ": the block at offset ", at); },
          &raw_));
      bytes = raw_;
    }
    KV_ASSIGN_OR_RETURN(block_, Block::Parse(bytes));
    index_ = 0;
    return Parse();
  }

  absl::Status Parse() {
    if (!block_.Get(index_, &record_)) {
      return absl::DataLossError(absl::StrCat("corruption in ", segment_->path,
                                              ": a record that parsed once does not"));
    }
    key_.assign(block_.prefix().data(), block_.prefix().size());
    key_.append(record_.key_suffix.data(), record_.key_suffix.size());
    valid_ = true;
    return absl::OkStatus();
  }

  const SalvagedSegment* segment_;
  const BlockCodec* codec_;
  std::string raw_;  // The current block, decompressed.
  size_t block_index_ = 0;
  uint32_t index_ = 0;
  Block block_;
  StoredRecord record_;
  std::string key_;
  std::string scratch_;
  bool valid_ = false;
};

// The salvaged WAL operations, sorted.
class WalVersionSource final : public VersionSource {
 public:
  WalVersionSource(const std::vector<WalVersion>* versions, int priority)
      : VersionSource(priority), versions_(versions) {}
  bool Valid() const override { return i_ < versions_->size(); }
  absl::string_view key() const override { return (*versions_)[i_].key; }
  uint64_t tag() const override { return (*versions_)[i_].tag; }
  absl::string_view value() const override { return (*versions_)[i_].value; }
  absl::Status Next() override {
    ++i_;
    return absl::OkStatus();
  }

 private:
  const std::vector<WalVersion>* versions_;
  size_t i_ = 0;
};

// Pass 2: merges every source into one new segment at `path` (written under a temporary name,
// synced, renamed, directory synced), each version once. Versions equal in key and tag (the same
// write found in two files) are written once: the highest-priority source's.
template <typename Filter>
absl::Status WriteMergedSegment(Env* env, const std::string& dir, const std::string& path,
                                size_t block_bytes, size_t expected_versions,
                                const std::vector<VersionSource*>& sources, RepairReport* report,
                                const BlockCodec* codec) {
  auto later = [](const VersionSource* a, const VersionSource* b) {
    const int c = CompareVersions(a->key(), a->tag(), b->key(), b->tag());
    if (c != 0) return c > 0;
    return a->priority() < b->priority();
  };
  std::priority_queue<VersionSource*, std::vector<VersionSource*>, decltype(later)> heap(later);
  for (VersionSource* source : sources) {
    if (source->Valid()) heap.push(source);
  }
  const std::string tmp = TempFileName(path);
  KV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(tmp));
  auto fail = [&](absl::Status s) {
    file.reset();
    env->RemoveFile(tmp).IgnoreError();
    return s;
  };
  SegmentBuilder<Filter> builder(file.get(), block_bytes, expected_versions, codec);
  VersionOrder last;
  while (!heap.empty()) {
    VersionSource* source = heap.top();
    heap.pop();
    if (last.have && last.tag == source->tag() && last.key == source->key()) {
      ++report->duplicates;
    } else {
      if (absl::Status s = builder.Add(source->key(), source->tag(), source->value()); !s.ok()) {
        return fail(s);
      }
      last.have = true;
      last.key.assign(source->key().data(), source->key().size());
      last.tag = source->tag();
      ++report->records_written;
    }
    if (absl::Status s = source->Next(); !s.ok()) return fail(s);
    if (source->Valid()) heap.push(source);
  }
  absl::StatusOr<SegmentInfo> info = builder.Finish();
  absl::Status s = info.status();
  if (s.ok()) s = file->Sync();
  absl::Status closed = file->Close();
  if (s.ok()) s = closed;
  if (!s.ok()) return fail(s);
  file.reset();
  if (s = env->RenameFile(tmp, path); !s.ok()) return fail(s);
  return env->SyncDir(dir);
}

// A name for `name` in `lost_dir` that no earlier repair has used: NAME, else NAME.1, NAME.2...
inline std::string LostPath(Env* env, const std::string& lost_dir, const std::string& name) {
  std::string path = absl::StrCat(lost_dir, "/", name);
  for (int i = 1; env->FileExists(path); ++i) path = absl::StrCat(lost_dir, "/", name, ".", i);
  return path;
}

// Writes `contents` to `path` durably (the caller syncs the directory).
inline absl::Status WriteCopy(Env* env, const std::string& path, absl::string_view contents) {
  KV_ASSIGN_OR_RETURN(std::unique_ptr<WritableFile> file, env->NewWritableFile(path));
  absl::Status s = file->Append(contents);
  if (s.ok()) s = file->Sync();
  absl::Status closed = file->Close();
  return s.ok() ? closed : s;
}

// Repair's steps (docs/format.md, "Salvage").
template <typename Filter>
absl::StatusOr<RepairReport> RepairStore(const std::string& dir, const Options& options,
                                         const BlockCodec* codec) {
  Env* env = options.env != nullptr ? options.env : Env::Default();
  if (!env->IsDirectory(dir)) {
    return absl::NotFoundError(absl::StrCat("no store at ", dir, " (not a directory)"));
  }
  // Held until the end: Repair must never run against an open store, nor two at once.
  KV_ASSIGN_OR_RETURN(std::unique_ptr<FileLock> lock, env->LockFile(LockFileName(dir)));

  RepairReport report;
  report.dir = dir;
  report.lost_dir = dir + "/lost";
  report.filter_name = std::string(Filter::Name());

  // What is there. Numbers of every store file, so new files get numbers above all of them.
  KV_ASSIGN_OR_RETURN(std::vector<std::string> children, env->GetChildren(dir));
  std::vector<uint64_t> segment_numbers, wal_numbers;
  std::vector<std::string> temporaries;
  bool have_manifest = false;
  uint64_t max_number = 0;
  for (const std::string& name : children) {
    uint64_t number = 0;
    switch (ParseFileName(name, &number)) {
      case FileKind::kSegment:
        segment_numbers.push_back(number);
        break;
      case FileKind::kWal:
        wal_numbers.push_back(number);
        break;
      case FileKind::kManifest:
        have_manifest = true;
        break;
      case FileKind::kTemp:
        temporaries.push_back(name);
        // "000012.seg.tmp" holds number 12 too.
        ParseFileName(absl::string_view(name).substr(0, name.size() - 4), &number);
        break;
      default:
        break;
    }
    max_number = std::max(max_number, number);
  }
  std::sort(segment_numbers.begin(), segment_numbers.end());
  std::sort(wal_numbers.begin(), wal_numbers.end());
  std::sort(temporaries.begin(), temporaries.end());
  if (!have_manifest && segment_numbers.empty() && wal_numbers.empty()) {
    return absl::NotFoundError(absl::StrCat("no store at ", dir, " (no MANIFEST, segment or WAL)"));
  }

  // The MANIFEST, if it is readable, says which files are live and what the store holds.
  Manifest manifest;
  std::string manifest_bytes;
  bool manifest_bytes_read = false;
  const std::string manifest_path = ManifestFileName(dir);
  RepairReport::File manifest_file;
  manifest_file.name = "MANIFEST";
  manifest_file.kind = "manifest";
  if (!have_manifest) {
    report.manifest_problem = "missing";
  } else if (absl::Status s = env->ReadFileToString(manifest_path, &manifest_bytes); !s.ok()) {
    report.manifest_problem = std::string(s.message());
  } else {
    manifest_bytes_read = true;
    manifest_file.bytes = manifest_bytes.size();
    s = Manifest::Decode(manifest_bytes, manifest_path, &manifest);
    if (s.ok()) {
      report.manifest_readable = true;
    } else if (s.code() == absl::StatusCode::kFailedPrecondition && manifest_bytes.size() > 8 &&
               Checksum(absl::string_view(manifest_bytes).substr(0, manifest_bytes.size() - 8),
                        kManifestSalt) ==
                   DecodeFixed64(manifest_bytes.data() + manifest_bytes.size() - 8)) {
      // Another format version, not damage: rebuilding it in this version would be wrong.
      return absl::FailedPreconditionError(
          absl::StrCat(s.message(), "; Repair rebuilds only stores of this version"));
    } else {
      report.manifest_problem = std::string(s.message());
    }
  }
  if (report.manifest_readable) {
    if (manifest.filter_name != Filter::Name()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "store at ", dir, " was written with filter \"", manifest.filter_name,
          "\"; repair it with that filter (this Repair uses \"", Filter::Name(), "\")"));
    }
    report.type_signature = manifest.type_signature;
    report.last_sequence = manifest.last_sequence;
    if (manifest.next_file_number > 0) max_number = std::max(max_number, manifest.next_file_number - 1);
    manifest_file.note = "readable";
  } else {
    manifest_file.note = "not usable";
  }
  if (have_manifest) report.files.push_back(manifest_file);

  // Which segments and WALs to read. Without a MANIFEST, all of them: live and obsolete cannot be
  // told apart (see docs/format.md, "Salvage", for what that risks).
  std::vector<std::pair<uint64_t, int>> live_segments;  // Number and priority.
  if (report.manifest_readable) {
    const int runs = static_cast<int>(manifest.runs.size());
    for (int r = 0; r < runs; ++r) {
      for (uint64_t number : manifest.runs[r]) live_segments.emplace_back(number, runs - r);
    }
  } else {
    for (uint64_t number : segment_numbers) {
      live_segments.emplace_back(number, static_cast<int>(std::min<uint64_t>(number, 1 << 30)));
    }
  }
  std::sort(live_segments.begin(), live_segments.end());

  // Pass 1: every segment and WAL, checked record by record.
  uint64_t max_sequence = report.last_sequence;
  std::vector<std::unique_ptr<SalvagedSegment>> salvaged;
  std::vector<RepairReport::File> segment_files;
  for (uint64_t number : segment_numbers) {
    RepairReport::File f;
    f.name = absl::StrFormat("%06d.seg", number);
    f.kind = "segment";
    auto live = std::lower_bound(live_segments.begin(), live_segments.end(),
                                 std::make_pair(number, 0));
    if (live == live_segments.end() || live->first != number) {
      f.note = "not named by the MANIFEST (obsolete, or an unfinished flush or compaction whose "
               "data is in the live files)";
      KV_ASSIGN_OR_RETURN(f.bytes, env->GetFileSize(SegmentFileName(dir, number)));
      segment_files.push_back(std::move(f));
      continue;
    }
    auto segment = std::make_unique<SalvagedSegment>();
    segment->number = number;
    segment->path = SegmentFileName(dir, number);
    segment->priority = live->second;
    if (auto clip = manifest.clips.find(number);
        report.manifest_readable && clip != manifest.clips.end()) {
      segment->clipped = true;
      segment->clip = clip->second;
    }
    f.used = true;
    KV_RETURN_IF_ERROR(SalvageSegment<Filter>(env, segment.get(), &f, &max_sequence, codec));
    if (!segment->foreign_filter.empty()) {
      if (!report.manifest_readable) {
        return absl::FailedPreconditionError(absl::StrCat(
            segment->path, " was written with filter \"", segment->foreign_filter,
            "\"; repair the store with that filter (this Repair uses \"", Filter::Name(), "\")"));
      }
      absl::StrAppend(&f.note, f.note.empty() ? "" : "; ", "its index names filter \"",
                      segment->foreign_filter, "\", unlike the MANIFEST");
    }
    segment_files.push_back(std::move(f));
    salvaged.push_back(std::move(segment));
  }
  for (const auto& [number, priority] : live_segments) {
    if (std::binary_search(segment_numbers.begin(), segment_numbers.end(), number)) continue;
    RepairReport::File f;
    f.name = absl::StrFormat("%06d.seg", number);
    f.kind = "segment";
    f.used = true;
    f.records_dropped_exact = false;
    f.note = "named by the MANIFEST but missing: its records are lost";
    segment_files.push_back(std::move(f));
  }
  std::sort(segment_files.begin(), segment_files.end(),
            [](const RepairReport::File& a, const RepairReport::File& b) { return a.name < b.name; });
  for (RepairReport::File& f : segment_files) report.files.push_back(std::move(f));

  // WAL contents stay in memory until the merge: the salvaged versions view them. A deque never
  // moves its strings (a moved short string would take its bytes along).
  std::deque<std::string> wal_contents;
  std::vector<WalVersion> wal_versions;
  for (uint64_t number : wal_numbers) {
    RepairReport::File f;
    f.name = absl::StrFormat("%06d.wal", number);
    f.kind = "wal";
    const std::string path = WalFileName(dir, number);
    if (report.manifest_readable && number < manifest.log_number) {
      KV_ASSIGN_OR_RETURN(f.bytes, env->GetFileSize(path));
      f.note = "below the MANIFEST's log number: its writes are in segments already";
    } else {
      std::string& contents = wal_contents.emplace_back();
      KV_RETURN_IF_ERROR(env->ReadFileToString(path, &contents));
      f.used = true;
      SalvageWal(contents, &f, &wal_versions, &max_sequence);
    }
    report.files.push_back(std::move(f));
  }
  // Newest first within a key; equal versions (the same write in two WALs) meet in the merge.
  std::stable_sort(wal_versions.begin(), wal_versions.end(),
                   [](const WalVersion& a, const WalVersion& b) {
                     return CompareVersions(a.key, a.tag, b.key, b.tag) < 0;
                   });
  for (const std::string& name : temporaries) {
    RepairReport::File f;
    f.name = name;
    f.kind = "temporary";
    KV_ASSIGN_OR_RETURN(f.bytes, env->GetFileSize(dir + "/" + name));
    f.note = "an unfinished write (flush, compaction or manifest) a crash left: not used";
    report.files.push_back(std::move(f));
  }
  for (const RepairReport::File& f : report.files) {
    if (!f.used) continue;
    report.records_kept += f.records_kept;
    report.records_dropped += f.records_dropped;
    report.records_dropped_exact = report.records_dropped_exact && f.records_dropped_exact;
    for (const RepairReport::DroppedRange& r : f.dropped) report.bytes_dropped += r.length;
  }
  report.last_sequence = std::max(report.last_sequence, max_sequence);

  // Pass 2: every kept version into one new segment, under a temporary name until it is durable.
  const uint64_t segment_number = max_number + 1;
  Manifest repaired;
  repaired.type_signature = report.type_signature;
  repaired.filter_name = std::string(Filter::Name());
  repaired.last_sequence = report.last_sequence;
  repaired.next_file_number = segment_number + 1;
  // No WAL is needed: every salvaged write is in the new segment.
  repaired.log_number = segment_number + 1;
  if (report.records_kept > 0) {
    std::vector<std::unique_ptr<VersionSource>> owned;
    std::vector<VersionSource*> sources;
    for (const auto& segment : salvaged) {
      auto source = std::make_unique<SegmentVersionSource>(segment.get(), codec);
      KV_RETURN_IF_ERROR(source->Start());
      sources.push_back(source.get());
      owned.push_back(std::move(source));
    }
    owned.push_back(std::make_unique<WalVersionSource>(&wal_versions, 1 << 30));
    sources.push_back(owned.back().get());
    const size_t block_bytes = std::clamp<size_t>(options.block_bytes, 256, 1 << 20);
    KV_RETURN_IF_ERROR(WriteMergedSegment<Filter>(env, dir, SegmentFileName(dir, segment_number),
                                                  block_bytes, report.records_kept, sources,
                                                  &report, codec));
    report.new_segment = absl::StrFormat("%06d.seg", segment_number);
    repaired.runs.push_back({segment_number});
  }

  // The originals' new home. The old MANIFEST is copied there before the new one replaces it, so
  // that the originals stay as they were until the new state is durable.
  KV_RETURN_IF_ERROR(env->CreateDir(report.lost_dir));
  KV_RETURN_IF_ERROR(env->SyncDir(dir));
  RepairReport::File* manifest_report = have_manifest ? &report.files.front() : nullptr;
  if (manifest_bytes_read) {
    const std::string copy = LostPath(env, report.lost_dir, "MANIFEST");
    KV_RETURN_IF_ERROR(WriteCopy(env, copy, manifest_bytes));
    KV_RETURN_IF_ERROR(env->SyncDir(report.lost_dir));
    manifest_report->moved_to = copy;
  } else if (have_manifest) {
    // Unreadable, so it cannot be copied: move it. Until the new MANIFEST is in place the store
    // has none, and Open refuses it; running Repair again finishes the job.
    const std::string moved = LostPath(env, report.lost_dir, "MANIFEST");
    KV_RETURN_IF_ERROR(env->RenameFile(manifest_path, moved));
    KV_RETURN_IF_ERROR(env->SyncDir(report.lost_dir));
    manifest_report->moved_to = moved;
  }
  // The repaired store takes effect here (temporary file, sync, rename, directory sync).
  KV_RETURN_IF_ERROR(WriteManifest(env, dir, repaired));

  // Only now the originals move out of the way. A failure is reported, not returned: the store is
  // repaired, and a file left behind is one Open deletes as obsolete.
  bool moved_any = false;
  for (RepairReport::File& f : report.files) {
    if (f.kind == "manifest" || !env->FileExists(dir + "/" + f.name)) continue;  // Missing.
    const std::string to = LostPath(env, report.lost_dir, f.name);
    if (absl::Status s = env->RenameFile(dir + "/" + f.name, to); !s.ok()) {
      report.warnings.push_back(absl::StrCat("could not move ", f.name, " into ", report.lost_dir,
                                             ": ", s.message()));
      continue;
    }
    f.moved_to = to;
    moved_any = true;
  }
  if (moved_any) {
    // lost/ first: a power cut between the two syncs can leave a file in both, never in neither.
    for (const std::string& synced : {report.lost_dir, dir}) {
      if (absl::Status s = env->SyncDir(synced); !s.ok()) {
        report.warnings.push_back(absl::StrCat("moves into ", report.lost_dir,
                                               " may not be durable: ", s.message()));
      }
    }
  }

  // The repaired store must pass the same checks as tools/verify.
  if (absl::Status s = VerifyStoreFiles<Filter>(env, dir, BlockDecoding{codec, nullptr}); !s.ok()) {
    return absl::Status(s.code(), absl::StrCat("the repaired store in ", dir,
                                               " does not verify: ", s.message()));
  }
  return report;
}

}  // namespace internal::salvage

// Rebuilds the store in `dir` from every record whose checksum holds, and moves its original
// files into `dir`/lost/. `Filter` must be the filter the store was written with (the MANIFEST
// names it; a mismatch is refused, as Open would refuse it). Uses options.env for every file
// operation and options.block_bytes for the new segment.
//
// Errors: NotFound if `dir` holds no store; FailedPrecondition if the store is open (its LOCK is
// held), was written by another format version or with another filter; the I/O error, naming the
// file, if a file cannot be read or the new files cannot be written. An error before the new
// MANIFEST is in place leaves the originals as they were; what it may leave besides (the new
// segment, DIR/lost/) Open deletes or ignores, and a second Repair takes into account.
//
// A store written with a Compression policy (kvstore/compression.h) is repaired with the same
// policy; a block compressed with another codec makes Repair fail with FailedPrecondition before
// anything changes. The new segment is written with the policy.
template <typename Filter = BloomFilter<10>, typename Compression = NoCompression>
absl::StatusOr<RepairReport> Repair(const std::string& dir, const Options& options = {}) {
  static_assert(CompressionPolicy<Compression>,
                "kvstore::Repair: Compression must be NoCompression or a policy of "
                "kvstore/compression.h");
  return internal::salvage::RepairStore<Filter>(dir, options, internal::CodecFor<Compression>());
}

}  // namespace kvstore

#endif  // KVSTORE_REPAIR_H_
