#!/usr/bin/env bash
# Configures and builds into build/ (override with BUILD_DIR). Extra arguments
# go to cmake's configure step, e.g. -DILPGW_SANITIZE=ON.
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}
# With ccache installed (install-deps.sh installs it) a rebuild of an unchanged
# file is free; paths are taken relative to the checkout, so another clone of
# the same commit shares the cache (tests/CMakeLists.txt: the precompiled
# header needs the sloppiness below).
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true CCACHE_SLOPPINESS=pch_defines,time_macros
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" "${launcher[@]}" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
