#include "tools/kvctl/raw_store.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "kvstore/compression.h"
#include "kvstore/env.h"
#include "kvstore/filter.h"
#include "kvstore/internal/engine.h"
#include "kvstore/internal/segment.h"
#include "kvstore/internal/store_files.h"

namespace kvstore::kvctl {
namespace {

template <typename Filter>
class RawStoreImpl final : public RawStore {
 public:
  explicit RawStoreImpl(std::unique_ptr<internal::Engine<Filter>> engine)
      : engine_(std::move(engine)) {}

  absl::Status Get(absl::string_view key, std::string* value) override {
    return engine_->Get(key, ReadOptions(), [value](absl::string_view bytes) {
      value->assign(bytes.data(), bytes.size());
      return absl::OkStatus();
    });
  }
  std::unique_ptr<internal::KeySource> NewSource() override {
    return engine_->NewSource(ReadOptions());
  }
  absl::Status Write(internal::BatchRep* batch) override { return engine_->Write(batch, {}); }
  absl::Status Flush() override { return engine_->Flush(); }
  absl::Status Compact() override { return engine_->Compact(); }
  absl::Status Checkpoint(const std::string& dest) override { return engine_->Checkpoint(dest); }
  std::optional<std::string> GetProperty(absl::string_view name) override {
    return engine_->GetProperty(name);
  }
  absl::Status Close() override { return engine_->Close(); }

 private:
  std::unique_ptr<internal::Engine<Filter>> engine_;
};

// kvctl reads stores of every Compression policy; what it writes (compact, load, repair) is
// stored raw, which every policy reads.
const internal::BlockCodec* AnyCodec() { return internal::CodecFor<ReadAnyCompression>(); }

template <typename Filter>
FilterOps MakeOps() {
  FilterOps ops;
  ops.open = [](const std::string& dir, const Options& options,
                const std::string& type_signature) -> absl::StatusOr<std::unique_ptr<RawStore>> {
    KV_ASSIGN_OR_RETURN(auto engine, internal::Engine<Filter>::Open(dir, options, type_signature,
                                                                    AnyCodec()));
    return std::unique_ptr<RawStore>(new RawStoreImpl<Filter>(std::move(engine)));
  };
  ops.verify = [](const std::string& dir) {
    return internal::VerifyStoreFiles<Filter>(Env::Default(), dir,
                                              internal::BlockDecoding{AnyCodec(), nullptr});
  };
  ops.repair = [](const std::string& dir) { return Repair<Filter, ReadAnyCompression>(dir); };
  ops.segments = [](const std::string& dir, const internal::Manifest& manifest) {
    std::vector<SegmentSummary> out;
    for (size_t r = 0; r < manifest.runs.size(); ++r) {
      for (uint64_t number : manifest.runs[r]) {
        SegmentSummary& summary = out.emplace_back();
        summary.run = r;
        summary.number = number;
        auto segment = internal::Segment<Filter>::Open(Env::Default(), dir, number,
                                                       internal::BlockDecoding{AnyCodec(), nullptr});
        if (!segment.ok()) {
          summary.status = segment.status();
          continue;
        }
        std::shared_ptr<const internal::Segment<Filter>> view = *std::move(segment);
        if (auto clip = manifest.clips.find(number);
            clip != manifest.clips.end() && view->CanClipBelow(clip->second)) {
          view = view->ClippedBelow(clip->second);
          summary.clipped = true;
        }
        const internal::SegmentInfo& info = view->info();
        summary.bytes = info.file_bytes;
        summary.entries = info.num_entries;
        summary.smallest_key = info.smallest_key;
        summary.largest_key = info.largest_key;
      }
    }
    return out;
  };
  return ops;
}

// Each filter known here costs one instantiation of the engine in this binary (about 7 s of
// build time each, and sanitizer builds again), so these are NoFilter and the Bloom widths a
// store is likely to use, not all 64.
template <int... Bits>
absl::StatusOr<FilterOps> FindBloom(absl::string_view name, std::integer_sequence<int, Bits...>) {
  std::optional<FilterOps> found;
  (void)((name == BloomFilter<Bits>::Name() ? (found = MakeOps<BloomFilter<Bits>>(), true)
                                            : false) ||
         ...);
  if (found.has_value()) return *found;
  std::vector<std::string> known = {std::string(NoFilter::Name()),
                                    std::string(BloomFilter<Bits>::Name())...};
  return absl::UnimplementedError(absl::StrCat("the store uses filter \"", name,
                                               "\", which kvctl does not know (it knows ",
                                               absl::StrJoin(known, ", "), ")"));
}

using KnownBloomWidths = std::integer_sequence<int, 4, 5, 6, 8, 10, 12, 14, 16, 20, 24>;

}  // namespace

absl::StatusOr<FilterOps> OpsForFilter(absl::string_view name) {
  if (name == NoFilter::Name()) return MakeOps<NoFilter>();
  return FindBloom(name, KnownBloomWidths());
}

absl::string_view DefaultFilterName() { return BloomFilter<10>::Name(); }

}  // namespace kvstore::kvctl
