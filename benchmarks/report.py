#!/usr/bin/env python3
"""Runs the benchmark suite once per engine and writes a Markdown report and a PNG bar chart.

Usually run as `tools/bazel run //benchmarks:report [-- --num=200000 --out=DIR]`, which builds
the binaries and passes their paths. First seed_workload runs all engines side by side; then
each engine runs in its own process of db_bench, so that its peak RSS is its own. Writes into --out:

  report.md          ops/s per workload per engine, ratios kvstore/LevelDB and kvstore/RocksDB,
                     memory per engine, the seed workload, machine and library versions
  ops_per_sec.png    grouped bars per workload (log scale), drawn by gnuplot
  ops_per_sec_large.png  the same for a second pass with larger records (--large_value_size
                     bytes per value, --large_num keys; --no_large skips it)
  latency.png        write latency percentiles (p50, p99, p99.9, max) per engine (log scale),
                     from a pass of fillrandom and overwrite at --latency_num keys (10M;
                     0: the main pass's)
  compression.png    //benchmarks:compression: size on disk, fillrandom and readrandom per codec
                     and engine (--compression_num keys; --no_compression skips it)
  memory.png         //benchmarks:peak_memory: peak RSS and anonymous memory per record shape and
                     engine (--memory_scale; --no_memory skips it)
  disk_usage.*       //benchmarks:large_fill's disk usage over time, only with --large_fill_num N
                     and only if that binary is in the runfiles (else logged and skipped)
  raw/               the JSON of every run (Google Benchmark's format) and the gnuplot inputs

Flags this script does not know are passed to db_bench (e.g. --benchmark_filter=read).
Standard library only.
"""

import argparse
import datetime
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile

ENGINE_TITLES = {"kvstore": "kvstore", "leveldb": "LevelDB", "rocksdb": "RocksDB"}
ENGINE_COLORS = {"kvstore": "#1f6fb4", "leveldb": "#2ca02c", "rocksdb": "#d9822b"}

# In the order of the suite; a workload an engine did not run shows as n/a.
WORKLOADS = [
    ("fillseq", "Put every key once in key order into an empty store"),
    ("fillrandom", "Put every key once in random order into an empty store"),
    ("overwrite", "Put random present keys (with repetition) with new values"),
    ("fillsync", "Put in random order with sync=true (fdatasync per write); fewer operations"),
    ("readrandom", "Get random present keys from a settled, warm store; values verified"),
    ("readmissing", "Get absent keys that sort between stored keys: only a filter rules them out"),
    ("readzipfian", "Get present keys with Zipfian skew (theta 0.99, popular keys scattered)"),
    ("seekrandom", "New iterator, Seek to a random present key, read 100 entries; ops = seeks"),
    ("readseq", "Full scan in key order with one iterator; ops = entries"),
    ("deleterandom", "Delete every key once in random order"),
    ("mixed_t1", "90% Get / 10% Put of random present keys, 1 thread"),
    ("mixed_t2", "90% Get / 10% Put of random present keys, 2 threads sharing the store"),
]

# Counters of the write workloads: each write timed on its own (db_bench's LatencyHistogram).
LATENCY_WORKLOADS = ["fillrandom", "overwrite"]
LATENCY_COUNTERS = [("p50", "p50_us"), ("p99", "p99_us"), ("p99.9", "p999_us"), ("max", "max_us")]

# The phases of an outside workload where kvstore once lost to LevelDB (issue 16), each on a
# store just bulk-loaded with 24-byte keys and 150-byte values; db_bench reports phase_ms.
SLOW_SPOTS = [
    ("slow_synced_batches", "20 synced batches of 1,000 Sets each"),
    ("slow_count_uncompacted", "counting every entry with an iterator (Next only), before any "
     "manual compaction"),
    ("slow_sorted_inserts", "200,000 sorted inserts of new keys after the bulk load, in batches "
     "of 1,000 (a fifth of the entries when fewer than 1M)"),
    ("slow_delete_range", "deleting every other key of a 200,000-key range found by iteration, "
     "in one batch (a fifth of the entries when fewer than 1M)"),
    ("slow_synced_sets", "200 single synced Sets"),
]

ROCKSDB_NOTE = (
    "Debian's librocksdb 7.8.3 is built without `-DNDEBUG` (its assertions stay on): on CPU-bound "
    "work it runs about 1.4x slower than a release build of the same version. LevelDB 1.23 from "
    "Debian performs like a release build, so **LevelDB is the honest anchor**; read "
    "kvstore/RocksDB ratios as upper bounds.")


def log(message):
    print(f"report: {message}", file=sys.stderr, flush=True)


def default_out_dir():
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if workspace:
        return os.path.join(workspace, "benchmarks", "results")
    return os.path.join(os.path.dirname(os.path.realpath(__file__)), "results")


def user_path(path):
    """A path the user typed, relative to where they ran `bazel run` from."""
    if os.path.isabs(path):
        return path
    return os.path.join(os.environ.get("BUILD_WORKING_DIRECTORY", os.getcwd()), path)


def run_output(command):
    try:
        return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_kib = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for package in ["libleveldb-dev", "librocksdb-dev", "libbenchmark-dev", "libabsl-dev", "g++"]:
        versions[package] = run_output(["dpkg-query", "-W", "-f=${Version}", package]) or "?"
    commit = ""
    workspace = os.environ.get("BUILD_WORKSPACE_DIRECTORY")
    if workspace:
        commit = run_output(["git", "-C", workspace, "rev-parse", "--short", "HEAD"])
        if commit and run_output(["git", "-C", workspace, "status", "--porcelain"]):
            commit += " (with uncommitted changes)"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": mem_kib / (1024 * 1024),
        "kernel": platform.release(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg": os.getloadavg(),
        "versions": versions,
        "commit": commit,
    }


def human(value, unit=""):
    if value is None:
        return "n/a"
    for factor, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= factor:
            return f"{value / factor:.3g}{suffix}{unit}"
    return f"{value:.3g}{unit}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "n/a"
    return f"{a / b:.2f}x"


# The larger-record pass: 16-byte keys as in the main pass, larger values and fewer keys.
LARGE_KEY_SIZE = 16
LARGE_VALUE_SIZE = 1000

TIME_UNIT_TO_US = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}


def parse_suite(path):
    """{workload: {"ops", "bytes", "cpu_us"} or {"error"}}, the memory entry and the context."""
    with open(path) as f:
        data = json.load(f)
    results, memory = {}, None
    for entry in data.get("benchmarks", []):
        parts = entry.get("name", "").split("/")
        if len(parts) < 2 or entry.get("run_type") == "aggregate":
            continue
        workload = parts[0]
        if entry.get("error_occurred"):
            results[workload] = {"error": entry.get("error_message", "failed")}
            continue
        if workload == "memory":
            memory = entry
            continue
        to_us = TIME_UNIT_TO_US.get(entry.get("time_unit", "ns"), 1e-3)
        results[workload] = {
            **{key: entry[key] for key in EXTRA_FIGURES if key in entry},
            "ops": entry.get("ops/s"),
            "bytes": entry.get("bytes/s"),
            # Process CPU time (all threads) per operation.
            "cpu_us": entry["cpu_time"] * to_us if "cpu_time" in entry else None,
        }
    return results, memory, data.get("context", {})


# Figures some workloads report besides ops/s: write latency percentiles, a phase's wall time and
# the page faults the process took in it.
EXTRA_FIGURES = [key for _, key in LATENCY_COUNTERS] + ["clock_steps_back", "phase_ms",
                                                         "page_faults"]


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def combine_rounds(rounds):
    """One result per workload from several rounds: the median of each figure; a failure in any
    round makes the workload fail."""
    combined = {}
    for workload in {w for r in rounds for w in r}:
        entries = [r[workload] for r in rounds if workload in r]
        errors = [e["error"] for e in entries if "error" in e]
        if errors:
            combined[workload] = {"error": errors[0]}
            continue
        combined[workload] = {}
        for key in ["ops", "bytes", "cpu_us"] + EXTRA_FIGURES:
            values = [e[key] for e in entries if e.get(key) is not None]
            combined[workload][key] = median(values) if values else None
    return combined


