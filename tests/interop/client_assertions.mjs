// Client assertions (RFC 7523, SMART Backend Services) made by an
// implementation we did not write, the npm `jose` package, for
// tests/security/smart_backend_test.cc.
//
//   node client_assertions.mjs keys DIR
//     RS384 and ES384 key pairs: DIR/jwks.json (public: rsa-1, ec-1),
//     DIR/jwks-rotated.json (public: rsa-1, ec-1, ec-2), DIR/private.json.
//   node client_assertions.mjs sign DIR CLIENT_ID AUDIENCE
//     prints one JSON object: case name -> assertion.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { SignJWT, UnsecuredJWT, exportJWK, exportSPKI, generateKeyPair, importJWK } from 'jose';

const [command, dir, clientId, audience] = process.argv.slice(2);

async function keys() {
  const pairs = {
    'rsa-1': await generateKeyPair('RS384', { extractable: true, modulusLength: 2048 }),
    'ec-1': await generateKeyPair('ES384', { extractable: true }),
    'ec-2': await generateKeyPair('ES384', { extractable: true }),
    // Not registered anywhere: signs the "wrong key" cases.
    'rsa-stranger': await generateKeyPair('RS384', { extractable: true, modulusLength: 2048 }),
    'ec-stranger': await generateKeyPair('ES384', { extractable: true }),
  };
  const pub = async (kid) => ({ ...(await exportJWK(pairs[kid].publicKey)), kid, use: 'sig' });
  const priv = {};
  for (const kid of Object.keys(pairs)) priv[kid] = await exportJWK(pairs[kid].privateKey);
  priv['rsa-1-spki'] = await exportSPKI(pairs['rsa-1'].publicKey);
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [await pub('rsa-1'), await pub('ec-1')] }));
  writeFileSync(join(dir, 'jwks-rotated.json'),
    JSON.stringify({ keys: [await pub('rsa-1'), await pub('ec-1'), await pub('ec-2')] }));
  writeFileSync(join(dir, 'private.json'), JSON.stringify(priv));
}

async function sign() {
  const priv = JSON.parse(readFileSync(join(dir, 'private.json'), 'utf8'));
  const key = async (name, alg) => importJWK(priv[name], alg);
  const now = Math.floor(Date.now() / 1000);
  const assertion = async ({ alg = 'RS384', kid = 'rsa-1', signer = 'rsa-1', iss = clientId, sub = clientId,
                             aud = audience, exp = now + 240, jti = randomUUID() } = {}) => {
    const jwt = new SignJWT({}).setProtectedHeader({ alg, kid, typ: 'JWT' }).setIssuer(iss).setSubject(sub)
      .setAudience(aud).setIssuedAt(now).setExpirationTime(exp).setJti(jti);
    return jwt.sign(await key(signer, alg));
  };
  const out = {
    valid_rs384: await assertion(),
    valid_es384: await assertion({ alg: 'ES384', kid: 'ec-1', signer: 'ec-1' }),
    valid_aud_array: await assertion({ aud: ['https://elsewhere.example/oauth2/token', audience] }),
    replayed: await assertion({ jti: 'the-same-jti' }),
    rotated_es384: await assertion({ alg: 'ES384', kid: 'ec-2', signer: 'ec-2' }),
    wrong_key_rs384: await assertion({ signer: 'rsa-stranger' }),
    wrong_key_es384: await assertion({ alg: 'ES384', kid: 'ec-1', signer: 'ec-stranger' }),
    unknown_kid: await assertion({ kid: 'rsa-unknown', signer: 'rsa-stranger' }),
    expired: await assertion({ exp: now - 60 }),
    exp_too_far: await assertion({ exp: now + 900 }),
    wrong_audience: await assertion({ aud: 'https://elsewhere.example/oauth2/token' }),
    iss_not_sub: await assertion({ sub: 'someone-else' }),
    other_client: await assertion({ iss: 'someone-else', sub: 'someone-else' }),
    rs256: await assertion({ alg: 'RS256' }),
    alg_none: new UnsecuredJWT({ iss: clientId, sub: clientId, aud: audience, exp: now + 240, jti: randomUUID() })
      .encode(),
    // The classic confusion attack: HMAC keyed with the verifier's public key.
    hs256_public_key: await new SignJWT({}).setProtectedHeader({ alg: 'HS256', kid: 'rsa-1', typ: 'JWT' })
      .setIssuer(clientId).setSubject(clientId).setAudience(audience).setIssuedAt(now)
      .setExpirationTime(now + 240).setJti(randomUUID())
      .sign(new TextEncoder().encode(priv['rsa-1-spki'])),
  };
  process.stdout.write(JSON.stringify(out));
}

if (command === 'keys' && dir) await keys();
else if (command === 'sign' && dir && clientId && audience) await sign();
else {
  process.stderr.write('usage: client_assertions.mjs keys DIR | sign DIR CLIENT_ID AUDIENCE\n');
  process.exit(2);
}
