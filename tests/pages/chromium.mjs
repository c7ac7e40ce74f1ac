// Debian's headless Chromium through puppeteer-core, for the page tests:
// trusts exactly the gateway's development certificate (by its public key),
// nothing else, on a small laptop's screen size.
import { readFileSync } from 'node:fs';
import { X509Certificate, createHash } from 'node:crypto';
import puppeteer from 'puppeteer-core';

export async function launchChromium(chromium, serverCert) {
  const spki = createHash('sha256')
    .update(new X509Certificate(readFileSync(serverCert)).publicKey.export({ type: 'spki', format: 'der' }))
    .digest('base64');
  return puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run', `--ignore-certificate-errors-spki-list=${spki}`,
           '--window-size=1366,768'],
    defaultViewport: { width: 1366, height: 768 },
  });
}