def draw_chart(out_dir, raw_dir, engines, results, title, name="ops_per_sec"):
    """Draws <out_dir>/<name>.png, with its data and script in raw_dir; returns its path."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        log("gnuplot not found (apt-get install gnuplot-nox); no chart")
        return None
    workloads = [w for w, _ in WORKLOADS if any(
        results.get(e, {}).get(w, {}).get("ops") for e in engines)]
    data_path = os.path.join(raw_dir, f"{name}.dat")
    with open(data_path, "w") as f:
        f.write("# workload " + " ".join(engines) + "\n")
        for w in workloads:
            values = []
            for e in engines:
                ops = results.get(e, {}).get(w, {}).get("ops")
                values.append(f"{ops:.1f}" if ops else "-")
            f.write(w + " " + " ".join(values) + "\n")
    png_path = os.path.join(out_dir, f"{name}.png")
    # The y axis starts at the power of ten below the smallest bar, so fillsync stays visible.
    smallest = min((results[e][w]["ops"] for e in engines for w in workloads
                    if results.get(e, {}).get(w, {}).get("ops")), default=1000)
    y_floor = 10 ** math.floor(math.log10(max(smallest, 1)))
    plots = []
    for i, e in enumerate(engines):
        label = ENGINE_TITLES.get(e, e) + (" (Debian debug-assert build)" if e == "rocksdb" else "")
        color = ENGINE_COLORS.get(e, "#777777")
        source = f"'{data_path}'" if i == 0 else "''"
        xtic = ":xtic(1)" if i == 0 else ""
        plots.append(f"{source} using {i + 2}{xtic} title '{label}' lc rgb '{color}'")
    script = f"""
set terminal pngcairo size 1500,750 font 'sans,12' noenhanced
set output '{png_path}'
set title '{title}' font 'sans,14'
set datafile missing '-'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.9 border rgb '#333333'
set boxwidth 0.9
set logscale y 10
set yrange [{y_floor}:*]
set format y '%.0s%c'
set ylabel 'operations per second (log scale, higher is better)'
set grid ytics mytics lc rgb '#dddddd'
set xtics rotate by -30 nomirror font 'sans,12'
set ytics nomirror
set key top left box opaque
set bmargin 6
plot {', '.join(plots)}
"""
    script_path = os.path.join(raw_dir, f"{name}.gp")
    with open(script_path, "w") as f:
        f.write(script)
    result = subprocess.run([gnuplot, script_path], capture_output=True, text=True)
    if result.returncode != 0:
        log(f"gnuplot failed: {result.stderr.strip()}")
        return None
    return png_path


def settle():
    """Writes back the dirty pages earlier runs left (os.sync), so that the kernel's writeback of
    one run's files does not compete for the CPUs and the disk with the next run."""
    os.sync()


def run_seed(args, raw_dir, failures):
    """Runs seed_workload (every engine, side by side, in one process); returns its JSON figures,
    or None (with the reason appended to failures)."""
    seed_json = os.path.join(raw_dir, "seed_workload.json")
    if os.path.exists(seed_json):
        os.remove(seed_json)
    scratch = tempfile.mkdtemp(prefix="kvstore-report.")
    command = [args.seed_workload, f"--json={seed_json}", f"--db_dir={scratch}"]
    settle()
    log("running " + " ".join(command))
    try:
        seed_run = subprocess.run(command, capture_output=True, text=True,
                                  timeout=args.timeout or None)
        sys.stdout.write(seed_run.stdout)
        sys.stderr.write(seed_run.stderr)
        if seed_run.returncode != 0:
            failures.append(f"seed_workload exited with {seed_run.returncode}")
        elif os.path.exists(seed_json):
            with open(seed_json) as f:
                return json.load(f)
    except subprocess.TimeoutExpired:
        failures.append(f"seed_workload was stopped after {args.timeout} s (a hang?)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return None


def run_pass(args, engines, raw_dir, name, flags, passthrough, failures):
    """Runs db_bench once per engine and round, each in its own process so that its peak RSS is
    its own, with `flags` after the flags passed through (so they win), writing JSON to
    raw/<name>_<engine>[_round<N>].json. Returns per engine the results (medians over the
    rounds), the memory entry and the context; appends what went wrong to failures."""
    timeout = args.timeout or None
    results, memory, contexts = {}, {}, {}
    rounds = {engine: [] for engine in engines}
    for round_index in range(max(1, args.rounds)):
        for engine in engines:
            suffix = f"_round{round_index + 1}" if args.rounds > 1 else ""
            json_path = os.path.join(raw_dir, f"{name}_{engine}{suffix}.json")
            if os.path.exists(json_path):
                os.remove(json_path)
            what = " ".join(["db_bench", f"--engine={engine}"] + flags)
            # A directory of our own for the stores, so that nothing is left behind even when a
            # run has to be stopped.
            scratch = tempfile.mkdtemp(prefix="kvstore-report.")
            command = [args.db_bench, f"--engine={engine}", f"--db_dir={scratch}",
                       f"--benchmark_out={json_path}",
                       "--benchmark_out_format=json"] + passthrough + flags
            settle()
            log("running " + " ".join(command))
            started = datetime.datetime.now()
            try:
                code = subprocess.run(command, timeout=timeout).returncode
                log(f"{what}: exit {code} after {(datetime.datetime.now() - started).seconds} s")
                if code != 0:
                    failures.append(f"{what} exited with {code}")
            except subprocess.TimeoutExpired:
                log(f"{what}: stopped after {args.timeout} s")
                failures.append(f"{what} was stopped after {args.timeout} s (a hang?); its "
                                "figures are missing or partial")
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
            try:
                result, memory[engine], contexts[engine] = parse_suite(json_path)
                rounds[engine].append(result)
            except (OSError, ValueError) as e:
                failures.append(f"no readable results from {what}: {e}")
    for engine in engines:
        if rounds[engine]:
            results[engine] = combine_rounds(rounds[engine])
    return results, memory, contexts


def pass_config(contexts, num, key_size, value_size):
    """(keys, key bytes, value bytes) of a pass as db_bench reported them, else as asked."""
    context = next(iter(contexts.values()), {})
    return (int(context.get("kv_num", num)), int(context.get("kv_key_size", key_size)),
            int(context.get("kv_value_size", value_size)))


def chart_title(config, machine):
    num, key_size, value_size = config
    return (f"ops/s per workload: {num:,} keys, {key_size}-byte keys, {value_size}-byte values, "
            f"{machine['nproc']} vCPU")


def engine_title(engine, mark_rocksdb=True):
    return ENGINE_TITLES.get(engine, engine) + (" \\*" if mark_rocksdb and engine == "rocksdb"
                                                else "")


def table_head(engines, versus_leveldb, versus_rocksdb):
    """Header and rule of a table with a column per engine and then the kvstore ratios."""
    header = ["workload"] + [engine_title(e) for e in engines]
    if "kvstore" in engines and "leveldb" in engines:
        header.append(versus_leveldb)
    if "kvstore" in engines and "rocksdb" in engines:
        header.append(versus_rocksdb)
    return ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]


def ratio_cells(engines, values, kvstore_first=True):
    """kvstore against LevelDB and RocksDB (those that ran): kvstore / other, or other / kvstore."""
    cells = []
    for other in ("leveldb", "rocksdb"):
        if "kvstore" in engines and other in engines:
            a, b = values.get("kvstore"), values.get(other)
            cells.append(ratio(a, b) if kvstore_first else ratio(b, a))
    return cells


