#!/usr/bin/env bash
# Group commit, measured: acknowledged records/s (posts answered 2xx, i.e.
# committed with synchronous=FULL) at 1, 16 and 64 concurrent HTTPS
# keep-alive clients, one ePuskesmas visit (~10 resources) per post. With one
# fsync per request the rate would stay flat; group commit lets it grow with
# concurrency. Not a test and not in CI.
#   bench/ingest_clients.sh [SECONDS]           (default 10 s per level)
# BUILD_DIR (default build-bench), JOBS, CLIENTS ("1 16 64") are honoured;
# BATCH_MAX=1 turns group commit off (one fsync per post) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-10}
build=${BUILD_DIR:-build-bench}
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh installs it)"; exit 2; }
if [[ ! -x $build/gateway/ilp-gateway ]]; then  # a build directory of its own, unless one is given
  cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DILPGW_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$build" -j"${JOBS:-$(nproc)}" --target ilp-gateway epuskesmas-json >/dev/null
[[ -f certs/dev/ca.crt ]] || bash certs/make-dev-certs.sh certs/dev >/dev/null

work=$(mktemp -d)
gw_pid=""
trap '[[ -n $gw_pid ]] && kill "$gw_pid" 2>/dev/null; wait 2>/dev/null || true; rm -rf "$work"' EXIT
port=${PORT:-18453}
# wrk opens up to 64 connections from one address: no per-address connection cap.
bench_start_gateway "$work" "$build" "$port" '"threads": 128, "max_connections_per_peer": 0' \
  "\"batch_max\": ${BATCH_MAX:-256}"
BENCH_TOKEN=$(bench_token "$port" bench-clinic "$(bench_add_clinic "$work" "$build" bench-clinic)")
[[ -n $BENCH_TOKEN ]] || { echo "no token" >&2; exit 1; }
export BENCH_TOKEN

# Bytes the gateway wrote (WAL, checkpoints, database; /proc/PID/io) and the
# growth of gateway.db on disk, per acknowledged post.
written() { awk '/^write_bytes/ {print $2}' "/proc/$gw_pid/io"; }
stored() { du -b --apparent-size "$work/data/gateway.db" | cut -f1; }
printf '%-10s %16s %10s %10s %12s %14s %14s\n' clients "acked records/s" acked refused "p99 ms" "KB written/post" "db KB/post"
for c in ${CLIENTS:-1 16 64}; do
  threads=$(( c < 2 ? 1 : 2 ))
  w0=$(written); d0=$(stored)
  line=$(wrk -t"$threads" -c"$c" -d"${seconds}s" -s bench/ingest_acked.lua "https://127.0.0.1:$port" 2>>"$work/wrk.err" |
         awk '/^ACKED/ {print $2, $3, $4, $5}')
  read -r rate acked refused p99 <<<"$line"
  w1=$(written); d1=$(stored)
  per() { awk -v d="$1" -v n="$acked" 'BEGIN { if (n > 0) printf "%.1f", d / n / 1024; else print "-" }'; }
  printf '%-10s %16s %10s %10s %12s %14s %14s\n' "$c" "$rate" "$acked" "$refused" "$p99" "$(per $((w1 - w0)))" "$(per $((d1 - d0)))"
done
fs=$(df -PT "$work" | awk 'NR==2 {print $2}')
echo "store on $fs ($work), synchronous=FULL, WAL; each acknowledged post is one visit = ~10 resources"
