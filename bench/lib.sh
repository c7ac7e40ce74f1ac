# Shared by the benchmark scripts (sourced, not run): a gateway for load on
# this machine, with a clinic client and its bearer token, measured with
# authentication on, as deployed.

# bench_build BUILD [CMAKE_OPTION...] -- TARGET...: configures BUILD as a
# Release build of its own unless it holds a gateway already (a build
# directory given by the caller is used as it is), builds the targets, and
# makes the development certificates if they are missing. JOBS is honoured.
bench_build() {
  local build=$1 options=()
  shift
  while [[ $# -gt 0 && $1 != -- ]]; do options+=("$1"); shift; done
  shift
  if [[ ! -x $build/gateway/ilp-gateway ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DILPGW_BUILD_TESTS=OFF "${options[@]}" >/dev/null
  fi
  cmake --build "$build" -j"${JOBS:-$(nproc)}" --target "$@" >/dev/null
  [[ -f certs/dev/ca.crt ]] || bash certs/make-dev-certs.sh certs/dev >/dev/null
}

# bench_start_gateway WORK BUILD PORT [SERVER_JSON] [STORE_JSON]
# Writes WORK/gateway.json (data in WORK/data, the ePuskesmas adapter, no rate
# limit) and starts the gateway; sets gw_pid. SERVER_JSON and STORE_JSON are
# extra members of the "server" and "store" objects, e.g. '"threads": 128'.
bench_start_gateway() {
  local work=$1 build=$2 port=$3 server=${4:-'"threads": 64'} store=${5:-}
  cat > "$work/gateway.json" <<JSON
{ "server": {"listen": "127.0.0.1:$port", $server},
  "tls": {"cert": "certs/dev/server.crt", "key": "certs/dev/server.key"},
  "store": {"data_dir": "$work/data"${store:+, $store}},
  "limits": {"rate_per_s": 1000000, "rate_burst": 1000000},
  "auth": {"token_ttl_s": 7200},
  "plugin_dir": "$build/plugins",
  "plugins": [{"name": "epuskesmas-json", "library": "epuskesmas-json.so"}],
  "log_level": "warning" }
JSON
  "$build/gateway/ilp-gateway" serve --config "$work/gateway.json" > "$work/gw.out" 2> "$work/gw.err" &
  gw_pid=$!
  for _ in $(seq 100); do grep -q listening "$work/gw.out" 2>/dev/null && return 0; sleep 0.1; done
  echo "the gateway did not start; its log:" >&2
  tail -20 "$work/gw.err" >&2
  return 1
}

# bench_add_clinic WORK BUILD CLIENT_ID: registers a clinic client of
# dev-puskesmas and prints its secret.
bench_add_clinic() {
  "$2/gateway/ilp-gateway" client add --role clinic --org dev-puskesmas --id "$3" \
    --config "$1/gateway.json" 2>/dev/null | sed -n 's/^client_secret=//p'
}

# bench_token PORT CLIENT_ID SECRET: prints a fresh access token (2 hours
# here, auth.token_ttl_s, so a long burst or soak keeps one token).
bench_token() {
  curl -s --cacert certs/dev/ca.crt -u "$2:$3" -d grant_type=client_credentials \
    "https://127.0.0.1:$1/oauth2/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}
