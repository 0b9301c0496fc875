// A deterministic stream of writes for durability tests, and the model they are checked against.
//
// Op `i` of stream `seed` is a pure function of (seed, i): a writer restarted after a crash can
// continue the stream anywhere, and the checker can recompute what any prefix of it leaves in the
// store. Ops are Set, Delete and Write(batch) on KVStore<std::string, std::string>; every value
// names the op that wrote it, so a stale value can never pass for a newer one.
#ifndef KVSTORE_TESTING_WORKLOAD_H_
#define KVSTORE_TESTING_WORKLOAD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "kvstore/kvstore.h"

namespace kvstore::testing {

using StringStore = KVStore<std::string, std::string>;
// What the store should hold: key -> value.
using State = std::map<std::string, std::string>;

struct Op {
  struct Mutation {
    std::string key;
    std::optional<std::string> value;  // nullopt: a deletion.
  };
  bool is_batch = false;  // Write(batch); otherwise one Set or Delete.
  std::vector<Mutation> mutations;
};

struct WorkloadOptions {
  int num_keys = 1000;
  int max_batch = 8;
};

inline uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline Op MakeOp(uint64_t seed, uint64_t index, const WorkloadOptions& options = {}) {
  std::mt19937_64 rng(SplitMix64(seed) ^ SplitMix64(index + 0x1234567));
  auto uniform = [&rng](uint64_t n) { return rng() % n; };
  auto mutation = [&](int j, bool is_delete) {
    Op::Mutation m;
    m.key = absl::StrFormat("key%05d", uniform(options.num_keys));
    if (!is_delete) {
      // Mostly small values, some of a few hundred bytes, a few of several KiB.
      const uint64_t roll = uniform(100);
      const size_t length = roll < 85 ? uniform(100) : roll < 99 ? 100 + uniform(900)
                                                                  : 1000 + uniform(7000);
      std::string value = absl::StrCat("op", index, ".", j, ":");
      value.append(length, static_cast<char>('a' + index % 26));
      m.value = std::move(value);
    }
    return m;
  };
  Op op;
  const uint64_t roll = uniform(10);
  if (roll < 6) {
    op.mutations.push_back(mutation(0, false));
  } else if (roll < 8) {
    op.mutations.push_back(mutation(0, true));
  } else {
    op.is_batch = true;
    const int n = 2 + static_cast<int>(uniform(options.max_batch - 1));
    for (int j = 0; j < n; ++j) op.mutations.push_back(mutation(j, uniform(10) < 3));
  }
  return op;
}

inline void ApplyOp(const Op& op, State* state) {
  for (const Op::Mutation& m : op.mutations) {
    if (m.value.has_value()) {
      (*state)[m.key] = *m.value;
    } else {
      state->erase(m.key);
    }
  }
}

inline absl::Status WriteOp(StringStore& store, const Op& op, const WriteOptions& options) {
  if (!op.is_batch) {
    const Op::Mutation& m = op.mutations[0];
    return m.value.has_value() ? store.Set(m.key, *m.value, options)
                               : store.Delete(m.key, options);
  }
  StringStore::WriteBatch batch;
  for (const Op::Mutation& m : op.mutations) {
    if (m.value.has_value()) {
      batch.Set(m.key, *m.value);
    } else {
      batch.Delete(m.key);
    }
  }
  return store.Write(batch, options);
}

// The whole store, read with an iterator; with `check_gets`, every key is also read with Get
// (which takes the filter and index path, not the iterator's) and must agree.
inline absl::Status ReadState(const StringStore& store, State* state, bool check_gets = true) {
  state->clear();
  auto it = store.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) (*state)[it->key()] = it->value();
  if (!it->status().ok()) return it->status();
  if (!check_gets) return absl::OkStatus();
  for (const auto& [key, value] : *state) {
    absl::StatusOr<std::string> got = store.Get(key);
    if (!got.ok()) return absl::InternalError(absl::StrCat("Get(", key, "): ", got.status().ToString()));
    if (*got != value) {
      return absl::InternalError(absl::StrCat("Get(", key, ") and the iterator disagree"));
    }
  }
  return absl::OkStatus();
}

