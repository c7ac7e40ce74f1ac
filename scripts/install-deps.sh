#!/usr/bin/env bash
# Installs every build, run and test dependency of ILP Gateway on Debian 12.
# The one place where dependencies are named. Safe to re-run.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config git ca-certificates
  # compiler cache: scripts/build.sh and fuzz.sh use it when present
  ccache
  # libraries (Debian 12 versions: cpp-httplib 0.11.4, RapidJSON 1.1.0, Boost 1.74, OpenSSL 3.0, SQLite 3.40,
  # libpq 15)
  libcpp-httplib-dev rapidjson-dev libboost-dev libssl-dev libsqlite3-dev libpq-dev
  # zstd: the SQLite store keeps resource bodies compressed (gateway/src/store/stored_text.cc)
  libzstd-dev
  # Argon2id password hashing of people's logins (gateway/src/security/password.cc)
  libargon2-dev
  # Chart.js for the PWS page's trend charts, served by the gateway from
  # /usr/share/javascript/chart.js (gateway/src/http/pws_page.cc)
  libjs-chart.js
  # tests and tools; postgresql-15 is the server the PostgreSQL store tests
  # start privately (/usr/lib/postgresql/15/bin: initdb, postgres, psql)
  libgtest-dev openssl curl sqlite3 postgresql-15
  # pages in a real headless browser (tests/pages, driven by puppeteer-core)
  chromium
  # GET /metrics test: promtool check metrics (tests/http/metrics_test.cc)
  prometheus
  # the Debian package (scripts/package.sh: cpack runs dpkg-shlibdeps from dpkg-dev; its postinst needs
  # adduser) and its test (tests/system/package_test.sh: jq reads configs, answers and JSON log lines)
  dpkg-dev adduser jq
  # fuzzing (scripts/fuzz.sh: libFuzzer, ASan, UBSan come with clang 14's runtime)
  clang libclang-rt-14-dev
  # benchmark (not used by the tests)
  wrk bc
)

export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js runs the interoperability tests (tests/interop). A machine that has
# it from another source keeps it.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# Test-only JavaScript tools for tests/interop (FHIR client, FHIR R4 JSON schema
# validator), pinned by tests/interop/package-lock.json.
cd "$(dirname "$0")/.."
if [[ ! -d tests/interop/node_modules ]] || [[ tests/interop/package-lock.json -nt tests/interop/node_modules ]]; then
  npm ci --prefix tests/interop --no-audit --no-fund --loglevel=error
fi
# Test-only puppeteer-core for tests/pages (drives the chromium package above
# through the gateway's pages), pinned by tests/pages/package-lock.json.
if [[ ! -d tests/pages/node_modules ]] || [[ tests/pages/package-lock.json -nt tests/pages/node_modules ]]; then
  npm ci --prefix tests/pages --no-audit --no-fund --loglevel=error
fi
