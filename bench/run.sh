#!/usr/bin/env bash
# Load test: ILP Gateway against the bare cpp-httplib ceiling, on this machine,
# over HTTPS keep-alive with wrk, in one run. Prints each measurement with the
# ceiling, their ratio and the target (docs/performance.md), and writes the
# same figures to $BUILD_DIR/run.json. Not a test and not in CI.
#   bench/run.sh [SECONDS]       (default 10 s per measurement)
# BURST_SECONDS=N adds a backlog burst: 64 clients post distinct visits for N
# seconds; refused posts and the p99 latency are reported.
#
# The ceiling is fair: it parses the same request and answers a body of the
# size the gateway answered (echo_server ?bytes=N, measured first).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-10}
build=${BUILD_DIR:-build-bench}
bash scripts/install-deps.sh
BUILD_DIR=$build BUILD_TYPE=Release bash scripts/build.sh -DILPGW_BUILD_TESTS=OFF -DILPGW_BUILD_BENCH=ON
bash certs/make-dev-certs.sh certs/dev >/dev/null

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
gw_port=18443
echo_port=18444
gw="https://127.0.0.1:$gw_port"
echo_url="https://127.0.0.1:$echo_port"
# wrk opens up to 64 connections from one address: no per-address connection cap.
bench_start_gateway "$work" "$build" "$gw_port" '"threads": 128, "max_connections_per_peer": 0'
"$build/bench/bench_echo_server" certs/dev/server.crt certs/dev/server.key $echo_port > "$work/echo.out" &
for _ in $(seq 50); do grep -q listening "$work/echo.out" 2>/dev/null && break; sleep 0.2; done

# The gateway is measured with auth on, as deployed (token verification,
# scope and tenant checks, audit trail).
token=$(bench_token "$gw_port" bench-clinic "$(bench_add_clinic "$work" "$build" bench-clinic)")
[[ -n $token ]] || { echo "no token" >&2; exit 1; }
export BENCH_TOKEN=$token
auth=(-H "Authorization: Bearer $token")

# wrk_run CONNECTIONS URL [SCRIPT]: wrk's output.
wrk_run() {
  local c=$1 url=$2 script=${3:-}
  local threads=$(( c < 2 ? 1 : 2 ))
  if [[ -n $script ]]; then
    wrk -t"$threads" -c"$c" -d"${seconds}s" -s "$script" "$url" 2>>"$work/wrk.err"
  else
    wrk -t"$threads" -c"$c" -d"${seconds}s" "${auth[@]}" "$url" 2>>"$work/wrk.err"
  fi
}
rate() { awk '/Requests\/sec/ {print $2}'; }
total() { awk '/requests in/ {print $1}'; }
answer_bytes() { curl -s --cacert certs/dev/ca.crt "${auth[@]}" -o /dev/null -w '%{size_download}' "$@"; }

# One visit to read back; the sizes of the gateway's answers.
visit=docs/examples/epuskesmas-visit.json
posted=$(curl -s --cacert certs/dev/ca.crt "${auth[@]}" -H 'Content-Type: application/json' --data-binary @$visit \
  "$gw/ingest/epuskesmas-json")
