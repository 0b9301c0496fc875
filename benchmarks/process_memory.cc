#include "benchmarks/process_memory.h"

#include <malloc.h>
#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace kvstore::bench {
namespace {

// A "Name:   1234 kB" line of /proc/self/status, in bytes.
std::optional<uint64_t> StatusField(const std::string& name) {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, name.size(), name) != 0 || line.size() <= name.size() ||
        line[name.size()] != ':') {
      continue;
    }
    std::istringstream fields(line.substr(name.size() + 1));
    uint64_t kib = 0;
    if (fields >> kib) return kib * 1024;
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace

std::optional<uint64_t> PeakRssBytes() { return StatusField("VmHWM"); }

std::optional<uint64_t> RssBytes() { return StatusField("VmRSS"); }

std::optional<uint64_t> RssAnonBytes() { return StatusField("RssAnon"); }

std::optional<uint64_t> RssFileBytes() { return StatusField("RssFile"); }

uint64_t PageFaults() {
  struct rusage usage {};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return 0;
  return static_cast<uint64_t>(usage.ru_minflt) + static_cast<uint64_t>(usage.ru_majflt);
}

uint64_t HeapAllocatedBytes() {
  const struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

uint64_t HeapFreeBytes() { return mallinfo2().fordblks; }

}  // namespace kvstore::bench
