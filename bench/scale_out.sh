#!/usr/bin/env bash
# Scale-out, measured: ingest and reads on PostgreSQL with one and with three
# gateway instances, beside the embedded SQLite store and the bare
# cpp-httplib ceiling, all in the same run on this machine, over HTTPS
# keep-alive with auth on. Three instances share one database and take a
# third of the connections each (three wrk processes at once); their rates
# are summed. On one machine the instances, PostgreSQL and wrk share the same
# cores, so the three-instance row shows the cost of sharing, not the gain of
# more hosts. Not a test and not in CI.
#   bench/scale_out.sh [SECONDS]        (default 10 s per measurement)
# BUILD_DIR (default build-bench) and CLIENTS (default 64) are honoured.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/lib.sh
seconds=${1:-10}
build=${BUILD_DIR:-build-bench}
clients=${CLIENTS:-64}
command -v wrk >/dev/null || { echo "wrk missing (scripts/install-deps.sh installs it)"; exit 2; }
pg_bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[[ -x $pg_bin/postgres ]] || { echo "PostgreSQL server missing (scripts/install-deps.sh installs it)"; exit 2; }
bench_build "$build" -DILPGW_BUILD_BENCH=ON -- ilp-gateway epuskesmas-json bench_echo_server

work=$(mktemp -d)
chmod 755 "$work"
pids=()
pg_data=$work/pg
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  [[ -f $pg_data/postmaster.pid ]] && as_pg "$pg_bin/pg_ctl" stop -D "$pg_data" -m fast >/dev/null 2>&1
  wait 2>/dev/null || true
  rm -rf "$work"
}
# PostgreSQL refuses to run as root: as root it runs as the postgres user.
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
trap cleanup EXIT
mkdir -p "$pg_data" "$work/pgsock"
[[ $(id -u) == 0 ]] && chown postgres "$pg_data" "$work/pgsock"
as_pg "$pg_bin/initdb" -D "$pg_data" -U ilpgw --auth=trust --encoding=UTF8 >"$work/initdb.log"
# Durable commits as in production: fsync and synchronous_commit on.
as_pg "$pg_bin/postgres" -D "$pg_data" -c listen_addresses= -c unix_socket_directories="$work/pgsock" \
  -c max_connections=200 -c shared_buffers=256MB -c fsync=on -c synchronous_commit=on >"$work/pg.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do as_pg "$pg_bin/pg_isready" -q -h "$work/pgsock" && break; sleep 0.2; done
as_pg "$pg_bin/psql" -q -h "$work/pgsock" -U ilpgw -d postgres -c "CREATE DATABASE ilpgw" >/dev/null
pg_url="postgresql://ilpgw@/ilpgw?host=$work/pgsock"

# start NAME PORT [STORE_JSON]: one gateway instance with its own work folder.
start() {
  local name=$1 port=$2 store=${3:-}
  mkdir -p "$work/$name"
  bench_start_gateway "$work/$name" "$build" "$port" '"threads": 128, "max_connections_per_peer": 0' "$store"
  pids+=("$gw_pid")
}
start sqlite 18461
start pg1 18462 "\"backend\": \"postgresql\", \"url\": \"$pg_url\", \"pool_size\": 16"
start pg2 18463 "\"backend\": \"postgresql\", \"url\": \"$pg_url\", \"pool_size\": 16"
start pg3 18464 "\"backend\": \"postgresql\", \"url\": \"$pg_url\", \"pool_size\": 16"
"$build/bench/bench_echo_server" certs/dev/server.crt certs/dev/server.key 18465 > "$work/echo.out" &
pids+=($!)
for _ in $(seq 50); do grep -q listening "$work/echo.out" 2>/dev/null && break; sleep 0.2; done

sqlite_token=$(bench_token 18461 bench-clinic "$(bench_add_clinic "$work/sqlite" "$build" bench-clinic)")
# The instances share the clients and the signing keys: one token serves all three.
pg_token=$(bench_token 18462 bench-clinic "$(bench_add_clinic "$work/pg1" "$build" bench-clinic)")
[[ -n $sqlite_token && -n $pg_token ]] || { echo "no token" >&2; exit 1; }

