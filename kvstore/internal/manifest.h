// The manifest: the one small file that says which segments are live (grouped in sorted runs),
// which WAL files still need replaying, and what the store holds (format version, key/value type
// signature, filter).
//
// It is replaced whole and atomically: written to MANIFEST.tmp, synced, renamed over MANIFEST,
// and the directory synced. A crash at any point leaves either the old or the new manifest, both
// complete, and every file either names is still on disk (files are deleted only after the
// manifest that stops naming them is durable).
#ifndef KVSTORE_INTERNAL_MANIFEST_H_
#define KVSTORE_INTERNAL_MANIFEST_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/hash.h"
#include "kvstore/status.h"

namespace kvstore::internal {

inline constexpr uint64_t kManifestMagic = 0x31494e414d73766bULL;  // "kvsMANI1" little-endian
inline constexpr uint64_t kManifestSalt = 0x3;

struct Manifest {
  uint32_t format_version = kFormatVersion;
  std::string type_signature;  // Empty when the serializer does not describe its types.
  std::string filter_name;
  uint64_t next_file_number = 1;
  // WAL files numbered below this hold only writes that are in segments already.
  uint64_t log_number = 0;
  // Highest sequence number in any segment; new writes continue above it.
  uint64_t last_sequence = 0;
  // Live segments by sorted run, runs newest first (a newer run shadows older ones); within a
  // run, segments in key order (their key ranges are disjoint).
  std::vector<std::vector<uint64_t>> runs;
  // Segments read only from a key on (Segment::ClippedBelow): inputs a compaction in progress has
  // merged up to that key. By segment number; every other segment is read whole.
  std::map<uint64_t, std::string> clips;

  // Every live segment's number.
  std::vector<uint64_t> SegmentNumbers() const {
    std::vector<uint64_t> numbers;
    for (const auto& run : runs) numbers.insert(numbers.end(), run.begin(), run.end());
    return numbers;
  }

  std::string Encode() const {
    std::string out;
    PutFixed64(&out, kManifestMagic);
    PutFixed32(&out, format_version);
    PutLengthPrefixed(&out, type_signature);
    PutLengthPrefixed(&out, filter_name);
    PutFixed64(&out, next_file_number);
    PutFixed64(&out, log_number);
    PutFixed64(&out, last_sequence);
    PutFixed32(&out, static_cast<uint32_t>(runs.size()));
    for (const auto& run : runs) {
      PutFixed32(&out, static_cast<uint32_t>(run.size()));
      for (uint64_t number : run) PutFixed64(&out, number);
    }
    // Stores without clips end here, as before clips existed, so older manifests still decode.
    if (!clips.empty()) {
      PutFixed32(&out, static_cast<uint32_t>(clips.size()));
      for (const auto& [number, lower] : clips) {
        PutFixed64(&out, number);
        PutLengthPrefixed(&out, lower);
      }
    }
    PutFixed64(&out, Checksum(out, kManifestSalt));
    return out;
  }

  static absl::Status Decode(absl::string_view in, const std::string& file_name, Manifest* m) {
    auto corruption = [&](absl::string_view what) {
      return absl::DataLossError(absl::StrCat("corruption in ", file_name, ": ", what));
    };
    if (in.size() < 8 + 4 + 8) return corruption("file too short");
    uint64_t magic;
    absl::string_view body = in.substr(0, in.size() - 8);
    GetFixed64(&body, &magic);
    if (magic != kManifestMagic) return corruption("not a kvstore manifest (bad magic number)");
    GetFixed32(&body, &m->format_version);
    if (!IsReadableFormatVersion(m->format_version)) {
      return absl::FailedPreconditionError(
          absl::StrCat(file_name, " has format version ", m->format_version,
                       "; this build reads ", ReadableFormatVersions()));
    }
    if (Checksum(in.substr(0, in.size() - 8), kManifestSalt) !=
        DecodeFixed64(in.data() + in.size() - 8)) {
      return corruption("checksum mismatch");
    }
    absl::string_view signature, filter;
    uint32_t num_runs;
    if (!GetLengthPrefixed(&body, &signature) || !GetLengthPrefixed(&body, &filter) ||
        !GetFixed64(&body, &m->next_file_number) || !GetFixed64(&body, &m->log_number) ||
        !GetFixed64(&body, &m->last_sequence) || !GetFixed32(&body, &num_runs) ||
        num_runs > body.size() / 4) {
      return corruption("fields do not parse");
    }
    m->type_signature.assign(signature.data(), signature.size());
    m->filter_name.assign(filter.data(), filter.size());
    m->runs.clear();
    m->runs.reserve(num_runs);
    for (uint32_t r = 0; r < num_runs; ++r) {
      uint32_t count;
      // An empty run would be a run no segment stands for: corruption, like a count too large.
      if (!GetFixed32(&body, &count) || count == 0 || count > body.size() / 8) {
        return corruption(absl::StrCat("run ", r, " does not parse"));
      }
      std::vector<uint64_t>& run = m->runs.emplace_back(count);
      for (uint32_t i = 0; i < count; ++i) GetFixed64(&body, &run[i]);
    }
    m->clips.clear();
    if (!body.empty()) {
      uint32_t num_clips;
      if (!GetFixed32(&body, &num_clips) || num_clips == 0 || num_clips > body.size() / 9) {
        return corruption("bytes after the last run");
      }
      for (uint32_t i = 0; i < num_clips; ++i) {
        uint64_t number;
        absl::string_view lower;
        if (!GetFixed64(&body, &number) || !GetLengthPrefixed(&body, &lower)) {
          return corruption(absl::StrCat("clip ", i, " does not parse"));
        }
        m->clips[number].assign(lower.data(), lower.size());
      }
      if (!body.empty()) return corruption("bytes after the last clip");
    }
    return absl::OkStatus();
  }
};

// Writes `contents` to `path` so that after a crash `path` holds either its old or its new
// contents: temporary file, sync, rename, directory sync.
inline absl::Status WriteFileAtomically(Env* env, const std::string& dir, const std::string& path,
                                        absl::string_view contents) {
  const std::string tmp = TempFileName(path);
  {
    KV_ASSIGN_OR_RETURN(auto file, env->NewWritableFile(tmp));
    absl::Status s = file->Append(contents);
    if (s.ok()) s = file->Sync();
    absl::Status closed = file->Close();
    if (s.ok()) s = closed;
    if (!s.ok()) {
      env->RemoveFile(tmp).IgnoreError();
      return s;
    }
  }
  KV_RETURN_IF_ERROR(env->RenameFile(tmp, path));
  return env->SyncDir(dir);
}

inline absl::Status WriteManifest(Env* env, const std::string& dir, const Manifest& manifest) {
  return WriteFileAtomically(env, dir, ManifestFileName(dir), manifest.Encode());
}

inline absl::Status ReadManifest(Env* env, const std::string& dir, Manifest* manifest) {
  std::string contents;
  const std::string name = ManifestFileName(dir);
  KV_RETURN_IF_ERROR(env->ReadFileToString(name, &contents));
  return Manifest::Decode(contents, name, manifest);
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_MANIFEST_H_
