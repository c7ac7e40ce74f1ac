#!/usr/bin/env bash
# Load test: ILP Gateway against the bare cpp-httplib ceiling, on this machine,
# over HTTPS keep-alive with wrk. Prints records/s and requests/s for each and
# their ratio. Not a test and not in CI.
#   bench/run.sh [SECONDS]       (default 10 s per measurement)
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
# wrk opens up to 64 connections from one address: no per-address connection cap.
bench_start_gateway "$work" "$build" "$gw_port" '"threads": 128, "max_connections_per_peer": 0'
"$build/bench/bench_echo_server" certs/dev/server.crt certs/dev/server.key $echo_port > "$work/echo.out" &
for _ in $(seq 50); do grep -q listening "$work/echo.out" 2>/dev/null && break; sleep 0.2; done

# The gateway is measured with auth on, as deployed (token verification,
# scope and tenant checks, audit trail).
token=$(bench_token "$gw_port" bench-clinic "$(bench_add_clinic "$work" "$build" bench-clinic)")
[[ -n $token ]] || { echo "no token" >&2; exit 1; }
export BENCH_TOKEN=$token

# wrk's "Requests/sec" line, as a number.
rate() { awk '/Requests\/sec/ {print $2}'; }
measure() {  # connections url [script]
  local c=$1 url=$2 script=${3:-}
  local threads=$(( c < 2 ? 1 : 2 ))
  if [[ -n $script ]]; then
    wrk -t"$threads" -c"$c" -d"${seconds}s" -s "$script" "$url" 2>>"$work/wrk.err" | rate
  else
    wrk -t"$threads" -c"$c" -d"${seconds}s" -H "Authorization: Bearer $BENCH_TOKEN" "$url" 2>>"$work/wrk.err" | rate
  fi
}

# One visit to read back.
loc=$(curl -s --cacert certs/dev/ca.crt -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
  --data-binary @docs/examples/epuskesmas-visit.json "https://127.0.0.1:$gw_port/ingest/epuskesmas-json" |
  grep -o '"location":"Patient/[^/"]*' | head -1 | cut -d'"' -f4)

printf '%-34s %12s %12s %7s\n' "measurement (HTTPS keep-alive)" "gateway/s" "ceiling/s" "ratio"
row() {
  local name=$1 g=$2 e=$3
  printf '%-34s %12.0f %12.0f %6.0f%%\n' "$name" "$g" "$e" "$(echo "100 * $g / $e" | bc -l)"
}
for c in 1 16 64; do
  g=$(BENCH_PATH=/ingest/epuskesmas-json measure "$c" "https://127.0.0.1:$gw_port" bench/ingest.lua)
  e=$(BENCH_PATH=/echo measure "$c" "https://127.0.0.1:$echo_port" bench/ingest.lua)
  row "ingest records, $c clients" "$g" "$e"
done
for c in 16 64; do
  g=$(measure "$c" "https://127.0.0.1:$gw_port/fhir/$loc")
  e=$(measure "$c" "https://127.0.0.1:$echo_port/echo")
  row "read requests, $c clients" "$g" "$e"
done
if [[ -s $work/wrk.err ]]; then echo "wrk reported:"; sort "$work/wrk.err" | uniq -c | head; fi
echo "every ingest answer above was acknowledged only after its SQLite commit (WAL fsynced, group commit)"
