#!/usr/bin/env bash
# Checks MODULE.bazel with Bazel 7.7.1 in bzlmod mode, offline, on a Debian 12 machine.
#
# Debian 12 only ships Bazel 4.2.3; Debian unstable (sid) ships Bazel 7.7.1, which needs a newer
# glibc, so it runs in a sid chroot (see shared/notes/bazel-modern.md). The chroot is made once
# with debootstrap (1 to 3 minutes and 2.2 GB here) under $KVSTORE_SID_CHROOT and reused. The
# modules MODULE.bazel names (abseil-cpp, xxhash, googletest, google_benchmark) come from the
# Bazel Central Registry, which an offline build cannot reach, so each is replaced with
# --override_module by a stand-in that exports the same targets (e.g. @abseil-cpp//absl/status)
# and links the chroot's Debian libraries. With the network cut off (unshare -n), it then builds
# //kvstore, runs a few tests and the README examples, and builds and tests a downstream module
# that depends on kvstore through bazel_dep + local_path_override.
#
# Exits 0 with "skipped: <why>" when it cannot run here (not root, no debootstrap, no mirror);
# exits non-zero only when the check ran and failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
chroot_dir=${KVSTORE_SID_CHROOT:-/var/tmp/kvstore-sid-chroot}
# Everything the check needs inside the chroot: Bazel 7 (its JDK comes with it), a compiler and
# the libraries the stand-in modules wrap.
readonly CHROOT_PACKAGES=(bazel-bootstrap g++ libabsl-dev libxxhash-dev libgtest-dev libgmock-dev
                          libbenchmark-dev libsnappy-dev liblz4-dev libzstd-dev)
readonly TESTS=(//testing:status_test //testing:serializer_test //testing:filter_test
                //testing:kvstore_test //testing:database_test //examples:quickstart_test
                //examples:tables_test)
readonly APT=(apt-get -o Acquire::Check-Valid-Until=false -qq)

say() { echo "check_bzlmod: $*"; }
step() { echo "=== check_bzlmod: $* ($(date +%T))"; }
skip() { say "skipped: $*"; exit 0; }
fail() { say "FAILED: $*" >&2; exit 1; }

((EUID == 0)) || skip "needs root (debootstrap, chroot, mount, unshare)"
[[ $(uname -m) == x86_64 ]] || skip "the stand-in modules assume x86_64 Debian library paths"
for tool in chroot unshare mount flock; do
  command -v "$tool" >/dev/null || skip "$tool is not installed"
done
unshare -n true 2>/dev/null || skip "cannot make a network namespace (unshare -n) here"

# One check at a time: they share the chroot, its /proc mount and Bazel's output base.
mkdir -p "$(dirname "$chroot_dir")"
exec 9>"$chroot_dir.lock"
flock 9

mirror() {
  # The machine's own Debian mirror (its sources are deb822 or one-line), else Debian's CDN.
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' |
        grep -E '/debian/?$' | head -1 || true)
  [[ -n "$uri" ]] || uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | awk '{print $2}' |
                          grep -E '/debian/?$' | head -1 || true)
  echo "${KVSTORE_SID_MIRROR:-${uri:-http://deb.debian.org/debian}}"
}

