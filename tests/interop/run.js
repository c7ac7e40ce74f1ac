// Interop test launcher: makes a throw-away certificate and data directory,
// registers two clients with the real CLI (a clinic that writes, the national
// puller that reads), starts the real ilp-gateway binary on 127.0.0.1 with an
// ephemeral port and auth enabled, then runs interop.mjs in a child Node
// process that trusts the certificate (NODE_EXTRA_CA_CERTS is only read at
// start-up) and gets its bearer tokens from POST /oauth2/token. Exit code =
// the test's.
//   node run.js /path/to/ilp-gateway
'use strict';
const { spawn, execFileSync } = require('child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');

const binary = process.argv[2];
if (!binary) {
  console.error('usage: node run.js /path/to/ilp-gateway');
  process.exit(2);
}
if (!fs.existsSync(path.join(__dirname, 'node_modules', 'fhir-kit-client'))) {
  console.error('node_modules missing: run `npm ci` in tests/interop (scripts/install-deps.sh does)');
  process.exit(2);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ilpgw-interop-'));
const cert = path.join(dir, 'server.crt');
const key = path.join(dir, 'server.key');
execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
  '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', key, '-out', cert],
  { stdio: 'ignore' });
fs.mkdirSync(path.join(dir, 'mappings'));
const config = {
  server: { listen: '127.0.0.1:0' },
  tls: { cert, key },
  store: { data_dir: path.join(dir, 'data') },
  facility: { organization_id: 'interop-puskesmas' },
  mappings_dir: path.join(dir, 'mappings'),
  plugins: [],
};
fs.writeFileSync(path.join(dir, 'gateway.json'), JSON.stringify(config));

// `ilp-gateway client add` prints the secret once: client_id=..., client_secret=...
function addClient(role, id, org) {
  const args = ['client', 'add', '--config', path.join(dir, 'gateway.json'), '--role', role, '--id', id];
  if (org) args.push('--org', org);
  const out = execFileSync(binary, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const field = (name) => (new RegExp(`^${name}=(.*)$`, 'm').exec(out) || [])[1];
  if (!field('client_id') || !field('client_secret')) throw new Error(`client add printed: ${out}`);
  return { id: field('client_id'), secret: field('client_secret') };
}
const clinic = addClient('clinic', 'interop-clinic', 'interop-puskesmas');
const puller = addClient('puller', 'interop-puller');

const gateway = spawn(binary, ['serve', '--config', path.join(dir, 'gateway.json')], { stdio: ['ignore', 'pipe', 'pipe'] });
let log = '';
gateway.stderr.on('data', (d) => { log += d; });
let started = false;
const cleanup = () => {
  if (gateway.exitCode === null) gateway.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
};
const timer = setTimeout(() => {
  console.error('gateway did not start within 20 s\n' + log);
  cleanup();
  process.exit(1);
}, 20000);
gateway.on('exit', (code) => {
  if (!started) {
    console.error(`gateway exited (${code}) before listening\n${log}`);
    clearTimeout(timer);
    cleanup();
    process.exit(1);
  }
});
let out = '';
gateway.stdout.on('data', (d) => {
  out += d;
  const m = /listening port=(\d+)/.exec(out);
  if (!m || started) return;
  started = true;
  clearTimeout(timer);
  const child = spawn(process.execPath, [path.join(__dirname, 'interop.mjs')], {
    stdio: 'inherit',
    env: {
      ...process.env,
      NODE_EXTRA_CA_CERTS: cert,
      FHIR_BASE: `https://127.0.0.1:${m[1]}/fhir`,
      CLINIC_ID: clinic.id,
      CLINIC_SECRET: clinic.secret,
      PULLER_ID: puller.id,
      PULLER_SECRET: puller.secret,
    },
  });
  child.on('exit', (code) => {
    if (code !== 0) console.error('--- gateway log ---\n' + log);
    cleanup();
    process.exit(code === null ? 1 : code);
  });
});
