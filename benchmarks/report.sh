#!/usr/bin/env bash
# `tools/bazel run //benchmarks:report [-- flags]`: runs db_bench once per engine for each record
# size (100-byte and 1000-byte values), seed_workload, compression and peak_memory (and large_fill
# when asked), then writes report.md and its charts (see report.py for the flags).
set -euo pipefail

# The binaries are this target's runfiles: next to the script under `bazel run`, or wherever
# RUNFILES_DIR says.
runfiles="${RUNFILES_DIR:-}"
if [[ -z "$runfiles" ]]; then
  if [[ -d "$0.runfiles" ]]; then
    runfiles="$0.runfiles"
  else
    runfiles="$(cd .. && pwd)"  # `bazel run` starts us in <runfiles>/kvstore
  fi
fi
bench="$runfiles/kvstore/benchmarks"
for file in db_bench seed_workload compression peak_memory report.py; do
  if [[ ! -e "$bench/$file" ]]; then
    echo "report: $bench/$file is missing; run this as: tools/bazel run //benchmarks:report" >&2
    exit 2
  fi
done

# large_fill (the bigger-than-memory fill) is optional: passed only when it is in the runfiles.
extra=()
if [[ -x "$bench/large_fill" ]]; then
  extra+=(--large_fill "$bench/large_fill")
fi

exec python3 "$bench/report.py" --db_bench "$bench/db_bench" \
  --seed_workload "$bench/seed_workload" --compression "$bench/compression" \
  --peak_memory "$bench/peak_memory" "${extra[@]}" "$@"
