// The I/O seam of kvstore: every file operation the store makes goes through an Env, so tests can
// substitute one that injects faults or drops unsynced data. PosixEnv is the default.
#ifndef KVSTORE_ENV_H_
#define KVSTORE_ENV_H_

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace kvstore {

// A file written sequentially. Append buffers in user space; Flush hands the bytes to the OS (they
// then survive a process crash); Sync also makes them durable (they survive power loss).
class WritableFile {
 public:
  virtual ~WritableFile() = default;
  virtual absl::Status Append(absl::string_view data) = 0;
  // Append(first), then Append(second): one call, for files that write a large pair at once (the
  // WAL's record header and payload).
  virtual absl::Status AppendPair(absl::string_view first, absl::string_view second) {
    absl::Status s = Append(first);
    if (s.ok()) s = Append(second);
    return s;
  }
  virtual absl::Status Flush() = 0;
  virtual absl::Status Sync() = 0;
  virtual absl::Status Close() = 0;
};

// A file read at arbitrary offsets from many threads at once.
class RandomAccessFile {
 public:
  virtual ~RandomAccessFile() = default;
  // Reads up to `n` bytes at `offset`. `*result` may point into `scratch` (which must hold `n`
  // bytes) or into memory the file owns. A file with StableViews never uses `scratch`, and
  // callers may pass nullptr to it.
  virtual absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                            char* scratch) const = 0;
  virtual uint64_t Size() const = 0;
  // True when every view Read returns stays valid and unchanged while this file is open (a
  // memory map). Callers then may verify a block's checksum once instead of on every read.
  virtual bool StableViews() const { return false; }
  // Tells the file that this process will not read [offset, offset + n) again soon, as when a
  // compaction has merged that part of an input. A memory-mapped file then drops those pages from
  // the process (they stay in the OS cache and come back on the next read), so merging inputs
  // larger than memory does not hold all of them in the process at once. Views returned before
  // stay valid. By default it does nothing.
  virtual void WillNotNeed(uint64_t /*offset*/, uint64_t /*n*/) const {}
};

// Held while a store is open; destroying it releases the lock.
class FileLock {
 public:
  virtual ~FileLock() = default;
};

class Env {
 public:
  virtual ~Env() = default;

  // The process-wide POSIX environment.
  static Env* Default();

  // Creates `path`, or truncates it if it exists.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) = 0;
  // Creates a file for the write-ahead log: appended to in small records, each handed to the OS
  // by Flush before a write is acknowledged. An Env may make that cheaper than a write() per
  // record (PosixEnv maps the file); by default it is NewWritableFile.
  virtual absl::StatusOr<std::unique_ptr<WritableFile>> NewLogFile(const std::string& path) {
    return NewWritableFile(path);
  }
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) = 0;
  // Opens a file for reads that should leave no pages in this process (PosixEnv: pread into the
  // caller's scratch, no mapping): point lookups in a segment whose keys newer segments mostly
  // hold again, whose mapped pages would otherwise stay resident, 64 KiB of them for each read
  // that faults, until compaction drops the segment. By default NewRandomAccessFile, so that a
  // wrapping Env sees it.
  virtual absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewUnmappedRandomAccessFile(
      const std::string& path) {
    return NewRandomAccessFile(path);
  }
  virtual absl::Status ReadFileToString(const std::string& path, std::string* contents) = 0;
  virtual bool FileExists(const std::string& path) = 0;
  virtual bool IsDirectory(const std::string& path) = 0;
  virtual absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) = 0;
  virtual absl::StatusOr<uint64_t> GetFileSize(const std::string& path) = 0;
  virtual absl::Status RemoveFile(const std::string& path) = 0;
  // Atomically replaces `to` with `from`. Durable only after SyncDir of the directory.
  virtual absl::Status RenameFile(const std::string& from, const std::string& to) = 0;
  // Creates `dir`; succeeds if it exists already as a directory.
  virtual absl::Status CreateDir(const std::string& dir) = 0;
  // Makes the directory's entries (created, renamed, removed files) durable.
  virtual absl::Status SyncDir(const std::string& dir) = 0;
  // Gives the file `from` a second name `to` (a hard link), durable after SyncDir. Callers copy
  // the file instead when this fails: across file systems, or in an Env without links (the
  // default, so that an existing Env need not implement it).
  virtual absl::Status LinkFile(const std::string& from, const std::string& to) {
    return absl::UnimplementedError(absl::StrCat("this Env has no hard links (", from, ")"));
  }
  // Takes an exclusive lock on `path` (creating it) that another process or another LockFile
  // call in this process cannot take until released.
  virtual absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) = 0;
};

