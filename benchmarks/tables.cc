// Tables side by side in one kvstore::Database: whether a big table slows reads of a small one,
// and whether dropping a table gives its space back.
//
//   tools/bazel run //benchmarks:tables -- [--small_keys=10000] [--big_keys=1000000] [--gets=1000000]
//
// 1. Random Gets on a table of --small_keys keys in a database that holds nothing else.
// 2. The same Gets on the same table in a database that also holds a table of --big_keys keys
//    (written after it, so its segments are newer and consulted first). Reported as the ratio of
//    the two Get rates (target: the small table keeps >= 1/1.2 of its rate).
// 3. The big table is dropped, and the database is left idle (no Compact()) until its segments
//    fall below 3x the small table's bytes + 1 MiB, or --settle_s passes.
// 16-byte keys, 100-byte values, 10-bit Bloom filters; Gets after WaitForBackgroundWork.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "benchmarks/flag_parsing.h"
#include "benchmarks/scratch_dir.h"
#include "kvstore/database.h"

namespace {

using kvstore::bench::ParseFlag;

using Clock = std::chrono::steady_clock;

inline constexpr kvstore::TableDef<std::string, std::string> kSmall{"small"};
inline constexpr kvstore::TableDef<std::string, std::string> kBig{"big"};

struct Flags {
  uint64_t small_keys = 10000;
  uint64_t big_keys = 1000000;
  uint64_t gets = 1000000;
  uint64_t settle_s = 60;
};

std::string KeyOf(uint64_t i) {
  char buf[17];
  std::snprintf(buf, sizeof(buf), "k%015llu", static_cast<unsigned long long>(i));
  return std::string(buf, 16);
}

void Check(const absl::Status& s, const char* what) {
  if (s.ok()) return;
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

uint64_t Property(const kvstore::Database<>& db, const char* name) {
  uint64_t v = 0;
  if (auto p = db.GetProperty(name)) (void)absl::SimpleAtoi(*p, &v);
  return v;
}

template <typename TableT>
void Fill(kvstore::Database<>& db, TableT& table, uint64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::string value(100, 'v');
  kvstore::Batch batch;
  for (uint64_t i = 0; i < n; ++i) {
    for (char& c : value) c = static_cast<char>('a' + rng() % 26);
    batch.Set(table, KeyOf(i), value);
    if (batch.size() == 1000 || i + 1 == n) {
      Check(db.Write(batch), "write");
      batch.Clear();
    }
  }
}

// Random Gets of keys that exist in `table`; returns Gets per second.
template <typename TableT>
double TimeGets(const TableT& table, uint64_t keys, uint64_t gets) {
  std::mt19937_64 rng(42);
  std::string value;
  const auto start = Clock::now();
  for (uint64_t i = 0; i < gets; ++i) Check(table.GetInto(KeyOf(rng() % keys), &value), "get");
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return static_cast<double>(gets) / seconds;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    if (ParseFlag(argv[i], "small_keys", &flags.small_keys) ||
        ParseFlag(argv[i], "big_keys", &flags.big_keys) ||
        ParseFlag(argv[i], "gets", &flags.gets) ||
        ParseFlag(argv[i], "settle_s", &flags.settle_s)) {
      continue;
    }
    std::fprintf(stderr, "unknown flag %s\nflags: --small_keys --big_keys --gets --settle_s\n",
                 argv[i]);
    return 2;
  }
  if (flags.small_keys == 0) flags.small_keys = 1;

  auto scratch = kvstore::bench::ScratchDir::Create("");
  Check(scratch.status(), "scratch directory");
  double alone = 0, beside = 0;
  {
    auto db = kvstore::Database<>::Open((*scratch)->Child("alone")).value();
    auto small = db->OpenTable(kSmall).value();
    Fill(*db, small, flags.small_keys, 1);
    Check(db->Flush(), "flush");
    Check(db->WaitForBackgroundWork(), "wait");
    TimeGets(small, flags.small_keys, flags.gets / 10);  // Warm up.
    alone = TimeGets(small, flags.small_keys, flags.gets);
  }
  auto db = kvstore::Database<>::Open((*scratch)->Child("beside")).value();
  auto small = db->OpenTable(kSmall).value();
  auto big = db->OpenTable(kBig).value();
  Fill(*db, small, flags.small_keys, 1);
  Fill(*db, big, flags.big_keys, 2);
  Check(db->Flush(), "flush");
  Check(db->WaitForBackgroundWork(), "wait");
  TimeGets(small, flags.small_keys, flags.gets / 10);
  beside = TimeGets(small, flags.small_keys, flags.gets);
  const double ratio = alone / beside;
  std::printf("Get on a %llu-key table alone:              %.0f Gets/s\n",
              static_cast<unsigned long long>(flags.small_keys), alone);
  std::printf("Get on it beside a %llu-key table:      %.0f Gets/s (%.2fx the time; target <= 1.2x): %s\n",
              static_cast<unsigned long long>(flags.big_keys), beside, ratio,
              ratio <= 1.2 ? "met" : "MISSED");

  const uint64_t before = Property(*db, "kvstore.total-bytes");
  const auto drop_start = Clock::now();
  Check(db->DropTable("big"), "drop");
  const double drop_seconds = std::chrono::duration<double>(Clock::now() - drop_start).count();
  const uint64_t small_bytes = flags.small_keys * (4 + 16 + 100);
  const uint64_t bound = 3 * small_bytes + (1 << 20);
  uint64_t after = Property(*db, "kvstore.total-bytes");
  double waited = 0;
  const auto settle_start = Clock::now();
  while (after >= bound && waited < static_cast<double>(flags.settle_s)) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    after = Property(*db, "kvstore.total-bytes");
    waited = std::chrono::duration<double>(Clock::now() - settle_start).count();
  }
  std::printf("DropTable(\"big\"):                       %.1f s; segments %.1f MB -> %.2f MB after "
              "%.1f s idle (bound 3x the small table + 1 MiB = %.2f MB): %s\n",
              drop_seconds, before / 1e6, after / 1e6, waited, bound / 1e6,
              after < bound ? "met" : "MISSED");
  Check(small.Get(KeyOf(0)).status(), "small table after the drop");
  Check(db->Close(), "close");
  return after < bound ? 0 : 1;
}
