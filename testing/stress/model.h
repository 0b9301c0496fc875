// The stress tool's key spaces and expected-state model.
//
// Every write is a (key index, version) pair. Versions of a key are numbered 1, 2, 3, ... by the
// one thread that owns the key (keys are split between threads, key i belongs to thread
// i % threads), version 0 meaning "never written". Whether version v of key i is a deletion, and
// the exact bytes of its value, are pure functions of (seed, space, i, v): any reader, in any
// process, knows what any version must look like, and a value that decodes to (i, v) but differs
// from what (i, v) must be is garbage.
//
// ExpectedState keeps per key what RocksDB's db_stress keeps in its ExpectedState: the last
// version acknowledged ("committed") and the last version attempted ("pending", published before
// the write call starts). A reader loads `committed` before its read and `pending` after it: the
// read may see any version in [committed, pending] that was not a failed write (a write that
// returned FailedPrecondition is known not applied) nor superseded inside its own batch. Only the
// owner writes a key, so for its own keys committed == pending and a read must be exact.
#ifndef KVSTORE_TESTING_STRESS_MODEL_H_
#define KVSTORE_TESTING_STRESS_MODEL_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "kvstore/compression.h"

namespace kvstore::stress {

inline uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

inline uint64_t Hash(uint64_t a, uint64_t b, uint64_t c = 0, uint64_t d = 0) {
  return Mix(Mix(Mix(Mix(a) ^ b) ^ c) ^ d);
}

// Version 0 is "never written" (absent); about a quarter of the other versions are deletions.
inline bool IsDeletion(uint64_t seed, uint64_t salt, uint64_t key, uint64_t version) {
  return version == 0 || Hash(seed ^ 0xde1e7e, salt, key, version) % 100 < 25;
}

// Value lengths: a quarter tiny (0-8 bytes, including empty), most around value_size, some 4-20x,
// and 1 in 500 between 64 and 256 KiB (larger than the smallest MemTables the tool configures).
inline size_t ValueLength(uint64_t seed, uint64_t key, uint64_t version, size_t value_size) {
  const uint64_t h = Hash(seed ^ 0x7a11, key, version);
  const uint64_t roll = h % 1000;
  const uint64_t r = h >> 10;
  if (roll < 250) return r % 9;
  if (roll < 940) return r % (2 * value_size + 1);
  if (roll < 998) return value_size * 4 + r % (value_size * 16 + 1);
  return 64 * 1024 + r % (192 * 1024);
}

inline std::string Printable(absl::string_view bytes, size_t max = 48) {
  if (bytes.size() <= max) return absl::StrCat("\"", absl::CHexEscape(bytes), "\"");
  return absl::StrCat("\"", absl::CHexEscape(bytes.substr(0, max)), "\"...(", bytes.size(),
                      " bytes)");
}

// ---- Key spaces -------------------------------------------------------------------------------

// KVStore<std::string, std::string>. Keys "k%08d" with, for some, a tail of binary bytes (0x00,
// 0xff) or a run of 20-220 'x'; every key with index 7 mod 10 extends the key before it (prefix
// order). Values: fixed64 key index, fixed64 version, then filler bytes from (seed, key, version).
struct StringSpace {
  using Key = std::string;
  using Value = std::string;
  using Compression = NoCompression;  // Values of random bytes: they would not compress.
  static constexpr const char* kName = "string";
  static constexpr uint64_t kSalt = 1;

  static Key MakeKey(uint64_t i) {
    const bool extension = i % 10 == 7;
    std::string key = BaseKey(extension ? i - 1 : i);
    if (extension) key.append("\x00\x07", 2);
    return key;
  }

  static Value MakeValue(uint64_t seed, uint64_t i, uint64_t v, size_t value_size) {
    const size_t length = ValueLength(seed, i, v, value_size);
    std::string value(16 + length, '\0');
    std::memcpy(value.data(), &i, 8);
    std::memcpy(value.data() + 8, &v, 8);
    uint64_t x = Hash(seed, i, v, 0xf111e4);
    for (size_t j = 16; j < value.size(); j += 8) {
      x = Mix(x);
      std::memcpy(value.data() + j, &x, std::min<size_t>(8, value.size() - j));
    }
    return value;
  }

  // The (key index, version) a value claims to be; false if it cannot be one of ours.
  static bool DecodeValue(const Value& value, uint64_t* i, uint64_t* v) {
    if (value.size() < 16) return false;
    std::memcpy(i, value.data(), 8);
    std::memcpy(v, value.data() + 8, 8);
    return true;
  }

  // A Seek target around key `k`: the key itself, just after it, or a prefix of it (before it).
  static Key TargetNear(const Key& k, uint64_t r) {
    switch (r % 4) {
      case 0:
        return k + std::string(1, '\0');
      case 1:
        return k.substr(0, k.size() - 1 - (r >> 8) % std::min<size_t>(k.size(), 4));
      default:
        return k;
    }
  }
  static Key Alias(const Key& k, uint64_t) { return k; }
  static bool Canonical(const Key&) { return true; }
  static Key Smallest() { return ""; }
  static Key Largest() { return "\xff\xff"; }