// Forwards every call to the file it owns, so a test Env's file overrides only what it changes.
class RandomAccessFileWrapper : public RandomAccessFile {
 public:
  explicit RandomAccessFileWrapper(std::unique_ptr<RandomAccessFile> target)
      : target_(std::move(target)) {}
  const RandomAccessFile& target() const { return *target_; }

  absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                    char* scratch) const override {
    return target_->Read(offset, n, result, scratch);
  }
  uint64_t Size() const override { return target_->Size(); }
  bool StableViews() const override { return target_->StableViews(); }
  void WillNotNeed(uint64_t offset, uint64_t n) const override { target_->WillNotNeed(offset, n); }

 private:
  std::unique_ptr<RandomAccessFile> target_;
};

// Forwards every call to another Env, so a test Env overrides only what it changes. NewLogFile is
// deliberately not forwarded: it stays Env's default, NewWritableFile, so a wrapper that overrides
// NewWritableFile sees the WAL's files too.
class EnvWrapper : public Env {
 public:
  explicit EnvWrapper(Env* target) : target_(target) {}
  Env* target() const { return target_; }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    return target_->NewWritableFile(path);
  }
  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    return target_->NewRandomAccessFile(path);
  }
  absl::Status ReadFileToString(const std::string& path, std::string* contents) override {
    return target_->ReadFileToString(path, contents);
  }
  bool FileExists(const std::string& path) override { return target_->FileExists(path); }
  bool IsDirectory(const std::string& path) override { return target_->IsDirectory(path); }
  absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) override {
    return target_->GetChildren(dir);
  }
  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    return target_->GetFileSize(path);
  }
  absl::Status RemoveFile(const std::string& path) override { return target_->RemoveFile(path); }
  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    return target_->RenameFile(from, to);
  }
  absl::Status CreateDir(const std::string& dir) override { return target_->CreateDir(dir); }
  absl::Status SyncDir(const std::string& dir) override { return target_->SyncDir(dir); }
  absl::Status LinkFile(const std::string& from, const std::string& to) override {
    return target_->LinkFile(from, to);
  }
  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    return target_->LockFile(path);
  }

 private:
  Env* target_;
};

namespace internal {

inline absl::Status PosixError(absl::string_view what, const std::string& path, int error) {
  return absl::ErrnoToStatus(error, absl::StrCat(what, " ", path));
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixWritableFile() override { Close().IgnoreError(); }

  absl::Status Append(absl::string_view data) override {
    // Small appends gather in the buffer so a flush costs one write(); large ones go straight out.
    if (buffer_.size() + data.size() <= kBufferBytes) {
      buffer_.append(data.data(), data.size());
      return absl::OkStatus();
    }
    if (absl::Status s = Flush(); !s.ok()) return s;
    if (data.size() <= kBufferBytes) {
      buffer_.append(data.data(), data.size());
      return absl::OkStatus();
    }
    return WriteAll(data);
  }

  absl::Status Flush() override {
    if (buffer_.empty()) return absl::OkStatus();
    absl::Status s = WriteAll(buffer_);
    buffer_.clear();
    return s;
  }

  absl::Status Sync() override {
    if (absl::Status s = Flush(); !s.ok()) return s;
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync", path_, errno);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    absl::Status s = Flush();
    if (::close(fd_) != 0 && s.ok()) s = PosixError("close", path_, errno);
    fd_ = -1;
    return s;
  }

 private:
  static constexpr size_t kBufferBytes = 64 * 1024;

  absl::Status WriteAll(absl::string_view data) {
    while (!data.empty()) {
      const ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path_, errno);
      }
      data.remove_prefix(static_cast<size_t>(n));
      written_ += static_cast<uint64_t>(n);
    }
    // Start writing back each megabyte as it is written (without waiting for it), so that the
    // Sync that ends a segment waits for the last megabyte rather than for the whole file, and
    // the disk is kept busy while the rest is built. Only a hint: errors surface at Sync.
    if (written_ - writeback_start_ >= kWritebackBytes) {
      ::sync_file_range(fd_, static_cast<off64_t>(writeback_start_),
                        static_cast<off64_t>(written_ - writeback_start_), SYNC_FILE_RANGE_WRITE);
      writeback_start_ = written_;
    }
    return absl::OkStatus();
  }

  static constexpr uint64_t kWritebackBytes = 1 << 20;

  std::string path_;
  int fd_;
  std::string buffer_;
  uint64_t written_ = 0;          // Bytes handed to write().
  uint64_t writeback_start_ = 0;  // Bytes before this offset have been sent to writeback.
};

