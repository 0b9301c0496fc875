// A store opened without its C++ types, for kvctl: encoded keys and values straight through the
// engine. The engine is a template on the filter policy, which a store records by name; this
// picks the instantiation by that name at run time.
#ifndef KVSTORE_TOOLS_KVCTL_RAW_STORE_H_
#define KVSTORE_TOOLS_KVCTL_RAW_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/batch.h"
#include "kvstore/internal/manifest.h"
#include "kvstore/internal/merge.h"
#include "kvstore/options.h"
#include "kvstore/repair.h"

namespace kvstore::kvctl {

class RawStore {
 public:
  virtual ~RawStore() = default;
  // NotFound if the key has no live value.
  virtual absl::Status Get(absl::string_view key, std::string* value) = 0;
  // Yields deletions too (kind() says which); callers skip them.
  virtual std::unique_ptr<internal::KeySource> NewSource() = 0;
  virtual absl::Status Write(internal::BatchRep* batch) = 0;
  virtual absl::Status Flush() = 0;
  virtual absl::Status Compact() = 0;
  virtual absl::Status Checkpoint(const std::string& dest) = 0;
  virtual std::optional<std::string> GetProperty(absl::string_view name) = 0;
  virtual absl::Status Close() = 0;
};

struct SegmentSummary {
  size_t run = 0;
  uint64_t number = 0;
  uint64_t bytes = 0;
  uint64_t entries = 0;
  std::string smallest_key, largest_key;
  bool clipped = false;  // Read only from smallest_key on (a compaction was in progress).
  absl::Status status;  // Not OK if the segment could not be opened (then only run/number hold).
};

// What kvctl does that depends on the filter policy.
struct FilterOps {
  // `type_signature` empty: any types (the manifest's are kept); else they must match, or are
  // recorded in a new store.
  absl::StatusOr<std::unique_ptr<RawStore>> (*open)(const std::string& dir, const Options& options,
                                                    const std::string& type_signature);
  absl::Status (*verify)(const std::string& dir);
  absl::StatusOr<RepairReport> (*repair)(const std::string& dir);
  std::vector<SegmentSummary> (*segments)(const std::string& dir,
                                          const internal::Manifest& manifest);
};

// The operations for the filter named `name` ("bloom10.v1", "none", ...); Unimplemented if no
// filter of that name is known to this build.
absl::StatusOr<FilterOps> OpsForFilter(absl::string_view name);

// The default filter's name: new stores (kvctl load into a missing directory) use it.
absl::string_view DefaultFilterName();

}  // namespace kvstore::kvctl

#endif  // KVSTORE_TOOLS_KVCTL_RAW_STORE_H_
