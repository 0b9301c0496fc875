// Writing a checkpoint: a copy of a store as of one point in time, in a new directory, that opens
// as a normal store (Engine::Checkpoint takes the point in time; this writes the files).
//
// Layout of the copy: the live segments under their own numbers (hard links where the file system
// allows, since segments never change once written; copies otherwise), one WAL holding the newest
// version of every key the MemTables hold at the checkpoint's sequence number, and a MANIFEST
// naming both, written last: until it is durable the directory is not a store (opening it
// reports segment files without a MANIFEST), so a crash midway leaves nothing that looks whole.
#ifndef KVSTORE_INTERNAL_CHECKPOINT_H_
#define KVSTORE_INTERNAL_CHECKPOINT_H_

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "kvstore/env.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/memtable.h"
#include "kvstore/internal/run.h"
#include "kvstore/internal/segment.h"
#include "kvstore/internal/wal.h"
#include "kvstore/status.h"

namespace kvstore::internal {

// Creates `dest` for a checkpoint, or accepts it if it is an empty directory; AlreadyExists if it
// is anything else, so a checkpoint never mixes with (or overwrites) other files.
inline absl::Status PrepareCheckpointDir(Env* env, const std::string& dest) {
  if (dest.empty()) return absl::InvalidArgumentError("checkpoint directory name is empty");
  if (!env->FileExists(dest)) return env->CreateDir(dest);
  if (!env->IsDirectory(dest)) {
    return absl::AlreadyExistsError(
        absl::StrCat("checkpoint target ", dest, " exists and is not a directory"));
  }
  KV_ASSIGN_OR_RETURN(std::vector<std::string> children, env->GetChildren(dest));
  if (!children.empty()) {
    return absl::AlreadyExistsError(absl::StrCat(
        "checkpoint target ", dest, " is not empty (it holds ", children.front(), ")"));
  }
  return absl::OkStatus();
}

// Links the segment's file into `to`, or copies it from the segment's open file: across file
// systems, in an Env without links, or when (on a read-only open) the process writing the store
// has deleted the name since.
template <typename Filter>
absl::Status LinkOrCopySegment(Env* env, const Segment<Filter>& segment, const std::string& to) {
  if (env->LinkFile(segment.file_name(), to).ok()) return absl::OkStatus();
  const RandomAccessFile& from = segment.file();
  KV_ASSIGN_OR_RETURN(auto out, env->NewWritableFile(to));
  constexpr size_t kChunk = 1 << 20;
  std::string scratch(kChunk, '\0');
  absl::Status s;
  for (uint64_t offset = 0; s.ok() && offset < from.Size(); offset += kChunk) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kChunk, from.Size() - offset));
    absl::string_view bytes;
    s = from.Read(offset, n, &bytes, scratch.data());
    if (s.ok() && bytes.size() != n) {
      s = absl::DataLossError(absl::StrCat("short read of ", segment.file_name(), " at ", offset));
    }
    if (s.ok()) s = out->Append(bytes);
  }
  if (s.ok()) s = out->Sync();
  absl::Status closed = out->Close();
  return s.ok() ? closed : s;
}

// Writes the checkpoint of a store whose state at `sequence` is `runs` (newest first) plus the
// MemTables `imm` (older, may be null) and `mem`; `source` gives the types and the filter.
// The caller guarantees that the segments' files are not deleted meanwhile (or are open, for
// the copy) and that no write at or below `sequence` is still being applied.
template <typename Filter>
absl::Status WriteCheckpoint(Env* env, const std::string& dest,
                             const std::vector<SegmentRun<Filter>>& runs, const MemTable* imm,
                             const MemTable* mem, const Manifest& source, uint64_t sequence) {
  Manifest manifest;
  manifest.type_signature = source.type_signature;
  manifest.filter_name = source.filter_name;
  uint64_t max_number = 0;
  for (const auto& run : runs) {
    std::vector<uint64_t>& numbers = manifest.runs.emplace_back();
    for (const auto& segment : run) {
      const uint64_t number = segment->info().number;
      KV_RETURN_IF_ERROR(LinkOrCopySegment(env, *segment, SegmentFileName(dest, number)));
      numbers.push_back(number);
      if (segment->clipped()) manifest.clips[number] = segment->info().smallest_key;
      max_number = std::max(max_number, number);
    }
  }
  // Every segment holds sequence numbers at or below `sequence`; the MemTables' versions are
  // renumbered above it, the older MemTable's first, so that the newer one's win on replay.
  const uint64_t wal_number = max_number + 1;
  uint64_t next_sequence = sequence + 1;
  if ((imm != nullptr && !imm->empty()) || (mem != nullptr && !mem->empty())) {
    KV_ASSIGN_OR_RETURN(auto file, env->NewWritableFile(WalFileName(dest, wal_number)));
    LogWriter log(std::move(file));
    BatchRep batch;
    absl::Status s;
    auto emit = [&] {
      if (batch.empty() || !s.ok()) return;
      batch.SetSequence(next_sequence);
      next_sequence += batch.count();
      s = log.AddRecord(batch.payload(), /*sync=*/false);
      batch.Clear();
    };
    constexpr size_t kRecordBytes = 1 << 20;
    for (const MemTable* table : {imm, mem}) {
      if (table == nullptr) continue;
      for (const MemTable::KeyEntry* entry : *table->Sorted()) {
        const MemTable::Version* v = entry->VisibleAt(sequence);
        if (v == nullptr) continue;
        // A deletion is kept: it hides the key's older versions in the segments.
        if (v->kind() == EntryKind::kDeletion) {
          batch.Delete(entry->key());
        } else {
          batch.Put(entry->key(), v->value());
        }
        if (batch.ApproximateBytes() >= kRecordBytes) emit();
      }
      emit();
    }
    if (s.ok()) s = log.Sync();
    absl::Status closed = log.Close();
    KV_RETURN_IF_ERROR(s.ok() ? closed : s);
  }
  manifest.log_number = wal_number;
  manifest.next_file_number = wal_number + 1;
  manifest.last_sequence = sequence;
  return WriteManifest(env, dest, manifest);  // Syncs `dest`: the links and the WAL's name too.
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_CHECKPOINT_H_
