#include "benchmarks/engine.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <utility>

namespace kvstore::bench {
namespace {

struct Entry {
  std::string note;
  EngineFactory factory;
};

// Function-local so that adapters registering during static initialization find it built.
struct Registry {
  std::mutex mu;
  std::map<std::string, Entry, std::less<>> engines;
};

Registry& GetRegistry() {
  static auto* registry = new Registry;
  return *registry;
}

// Report order: the store under test first, then the anchor peer, then the other.
int Rank(const std::string& name) {
  static const char* const kOrder[] = {"kvstore", "leveldb", "rocksdb"};
  for (int i = 0; i < 3; ++i) {
    if (name == kOrder[i]) return i;
  }
  return 3;
}

}  // namespace

bool RegisterEngine(const std::string& name, const std::string& note, EngineFactory factory) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  registry.engines[name] = Entry{note, std::move(factory)};
  return true;
}

std::vector<std::string> RegisteredEngines() {
  Registry& registry = GetRegistry();
  std::vector<std::string> names;
  {
    std::lock_guard<std::mutex> lock(registry.mu);
    for (const auto& [name, entry] : registry.engines) names.push_back(name);
  }
  std::stable_sort(names.begin(), names.end(),
                   [](const std::string& a, const std::string& b) { return Rank(a) < Rank(b); });
  return names;
}

std::unique_ptr<BenchEngine> NewEngine(absl::string_view name) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto it = registry.engines.find(name);
  if (it == registry.engines.end()) return nullptr;
  return it->second.factory();
}

std::string EngineNote(absl::string_view name) {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mu);
  auto it = registry.engines.find(name);
  return it == registry.engines.end() ? std::string() : it->second.note;
}

}  // namespace kvstore::bench