def throughput_table(engines, results):
    """The ops/s table (lines) and the failed workloads ("workload/engine: error")."""
    lines = table_head(engines, "kvstore / LevelDB", "kvstore / RocksDB \\*")
    errors = []
    for workload, _ in WORKLOADS:
        row = [f"`{workload}`"]
        ops = {}
        for e in engines:
            r = results.get(e, {}).get(workload)
            if r is None:
                row.append("n/a")
            elif "error" in r:
                row.append("**failed**")
                errors.append(f"{workload}/{e}: {r['error']}")
            else:
                ops[e] = r["ops"]
                row.append(human(r["ops"]))
        row += ratio_cells(engines, ops)
        if any(cell not in ("n/a",) for cell in row[1:1 + len(engines)]):
            lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    if "rocksdb" in engines:
        lines.append("\\* Debian's RocksDB build keeps its assertions on (about 1.4x slower than a "
                     "release build on CPU-bound work): LevelDB is the honest anchor.\n")
    return lines, errors


# Columns of the memory table: header, key of db_bench's memory entry, how to show it.
MEMORY_COLUMNS = [
    ("peak RSS", "peak_rss_bytes", "MiB"),
    ("of which harness", "harness_rss_bytes", "MiB"),
    ("index + filter bytes/key", "index_filter_bytes_per_key", "per key"),
    ("heap held after open + warm-up, bytes/key", "heap_bytes_per_key", "per key"),
    ("engine-reported cache + memtables", "engine_reported_bytes", "bytes"),
]


def memory_table(engines, memory, columns=MEMORY_COLUMNS):
    lines = ["| engine | " + " | ".join(header for header, _, _ in columns) + " |",
             "|---" + "|---:" * len(columns) + "|"]
    for e in engines:
        m = memory.get(e) or {}
        cells = []
        for _, key, unit in columns:
            if key not in m:
                cells.append("n/a")
            elif unit == "MiB":
                cells.append(f"{m[key] / 2**20:.0f} MiB")
            elif unit == "per key":
                cells.append(f"{m[key]:.2f}")
            else:
                cells.append(human(m[key], "B"))
        lines.append(f"| {engine_title(e, mark_rocksdb=False)} | " + " | ".join(cells) + " |")
    return lines


def latency_table(engines, results):
    """Per-write latency (µs) of the random fill and the overwrite, a row per workload and engine."""
    lines = ["| workload | engine | " + " | ".join(f"{name} µs" for name, _ in LATENCY_COUNTERS)
             + " |", "|---|---" + "|---:" * len(LATENCY_COUNTERS) + "|"]
    for workload in LATENCY_WORKLOADS:
        for e in engines:
            r = results.get(e, {}).get(workload) or {}
            if not any(key in r for _, key in LATENCY_COUNTERS):
                continue
            cells = [f"{r[key]:,.1f}" if r.get(key) is not None else "n/a"
                     for _, key in LATENCY_COUNTERS]
            if r.get("clock_steps_back"):
                cells = [f"{c} (untrusted)" for c in cells]
            lines.append(f"| `{workload}` | {engine_title(e)} | " + " | ".join(cells) + " |")
    return lines


def clock_steps_back_lines(engines, results):
    """A warning for every write pass in which the clock read an end before its start."""
    lines = []
    for workload in LATENCY_WORKLOADS:
        for e in engines:
            steps = (results.get(e, {}).get(workload) or {}).get("clock_steps_back")
            if steps:
                lines.append(f"- `{workload}`, {engine_title(e, mark_rocksdb=False)}: the clock "
                             f"stepped back during {steps:,.0f} writes (the VM's vCPU clocks "
                             "drifted apart); that pass's latencies are marked untrusted and "
                             "not judged.")
    return lines + [""] if lines else []


# Issue 16's targets for writes: p99.9 no higher than LevelDB's, no single write of 50 ms or more.
LATENCY_MAX_TARGET_US = 50000


def latency_targets(engines, results):
    """Lines saying, per write workload, whether kvstore met issue 16's latency targets."""
    if "kvstore" not in engines:
        return []
    lines = []
    for workload in LATENCY_WORKLOADS:
        k = results.get("kvstore", {}).get(workload) or {}
        l = results.get("leveldb", {}).get(workload) or {}
        if k.get("clock_steps_back") or l.get("clock_steps_back"):
            lines.append(f"- `{workload}`, kvstore: not judged; the clock stepped back in this "
                         "pass (above).")
            continue
        parts = []
        if k.get("p999_us") is not None and l.get("p999_us"):
            x = k["p999_us"] / l["p999_us"]
            parts.append(f"p99.9 {x:.2f}x LevelDB's ("
                         + ("met" if x <= 1 else f"missed by {(x - 1) * 100:.0f}%") + ")")
        if k.get("max_us") is not None:
            parts.append(f"longest write {k['max_us'] / 1000:,.1f} ms ("
                         + ("met" if k["max_us"] < LATENCY_MAX_TARGET_US else "missed") + ")")
        if parts:
            lines.append(f"- `{workload}`, kvstore: " + "; ".join(parts) + ".")
    if lines:
        lines = ["Issue 16's targets (p99.9 no higher than LevelDB's, the longest single write "
                 "under 50 ms), this run:\n"] + lines + [""]
    return lines


def slow_spots_table(engines, results, figure="phase_ms", what="time", cell="{:,.1f}"):
    """Each slow-spot phase's figure (its wall time in ms by default) per engine, and kvstore's
    over LevelDB's."""
    lines = table_head(engines, f"kvstore / LevelDB {what}", f"kvstore / RocksDB {what} \\*")
    lines[0] = lines[0].replace("| workload |", "| phase |", 1)
    for workload, description in SLOW_SPOTS:
        values = {e: (results.get(e, {}).get(workload) or {}).get(figure) for e in engines}
        if not any(v is not None for v in values.values()):
            continue
        row = [f"{description} (`{workload}`)"]
        row += [cell.format(values[e]) if values[e] is not None else "n/a" for e in engines]
        row += ratio_cells(engines, values)
        lines.append("| " + " | ".join(row) + " |")
    return lines


def gp(text):
    """text as a single-quoted gnuplot string (a quote inside is doubled)."""
    return "'" + text.replace("'", "''") + "'"