  static std::string Describe(const Key& k) { return Printable(k); }

 private:
  static std::string BaseKey(uint64_t i) {
    std::string key = absl::StrFormat("k%08d", i);
    const uint64_t h = Mix(i * 0x9e37 + 11);
    switch (h % 8) {
      case 0:
        key.append("\x00\x01", 2);
        key.append(std::to_string((h >> 8) % 1000));
        break;
      case 1:
        key.append("\xff\xfe\x80");
        break;
      case 2:
        key.append(20 + (h >> 8) % 200, 'x');
        break;
      default:
        break;
    }
    return key;
  }
};

// KVStore<std::tuple<int32_t, double, std::string>, TypedValue>: negative and positive integers,
// doubles of both signs and of very different magnitudes, short strings with 0x00 in them.
struct TypedValue {
  uint64_t key;
  uint64_t version;
  double x;
  uint64_t check;
};
static_assert(std::is_trivially_copyable_v<TypedValue>);

struct TypedSpace {
  using Key = std::tuple<int32_t, double, std::string>;
  using Value = TypedValue;
  // Small numbers in fixed-width fields: blocks shrink, so compressed blocks (decompressed,
  // cached, rebuilt) are read beside every race the tool makes.
  using Compression = Lz4;
  static constexpr const char* kName = "typed";
  static constexpr uint64_t kSalt = 2;

  // Unique by (i % 7, i / 7): the string starts with i / 7. A quarter of the keys have 0.0 as
  // their double, which readers and writers also spell -0.0 (the same key: see Alias).
  static Key MakeKey(uint64_t i) {
    const uint64_t q = i / 7;
    const int32_t a = static_cast<int32_t>(i % 7) * 1000003 - 3000009;
    double b = q % 4 == 0 ? 0.0 : (static_cast<double>(q % 64) - 32.0) * 0.75;  // +0.0, never -0.0.
    if (q % 11 == 1) b *= 1e300;
    if (q % 13 == 1) b *= 1e-300;
    const uint64_t h = Mix(i + 0x7777);
    std::string c = absl::StrCat("q", q);
    switch (h % 3) {
      case 0:
        break;
      case 1:
        c.append("\x00z", 2);
        break;
      default:
        c.append(absl::StrCat("s", (h >> 8) % 100));
    }
    return Key(a, b, c);
  }

  // The same key, spelled with -0.0 for 0.0 half the time: -0.0 == 0.0, and the store keeps them
  // as one key (serializer.h), found and scanned by either spelling.
  static Key Alias(const Key& k, uint64_t r) {
    if (std::get<1>(k) != 0.0 || r % 2 == 0) return k;
    return Key(std::get<0>(k), -0.0, std::get<2>(k));
  }
  // Keys the store returns must be spelled canonically (it never stores -0.0).
  static bool Canonical(const Key& k) {
    return !(std::get<1>(k) == 0.0 && std::signbit(std::get<1>(k)));
  }

  static Value MakeValue(uint64_t seed, uint64_t i, uint64_t v, size_t /*value_size*/) {
    return TypedValue{i, v, static_cast<double>(v) * 0.5 - static_cast<double>(i),
                      Hash(seed, i, v, 0x7e)};
  }
  static bool DecodeValue(const Value& value, uint64_t* i, uint64_t* v) {
    *i = value.key;
    *v = value.version;
    return true;
  }

  static Key TargetNear(const Key& k, uint64_t r) {
    switch (r % 3) {
      case 0:
        return Alias(Key(std::get<0>(k), std::get<1>(k), std::get<2>(k) + std::string(1, '\0')), r >> 8);
      case 1:
        return Alias(Key(std::get<0>(k), std::get<1>(k), ""), r >> 8);
      default:
        return Alias(k, r >> 8);
    }
  }
  static Key Smallest() { return Key(INT32_MIN, -1e308, ""); }
  static Key Largest() { return Key(INT32_MAX, 1e308, "\xff"); }

  static std::string Describe(const Key& k) {
    return absl::StrCat("(", std::get<0>(k), ", ", absl::StrFormat("%.17g", std::get<1>(k)), ", ",
                        Printable(std::get<2>(k)), ")");
  }
};

inline bool ValuesEqual(const std::string& a, const std::string& b) { return a == b; }
inline bool ValuesEqual(const TypedValue& a, const TypedValue& b) {
  return std::memcmp(&a, &b, sizeof(a)) == 0;
}

// ---- Expected state ---------------------------------------------------------------------------

class ExpectedState {
 public:
  ExpectedState(uint64_t seed, uint64_t salt, size_t n)
      : seed_(seed), salt_(salt), keys_(n), next_(n, 1), floor_(n, 1), initial_(n, 0),
        failed_(n) {}