// The WAL, appended through a shared memory map: bytes copied into a MAP_SHARED mapping are in
// the OS page cache at once, so they survive a crash of the process without a system call per
// record (a write() costs more than the rest of a Set). Space is reserved with fallocate ahead of
// the writes, so a full disk is an error returned by Append, never a SIGBUS on a store to the map.
// Close trims the reservation; after a crash the file ends in zeros, which the WAL reader treats as
// the end of the log.
//
// Reserving, mapping and faulting in a chunk costs one to several microseconds per 4 KiB page, more
// than the copies of the records that fill it. So once half of a chunk is used, a helper thread prepares
// the next one, and the writer only swaps mappings; an error there (a full disk) is returned by
// the Append that needs the chunk, as if it had been prepared then.
//
// Large records (kDirectWriteBytes or more: batches of thousands of entries) are written with
// pwrite instead, after the current chunk is unmapped. For them the map costs more than it saves:
// every page is faulted in and touched for one copy, and a sync must write-protect each mapped
// page again (page_mkclean, a TLB flush per page table on this project's paravirtualized VMs).
// Measured with db_bench's slow_* workloads (1,000-entry batches of 174 KB): synced batches ran at
// 59-77 MB/s through the map and 255-258 MB/s with write(); unsynced sorted inserts at 184-250
// and 287-312 MB/s. A small record after a large one maps a fresh small chunk at its offset.
class PosixMappedLogFile final : public WritableFile {
 public:
  // Chunks start small (a store with a small MemTable writes small WALs) and double. A chunk's
  // pages stay resident (in the process's RSS) until it is unmapped, and two are mapped at a time
  // (the current one and the one prepared), so chunks stop growing at 1 MiB: measured, 4 MiB
  // chunks cost 6-10 MiB of peak RSS and wrote no faster.
  static constexpr uint64_t kFirstChunkBytes = 64 << 10;
  static constexpr uint64_t kMaxChunkBytes = 1 << 20;
  static constexpr uint64_t kDirectWriteBytes = 32 << 10;
#ifdef MADV_POPULATE_WRITE
  static constexpr int kPopulateWrite = MADV_POPULATE_WRITE;
#else
  static constexpr int kPopulateWrite = 23;  // Linux's value, for older C library headers.
#endif

  PosixMappedLogFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixMappedLogFile() override { Close().IgnoreError(); }

  // Reserves and maps the first chunk; fails where the file system cannot reserve space.
  absl::Status Start() { return NextChunk(); }

  absl::Status Append(absl::string_view data) override {
    if (data.size() >= kDirectWriteBytes) return AppendDirect(data, absl::string_view());
    while (!data.empty()) {
      if (offset_ == current_.end()) {
        if (absl::Status s = NextChunk(); !s.ok()) return s;
      }
      const size_t n = std::min<uint64_t>(data.size(), current_.end() - offset_);
      std::memcpy(current_.map + (offset_ - current_.start), data.data(), n);
      offset_ += n;
      data.remove_prefix(n);
    }
    if (!preparing_.joinable() && offset_ - current_.start >= current_.bytes / 2) {
      const uint64_t start = current_.end(), bytes = NextChunkBytes(current_.bytes);
      preparing_ = std::thread([this, start, bytes] { next_ = MapChunk(start, bytes); });
    }
    return absl::OkStatus();
  }

  absl::Status AppendPair(absl::string_view first, absl::string_view second) override {
    if (first.size() + second.size() >= kDirectWriteBytes) return AppendDirect(first, second);
    absl::Status s = Append(first);
    if (s.ok()) s = Append(second);
    return s;
  }

  absl::Status Flush() override { return absl::OkStatus(); }  // Already in the page cache.

  absl::Status Sync() override {
    // fdatasync writes back the file's dirty pages, those dirtied through the mapping included.
    if (::fdatasync(fd_) != 0) return PosixError("fdatasync", path_, errno);
    return absl::OkStatus();
  }

  absl::Status Close() override {
    if (fd_ < 0) return absl::OkStatus();
    TakePrepared().Unmap();
    current_.Unmap();
    absl::Status s;
    if (::ftruncate(fd_, static_cast<off_t>(offset_)) != 0) s = PosixError("ftruncate", path_, errno);
    if (::close(fd_) != 0 && s.ok()) s = PosixError("close", path_, errno);
    fd_ = -1;
    return s;
  }