proc_mounted=
cleanup() {
  [[ -n "$proc_mounted" ]] && umount "$proc_mounted" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mount_proc() {
  # The JDK (its postinst and Bazel itself) needs /proc.
  # (A /proc already mounted there is a leftover of a killed run: the lock rules out a live one.)
  mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
  proc_mounted="$1/proc"
}

missing_chroot_packages() {
  local pkg status
  for pkg in "${CHROOT_PACKAGES[@]}"; do
    status=$(chroot "$1" dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || echo "$pkg"
  done
}

install_chroot_packages() {
  local dir=$1 missing
  mapfile -t missing < <(missing_chroot_packages "$dir")
  ((${#missing[@]} == 0)) && return 0
  say "installing in the chroot: ${missing[*]}"
  chroot "$dir" env DEBIAN_FRONTEND=noninteractive "${APT[@]}" update >/dev/null 2>&1 &&
    chroot "$dir" env DEBIAN_FRONTEND=noninteractive "${APT[@]}" install -y \
      --no-install-recommends "${missing[@]}" >"$chroot_dir.apt.log" 2>&1
}

step "Debian sid chroot with Bazel 7.7.1: $chroot_dir"
if [[ ! -x "$chroot_dir/usr/bin/bazel" ]]; then
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap (Debian package)"
    { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
          --no-install-recommends debootstrap; }; } >/dev/null 2>&1 ||
      skip "debootstrap is not installed and apt-get could not install it"
  fi
  free_kb=$(df -Pk "$(dirname "$chroot_dir")" | awk 'NR == 2 {print $4}')
  ((free_kb > 4 * 1024 * 1024)) || skip "less than 4 GB free under $(dirname "$chroot_dir")"
  partial=$chroot_dir.partial
  [[ -d "$partial/proc" ]] && umount "$partial/proc" 2>/dev/null || true
  rm -rf --one-file-system "$partial"
  start=$(date +%s)
  say "debootstrap --variant=minbase sid from $(mirror) (once; about 2.2 GB)"
  debootstrap --variant=minbase sid "$partial" "$(mirror)" >"$chroot_dir.debootstrap.log" 2>&1 ||
    { rm -rf --one-file-system "$partial"; skip "debootstrap of sid failed (no mirror reachable?): see $chroot_dir.debootstrap.log"; }
  mount_proc "$partial"
  install_chroot_packages "$partial" ||
    { cleanup; proc_mounted=; rm -rf --one-file-system "$partial"; skip "apt-get in the sid chroot failed: see $chroot_dir.apt.log"; }
  cleanup; proc_mounted=
  mv -T "$partial" "$chroot_dir"
  say "made the chroot in $(( $(date +%s) - start )) s"
fi
mount_proc "$chroot_dir"
install_chroot_packages "$chroot_dir" ||
  skip "the chroot lacks packages and apt-get could not install them: see $chroot_dir.apt.log"
# Debian's bootstrapped Bazel has no build label (`bazel version` says "not available").
bazel_version=$(chroot "$chroot_dir" dpkg-query -W -f='${Version}' bazel-bootstrap)
say "Bazel in the chroot: bazel-bootstrap $bazel_version"
[[ $bazel_version == 7.* ]] || fail "expected Bazel 7 in the chroot, got $bazel_version"

# --- the sources, the stand-in modules and the downstream module, fresh inside the chroot -----
work=/var/tmp/kvstore-bzlmod   # inside the chroot
host_work=$chroot_dir$work
rm -rf "$host_work"
mkdir -p "$host_work/kvstore" "$host_work/modules" "$host_work/downstream"
# The working tree as it is, without Bazel 4's convenience symlinks or git's data.
tar -C "$root" --exclude=./.git --exclude='./bazel-*' --exclude='./examples/downstream/bazel-*' \
  -cf - . | tar -C "$host_work/kvstore" -xf -

# module NAME: an empty module directory, for modules a build reaches but never uses.
module() {
  mkdir -p "$host_work/modules/$1"
  echo "module(name = \"$1\")" >"$host_work/modules/$1/MODULE.bazel"
  echo 'package(default_visibility = ["//visibility:public"])' >"$host_work/modules/$1/BUILD.bazel"
  overrides+=("--override_module=$1=$work/modules/$1")
}
# stand_in MODULE LABEL LINKOPTS: a cc_library LABEL (as written in the module, e.g.
# //absl/status or //absl/strings:str_format) that links LINKOPTS from the chroot's /usr/lib.
stand_in() {
  local dir=$host_work/modules/$1 label=$2 linkopts=$3 package name
  package=${label#//}; package=${package%%:*}
  if [[ $label == *:* ]]; then name=${label##*:}; else name=${package##*/}; fi
  mkdir -p "$dir/$package"
  [[ -f "$dir/$package/BUILD.bazel" ]] ||
    echo 'package(default_visibility = ["//visibility:public"])' >"$dir/$package/BUILD.bazel"
  printf 'cc_library(\n    name = "%s",\n    linkopts = %s,\n)\n' "$name" "$linkopts" \
    >>"$dir/$package/BUILD.bazel"
}

overrides=()
for name in apple_support buildozer protobuf zlib abseil-cpp xxhash googletest; do module "$name"; done
# Bazel rejects an override of a module outside the graph: google_benchmark is only a dev
# dependency of kvstore, so the downstream module's graph lacks it.
downstream_overrides=("${overrides[@]}")
module google_benchmark
# Abseil: the targets kvstore's bazel/extensions.bzl forwards to, each linking all of the
# chroot's Abseil (Debian splits it into one .so per component).
absl_libs=$(cd "$chroot_dir/usr/lib/x86_64-linux-gnu" && ls libabsl_*.so | sed -E 's/^lib(.*)\.so$/"-l\1"/' |
            paste -sd, -)
[[ -n "$absl_libs" ]] || fail "no libabsl_*.so in the chroot"
grep -oE '"@abseil-cpp//[^"]+"' "$root/bazel/extensions.bzl" | tr -d '"' | sed 's/^@abseil-cpp//' |
  while read -r label; do stand_in abseil-cpp "$label" "[$absl_libs]"; done
stand_in xxhash //:xxhash '["-lxxhash"]'
stand_in googletest //:gtest '["-lgmock", "-lgtest", "-lpthread"]'
stand_in googletest //:gtest_main '["-lgmock", "-lgtest_main", "-lgtest", "-lpthread"]'
stand_in google_benchmark //:benchmark '["-lbenchmark", "-lpthread"]'
stand_in google_benchmark //:benchmark_main '["-lbenchmark_main", "-lbenchmark", "-lpthread"]'
say "stand-in modules: abseil-cpp ($(grep -c '@abseil-cpp//' "$root/bazel/extensions.bzl") targets, each linking the chroot's $(echo "$absl_libs" | tr , '\n' | wc -l) libabsl_*.so), xxhash, googletest, google_benchmark (system libraries); empty: apple_support buildozer protobuf zlib"

# A user's module: depends on kvstore by bazel_dep and builds examples/downstream's program and
# test against @kvstore//kvstore (googletest is the user's own dev dependency).
cp "$root/examples/downstream/inventory.cc" "$root/examples/downstream/inventory_test.cc" \
  "$host_work/downstream/"
cat >"$host_work/downstream/MODULE.bazel" <<MODULE
module(name = "kvstore_bzlmod_downstream")

bazel_dep(name = "kvstore", version = "0.1.0")
local_path_override(module_name = "kvstore", path = "$work/kvstore")

bazel_dep(name = "googletest", version = "1.14.0", dev_dependency = True)
MODULE
cat >"$host_work/downstream/BUILD.bazel" <<'BUILD'
cc_binary(
    name = "inventory",
    srcs = ["inventory.cc"],
    deps = ["@kvstore//kvstore"],
)

cc_test(
    name = "inventory_test",
    srcs = ["inventory_test.cc"],
    deps = [
        "@kvstore//kvstore",
        "@googletest//:gtest_main",
    ],
)
BUILD
cp "$root/examples/downstream/.bazelrc" "$host_work/downstream/.bazelrc"

# --- Bazel 7.7.1, bzlmod only, no network ------------------------------------------------------
# --symlink_prefix=/ and --lockfile_mode=off: nothing written into the source trees.
flags=(--noenable_workspace --lockfile_mode=off --symlink_prefix=/ --color=no --curses=no
       --noshow_progress)
startup=(--batch --output_user_root=/var/cache/kvstore-bzlmod-bazel)
run_offline() {
  # $1: directory inside the chroot; the rest: a bazel command. The JDK 25 that runs Bazel 7
  # warns about deprecated JVM features on every start: those lines are dropped.
  local dir=$1; shift
  local arg shown=() stand_ins=()
  for arg in "$@"; do
    if [[ $arg == --override_module=* ]]; then
      arg=${arg#--override_module=}; stand_ins+=("${arg%%=*}")
    else
      shown+=("$arg")
    fi
  done
  echo "+ (cd $dir && bazel ${shown[*]} --override_module=<stand-in> for: ${stand_ins[*]})"
  unshare -n chroot "$chroot_dir" /bin/sh -c 'cd "$0" && exec bazel "$@"' \
    "$dir" "${startup[@]}" "$@" 2>&1 |
    grep -vE 'OpenJDK 64-Bit Server VM warning|sun\.misc\.Unsafe|java\.lang\.System|enable-native-access|Restricted methods will be blocked|Please consider reporting this'
  return "${PIPESTATUS[0]}"
}

step "bazel build //kvstore //tools/datagen (bzlmod, offline)"
run_offline "$work/kvstore" build "${flags[@]}" "${overrides[@]}" //kvstore //tools/datagen ||
  fail "bazel build"

step "bazel test ${TESTS[*]} (bzlmod, offline)"
# --nocache_test_results: the tests run every time (seconds), not a pass remembered from before.
run_offline "$work/kvstore" test "${flags[@]}" --nocache_test_results "${overrides[@]}" "${TESTS[@]}" ||
  fail "bazel test"

step "a downstream module: bazel_dep(name = \"kvstore\") + local_path_override"
run_offline "$work/downstream" test "${flags[@]}" --nocache_test_results "${downstream_overrides[@]}" \
  //:inventory //:inventory_test ||
  fail "downstream module"

step "passed: MODULE.bazel builds and tests with Bazel ${bazel_version%%+*} (bzlmod, offline, stand-in modules)"
