// Drives Debian's headless Chromium (puppeteer-core) through the status page
// and the admin console as district IT staff would after a clinic's bad
// post: log in, read the lights, open the quarantined record, fix the
// mapping file on disk, press "Muat ulang pemetaan" and "Proses ulang", and
// read the lights again. Prints what the pages showed as one JSON document
// on stdout; tests/pages/console_browser_test.cc checks it.
// Usage: node console.mjs ARGS.json
//   ARGS: { url, server_cert, chromium, screenshot_red, screenshot_entry, screenshot_green,
//           admin: {user, password}, mapping: {file, find, replace} }
import { readFileSync, writeFileSync } from 'node:fs';
import { launchChromium } from './chromium.mjs';

const args = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const browser = await launchChromium(args.chromium, args.server_cert);

// The lights of the status page: row id -> colour, and the overall one.
async function readStatus(page) {
  return page.evaluate(() => ({
    lang: document.documentElement.lang,
    title: document.querySelector('h1')?.textContent ?? '',
    overall: document.querySelector('.ringkas')?.dataset.warna ?? '',
    lights: Object.fromEntries([...document.querySelectorAll('tr[data-lampu]')].map((r) => [r.dataset.lampu, r.dataset.warna])),
    lightWords: Object.fromEntries([...document.querySelectorAll('tr[data-lampu]')].map(
      (r) => [r.dataset.lampu, r.querySelector('.lampu').textContent])),
    reasons: [...document.querySelectorAll('ul.alasan li')].map((li) => li.textContent),
    clients: [...document.querySelectorAll('tr[data-klien]')].map((r) => ({ id: r.dataset.klien, light: r.dataset.warna })),
  }));
}

const out = {};
try {
  const page = await browser.newPage();
  const first = await page.goto(`${args.url}/status`, { waitUntil: 'load' });
  out.firstStatus = first.status();
  out.redirectedToLogin = new URL(page.url()).pathname === '/masuk';
  await page.type('#username', args.admin.user);
  await page.type('#password', args.admin.password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
  out.afterLogin = new URL(page.url()).pathname;
  out.red = await readStatus(page);
  await page.screenshot({ path: args.screenshot_red, fullPage: true });

  // To the console, and the first waiting record.
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('a[href="/konsol/karantina"]')]);
  out.listed = await page.evaluate(() => [...document.querySelectorAll('tr[data-karantina]')].map((r) => ({
    id: r.dataset.karantina, cells: [...r.querySelectorAll('td')].map((td) => td.textContent) })));
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('tr[data-karantina] a')]);
  out.entry = await page.evaluate(() => ({
    path: location.pathname,
    reasons: [...document.querySelectorAll('ul.alasan li strong')].map((s) => s.textContent),
    marked: [...document.querySelectorAll('[data-salah=ya] th')].map((th) => th.textContent),
    markedValue: [...document.querySelectorAll('[data-salah=ya] td')].map((td) => td.textContent),
    state: document.querySelector('[data-keadaan]')?.dataset.keadaan ?? '',
    buttons: [...document.querySelectorAll('main form button')].map((b) => b.textContent),
  }));
  await page.screenshot({ path: args.screenshot_entry, fullPage: true });

  // The fix, on disk: what IT staff do in an editor.
  const mapping = readFileSync(args.mapping.file, 'utf8');
  out.mappingHadTheRule = mapping.includes(args.mapping.find);
  writeFileSync(args.mapping.file, mapping.replace(args.mapping.find, args.mapping.replace));

  const press = async (label) => {
    const [button] = await page.$$(`xpath/.//main//form//button[normalize-space(.)="${label}"]`);
    if (!button) throw new Error(`no button ${label}`);
    await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), button.click()]);
    return page.evaluate(() => document.querySelector('.pesan')?.textContent ?? '');
  };
  out.reloadMessage = await press('Muat ulang pemetaan');
  out.reprocessMessage = await press('Proses ulang');
  out.stateAfter = await page.evaluate(() => document.querySelector('[data-keadaan]')?.dataset.keadaan ?? '');

  await page.goto(`${args.url}/status`, { waitUntil: 'load' });
  out.green = await readStatus(page);
  await page.screenshot({ path: args.screenshot_green, fullPage: true });
  await page.goto(`${args.url}/status?lang=en`, { waitUntil: 'load' });
  out.english = await readStatus(page);
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(out));
