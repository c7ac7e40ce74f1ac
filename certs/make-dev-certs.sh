#!/usr/bin/env bash
# Makes development TLS material: a local CA, a server certificate for
# localhost/127.0.0.1/::1 and a client certificate, all signed by that CA.
# Usage: certs/make-dev-certs.sh [DIR]   (default: certs/dev, git-ignored)
# Existing files are kept, so re-running is cheap. Never use these in
# production: the gateway refuses them on non-loopback addresses.
set -euo pipefail
dir=${1:-"$(dirname "$0")/dev"}
mkdir -p "$dir"
cd "$dir"
umask 077

if [[ -s ca.crt && -s server.crt && -s client.crt ]]; then
  exit 0
fi

days=825
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 -days "$days" \
  -keyout ca.key -out ca.crt -subj "/O=ILP Gateway Dev/CN=ILP Gateway Dev CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

issue() {  # name subject extensions
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days "$days" -sha256 \
    -extfile "$1.ext" -out "$1.crt" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

issue server "/O=ILP Gateway Dev/CN=localhost" \
"basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"

issue client "/O=ILP Gateway Dev/CN=dev-client" \
"basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=clientAuth"

chmod 600 ./*.key
chmod 644 ./*.crt
echo "development certificates in $(pwd)"