 private:
  struct Chunk {
    char* map = nullptr;
    uint64_t start = 0;
    uint64_t bytes = 0;
    absl::Status status;

    uint64_t end() const { return start + bytes; }
    void Unmap() {
      if (map != nullptr) ::munmap(map, bytes);
      map = nullptr;
    }
  };

  static uint64_t NextChunkBytes(uint64_t bytes) {
    return bytes == 0 ? kFirstChunkBytes : std::min<uint64_t>(bytes * 2, kMaxChunkBytes);
  }

  // Writes `first` and `second` at offset_ with pwritev, with no chunk mapped over them (see the
  // class comment); the next small Append maps a first-size chunk from the page that holds the new
  // offset_. After an error (a full disk) the file may end in part of them, a torn tail: the store
  // then refuses writes until it is reopened, and reading the WAL back ends there.
  absl::Status AppendDirect(absl::string_view first, absl::string_view second) {
    TakePrepared().Unmap();
    current_.Unmap();
    struct iovec parts[2] = {{const_cast<char*>(first.data()), first.size()},
                             {const_cast<char*>(second.data()), second.size()}};
    struct iovec* part = parts;
    int count = 2;
    absl::Status s;
    while (count > 0) {
      if (part->iov_len == 0) {
        ++part;
        --count;
        continue;
      }
      const ssize_t n = ::pwritev(fd_, part, count, static_cast<off_t>(offset_));
      if (n < 0) {
        if (errno == EINTR) continue;
        s = PosixError("write", path_, errno);
        break;
      }
      offset_ += static_cast<uint64_t>(n);
      for (size_t left = static_cast<size_t>(n); left > 0;) {
        const size_t step = std::min(left, part->iov_len);
        part->iov_base = static_cast<char*>(part->iov_base) + step;
        part->iov_len -= step;
        left -= step;
        if (part->iov_len == 0) {
          ++part;
          --count;
        }
      }
    }
    current_ = EmptyChunkAt(offset_);
    return s;
  }

  // A chunk of no bytes whose end is `offset`, so that the next small Append maps a new one there.
  static Chunk EmptyChunkAt(uint64_t offset) {
    Chunk chunk;
    chunk.start = offset;
    return chunk;
  }

  // Reserves [start, start + bytes) of the file and maps it, faulted in writable.
  Chunk MapChunk(uint64_t start, uint64_t bytes) const {
    Chunk chunk;
    chunk.start = start;
    chunk.bytes = bytes;
    if (int error = ::posix_fallocate(fd_, static_cast<off_t>(start), static_cast<off_t>(bytes));
        error != 0) {
      chunk.status = PosixError("cannot reserve space in", path_, error);
      return chunk;
    }
    auto map_with = [&](int flags) {
      return ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, flags, fd_, static_cast<off_t>(start));
    };
    void* map = map_with(MAP_SHARED);
    // Fault the pages in writable now, in one call: otherwise every first store to a page of a
    // shared mapping traps (to mark it dirty). Kernels before 5.14 lack MADV_POPULATE_WRITE;
    // MAP_POPULATE's read-only mapping is the fallback there.
    if (map != MAP_FAILED && ::madvise(map, bytes, kPopulateWrite) != 0) {
      ::munmap(map, bytes);
      map = map_with(MAP_SHARED | MAP_POPULATE);
    }
    if (map == MAP_FAILED) {
      chunk.status = PosixError("cannot map", path_, errno);
      return chunk;
    }
    chunk.map = static_cast<char*>(map);
    TouchPages(chunk.map, bytes);
    return chunk;
  }

  // Reads one byte of every page. On a VM with shadow page tables (the paravirtualized guests
  // this project is measured on), the first access to a page from user space traps to the
  // hypervisor even after MADV_POPULATE_WRITE has faulted it in: measured 3-4 us per 4 KiB page,
  // against 0.2 us to copy into a page already touched. Touched here, on the helper thread, the
  // writer's copies find them ready. A read is enough, and changes nothing in the file.
  static void TouchPages(const char* map, uint64_t bytes) {
    static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    for (uint64_t at = 0; at < bytes; at += page) {
      (void)*static_cast<const volatile char*>(map + at);
    }
  }

  // The chunk the helper thread prepared, once it is done; an empty one if none was started.
  Chunk TakePrepared() {
    if (!preparing_.joinable()) return Chunk();
    preparing_.join();
    return std::exchange(next_, Chunk());
  }

  absl::Status NextChunk() {
    Chunk next = TakePrepared();
    if (next.map == nullptr && next.status.ok()) {
      // Mappings start on a page: after a direct write, offset_ may lie inside one.
      static const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
      const uint64_t start = offset_ & ~(page - 1);
      next = MapChunk(start, NextChunkBytes(current_.bytes));
    }
    if (!next.status.ok()) return next.status;
    current_.Unmap();
    current_ = std::move(next);
    return absl::OkStatus();
  }

  std::string path_;
  int fd_;
  Chunk current_;
  uint64_t offset_ = 0;
  std::thread preparing_;  // Prepares next_ while running.
  Chunk next_;
};

