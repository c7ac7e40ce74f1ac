#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) and runs each for a
# bounded time. Fails on any crash, leak, timeout or sanitizer report.
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (default 10 s, every target)
# Every target is a folder of tests/fuzz/corpus/; the run costs targets x
# SECONDS of fuzzing plus the build, and the total is printed at the end.
# BUILD_DIR (default build-fuzz) and JOBS (default nproc) are honoured.
# New findings are saved in $BUILD_DIR/fuzz-artifacts/<target>/; add a
# minimised reproducer to tests/fuzz/corpus/<target>/ once fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-10}
shift || true
build=${BUILD_DIR:-build-fuzz}
command -v clang++ >/dev/null || { echo "fuzz.sh: clang++ missing (scripts/install-deps.sh installs clang)"; exit 2; }

launcher=()
if command -v ccache >/dev/null; then  # as in build.sh
  export CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=true CCACHE_SLOPPINESS=pch_defines,time_macros
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo "${launcher[@]}" \
  -DILPGW_FUZZ=ON -DILPGW_BUILD_TESTS=OFF >/dev/null
targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cd tests/fuzz/corpus && ls -d -- */ | tr -d /)
fi
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/fuzz/ubsan.supp}
failed=()
started=$SECONDS
for target in "${targets[@]}"; do
  binary=$(find "$build" -type f -name "$target" -perm -u+x | head -1)
  [[ -n $binary ]] || { echo "fuzz.sh: $target was not built"; failed+=("$target"); continue; }
  work="$build/fuzz-work/$target"
  artifacts="$build/fuzz-artifacts/$target"
  rm -rf "$work"
  mkdir -p "$work" "$artifacts"
  echo "== $target (${seconds}s)"
  # The seed corpus is read-only input; new inputs go to the work corpus.
  if "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
       -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "tests/fuzz/corpus/$target" \
       >"$work.log" 2>&1; then
    grep -E "^stat::number_of_executed_units|^Done" "$work.log" | tr '\n' ' '; echo
  else
    echo "FAILED: $target (log: $work.log)"
    grep -E "ERROR|SUMMARY|runtime error" "$work.log" | head -5 || true
    failed+=("$target")
  fi
done
echo "fuzz.sh: total fuzzing time $((SECONDS - started)) s (${#targets[@]} targets x ${seconds} s budget = $((${#targets[@]} * seconds)) s)"
if ((${#failed[@]})); then
  echo "fuzz.sh: failures in ${failed[*]}"
  exit 1
fi
echo "fuzz.sh: ${#targets[@]} targets ran ${seconds}s each without findings"
