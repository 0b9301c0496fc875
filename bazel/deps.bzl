"""Declares everything kvstore needs in a WORKSPACE, with no network.

A downstream WORKSPACE writes:

    local_repository(name = "kvstore", path = "...")   # or http_archive
    load("@kvstore//bazel:deps.bzl", "kvstore_dependencies")
    kvstore_dependencies()

This declares
  * @kvstore_deps: Debian's system libraries (Abseil, xxHash, GoogleTest with gmock, Google
    Benchmark, and the LevelDB/RocksDB peers of the benchmarks) wrapped as cc_library targets;
  * @rules_cc, @rules_java, @remote_coverage_tools: small local stand-ins for the repositories
    Bazel 4.2.3's built-in WORKSPACE suffix would otherwise download when a C++ build or test
    first needs them (see shared/notes/bazel-offline.md).
Each is skipped when the WORKSPACE already declares a repository of that name.
"""

_LIB_DIR = "/usr/lib/x86_64-linux-gnu"

# Headers that must exist for each wrapped library, and the Debian package that ships them, so a
# missing package fails with a sentence instead of a compiler error deep in the build.
_REQUIRED_HEADERS = {
    "absl/status/status.h": "libabsl-dev",
    "xxhash.h": "libxxhash-dev",
    "gtest/gtest.h": "libgtest-dev",
    "gmock/gmock.h": "libgmock-dev",
    "benchmark/benchmark.h": "libbenchmark-dev",
}

def _abseil_linkopts(ctx):
    lib_dir = ctx.path(_LIB_DIR)
    libs = []
    for entry in lib_dir.readdir():
        name = entry.basename
        if name.startswith("libabsl_") and name.endswith(".so"):
            libs.append("-l" + name[len("lib"):-len(".so")])
    if not libs:
        fail("kvstore: no libabsl_*.so in %s; install libabsl-dev (tools/bazel does it)" % _LIB_DIR)
    return sorted(libs)

def _system_libraries_impl(ctx):
    for header, package in _REQUIRED_HEADERS.items():
        if not ctx.path("/usr/include/" + header).exists:
            fail("kvstore: /usr/include/%s is missing; install %s (tools/bazel does it)" % (header, package))
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    ctx.template("BUILD.bazel", ctx.attr._build_template, {
        "%{ABSEIL_LINKOPTS}": repr(_abseil_linkopts(ctx)),
    })

_system_libraries = repository_rule(
    implementation = _system_libraries_impl,
    attrs = {"_build_template": attr.label(default = Label("//third_party:system_libraries.BUILD.tpl"))},
    local = True,
    doc = "Wraps Debian's system libraries under /usr as cc_library targets.",
)

_CC_RULES = ["cc_binary", "cc_import", "cc_library", "cc_proto_library", "cc_shared_library",
             "cc_test", "cc_toolchain", "cc_toolchain_suite", "fdo_prefetch_hints", "fdo_profile",
             "objc_import", "objc_library"]
_JAVA_RULES = ["java_binary", "java_import", "java_library", "java_lite_proto_library",
               "java_package_configuration", "java_plugin", "java_proto_library", "java_runtime",
               "java_test", "java_toolchain"]

def _forwarders(rules):
    # Each stand-in rule forwards to Bazel's native rule of the same name.
    return "".join([
        "def %s(**kwargs):\n    native.%s(**kwargs)\n\n" % (rule, rule)
        for rule in rules
    ])

_PUBLIC = "package(default_visibility = [\"//visibility:public\"])\n"

_STAND_IN_FILES = {
    "rules_cc": {
        "BUILD": _PUBLIC,
        "cc/BUILD": _PUBLIC + "alias(name = \"toolchain_type\", actual = \"@bazel_tools//tools/cpp:toolchain_type\")\n",
        "cc/defs.bzl": _forwarders(_CC_RULES),
    },
    "rules_java": {
        "BUILD": _PUBLIC,
        "java/BUILD": _PUBLIC,
        "java/defs.bzl": _forwarders(_JAVA_RULES),
    },
    # Only `bazel coverage` runs these; plain tests merely depend on the labels existing.
    "remote_coverage_tools": {
        "BUILD": _PUBLIC + "".join([
            "filegroup(name = \"%s\")\n" % name
            for name in ["coverage_report_generator", "lcov_merger", "coverage_output_generator"]
        ]),
    },
}

def _stand_in_impl(ctx):
    ctx.file("WORKSPACE", "workspace(name = \"%s\")\n" % ctx.name)
    for path, content in _STAND_IN_FILES[ctx.name].items():
        ctx.file(path, content)

_stand_in = repository_rule(
    implementation = _stand_in_impl,
    doc = "A local stand-in for a repository Bazel 4.2.3 would otherwise download.",
)

def kvstore_dependencies():
    """Declares kvstore's dependencies; call once from the WORKSPACE."""
    existing = native.existing_rules()
    if "kvstore_deps" not in existing:
        _system_libraries(name = "kvstore_deps")
    for name in _STAND_IN_FILES:
        if name not in existing:
            _stand_in(name = name)
