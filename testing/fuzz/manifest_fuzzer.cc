// Fuzz target: Manifest::Decode. Anything that decodes must encode to a manifest that decodes to
// the same fields, no longer than the input (the input may spell a varint in more bytes).
//
// Input: byte 0 selects the mode.
//   even  the rest is a MANIFEST file, read as it is.
//   odd   the rest is a manifest without its trailing checksum; the harness appends the right one,
//         so the fuzzer reaches the field parser instead of stopping at the checksum.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "kvstore/internal/coding.h"
#include "kvstore/internal/hash.h"
#include "kvstore/internal/manifest.h"
#include "testing/fuzz/fuzz_util.h"

namespace kvstore::fuzz {
namespace {

using internal::Manifest;

bool SameFields(const Manifest& a, const Manifest& b) {
  return a.format_version == b.format_version && a.type_signature == b.type_signature &&
         a.filter_name == b.filter_name && a.next_file_number == b.next_file_number &&
         a.log_number == b.log_number && a.last_sequence == b.last_sequence &&
         a.runs == b.runs;
}

void CheckDecode(absl::string_view contents) {
  Manifest m;
  const absl::Status s = Manifest::Decode(contents, "fuzz/MANIFEST", &m);
  if (!s.ok()) {
    FUZZ_CHECK(absl::IsDataLoss(s) || absl::IsFailedPrecondition(s));
    return;
  }
  const std::string encoded = m.Encode();
  FUZZ_CHECK(encoded.size() <= contents.size());
  Manifest again;
  FUZZ_CHECK_OK(Manifest::Decode(encoded, "fuzz/MANIFEST", &again));
  FUZZ_CHECK(SameFields(m, again));
  FUZZ_CHECK(again.Encode() == encoded);
}

}  // namespace
}  // namespace kvstore::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const absl::string_view rest = kvstore::fuzz::AsView(data + 1, size - 1);
  if ((data[0] & 1) == 0) {
    kvstore::fuzz::CheckDecode(rest);
  } else {
    std::string sealed(rest);
    kvstore::internal::PutFixed64(
        &sealed, kvstore::internal::Checksum(sealed, kvstore::internal::kManifestSalt));
    const kvstore::fuzz::ExactBuffer contents(sealed);
    kvstore::fuzz::CheckDecode(contents.view());
  }
  return 0;
}