inline std::string Abbreviate(const std::optional<std::string>& value) {
  if (!value.has_value()) return "<absent>";
  return value->size() <= 24 ? *value : absl::StrCat(value->substr(0, 24), "...(", value->size(), " bytes)");
}

// The keys on which two states differ, a few of them spelled out.
inline std::string DescribeDiff(const State& expected, const State& actual, size_t max_lines = 8) {
  std::set<std::string> keys;
  for (const auto& [k, v] : expected) keys.insert(k);
  for (const auto& [k, v] : actual) keys.insert(k);
  std::string out;
  size_t differing = 0;
  for (const std::string& k : keys) {
    auto e = expected.find(k);
    auto a = actual.find(k);
    std::optional<std::string> ev, av;
    if (e != expected.end()) ev = e->second;
    if (a != actual.end()) av = a->second;
    if (ev == av) continue;
    if (++differing <= max_lines) {
      absl::StrAppend(&out, "  ", k, ": expected ", Abbreviate(ev), ", found ", Abbreviate(av), "\n");
    }
  }
  return absl::StrCat(differing, " keys differ\n", out);
}

// The smallest k in [lo, hi] such that applying ops[0, k) to `base` gives `actual`, or -1: used
// when exactly some prefix of the ops, at least the first `lo`, may have survived.
inline int64_t MatchingPrefix(State base, const std::vector<Op>& ops, size_t lo, size_t hi,
                              const State& actual) {
  for (size_t i = 0; i < lo; ++i) ApplyOp(ops[i], &base);
  // Keys where the candidate state and `actual` differ, maintained op by op.
  std::set<std::string> differ;
  auto update = [&](const std::string& key) {
    auto b = base.find(key);
    auto a = actual.find(key);
    const bool same = (b == base.end()) == (a == actual.end()) &&
                      (b == base.end() || b->second == a->second);
    if (same) {
      differ.erase(key);
    } else {
      differ.insert(key);
    }
  };
  for (const auto& [k, v] : base) update(k);
  for (const auto& [k, v] : actual) update(k);
  for (size_t k = lo;; ++k) {
    if (differ.empty()) return static_cast<int64_t>(k);
    if (k >= hi) return -1;
    ApplyOp(ops[k], &base);
    for (const Op::Mutation& m : ops[k].mutations) update(m.key);
  }
}

// Whether `actual` can follow from `base` and `ops` when the acknowledged ops (acked[i]) all took
// effect and each of the others (which failed) may or may not have. Checked key by key: a key
// holds what the last acknowledged op touching it left, or what a later failed op wrote to it.
inline bool AcknowledgedOpsPresent(const State& base, const std::vector<Op>& ops,
                                   const std::vector<bool>& acked, const State& actual,
                                   std::string* why) {
  std::map<std::string, std::vector<std::optional<std::string>>> allowed;
  for (const auto& [k, v] : base) allowed[k] = {v};
  for (size_t i = 0; i < ops.size(); ++i) {
    for (const Op::Mutation& m : ops[i].mutations) {
      auto& values = allowed[m.key];
      if (values.empty() && base.count(m.key) == 0) values.push_back(std::nullopt);
      if (acked[i]) values.clear();
      values.push_back(m.value);
    }
  }
  for (const auto& [k, v] : actual) allowed.try_emplace(k, std::vector<std::optional<std::string>>{std::nullopt});
  for (const auto& [key, values] : allowed) {
    std::optional<std::string> found;
    if (auto it = actual.find(key); it != actual.end()) found = it->second;
    bool ok = false;
    for (const auto& v : values) ok = ok || v == found;
    if (!ok) {
      *why = absl::StrCat(key, ": found ", Abbreviate(found), ", acknowledged ",
                          Abbreviate(values.front()));
      return false;
    }
  }
  return true;
}

}  // namespace kvstore::testing

#endif  // KVSTORE_TESTING_WORKLOAD_H_
