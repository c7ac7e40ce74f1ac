#!/usr/bin/env bash
# Command 1 of the README: install dependencies, build, make development
# certificates and the demo client, then run the gateway on
# https://127.0.0.1:8443 with the SQLite store and the bundled adapters.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh -DILPGW_BUILD_TESTS=OFF
bash certs/make-dev-certs.sh certs/dev
[[ -f gateway.json ]] || cp gateway.example.json gateway.json
cat <<TXT

ILP Gateway is starting on https://127.0.0.1:8443 (Ctrl-C stops it).
Try it from another terminal:
  scripts/demo-client.sh                      # posts the example visit, reads it back
  curl --cacert certs/dev/ca.crt https://127.0.0.1:8443/fhir/metadata

TXT
exec build/gateway/ilp-gateway serve --config gateway.json "$@"
