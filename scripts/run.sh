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
# The demo client: a local-only clinic client of the dev facility. Its secret
# is shown here once (a new one on every run; the store keeps only a hash).
cli=build/gateway/ilp-gateway
credentials=$("$cli" client rotate demo-clinic --config gateway.json 2>/dev/null ||
              "$cli" client add --id demo-clinic --role clinic --org dev-puskesmas --local-only --config gateway.json)
secret=$(sed -n 's/^client_secret=//p' <<<"$credentials")
cat <<TXT

ILP Gateway is starting on https://127.0.0.1:8443 (Ctrl-C stops it).
Demo client (local-only, clinic role for dev-puskesmas):
  ILPGW_CLIENT_ID=demo-clinic ILPGW_CLIENT_SECRET=$secret
Try it from another terminal:
  ILPGW_CLIENT_ID=demo-clinic ILPGW_CLIENT_SECRET=$secret scripts/demo-client.sh
  curl --cacert certs/dev/ca.crt https://127.0.0.1:8443/fhir/metadata

TXT
exec build/gateway/ilp-gateway serve --config gateway.json "$@"
