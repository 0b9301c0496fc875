// Orders of the key space that the workloads replay, derived from the data generator's own
// streams so that every engine sees the same sequence for the same Spec.
#ifndef KVSTORE_BENCHMARKS_KEY_ORDER_H_
#define KVSTORE_BENCHMARKS_KEY_ORDER_H_

#include <cstdint>
#include <vector>

#include "tools/datagen/datagen.h"

namespace kvstore::bench {

// Every index of [0, spec.count) exactly once, in the order in which the spec's uniform index
// stream first reaches it: a random permutation, reproducible from spec.seed. Drawing until the
// last index appears takes about count * ln(count) draws (14M for a million keys, ~0.1 s).
std::vector<uint64_t> ShuffledIndexes(const datagen::Spec& spec);

}  // namespace kvstore::bench

#endif  // KVSTORE_BENCHMARKS_KEY_ORDER_H_