patient=$(grep -o '"location":"Patient/[^/"]*' <<<"$posted" | head -1 | cut -d'"' -f4)
[[ -n $patient ]] || { echo "the example visit was not stored: $posted" >&2; exit 1; }
search_path="/fhir/Observation?patient=${patient#Patient/}&_count=20"
ingest_bytes=${#posted}
read_bytes=$(answer_bytes "$gw/fhir/$patient")
search_bytes=$(answer_bytes "$gw$search_path")

pid_ticks() { awk '{print $14 + $15}' "/proc/$gw_pid/stat"; }
pid_written() { awk '/^write_bytes/ {print $2}' "/proc/$gw_pid/io"; }
# The database's size as committed, the write-ahead log's pages included
# (the file itself grows only as checkpoints catch up).
db_bytes() { sqlite3 -readonly "$work/data/gateway.db" 'SELECT page_count * page_size FROM pragma_page_count, pragma_page_size'; }
# Resource versions stored so far (seq is given out in commit order).
db_versions() { sqlite3 -readonly "$work/data/gateway.db" 'SELECT coalesce(max(seq), 0) FROM resource_version'; }
ticks_per_s=$(getconf CLK_TCK)

printf '%-36s %11s %11s %7s %9s\n' "measurement (HTTPS keep-alive)" "gateway/s" "ceiling/s" "ratio" "target"
rows=()
row() {  # name gateway ceiling target_percent
  local name=$1 g=$2 e=$3 target=$4 ratio
  ratio=$(awk -v g="$g" -v e="$e" 'BEGIN { printf "%.1f", (e > 0 ? 100 * g / e : 0) }')
  printf '%-36s %11.0f %11.0f %6.1f%% %8s%%\n' "$name" "$g" "$e" "$ratio" "$target"
  rows+=("{\"measurement\": \"$name\", \"gateway_per_s\": $g, \"ceiling_per_s\": $e, \"ratio_percent\": $ratio, \"target_percent\": $target}")
}

declare -A ingest_target=([1]=10 [16]=20 [64]=25)
for c in 1 16 64; do
  t0=$(pid_ticks); w0=$(pid_written); d0=$(db_bytes); v0=$(db_versions)
  # Visits of their own at each level: a visit posted again is "unchanged" and costs far less.
  out=$(BENCH_THREAD_OFFSET=$((c * 1000)) BENCH_PATH=/ingest/epuskesmas-json wrk_run "$c" "$gw" bench/ingest.lua)
  t1=$(pid_ticks); w1=$(pid_written); d1=$(db_bytes); v1=$(db_versions)
  g=$(rate <<<"$out")
  e=$(BENCH_PATH="/echo?bytes=$ingest_bytes" wrk_run "$c" "$echo_url" bench/ingest.lua | rate)
  row "ingest visits, $c clients" "$g" "$e" "${ingest_target[$c]}"
  if [[ $c == 64 ]]; then
    posts=$(total <<<"$out")
    cpu_us=$(awk -v t=$((t1 - t0)) -v h="$ticks_per_s" -v n="$posts" 'BEGIN {printf "%.0f", t / h * 1e6 / n}')
    kb_written=$(awk -v b=$((w1 - w0)) -v n="$posts" 'BEGIN {printf "%.1f", b / n / 1024}')
    kb_growth=$(awk -v b=$((d1 - d0)) -v n="$posts" 'BEGIN {printf "%.1f", b / n / 1024}')
    versions=$((v1 - v0))
    bytes_per_version=$(awk -v b=$((d1 - d0)) -v n="$versions" 'BEGIN { if (n > 0) printf "%.0f", b / n; else print 0 }')
    versions_per_visit=$(awk -v v="$versions" -v n="$posts" 'BEGIN {printf "%.1f", v / n}')
  fi
done
for c in 16 64; do
  row "read one resource, $c clients" "$(wrk_run "$c" "$gw/fhir/$patient" | rate)" \
    "$(wrk_run "$c" "$echo_url/echo?bytes=$read_bytes" | rate)" 70
done
for c in 16 64; do
  row "search Observation?patient, $c cl." "$(wrk_run "$c" "$gw$search_path" | rate)" \
    "$(wrk_run "$c" "$echo_url/echo?bytes=$search_bytes" | rate)" 40
done

# Mixed: 64 clients posting and 16 pulling the search at the same time.
mixed() {  # base post_path read_url: "posts/s reads/s"
  local base=$1 post_path=$2 read_url=$3
  BENCH_THREAD_OFFSET=100000 BENCH_PATH=$post_path wrk_run 64 "$base" bench/ingest.lua > "$work/mixed-post" &
  local posting=$!
  wrk_run 16 "$read_url" > "$work/mixed-read"
  wait "$posting"
  echo "$(rate < "$work/mixed-post") $(rate < "$work/mixed-read")"
}
read -r gp gr <<<"$(mixed "$gw" /ingest/epuskesmas-json "$gw$search_path")"
read -r ep er <<<"$(mixed "$echo_url" "/echo?bytes=$ingest_bytes" "$echo_url/echo?bytes=$search_bytes")"
row "mixed: ingest, 64 posting" "$gp" "$ep" 25
row "mixed: search, 16 pulling" "$gr" "$er" 40

burst=""
if [[ ${BURST_SECONDS:-0} -gt 0 ]]; then
  line=$(BENCH_PATH=/ingest/epuskesmas-json \
    wrk -t2 -c64 -d"${BURST_SECONDS}s" -s bench/ingest_acked.lua "$gw" 2>>"$work/wrk.err" | awk '/^ACKED/ {print $2, $3, $4, $5}')
  read -r burst_rate burst_acked burst_refused burst_p99 <<<"$line"
  burst="{\"seconds\": $BURST_SECONDS, \"acknowledged\": $burst_acked, \"refused\": $burst_refused, \"p99_ms\": $burst_p99}"
fi

peak_mb=$(( $(awk '/^VmHWM/ {print $2}' "/proc/$gw_pid/status") / 1024 ))
echo
printf '%-36s %11s %9s\n' "per visit, 64 clients posting" "gateway" "target"
printf '%-36s %11s %9s\n' "CPU µs (whole process)" "$cpu_us" "300"
printf '%-36s %11s %9s\n' "KB written (WAL, checkpoints, db)" "$kb_written" "48"
printf '%-36s %11s %9s\n' "KB database growth" "$kb_growth" "12"
printf '%-36s %11s %9s\n' "  per resource version stored, bytes" "$bytes_per_version" ""
printf '%-36s %11s %9s\n' "  resource versions per visit" "$versions_per_visit" ""
printf '%-36s %11s %9s\n' "peak resident memory, MB" "$peak_mb" "128"
if [[ -n $burst ]]; then
  printf 'backlog burst, 64 clients, %s s: %s acknowledged, %s refused, p99 %s ms (target: 0 refused, p99 <= 1000 ms)\n' \
    "$BURST_SECONDS" "$burst_acked" "$burst_refused" "$burst_p99"
fi
if [[ -s $work/wrk.err ]]; then echo "wrk reported:"; sort "$work/wrk.err" | uniq -c | head; fi
echo "answer sizes: ingest $ingest_bytes B, read $read_bytes B, search $search_bytes B (the ceiling answers the same)"
echo "every ingest answer above was acknowledged only after its SQLite commit (WAL fsynced, group commit)"
json=${BENCH_JSON:-$build/run.json}
{
  printf '{"benchmark": "run", "seconds": %s, "rows": [' "$seconds"
  sep=""; for r in "${rows[@]}"; do printf '%s%s' "$sep" "$r"; sep=", "; done
  printf '], "per_visit_64_clients": {"cpu_us": %s, "kb_written": %s, "kb_db_growth": %s, "db_growth_bytes_per_version": %s, "versions": %s}, "peak_rss_mb": %s' \
    "$cpu_us" "$kb_written" "$kb_growth" "$bytes_per_version" "$versions_per_visit" "$peak_mb"
  [[ -n $burst ]] && printf ', "burst": %s' "$burst"
  printf '}\n'
} > "$json"
echo "figures also in $json"