// Reads with pread into the caller's scratch: pages read stay in the OS cache only.
class PosixPreadFile final : public RandomAccessFile {
 public:
  PosixPreadFile(std::string path, int fd, uint64_t size)
      : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixPreadFile() override { ::close(fd_); }
  absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                    char* scratch) const override {
    if (offset > size_) return absl::OutOfRangeError("read past end of file");
    n = static_cast<size_t>(std::min<uint64_t>(n, size_ - offset));
    size_t done = 0;
    while (done < n) {
      const ssize_t got = ::pread(fd_, scratch + done, n - done, static_cast<off_t>(offset + done));
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) return PosixError("cannot read", path_, errno);
      if (got == 0) break;  // The file is shorter than when opened: the caller sees a short read.
      done += static_cast<size_t>(got);
    }
    *result = absl::string_view(scratch, done);
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

// Segments are immutable once written, so they are mapped: a read is a memory access, and the
// same bytes can be verified once and trusted afterwards.
class PosixMappedFile final : public RandomAccessFile {
 public:
  PosixMappedFile(const char* base, uint64_t size) : base_(base), size_(size) {}
  ~PosixMappedFile() override {
    if (size_ > 0) ::munmap(const_cast<char*>(base_), size_);
  }
  absl::Status Read(uint64_t offset, size_t n, absl::string_view* result,
                    char* /*scratch*/) const override {
    if (offset > size_) return absl::OutOfRangeError("read past end of file");
    *result = absl::string_view(base_ + offset, std::min<uint64_t>(n, size_ - offset));
    return absl::OkStatus();
  }
  uint64_t Size() const override { return size_; }
  bool StableViews() const override { return true; }
  void WillNotNeed(uint64_t offset, uint64_t n) const override {
    if (offset >= size_) return;
    n = std::min<uint64_t>(n, size_ - offset);
    // Whole pages only: the pages at either end may still hold bytes someone is about to read.
    static const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
    const uintptr_t begin = (reinterpret_cast<uintptr_t>(base_ + offset) + page - 1) & ~(page - 1);
    const uintptr_t end = reinterpret_cast<uintptr_t>(base_ + offset + n) & ~(page - 1);
    // MADV_DONTNEED on a shared read-only file mapping only unmaps: the file's bytes are unchanged
    // and a later access maps them again from the page cache. A failure merely keeps the pages.
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);
  }

 private:
  const char* base_;
  uint64_t size_;
};

// One table per process of the paths locked by this process: flock() on a second descriptor of
// the same file in the same process would succeed, and a store must refuse that too.
class PosixLockTable {
 public:
  bool Insert(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_.insert(path).second;
  }
  void Remove(const std::string& path) {
    std::lock_guard<std::mutex> lock(mu_);
    paths_.erase(path);
  }

 private:
  std::mutex mu_;
  std::set<std::string> paths_;
};

inline PosixLockTable& ProcessLockTable() {
  static PosixLockTable* table = new PosixLockTable;
  return *table;
}

class PosixFileLock final : public FileLock {
 public:
  PosixFileLock(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixFileLock() override {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
    ProcessLockTable().Remove(path_);
  }

 private:
  std::string path_;
  int fd_;
};

class PosixEnv final : public Env {
 public:
  absl::StatusOr<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("cannot create", path, errno);
    return std::make_unique<PosixWritableFile>(path, fd);
  }

