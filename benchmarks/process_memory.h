// Memory figures of this process, for the benchmarks' memory report. Linux only: they come from
// /proc/self/status and glibc's allocator statistics.
#ifndef KVSTORE_BENCHMARKS_PROCESS_MEMORY_H_
#define KVSTORE_BENCHMARKS_PROCESS_MEMORY_H_

#include <cstdint>
#include <optional>

namespace kvstore::bench {

// Peak resident set size of the process so far (VmHWM), in bytes. A per-engine peak needs one
// process per engine: the peak never goes down, and memory freed by one engine may stay in
// the allocator's arenas while the next one runs.
std::optional<uint64_t> PeakRssBytes();

// Current resident set size (VmRSS), in bytes.
std::optional<uint64_t> RssBytes();

// Current resident anonymous memory (RssAnon): heap and stacks, not mapped files.
std::optional<uint64_t> RssAnonBytes();

// Mapped file pages resident (RssFile of /proc/self/status): a store's mapped segments and WAL.
std::optional<uint64_t> RssFileBytes();

// Page faults the process has taken so far, minor and major (getrusage). On a virtual machine a
// fault into a fresh page can cost microseconds, enough to decide a phase of tens of milliseconds.
uint64_t PageFaults();

// Bytes currently handed out by malloc in all arenas, including mmap-ed chunks.
uint64_t HeapAllocatedBytes();

// Bytes malloc's arenas hold free (including each arena's free top): what the process could give
// back with malloc_trim. Not all of it need be resident.
uint64_t HeapFreeBytes();

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_PROCESS_MEMORY_H_
