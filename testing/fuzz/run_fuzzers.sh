#!/usr/bin/env bash
# Builds kvstore's fuzz targets with --config=fuzz (clang, libFuzzer, AddressSanitizer) and runs
# each on a copy of its corpus (testing/fuzz/corpus/<target>/ stays as it is). Fails if any target
# crashes, leaks, times out or runs out of memory, leaving the input that did it; prints the
# executions of each target and the total.
#
#   testing/fuzz/run_fuzzers.sh                          # 20000 runs per target (CI)
#   testing/fuzz/run_fuzzers.sh 1000000                  # more runs per target
#   testing/fuzz/run_fuzzers.sh -max_total_time=600      # libFuzzer flags, given to every target
#   testing/fuzz/run_fuzzers.sh 50000 wal_fuzzer         # only the targets named
#
# A crash input belongs in corpus/<target>/regression-<what> once fixed: the corpus tests
# (tools/bazel test //testing/fuzz/...) then replay it on every test run.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bazel="$root/tools/bazel"

# Every target, with the largest input worth trying: a few records, segments of a few blocks.
declare -A max_len=(
  [wal_fuzzer]=4096
  [segment_fuzzer]=8192
  [segment_mutation_fuzzer]=512
  [compressed_segment_fuzzer]=512
  [serializer_fuzzer]=256
  [manifest_fuzzer]=1024
  [bloom_fuzzer]=4096
  [block_rebuild_fuzzer]=2048
)
all_targets=(wal_fuzzer segment_fuzzer segment_mutation_fuzzer compressed_segment_fuzzer
             serializer_fuzzer manifest_fuzzer bloom_fuzzer block_rebuild_fuzzer)

flags=()
targets=()
for arg in "$@"; do
  if [[ $arg =~ ^[0-9]+$ ]]; then
    flags+=("-runs=$arg")
  elif [[ $arg == -* ]]; then
    flags+=("$arg")
  elif [[ -n ${max_len[$arg]:-} ]]; then
    targets+=("$arg")
  else
    echo "run_fuzzers.sh: unknown target or argument: $arg (targets: ${all_targets[*]})" >&2
    exit 2
  fi
done
((${#flags[@]} == 0)) && flags=(-runs=20000)
((${#targets[@]} == 0)) && targets=("${all_targets[@]}")

labels=()
for t in "${targets[@]}"; do labels+=("//testing/fuzz:$t"); done
echo "=== building ${targets[*]} with --config=fuzz"
if ! "$bazel" build --config=fuzz "${labels[@]}"; then
  echo "run_fuzzers.sh: build failed" >&2
  exit 1
fi
bin_dir="$("$bazel" info --config=fuzz bazel-bin 2>/dev/null)/testing/fuzz"

# A smaller quarantine than ASan's 256 MB default: on short runs, touching fresh memory for it
# otherwise costs up to half the time (use-after-free is still caught within the last 64 MB freed).
export ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64}

work=$(mktemp -d "${TMPDIR:-/tmp}/kvstore-fuzz.XXXXXX")
failed=()
total_execs=0
total_ms=0
for t in "${targets[@]}"; do
  mkdir -p "$work/$t/corpus" "$work/$t/artifacts"
  cp "$root/testing/fuzz/corpus/$t/"* "$work/$t/corpus/"
  log="$work/$t/log"
  start_ms=$(($(date +%s%N) / 1000000))
  # -detect_leaks: a leak is a failure too. -timeout: seconds for one input.
  (cd "$work/$t" && "$bin_dir/$t" -max_len="${max_len[$t]}" -timeout=25 -detect_leaks=1 \
      -print_final_stats=1 -artifact_prefix="$work/$t/artifacts/" "${flags[@]}" corpus) \
      >"$log" 2>&1
  rc=$?
  ms=$(($(date +%s%N) / 1000000 - start_ms + 1))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  execs=${execs:-0}
  total_execs=$((total_execs + execs))
  total_ms=$((total_ms + ms))
  if ((rc == 0)); then
    printf '%-24s %10d execs in %4d.%d s (%6d/s), corpus %d -> %d inputs\n' "$t" "$execs" \
      $((ms / 1000)) $((ms % 1000 / 100)) $((execs * 1000 / ms)) \
      "$(ls "$root/testing/fuzz/corpus/$t" | wc -l)" "$(ls "$work/$t/corpus" | wc -l)"
  else
    failed+=("$t")
    echo "--- $t FAILED (exit $rc); last lines of $log:"
    tail -n 40 "$log"
    for artifact in "$work/$t/artifacts/"*; do
      [[ -e $artifact ]] || continue
      echo "--- reproduce: $bin_dir/$t $artifact"
    done
  fi
done

echo "total: $total_execs executions in $((total_ms / 1000)) s over ${#targets[@]} targets"
if ((${#failed[@]} > 0)); then
  echo "failed: ${failed[*]} (logs and crash inputs kept in $work)"
  exit 1
fi
rm -rf "$work"
exit 0
