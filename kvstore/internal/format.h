// Shared vocabulary of kvstore's on-disk and in-memory formats: entry kinds, sequence numbers,
// file names, and the order of versions of one key. docs/format.md describes the layouts.
#ifndef KVSTORE_INTERNAL_FORMAT_H_
#define KVSTORE_INTERNAL_FORMAT_H_

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace kvstore::internal {

// Bumped whenever a file layout changes; a store of a version outside
// [kOldestReadableFormatVersion, kFormatVersion] is refused. Files are written in kFormatVersion.
inline constexpr uint32_t kFormatVersion = 6;
// Version 5 differs only in never compressing a block in parts (segment.h, kPartedBlockFlag);
// version 4 also in its segments' index entries (whole, with fixed-width numbers) and in never
// splitting a compressed block's records in columns. All are still read.
inline constexpr uint32_t kOldestReadableFormatVersion = 4;

inline bool IsReadableFormatVersion(uint32_t version) {
  return version >= kOldestReadableFormatVersion && version <= kFormatVersion;
}

// "this build reads versions 4 to 6", for the error that refuses another.
inline std::string ReadableFormatVersions() {
  return absl::StrCat("versions ", kOldestReadableFormatVersion, " to ", kFormatVersion);
}

enum class EntryKind : uint8_t {
  kDeletion = 0,
  kValue = 1,
};

inline bool IsValidKind(uint8_t kind) { return kind <= static_cast<uint8_t>(EntryKind::kValue); }

// Every write gets the next sequence number; a snapshot is a sequence number. 56 bits, so that a
// sequence number and an EntryKind pack into one 64-bit tag.
inline constexpr uint64_t kMaxSequence = (uint64_t{1} << 56) - 1;

inline uint64_t PackTag(uint64_t sequence, EntryKind kind) {
  return (sequence << 8) | static_cast<uint8_t>(kind);
}
inline uint64_t TagSequence(uint64_t tag) { return tag >> 8; }
inline EntryKind TagKind(uint64_t tag) { return static_cast<EntryKind>(tag & 0xff); }

// Versions are ordered by key ascending, then newest first. Searching for (key, PackTag(s, max))
// finds the newest version visible at sequence s.
inline uint64_t LookupTag(uint64_t sequence) { return (sequence << 8) | 0xff; }

inline int CompareVersions(absl::string_view key_a, uint64_t tag_a, absl::string_view key_b,
                           uint64_t tag_b) {
  const int c = key_a.compare(key_b);
  if (c != 0) return c;
  if (tag_a > tag_b) return -1;
  if (tag_a < tag_b) return 1;
  return 0;
}

// File names inside a store directory.
inline std::string WalFileName(const std::string& dir, uint64_t number) {
  return absl::StrFormat("%s/%06d.wal", dir, number);
}
inline std::string SegmentFileName(const std::string& dir, uint64_t number) {
  return absl::StrFormat("%s/%06d.seg", dir, number);
}
inline std::string ManifestFileName(const std::string& dir) { return dir + "/MANIFEST"; }
inline std::string LockFileName(const std::string& dir) { return dir + "/LOCK"; }
inline std::string TempFileName(const std::string& final_name) { return final_name + ".tmp"; }

enum class FileKind { kWal, kSegment, kManifest, kLock, kTemp, kUnknown };

// Parses a name found in a store directory; `*number` is set for WAL and segment files.
// File numbers grow by one per file; no store reaches this, and a name above it is not ours.
inline constexpr uint64_t kMaxFileNumber = uint64_t{1} << 53;

inline FileKind ParseFileName(absl::string_view name, uint64_t* number) {
  if (name == "MANIFEST") return FileKind::kManifest;
  if (name == "LOCK") return FileKind::kLock;
  if (absl::EndsWith(name, ".tmp")) return FileKind::kTemp;
  const size_t dot = name.find('.');
  if (dot == absl::string_view::npos || dot == 0) return FileKind::kUnknown;
  uint64_t n = 0;
  for (char c : name.substr(0, dot)) {
    if (c < '0' || c > '9') return FileKind::kUnknown;
    n = n * 10 + static_cast<uint64_t>(c - '0');
    // Not a name the store gave: it would push the next file number towards overflow.
    if (n > kMaxFileNumber) return FileKind::kUnknown;
  }
  *number = n;
  const absl::string_view ext = name.substr(dot);
  if (ext == ".wal") return FileKind::kWal;
  if (ext == ".seg") return FileKind::kSegment;
  return FileKind::kUnknown;
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_FORMAT_H_
