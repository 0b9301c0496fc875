// Options that control a KVStore: how it opens, when it flushes and compacts, and how each read
// and write behaves. Defaults are chosen for a general-purpose embedded store.
#ifndef KVSTORE_OPTIONS_H_
#define KVSTORE_OPTIONS_H_

#include <cstddef>
#include <cstdint>

namespace kvstore {

class Env;
class Snapshot;

// Largest encoded key and value the store accepts. Keys are kept in indexes and compared often,
// so they are kept small; values may be large but must fit in one WAL record.
inline constexpr size_t kMaxKeyBytes = 64 * 1024;
inline constexpr size_t kMaxValueBytes = 64 * 1024 * 1024;

struct Options {
  // Create the directory and an empty store when `dir` holds no store.
  bool create_if_missing = true;
  // Refuse to open a directory that already holds a store.
  bool error_if_exists = false;

  // Size of the MemTable (keys, values and its index) at which it is frozen and flushed to a new
  // segment in the background, while writes continue into a fresh MemTable and WAL.
  size_t memtable_bytes = 8 * 1024 * 1024;

  // Target size of a data block inside a segment: one read of the disk per segment consulted
  // fetches one block.
  size_t block_bytes = 4096;

  // Memory for decompressed data blocks, with a Compression policy other than NoCompression
  // (kvstore/compression.h); 0 decompresses on every read. Raw blocks never use it: they are read
  // in place from the mapped file.
  size_t block_cache_bytes = 8 * 1024 * 1024;

  // Segments are layered in sorted runs (one or more segments with disjoint key ranges; a flush
  // that overlaps no segment of the newest run joins it, so data written in key order is never
  // rewritten). A read consults each run once. Compaction (size-tiered): when at least
  // `compaction_trigger` adjacent runs of similar size exist, they are merged into one run in the
  // background. Writes slow down once `slowdown_segments` runs wait and stop (until compaction
  // catches up) at `stop_segments`; the runs that stand for a merge in progress count as one.
  int compaction_trigger = 4;
  // Runs whose sizes are within this ratio of each other count as "similar".
  double compaction_size_ratio = 4.0;
  // Compaction writes its output as segments of about this size, and installs each as soon as it
  // is written, deleting the inputs it has merged past. A compaction then needs free disk for
  // about one segment per input run, not for a second copy of everything it merges.
  uint64_t segment_bytes = 64 * 1024 * 1024;
  // Space bound: when the segments of newer runs whose keys overlap the oldest run add up to more
  // than this fraction of it, all runs are merged. With overwrites, the files then hold at most
  // about (1 + max_space_amplification) times the live data, plus the MemTables; each byte is
  // rewritten about 1 / max_space_amplification more times (write amplification).
  double max_space_amplification = 0.5;
  int slowdown_segments = 16;
  int stop_segments = 32;
  // Run compactions on a background thread. When false, only Compact() merges segments.
  bool background_compaction = true;
  // Once no write has come for this long (and again each such period), a MemTable whose versions
  // may free 1 MiB or more on disk (deletions, shrinking overwrites) is flushed without waiting to
  // fill, so that compaction gives deleted space back. 0: only full MemTables are flushed.
  uint32_t idle_flush_ms = 1000;

  // Verify block checksums on every read rather than once per block per open. Reads of data
  // verified before cost no hashing otherwise; corruption found later is still reported.
  bool paranoid_checks = false;

  // Open without writing anything: no LOCK taken, no WAL started, no flush, compaction or file
  // deletion, nothing created. The WAL is replayed into memory (a torn tail, such as a record
  // another process is writing at that moment, is the end of the log). The store is a snapshot
  // as of the open, and may be open for writing by another process meanwhile: later writes are
  // not seen, and segments that process deletes stay readable through the files already open.
  // Writes, Flush, Compact and transaction commits fail with FailedPrecondition.
  // create_if_missing and error_if_exists are ignored (a missing store is NotFound).
  bool read_only = false;

  // Every file operation goes through this interface; nullptr means the POSIX one.
  Env* env = nullptr;
};

struct WriteOptions {
  // Also wait for fdatasync of the WAL before returning: the write then survives power loss.
  // Without it a write survives a process crash (it is in the OS) but not a power cut.
  bool sync = false;
};

struct ReadOptions {
  // Read the store as it was when this snapshot was taken; nullptr means the latest state.
  const Snapshot* snapshot = nullptr;
  // Verify checksums of every block this read touches, even ones verified before.
  bool verify_checksums = false;
};

}  // namespace kvstore

#endif  // KVSTORE_OPTIONS_H_
