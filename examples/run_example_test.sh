#!/usr/bin/env bash
# Runs an example program twice on one store directory of this test's own (never a fixed path
# that another run, or a store left behind, could share) and compares what each run prints with
# the expected output. Usage: run_example_test.sh EXAMPLE_BINARY EXPECTED_OUTPUT
set -euo pipefail
example=$1
expected=$2
dir="${TEST_TMPDIR:?run under bazel test}/store"
for run in first second; do
  if ! output=$("$example" "$dir"); then
    echo "$example failed on its $run run, printing:" >&2
    echo "$output" >&2
    exit 1
  fi
  if [[ "$output" != "$(cat "$expected")" ]]; then
    echo "$example printed, on its $run run:" >&2
    diff <(echo "$output") "$expected" >&2 || true
    exit 1
  fi
done
echo "$example: both runs printed $expected"
