#include "benchmarks/scratch_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"

namespace kvstore::bench {
namespace fs = std::filesystem;

namespace {

absl::Status FsError(const std::string& what, const std::string& path, const std::error_code& ec) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", ec.message()));
}

absl::Status SyncPath(const std::string& path, bool directory) {
  const int fd = ::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  const int rc = ::fsync(fd);
  const int saved_errno = errno;
  ::close(fd);
  if (rc != 0) return absl::InternalError(absl::StrCat("fsync ", path, ": ", std::strerror(saved_errno)));
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<ScratchDir>> ScratchDir::Create(const std::string& parent) {
  std::string base = parent;
  if (base.empty()) {
    const char* tmpdir = std::getenv("TMPDIR");
    base = (tmpdir != nullptr && *tmpdir != '\0') ? tmpdir : "/tmp";
  }
  std::error_code ec;
  fs::create_directories(base, ec);
  if (ec) return FsError("create_directories", base, ec);
  std::string pattern = absl::StrCat(base, "/kvstore-bench.XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (::mkdtemp(buffer.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", pattern, ": ", std::strerror(errno)));
  }
  return std::unique_ptr<ScratchDir>(new ScratchDir(std::string(buffer.data())));
}

ScratchDir::~ScratchDir() { RemoveTree(path_).IgnoreError(); }

std::string ScratchDir::Child(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

absl::Status RemoveTree(const std::string& path) {
  std::error_code ec;
  fs::remove_all(path, ec);
  if (ec) return FsError("remove_all", path, ec);
  return absl::OkStatus();
}

absl::Status CopyTreeDurably(const std::string& from, const std::string& to) {
  std::error_code ec;
  if (fs::exists(to, ec)) return absl::AlreadyExistsError(absl::StrCat(to, " already exists"));
  fs::copy(from, to, fs::copy_options::recursive, ec);
  if (ec) return FsError(absl::StrCat("copy ", from, " to"), to, ec);
  for (auto it = fs::recursive_directory_iterator(to, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->is_regular_file()) {
      absl::Status status = SyncPath(it->path().string(), /*directory=*/false);
      if (!status.ok()) return status;
    } else if (it->is_directory()) {
      absl::Status status = SyncPath(it->path().string(), /*directory=*/true);
      if (!status.ok()) return status;
    }
  }
  if (ec) return FsError("list", to, ec);
  return SyncPath(to, /*directory=*/true);
}

}  // namespace kvstore::bench
