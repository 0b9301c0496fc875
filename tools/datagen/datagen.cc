#include "tools/datagen/datagen.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "kvstore/internal/coding.h"
#include "kvstore/status.h"

namespace kvstore::datagen {
namespace {

// splitmix64's output function: a cheap, well-mixed bijection on 64-bit words.
inline uint64_t Mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

inline constexpr uint64_t kGolden = 0x9e3779b97f4a7c15ULL;

// 10^n for n <= 19, the largest power of ten a uint64_t holds.
uint64_t PowerOfTen(size_t n) {
  uint64_t p = 1;
  for (size_t i = 0; i < n; ++i) p *= 10;
  return p;
}

constexpr size_t kMaxUint64Digits = 20;

// Two decimal digits at a time halves the divisions, which dominate Key().
constexpr char kDigitPairs[] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

// 64 printable characters, so one random byte's low 6 bits pick one uniformly. No tab, newline
// or space: values must survive the TSV format and `cut`/`awk`.
constexpr char kValueAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
static_assert(sizeof(kValueAlphabet) - 1 == 64);

// expm1(y) / y, tending to 1 as y -> 0 where the plain quotient loses all precision; it lets the
// zipfian integrals below handle theta == 1 (a logarithm) with the same formula as theta != 1.
double ExpM1OverX(double y) {
  return std::fabs(y) > 1e-8 ? std::expm1(y) / y : 1.0 + y * (0.5 + y / 6.0);
}

// log1p(y) / y, likewise.
double Log1POverX(double y) {
  return std::fabs(y) > 1e-8 ? std::log1p(y) / y : 1.0 - y * (0.5 - y / 3.0);
}

// The zipfian density h(x) = x^-theta, its antiderivative H(x) = (x^(1-theta) - 1) / (1 - theta)
// (log x when theta == 1), and H's inverse.
double ZipfH(double x, double theta) { return std::exp(-theta * std::log(x)); }

double ZipfIntegral(double x, double theta) {
  const double log_x = std::log(x);
  return ExpM1OverX((1.0 - theta) * log_x) * log_x;
}

double ZipfIntegralInverse(double y, double theta) {
  double t = y * (1.0 - theta);
  // Rounding can push t just below -1 near the lower end of the range; H^-1 is 0 there.
  if (t < -1.0) t = -1.0;
  return std::exp(Log1POverX(t) * y);
}

}  // namespace

absl::Status Validate(const Spec& spec) {
  if (spec.count == 0) {
    return absl::InvalidArgumentError("count must be at least 1");
  }
  if (spec.key_size < 8) {
    return absl::InvalidArgumentError(
        absl::StrCat("key_size must be at least 8, got ", spec.key_size));
  }
  if (spec.key_size > kMaxKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("key_size must be at most ", kMaxKeySize, ", got ", spec.key_size));
  }
  const size_t digits = spec.key_size - 1;
  if (digits < kMaxUint64Digits && spec.count > PowerOfTen(digits)) {
    return absl::InvalidArgumentError(
        absl::StrCat("count ", spec.count, " does not fit key_size ", spec.key_size,
                     ": a key holds key_size - 1 = ", digits,
                     " decimal digits, so count must be at most ", PowerOfTen(digits)));
  }
  if (spec.value_size > kMaxValueSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("value_size must be at most ", kMaxValueSize, ", got ", spec.value_size));
  }
  if (!(spec.compression_ratio > 0.0 && spec.compression_ratio <= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("compression_ratio must be in (0, 1], got ", spec.compression_ratio));
  }
  if (spec.distribution == Distribution::kZipfian &&
      !(spec.zipf_theta > 0.0 && spec.zipf_theta <= 10.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("zipf_theta must be in (0, 10], got ", spec.zipf_theta));
  }
  return absl::OkStatus();
}

absl::StatusOr<Distribution> ParseDistribution(absl::string_view name) {
  if (name == "uniform") return Distribution::kUniform;
  if (name == "sequential") return Distribution::kSequential;
  if (name == "zipfian") return Distribution::kZipfian;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown distribution '", name, "' (expected uniform, sequential or zipfian)"));
}

absl::StatusOr<Format> ParseFormat(absl::string_view name) {
  if (name == "tsv") return Format::kTsv;
  if (name == "binary") return Format::kBinary;
  return absl::InvalidArgumentError(
      absl::StrCat("unknown format '", name, "' (expected tsv or binary)"));
}

absl::string_view DistributionName(Distribution distribution) {
  switch (distribution) {
    case Distribution::kUniform:
      return "uniform";
    case Distribution::kSequential:
      return "sequential";
    case Distribution::kZipfian:
      return "zipfian";
  }
  return "unknown";
}

absl::string_view FormatName(Format format) {
  switch (format) {
    case Format::kTsv:
      return "tsv";
    case Format::kBinary:
      return "binary";
  }
  return "unknown";
}

