// Reading a store's files outside the engine's own state: every operation of a WAL file, and a
// check of every checksum of a store (Verify, tools/verify, Repair).
#ifndef KVSTORE_INTERNAL_STORE_FILES_H_
#define KVSTORE_INTERNAL_STORE_FILES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/format.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/segment.h"
#include "kvstore/internal/wal.h"
#include "kvstore/status.h"

namespace kvstore::internal {

// Calls handler(sequence, kind, key, value) for every operation of the WAL file at `path`, in
// order, under the recovery policy of LogReader; errors name the file. `*dropped_tail_bytes`, if
// given, receives the size of a torn tail that was dropped.
template <typename Handler>
absl::Status ForEachWalOperation(Env* env, const std::string& path, Handler&& handler,
                                 size_t* dropped_tail_bytes = nullptr) {
  std::string contents;
  KV_RETURN_IF_ERROR(env->ReadFileToString(path, &contents));
  LogReader reader(contents, path);
  absl::string_view payload;
  while (reader.Next(&payload)) {
    if (absl::Status s = BatchRep::ForEach(payload, handler); !s.ok()) {
      return absl::DataLossError(absl::StrCat("corruption in ", path, ": ", s.message()));
    }
  }
  if (dropped_tail_bytes != nullptr) *dropped_tail_bytes = reader.dropped_tail_bytes();
  return reader.status();
}

// Checks every checksum of the store in `dir` without changing anything: the manifest, every
// segment it names, and every WAL it still needs. DataLoss lists each damaged file.
template <typename Filter>
absl::Status VerifyStoreFiles(Env* env, const std::string& dir, const BlockDecoding& decoding = {}) {
  Manifest manifest;
  KV_RETURN_IF_ERROR(ReadManifest(env, dir, &manifest));
  std::vector<std::string> problems;
  for (uint64_t number : manifest.SegmentNumbers()) {
    absl::Status s;
    auto segment = Segment<Filter>::Open(env, dir, number, decoding);
    s = segment.ok() ? (*segment)->Verify() : segment.status();
    if (!s.ok()) problems.emplace_back(s.message());
  }
  KV_ASSIGN_OR_RETURN(std::vector<std::string> children, env->GetChildren(dir));
  for (const std::string& name : children) {
    uint64_t number;
    if (ParseFileName(name, &number) != FileKind::kWal || number < manifest.log_number) continue;
    absl::Status s = ForEachWalOperation(
        env, WalFileName(dir, number),
        [](uint64_t, EntryKind, absl::string_view, absl::string_view) {});
    if (!s.ok()) problems.emplace_back(s.message());
  }
  if (problems.empty()) return absl::OkStatus();
  return absl::DataLossError(absl::StrJoin(problems, "; "));
}

}  // namespace kvstore::internal

#endif  // KVSTORE_INTERNAL_STORE_FILES_H_
