#!/usr/bin/env bash
# The Debian package end to end, as root on this machine: build it from the
# build directory (scripts/package.sh), inspect it (hardened unit, conffile,
# paths, permissions, stripped binaries), install it, run the installed
# binary as the service user with the installed config the way the unit
# does, post a record over TLS and read it back, reload with SIGHUP, upgrade
# to a newer version (config changed by the admin, data and record kept),
# remove (data kept), purge (user, data and config gone). Leaves the machine
# as it found it, also when a step fails. Talks only to 127.0.0.1.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR      (exit 77 = skipped)
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
pkg=ilp-gateway
user=ilp-gateway
conf=/etc/ilp-gateway/gateway.json
data=/var/lib/ilp-gateway
export DEBIAN_FRONTEND=noninteractive

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIPPED: package_test installs a .deb and needs root (CI runs it as root)"
  exit 77
fi
for tool in dpkg-deb dpkg-shlibdeps cpack curl jq setpriv openssl readelf; do
  command -v "$tool" >/dev/null || { echo "package_test: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
# One run at a time on this machine (the package, its user and paths are global).
exec 9>/run/lock/ilpgw-package-test.lock
flock -w 300 9 || { echo "package_test: another run holds the lock" >&2; exit 1; }
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed || getent passwd "$user" >/dev/null ||
   [[ -e $data || -e /etc/ilp-gateway ]]; then
  echo "SKIPPED: $pkg (or its user or paths) is already on this machine; the test would change it"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/ilpgw-package-test-XXXXXX")
chmod 0755 "$work"
gateway_pid=
package2_pid=
installed=
cleanup() {
  local rc=$?
  if [[ -n $gateway_pid ]]; then kill -KILL "$gateway_pid" 2>/dev/null || true; wait "$gateway_pid" 2>/dev/null || true; fi
  if [[ -n $package2_pid ]]; then wait "$package2_pid" 2>/dev/null || true; fi
  if [[ -n $installed ]]; then
    dpkg --purge "$pkg" >/dev/null 2>&1 || true
    # Whatever purge left behind when a step broke it.
    if getent passwd "$user" >/dev/null; then userdel "$user" 2>/dev/null || true; fi
    if getent group "$user" >/dev/null; then groupdel "$user" 2>/dev/null || true; fi
    rm -rf "$data" /etc/ilp-gateway
  fi
  rm -rf "$work"
  exit $rc
}
trap cleanup EXIT
step() { printf '\n== [%ss] %s\n' "$SECONDS" "$*"; }
fail() {
  printf 'PACKAGE TEST FAILED: %s\n' "$*" >&2
  for f in "$work"/gateway*.out "$work"/gateway*.err; do [[ -f $f ]] && { echo "-- $f" >&2; tail -20 "$f" >&2; }; done
  exit 1
}

step "1. build the package from $build (no compile), and a newer one for the upgrade"
version1=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackDeb.cmake")
[[ -n $version1 ]] || fail "no version in $build/CPackDeb.cmake"
# Both at once: dpkg-shlibdeps takes most of the time and uses one core.
BUILD_DIR=$build OUT_DIR=$work/v2 VERSION="$version1+upgrade1" bash "$src/scripts/package.sh" >"$work/package2.log" 2>&1 9>&- &
package2_pid=$!
deb1=$(BUILD_DIR=$build OUT_DIR=$work/v1 bash "$src/scripts/package.sh" 9>&- | tail -1)
[[ -f $deb1 ]] || fail "scripts/package.sh made no package"
[[ $(dpkg-deb -f "$deb1" Version) == "$version1" ]] || fail "package version $(dpkg-deb -f "$deb1" Version), not $version1"
echo "$deb1 (version $version1)"

step "2. inspect contents and control data"
dpkg-deb -I "$deb1" >"$work/info"
[[ $(dpkg-deb -f "$deb1" Package) == "$pkg" ]] || fail "package name"
grep -q '^ Depends:.*adduser' "$work/info" || fail "Depends lacks adduser: $(grep Depends "$work/info")"
grep -q '^ Depends:.*libcpp-httplib' "$work/info" || fail "Depends lacks the shared libraries (shlibdeps)"
dpkg-deb -e "$deb1" "$work/control"
[[ $(cat "$work/control/conffiles") == "$conf" ]] || fail "conffiles: $(cat "$work/control/conffiles")"
for script in postinst prerm postrm; do
  [[ -x $work/control/$script ]] || fail "maintainer script $script missing or not executable"
done
dpkg-deb -c "$deb1" >"$work/contents"
# Every path is one of the expected places.
allowed='^\./(usr/?|usr/bin/?|usr/bin/ilp-gateway|usr/lib/?|usr/lib/ilp-gateway/.*|usr/lib/libilpgw_sdk_values\.a|usr/lib/cmake/?|usr/lib/cmake/IlpGateway/.*|usr/include/?|usr/include/ilpgw/.*|usr/share/?|usr/share/ilp-gateway/.*|usr/share/doc/?|usr/share/doc/ilp-gateway/.*|etc/?|etc/ilp-gateway/?|etc/ilp-gateway/gateway\.json|lib/?|lib/systemd/?|lib/systemd/system/?|lib/systemd/system/ilp-gateway\.service)?$'
awk '{print $6}' "$work/contents" | grep -Ev "$allowed" >"$work/unexpected" && fail "unexpected paths: $(head -5 "$work/unexpected")"
awk '$1 !~ /^l/ && substr($1, 9, 1) == "w" {print}' "$work/contents" | grep . && fail "world-writable entries"
awk '$2 != "root/root" {print}' "$work/contents" | grep . && fail "entries not owned by root"
grep -Eq '^-rw-r----- .* \./etc/ilp-gateway/gateway\.json$' "$work/contents" || fail "gateway.json must be 0640"
for p in ./usr/bin/ilp-gateway ./usr/lib/ilp-gateway/plugins/epuskesmas-json.so ./usr/lib/ilp-gateway/plugins/simpus-csv.so \
         ./usr/lib/ilp-gateway/plugins/posyandu-kader.so ./usr/lib/ilp-gateway/plugins/hl7v2-oru.so \
         ./usr/lib/ilp-gateway/plugins/mapping.so ./usr/share/ilp-gateway/mappings/ilp-semantics.json \
         ./usr/share/ilp-gateway/mappings/measures/ ./usr/share/doc/ilp-gateway/operations.md; do
  grep -q " $p\$" "$work/contents" || fail "$p missing from the package"
done
grep -q ' \./usr/share/ilp-gateway/mappings/measures/.*\.json$' "$work/contents" || fail "no Measures in the package"
mkdir "$work/tree"
dpkg-deb -x "$deb1" "$work/tree"
for elf in "$work/tree/usr/bin/ilp-gateway" "$work/tree/usr/lib/ilp-gateway/plugins/"*.so; do
  if readelf -S "$elf" | grep -q '\.debug_info'; then fail "$(basename "$elf") still has debug info"; fi
done
unit=$work/tree/lib/systemd/system/ilp-gateway.service
for line in 'User=ilp-gateway' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ReadWritePaths=/var/lib/ilp-gateway' \
            'PrivateTmp=yes' 'ProtectHome=yes' 'ProtectKernelTunables=yes' 'LockPersonality=yes' \
            'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' 'SystemCallFilter=@system-service' \
            'CapabilityBoundingSet=' 'Restart=on-failure' 'ExecReload=/bin/kill -HUP $MAINPID' \
            'ExecStart=/usr/bin/ilp-gateway serve --config /etc/ilp-gateway/gateway.json'; do
  grep -qxF "$line" "$unit" || fail "unit lacks: $line"
done
if grep -E '^(AmbientCapabilities|CapabilityBoundingSet)=.+' "$unit"; then fail "the unit grants capabilities"; fi

step "3. install"
installed=1
dpkg -i "$deb1" >"$work/install.log" 2>&1 </dev/null || { cat "$work/install.log"; fail "dpkg -i"; }
grep -q 'SERTIFIKAT TLS UJI COBA SAJA / TEST-ONLY TLS CERTIFICATE' "$work/install.log" || fail "no test-only TLS note"
getent passwd "$user" >/dev/null || fail "no service user"
[[ $(getent passwd "$user" | cut -d: -f7) == /usr/sbin/nologin ]] || fail "service user has a login shell"
[[ $(stat -c '%U:%G %a' "$data") == "$user:$user 750" ]] || fail "data dir: $(stat -c '%U:%G %a' "$data")"
[[ $(stat -c '%U:%G %a' "$conf") == "root:$user 640" ]] || fail "config: $(stat -c '%U:%G %a' "$conf")"
[[ $(stat -c '%U %a' /etc/ilp-gateway/tls/server.key) == "$user 600" ]] || fail "TLS key permissions"
openssl x509 -in /etc/ilp-gateway/tls/server.crt -noout -ext subjectAltName | grep -q 'IP Address:127.0.0.1' ||
  fail "test certificate lacks 127.0.0.1"

step "4. the admin changes the config: a free port, the facility id"
jq '.server.listen = "127.0.0.1:0" | .facility.organization_id = "pkg-test-puskesmas"' "$conf" >"$work/gateway.json"
cat "$work/gateway.json" >"$conf"  # keeps owner and mode
# As the unit runs it: the service user and group, a clean environment, the
# data directory as working directory; exec all the way, so a background
# start's $! is the gateway itself. Children never hold the test's lock.
as_service() { (cd "$data" && exec env -i PATH=/usr/bin:/bin setpriv --reuid="$user" --regid="$user" --init-groups -- "$@") 9>&-; }
as_service /usr/bin/ilp-gateway doctor --lang en --min-free-mb 1 >"$work/doctor.out" 2>&1 ||
  { cat "$work/doctor.out"; fail "doctor with the installed config (found without --config)"; }
as_service /usr/bin/ilp-gateway client add --id pkg-clinic --role clinic --org pkg-test-puskesmas \
  --config "$conf" >"$work/client.out" || fail "client add as the service user"
secret=$(sed -n 's/^client_secret=//p' "$work/client.out")
[[ -n $secret ]] || fail "no client secret printed"

port=
start_gateway() {  # $1: output name
  (cd "$data" && exec env -i PATH=/usr/bin:/bin setpriv --reuid="$user" --regid="$user" --init-groups -- \
     /usr/bin/ilp-gateway serve --config "$conf") >"$work/$1.out" 2>"$work/$1.err" 9>&- &
  gateway_pid=$!
  port=
  for _ in $(seq 1 300); do
    port=$(grep -o 'listening port=[0-9]*' "$work/$1.out" | head -1 | cut -d= -f2 || true)
    [[ -n $port ]] && break
    kill -0 "$gateway_pid" 2>/dev/null || fail "gateway exited at start-up"
    sleep 0.1
  done
  [[ -n $port ]] || fail "gateway did not start"
  [[ $(ps -o user= -p "$gateway_pid") == "$user" ]] || fail "gateway does not run as $user"
}
stop_gateway() {
  kill -TERM "$gateway_pid"
  local rc=0
  wait "$gateway_pid" || rc=$?
  gateway_pid=
  [[ $rc -eq 0 ]] || fail "gateway exited with $rc on SIGTERM"
}
api() { curl -sS --max-time 20 --cacert /etc/ilp-gateway/tls/server.crt "$@"; }

step "5. run as $user with the installed config, post a record, read it back"
start_gateway gateway1
base=https://127.0.0.1:$port
token=$(api -u "pkg-clinic:$secret" -d grant_type=client_credentials "$base/oauth2/token" | jq -r .access_token)
[[ -n $token && $token != null ]] || fail "no token"
code=$(api -o "$work/post.json" -w '%{http_code}' -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
       --data-binary @"$src/docs/examples/epuskesmas-visit.json" "$base/ingest/epuskesmas-json")
[[ $code == 201 ]] || fail "post answered $code: $(head -c 300 "$work/post.json")"
patient=$(jq -r '.entry[].response.location | select(startswith("Patient/"))' "$work/post.json" | sed 's|/_history.*||')
[[ -n $patient ]] || fail "no Patient in the answer"
api -f -H "Authorization: Bearer $token" "$base/fhir/$patient" | jq -e '.resourceType == "Patient"' >/dev/null ||
  fail "stored Patient not read back"
[[ -f $data/gateway.db && $(stat -c %U "$data/gateway.db") == "$user" ]] || fail "store not in $data"
kill -HUP "$gateway_pid"
for _ in $(seq 1 100); do grep -q 'reloaded adapters' "$work/gateway1.out" && break; sleep 0.1; done
grep -q 'reloaded adapters' "$work/gateway1.out" || fail "SIGHUP did not reload"
stop_gateway
while IFS= read -r line; do
  jq -e 'type == "object" and (.time|type) == "string" and (.level|type) == "string"' <<<"$line" >/dev/null ||
    fail "not a JSON log line: $line"
done <"$work/gateway1.out"
for secret_text in "$secret" "$token" 6203011204580003 SUPARNO; do
  if grep -qF -- "$secret_text" "$work/gateway1.out" "$work/gateway1.err"; then fail "the log carries a secret or NIK"; fi
done

step "6. upgrade to a newer version"
wait "$package2_pid" || { cat "$work/package2.log"; fail "the second package"; }
deb2=$(tail -1 "$work/package2.log")
version2=$(dpkg-deb -f "$deb2" Version)
dpkg --compare-versions "$version2" gt "$version1" || fail "$version2 is not newer than $version1"
dpkg -i "$deb2" >"$work/upgrade.log" 2>&1 </dev/null || { cat "$work/upgrade.log"; fail "upgrade"; }
[[ $(dpkg-query -W -f='${Version}' "$pkg") == "$version2" ]] || fail "upgrade did not install $version2"
jq -e '.facility.organization_id == "pkg-test-puskesmas"' "$conf" >/dev/null || fail "the admin's config was replaced"
[[ ! -e $conf.dpkg-new && ! -e $conf.dpkg-old ]] || fail "dpkg left a second config"
if grep -q 'TEST-ONLY TLS' "$work/upgrade.log"; then fail "upgrade made TLS material again"; fi
start_gateway gateway2
base=https://127.0.0.1:$port
# The token from before still verifies: the signing keys are data and were kept.
api -f -H "Authorization: Bearer $token" "$base/fhir/$patient" | jq -e '.resourceType == "Patient"' >/dev/null ||
  fail "the record is gone after the upgrade"
stop_gateway

step "7. remove keeps data, config and user; purge deletes them"
dpkg -r "$pkg" >"$work/remove.log" 2>&1 </dev/null || { cat "$work/remove.log"; fail "remove"; }
[[ ! -e /usr/bin/ilp-gateway ]] || fail "binary still there after remove"
[[ -f $data/gateway.db && -f $conf ]] && getent passwd "$user" >/dev/null || fail "remove deleted data, config or user"
dpkg -P "$pkg" >"$work/purge.log" 2>&1 </dev/null || { cat "$work/purge.log"; fail "purge"; }
installed=
if getent passwd "$user" >/dev/null || getent group "$user" >/dev/null; then fail "purge left the user or group"; fi
[[ ! -e $data && ! -e /etc/ilp-gateway ]] || fail "purge left data or config"
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then fail "still installed"; fi
if [[ -e /etc/systemd/system/multi-user.target.wants/ilp-gateway.service ]]; then fail "unit still enabled"; fi
echo "package test passed ($version1 -> $version2) in ${SECONDS}s"