def gnuplot_panels(out_dir, raw_dir, name, title, panels, size="1500,650"):
    """Draws <out_dir>/<name>.png: side by side, one panel of grouped bars per entry of panels, a
    dict with "title", "ylabel", "categories" (the groups along x), "series" (a list of (label,
    color, values), a value per category, None for none) and optionally "log" (log-scale y).
    Writes the data and script into raw_dir; returns the PNG's path, or None."""
    gnuplot = shutil.which("gnuplot")
    if gnuplot is None:
        log(f"gnuplot not found (apt-get install gnuplot-nox); no {name}.png")
        return None
    png_path = os.path.join(out_dir, f"{name}.png")
    script = [f"set terminal pngcairo size {size} font 'sans,11' noenhanced",
              f"set output '{png_path}'",
              "set datafile missing '-'",
              "set style data histograms",
              "set style histogram clustered gap 1",
              "set style fill solid 0.9 border rgb '#333333'",
              "set boxwidth 0.9",
              "set grid ytics mytics lc rgb '#dddddd'",
              "set xtics nomirror",
              "set ytics nomirror",
              "set key outside bottom center horizontal",
              f"set multiplot layout 1,{len(panels)} title {gp(title)} font 'sans,13'"]
    for index, panel in enumerate(panels):
        data_path = os.path.join(raw_dir, f"{name}_{index + 1}.dat")
        with open(data_path, "w") as f:
            f.write("# category " + " ".join(label.replace(" ", "_")
                                             for label, _, _ in panel["series"]) + "\n")
            for i, category in enumerate(panel["categories"]):
                cells = [f"{values[i]:.6g}" if values[i] is not None else "-"
                         for _, _, values in panel["series"]]
                f.write(f"\"{category}\" " + " ".join(cells) + "\n")
        values = [v for _, _, vs in panel["series"] for v in vs if v]
        if panel.get("log"):
            # From the power of ten below the smallest bar, so that every bar shows.
            floor = 10 ** math.floor(math.log10(max(min(values, default=1), 1e-9)))
            script += ["set logscale y 10", f"set yrange [{floor:g}:*]"]
        else:
            script += ["unset logscale y", "set yrange [0:*]"]
        script += [f"set title {gp(panel['title'])}", f"set ylabel {gp(panel['ylabel'])}",
                   "set format y '%g'"]
        plots = []
        for i, (label, color, _) in enumerate(panel["series"]):
            source = f"'{data_path}'" if i == 0 else "''"
            xtic = ":xtic(1)" if i == 0 else ""
            plots.append(f"{source} using {i + 2}{xtic} title {gp(label)} lc rgb '{color}'")
        script.append("plot " + ", ".join(plots))
    script.append("unset multiplot")
    script_path = os.path.join(raw_dir, f"{name}.gp")
    with open(script_path, "w") as f:
        f.write("\n".join(script) + "\n")
    result = subprocess.run([gnuplot, script_path], capture_output=True, text=True)
    if result.returncode != 0:
        log(f"gnuplot failed on {script_path}: {result.stderr.strip()}")
        return None
    return png_path


def engine_series_title(engine):
    return ENGINE_TITLES.get(engine, engine) + (" (Debian debug-assert build)"
                                                if engine == "rocksdb" else "")


def draw_latency_chart(out_dir, raw_dir, engines, results, config):
    """latency.png: p50/p99/p99.9/max per engine, a panel per write workload, log scale."""
    panels = []
    for workload in LATENCY_WORKLOADS:
        series = []
        for e in engines:
            r = results.get(e, {}).get(workload) or {}
            values = [r.get(key) for _, key in LATENCY_COUNTERS]
            if r.get("clock_steps_back"):  # Untrusted (see clock_steps_back_lines): not drawn.
                continue
            if any(v is not None for v in values):
                series.append((engine_series_title(e), ENGINE_COLORS.get(e, "#777777"), values))
        if series:
            panels.append({"title": f"{workload}", "log": True,
                           "ylabel": "µs per write (log scale, lower is better)",
                           "categories": [name for name, _ in LATENCY_COUNTERS],
                           "series": series})
    if not panels:
        return None
    num, key_size, value_size = config
    return gnuplot_panels(out_dir, raw_dir, "latency",
                          f"Per-write latency: {num:,} keys, {key_size}-byte keys, "
                          f"{value_size}-byte values", panels)


def table_rows(text, columns):
    """The data rows of the Markdown tables in a benchmark's output: cells of every `| ... |` line
    with `columns` cells that is neither a header (no digit in its last cell) nor a rule."""
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if not (line.startswith("|") and line.endswith("|")):
            continue
        cells = [c.strip() for c in line[1:-1].split("|")]
        if len(cells) != columns or set(cells[-1]) <= set("-:") or \
                not any(ch.isdigit() for ch in cells[-1]):
            continue
        rows.append(cells)
    return rows


def run_tool(what, command, failures, timeout):
    """Runs a side benchmark (after a sync), echoing its output; returns its stdout, or None (with
    the reason appended to failures)."""
    settle()
    log("running " + " ".join(command))
    started = datetime.datetime.now()
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=timeout or None)
    except subprocess.TimeoutExpired as e:
        failures.append(f"{what} was stopped after {timeout} s (a hang?); its figures are "
                        "missing or partial")
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        return out or None
    except OSError as e:
        failures.append(f"{what} could not start: {e}")
        return None
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    log(f"{what}: exit {run.returncode} after {(datetime.datetime.now() - started).seconds} s")
    if run.returncode != 0:
        failures.append(f"{what} exited with {run.returncode}"
                        + (f" ({run.stderr.strip().splitlines()[-1]})" if run.stderr.strip()
                           else ""))
    return run.stdout


def run_tool_in_scratch(what, make_command, failures, timeout):
    """run_tool for a side benchmark that writes stores: make_command(scratch) gets a fresh
    directory for them (the tool's --dir), removed afterwards whatever happens."""
    scratch = tempfile.mkdtemp(prefix="kvstore-report.")
    try:
        return run_tool(what, make_command(scratch), failures, timeout)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


CODEC_TITLES = {"none": "none", "snappy": "Snappy", "lz4": "LZ4", "zstd": "Zstd (3)"}
# Each kvstore codec against the peer that has it, as issue 16 sets the targets: size on disk no
# larger than the peer's with the same codec; fillrandom and readrandom >= 2x LevelDB with Snappy.
COMPRESSION_PEERS = [("none", "leveldb"), ("snappy", "leveldb"), ("lz4", "rocksdb"),
                     ("zstd", "rocksdb")]


def rounds_of(args, what, run_once):
    """Calls run_once(suffix) --rounds times (suffix names the round's raw file) and returns the
    results that are not None."""
    results = []
    for index in range(max(1, args.rounds)):
        suffix = f"_round{index + 1}" if args.rounds > 1 else ""
        if args.rounds > 1:
            log(f"{what}: round {index + 1} of {args.rounds}")
        result = run_once(suffix)
        if result is not None:
            results.append(result)
    return results


def run_compression(args, raw_dir, failures):
    """Runs //benchmarks:compression --rounds times; returns ({(engine, codec): {"fill", "mb",
    "read"}} with the median of each figure, its heading line, the rounds that gave results),
    or None."""
    runs = rounds_of(args, "compression",
                     lambda suffix: run_compression_once(args, raw_dir, suffix, failures))
    if not runs:
        return None
    rows = {}
    for config in dict.fromkeys(c for r, _ in runs for c in r):
        rows[config] = {key: median([r[config][key] for r, _ in runs if config in r])
                        for key in ("fill", "mb", "read")}
    return rows, runs[0][1], len(runs)


def run_compression_once(args, raw_dir, suffix, failures):
    """One run of //benchmarks:compression: ({(engine, codec): figures}, its heading) or None."""
    out = run_tool_in_scratch(
        "compression",
        lambda scratch: [args.compression, f"--num={args.compression_num}",
                         f"--reads={args.compression_reads or args.compression_num}",
                         f"--compression_ratio={args.compression_ratio}", f"--dir={scratch}"],
        failures, args.timeout)
    if out is None:
        return None
    with open(os.path.join(raw_dir, f"compression{suffix}.md"), "w") as f:
        f.write(out)
    rows = {}
    for engine, codec, fill, mb, read in table_rows(out, 5):
        try:
            rows[(engine, codec)] = {"fill": float(fill), "mb": float(mb), "read": float(read)}
        except ValueError:
            failures.append(f"compression: unreadable row {engine} {codec}")
    heading = next((line for line in out.splitlines() if line.startswith("Compression:")), "")
    if not rows:
        failures.append("compression printed no results")
        return None
    return rows, heading


