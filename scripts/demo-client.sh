#!/usr/bin/env bash
# The demo client: posts the example ePuskesmas visit to a running gateway,
# then reads the stored Patient and Encounter back.
# Usage: scripts/demo-client.sh [BASE_URL]   (default https://127.0.0.1:8443)
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:-https://127.0.0.1:8443}
curl_tls=(--silent --show-error --cacert certs/dev/ca.crt)

echo "POST $base/ingest/epuskesmas-json"
answer=$(curl "${curl_tls[@]}" -w '\n%{http_code}' -H 'Content-Type: application/json' \
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
  curl "${curl_tls[@]}" "$base/fhir/$location" | head -c 1500; echo
done
