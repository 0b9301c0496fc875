# Debian's system libraries as Bazel targets. Headers live in /usr/include, which the compiler
# searches already, so the targets only carry link flags.
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "absl",
    linkopts = %{ABSEIL_LINKOPTS},
)

# xxHash is used header-only (XXH_INLINE_ALL), plus the library's run-time dispatch for long
# inputs (kvstore/internal/hash.h).
cc_library(
    name = "xxhash",
    linkopts = ["-lxxhash"],
)

cc_library(
    name = "gtest",
    linkopts = ["-lgmock", "-lgtest", "-lpthread"],
    testonly = True,
)

cc_library(
    name = "gtest_main",
    linkopts = ["-lgmock", "-lgtest_main", "-lgtest", "-lpthread"],
    testonly = True,
)

cc_library(
    name = "benchmark",
    linkopts = ["-lbenchmark", "-lpthread"],
)

cc_library(
    name = "benchmark_main",
    linkopts = ["-lbenchmark_main", "-lbenchmark", "-lpthread"],
)

# Compression libraries, each linked only through the kvstore policy target that names it
# (//kvstore:snappy, //kvstore:lz4, //kvstore:zstd).
cc_library(
    name = "snappy",
    linkopts = ["-lsnappy"],
)

cc_library(
    name = "lz4",
    linkopts = ["-llz4"],
)

cc_library(
    name = "zstd",
    linkopts = ["-lzstd"],
)

# Peers for the side-by-side benchmarks only; the library never depends on them.
cc_library(
    name = "leveldb",
    linkopts = ["-lleveldb"],
)

cc_library(
    name = "rocksdb",
    linkopts = ["-lrocksdb"],
)