def compression_section(out_dir, raw_dir, compression, args):
    """The report's compression section and its chart (None if not drawn)."""
    rows, heading, runs = compression
    md = ["## Compression (`//benchmarks:compression`)\n"]
    md.append(f"`{os.path.basename(args.compression)} --num={args.compression_num} "
              f"--reads={args.compression_reads or args.compression_num} "
              f"--compression_ratio={args.compression_ratio}`, in this run: "
              + (heading[len("Compression:"):].strip() if heading else "")
              + ". One engine after another in one process on the same data; per engine and "
              "codec the random fill (ops/s), the size of its directory once fully compacted "
              "(so it is the data compressed and nothing else), and random reads of present "
              "keys after reopening. 4 KiB blocks and 10-bit Bloom filters everywhere; "
              "each engine's default block cache (8 MiB)."
              + (f" Every figure is the median of {runs} runs." if runs > 1 else "") + "\n")
    md.append("| engine | codec | fillrandom ops/s | size on disk, compacted (MB) | "
              "readrandom ops/s |")
    md.append("|---|---|---:|---:|---:|")
    for (engine, codec), r in rows.items():
        md.append(f"| {engine_title(engine)} | {CODEC_TITLES.get(codec, codec)} | "
                  f"{human(r['fill'])} | {r['mb']:.2f} | {human(r['read'])} |")
    md.append("")
    md.append("kvstore against the peer with the same codec (same run). Size: kvstore's over the "
              "peer's, lower is better; speeds: kvstore's over the peer's, higher is better. "
              "Issue 16's targets: size no larger than the peer's (<= 1.00x) for every codec, "
              "and fillrandom and readrandom >= 2x LevelDB with Snappy.\n")
    md.append("| codec | peer | size kvstore / peer | fillrandom kvstore / peer | "
              "readrandom kvstore / peer | targets |")
    md.append("|---|---|---:|---:|---:|---|")
    for codec, peer in COMPRESSION_PEERS:
        k, p = rows.get(("kvstore", codec)), rows.get((peer, codec))
        if not k or not p:
            continue
        verdicts = []
        if codec != "none":
            verdicts.append("size met" if k["mb"] <= p["mb"] else
                            f"size missed by {(k['mb'] / p['mb'] - 1) * 100:.1f}%")
        if codec == "snappy":
            for key, what in (("fill", "fill"), ("read", "read")):
                x = k[key] / p[key] if p[key] else 0
                verdicts.append(f"{what} met" if x >= 2 else f"{what} missed ({x:.3f}x of 2x)")
        md.append(f"| {CODEC_TITLES.get(codec, codec)} | {engine_title(peer)} | "
                  f"{k['mb'] / p['mb']:.3f}x | {ratio(k['fill'], p['fill'])} | "
                  f"{ratio(k['read'], p['read'])} | {'; '.join(verdicts) or '(no target)'} |")
    md.append("")
    codecs = [c for c in CODEC_TITLES if any(c == codec for _, codec in rows)]
    engines = [e for e in ENGINE_TITLES if any(e == engine for engine, _ in rows)]

    def series(key, unit=1):
        values = {e: [(rows.get((e, c)) or {}).get(key) for c in codecs] for e in engines}
        return [(engine_series_title(e), ENGINE_COLORS.get(e, "#777777"),
                 [v / unit if v is not None else None for v in values[e]]) for e in engines]

    categories = [CODEC_TITLES.get(c, c) for c in codecs]
    chart = gnuplot_panels(
        out_dir, raw_dir, "compression",
        f"Compression: {args.compression_num:,} keys, values compressing to about "
        f"{args.compression_ratio}",
        [{"title": "size on disk, compacted", "ylabel": "MB (lower is better)",
          "categories": categories, "series": series("mb")},
         {"title": "fillrandom", "ylabel": "thousand ops/s (higher is better)",
          "categories": categories, "series": series("fill", 1000)},
         {"title": "readrandom", "ylabel": "thousand ops/s (higher is better)",
          "categories": categories, "series": series("read", 1000)}], size="1650,650")
    if chart:
        md.append(f"![size on disk and ops/s per codec and engine]({os.path.basename(chart)})\n")
    if "rocksdb" in engines:
        md.append("\\* Debian's RocksDB build keeps its assertions on; see Setup.\n")
    return md, chart


def run_memory(args, raw_dir, failures):
    """Runs //benchmarks:peak_memory --rounds times; returns ([(keys, "k/v", engine, peak MiB,
    anon MiB)] in its order, medians over the rounds; the rounds that gave results), or None."""
    runs = rounds_of(args, "peak_memory",
                     lambda suffix: run_memory_once(args, raw_dir, suffix, failures))
    if not runs:
        return None
    rows = []
    for config in dict.fromkeys(row[:3] for run in runs for row in run):
        found = [row for run in runs for row in run if row[:3] == config]
        rows.append(config + (median([r[3] for r in found]), median([r[4] for r in found])))
    return rows, len(runs)


def run_memory_once(args, raw_dir, suffix, failures):
    """One run of //benchmarks:peak_memory: its rows, or None."""
    out = run_tool_in_scratch(
        "peak_memory",
        lambda scratch: [args.peak_memory, f"--scale={args.memory_scale}",
                         f"--synced={args.memory_synced}", f"--dir={scratch}"],
        failures, args.timeout)
    if out is None:
        return None
    with open(os.path.join(raw_dir, f"peak_memory{suffix}.md"), "w") as f:
        f.write(out)
    rows = []
    for keys, shape, engine, peak, anon in table_rows(out, 5):
        try:
            rows.append((int(keys), shape, engine, float(peak), float(anon)))
        except ValueError:
            failures.append(f"peak_memory: unreadable row {keys} {shape} {engine}")
    if not rows:
        failures.append("peak_memory printed no results")
        return None
    return rows


def memory_section(out_dir, raw_dir, peak_memory, args):
    """The report's section on issue 16's peak-memory workload and its chart."""
    rows, runs = peak_memory
    md = ["## Peak memory on a mixed workload (`//benchmarks:peak_memory`)\n"]
    md.append(f"`{os.path.basename(args.peak_memory)} --scale={args.memory_scale} "
              f"--synced={args.memory_synced}`: issue 16's workload, each engine and record shape "
              "in a process of its own (a process's peak never goes down). In one process: fill "
              "N keys in key order into a first store and close it; then in a second store fill "
              "N in random order, overwrite all N, read N present and N missing keys, scan "
              f"everything, delete 10%, and make {args.memory_synced:,} synced Sets. Default "
              "options, 10-bit Bloom filters, no compression. Peak RSS is VmHWM (kvstore and "
              "LevelDB map their files, so the file pages they touch count); anonymous memory is "
              "RssAnon at the end, before the last close (heap and stacks, no mapped files). "
              + (f"Shapes scaled by {args.memory_scale} from issue 16's 1,000,000 and 500,000 "
                 "keys. " if args.memory_scale != 1.0 else "")
              + (f"Every figure is the median of {runs} runs. " if runs > 1 else "") + "\n")
    md.append("| keys | key/value bytes | engine | peak RSS (MiB) | anonymous before close (MiB) |")
    md.append("|---:|---|---|---:|---:|")
    for keys, shape, engine, peak, anon in rows:
        md.append(f"| {keys:,} | {shape} | {engine_title(engine)} | {peak:.1f} | {anon:.1f} |")
    md.append("")
    shapes = list(dict.fromkeys((keys, shape) for keys, shape, _, _, _ in rows))
    by = {(keys, shape, engine): (peak, anon) for keys, shape, engine, peak, anon in rows}
    if any((k, s, "kvstore") in by and (k, s, "leveldb") in by for k, s in shapes):
        md.append("kvstore over LevelDB, same run (lower is better; issue 16's target: peak RSS "
                  "<= 1.00x at both shapes, and at 10M keys, which is the Memory section's peak "
                  "RSS when the report runs with --num=10000000):\n")
        md.append("| keys | key/value bytes | peak RSS kvstore / LevelDB | "
                  "anonymous kvstore / LevelDB |")
        md.append("|---:|---|---:|---:|")
        for keys, shape in shapes:
            k, l = by.get((keys, shape, "kvstore")), by.get((keys, shape, "leveldb"))
            if k and l:
                md.append(f"| {keys:,} | {shape} | {ratio(k[0], l[0])} | {ratio(k[1], l[1])} |")
        md.append("")
    engines = [e for e in ENGINE_TITLES if any(e == r[2] for r in rows)]
    categories = [f"{keys:,} keys, {shape} B" for keys, shape in shapes]

    def series(column):
        return [(engine_series_title(e), ENGINE_COLORS.get(e, "#777777"),
                 [(by.get((k, s, e)) or (None, None))[column] for k, s in shapes])
                for e in engines]

    chart = gnuplot_panels(
        out_dir, raw_dir, "memory", "Peak memory, issue 16's mixed workload, one process each",
        [{"title": "peak RSS (VmHWM)", "ylabel": "MiB (lower is better)",
          "categories": categories, "series": series(0)},
         {"title": "anonymous memory before close (RssAnon)", "ylabel": "MiB (lower is better)",
          "categories": categories, "series": series(1)}], size="1300,600")
    if chart:
        md.append(f"![peak RSS and anonymous memory per record shape and engine]"
                  f"({os.path.basename(chart)})\n")
    return md, chart


