"""Module extension for MODULE.bazel (Bazel 7+, bzlmod): the @kvstore_deps repository.

kvstore's BUILD files name their dependencies @kvstore_deps//:absl, :xxhash, :gtest,
:gtest_main, :benchmark, :benchmark_main, :snappy, :lz4, :zstd, :leveldb and :rocksdb. Under a WORKSPACE,
bazel/deps.bzl makes that repository from Debian's system libraries. Under bzlmod this extension
makes a repository of the same name whose targets forward to the Bazel Central Registry modules
that MODULE.bazel depends on, so one set of BUILD files builds in both modes. A repository made
by an extension sees the repositories of the module that hosts it, so the labels below resolve
through kvstore's own MODULE.bazel.
"""

# The Abseil targets whose headers kvstore (absl/status, absl/strings, absl/types/span,
# absl/functional) and its tools (absl/flags) include. tools/check_bzlmod.sh reads this list to
# make its stand-in module.
_ABSEIL = [
    "@abseil-cpp//absl/flags:flag",
    "@abseil-cpp//absl/flags:parse",
    "@abseil-cpp//absl/flags:reflection",
    "@abseil-cpp//absl/flags:usage",
    "@abseil-cpp//absl/functional:function_ref",
    "@abseil-cpp//absl/status",
    "@abseil-cpp//absl/status:statusor",
    "@abseil-cpp//absl/strings",
    "@abseil-cpp//absl/strings:str_format",
    "@abseil-cpp//absl/types:span",
]

_BUILD = """\
# Made by kvstore's bazel/extensions.bzl: kvstore's dependency labels, forwarded to the modules
# of its MODULE.bazel.
package(default_visibility = ["//visibility:public"])

cc_library(
    name = "absl",
    deps = {abseil},
)

alias(
    name = "xxhash",
    actual = "@xxhash//:xxhash",
)

# googletest and google_benchmark are dev dependencies of kvstore: these resolve only when
# kvstore is the root module, which is when its tests and benchmarks build.
alias(
    name = "gtest",
    actual = "@googletest//:gtest",
)

alias(
    name = "gtest_main",
    actual = "@googletest//:gtest_main",
)

alias(
    name = "benchmark",
    actual = "@google_benchmark//:benchmark",
)

alias(
    name = "benchmark_main",
    actual = "@google_benchmark//:benchmark_main",
)

# The optional compression libraries (//kvstore:snappy, :lz4, :zstd): the system's, as under
# WORKSPACE (Debian's libsnappy-dev, liblz4-dev, libzstd-dev); only a program that names a
# Compression policy links one.
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

# The peers of the side-by-side benchmarks (never the library): the system's LevelDB and
# RocksDB, as under WORKSPACE (Debian's libleveldb-dev and librocksdb-dev).
cc_library(
    name = "leveldb",
    linkopts = ["-lleveldb"],
)

cc_library(
    name = "rocksdb",
    linkopts = ["-lrocksdb"],
)
"""

def _kvstore_deps_repository_impl(ctx):
    ctx.file("BUILD.bazel", _BUILD.format(abseil = repr(_ABSEIL)))

_kvstore_deps_repository = repository_rule(
    implementation = _kvstore_deps_repository_impl,
    doc = "kvstore's @kvstore_deps labels, forwarded to bzlmod modules.",
)

def _kvstore_deps_impl(module_ctx):
    _kvstore_deps_repository(name = "kvstore_deps")

kvstore_deps = module_extension(
    implementation = _kvstore_deps_impl,
    doc = "Makes @kvstore_deps for kvstore's BUILD files under bzlmod.",
)