# One visit to read back, on each store.
patient() {  # port token
  curl -s --cacert certs/dev/ca.crt -H "Authorization: Bearer $2" -H 'Content-Type: application/json' \
    --data-binary @docs/examples/epuskesmas-visit.json "https://127.0.0.1:$1/ingest/epuskesmas-json" |
    grep -o '"location":"Patient/[^/"]*' | head -1 | cut -d'"' -f4
}
sqlite_patient=$(patient 18461 "$sqlite_token")
pg_patient=$(patient 18462 "$pg_token")

rate() { awk '/Requests\/sec/ {print $2}'; }
# wrk_rate CONNECTIONS URL TOKEN OFFSET [SCRIPT]: requests/s of one wrk process.
wrk_rate() {
  local c=$1 url=$2 token=$3 offset=$4 script=${5:-}
  local threads=$(( c < 2 ? 1 : 2 ))
  if [[ -n $script ]]; then
    BENCH_TOKEN=$token BENCH_THREAD_OFFSET=$offset wrk -t"$threads" -c"$c" -d"${seconds}s" -s "$script" "$url" \
      2>>"$work/wrk.err" | rate
  else
    wrk -t"$threads" -c"$c" -d"${seconds}s" -H "Authorization: Bearer $token" "$url" 2>>"$work/wrk.err" | rate
  fi
}
# spread PATH_OR_EMPTY SCRIPT_OR_EMPTY: the summed rate of three wrk processes,
# a third of the connections each, one per PostgreSQL instance, at once.
spread() {
  local path=$1 script=$2 i port running=()
  for i in 0 1 2; do
    port=$((18462 + i))
    local c=$(( clients / 3 + (i < clients % 3 ? 1 : 0) ))
    BENCH_PATH=/ingest/epuskesmas-json wrk_rate "$c" "https://127.0.0.1:$port$path" "$pg_token" $(( (i + 1) * 1000 )) \
      $script > "$work/spread.$i" &
    running+=($!)
  done
  wait "${running[@]}"
  awk '{s += $1} END {print s}' "$work"/spread.?
}

ingest_ceiling=$(BENCH_PATH=/echo wrk_rate "$clients" https://127.0.0.1:18465 "" 0 bench/ingest.lua)
ingest_sqlite=$(BENCH_PATH=/ingest/epuskesmas-json wrk_rate "$clients" https://127.0.0.1:18461 "$sqlite_token" 0 bench/ingest.lua)
ingest_pg1=$(BENCH_PATH=/ingest/epuskesmas-json wrk_rate "$clients" https://127.0.0.1:18462 "$pg_token" 0 bench/ingest.lua)
ingest_pg3=$(spread "" bench/ingest.lua)
read_ceiling=$(wrk_rate "$clients" https://127.0.0.1:18465/echo "" 0)
read_sqlite=$(wrk_rate "$clients" "https://127.0.0.1:18461/fhir/$sqlite_patient" "$sqlite_token" 0)
read_pg1=$(wrk_rate "$clients" "https://127.0.0.1:18462/fhir/$pg_patient" "$pg_token" 0)
read_pg3=$(spread "/fhir/$pg_patient" "")

ratio() { awk -v g="$1" -v e="$2" 'BEGIN { if (e > 0) printf "%.1f%%", 100 * g / e; else print "-" }'; }
printf '%-28s %10s %10s %10s %10s %8s %8s %8s\n' "$clients clients, per second" "ceiling" "sqlite" "pg x1" "pg x3" \
  "sqlite" "pg x1" "pg x3"
for what in ingest read; do
  e=${what}_ceiling s=${what}_sqlite p1=${what}_pg1 p3=${what}_pg3
  label=$([[ $what == ingest ]] && echo "ingest visits (posts)" || echo "read requests")
  printf '%-28s %10.0f %10.0f %10.0f %10.0f %8s %8s %8s\n' "$label" "${!e}" "${!s}" "${!p1}" "${!p3}" \
    "$(ratio "${!s}" "${!e}")" "$(ratio "${!p1}" "${!e}")" "$(ratio "${!p3}" "${!e}")"
done
if [[ -s $work/wrk.err ]]; then echo "wrk reported:"; sort "$work/wrk.err" | uniq -c | head; fi
echo "ratios against the bare cpp-httplib ceiling of the same run; every ingest answer came after a durable commit"
echo "(SQLite: the WAL fsynced before each answer; PostgreSQL fsync=on, synchronous_commit=on); $(nproc) cores shared by everything"
