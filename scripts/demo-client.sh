#!/usr/bin/env bash
# The demo client: gets an access token, posts the example ePuskesmas visit to
# a running gateway, then reads the stored Patient and Encounter back.
# Usage: scripts/demo-client.sh [BASE_URL]   (default https://127.0.0.1:8443)
# Credentials: ILPGW_CLIENT_ID and ILPGW_CLIENT_SECRET, or else the local-only
# demo client "demo-clinic" is created (or its secret renewed) with the CLI on
# this machine; its secret is printed once.
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-https://127.0.0.1:8443}
curl_tls=(--silent --show-error --cacert certs/dev/ca.crt)
cli=("${ILPGW_BINARY:-build/gateway/ilp-gateway}")
config=()
[[ -f gateway.json ]] && config=(--config gateway.json)

if [[ -z ${ILPGW_CLIENT_ID:-} || -z ${ILPGW_CLIENT_SECRET:-} ]]; then
  credentials=$("${cli[@]}" client rotate demo-clinic "${config[@]}" 2>/dev/null ||
                "${cli[@]}" client add --id demo-clinic --role clinic --org dev-puskesmas --local-only "${config[@]}")
  ILPGW_CLIENT_ID=$(sed -n 's/^client_id=//p' <<<"$credentials")
  ILPGW_CLIENT_SECRET=$(sed -n 's/^client_secret=//p' <<<"$credentials")
  echo "demo client (local-only): ILPGW_CLIENT_ID=$ILPGW_CLIENT_ID ILPGW_CLIENT_SECRET=$ILPGW_CLIENT_SECRET"
fi

echo "POST $base/oauth2/token"
token=$(curl "${curl_tls[@]}" -u "$ILPGW_CLIENT_ID:$ILPGW_CLIENT_SECRET" -d grant_type=client_credentials \
  "$base/oauth2/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
[[ -n $token ]] || { echo "no token (is auth.enabled false? then unset ILPGW_CLIENT_*)" >&2; exit 1; }
auth=(-H "Authorization: Bearer $token")

echo "POST $base/ingest/epuskesmas-json"
answer=$(curl "${curl_tls[@]}" "${auth[@]}" -w '\n%{http_code}' -H 'Content-Type: application/json' \
  --data-binary @docs/examples/epuskesmas-visit.json "$base/ingest/epuskesmas-json")
status=${answer##*$'\n'}
body=${answer%$'\n'*}
echo "-> HTTP $status"
echo "$body" | head -c 2000; echo
[[ $status == 201 ]] || exit 1

for type in Patient Encounter; do
  location=$(echo "$body" | grep -o "\"location\":\"$type/[^/\"]*" | head -1 | cut -d'"' -f4)
  [[ -n $location ]] || continue
  echo "GET $base/fhir/$location"
  curl "${curl_tls[@]}" "${auth[@]}" "$base/fhir/$location" | head -c 1500; echo
done
