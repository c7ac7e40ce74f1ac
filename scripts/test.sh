#!/usr/bin/env bash
# Command 2 of the README (and of CI): the same set-up as run.sh, then the
# whole test suite; then the suite again under ASan + UBSan (build-asan) and
# every fuzz target for a bounded time (scripts/fuzz.sh).
#   ILPGW_TEST_SANITIZE=0     skip the sanitizer run
#   ILPGW_FUZZ_SECONDS=N      seconds per fuzz target (default 10; 0 skips)
# On a 2-core machine without a warm ccache, estimated from per-file compile
# times: ~12 min build + ~5 min tests, ~18 min ASan build + ~8 min tests,
# ~8 min fuzz build + 23 targets x 10 s (+~2 s start-up each) = ~4.6 min of
# fuzzing (docs/durability.md). A warm ccache (scripts/build.sh) takes most
# of the core's compile time away.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash certs/make-dev-certs.sh certs/dev
BUILD_DIR=${BUILD_DIR:-build} bash scripts/build.sh -DILPGW_BUILD_TESTS=ON
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j2 --timeout 600)
if [[ ${ILPGW_TEST_SANITIZE:-1} != 0 ]]; then
  BUILD_DIR=${ASAN_BUILD_DIR:-build-asan} bash scripts/build.sh -DILPGW_BUILD_TESTS=ON -DILPGW_SANITIZE=ON
  (cd "${ASAN_BUILD_DIR:-build-asan}" &&
   ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ctest --output-on-failure -j2 --timeout 900)
fi
if [[ ${ILPGW_FUZZ_SECONDS:-10} != 0 ]]; then
  bash scripts/fuzz.sh "${ILPGW_FUZZ_SECONDS:-10}"
fi
