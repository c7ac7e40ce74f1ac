#!/usr/bin/env bash
# Group commit, measured: acknowledged records/s (posts answered 2xx, i.e.
# committed and the write-ahead log fsynced) at 1, 16 and 64 concurrent HTTPS
# keep-alive clients, one ePuskesmas visit (~10 resources) per post. With one
# fsync per request the rate would stay flat; group commit lets it grow with
# concurrency. Also where each post's CPU, bytes and time go (below). Not a
# test and not in CI.
#   bench/ingest_clients.sh [SECONDS]           (default 10 s per level)
# BUILD_DIR (default build-bench), JOBS, CLIENTS ("1 16 64") are honoured;
# BATCH_MAX=1 turns group commit off (one fsync per post) for comparison.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-10}
build=${BUILD_DIR:-build-bench}
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh installs it)"; exit 2; }
bench_build "$build" -- ilp-gateway epuskesmas-json

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

# Per acknowledged post (one visit), for each concurrency level:
# - process CPU (/proc/PID/stat) and the CPU of each ingest stage and of the
#   store's writer (ilpgw_ingest_cpu_seconds_total, ilpgw_store_writer_cpu_seconds_total
#   from /metrics); "other" is the rest: TLS, HTTP, auth, audit, logging;
# - bytes the gateway wrote (WAL, checkpoints, database; /proc/PID/io) and the
#   growth of gateway.db on disk;
# - commits per second, posts per commit, and fsyncs of the write-ahead log per
#   second (one fsync covers every group committed while the previous one ran);
# - p50/p99 latency and the peak resident memory so far.
# The same figures go to a JSON file ($BENCH_JSON, default $build/ingest_clients.json).
written() { awk '/^write_bytes/ {print $2}' "/proc/$gw_pid/io"; }
# The database's size as committed, the write-ahead log's pages included
# (the file itself grows only as checkpoints catch up).
stored() { sqlite3 -readonly "$work/data/gateway.db" 'SELECT page_count * page_size FROM pragma_page_count, pragma_page_size'; }
# Resource versions stored so far (seq is given out in commit order).
versions() { sqlite3 -readonly "$work/data/gateway.db" 'SELECT coalesce(max(seq), 0) FROM resource_version'; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$gw_pid/stat"; }
peak_rss_kb() { awk '/^VmHWM/ {print $2}' "/proc/$gw_pid/status"; }
ticks_per_s=$(getconf CLK_TCK)
scrape() { curl -s --cacert certs/dev/ca.crt "https://127.0.0.1:$port/metrics"; }
# metric FILE NAME_WITH_LABELS: its value in a scrape (0 when absent).
metric() { awk -v k="$2" '$1 == k {v = $2} END {print v + 0}' "$1"; }
stages="map validate index merge answer"
json=${BENCH_JSON:-$build/ingest_clients.json}
levels=()
printf '%-8s %10s %8s %8s %8s %8s %9s %9s %9s %8s %8s\n' clients "acked/s" refused "p50 ms" "p99 ms" "CPU µs" \
  "KB wrote" "KB db" "commits/s" "posts/c" "peak MB"
for c in ${CLIENTS:-1 16 64}; do
  threads=$(( c < 2 ? 1 : 2 ))
  w0=$(written); d0=$(stored); v0=$(versions); t0=$(cpu_ticks); scrape > "$work/m0"
  line=$(wrk -t"$threads" -c"$c" -d"${seconds}s" -s bench/ingest_acked.lua "https://127.0.0.1:$port" 2>>"$work/wrk.err" |
         awk '/^ACKED/ {print $2, $3, $4, $5, $6}')
  read -r rate acked refused p99 p50 <<<"$line"
  w1=$(written); d1=$(stored); v1=$(versions); t1=$(cpu_ticks); scrape > "$work/m1"
  delta() { awk -v a="$(metric "$work/m0" "$1")" -v b="$(metric "$work/m1" "$1")" 'BEGIN {print b - a}'; }
  per_post_us() { awk -v s="$1" -v n="$acked" 'BEGIN { if (n > 0) printf "%.0f", s * 1e6 / n; else print 0 }'; }
  cpu_us=$(per_post_us "$(awk -v t=$((t1 - t0)) -v h="$ticks_per_s" 'BEGIN {print t / h}')")
  stage_json="" stage_line="" known=0
  for stage in $stages writer; do
    if [[ $stage == writer ]]; then key=ilpgw_store_writer_cpu_seconds_total; else
      key="ilpgw_ingest_cpu_seconds_total{stage=\"$stage\"}"; fi
    us=$(per_post_us "$(delta "$key")")
    known=$((known + us))
    stage_json+="\"$stage\": $us, "
    stage_line+="$stage $us  "
  done
  other=$((cpu_us - known))
  commits=$(delta ilpgw_store_commit_duration_seconds_count)
  batched=$(delta ilpgw_store_commit_batch_size_sum)
  commits_s=$(awk -v n="$commits" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
  per_commit=$(awk -v b="$batched" -v n="$commits" 'BEGIN { if (n > 0) printf "%.1f", b / n; else print 0 }')
  fsyncs_s=$(awk -v n="$(delta ilpgw_store_log_syncs_total)" -v s="$seconds" 'BEGIN {printf "%.0f", n / s}')
  kb() { awk -v d="$1" -v n="$acked" 'BEGIN { if (n > 0) printf "%.1f", d / n / 1024; else print 0 }'; }
  wrote=$(kb $((w1 - w0))); grew=$(kb $((d1 - d0)))
  per_version=$(awk -v d=$((d1 - d0)) -v n=$((v1 - v0)) 'BEGIN { if (n > 0) printf "%.0f", d / n; else print 0 }')
  versions_per_post=$(awk -v v=$((v1 - v0)) -v n="$acked" 'BEGIN { if (n > 0) printf "%.1f", v / n; else print 0 }')
  peak_mb=$(( $(peak_rss_kb) / 1024 ))
  printf '%-8s %10s %8s %8s %8s %8s %9s %9s %9s %8s %8s\n' "$c" "$rate" "$refused" "$p50" "$p99" "$cpu_us" \
    "$wrote" "$grew" "$commits_s" "$per_commit" "$peak_mb"
  printf '         CPU µs per post by stage: %sother %s; fsyncs/s %s\n' "$stage_line" "$other" "$fsyncs_s"
  printf '         resource versions per post %s, database growth per version %s B\n' "$versions_per_post" "$per_version"
  levels+=("{\"clients\": $c, \"acked_per_s\": $rate, \"acked\": $acked, \"refused\": $refused, \"p50_ms\": $p50, \
\"p99_ms\": $p99, \"cpu_us_per_post\": $cpu_us, \"cpu_us_by_stage\": {${stage_json}\"other\": $other}, \
\"kb_written_per_post\": $wrote, \"kb_db_growth_per_post\": $grew, \"versions_per_post\": $versions_per_post, \"db_growth_bytes_per_version\": $per_version, \"commits_per_s\": $commits_s, \
\"posts_per_commit\": $per_commit, \"fsyncs_per_s\": $fsyncs_s, \"peak_rss_mb\": $peak_mb}")
done
{
  printf '{"benchmark": "ingest_clients", "seconds": %s, "batch_max": %s, "levels": [' "$seconds" "${BATCH_MAX:-256}"
  sep=""; for l in "${levels[@]}"; do printf '%s%s' "$sep" "$l"; sep=", "; done
  printf ']}\n'
} > "$json"
echo "figures also in $json"
fs=$(df -PT "$work" | awk 'NR==2 {print $2}')
echo "store on $fs ($work), WAL fsynced before each answer; each acknowledged post is one visit = ~10 resources"