  absl::StatusOr<std::unique_ptr<WritableFile>> NewLogFile(const std::string& path) override {
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return PosixError("cannot create", path, errno);
    auto file = std::make_unique<PosixMappedLogFile>(path, fd);
    if (absl::Status s = file->Start(); !s.ok()) {
      // posix_fallocate emulates reservation where the file system lacks it, so a failure here is
      // a real one (a full disk, a file size limit): report it.
      return s;
    }
    return file;
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(
      const std::string& path) override {
    int fd;
    uint64_t size;
    if (absl::Status s = OpenForReading(path, &fd, &size); !s.ok()) return s;
    const char* base = nullptr;
    if (size > 0) {
      void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
      if (map == MAP_FAILED) {
        const int error = errno;
        ::close(fd);
        return PosixError("cannot map", path, error);
      }
      base = static_cast<const char*>(map);
    }
    ::close(fd);  // The mapping keeps the file alive.
    return std::make_unique<PosixMappedFile>(base, size);
  }

  absl::StatusOr<std::unique_ptr<RandomAccessFile>> NewUnmappedRandomAccessFile(
      const std::string& path) override {
    int fd;
    uint64_t size;
    if (absl::Status s = OpenForReading(path, &fd, &size); !s.ok()) return s;
    return std::make_unique<PosixPreadFile>(path, fd, size);
  }

  // Opens `path` read-only and gives its descriptor and size; nothing stays open on an error.
  static absl::Status OpenForReading(const std::string& path, int* fd, uint64_t* size) {
    *fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (*fd < 0) return PosixError("cannot open", path, errno);
    struct stat st;
    if (::fstat(*fd, &st) != 0) {
      const int error = errno;
      ::close(*fd);
      return PosixError("cannot stat", path, error);
    }
    *size = static_cast<uint64_t>(st.st_size);
    return absl::OkStatus();
  }

  absl::Status ReadFileToString(const std::string& path, std::string* contents) override {
    contents->clear();
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return PosixError("cannot open", path, errno);
    char buf[64 * 1024];
    for (;;) {
      const ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR) continue;
        const int error = errno;
        ::close(fd);
        return PosixError("read", path, error);
      }
      if (n == 0) break;
      contents->append(buf, static_cast<size_t>(n));
    }
    ::close(fd);
    return absl::OkStatus();
  }

  bool FileExists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

  bool IsDirectory(const std::string& path) override {
    struct stat st;
    return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
  }

  absl::StatusOr<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("cannot list", dir, errno);
    std::vector<std::string> names;
    while (struct dirent* entry = ::readdir(d)) {
      const absl::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    ::closedir(d);
    return names;
  }

  absl::StatusOr<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("cannot stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  absl::Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("cannot remove", path, errno);
    return absl::OkStatus();
  }

  absl::Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) {
      return PosixError(absl::StrCat("cannot rename to ", to, ":"), from, errno);
    }
    return absl::OkStatus();
  }

  absl::Status CreateDir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0755) == 0) return absl::OkStatus();
    const int error = errno;
    if (error == EEXIST) {
      if (IsDirectory(dir)) return absl::OkStatus();
      return absl::FailedPreconditionError(absl::StrCat(dir, " exists and is not a directory"));
    }
    return PosixError("cannot create directory", dir, error);
  }

  absl::Status SyncDir(const std::string& dir) override {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return PosixError("cannot open directory", dir, errno);
    absl::Status s;
    if (::fsync(fd) != 0) s = PosixError("fsync of directory", dir, errno);
    ::close(fd);
    return s;
  }

  absl::Status LinkFile(const std::string& from, const std::string& to) override {
    if (::link(from.c_str(), to.c_str()) != 0) return PosixError("cannot link to " + to, from, errno);
    return absl::OkStatus();
  }

  absl::StatusOr<std::unique_ptr<FileLock>> LockFile(const std::string& path) override {
    char* resolved = ::realpath(path.c_str(), nullptr);
    std::string key = path;
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      std::free(resolved);
      return PosixError("cannot open lock file", path, errno);
    }
    if (resolved == nullptr) resolved = ::realpath(path.c_str(), nullptr);
    if (resolved != nullptr) {
      key = resolved;
      std::free(resolved);
    }
    if (!ProcessLockTable().Insert(key)) {
      ::close(fd);
      return absl::FailedPreconditionError(
          absl::StrCat("store is already open in this process (lock held on ", path, ")"));
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      ::close(fd);
      ProcessLockTable().Remove(key);
      if (error == EWOULDBLOCK) {
        return absl::FailedPreconditionError(
            absl::StrCat("store is already open in another process (lock held on ", path, ")"));
      }
      return PosixError("cannot lock", path, error);
    }
    return std::make_unique<PosixFileLock>(key, fd);
  }
};

}  // namespace internal

inline Env* Env::Default() {
  static Env* env = new internal::PosixEnv;
  return env;
}

}  // namespace kvstore

#endif  // KVSTORE_ENV_H_