LARGE_FILL_FILES = ["disk_usage.md", "disk_usage.dat", "disk_usage.png"]


def run_large_fill(args, out_dir, failures):
    """Runs //benchmarks:large_fill with --out=out_dir; returns (its disk_usage.md, the PNG's
    path or None), or None if it did not run or wrote nothing."""
    if not args.large_fill or not os.path.exists(args.large_fill):
        log("large_fill is not in this build's runfiles (add :large_fill to the report's data); "
            "skipping the bigger-than-memory section")
        return "missing"
    for file in LARGE_FILL_FILES:  # Nothing stale from an earlier run may be reported.
        if os.path.exists(os.path.join(out_dir, file)):
            os.remove(os.path.join(out_dir, file))
    extra = []
    if args.large_fill_reads is not None:
        extra.append(f"--reads={args.large_fill_reads}")
    if args.large_fill_engines:
        extra.append(f"--engines={args.large_fill_engines}")
    run_tool_in_scratch(
        "large_fill",
        lambda scratch: [args.large_fill, f"--num={args.large_fill_num}", f"--dir={scratch}",
                         f"--out={out_dir}"] + extra,
        failures, args.large_fill_timeout)
    md_path = os.path.join(out_dir, "disk_usage.md")
    if not os.path.exists(md_path):
        failures.append("large_fill wrote no disk_usage.md")
        return None
    with open(md_path) as f:
        text = f.read()
    png_path = os.path.join(out_dir, "disk_usage.png")
    return text, png_path if os.path.exists(png_path) else None


def large_fill_section(large_fill, args):
    """The bigger-than-memory section: large_fill's own Markdown, its headings moved below ours."""
    md = [f"## Bigger than memory (`//benchmarks:large_fill`, {args.large_fill_num:,} keys)\n"]
    if large_fill == "missing":
        md.append(f"Not run: `--large_fill_num={args.large_fill_num}` was asked for, but this "
                  "build's runfiles hold no large_fill binary (`:large_fill` is not in the "
                  "report's data in benchmarks/BUILD.bazel).\n")
        return md
    text, png = large_fill
    md.append(f"`{os.path.basename(args.large_fill)} --num={args.large_fill_num}"
              + (f" --reads={args.large_fill_reads}" if args.large_fill_reads is not None else "")
              + (f" --engines={args.large_fill_engines}" if args.large_fill_engines else "")
              + "`, its output as it wrote it (`disk_usage.md`, `disk_usage.dat`):\n")
    for line in text.rstrip("\n").splitlines():
        md.append("##" + line if line.startswith("#") else line)
    md.append("")
    if png and "disk_usage.png" not in text:
        md.append("![disk usage over time during the fill](disk_usage.png)\n")
    return md


def bullet_list(heading, items):
    """Lines of a heading and a bullet per item; none if there are no items."""
    return [heading + "\n"] + [f"- {item}" for item in items] + [""] if items else []