  size_t size() const { return keys_.size(); }

  // Before any thread starts: key i holds version `committed`; new versions start at `next`,
  // and versions in (committed, next) are known never to have been applied.
  void Reset(size_t i, uint64_t committed, uint64_t next) {
    keys_[i].committed.store(committed);
    keys_[i].pending.store(committed);
    initial_[i] = committed;
    next_[i] = std::max<uint64_t>(next, committed + 1);
    floor_[i] = next_[i];
  }

  bool IsDeletion(size_t i, uint64_t v) const { return stress::IsDeletion(seed_, salt_, i, v); }

  uint64_t Committed(size_t i) const { return keys_[i].committed.load(); }
  uint64_t Pending(size_t i) const { return keys_[i].pending.load(); }
  void LoadCommitted(std::vector<uint64_t>* out) const {
    out->resize(keys_.size());
    for (size_t i = 0; i < keys_.size(); ++i) (*out)[i] = keys_[i].committed.load();
  }
  void LoadPending(std::vector<uint64_t>* out) const {
    out->resize(keys_.size());
    for (size_t i = 0; i < keys_.size(); ++i) (*out)[i] = keys_[i].pending.load();
  }

  // The owner's side. TakeVersion, then Begin before the write call; Commit after it returned
  // OK (the last version of each key in the batch only), Fail each version if it is known not
  // applied. Supersede marks a version overwritten inside its own batch: nobody may ever see it.
  uint64_t TakeVersion(size_t i) { return next_[i]++; }
  void Begin(size_t i, uint64_t v) { keys_[i].pending.store(v); }
  void Commit(size_t i, uint64_t v) { keys_[i].committed.store(v); }
  void Supersede(size_t i, uint64_t v) { AddFailed(i, v); }
  void Fail(size_t i, uint64_t v) {
    AddFailed(i, v);
    keys_[i].pending.store(keys_[i].committed.load());
  }

  bool IsFailed(size_t i, uint64_t v) const {
    if (v > initial_[i] && v < floor_[i]) return true;
    if (keys_[i].num_failed.load() == 0) return false;
    std::lock_guard<std::mutex> lock(shards_[i % kShards]);
    return std::find(failed_[i].begin(), failed_[i].end(), v) != failed_[i].end();
  }

  // "" if a read that loaded `cb` (committed) before it and `pa` (pending) after it may see
  // version v of key i; else why not.
  std::string CheckPresent(size_t i, uint64_t v, uint64_t cb, uint64_t pa) const {
    if (v == 0) return "version 0 (never written) returned as a value";
    if (IsDeletion(i, v)) return absl::StrCat("version ", v, " is a deletion but was returned as a value");
    if (v < cb) return absl::StrCat("stale: version ", v, " but version ", cb, " was acknowledged before the read");
    if (v > pa) return absl::StrCat("version ", v, " was not yet written (highest attempted ", pa, ")");
    if (IsFailed(i, v)) {
      return absl::StrCat("version ", v,
                          " was never applied (its write failed with FailedPrecondition, or it "
                          "was overwritten in its own batch, or was lost in a crash)");
    }
    return "";
  }
  std::string CheckAbsent(size_t i, uint64_t cb, uint64_t pa) const {
    if (IsDeletion(i, cb)) return "";
    for (uint64_t v = cb + 1; v <= pa; ++v) {
      if (IsDeletion(i, v) && !IsFailed(i, v)) return "";
    }
    return absl::StrCat("missing: version ", cb, " (a value) was acknowledged before the read",
                        pa > cb ? absl::StrCat(" and no deletion in (", cb, ", ", pa, "] applies")
                                : std::string());
  }

 private:
  static constexpr size_t kShards = 64;
  struct KeyState {
    std::atomic<uint64_t> committed{0};
    std::atomic<uint64_t> pending{0};
    std::atomic<uint32_t> num_failed{0};
  };

  void AddFailed(size_t i, uint64_t v) {
    std::lock_guard<std::mutex> lock(shards_[i % kShards]);
    failed_[i].push_back(v);
    keys_[i].num_failed.fetch_add(1);
  }

  const uint64_t seed_;
  const uint64_t salt_;
  std::vector<KeyState> keys_;
  std::vector<uint64_t> next_;     // Owner thread only.
  std::vector<uint64_t> floor_;    // Constant once threads start.
  std::vector<uint64_t> initial_;  // Constant once threads start.
  mutable std::array<std::mutex, kShards> shards_;
  std::vector<std::vector<uint64_t>> failed_;  // Guarded by shards_[i % kShards].
};

}  // namespace kvstore::stress

#endif  // KVSTORE_TESTING_STRESS_MODEL_H_