Generator::Generator(const Spec& spec)
    : spec_(spec),
      key_limit_(spec.key_size - 1 < kMaxUint64Digits ? PowerOfTen(spec.key_size - 1) : 0) {
  // Every part gets its own seed words up front, so how many random numbers one part consumes
  // (a zipfian rejection, say) never shifts the values or the scramble.
  uint64_t s = spec.seed;
  auto next_seed = [&s] { return Mix64(s += kGolden); };
  for (uint64_t& word : rng_) word = next_seed();
  value_seed_ = next_seed();
  for (uint64_t& key : scramble_keys_) key = next_seed();

  if (spec.distribution == Distribution::kZipfian) {
    const double theta = spec.zipf_theta;
    const double n = static_cast<double>(spec.count);
    zipf_h_x1_ = ZipfIntegral(1.5, theta) - 1.0;
    zipf_h_n_ = ZipfIntegral(n + 0.5, theta);
    zipf_s_ = 2.0 - ZipfIntegralInverse(ZipfIntegral(2.5, theta) - ZipfH(2.0, theta), theta);
  }
  // The permutation works on whole bit patterns; the smallest power of two >= count keeps the
  // cycle-walk in ScrambleRank to two steps on average.
  scramble_bits_ = spec.count <= 2 ? 1 : std::bit_width(spec.count - 1);
  scramble_mask_ = scramble_bits_ == 64 ? ~uint64_t{0} : (uint64_t{1} << scramble_bits_) - 1;
}

void Generator::Key(uint64_t index, std::string* out) const {
  if (key_limit_ != 0 && index >= key_limit_) index %= key_limit_;
  out->resize(spec_.key_size);
  char* const key = out->data();
  // The trailing '0' is the slot MissingKey uses; digits end just before it.
  std::memset(key, '0', spec_.key_size);
  char* p = key + spec_.key_size - 1;
  while (index >= 10) {
    const uint64_t pair = index % 100;
    index /= 100;
    p -= 2;
    std::memcpy(p, kDigitPairs + 2 * pair, 2);
  }
  if (index > 0) *--p = static_cast<char>('0' + index);
}

std::string Generator::Key(uint64_t index) const {
  std::string key;
  Key(index, &key);
  return key;
}

void Generator::MissingKey(uint64_t index, std::string* out) const {
  Key(index, out);
  (*out)[spec_.key_size - 1] = '5';
}

std::string Generator::MissingKey(uint64_t index) const {
  std::string key;
  MissingKey(index, &key);
  return key;
}

void Generator::Value(uint64_t index, std::string* out, uint64_t version) const {
  out->resize(spec_.value_size);
  char* p = out->data();
  // Below ratio 1, only the first `unique` bytes are drawn; the rest repeats them.
  size_t unique = spec_.value_size;
  if (spec_.compression_ratio < 1.0 && unique > 0) {
    unique = std::max<size_t>(1, static_cast<size_t>(spec_.value_size * spec_.compression_ratio));
  }
  char* const end = p + unique;
  // A splitmix64 stream keyed by (seed, index, version): every value is reachable directly,
  // without generating the ones before it.
  uint64_t state = Mix64(value_seed_ ^ Mix64(index + kGolden) ^ Mix64(~version));
  // Ten 6-bit characters per word; the top 4 bits are dropped.
  while (end - p >= 10) {
    uint64_t word = Mix64(state += kGolden);
    for (int i = 0; i < 10; ++i, word >>= 6) p[i] = kValueAlphabet[word & 63];
    p += 10;
  }
  for (uint64_t word = Mix64(state += kGolden); p != end; word >>= 6) {
    *p++ = kValueAlphabet[word & 63];
  }
  for (size_t i = unique; i < spec_.value_size; ++i) (*out)[i] = (*out)[i - unique];
}

std::string Generator::Value(uint64_t index, uint64_t version) const {
  std::string value;
  Value(index, &value, version);
  return value;
}

// xoshiro256** (Blackman & Vigna): fast, and its quality is ample for picking keys.
uint64_t Generator::NextRandom() {
  const uint64_t result = std::rotl(rng_[1] * 5, 7) * 9;
  const uint64_t t = rng_[1] << 17;
  rng_[2] ^= rng_[0];
  rng_[3] ^= rng_[1];
  rng_[1] ^= rng_[2];
  rng_[0] ^= rng_[3];
  rng_[2] ^= t;
  rng_[3] = std::rotl(rng_[3], 45);
  return result;
}