def larger_records_section(out_dir, raw_dir, engines, large, config, machine):
    """The report's section on the larger-record pass and its chart (None if not drawn).
    large: (results, memory, config) of that pass; config: that of the main pass."""
    results, memory, large_config = large
    num, key_size, value_size = large_config
    md = [f"## Larger records ({key_size}-byte keys, {value_size}-byte values, {num:,} keys)\n"]
    md.append(f"The same suite run again, each engine in its own process as above, with "
              f"{value_size}-byte values and {num:,} keys: about "
              f"{num * (key_size + value_size) / 2**20:.0f} MiB of keys and values, against "
              f"{config[0] * (config[1] + config[2]) / 2**20:.0f} MiB in the main pass. "
              "Settings and method as in Setup.\n")
    table, errors = throughput_table(engines, results)
    md.extend(table)
    chart = draw_chart(out_dir, raw_dir, engines, results, chart_title(large_config, machine),
                       name="ops_per_sec_large")
    if chart:
        md.append(f"![ops/s per workload and engine, larger records]({os.path.basename(chart)})\n")
    md.append("Peak RSS of each engine's process in this pass (VmHWM, as in Memory):\n")
    md.extend(memory_table(engines, memory, MEMORY_COLUMNS[:2]))
    md.append("")
    md.extend(bullet_list("Failures:", errors))
    return md, chart


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--db_bench", required=True, help="path of the db_bench binary")
    parser.add_argument("--seed_workload", help="path of the seed_workload binary")
    parser.add_argument("--out", default=None,
                        help="output directory (default: benchmarks/results in the workspace)")
    parser.add_argument("--num", type=int, default=1000000, help="keys per store (db_bench --num)")
    parser.add_argument("--engines", default="",
                        help="comma-separated engines (default: every engine db_bench links)")
    parser.add_argument("--no_seed", action="store_true", help="skip the seed workload")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every engine this many times, interleaved, and report medians")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds one engine's run may take before it is stopped (0: none)")
    parser.add_argument("--large_value_size", type=int, default=LARGE_VALUE_SIZE,
                        help="bytes per value of the larger-record pass")
    parser.add_argument("--large_num", type=int, default=None,
                        help="keys of the larger-record pass (default: --num / 4)")
    parser.add_argument("--no_large", action="store_true", help="skip the larger-record pass")
    parser.add_argument("--compression", help="path of the compression binary")
    parser.add_argument("--no_compression", action="store_true",
                        help="skip the compression comparison")
    parser.add_argument("--compression_num", type=int, default=1000000,
                        help="keys of the compression comparison")
    parser.add_argument("--compression_reads", type=int, default=None,
                        help="random reads of the compression comparison (default: its keys)")
    parser.add_argument("--compression_ratio", type=float, default=0.5,
                        help="what the compression comparison's values compress to")
    parser.add_argument("--latency_num", type=int, default=10000000,
                        help="keys of a pass of its own for the write latency of fillrandom and "
                             "overwrite (issue 16 asks for 10M); 0: only the main pass's, at --num")
    parser.add_argument("--peak_memory", help="path of the peak_memory binary")
    parser.add_argument("--no_memory", action="store_true",
                        help="skip the peak-memory workload")
    parser.add_argument("--memory_scale", type=float, default=1.0,
                        help="scale of the peak-memory workload's 1,000,000 and 500,000 keys")
    parser.add_argument("--memory_synced", type=int, default=10000,
                        help="synced Sets at the end of the peak-memory workload")
    parser.add_argument("--large_fill", help="path of the large_fill binary, if built")
    parser.add_argument("--large_fill_num", type=int, default=0,
                        help="keys of the bigger-than-memory fill (issue 16: 50000000, about "
                        "15 minutes); 0 skips it")
    parser.add_argument("--large_fill_reads", type=int, default=None,
                        help="random reads after the bigger-than-memory fill (default: its own)")
    parser.add_argument("--large_fill_engines", default="",
                        help="engines of the bigger-than-memory fill (default: its own)")
    parser.add_argument("--large_fill_timeout", type=int, default=3 * 3600,
                        help="seconds the bigger-than-memory fill may take (0: none)")
    args, db_bench_flags = parser.parse_known_args()

    out_dir = user_path(args.out) if args.out else default_out_dir()
    raw_dir = os.path.join(out_dir, "raw")
    os.makedirs(raw_dir, exist_ok=True)

    linked = run_output([args.db_bench, "--list_engines"]).split()
    engines = [e for e in args.engines.split(",") if e] or linked
    unknown = [e for e in engines if e not in linked]
    if unknown or not engines:
        log(f"unknown engine(s) {unknown}; db_bench links {linked}")
        return 2

    machine = machine_info()
    failures = []
    # The seed workload first: it is short, and the passes' gigabytes of files would otherwise
    # leave the machine busy (writeback, freeing extents) while it runs.
    seed = None
    if args.seed_workload and not args.no_seed:
        seed = run_seed(args, raw_dir, failures)
    results, memory, contexts = run_pass(args, engines, raw_dir, "db_bench",
                                         [f"--num={args.num}"], db_bench_flags, failures)
    large = None
    if not args.no_large:
        large_num = args.large_num if args.large_num is not None else max(1, args.num // 4)
        large_results, large_memory, large_contexts = run_pass(
            args, engines, raw_dir, "db_bench_large",
            [f"--num={large_num}", f"--key_size={LARGE_KEY_SIZE}",
             f"--value_size={args.large_value_size}", "--slow_spots=false"], db_bench_flags,
            failures)
        large_config = pass_config(large_contexts, large_num, LARGE_KEY_SIZE,
                                   args.large_value_size)
        large = (large_results, large_memory, large_config)
    latency = None
    if args.latency_num > 0 and args.latency_num != args.num:
        latency_results, _, latency_contexts = run_pass(
            args, engines, raw_dir, "db_bench_latency",
            [f"--num={args.latency_num}", "--benchmark_filter=^(fillrandom|overwrite)/",
             "--slow_spots=false"], db_bench_flags, failures)
        latency = (latency_results, pass_config(latency_contexts, args.latency_num, 16, 100))
    compression = None
    if args.compression and not args.no_compression:
        compression = run_compression(args, raw_dir, failures)
    peak_memory = None
    if args.peak_memory and not args.no_memory:
        peak_memory = run_memory(args, raw_dir, failures)
    # Last: the longest by far, and its gigabytes of files would weigh on whatever came after.
    large_fill = None
    if args.large_fill_num > 0:
        large_fill = run_large_fill(args, out_dir, failures)

    config = pass_config(contexts, args.num, 16, 100)
    num, key_size, value_size = config
    chart = draw_chart(out_dir, raw_dir, engines, results, chart_title(config, machine))
    charts = [chart] if chart else []

    md = []
    md.append("# kvstore benchmarks: kvstore, LevelDB and RocksDB side by side\n")
    flags_note = f" --rounds={args.rounds}" if args.rounds > 1 else ""
    if args.no_seed:
        flags_note += " --no_seed"
    if args.no_large:
        flags_note += " --no_large"
    else:
        if args.large_value_size != LARGE_VALUE_SIZE:
            flags_note += f" --large_value_size={args.large_value_size}"
        if args.large_num is not None:
            flags_note += f" --large_num={args.large_num}"
    flags_note += (" --no_compression" if args.no_compression or not args.compression else
                   "".join(f" --{flag}={getattr(args, flag)}" for flag, default in
                           (("compression_num", 1000000), ("compression_reads", None),
                            ("compression_ratio", 0.5)) if getattr(args, flag) != default))
    flags_note += (" --no_memory" if args.no_memory or not args.peak_memory else
                   "".join(f" --{flag}={getattr(args, flag)}" for flag, default in
                           (("memory_scale", 1.0), ("memory_synced", 10000))
                           if getattr(args, flag) != default))
    if args.latency_num != 10000000:
        flags_note += f" --latency_num={args.latency_num}"
    if args.large_fill_num > 0:
        flags_note += f" --large_fill_num={args.large_fill_num}"
        if args.large_fill_reads is not None:
            flags_note += f" --large_fill_reads={args.large_fill_reads}"
        if args.large_fill_engines:
            flags_note += f" --large_fill_engines={args.large_fill_engines}"
    # Bazel's output directory names the compilation mode (bazel-out/k8-opt/bin/...).
    mode = re.search(r"bazel-out/[^/]*-(opt|fastbuild|dbg)/", os.path.realpath(args.db_bench))
    mode = mode.group(1) if mode else None
    md.append(f"Generated by `tools/bazel run{' -c ' + mode if mode and mode != 'fastbuild' else ''}"
              f" //benchmarks:report -- --num={args.num}{flags_note}` on "
              f"{machine['date']}" + (f", kvstore at {machine['commit']}" if machine["commit"] else "")
              + ".\n")
    md.append("## Machine\n")
    md.append(f"- CPU: {machine['cpu']}, {machine['nproc']} logical CPUs (`nproc`)")
    md.append(f"- Memory: {machine['memory_gib']:.1f} GiB; kernel {machine['kernel']}")
    md.append("- Load average (1, 5, 15 min) when the report started: "
              + ", ".join(f"{x:.2f}" for x in machine["loadavg"])
              + "; when it ended: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())
              + " (other work on the machine skews every engine's figures alike only if it is "
              "steady)")
    v = machine["versions"]
    md.append(f"- Libraries (Debian): LevelDB {v['libleveldb-dev']}, RocksDB {v['librocksdb-dev']}, "
              f"Google Benchmark {v['libbenchmark-dev']}, Abseil {v['libabsl-dev']}, g++ {v['g++']}; "
              + (f"kvstore built with `-c {mode}`" if mode else "compilation mode unknown")
              + (" (**not** optimized: these figures say nothing about speed)"
                 if mode and mode != "opt" else "") + "\n")

    md.append("## Setup\n")
    md.append(f"- {num:,} keys of {key_size} bytes, values of {value_size} bytes, from "
              "`//tools/datagen` (values: random printable bytes). Each engine runs in its own "
              "process (so peak RSS is its own); each workload opens its own store in a fresh "
              "directory.")
    md.append("- Same settings for every engine: 10 bits/key Bloom filters, **no compression**, "
              "writes without sync except fillsync, each engine's default write buffer (kvstore "
              "8 MiB memtable, LevelDB 4 MiB, RocksDB 64 MiB) and block cache (LevelDB and RocksDB "
              "8 MiB).")
    md.append("- Read workloads start from a copy of a store prepared once per engine: every key "
              "written in random order, then flushed and compacted (`Compact()`, "
              "`CompactRange(all)`), reopened and warmed (a Get in every table; the files are in "
              "the page cache).")
    if args.rounds > 1:
        md.append(f"- Each engine ran {args.rounds} times, the engines taking turns; every figure "
                  "is the median of those runs.")
    md.append("- Before every process (the seed workload first, then each engine's run) the "
              "report calls `sync`, so that no run pays for the writeback of an earlier one's "
              "files.")
    md.append("- Only the workload is timed (wall clock); keys and values are made in batches "
              "with the timer paused. Every Get's value is compared with the one written; a wrong "
              "or missing value fails the run instead of producing a number.")
    md.append("- Read paths are each engine's default: kvstore and LevelDB map their files "
              "(mmap) and LevelDB does not verify checksums on reads; RocksDB reads each block "
              "with `pread` and verifies its checksum. On this VM a `pread` costs microseconds, "
              "which weighs on RocksDB's random reads once the data outgrows its 8 MiB block "
              "cache.")
    md.append(f"- RocksDB: {ROCKSDB_NOTE}\n")

    if seed is not None:
        md.append("## Seed workload\n")
        md.append(f"{seed['keys']:,} keys: Set all, Get all, Delete all on a fresh store "
                  f"(`tools/bazel run //benchmarks:seed_workload`); median of {seed['runs']} runs. "
                  f"kvstore's target: under {seed['target_ms']:.0f} ms in total.\n")
        md.append("| engine | Set ops/s | Get ops/s | Delete ops/s | total ms |")
        md.append("|---|---:|---:|---:|---:|")
        for name, r in seed["engines"].items():
            mark = " \\*" if name == "rocksdb" else ""
            md.append(f"| {ENGINE_TITLES.get(name, name)}{mark} | {human(r['set_ops_per_s'])} | "
                      f"{human(r['get_ops_per_s'])} | {human(r['delete_ops_per_s'])} | "
                      f"{r['total_ms']:.1f} |")
        md.append("\n\\* Debian's RocksDB build keeps its assertions on; see Setup.\n")

    md.append("## Throughput (ops/s, higher is better)\n")
    table, errors = throughput_table(engines, results)
    md.extend(table)
    if chart:
        md.append(f"![ops/s per workload and engine]({os.path.basename(chart)})\n")

    md.append("## CPU time per operation (µs, lower is better)\n")
    md.append("CPU time of the whole process (every thread, so background flushes and "
              "compactions during the workload count) divided by the operations. It is less "
              "sensitive than ops/s to other work on the machine, but leaves out work an engine "
              "defers past the end of the workload (e.g. compaction finishing at close).\n")
    md.extend(table_head(engines, "LevelDB / kvstore", "RocksDB / kvstore \\*"))
    for workload, _ in WORKLOADS:
        cpu = {e: results.get(e, {}).get(workload, {}).get("cpu_us") for e in engines}
        if not any(cpu.values()):
            continue
        row = [f"`{workload}`"] + [f"{cpu[e]:.3g}" if cpu[e] else "n/a" for e in engines]
        row += ratio_cells(engines, cpu, kvstore_first=False)
        md.append("| " + " | ".join(row) + " |")
    md.append("")
    md.append("Workloads:\n")
    for workload, description in WORKLOADS:
        md.append(f"- `{workload}`: {description}.")
    md.append("")
    skipped = [c.get("kv_skipped", "") for c in contexts.values() if c.get("kv_skipped")]
    if skipped:
        md.append("Not run (the engine lacks the API; no stand-in number is reported): "
                  + "; ".join(skipped) + ".\n")
    md.extend(bullet_list("Failures:", errors))

    md.append("## Write latency (µs per write, lower is better)\n")
    md.append("Every Put of the random fill and of the overwrite timed on its own (wall clock, "
              "into a histogram of 16 buckets per power of two: a percentile is within 1/16 of "
              "the true one; max is exact). A write that waits for a flush or for compaction to "
              "catch up shows in p99.9 and max.\n")
    latency_results, latency_config = latency or (results, config)
    if latency:
        md.append(f"A pass of its own at {latency_config[0]:,} keys (fillrandom and overwrite "
                  "only):\n")
    md.extend(latency_table(engines, latency_results))
    md.append("")
    md.extend(clock_steps_back_lines(engines, latency_results))
    md.extend(latency_targets(engines, latency_results))
    if latency:
        md.append(f"The main pass, at {num:,} keys:\n")
        md.extend(latency_table(engines, results))
        md.append("")
        md.extend(clock_steps_back_lines(engines, results))
    latency_chart = draw_latency_chart(out_dir, raw_dir, engines, latency_results, latency_config)
    if latency_chart:
        md.append(f"![write latency percentiles per engine, log scale]"
                  f"({os.path.basename(latency_chart)})\n")
        charts.append(latency_chart)

    slow = slow_spots_table(engines, results)
    if len(slow) > 2:
        md.append("## Slow spots (ms per phase, lower is better)\n")
        md.append("Phases of an outside workload, each on a store just bulk-loaded with "
                  "min(--num, 1,000,000) entries of 24-byte keys and 150-byte values (random "
                  "order, unsynced batches of 1,000, no manual compaction; the phase starts once "
                  "the engine's background work on the load is done), kept as db_bench "
                  "workloads (`slow_*`). Ratios are kvstore's time over the other engine's: "
                  "below 1 kvstore is faster.\n")
        md.extend(slow)
        md.append("")
        faults = slow_spots_table(engines, results, "page_faults", "faults", "{:,.0f}")
        if len(faults) > 2:
            md.append("Page faults the process took in each phase (the engine's and the harness's "
                      "own allocations alike). On this virtual machine a fault into a fresh page "
                      "costs microseconds, so a process that still holds freed, resident memory "
                      "runs the same phase faster.\n")
            md.extend(faults)
            md.append("")

    md.append("## Memory\n")
    md.extend(memory_table(engines, memory))
    sources = [f"- {ENGINE_TITLES.get(e, e)}: {memory[e]['label']}." for e in engines
               if (memory.get(e) or {}).get("label")]
    md.append("")
    md.append("- Peak RSS is the process's VmHWM after all of that engine's workloads (one process "
              "per engine); \"harness\" is what the process held before opening any store (the "
              "key order and the benchmark library). kvstore and LevelDB read their files "
              "through mmap, so the file pages they touch count as their RSS; RocksDB reads with "
              "pread into its block cache, and the page cache behind that does not count.")
    md.append("- Index + filter: the memory an open store keeps per key to find keys, as each "
              "engine reports it, or for LevelDB (which reports none) the index and filter blocks "
              "of its table files, read from their footers.")
    md.append("- Heap held after open + warm-up: malloc'd bytes (all arenas) after opening a "
              "settled store and reading one key per table, minus those before; it includes "
              "block-cache contents and empty memtables (RocksDB's 64 MiB write buffer reserves "
              "its first arena block), so it is an upper bound on index + filter.")
    md.append("- Sources:")
    md.extend("  " + s for s in sources)
    md.append("")

    if large is not None:
        lines, large_chart = larger_records_section(out_dir, raw_dir, engines, large, config,
                                                    machine)
        md.extend(lines)
        charts += [large_chart] if large_chart else []

    if compression is not None:
        lines, compression_chart = compression_section(out_dir, raw_dir, compression, args)
        md.extend(lines)
        charts += [compression_chart] if compression_chart else []
    if peak_memory is not None:
        lines, memory_chart = memory_section(out_dir, raw_dir, peak_memory, args)
        md.extend(lines)
        charts += [memory_chart] if memory_chart else []
    if large_fill is not None:
        md.extend(large_fill_section(large_fill, args))
        charts += [large_fill[1]] if large_fill != "missing" and large_fill[1] else []

    md.extend(bullet_list("## Run problems", failures))

    md.append("Raw results: `raw/db_bench_<engine>.json` (Google Benchmark JSON), "
              + ("`raw/db_bench_large_<engine>.json`, " if large is not None else "") +
              "`raw/seed_workload.json`, "
              + ("`raw/compression[_round<N>].md`, " if compression is not None else "")
              + ("`raw/peak_memory[_round<N>].md`, " if peak_memory is not None else "")
              + "and each chart's data and gnuplot script.\n")

    report_path = os.path.join(out_dir, "report.md")
    with open(report_path, "w") as f:
        f.write("\n".join(md))
    log("wrote " + ", ".join([report_path] + charts))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
