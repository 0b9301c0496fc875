#!/usr/bin/env bash
# Checks the CMake build from scratch, the way a CMake user meets it: configures and builds the
# repository with its tests, runs them with CTest, installs into a temporary prefix, then builds
# and runs examples/cmake_downstream three ways: find_package against the installed package,
# add_subdirectory of this checkout, and a plain compiler command from `pkg-config kvstore`.
# Every build happens in a new temporary directory that is removed at the end. Exits non-zero
# when any step fails. Usage: tools/cmake_check.sh (from anywhere; CI runs it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

# What the CMake build needs from Debian, installed only when missing (as tools/bazel does).
readonly PACKAGES=(cmake pkg-config g++ libabsl-dev libxxhash-dev libgtest-dev libgmock-dev)

step() { echo "=== cmake_check: $* ($(date +%T))"; }

install_missing_packages() {
  local pkg status missing=()
  for pkg in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$pkg")
  done
  ((${#missing[@]} == 0)) && return 0
  echo "cmake_check: installing from Debian: ${missing[*]}"
  local sudo=()
  ((EUID == 0)) || sudo=(sudo)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get update -qq >/dev/null ||
     ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; then
    echo "cmake_check: apt-get failed to install: ${missing[*]}" >&2
    exit 1
  fi
}

failed() { echo "cmake_check: FAILED: $*" >&2; exit 1; }

step "Debian packages: ${PACKAGES[*]}"
install_missing_packages
cmake --version | head -1

work=$(mktemp -d /tmp/kvstore-cmake-check.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
jobs=$(nproc)
# The optimization of Bazel's --compilation_mode=opt, which the project's numbers come from.
build_type=(-DCMAKE_BUILD_TYPE=Release "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG")

step "configure the repository (KVSTORE_BUILD_TESTS=ON)"
cmake -S "$root" -B "$work/build" "${build_type[@]}" -DKVSTORE_BUILD_TESTS=ON \
  >"$work/configure.log" 2>&1 ||
  { cat "$work/configure.log"; failed "configure"; }

step "build the tests (-j$jobs)"
cmake --build "$work/build" -j "$jobs" >"$work/build.log" 2>&1 ||
  { tail -50 "$work/build.log"; failed "build"; }

step "run the tests with CTest"
(cd "$work/build" && ctest --output-on-failure) || failed "ctest"

# --prefix at install time, not configure time: the installed files must not hard-code a prefix.
step "install into a temporary prefix (cmake --install --prefix)"
cmake --install "$work/build" --prefix "$prefix" >/dev/null || failed "install"
for file in include/kvstore/kvstore.h include/kvstore/internal/engine.h; do
  [[ -f "$prefix/$file" ]] || failed "install: $file is missing"
done
config=$(find "$prefix" -name kvstoreConfig.cmake)
pc=$(find "$prefix" -name kvstore.pc)
[[ -n "$config" && -n "$pc" ]] || failed "install: kvstoreConfig.cmake or kvstore.pc is missing"
echo "installed: $(cd "$prefix" && find . -type f | wc -l) files, ${config#"$prefix"/}, ${pc#"$prefix"/}"

example=$root/examples/cmake_downstream

# Builds examples/cmake_downstream in $1 with the remaining cmake arguments, then runs it.
build_and_run_downstream() {
  local dir=$1; shift
  cmake -S "$example" -B "$dir" "${build_type[@]}" "$@" >"$dir.log" 2>&1 &&
    cmake --build "$dir" -j "$jobs" >>"$dir.log" 2>&1 ||
    { tail -50 "$dir.log"; return 1; }
  "$dir/cmake_downstream"
}

step "downstream via find_package(kvstore CONFIG REQUIRED) against the installed package"
build_and_run_downstream "$work/downstream-installed" -DCMAKE_PREFIX_PATH="$prefix" ||
  failed "downstream with find_package"

step "downstream via add_subdirectory of this checkout"
build_and_run_downstream "$work/downstream-subdirectory" -DKVSTORE_SOURCE_DIR="$root" ||
  failed "downstream with add_subdirectory"

step "downstream via pkg-config: c++ main.cc \$(pkg-config --cflags --libs kvstore)"
export PKG_CONFIG_PATH="$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
echo "pkg-config kvstore: version $(pkg-config --modversion kvstore)"
# shellcheck disable=SC2046
c++ -O2 -o "$work/downstream-pkgconfig" "$example/main.cc" $(pkg-config --cflags --libs kvstore) ||
  failed "downstream with pkg-config"
"$work/downstream-pkgconfig" || failed "downstream with pkg-config (run)"

step "all passed"
