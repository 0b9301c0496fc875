#include "benchmarks/key_order.h"

namespace kvstore::bench {

std::vector<uint64_t> ShuffledIndexes(const datagen::Spec& spec) {
  datagen::Spec uniform = spec;
  uniform.distribution = datagen::Distribution::kUniform;
  datagen::Generator generator(uniform);
  std::vector<uint64_t> order;
  order.reserve(spec.count);
  std::vector<bool> seen(spec.count, false);
  while (order.size() < spec.count) {
    const uint64_t index = generator.NextIndex();
    if (!seen[index]) {
      seen[index] = true;
      order.push_back(index);
    }
  }
  return order;
}

}  // namespace kvstore::bench
