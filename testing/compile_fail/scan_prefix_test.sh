#!/usr/bin/env bash
# ScanPrefix with a prefix type that does not match the key's leading elements must fail to
# compile with its readable static_assert, and with no other error.
set -uo pipefail
cxx=${CXX:-g++}
src="testing/compile_fail/scan_prefix_wrong_type.cc"
out=$("$cxx" -std=c++20 -fsyntax-only -I. "$src" 2>&1)
rc=$?
if ((rc == 0)); then
  echo "FAIL: $src compiled" >&2
  exit 1
fi
# g++ says "static assertion failed: <message>", clang "static_assert failed due to ... \"<message>\"".
if ! grep -q "static.assert.*failed.*kvstore::Table::ScanPrefix: the prefix must be" <<<"$out"; then
  echo "FAIL: no ScanPrefix static_assert in:" >&2
  echo "$out" >&2
  exit 1
fi
errors=$(grep -c "error:" <<<"$out")
if ((errors != 1)); then
  echo "FAIL: $errors errors, expected only the static_assert:" >&2
  echo "$out" >&2
  exit 1
fi
echo "PASS: ScanPrefix refuses a mismatched prefix type with one static_assert"
