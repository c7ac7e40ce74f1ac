#!/usr/bin/env bash
# Soak: posts visits and pulls Observations at a moderate, steady rate for N
# minutes (default 30) over HTTPS keep-alive with a clinic token, and every
# interval records the gateway's resident memory, open descriptors, threads,
# database size (gateway.db and its WAL) and the interval's latency. Writes a CSV and a table, then
# says whether memory and descriptors stay flat (least-squares slope over the
# last 10 intervals). Not a test and not in CI.
#   bench/soak.sh [MINUTES]        (default 30)
# BUILD_DIR (default build-bench), JOBS, PORT, SOAK_CONNECTIONS (default 4),
# SOAK_DELAY_MS (pause per request per connection, default 50),
# SOAK_INTERVAL_S (default 60) and SOAK_OUT (CSV path) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
minutes=${1:-30}
interval=${SOAK_INTERVAL_S:-60}
connections=${SOAK_CONNECTIONS:-4}
build=${BUILD_DIR:-build-bench}
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh installs it)"; exit 2; }
bench_build "$build" -- ilp-gateway epuskesmas-json

work=$(mktemp -d)
out=${SOAK_OUT:-$work/soak.csv}
gw_pid=""
trap '[[ -n $gw_pid ]] && kill "$gw_pid" 2>/dev/null; wait 2>/dev/null || true; [[ $out == $work/* ]] && cp "$out" /tmp/soak-last.csv; rm -rf "$work"' EXIT
port=${PORT:-18463}
bench_start_gateway "$work" "$build" "$port"
secret=$(bench_add_clinic "$work" "$build" soak-clinic)
token() { bench_token "$port" soak-clinic "$secret"; }
[[ -n $(token) ]] || { echo "no token" >&2; exit 1; }

# wrk prints latencies as 812.00us, 1.20ms or 1.01s; as milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /[0-9]s$/ && v !~ /ms$/) n *= 1000; printf "%.2f", n }'; }

echo "minutes,rss_kb,fds,threads,db_bytes,wal_bytes,requests,errors,non_2xx,p50_ms,p99_ms" > "$out"
printf '%7s %9s %5s %7s %11s %11s %9s %6s %7s %8s %8s\n' minutes "rss KB" fds threads "db bytes" "wal bytes" requests errors non2xx "p50 ms" "p99 ms"
rounds=$(( minutes * 60 / interval ))
for ((i = 1; i <= rounds; i++)); do
  BENCH_TOKEN=$(token) SOAK_DELAY_MS=${SOAK_DELAY_MS:-50} wrk -t1 -c"$connections" -d"${interval}s" --latency \
    -s bench/soak.lua "https://127.0.0.1:$port" > "$work/wrk.txt" 2>>"$work/wrk.err" || true
  kill -0 "$gw_pid" 2>/dev/null || { echo "gateway exited; its log:" >&2; tail -20 "$work/gw.err" >&2; exit 1; }
  rss=$(awk '/^VmRSS/ {print $2}' "/proc/$gw_pid/status")
  threads=$(awk '/^Threads/ {print $2}' "/proc/$gw_pid/status")
  fds=$(ls "/proc/$gw_pid/fd" | wc -l)
  db=$(stat -c %s "$work/data/gateway.db" 2>/dev/null || echo 0)
  wal=$(stat -c %s "$work/data/gateway.db-wal" 2>/dev/null || echo 0)
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  errors=$(awk '/Socket errors/ {gsub(",", ""); print $4 + $6 + $8 + $10}' "$work/wrk.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$work/wrk.txt")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$work/wrk.txt")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$work/wrk.txt")")
  minute=$(awk -v s=$(( i * interval )) 'BEGIN { printf "%.1f", s / 60 }')
  echo "$minute,$rss,$fds,$threads,$db,$wal,${requests:-0},${errors:-0},${non2xx:-0},$p50,$p99" >> "$out"
  printf '%7s %9s %5s %7s %11s %11s %9s %6s %7s %8s %8s\n' "$minute" "$rss" "$fds" "$threads" "$db" "$wal" "${requests:-0}" \
    "${errors:-0}" "${non2xx:-0}" "$p50" "$p99"
done

# Least-squares slope per interval of column $1 over the last 10 rows.
slope() {
  tail -n +2 "$out" | tail -10 | awk -F, -v c="$1" '{ x = NR; y = $c; sx += x; sy += y; sxx += x * x; sxy += x * y; n++ }
    END { d = n * sxx - sx * sx; if (n < 2 || d == 0) print 0; else printf "%.2f", (n * sxy - sx * sy) / d }'
}
rss_slope=$(slope 2)
fd_slope=$(slope 3)
echo "slope over the last $(( rounds < 10 ? rounds : 10 )) intervals: RSS ${rss_slope} KB/interval, descriptors ${fd_slope}/interval (interval ${interval} s)"
# Flat: under 256 KB and 0.5 descriptors per interval.
awk -v r="$rss_slope" -v f="$fd_slope" 'BEGIN {
  print ((r < 256 && r > -256) ? "memory: flat" : "memory: GROWING");
  print ((f < 0.5 && f > -0.5) ? "descriptors: flat" : "descriptors: GROWING") }'
echo "CSV: $out (kept as /tmp/soak-last.csv when SOAK_OUT is not set)"
