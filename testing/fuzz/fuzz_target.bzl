"""kvstore_fuzz_target: one libFuzzer harness, built as a fuzzer and replayed as a test."""

load("//bazel:copts.bzl", "KVSTORE_TEST_COPTS")

def kvstore_fuzz_target(name, srcs, deps = []):
    """Declares the fuzz target `name` and `name`_corpus_test.

    `srcs` define `extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t)`.

    * `name`: under --config=fuzz, a libFuzzer binary (clang, -fsanitize=fuzzer,address; see
      run_fuzzers.sh). Under any other config, a plain binary that runs the harness once over
      each file, or each file of each directory, given as arguments.
    * `name`_corpus_test: the plain binary over every file of corpus/`name`/, the seed corpus and
      the regression inputs, under whatever config the tests are built with (gcc, asan, ubsan...).
    """
    native.cc_library(
        name = name + "_harness",
        testonly = True,
        srcs = srcs,
        copts = KVSTORE_TEST_COPTS,
        deps = deps + [":fuzz_util"],
        # Nothing in the harness's own archive references LLVMFuzzerTestOneInput; the main that
        # calls it (libFuzzer's or ours) does.
        alwayslink = True,
    )
    native.cc_binary(
        name = name,
        testonly = True,
        linkopts = select({
            ":fuzzing": ["-fsanitize=fuzzer,address"],
            "//conditions:default": [],
        }),
        deps = [":" + name + "_harness"] + select({
            ":fuzzing": [],
            "//conditions:default": [":standalone_fuzz_main"],
        }),
    )
    native.filegroup(
        name = name + "_corpus",
        testonly = True,
        srcs = native.glob(["corpus/%s/*" % name]),
    )
    native.cc_test(
        name = name + "_corpus_test",
        size = "small",
        args = ["$(rootpaths :%s_corpus)" % name],
        data = [":" + name + "_corpus"],
        deps = [
            ":" + name + "_harness",
            ":standalone_fuzz_main",
        ],
    )
