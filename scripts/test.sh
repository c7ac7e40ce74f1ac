#!/usr/bin/env bash
# Command 2 of the README (and of CI): the same set-up as run.sh, then the
# whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash certs/make-dev-certs.sh certs/dev
BUILD_DIR=${BUILD_DIR:-build} bash scripts/build.sh -DILPGW_BUILD_TESTS=ON
cd "${BUILD_DIR:-build}"
ctest --output-on-failure -j2 --timeout 600
