// datagen: writes a file of deterministic key/value records for benchmarks and for loading into
// other stores. See `datagen --help`; the records themselves are described in datagen.h.
//
// Exit status: 0 on success, 2 for a bad command line, 1 when the file cannot be written.

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "tools/datagen/datagen.h"

namespace {

using kvstore::datagen::Format;
using kvstore::datagen::Spec;

constexpr char kUsage[] =
    "usage: datagen --count N --out FILE [--key_size 16] [--value_size 100]\n"
    "               [--distribution uniform|sequential|zipfian] [--zipf_theta 0.99]\n"
    "               [--seed 301] [--format tsv|binary] [--compression_ratio 1.0]\n"
    "\n"
    "Writes N records whose key indexes follow the distribution. tsv: \"key\\tvalue\\n\" per\n"
    "record; binary: fixed32 key length, key, fixed32 value length, value (little-endian).\n"
    "With --compression_ratio R < 1, each value repeats its first value_size * R bytes, so a\n"
    "block compressor shrinks it to about R (as db_bench's generator).\n"
    "The same flags always produce the same file.\n";

// Below this many records the run is over before a bar could be read.
constexpr uint64_t kProgressMinRecords = 100000;

struct Options {
  Spec spec;
  Format format = Format::kTsv;
  std::string out;
};

[[noreturn]] void UsageError(absl::string_view message) {
  std::fprintf(stderr, "datagen: %.*s (see --help)\n", static_cast<int>(message.size()),
               message.data());
  std::exit(2);
}

template <typename T>
T ParseUnsigned(absl::string_view flag, absl::string_view text) {
  T value;
  // SimpleAtoi accepts a leading '-' for unsigned types in some releases; a negative count is
  // never what the user meant.
  if (text.empty() || text[0] == '-' || !absl::SimpleAtoi(text, &value)) {
    UsageError(absl::StrCat("--", flag, " wants a non-negative integer, got '", text, "'"));
  }
  return value;
}

// Accepts `--name value` and `--name=value`. Hand-written rather than absl/flags so that every
// mistake ends in one line and exit status 2, and the binary needs no global flag registry.
Options ParseCommandLine(int argc, char** argv) {
  Options options;
  bool have_count = false;
  for (int i = 1; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    }
    if (arg.substr(0, 2) != "--") UsageError(absl::StrCat("unexpected argument '", arg, "'"));
    arg.remove_prefix(2);
    absl::string_view name = arg;
    std::optional<absl::string_view> value;
    if (const size_t eq = arg.find('='); eq != absl::string_view::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    const bool known = name == "count" || name == "out" || name == "key_size" ||
                       name == "value_size" || name == "distribution" || name == "seed" ||
                       name == "format" || name == "zipf_theta" || name == "compression_ratio";
    if (!known) UsageError(absl::StrCat("unknown flag '--", name, "'"));
    if (!value) {
      if (i + 1 >= argc) UsageError(absl::StrCat("--", name, " needs a value"));
      value = argv[++i];
    }

    if (name == "count") {
      options.spec.count = ParseUnsigned<uint64_t>(name, *value);
      have_count = true;
    } else if (name == "out") {
      if (value->empty()) UsageError("--out needs a file name");
      options.out = std::string(*value);
    } else if (name == "key_size") {
      options.spec.key_size = ParseUnsigned<size_t>(name, *value);
    } else if (name == "value_size") {
      options.spec.value_size = ParseUnsigned<size_t>(name, *value);
    } else if (name == "seed") {
      options.spec.seed = ParseUnsigned<uint64_t>(name, *value);
    } else if (name == "zipf_theta") {
      if (!absl::SimpleAtod(*value, &options.spec.zipf_theta)) {
        UsageError(absl::StrCat("--zipf_theta wants a number, got '", *value, "'"));
      }
    } else if (name == "compression_ratio") {
      if (!absl::SimpleAtod(*value, &options.spec.compression_ratio)) {
        UsageError(absl::StrCat("--compression_ratio wants a number, got '", *value, "'"));
      }
    } else if (name == "distribution") {
      auto distribution = kvstore::datagen::ParseDistribution(*value);
      if (!distribution.ok()) UsageError(distribution.status().message());
      options.spec.distribution = *distribution;
    } else if (name == "format") {
      auto format = kvstore::datagen::ParseFormat(*value);
      if (!format.ok()) UsageError(format.status().message());
      options.format = *format;
    }
  }
  if (!have_count) UsageError("--count is required");
  if (options.out.empty()) UsageError("--out is required");
  if (absl::Status status = kvstore::datagen::Validate(options.spec); !status.ok()) {
    UsageError(status.message());
  }
  return options;
}

// `bazel run` starts the tool inside its runfiles tree; a relative --out means the directory
// the user typed the command in.
std::string ResolveOutputPath(const std::string& out) {
  const char* working_directory = std::getenv("BUILD_WORKING_DIRECTORY");
  if (out[0] == '/' || working_directory == nullptr || working_directory[0] == '\0') return out;
  return absl::StrCat(working_directory, "/", out);
}

// One self-overwriting stderr line, redrawn at most ten times a second.
class ProgressBar {
 public:
  using Clock = std::chrono::steady_clock;

  explicit ProgressBar(Clock::time_point start) : start_(start), last_draw_(start) {}

  void Update(uint64_t done, uint64_t total) {
    const Clock::time_point now = Clock::now();
    if (done < total && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    drawn_ = true;
    constexpr int kWidth = 30;
    const double fraction = total == 0 ? 1.0 : static_cast<double>(done) / total;
    const int filled = static_cast<int>(fraction * kWidth);
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? done / seconds : 0;
    std::fprintf(stderr, "\r[%s%s] %5.1f%%  %.0f records/s\033[K",
                 std::string(filled, '#').c_str(), std::string(kWidth - filled, ' ').c_str(),
                 100.0 * fraction, rate);
    std::fflush(stderr);
  }

  // Moves past the bar so the summary gets a line of its own.
  void Finish() {
    if (drawn_) std::fputc('\n', stderr);
  }

 private:
  Clock::time_point start_;
  Clock::time_point last_draw_;
  bool drawn_ = false;
};

}  // namespace

int main(int argc, char** argv) {
  const Options options = ParseCommandLine(argc, argv);
  const std::string path = ResolveOutputPath(options.out);

  const auto start = ProgressBar::Clock::now();
  ProgressBar bar(start);
  std::function<void(uint64_t, uint64_t)> progress;
  if (options.spec.count >= kProgressMinRecords && isatty(STDERR_FILENO)) {
    progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  }
  const absl::Status status =
      kvstore::datagen::WriteRecords(options.spec, options.format, path, progress);
  bar.Finish();
  if (!status.ok()) {
    std::fprintf(stderr, "datagen: %s\n", std::string(status.message()).c_str());
    return 1;
  }
  const double seconds =
      std::chrono::duration<double>(ProgressBar::Clock::now() - start).count();

  struct stat info;
  const long long bytes = ::stat(path.c_str(), &info) == 0 ? info.st_size : -1;
  std::fprintf(stderr, "datagen: wrote %llu records, %lld bytes (%s, %s) to %s in %.3f s\n",
               static_cast<unsigned long long>(options.spec.count), bytes,
               std::string(kvstore::datagen::FormatName(options.format)).c_str(),
               std::string(kvstore::datagen::DistributionName(options.spec.distribution)).c_str(),
               path.c_str(), seconds);
  return 0;
}
