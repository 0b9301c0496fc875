"""Compiler flags shared by every kvstore target, so warnings are the same everywhere."""

KVSTORE_COPTS = [
    "-Wall",
    "-Wextra",
    "-Wno-sign-compare",
    "-Wno-unused-parameter",
]

KVSTORE_TEST_COPTS = KVSTORE_COPTS
