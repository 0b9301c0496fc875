// Directories for the stores a benchmark opens: one private tree per process, removed when the
// process is done with it, and a durable copy so that several workloads can start from the same
// prepared store without rebuilding it.
#ifndef KVSTORE_BENCHMARKS_SCRATCH_DIR_H_
#define KVSTORE_BENCHMARKS_SCRATCH_DIR_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kvstore::bench {

// A fresh directory <parent>/kvstore-bench.XXXXXX, deleted with everything in it on destruction.
// An empty `parent` means $TMPDIR, else /tmp.
class ScratchDir {
 public:
  static absl::StatusOr<std::unique_ptr<ScratchDir>> Create(const std::string& parent);
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Child(absl::string_view name) const;

 private:
  explicit ScratchDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Removes `path` and everything below it; OK if it does not exist.
absl::Status RemoveTree(const std::string& path);

// Copies the directory tree `from` to `to` (which must not exist) and fsyncs every copied file,
// so that no write-back of the copy runs in the background of a timed workload afterwards.
absl::Status CopyTreeDurably(const std::string& from, const std::string& to);

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_SCRATCH_DIR_H_