// Lemire's multiply-and-reject: unbiased for every bound, and rejects only when the low half
// lands in the sliver below 2^64 mod bound.
uint64_t Generator::NextBelow(uint64_t bound) {
  unsigned __int128 m = static_cast<unsigned __int128>(NextRandom()) * bound;
  uint64_t low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(NextRandom()) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

double Generator::NextUnitInterval() {
  return static_cast<double>(NextRandom() >> 11) * 0x1.0p-53;
}

// Rejection-inversion: invert the integral of the continuous density x^-theta to get a point x,
// round it to rank k, and accept when the point fell in the part of k's cell whose area equals
// k's probability. The first test is a cheap squeeze that most draws pass.
uint64_t Generator::NextZipfRank() {
  const double theta = spec_.zipf_theta;
  const double n = static_cast<double>(spec_.count);
  while (true) {
    const double u = zipf_h_n_ + NextUnitInterval() * (zipf_h_x1_ - zipf_h_n_);
    const double x = ZipfIntegralInverse(u, theta);
    double k = std::floor(x + 0.5);
    if (k < 1.0) k = 1.0;
    if (k > n) k = n;
    if (k - x <= zipf_s_ || u >= ZipfIntegral(k + 0.5, theta) - ZipfH(k, theta)) {
      // A count near 2^64 rounds up to a double no uint64_t can hold.
      return k >= n ? spec_.count : static_cast<uint64_t>(k);
    }
  }
}

// A seeded permutation of [0, count): a bijection on scramble_bits_-bit words (add a key,
// multiply by an odd constant, xor-shift: each step invertible modulo 2^bits), applied again
// while the result falls outside [0, count). Walking the permutation's cycle from a point inside
// the range always comes back inside it, so this is a bijection on the range itself.
uint64_t Generator::ScrambleRank(uint64_t rank) const {
  const int shift = (scramble_bits_ + 1) / 2;
  uint64_t x = rank;
  do {
    x = ((x + scramble_keys_[0]) * 0xd6e8feb86659fd93ULL) & scramble_mask_;
    x ^= x >> shift;
    x = ((x + scramble_keys_[1]) * 0x9e3779b97f4a7c15ULL) & scramble_mask_;
    x ^= x >> shift;
    x = ((x + scramble_keys_[2]) * 0xbf58476d1ce4e5b9ULL) & scramble_mask_;
    x ^= x >> shift;
  } while (x >= spec_.count);
  return x;
}

uint64_t Generator::NextIndex() {
  switch (spec_.distribution) {
    case Distribution::kSequential: {
      const uint64_t index = next_sequential_;
      next_sequential_ = index + 1 == spec_.count ? 0 : index + 1;
      return index;
    }
    case Distribution::kUniform:
      return NextBelow(spec_.count);
    case Distribution::kZipfian:
      return ScrambleRank(NextZipfRank() - 1);
  }
  return 0;
}

namespace {

// A buffered file that turns every failure (open, short write, ENOSPC, close) into a Status
// naming the path. POSIX rather than stdio so the errno of the failing call is the one reported.
class OutputFile {
 public:
  explicit OutputFile(std::string path) : path_(std::move(path)) { buffer_.reserve(kBufferSize); }
  ~OutputFile() {
    if (fd_ >= 0) ::close(fd_);
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  absl::Status Open() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot open '", path_, "' for writing"));
    }
    return absl::OkStatus();
  }

  // Appends to the buffer; call MaybeFlush() between records.
  std::string& buffer() { return buffer_; }

  absl::Status MaybeFlush() {
    return buffer_.size() >= kBufferSize ? Flush() : absl::OkStatus();
  }

  absl::Status Close() {
    KV_RETURN_IF_ERROR(Flush());
    const int fd = std::exchange(fd_, -1);
    // close() is where some file systems (NFS, quotas) first report a failed write.
    if (::close(fd) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("cannot close '", path_, "'"));
    }
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kBufferSize = size_t{1} << 20;

  absl::Status Flush() {
    const char* p = buffer_.data();
    size_t left = buffer_.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, absl::StrCat("cannot write to '", path_, "'"));
      }
      p += n;
      left -= static_cast<size_t>(n);
    }
    buffer_.clear();
    return absl::OkStatus();
  }

  std::string path_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace

absl::Status WriteRecords(const Spec& spec, Format format, const std::string& path,
                          const std::function<void(uint64_t done, uint64_t total)>& progress) {
  KV_RETURN_IF_ERROR(Validate(spec));
  OutputFile file(path);
  KV_RETURN_IF_ERROR(file.Open());

  Generator generator(spec);
  std::string key;
  std::string value;
  std::string& out = file.buffer();
  // Often enough for a smooth progress bar, rarely enough that the callback costs nothing.
  constexpr uint64_t kProgressEvery = 1 << 14;
  for (uint64_t done = 0; done < spec.count; ++done) {
    const uint64_t index = generator.NextIndex();
    generator.Key(index, &key);
    generator.Value(index, &value);
    if (format == Format::kTsv) {
      out.append(key).append(1, '\t').append(value).append(1, '\n');
    } else {
      char length[4];
      kvstore::internal::EncodeFixed32(length, static_cast<uint32_t>(key.size()));
      out.append(length, 4).append(key);
      kvstore::internal::EncodeFixed32(length, static_cast<uint32_t>(value.size()));
      out.append(length, 4).append(value);
    }
    KV_RETURN_IF_ERROR(file.MaybeFlush());
    if (progress && done % kProgressEvery == 0 && done > 0) progress(done, spec.count);
  }
  KV_RETURN_IF_ERROR(file.Close());
  if (progress) progress(spec.count, spec.count);
  return absl::OkStatus();
}

}  // namespace kvstore::datagen
