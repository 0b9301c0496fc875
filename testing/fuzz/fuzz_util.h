// Helpers shared by kvstore's fuzz targets: a check that crashes (so libFuzzer keeps the input),
// in-memory files behind the Env seam, and a small deterministic random generator.
//
// Nothing here keeps state between inputs: every harness builds what it needs per call.
#ifndef KVSTORE_TESTING_FUZZ_FUZZ_UTIL_H_
#define KVSTORE_TESTING_FUZZ_FUZZ_UTIL_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "kvstore/env.h"

// A property of the code under test failed: print it and abort, which libFuzzer reports as a
// crash (and the standalone runner as a failed test). Never compiled out, unlike assert().
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

#define FUZZ_CHECK_OK(expr)                                                             \
  do {                                                                                  \
    const ::absl::Status fuzz_status_ = (expr);                                         \
    if (!fuzz_status_.ok()) {                                                           \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK_OK failed: %s: %s\n", __FILE__, __LINE__, \
                   #expr, fuzz_status_.ToString().c_str());                             \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

namespace kvstore::fuzz {

inline absl::string_view AsView(const uint8_t* data, size_t size) {
  return absl::string_view(reinterpret_cast<const char*>(data), size);
}

// A copy of `bytes` in an allocation of exactly their size (a std::string may have spare capacity
// past its end), so that AddressSanitizer reports a read one byte too far.
class ExactBuffer {
 public:
  explicit ExactBuffer(absl::string_view bytes) : bytes_(new char[bytes.size()]), size_(bytes.size()) {
    if (size_ > 0) std::memcpy(bytes_.get(), bytes.data(), size_);
  }
  absl::string_view view() const { return absl::string_view(bytes_.get(), size_); }

 private:
  std::unique_ptr<char[]> bytes_;
  size_t size_;
};

// Reads every byte of `bytes` in a way the optimizer cannot drop, so AddressSanitizer checks
// that a view handed out by the code under test points at live memory.
inline void Touch(absl::string_view bytes) {
  uint8_t sum = 0;
  for (char c : bytes) sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(c));
  volatile uint8_t sink = sum;
  static_cast<void>(sink);
}

// SplitMix64: enough to turn a seed byte from the input into varied but reproducible data.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform enough in [0, n) for n > 0.
  uint64_t Uniform(uint64_t n) { return Next() % n; }
  std::string Bytes(size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(Next());
    return s;
  }

 private:
  uint64_t state_;
};

// A WritableFile appending to a string the caller owns.
class StringSink final : public WritableFile {
 public:
  explicit StringSink(std::string* contents) : contents_(contents) {}
  absl::Status Append(absl::string_view data) override {
    contents_->append(data.data(), data.size());
    return absl::OkStatus();
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  absl::Status Sync() override { return absl::OkStatus(); }
  absl::Status Close() override { return absl::OkStatus(); }

 private:
  std::string* contents_;
};

// A read-only file held in an allocation of exactly its size, so that AddressSanitizer reports
// any read past its end. With `stable_views` it behaves like a memory map (views into its
// bytes); without, like pread (copies into the caller's scratch).
class MemoryFile final : public RandomAccessFile {
 public:
  MemoryFile(absl::string_view contents, bool stable_views)
      : bytes_(contents), stable_views_(stable_views) {}
  absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                    char* scratch) const override {
    const absl::string_view bytes = bytes_.view();
    if (offset > bytes.size()) return absl::OutOfRangeError("read past end of file");
    const absl::string_view read = bytes.substr(static_cast<size_t>(offset), n);
    if (stable_views_) {
      *result = read;
    } else {
      if (!read.empty()) std::memcpy(scratch, read.data(), read.size());
      *result = absl::string_view(scratch, read.size());
    }
    return absl::OkStatus();
  }
  uint64_t Size() const override { return bytes_.view().size(); }
  bool StableViews() const override { return stable_views_; }

 private:
  ExactBuffer bytes_;
  bool stable_views_;
};

// An Env that holds one read-only file, `path`; every other operation fails. Enough for code
// that opens a file through an Env (Segment::Open) to read bytes the harness chose.
class OneFileEnv final : public Env {
 public:
  OneFileEnv(std::string path, absl::string_view contents, bool stable_views)
      : path_(std::move(path)), contents_(contents), stable_views_(stable_views) {}

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    if (path != path_) return absl::NotFoundError(path);
    return std::unique_ptr<RandomAccessFile>(new MemoryFile(contents_, stable_views_));
  }
  absl::Status ReadFileToString(const std::string& path, std::string* contents) override {
    if (path != path_) return absl::NotFoundError(path);
    contents->assign(contents_.data(), contents_.size());
    return absl::OkStatus();
  }
  bool FileExists(const std::string& path) override { return path == path_; }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    if (path != path_) return absl::NotFoundError(path);
    return contents_.size();
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string&) override {
    return Unsupported();
  }
  bool IsDirectory(const std::string&) override { return false; }
  absl::StatusOr<std::vector<std::string>> GetChildren(const std::string&) override {
    return Unsupported();
  }
  absl::Status RemoveFile(const std::string&) override { return Unsupported(); }
  absl::Status RenameFile(const std::string&, const std::string&) override {
    return Unsupported();
  }
  absl::Status CreateDir(const std::string&) override { return Unsupported(); }
  absl::Status SyncDir(const std::string&) override { return Unsupported(); }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string&) override {
    return Unsupported();
  }

 private:
  static absl::Status Unsupported() {
    return absl::UnimplementedError("OneFileEnv serves one read-only file");
  }

  std::string path_;
  absl::string_view contents_;
  bool stable_views_;
};

}  // namespace kvstore::fuzz

#endif  // KVSTORE_TESTING_FUZZ_FUZZ_UTIL_H_
